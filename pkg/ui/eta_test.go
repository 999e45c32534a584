package ui

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/odin-deploy/odin/pkg/progress"
	"github.com/odin-deploy/odin/pkg/watch"
)

// slowed stretches a recorded deploy's times by factor, as a slower run of
// the same deploy.
func slowed(evs []watch.Event, factor float64) []watch.Event {
	out := slices.Clone(evs)
	start := out[0].Time
	for i := range out {
		out[i].Time = start.Add(time.Duration(float64(out[i].Time.Sub(start)) * factor))
	}
	return out
}

func finished(t *testing.T, def []byte, evs []watch.Event) *progress.Model {
	t.Helper()
	m, err := progress.New(def, header)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		m.Apply(ev)
	}
	return m
}

// The estimate from three earlier deploys (two recorded, one of them also
// replayed at half speed): the medians, the live view's bar while a deploy
// runs, and plain output's remark on a step far slower than usual.
func TestETAFromThreeEarlierDeploys(t *testing.T) {
	def, retry := events(t, "deploy-retry", -1)
	_, moto := events(t, "moto-deploy", -1)
	usual := progress.UsualOf([]*progress.Model{finished(t, def, retry), finished(t, def, moto), finished(t, def, slowed(retry, 2))})
	if usual == nil || usual.Deploys != 3 {
		t.Fatalf("usual %+v, want it over 3 deploys", usual)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "usual over %d deploys: %s\n", usual.Deploys, progress.FormatDuration(usual.Total))
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range usual.Steps {
			if !yield(n) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, "  %-18s %s\n", name, progress.FormatDuration(usual.Steps[name]))
	}

	// The TUI of a deploy that runs: a bar of the time elapsed, the time left.
	lipgloss.SetColorProfile(termenv.Ascii)
	m, _ := progress.New(def, header)
	m.Usual = usual
	n := firstFailure(t, "deploy-retry")
	_, running := events(t, "deploy-retry", n)
	for _, ev := range running {
		m.Apply(ev)
	}
	r := lipgloss.NewRenderer(&bytes.Buffer{})
	r.SetColorProfile(termenv.Ascii)
	for _, at := range []time.Duration{15 * time.Second, 2 * time.Minute} {
		clock := func() time.Time { return m.Started.Add(at) }
		var tm tea.Model = newTUIModel(context.Background(), m, r, clock, nil)
		tm, _ = tm.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
		fmt.Fprintf(&b, "\nthe live view at %s:\n%s\n", at, strings.Join(strings.Split(tm.View(), "\n")[:5], "\n"))
	}

	// Plain output of a deploy four times slower than usual.
	slow := progress.New
	pm, _ := slow(def, header)
	pm.Usual = usual
	var out bytes.Buffer
	p := NewPlain(&out, pm)
	for _, ev := range slowed(retry, 4) {
		pm.Apply(ev)
		p.Event(ev)
	}
	b.WriteString("\nplain output, four times slower:\n")
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.Contains(l, "slower than usual") {
			b.WriteString(l + "\n")
		}
	}
	if !strings.Contains(out.String(), "slower than usual: ") {
		t.Errorf("no step of a deploy four times slower is said to be slower than usual:\n%s", out.String())
	}
	golden(t, "eta-three-deploys", []byte(b.String()))
}
