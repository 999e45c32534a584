//go:build linux

package procgroup

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWaitSweepsWhatTheLeaderLeft: a leader that exits leaving a child in
// its group (a shell's background job) takes it with it, and Wait returns
// although the child held the leader's output pipe.
func TestWaitSweepsWhatTheLeaderLeft(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	cmd := exec.Command("sh", "-c", `sleep 300 & echo $! >"$0"; exit 0`, pidFile)
	var out strings.Builder
	cmd.Stdout = &out // a pipe the child inherits
	g := New(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Wait did not return: the child that holds the pipe outlived its leader")
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); running(child); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			syscall.Kill(child, syscall.SIGKILL)
			t.Fatalf("the leader's child (pid %d) outlived it", child)
		}
	}
}

// TestNoSignalAfterTheLeaderIsReaped: once Wait has reaped the leader, its pid
// may be another process's; Signal then sends nothing (kill(2) of the empty
// group would answer ESRCH).
func TestNoSignalAfterTheLeaderIsReaped(t *testing.T) {
	cmd := exec.Command("true")
	g := New(cmd)
	if err := g.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("Signal before Start: %v, want nil (nothing to signal)", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-cmd.Process.Pid, 0); err != syscall.ESRCH {
		t.Skipf("the group's id is in use again (%v); cannot tell", err)
	}
	if err := g.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("Signal after Wait: %v, want nil: nothing sent", err)
	}
}

// TestSignalReachesTheWholeGroup: a stop reaches the leader's children too.
func TestSignalReachesTheWholeGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	cmd := exec.Command("sh", "-c", `sleep 300 & echo $! >"$0"; wait`, pidFile)
	g := New(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var child int
	for deadline := time.Now().Add(time.Minute); child == 0; time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(pidFile); err == nil {
			child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if time.Now().After(deadline) {
			t.Fatal("the shell never started its child")
		}
	}
	if err := g.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Before Wait, which would sweep the group anyway.
	for deadline := time.Now().Add(time.Minute); running(child); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			syscall.Kill(child, syscall.SIGKILL)
			t.Fatalf("the child (pid %d) survived the group's SIGTERM", child)
		}
	}
	if err := g.Wait(); err == nil {
		t.Fatal("the leader exited cleanly after SIGTERM")
	}
}

// running says whether pid is a live process: not gone, and not a zombie
// waiting for whoever inherited it to reap it.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) STATE ...: comm may hold spaces, so read after its ')'.
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || !strings.HasPrefix(string(b[i+1:]), " Z")
}
