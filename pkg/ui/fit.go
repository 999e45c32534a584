package ui

import (
	"fmt"

	"github.com/odin-deploy/odin/pkg/progress"
)

// How the live view fits a short terminal. The steps that say what is
// happening or what went wrong stay, with their errors. Steps not reached
// yet go first, from the bottom, then finished steps, oldest first, then
// detail lines, from the bottom. Only when what is left still does not fit
// does the view give up, in turn, its blank lines, its where-line and its
// key help; and a terminal too small even for that keeps the first line and
// the end.
const (
	keepLine   = iota // never left out
	detailLine        // what e expands: stack traces, instances and their logs
	spacerLine        // blank lines between the parts
	whereLine         // backend, account, region, execution
	helpLine          // the key help
)

// line is one line of the view and what it is to fitHeight.
type line struct {
	text string
	drop int
}

// stepBlock is one step's lines in the table: its row, then its error and
// the error's detail.
type stepBlock struct {
	lines []line
	// kept: running, retrying, stopped, or failed (not a Fail state, which
	// only repeats the failure): never left out.
	kept bool
	// steps not reached yet are left out before finished ones.
	finished bool
}

func newStepBlock(r progress.Row, lines []line) stepBlock {
	b := stepBlock{lines: lines}
	switch r.Status {
	case progress.Running, progress.Retrying, progress.Stopped:
		b.kept = true
	case progress.Failed:
		b.kept = r.Type != "Fail"
		b.finished = !b.kept
	case progress.Succeeded:
		b.finished = true
	}
	return b
}

// cut is what a short terminal leaves out.
type cut struct {
	level  int    // lines marked spacerLine, whereLine or helpLine up to this one
	hidden []bool // steps, each run of them replaced by a "… N done above" line
	detail int    // detail lines, counted from the bottom of the view
}

// fitHeight lays out the view in at most height lines (all of it when
// height is 0). marker styles the "… N done above" lines.
func fitHeight(top []line, steps []stepBlock, bottom []line, height int, marker func(string) string) []string {
	c := cut{hidden: make([]bool, len(steps))}
	if height <= 0 {
		return c.layout(top, steps, bottom, marker)
	}
	var order []int // the steps to leave out, in turn
	for i := len(steps) - 1; i >= 0; i-- {
		if !steps[i].kept && !steps[i].finished {
			order = append(order, i)
		}
	}
	for i, s := range steps {
		if !s.kept && s.finished {
			order = append(order, i)
		}
	}
	details := 0
	for _, l := range append(append(linesOf(steps), top...), bottom...) {
		if l.drop == detailLine {
			details++
		}
	}
	for _, level := range []int{keepLine, spacerLine, whereLine, helpLine} {
		c = cut{level: level, hidden: make([]bool, len(steps))}
		fits := func() bool { return len(c.layout(top, steps, bottom, marker)) <= height }
		for _, i := range order {
			if fits() {
				break
			}
			c.hidden[i] = true
		}
		for c.detail < details && !fits() {
			c.detail++
		}
		if fits() {
			return c.layout(top, steps, bottom, marker)
		}
	}
	// Still too tall (a tiny terminal): keep the first line and the end.
	out := c.layout(top, steps, bottom, marker)
	return append(out[:1:1], out[len(out)-height+1:]...)
}

func linesOf(steps []stepBlock) []line {
	var out []line
	for _, s := range steps {
		out = append(out, s.lines...)
	}
	return out
}

func (c cut) layout(top []line, steps []stepBlock, bottom []line, marker func(string) string) []string {
	var out []line
	out = append(out, top...)
	anyShown := false
	for i := 0; i < len(steps); {
		if !c.hidden[i] {
			out = append(out, steps[i].lines...)
			anyShown = true
			i++
			continue
		}
		j, done := i, true
		for ; j < len(steps) && c.hidden[j]; j++ {
			done = done && steps[j].finished
		}
		more := false
		for _, h := range c.hidden[j:] {
			more = more || !h
		}
		text := fmt.Sprintf(" … %d more", j-i)
		if done {
			text = fmt.Sprintf(" … %d done", j-i)
		}
		switch {
		case !anyShown && more:
			text += " above"
		case anyShown && !more:
			text += " below"
		}
		out = append(out, line{text: marker(text)})
		i = j
	}
	out = append(out, bottom...)

	var text []string
	skip := c.detail
	for i := len(out) - 1; i >= 0; i-- {
		l := out[i]
		switch {
		case l.drop == detailLine && skip > 0:
			skip--
		case l.drop > detailLine && l.drop <= c.level:
		default:
			text = append(text, l.text)
		}
	}
	for i, j := 0, len(text)-1; i < j; i, j = i+1, j-1 {
		text[i], text[j] = text[j], text[i]
	}
	return text
}
