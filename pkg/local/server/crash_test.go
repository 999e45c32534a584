package server

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/odin-deploy/odin/pkg/local/access"
)

// startHelperServer runs this test binary as a detached server process for
// dir (see TestMain) with the given command functions.
func startHelperServer(t *testing.T, dir string, functions map[string][]string) (*os.Process, access.Endpoint) {
	t.Helper()
	spec, _ := json.Marshal(functions)
	t.Setenv("ODIN_TEST_SERVE_DIR", dir)
	t.Setenv("ODIN_TEST_FUNCTIONS", string(spec))
	var proc *os.Process
	ep, err := Ensure(context.Background(), dir, func(context.Context) error {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		proc, err = StartDetached(exe, []string{"-test.run=^$"}, filepath.Join(dir, LogFile))
		return err
	})
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, LogFile))
		t.Fatalf("start server: %v\n%s", err, log)
	}
	if proc == nil {
		t.Fatal("a server was already running")
	}
	// Never leave a server behind, whatever the test does with it.
	t.Cleanup(func() { proc.Kill(); proc.Wait() })
	return proc, ep
}

// waitFor polls the execution's history until cond holds, failing after a
// generous limit; it waits for progress, it does not assert speed.
func waitFor(t *testing.T, c *sfn.Client, arn string, what string, cond func([]types.HistoryEvent, *sfn.DescribeExecutionOutput) bool) []types.HistoryEvent {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx := context.Background()
		// Describe first: a final status then means the history read after it is complete.
		desc, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("DescribeExecution: %v", err)
		}
		var events []types.HistoryEvent
		p := sfn.NewGetExecutionHistoryPaginator(c, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("GetExecutionHistory: %v", err)
			}
			events = append(events, out.Events...)
		}
		if cond(events, desc) {
			return events
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s; status %s, history %s", what, desc.Status, eventTypes(events))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func eventTypes(events []types.HistoryEvent) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "\n  %d<%d %s", e.Id, e.PreviousEventId, e.Type)
	}
	return b.String()
}

func hasEvent(events []types.HistoryEvent, typ types.HistoryEventType) bool {
	for _, e := range events {
		if e.Type == typ {
			return true
		}
	}
	return false
}

// TestCrashResume SIGKILLs a server while an execution waits (and, in the
// second case, while its Task command runs), starts a new server on the same
// data dir, and checks that the execution completes with one contiguous
// history: no event lost, none duplicated.
func TestCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	cases := []struct {
		name   string
		killAt types.HistoryEventType
		task   string
		signal syscall.Signal
	}{
		{"killed while waiting", types.HistoryEventTypeWaitStateEntered, "cat >/dev/null; printf '{\"ran\":true}'", syscall.SIGKILL},
		// The task sleeps so the kill lands while it runs: it runs again after the restart.
		{"killed while the task runs", types.HistoryEventTypeLambdaFunctionStarted, "cat >/dev/null; sleep 1; printf '{\"ran\":true}'", syscall.SIGKILL},
		// A graceful stop must not record the interrupted task as failed.
		{"stopped while the task runs", types.HistoryEventTypeLambdaFunctionStarted, "cat >/dev/null; sleep 1; printf '{\"ran\":true}'", syscall.SIGTERM},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			fns := map[string][]string{"work": {"sh", "-c", tc.task}}
			proc, ep := startHelperServer(t, dir, fns)
			c := sfnClient(ep, ep.SecretAccessKey)
			ctx := context.Background()
			def := fmt.Sprintf(`{"StartAt":"Pause","States":{
				"Pause":{"Type":"Wait","Seconds":2,"Next":"Work"},
				"Work":{"Type":"Task","Resource":"arn:aws:lambda:%s:%s:function:work","End":true}}}`, ep.Region, ep.Account)
			sm, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("crash"), Definition: aws.String(def),
				RoleArn: aws.String("arn:aws:iam::" + ep.Account + ":role/odin-local")})
			if err != nil {
				t.Fatal(err)
			}
			ex, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String("survivor"), Input: aws.String(`{}`)})
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, c, *ex.ExecutionArn, string(tc.killAt), func(ev []types.HistoryEvent, _ *sfn.DescribeExecutionOutput) bool {
				return hasEvent(ev, tc.killAt)
			})
			if err := proc.Signal(tc.signal); err != nil {
				t.Fatal(err)
			}
			proc.Wait()

			_, ep = startHelperServer(t, dir, fns)
			c = sfnClient(ep, ep.SecretAccessKey)
			events := waitFor(t, c, *ex.ExecutionArn, "the end of the execution", func(_ []types.HistoryEvent, d *sfn.DescribeExecutionOutput) bool {
				return d.Status != types.ExecutionStatusRunning
			})
			desc, _ := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: ex.ExecutionArn})
			if desc.Status != types.ExecutionStatusSucceeded || aws.ToString(desc.Output) != `{"ran":true}` {
				t.Fatalf("after the restart: %s %q%s", desc.Status, aws.ToString(desc.Output), eventTypes(events))
			}
			seen := map[int64]bool{}
			counts := map[types.HistoryEventType]int{}
			for i, e := range events {
				if e.Id != int64(i+1) || seen[e.Id] {
					t.Fatalf("event %d has id %d: ids must be contiguous and unique%s", i, e.Id, eventTypes(events))
				}
				seen[e.Id] = true
				counts[e.Type]++
			}
			for _, typ := range []types.HistoryEventType{types.HistoryEventTypeExecutionStarted, types.HistoryEventTypeWaitStateEntered,
				types.HistoryEventTypeWaitStateExited, types.HistoryEventTypeExecutionSucceeded} {
				if counts[typ] != 1 {
					t.Errorf("%d %s events, want 1%s", counts[typ], typ, eventTypes(events))
				}
			}
			if counts[types.HistoryEventTypeLambdaFunctionFailed] != 0 || counts[types.HistoryEventTypeLambdaFunctionSucceeded] != 1 {
				t.Errorf("%d LambdaFunctionSucceeded events, want 1%s", counts[types.HistoryEventTypeLambdaFunctionSucceeded], eventTypes(events))
			}
			t.Logf("history after the crash:%s", eventTypes(events))
		})
	}
}
