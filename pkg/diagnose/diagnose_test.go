package diagnose_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/diagnose"
	"github.com/odin-deploy/odin/pkg/watch"
	"github.com/odin-deploy/odin/pkg/watch/watchtest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// executionOf is what DescribeExecution would say about a recorded history.
func executionOf(events []types.HistoryEvent) diagnose.Execution {
	e := diagnose.Execution{Arn: watchtest.ExecutionArn, Name: "replay", Status: "RUNNING"}
	if len(events) > 0 {
		e.StartDate = aws.ToTime(events[0].Timestamp)
		last := events[len(events)-1]
		if watch.IsTerminal(last.Type) {
			e.StopDate = aws.ToTime(last.Timestamp)
			e.Error, e.Cause, _ = watch.ErrorOf(last)
			switch last.Type {
			case types.HistoryEventTypeExecutionSucceeded:
				e.Status = "SUCCEEDED"
			case types.HistoryEventTypeExecutionFailed:
				e.Status = "FAILED"
			case types.HistoryEventTypeExecutionTimedOut:
				e.Status = "TIMED_OUT"
			case types.HistoryEventTypeExecutionAborted:
				e.Status = "ABORTED"
			}
		}
	}
	return e
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestDeployerFailures diagnoses the deployer's recorded failure paths and
// pins the text and JSON reports.
func TestDeployerFailures(t *testing.T) {
	histories := map[string]string{} // name -> recorded history
	for _, name := range []string{"digest-mismatch", "lock-held", "unhealthy", "timeout", "halt", "failure-dirty", "lambda-stack", "deploy-retry"} {
		histories[name] = watchtest.HistoryPath(name)
	}
	// Histories of the real deployer on the local backend, recorded by
	// cmd's TestFailOnLocalBackend -update.
	local, _ := filepath.Glob(filepath.Join("testdata", "history", "*.json"))
	for _, path := range local {
		histories[strings.TrimSuffix(filepath.Base(path), ".json")] = path
	}
	def := deployer.Definition(deployer.FunctionArn("us-east-1", "123456789012"))
	for name, path := range histories {
		t.Run(name, func(t *testing.T) {
			events := watchtest.Events(t, def, path)
			r, err := diagnose.Explain(executionOf(events), def, events, diagnose.Options{ReleaseFile: "release.yml"})
			if err != nil {
				t.Fatal(err)
			}
			var text, js bytes.Buffer
			if err := r.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if err := r.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", name+".golden.txt"), text.Bytes())
			golden(t, filepath.Join("testdata", name+".golden.json"), js.Bytes())
		})
	}
}

// withoutData is a history as GetExecutionHistory returns it with
// includeExecutionData false: no inputs or outputs.
func withoutData(events []types.HistoryEvent) []types.HistoryEvent {
	out := make([]types.HistoryEvent, len(events))
	for i, ev := range events {
		if d := ev.StateEnteredEventDetails; d != nil {
			c := *d
			c.Input = nil
			ev.StateEnteredEventDetails = &c
		}
		if d := ev.StateExitedEventDetails; d != nil {
			c := *d
			c.Output = nil
			ev.StateExitedEventDetails = &c
		}
		if d := ev.ExecutionStartedEventDetails; d != nil {
			c := *d
			c.Input = nil
			ev.ExecutionStartedEventDetails = &c
		}
		if d := ev.LambdaFunctionScheduledEventDetails; d != nil {
			c := *d
			c.Input = nil
			ev.LambdaFunctionScheduledEventDetails = &c
		}
		if d := ev.LambdaFunctionSucceededEventDetails; d != nil {
			c := *d
			c.Output = nil
			ev.LambdaFunctionSucceededEventDetails = &c
		}
		if d := ev.TaskSucceededEventDetails; d != nil {
			c := *d
			c.Output = nil
			ev.TaskSucceededEventDetails = &c
		}
		if d := ev.ExecutionSucceededEventDetails; d != nil {
			c := *d
			c.Output = nil
			ev.ExecutionSucceededEventDetails = &c
		}
		out[i] = ev
	}
	return out
}

// TestTwoPassRead checks that reading a history without data, then only
// the events the report needs with data (newest first), gives the same
// report as reading it all with data.
func TestTwoPassRead(t *testing.T) {
	def := deployer.Definition(deployer.FunctionArn("us-east-1", "123456789012"))
	names := []string{"digest-mismatch", "lock-held", "unhealthy", "timeout", "halt", "failure-dirty", "lambda-stack", "deploy-retry"}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			events := watchtest.Events(t, def, watchtest.HistoryPath(name))
			exec := executionOf(events)
			exec.Input = watch.InputOf(events[0])
			one, err := diagnose.Explain(exec, def, events, diagnose.Options{})
			if err != nil {
				t.Fatal(err)
			}
			x, _ := diagnose.NewExplainer(def)
			for _, ev := range withoutData(events) {
				x.Add(ev)
			}
			read := 0
			for i := len(events) - 1; i >= 0 && x.DataWanted(events[i].Id+1); i-- {
				x.AddData(events[i])
				read++
			}
			two := x.Report(exec, diagnose.Options{})
			var a, b bytes.Buffer
			one.WriteJSON(&a)
			two.WriteJSON(&b)
			if a.String() != b.String() {
				t.Errorf("two-pass report differs:\n%s\n--- one pass:\n%s", b.String(), a.String())
			}
			t.Logf("%d of %d events read again with data", read, len(events))
		})
	}
	t.Run("25000", func(t *testing.T) {
		events := longHistory(25000)
		exec := diagnose.Execution{Status: "FAILED", Input: watch.InputOf(events[0])}
		one, _ := diagnose.Explain(exec, def, events, diagnose.Options{})
		x, _ := diagnose.NewExplainer(def)
		for _, ev := range withoutData(events) {
			x.Add(ev)
		}
		read := 0
		for i := len(events) - 1; i >= 0 && x.DataWanted(events[i].Id+1); i-- {
			x.AddData(events[i])
			read++
		}
		var a, b bytes.Buffer
		one.WriteJSON(&a)
		x.Report(exec, diagnose.Options{}).WriteJSON(&b)
		if a.String() != b.String() {
			t.Errorf("two-pass report differs:\n%s\n--- one pass:\n%s", b.String(), a.String())
		}
		if read > 100 {
			t.Errorf("read %d events again for a failure at the end", read)
		}
	})
}
