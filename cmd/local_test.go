package cmd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/local/access"
	"github.com/odin-deploy/odin/pkg/local/server"
	"github.com/odin-deploy/odin/pkg/local/store"
)

func TestLocalEnvGolden(t *testing.T) {
	var out bytes.Buffer
	writeLocalEnv(&out, access.Endpoint{URL: "http://127.0.0.1:4599", AccessKeyID: "LKIAEXAMPLE000000000",
		SecretAccessKey: "abc+/def=ghi'jkl", Region: "us-east-1", Account: "000000000000"})
	golden := filepath.Join("testdata", "local_env.golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd -run LocalEnvGolden -update)", err)
	}
	if out.String() != string(want) {
		t.Fatalf("odin local env printed\n%s\nwant\n%s", out.String(), want)
	}
	// The exports must survive a real shell unchanged.
	sh := exec.Command("sh", "-c", out.String()+`printf %s "$AWS_SECRET_ACCESS_KEY"`)
	got, err := sh.Output()
	if err != nil || string(got) != "abc+/def=ghi'jkl" {
		t.Fatalf("sh read the secret as %q (%v)", got, err)
	}
}

func TestLocalFlags(t *testing.T) {
	f := &Factory{IO: func() *iostreams.IOStreams { io, _, _, _ := iostreams.Test(); return io }()}
	cmd := newLocalCmd(f)
	serve, _, err := cmd.Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.ParseFlags([]string{"--listen", "127.0.0.1:0", "--allow-remote", "--retention", "720h"}); err != nil {
		t.Fatal(err)
	}
	if r := serve.Flags().Lookup("retention"); r.Value.String() != "720h0m0s" || r.DefValue != "2160h0m0s" {
		t.Errorf("--retention = %q default %q", r.Value, r.DefValue)
	}
	if l := serve.Flags().Lookup("listen"); l.Value.String() != "127.0.0.1:0" || !l.Changed || l.DefValue != server.DefaultAddr {
		t.Errorf("--listen = %q changed %v default %q", l.Value, l.Changed, l.DefValue)
	}
	if v, _ := serve.Flags().GetBool("allow-remote"); !v {
		t.Error("--allow-remote not set")
	}
	for _, name := range []string{"start", "status", "stop", "env"} {
		if c, _, err := cmd.Find([]string{name}); err != nil || c.Name() != name {
			t.Errorf("odin local %s: %v", name, err)
		}
	}
}

func testLocalOptions(t *testing.T) (*LocalOptions, *bytes.Buffer, *bytes.Buffer) {
	io, _, out, errOut := iostreams.Test()
	return &LocalOptions{IO: io, Now: time.Now, DataDir: filepath.Join(t.TempDir(), "data"), Listen: "127.0.0.1:0", ListenSet: true,
		Grace: 5 * time.Second}, out, errOut
}

func TestLocalServeRunsUntilCancelled(t *testing.T) {
	opts, _, logs := testLocalOptions(t)
	var mu sync.Mutex
	opts.IO.ErrOut = lockedWriter{&mu, logs}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- localServeRun(ctx, opts) }()
	ep, err := server.Ensure(context.Background(), opts.DataDir, func(context.Context) error { return nil })
	if err != nil {
		cancel()
		t.Fatalf("serve did not become ready: %v", err)
	}
	c := s3.New(s3.Options{BaseEndpoint: aws.String(ep.URL), UsePathStyle: true, Region: ep.Region,
		Credentials: credentials.NewStaticCredentialsProvider(ep.AccessKeyID, ep.SecretAccessKey, "")})
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("served")}); err != nil {
		t.Fatal(err)
	}

	status, out, _ := testLocalOptions(t)
	status.DataDir = opts.DataDir
	if err := localStatusRun(context.Background(), status); err != nil {
		t.Fatalf("status while serving: %v", err)
	}
	if !strings.Contains(out.String(), "running") || !strings.Contains(out.String(), ep.URL) || strings.Contains(out.String(), ep.SecretAccessKey) {
		t.Errorf("status output:\n%s", out)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v after cancel", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "local backend serving") || !strings.Contains(logs.String(), "method=PUT path=/served") {
		t.Errorf("serve logs:\n%s", logs)
	}
	if strings.Contains(logs.String(), ep.SecretAccessKey) || strings.Contains(logs.String(), "AWS4-HMAC-SHA256") {
		t.Error("the logs hold the secret or an Authorization header")
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestLocalStatusNotRunning(t *testing.T) {
	opts, out, _ := testLocalOptions(t)
	err := localStatusRun(context.Background(), opts)
	if exitcode.Of(err) != exitcode.Failed || !strings.Contains(out.String(), "not running") {
		t.Fatalf("status with nothing running: exit %d, %q", exitcode.Of(err), out)
	}
	var ee *exitcode.Error
	if !errors.As(err, &ee) || ee.Err != nil {
		t.Errorf("status should exit 1 silently, got %v", err)
	}
	out.Reset()
	if err := localStopRun(context.Background(), opts); err != nil || !strings.Contains(out.String(), "not running") {
		t.Fatalf("stop with nothing running: %v %q", err, out)
	}
}

var (
	buildOnce sync.Once
	builtOdin string
	buildErr  error
)

// odinBinary builds this module's odin once per test run.
func odinBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "odin-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtOdin = filepath.Join(dir, "odin")
		cmd := exec.Command("go", "build", "-o", builtOdin, ".")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v", buildErr)
	}
	return builtOdin
}

