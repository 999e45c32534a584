package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/spinner"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/odin-deploy/odin/pkg/progress"
)

// Resolve is the renderer opts pick, the way New picks it for a deploy:
// for the views that are not a deploy's.
func (o Options) Resolve() Mode { return New(nil, o).Mode() }

// StackHeader says what the stack view watches being done, and where.
type StackHeader struct {
	Command         string // odin deployer install
	Account, Region string
}

func (h StackHeader) String() string {
	parts := []string{h.Command}
	if h.Account != "" {
		parts = append(parts, "account "+h.Account)
	}
	if h.Region != "" {
		parts = append(parts, "region "+h.Region)
	}
	return oneLine(strings.Join(parts, " · "))
}

// StackView is the TUI of CloudFormation stack events (odin deployer
// install, upgrade, uninstall): a table of each stack's resources at their
// latest status. Its plain and JSON lines are the command's own.
type StackView struct {
	p      *tea.Program
	opts   Options
	ran    chan stackRun
	cancel context.CancelFunc
}

type stackRun struct {
	model stackModel
	err   error
}

// StartStacks starts the TUI on opts.IO. The context it returns is done
// when the user stops watching (ctrl-c): the stack operation goes on in
// CloudFormation, only the command stops following it.
func StartStacks(ctx context.Context, h StackHeader, opts Options) (*StackView, context.Context) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := lipgloss.NewRenderer(opts.IO.Out)
	if !opts.IO.ColorEnabled() {
		r.SetColorProfile(termenv.Ascii)
	}
	m := newStackModel(h, r, opts.Now)
	if w := opts.IO.TerminalWidth(); w > 0 {
		m.width = w
	}
	wctx, cancel := context.WithCancel(ctx)
	v := &StackView{opts: opts, ran: make(chan stackRun, 1), cancel: cancel,
		p: tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(opts.IO.In), tea.WithOutput(opts.IO.Out))}
	go func() {
		final, err := v.p.Run()
		fm, _ := final.(stackModel)
		if fm.interrupted {
			cancel()
		}
		v.ran <- stackRun{fm, err}
	}()
	return v, wctx
}

// StackEvent is one CloudFormation stack event, as the deployer's installer
// reports it (install.Event converts to it): the view does not import the
// deployer.
type StackEvent struct {
	Time      time.Time
	Stack     string
	LogicalID string
	Type      string
	Status    string
	Reason    string
}

// Failed says the event is a failure.
func (e StackEvent) Failed() bool { return strings.HasSuffix(e.Status, "_FAILED") }

// Event shows a stack event; safe from any goroutine.
func (v *StackView) Event(e StackEvent) { v.p.Send(stackEventMsg{e}) }

// Finish shows the outcome, stops the TUI and prints the final frame whole,
// with notes (change sets, kept buckets) under the verdict.
func (v *StackView) Finish(vd progress.Verdict, notes []string) error {
	at := v.opts.Now()
	v.p.Send(stackDoneMsg{vd, notes, at})
	run := <-v.ran
	v.cancel()
	if run.err != nil && !errors.Is(run.err, tea.ErrProgramKilled) && !errors.Is(run.err, context.Canceled) {
		return fmt.Errorf("live view: %w", run.err)
	}
	m := run.model
	// Interrupted, or killed, the program quit before the outcome reached
	// it: give it now.
	m.outcome, m.now = &stackDoneMsg{vd, notes, at}, at
	_, err := fmt.Fprintln(v.opts.IO.Out, m.finalView())
	return err
}

// Messages into the stack TUI.
type (
	stackEventMsg struct{ ev StackEvent }
	stackDoneMsg  struct {
		vd    progress.Verdict
		notes []string
		at    time.Time // when it ended, for the final elapsed time
	}
)

// stackResource is a resource, or the stack itself, as its latest event
// left it.
type stackResource struct {
	LogicalID, Type, Status string
	// Reason is why it failed (its latest *_FAILED event), kept when
	// a rollback moves it on.
	Reason      string
	First, Last time.Time
	// RolledBack: an event came while its stack was rolling back.
	RolledBack bool
}

