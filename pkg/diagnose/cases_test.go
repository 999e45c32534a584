package diagnose_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/diagnose"
)

// history builds events from compact lines "TYPE [name] [error|cause]";
// each event's previous id is the one before it (one thread).
func history(lines ...string) []types.HistoryEvent {
	t0 := time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)
	var evs []types.HistoryEvent
	for i, l := range lines {
		f := strings.SplitN(l, " ", 3)
		ev := types.HistoryEvent{Id: int64(i + 1), PreviousEventId: int64(i), Type: types.HistoryEventType(f[0]),
			Timestamp: aws.Time(t0.Add(time.Duration(i) * time.Second))}
		arg := func(n int) string {
			if len(f) > n {
				return f[n]
			}
			return ""
		}
		errName, cause, _ := strings.Cut(arg(1)+" "+arg(2), "|")
		errName = strings.TrimSpace(errName)
		switch {
		case f[0] == "ExecutionStarted":
			ev.ExecutionStartedEventDetails = &types.ExecutionStartedEventDetails{Input: aws.String(`{"project_name":"p","config_name":"c","release_id":"r-1"}`)}
		case strings.HasSuffix(f[0], "StateEntered"):
			ev.StateEnteredEventDetails = &types.StateEnteredEventDetails{Name: aws.String(arg(1)), Input: aws.String(`{"n":1}`)}
		case strings.HasSuffix(f[0], "StateExited"):
			ev.StateExitedEventDetails = &types.StateExitedEventDetails{Name: aws.String(arg(1)), Output: aws.String(`{}`)}
		case f[0] == "TaskScheduled":
			ev.TaskScheduledEventDetails = &types.TaskScheduledEventDetails{Resource: aws.String("invoke"), ResourceType: aws.String("lambda"), Region: aws.String("us-east-1"), Parameters: aws.String("{}")}
		case f[0] == "TaskFailed":
			ev.TaskFailedEventDetails = &types.TaskFailedEventDetails{Error: aws.String(errName), Cause: aws.String(cause)}
		case f[0] == "TaskTimedOut":
			ev.TaskTimedOutEventDetails = &types.TaskTimedOutEventDetails{Error: aws.String(errName), Cause: aws.String(cause)}
		case f[0] == "ExecutionFailed":
			ev.ExecutionFailedEventDetails = &types.ExecutionFailedEventDetails{Error: aws.String(errName), Cause: aws.String(cause)}
		case f[0] == "ExecutionTimedOut":
			ev.ExecutionTimedOutEventDetails = &types.ExecutionTimedOutEventDetails{Error: aws.String(errName), Cause: aws.String(cause)}
		}
		if i == 1 {
			ev.PreviousEventId = 0 // the first state's Entered, like AWS
		}
		evs = append(evs, ev)
	}
	return evs
}

