package localprovider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odin-deploy/odin/pkg/testpeer/service"

	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/deployer"
)

// The test binary doubles as the instances' program: TestMain runs as a
// service when ODIN_TEST_SERVICE says how to behave.
func TestMain(m *testing.M) {
	if mode := os.Getenv("ODIN_TEST_SERVICE"); mode != "" {
		os.Exit(serve(mode))
	}
	os.Exit(m.Run())
}

func serve(mode string) int {
	fmt.Println("starting", os.Getenv("ODIN_INSTANCE"), "mode", mode)
	switch mode {
	case "crash":
		fmt.Fprintln(os.Stderr, "fatal: cannot open config.toml")
		return 3
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
	case "child", "child-then-exit":
		// A child in the instance's process group, as `go run` leaves one,
		// its pid where the test finds it.
		child := exec.Command("sleep", "300")
		if err := child.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := os.WriteFile("child.pid", []byte(strconv.Itoa(child.Process.Pid)), 0o600); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if mode == "child-then-exit" {
			return 3
		}
	case "env":
		for _, kv := range os.Environ() {
			fmt.Println("env:", kv)
		}
	}
	status := http.StatusOK
	if mode == "unhealthy" {
		status = http.StatusInternalServerError
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) })
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "%s %s %s", os.Getenv("ODIN_RELEASE_ID"), os.Getenv("ODIN_INSTANCE"), os.Getenv("VERSION"))
	})
	return service.Serve(mux)
}

func deployment(t *testing.T, id, mode string, instances, listen int) *deployer.Deployment {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return &deployer.Deployment{
		ReleaseID: id, Project: "hello", Config: "test",
		Services: map[string]deployer.Service{"web": {
			Command:    []string{exe},
			WorkingDir: t.TempDir(),
			Env:        map[string]string{"ODIN_TEST_SERVICE": mode, "VERSION": id},
			Instances:  instances,
			Listen:     listen,
			HealthCheck: deployer.HealthCheck{
				Type: "http", Path: "/healthz", ExpectedStatus: 200,
				Interval: 50 * time.Millisecond, Timeout: time.Second,
				HealthyThreshold: 2, UnhealthyThreshold: 2, GracePeriod: 200 * time.Millisecond,
			},
		}},
	}
}

// promote deploys d, waits until it is healthy and switches traffic to it,
// as the deployer's happy path does.
func promote(t *testing.T, p *Provider, d *deployer.Deployment) {
	t.Helper()
	ctx := context.Background()
	if err := p.Deploy(ctx, d); err != nil {
		t.Fatal(err)
	}
	waitFor(t, p, d, func(h *contract.Health, err error) bool { return err == nil && h.Healthy })
	if err := p.CleanUpSuccess(ctx, d); err != nil {
		t.Fatal(err)
	}
}

func newProvider(t *testing.T) *Provider {
	t.Helper()
	p := New(Options{DataDir: t.TempDir(), StopGrace: 2 * time.Second})
	t.Cleanup(func() { p.Close() })
	return p
}

