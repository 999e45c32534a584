package deployer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/odin-deploy/odin/pkg/contract"
	. "github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/deployer/localprovider"
	"github.com/odin-deploy/odin/pkg/local/asl"
	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/local/server"
	"github.com/odin-deploy/odin/pkg/testpeer/ports"
)

func TestDefinitionValidates(t *testing.T) {
	def := Definition(FunctionArn("us-east-1", "123456789012"))
	if diags := asl.Validate(def); len(diags) > 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
	if !json.Valid(Template()) {
		t.Fatal("template is not JSON")
	}
}

// machine runs the deployer state machine on the local engine, with the real
// handler, the real local provider and moto's S3.
type machine struct {
	t       *testing.T
	eng     *engine.Engine
	sm      *asl.StateMachine
	h       *Handler
	p       *watchedProvider
	s3      *s3.Client
	bucket  string
	skew    atomic.Int64 // added to the handler's clock
	afterFn func(task string, st *State)

	mu     sync.Mutex
	last   []engine.Event // the last execution's history
	events map[string][]engine.Event
	done   map[string]chan engine.Result
}

type eventSink struct{ m *machine }

func (s eventSink) Append(_ context.Context, arn string, ev engine.Event) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.m.events[arn] = append(s.m.events[arn], ev)
	return nil
}

// watchedProvider remembers every process id it reported, so a test can
// check that none of a failed release's processes outlive it.
type watchedProvider struct {
	Provider
	mu   sync.Mutex
	pids map[string][]int // by release id
	// failCleanUp makes CleanUpFailure fail after it has cleaned up.
	failCleanUp bool
}

func (w *watchedProvider) Health(ctx context.Context, d *Deployment) (*contract.Health, error) {
	hl, err := w.Provider.Health(ctx, d)
	if hl != nil {
		w.mu.Lock()
		for _, s := range hl.Services {
			for _, in := range s.Instances {
				if in.PID != 0 && !slices.Contains(w.pids[in.ReleaseID], in.PID) {
					w.pids[in.ReleaseID] = append(w.pids[in.ReleaseID], in.PID)
				}
			}
		}
		w.mu.Unlock()
	}
	return hl, err
}

func (w *watchedProvider) CleanUpFailure(ctx context.Context, d *Deployment) error {
	if err := w.Provider.CleanUpFailure(ctx, d); err != nil {
		return err
	}
	if w.failCleanUp {
		return errors.New("stop instances: permission denied (injected)")
	}
	return nil
}

func (w *watchedProvider) seen(releaseID string) []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.pids[releaseID])
}

