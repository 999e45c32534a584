package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/deploy"
	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/iostreams"
)

// session is how one odin invocation meets its user: what they type on
// stdin (a terminal when tty) and the clock odin reads.
type session struct {
	tty   bool
	input string
	now   func() time.Time
}

// runAs runs odin in session s.
func (o *localOdin) runAs(ctx context.Context, s session, args ...string) (int, string, string) {
	io, in, out, errOut := iostreams.Test()
	io.SetStdinTTY(s.tty)
	in.WriteString(s.input)
	if s.now == nil {
		s.now = time.Now
	}
	code := Run(ctx, o.factory(io, s.now), append([]string{"--data-dir", o.dataDir}, args...))
	return code, out.String(), errOut.String()
}

// lockKey is where the deployer keeps the deploy lock of project/config.
func (o *localOdin) lockKey(project, configName string) string {
	return contract.LockKey(o.backend.Endpoint().Account, project, configName)
}

// putLock writes a lock object as the deployer would, naming execution.
func (o *localOdin) putLock(ctx context.Context, project, configName string, l contract.Lock) {
	o.t.Helper()
	body, err := json.Marshal(l)
	if err != nil {
		o.t.Fatal(err)
	}
	if _, err := o.s3Client().PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(deployer.Bucket), Key: aws.String(o.lockKey(project, configName)), Body: bytes.NewReader(body),
	}); err != nil {
		o.t.Fatal(err)
	}
}