func freeListenPort(t *testing.T) int {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// waitFor polls the provider's report until cond holds. It bounds the wait
// so a broken provider fails the test instead of hanging it; it does not
// assert how long anything took.
func waitFor(t *testing.T, p *Provider, d *deployer.Deployment, cond func(*contract.Health, error) bool) (*contract.Health, error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h, err := p.Health(context.Background(), d)
		if cond(h, err) {
			return h, err
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not reached; last report %+v, error %v", h, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func get(t *testing.T, port int) string {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strconv.Itoa(resp.StatusCode) + " " + string(b)
}

func TestBlueGreen(t *testing.T) {
	ctx := context.Background()
	p := newProvider(t)
	listen := freeListenPort(t)

	v1 := deployment(t, "r-v1", "ok", 2, listen)
	if err := p.Validate(ctx, v1); err != nil {
		t.Fatal(err)
	}
	if err := p.Deploy(ctx, v1); err != nil {
		t.Fatal(err)
	}
	if got := get(t, listen); !strings.HasPrefix(got, "503 ") {
		t.Fatalf("before promotion the balancer answered %q, want 503", got)
	}
	h, _ := waitFor(t, p, v1, func(h *contract.Health, err error) bool { return err == nil && h.Healthy })
	if s := h.Services["web"]; s.Desired != 2 || s.Healthy != 2 || len(s.Instances) != 2 {
		t.Fatalf("web health = %+v", s)
	}
	if err := p.CleanUpSuccess(ctx, v1); err != nil {
		t.Fatal(err)
	}
	if got := get(t, listen); !strings.HasPrefix(got, "200 r-v1 web-") {
		t.Fatalf("v1 answered %q", got)
	}
	v1PIDs := p.PIDs("r-v1")
	if len(v1PIDs) != 2 {
		t.Fatalf("v1 pids = %v", v1PIDs)
	}

	v2 := deployment(t, "r-v2", "ok", 2, listen)
	if err := p.Validate(ctx, v2); err != nil {
		t.Fatalf("the balancer's own port must validate for the same project: %v", err)
	}
	if err := p.Deploy(ctx, v2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, p, v2, func(h *contract.Health, err error) bool { return err == nil && h.Healthy })
	if got := get(t, listen); !strings.HasPrefix(got, "200 r-v1 ") {
		t.Fatalf("before v2 is promoted, v1 must serve; got %q", got)
	}
	if err := p.CleanUpSuccess(ctx, v2); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if got := get(t, listen); !strings.HasPrefix(got, "200 r-v2 web-") {
			t.Fatalf("after promotion got %q", got)
		}
	}
	for _, pid := range v1PIDs {
		if alive(pid) {
			t.Errorf("v1 pid %d still running", pid)
		}
	}
	if got := p.Serving("hello", "test"); got != "r-v2" {
		t.Errorf("serving %q", got)
	}
}

func TestFailedReleaseLeavesPreviousServing(t *testing.T) {
	ctx := context.Background()
	p := newProvider(t)
	listen := freeListenPort(t)
	v1 := deployment(t, "r-good", "ok", 1, listen)
	promote(t, p, v1)

	bad := deployment(t, "r-bad", "unhealthy", 2, listen)
	if err := p.Deploy(ctx, bad); err != nil {
		t.Fatal(err)
	}
	h, _ := waitFor(t, p, bad, func(h *contract.Health, err error) bool {
		return err == nil && h.Services["web"].Unhealthy == 2
	})
	in := h.Services["web"].Instances[0]
	if !strings.Contains(in.Reason, "status 500, expected 200") {
		t.Errorf("reason %q does not say the check failed", in.Reason)
	}
	if len(in.LogTail) == 0 || !strings.Contains(in.LogTail[0], "starting web-") {
		t.Errorf("log tail %q", in.LogTail)
	}
	pids := p.PIDs("r-bad")
	if err := p.CleanUpFailure(ctx, bad); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("failed release's pid %d still running", pid)
		}
	}
	if got := get(t, listen); !strings.HasPrefix(got, "200 r-good ") {
		t.Fatalf("previous release must keep serving; got %q", got)
	}
	if err := p.CleanUpFailure(ctx, bad); err != nil {
		t.Errorf("cleaning up twice: %v", err)
	}
}

// TestServingReleaseDeployedAgain deploys the release that serves once
// more (a rollback to it after another release failed): nothing restarts,
// and the failure cleanup of such a deploy leaves it serving.
func TestServingReleaseDeployedAgain(t *testing.T) {
	ctx := context.Background()
	p := newProvider(t)
	listen := freeListenPort(t)
	v1 := deployment(t, "r-v1", "ok", 1, listen)
	promote(t, p, v1)
	pids := p.PIDs("r-v1")

	again := deployment(t, "r-v1", "ok", 1, listen)
	if err := p.Deploy(ctx, again); err != nil {
		t.Fatal(err)
	}
	if h, err := p.Health(ctx, again); err != nil || !h.Healthy {
		t.Fatalf("the serving release deployed again: healthy %v, %v", h != nil && h.Healthy, err)
	}
	if err := p.CleanUpFailure(ctx, again); err != nil {
		t.Fatalf("cleaning up a failed deploy of the serving release: %v", err)
	}
	if err := p.CleanUpSuccess(ctx, again); err != nil {
		t.Fatal(err)
	}
	if got := p.PIDs("r-v1"); fmt.Sprint(got) != fmt.Sprint(pids) {
		t.Errorf("pids %v after deploying again, want the same %v", got, pids)
	}
	if got := get(t, listen); !strings.HasPrefix(got, "200 r-v1 ") {
		t.Errorf("the serving release must keep serving; got %q", got)
	}
}

