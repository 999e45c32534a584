package deployer_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	. "github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/deployer/localbackend"
	"github.com/odin-deploy/odin/pkg/local/server"
	"github.com/odin-deploy/odin/pkg/release"
)

// TestStateFilesArePrivateWhateverExistedBefore: the files where the local
// backend keeps executions, histories, the token key, instance pids and
// serving releases are 0600 after it ran, even where a file of that name
// was already there with mode 0644 (copied in, restored from a backup, left
// by an older odin): the mode given when opening applies only to a new file.
func TestStateFilesArePrivateWhateverExistedBefore(t *testing.T) {
	if testing.Short() {
		t.Skip("a deploy")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	widen := func(name string, content []byte) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		return name
	}
	private := func(names ...string) {
		t.Helper()
		for _, name := range names {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Error(err)
				continue
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %04o, want 0600", name, fi.Mode().Perm())
			}
		}
	}
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	files := []string{
		widen("sfn/journal", nil),
		widen("sfn/history-0", nil),
		widen("sfn/snapshot", nil),
		widen("sfn/token.key", key),
	}
	widen("sfn/resuming.json.tmp", nil) // renamed into resuming.json

	b, err := localbackend.Start(ctx, server.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ep := b.Endpoint()
	client := damageClient(ep)
	releaseDir := t.TempDir()
	f, err := release.Parse(filepath.Join(releaseDir, "release.yml"), ReleaseYAML(t, ReleaseSpec{Config: "modes", Instances: 1}))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := client.Plan(f, "arn:aws:iam::000000000000:user/tester", releaseDir)
	if err != nil {
		t.Fatal(err)
	}
	// Records the deploy writes over: its instance's pid and the serving
	// record's temporary file, renamed into place.
	pid := widen("deployer/pids/"+plan.ReleaseID+"-web-1.json", nil)
	widen("deployer/serving/hello_modes.json.tmp", nil)
	started, err := client.Start(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	if d, path := waitDone(t, ep.SFNClient(), started.ExecutionArn); d.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("deploy: %s; path %v", d.Status, path)
	}
	private(append(files, "sfn/resuming.json", pid, "deployer/serving/hello_modes.json")...)
}
