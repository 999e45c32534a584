package watch_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/local/sfnapi"
)

// localBackend is odin's own Step Functions API (engine, store, paging,
// throttling) on loopback, with a fake clock that jumps over Wait states and
// retry intervals.
type localBackend struct {
	url    string
	client *sfn.Client
	fns    *engine.Functions
}

var t0 = time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)

// stepClock is the engine's clock while a tailer polls: every wait moves fake
// time at once and takes a real 20 ms, so the execution is seen in flight.
// (The engine's auto clock waits for quiet, which a polling tailer never
// gives it.)
type stepClock struct {
	mu   sync.Mutex
	now  time.Time
	tick time.Duration // added on every Now
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.tick)
	return c.now
}

func (c *stepClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	go func() {
		time.Sleep(20 * time.Millisecond)
		c.mu.Lock()
		c.now = c.now.Add(d)
		now := c.now
		c.mu.Unlock()
		ch <- now
	}()
	return ch
}

func newLocalBackend(t testing.TB, throttle bool) *localBackend {
	c := &stepClock{now: t0}
	if throttle {
		// Each request reads the clock; moving it 3 ms a read refills the
		// 20/s bucket by a fraction of a call, so a long read runs it dry, and it
		// recovers without real waiting.
		c.tick = 3 * time.Millisecond
	}
	return newLocalBackendOpts(t, sfnapi.Options{Clock: c, Throttle: throttle})
}

func newLocalBackendClock(t testing.TB, c engine.Clock) *localBackend {
	return newLocalBackendOpts(t, sfnapi.Options{Clock: c})
}

func newLocalBackendOpts(t testing.TB, opts sfnapi.Options) *localBackend {
	t.Helper()
	fns := engine.NewFunctions()
	opts.DataDir, opts.Functions = t.TempDir(), fns
	api, err := sfnapi.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(func() { srv.Close(); api.Close() })
	c := sfn.New(sfn.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	return &localBackend{url: srv.URL, client: c, fns: fns}
}

// start creates a state machine and starts one execution of it.
func (b *localBackend) start(t testing.TB, name string, def string, input string) string {
	t.Helper()
	ctx := context.Background()
	sm, err := b.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(name),
		Definition: aws.String(def), RoleArn: aws.String("arn:aws:iam::123456789012:role/odin")})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := b.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn,
		Name: aws.String(name + "-1"), Input: aws.String(input)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(ex.ExecutionArn)
}

// flaky fails its first n calls with a Lambda-style error, then returns
// a health report.
func flaky(n int) engine.TaskFunc {
	var mu sync.Mutex
	calls := 0
	return func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls <= n {
			return nil, &engine.TaskError{ErrorType: "HealthError", ErrorMessage: "web: 1 of 2 instances not healthy yet"}
		}
		return json.RawMessage(`{"healthy":true,"health":{"healthy":true,"services":{"web":{"desired":2,"healthy":2,"launching":0,"unhealthy":0,"terminating":0,"instances":[]}}}}`), nil
	}
}

const retryMachine = `{
  "StartAt": "Prepare",
  "States": {
    "Prepare": {"Type": "Pass", "Result": {"n": 1}, "Next": "Check"},
    "Check": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:check",
      "Retry": [{"ErrorEquals": ["HealthError"], "IntervalSeconds": 15, "MaxAttempts": 3}],
      "Next": "Pause"},
    "Pause": {"Type": "Wait", "Seconds": 30, "Next": "Both"},
    "Both": {"Type": "Parallel", "Branches": [
      {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": true}}},
      {"StartAt": "Right", "States": {"Right": {"Type": "Wait", "Seconds": 5, "End": true}}}
    ], "ResultPath": null, "Next": "Finish"},
    "Finish": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:finish",
      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
      "End": true},
    "Failed": {"Type": "Fail", "Error": "FailureClean", "Cause": "rolled back"}
  }
}`

// loopMachine runs a Pass and a Choice n times: 4 events per lap.
const loopMachine = `{
  "StartAt": "Count",
  "States": {
    "Count": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)", "n.$": "$.n"}, "Next": "More?"},
    "More?": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericLessThanPath": "$.n", "Next": "Count"}], "Default": "Done"},
    "Done": {"Type": "Succeed"}
  }
}`
