package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	bar "github.com/charmbracelet/bubbles/progress"
	"github.com/charmbracelet/bubbles/spinner"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/odin-deploy/odin/pkg/progress"
	"github.com/odin-deploy/odin/pkg/watch"
)

// Messages into the TUI. Everything outside Update arrives as one of these.
type (
	eventMsg    struct{ ev watch.Event }
	warnMsg     struct{ text string }
	doneMsg     struct{ err error }
	tickMsg     time.Time
	haltDoneMsg struct{ err error }
)

// tuiModel is the live view. Update is pure apart from the tea.Cmds it
// returns; View is a function of the model.
type tuiModel struct {
	m     *progress.Model
	st    styles
	keys  keyMap
	help  help.Model
	spin  spinner.Model
	bar   bar.Model // time elapsed against the usual, when known
	clock func() time.Time
	now   time.Time

	width, height int
	expanded      bool
	showHelp      bool
	confirming    bool // asked "halt?", waiting for y or n
	halting       bool
	haltNote      string
	halt          func(ctx context.Context) error
	ctx           context.Context

	warning  string
	done     bool
	err      error
	detached bool
}

func newTUIModel(ctx context.Context, m *progress.Model, r *lipgloss.Renderer, clock func() time.Time, halt func(context.Context) error) tuiModel {
	st := newStyles(r)
	h := newHelp(r, st)
	sp := spinner.New(spinner.WithSpinner(spinner.Line), spinner.WithStyle(st.running))
	pb := bar.New(bar.WithoutPercentage(), bar.WithSolidFill("6"), bar.WithColorProfile(r.ColorProfile()), bar.WithFillCharacters('█', '░'))
	return tuiModel{m: m, st: st, keys: newKeyMap(halt != nil), help: h, spin: sp, bar: pb, clock: clock, now: clock(),
		width: 80, height: 24, halt: halt, ctx: ctx}
}

func (t tuiModel) tick() tea.Cmd { return tickEvery(t.clock) }

// tickEvery redraws the elapsed times once a second, on clock.
func tickEvery(clock func() time.Time) tea.Cmd {
	return tea.Tick(time.Second, func(time.Time) tea.Msg { return tickMsg(clock()) })
}

// newHelp is the key help both live views show, in their styles.
func newHelp(r *lipgloss.Renderer, st styles) help.Model {
	h := help.New()
	h.Styles.ShortKey = r.NewStyle().Bold(true)
	h.Styles.ShortDesc = st.dim
	h.Styles.ShortSeparator = st.dim
	h.Styles.FullKey = r.NewStyle().Bold(true)
	h.Styles.FullDesc = st.dim
	h.Styles.FullSeparator = st.dim
	return h
}

func (t tuiModel) Init() tea.Cmd { return tea.Batch(t.spin.Tick, t.tick()) }

func (t tuiModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		t.width, t.height = msg.Width, msg.Height
		t.help.Width = msg.Width
	case tea.KeyMsg:
		return t.key(msg)
	case eventMsg:
		t.m.Apply(msg.ev)
		t.warning = ""
	case warnMsg:
		t.warning = msg.text
	case doneMsg:
		t.done, t.err = true, msg.err
		return t, tea.Quit
	case tickMsg:
		t.now = time.Time(msg)
		return t, t.tick()
	case haltDoneMsg:
		t.halting = false
		if msg.err != nil {
			t.haltNote = "halt failed: " + oneLine(msg.err.Error())
		} else {
			t.haltNote = "halt requested: the deployer is rolling back"
		}
	case spinner.TickMsg:
		var cmd tea.Cmd
		t.spin, cmd = t.spin.Update(msg)
		return t, cmd
	}
	return t, nil
}

func (t tuiModel) key(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	if t.confirming {
		switch {
		case key.Matches(msg, t.keys.Interrupt):
			t.confirming, t.detached = false, true
			return t, tea.Quit
		case key.Matches(msg, t.keys.Yes):
			t.confirming, t.halting = false, true
			return t, t.haltCmd()
		case key.Matches(msg, t.keys.Cancel):
			t.confirming = false
		}
		return t, nil
	}
	switch {
	case key.Matches(msg, t.keys.Detach):
		t.detached = true
		return t, tea.Quit
	case key.Matches(msg, t.keys.Halt):
		if !t.m.Done() && !t.halting {
			t.confirming = true
		}
	case key.Matches(msg, t.keys.Details):
		t.expanded = !t.expanded
	case key.Matches(msg, t.keys.Help):
		t.showHelp = !t.showHelp
		t.help.ShowAll = t.showHelp
	}
	return t, nil
}