// stackGroup is a stack and its resources in the order they first appeared.
type stackGroup struct {
	Stack     stackResource
	Resources []stackResource
}

// stackTable is what the events said so far, stacks in the order they
// first appeared.
type stackTable []stackGroup

// with is the table after e; t is left as it was.
func (t stackTable) with(e StackEvent) stackTable {
	out := make(stackTable, len(t))
	copy(out, t)
	g := -1
	for i := range out {
		if out[i].Stack.LogicalID == e.Stack {
			g = i
		}
	}
	if g < 0 {
		out = append(out, stackGroup{Stack: stackResource{LogicalID: e.Stack, Type: "AWS::CloudFormation::Stack", First: e.Time}})
		g = len(out) - 1
	}
	grp := &out[g]
	rollingBack := strings.Contains(grp.Stack.Status, "ROLLBACK") && strings.HasSuffix(grp.Stack.Status, "_IN_PROGRESS")
	update := func(r stackResource) stackResource {
		if r.First.IsZero() {
			r.First = e.Time
		}
		r.Type, r.Status, r.Last = e.Type, e.Status, e.Time
		if e.Failed() && e.Reason != "" {
			r.Reason = e.Reason
		}
		r.RolledBack = r.RolledBack || rollingBack
		return r
	}
	if e.LogicalID == e.Stack {
		grp.Stack = update(grp.Stack)
		if strings.Contains(e.Status, "ROLLBACK") && e.Reason != "" && grp.Stack.Reason == "" {
			grp.Stack.Reason = e.Reason // "The following resource(s) failed to create: …"
		}
		return out
	}
	res := make([]stackResource, len(grp.Resources), len(grp.Resources)+1)
	copy(res, grp.Resources)
	for i := range res {
		if res[i].LogicalID == e.LogicalID {
			res[i] = update(res[i])
			grp.Resources = res
			return out
		}
	}
	grp.Resources = append(res, update(stackResource{LogicalID: e.LogicalID}))
	return out
}

// stackState is how a status reads at a glance.
type stackState int

const (
	statePending stackState = iota
	stateRunning
	stateDone
	stateFailed
	stateRolledBack // undone by a rollback
)

func (r stackResource) state() stackState {
	s := r.Status
	switch {
	case strings.HasSuffix(s, "_FAILED"), strings.Contains(s, "ROLLBACK"):
		return stateFailed
	case strings.HasSuffix(s, "_IN_PROGRESS"):
		return stateRunning
	case r.Reason != "":
		return stateFailed
	case r.RolledBack:
		return stateRolledBack
	case strings.HasSuffix(s, "_COMPLETE"):
		return stateDone
	}
	return statePending
}

// stackKeys is what the stack view answers to. There is no detach: the
// stack operation goes on in CloudFormation whatever odin does, so ctrl-c
// only stops watching it.
type stackKeys struct{ Stop key.Binding }

func newStackKeys() stackKeys {
	return stackKeys{Stop: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "stop watching (the stacks go on)"))}
}

// stackModel is the stack TUI. Update is pure; View is a function of the
// model.
type stackModel struct {
	header StackHeader
	table  stackTable
	st     styles
	keys   stackKeys
	help   help.Model
	spin   spinner.Model
	clock  func() time.Time
	start  time.Time
	now    time.Time

	width, height int
	outcome       *stackDoneMsg
	interrupted   bool
}

func newStackModel(h StackHeader, r *lipgloss.Renderer, clock func() time.Time) stackModel {
	st := newStyles(r)
	hm := newHelp(r, st)
	now := clock()
	return stackModel{header: h, st: st, keys: newStackKeys(), help: hm, clock: clock, start: now, now: now,
		spin:  spinner.New(spinner.WithSpinner(spinner.Line), spinner.WithStyle(st.running)),
		width: 80, height: 24}
}