func newMachine(t *testing.T) *machine {
	t.Helper()
	// The local backend's own S3 (checksums, atomic conditional writes,
	// SigV4), served in-process.
	srv, err := server.New(context.Background(), server.Options{DataDir: t.TempDir(), Region: "us-east-1", Account: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ep := srv.Endpoint()
	c := ep.S3Client()
	bucket := Bucket
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	sm, err := asl.Parse(Definition(FunctionArn("us-east-1", "123456789012")))
	if err != nil {
		t.Fatal(err)
	}
	lp := localprovider.New(localprovider.Options{DataDir: t.TempDir(), StopGrace: 5 * time.Second})
	t.Cleanup(func() { lp.Close() })
	m := &machine{
		t: t, sm: sm, s3: c, bucket: bucket,
		p:      &watchedProvider{Provider: lp, pids: map[string][]int{}},
		events: map[string][]engine.Event{}, done: map[string]chan engine.Result{},
	}
	m.h = LocalHandler(ep, m.p, nil)
	// The executions run on m.eng, which the server's Step Functions API
	// does not know: asked, it would call every lock holder gone. Locks
	// here expire instead; TestLockHolderOnLocalBackend asks a real API.
	m.h.Executions = nil
	m.h.Now = func() time.Time { return time.Now().Add(time.Duration(m.skew.Load())) }
	fns := engine.NewFunctions()
	fns.Register(FunctionName, func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
		out, err := m.h.Invoke(ctx, payload)
		if err == nil && m.afterFn != nil {
			var env struct{ Task string }
			json.Unmarshal(payload, &env)
			var st State
			json.Unmarshal(out, &st)
			m.afterFn(env.Task, &st)
		}
		return out, err
	})
	m.eng = engine.New(engine.Options{
		Sink: eventSink{m}, Functions: fns, Region: "us-east-1", Account: "123456789012",
		OnDone: func(arn string, r engine.Result) {
			m.mu.Lock()
			ch := m.done[arn]
			m.mu.Unlock()
			ch <- r
		},
	})
	t.Cleanup(m.eng.Close)
	return m
}

// deploy runs one execution to its end and returns its result and the
// states it entered.
func (m *machine) deploy(in contract.Input) (engine.Result, []string) {
	m.t.Helper()
	name := "deploy-" + in.ReleaseID + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	arn := "arn:aws:states:us-east-1:123456789012:execution:odin-deployer:" + name
	ch := make(chan engine.Result, 1)
	m.mu.Lock()
	m.done[arn] = ch
	m.mu.Unlock()
	input, _ := json.Marshal(in)
	if err := m.eng.Start(context.Background(), engine.Execution{
		Arn: arn, Name: name, StateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:odin-deployer",
		StateMachineName: "odin-deployer", Machine: m.sm, Input: input,
	}); err != nil {
		m.t.Fatal(err)
	}
	var r engine.Result
	select {
	case r = <-ch:
	case <-time.After(3 * time.Minute):
		m.t.Fatalf("execution %s did not end", name)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.last = m.events[arn]
	var path []string
	for _, ev := range m.events[arn] {
		if strings.HasSuffix(ev.Type, "StateEntered") && ev.Details != nil {
			path = append(path, ev.Details.Name)
		}
	}
	return r, path
}

// noLock checks the project and config's lock is gone.
func (m *machine) noLock(in contract.Input) {
	m.t.Helper()
	_, err := m.s3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(m.bucket), Key: aws.String(in.AWSAccountID + "/" + in.ProjectName + "/" + in.ConfigName + "/lock")})
	if err == nil {
		m.t.Error("the deploy lock was left behind")
	}
}

// noneRunning checks that none of the release's processes are running.
func (m *machine) noneRunning(releaseID string) {
	m.t.Helper()
	for _, pid := range m.p.seen(releaseID) {
		if syscall.Kill(pid, 0) == nil {
			m.t.Errorf("release %s's process %d is still running", releaseID, pid)
		}
	}
}

var (
	happyPath = []string{"Validate", "Lock", "ValidateResources", "Deploy", "WaitForDeploy", "WaitForHealthy", "CheckHealthy", "Healthy?"}
	cleanPath = []string{"CleanUpFailure", "ReleaseLockFailure", "FailureClean"}
)

func cat(parts ...[]string) []string { return slices.Concat(parts...) }

// healthTurns drops the repeated turns of the health loop (Healthy? ->
// WaitForHealthy -> CheckHealthy after a CheckHealthy): how many turns a
// release takes to become healthy, or to show it crashed, depends on how
// fast the machine starts processes, not on the deployer.
func healthTurns(path []string) []string {
	var out []string
	for i := 0; i < len(path); i++ {
		if i+2 < len(path) && len(out) > 0 && out[len(out)-1] == "CheckHealthy" &&
			path[i] == "Healthy?" && path[i+1] == "WaitForHealthy" && path[i+2] == "CheckHealthy" {
			i += 2
			continue
		}
		out = append(out, path[i])
	}
	return out
}

