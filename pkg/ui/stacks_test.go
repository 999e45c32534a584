package ui

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/progress"
)

var stackStart = time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)

var stackHeader = StackHeader{Command: "odin deployer install", Account: "123456789012", Region: "us-east-1"}

// stackEvents reads "second stack logical-id type status [reason]" lines,
// the way CloudFormation reports a stack's own events (logical id = stack).
func stackEvents(t *testing.T, lines string) []StackEvent {
	t.Helper()
	var out []StackEvent
	for _, l := range strings.Split(strings.TrimSpace(lines), "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		f := strings.SplitN(strings.TrimSpace(l), " ", 6)
		if len(f) < 5 {
			t.Fatalf("bad event line %q", l)
		}
		var sec int
		if _, err := fmt.Sscan(f[0], &sec); err != nil {
			t.Fatal(err)
		}
		e := StackEvent{Time: stackStart.Add(time.Duration(sec) * time.Second), Stack: f[1], LogicalID: f[2], Type: f[3], Status: f[4]}
		if len(f) == 6 {
			e.Reason = f[5]
		}
		out = append(out, e)
	}
	return out
}

const bucketCreated = `
0 odin-deployer-bucket odin-deployer-bucket AWS::CloudFormation::Stack CREATE_IN_PROGRESS User Initiated
1 odin-deployer-bucket Bucket AWS::S3::Bucket CREATE_IN_PROGRESS
2 odin-deployer-bucket Bucket AWS::S3::Bucket CREATE_IN_PROGRESS Resource creation Initiated
22 odin-deployer-bucket Bucket AWS::S3::Bucket CREATE_COMPLETE
23 odin-deployer-bucket BucketPolicy AWS::S3::BucketPolicy CREATE_IN_PROGRESS
24 odin-deployer-bucket BucketPolicy AWS::S3::BucketPolicy CREATE_COMPLETE
25 odin-deployer-bucket odin-deployer-bucket AWS::CloudFormation::Stack CREATE_COMPLETE
`

const deployerCreating = `
28 odin-deployer odin-deployer AWS::CloudFormation::Stack CREATE_IN_PROGRESS User Initiated
29 odin-deployer LogGroup AWS::Logs::LogGroup CREATE_IN_PROGRESS
30 odin-deployer FunctionRole AWS::IAM::Role CREATE_IN_PROGRESS
31 odin-deployer StatesRole AWS::IAM::Role CREATE_IN_PROGRESS
32 odin-deployer LogGroup AWS::Logs::LogGroup CREATE_COMPLETE
45 odin-deployer FunctionRole AWS::IAM::Role CREATE_COMPLETE
46 odin-deployer StatesRole AWS::IAM::Role CREATE_COMPLETE
47 odin-deployer Function AWS::Lambda::Function CREATE_IN_PROGRESS
`

const deployerCreated = `
55 odin-deployer Function AWS::Lambda::Function CREATE_COMPLETE
56 odin-deployer StateMachine AWS::StepFunctions::StateMachine CREATE_IN_PROGRESS
58 odin-deployer StateMachine AWS::StepFunctions::StateMachine CREATE_COMPLETE
59 odin-deployer odin-deployer AWS::CloudFormation::Stack CREATE_COMPLETE
`

const deployerRolledBack = `
49 odin-deployer Function AWS::Lambda::Function CREATE_FAILED Resource handler returned message: "Uploaded file must be a non-empty zip (Service: Lambda, Status Code: 400, Request ID: 5c3f0d8e-7a1b-4c2d-9e8f-0a1b2c3d4e5f)" (RequestToken: 8d2e, HandlerErrorCode: InvalidRequest)
50 odin-deployer odin-deployer AWS::CloudFormation::Stack ROLLBACK_IN_PROGRESS The following resource(s) failed to create: [Function]. Rollback requested by user.
51 odin-deployer FunctionRole AWS::IAM::Role DELETE_IN_PROGRESS
51 odin-deployer StatesRole AWS::IAM::Role DELETE_IN_PROGRESS
52 odin-deployer LogGroup AWS::Logs::LogGroup DELETE_IN_PROGRESS
53 odin-deployer LogGroup AWS::Logs::LogGroup DELETE_COMPLETE
53 odin-deployer Function AWS::Lambda::Function DELETE_COMPLETE
60 odin-deployer FunctionRole AWS::IAM::Role DELETE_COMPLETE
60 odin-deployer StatesRole AWS::IAM::Role DELETE_COMPLETE
61 odin-deployer odin-deployer AWS::CloudFormation::Stack ROLLBACK_COMPLETE
`

