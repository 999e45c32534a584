package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/odin-deploy/odin/pkg/local/access"

	"github.com/odin-deploy/odin/pkg/local/store"
)

// Status is what `odin local status` reports.
type Status struct {
	Running   bool
	Pid       int
	Endpoint  access.Endpoint
	DataDir   string
	StartedAt time.Time
	// AWSEndpoint is where the deployer's AWS provider calls (--aws-endpoint),
	// empty when the server deploys no target aws release.
	AWSEndpoint string
	// Throttle says Step Functions calls meet AWS's token buckets.
	Throttle bool
	// Recovery is the report of the last recovery of the Step Functions
	// store from damage, nil when it never was damaged (or the report was
	// deleted).
	Recovery *store.Recovery
	// StartError is why the last server failed to start, when none runs.
	StartError string
}

// errLocked is tryLock's answer when another holder has the lock.
var errLocked = errors.New("locked")

// ErrNotRunning is returned when no server holds the data directory.
var ErrNotRunning = errors.New("no local backend server is running for this data directory")

// lockHeld reports whether a server holds dir's server lock. It takes a
// shared lock for an instant: that fails only while a server runs.
func lockHeld(dir string) (bool, error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if err := tryLock(f, false); err != nil {
		if errors.Is(err, errLocked) {
			return true, nil
		}
		return false, err
	}
	return false, nil // closing f drops the shared lock
}

// readPid returns the pid of the server holding dir's lock. The holder writes
// it into the lock file the moment it holds the lock; the pid file is written
// only once the server serves, so during a start it would still name the
// server before, whose pid may be another process's by then.
func readPid(dir string) (int, error) {
	if b, err := os.ReadFile(filepath.Join(dir, LockFile)); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			return pid, nil
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, PidFile))
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s does not hold a pid", filepath.Join(dir, PidFile))
	}
	return pid, nil
}

func readRunInfo(dir string) (*runInfo, error) {
	b, err := os.ReadFile(filepath.Join(dir, EndpointFile))
	if err != nil {
		return nil, err
	}
	var info runInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, EndpointFile), err)
	}
	return &info, nil
}

// healthy asks the server behind info whether it is that very instance. The
// request is signed with info's credentials: the server names its instance
// to nobody else.
func healthy(ctx context.Context, info *runInfo) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	h, err := access.Ask(ctx, info.Endpoint, http.DefaultClient)
	return err == nil && h.Instance != "" && h.Instance == info.Instance
}

// Probe reports whether a healthy server runs for dataDir, and where.
func Probe(ctx context.Context, dataDir string) (Status, error) {
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return Status{}, err
	}
	st := Status{DataDir: dir}
	st.Recovery, _ = store.ReadRecovery(filepath.Join(dir, "sfn"))
	held, err := lockHeld(dir)
	if !held {
		st.StartError = readStartError(dir)
	}
	if err != nil || !held {
		return st, err
	}
	info, err := readRunInfo(dir)
	if err != nil {
		// Locked but not yet serving (starting up): not running yet.
		if errors.Is(err, os.ErrNotExist) {
			return st, nil
		}
		return st, err
	}
	st.Pid, st.Endpoint, st.StartedAt, st.AWSEndpoint, st.Throttle = info.Pid, info.Endpoint, info.StartedAt, info.AWSEndpoint, info.Throttle
	st.Running = healthy(ctx, info)
	return st, nil
}

// Ensure returns the endpoint of the server for dataDir, calling start to
// launch one in the background when none is healthy, and waiting until it
// serves. Concurrent callers (several CLIs) serialise on a lock file and end
// with one server.
func Ensure(ctx context.Context, dataDir string, start func(ctx context.Context) error) (access.Endpoint, error) {
	if st, err := Probe(ctx, dataDir); err == nil && st.Running {
		return st.Endpoint, nil
	}
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return access.Endpoint{}, err
	}
	if err := prepareDataDir(dir, discardLogger()); err != nil {
		return access.Endpoint{}, err
	}
	unlock, err := lockStart(ctx, dir)
	if err != nil {
		return access.Endpoint{}, err
	}
	defer unlock()
	// Another CLI may have started it while we waited for the lock.
	if st, err := Probe(ctx, dir); err == nil && st.Running {
		return st.Endpoint, nil
	}
	held, err := lockHeld(dir)
	if err != nil {
		return access.Endpoint{}, err
	}
	startOurs := func() error {
		_ = os.Remove(filepath.Join(dir, StartErrorFile))
		if err := start(ctx); err != nil {
			return fmt.Errorf("start the local backend: %w", err)
		}
		return nil
	}
	if !held {
		if err := startOurs(); err != nil {
			return access.Endpoint{}, err
		}
	}
	// Held but unhealthy means a server is starting (or hung): wait for it
	// either way rather than start a second one it would refuse.
	ep, err := waitReady(ctx, dir, 30*time.Second)
	if held && errors.Is(err, errExitedDuringStartup) {
		// What held the lock went without serving and without a word.
		// A server that dies starting leaves that; so does a killed
		// server's child, which holds a copy of the lock from its fork
		// until its exec. Either way nothing serves and nothing is
		// starting: start ours, once.
		if err := startOurs(); err != nil {
			return access.Endpoint{}, err
		}
		return waitReady(ctx, dir, 30*time.Second)
	}
	return ep, err
}

// errExitedDuringStartup: the lock's holder let it go without serving and
// without recording why.
var errExitedDuringStartup = errors.New("the local backend exited during start-up")

