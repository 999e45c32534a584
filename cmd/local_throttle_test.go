package cmd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go"

	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/local/server"
	"github.com/odin-deploy/odin/pkg/watch"
)

// steppingClock is the server's engine clock in the throttling test: every
// reading moves it on a little, so the token buckets refill by a fraction
// of a call per request and a burst runs them dry without real waiting.
type steppingClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *steppingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(3 * time.Millisecond)
	return c.now
}

func (c *steppingClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	c.now = c.now.Add(d)
	ch <- c.now
	c.mu.Unlock()
	return ch
}

func (c *steppingClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// waitingClock is a tailer's clock: it records the waits (backoffs
// included), moves the server's clock by as much, so a backoff refills the
// buckets as it would in real time, and lets each wait take a real
// millisecond.
type waitingClock struct {
	mu     sync.Mutex
	now    time.Time
	waits  []time.Duration
	server *steppingClock
}

func (c *waitingClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *waitingClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	now := c.now
	c.mu.Unlock()
	c.server.advance(d)
	ch := make(chan time.Time, 1)
	go func() { time.Sleep(time.Millisecond); ch <- now }()
	return ch
}

const countingMachine = `{"StartAt": "Count", "States": {
  "Count": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)", "n.$": "$.n"}, "Next": "More?"},
  "More?": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericLessThanPath": "$.n", "Next": "Count"}], "Default": "Done"},
  "Done": {"Type": "Succeed"}}}`

// `odin local serve --throttle aws` answers Step Functions calls past AWS's
// token buckets with ThrottlingException. Tailers reading one-event pages of
// a 600-event history at once run GetExecutionHistory's bucket (400, 20/s)
// dry: each backs off (jittered, from 1 s, growing while throttled), none
// gives up, and each emits every event exactly once.
func TestLocalThrottleAWSAndTailersBackOff(t *testing.T) {
	f := &Factory{IO: func() *iostreams.IOStreams { io, _, _, _ := iostreams.Test(); return io }()}
	serve, _, _ := newLocalCmd(f).Find([]string{"serve"})
	if err := serve.ParseFlags([]string{"--throttle", "aws"}); err != nil {
		t.Fatal(err)
	}
	if v := serve.Flags().Lookup("throttle").Value.String(); v != "aws" {
		t.Fatalf("--throttle = %q", v)
	}
	bad, _, _ := testLocalOptions(t)
	bad.Throttle = "sometimes"
	if err := localServeRun(context.Background(), bad); exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "--throttle") {
		t.Fatalf("--throttle sometimes: %v, want a usage error", err)
	}

	opts, _, _ := testLocalOptions(t)
	opts.Throttle = "aws"
	serverClock := &steppingClock{now: time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)}
	opts.ServerOptions = func(so *server.Options) { so.Clock = serverClock }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- localServeRun(ctx, opts) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	ep, err := server.Ensure(context.Background(), opts.DataDir, func(context.Context) error { return nil })
	if err != nil {
		t.Fatalf("serve did not become ready: %v", err)
	}
	if st, _ := server.Probe(ctx, opts.DataDir); !st.Running || !st.Throttle {
		t.Fatalf("status %+v: want running with throttling", st)
	}
	client := func(attempts int) *sfn.Client {
		return sfn.New(sfn.Options{Region: ep.Region, BaseEndpoint: aws.String(ep.URL), RetryMaxAttempts: attempts,
			Credentials: credentials.NewStaticCredentialsProvider(ep.AccessKeyID, ep.SecretAccessKey, "")})
	}
	c := client(10)
	sm, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("counting"),
		Definition: aws.String(countingMachine), RoleArn: aws.String("arn:aws:iam::000000000000:role/odin")})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Input: aws.String(`{"i":0,"n":200}`)})
	if err != nil {
		t.Fatal(err)
	}
	for {
		d, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: ex.ExecutionArn})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != "RUNNING" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	const tailers = 3
	type outcome struct {
		events  []string
		result  *watch.Result
		err     error
		errs    []error
		backoff []time.Duration
	}
	out := make([]outcome, tailers)
	var wg sync.WaitGroup
	for i := range tailers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := &out[i]
			clk := &waitingClock{server: serverClock}
			// The SDK's own retries are off, so the tailer meets every
			// throttle itself.
			tl := watch.New(client(1), aws.ToString(ex.ExecutionArn), watch.Options{PageSize: 1, FirstPageSize: 1, Clock: clk,
				Rand: func() float64 { return 0.5 },
				OnError: func(err error, d time.Duration) {
					o.errs = append(o.errs, err)
					o.backoff = append(o.backoff, d)
				}})
			tctx, tcancel := context.WithTimeout(ctx, 3*time.Minute)
			defer tcancel()
			o.result, o.err = tl.Run(tctx, func(ev watch.Event) { o.events = append(o.events, fmt.Sprintf("%d %s %s", ev.ID, ev.Kind, ev.Step)) })
		}()
	}
	wg.Wait()

	throttled := 0
	for i, o := range out {
		if o.err != nil || o.result == nil || o.result.Status != "SUCCEEDED" {
			t.Fatalf("tailer %d: %v %+v", i, o.err, o.result)
		}
		if strings.Join(o.events, "\n") != strings.Join(out[0].events, "\n") || len(o.events) < 600 {
			t.Fatalf("tailer %d emitted %d events, tailer 0 %d: throttling lost or duplicated events", i, len(o.events), len(out[0].events))
		}
		for j, err := range o.errs {
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "ThrottlingException" {
				t.Fatalf("tailer %d: error %v, want only ThrottlingException", i, err)
			}
			if o.backoff[j] < time.Second {
				t.Fatalf("tailer %d: backed off %s after a throttle, want at least 1s", i, o.backoff[j])
			}
		}
		throttled += len(o.errs)
		if len(o.backoff) > 1 && !grows(o.backoff) {
			t.Errorf("tailer %d: backoffs %v never grow while throttled", i, o.backoff)
		}
	}
	if throttled == 0 {
		t.Fatal("no tailer was throttled: --throttle aws did not turn the buckets on")
	}
	t.Logf("%d throttles over %d tailers; tailer 0 backed off %d times, at most %s", throttled, tailers, len(out[0].backoff), slices.Max(append([]time.Duration{0}, out[0].backoff...)))
}

// grows reports whether some backoff is longer than the one before it.
func grows(ds []time.Duration) bool {
	for i := 1; i < len(ds); i++ {
		if ds[i] > ds[i-1] {
			return true
		}
	}
	return false
}