// TestServingReleaseRepaired: an instance of the serving release was killed;
// deploying the release again starts a new one in its place, and promoting
// that deploy sends traffic to it.
func TestServingReleaseRepaired(t *testing.T) {
	p := newProvider(t)
	listen := freeListenPort(t)
	v1 := deployment(t, "r-v1", "ok", 2, listen)
	promote(t, p, v1)
	pids := p.PIDs("r-v1")
	if len(pids) != 2 {
		t.Fatalf("v1 pids = %v, want 2", pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, p, v1, func(h *contract.Health, err error) bool { return err != nil })

	again := deployment(t, "r-v1", "ok", 2, listen)
	promote(t, p, again)
	now := p.PIDs("r-v1")
	if len(now) != 2 || slices.Contains(now, pids[0]) || !slices.Contains(now, pids[1]) {
		t.Errorf("pids %v after the repair, want %d replaced and %d kept", now, pids[0], pids[1])
	}
	for range 4 {
		if got := get(t, listen); !strings.HasPrefix(got, "200 r-v1 ") {
			t.Fatalf("after the repair the balancer answers %q", got)
		}
	}
}

func TestCrashedInstanceIsDeployError(t *testing.T) {
	ctx := context.Background()
	p := newProvider(t)
	d := deployment(t, "r-crash", "crash", 1, 0)
	if err := p.Deploy(ctx, d); err != nil {
		t.Fatal(err)
	}
	h, err := waitFor(t, p, d, func(_ *contract.Health, err error) bool { return err != nil })
	var de *deployer.DeployError
	if !errors.As(err, &de) {
		t.Fatalf("error %T %v, want DeployError", err, err)
	}
	for _, want := range []string{"web-1", "exited: exit status 3", "fatal: cannot open config.toml"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if in := h.Services["web"].Instances[0]; in.State != contract.InstanceExited || in.Reason != "exit status 3" {
		t.Errorf("instance %+v", in)
	}
	if h.Healthy {
		t.Error("a crashed release reported healthy")
	}
}

func TestStopEscalatesToSIGKILL(t *testing.T) {
	ctx := context.Background()
	p := New(Options{DataDir: t.TempDir(), StopGrace: 100 * time.Millisecond})
	t.Cleanup(func() { p.Close() })
	d := deployment(t, "r-stubborn", "ignore-term", 1, 0)
	if err := p.Deploy(ctx, d); err != nil {
		t.Fatal(err)
	}
	waitFor(t, p, d, func(h *contract.Health, err error) bool { return err == nil && h.Healthy })
	pids := p.PIDs("r-stubborn")
	if err := p.CleanUpFailure(ctx, d); err != nil {
		t.Fatal(err)
	}
	if alive(pids[0]) {
		t.Errorf("pid %d survived SIGKILL", pids[0])
	}
}

func TestValidate(t *testing.T) {
	ctx := context.Background()
	p := newProvider(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port

	tests := []struct {
		name string
		edit func(*deployer.Service)
		want string
	}{
		{"ok", func(*deployer.Service) {}, ""},
		{"missing command", func(s *deployer.Service) { s.Command = []string{"odin-no-such-command"} }, "services.web.command: odin-no-such-command is not on PATH"},
		{"relative command", func(s *deployer.Service) { s.Command = []string{"./bin/server"} }, "bin/server not found"},
		{"missing dir", func(s *deployer.Service) { s.WorkingDir = "/nonexistent/odin" }, "services.web.working_dir /nonexistent/odin is not a directory"},
		{"port taken", func(s *deployer.Service) { s.Listen = takenPort }, fmt.Sprintf("services.web.listen: port %d is not free", takenPort)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := deployment(t, "r-x", "ok", 1, 0)
			s := d.Services["web"]
			tt.edit(&s)
			d.Services["web"] = s
			err := p.Validate(ctx, d)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var re *deployer.ResourceError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want ResourceError containing %q", err, tt.want)
			}
		})
	}
}

func TestLogTail(t *testing.T) {
	path := t.TempDir() + "/x.log"
	var b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	b.WriteString(strings.Repeat("x", 500) + "\n")
	os.WriteFile(path, []byte(b.String()), 0o600)
	got := logTail(path, 0)
	if len(got) != tailLines || got[0] != "line 2996" || len(got[4]) > tailLineBytes+len("…") {
		t.Fatalf("tail = %q", got)
	}
	if logTail(t.TempDir()+"/none", 0) != nil {
		t.Error("missing file gave lines")
	}
}

// The tail holds only what was written from the given offset: an earlier
// start's lines are not this start's.
func TestLogTailFrom(t *testing.T) {
	const sep = "--- odin: instance web-1 of release r starting at T ---"
	earlier, later := sep+"\nold 1\nold 2\n", sep+"\n"
	for _, tt := range []struct {
		name string
		now  string
		from int64
		want []string
	}{
		{"nothing yet", "", int64(len(earlier + later)), nil},
		{"one line", "new 1\n", int64(len(earlier + later)), []string{"new 1"}},
		{"unterminated line", "new 1\nnew 2", int64(len(earlier + later)), []string{"new 1", "new 2"}},
		{"from the start", "new 1\n", 0, []string{sep, "old 1", "old 2", sep, "new 1"}},
		{"truncated since", "", 1 << 20, []string{sep, "old 1", "old 2", sep}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := t.TempDir() + "/web-1.log"
			os.WriteFile(path, []byte(earlier+later+tt.now), 0o600)
			if got := logTail(path, tt.from); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("tail = %q, want %q", got, tt.want)
			}
		})
	}
}

