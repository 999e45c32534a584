package cmd

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/deployer/localbackend"
	"github.com/odin-deploy/odin/pkg/local/server"
	"github.com/odin-deploy/odin/pkg/local/store/faultfs"
)

// TestAbortThenUnlockOnFullDisk follows the README's repair (odin unlock)
// for a deploy whose history cannot be written, command for command, with
// the disk staying full throughout: `odin unlock FILE --yes` refuses the
// lock of the stalled (RUNNING) deploy; `odin halt EXECUTION --abort --yes`
// says the abort cannot be recorded and names the way out; `odin unlock FILE
// --force --yes` clears the lock. The deploy does not go on meanwhile, and
// ends ABORTED once there is space.
func TestAbortThenUnlockOnFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("deploys real processes")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	disk := &faultfs.FS{}
	b, err := localbackend.Start(ctx, server.Options{
		DataDir:    dir,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		StoreFS:    disk,
		StallRetry: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close local backend: %v", err)
		}
	})
	o := &localOdin{t: t, backend: b, dataDir: dir}

	// A deploy that stays unhealthy, so it runs (and holds its lock) when
	// the disk fills.
	file, _ := hello{Project: "full", Config: "e2e", Version: "v1", HealthPath: "/never-healthy"}.write(t)
	p := o.plan(file)
	key := o.lockKey("full", "e2e")
	if code, out, errOut := o.run(ctx, "deploy", file, "--detach"); code != 0 {
		t.Fatalf("deploy: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	waitFor(ctx, t, "the deploy to take its lock", func() bool { return o.objectExists(ctx, key) })
	disk.SetFull(true)
	// The backend retries the stalled execution every 50 ms: writes that
	// keep failing.
	failed := disk.Writes()
	waitFor(ctx, t, "history writes to fail", func() bool { return disk.Writes() > failed+3 })
	if d := o.describe(ctx, p.ExecutionArn); d.Status != sfntypes.ExecutionStatusRunning {
		t.Fatalf("the stalled deploy: %s", d.Status)
	}

	code, out, errOut := o.run(ctx, "unlock", file, "--yes")
	if code != 1 || !o.objectExists(ctx, key) || !strings.Contains(errOut, "still running ("+p.Execution+")") {
		t.Fatalf("unlock of the stalled deploy's lock: exit %d, want 1 and the lock kept\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	code, out, errOut = o.run(ctx, "halt", p.Execution, "--abort", "--yes")
	if code != 1 {
		t.Fatalf("halt --abort on a full disk: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"could not record the stop of " + p.ExecutionArn, "no space left on device",
		"odin unlock --project full --release-config e2e --force --yes"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("halt --abort does not say %q:\n%s", want, errOut)
		}
	}
	events := len(o.history(ctx, p.ExecutionArn))

	code, out, errOut = o.run(ctx, "unlock", file, "--force", "--yes")
	if code != 0 || !strings.Contains(out, "lock deleted") || o.objectExists(ctx, key) {
		t.Fatalf("unlock --force --yes: exit %d, want 0 and the lock gone\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	// Aborted, it does not go on: the backend keeps trying to record the
	// abort alone, and writes it once there is space.
	written := disk.Writes()
	waitFor(ctx, t, "the abort to be tried again", func() bool { return disk.Writes() > written+3 })
	disk.SetFull(false)
	waitFor(ctx, t, "the abort to be recorded", func() bool {
		return o.describe(ctx, p.ExecutionArn).Status != sfntypes.ExecutionStatusRunning
	})
	if d := o.describe(ctx, p.ExecutionArn); d.Status != sfntypes.ExecutionStatusAborted {
		t.Fatalf("the deploy once there is space: %s %s", d.Status, aws.ToString(d.Error))
	}
	h := o.history(ctx, p.ExecutionArn)
	if len(h) != events+1 || h[len(h)-1].Type != sfntypes.HistoryEventTypeExecutionAborted {
		t.Errorf("the deploy went on after its abort: %d events before, now %d ending with %s", events, len(h), h[len(h)-1].Type)
	}
	if o.objectExists(ctx, key) {
		t.Error("a lock after the abort")
	}
}

// history is an execution's events, oldest first.
func (o *localOdin) history(ctx context.Context, arn string) []sfntypes.HistoryEvent {
	o.t.Helper()
	var events []sfntypes.HistoryEvent
	p := sfn.NewGetExecutionHistoryPaginator(o.sfnClient(), &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			o.t.Fatalf("history of %s: %v", arn, err)
		}
		events = append(events, page.Events...)
	}
	return events
}
