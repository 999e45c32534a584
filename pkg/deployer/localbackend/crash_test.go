package localbackend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odin-deploy/odin/pkg/testpeer/service"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/deploy"
	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/deployer/localprovider"
	"github.com/odin-deploy/odin/pkg/local/access"
	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/local/server"
	"github.com/odin-deploy/odin/pkg/procgroup"
	"github.com/odin-deploy/odin/pkg/release"
	"github.com/odin-deploy/odin/pkg/testpeer/ports"
)

// The test binary plays three parts: the test, a local backend with the
// deployer (ODIN_TEST_SERVE_DIR), and a release's service
// (TEST_SERVICE_MODE).
func TestMain(m *testing.M) {
	if mode := os.Getenv("TEST_SERVICE_MODE"); mode != "" {
		os.Exit(serveService(mode))
	}
	if dir := os.Getenv("ODIN_TEST_SERVE_DIR"); dir != "" {
		os.Exit(serveBackend(dir))
	}
	os.Exit(m.Run())
}

func serveService(mode string) int {
	fmt.Println("starting", os.Getenv("ODIN_INSTANCE"), "of", os.Getenv("ODIN_RELEASE_ID"))
	if mode == "crash" {
		fmt.Fprintln(os.Stderr, "fatal: cannot open config.toml")
		return 3
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, os.Getenv("ODIN_RELEASE_ID")) })
	return service.Serve(mux)
}

// serveBackend runs a local backend with the deployer, as `odin local
// serve` does, with two faults a test can inject:
//   - ODIN_TEST_HOLD=Task: the deployer's task Task does its work, then
//     blocks before returning until the file ODIN_TEST_HOLD_DIR/go exists
//     (each entry is noted in ODIN_TEST_HOLD_DIR/held-Task first), so a kill
//     lands in that state, after its side effects and before its result;
//   - ODIN_TEST_STRETCH=k: Wait states last k times longer, so a kill lands
//     inside one;
//   - ODIN_TEST_FAIL=Task: the deployer's task Task fails with a CleanUpError
//     (a cleanup that cannot finish), without doing its work.
func serveBackend(dir string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	so := server.Options{DataDir: dir, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	if k, _ := strconv.Atoi(os.Getenv("ODIN_TEST_STRETCH")); k > 1 {
		so.Clock = stretchedClock(k)
	}
	so, p, err := WithDeployer(ctx, so, AWS{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if task := os.Getenv("ODIN_TEST_HOLD"); task != "" {
		so.Functions = holding(so.Functions, task, os.Getenv("ODIN_TEST_HOLD_DIR"))
	}
	if task := os.Getenv("ODIN_TEST_FAIL"); task != "" {
		so.Functions = failing(so.Functions, task)
	}
	s, err := server.New(ctx, so)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		p.Close()
		return 1
	}
	if err := s.Wait(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	s.Close()
	p.Close()
	return 0
}

// stretchedClock tells the real time but waits k times longer.
type stretchedClock int

func (stretchedClock) Now() time.Time { return time.Now() }
func (k stretchedClock) After(d time.Duration) <-chan time.Time {
	return time.After(time.Duration(k) * d)
}

func holding(functions func(access.Endpoint) (*engine.Functions, error), task, dir string) func(access.Endpoint) (*engine.Functions, error) {
	return func(ep access.Endpoint) (*engine.Functions, error) {
		fns, err := functions(ep)
		if err != nil {
			return nil, err
		}
		real, ok := fns.Lookup(deployer.FunctionName)
		if !ok {
			return nil, fmt.Errorf("no %s function", deployer.FunctionName)
		}
		fns.Register(deployer.FunctionName, func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
			out, err := real(ctx, payload)
			var call struct{ Task string }
			json.Unmarshal(payload, &call)
			if call.Task != task {
				return out, err
			}
			f, ferr := os.OpenFile(filepath.Join(dir, "held-"+task), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
			if ferr == nil {
				f.WriteString("held\n")
				f.Close()
			}
			for {
				if _, serr := os.Stat(filepath.Join(dir, "go")); serr == nil {
					return out, err
				}
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(20 * time.Millisecond):
				}
			}
		})
		return fns, nil
	}
}

func failing(functions func(access.Endpoint) (*engine.Functions, error), task string) func(access.Endpoint) (*engine.Functions, error) {
	return func(ep access.Endpoint) (*engine.Functions, error) {
		fns, err := functions(ep)
		if err != nil {
			return nil, err
		}
		real, _ := fns.Lookup(deployer.FunctionName)
		fns.Register(deployer.FunctionName, func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
			var call struct{ Task string }
			json.Unmarshal(payload, &call)
			if call.Task == task {
				return nil, &deployer.CleanUpError{Msg: "stop instances: permission denied (injected)"}
			}
			return real(ctx, payload)
		})
		return fns, nil
	}
}

// backend is one helper server process on a data directory.
type backend struct {
	t    *testing.T
	dir  string
	proc *os.Process
	ep   access.Endpoint
	sfn  *sfn.Client
	s3   *s3.Client
}

func startBackend(t *testing.T, dir string, env ...string) *backend {
	t.Helper()
	for _, kv := range append([]string{"ODIN_TEST_HOLD=", "ODIN_TEST_STRETCH=", "ODIN_TEST_HOLD_DIR=", "ODIN_TEST_FAIL="}, env...) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("ODIN_TEST_SERVE_DIR", dir)
	b := &backend{t: t, dir: dir}
	ep, err := server.Ensure(context.Background(), dir, func(context.Context) error {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		b.proc, err = server.StartDetached(exe, []string{"-test.run=^$"}, filepath.Join(dir, server.LogFile))
		return err
	})
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, server.LogFile))
		t.Fatalf("start the backend: %v\n%s", err, log)
	}
	if b.proc == nil {
		t.Fatal("a backend was already running")
	}
	proc := b.proc
	t.Cleanup(func() { stopBackend(t, proc, dir) })
	b.ep = ep
	dep := ep
	b.sfn, b.s3 = dep.SFNClient(), dep.S3Client()
	return b
}

