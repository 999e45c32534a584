package watch_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/odin-deploy/odin/pkg/testpeer/moto"
	"github.com/odin-deploy/odin/pkg/watch"
	"github.com/odin-deploy/odin/pkg/watch/watchtest"
)

// retryCatchMachine fails for real on moto: an S3 read of a missing key is
// retried twice (1 s, then 2 s) and caught; a Parallel runs before it.
const retryCatchMachine = `{
  "StartAt": "Prepare",
  "States": {
    "Prepare": {"Type": "Pass", "Result": {"bucket": "odin-moto-missing"}, "ResultPath": "$.cfg", "Next": "Both"},
    "Both": {"Type": "Parallel", "ResultPath": null, "Branches": [
      {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": true}}},
      {"StartAt": "Right", "States": {"Right": {"Type": "Wait", "Seconds": 1, "End": true}}}
    ], "Next": "Fetch"},
    "Fetch": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
      "Parameters": {"Bucket": "odin-moto-missing", "Key": "release"},
      "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 2}],
      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "FailureClean"}],
      "Next": "Done"},
    "Done": {"Type": "Succeed"},
    "FailureClean": {"Type": "Fail", "Error": "FailureClean", "Cause": "the release could not be read"}
  }
}`

// motoDeployResults are the deployer's task results, in order, for a
// successful deploy on moto (its Lambda stand-in returns queued results).
func motoDeployResults(t *testing.T) []string {
	var st map[string]any
	if err := json.Unmarshal([]byte(deployInput), &st); err != nil {
		t.Fatal(err)
	}
	step := func(set map[string]any) string {
		for k, v := range set {
			st[k] = v
		}
		b, _ := json.Marshal(st)
		return string(b)
	}
	fast := map[string]any{"started_at": "2026-11-25T21:00:00Z", "deadline": "2026-11-25T21:05:00Z", "timeout": 300,
		"wait_for_deploy": 1, "wait_for_healthy": 1}
	return []string{step(fast), step(locked.set), step(nil), step(deployed.set), step(allHealthy.set), step(nil), step(nil)}
}

// The tailer against moto 5.2.1, a peer nobody here wrote: it notices that
// moto ignores reverseOrder and paging, reads forward, and emits exactly what
// the whole history gives.
func TestTailMoto(t *testing.T) {
	s := moto.Start(t)
	c := s.SFN()
	cases := []struct {
		name, def, input string
		results          []string
		status           string
	}{
		{"moto-deploy", string(deployerDefinition(t)), deployInput, motoDeployResults(t), "SUCCEEDED"},
		{"moto-retry-catch", retryCatchMachine, `{}`, nil, "FAILED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.results) > 0 {
				s.QueueLambdaResults(t, tc.results...)
			}
			ctx := context.Background()
			sm, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(tc.name),
				Definition: aws.String(tc.def), RoleArn: aws.String("arn:aws:iam::123456789012:role/odin")})
			if err != nil {
				t.Fatal(err)
			}
			ex, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn,
				Name: aws.String(tc.name + "-1"), Input: aws.String(tc.input)})
			if err != nil {
				t.Fatal(err)
			}
			arn := aws.ToString(ex.ExecutionArn)
			clk := &tickClock{now: t0, real: 100 * time.Millisecond}
			tl := watch.New(c, arn, watch.Options{Clock: clk, Rand: half, IncludeData: true})
			cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			var got []watch.Event
			res, err := tl.Run(cctx, func(ev watch.Event) { got = append(got, ev) })
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status {
				t.Fatalf("status %s, want %s (%s: %s)", res.Status, tc.status, res.Error, res.Cause)
			}
			if !tl.Forward() {
				t.Error("moto ignores reverseOrder, but the tailer did not switch to reading forward")
			}
			want := translateAll(t, []byte(tc.def), fullHistory(t, c, arn, true))
			if kinds(got) != kinds(want) {
				t.Fatalf("tail differs from the whole history:\n got\n%s\nwant\n%s", kinds(got), kinds(want))
			}
			if *record {
				h, err := watchtest.Record(ctx, s.Config(), nil, arn)
				if err != nil {
					t.Fatal(err)
				}
				if err := h.Write(filepath.Join("testdata", tc.name+".json")); err != nil {
					t.Fatal(err)
				}
				if tc.def != string(deployerDefinition(t)) {
					if err := os.WriteFile(filepath.Join("testdata", tc.name+".asl.json"), []byte(tc.def), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}
