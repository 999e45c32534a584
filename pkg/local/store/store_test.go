package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/odin-deploy/odin/pkg/local/engine"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

const smArn = "arn:aws:states:us-east-1:123456789012:stateMachine:m"

func openStore(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func seed(t testing.TB, s *Store, executions int) []string {
	t.Helper()
	ctx := context.Background()
	_, err := s.CreateStateMachine(ctx, StateMachine{Arn: smArn, Name: "m", Type: "STANDARD", Created: t0,
		Revisions: []Revision{{ID: "r1", Definition: `{"StartAt":"A"}`, RoleArn: "arn:aws:iam::1:role/r", Date: t0}}})
	if err != nil {
		t.Fatal(err)
	}
	var arns []string
	for i := range executions {
		arn := fmt.Sprintf("arn:aws:states:us-east-1:123456789012:execution:m:x%d", i)
		if _, err := s.CreateExecution(ctx, Execution{Arn: arn, Name: fmt.Sprintf("x%d", i), StateMachineArn: smArn,
			StateMachineName: "m", Input: `{"i":1}`, StartDate: t0}); err != nil {
			t.Fatal(err)
		}
		arns = append(arns, arn)
	}
	return arns
}

func event(id int64, typ string) engine.Event {
	ev := engine.Event{ID: id, PreviousEventID: id - 1, Timestamp: t0.Add(time.Duration(id) * time.Millisecond), Type: typ}
	switch typ {
	case "ExecutionStarted":
		ev.Details = &engine.Details{Input: `{"i":1}`, RoleArn: "arn:aws:iam::1:role/r"}
	case "PassStateEntered":
		ev.Details = &engine.Details{Name: "A", Input: `{"i":1}`}
	case "PassStateExited":
		ev.Details = &engine.Details{Name: "A", Output: `{"i":2}`}
	case "ExecutionSucceeded":
		ev.Details = &engine.Details{Output: `{"i":2}`}
	case "ExecutionFailed":
		ev.Details = &engine.Details{Error: "E", Cause: "C"}
	}
	return ev
}

var runTypes = []string{"ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"}

func appendAll(t testing.TB, s *Store, arn string, typs ...string) {
	t.Helper()
	for i, typ := range typs {
		if err := s.Append(context.Background(), arn, event(int64(i+1), typ)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	arns := seed(t, s, 2)
	appendAll(t, s, arns[0], runTypes...)
	appendAll(t, s, arns[1], "ExecutionStarted", "PassStateEntered")
	if _, err := s.UpdateStateMachine(context.Background(), smArn, func(cur Revision) Revision {
		cur.ID, cur.Definition = "r2", `{"StartAt":"B"}`
		return cur
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openStore(t, dir)
	x, ok := s2.Execution(arns[0])
	if !ok || x.Status != engine.StatusSucceeded || x.Output != `{"i":2}` || x.Events != 4 || !x.StopDate.Equal(t0.Add(4*time.Millisecond)) {
		t.Fatalf("succeeded execution after reopen: %+v", x)
	}
	if run := s2.Running(); len(run) != 1 || run[0].Arn != arns[1] {
		t.Fatalf("running after reopen: %+v", run)
	}
	evs, err := s2.Events(arns[1])
	if err != nil || len(evs) != 2 || evs[1].Details.Input != `{"i":1}` || evs[1].Details.Name != "A" {
		t.Fatalf("events after reopen: %+v %v", evs, err)
	}
	sm, ok := s2.StateMachine(smArn)
	if !ok || len(sm.Revisions) != 2 || sm.Current().ID != "r2" {
		t.Fatalf("state machine after reopen: %+v", sm)
	}
	h, _ := s2.History(arns[0])
	if string(h[1].JSON(false)) == string(h[1].JSON(true)) || len(h[0].JSON(false)) >= len(h[0].JSON(true)) {
		t.Fatalf("lean events keep their data: %s", h[1].JSON(false))
	}

	st, err := os.Stat(filepath.Join(dir, "journal"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("journal mode %v %v", st.Mode(), err)
	}
	dst, err := os.Stat(dir)
	if err != nil || dst.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v %v", dst.Mode(), err)
	}
}

func TestAppendOrder(t *testing.T) {
	s := openStore(t, t.TempDir())
	arn := seed(t, s, 1)[0]
	ctx := context.Background()
	appendAll(t, s, arn, "ExecutionStarted")
	for _, id := range []int64{1, 3, 0} {
		if err := s.Append(ctx, arn, event(id, "PassStateEntered")); !errors.Is(err, ErrEventOutOfOrder) {
			t.Errorf("event %d after 1: %v, want ErrEventOutOfOrder", id, err)
		}
	}
	if err := s.Append(ctx, "arn:nope", event(1, "ExecutionStarted")); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown execution: %v", err)
	}
	if _, err := s.CreateExecution(ctx, Execution{Arn: arn, StateMachineArn: smArn}); !errors.Is(err, ErrExists) {
		t.Errorf("second create: %v", err)
	}
	if _, err := s.CreateExecution(ctx, Execution{Arn: arn + "2", StateMachineArn: smArn + "2"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("create for a missing machine: %v", err)
	}
	s.Close()
	if err := s.Append(ctx, arn, event(2, "PassStateEntered")); !errors.Is(err, ErrClosed) {
		t.Errorf("append after close: %v", err)
	}
}

// TestConcurrentAppends writes many executions' events at once (run it
// with -race) and checks every one survives a reopen in order.
func TestConcurrentAppends(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	arns := seed(t, s, 16)
	var wg sync.WaitGroup
	for _, arn := range arns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(1); i <= 50; i++ {
				typ := "PassStateEntered"
				if i == 1 {
					typ = "ExecutionStarted"
				}
				if err := s.Append(context.Background(), arn, event(i, typ)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		// Readers at the same time.
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				s.History(arn)
				s.ListExecutions(smArn, "", -1, 5)
			}
		}()
	}
	wg.Wait()
	s.Close()
	s2 := openStore(t, dir)
	for _, arn := range arns {
		evs, err := s2.Events(arn)
		if err != nil || len(evs) != 50 {
			t.Fatalf("%s: %d events, %v", arn, len(evs), err)
		}
		for i, ev := range evs {
			if ev.ID != int64(i+1) {
				t.Fatalf("%s event %d has id %d", arn, i+1, ev.ID)
			}
		}
	}
}

func TestListExecutionsPositions(t *testing.T) {
	s := openStore(t, t.TempDir())
	arns := seed(t, s, 5)
	appendAll(t, s, arns[1], "ExecutionStarted", "ExecutionFailed")
	appendAll(t, s, arns[3], "ExecutionStarted", "ExecutionFailed")
	tests := []struct {
		status   string
		from, n  int
		want     []int // indexes into arns
		wantNext int
	}{
		// Positions are sequence numbers: arns[i] is i+1.
		{"", -1, 2, []int{4, 3}, 3},
		{"", 3, 2, []int{2, 1}, 1},
		{"", 1, 2, []int{0}, -1},
		{engine.StatusFailed, -1, 1, []int{3}, 2},
		{engine.StatusFailed, 3, 1, []int{1}, -1}, // no empty last page
		{engine.StatusFailed, 1, 1, nil, -1},
		{engine.StatusRunning, -1, 10, []int{4, 2, 0}, -1},
	}
	for _, tt := range tests {
		got, next := s.ListExecutions(smArn, tt.status, tt.from, tt.n)
		var idx []int
		for _, x := range got {
			for i, a := range arns {
				if a == x.Arn {
					idx = append(idx, i)
				}
			}
		}
		if fmt.Sprint(idx) != fmt.Sprint(tt.want) || next != tt.wantNext {
			t.Errorf("ListExecutions(%q, %d, %d) = %v next %d, want %v next %d", tt.status, tt.from, tt.n, idx, next, tt.want, tt.wantNext)
		}
	}
}

// FuzzOpen opens arbitrary journals: no panic, and whatever opens can be
// written to and opened again.
func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		f.Fatal(err)
	}
	arn := seed(f, s, 1)[0]
	appendAll(f, s, arn, runTypes...)
	s.Close()
	good, _ := os.ReadFile(filepath.Join(dir, "journal"))
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Add([]byte{5, 0, 0, 0, 0, 0, 0, 0, 5, 1})
	f.Fuzz(func(t *testing.T, journal []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "journal"), journal, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, Options{})
		if err != nil {
			return // a well-framed record that makes no sense is refused
		}
		for _, x := range s.Running() {
			s.Events(x.Arn)
		}
		_, err = s.CreateStateMachine(context.Background(), StateMachine{Arn: "arn:fuzz", Name: "fuzz",
			Revisions: []Revision{{ID: "f", Definition: "{}"}}})
		if err != nil && !errors.Is(err, ErrExists) {
			t.Fatal(err)
		}
		s.Close()
		s2, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("reopen after a write: %v", err)
		}
		if _, ok := s2.StateMachine("arn:fuzz"); !ok {
			t.Fatal("the state machine written after open is gone")
		}
		s2.Close()
	})
}