// A release deployed again (a retry after a failure, a rollback to it)
// writes to the same log file. The failure cause of the second attempt
// holds only the second start's lines; the file keeps both, each after a
// separator.
func TestRedeployedReleaseReportsOnlyItsOwnLog(t *testing.T) {
	ctx := context.Background()
	p := newProvider(t)
	d := deployment(t, "r-again", "crash", 1, 0)
	const crash = "fatal: cannot open config.toml"
	var tail []string
	for attempt := 1; attempt <= 2; attempt++ {
		if err := p.Deploy(ctx, d); err != nil {
			t.Fatal(err)
		}
		h, err := waitFor(t, p, d, func(_ *contract.Health, err error) bool { return err != nil })
		if n := strings.Count(err.Error(), crash); n != 1 {
			t.Errorf("attempt %d: the error names the crash %d times, want once: %v", attempt, n, err)
		}
		tail = h.Services["web"].Instances[0].LogTail
		if err := p.CleanUpFailure(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"starting web-1 mode crash", crash}; fmt.Sprint(tail) != fmt.Sprint(want) {
		t.Errorf("second attempt's log tail = %q, want %q", tail, want)
	}

	dir := filepath.Join(p.dataDir, "logs", "hello", "test", "r-again")
	b, err := os.ReadFile(filepath.Join(dir, "web-1.log"))
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	sep := "--- odin: instance web-1 of release r-again starting at "
	if strings.Count(log, crash) != 2 || strings.Count(log, sep) != 2 || !strings.HasPrefix(log, sep) {
		t.Errorf("the log file should keep both starts, each after a separator:\n%s", log)
	}
	// Logs can hold secrets.
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "web-1.log"): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
}

// A provider started on the data dir of one that died (the server was
// killed) stops the instances the dead one left running.
func TestOrphansReaped(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dead := New(Options{DataDir: dir})
	d := deployment(t, "r-orphan", "ok", 2, 0)
	if err := dead.Deploy(ctx, d); err != nil {
		t.Fatal(err)
	}
	waitFor(t, dead, d, func(h *contract.Health, err error) bool { return err == nil && h.Healthy })
	pids := dead.PIDs("r-orphan")
	// Unrelated pid records must not be signalled: this one names our own
	// test process with an instance it does not have.
	if err := pidRecords(dir).Add(instanceRecord("r-x", "web-9", os.Getpid())); err != nil {
		t.Fatal(err)
	}

	next := New(Options{DataDir: dir})
	next.Start() // as the server does once it holds the lock
	defer next.Close()
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("orphaned pid %d still running", pid)
		}
	}
	if entries, _ := os.ReadDir(pidRecords(dir).Dir); len(entries) != 0 {
		t.Errorf("pid records left: %v", entries)
	}
	dead.Close()
}

// A release that moves its service to another port closes the old port's
// load balancer once it takes over.
func TestMovedListenPortIsClosed(t *testing.T) {
	ctx := context.Background()
	p := newProvider(t)
	first, second := freeListenPort(t), freeListenPort(t)
	for _, d := range []*deployer.Deployment{deployment(t, "r-a", "ok", 1, first), deployment(t, "r-b", "ok", 1, second)} {
		if err := p.Validate(ctx, d); err != nil {
			t.Fatal(err)
		}
		promote(t, p, d)
	}
	if got := get(t, second); !strings.HasPrefix(got, "200 r-b ") {
		t.Fatalf("new port answered %q", got)
	}
	if _, err := http.Get("http://127.0.0.1:" + strconv.Itoa(first) + "/"); err == nil {
		t.Fatal("the old port still answers")
	}
}

