package sfnapi

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/local/store"
)

const restartMachine = `{"StartAt":"Before","States":{
 "Before":{"Type":"Pass","Result":"b","ResultPath":"$.before","Next":"Wait"},
 "Wait":{"Type":"Wait","Seconds":3600,"Next":"Work"},
 "Work":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:work","ResultPath":"$.work","Next":"After"},
 "After":{"Type":"Pass","End":true}}}`

// TestRestartMidExecution closes the API while an execution waits, opens a
// new one on the same data directory, and checks the execution completes
// with one contiguous history: the events before the restart unchanged, no
// event twice, the Wait not entered again and the Task run once.
func TestRestartMidExecution(t *testing.T) {
	dir := t.TempDir()
	var calls atomic.Int32
	fns := engine.NewFunctions()
	fns.Register("work", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		calls.Add(1)
		return json.RawMessage(`"done"`), nil
	})
	ctx := context.Background()

	clock1 := engine.NewFakeClock(epoch0)
	r1 := newRig(t, dir, Options{Clock: clock1, Functions: fns})
	smArn := r1.createMachine(t, "restart", restartMachine)
	x, err := r1.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &smArn, Name: aws.String("r"), Input: aws.String(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	waitForTimer(t, clock1)
	before, err := r1.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: x.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	if last := before.Events[len(before.Events)-1]; last.Type != types.HistoryEventTypeWaitStateEntered {
		t.Fatalf("before the restart the last event is %s", last.Type)
	}
	r1.close()

	// Ten minutes later a new server picks the execution up.
	clock2 := engine.NewFakeClock(epoch0.Add(10 * time.Minute))
	r2 := newRig(t, dir, Options{Clock: clock2, Functions: fns})
	d, err := r2.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: x.ExecutionArn})
	if err != nil || d.Status != types.ExecutionStatusRunning {
		t.Fatalf("after the restart: %v %v", d, err)
	}
	waitForTimer(t, clock2)
	clock2.Advance(50 * time.Minute) // what was left of the Wait
	d = r2.waitDone(t, *x.ExecutionArn)
	if d.Status != types.ExecutionStatusSucceeded || aws.ToString(d.Output) != `{"before":"b","work":"done"}` {
		t.Fatalf("after the restart the execution ended %s with %s", d.Status, aws.ToString(d.Output))
	}
	if !d.StopDate.Equal(epoch0.Add(time.Hour)) {
		t.Fatalf("stop date %v, want %v (the Wait ends an hour after it began)", d.StopDate, epoch0.Add(time.Hour))
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("the task ran %d times", n)
	}
	after, err := r2.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: x.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range after.Events {
		if ev.Id != int64(i+1) {
			t.Fatalf("event %d has id %d", i+1, ev.Id)
		}
		if i < len(before.Events) {
			b := before.Events[i]
			if ev.Type != b.Type || !ev.Timestamp.Equal(*b.Timestamp) || ev.PreviousEventId != b.PreviousEventId {
				t.Fatalf("event %d changed across the restart: %s -> %s", i+1, b.Type, ev.Type)
			}
		}
	}
	for _, typ := range []types.HistoryEventType{types.HistoryEventTypeExecutionStarted, types.HistoryEventTypeWaitStateEntered,
		types.HistoryEventTypeWaitStateExited, types.HistoryEventTypeLambdaFunctionScheduled, types.HistoryEventTypeExecutionSucceeded} {
		if n := countType(after.Events, typ); n != 1 {
			t.Errorf("%d %s events, want 1", n, typ)
		}
	}

	// A third server finds nothing to resume and the same history.
	r2.close()
	r3 := newRig(t, dir, Options{Functions: fns})
	again, err := r3.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: x.ExecutionArn})
	if err != nil || len(again.Events) != len(after.Events) {
		t.Fatalf("third open: %d events, %v", len(again.Events), err)
	}
	fx, err := r3.client.DescribeStateMachineForExecution(ctx, &sfn.DescribeStateMachineForExecutionInput{ExecutionArn: x.ExecutionArn})
	if err != nil || *fx.Definition != restartMachine {
		t.Fatalf("definition after reopen: %v", err)
	}
}