// checkResult compares the path up to the number of health-loop turns, and
// the result.
func checkResult(t *testing.T, r engine.Result, path, wantPath []string, wantStatus, wantError string, wantCause ...string) {
	t.Helper()
	if !slices.Equal(healthTurns(path), healthTurns(wantPath)) {
		t.Errorf("path\n got %v\nwant %v", path, wantPath)
	}
	if r.Status != wantStatus || r.Error != wantError {
		t.Errorf("result %s %q %q; want %s %q", r.Status, r.Error, r.Cause, wantStatus, wantError)
	}
	for _, c := range wantCause {
		if !strings.Contains(r.Cause, c) {
			t.Errorf("cause %q lacks %q", r.Cause, c)
		}
	}
}

func TestMachineSuccess(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	in := Upload(t, m.s3, m.bucket, ReleaseYAML(t, ReleaseSpec{Instances: 2}), t.TempDir())
	r, path := m.deploy(in)
	checkResult(t, r, path, cat(happyPath, []string{"CleanUpSuccess", "ReleaseLock", "Success"}), engine.StatusSucceeded, "")
	var out State
	if err := json.Unmarshal(r.Output, &out); err != nil {
		t.Fatal(err)
	}
	if out.Health == nil || out.Health.Services["web"].Healthy != 2 || out.LockETag != "" {
		t.Errorf("output health %+v lock %q", out.Health, out.LockETag)
	}
	m.noLock(in)
	if pids := m.p.seen(in.ReleaseID); len(pids) != 2 {
		t.Errorf("pids %v", pids)
	}
}

func TestMachineFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		spec      ReleaseSpec
		data      []byte // instead of spec
		edit      func(m *machine, in *contract.Input)
		after     func(m *machine, in contract.Input) func(task string, st *State)
		failClean bool
		wantPath  []string
		wantError string
		wantCause []string
	}{
		{
			name:      "digest mismatch",
			edit:      func(_ *machine, in *contract.Input) { in.ReleaseSHA256 = strings.Repeat("0", 64) },
			wantPath:  []string{"Validate", "FailureClean"},
			wantError: "BadReleaseError", wantCause: []string{"release digest mismatch", `"errorType":"BadReleaseError"`},
		},
		{
			name:      "invalid release",
			data:      []byte("project_name: hello\nconfig_name: CONFIG\ntarget: local\nservices: {}\n"),
			wantPath:  []string{"Validate", "FailureClean"},
			wantError: "BadReleaseError", wantCause: []string{"is invalid"},
		},
		{
			name: "lock held by another release",
			edit: func(m *machine, in *contract.Input) {
				_, err := m.s3.PutObject(context.Background(), &s3.PutObjectInput{
					Bucket: aws.String(m.bucket), Key: aws.String(in.AWSAccountID + "/hello/" + in.ConfigName + "/lock"),
					Body: strings.NewReader(`{"release_id":"r-other","owner":"bob","execution":"exec-other","acquired_at":"` +
						time.Now().UTC().Format(time.RFC3339) + `","expires_at":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`),
				})
				if err != nil {
					m.t.Fatal(err)
				}
			},
			wantPath:  []string{"Validate", "Lock", "FailureClean"},
			wantError: "LockExistsError", wantCause: []string{"locked by release r-other (owner bob", "odin unlock --project hello --config-name "},
		},
		{
			name:      "instance exits at start",
			spec:      ReleaseSpec{Mode: "crash"},
			wantPath:  cat(happyPath[:len(happyPath)-1], cleanPath),
			wantError: "DeployError", wantCause: []string{"web-1", "exited: exit status 3", "fatal: cannot open config.toml"},
		},
		{
			name: "never healthy",
			spec: ReleaseSpec{Mode: "unhealthy", Timeout: 60},
			after: func(m *machine, _ contract.Input) func(string, *State) {
				return func(task string, _ *State) {
					if task == "Deploy" {
						m.skew.Store(int64(61 * time.Second)) // the release's timeout has passed
					}
				}
			},
			wantPath:  cat(happyPath[:len(happyPath)-1], cleanPath),
			wantError: "TimeoutError", wantCause: []string{"not healthy after its timeout of 60s", "web 0/1 healthy", "web-1"},
		},
		{
			name: "halt during health checks",
			spec: ReleaseSpec{Mode: "unhealthy"},
			after: func(m *machine, in contract.Input) func(string, *State) {
				var once sync.Once
				return func(task string, _ *State) {
					if task == "CheckHealthy" {
						once.Do(func() {
							m.s3.PutObject(context.Background(), &s3.PutObjectInput{
								Bucket: aws.String(m.bucket), Key: aws.String(in.AWSAccountID + "/hello/" + in.ConfigName + "/halt"),
								Body: strings.NewReader(`{"by":"bob"}`),
							})
						})
					}
				}
			},
			wantPath:  cat(happyPath, []string{"WaitForHealthy", "CheckHealthy"}, cleanPath),
			wantError: "HaltError", wantCause: []string{"deploy halted"},
		},
		{
			name:      "cleanup fails",
			spec:      ReleaseSpec{Mode: "crash"},
			failClean: true,
			wantPath:  cat(happyPath[:len(happyPath)-1], []string{"CleanUpFailure", "ReleaseLockDirty", "FailureDirty"}),
			wantError: "CleanUpError", wantCause: []string{"permission denied (injected)"},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newMachine(t)
			m.p.failCleanUp = tt.failClean
			data := tt.data
			if data == nil {
				tt.spec.Config = "fail" + strconv.Itoa(i)
				data = ReleaseYAML(t, tt.spec)
			}
			in := Upload(t, m.s3, m.bucket, data, t.TempDir())
			if tt.edit != nil {
				tt.edit(m, &in)
			}
			if tt.after != nil {
				m.afterFn = tt.after(m, in)
			}
			r, path := m.deploy(in)
			checkResult(t, r, path, tt.wantPath, engine.StatusFailed, tt.wantError, tt.wantCause...)
			if tt.name != "lock held by another release" {
				m.noLock(in)
			}
			m.noneRunning(in.ReleaseID)
			if slices.Contains(tt.wantPath, "CleanUpFailure") && !tt.failClean {
				m.stoppedInReport()
			}
		})
	}
}

