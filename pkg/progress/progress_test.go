package progress_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/progress"
	"github.com/odin-deploy/odin/pkg/watch"
	"github.com/odin-deploy/odin/pkg/watch/watchtest"
)

var header = progress.Header{Project: "hello", Config: "production", Release: "r-20261125-2a9f", Backend: "local",
	Account: "123456789012", Region: "us-east-1", Execution: "hello-production-r-20261125-2a9f"}

// replay folds the first n events of a recorded history (all when n < 0).
func replay(t *testing.T, name string, n int) *progress.Model {
	t.Helper()
	def, evs := watchtest.Deployer(t, name)
	m, err := progress.New(def, header)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := watch.ParseDefinition(def)
	tr := watch.NewTranslator(g)
	for i, h := range evs {
		if n >= 0 && i >= n {
			break
		}
		for _, ev := range tr.Translate(h) {
			m.Apply(ev)
		}
	}
	return m
}

func statuses(m *progress.Model) string {
	var b strings.Builder
	for _, r := range m.Rows {
		b.WriteString(r.Name + "=" + string(r.Status) + " ")
	}
	return b.String()
}

func TestOutcomes(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) // ignored once ended
	tests := []struct {
		history           string
		status            string
		code              int
		failStep, failErr string
		wantRows, verdict []string
	}{
		{"deploy-retry", "SUCCEEDED", 0, "", "",
			[]string{"Validate=succeeded", "CheckHealthy=succeeded", "Success=succeeded", "FailureClean=skipped", "CleanUpFailure=skipped"},
			[]string{"deploy of hello/production release r-20261125-2a9f succeeded in 21s"}},
		{"digest-mismatch", "FAILED", 1, "Validate", "BadReleaseError",
			[]string{"Validate=failed", "Lock=skipped", "FailureClean=failed"},
			[]string{"failed after 0ms at Validate: BadReleaseError: release digest mismatch"}},
		{"lock-held", "FAILED", 1, "Lock", "LockExistsError",
			[]string{"Validate=succeeded", "Lock=failed", "FailureClean=failed"},
			[]string{"at Lock: LockExistsError: deploys of hello/production are locked by release r-20261125-1c7e"}},
		{"halt", "HALTED", 4, "CheckHealthy", "HaltError",
			[]string{"CheckHealthy=failed", "CleanUpFailure=succeeded", "ReleaseLockFailure=succeeded", "FailureClean=failed"},
			[]string{"was halted after"}},
		// The deployer's own timeout ends the execution FAILED: it is still
		// a timeout to whoever reads the verdict or the exit code.
		{"timeout", "TIMED_OUT", 3, "CheckHealthy", "TimeoutError", []string{"CheckHealthy=failed"},
			[]string{"deploy of hello/production release r-20261125-2a9f timed out after 25s at CheckHealthy: TimeoutError: release r-20261125-2a9f is not healthy after its timeout of 300s"}},
		{"failure-dirty", "FAILED", 1, "Deploy", "DeployError",
			[]string{"Deploy=failed", "CleanUpFailure=failed", "ReleaseLockDirty=succeeded", "FailureDirty=failed"}, nil},
		{"aborted", "ABORTED", 4, "", "", []string{"Deploy=succeeded", "WaitForDeploy=stopped", "CheckHealthy=skipped"},
			[]string{"was aborted after 0ms"}},
		{"lambda-stack", "FAILED", 1, "Deploy", "Runtime.UnmarshalError", nil,
			// The nested JSON errorMessage is unwrapped to its innermost message.
			[]string{"Runtime.UnmarshalError: json: cannot unmarshal string into Go struct field"}},
	}
	for _, tt := range tests {
		t.Run(tt.history, func(t *testing.T) {
			m := replay(t, tt.history, -1)
			v := m.Verdict(now)
			if v.Status != tt.status || v.Code != tt.code {
				t.Errorf("verdict %+v, want %s exit %d", v, tt.status, tt.code)
			}
			if tt.failStep != "" && (m.FirstFailure == nil || m.FirstFailure.Step != tt.failStep || m.FirstFailure.Error != tt.failErr) {
				t.Errorf("first failure %+v, want %s %s", m.FirstFailure, tt.failStep, tt.failErr)
			}
			got := statuses(m)
			for _, w := range tt.wantRows {
				if !strings.Contains(got, w+" ") {
					t.Errorf("want %s in %s", w, got)
				}
			}
			for _, w := range tt.verdict {
				if !strings.Contains(v.Text, w) {
					t.Errorf("verdict %q lacks %q", v.Text, w)
				}
			}
		})
	}
}

