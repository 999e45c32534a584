package deployer

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/local/asl"
	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/testpeer/moto"
)

// The definition also runs on moto, a Step Functions implementation we did
// not write. moto's stand-in Lambda answers each task with the next queued
// result, so this checks the machine's wiring (waits, the health loop, the
// choice, the Fail states' ErrorPath/CausePath), not the handler.
func TestDefinitionOnMoto(t *testing.T) {
	mt := moto.Shared(t)
	c := mt.SFN()

	healthy, unhealthy := true, false
	base := State{Input: contract.Input{ReleaseID: "r-1", ProjectName: "hello", ConfigName: "test", Target: "local"},
		WaitForDeploy: 1, WaitForHealthy: 1, Timeout: 60}
	with := func(edit func(*State)) string {
		s := base
		edit(&s)
		b, _ := json.Marshal(s)
		return string(b)
	}
	plain := with(func(*State) {})
	notYet := with(func(s *State) { s.Healthy = &unhealthy })
	ok := with(func(s *State) { s.Healthy = &healthy })
	// The handler returns the state it was given, with what the catcher
	// wrote; so does the stand-in.
	caught := with(func(s *State) {
		s.Healthy = &unhealthy
		s.Error = &CaughtError{Error: "HealthError", Cause: "CheckHealthy returned no healthy field"}
	})

	tests := []struct {
		name      string
		results   []string
		wantPath  []string
		wantError string
		wantCause string
	}{
		{
			name:    "success after one unhealthy check",
			results: []string{plain, plain, plain, notYet, notYet, ok, ok, plain},
			wantPath: []string{"Validate", "Lock", "ValidateResources", "Deploy", "WaitForDeploy", "WaitForHealthy",
				"CheckHealthy", "Healthy?", "WaitForHealthy", "CheckHealthy", "Healthy?", "CleanUpSuccess", "ReleaseLock", "Success"},
		},
		{
			name:    "health unknown rolls back",
			results: []string{plain, plain, plain, notYet, plain, caught, caught},
			wantPath: []string{"Validate", "Lock", "ValidateResources", "Deploy", "WaitForDeploy", "WaitForHealthy",
				"CheckHealthy", "Healthy?", "HealthUnknown", "CleanUpFailure", "ReleaseLockFailure", "FailureClean"},
			wantError: "HealthError",
			wantCause: "CheckHealthy returned no healthy field",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			sm, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
				Name:       aws.String(fmt.Sprintf("odin-deployer-%d-%d", i, time.Now().UnixNano())),
				Definition: aws.String(string(Definition(FunctionArn(moto.Region, moto.Account)))),
				RoleArn:    aws.String("arn:aws:iam::123456789012:role/odin-deployer"),
			})
			if err != nil {
				t.Fatal(err)
			}
			mt.QueueLambdaResults(t, tt.results...)
			x, err := c.StartExecution(ctx, &sfn.StartExecutionInput{
				StateMachineArn: sm.StateMachineArn, Name: aws.String("deploy"), Input: aws.String(plain),
			})
			if err != nil {
				t.Fatal(err)
			}
			d := waitExecution(t, c, aws.ToString(x.ExecutionArn))
			path, types := statePath(t, c, aws.ToString(x.ExecutionArn))

			// The same on our engine, with the same stand-in answers.
			local, localPath, localTypes := runLocally(t, tt.results, plain)
			if !slices.Equal(localPath, path) || !slices.Equal(localTypes, types) {
				t.Errorf("our engine differs from moto:\n ours %v\n      %v\n moto %v\n      %v", localPath, localTypes, path, types)
			}
			if local.Status != string(d.Status) || local.Error != aws.ToString(d.Error) || local.Cause != aws.ToString(d.Cause) {
				t.Errorf("our engine ended %s %q %q, moto %s %q %q", local.Status, local.Error, local.Cause, d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
			}
			if !slices.Equal(path, tt.wantPath) {
				t.Errorf("path\n got %v\nwant %v", path, tt.wantPath)
			}
			if tt.wantError == "" {
				if d.Status != sfntypes.ExecutionStatusSucceeded {
					t.Errorf("status %s error %s cause %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
				}
				return
			}
			if d.Status != sfntypes.ExecutionStatusFailed || aws.ToString(d.Error) != tt.wantError || aws.ToString(d.Cause) != tt.wantCause {
				t.Errorf("status %s error %q cause %q; want FAILED %q %q", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), tt.wantError, tt.wantCause)
			}
		})
	}
}

// waitExecution polls until the execution ends; the bound only turns a hang
// into a failure.
func waitExecution(t *testing.T, c *sfn.Client, arn string) *sfn.DescribeExecutionOutput {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		d, err := c.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s still running", arn)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// statePath lists the states the execution entered, in order, and the
// types of all its events.
func statePath(t *testing.T, c *sfn.Client, arn string) (path, types []string) {
	t.Helper()
	in := &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000}
	for {
		out, err := c.GetExecutionHistory(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range out.Events {
			types = append(types, string(ev.Type))
			if ev.StateEnteredEventDetails != nil {
				path = append(path, aws.ToString(ev.StateEnteredEventDetails.Name))
			}
		}
		if out.NextToken == nil {
			return path, types
		}
		in.NextToken = out.NextToken
	}
}

// runLocally runs the definition on the local engine, its task function
// answering with results in order, on a clock that skips the waits.
func runLocally(t *testing.T, results []string, input string) (engine.Result, []string, []string) {
	t.Helper()
	var mu sync.Mutex
	var events []engine.Event
	next := 0
	fns := engine.NewFunctions()
	fns.Register(FunctionName, func(context.Context, json.RawMessage) (json.RawMessage, error) {
		mu.Lock()
		defer mu.Unlock()
		if next >= len(results) {
			return nil, &DeployError{Msg: "no more queued results"}
		}
		next++
		return json.RawMessage(results[next-1]), nil
	})
	done := make(chan engine.Result, 1)
	eng := engine.New(engine.Options{
		Clock: engine.NewAutoClock(time.Now()), Functions: fns,
		Sink: sinkFunc(func(ev engine.Event) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		}),
		OnDone: func(_ string, r engine.Result) { done <- r },
	})
	defer eng.Close()
	sm, err := asl.Parse(Definition(FunctionArn("us-east-1", "123456789012")))
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(context.Background(), engine.Execution{Arn: "arn:aws:states:us-east-1:123456789012:execution:odin-deployer:x",
		Name: "x", StateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:odin-deployer", StateMachineName: "odin-deployer",
		Machine: sm, Input: json.RawMessage(input)}); err != nil {
		t.Fatal(err)
	}
	var r engine.Result
	select {
	case r = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the local execution did not end")
	}
	mu.Lock()
	defer mu.Unlock()
	var path, types []string
	for _, ev := range events {
		types = append(types, ev.Type)
		if strings.HasSuffix(ev.Type, "StateEntered") {
			path = append(path, ev.Details.Name)
		}
	}
	return r, path, types
}

type sinkFunc func(engine.Event)

func (f sinkFunc) Append(_ context.Context, _ string, ev engine.Event) error {
	f(ev)
	return nil
}
