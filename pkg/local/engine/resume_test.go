package engine

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// crashAndResume starts def on a first engine, lets the test drive it to the
// point of the crash, closes that engine (no more events), then resumes the
// recorded history on a second engine sharing the sink and clock.
func crashAndResume(t *testing.T, def, input string, first, beforeCrash func(rg *rig), second func(rg *rig)) (Result, []Event) {
	t.Helper()
	rg := newRig(t, false)
	if first != nil {
		first(rg)
	}
	eng := rg.start()
	sm := mustParse(t, def)
	x := newExecution(sm, "x", input)
	if err := eng.Start(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	beforeCrash(rg)
	eng.Close()
	recorded := rg.sink.history(x.Arn)

	rg2 := &rig{t: t, clock: rg.clock, sink: rg.sink, fns: NewFunctions(), done: make(chan doneResult, 4)}
	if second != nil {
		second(rg2)
	}
	eng2 := rg2.start()
	x.StartDate = time.Time{}
	if err := eng2.Resume(context.Background(), x, recorded); err != nil {
		t.Fatalf("resume: %v\n%s", err, shape(recorded))
	}
	return rg2.waitAdvancing(x.Arn)
}

// waitAdvancing waits for the execution to end, advancing the manual clock to
// each timer as it appears.
func (rg *rig) waitAdvancing(arn string) (Result, []Event) {
	rg.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case d := <-rg.done:
			if rg.sink.err != nil {
				rg.t.Fatal(rg.sink.err)
			}
			return d.r, rg.sink.history(d.arn)
		case <-deadline:
			rg.t.Fatalf("execution did not end:\n%s", shape(rg.sink.history(arn)))
		case <-time.After(time.Millisecond):
			rg.clock.mu.Lock()
			var earliest time.Time
			for i, tm := range rg.clock.timers {
				if i == 0 || tm.at.Before(earliest) {
					earliest = tm.at
				}
			}
			n := len(rg.clock.timers)
			rg.clock.mu.Unlock()
			if n > 0 {
				rg.clock.AdvanceTo(earliest)
			}
		}
	}
}

func waitForEvents(t *testing.T, rg *rig, arn string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(rg.sink.history(arn)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("history has %d events, want %d:\n%s", len(rg.sink.history(arn)), n, shape(rg.sink.history(arn)))
		}
		time.Sleep(time.Millisecond)
	}
}

const arnX = "arn:aws:states:us-east-1:123456789012:execution:sm:x"

func TestResumeWaitWaitsWhatIsLeft(t *testing.T) {
	def := `{"StartAt":"P","States":{"P":{"Type":"Pass","Next":"W"},"W":{"Type":"Wait","Seconds":10,"Next":"Done"},"Done":{"Type":"Succeed"}}}`
	res, evs := crashAndResume(t, def, `{"k":1}`, nil, func(rg *rig) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rg.clock.BlockUntil(ctx, 1); err != nil {
			t.Fatal(err)
		}
		rg.clock.Advance(4 * time.Second) // the crash comes 4 s into the wait
	}, nil)
	if res.Status != StatusSucceeded {
		t.Fatalf("result %+v", res)
	}
	jsonEqual(t, "output", string(res.Output), `{"k":1}`)
	wantShape(t, evs, `
		1<0 ExecutionStarted
		2<0 PassStateEntered P
		3<2 PassStateExited P
		4<3 WaitStateEntered W
		5<4 WaitStateExited W
		6<5 SucceedStateEntered Done
		7<6 SucceedStateExited Done
		8<7 ExecutionSucceeded
	`)
	if got := evs[4].Timestamp.Sub(evs[3].Timestamp); got != 10*time.Second {
		t.Errorf("the wait took %v in all, want 10s", got)
	}
}

func TestResumeTaskInFlightRunsAgain(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","Next":"Done"},"Done":{"Type":"Succeed"}}}`
	started := make(chan struct{})
	res, evs := crashAndResume(t, def, `{"n":1}`, func(rg *rig) {
		rg.fns.Register("f", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		})
	}, func(rg *rig) { <-started }, func(rg *rig) {
		rg.fns.Register("f", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`{"ok":true}`), nil
		})
	})
	if res.Status != StatusSucceeded {
		t.Fatalf("result %+v\n%s", res, shape(evs))
	}
	wantShape(t, evs, `
		1<0 ExecutionStarted
		2<0 TaskStateEntered T
		3<2 LambdaFunctionScheduled
		4<3 LambdaFunctionStarted
		5<4 LambdaFunctionScheduled
		6<5 LambdaFunctionStarted
		7<6 LambdaFunctionSucceeded
		8<7 TaskStateExited T
		9<8 SucceedStateEntered Done
		10<9 SucceedStateExited Done
		11<10 ExecutionSucceeded
	`)
}