// TestLocalBackgroundLifecycle runs the real binary: start (twice: one
// server), status, env, stop.
func TestLocalBackgroundLifecycle(t *testing.T) {
	t.Parallel() // waits on servers and health checks, not the CPU
	if testing.Short() {
		t.Skip("builds the odin binary")
	}
	bin := odinBinary(t)
	dir := filepath.Join(t.TempDir(), "data")
	run := func(args ...string) (string, int) {
		cmd := exec.Command(bin, append([]string{"--data-dir", dir}, args...)...)
		cmd.Env = append(os.Environ(), "NO_COLOR=1")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	t.Cleanup(func() { run("local", "stop", "--grace", "1s") })

	// Two CLIs at once end with one server.
	var wg sync.WaitGroup
	outs := make([]string, 2)
	for i := range outs {
		wg.Go(func() { outs[i], _ = run("local", "start", "--listen", "127.0.0.1:0") })
	}
	wg.Wait()
	joined := outs[0] + outs[1]
	if strings.Count(joined, "local backend started") != 1 || strings.Count(joined, "already running") != 1 {
		t.Fatalf("two starts:\n%s", joined)
	}
	out, code := run("local", "status")
	if code != 0 || !strings.Contains(out, "running") {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	out, code = run("local", "env")
	if code != 0 || !strings.Contains(out, "export AWS_ENDPOINT_URL=http://127.0.0.1:") {
		t.Fatalf("env: exit %d\n%s", code, out)
	}
	// The same as JSON, one object each.
	for _, c := range [][]string{
		{"start", `{"type":"local","action":"already_running","running":true,"pid":`},
		{"status", `{"type":"local","running":true,"pid":`},
		{"env", `{"AWS_ACCESS_KEY_ID":"`},
	} {
		if out, code = run("local", c[0], "--output", "json"); code != 0 || !strings.HasPrefix(out, c[1]) || strings.Count(out, "\n") != 1 {
			t.Errorf("local %s --output json: exit %d, want 0 and one object starting %s:\n%s", c[0], code, c[1], out)
		}
	}
	out, code = run("local", "stop", "--output", "json")
	if code != 0 || !strings.HasPrefix(out, `{"type":"local","action":"stopped","running":false,"pid":`) {
		t.Fatalf("stop: exit %d\n%s", code, out)
	}
	if out, code = run("local", "stop"); code != 0 || out != "local backend: not running\n" {
		t.Errorf("a second stop: exit %d\n%s", code, out)
	}
	if out, code = run("local", "status"); code != 1 {
		t.Fatalf("status after stop: exit %d\n%s", code, out)
	}
	log, _ := os.ReadFile(filepath.Join(dir, server.LogFile))
	if !strings.Contains(string(log), "local backend stopped") {
		t.Errorf("the server did not stop cleanly:\n%s", log)
	}
}

func TestLocalFunctionFlag(t *testing.T) {
	cases := []struct {
		spec string
		ok   bool
	}{
		{"work=sh -c true", true},
		{"work=/usr/local/bin/handler", true},
		{"work=", false},
		{"=cmd", false},
		{"no-equals", false},
	}
	for _, tc := range cases {
		opts, _, _ := testLocalOptions(t)
		opts.Functions = []string{tc.spec}
		fns, err := localServerOptions(opts, nil).Functions(access.Endpoint{})
		if tc.ok {
			if err != nil {
				t.Errorf("%q: %v", tc.spec, err)
			} else if _, found := fns.Lookup("arn:aws:lambda:us-east-1:000000000000:function:work"); !found {
				t.Errorf("%q: function not registered", tc.spec)
			}
			continue
		}
		if exitcode.Of(err) != exitcode.Usage {
			t.Errorf("%q: error %v, want a usage error", tc.spec, err)
		}
	}
}

// TestLocalCrashResumeBinary: the real binary's background server is
// SIGKILLed while an execution waits; `odin local start` brings it back with
// the same --function, and the execution completes with a contiguous history,
// its Wait ended by the new server (so the kill landed in it).
func TestLocalCrashResumeBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the odin binary")
	}
	bin := odinBinary(t)
	dir := filepath.Join(t.TempDir(), "data")
	t.Cleanup(func() { server.Stop(context.Background(), dir, time.Second) })
	start := func() access.Endpoint {
		t.Helper()
		script := filepath.Join(filepath.Dir(dir), "task.sh")
		if err := os.WriteFile(script, []byte("#!/bin/sh\ncat >/dev/null\nprintf '{\"ran\":true}'\n"), 0o700); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "--data-dir", dir, "local", "start", "--listen", "127.0.0.1:0", "--function", "work="+script)
		if out, err := cmd.CombinedOutput(); err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, server.LogFile))
			t.Fatalf("odin local start: %v\n%s\n%s", err, out, log)
		}
		st, err := server.Probe(context.Background(), dir)
		if err != nil || !st.Running {
			t.Fatalf("not running after start: %+v %v", st, err)
		}
		return st.Endpoint
	}
	ep := start()
	c := sfnClientFor(ep)
	ctx := context.Background()
	def := `{"StartAt":"Pause","States":{"Pause":{"Type":"Wait","Seconds":5,"Next":"Work"},` +
		`"Work":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:work","End":true}}}`
	sm, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("crash"), Definition: aws.String(def),
		RoleArn: aws.String("arn:aws:iam::000000000000:role/odin-local")})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String("survivor")})
	if err != nil {
		t.Fatal(err)
	}
	waitHistory(t, c, *ex.ExecutionArn, func(ev []sfntypes.HistoryEvent, _ sfntypes.ExecutionStatus) bool {
		return len(ev) > 0 && ev[len(ev)-1].Type == sfntypes.HistoryEventTypeWaitStateEntered
	})
	st, _ := server.Probe(ctx, dir)
	if err := syscall.Kill(st.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for held := true; held; {
		s, _ := server.Probe(ctx, dir)
		held = s.Pid != 0
		time.Sleep(20 * time.Millisecond)
	}

	restarted := time.Now()
	c = sfnClientFor(start())
	events := waitHistory(t, c, *ex.ExecutionArn, func(_ []sfntypes.HistoryEvent, s sfntypes.ExecutionStatus) bool {
		return s != sfntypes.ExecutionStatusRunning
	})
	// The kill landed in the Wait: the new server ended it.
	for _, e := range events {
		if e.Type == sfntypes.HistoryEventTypeWaitStateExited && e.Timestamp.Before(restarted) {
			t.Fatalf("the Wait ended at %v, before the restart at %v: the kill did not land in it", e.Timestamp, restarted)
		}
	}
	last := events[len(events)-1]
	if last.Type != sfntypes.HistoryEventTypeExecutionSucceeded || aws.ToString(last.ExecutionSucceededEventDetails.Output) != `{"ran":true}` {
		t.Fatalf("the execution did not succeed after the restart: %v", last.Type)
	}
	for i, e := range events {
		if e.Id != int64(i+1) {
			t.Fatalf("event %d has id %d: ids must be contiguous and unique", i, e.Id)
		}
	}
}

