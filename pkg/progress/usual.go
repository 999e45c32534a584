package progress

import (
	"fmt"
	"slices"
	"time"
)

// Usual is how long deploys of a project and config usually take: the
// median over its last successful deploys, of the whole execution and of
// each step (over all its visits). It gives the live view its estimate.
type Usual struct {
	Deploys int                      `json:"deploys"` // how many deploys the medians are over
	Total   time.Duration            `json:"-"`
	Steps   map[string]time.Duration `json:"-"`
}

// UsualOf takes the medians over finished models of earlier successful
// deploys; nil when there are none.
func UsualOf(earlier []*Model) *Usual {
	var totals []time.Duration
	steps := map[string][]time.Duration{}
	for _, m := range earlier {
		if m.Status != "SUCCEEDED" || m.Started.IsZero() {
			continue
		}
		totals = append(totals, m.Elapsed(m.Ended))
		for _, r := range m.Rows {
			if r.Finished > 0 {
				steps[r.Name] = append(steps[r.Name], r.Spent)
			}
		}
	}
	if len(totals) == 0 {
		return nil
	}
	u := &Usual{Deploys: len(totals), Total: median(totals), Steps: map[string]time.Duration{}}
	for name, ds := range steps {
		u.Steps[name] = median(ds)
	}
	return u
}

// Step is a step's usual time; ok is false when u is nil or the step
// did not run in the earlier deploys.
func (u *Usual) Step(name string) (time.Duration, bool) {
	if u == nil {
		return 0, false
	}
	d, ok := u.Steps[name]
	return d, ok
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ETA is the estimate of a running deploy against its usual time.
type ETA struct {
	// Fraction is the share of the usual time elapsed, below 1 while the
	// deploy runs (it may take longer than usual) and 1 once it ended.
	Fraction float64
	// Left is the usual time minus the time elapsed, 0 once past it.
	Left time.Duration
	// Usual is the usual total.
	Usual time.Duration
	// Over says the deploy has run longer than usual.
	Over bool
}

// ETA estimates how far the deploy is; ok is false without a usual time.
func (m *Model) ETA(now time.Time) (e ETA, ok bool) {
	if m.Usual == nil || m.Usual.Total <= 0 {
		return e, false
	}
	elapsed := m.Elapsed(now)
	e.Usual = m.Usual.Total
	if m.Done() {
		e.Fraction = 1
		return e, true
	}
	e.Fraction = min(float64(elapsed)/float64(m.Usual.Total), 0.99)
	e.Left = max(m.Usual.Total-elapsed, 0)
	e.Over = elapsed > m.Usual.Total
	return e, true
}

// String is "about 25s left (usually 41s)" or "longer than usual (41s)".
func (e ETA) String() string {
	switch {
	case e.Fraction >= 1:
		return fmt.Sprintf("usually %s", FormatDuration(e.Usual))
	case e.Over:
		return fmt.Sprintf("longer than usual (%s)", FormatDuration(e.Usual))
	}
	return fmt.Sprintf("about %s left (usually %s)", FormatDuration(e.Left), FormatDuration(e.Usual))
}

// Slower says, for a step's visit that just took took, how it compares with
// the step's usual time when it is slower by far: at least three times as
// long and half a minute more. "" otherwise.
func (m *Model) Slower(step string, took time.Duration) string {
	if m.Usual == nil {
		return ""
	}
	usual, ok := m.Usual.Steps[step]
	if !ok || took < 3*usual || took-usual < 30*time.Second {
		return ""
	}
	return fmt.Sprintf("slower than usual: %s vs %s", FormatDuration(took), FormatDuration(usual))
}
