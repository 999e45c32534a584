package ui

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/odin-deploy/odin/pkg/progress"
	"github.com/odin-deploy/odin/pkg/watch"
)

// Plain writes one line per change, without escape codes, for logs and CI;
// the last line is the verdict.
type Plain struct {
	// Quiet writes the verdict line only (--quiet).
	Quiet bool

	w           io.Writer
	m           *progress.Model
	lastHealth  string
	shown       map[string]string // step -> the error text last printed for it
	warnedLimit bool
}

// NewPlain returns a plain renderer of m to w.
func NewPlain(w io.Writer, m *progress.Model) *Plain {
	return &Plain{w: w, m: m, shown: map[string]string{}}
}

// Start prints what is being watched.
func (p *Plain) Start() {
	if p.Quiet {
		return
	}
	h := p.m.Header
	if h.Project != "" {
		fmt.Fprintf(p.w, "deploy %s/%s release %s\n", h.Project, h.Config, h.Release)
	}
	var where []string
	for _, kv := range [][2]string{{"backend", h.Backend}, {"account", h.Account}, {"region", h.Region}, {"execution", h.Execution}} {
		if kv[1] != "" {
			where = append(where, kv[0]+" "+kv[1])
		}
	}
	if len(where) > 0 {
		fmt.Fprintln(p.w, strings.Join(where, ", "))
	}
}

// Event prints the line for an event already applied to the model, if it
// changes what a reader should know.
func (p *Plain) Event(ev watch.Event) {
	if p.Quiet {
		return
	}
	line := p.line(ev)
	if line != "" {
		fmt.Fprintf(p.w, "[%s] %s\n", p.stamp(ev.Time), oneLine(line))
	}
	if w := p.m.HistoryWarning; w != "" && !p.warnedLimit {
		p.warnedLimit = true
		fmt.Fprintf(p.w, "warning: %s\n", w)
	}
	if h := healthLine(p.m.Health); h != "" && h != p.lastHealth {
		p.lastHealth = h
		fmt.Fprintf(p.w, "[%s] health: %s\n", p.stamp(ev.Time), h)
	}
}

// Warn prints a transient problem the watch is riding out.
func (p *Plain) Warn(err error, retryIn time.Duration) {
	if p.Quiet {
		return
	}
	fmt.Fprintf(p.w, "warning: %s; retrying in %s\n", oneLine(err.Error()), progress.FormatDuration(retryIn))
}

// Finish prints the verdict line.
func (p *Plain) Finish(v progress.Verdict) {
	fmt.Fprintf(p.w, "%s: %s\n", v.Status, oneLine(v.Text))
}

func (p *Plain) stamp(t time.Time) string {
	if p.m.Started.IsZero() || t.Before(p.m.Started) {
		return "+0s"
	}
	d := t.Sub(p.m.Started).Truncate(time.Second)
	if d < time.Second {
		return "+0s"
	}
	return "+" + progress.FormatDuration(d)
}

func (p *Plain) line(ev watch.Event) string {
	if ev.State != ev.Step && ev.Kind != watch.ExecutionEnded && ev.Kind != watch.ExecutionStarted {
		return "" // inside a Parallel/Map: its container's lines say enough
	}
	step := fmt.Sprintf("[%s] %s", p.m.Steps(), ev.Step)
	switch ev.Kind {
	case watch.ExecutionStarted:
		return "execution started"
	case watch.StepEntered:
		return step + ": started"
	case watch.RetryScheduled:
		return fmt.Sprintf("%s: retrying (attempt %d)", step, ev.Attempt)
	case watch.AttemptFailed:
		text := errorText(ev.Error, ev.Cause)
		p.shown[ev.Step] = text
		return fmt.Sprintf("%s: attempt %d failed: %s", step, ev.Attempt, text)
	case watch.StepSucceeded:
		delete(p.shown, ev.Step)
		if r := p.row(ev.Step); r != nil && r.Result != "" {
			// A check says what it found; "succeeded" would read as healthy.
			return fmt.Sprintf("%s: %s%s", step, r.Result, p.took(ev.Step))
		}
		return fmt.Sprintf("%s: succeeded%s", step, p.took(ev.Step))
	case watch.StepFailed:
		text := errorText(ev.Error, ev.Cause)
		if p.shown[ev.Step] == text || p.isFailState(ev.Step) {
			// Said already (the attempt's line), or a Fail state that only
			// repeats the failure it reports.
			text = ev.Error
		}
		delete(p.shown, ev.Step)
		return fmt.Sprintf("%s: failed%s: %s", step, p.took(ev.Step), text)
	case watch.ExecutionEnded:
		return "execution " + strings.ToLower(ev.Status)
	}
	return ""
}

func (p *Plain) row(step string) *progress.Row {
	for i := range p.m.Rows {
		if p.m.Rows[i].Name == step {
			return &p.m.Rows[i]
		}
	}
	return nil
}

func (p *Plain) isFailState(step string) bool {
	r := p.row(step)
	return r != nil && r.Type == "Fail"
}

// took is how long the visit that just ended took; a line is about one
// visit, so a loop's total would read as one slow visit. A step far slower
// than in the project and config's earlier deploys says so.
func (p *Plain) took(step string) string {
	r := p.row(step)
	if r == nil {
		return ""
	}
	s := " in " + progress.FormatDuration(r.Last)
	if r.Visits > 1 {
		s += fmt.Sprintf(" (visit %d)", r.Visits)
	}
	if slower := p.m.Slower(step, r.Spent); slower != "" {
		s += " (" + slower + ")"
	}
	return s
}

// errorText is "Error: message", the cause unwrapped to its innermost
// message on one line.
func errorText(name, cause string) string {
	msg := oneLine(watch.UnwrapCause(cause).Summary())
	switch {
	case name == "":
		return msg
	case msg == "":
		return name
	}
	return name + ": " + msg
}

func healthLine(h *progress.Health) string {
	if h == nil || len(h.Services) == 0 {
		return ""
	}
	var parts []string
	for _, s := range h.Services {
		part := fmt.Sprintf("%s %d/%d healthy", s.Name, s.Healthy, s.Desired)
		var extra []string
		for _, kv := range []struct {
			n    int
			what string
		}{{s.Launching, "launching"}, {s.Unhealthy, "unhealthy"}, {s.Terminating, "terminating"}} {
			if kv.n > 0 {
				extra = append(extra, fmt.Sprintf("%d %s", kv.n, kv.what))
			}
		}
		if len(extra) > 0 {
			part += " (" + strings.Join(extra, ", ") + ")"
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, "; ")
}

// oneLine strips control characters (a cause is remote text: it must not
// move a terminal's cursor) and joins lines.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return -1
		}
		return r
	}, s)
}
