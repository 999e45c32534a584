package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/progress"
	"github.com/odin-deploy/odin/pkg/watch"
	"github.com/odin-deploy/odin/pkg/watch/watchtest"
)

// teatest's golden package defines -update; define it when it is absent so
// this file does not depend on that.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func updating() bool { return flag.Lookup("update").Value.String() == "true" }

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if updating() {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

var header = progress.Header{Project: "hello", Config: "production", Release: "r-20261125-2a9f", Backend: "local",
	Account: "123456789012", Region: "us-east-1", Execution: "hello-production-r-20261125-2a9f"}

// events translates the first n events (all when n < 0) of a recorded
// deployer history.
func events(t *testing.T, name string, n int) ([]byte, []watch.Event) {
	t.Helper()
	def, hs := watchtest.Deployer(t, name)
	g, err := watch.ParseDefinition(def)
	if err != nil {
		t.Fatal(err)
	}
	tr := watch.NewTranslator(g)
	var out []watch.Event
	for i, h := range hs {
		if n >= 0 && i >= n {
			break
		}
		out = append(out, tr.Translate(h)...)
	}
	return def, out
}

var histories = []string{"deploy-retry", "digest-mismatch", "lock-held", "unhealthy", "timeout", "halt", "failure-dirty", "lambda-stack",
	"moto-deploy", "moto-retry-catch", "aborted"}

// The plain and JSON renderers, from recorded histories, read through the
// real tailer from a replay of the recorded API responses.
func TestPlainAndJSON(t *testing.T) {
	for _, name := range histories {
		for _, mode := range []Mode{ModePlain, ModeJSON} {
			t.Run(name+"/"+string(mode), func(t *testing.T) {
				d, _ := watchtest.Recorded(t, name)
				h, err := watchtest.ReadHistory(watchtest.HistoryPath(name))
				if err != nil {
					t.Fatal(err)
				}
				r := watchtest.NewReplay(t, d, h)
				tl := watch.New(r.Client(), watchtest.ExecutionArn, watch.Options{IncludeData: true})
				_, g, err := tl.Definition(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				m := progress.FromGraph(g, header)
				io, _, out, errOut := iostreams.Test()
				now := func() time.Time { return time.Date(2026, 11, 25, 22, 0, 0, 0, time.UTC) }
				v := New(m, Options{Mode: mode, IO: io, Now: now})
				vd, err := v.Run(context.Background(), tl.Run)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(out.String(), "\x1b") {
					t.Error("escape codes in output")
				}
				if errOut.Len() > 0 {
					t.Errorf("stderr: %s", errOut)
				}
				if (name == "deploy-retry" || name == "moto-deploy") != (vd.Code == 0) {
					t.Errorf("verdict %+v", vd)
				}
				ext := ".txt"
				if mode == ModeJSON {
					ext = ".jsonl"
					checkJSONLines(t, out.Bytes())
				}
				golden(t, name+ext, out.Bytes())
			})
		}
	}
}

func checkJSONLines(t *testing.T, b []byte) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if !strings.HasPrefix(lines[0], `{"type":"start"`) || !strings.HasPrefix(lines[len(lines)-1], `{"type":"outcome"`) {
		t.Errorf("first line %.40s…, last %.40s…", lines[0], lines[len(lines)-1])
	}
	var last string
	for _, l := range lines[1 : len(lines)-1] {
		if !strings.HasPrefix(l, `{"type":"event"`) {
			t.Errorf("line %.60s…", l)
		}
		// health is on the event that carried a new report, once.
		var ev struct {
			ID     int64     `json:"id"`
			Step   string    `json:"step"`
			Time   time.Time `json:"time"`
			Health *struct {
				Healthy  bool            `json:"healthy"`
				Services json.RawMessage `json:"services"`
				Step     string          `json:"step"`
				At       time.Time       `json:"at"`
			} `json:"health"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		if h := ev.Health; h != nil {
			report := fmt.Sprint(h.Healthy, string(h.Services))
			if report == last {
				t.Errorf("event %d repeats the health report", ev.ID)
			}
			if h.Step != ev.Step || !h.At.Equal(ev.Time) {
				t.Errorf("event %d (%s) carries health from %s at %s", ev.ID, ev.Step, h.Step, h.At)
			}
			last = report
		}
	}
}

// deploy-retry has three health reports: Deploy's and two CheckHealthy
// ones. Each is on the attempt that returned it; the task's exit and the
// tasks after it pass it along and do not repeat it.
func TestJSONLinesHealthOnce(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "deploy-retry.jsonl.golden"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev struct {
			Type   string          `json:"type"`
			ID     int64           `json:"id"`
			Kind   string          `json:"kind"`
			Health json.RawMessage `json:"health"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type == "event" && ev.Health != nil {
			got = append(got, fmt.Sprintf("%d %s", ev.ID, ev.Kind))
		}
	}
	want := []string{"20 attempt_succeeded", "32 attempt_succeeded", "41 attempt_succeeded"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("health on events %q, want %q", got, want)
	}
}

// frame renders the TUI at 100x30 without colour after the given events.
func frame(t *testing.T, name string, n int, now time.Duration, keys ...string) (tuiModel, string) {
	t.Helper()
	lipgloss.SetColorProfile(termenv.Ascii)
	def, evs := events(t, name, n)
	m, err := progress.New(def, header)
	if err != nil {
		t.Fatal(err)
	}
	r := lipgloss.NewRenderer(&bytes.Buffer{})
	r.SetColorProfile(termenv.Ascii)
	start := time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)
	clock := func() time.Time { return start.Add(now) }
	var tm tea.Model = newTUIModel(context.Background(), m, r, clock, func(context.Context) error { return nil })
	tm, _ = tm.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	for _, ev := range evs {
		tm, _ = tm.Update(eventMsg{ev: ev})
	}
	for _, k := range keys {
		tm, _ = tm.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)})
	}
	return tm.(tuiModel), tm.View()
}