func sfnClientFor(ep access.Endpoint) *sfn.Client {
	return sfn.New(sfn.Options{BaseEndpoint: aws.String(ep.URL), Region: ep.Region, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(ep.AccessKeyID, ep.SecretAccessKey, "")})
}

// waitHistory polls until cond holds (60 s at most): it waits for progress,
// it does not assert speed.
func waitHistory(t *testing.T, c *sfn.Client, arn string, cond func([]sfntypes.HistoryEvent, sfntypes.ExecutionStatus) bool) []sfntypes.HistoryEvent {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for {
		d, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if cond(out.Events, d.Status) {
			return out.Events
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting; status %s, %d events", d.Status, len(out.Events))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLocalStatusReportsDamage: after the store recovered from a damaged
// journal, `odin local status` says what was lost and where the copy is,
// running or not, and so does a failed start.
func TestLocalStatusReportsDamage(t *testing.T) {
	opts, out, _ := testLocalOptions(t)
	sfnDir := filepath.Join(opts.DataDir, "sfn")
	s, err := store.Open(sfnDir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	arn := "arn:aws:states:us-east-1:000000000000:stateMachine:m"
	for i := range 3 {
		if _, err := s.CreateStateMachine(ctx, store.StateMachine{Arn: arn + string(rune('a'+i)), Name: "m",
			Revisions: []store.Revision{{ID: "r", Definition: `{"StartAt":"A"}`}}}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	b, err := os.ReadFile(filepath.Join(sfnDir, "journal"))
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(filepath.Join(sfnDir, "journal"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err = store.Open(sfnDir, store.Options{}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	server.RecordStartError(opts.DataDir, errors.New("server: listen on 127.0.0.1:4599: address already in use"))
	if err := localStatusRun(ctx, opts); exitcode.Of(err) != exitcode.Failed {
		t.Fatalf("status: %v", err)
	}
	for _, want := range []string{"not running", "last start failed: server: listen on 127.0.0.1:4599",
		"journal    damaged; recovered on", "1 damaged span(s)", "journal.damaged-", "recovery.json once read"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}