// stopBackendGrace bounds a clean stop of a helper backend: its instances
// have the provider's 10 s between SIGTERM and SIGKILL, then it exits.
const stopBackendGrace = 30 * time.Second

// stopBackend stops a helper backend as `odin local stop` does (SIGTERM,
// then SIGKILL after a grace), then whatever instances a backend killed on
// dir (here or by the test) left running: nothing the test started outlives
// it. Cleanups run last in first out, so no later backend still runs on dir.
func stopBackend(t *testing.T, proc *os.Process, dir string) {
	exited := make(chan struct{})
	go func() {
		proc.Wait()
		close(exited)
	}()
	if err := proc.Signal(syscall.SIGTERM); err == nil {
		select {
		case <-exited:
		case <-time.After(stopBackendGrace):
			t.Logf("the backend (pid %d) did not stop within %s: killing it", proc.Pid, stopBackendGrace)
			proc.Kill()
		}
	}
	<-exited
	localprovider.StopOrphans(dir, 5*time.Second, nil)
}

// instancePIDs returns the pids of the instances the backend on dir has
// recorded as running.
func instancePIDs(t *testing.T, dir string) []int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "deployer", "pids"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, "deployer", "pids", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var rec procgroup.Record
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, rec.PGID) // the instance's process leads its group
	}
	return pids
}

// running tells whether pid is a live process (not a zombie).
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && !strings.HasPrefix(strings.TrimSpace(string(b[i+1:])), "Z")
}

func (b *backend) kill() {
	b.t.Helper()
	if err := b.proc.Signal(syscall.SIGKILL); err != nil {
		b.t.Fatal(err)
	}
	b.proc.Wait()
}

