package cmd

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// TestDeployAgainRollsBackAndRetries deploys releases that were deployed
// before: v1, then v2, then v1 again is a rollback, a second attempt of v1
// that serves v1 again; v1 once more is what the latest deploy left serving,
// so nothing is deployed. A release that failed (its input made with a
// clock an hour fast) is retried by deploying the same file again.
func TestDeployAgainRollsBackAndRetries(t *testing.T) {
	t.Parallel() // waits on servers and health checks, not the CPU
	if testing.Short() {
		t.Skip("deploys real processes")
	}
	o := startLocalOdin(t)
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	v1, port := hello{Project: "again", Config: "e2e", Version: "v1"}.write(t)
	v2, _ := hello{Project: "again", Config: "e2e", Version: "v2", Port: port}.write(t)
	p1, p2 := o.plan(v1), o.plan(v2)

	deploy := func(file, want string) string {
		t.Helper()
		code, out, errOut := o.run(ctx, "deploy", file, "--output", "plain")
		if code != 0 || !strings.Contains(errOut, want) {
			t.Fatalf("deploy %s: exit %d, want 0 and %q\nstdout:\n%s\nstderr:\n%s", file, code, want, out, errOut)
		}
		return errOut
	}
	deploy(v1, "started "+p1.Execution+"\n")
	deploy(v2, "started "+p2.Execution+"\n")
	if body := answer(t, port); !strings.Contains(body, "version v2") {
		t.Fatalf("after v2 the service answers %q", body)
	}

	rollback := p1.Execution + "-2"
	errOut := deploy(v1, "started "+rollback+" (attempt 2: release "+p1.ReleaseID+" was deployed before)\n")
	if !strings.Contains(errOut, "already uploaded s3://") {
		t.Errorf("the rollback did not reuse v1's object; stderr:\n%s", errOut)
	}
	if body := answer(t, port); !strings.Contains(body, "version v1") {
		t.Errorf("after rolling back to v1 the service answers %q", body)
	}
	if d := o.describe(ctx, strings.TrimSuffix(p1.ExecutionArn, p1.Execution)+rollback); d.Status != sfntypes.ExecutionStatusSucceeded {
		t.Errorf("the rollback is %s", d.Status)
	}

	deploy(v1, "release "+p1.ReleaseID+" is already deployed: "+rollback+", the latest deploy of again/e2e, succeeded; nothing to do (--redeploy deploys it again)\n")
	if n := len(o.executions(ctx, "again", "e2e")); n != 3 {
		t.Errorf("%d executions of again/e2e, want 3 (v1, v2, v1 again)", n)
	}

	// v1's instances die; --redeploy deploys v1 once more, which starts new
	// instances in their place.
	pids := o.backend.Provider.PIDs(p1.ReleaseID)
	if len(pids) == 0 {
		t.Fatal("v1 has no instances")
	}
	for _, pid := range pids {
		// The group: `go run` and the program it started.
		if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(ctx, t, "v1's instances to die", func() bool { return !strings.Contains(answer(t, port), "version v1") })
	code, out, errOut := o.run(ctx, "deploy", v1, "--redeploy", "--output", "plain")
	if code != 0 || !strings.Contains(errOut, "started "+p1.Execution+"-3 (attempt 3") {
		t.Fatalf("deploy --redeploy: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if body := answer(t, port); !strings.Contains(body, "version v1") {
		t.Errorf("after --redeploy the service answers %q", body)
	}

	// A deploy whose input the deployer refuses, then the same file again.
	v3, _ := hello{Project: "again", Config: "e2e", Version: "v3", Port: port}.write(t)
	p3 := o.plan(v3)
	fast := func() time.Time { return time.Now().Add(time.Hour) }
	code, out, errOut = o.runAs(ctx, session{now: fast}, "deploy", v3, "--output", "plain")
	if code != 1 || !strings.Contains(out, "is stale or in the future") {
		t.Fatalf("deploy with a fast clock: exit %d, want 1 and the deployer's reason\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	deploy(v3, "started "+p3.Execution+"-2 (attempt 2: release "+p3.ReleaseID+" was deployed before)\n")
	if body := answer(t, port); !strings.Contains(body, "version v3") {
		t.Errorf("after the retry the service answers %q", body)
	}
	var names []string
	for _, e := range o.executions(ctx, "again", "e2e") {
		names = append(names, aws.ToString(e.Name)+" "+string(e.Status))
	}
	slices.Sort(names)
	want := []string{
		p1.Execution + " SUCCEEDED", p1.Execution + "-2 SUCCEEDED", p1.Execution + "-3 SUCCEEDED",
		p2.Execution + " SUCCEEDED",
		p3.Execution + " FAILED", p3.Execution + "-2 SUCCEEDED",
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("executions of again/e2e:\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
}