// TestHistoryRewrite: once expired executions are most of the history
// file, a compaction rewrites it under a new name without them, and what
// is left reads the same, before and after a reopen.
func TestHistoryRewrite(t *testing.T) {
	defer func(v int64) { rewriteHistoryOver = v }(rewriteHistoryOver)
	rewriteHistoryOver = 0
	dir := t.TempDir()
	now := t0
	opts := Options{Retention: time.Hour, Now: func() time.Time { return now }}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	arns := seed(t, s, 6)
	for i, arn := range arns {
		for j, typ := range runTypes {
			ev := event(int64(j+1), typ)
			ev.Timestamp = t0.Add(time.Duration(i) * time.Hour)
			if err := s.Append(context.Background(), arn, ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	want, _ := s.Events(arns[5])
	now = t0.Add(5*time.Hour + time.Minute) // all but the last expired
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	if s.hist.name == "history-0" || s.hist.name == "history-1" {
		t.Fatalf("the history file was not rewritten: %s", s.hist.name)
	}
	if _, err := os.Stat(filepath.Join(dir, "history-1")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the old history file is still there: %v", err)
	}
	s.Close()
	s2 := openStoreWith(t, dir, opts)
	for i, arn := range arns {
		_, ok := s2.Execution(arn)
		if ok != (i == 5) {
			t.Fatalf("execution %d present %v", i, ok)
		}
	}
	got, err := s2.Events(arns[5])
	if err != nil || len(got) != len(want) || got[3].Type != "ExecutionSucceeded" {
		t.Fatalf("history after the rewrite: %v %v", got, err)
	}
	if x, _ := s2.Execution(arns[5]); x.Input != `{"i":1}` || x.Output != `{"i":2}` {
		t.Fatalf("details after the rewrite: %+v", x)
	}
}

func openStoreWith(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
