package engine

import (
	"context"
	"sort"
	"sync"
	"time"
)

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }

// After is time.After.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Timer starts a timer that stop releases early.
func (SystemClock) Timer(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// timerClock is a Clock whose timers can be stopped, so a long timeout that
// was not needed leaves nothing behind (it matters to FakeClock's auto mode).
type timerClock interface {
	Timer(d time.Duration) (<-chan time.Time, func())
}

// holdingClock is a Clock that must not advance on its own while a task runs.
type holdingClock interface {
	Hold() (release func())
}

func startTimer(c Clock, d time.Duration) (<-chan time.Time, func()) {
	if tc, ok := c.(timerClock); ok {
		return tc.Timer(d)
	}
	return c.After(d), func() {}
}

// sleep waits d on the clock, or until ctx is done.
func sleep(ctx context.Context, c Clock, d time.Duration) error {
	ch, stop := startTimer(c, d)
	defer stop()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// FakeClock is a Clock for tests. Time moves only when the test calls Advance,
// or, in auto mode, when the engine has been quiet for a moment while someone
// waits on the clock: then it jumps to the earliest timer. Either way the
// waits are exact, and Fired lists each wait that ran to its end.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	auto   bool
	holds  int
	gen    uint64
	fired  []time.Duration
	quiet  time.Duration
	wakeup chan struct{}
	// advancing says the auto-mode advancer goroutine is running.
	advancing bool
}

type fakeTimer struct {
	at  time.Time
	d   time.Duration
	ch  chan time.Time
	seq uint64
}

// NewFakeClock returns a fake clock at start that moves only on Advance.
func NewFakeClock(start time.Time) *FakeClock {
	return &FakeClock{now: start, quiet: 200 * time.Microsecond, wakeup: make(chan struct{})}
}

// NewAutoClock returns a fake clock at start in auto mode: when a timer is
// pending and nothing has touched the clock for a moment (200µs of real time),
// it jumps to the earliest timer. The engine holds the clock while a task
// function runs, so a task timeout fires only if the function itself blocks
// (use NewFakeClock and Advance to test that). Suited to tests whose waits are
// the machine's own: Wait states, retry backoff, execution timeouts.
func NewAutoClock(start time.Time) *FakeClock {
	c := NewFakeClock(start)
	c.auto = true
	return c
}

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	return c.now
}

// After waits d of fake time.
func (c *FakeClock) After(d time.Duration) <-chan time.Time {
	ch, _ := c.Timer(d)
	return ch
}

// Timer starts a fake timer; stop removes it.
func (c *FakeClock) Timer(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	t := &fakeTimer{at: c.now.Add(d), d: d, ch: make(chan time.Time, 1), seq: c.gen}
	if d <= 0 {
		t.ch <- c.now
		c.fired = append(c.fired, d)
	} else {
		c.timers = append(c.timers, t)
		c.notifyLocked()
	}
	return t.ch, func() { c.stop(t) }
}

func (c *FakeClock) stop(t *fakeTimer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for i, x := range c.timers {
		if x == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return
		}
	}
}

// notifyLocked wakes BlockUntil callers and, in auto mode, makes sure the
// advancer is watching for quiet.
func (c *FakeClock) notifyLocked() {
	close(c.wakeup)
	c.wakeup = make(chan struct{})
	if c.auto && !c.advancing {
		c.advancing = true
		go c.advancer()
	}
}

// advancer runs while timers are pending in auto mode: whenever the clock has
// seen no activity (Now, timers, holds) for c.quiet and nobody holds it, it
// jumps to the earliest timer.
func (c *FakeClock) advancer() {
	for {
		c.mu.Lock()
		if len(c.timers) == 0 {
			c.advancing = false
			c.mu.Unlock()
			return
		}
		gen := c.gen
		c.mu.Unlock()
		time.Sleep(c.quiet)
		c.mu.Lock()
		if c.gen != gen || c.holds > 0 || len(c.timers) == 0 {
			c.mu.Unlock()
			continue
		}
		earliest := c.timers[0].at
		for _, t := range c.timers[1:] {
			if t.at.Before(earliest) {
				earliest = t.at
			}
		}
		c.mu.Unlock()
		c.AdvanceTo(earliest)
	}
}

// Hold keeps an auto clock from moving until release is called; the engine
// holds it while a task function runs, so a slow task is not timed out by a
// clock that thought everyone was waiting.
func (c *FakeClock) Hold() (release func()) {
	c.mu.Lock()
	c.holds++
	c.gen++
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.holds--
			c.gen++
		})
	}
}

// Advance moves the clock forward by d, firing every timer due.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	to := c.now.Add(d)
	c.mu.Unlock()
	c.AdvanceTo(to)
}

// AdvanceTo moves the clock to t (never back), firing every timer due, in
// order of their deadlines.
func (c *FakeClock) AdvanceTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.Before(c.now) {
		return
	}
	sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
	var keep []*fakeTimer
	for _, tm := range c.timers {
		if !tm.at.After(t) {
			tm.ch <- tm.at
			c.fired = append(c.fired, tm.d)
		} else {
			keep = append(keep, tm)
		}
	}
	c.timers = keep
	c.now = t
	c.gen++
	if len(c.timers) > 0 {
		c.notifyLocked()
	}
}

// Waiters returns how many timers are pending.
func (c *FakeClock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// BlockUntil returns once at least n timers are pending, or ctx is done.
func (c *FakeClock) BlockUntil(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		if len(c.timers) >= n {
			c.mu.Unlock()
			return nil
		}
		w := c.wakeup
		c.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Fired lists the duration of every timer that ran to its end, in firing order.
func (c *FakeClock) Fired() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.fired...)
}
