package diagnose_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/diagnose"
)

// longHistory builds a deployer history of exactly n events (n ≥ 40): a
// health-check loop (WaitForHealthy → CheckHealthy → Healthy?) that runs
// until the release's timeout, then the rollback. Every state carries the
// deployer's state with a health report, as a real long deploy does.
func longHistory(n int) []types.HistoryEvent {
	t0 := time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)
	var evs []types.HistoryEvent
	add := func(typ types.HistoryEventType, prev int64, fill func(*types.HistoryEvent)) int64 {
		id := int64(len(evs) + 1)
		ev := types.HistoryEvent{Id: id, PreviousEventId: prev, Type: typ, Timestamp: aws.Time(t0.Add(time.Duration(id) * time.Second))}
		if fill != nil {
			fill(&ev)
		}
		evs = append(evs, ev)
		return id
	}
	state := func(i int) string {
		return fmt.Sprintf(`{"project_name":"hello","config_name":"production","release_id":"r-long","deployed_by":"ada","healthy":false,`+
			`"health":{"healthy":false,"services":{"web":{"desired":2,"healthy":1,"launching":0,"unhealthy":1,"terminating":0,"instances":[`+
			`{"id":"web-1","release_id":"r-long","state":"healthy","pid":4242,"port":8081},`+
			`{"id":"web-2","release_id":"r-long","state":"unhealthy","pid":4243,"port":8082,"reason":"GET /health: 500 (check %d)",`+
			`"log_tail":["%s","db: connection refused","GET /health 500"]}]}}}}`, i, strings.Repeat("x", 200))
	}
	entered := func(typ types.HistoryEventType, name string, prev int64, in string) int64 {
		return add(typ, prev, func(e *types.HistoryEvent) {
			e.StateEnteredEventDetails = &types.StateEnteredEventDetails{Name: aws.String(name), Input: aws.String(in)}
		})
	}
	exited := func(typ types.HistoryEventType, name string, prev int64, out string) int64 {
		return add(typ, prev, func(e *types.HistoryEvent) {
			e.StateExitedEventDetails = &types.StateExitedEventDetails{Name: aws.String(name), Output: aws.String(out)}
		})
	}
	task := func(prev int64, in string) int64 {
		s := add(types.HistoryEventTypeLambdaFunctionScheduled, prev, func(e *types.HistoryEvent) {
			e.LambdaFunctionScheduledEventDetails = &types.LambdaFunctionScheduledEventDetails{Resource: aws.String("arn:aws:lambda:us-east-1:123456789012:function:odin-deployer"), Input: aws.String(in)}
		})
		return add(types.HistoryEventTypeLambdaFunctionStarted, s, nil)
	}
	prev := add(types.HistoryEventTypeExecutionStarted, 0, func(e *types.HistoryEvent) {
		e.ExecutionStartedEventDetails = &types.ExecutionStartedEventDetails{Input: aws.String(`{"project_name":"hello","config_name":"production","release_id":"r-long","deployed_by":"ada"}`)}
	})
	_ = prev
	prev = 0
	const tail = 17 // events after the loop: the failing check and the rollback
	for i := 0; len(evs)+9 <= n-tail; i++ {
		in := state(i)
		prev = entered(types.HistoryEventTypeWaitStateEntered, "WaitForHealthy", prev, in)
		prev = exited(types.HistoryEventTypeWaitStateExited, "WaitForHealthy", prev, in)
		prev = entered(types.HistoryEventTypeTaskStateEntered, "CheckHealthy", prev, in)
		prev = task(prev, in)
		prev = add(types.HistoryEventTypeLambdaFunctionSucceeded, prev, func(e *types.HistoryEvent) {
			e.LambdaFunctionSucceededEventDetails = &types.LambdaFunctionSucceededEventDetails{Output: aws.String(in)}
		})
		prev = exited(types.HistoryEventTypeTaskStateExited, "CheckHealthy", prev, in)
		prev = entered(types.HistoryEventTypeChoiceStateEntered, "Healthy?", prev, in)
		prev = exited(types.HistoryEventTypeChoiceStateExited, "Healthy?", prev, in)
	}
	// Pad with Wait visits so the total is exactly n.
	for len(evs) < n-tail {
		prev = entered(types.HistoryEventTypeWaitStateEntered, "WaitForHealthy", prev, state(-1))
		if len(evs) < n-tail {
			prev = exited(types.HistoryEventTypeWaitStateExited, "WaitForHealthy", prev, state(-1))
		}
	}
	in := state(-1)
	cause := `{"errorMessage":"release r-long is not healthy after its timeout of 172800s: web 1/2 healthy","errorType":"TimeoutError","stackTrace":[]}`
	prev = entered(types.HistoryEventTypeTaskStateEntered, "CheckHealthy", prev, in)
	prev = task(prev, in)
	prev = add(types.HistoryEventTypeLambdaFunctionFailed, prev, func(e *types.HistoryEvent) {
		e.LambdaFunctionFailedEventDetails = &types.LambdaFunctionFailedEventDetails{Error: aws.String("TimeoutError"), Cause: aws.String(cause)}
	})
	prev = exited(types.HistoryEventTypeTaskStateExited, "CheckHealthy", prev, in)
	for _, s := range []string{"CleanUpFailure", "ReleaseLockFailure"} {
		prev = entered(types.HistoryEventTypeTaskStateEntered, s, prev, in)
		prev = task(prev, in)
		prev = add(types.HistoryEventTypeLambdaFunctionSucceeded, prev, func(e *types.HistoryEvent) {
			e.LambdaFunctionSucceededEventDetails = &types.LambdaFunctionSucceededEventDetails{Output: aws.String(in)}
		})
		prev = exited(types.HistoryEventTypeTaskStateExited, s, prev, in)
	}
	prev = entered(types.HistoryEventTypeFailStateEntered, "FailureClean", prev, in)
	add(types.HistoryEventTypeExecutionFailed, prev, func(e *types.HistoryEvent) {
		e.ExecutionFailedEventDetails = &types.ExecutionFailedEventDetails{Error: aws.String("TimeoutError"), Cause: aws.String(cause)}
	})
	return evs
}

