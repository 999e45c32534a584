package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odin-deploy/odin/pkg/local/asl"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// memorySink records events per execution and checks they arrive in id order.
type memorySink struct {
	mu     sync.Mutex
	events map[string][]Event
	err    error
}

func newMemorySink() *memorySink { return &memorySink{events: map[string][]Event{}} }

func (s *memorySink) Append(_ context.Context, arn string, ev Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	evs := s.events[arn]
	if want := int64(len(evs) + 1); ev.ID != want && s.err == nil {
		s.err = fmt.Errorf("event %s has id %d, want %d", ev.Type, ev.ID, want)
	}
	s.events[arn] = append(evs, ev)
	return nil
}

func (s *memorySink) history(arn string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events[arn]...)
}

// rig is an engine with a memory sink and a fake clock.
type rig struct {
	t     *testing.T
	clock *FakeClock
	sink  *memorySink
	fns   *Functions
	eng   *Engine
	done  chan doneResult
	rand  func() float64
	max   int
}

type doneResult struct {
	arn string
	r   Result
}

func newRig(t *testing.T, auto bool) *rig {
	t.Helper()
	rg := &rig{t: t, sink: newMemorySink(), fns: NewFunctions(), done: make(chan doneResult, 16)}
	if auto {
		rg.clock = NewAutoClock(epoch)
	} else {
		rg.clock = NewFakeClock(epoch)
	}
	return rg
}

func (rg *rig) start() *Engine {
	rg.eng = New(Options{Clock: rg.clock, Sink: rg.sink, Functions: rg.fns, Rand: rg.rand, MaxEvents: rg.max,
		OnDone: func(arn string, r Result) { rg.done <- doneResult{arn, r} }})
	rg.t.Cleanup(rg.eng.Close)
	return rg.eng
}

func mustParse(t testing.TB, def string) *asl.StateMachine {
	t.Helper()
	sm, err := asl.Parse([]byte(def))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return sm
}

func newExecution(sm *asl.StateMachine, name, input string) Execution {
	return Execution{
		Arn:              "arn:aws:states:us-east-1:123456789012:execution:sm:" + name,
		Name:             name,
		StateMachineArn:  "arn:aws:states:us-east-1:123456789012:stateMachine:sm",
		StateMachineName: "sm",
		RoleArn:          "arn:aws:iam::123456789012:role/r",
		Machine:          sm,
		Input:            json.RawMessage(input),
	}
}

// run executes def with input to its end and returns the result and history.
func (rg *rig) run(def, input string) (Result, []Event) {
	rg.t.Helper()
	if rg.eng == nil {
		rg.start()
	}
	x := newExecution(mustParse(rg.t, def), "x", input)
	if err := rg.eng.Start(context.Background(), x); err != nil {
		rg.t.Fatalf("start: %v", err)
	}
	return rg.wait(x.Arn)
}

func (rg *rig) wait(arn string) (Result, []Event) {
	rg.t.Helper()
	select {
	case d := <-rg.done:
		if d.arn != arn {
			rg.t.Fatalf("done %s, want %s", d.arn, arn)
		}
		if rg.sink.err != nil {
			rg.t.Fatal(rg.sink.err)
		}
		return d.r, rg.sink.history(arn)
	case <-time.After(20 * time.Second):
		rg.t.Fatalf("execution did not end; history:\n%s", shape(rg.sink.history(arn)))
	}
	return Result{}, nil
}

// shape renders a history as "id<prev Type [name]" lines.
func shape(evs []Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "%d<%d %s", ev.ID, ev.PreviousEventID, ev.Type)
		if ev.Details != nil && ev.Details.Name != "" && (strings.Contains(ev.Type, "State") || strings.HasPrefix(ev.Type, "MapIteration")) {
			fmt.Fprintf(&b, " %s", ev.Details.Name)
		}
		if ev.Details != nil && ev.Details.Index != nil {
			fmt.Fprintf(&b, " #%d", *ev.Details.Index)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func wantShape(t *testing.T, evs []Event, want string) {
	t.Helper()
	got := shape(evs)
	want = strings.TrimLeft(strings.ReplaceAll(want, "\t", ""), "\n")
	if got != want {
		t.Errorf("history:\n%s\nwant:\n%s", got, want)
	}
}

func jsonEqual(t *testing.T, what, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("%s: %q is not JSON: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: want %q is not JSON: %v", what, want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("%s = %s, want %s", what, gb, wb)
	}
}

func last(evs []Event) Event { return evs[len(evs)-1] }
