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

	// entered holds each top-level step's first entry: when, and the health
	// then. A step entered again is a loop turn, which prints no line.
	entered map[string]entry
	loop    *loop
	// blocks, when set, hears where a step's lines begin and end (the
	// GitHub renderer folds them into groups).
	blocks blockHooks
}

type entry struct {
	at     time.Time
	health *progress.Health
}

// loop is a run of steps entered again (the deployer's wait/check loop),
// summarised in one line when the run leaves it.
type loop struct {
	head  string // the first step entered again
	first entry  // the head's first entry, where the loop began
	last  time.Time
}

// blockHooks open and close the block of lines about one step or loop.
type blockHooks interface {
	open(title string)
	close()
}

// NewPlain returns a plain renderer of m to w.
func NewPlain(w io.Writer, m *progress.Model) *Plain {
	return &Plain{w: w, m: m, shown: map[string]string{}, entered: map[string]entry{}}
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
		p.printf(ev.Time, "%s", line)
	}
	if w := p.m.HistoryWarning; w != "" && !p.warnedLimit {
		p.warnedLimit = true
		fmt.Fprintf(p.w, "warning: %s\n", oneLine(w))
	}
	if h := healthLine(p.m.Health); h != "" && h != p.lastHealth {
		p.lastHealth = h
		p.printf(ev.Time, "health: %s", h)
	}
	if p.loop != nil {
		p.loop.last = ev.Time
	}
}

func (p *Plain) printf(t time.Time, format string, args ...any) {
	fmt.Fprintf(p.w, "[%s] %s\n", p.stamp(t), oneLine(fmt.Sprintf(format, args...)))
}

// endLoop prints the summary of the loop the run leaves at time at.
func (p *Plain) endLoop(at time.Time) {
	l := p.loop
	if l == nil {
		return
	}
	p.loop = nil
	if at.After(l.last) {
		l.last = at
	}
	turns := 0
	for _, r := range p.m.Rows {
		if r.Name == l.head {
			turns = r.Visits
		}
	}
	text := fmt.Sprintf("%s loop: %d turns, %s", l.head, turns, progress.FormatDuration(l.last.Sub(l.first.at).Truncate(time.Second)))
	if h := healthChange(l.first.health, p.m.Health); h != "" {
		text = fmt.Sprintf("%s loop: health %s, %d turns, %s", l.head, h, turns, progress.FormatDuration(l.last.Sub(l.first.at).Truncate(time.Second)))
	}
	if p.blocks != nil {
		p.blocks.close()
	}
	p.printf(l.last, "[%s] %s", p.m.Steps(), text)
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
	if !p.Quiet && p.loop != nil {
		p.endLoop(p.loop.last)
	}
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
	switch ev.Kind {
	case watch.ExecutionEnded, watch.AttemptFailed, watch.StepFailed:
		// A failure is news, not a loop turn: the loop's line comes first.
		p.endLoop(ev.Time)
	case watch.StepSucceeded:
		if p.loop == nil && p.blocks != nil {
			p.blocks.close() // the outcome shows outside the step's block
		}
	}
	if ev.Kind == watch.StepEntered {
		first, again := p.entered[ev.Step]
		if again {
			// A loop turn: the first turn said it all.
			if p.loop == nil {
				p.loop = &loop{head: ev.Step, first: first}
				if p.blocks != nil {
					p.blocks.open(ev.Step + " loop")
				}
			}
			return ""
		}
		p.endLoop(ev.Time)
		p.entered[ev.Step] = entry{at: ev.Time, health: p.m.Health}
	}
	step := fmt.Sprintf("[%s] %s", p.m.Steps(), ev.Step)
	switch ev.Kind {
	case watch.ExecutionStarted:
		return "execution started"
	case watch.StepEntered:
		if p.blocks != nil {
			p.blocks.open(fmt.Sprintf("[%s] %s", p.m.Steps(), ev.Step))
		}
		return step + ": started"
	case watch.RetryScheduled:
		return fmt.Sprintf("%s: retrying (attempt %d)", step, ev.Attempt)
	case watch.AttemptFailed:
		text := errorText(ev.Error, ev.Cause)
		p.shown[ev.Step] = text
		return fmt.Sprintf("%s: attempt %d failed: %s", step, ev.Attempt, text)
	case watch.StepSucceeded:
		delete(p.shown, ev.Step)
		if p.loop != nil {
			return "" // a loop turn's step: the loop's summary counts it
		}
		if r := p.row(ev.Step); r != nil && r.Result != "" {
			// A check says what it found; "succeeded" would read as healthy.
			return fmt.Sprintf("%s: %s%s", step, r.Result, p.took(ev.Step))
		}
		return fmt.Sprintf("%s: succeeded%s", step, p.took(ev.Step))
	case watch.StepFailed:
		if p.blocks != nil {
			p.blocks.close()
		}
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

// healthChange is each service's healthy count before and after a loop:
// "web 1/2 → 2/2", or "web 2/2" when it did not change.
func healthChange(from, to *progress.Health) string {
	if to == nil || len(to.Services) == 0 {
		return ""
	}
	before := map[string]int{}
	if from != nil {
		for _, s := range from.Services {
			before[s.Name] = s.Healthy + 1 // 0 means not reported
		}
	}
	var parts []string
	for _, s := range to.Services {
		part := fmt.Sprintf("%s %d/%d", s.Name, s.Healthy, s.Desired)
		if b := before[s.Name]; b > 0 && b-1 != s.Healthy {
			part = fmt.Sprintf("%s %d/%d → %d/%d", s.Name, b-1, s.Desired, s.Healthy, s.Desired)
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, "; ")
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
