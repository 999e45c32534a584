package diagnose

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/odin-deploy/odin/pkg/watch"
)

// How much of the failing state's input the text shows; JSON has it all
// (up to MaxInput).
const (
	textInputLines = 40
	textLineWidth  = 160
	// wrapWidth is where a message wraps (after the 14-column field name).
	wrapWidth = 100
)

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a person: the verdict first, then the
// failure, its attempts, the path to the end, health and input, and what
// to do next.
func (r *Report) WriteText(w io.Writer) error {
	p := &printer{w: w}
	r.header(p)
	if f := r.Failure; f != nil && r.Verdict != Succeeded {
		p.blank()
		where := f.State
		if f.Step != "" {
			where += " (in " + f.Step + ")"
		}
		var notes []string
		if f.Type != "" {
			notes = append(notes, f.Type)
		}
		if f.Visit > 1 {
			notes = append(notes, fmt.Sprintf("visit %d", f.Visit))
		}
		if f.Caught {
			notes = append(notes, "caught")
		}
		if len(notes) > 0 {
			where += " [" + strings.Join(notes, ", ") + "]"
		}
		p.field("Failed state", where)
		p.field("Error", orDash(f.Error))
		writeCause(p, f.Cause)
		if len(f.Attempts) > 0 {
			p.blank()
			p.line("Attempts")
			same := f.Cause.Summary()
			for i, a := range f.Attempts {
				if f.AttemptsOmitted > 0 && i == len(f.Attempts)-1 {
					p.line(fmt.Sprintf("  … %d more attempts", f.AttemptsOmitted))
				}
				if a.Message == same {
					a.Message = "" // the message above
				}
				p.line("  " + attemptLine(a))
			}
		}
	}
	if len(r.Path) > 1 || r.PathOmitted > 0 {
		p.blank()
		path := strings.Join(r.Path, " → ")
		if r.PathOmitted > 0 {
			path = strings.Join(r.Path[:len(r.Path)-1], " → ") + fmt.Sprintf(" → … %d more → ", r.PathOmitted) + r.Path[len(r.Path)-1]
		}
		p.field("Path", path)
	}
	if r.FinalError != "" {
		p.field("Ended with", r.FinalError+" (in "+orDash(r.FinalState)+")")
	}
	if len(r.LaterFailures) > 0 {
		p.blank()
		p.line("Later failures")
		for _, l := range r.LaterFailures {
			p.line("  " + l.State + ": " + orDash(l.Error) + messageSuffix(l.Message))
		}
	}
	if len(r.Unhealthy) > 0 {
		p.blank()
		p.line("Instances not healthy (last health report before the failure)")
		for _, in := range r.Unhealthy {
			head := "  " + in.Service + "/" + in.ID + "  " + in.State
			if in.PID != 0 {
				head += fmt.Sprintf("  pid %d", in.PID)
			}
			if in.Port != 0 {
				head += fmt.Sprintf("  port %d", in.Port)
			}
			p.line(head)
			if in.Reason != "" {
				p.line("    " + clip(in.Reason))
			}
			for _, l := range in.LogTail {
				p.line("    | " + clip(l))
			}
		}
	}
	if len(r.Problems) > 0 {
		p.blank()
		p.line("Release problems")
		for _, pr := range r.Problems {
			p.line("  " + pr)
		}
	}
	if f := r.Failure; f != nil && r.Verdict != Succeeded && len(f.Input) > 0 {
		p.blank()
		in, left := withoutShown(f.Input, f.InputTruncated)
		head := "Input of " + f.State
		if len(left) > 0 {
			head += " (without " + strings.Join(left, ", ") + ")"
		}
		p.line(head)
		for _, l := range inputLines(in, f.InputTruncated) {
			p.line("  " + l)
		}
	}
	if len(r.NextSteps) > 0 {
		p.blank()
		p.line("Next steps")
		for _, s := range r.NextSteps {
			p.line("  - " + s)
		}
	}
	return p.err
}

func (r *Report) header(p *printer) {
	name := r.Execution.Name
	if r.Release != nil && r.Release.Project != "" {
		name = "Deploy of " + r.Release.Project + "/" + r.Release.Config
		if r.Release.ID != "" {
			name += " " + r.Release.ID
		}
	} else if name == "" {
		name = "The execution"
	}
	f := r.Failure
	switch r.Verdict {
	case Succeeded:
		line := name + " succeeded: nothing failed."
		if r.RetriedFailures == 1 {
			line += " (1 failed attempt was retried.)"
		} else if r.RetriedFailures > 1 {
			line += fmt.Sprintf(" (%d failed attempts were retried.)", r.RetriedFailures)
		}
		p.line(line)
	case Running:
		where := "."
		if len(r.RunningIn) > 0 {
			where = ", in " + strings.Join(r.RunningIn, ", ") + "."
		}
		if f != nil {
			p.line(name + " is still running" + where + " It is handling a failure" + failedIn(f) + ".")
		} else {
			p.line(name + " is still running" + where + " Nothing has failed it yet.")
		}
	case Halted:
		p.line(name + " was HALTED and rolled back" + failedIn(f) + ".")
	case TimedOut:
		p.line(name + " TIMED OUT" + failedIn(f) + ".")
	case Aborted:
		p.line(name + " was ABORTED (stopped)" + failedIn(f) + ".")
	default:
		p.line(name + " FAILED" + failedIn(f) + ".")
	}
	e := r.Execution
	if e.Name != "" {
		p.field("Execution", e.Name)
	}
	if e.Started != nil {
		when := e.Started.Format("2006-01-02 15:04:05 UTC")
		if e.Duration != "" {
			when += ", ran " + e.Duration
		}
		p.field("Started", when)
	}
	if r.Release != nil && r.Release.DeployedBy != "" {
		p.field("Deployed by", r.Release.DeployedBy)
	}
}