func TestCases(t *testing.T) {
	tests := []struct {
		name       string
		status     string
		events     []types.HistoryEvent
		verdict    diagnose.Verdict
		state, err string
		attempts   int
		caught     bool
		path       string
		problems   int
		nextHas    string
		textHas    string
	}{
		{
			name: "retries exhausted, uncaught", status: "FAILED",
			events: history("ExecutionStarted", "TaskStateEntered Work", "TaskScheduled", "TaskStarted", "TaskFailed Oops|first",
				"TaskScheduled", "TaskStarted", "TaskFailed Oops|second", "TaskScheduled", "TaskStarted", "TaskFailed Oops|third", "ExecutionFailed Oops|third"),
			verdict: diagnose.Failed, state: "Work", err: "Oops", attempts: 3, caught: false, nextHas: "failed with Oops",
			textHas: "#3  21:00:08  failed after 1s  Oops",
		},
		{
			name: "task timeout", status: "FAILED",
			events:  history("ExecutionStarted", "TaskStateEntered Slow", "TaskScheduled", "TaskStarted", "TaskTimedOut States.Timeout|", "ExecutionFailed States.Timeout|"),
			verdict: diagnose.Failed, state: "Slow", err: "States.Timeout", attempts: 1, nextHas: "TimeoutSeconds",
		},
		{
			name: "execution timed out while waiting", status: "TIMED_OUT",
			events:  history("ExecutionStarted", "WaitStateEntered Nap", "ExecutionTimedOut States.Timeout|Execution timed out"),
			verdict: diagnose.TimedOut, state: "Nap", err: "States.Timeout", nextHas: "TimeoutSeconds",
		},
		{
			name: "aborted during a task", status: "ABORTED",
			events:  history("ExecutionStarted", "TaskStateEntered Deploy", "TaskScheduled", "TaskStarted", "ExecutionAborted"),
			verdict: diagnose.Aborted, state: "Deploy", attempts: 1, nextHas: "StopExecution",
		},
		{
			name: "fail state reached by a choice", status: "FAILED",
			events:  history("ExecutionStarted", "ChoiceStateEntered Ok?", "ChoiceStateExited Ok?", "FailStateEntered Nope", "ExecutionFailed NotOk|it was not ok"),
			verdict: diagnose.Failed, state: "Nope", err: "NotOk", textHas: "it was not ok",
		},
		{
			name: "invalid release names positions", status: "FAILED",
			events: history("ExecutionStarted", "TaskStateEntered Validate", "TaskScheduled", "TaskStarted",
				`TaskFailed BadReleaseError|{"errorMessage":"release s3://b/k is invalid:\nrelease.yml:3:5: services.web.instances: must be >= 1\nrelease.yml:9:1: unknown key \"sevices\"","errorType":"BadReleaseError"}`,
				"TaskStateExited Validate", "FailStateEntered FailureClean", "ExecutionFailed BadReleaseError|x"),
			verdict: diagnose.Failed, state: "Validate", err: "BadReleaseError", attempts: 1, caught: true, path: "Validate → FailureClean",
			problems: 2, nextHas: "odin validate", textHas: "release.yml:9:1: unknown key",
		},
		{
			name: "lambda died", status: "FAILED",
			events:  history("ExecutionStarted", "TaskStateEntered Work", "TaskScheduled", "TaskStarted", "TaskFailed Lambda.Unknown|The cause could not be determined", "ExecutionFailed Lambda.Unknown|x"),
			verdict: diagnose.Failed, state: "Work", err: "Lambda.Unknown", attempts: 1, nextHas: "CloudWatch",
		},
		{
			name: "still running", status: "RUNNING",
			events:  history("ExecutionStarted", "TaskStateEntered Work", "TaskScheduled", "TaskStarted", "TaskFailed Flaky|once", "TaskScheduled"),
			verdict: diagnose.Running, nextHas: "odin status", textHas: "still running, in Work.",
		},
		{
			name: "running while rolling back", status: "RUNNING",
			events: history("ExecutionStarted", "TaskStateEntered CheckHealthy", "TaskScheduled", "TaskStarted", "TaskFailed HealthError|web-2 down",
				"TaskStateExited CheckHealthy", "TaskStateEntered CleanUpFailure", "TaskScheduled"),
			verdict: diagnose.Running, state: "CheckHealthy", err: "HealthError", attempts: 1, caught: true,
			path:    "CheckHealthy → CleanUpFailure",
			textHas: "still running, in CleanUpFailure. It is handling a failure: HealthError in CheckHealthy.",
		},
		{
			name: "empty history", status: "FAILED",
			verdict: diagnose.Failed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := diagnose.Explain(diagnose.Execution{Name: "e", Status: tt.status}, nil, tt.events, diagnose.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var text bytes.Buffer
			if err := r.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if r.Verdict != tt.verdict {
				t.Errorf("verdict %s, want %s", r.Verdict, tt.verdict)
			}
			if tt.state != "" {
				if r.Failure == nil {
					t.Fatalf("no failure:\n%s", text.String())
				}
				f := r.Failure
				if f.State != tt.state || f.Error != tt.err || len(f.Attempts) != tt.attempts || f.Caught != tt.caught {
					t.Errorf("failure %s %s attempts %d caught %v; want %s %s %d %v", f.State, f.Error, len(f.Attempts), f.Caught, tt.state, tt.err, tt.attempts, tt.caught)
				}
			}
			if tt.path != "" && strings.Join(r.Path, " → ") != tt.path {
				t.Errorf("path %v, want %s", r.Path, tt.path)
			}
			if len(r.Problems) != tt.problems {
				t.Errorf("problems %q", r.Problems)
			}
			if tt.nextHas != "" && !strings.Contains(strings.Join(r.NextSteps, "\n"), tt.nextHas) {
				t.Errorf("next steps lack %q: %q", tt.nextHas, r.NextSteps)
			}
			if tt.textHas != "" && !strings.Contains(text.String(), tt.textHas) {
				t.Errorf("text lacks %q:\n%s", tt.textHas, text.String())
			}
		})
	}
}

