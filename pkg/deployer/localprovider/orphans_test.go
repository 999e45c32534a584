package localprovider

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odin-deploy/odin/pkg/deployer"
)

// orphanGroup starts what a killed server leaves of instance web-1 of
// release r-dead: a process group of its own whose processes carry env, with
// the pid record the provider writes for it. With leaderExits, the leader exits (and is reaped) at
// once, leaving only its child in the group. It returns the pid of the
// group's long-lived process.
func orphanGroup(t *testing.T, dir string, env []string, leaderExits bool) int {
	t.Helper()
	script := "exec sleep 300"
	if leaderExits {
		script = "sleep 300 & echo $! > child.pid"
	}
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	pid := cmd.Process.Pid
	if leaderExits {
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(cmd.Dir, "child.pid"))
		if err != nil {
			t.Fatal(err)
		}
		if pid, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
			t.Fatal(err)
		}
	} else {
		go cmd.Wait() // reap it once it is stopped
	}
	if err := pidRecords(dir).Add(instanceRecord("r-dead", "web-1", cmd.Process.Pid)); err != nil {
		t.Fatal(err)
	}
	return pid
}

// live tells whether pid is a live process (not a zombie).
func live(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && !bytes.HasPrefix(bytes.TrimSpace(b[i+1:]), []byte("Z"))
}

// TestStopOrphans: what a killed server left of its instances is stopped,
// found by the variables instanceEnv gives them, including a group whose
// leader exited after the server died, and nothing whose environment does
// not name the recorded release and instance.
func TestStopOrphans(t *testing.T) {
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("no /proc: StopOrphans cannot tell an instance from a reused pid here")
	}
	ownEnv := instanceEnv(nil, &deployer.Deployment{ReleaseID: "r-dead", Project: "p", Config: "c"}, "web", "web-1", 8080, deployer.Service{})
	cases := []struct {
		name        string
		leaderExits bool
		env         []string
		stopped     bool
	}{
		{"leader running", false, ownEnv, true},
		{"leader exited, child running", true, ownEnv, true},
		{"another release's process", false, []string{"ODIN_RELEASE_ID=r-other", "ODIN_INSTANCE=web-1"}, false},
		{"another instance's process", true, []string{"ODIN_RELEASE_ID=r-dead", "ODIN_INSTANCE=web-2"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			pid := orphanGroup(t, dir, tc.env, tc.leaderExits)
			StopOrphans(dir, 5*time.Second, nil)
			// SIGKILL, if it came to that, may take a moment to land.
			deadline := time.Now().Add(10 * time.Second)
			for tc.stopped && live(pid) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if live(pid) == tc.stopped {
				t.Errorf("pid %d running %v after StopOrphans, want %v", pid, live(pid), !tc.stopped)
			}
			if entries, _ := os.ReadDir(pidRecords(dir).Dir); len(entries) != 0 {
				t.Errorf("pid records left: %v", entries)
			}
		})
	}
}

// TestStopOrphansOfAnEarlierBuild: a record in the format builds before
// procgroup.Records wrote ({"pid", "release_id", "instance"}) still gets
// its instance stopped, so an upgrade over a killed server leaves nothing.
func TestStopOrphansOfAnEarlierBuild(t *testing.T) {
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("no /proc: StopOrphans cannot tell an instance from a reused pid here")
	}
	dir := t.TempDir()
	env := instanceEnv(nil, &deployer.Deployment{ReleaseID: "r-dead", Project: "p", Config: "c"}, "web", "web-1", 8080, deployer.Service{})
	pid := orphanGroup(t, dir, env, false)
	// Rewrite its record as the earlier build did.
	name, _ := instanceRecord("r-dead", "web-1", pid)
	legacy := `{"pid":` + strconv.Itoa(pid) + `,"release_id":"r-dead","instance":"web-1"}`
	if err := os.WriteFile(filepath.Join(pidRecords(dir).Dir, name), []byte(legacy), 0o600); err != nil {
		t.Fatal(err)
	}
	StopOrphans(dir, 5*time.Second, nil)
	deadline := time.Now().Add(10 * time.Second)
	for live(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if live(pid) {
		t.Errorf("pid %d, recorded by an earlier build, still runs after StopOrphans", pid)
	}
	if entries, _ := os.ReadDir(pidRecords(dir).Dir); len(entries) != 0 {
		t.Errorf("pid records left: %v", entries)
	}
}
