package localprovider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/procgroup"
)

// Bounds on what an instance's report carries, so task output stays small.
const (
	tailLines     = 5
	tailLineBytes = 200
	tailReadBytes = 8 << 10
)

// instance is one process of a service and what its health checks found.
type instance struct {
	id, service, releaseID string
	// n numbers the instance within its service, from 1 (id is service-n).
	n       int
	port    int
	pid     int
	logPath string
	// logFrom is where this start's output begins in logPath; what comes
	// before is earlier starts of the same release.
	logFrom   int64
	check     deployer.HealthCheck
	started   time.Time
	exited    chan struct{}
	group     *procgroup.Group
	stopWatch context.CancelFunc
	watchCtx  context.Context

	mu         sync.Mutex
	state      string
	reason     string
	okStreak   int
	failStreak int
	stopping   bool
	exitErr    error
}

func newInstance(id, service, releaseID string, port int, logPath string, logFrom int64, check deployer.HealthCheck, cmd *exec.Cmd, group *procgroup.Group) *instance {
	ctx, cancel := context.WithCancel(context.Background())
	return &instance{
		id: id, service: service, releaseID: releaseID, port: port, pid: cmd.Process.Pid, group: group,
		logPath: logPath, logFrom: logFrom, check: check, started: time.Now(),
		exited: make(chan struct{}), watchCtx: ctx, stopWatch: cancel,
		state: contract.InstanceLaunching,
	}
}

func (in *instance) exitedWith(err error) {
	in.mu.Lock()
	in.exitErr = err
	if in.stopping {
		in.state = contract.InstanceStopped
		in.reason = ""
	} else {
		in.state = contract.InstanceExited
		in.reason = exitReason(err)
	}
	in.mu.Unlock()
	in.stopWatch()
	close(in.exited)
}

func exitReason(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "exit status 0"
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by signal " + ws.Signal().String()
		}
		return "exit status " + strconv.Itoa(ee.ExitCode())
	}
	return err.Error()
}

func (in *instance) stopRequested() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.stopping
}

// watch runs the health checks until the instance exits or is stopped.
func (in *instance) watch() {
	interval := in.check.Interval
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-in.watchCtx.Done():
			return
		case <-t.C:
		}
		err := in.probe(in.watchCtx)
		if in.watchCtx.Err() != nil {
			return
		}
		in.record(err)
	}
}

func (in *instance) probe(ctx context.Context) error {
	timeout := in.check.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := loopback(in.port)
	if in.check.Type == "tcp" {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("tcp check %s: %v", addr, err)
		}
		return c.Close()
	}
	url := "http://" + addr + in.check.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("http check %s: %v", url, err)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("http check GET %s: %v", url, shortNetErr(err))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != in.check.ExpectedStatus {
		return fmt.Errorf("http check GET %s: status %d, expected %d", url, resp.StatusCode, in.check.ExpectedStatus)
	}
	return nil
}

func shortNetErr(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op
	}
	return err
}

// record applies one check's result with the thresholds: a run of passes
// makes an instance healthy, a run of failures unhealthy, except during the
// grace period after start, when failing instances are still launching.
func (in *instance) record(err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.state == contract.InstanceExited || in.state == contract.InstanceStopped || in.state == contract.InstanceTerminating {
		return
	}
	if err == nil {
		in.okStreak++
		in.failStreak = 0
		if in.okStreak >= max(1, in.check.HealthyThreshold) {
			in.state, in.reason = contract.InstanceHealthy, ""
		}
		return
	}
	in.failStreak++
	in.okStreak = 0
	in.reason = err.Error()
	inGrace := time.Since(in.started) < in.check.GracePeriod
	if in.failStreak >= max(1, in.check.UnhealthyThreshold) && (in.state == contract.InstanceHealthy || !inGrace) {
		in.state = contract.InstanceUnhealthy
	}
}

func (in *instance) snapshot() contract.Instance {
	in.mu.Lock()
	s := contract.Instance{ID: in.id, ReleaseID: in.releaseID, State: in.state, PID: in.pid, Port: in.port, Reason: in.reason}
	in.mu.Unlock()
	if s.State != contract.InstanceHealthy {
		s.LogTail = logTail(in.logPath, in.logFrom)
	}
	return s
}

// stop sends SIGTERM to the instance's process group, then SIGKILL if it has
// not exited after grace.
func (in *instance) stop(grace time.Duration) error {
	in.mu.Lock()
	select {
	case <-in.exited:
		in.mu.Unlock()
		return nil
	default:
	}
	in.stopping = true
	in.state = contract.InstanceTerminating
	in.mu.Unlock()
	in.stopWatch()
	if err := in.group.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("SIGTERM %s (pid %d): %w", in.id, in.pid, err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-in.exited:
	case <-t.C:
		if err := in.group.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("SIGKILL %s (pid %d): %w", in.id, in.pid, err)
		}
		select {
		case <-in.exited:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("%s (pid %d) still running after SIGKILL", in.id, in.pid)
		}
	}
	// What the leader left in its group is stopped by procgroup's Wait.
	return nil
}

// logTail returns the last lines of a log file written from offset from on,
// each cut to a bounded length.
func logTail(path string, from int64) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	if fi.Size() < from {
		from = 0 // someone truncated the file: what is left is all new
	}
	off := max(from, fi.Size()-tailReadBytes)
	buf := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return nil
	}
	var lines []string
	for _, l := range bytes.Split(buf, []byte("\n")) {
		l = bytes.TrimRight(l, "\r\t ")
		if len(l) == 0 {
			continue
		}
		s := strings.ToValidUTF8(string(l), "?")
		if len(s) > tailLineBytes {
			s = s[:tailLineBytes] + "…"
		}
		lines = append(lines, s)
	}
	if off > from && len(lines) > 0 {
		lines = lines[1:] // the first line was cut by the read window
	}
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	return lines
}

func joinTail(lines []string) string {
	if len(lines) == 0 {
		return "(no output)"
	}
	return strings.Join(lines, " | ")
}

func joinSemi(s []string) string { return strings.Join(s, "; ") }