// FuzzExplain feeds arbitrary event sequences, causes and outputs: a
// report must come out, never a panic.
func FuzzExplain(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6}, `{"errorMessage":"{\"errorMessage\":\"x\"}","stackTrace":[["a",1]]}`, `{"health":{"services":{"w":{"instances":[{"state":"bad","log_tail":["l"]}]}}}}`)
	f.Add([]byte{9, 9, 9}, "plain", "{")
	kinds := []string{"TaskStateEntered A", "TaskScheduled", "TaskStarted", "TaskFailed E|C", "TaskStateExited A",
		"PassStateEntered B", "PassStateExited B", "FailStateEntered F", "ExecutionFailed E|C", "ExecutionAborted",
		"ExecutionTimedOut T|C", "ExecutionSucceeded", "TaskStateEntered B", "ParallelStateStarted", "MapIterationStarted"}
	f.Fuzz(func(t *testing.T, seq []byte, cause, output string) {
		if len(seq) > 200 {
			seq = seq[:200]
		}
		lines := []string{"ExecutionStarted"}
		for _, b := range seq {
			lines = append(lines, kinds[int(b)%len(kinds)])
		}
		evs := history(lines...)
		for i := range evs {
			if b := seq[max(i-1, 0)%max(len(seq), 1):]; len(b) > 0 {
				evs[i].PreviousEventId = int64(int(b[0]) % (i + 1))
			}
			if d := evs[i].TaskFailedEventDetails; d != nil {
				d.Cause = aws.String(cause)
			}
			if d := evs[i].StateExitedEventDetails; d != nil {
				d.Output = aws.String(output)
			}
			if d := evs[i].StateEnteredEventDetails; d != nil {
				d.Input = aws.String(output)
			}
		}
		for _, status := range []string{"", "FAILED", "RUNNING", "SUCCEEDED"} {
			r, err := diagnose.Explain(diagnose.Execution{Status: status, Cause: cause}, nil, evs, diagnose.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := r.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			if err := r.WriteJSON(&b); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestLongPathAfterFailure: a loop after the failure is summarised, and
// the final state is kept.
func TestLongPathAfterFailure(t *testing.T) {
	lines := []string{"ExecutionStarted", "TaskStateEntered Work", "TaskScheduled", "TaskStarted", "TaskFailed Oops|x", "TaskStateExited Work"}
	for range 60 {
		lines = append(lines, "PassStateEntered Retry", "PassStateExited Retry", "WaitStateEntered Nap", "WaitStateExited Nap")
	}
	lines = append(lines, "FailStateEntered Given up", "ExecutionFailed Oops|x")
	r, err := diagnose.Explain(diagnose.Execution{Status: "FAILED"}, nil, history(lines...), diagnose.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Path) != 50 || r.Path[0] != "Work" || r.Path[49] != "Given" || r.PathOmitted != 121+1-50 {
		t.Errorf("path %d states (%s … %s), %d omitted", len(r.Path), r.Path[0], r.Path[len(r.Path)-1], r.PathOmitted)
	}
	var b bytes.Buffer
	r.WriteText(&b)
	if !strings.Contains(b.String(), "more → Given") {
		t.Errorf("text:\n%s", b.String())
	}
}
