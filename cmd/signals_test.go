package cmd

import (
	"bytes"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odin-deploy/odin/pkg/exitcode"
)

// endOnSignals: the first signal cancels the command; a second one, or the
// command still running after the grace, exits at once with 130 (SIGINT)
// or 143 (SIGTERM). A command that ends by itself after the first signal is
// never cut short (exit is not called).
func TestEndOnSignals(t *testing.T) {
	cases := []struct {
		name   string
		sigs   []os.Signal
		grace  time.Duration
		code   int
		reason string
	}{
		{"ctrl-c twice", []os.Signal{os.Interrupt, os.Interrupt}, time.Hour, exitcode.Interrupted, "SIGINT: got SIGINT again"},
		{"SIGTERM then ctrl-c", []os.Signal{syscall.SIGTERM, os.Interrupt}, time.Hour, exitcode.Terminated, "SIGTERM: got SIGINT again"},
		{"SIGTERM, command stuck", []os.Signal{syscall.SIGTERM}, time.Millisecond, exitcode.Terminated, "SIGTERM: did not stop within 1ms"},
		{"ctrl-c, command stuck", []os.Signal{os.Interrupt}, time.Millisecond, exitcode.Interrupted, "SIGINT: did not stop within 1ms"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sigs := make(chan os.Signal, len(c.sigs))
			for _, s := range c.sigs {
				sigs <- s
			}
			cancelled := false
			exited := make(chan int, 1)
			var errOut bytes.Buffer
			endOnSignals(sigs, func() { cancelled = true }, c.grace, &errOut, func(code int) { exited <- code })
			if !cancelled {
				t.Error("the first signal did not cancel the command")
			}
			if code := <-exited; code != c.code {
				t.Errorf("exit %d, want %d", code, c.code)
			}
			if !strings.Contains(errOut.String(), c.reason) {
				t.Errorf("stderr %q, want %q", errOut.String(), c.reason)
			}
		})
	}

	// No signal: nothing happens (the goroutine waits with the process).
	sigs := make(chan os.Signal)
	done := make(chan struct{})
	go func() {
		defer close(done)
		endOnSignals(sigs, func() { t.Error("cancelled without a signal") }, time.Hour, &bytes.Buffer{}, func(int) { t.Error("exited without a signal") })
	}()
	select {
	case <-done:
		t.Fatal("endOnSignals returned without a signal")
	default:
	}
}