// firstFailure is the count of events up to the first failed attempt.
func firstFailure(t *testing.T, name string) int {
	_, hs := watchtest.Deployer(t, name)
	for i, h := range hs {
		if h.Type == types.HistoryEventTypeLambdaFunctionFailed {
			return i + 1
		}
	}
	t.Fatal("no failure")
	return 0
}

func TestTUIFrames(t *testing.T) {
	tests := []struct {
		golden  string
		history string
		n       int // events; -1 all
		keys    []string
	}{
		{"tui-running-retry", "deploy-retry", firstFailure(t, "deploy-retry"), nil},
		{"tui-success", "deploy-retry", -1, nil},
		{"tui-failure-lock", "lock-held", -1, nil},
		{"tui-failure-unhealthy-expanded", "unhealthy", -1, []string{"e"}},
		{"tui-failure-stack-expanded", "lambda-stack", -1, []string{"e"}},
		{"tui-help", "deploy-retry", firstFailure(t, "deploy-retry"), []string{"?"}},
		{"tui-halt-confirm", "deploy-retry", firstFailure(t, "deploy-retry"), []string{"h"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			_, view := frame(t, tt.history, tt.n, 40*time.Second, tt.keys...)
			if strings.Contains(view, "\x1b") {
				t.Error("escape codes with the ASCII profile")
			}
			for i, l := range strings.Split(view, "\n") {
				if w := lipgloss.Width(l); w > 100 {
					t.Errorf("line %d is %d wide", i, w)
				}
			}
			if n := strings.Count(view, "\n") + 1; n > 30 {
				t.Errorf("%d lines, taller than 30", n)
			}
			golden(t, tt.golden, []byte(view+"\n"))
		})
	}
}

// A narrow, short terminal: lines are clipped, the table scrolls, the
// verdict stays.
func TestTUIResize(t *testing.T) {
	tm, _ := frame(t, "unhealthy", -1, 0)
	m, _ := tm.Update(tea.WindowSizeMsg{Width: 40, Height: 12})
	view := m.View()
	lines := strings.Split(view, "\n")
	if len(lines) > 12 {
		t.Errorf("%d lines at height 12", len(lines))
	}
	for _, l := range lines {
		if lipgloss.Width(l) > 40 {
			t.Errorf("line %q wider than 40", l)
		}
	}
	if !strings.Contains(view, "FAILED") {
		t.Errorf("verdict lost:\n%s", view)
	}
}

