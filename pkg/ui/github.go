package ui

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/ghactions"
	"github.com/odin-deploy/odin/pkg/progress"
	"github.com/odin-deploy/odin/pkg/watch"
)

// GitHub writes the plain lines for a GitHub Actions log: each step's
// lines (and each loop's) folded into a ::group::, and an ::error:: naming
// the failing step and its cause when the deploy does not succeed.
type GitHub struct {
	plain *Plain
	w     io.Writer
	m     *progress.Model
	// pending is the title of a group opened but not yet written: a group
	// is written with its first line, so a quiet loop leaves no empty one.
	pending string
	grouped bool
}

// NewGitHub returns a GitHub Actions renderer of m to w.
func NewGitHub(w io.Writer, m *progress.Model) *GitHub {
	g := &GitHub{w: w, m: m}
	g.plain = NewPlain(githubLines{g}, m)
	g.plain.blocks = g
	return g
}

func (g *GitHub) open(title string) {
	g.close()
	g.pending = title
}

func (g *GitHub) close() {
	g.pending = ""
	if g.grouped {
		fmt.Fprintln(g.w, ghactions.EndGroup())
		g.grouped = false
	}
}

// githubLines is where the plain renderer writes: it starts a pending
// group and keeps a line from reading as a workflow command.
type githubLines struct{ g *GitHub }

func (l githubLines) Write(b []byte) (int, error) {
	var out strings.Builder
	if l.g.pending != "" {
		out.WriteString(ghactions.Group(l.g.pending) + "\n")
		l.g.pending, l.g.grouped = "", true
	}
	for _, line := range strings.SplitAfter(string(b), "\n") {
		out.WriteString(ghactions.Line(line))
	}
	if _, err := io.WriteString(l.g.w, out.String()); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Start prints what is being watched.
func (g *GitHub) Start() { g.plain.Start() }

// Event prints the lines of an event already applied to the model.
func (g *GitHub) Event(ev watch.Event) {
	if ev.Kind == watch.ExecutionEnded {
		g.close()
	}
	g.plain.Event(ev)
}

// Warn prints a transient problem the watch is riding out.
func (g *GitHub) Warn(err error, retryIn time.Duration) { g.plain.Warn(err, retryIn) }

// Finish closes any group, prints the verdict line and, for a deploy that
// did not succeed, an error annotation.
func (g *GitHub) Finish(v progress.Verdict) {
	g.plain.endLoop(g.plain.m.Ended)
	g.close()
	g.plain.Finish(v)
	if a, ok := failureAnnotation(g.m, v); ok {
		fmt.Fprintln(g.w, a.Error())
	}
}

// failureAnnotation is the ::error for a verdict that is not success (or
// still running): titled with the step that failed, the message the cause.
func failureAnnotation(m *progress.Model, v progress.Verdict) (ghactions.Annotation, bool) {
	if v.Code == exitcode.OK || v.Code == exitcode.Running {
		return ghactions.Annotation{}, false
	}
	title := "odin deploy: " + strings.ToLower(strings.ReplaceAll(v.Status, "_", " "))
	if f := m.FirstFailure; f != nil && f.Step != "" {
		title += " at " + f.Step
	}
	return ghactions.Annotation{Title: title, Message: oneLine(v.Text)}, true
}

// WriteStepSummary writes the Markdown step summary of a watched deploy:
// the verdict, the step table with durations, the health and, for a deploy
// that failed, failReport (odin fail's text) in a code block.
func WriteStepSummary(w io.Writer, m *progress.Model, v progress.Verdict, now time.Time, failReport string) error {
	var b strings.Builder
	h := m.Header
	what := "odin deploy"
	if h.Project != "" {
		what = fmt.Sprintf("odin deploy %s/%s release %s", h.Project, h.Config, h.Release)
	}
	fmt.Fprintf(&b, "### %s %s: %s\n\n", verdictMark(v), ghactions.Cell(what), v.Status)
	fmt.Fprintf(&b, "%s\n\n", ghactions.Cell(v.Text))
	var where []string
	for _, kv := range [][2]string{{"backend", h.Backend}, {"account", h.Account}, {"region", h.Region}, {"execution", h.Execution}} {
		if kv[1] != "" {
			where = append(where, kv[0]+" "+ghactions.Cell(kv[1]))
		}
	}
	if len(where) > 0 {
		fmt.Fprintf(&b, "%s\n\n", strings.Join(where, " · "))
	}
	b.WriteString("| Step | Status | Attempts | Visits | Duration | Error |\n|---|---|--:|--:|--:|---|\n")
	for _, r := range m.Rows {
		if r.Status == progress.Skipped || r.Status == progress.Pending {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %s | %s |\n", ghactions.Cell(r.Name), r.Status, max(r.Attempt, 1), max(r.Visits, 1),
			progress.FormatDuration(r.Duration(now)), ghactions.Cell(r.Error))
	}
	b.WriteString("\n")
	if hl := healthLine(m.Health); hl != "" {
		fmt.Fprintf(&b, "**Health:** %s\n\n", ghactions.Cell(hl))
	}
	fmt.Fprintf(&b, "**Verdict:** %s (exit %d) after %s\n\n", v.Status, v.Code, progress.FormatDuration(m.Elapsed(now).Truncate(time.Second)))
	if failReport != "" {
		fence := ghactions.Fence(failReport)
		fmt.Fprintf(&b, "#### Why it failed (odin fail)\n\n%stext\n%s\n%s\n\n", fence, strings.TrimRight(failReport, "\n"), fence)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func verdictMark(v progress.Verdict) string {
	switch v.Code {
	case exitcode.OK:
		return "✅"
	case exitcode.Running:
		return "⏳"
	}
	return "❌"
}