// haltCmd calls the command's halt function off the UI goroutine.
func (t tuiModel) haltCmd() tea.Cmd {
	halt, ctx := t.halt, t.ctx
	return func() tea.Msg { return haltDoneMsg{err: halt(ctx)} }
}

// glyph is a step's status at a glance; the words in the row say it too, so
// the view reads without colour.
func (t tuiModel) glyph(r progress.Row) string {
	switch r.Status {
	case progress.Running:
		return t.spin.View()
	case progress.Retrying:
		return t.st.warn.Render("↻")
	case progress.Succeeded:
		return t.st.ok.Render("✓")
	case progress.Failed:
		return t.st.bad.Render("✗")
	case progress.Stopped:
		return t.st.bad.Render("■")
	case progress.Skipped:
		return t.st.dim.Render("-")
	}
	return t.st.dim.Render("·")
}

// View is the live frame, fitted to the terminal. Once odin stops
// watching it is empty: runTUI then prints the final frame whole (Final),
// which a short terminal would otherwise cut.
func (t tuiModel) View() string {
	if t.done || t.detached {
		return ""
	}
	return t.frame(t.height)
}

// Final is the last frame, whole whatever the terminal's height.
func (t tuiModel) Final() string { return t.frame(0) + "\n" }

// frame lays the view out in at most height lines (all of it at 0).
func (t tuiModel) frame(height int) string {
	w := max(t.width, 20)
	bottom := t.healthPart(w)
	bottom = append(bottom, t.warningPart(w)...)
	bottom = append(bottom, t.dialogPart()...)
	bottom = append(bottom, t.verdictPart(w, height == 0)...)
	bottom = append(bottom, t.helpPart()...)
	out := fitHeight(t.headerPart(w), t.stepsPart(w), bottom, height, func(s string) string { return t.st.dim.Render(s) })
	for i, l := range out {
		out[i] = clip(l, w)
	}
	return strings.Join(out, "\n")
}

var spacer = line{drop: spacerLine}

func keep(text string) line { return line{text: text} }

// headerPart is the title, where the deploy runs, and how far it got.
func (t tuiModel) headerPart(w int) []line {
	h := t.m.Header
	title := "odin"
	if h.Project != "" {
		title += fmt.Sprintf("  %s/%s  release %s", h.Project, h.Config, h.Release)
		if h.NotDeployed != "" {
			title += "  (watching it; " + h.NotDeployed + " not deployed)"
		}
	}
	top := []line{keep(t.st.title.Render(title))}
	for _, l := range where(h, w) {
		top = append(top, line{t.st.dim.Render(l), whereLine})
	}
	top = append(top, keep(fmt.Sprintf("elapsed %s · steps %s", progress.FormatDuration(t.m.Elapsed(t.now)), t.m.Steps())))
	if l := t.etaLine(w); l != "" {
		top = append(top, line{l, whereLine})
	}
	return append(top, spacer)
}

// etaLine is a bar of the time elapsed against the usual time of the
// project and config's earlier deploys, and the time left: "" when there
// is no usual time or the deploy has ended.
func (t tuiModel) etaLine(w int) string {
	eta, ok := t.m.ETA(t.now)
	if !ok || t.m.Done() {
		return ""
	}
	text := " " + eta.String()
	b := t.bar
	b.Width = min(max(w-lipgloss.Width(text), 10), 40)
	return b.ViewAs(eta.Fraction) + text
}