func waitReady(ctx context.Context, dir string, limit time.Duration) (access.Endpoint, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	sawLock := false
	var releasedAt time.Time
	since := time.Now().Add(-time.Second)
	for {
		if st, err := Probe(ctx, dir); err == nil && st.Running {
			return st.Endpoint, nil
		}
		// A server that failed says why; one that took its lock and let it
		// go without serving died: either way, say so now, not at the limit.
		if msg := startErrorSince(dir, since); msg != "" {
			return access.Endpoint{}, fmt.Errorf("the local backend failed to start: %s (log: %s)", msg, filepath.Join(dir, LogFile))
		}
		held, err := lockHeld(dir)
		if err == nil && held {
			sawLock, releasedAt = true, time.Time{}
		} else if err == nil && sawLock {
			// The server may write its last words just after its lock
			// goes: give them a moment before reading the log instead.
			if releasedAt.IsZero() {
				releasedAt = time.Now()
			}
			if time.Since(releasedAt) >= time.Second {
				return access.Endpoint{}, fmt.Errorf("%w; its log %s ends with:\n%s",
					errExitedDuringStartup, filepath.Join(dir, LogFile), logTail(filepath.Join(dir, LogFile), 10))
			}
		}
		select {
		case <-ctx.Done():
			return access.Endpoint{}, fmt.Errorf("the local backend did not become ready within %s (see %s): %w",
				limit, filepath.Join(dir, LogFile), ctx.Err())
		case <-tick.C:
		}
	}
}

// RecordStartError keeps why a server failed to start in the data
// directory, for the CLI waiting for it (StartErrorFile, 0600).
func RecordStartError(dataDir string, err error) {
	path := filepath.Join(dataDir, StartErrorFile)
	if os.WriteFile(path, []byte(err.Error()+"\n"), 0o600) == nil {
		_ = os.Chmod(path, 0o600) // an older one keeps its mode
	}
}

func readStartError(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, StartErrorFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// startErrorSince is readStartError for a failure recorded since t: not a
// stale one of an earlier start.
func startErrorSince(dir string, t time.Time) string {
	fi, err := os.Stat(filepath.Join(dir, StartErrorFile))
	if err != nil || fi.ModTime().Before(t) {
		return ""
	}
	return readStartError(dir)
}

// logTail returns the last n lines of a log file.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// lockStart serialises CLIs that might start a server for dir.
func lockStart(ctx context.Context, dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, StartLock), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open start lock: %w", err)
	}
	_ = f.Chmod(0o600) // it holds nothing; kept private as every file here
	for {
		err := tryLock(f, true)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, errLocked) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", filepath.Join(dir, StartLock), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

const maxLogSize = 10 << 20

// StartDetached starts exe with args as a background server: its own session
// (so the terminal's Ctrl-C does not reach it), stdin from /dev/null, output
// appended to logPath (0600). The caller may Wait on the process or let it go.
func StartDetached(exe string, args []string, logPath string) (*os.Process, error) {
	// Keep one previous log; a long-lived backend's log would otherwise grow
	// without bound across restarts.
	if fi, err := os.Stat(logPath); err == nil && fi.Size() > maxLogSize {
		if os.Rename(logPath, logPath+".1") == nil {
			_ = os.Chmod(logPath+".1", 0o600)
		}
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open server log: %w", err)
	}
	defer logf.Close()
	// The mode given to OpenFile applies only to a new file: a log left
	// 0644 by something else would keep it.
	if err := logf.Chmod(0o600); err != nil {
		return nil, fmt.Errorf("make the server log private: %w", err)
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	cmd.SysProcAttr = detached()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", exe, err)
	}
	return cmd.Process, nil
}

// Stop asks the server for dataDir to stop (SIGTERM), waits up to grace for
// it to release its lock, then kills it (SIGKILL). It returns ErrNotRunning
// when none runs.
func Stop(ctx context.Context, dataDir string, grace time.Duration) (pid int, killed bool, err error) {
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return 0, false, err
	}
	held, err := lockHeld(dir)
	if err != nil {
		return 0, false, err
	}
	if !held {
		cleanRunFiles(dir)
		return 0, false, ErrNotRunning
	}
	pid, err = readPid(dir)
	if err != nil {
		return 0, false, fmt.Errorf("a server holds %s but its pid is unknown: %w", filepath.Join(dir, LockFile), err)
	}
	proc, err := os.FindProcess(pid)
	if err != nil {
		return pid, false, err
	}
	if err := askToStop(proc); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return pid, false, fmt.Errorf("signal pid %d: %w", pid, err)
	}
	if waitUnlocked(ctx, dir, grace) {
		return pid, false, nil
	}
	if err := proc.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return pid, false, fmt.Errorf("kill pid %d: %w", pid, err)
	}
	if !waitUnlocked(ctx, dir, 5*time.Second) {
		return pid, true, fmt.Errorf("pid %d still holds %s after SIGKILL", pid, filepath.Join(dir, LockFile))
	}
	cleanRunFiles(dir) // a killed server could not remove them
	return pid, true, nil
}

func waitUnlocked(ctx context.Context, dir string, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		if held, err := lockHeld(dir); err == nil && !held {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func cleanRunFiles(dir string) {
	for _, f := range []string{PidFile, EndpointFile} {
		_ = os.Remove(filepath.Join(dir, f))
	}
}
