package deployer_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/deploy"
	. "github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/deployer/localbackend"
	"github.com/odin-deploy/odin/pkg/local/server"
	"github.com/odin-deploy/odin/pkg/local/store"
	"github.com/odin-deploy/odin/pkg/local/store/faultfs"
	"github.com/odin-deploy/odin/pkg/release"
)

// TestDeployFullDiskAtEveryWrite runs a whole deploy on the local backend
// with the disk full at each of the Step Functions store's writes in turn
// (through a fault-injecting file layer), space returning after it. Each
// ends with the deploy finished, its lock released, no execution left
// RUNNING, and a journal that reopens with nothing torn or lost.
func TestDeployFullDiskAtEveryWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("a deploy per write")
	}
	var total int
	if !t.Run("no fault", func(t *testing.T) { total = deployWithFullDisk(t, 0) }) {
		t.Fatal("the clean deploy failed")
	}
	t.Logf("a deploy makes %d writes", total)
	for k := 1; k <= total; k++ {
		t.Run(fmt.Sprint("write ", k), func(t *testing.T) {
			t.Parallel() // each mostly waits on health checks
			deployWithFullDisk(t, k)
		})
	}
}

// deployWithFullDisk deploys with write k (from the deploy's start; 0:
// none) failing, and returns how many writes the deploy made.
func deployWithFullDisk(t *testing.T, k int) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	fsys := &faultfs.FS{}
	b, err := localbackend.Start(ctx, server.Options{DataDir: dir, StoreFS: fsys, StallRetry: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	base := fsys.Writes()
	if k > 0 {
		fsys.FailWrite(base + k)
	}
	ep := b.Endpoint()
	sfnc := ep.SFNClient()
	client := &deploy.Client{Storage: ep.S3Client(), Executions: sfnc, Bucket: Bucket,
		StateMachineArn: "arn:aws:states:" + ep.Region + ":" + ep.Account + ":stateMachine:" + StateMachineName,
		Account:         ep.Account, Region: ep.Region, Now: time.Now}
	releaseDir := t.TempDir()
	f, err := release.Parse(filepath.Join(releaseDir, "release.yml"), ReleaseYAML(t, ReleaseSpec{Config: "disk", Instances: 1}))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := client.Plan(f, "arn:aws:iam::000000000000:user/tester", releaseDir)
	if err != nil {
		t.Fatal(err)
	}
	started, err := client.Start(ctx, plan)
	if err != nil {
		// The full disk refused the start itself: the CLI reports it and
		// the user deploys again.
		if started, err = client.Start(ctx, plan); err != nil {
			t.Fatalf("deploy again once space returned: %v", err)
		}
	}
	d, path := waitDone(t, sfnc, started.ExecutionArn)
	if d.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("deploy: %s %s %s; path %v", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), path)
	}
	if _, err := client.ReadLock(ctx, ep.Account, "hello", "disk"); !errors.Is(err, deploy.ErrNoLock) {
		t.Fatalf("lock after the deploy: %v", err)
	}
	writes := fsys.Writes() - base
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(filepath.Join(dir, "sfn"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if r := s.Recovery(); r != nil {
		t.Fatalf("the journal reopens torn or damaged: %s", r.Summary())
	}
	if running := s.Running(); len(running) > 0 {
		t.Fatalf("%d executions left RUNNING", len(running))
	}
	if _, err := os.Stat(filepath.Join(dir, "sfn", store.RecoveryFile)); err == nil {
		t.Fatal("a recovery report after a full disk")
	}
	return writes
}