// The reduction: one row per resource at its latest status, grouped by
// stack in the order the stacks came; a failure's reason outlives the
// rollback that follows it.
func TestStackTable(t *testing.T) {
	var tb stackTable
	for _, e := range stackEvents(t, bucketCreated+deployerCreating+deployerRolledBack) {
		before := fmt.Sprint(tb)
		next := tb.with(e)
		if fmt.Sprint(tb) != before {
			t.Fatalf("with changed the table it was called on")
		}
		tb = next
	}
	var got []string
	for _, g := range tb {
		got = append(got, fmt.Sprintf("%s %s %d", g.Stack.LogicalID, g.Stack.Status, g.Stack.state()))
		for _, r := range g.Resources {
			got = append(got, fmt.Sprintf("  %s %s %s %d %s", r.LogicalID, r.Type, r.Status, r.state(), r.Last.Sub(r.First)))
		}
	}
	want := []string{
		fmt.Sprintf("odin-deployer-bucket CREATE_COMPLETE %d", stateDone),
		fmt.Sprintf("  Bucket AWS::S3::Bucket CREATE_COMPLETE %d 21s", stateDone),
		fmt.Sprintf("  BucketPolicy AWS::S3::BucketPolicy CREATE_COMPLETE %d 1s", stateDone),
		fmt.Sprintf("odin-deployer ROLLBACK_COMPLETE %d", stateFailed),
		fmt.Sprintf("  LogGroup AWS::Logs::LogGroup DELETE_COMPLETE %d 24s", stateRolledBack),
		fmt.Sprintf("  FunctionRole AWS::IAM::Role DELETE_COMPLETE %d 30s", stateRolledBack),
		fmt.Sprintf("  StatesRole AWS::IAM::Role DELETE_COMPLETE %d 29s", stateRolledBack),
		fmt.Sprintf("  Function AWS::Lambda::Function DELETE_COMPLETE %d 6s", stateFailed),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("table:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r := tb[1].Resources[3].Reason; !strings.HasPrefix(r, "Resource handler returned message") {
		t.Errorf("Function's reason %q", r)
	}
	if r := tb[1].Stack.Reason; !strings.HasPrefix(r, "The following resource(s) failed to create: [Function]") {
		t.Errorf("stack's reason %q", r)
	}
	if r := tb[0].Stack.Reason; r != "" {
		t.Errorf("a stack that did not fail has reason %q", r)
	}
}

func TestStackState(t *testing.T) {
	for _, tt := range []struct {
		r    stackResource
		want stackState
	}{
		{stackResource{Status: "CREATE_IN_PROGRESS"}, stateRunning},
		{stackResource{Status: "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"}, stateRunning},
		{stackResource{Status: "DELETE_IN_PROGRESS", RolledBack: true}, stateRunning},
		{stackResource{Status: "CREATE_COMPLETE"}, stateDone},
		{stackResource{Status: "DELETE_COMPLETE"}, stateDone},
		{stackResource{Status: "DELETE_COMPLETE", RolledBack: true}, stateRolledBack},
		{stackResource{Status: "UPDATE_COMPLETE", RolledBack: true}, stateRolledBack},
		{stackResource{Status: "CREATE_FAILED"}, stateFailed},
		{stackResource{Status: "DELETE_COMPLETE", Reason: "boom", RolledBack: true}, stateFailed},
		{stackResource{Status: "ROLLBACK_IN_PROGRESS"}, stateFailed},
		{stackResource{Status: "UPDATE_ROLLBACK_COMPLETE"}, stateFailed},
		{stackResource{Status: ""}, statePending},
	} {
		if got := tt.r.state(); got != tt.want {
			t.Errorf("%+v: state %d, want %d", tt.r, got, tt.want)
		}
	}
}

// stackFrame is the view at 100x30 without colour, at start+now, after
// the events and, when vd is set, the outcome (the final frame, printed
// whole).
func stackFrame(t *testing.T, events string, now time.Duration, vd *progress.Verdict, notes ...string) (stackModel, string) {
	t.Helper()
	lipgloss.SetColorProfile(termenv.Ascii)
	r := lipgloss.NewRenderer(&bytes.Buffer{})
	r.SetColorProfile(termenv.Ascii)
	var tm tea.Model = newStackModel(stackHeader, r, func() time.Time { return stackStart })
	tm, _ = tm.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	for _, e := range stackEvents(t, events) {
		tm, _ = tm.Update(stackEventMsg{e})
	}
	tick := now
	if vd != nil {
		tick -= 10 * time.Second // the last tick was a while ago: the outcome says when it ended
	}
	tm, _ = tm.Update(tickMsg(stackStart.Add(tick)))
	if vd == nil {
		return tm.(stackModel), tm.View()
	}
	var cmd tea.Cmd
	tm, cmd = tm.Update(stackDoneMsg{*vd, notes, stackStart.Add(now)})
	if _, quit := cmd().(tea.QuitMsg); !quit {
		t.Error("the outcome does not stop the program")
	}
	if v := tm.View(); v != "" {
		t.Errorf("the program's last frame is %q, want it empty (the final frame is printed after)", v)
	}
	m := tm.(stackModel)
	return m, m.finalView()
}

func TestStackFrames(t *testing.T) {
	complete := progress.Verdict{Status: "SUCCEEDED", Code: 0, Text: "install complete: odin-deployer-bucket CREATE_COMPLETE; odin-deployer CREATE_COMPLETE; " +
		"function code (sha256 3f1c0a9b2d4e, --binary) uploaded to s3://odin-123456789012-us-east-1/odin-deployer/lambda/3f1c0a9b2d4e.zip"}
	failed := progress.Verdict{Status: "FAILED", Code: 1, Text: "install failed: stack odin-deployer ended ROLLBACK_COMPLETE: Function (AWS::Lambda::Function): " +
		`Resource handler returned message: "Uploaded file must be a non-empty zip (Service: Lambda, Status Code: 400, Request ID: 5c3f0d8e-7a1b-4c2d-9e8f-0a1b2c3d4e5f)" (RequestToken: 8d2e, HandlerErrorCode: InvalidRequest): stack failed`}
	tests := []struct {
		golden string
		events string
		now    time.Duration
		vd     *progress.Verdict
		want   []string
	}{
		{"stacks-create-running", bucketCreated + deployerCreating, 55 * time.Second, nil,
			[]string{"odin deployer install · account 123456789012 · region us-east-1", "elapsed 55s · 6 resources: 5 complete, 1 in progress",
				"Function", "CREATE_IN_PROGRESS", "ctrl+c stop watching (the stacks go on)"}},
		{"stacks-install-complete", bucketCreated + deployerCreating + deployerCreated, 62 * time.Second, &complete,
			[]string{"elapsed 1m02s · 7 resources: 7 complete", "SUCCEEDED: install complete", "3f1c0a9b2d4e.zip"}},
		{"stacks-failed-rollback", bucketCreated + deployerCreating + deployerRolledBack, 62 * time.Second, &failed,
			[]string{"ROLLBACK_COMPLETE", "↺ ", "✗   Function", "Uploaded file must be a non-empty zip", "failed to create: [Function]", "FAILED: install failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			_, view := stackFrame(t, tt.events, tt.now, tt.vd)
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
			for _, w := range tt.want {
				if !strings.Contains(view, w) {
					t.Errorf("lacks %q:\n%s", w, view)
				}
			}
			golden(t, tt.golden, []byte(view+"\n"))
		})
	}
}

// Before the first event (change sets are being made) the view says it is
// waiting; a short terminal keeps what is in progress or failed.
func TestStackFrameShort(t *testing.T) {
	_, view := stackFrame(t, "0 odin-deployer-bucket odin-deployer-bucket AWS::CloudFormation::Stack CREATE_IN_PROGRESS", 3*time.Second, nil)
	m, _ := stackFrame(t, "", 3*time.Second, nil)
	if v := m.View(); !strings.Contains(v, "waiting for CloudFormation") {
		t.Errorf("no events yet:\n%s", v)
	}
	if strings.Contains(view, "waiting for CloudFormation") {
		t.Errorf("still waiting after an event:\n%s", view)
	}
	m, _ = stackFrame(t, bucketCreated+deployerCreating+deployerRolledBack[:strings.Index(deployerRolledBack, "51 ")], 50*time.Second, nil)
	for _, size := range [][2]int{{80, 10}, {60, 14}, {40, 8}} {
		tm, _ := m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		view := tm.View()
		lines := strings.Split(view, "\n")
		if len(lines) > size[1] {
			t.Errorf("%dx%d: %d lines", size[0], size[1], len(lines))
		}
		for _, l := range lines {
			if lipgloss.Width(l) > size[0] {
				t.Errorf("%dx%d: %q is wider", size[0], size[1], l)
			}
		}
		if size[1] >= 10 && !strings.Contains(view, "Function") {
			t.Errorf("%dx%d: the failed resource is not shown:\n%s", size[0], size[1], view)
		}
	}
}

// ctrl-c stops watching: the program quits and says nothing more itself.
func TestStackCtrlC(t *testing.T) {
	m, _ := stackFrame(t, bucketCreated, 30*time.Second, nil)
	tm, cmd := m.Update(tea.KeyMsg{Type: tea.KeyCtrlC})
	if !tm.(stackModel).interrupted || cmd == nil {
		t.Fatal("ctrl-c did not stop the view")
	}
	if _, quit := cmd().(tea.QuitMsg); !quit {
		t.Error("ctrl-c does not quit")
	}
	tm, cmd = m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("q")})
	if tm.(stackModel).interrupted || cmd != nil {
		t.Error("q stops the view: there is nothing to detach from")
	}
}