// TestStartsRecordedExecution covers a server that stopped after recording
// an execution but before its first event: the next one starts it.
func TestStartsRecordedExecution(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "sfn"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	smArn := stateMachineArn(region, account, "m")
	if _, err := st.CreateStateMachine(ctx, store.StateMachine{Arn: smArn, Name: "m", Type: "STANDARD", Created: epoch0,
		Revisions: []store.Revision{{ID: "r", Definition: passMachine, RoleArn: role, Date: epoch0}}}); err != nil {
		t.Fatal(err)
	}
	xArn := executionArn(region, account, "m", "x")
	if _, err := st.CreateExecution(ctx, store.Execution{Arn: xArn, Name: "x", StateMachineArn: smArn, StateMachineName: "m",
		RoleArn: role, Input: `{"k":1}`, StartDate: epoch0}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	r := newRig(t, dir, Options{})
	d := r.waitDone(t, xArn)
	if d.Status != types.ExecutionStatusSucceeded || aws.ToString(d.Output) != `{"a":{"x":1},"k":1}` || !d.StartDate.Equal(epoch0) {
		t.Fatalf("recorded execution: %s %s %v", d.Status, aws.ToString(d.Output), d.StartDate)
	}
}

// TestDataFiles checks where the state lives and that only its owner can
// read it.
func TestDataFiles(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t, dir, Options{})
	r.createMachine(t, "m", passMachine)
	for path, want := range map[string]os.FileMode{
		filepath.Join(dir, "sfn"):              0o700 | os.ModeDir,
		filepath.Join(dir, "sfn", "journal"):   0o600,
		filepath.Join(dir, "sfn", "token.key"): 0o600,
	} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != want {
			t.Errorf("%s has mode %v, want %v", path, st.Mode(), want)
		}
	}
	// The token key survives a restart, so do the tokens.
	r.createMachine(t, "n", passMachine)
	out, err := r.client.ListStateMachines(context.Background(), &sfn.ListStateMachinesInput{MaxResults: 1})
	if err != nil || out.NextToken == nil {
		t.Fatalf("first page: %v", err)
	}
	r.close()
	r2 := newRig(t, dir, Options{})
	next, err := r2.client.ListStateMachines(context.Background(), &sfn.ListStateMachinesInput{MaxResults: 1, NextToken: out.NextToken})
	if err != nil || len(next.StateMachines) != 1 || *next.StateMachines[0].Name != "n" {
		t.Fatalf("a token from before the restart: %+v %v", next, err)
	}
}

// TestUnresumableExecutionFails covers an execution whose definition no
// longer parses when the server restarts: it fails with States.Runtime
// instead of staying RUNNING with nothing running it.
func TestUnresumableExecutionFails(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "sfn"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	smArn := stateMachineArn(region, account, "m")
	if _, err := st.CreateStateMachine(ctx, store.StateMachine{Arn: smArn, Name: "m", Type: "STANDARD", Created: epoch0,
		Revisions: []store.Revision{{ID: "r", Definition: `{"StartAt":"Gone"}`, RoleArn: role, Date: epoch0}}}); err != nil {
		t.Fatal(err)
	}
	xArn := executionArn(region, account, "m", "x")
	if _, err := st.CreateExecution(ctx, store.Execution{Arn: xArn, Name: "x", StateMachineArn: smArn, StateMachineName: "m",
		RoleArn: role, Input: `{}`, StartDate: epoch0}); err != nil {
		t.Fatal(err)
	}
	if err := st.Append(ctx, xArn, engine.Event{ID: 1, Timestamp: epoch0, Type: "ExecutionStarted", Details: &engine.Details{Input: "{}"}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	r := newRig(t, dir, Options{Clock: engine.NewFakeClock(epoch0.Add(time.Minute))})
	d, err := r.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(xArn)})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != "States.Runtime" ||
		!strings.HasPrefix(aws.ToString(d.Cause), "The local backend could not resume this execution after a restart: ") ||
		!d.StopDate.Equal(epoch0.Add(time.Minute)) {
		t.Fatalf("unresumable execution: %s %v %q %v", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), d.StopDate)
	}
	h, err := r.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(xArn)})
	if err != nil || len(h.Events) != 2 || h.Events[1].Type != types.HistoryEventTypeExecutionFailed || h.Events[1].PreviousEventId != 1 {
		t.Fatalf("history: %+v %v", h, err)
	}
}