// A release deployed again gets an execution name ending in its attempt:
// at any width, the header keeps that end and stays within the terminal.
func TestTUIHeaderExecution(t *testing.T) {
	const name = "deploy-hello_production_r-20261125-2a9f-2"
	tm, _ := frame(t, "deploy-retry", 10, 0)
	tm.m.Header.Execution = name
	for _, w := range []int{20, 33, 40, 60, 80, 100, 120, 140} {
		m, _ := tm.Update(tea.WindowSizeMsg{Width: w, Height: 40})
		var line string
		for _, l := range strings.Split(m.View(), "\n") {
			if lipgloss.Width(l) > w {
				t.Errorf("width %d: %q is wider", w, l)
			}
			if strings.Contains(l, "execution ") {
				line = l
			}
		}
		if !strings.HasSuffix(line, "2a9f-2") {
			t.Errorf("width %d: execution line %q lost the attempt", w, line)
		}
		if !strings.Contains(line, name) && !strings.Contains(line, "…") {
			t.Errorf("width %d: %q cut without an ellipsis", w, line)
		}
		if w >= 60 && !strings.Contains(line, name) {
			t.Errorf("width %d: %q, want the whole name", w, line)
		}
	}
}

func TestTruncateMiddle(t *testing.T) {
	for _, tt := range []struct {
		in   string
		w    int
		want string
	}{
		{"deploy-hello_production_r-20261125-2a9f-2", 50, "deploy-hello_production_r-20261125-2a9f-2"},
		{"deploy-hello_production_r-20261125-2a9f-2", 25, "deploy-h…-20261125-2a9f-2"},
		{"deploy-hello_production_r-20261125-2a9f-2", 10, "dep…2a9f-2"},
		{"deploy-hello_production_r-20261125-2a9f-2", 1, "…"},
		{"deploy", 0, ""},
	} {
		if got := truncateMiddle(tt.in, tt.w); got != tt.want || lipgloss.Width(got) > max(tt.w, 0) {
			t.Errorf("truncateMiddle(%q, %d) = %q, want %q", tt.in, tt.w, got, tt.want)
		}
	}
}

// A running deploy in a short terminal: the step in progress, with its
// error, stays; pending steps go first, from the bottom, then finished ones.
func TestTUIShortRunning(t *testing.T) {
	for _, height := range []int{12, 18} {
		name := fmt.Sprintf("tui-running-80x%d", height)
		t.Run(name, func(t *testing.T) {
			tm, _ := frame(t, "deploy-retry", firstFailure(t, "deploy-retry"), 40*time.Second)
			m, _ := tm.Update(tea.WindowSizeMsg{Width: 80, Height: height})
			view := m.View()
			if n := strings.Count(view, "\n") + 1; n > height {
				t.Errorf("%d lines, taller than %d", n, height)
			}
			wants := []string{"CheckHealthy        retrying after attempt 1", "HealthError: web-2", "4 more below", "health: "}
			if height == 12 {
				wants = append(wants, "done above")
			} else {
				wants = append(wants, "✓ Validate ")
			}
			for _, want := range wants {
				if !strings.Contains(view, want) {
					t.Errorf("lacks %q:\n%s", want, view)
				}
			}
			golden(t, name, []byte(view+"\n"))
		})
	}
}

// At every point of a deploy and every height a terminal can show it in,
// the steps running, retrying or failed are there with their error.
func TestTUIShortKeepsWhatMatters(t *testing.T) {
	for _, name := range []string{"deploy-retry", "unhealthy", "halt", "failure-dirty", "aborted"} {
		def, all := events(t, name, -1)
		for n := 1; n <= len(all); n++ {
			m, _ := progress.New(def, header)
			for _, ev := range all[:n] {
				m.Apply(ev)
			}
			r := lipgloss.NewRenderer(&bytes.Buffer{})
			r.SetColorProfile(termenv.Ascii)
			var want []string
			for _, row := range m.Rows {
				switch {
				case row.Status == progress.Running, row.Status == progress.Retrying, row.Status == progress.Stopped,
					row.Status == progress.Failed && row.Type != "Fail":
					want = append(want, " "+row.Name+" ")
					if row.Error != "" && row.Status != progress.Running { // a retry in progress shows no error
						want = append(want, "     "+row.Error)
					}
				}
			}
			minHeight := 10
			if m.Done() {
				minHeight = 14 // the verdict takes up to four lines
			}
			for _, expanded := range []bool{false, true} {
				for height := minHeight; height <= 30; height++ {
					tm := newTUIModel(context.Background(), m, r, func() time.Time { return m.Started.Add(time.Minute) }, nil)
					tm.expanded = expanded
					v, _ := tm.Update(tea.WindowSizeMsg{Width: 80, Height: height})
					view := v.View()
					if l := strings.Count(view, "\n") + 1; l > height {
						t.Errorf("%s, %d events, 80x%d: %d lines", name, n, height, l)
					}
					for _, w := range want {
						if !strings.Contains(view, w) {
							t.Errorf("%s, %d events, 80x%d, expanded %v: %q not shown:\n%s", name, n, height, expanded, w, view)
						}
					}
				}
			}
		}
	}
}