// stepsPart is the table: a row per step shown, with its error under it.
// Steps off the happy path appear once entered; skipped ones only expanded.
func (t tuiModel) stepsPart(w int) []stepBlock {
	nameW := 8
	for _, r := range t.m.Rows {
		nameW = max(nameW, lipgloss.Width(r.Name))
	}
	nameW = min(nameW, max(w/2, 8))
	var steps []stepBlock
	for _, r := range t.m.Rows {
		if !r.Shown() || (r.Status == progress.Skipped && !t.expanded) {
			continue
		}
		// A row sums up the step, so its time is over all visits, as the
		// (×N) beside it says; plain output's lines give each visit's own.
		dur := ""
		if r.Status != progress.Pending && r.Status != progress.Skipped {
			dur = progress.FormatDuration(r.Duration(t.now))
		}
		row := fmt.Sprintf(" %s %-*s  %-26s %6s", t.glyph(r), nameW, truncate(oneLine(r.Name), nameW), rowStatus(r), dur)
		lines := []line{keep(strings.TrimRight(row, " "))}
		if r.Error != "" && (r.Status == progress.Failed || r.Status == progress.Retrying || r.Status == progress.Stopped) && r.Type != "Fail" {
			lines = append(lines, keep(t.st.errorText.Render("     "+truncate(errorText(r.Error, r.Cause), w-5))))
			if t.expanded {
				for _, l := range t.causeDetail(r.Cause, w) {
					lines = append(lines, line{l, detailLine})
				}
			}
		}
		steps = append(steps, newStepBlock(r, lines))
	}
	return steps
}

// rowStatus is the words in a row: its status, what a check found, the
// attempt, the visits.
func rowStatus(r progress.Row) string {
	status := string(r.Status)
	switch {
	case r.Status == progress.Succeeded && r.Result != "":
		status = r.Result
	case r.Status == progress.Retrying:
		status = fmt.Sprintf("retrying after attempt %d", r.Attempt)
	case r.Status == progress.Running && r.Attempt > 1:
		status = fmt.Sprintf("running, attempt %d", r.Attempt)
	}
	if r.Visits > 1 {
		status += fmt.Sprintf(" (×%d)", r.Visits)
	}
	return status
}

func (t tuiModel) healthPart(w int) []line {
	hl := healthLine(t.m.Health)
	if hl == "" {
		return nil
	}
	out := []line{spacer, keep("health: " + hl)}
	if t.expanded {
		for _, l := range t.instances(w) {
			out = append(out, line{l, detailLine})
		}
	}
	return out
}

func (t tuiModel) warningPart(w int) []line {
	var out []line
	for _, text := range []string{t.m.HistoryWarning, t.warning} {
		if text != "" {
			out = append(out, keep(t.st.warn.Render(truncate("! "+text, w))))
		}
	}
	return out
}

// dialogPart is the halt confirmation and what came of it.
func (t tuiModel) dialogPart() []line {
	text := ""
	switch {
	case t.confirming:
		text = "Halt this deploy and roll back? (y/n)"
	case t.halting:
		text = "halting…"
	case t.haltNote != "":
		text = t.haltNote
	default:
		return nil
	}
	return []line{spacer, keep(t.st.warn.Render(text))}
}

// verdictPart is the outcome, wrapped: it is the line people read, so it
// keeps up to four lines, the odin fail command at its end included.
// verdictPart is the verdict, its cause cut to a few lines in the live
// frame; whole, in the final frame, which is printed whatever its height.
func (t tuiModel) verdictPart(w int, whole bool) []line {
	if !t.m.Done() {
		if t.err != nil {
			return []line{spacer, keep(t.st.verdictBad.Render(truncate("watch stopped: "+oneLine(t.err.Error()), w)))}
		}
		return nil
	}
	v := t.m.Verdict(t.now)
	style := t.st.verdictBad
	if v.Code == 0 {
		style = t.st.verdictOK
	}
	text := oneLine(v.Status + ": " + v.Text)
	explain := ""
	if v.Explain != "" {
		// The command goes on a line of its own, whole, so it can be
		// copied; the rest is cut to make room.
		text = strings.TrimSuffix(text, "; see why with: "+v.Explain)
		explain = "see why with: " + v.Explain
	}
	lines := wrap(text, w)
	room := 4
	if explain != "" {
		room = 3
	}
	if len(lines) > room && !whole {
		lines = lines[:room]
		lines[room-1] = truncate(strings.TrimRight(lines[room-1], " ")+" …", w)
	}
	if explain != "" {
		lines = append(lines, explain)
	}
	out := []line{spacer}
	for _, l := range lines {
		out = append(out, keep(style.Render(strings.TrimRight(l, " "))))
	}
	return out
}

