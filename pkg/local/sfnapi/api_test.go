package sfnapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/odin-deploy/odin/pkg/local/engine"
)

const (
	region  = "us-east-1"
	account = "123456789012"
	role    = "arn:aws:iam::123456789012:role/test"
)

var epoch0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

type rig struct {
	api    *API
	srv    *httptest.Server
	client *sfn.Client
	clock  *engine.FakeClock
	dir    string
}

// newRig serves a fresh API on dir ("" for a new temporary one) through
// httptest and returns the real SDK client pointed at it.
func newRig(t testing.TB, dir string, opts Options) *rig {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	opts.DataDir = dir
	if opts.Clock == nil {
		opts.Clock = engine.NewAutoClock(epoch0)
	}
	if opts.Functions == nil {
		opts.Functions = engine.NewFunctions()
	}
	opts.Region, opts.Account = region, account
	api, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	client := sfn.New(sfn.Options{
		Region:       region,
		BaseEndpoint: aws.String(srv.URL),
		HTTPClient:   ownBody{srv.Client()},
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		// Tests assert the first answer; retries would hide throttling.
		RetryMaxAttempts: 1,
	})
	r := &rig{api: api, srv: srv, client: client, dir: dir}
	if fc, ok := opts.Clock.(*engine.FakeClock); ok {
		r.clock = fc
	}
	t.Cleanup(r.close)
	return r
}

// ownBody hands net/http a private copy of each request body. aws-sdk-go-v2
// closes its request body as soon as Do returns; with Go 1.26's transport
// that races the connection's write loop, which then closes the connection
// while a large response (a 1,000-event history page) is still being read:
// "failed to decode response body, read tcp ...: use of closed network
// connection". The same happens against a static net/http server, so it is
// a client-side race (aws/aws-sdk-go-v2#1825, #2737), not this API's.
type ownBody struct{ c *http.Client }

func (o ownBody) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		data, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(data))
	}
	return o.c.Do(r)
}

func (r *rig) close() {
	if r.srv != nil {
		r.srv.Close()
		r.api.Close()
		r.srv = nil
	}
}

func (r *rig) createMachine(t testing.TB, name, def string) string {
	t.Helper()
	out, err := r.client.CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{
		Name: aws.String(name), Definition: aws.String(def), RoleArn: aws.String(role)})
	if err != nil {
		t.Fatalf("create state machine %s: %v", name, err)
	}
	return aws.ToString(out.StateMachineArn)
}

// waitDone polls DescribeExecution until the execution ends.
func (r *rig) waitDone(t testing.TB, arn string) *sfn.DescribeExecutionOutput {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		out, err := r.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("describe execution: %v", err)
		}
		if out.Status != types.ExecutionStatusRunning {
			return out
		}
		select {
		case <-ctx.Done():
			t.Fatalf("execution %s still running", arn)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// waitForTimer waits until an execution waits on the fake clock.
func waitForTimer(t testing.TB, c *engine.FakeClock) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.BlockUntil(ctx, 1); err != nil {
		t.Fatalf("no execution waits on the clock: %v", err)
	}
}