func failedIn(f *Failure) string {
	if f == nil {
		return ""
	}
	switch {
	case f.Error != "" && f.State != "":
		return ": " + f.Error + " in " + f.State
	case f.State != "":
		return " in " + f.State
	case f.Error != "":
		return ": " + f.Error
	}
	return ""
}

// writeCause shows the unwrapped cause: the innermost message first, the
// layers it came through, then any stack trace.
func writeCause(p *printer, c watch.Cause) {
	in := c.Innermost()
	if in.Message != "" {
		p.multi("Message", in.Message)
	}
	if in.Type != "" && in.Type != c.Type {
		p.field("Type", in.Type)
	}
	var layers []string
	for l := &c; l != nil && l.Nested != nil; l = l.Nested {
		if l.Type != "" {
			layers = append(layers, l.Type)
		}
	}
	if len(layers) > 0 {
		p.field("Wrapped by", strings.Join(layers, " → "))
	}
	var stack []string
	for l := &c; l != nil; l = l.Nested {
		if len(l.StackTrace) > 0 {
			stack = l.StackTrace
		}
	}
	if len(stack) > 0 {
		p.line("Stack trace")
		for _, s := range stack {
			p.line("  " + clip(s))
		}
	}
}

func attemptLine(a Attempt) string {
	s := fmt.Sprintf("#%d  %s", a.Number, a.Scheduled.UTC().Format(time.TimeOnly))
	switch {
	case a.Ended == nil:
		s += "  running"
	case a.Error != "":
		s += "  failed after " + a.Duration + "  " + a.Error + messageSuffix(a.Message)
	default:
		s += "  succeeded after " + a.Duration
	}
	return s
}

func messageSuffix(m string) string {
	if m == "" {
		return ""
	}
	return ": " + clip(m)
}

// shownElsewhere are input fields of the deployer's state that the report
// already shows (the health report, the caught errors), left out of the
// text's input so the rest fits on a screen.
var shownElsewhere = []string{"health", "error", "cleanup_error", "lock_error"}

// withoutShown drops shownElsewhere from an input object and names those
// it dropped. Keys come out sorted, as the deployer writes them.
func withoutShown(raw json.RawMessage, truncated bool) (json.RawMessage, []string) {
	var m map[string]json.RawMessage
	if truncated || json.Unmarshal(raw, &m) != nil {
		return raw, nil
	}
	var left []string
	for _, k := range shownElsewhere {
		if _, ok := m[k]; ok {
			delete(m, k)
			left = append(left, k)
		}
	}
	if len(left) == 0 {
		return raw, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return raw, nil
	}
	return b, left
}

// inputLines pretty-prints a state's input and cuts it to what a terminal
// shows usefully.
func inputLines(raw json.RawMessage, truncated bool) []string {
	var text string
	var buf bytes.Buffer
	if json.Indent(&buf, raw, "", "  ") == nil && !truncated {
		text = buf.String()
		// A truncated input is stored as a JSON string of its prefix.
	} else if err := json.Unmarshal(raw, &text); err != nil {
		text = string(raw)
	}
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	more := 0
	if len(lines) > textInputLines {
		more = len(lines) - textInputLines
		lines = lines[:textInputLines]
	}
	for i, l := range lines {
		lines[i] = clip(l)
	}
	if more > 0 || truncated {
		lines = append(lines, fmt.Sprintf("… (%d more lines; odin fail --output json shows the input)", more))
	}
	return lines
}

// clip cuts a line to textLineWidth runes.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= textLineWidth {
		return s
	}
	r := []rune(s)
	return string(r[:textLineWidth-1]) + "…"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printer writes lines and keeps the first error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) line(s string) {
	if p.err == nil {
		_, p.err = io.WriteString(p.w, s+"\n")
	}
}

func (p *printer) blank() { p.line("") }

func (p *printer) field(name, value string) {
	p.line(fmt.Sprintf("%-13s %s", name, value))
}

// multi writes a field whose value may span lines, wrapped rather than
// cut (a message is the one thing a reader needs whole), indenting the rest.
func (p *printer) multi(name, value string) {
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(value, "\n"), "\n") {
		lines = append(lines, wrap(l, wrapWidth)...)
	}
	p.field(name, lines[0])
	for _, l := range lines[1:] {
		p.line(strings.Repeat(" ", 14) + l)
	}
}

// wrap breaks a line at spaces so that each piece is at most width runes
// where it can be.
func wrap(s string, width int) []string {
	var out []string
	for utf8.RuneCountInString(s) > width {
		r := []rune(s)
		cut := strings.LastIndex(string(r[:width]), " ")
		if cut <= 0 {
			// One long word (a URL, a digest): break it at the width.
			cut = len(string(r[:width]))
			out = append(out, s[:cut])
			s = s[cut:]
			continue
		}
		out = append(out, s[:cut])
		s = s[cut+1:]
	}
	return append(out, s)
}