func (b *backend) client() *deploy.Client {
	return &deploy.Client{
		Storage: b.s3, Executions: b.sfn, Bucket: deployer.Bucket,
		StateMachineArn: fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", b.ep.Region, b.ep.Account, deployer.StateMachineName),
		Account:         b.ep.Account, Region: b.ep.Region,
	}
}

// history is the execution's status and events.
func (b *backend) history(arn string) (sfntypes.ExecutionStatus, []sfntypes.HistoryEvent) {
	b.t.Helper()
	ctx := context.Background()
	d, err := b.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		b.t.Fatalf("DescribeExecution: %v", err)
	}
	var events []sfntypes.HistoryEvent
	p := sfn.NewGetExecutionHistoryPaginator(b.sfn, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			b.t.Fatalf("GetExecutionHistory: %v", err)
		}
		events = append(events, out.Events...)
	}
	return d.Status, events
}

// waitFor polls until cond holds; the limit only keeps a broken deployer
// from hanging the test, it asserts no speed.
func (b *backend) waitFor(arn, what string, cond func(sfntypes.ExecutionStatus, []sfntypes.HistoryEvent) bool) []sfntypes.HistoryEvent {
	b.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		status, events := b.history(arn)
		if cond(status, events) {
			return events
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(b.dir, server.LogFile))
			b.t.Fatalf("gave up waiting for %s; status %s%s\nserver log:\n%s", what, status, path(events), log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func path(events []sfntypes.HistoryEvent) string {
	var s strings.Builder
	for _, e := range events {
		fmt.Fprintf(&s, "\n  %d %s", e.Id, e.Type)
		if d := e.StateEnteredEventDetails; d != nil {
			fmt.Fprintf(&s, " %s", aws.ToString(d.Name))
		}
	}
	return s.String()
}

// current is the state the execution is in: the last one entered, unless
// it exited since.
func current(events []sfntypes.HistoryEvent) string {
	name := ""
	for _, e := range events {
		if d := e.StateEnteredEventDetails; d != nil {
			name = aws.ToString(d.Name)
		}
		if d := e.StateExitedEventDetails; d != nil && aws.ToString(d.Name) == name {
			name = ""
		}
	}
	return name
}

const releaseYAML = `project_name: crash
config_name: %s
target: local
timeout: 300
services:
  web:
    command: [%q]
    working_dir: "."
    env:
      TEST_SERVICE_MODE: %s
    instances: 2
    listen: %d
    health_check:
      type: http
      path: /healthz
      interval: 1
      healthy_threshold: 1
      unhealthy_threshold: 1
      grace_period: 0
`

// TestKillAtEveryDeployerState SIGKILLs a real server process in each state
// of the deployer in turn, where time passes in it (its tasks, held after
// their side effects and before their result, and its waits), then starts a
// new server on the same data directory. Every case must end with the
// server started, no execution RUNNING, no lock left, and the deploy
// finished (the release serves) or rolled back with its true reason (an
// instance that exited; or, when the rollback itself is made to fail, the
// CleanUpError that ends in FailureDirty). Each
// proves its kill landed mid-state: a held task cannot end before the test
// lets it, and a wait ends only after the restart. Choice, Pass, Succeed
// and Fail states write their events at once: there is no moment inside
// them to kill.
func TestKillAtEveryDeployerState(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes, deploys releases")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		state string
		wait  bool   // a Wait state (else a Task)
		mode  string // the release's service: ok, crash, or crash with a rollback that cannot finish
	}{
		{"Validate", false, "ok"},
		{"Lock", false, "ok"},
		{"ValidateResources", false, "ok"},
		{"Deploy", false, "ok"},
		{"WaitForDeploy", true, "ok"},
		{"WaitForHealthy", true, "ok"},
		{"CheckHealthy", false, "ok"},
		{"CleanUpSuccess", false, "ok"},
		{"ReleaseLock", false, "ok"},
		{"CleanUpFailure", false, "crash"},
		{"ReleaseLockFailure", false, "crash"},
		{"ReleaseLockDirty", false, "dirty"},
	}
	for i, tc := range cases {
		t.Run(tc.state, func(t *testing.T) {
			root := t.TempDir()
			dir, holdDir, relDir := filepath.Join(root, "data"), filepath.Join(root, "hold"), filepath.Join(root, "release")
			for _, d := range []string{holdDir, relDir} {
				if err := os.MkdirAll(d, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			listen := ports.Free(t)
			mode := tc.mode
			var fail []string
			if mode == "dirty" {
				mode, fail = "crash", []string{"ODIN_TEST_FAIL=CleanUpFailure"}
			}
			data := []byte(fmt.Sprintf(releaseYAML, "c"+strconv.Itoa(i), exe, mode, listen))
			f, err := release.Parse(filepath.Join(relDir, "release.yml"), data)
			if err != nil {
				t.Fatal(err)
			}
			env := append([]string{"ODIN_TEST_HOLD_DIR=" + holdDir}, fail...)
			if tc.wait {
				env = append(env, "ODIN_TEST_STRETCH=10")
			} else {
				env = append(env, "ODIN_TEST_HOLD="+tc.state)
			}
			b := startBackend(t, dir, env...)
			ctx := context.Background()
			c := b.client()
			plan, err := c.Plan(f, "arn:aws:iam::"+b.ep.Account+":user/test", relDir)
			if err != nil {
				t.Fatal(err)
			}
			started, err := c.Start(ctx, plan)
			if err != nil {
				t.Fatal(err)
			}
			arn := started.ExecutionArn

			// Kill when the execution is inside the state: a held task has
			// noted its hold, a wait has begun.
			b.waitFor(arn, "the state "+tc.state, func(status sfntypes.ExecutionStatus, events []sfntypes.HistoryEvent) bool {
				if status != sfntypes.ExecutionStatusRunning {
					t.Fatalf("the execution ended before %s: %s%s", tc.state, status, path(events))
				}
				if current(events) != tc.state {
					return false
				}
				if tc.wait {
					return true
				}
				_, err := os.Stat(filepath.Join(holdDir, "held-"+tc.state))
				return err == nil
			})
			orphans := instancePIDs(t, dir)
			b.kill()
			restarted := time.Now()
			for _, pid := range orphans {
				// Instances of the crash modes exit by themselves.
				if tc.mode == "ok" && !running(pid) {
					t.Fatalf("instance pid %d ended with the server: the kill did not leave it to the next one", pid)
				}
			}

			if err := os.WriteFile(filepath.Join(holdDir, "go"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			b = startBackend(t, dir, append([]string{"ODIN_TEST_HOLD_DIR=" + holdDir, "ODIN_TEST_HOLD=" + tc.state}, fail...)...)
			events := b.waitFor(arn, "the end of the deploy", func(status sfntypes.ExecutionStatus, _ []sfntypes.HistoryEvent) bool {
				return status != sfntypes.ExecutionStatusRunning
			})
			d, err := b.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
			if err != nil {
				t.Fatal(err)
			}

			// The kill landed mid-state.
			if tc.wait {
				for _, e := range events {
					if d := e.StateExitedEventDetails; d != nil && aws.ToString(d.Name) == tc.state && e.Timestamp.Before(restarted) {
						t.Errorf("%s exited at %v, before the kill at %v: the kill did not land in it", tc.state, e.Timestamp, restarted)
					}
				}
			} else if held, _ := os.ReadFile(filepath.Join(holdDir, "held-"+tc.state)); strings.Count(string(held), "held") < 2 {
				t.Errorf("%s ran %d times: it must have been interrupted, then run again", tc.state, strings.Count(string(held), "held"))
			}

			// The deploy finished, or rolled back with its true reason.
			switch tc.mode {
			case "ok":
				if d.Status != sfntypes.ExecutionStatusSucceeded {
					t.Fatalf("the deploy ended %s %s %q%s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), path(events))
				}
				serves(t, listen, plan.ReleaseID)
			case "dirty":
				if d.Status != sfntypes.ExecutionStatusFailed || aws.ToString(d.Error) != "CleanUpError" || !strings.Contains(aws.ToString(d.Cause), "permission denied (injected)") {
					t.Fatalf("the failed rollback ended %s %s %q, want FAILED CleanUpError%s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), path(events))
				}
			default:
				if d.Status != sfntypes.ExecutionStatusFailed || aws.ToString(d.Error) != "DeployError" || !strings.Contains(aws.ToString(d.Cause), "exited") {
					t.Fatalf("the rollback ended %s %s %q, want FAILED DeployError (an instance exited)%s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), path(events))
				}
			}
			// The instances the killed server left are stopped: nothing
			// else ever would.
			for _, pid := range orphans {
				if running(pid) {
					t.Errorf("instance pid %d, left by the killed server, still runs", pid)
				}
			}
			// No execution RUNNING, no lock left.
			list, err := b.sfn.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(c.StateMachineArn), StatusFilter: sfntypes.ExecutionStatusRunning})
			if err != nil {
				t.Fatal(err)
			}
			if len(list.Executions) != 0 {
				t.Errorf("%d executions still RUNNING", len(list.Executions))
			}
			lockKey := f.Release.Root(b.ep.Account) + "/lock"
			if _, err := b.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(deployer.Bucket), Key: aws.String(lockKey)}); err == nil {
				t.Errorf("the lock s3://%s/%s was left behind", deployer.Bucket, lockKey)
			}
		})
	}
}

// serves waits until the release's stable port answers with its id (a
// restored release takes a moment to be healthy again).
func serves(t *testing.T, port int, releaseID string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if last = string(b); last == releaseID {
				return
			}
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("port %d answers %q, want the release %s", port, last, releaseID)
}

// TestStopStartMidDeploy: v1 serves; v2's deploy is inside CheckHealthy
// when the server is stopped cleanly (as `odin local stop` does) and
// started again. The restore brings v1 back and must not stop v2, whose
// deploy resumes, adopts its release and takes over; then v1 is gone.
func TestStopStartMidDeploy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and stops server processes, deploys releases")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	dir, holdDir := filepath.Join(root, "data"), filepath.Join(root, "hold")
	if err := os.MkdirAll(holdDir, 0o700); err != nil {
		t.Fatal(err)
	}
	listen := ports.Free(t)
	ctx := context.Background()
	b := startBackend(t, dir, "ODIN_TEST_HOLD_DIR="+holdDir, "ODIN_TEST_HOLD=CheckHealthy")
	deployVersion := func(version string) (*deploy.Plan, string) {
		t.Helper()
		relDir := filepath.Join(root, version)
		if err := os.MkdirAll(relDir, 0o700); err != nil {
			t.Fatal(err)
		}
		// The version makes each release file, so each release id, its own.
		data := []byte(fmt.Sprintf(releaseYAML, "stop", exe, "ok", listen) + "# " + version + "\n")
		f, err := release.Parse(filepath.Join(relDir, "release.yml"), data)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := b.client().Plan(f, "arn:aws:iam::"+b.ep.Account+":user/test", relDir)
		if err != nil {
			t.Fatal(err)
		}
		started, err := b.client().Start(ctx, plan)
		if err != nil {
			t.Fatal(err)
		}
		return plan, started.ExecutionArn
	}
	// v1 runs through (its CheckHealthy is let go at once).
	if err := os.WriteFile(filepath.Join(holdDir, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	v1, arn1 := deployVersion("v1")
	b.waitFor(arn1, "v1's deploy", func(s sfntypes.ExecutionStatus, _ []sfntypes.HistoryEvent) bool {
		return s != sfntypes.ExecutionStatusRunning
	})
	serves(t, listen, v1.ReleaseID)

	// v2 is held inside CheckHealthy: its instances run, healthy, unpromoted.
	if err := os.Remove(filepath.Join(holdDir, "go")); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(holdDir, "held-CheckHealthy"))
	v2, arn2 := deployVersion("v2")
	b.waitFor(arn2, "v2 inside CheckHealthy", func(s sfntypes.ExecutionStatus, events []sfntypes.HistoryEvent) bool {
		_, err := os.Stat(filepath.Join(holdDir, "held-CheckHealthy"))
		return current(events) == "CheckHealthy" && err == nil
	})
	if err := b.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	b.proc.Wait()

	if err := os.WriteFile(filepath.Join(holdDir, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	b = startBackend(t, dir, "ODIN_TEST_HOLD_DIR="+holdDir, "ODIN_TEST_HOLD=CheckHealthy")
	events := b.waitFor(arn2, "v2's deploy", func(s sfntypes.ExecutionStatus, _ []sfntypes.HistoryEvent) bool {
		return s != sfntypes.ExecutionStatusRunning
	})
	if status, _ := b.history(arn2); status != sfntypes.ExecutionStatusSucceeded {
		log, _ := os.ReadFile(filepath.Join(dir, server.LogFile))
		t.Fatalf("v2's deploy ended %s%s\n%s", status, path(events), log)
	}
	serves(t, listen, v2.ReleaseID)
	log, _ := os.ReadFile(filepath.Join(dir, server.LogFile))
	if !strings.Contains(string(log), "bringing back the serving release") {
		t.Errorf("the restart did not restore v1:\n%s", log)
	}
	list, err := b.sfn.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(b.client().StateMachineArn), StatusFilter: sfntypes.ExecutionStatusRunning})
	if err != nil || len(list.Executions) != 0 {
		t.Errorf("executions still RUNNING: %v %v", list, err)
	}
}

// TestSecondStartLeavesTheServingBackendAlone: a backend started on a data
// directory another one serves (odin local serve twice) is refused, and
// touches nothing of the first: its instances keep running and serving, and
// the serving record stays. Sweeping what a killed server left, and
// bringing back the serving release, are for the lock's holder only.
func TestSecondStartLeavesTheServingBackendAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process, deploys a release")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	listen := ports.Free(t)
	ctx := context.Background()
	b := startBackend(t, dir)
	f, err := release.Parse(filepath.Join(root, "release.yml"), []byte(fmt.Sprintf(releaseYAML, "twice", exe, "ok", listen)))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := b.client().Plan(f, "arn:aws:iam::"+b.ep.Account+":user/test", root)
	if err != nil {
		t.Fatal(err)
	}
	started, err := b.client().Start(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	b.waitFor(started.ExecutionArn, "the deploy", func(s sfntypes.ExecutionStatus, _ []sfntypes.HistoryEvent) bool {
		return s != sfntypes.ExecutionStatusRunning
	})
	serves(t, listen, plan.ReleaseID)
	pids := instancePIDs(t, dir)
	if len(pids) == 0 {
		t.Fatal("no instance recorded")
	}

	second, err := Start(ctx, server.Options{DataDir: dir})
	if err == nil {
		second.Close()
		t.Fatal("a second backend started on a served data directory")
	}
	if !errors.Is(err, server.ErrAlreadyRunning) {
		t.Fatalf("second start: %v, want ErrAlreadyRunning", err)
	}
	for _, pid := range pids {
		if !running(pid) {
			t.Errorf("instance pid %d stopped by the refused second start", pid)
		}
	}
	if got := instancePIDs(t, dir); len(got) != len(pids) {
		t.Errorf("instance records %v after the refused start, want %v", got, pids)
	}
	serves(t, listen, plan.ReleaseID)
}