// TestHaltRollsBackOnLocalBackend deploys v1, then v2 whose instances never
// become healthy; while v2's health checks run, `odin halt v2.yml` makes the
// deployer roll back: exit 4, v1 keeps serving, the lock is released.
func TestHaltRollsBackOnLocalBackend(t *testing.T) {
	t.Parallel() // waits on servers and health checks, not the CPU
	if testing.Short() {
		t.Skip("deploys real processes")
	}
	o := startLocalOdin(t)
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	v1, port := hello{Project: "halt", Config: "e2e", Version: "v1"}.write(t)
	v2, _ := hello{Project: "halt", Config: "e2e", Version: "v2", HealthPath: "/never-healthy", Port: port}.write(t)
	p2 := o.plan(v2)

	if code, out, errOut := o.run(ctx, "deploy", v1, "--output", "plain"); code != 0 {
		t.Fatalf("deploy v1: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if body := answer(t, port); !strings.Contains(body, "version v1") {
		t.Fatalf("v1 answers %q", body)
	}
	if code, out, errOut := o.run(ctx, "deploy", v2, "--detach"); code != 0 {
		t.Fatalf("deploy v2 --detach: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	waitFor(ctx, t, "v2's health checks", func() bool { return o.entered(ctx, p2.ExecutionArn, "CheckHealthy") })
	if body := answer(t, port); !strings.Contains(body, "version v1") {
		t.Fatalf("while v2 is unhealthy the balancer answers %q, want v1", body)
	}

	code, out, errOut := o.run(ctx, "halt", v2, "--reason", "e2e test", "--output", "plain")
	if code != 4 {
		t.Fatalf("halt: exit %d, want 4\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if want := "halt requested (s3://" + deployer.Bucket + "/" + contract.Root(o.backend.Endpoint().Account, "halt", "e2e") + "/halt)"; !strings.Contains(errOut, want) {
		t.Errorf("halt does not say what it wrote (%q):\n%s", want, errOut)
	}
	for _, want := range []string{"HaltError", "CleanUpFailure: succeeded", "ReleaseLockFailure: succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("the rollback as halt shows it lacks %q:\n%s", want, out)
		}
	}
	if want := "HALTED: deploy of halt/e2e release " + p2.ReleaseID + " was halted after "; !strings.HasPrefix(lastLine(out), want) {
		t.Errorf("verdict %q, want %q…", lastLine(out), want)
	}

	if d := o.describe(ctx, p2.ExecutionArn); d.Status != sfntypes.ExecutionStatusFailed || aws.ToString(d.Error) != "HaltError" {
		t.Errorf("v2's execution is %s (%s), want FAILED (HaltError)", d.Status, aws.ToString(d.Error))
	}
	if body := answer(t, port); !strings.Contains(body, "version v1") {
		t.Errorf("after the halt the balancer answers %q, want v1", body)
	}
	if o.objectExists(ctx, o.lockKey("halt", "e2e")) {
		t.Errorf("the rollback left the lock behind")
	}
	// Halting again: nothing runs any more.
	if code, _, errOut := o.run(ctx, "halt", v2); code != 1 || !strings.Contains(errOut, "nothing to halt") {
		t.Errorf("second halt: exit %d, want 1 (nothing to halt); stderr %s", code, errOut)
	}
}

// TestUnlockOnLocalBackend clears locks: one held by a finished (dead)
// deploy is shown and deleted after confirmation (on a terminal, or with
// --yes); one held by a running deploy is refused unless --force.
func TestUnlockOnLocalBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("deploys real processes")
	}
	o := startLocalOdin(t)
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()

	t.Run("dead release", func(t *testing.T) {
		// A finished deploy of hello/failing; its lock is written afterwards
		// as if its cleanup had never run.
		file := failingRelease(t)
		p := o.plan(file)
		if code, out, errOut := o.run(ctx, "deploy", file, "--detach"); code != 0 {
			t.Fatalf("deploy: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		waitFor(ctx, t, "the failing deploy to end", func() bool { return o.describe(ctx, p.ExecutionArn).Status != sfntypes.ExecutionStatusRunning })
		acquired := time.Now().UTC().Truncate(time.Second)
		lock := contract.Lock{ReleaseID: p.ReleaseID, Owner: "arn:aws:iam::000000000000:user/gone", Execution: p.ExecutionArn,
			AcquiredAt: acquired.Format(time.RFC3339)}
		later := func() time.Time { return acquired.Add(2 * time.Hour) }
		o.putLock(ctx, "hello", "failing", lock)
		key := o.lockKey("hello", "failing")

		code, out, errOut := o.runAs(ctx, session{now: later}, "unlock", file)
		if code != 2 || !strings.Contains(errOut, "pass --yes") || !o.objectExists(ctx, key) {
			t.Errorf("unlock without a terminal or --yes: exit %d, want 2 and the lock kept\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		for _, want := range []string{"lock s3://" + deployer.Bucket + "/" + key, "release   " + p.ReleaseID, "held by   arn:aws:iam::000000000000:user/gone",
			"execution " + p.ExecutionArn, "(2h0m0s old)"} {
			if !strings.Contains(out, want) {
				t.Errorf("unlock does not show %q:\n%s", want, out)
			}
		}

		code, out, errOut = o.runAs(ctx, session{tty: true, input: "n\n"}, "unlock", file)
		if code != 1 || !strings.Contains(errOut, "Delete this lock? [y/N]") || !strings.Contains(errOut, "not confirmed") || !o.objectExists(ctx, key) {
			t.Errorf("unlock answered no: exit %d, want 1 and the lock kept\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}

		code, out, errOut = o.runAs(ctx, session{tty: true, input: "y\n"}, "unlock", file)
		if code != 0 || !strings.Contains(out, "lock deleted") || o.objectExists(ctx, key) {
			t.Errorf("unlock answered yes: exit %d, want 0 and the lock gone\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}

		o.putLock(ctx, "hello", "failing", lock)
		code, out, errOut = o.run(ctx, "unlock", "--project", "hello", "--config-name", "failing", "--yes")
		if code != 0 || !strings.Contains(out, "lock deleted") || o.objectExists(ctx, key) {
			t.Errorf("unlock --yes: exit %d, want 0 and the lock gone\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		code, out, _ = o.run(ctx, "unlock", "--project", "hello", "--config-name", "failing", "--yes")
		if code != 0 || !strings.Contains(out, "no lock is held for hello/failing") {
			t.Errorf("unlock with no lock: exit %d\nstdout:\n%s", code, out)
		}
	})

	t.Run("live release", func(t *testing.T) {
		// A deploy that stays unhealthy holds the deployer's own lock.
		file, _ := hello{Project: "locked", Config: "e2e", Version: "v1", HealthPath: "/never-healthy"}.write(t)
		p := o.plan(file)
		key := o.lockKey("locked", "e2e")
		if code, out, errOut := o.run(ctx, "deploy", file, "--detach"); code != 0 {
			t.Fatalf("deploy: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		waitFor(ctx, t, "the deploy to take its lock", func() bool { return o.objectExists(ctx, key) })

		code, out, errOut := o.run(ctx, "unlock", file, "--yes")
		if code != 1 || !o.objectExists(ctx, key) {
			t.Errorf("unlock of a running deploy's lock: exit %d, want 1 and the lock kept\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		for _, want := range []string{"still running (" + p.Execution + ")", "odin halt " + p.Execution, "--force"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("the refusal lacks %q:\n%s", want, errOut)
			}
		}

		code, out, errOut = o.run(ctx, "unlock", file, "--yes", "--force")
		if code != 0 || !strings.Contains(out, "lock deleted") || o.objectExists(ctx, key) {
			t.Errorf("unlock --force: exit %d, want 0 and the lock gone\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}

		if code, out, errOut := o.run(ctx, "halt", file, "--abort", "--yes", "--no-follow"); code != 0 {
			t.Errorf("halt --abort: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
	})
}

// TestHistoryOnLocalBackend deploys hello/failing twice, first the broken
// release, then a working one, and lists them: newest first, with the
// outcome and error of each, as a table and as JSON.
func TestHistoryOnLocalBackend(t *testing.T) {
	t.Parallel() // waits on servers and health checks, not the CPU
	if testing.Short() {
		t.Skip("deploys real processes")
	}
	o := startLocalOdin(t)
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	broken := failingRelease(t)
	fixed, _ := hello{Project: "hello", Config: "failing", Version: "fixed"}.write(t)
	other, _ := hello{Project: "other", Config: "e2e", Version: "v1"}.write(t)
	pb, pf, po := o.plan(broken), o.plan(fixed), o.plan(other)

	for _, d := range []struct {
		file string
		code int
	}{{broken, 1}, {fixed, 0}, {other, 0}} {
		if code, out, errOut := o.run(ctx, "deploy", d.file, "--output", "plain"); code != d.code {
			t.Fatalf("deploy %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", d.file, code, d.code, out, errOut)
		}
	}

	code, out, errOut := o.run(ctx, "history", "--project", "hello", "--config-name", "failing", "--output", "plain")
	if code != 0 {
		t.Fatalf("history: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "STARTED ") {
		t.Fatalf("history is not a header and two deploys:\n%s", out)
	}
	for i, want := range []struct{ release, outcome string }{{pf.ReleaseID, "SUCCEEDED"}, {pb.ReleaseID, "FAILED (DeployError)"}} {
		row := lines[i+1]
		if !strings.Contains(row, " hello/failing ") || !strings.Contains(row, " "+want.release+" ") || !strings.HasSuffix(row, " "+want.outcome) ||
			!strings.Contains(row, "000000000000/us-east-1") {
			t.Errorf("row %d is %q, want hello/failing %s … %s", i+1, row, want.release, want.outcome)
		}
	}

	code, out, errOut = o.run(ctx, "history", "--all", "--output", "json")
	if code != 0 {
		t.Fatalf("history --all --output json: exit %d\nstderr:\n%s", code, errOut)
	}
	var recs []deploy.Record
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatalf("history --output json: %v\n%s", err, out)
	}
	type row struct{ Project, Config, ReleaseID, Status, Error, Execution string }
	var got []row
	for _, r := range recs {
		got = append(got, row{r.Project, r.Config, r.ReleaseID, r.Status, r.Error, r.Execution})
		if r.Started.IsZero() || r.Stopped.Before(r.Started) || r.Duration == "" || r.DeployedBy == "" || r.Account != "000000000000" {
			t.Errorf("record %s lacks its times, duration, deployer or account: %+v", r.Execution, r)
		}
	}
	want := []row{
		{"other", "e2e", po.ReleaseID, "SUCCEEDED", "", po.Execution},
		{"hello", "failing", pf.ReleaseID, "SUCCEEDED", "", pf.Execution},
		{"hello", "failing", pb.ReleaseID, "FAILED", "DeployError", pb.Execution},
	}
	if len(got) != len(want) {
		t.Fatalf("history --all: %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d: %+v, want %+v", i, got[i], want[i])
		}
	}

	code, out, _ = o.run(ctx, "history", "--all", "--status", "failed", "--output", "json")
	recs = nil
	if err := json.Unmarshal([]byte(out), &recs); code != 0 || err != nil || len(recs) != 1 || recs[0].Execution != pb.Execution {
		t.Errorf("history --status failed: exit %d, %d records (%v), want only %s", code, len(recs), err, pb.Execution)
	}
}