func TestResumeRecomputesChoiceTransition(t *testing.T) {
	// The crash comes right after the Choice exited, while the next state's
	// Task runs; on resume the Task runs again.
	def := `{"StartAt":"C","States":{
		"C":{"Type":"Choice","Choices":[{"Variable":"$.go","StringEquals":"right","Next":"R"}],"Default":"L"},
		"L":{"Type":"Fail","Error":"Left"},
		"R":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","End":true}}}`
	rg := newRig(t, false)
	eng := rg.start()
	x := newExecution(mustParse(t, def), "x", `{"go":"right"}`)
	block := make(chan struct{})
	rg.fns.Register("f", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	if err := eng.Start(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	waitForEvents(t, rg, x.Arn, 3)
	close(block)
	eng.Close()
	// Keep only up to the Choice's Exited: as if the crash came right after it.
	recorded := rg.sink.history(x.Arn)[:3]
	sink := newMemorySink()
	for _, ev := range recorded {
		_ = sink.Append(context.Background(), x.Arn, ev)
	}
	rg2 := &rig{t: t, clock: rg.clock, sink: sink, fns: NewFunctions(), done: make(chan doneResult, 4)}
	rg2.fns.Register("f", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil })
	eng2 := rg2.start()
	if err := eng2.Resume(context.Background(), x, recorded); err != nil {
		t.Fatal(err)
	}
	res, evs := rg2.waitAdvancing(x.Arn)
	if res.Status != StatusSucceeded {
		t.Fatalf("result %+v\n%s", res, shape(evs))
	}
	wantShape(t, evs, `
		1<0 ExecutionStarted
		2<0 ChoiceStateEntered C
		3<2 ChoiceStateExited C
		4<3 TaskStateEntered R
		5<4 LambdaFunctionScheduled
		6<5 LambdaFunctionStarted
		7<6 LambdaFunctionSucceeded
		8<7 TaskStateExited R
		9<8 ExecutionSucceeded
	`)
}

func TestResumeRecordedFailureDecidesRetry(t *testing.T) {
	// The crash comes during the retry's backoff: the failure is recorded, the
	// retry is not. Resumed, the Task makes its two retries and fails.
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f",
		"Retry":[{"ErrorEquals":["E"],"IntervalSeconds":5,"MaxAttempts":2}],"End":true}}}`
	calls := 0
	res, evs := crashAndResume(t, def, `{}`, func(rg *rig) {
		rg.fns.Register("f", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return nil, &TaskError{ErrorType: "E", ErrorMessage: "x"}
		})
	}, func(rg *rig) { waitForEvents(t, rg, arnX, 5) }, func(rg *rig) {
		rg.fns.Register("f", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			calls++
			return nil, &TaskError{ErrorType: "E", ErrorMessage: "x"}
		})
	})
	if res.Error != "E" || calls != 2 {
		t.Fatalf("result %+v after %d calls\n%s", res, calls, shape(evs))
	}
	wantShape(t, evs, `
		1<0 ExecutionStarted
		2<0 TaskStateEntered T
		3<2 LambdaFunctionScheduled
		4<3 LambdaFunctionStarted
		5<4 LambdaFunctionFailed
		6<5 LambdaFunctionScheduled
		7<6 LambdaFunctionStarted
		8<7 LambdaFunctionFailed
		9<8 LambdaFunctionScheduled
		10<9 LambdaFunctionStarted
		11<10 LambdaFunctionFailed
		12<11 ExecutionFailed
	`)
}

func TestResumeRefusesEndedOrBrokenHistories(t *testing.T) {
	eng := New(Options{Sink: newMemorySink(), Clock: NewFakeClock(epoch)})
	defer eng.Close()
	sm := mustParse(t, `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`)
	x := newExecution(sm, "x", `{}`)
	w := newExecution(mustParse(t, `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":5,"End":true}}}`), "w", `{}`)
	if err := eng.Start(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	if err := eng.Resume(context.Background(), w, []Event{{ID: 1, Type: "ExecutionStarted"}}); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("resume of a running execution: %v", err)
	}
	for name, h := range map[string][]Event{
		"empty":    nil,
		"gap":      {{ID: 1, Type: "ExecutionStarted"}, {ID: 3, Type: "PassStateEntered"}},
		"ended":    {{ID: 1, Type: "ExecutionStarted"}, {ID: 2, Type: "ExecutionSucceeded"}},
		"no start": {{ID: 1, Type: "PassStateEntered"}},
	} {
		if err := eng.Resume(context.Background(), x, h); !errors.Is(err, ErrNotResumable) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestResumeParallelInFlightRestartsWhole(t *testing.T) {
	def := `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
		{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}},
		{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":5,"End":true}}}]}}}`
	res, evs := crashAndResume(t, def, `{"v":1}`, nil, func(rg *rig) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rg.clock.BlockUntil(ctx, 1); err != nil {
			t.Fatal(err)
		}
		waitForEvents(t, rg, arnX, 6)
	}, nil)
	if res.Status != StatusSucceeded {
		t.Fatalf("result %+v\n%s", res, shape(evs))
	}
	jsonEqual(t, "output", string(res.Output), `[{"v":1},{"v":1}]`)
	var started []Event
	for _, ev := range evs {
		if ev.Type == "ParallelStateStarted" {
			started = append(started, ev)
		}
		if ev.Type == "ParallelStateEntered" && ev.ID != 2 {
			t.Errorf("a second ParallelStateEntered:\n%s", shape(evs))
		}
	}
	if len(started) != 2 || started[1].PreviousEventID != started[0].ID {
		t.Errorf("want a second ParallelStateStarted pointing at the first:\n%s", shape(evs))
	}
}

func TestResumeKeepsVariables(t *testing.T) {
	// The variables assigned before the crash come back from the history's
	// assignedVariables: the state after the Wait still reads them.
	def := `{"StartAt":"P","States":{"P":{"Type":"Pass","Assign":{"x":41,"s":"kept"},"Next":"W"},"W":{"Type":"Wait","Seconds":10,"Next":"Done"},
		"Done":{"Type":"Pass","QueryLanguage":"JSONata","Output":{"x":"{% $x + 1 %}","s":"{% $s %}"},"End":true}}}`
	res, evs := crashAndResume(t, def, `{}`, nil, func(rg *rig) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rg.clock.BlockUntil(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}, nil)
	if res.Status != StatusSucceeded {
		t.Fatalf("result %+v\n%s", res, shape(evs))
	}
	jsonEqual(t, "output", string(res.Output), `{"x":42,"s":"kept"}`)
}