// Keys: h asks, n cancels, h y halts (the command's func runs), q detaches.
func TestTUIKeys(t *testing.T) {
	def, evs := events(t, "deploy-retry", firstFailure(t, "deploy-retry"))
	m, _ := progress.New(def, header)
	r := lipgloss.NewRenderer(&bytes.Buffer{})
	r.SetColorProfile(termenv.Ascii)
	halted := make(chan struct{}, 1)
	clock := func() time.Time { return time.Date(2026, 11, 25, 21, 0, 40, 0, time.UTC) }
	model := newTUIModel(context.Background(), m, r, clock, func(context.Context) error { halted <- struct{}{}; return nil })
	tm := teatest.NewTestModel(t, model, teatest.WithInitialTermSize(100, 30))
	for _, ev := range evs {
		tm.Send(eventMsg{ev: ev})
	}
	tm.Type("h")
	tm.Type("n")
	tm.Type("h")
	tm.Type("y")
	select {
	case <-halted:
	case <-time.After(10 * time.Second):
		t.Fatal("halt was not called")
	}
	// The halt's answer reaches the model as a message after the func
	// returns: wait for the screen to show it before detaching.
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("halt requested")) },
		teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
	tm.Type("q")
	final := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(tuiModel)
	if !final.detached || final.done {
		t.Fatalf("detached %v done %v", final.detached, final.done)
	}
	if final.haltNote != "halt requested: the deployer is rolling back" {
		t.Fatalf("halt note %q", final.haltNote)
	}
}

