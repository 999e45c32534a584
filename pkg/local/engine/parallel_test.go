package engine

import (
	"context"
	"encoding/json"
	"testing"
)

func TestParallelSuccess(t *testing.T) {
	def := `{"StartAt":"P","States":{"P":{"Type":"Parallel","ResultPath":"$.r","End":true,"Branches":[
		{"StartAt":"A","States":{"A":{"Type":"Pass","Result":"a","End":true}}},
		{"StartAt":"B","States":{"B":{"Type":"Pass","Result":"b","End":true}}}]}}}`
	rg := newRig(t, true)
	res, evs := rg.run(def, `{"in":1}`)
	jsonEqual(t, "output", string(res.Output), `{"in":1,"r":["a","b"]}`)
	// Branch events interleave; check the structure that does not depend on it.
	if len(evs) != 10 {
		t.Fatalf("history:\n%s", shape(evs))
	}
	byType := map[string][]Event{}
	for _, ev := range evs {
		byType[ev.Type] = append(byType[ev.Type], ev)
	}
	started := byType["ParallelStateStarted"][0]
	for _, en := range byType["PassStateEntered"] {
		if en.PreviousEventID != started.ID {
			t.Errorf("branch entered %d points at %d, want ParallelStateStarted %d", en.ID, en.PreviousEventID, started.ID)
		}
	}
	lastBranch := max(byType["PassStateExited"][0].ID, byType["PassStateExited"][1].ID)
	succ, exited := byType["ParallelStateSucceeded"][0], byType["ParallelStateExited"][0]
	if succ.PreviousEventID != lastBranch || exited.PreviousEventID != lastBranch {
		t.Errorf("Succeeded<%d Exited<%d, want both <%d\n%s", succ.PreviousEventID, exited.PreviousEventID, lastBranch, shape(evs))
	}
	if l := last(evs); l.Type != "ExecutionSucceeded" || l.PreviousEventID != exited.ID {
		t.Errorf("last event %+v", l)
	}
}

func TestParallelFailure(t *testing.T) {
	def := `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
		{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"FailureType","Cause":"branch failed"}}}]}}}`
	rg := newRig(t, true)
	res, evs := rg.run(def, `{}`)
	if res.Error != "FailureType" || res.Cause != "branch failed" {
		t.Errorf("result %+v", res)
	}
	wantShape(t, evs, `
		1<0 ExecutionStarted
		2<0 ParallelStateEntered P
		3<2 ParallelStateStarted
		4<3 FailStateEntered F
		5<4 ParallelStateFailed
		6<5 ExecutionFailed
	`)
}

func TestParallelFailureCaught(t *testing.T) {
	def := `{"StartAt":"P","States":{"P":{"Type":"Parallel","Next":"N","Catch":[{"ErrorEquals":["FailureType"],"Next":"C"}],"Branches":[
		{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"FailureType","Cause":"c"}}}]},
		"N":{"Type":"Succeed"},"C":{"Type":"Pass","End":true}}}`
	rg := newRig(t, true)
	res, evs := rg.run(def, `{}`)
	jsonEqual(t, "output", string(res.Output), `{"Error":"FailureType","Cause":"c"}`)
	wantShape(t, evs, `
		1<0 ExecutionStarted
		2<0 ParallelStateEntered P
		3<2 ParallelStateStarted
		4<3 FailStateEntered F
		5<4 ParallelStateFailed
		6<5 ParallelStateExited P
		7<6 PassStateEntered C
		8<7 PassStateExited C
		9<8 ExecutionSucceeded
	`)
}

func TestParallelRetry(t *testing.T) {
	def := `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Retry":[{"ErrorEquals":["States.ALL"],"MaxAttempts":1}],"Branches":[
		{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"E"}}}]}}}`
	rg := newRig(t, true)
	res, evs := rg.run(def, `{}`)
	if res.Error != "E" {
		t.Errorf("result %+v", res)
	}
	wantShape(t, evs, `
		1<0 ExecutionStarted
		2<0 ParallelStateEntered P
		3<2 ParallelStateStarted
		4<3 FailStateEntered F
		5<4 ParallelStateStarted
		6<5 FailStateEntered F
		7<6 ParallelStateFailed
		8<7 ExecutionFailed
	`)
}