// stoppedInReport checks that the rollback's task output, which the live
// view shows, reports every instance stopped (or exited, if it crashed).
func (m *machine) stoppedInReport() {
	m.t.Helper()
	var out string
	for i, ev := range m.last {
		if ev.Type == "TaskStateEntered" && ev.Details.Name == "CleanUpFailure" {
			for _, next := range m.last[i:] {
				if next.Type == "LambdaFunctionSucceeded" {
					out = next.Details.Output
				}
				if next.Type == "TaskStateExited" {
					break
				}
			}
		}
	}
	var st State
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Health == nil {
		m.t.Fatalf("CleanUpFailure output %q: %v", out, err)
	}
	for _, s := range st.Health.Services {
		for _, in := range s.Instances {
			if in.State != contract.InstanceStopped && in.State != contract.InstanceExited {
				m.t.Errorf("after rollback, instance %s is %s", in.ID, in.State)
			}
		}
	}
}

// TestMachineBlueGreen deploys v1, then v2, through the whole state machine:
// the service's stable port answers v1, then v2, and v1's processes are gone.
func TestMachineBlueGreen(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	listen := freeTestPort(t)
	v1 := Upload(t, m.s3, m.bucket, ReleaseYAML(t, ReleaseSpec{Config: "bluegreen", Instances: 2, Listen: listen, Version: "v1"}), t.TempDir())
	if r, path := m.deploy(v1); r.Status != engine.StatusSucceeded {
		t.Fatalf("v1: %s %s %s, path %v", r.Status, r.Error, r.Cause, path)
	}
	if got := httpGet(t, listen); got != "release "+v1.ReleaseID+" version v1" {
		t.Fatalf("v1 answered %q", got)
	}
	v2 := Upload(t, m.s3, m.bucket, ReleaseYAML(t, ReleaseSpec{Config: "bluegreen", Instances: 2, Listen: listen, Version: "v2"}), t.TempDir())
	if r, path := m.deploy(v2); r.Status != engine.StatusSucceeded {
		t.Fatalf("v2: %s %s %s, path %v", r.Status, r.Error, r.Cause, path)
	}
	for range 4 {
		if got := httpGet(t, listen); got != "release "+v2.ReleaseID+" version v2" {
			t.Fatalf("after v2, answered %q", got)
		}
	}
	m.noneRunning(v1.ReleaseID)
	m.noLock(v2)
}