// The verdict reads the deployer's error names: they must be the ones it
// fails with, and only the first failure decides.
func TestDeployerErrorVerdicts(t *testing.T) {
	def := []byte(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"x","End":true}}}`)
	at := time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)
	tests := []struct {
		status, firstErr, endErr string
		want                     string
		code                     int
	}{
		{"FAILED", (&deployer.TimeoutError{}).ErrorType(), "TimeoutError", "TIMED_OUT", exitcode.TimedOut},
		{"FAILED", (&deployer.HaltError{}).ErrorType(), "HaltError", "HALTED", exitcode.Aborted},
		// A failed rollback after a timeout ends on another error: the
		// first failure still says what happened.
		{"FAILED", "TimeoutError", "CleanUpError", "TIMED_OUT", exitcode.TimedOut},
		{"FAILED", "DeployError", "TimeoutError", "FAILED", exitcode.Failed},
		{"TIMED_OUT", "", "States.Timeout", "TIMED_OUT", exitcode.TimedOut},
	}
	for _, tt := range tests {
		t.Run(tt.status+"/"+tt.firstErr, func(t *testing.T) {
			m, _ := progress.New(def, header)
			evs := []watch.Event{{Kind: watch.ExecutionStarted, ID: 1, Time: at}, {Kind: watch.StepEntered, ID: 2, State: "T", Step: "T", Time: at}}
			if tt.firstErr != "" {
				evs = append(evs, watch.Event{Kind: watch.StepFailed, ID: 3, State: "T", Step: "T", Time: at.Add(time.Minute),
					Error: tt.firstErr, Cause: `{"errorMessage":"release r-20261125-2a9f is not healthy after its timeout of 60s","errorType":"` + tt.firstErr + `"}`})
			}
			evs = append(evs, watch.Event{Kind: watch.ExecutionEnded, ID: 4, Status: tt.status, Error: tt.endErr, Time: at.Add(time.Minute)})
			for _, ev := range evs {
				m.Apply(ev)
			}
			v := m.Verdict(at)
			if v.Status != tt.want || v.Code != tt.code {
				t.Fatalf("verdict %+v, want %s exit %d", v, tt.want, tt.code)
			}
			if tt.want == "TIMED_OUT" && tt.firstErr != "" {
				want := "deploy of hello/production release r-20261125-2a9f timed out after 1m00s at T: " + tt.firstErr +
					": release r-20261125-2a9f is not healthy after its timeout of 60s; see why with: odin fail hello-production-r-20261125-2a9f"
				if v.Text != want {
					t.Errorf("text %q\nwant %q", v.Text, want)
				}
			}
		})
	}
}

// Part way through deploy-retry: the first health check failed and its
// retry is pending.
func TestRunningWithRetry(t *testing.T) {
	def, evs := watchtest.Deployer(t, "deploy-retry")
	n := 0
	for i, h := range evs {
		if h.Type == types.HistoryEventTypeLambdaFunctionFailed {
			n = i + 1
			break
		}
	}
	_ = def
	m := replay(t, "deploy-retry", n)
	r := m.Current()
	if r == nil || r.Name != "CheckHealthy" || r.Status != progress.Retrying || r.Attempt != 1 || r.Error != "HealthError" {
		t.Fatalf("current %+v", r)
	}
	now := m.Started.Add(40 * time.Second)
	v := m.Verdict(now)
	if v.Status != "RUNNING" || v.Code != 5 || !strings.Contains(v.Text, "still running after 40s (at CheckHealthy)") {
		t.Fatalf("verdict %+v", v)
	}
	// Nothing has failed: the total is the happy path (11 states), not the
	// 17 that include the rollback states.
	if c := m.Steps(); c.String() != "6/11" {
		t.Fatalf("steps %s, want 6/11", c)
	}
	if m.Health == nil || m.Health.Step != "Deploy" || m.Health.Services[0].Launching != 2 {
		t.Fatalf("health %+v", m.Health)
	}
}

// A task's exit repeats its attempt's output and later tasks pass the
// report along: the model keeps the report from the step that made it.
func TestHealthFromTheStepThatMadeIt(t *testing.T) {
	m := replay(t, "deploy-retry", -1)
	if m.Health == nil || m.Health.Step != "CheckHealthy" || !m.Health.At.Equal(m.Started.Add(21*time.Second)) {
		t.Fatalf("health %+v, want CheckHealthy's at +21s", m.Health)
	}
	def, evs := watchtest.Deployer(t, "deploy-retry")
	m, _ = progress.New(def, header)
	g, _ := watch.ParseDefinition(def)
	tr := watch.NewTranslator(g)
	changes := 0
	for _, h := range evs {
		for _, ev := range tr.Translate(h) {
			before := m.Health
			m.Apply(ev)
			if m.Health != before {
				changes++
				if ev.Kind != watch.AttemptSucceeded {
					t.Errorf("health changed on %s %s (event %d)", ev.Kind, ev.Step, ev.ID)
				}
			}
		}
	}
	if changes != 3 {
		t.Errorf("health changed %d times, want 3 (Deploy, CheckHealthy twice)", changes)
	}
}

// A loop (WaitForHealthy → CheckHealthy → Healthy? → WaitForHealthy) counts
// visits and adds up time over them; the last visit's time is apart.
func TestLoopVisits(t *testing.T) {
	m := replay(t, "deploy-retry", -1)
	for _, r := range m.Rows {
		if r.Name == "WaitForHealthy" {
			if r.Visits != 2 || r.Duration(time.Time{}) != 10*time.Second || r.Last != 5*time.Second {
				t.Fatalf("WaitForHealthy visits %d spent %s, the last %s", r.Visits, r.Duration(time.Time{}), r.Last)
			}
			return
		}
	}
	t.Fatal("no WaitForHealthy row")
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		850 * time.Millisecond: "850ms", 12 * time.Second: "12s", 185 * time.Second: "3m05s", 3720 * time.Second: "1h02m",
	} {
		if got := progress.FormatDuration(d); got != want {
			t.Errorf("%s: got %s want %s", d, got, want)
		}
	}
}

func TestHistoryWarning(t *testing.T) {
	m, _ := progress.New([]byte(`{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`), header)
	m.Apply(watch.Event{Kind: watch.StepEntered, ID: 23999, State: "P", Step: "P"})
	if m.HistoryWarning != "" {
		t.Fatal("warned early")
	}
	m.Apply(watch.Event{Kind: watch.StepSucceeded, ID: 24000, State: "P", Step: "P"})
	if !strings.Contains(m.HistoryWarning, "24000 events") {
		t.Fatalf("warning %q", m.HistoryWarning)
	}
}

// Any event stream (out of order, unknown steps, repeated ends): Apply never
// panics and the counts stay sane.
func FuzzApply(f *testing.F) {
	f.Add([]byte{1, 0, 2, 1, 3, 1, 6, 1, 7, 0})
	kinds := []watch.Kind{watch.ExecutionStarted, watch.StepEntered, watch.AttemptStarted, watch.RetryScheduled,
		watch.AttemptFailed, watch.AttemptSucceeded, watch.StepSucceeded, watch.StepFailed, watch.ExecutionEnded}
	steps := []string{"Validate", "CheckHealthy", "FailureClean", "Unknown", ""}
	statuses := []string{"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", ""}
	def, _ := watchtest.Deployer(f, "lock-held")
	f.Fuzz(func(t *testing.T, script []byte) {
		m, err := progress.New(def, header)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(script); i += 2 {
			k, s := int(script[i]), int(script[i+1])
			step := steps[s%len(steps)]
			m.Apply(watch.Event{Kind: kinds[k%len(kinds)], ID: int64(i), State: step, Step: step, Attempt: s % 4,
				Time: time.Unix(int64(s), 0), Status: statuses[k%len(statuses)], Error: "E",
				Output: `{"health":{"healthy":false,"services":{"web":null,"api":{"desired":1}}}}`})
		}
		c := m.Steps()
		if c.Done > c.Total || c.Total+c.Rollback > len(m.Rows) || c.Rollback > 0 && !c.OffPath {
			t.Fatalf("steps %+v of %d rows", c, len(m.Rows))
		}
		_ = m.Verdict(time.Unix(1000, 0))
		_ = m.Elapsed(time.Unix(0, 0))
	})
}