func TestMapSequential(t *testing.T) {
	def := `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":1,
		"ItemSelector":{"v.$":"$$.Map.Item.Value","i.$":"$$.Map.Item.Index","tag.$":"$.tag"},
		"ItemProcessor":{"ProcessorConfig":{"Mode":"INLINE"},"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}}`
	rg := newRig(t, true)
	res, evs := rg.run(def, `{"items":["a","b"],"tag":"t"}`)
	jsonEqual(t, "output", string(res.Output), `[{"v":"a","i":0,"tag":"t"},{"v":"b","i":1,"tag":"t"}]`)
	wantShape(t, evs, `
		1<0 ExecutionStarted
		2<0 MapStateEntered M
		3<2 MapStateStarted
		4<3 MapIterationStarted M #0
		5<4 PassStateEntered P
		6<5 PassStateExited P
		7<6 MapIterationSucceeded M #0
		8<6 MapIterationStarted M #1
		9<8 PassStateEntered P
		10<9 PassStateExited P
		11<10 MapIterationSucceeded M #1
		12<11 MapStateSucceeded
		13<11 MapStateExited M
		14<13 ExecutionSucceeded
	`)
	if l := *evs[2].Details.Length; l != 2 {
		t.Errorf("length %d", l)
	}
}

func TestMapConcurrentPrevs(t *testing.T) {
	def := `{"StartAt":"M","States":{"M":{"Type":"Map","End":true,
		"Iterator":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}}}}`
	rg := newRig(t, true)
	res, evs := rg.run(def, `[1,2,3]`)
	jsonEqual(t, "output", string(res.Output), `[1,2,3]`)
	var startedID int64
	iterStarted := map[int64]bool{}
	for _, ev := range evs {
		switch ev.Type {
		case "MapStateStarted":
			startedID = ev.ID
		case "MapIterationStarted":
			if ev.PreviousEventID != startedID {
				t.Errorf("MapIterationStarted %d points at %d, want %d", ev.ID, ev.PreviousEventID, startedID)
			}
			iterStarted[ev.ID] = true
		case "PassStateEntered":
			if !iterStarted[ev.PreviousEventID] {
				t.Errorf("iteration's first event %d points at %d, not a MapIterationStarted", ev.ID, ev.PreviousEventID)
			}
		}
	}
	if len(iterStarted) != 3 {
		t.Errorf("history:\n%s", shape(evs))
	}
}

func TestMapFailureAbortsRunningIterations(t *testing.T) {
	// Item 0 fails at once; item 1 is inside a Task that waits for its context.
	def := `{"StartAt":"M","States":{"M":{"Type":"Map","End":true,"Catch":[{"ErrorEquals":["States.ALL"],"Next":"C"}],
		"ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","End":true}}}},
		"C":{"Type":"Succeed"}}}`
	rg := newRig(t, false)
	blocked := make(chan struct{})
	rg.fns.Register("f", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		if string(in) == `"fail"` {
			<-blocked // let the other iteration reach its Task first
			return nil, &TaskError{ErrorType: "ItemError", ErrorMessage: "bad item"}
		}
		close(blocked)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	res, evs := rg.run(def, `["fail","wait"]`)
	if res.Status != StatusSucceeded {
		t.Fatalf("result %+v\n%s", res, shape(evs))
	}
	jsonEqual(t, "output", string(res.Output), `{"Error":"ItemError","Cause":"{\"errorMessage\":\"bad item\",\"errorType\":\"ItemError\",\"stackTrace\":[]}"}`)
	var failID int64
	seen := map[string]Event{}
	for _, ev := range evs {
		if ev.Type == "LambdaFunctionFailed" {
			failID = ev.ID
		}
		seen[ev.Type] = ev
	}
	for _, typ := range []string{"MapIterationFailed", "TaskStateAborted", "MapIterationAborted", "MapStateFailed"} {
		ev, ok := seen[typ]
		if !ok || ev.PreviousEventID != failID {
			t.Errorf("%s: %+v, want it to point at the failing event %d\n%s", typ, ev, failID, shape(evs))
		}
	}
	if ex := seen["MapStateExited"]; ex.PreviousEventID != seen["MapStateFailed"].ID {
		t.Errorf("MapStateExited points at %d\n%s", ex.PreviousEventID, shape(evs))
	}
}

func TestMapToleratedFailures(t *testing.T) {
	def := `{"StartAt":"M","States":{"M":{"Type":"Map","End":true,"MaxConcurrency":1,"ToleratedFailureCount":1,
		"ItemProcessor":{"StartAt":"C","States":{
			"C":{"Type":"Choice","Choices":[{"Variable":"$","NumericEquals":0,"Next":"F"}],"Default":"P"},
			"F":{"Type":"Fail","Error":"Zero"},"P":{"Type":"Pass","End":true}}}}}}`
	tests := []struct {
		input, status, out, errName string
	}{
		{`[1,0,2]`, StatusSucceeded, `[1,{"Error":"Zero","Cause":""},2]`, ""},
		{`[0,0,2]`, StatusFailed, "", "States.ExceedToleratedFailureThreshold"},
	}
	for _, tt := range tests {
		rg := newRig(t, true)
		res, evs := rg.run(def, tt.input)
		if res.Status != tt.status || res.Error != tt.errName {
			t.Errorf("%s: result %+v\n%s", tt.input, res, shape(evs))
			continue
		}
		if tt.out != "" {
			jsonEqual(t, "output", string(res.Output), tt.out)
		}
	}
}