// freeTestPort is a port for a release's stable listen port, outside the
// range outgoing connections take theirs from.
func freeTestPort(t *testing.T) int { return ports.Free(t) }

func httpGet(t *testing.T, port int) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// exampleRelease reads an example release, moving its listen port to a free
// one so the test never collides with a deploy on this machine.
func exampleRelease(t *testing.T, path string, listen int) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := listenLine.ReplaceAll(data, []byte(fmt.Sprintf("listen: %d", listen)))
	if bytes.Equal(out, data) {
		t.Fatalf("%s has no listen line", path)
	}
	return out
}

var listenLine = regexp.MustCompile(`listen: \d+`)

// TestHelloBlueGreen deploys examples/hello v1 (two instances of `go run .`),
// then v2, through the whole state machine: the stable port answers v1, then
// v2, and v1's processes are gone. Then examples/failing fails and rolls
// back while v2 keeps serving.
func TestHelloBlueGreen(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs examples/hello")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go on PATH")
	}
	t.Parallel()
	m := newMachine(t)
	dir, err := filepath.Abs("../../examples/hello")
	if err != nil {
		t.Fatal(err)
	}
	listen := freeTestPort(t)
	v1 := Upload(t, m.s3, m.bucket, exampleRelease(t, filepath.Join(dir, "release.yml"), listen), dir)
	if r, path := m.deploy(v1); r.Status != engine.StatusSucceeded {
		t.Fatalf("v1: %s %s %s, path %v", r.Status, r.Error, r.Cause, path)
	}
	if got, want := httpGet(t, listen), "hello from web release "+v1.ReleaseID+" version v1\n"; got != want {
		t.Fatalf("v1 answered %q, want %q", got, want)
	}
	v1PIDs := m.p.seen(v1.ReleaseID)
	if len(v1PIDs) != 2 {
		t.Fatalf("v1 ran %d processes, want 2", len(v1PIDs))
	}

	v2 := Upload(t, m.s3, m.bucket, exampleRelease(t, filepath.Join(dir, "release-v2.yml"), listen), dir)
	if r, path := m.deploy(v2); r.Status != engine.StatusSucceeded {
		t.Fatalf("v2: %s %s %s, path %v", r.Status, r.Error, r.Cause, path)
	}
	for range 4 {
		if got, want := httpGet(t, listen), "hello from web release "+v2.ReleaseID+" version v2\n"; got != want {
			t.Fatalf("after v2, answered %q, want %q", got, want)
		}
	}
	m.noneRunning(v1.ReleaseID)
	m.noLock(v2)

	failingDir, _ := filepath.Abs("../../examples/failing")
	bad := Upload(t, m.s3, m.bucket, exampleRelease(t, filepath.Join(failingDir, "release.yml"), freeTestPort(t)), failingDir)
	r, path := m.deploy(bad)
	checkResult(t, r, path, cat(happyPath[:len(happyPath)-1], cleanPath), engine.StatusFailed, "DeployError",
		"exited: exit status", "--crash was given")
	m.noneRunning(bad.ReleaseID)
	m.noLock(bad)
	if got := httpGet(t, listen); !strings.Contains(got, "version v2") {
		t.Fatalf("v2 stopped serving after a failed deploy of another config: %q", got)
	}
}
