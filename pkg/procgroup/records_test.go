//go:build linux

package procgroup

import (
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// leftGroup starts what a killed server leaves: a process group of its own
// running script, whose processes carry env. With leaderExits the leader
// starts a child and exits (reaped), leaving the child alone in the group.
// It returns the group's id and the pid of its long-lived process.
func leftGroup(t *testing.T, script string, env []string, leaderExits bool) (pgid, pid int) {
	t.Helper()
	if leaderExits {
		script = "(" + script + ") & echo $! > child.pid"
	}
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid = cmd.Process.Pid
	t.Cleanup(func() { syscall.Kill(-pgid, syscall.SIGKILL) })
	if !leaderExits {
		go cmd.Wait() // reap it once it is stopped
		return pgid, pgid
	}
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
	return pgid, pid
}

// TestStopLeft: a recorded group still running is stopped, found by its
// environment even once its leader is gone, and SIGKILLed if it ignores
// SIGTERM; a group whose id is recorded but whose processes do not carry
// the recorded environment (the id is someone else's now) is not signalled.
func TestStopLeft(t *testing.T) {
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("no /proc: StopLeft cannot tell a recorded group from a reused id here")
	}
	marker := []string{"ODIN_TEST_MARK=run-1"}
	cases := []struct {
		name        string
		script      string
		env         []string
		leaderExits bool
		stopped     bool
	}{
		{"leader running", "exec sleep 300", marker, false, true},
		{"leader exited, child running", "exec sleep 300", marker, true, true},
		{"SIGTERM ignored", "trap '' TERM; sleep 300", marker, false, true},
		{"id reused, no marker", "exec sleep 300", nil, false, false},
		{"id reused, another marker", "exec sleep 300", []string{"ODIN_TEST_MARK=run-2"}, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			recs := Records{Dir: filepath.Join(t.TempDir(), "records")}
			pgid, pid := leftGroup(t, tc.script, tc.env, tc.leaderExits)
			if err := recs.Add("task.json", Record{PGID: pgid, Env: marker, Labels: map[string]string{"task": tc.name}}); err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			found := recs.StopLeft(200*time.Millisecond, slog.New(slog.NewTextHandler(&log, nil)))
			if want := map[bool]int{true: 1, false: 0}[tc.stopped]; found != want {
				t.Errorf("StopLeft found %d running groups, want %d\n%s", found, want, &log)
			}
			// A signal may take a moment to land.
			for deadline := time.Now().Add(10 * time.Second); tc.stopped && running(pid) && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
			}
			if running(pid) == tc.stopped {
				t.Errorf("pid %d running %v after StopLeft, want %v\n%s", pid, running(pid), !tc.stopped, &log)
			}
			if tc.stopped != strings.Contains(log.String(), "task=") {
				t.Errorf("log says which group it stopped %v, want %v:\n%s", !tc.stopped, tc.stopped, &log)
			}
			if entries, _ := os.ReadDir(recs.Dir); len(entries) != 0 {
				t.Errorf("records left: %v", entries)
			}
		})
	}
}

// TestStopLeftSkipsDamagedRecords: a record that cannot be read or makes no
// sense is logged and removed, and signals nothing; in particular a group id
// of 1 or below, which kill(2) would take for "every process" or "my group".
func TestStopLeftSkipsDamagedRecords(t *testing.T) {
	recs := Records{Dir: t.TempDir()}
	files := map[string]string{
		"garbage.json":    "{not json",
		"empty.json":      "",
		"all.json":        `{"pgid":1,"env":["A=b"]}`,
		"self.json":       `{"pgid":0,"env":["A=b"]}`,
		"negative.json":   `{"pgid":-5,"env":["A=b"]}`,
		"no-env.json":     `{"pgid":12345}`,
		"wrong-type.json": `{"pgid":"12","env":"A=b"}`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(recs.Dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(recs.Dir, "a-dir.json"), 0o700); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if found := recs.StopLeft(time.Second, slog.New(slog.NewTextHandler(&log, nil))); found != 0 {
		t.Errorf("StopLeft found %d running groups in damaged records", found)
	}
	for name := range files {
		if !strings.Contains(log.String(), name) {
			t.Errorf("the log does not name %s:\n%s", name, &log)
		}
	}
	if entries, _ := os.ReadDir(recs.Dir); len(entries) != 0 {
		t.Errorf("records left: %v", entries)
	}
}

// TestRecordIsPrivate: a record is 0600, even over a file that was not.
func TestRecordIsPrivate(t *testing.T) {
	recs := Records{Dir: filepath.Join(t.TempDir(), "records")}
	if err := os.MkdirAll(recs.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(recs.Dir, "x.json")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := recs.Add("x.json", Record{PGID: 4242, Env: []string{"A=b"}}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("record mode %v, want 0600", fi.Mode().Perm())
	}
}

// TestAddRefusesWhatStopLeftCouldMisuse: names outside the directory, and
// records that would signal more than a group or could not be found.
func TestAddRefusesWhatStopLeftCouldMisuse(t *testing.T) {
	recs := Records{Dir: t.TempDir()}
	ok := Record{PGID: 4242, Env: []string{"A=b"}}
	cases := []struct {
		name string
		file string
		rec  Record
	}{
		{"empty name", "", ok},
		{"path", "../x.json", ok},
		{"hidden", ".x.json", ok},
		{"group 1", "x.json", Record{PGID: 1, Env: ok.Env}},
		{"group 0", "x.json", Record{PGID: 0, Env: ok.Env}},
		{"negative group", "x.json", Record{PGID: -3, Env: ok.Env}},
		{"no environment", "x.json", Record{PGID: 4242}},
	}
	for _, tc := range cases {
		if err := recs.Add(tc.file, tc.rec); err == nil {
			t.Errorf("%s: Add accepted %q %+v", tc.name, tc.file, tc.rec)
		}
	}
}
