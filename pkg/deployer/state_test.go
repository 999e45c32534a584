package deployer

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/odin-deploy/odin/pkg/contract"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The task output is a contract with the live view (pkg/watch, pkg/progress):
// this golden file pins its JSON shape.
func TestStateJSONGolden(t *testing.T) {
	healthy := false
	st := State{
		Input: contract.Input{ReleaseID: "r-0123456789abcdef", ProjectName: "hello", ConfigName: "development", Target: "local",
			AWSAccountID: "000000000000", AWSRegion: "us-east-1", Bucket: "odin-releases",
			ReleaseKey:    "000000000000/hello/development/r-0123456789abcdef/release",
			ReleaseSHA256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			DeployedBy:    "arn:aws:iam::000000000000:user/alice", CreatedAt: "2026-11-25T20:00:00Z", ReleaseDir: "/home/alice/hello"},
		StartedAt: "2026-11-25T20:00:01Z", Deadline: "2026-11-25T20:05:01Z", Timeout: 300, WaitForDeploy: 1, WaitForHealthy: 1,
		LockETag: `"9b2cf535f27731c974343645a3985328"`,
		Healthy:  &healthy,
		Health: &contract.Health{Healthy: false, Services: map[string]*contract.ServiceHealth{"web": {
			Desired: 2, Healthy: 1, Launching: 0, Unhealthy: 1,
			Instances: []contract.Instance{
				{ID: "web-1", ReleaseID: "r-0123456789abcdef", State: contract.InstanceHealthy, PID: 4242, Port: 40123},
				{ID: "web-2", ReleaseID: "r-0123456789abcdef", State: contract.InstanceExited, PID: 4243, Port: 40124,
					Reason: "exit status 3", LogTail: []string{"hello: cannot start: --crash was given"}},
			},
		}}},
		Error: &CaughtError{Error: "DeployError", Cause: `{"errorMessage":"release r-0123456789abcdef: instance web-2 (pid 4243) exited: exit status 3","errorType":"DeployError"}`},
	}
	got, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "state.golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("state JSON changed; if on purpose, run go test -update and tell the live view's owners\n got %s\nwant %s", got, want)
	}
	var back State
	if err := json.Unmarshal(want, &back); err != nil || back.Health.Services["web"].Instances[1].Reason != "exit status 3" {
		t.Errorf("golden does not read back: %v", err)
	}
}