func (t tuiModel) helpPart() []line {
	help := ""
	switch {
	case t.done || t.detached || t.m.Done():
	case t.confirming:
		help = t.help.ShortHelpView(t.keys.confirmHelp())
	default:
		help = t.help.View(t.keys)
	}
	if help == "" {
		return nil
	}
	out := []line{spacer}
	for _, l := range strings.Split(help, "\n") {
		out = append(out, line{l, helpLine})
	}
	return out
}

// where is the header's line saying where the deploy runs. An execution
// name ends in what tells one deploy from another (the release id, then the
// attempt: deploy-<project>_<config>_<release>-2), so it is cut in the
// middle, and goes on a line of its own when the first has no room for it.
func where(h progress.Header, w int) []string {
	var parts []string
	for _, kv := range [][2]string{{"backend", h.Backend}, {"account", h.Account}, {"region", h.Region}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" "+oneLine(kv[1]))
		}
	}
	if h.Execution == "" {
		if len(parts) == 0 {
			return nil
		}
		return []string{truncate(strings.Join(parts, " · "), w)}
	}
	exec := "execution " + oneLine(h.Execution)
	if line := strings.Join(append(parts, exec), " · "); lipgloss.Width(line) <= w {
		return []string{line}
	}
	exec = "execution " + truncateMiddle(oneLine(h.Execution), w-len("execution "))
	if len(parts) == 0 {
		return []string{exec}
	}
	return []string{truncate(strings.Join(parts, " · "), w), exec}
}

func (t tuiModel) causeDetail(cause string, w int) []string {
	c := watch.UnwrapCause(cause)
	var out []string
	for d := &c; d != nil; d = d.Nested {
		if d != &c && d.Type != "" {
			// The outer type is the error name, shown already.
			out = append(out, t.st.dim.Render("       type: "+d.Type))
		}
		for _, l := range d.StackTrace {
			out = append(out, t.st.dim.Render(truncate("         at "+oneLine(l), w)))
		}
	}
	return out
}

func (t tuiModel) instances(w int) []string {
	var out []string
	for _, s := range t.m.Health.Services {
		for _, in := range s.Instances {
			line := fmt.Sprintf("  %s/%s %s", s.Name, in.ID, in.State)
			if in.Reason != "" {
				line += ": " + oneLine(in.Reason)
			}
			out = append(out, truncate(line, w))
			if in.State != "healthy" {
				for _, l := range in.LogTail {
					out = append(out, t.st.dim.Render(truncate("    | "+oneLine(l), w)))
				}
			}
		}
	}
	return out
}

// truncate cuts plain text to w cells with an ellipsis.
func truncate(s string, w int) string {
	if w <= 1 || lipgloss.Width(s) <= w {
		return s
	}
	r := []rune(s)
	if len(r) > w {
		r = r[:w]
	}
	for len(r) > 0 && lipgloss.Width(string(r)) > w-1 {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// truncateMiddle cuts plain text to w cells with an ellipsis in the middle,
// keeping more of the end than of the start.
func truncateMiddle(s string, w int) string {
	if lipgloss.Width(s) <= w {
		return s
	}
	if w < 1 {
		return ""
	}
	r := []rune(s)
	headW := (w - 1) / 3
	tailW := w - 1 - headW
	head, hw := 0, 0
	for head < len(r) && hw+lipgloss.Width(string(r[head])) <= headW {
		hw += lipgloss.Width(string(r[head]))
		head++
	}
	tail, tw := len(r), 0
	for tail > head && tw+lipgloss.Width(string(r[tail-1])) <= tailW {
		tw += lipgloss.Width(string(r[tail-1]))
		tail--
	}
	return string(r[:head]) + "…" + string(r[tail:])
}

// clip cuts a styled line to w cells so the terminal never wraps it.
func clip(s string, w int) string {
	if lipgloss.Width(s) <= w {
		return s
	}
	return lipgloss.NewStyle().MaxWidth(w).Render(s)
}
