// Package ghactions speaks to a GitHub Actions runner: workflow commands
// (::group::, ::error file=…::) on standard output and the Markdown step
// summary at $GITHUB_STEP_SUMMARY.
package ghactions

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Detected reports whether odin runs as a step of a GitHub Actions job; the
// runner sets GITHUB_ACTIONS=true for every step.
func Detected(env func(string) (string, bool)) bool {
	v, _ := env("GITHUB_ACTIONS")
	return v == "true"
}

// Command is one workflow command: ::Name key=value,...::Message.
type Command struct {
	Name       string
	Properties map[string]string
	Message    string
}

// String formats the command as one line (without the newline), escaped so
// that no value can end the line, the property list or the command early.
func (c Command) String() string {
	var b strings.Builder
	b.WriteString("::")
	b.WriteString(c.Name)
	keys := make([]string, 0, len(c.Properties))
	for k, v := range c.Properties {
		if v != "" {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int {
		if d := propertyOrder(a) - propertyOrder(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	for i, k := range keys {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(EscapeProperty(c.Properties[k]))
	}
	b.WriteString("::")
	b.WriteString(EscapeData(c.Message))
	return b.String()
}

// propertyOrder puts an annotation's properties in the order GitHub's
// documentation writes them, which reads best in a log.
func propertyOrder(k string) int {
	if i := slices.Index([]string{"title", "file", "line", "col", "endLine", "endColumn"}, k); i >= 0 {
		return i
	}
	return 100
}

// EscapeData escapes a command's message as the runner unescapes it.
func EscapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// EscapeProperty escapes a property value, which also must not hold the
// separators of the property list.
func EscapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

func unescapeData(s string) string {
	return strings.NewReplacer("%0D", "\r", "%0A", "\n", "%25", "%").Replace(s)
}

func unescapeProperty(s string) string {
	return strings.NewReplacer("%0D", "\r", "%0A", "\n", "%3A", ":", "%2C", ",", "%25", "%").Replace(s)
}

// Group opens a collapsible group of log lines titled title.
func Group(title string) string { return Command{Name: "group", Message: title}.String() }

// EndGroup closes the group Group opened.
func EndGroup() string { return "::endgroup::" }

// Annotation is an error GitHub shows on the run's page and,
// with a file and line, next to the line in the pull request's diff.
type Annotation struct {
	Title     string
	File      string
	Line, Col int
	Message   string
}

// Error formats a as an ::error command.
func (a Annotation) Error() string { return a.command("error").String() }

func (a Annotation) command(name string) Command {
	p := map[string]string{"title": a.Title, "file": a.File}
	if a.Line > 0 {
		p["line"] = fmt.Sprint(a.Line)
	}
	if a.Col > 0 {
		p["col"] = fmt.Sprint(a.Col)
	}
	return Command{Name: name, Properties: p, Message: a.Message}
}

// Line makes a log line safe to print where the runner reads workflow
// commands: a line that would start with "::" (text from a release file or a
// remote cause) is shown, not obeyed.
func Line(s string) string {
	if strings.HasPrefix(strings.TrimSpace(s), "::") {
		return "> " + s // the runner trims leading space before it matches
	}
	return s
}

// ErrNotCommand is returned by Parse for a line that is not a workflow
// command.
var ErrNotCommand = errors.New("not a workflow command")

// Parse reads one line as the runner does (ActionCommand.TryParseV2):
// "::" name [" " key=value ("," key=value)*] "::" message, with the
// escapes of EscapeData and EscapeProperty undone. A line that starts with
// "::" but breaks that grammar is an error other than ErrNotCommand.
func Parse(line string) (Command, error) {
	s := strings.TrimSpace(line)
	if !strings.HasPrefix(s, "::") {
		return Command{}, ErrNotCommand
	}
	rest := s[2:]
	end := strings.Index(rest, "::")
	if end < 0 {
		return Command{}, fmt.Errorf("%q: no closing \"::\" after the command", line)
	}
	head, msg := rest[:end], rest[end+2:]
	name, props, hasProps := strings.Cut(head, " ")
	if name == "" {
		return Command{}, fmt.Errorf("%q: empty command name", line)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return Command{}, fmt.Errorf("%q: command name %q has %q", line, name, r)
		}
	}
	c := Command{Name: name, Message: unescapeData(msg)}
	if hasProps {
		c.Properties = map[string]string{}
		for _, kv := range strings.Split(props, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" || strings.ContainsAny(k, " ") {
				return Command{}, fmt.Errorf("%q: property %q is not key=value", line, kv)
			}
			if _, dup := c.Properties[k]; dup {
				return Command{}, fmt.Errorf("%q: property %q given twice", line, k)
			}
			c.Properties[k] = unescapeProperty(v)
		}
	}
	return c, nil
}

// AppendSummary appends Markdown to the job's step summary, the file the
// runner names in GITHUB_STEP_SUMMARY; with no such file it does nothing.
func AppendSummary(env func(string) (string, bool), markdown string) error {
	path, _ := env("GITHUB_STEP_SUMMARY")
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("step summary: %w", err)
	}
	_, err = io.WriteString(f, markdown)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("step summary %s: %w", path, err)
	}
	return nil
}

// Cell makes text safe in one cell of a Markdown table: on one line, with
// no column separator and no HTML or link a remote cause could smuggle in.
func Cell(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "|", `\|`, "<", "&lt;", ">", "&gt;",
		"[", `\[`, "]", `\]`, "`", "'").Replace(s)
	return strings.TrimSpace(s)
}

// Fence is a code fence longer than any run of backticks in text, so the
// text cannot close the block it is quoted in.
func Fence(text string) string {
	longest, run := 0, 0
	for _, r := range text {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}