// The whole path on buffers: events from another goroutine, the outcome,
// the final frame printed whole, no colour when colour is off.
func TestStartStacks(t *testing.T) {
	io, _, out, _ := iostreams.Test()
	io.SetStdoutTTY(true)
	io.SetColorEnabled(false)
	opts := Options{IO: io, Now: func() time.Time { return stackStart }}
	if m := opts.Resolve(); m != ModeTUI {
		t.Fatalf("mode %s on a terminal", m)
	}
	if m := (Options{IO: io, Quiet: true}).Resolve(); m != ModePlain {
		t.Fatalf("mode %s with --quiet", m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, opCtx := StartStacks(ctx, stackHeader, opts)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, e := range stackEvents(t, bucketCreated) {
			v.Event(e)
		}
	}()
	<-done
	if err := v.Finish(progress.Verdict{Status: "SUCCEEDED", Text: "install complete"}, []string{"kept s3://odin-123456789012-us-east-1"}); err != nil {
		t.Fatal(err)
	}
	if opCtx.Err() == nil {
		t.Error("the operation's context outlives the view")
	}
	s := out.String()
	final := s[strings.LastIndex(s, "odin deployer install · account"):]
	for _, want := range []string{"BucketPolicy", "SUCCEEDED: install complete\nkept s3://odin-123456789012-us-east-1\n"} {
		if !strings.Contains(final, want) {
			t.Errorf("final frame lacks %q:\n%s", want, final)
		}
	}
	if strings.Contains(s, "\x1b[3") || strings.Contains(s, "\x1b[9") {
		t.Error("colour escapes with colour off")
	}
}

// ctrl-c on the terminal: the operation's context is cancelled (the
// command stops waiting on CloudFormation) and Finish still prints the frame.
func TestStartStacksCtrlC(t *testing.T) {
	io, in, out, _ := iostreams.Test()
	io.SetStdoutTTY(true)
	io.SetColorEnabled(false)
	in.WriteString("\x03")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, opCtx := StartStacks(ctx, stackHeader, Options{IO: io, Now: func() time.Time { return stackStart }})
	select {
	case <-opCtx.Done():
	case <-ctx.Done():
		t.Fatal("ctrl-c did not cancel the operation's context")
	}
	for _, e := range stackEvents(t, bucketCreated) {
		v.Event(e) // the program is gone: events do not block
	}
	if err := v.Finish(progress.Verdict{Status: "RUNNING", Code: 5, Text: "install: odin stopped watching"}, nil); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.HasSuffix(s, "RUNNING: install: odin stopped watching\n") {
		t.Errorf("output ends %q", s[max(len(s)-200, 0):])
	}
}

func TestWrap(t *testing.T) {
	for _, tt := range []struct {
		in   string
		w    int
		want []string
	}{
		{"", 10, []string{""}},
		{"uploaded to s3://odin-1-us-east-1/odin-deployer/x.zip", 40, []string{"uploaded to", "s3://odin-1-us-east-1/odin-deployer/x.zip"[:40], "p"}},
		{"a bb ccc dddd", 6, []string{"a bb", "ccc", "dddd"}},
		{"abcdefghij k", 4, []string{"abcd", "efgh", "ij k"}},
	} {
		got := wrap(tt.in, tt.w)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("wrap(%q, %d) = %q, want %q", tt.in, tt.w, got, tt.want)
		}
		for _, l := range got {
			if lipgloss.Width(l) > tt.w {
				t.Errorf("wrap(%q, %d): %q is wider", tt.in, tt.w, l)
			}
		}
	}
}
