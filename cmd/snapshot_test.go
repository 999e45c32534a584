package cmd

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/odin-deploy/odin/pkg/watch/watchtest"
)

// TestSnapshotWhileRunning: status --no-follow of a deploy in its health
// checks shows the steps ahead of it, not the rollback it may never need,
// and exits 5.
func TestSnapshotWhileRunning(t *testing.T) {
	r := replayOf(t, "deploy-retry")
	r.SetVisible(12)
	code, out, errOut := replayOdin(t, r, "status", watchtest.ExecutionArn, "--no-follow", "--output", "plain")
	if code != 5 || !strings.HasPrefix(lastLine(out), "RUNNING") {
		t.Fatalf("exit %d, want 5 and a RUNNING verdict\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"ReleaseLock ", "pending"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
	for _, rollback := range []string{"CleanUpFailure", "ReleaseLockFailure", "FailureClean"} {
		if strings.Contains(out, rollback) {
			t.Errorf("the table of a running deploy shows rollback step %s:\n%s", rollback, out)
		}
	}
}

// TestSnapshotJSON: status --no-follow --output json speaks the live view's
// grammar: a start line, then the outcome.
func TestSnapshotJSON(t *testing.T) {
	for _, tt := range []struct {
		visible  int
		status   string
		exitCode int
	}{{12, "RUNNING", 5}, {0, "SUCCEEDED", 0}} {
		r := replayOf(t, "deploy-retry")
		if tt.visible > 0 {
			r.SetVisible(tt.visible)
		}
		code, out, errOut := replayOdin(t, r, "status", watchtest.ExecutionArn, "--no-follow", "--output", "json")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != tt.exitCode || len(lines) != 2 {
			t.Fatalf("exit %d, want %d and two lines\nstdout:\n%s\nstderr:\n%s", code, tt.exitCode, out, errOut)
		}
		var start, outcome struct {
			Type, Status string
			ExitCode     int `json:"exit_code"`
			Header       struct{ Execution string }
			Steps        []struct{ Name, Status string }
		}
		if err := json.Unmarshal([]byte(lines[0]), &start); err != nil || start.Type != "start" || start.Header.Execution == "" || len(start.Steps) == 0 {
			t.Errorf("start line %s (%v)", lines[0], err)
		}
		if err := json.Unmarshal([]byte(lines[1]), &outcome); err != nil || outcome.Type != "outcome" || outcome.Status != tt.status || outcome.ExitCode != tt.exitCode || len(outcome.Steps) == 0 {
			t.Errorf("outcome line %s (%v)", lines[1], err)
		}
	}
}