// keyMsg is the message a terminal gives for a key as bubbles/key names it.
func keyMsg(k string) tea.KeyMsg {
	switch k {
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

// The halt dialog, through Update alone: ctrl-c detaches whatever is open,
// y halts, n, esc and q back out of the question; its help line says so.
func TestTUIHaltDialogKeys(t *testing.T) {
	tests := []struct {
		keys                          []string
		confirming, halting, detached bool
		quits                         bool
	}{
		{keys: []string{"h"}, confirming: true},
		{keys: []string{"h", "ctrl+c"}, detached: true, quits: true},
		{keys: []string{"h", "y"}, halting: true},
		{keys: []string{"h", "Y"}, halting: true},
		{keys: []string{"h", "n"}},
		{keys: []string{"h", "esc"}},
		{keys: []string{"h", "q"}},
		{keys: []string{"h", "e"}, confirming: true},
		{keys: []string{"q"}, detached: true, quits: true},
		{keys: []string{"ctrl+c"}, detached: true, quits: true},
		{keys: []string{"h", "q", "q"}, detached: true, quits: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.keys, ","), func(t *testing.T) {
			tm, _ := frame(t, "deploy-retry", firstFailure(t, "deploy-retry"), 40*time.Second)
			var m tea.Model = tm
			var cmd tea.Cmd
			for _, k := range tt.keys {
				m, cmd = m.Update(keyMsg(k))
			}
			got := m.(tuiModel)
			if got.confirming != tt.confirming || got.halting != tt.halting || got.detached != tt.detached {
				t.Errorf("confirming %v halting %v detached %v, want %v %v %v",
					got.confirming, got.halting, got.detached, tt.confirming, tt.halting, tt.detached)
			}
			var msg tea.Msg
			if cmd != nil {
				msg = cmd()
			}
			if _, quit := msg.(tea.QuitMsg); quit != tt.quits {
				t.Errorf("quits %v, want %v (message %T)", quit, tt.quits, msg)
			}
			if _, halted := msg.(haltDoneMsg); halted != tt.halting {
				t.Errorf("halt called %v, want %v", halted, tt.halting)
			}
		})
	}

	tm, _ := frame(t, "deploy-retry", firstFailure(t, "deploy-retry"), 40*time.Second, "h")
	lines := strings.Split(tm.View(), "\n")
	if got, want := lines[len(lines)-1], "y halt and roll back • n/esc/q cancel • ctrl+c detach"; got != want {
		t.Errorf("help line with the dialog open: %q, want %q", got, want)
	}
}

// Run in plain mode when the watch is cancelled (detach): exit code 5 and the
// re-attach command on stderr.
func TestDetachHint(t *testing.T) {
	def, evs := events(t, "deploy-retry", 10)
	m, _ := progress.New(def, header)
	io, _, out, errOut := iostreams.Test()
	v := New(m, Options{IO: io, Reattach: "odin status hello-production-r-20261125-2a9f"})
	if v.Mode() != ModePlain {
		t.Fatalf("mode %s without a terminal", v.Mode())
	}
	vd, err := v.Run(context.Background(), func(ctx context.Context, emit func(watch.Event)) (*watch.Result, error) {
		for _, ev := range evs {
			emit(ev)
		}
		return nil, context.Canceled
	})
	if err != nil || vd.Code != 5 {
		t.Fatalf("verdict %+v err %v", vd, err)
	}
	if !strings.Contains(errOut.String(), "odin status hello-production-r-20261125-2a9f") {
		t.Errorf("stderr %q", errOut)
	}
	if !strings.Contains(out.String(), "RUNNING: deploy of hello/production release r-20261125-2a9f is still running") {
		t.Errorf("stdout %q", out)
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": ModeAuto, "auto": ModeAuto, "tui": ModeTUI, "tty": ModeTUI, "plain": ModePlain, "json": ModeJSON} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := ParseMode("yaml"); err == nil {
		t.Error("yaml accepted")
	}
}

// The whole TUI path through View.Run, on buffers: events in, the final
// frame with the verdict out, no colour when colour is off.
func TestRunTUI(t *testing.T) {
	def, evs := events(t, "lock-held", -1)
	m, _ := progress.New(def, header)
	io, _, out, _ := iostreams.Test()
	io.SetStdoutTTY(true)
	io.SetColorEnabled(false)
	v := New(m, Options{IO: io, Now: func() time.Time { return time.Date(2026, 11, 25, 21, 0, 1, 0, time.UTC) }})
	if v.Mode() != ModeTUI {
		t.Fatalf("mode %s on a terminal", v.Mode())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	vd, err := v.Run(ctx, func(ctx context.Context, emit func(watch.Event)) (*watch.Result, error) {
		for _, ev := range evs {
			emit(ev)
		}
		return &watch.Result{Status: "FAILED"}, nil
	})
	if err != nil || vd.Code != 1 {
		t.Fatalf("verdict %+v err %v", vd, err)
	}
	s := out.String()
	if !strings.Contains(s, "FAILED: deploy of hello/production") || !strings.Contains(s, "LockExistsError") {
		t.Fatalf("final frame lacks the verdict:\n%s", s)
	}
	if strings.Contains(s, "\x1b[3") || strings.Contains(s, "\x1b[9") {
		t.Error("colour escapes with colour off")
	}
}

// A cause is remote text: escape sequences in it never reach the terminal.
func TestPlainStripsEscapes(t *testing.T) {
	m, _ := progress.New([]byte(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"x","End":true}}}`), header)
	var out bytes.Buffer
	p := NewPlain(&out, m)
	evil := `{"errorMessage":"boom\u001b[2J\u001b]0;pwned\u0007","errorType":"X"}`
	for _, ev := range []watch.Event{
		{Kind: watch.StepEntered, ID: 2, State: "T", Step: "T"},
		{Kind: watch.AttemptFailed, ID: 5, State: "T", Step: "T", Error: "X", Cause: evil, Attempt: 1},
		{Kind: watch.StepFailed, ID: 6, State: "T", Step: "T", Error: "X\x1b[31m", Cause: evil},
		{Kind: watch.ExecutionEnded, ID: 7, Status: "FAILED", Error: "X", Cause: evil},
	} {
		m.Apply(ev)
		p.Event(ev)
	}
	p.Finish(m.Verdict(time.Time{}))
	if bytes.ContainsAny(out.Bytes(), "\x1b\x07") {
		t.Fatalf("control characters in %q", out.String())
	}
	if !strings.Contains(out.String(), "boom[2J]0;pwned") {
		t.Fatalf("message lost: %q", out.String())
	}
}

// A 1 s Wait visited 33 times: the first visit's lines say what it took,
// the turns after it print nothing, and one line sums the loop up.
func TestPlainLoopSummary(t *testing.T) {
	m, _ := progress.New([]byte(`{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":1,"Next":"W"}}}`), header)
	var out bytes.Buffer
	p := NewPlain(&out, m)
	at := time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)
	for i := range 33 {
		for _, ev := range []watch.Event{
			{Kind: watch.StepEntered, ID: int64(2 * i), State: "W", Step: "W", Time: at},
			{Kind: watch.StepSucceeded, ID: int64(2*i + 1), State: "W", Step: "W", Time: at.Add(time.Second)},
		} {
			m.Apply(ev)
			p.Event(ev)
		}
		at = at.Add(time.Second)
	}
	p.Finish(m.Verdict(at))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{"[+0s] [0/1] W: started", "[+0s] [1/1] W: succeeded in 1s", "[+0s] [1/1] W loop: 33 turns, 33s"} // no ExecutionStarted: no clock
	if len(lines) != len(want)+1 || strings.Join(lines[:len(want)], "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s\n(and the verdict)", out.String(), strings.Join(want, "\n"))
	}
}