func (m stackModel) tick() tea.Cmd { return tickEvery(m.clock) }

func (m stackModel) Init() tea.Cmd { return tea.Batch(m.spin.Tick, m.tick()) }

func (m stackModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.Width = msg.Width
	case tea.KeyMsg:
		if key.Matches(msg, m.keys.Stop) {
			m.interrupted = true
			return m, tea.Quit
		}
	case stackEventMsg:
		m.table = m.table.with(msg.ev)
	case stackDoneMsg:
		m.outcome, m.now = &msg, msg.at
		return m, tea.Quit
	case tickMsg:
		m.now = time.Time(msg)
		return m, m.tick()
	case spinner.TickMsg:
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return m, cmd
	}
	return m, nil
}

// View is the live frame. Once the program stops it is empty: the final
// frame is printed whole after it (finalView), so none of a long table is
// lost above the screen.
func (m stackModel) View() string {
	if m.outcome != nil || m.interrupted {
		return ""
	}
	return strings.Join(m.frame(m.height), "\n")
}

func (m stackModel) finalView() string { return strings.Join(m.frame(0), "\n") }

// glyph is a status at a glance; the status beside it says it in words.
func (m stackModel) glyph(s stackState) string {
	switch s {
	case stateRunning:
		if m.outcome != nil || m.interrupted {
			return m.st.running.Render("…")
		}
		return m.spin.View()
	case stateDone:
		return m.st.ok.Render("✓")
	case stateFailed:
		return m.st.bad.Render("✗")
	case stateRolledBack:
		return m.st.warn.Render("↺")
	}
	return m.st.dim.Render("·")
}

func (m stackModel) statusStyle(s stackState) lipgloss.Style {
	switch s {
	case stateRunning:
		return m.st.running
	case stateDone:
		return m.st.ok
	case stateFailed:
		return m.st.errorText
	case stateRolledBack:
		return m.st.warn
	}
	return m.st.dim
}