// After the server stops and starts again, the release that was serving
// serves again on the same port, from new processes.
func TestServingReleaseComesBack(t *testing.T) {
	dir := t.TempDir()
	listen := freeListenPort(t)
	first := New(Options{DataDir: dir, StopGrace: 2 * time.Second})
	d := deployment(t, "r-keep", "ok", 2, listen)
	promote(t, first, d)
	oldPIDs := first.PIDs("r-keep")
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://127.0.0.1:" + strconv.Itoa(listen) + "/"); err == nil {
		t.Fatal("the port still answers after Close")
	}

	second := New(Options{DataDir: dir, StopGrace: 2 * time.Second})
	second.Start() // as the server does once it holds the lock
	defer second.Close()
	deadline := time.Now().Add(30 * time.Second)
	for second.Serving("hello", "test") != "r-keep" {
		if time.Now().After(deadline) {
			t.Fatal("the serving release did not come back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := get(t, listen); !strings.HasPrefix(got, "200 r-keep web-") {
		t.Fatalf("after restart answered %q", got)
	}
	for _, pid := range second.PIDs("r-keep") {
		if slices.Contains(oldPIDs, pid) {
			t.Errorf("pid %d is from before the restart", pid)
		}
	}
	// The restored instances append to the release's logs after a
	// separator of their own, like any other start.
	b, err := os.ReadFile(filepath.Join(dir, "logs", "hello", "test", "r-keep", "web-1.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "--- odin: instance web-1 of release r-keep starting at "); n != 2 {
		t.Errorf("%d separators in the log after a restore, want 2:\n%s", n, b)
	}
}

func TestTCPHealthCheck(t *testing.T) {
	ctx := context.Background()
	p := newProvider(t)
	for _, tt := range []struct {
		mode        string
		wantHealthy bool
	}{{"ok", true}, {"unhealthy", true}} { // a TCP check ignores the HTTP status
		d := deployment(t, "r-tcp-"+tt.mode, tt.mode, 1, 0)
		s := d.Services["web"]
		s.HealthCheck.Type = "tcp"
		d.Services["web"] = s
		if err := p.Deploy(ctx, d); err != nil {
			t.Fatal(err)
		}
		waitFor(t, p, d, func(h *contract.Health, err error) bool { return err == nil && h.Healthy == tt.wantHealthy })
	}
	// Nothing listening: the TCP check fails and says so.
	d := deployment(t, "r-tcp-deaf", "ok", 1, 0)
	s := d.Services["web"]
	s.HealthCheck.Type = "tcp"
	s.Command = []string{"sleep", "60"}
	d.Services["web"] = s
	if err := p.Deploy(ctx, d); err != nil {
		t.Fatal(err)
	}
	h, _ := waitFor(t, p, d, func(h *contract.Health, err error) bool { return err == nil && h.Services["web"].Unhealthy == 1 })
	if r := h.Services["web"].Instances[0].Reason; !strings.Contains(r, "tcp check 127.0.0.1:") || !strings.Contains(r, "connection refused") {
		t.Errorf("reason %q", r)
	}
}

// Ports given to instances are never given again while they run, even
// though the kernel may offer a just-closed port twice.
func TestAssignPortNeverRepeats(t *testing.T) {
	p := newProvider(t)
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[int]bool{}
	for range 200 {
		port, err := p.assignPort()
		if err != nil {
			t.Fatal(err)
		}
		if seen[port] {
			t.Fatalf("port %d given twice", port)
		}
		seen[port] = true
	}
}

// TestInstanceGroupSweptWithItsLeader: what an instance started in its
// process group goes with it, whether the instance is stopped or exits on
// its own; the sweep happens while the exited leader is not yet reaped, so
// its group's id cannot be another process's (see awaitExit).
func TestInstanceGroupSweptWithItsLeader(t *testing.T) {
	for _, mode := range []string{"child", "child-then-exit"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			p := newProvider(t)
			d := deployment(t, "r-"+mode, mode, 1, 0)
			if err := p.Deploy(ctx, d); err != nil {
				t.Fatal(err)
			}
			pidFile := filepath.Join(d.Services["web"].WorkingDir, "child.pid")
			var child int
			deadline := time.Now().Add(time.Minute)
			for child == 0 {
				if b, err := os.ReadFile(pidFile); err == nil && len(b) > 0 {
					child, _ = strconv.Atoi(string(b))
				} else if time.Now().After(deadline) {
					t.Fatalf("the instance never wrote %s", pidFile)
				} else {
					time.Sleep(20 * time.Millisecond)
				}
			}
			if mode == "child" {
				waitFor(t, p, d, func(h *contract.Health, err error) bool { return err == nil && h.Healthy })
				if err := p.CleanUpFailure(ctx, d); err != nil {
					t.Fatal(err)
				}
			} else {
				waitFor(t, p, d, func(_ *contract.Health, err error) bool { return err != nil })
			}
			for alive(child) {
				if time.Now().After(deadline) {
					syscall.Kill(child, syscall.SIGKILL)
					t.Fatalf("the instance's child (pid %d) outlived it", child)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