// Every size, from tiny to wide: no panic, no line wider than the
// terminal, no more lines than it has.
func TestTUIEverySize(t *testing.T) {
	for _, name := range []string{"unhealthy", "lambda-stack"} {
		tm, _ := frame(t, name, -1, 0, "e")
		for w := 1; w <= 130; w += 7 {
			for h := 1; h <= 40; h += 3 {
				m, _ := tm.Update(tea.WindowSizeMsg{Width: w, Height: h})
				lines := strings.Split(m.View(), "\n")
				if len(lines) > max(h, 1) {
					t.Errorf("%s %dx%d: %d lines", name, w, h, len(lines))
				}
				for _, l := range lines {
					if lw := lipgloss.Width(l); lw > max(w, 20) {
						t.Errorf("%s %dx%d: line %d wide", name, w, h, lw)
					}
				}
			}
		}
	}
}

// The frame left on the terminal once odin stops watching is whole, however
// short the terminal: the title, every step shown, the verdict. The live
// frame before it fits the terminal.
func TestTUIFinalFrameWhole(t *testing.T) {
	tm, _ := frame(t, "unhealthy", -1, 0)
	m, _ := tm.Update(tea.WindowSizeMsg{Width: 60, Height: 12})
	live := m.View()
	if n := strings.Count(live, "\n") + 1; n > 12 {
		t.Errorf("live frame: %d lines at height 12", n)
	}
	m, _ = m.Update(doneMsg{})
	if v := m.View(); v != "" {
		t.Errorf("after the end the live frame is %q, want it empty (the final frame is printed whole)", v)
	}
	final := m.(tuiModel).Final()
	for _, want := range []string{"odin  hello/production", " Validate ", " CheckHealthy ", " FailureClean ", "FAILED: ", "odin fail hello-production-r-20261125-2a9f"} {
		if !strings.Contains(final, want) {
			t.Errorf("final frame lacks %q:\n%s", want, final)
		}
	}
	if strings.Contains(final, "HealthUnknown") || strings.Contains(final, "FailureDirty") {
		t.Errorf("final frame shows failure-path states never entered:\n%s", final)
	}
}

// However narrow the terminal, the final frame's verdict carries the whole
// cause: only the live frame, which must fit the terminal, cuts it.
func TestTUIFinalVerdictWhole(t *testing.T) {
	for _, name := range []string{"unhealthy", "lambda-stack"} {
		tm, _ := frame(t, name, -1, 0)
		m, _ := tm.Update(tea.WindowSizeMsg{Width: 40, Height: 20})
		m, _ = m.Update(doneMsg{})
		final := m.(tuiModel).Final()
		v := tm.m.Verdict(tm.now)
		want := strings.Fields(strings.TrimSuffix(oneLine(v.Status+": "+v.Text), "; see why with: "+v.Explain))
		i := strings.Index(final, v.Status+": ")
		j := strings.Index(final, "see why with: ")
		if i < 0 || j < i {
			t.Fatalf("%s: no verdict in the final frame:\n%s", name, final)
		}
		if got := strings.Fields(final[i:j]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: the final frame's verdict at width 40 is\n%s\nwant the whole of\n%s", name, final[i:j], strings.Join(want, " "))
		}
	}
}

func TestWrapKeepsReleaseIDsWhole(t *testing.T) {
	for _, c := range []struct {
		text string
		w    int
		want []string
	}{
		{"SUCCEEDED: deploy of hello/production release r-20261125-2a9f succeeded in 21s", 60,
			[]string{"SUCCEEDED: deploy of hello/production release", "r-20261125-2a9f succeeded in 21s"}},
		{"a  b", 10, []string{"a b"}},
		{"", 10, []string{""}},
		{"abcdefghij xy", 4, []string{"abcd", "efgh", "ij", "xy"}},
	} {
		if got := wrap(c.text, c.w); !slices.Equal(got, c.want) {
			t.Errorf("wrap(%q, %d) = %q, want %q", c.text, c.w, got, c.want)
		}
	}
}