// TestLongHistory diagnoses a 25,000-event history (the Step Functions
// cap) and checks the report stays small: the right root cause after
// thousands of health checks, the path, and no more memory kept than a
// short history needs.
func TestLongHistory(t *testing.T) {
	evs := longHistory(25000)
	if len(evs) != 25000 {
		t.Fatalf("generated %d events", len(evs))
	}
	def := deployer.Definition(deployer.FunctionArn("us-east-1", "123456789012"))
	x, err := diagnose.NewExplainer(def)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, ev := range evs {
		x.Add(ev)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	r := x.Report(diagnose.Execution{Status: "FAILED"}, diagnose.Options{})
	if r.Events != 25000 || r.Failure == nil || r.Failure.State != "CheckHealthy" || r.Failure.Error != "TimeoutError" {
		t.Fatalf("report: events %d failure %+v", r.Events, r.Failure)
	}
	if r.Failure.Visit < 2700 {
		t.Errorf("visit %d: the loop's visits were not counted", r.Failure.Visit)
	}
	if got := strings.Join(r.Path, " → "); got != "CheckHealthy → CleanUpFailure → ReleaseLockFailure → FailureClean" {
		t.Errorf("path %s", got)
	}
	if len(r.Unhealthy) != 1 || !strings.Contains(r.Unhealthy[0].Reason, "500") {
		t.Errorf("unhealthy %+v", r.Unhealthy)
	}
	// What the explainer keeps (beyond the events the caller holds) must
	// not grow with the history: a few hundred KiB at most. The
	// translator's id→state map is the one thing that does (~2 MB here).
	if kept := int64(after.HeapInuse) - int64(before.HeapInuse); kept > 8<<20 {
		t.Errorf("the explainer holds %d MiB after 25,000 events", kept>>20)
	}
	runtime.KeepAlive(evs)
	runtime.KeepAlive(x)
}

// BenchmarkExplain25k measures diagnosing a 25,000-event history, the
// most Step Functions keeps. peak-heap-MB is the heap in use at the end,
// history included; alloc-MB/op what one diagnosis allocates in all.
func BenchmarkExplain25k(b *testing.B) {
	evs := longHistory(25000)
	def := deployer.Definition(deployer.FunctionArn("us-east-1", "123456789012"))
	b.ReportAllocs()
	b.ResetTimer()
	var ms runtime.MemStats
	for b.Loop() {
		r, err := diagnose.Explain(diagnose.Execution{Status: "FAILED"}, def, evs, diagnose.Options{})
		if err != nil || r.Failure == nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-inuse-MB")
}
