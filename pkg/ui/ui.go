// Package ui renders a deploy's live view (progress.Model) as a bubbletea
// TUI, plain lines or JSON lines.
package ui

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/progress"
	"github.com/odin-deploy/odin/pkg/watch"
)

// Mode picks a renderer.
type Mode string

// Output modes. ModeAuto is the TUI when stdout is a terminal, else plain.
const (
	ModeAuto  Mode = "auto"
	ModeTUI   Mode = "tui"
	ModePlain Mode = "plain"
	ModeJSON  Mode = "json"
	// ModeGitHub is plain lines folded into groups, with annotations, for a
	// GitHub Actions log (github.go).
	ModeGitHub Mode = "github"
)

// ParseMode reads an --output value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case "", ModeAuto:
		return ModeAuto, nil
	case ModeTUI, ModePlain, ModeJSON, ModeGitHub:
		return m, nil
	case "tty":
		// What --output documents and the settings accept.
		return ModeTUI, nil
	}
	return "", fmt.Errorf("unknown output %q: want auto, tty, plain, json or github", s)
}

// Options configure a live view.
type Options struct {
	Mode Mode
	IO   *iostreams.IOStreams
	// Now is the wall clock (elapsed time, durations); default time.Now.
	Now func() time.Time
	// Halt, when set, is what the TUI's h key calls after a confirmation.
	Halt func(ctx context.Context) error
	// Reattach is the command that attaches again, printed on detach.
	Reattach string
	// Quiet (--quiet) leaves only the verdict line in plain output, so a
	// script's log holds the outcome and nothing else. It picks plain over
	// the TUI, which is all progress; JSON lines are machine output and stay
	// whole.
	Quiet bool
}

// Watcher produces the events (watch.Tailer.Run fits).
type Watcher func(ctx context.Context, emit func(watch.Event)) (*watch.Result, error)

// View is one live view of one execution.
type View struct {
	m    *progress.Model
	opts Options

	mu   sync.Mutex
	warn func(err error, retryIn time.Duration)
}

// New returns a view of m.
func New(m *progress.Model, opts Options) *View {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Mode == "" || opts.Mode == ModeAuto {
		opts.Mode = ModePlain
		if opts.IO.IsStdoutTTY() {
			opts.Mode = ModeTUI
		}
	}
	if opts.Quiet && opts.Mode == ModeTUI {
		opts.Mode = ModePlain
	}
	return &View{m: m, opts: opts}
}

// Mode is the renderer the view uses.
func (v *View) Mode() Mode { return v.opts.Mode }

// Warn shows a transient problem the watcher is riding out; pass it as
// watch.Options.OnError. Safe to call from the watcher's goroutine.
func (v *View) Warn(err error, retryIn time.Duration) {
	v.mu.Lock()
	f := v.warn
	v.mu.Unlock()
	if f != nil {
		f(err, retryIn)
	}
}

func (v *View) setWarn(f func(error, time.Duration)) {
	v.mu.Lock()
	v.warn = f
	v.mu.Unlock()
}

// Run shows the execution until it ends, the user detaches (TUI: q or
// ctrl-c) or ctx is done, and returns the verdict, whose Code is the exit
// code. An error is returned only when watching itself failed.
func (v *View) Run(ctx context.Context, w Watcher) (progress.Verdict, error) {
	if v.opts.Mode == ModeTUI {
		return v.runTUI(ctx, w)
	}
	type renderer interface {
		Start()
		Event(watch.Event)
		Warn(error, time.Duration)
	}
	var r renderer
	var finish func(progress.Verdict)
	switch v.opts.Mode {
	case ModeJSON:
		j := NewJSONLines(v.opts.IO.Out, v.m)
		r, finish = j, func(vd progress.Verdict) { j.Finish(vd, v.opts.Now()) }
	case ModeGitHub:
		g := NewGitHub(v.opts.IO.Out, v.m)
		g.plain.Quiet = v.opts.Quiet
		r, finish = g, g.Finish
	default:
		p := NewPlain(v.opts.IO.Out, v.m)
		p.Quiet = v.opts.Quiet
		r, finish = p, p.Finish
	}
	v.setWarn(r.Warn)
	r.Start()
	_, err := w(ctx, func(ev watch.Event) {
		v.m.Apply(ev)
		r.Event(ev)
	})
	vd := v.m.Verdict(v.opts.Now())
	finish(vd)
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return vd, err
	}
	v.detachHint(vd)
	return vd, nil
}

func (v *View) detachHint(vd progress.Verdict) {
	if vd.Code == exitcode.Running && v.opts.Reattach != "" {
		fmt.Fprintf(v.opts.IO.ErrOut, "The deploy goes on. Attach again with:\n  %s\n", v.opts.Reattach)
	}
}

func (v *View) runTUI(ctx context.Context, w Watcher) (progress.Verdict, error) {
	r := lipgloss.NewRenderer(v.opts.IO.Out)
	if !v.opts.IO.ColorEnabled() {
		r.SetColorProfile(termenv.Ascii)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	model := newTUIModel(ctx, v.m, r, v.opts.Now, v.opts.Halt)
	model.width = v.opts.IO.TerminalWidth()
	p := tea.NewProgram(model, tea.WithContext(ctx), tea.WithInput(v.opts.IO.In), tea.WithOutput(v.opts.IO.Out))
	v.setWarn(func(err error, d time.Duration) {
		p.Send(warnMsg{text: fmt.Sprintf("%s; retrying in %s", oneLine(err.Error()), progress.FormatDuration(d))})
	})
	watchDone := make(chan error, 1)
	go func() {
		// Events go through the program so that only Update touches the model.
		_, err := w(wctx, func(ev watch.Event) { p.Send(eventMsg{ev: ev}) })
		watchDone <- err
		p.Send(doneMsg{err: err})
	}()
	final, runErr := p.Run()
	cancel()
	werr := <-watchDone
	vd := v.m.Verdict(v.opts.Now())
	if fm, ok := final.(tuiModel); ok {
		// The live frame fits the terminal; the one left on it is whole,
		// so scrollback keeps the title and every step.
		fmt.Fprint(v.opts.IO.Out, fm.Final())
		if fm.err != nil {
			werr = fm.err
		}
	}
	if werr != nil && !errors.Is(werr, context.Canceled) && !errors.Is(werr, context.DeadlineExceeded) {
		return vd, werr
	}
	if runErr != nil && !errors.Is(runErr, tea.ErrProgramKilled) && !errors.Is(runErr, context.Canceled) {
		return vd, fmt.Errorf("live view: %w", runErr)
	}
	v.detachHint(vd)
	return vd, nil
}