// frame lays the view out in height lines (all of it when 0).
func (m stackModel) frame(height int) []string {
	w := max(m.width, 20)
	final := height == 0
	keep := func(text string) line { return line{text: text} }
	spacer := line{drop: spacerLine}

	var counts [stateRolledBack + 1]int
	total := 0
	for _, g := range m.table {
		for _, r := range g.Resources {
			counts[r.state()]++
			total++
		}
	}
	summary := fmt.Sprintf("elapsed %s", progress.FormatDuration(m.now.Sub(m.start)))
	if total > 0 {
		var parts []string
		for _, c := range []struct {
			s    stackState
			word string
		}{{stateDone, "complete"}, {stateRunning, "in progress"}, {stateFailed, "failed"}, {stateRolledBack, "rolled back"}} {
			if counts[c.s] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", counts[c.s], c.word))
			}
		}
		noun := "resources"
		if total == 1 {
			noun = "resource"
		}
		summary += fmt.Sprintf(" · %d %s: %s", total, noun, strings.Join(parts, ", "))
	}
	top := []line{keep(m.st.title.Render(truncate(m.header.String(), w))), keep(summary), spacer}

	nameW, typeW, statusW := 8, 4, 15
	for _, g := range m.table {
		nameW = max(nameW, lipgloss.Width(g.Stack.LogicalID))
		statusW = max(statusW, len(g.Stack.Status))
		for _, r := range g.Resources {
			nameW = max(nameW, 2+lipgloss.Width(r.LogicalID))
			typeW = max(typeW, lipgloss.Width(r.Type))
			statusW = max(statusW, len(r.Status))
		}
	}
	nameW, typeW = min(nameW, max(w/3, 8)), min(typeW, max(w/3, 4))
	row := func(indent string, r stackResource, typ string) []line {
		s := r.state()
		end := r.Last
		if s == stateRunning && m.outcome == nil && !m.interrupted {
			end = m.now
		}
		dur := ""
		if !r.First.IsZero() && end.After(r.First) {
			dur = progress.FormatDuration(end.Sub(r.First))
		}
		name := truncate(indent+oneLine(r.LogicalID), nameW)
		text := fmt.Sprintf(" %s %-*s  %-*s  %s %6s", m.glyph(s), nameW, name, typeW, truncate(oneLine(typ), typeW),
			m.statusStyle(s).Render(fmt.Sprintf("%-*s", statusW, oneLine(r.Status))), dur)
		lines := []line{keep(strings.TrimRight(text, " "))}
		if r.Reason != "" {
			lines = append(lines, m.reason(indent+"     ", r.Reason, w, final)...)
		}
		return lines
	}
	var blocks []stepBlock
	for _, g := range m.table {
		blocks = append(blocks, stepBlock{lines: row("", g.Stack, ""), kept: true})
		for _, r := range g.Resources {
			rs := r.state()
			blocks = append(blocks, stepBlock{lines: row("  ", r, r.Type),
				kept:     rs == stateRunning || rs == stateFailed,
				finished: rs == stateDone || rs == stateRolledBack})
		}
	}
	if len(m.table) == 0 && m.outcome == nil && !m.interrupted {
		blocks = append(blocks, stepBlock{lines: []line{keep(" " + m.spin.View() + " " + m.st.dim.Render("waiting for CloudFormation…"))}, kept: true})
	}

	var bottom []line
	if o := m.outcome; o != nil {
		style := m.st.verdictBad
		if o.vd.Code == 0 {
			style = m.st.verdictOK
		}
		if len(blocks) > 0 {
			bottom = append(bottom, spacer)
		}
		for _, l := range wrap(oneLine(o.vd.Status+": "+o.vd.Text), w) {
			bottom = append(bottom, keep(style.Render(l)))
		}
		for _, n := range o.notes {
			bottom = append(bottom, keep(oneLine(n)))
		}
	} else if !m.interrupted {
		bottom = append(bottom, spacer, line{m.help.ShortHelpView([]key.Binding{m.keys.Stop}), helpLine})
	}
	out := fitHeight(top, blocks, bottom, height, func(s string) string { return m.st.dim.Render(s) })
	if final {
		// Printed once, below the program: a note wider than the terminal
		// wraps there, whole, rather than lose its end.
		return out
	}
	for i, l := range out {
		out[i] = clip(l, w)
	}
	return out
}

// reason is why a resource failed, under its row: up to 3 lines live,
// all of it in the final frame.
func (m stackModel) reason(indent, text string, w int, final bool) []line {
	wrapped := wrap(oneLine(text), max(w-len(indent), 10))
	if !final && len(wrapped) > 3 {
		wrapped = wrapped[:3]
		wrapped[2] = truncate(wrapped[2]+" …", max(w-len(indent), 10))
	}
	style := m.st.errorText
	if strings.Contains(text, "Resource creation cancelled") {
		style = m.st.dim // another resource's failure stopped this one
	}
	var out []line
	for _, l := range wrapped {
		out = append(out, line{text: style.Render(indent + l)})
	}
	return out
}

// wrap breaks plain text into lines of at most w cells at spaces only, so
// that names, ARNs and s3:// URLs stay whole unless longer than a line.
func wrap(s string, w int) []string {
	var out []string
	cur := ""
	for _, word := range strings.Fields(s) {
		for lipgloss.Width(word) > w {
			if cur != "" {
				out, cur = append(out, cur), ""
			}
			r := []rune(word)
			n := 0
			for n < len(r) && lipgloss.Width(string(r[:n+1])) <= w {
				n++
			}
			out, word = append(out, string(r[:n])), string(r[n:])
		}
		switch {
		case word == "":
		case cur == "":
			cur = word
		case lipgloss.Width(cur)+1+lipgloss.Width(word) <= w:
			cur += " " + word
		default:
			out, cur = append(out, cur), word
		}
	}
	if cur != "" || len(out) == 0 {
		out = append(out, cur)
	}
	return out
}