// wantAPIError checks err is the API error code with message msg ("" skips
// the message check).
func wantAPIError(t testing.TB, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got error %v, want API error %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("got error code %s (%s), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
	if msg != "" && ae.ErrorMessage() != msg {
		t.Fatalf("got %s message\n  %q\nwant\n  %q", code, ae.ErrorMessage(), msg)
	}
}

const passMachine = `{"StartAt":"A","States":{
 "A":{"Type":"Pass","Result":{"x":1},"ResultPath":"$.a","Next":"B"},
 "B":{"Type":"Pass","End":true}}}`

const waitMachine = `{"StartAt":"W","States":{
 "W":{"Type":"Wait","Seconds":3600,"Next":"Done"},
 "Done":{"Type":"Pass","Result":"ok","End":true}}}`

const failMachine = `{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"Boom","Cause":"it broke"}}}`

func TestExecutionHappyPath(t *testing.T) {
	r := newRig(t, "", Options{})
	ctx := context.Background()
	smArn := r.createMachine(t, "happy", passMachine)
	if want := "arn:aws:states:us-east-1:123456789012:stateMachine:happy"; smArn != want {
		t.Fatalf("state machine arn %s, want %s", smArn, want)
	}
	start, err := r.client.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(smArn), Name: aws.String("run-1"), Input: aws.String(`{"in":true}`)})
	if err != nil {
		t.Fatal(err)
	}
	if want := "arn:aws:states:us-east-1:123456789012:execution:happy:run-1"; aws.ToString(start.ExecutionArn) != want {
		t.Fatalf("execution arn %s, want %s", aws.ToString(start.ExecutionArn), want)
	}
	if !start.StartDate.Equal(epoch0) {
		t.Fatalf("start date %v, want %v", start.StartDate, epoch0)
	}
	d := r.waitDone(t, *start.ExecutionArn)
	if d.Status != types.ExecutionStatusSucceeded || aws.ToString(d.Output) != `{"a":{"x":1},"in":true}` {
		t.Fatalf("describe: status %s output %s", d.Status, aws.ToString(d.Output))
	}
	if aws.ToString(d.Input) != `{"in":true}` || aws.ToString(d.Name) != "run-1" || aws.ToString(d.StateMachineArn) != smArn {
		t.Fatalf("describe: %+v", d)
	}
	if d.StopDate == nil || d.RedriveStatus != types.ExecutionRedriveStatusNotRedrivable {
		t.Fatalf("describe: stop %v redrive %s", d.StopDate, d.RedriveStatus)
	}

	h, err := r.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, ev := range h.Events {
		if ev.Id != int64(i+1) {
			t.Fatalf("event %d has id %d", i+1, ev.Id)
		}
		got = append(got, string(ev.Type))
	}
	want := "ExecutionStarted PassStateEntered PassStateExited PassStateEntered PassStateExited ExecutionSucceeded"
	if strings.Join(got, " ") != want {
		t.Fatalf("history %v\nwant %s", got, want)
	}
	if h.NextToken != nil {
		t.Fatalf("one page has a next token")
	}
	if in := aws.ToString(h.Events[0].ExecutionStartedEventDetails.Input); in != `{"in":true}` {
		t.Fatalf("ExecutionStarted input %s", in)
	}

	smx, err := r.client.DescribeStateMachineForExecution(ctx, &sfn.DescribeStateMachineForExecutionInput{ExecutionArn: start.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(smx.Definition) != passMachine || aws.ToString(smx.RoleArn) != role {
		t.Fatalf("DescribeStateMachineForExecution: %+v", smx)
	}
}

func TestFailedExecutionDescribe(t *testing.T) {
	r := newRig(t, "", Options{})
	smArn := r.createMachine(t, "fails", failMachine)
	start, err := r.client.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(smArn)})
	if err != nil {
		t.Fatal(err)
	}
	name := (*start.ExecutionArn)[strings.LastIndexByte(*start.ExecutionArn, ':')+1:]
	if len(name) != 36 || strings.Count(name, "-") != 4 {
		t.Fatalf("a start without a name got %q, want a UUID", name)
	}
	d := r.waitDone(t, *start.ExecutionArn)
	if d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != "Boom" || aws.ToString(d.Cause) != "it broke" {
		t.Fatalf("describe: %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	if d.Output != nil {
		t.Fatalf("a failed execution has output %s", *d.Output)
	}
	if d.RedriveStatus != types.ExecutionRedriveStatusRedrivable || aws.ToInt32(d.RedriveCount) != 0 || d.RedriveCount == nil {
		t.Fatalf("redrive fields: %s %v", d.RedriveStatus, d.RedriveCount)
	}
}

var _ = json.Valid
