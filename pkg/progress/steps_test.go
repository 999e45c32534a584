package progress_test

import (
	"strings"
	"testing"
	"time"

	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/progress"
	"github.com/odin-deploy/odin/pkg/watch"
	"github.com/odin-deploy/odin/pkg/watch/watchtest"
)

// The step counter's total is the happy path at every event, before and
// after a failure; the rollback is counted on its own, and neither count
// ever goes back.
func TestStepCountIsStable(t *testing.T) {
	tests := []struct {
		history string
		final   string
	}{
		{"deploy-retry", "11/11"},
		{"unhealthy", "8/11, rollback 3"},     // CleanUpFailure, ReleaseLockFailure, FailureClean
		{"halt", "8/11, rollback 3"},          // the same rollback, for a halt
		{"lock-held", "2/11, rollback 1"},     // Lock ended (failed), then FailureClean
		{"failure-dirty", "4/11, rollback 3"}, // CleanUpFailure failed: ReleaseLockDirty, FailureDirty
		{"aborted", "5/11"},                   // WaitForDeploy ended when the execution was aborted
	}
	for _, tt := range tests {
		t.Run(tt.history, func(t *testing.T) {
			def, evs := watchtest.Deployer(t, tt.history)
			m, err := progress.New(def, header)
			if err != nil {
				t.Fatal(err)
			}
			g, _ := watch.ParseDefinition(def)
			tr := watch.NewTranslator(g)
			var last progress.StepCount
			for _, h := range evs {
				for _, ev := range tr.Translate(h) {
					m.Apply(ev)
					c := m.Steps()
					if c.Total != 11 || c.Done < last.Done || c.Rollback < last.Rollback || last.OffPath && !c.OffPath {
						t.Fatalf("after event %d (%s %s): %s, was %s", ev.ID, ev.Kind, ev.Step, c, last)
					}
					last = c
				}
			}
			if got := m.Steps().String(); got != tt.final {
				t.Errorf("at the end: %s, want %s", got, tt.final)
			}
		})
	}
}

// TestVerdictNotDeployed: odin deploy --attach watches another release's
// deploy; its success is not the caller's, so the exit code is 1, and the
// verdict says which release was not deployed.
func TestVerdictNotDeployed(t *testing.T) {
	m := &progress.Model{Header: progress.Header{Project: "p", Config: "c", Release: "r-other", NotDeployed: "r-mine"}, Status: "SUCCEEDED"}
	v := m.Verdict(time.Now())
	if v.Status != "NOT_DEPLOYED" || v.Code != exitcode.Failed || !strings.Contains(v.Text, "succeeded") || !strings.HasSuffix(v.Text, "; release r-mine was not deployed (odin watched this deploy instead)") {
		t.Errorf("verdict %+v", v)
	}
	m.Status = ""
	if v := m.Verdict(time.Now()); v.Code != exitcode.Running || strings.Contains(v.Text, "not deployed") {
		t.Errorf("while it runs: %+v", v)
	}
}
