package cmd

import (
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
