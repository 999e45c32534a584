package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/odin-deploy/odin/pkg/backend"
	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/local/access"
	"github.com/odin-deploy/odin/pkg/testpeer/ports"
	"github.com/odin-deploy/odin/pkg/watch/watchtest"
)

// replayOdin runs odin against a Replay of a recorded history: the whole
// command (flags, backend, target, history paging, report, exit code)
// through the real SDK.
func replayOdin(t *testing.T, r *watchtest.Replay, args ...string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	io, _, out, errOut := iostreams.Test()
	f := &Factory{
		IO:  io,
		Env: configEnv(dir),
		Now: time.Now,
		StartLocal: func(context.Context, string) (access.Endpoint, error) {
			return access.Endpoint{URL: r.URL, AccessKeyID: "test", SecretAccessKey: "test", Region: "us-east-1", Account: "123456789012"}, nil
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := Run(ctx, f, append([]string{"--data-dir", dir}, args...))
	return code, out.String(), errOut.String()
}

func replayOf(t *testing.T, name string) *watchtest.Replay {
	t.Helper()
	def, _ := watchtest.Deployer(t, name)
	h, err := watchtest.ReadHistory(watchtest.HistoryPath(name))
	if err != nil {
		t.Fatal(err)
	}
	return watchtest.NewReplay(t, def, h)
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./cmd -run %s -update writes it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestFailGolden runs `odin fail EXECUTION` on each recorded deployer
// failure path, in text and JSON, and checks the exit code scripts see.
func TestFailGolden(t *testing.T) {
	tests := []struct {
		history  string
		wantCode int
		wantText []string // what a reader must find, beyond the golden
	}{
		{"digest-mismatch", 1, []string{"BadReleaseError in Validate", "digest mismatch", "Validate → FailureClean"}},
		{"lock-held", 1, []string{"LockExistsError in Lock", "odin unlock --project hello --config-name production"}},
		{"unhealthy", 1, []string{"HealthError in CheckHealthy", "web/web-2  unhealthy", "connection refused", "#4"}},
		{"timeout", 3, []string{"TIMED OUT: TimeoutError in CheckHealthy", "raise the release's timeout", "web/web-2"}},
		{"halt", 4, []string{"HALTED and rolled back", "CheckHealthy → CleanUpFailure → ReleaseLockFailure → FailureClean"}},
		{"failure-dirty", 1, []string{"DeployError in Deploy", "Ended with    CleanUpError (in FailureDirty)", "ALERT"}},
		{"lambda-stack", 1, []string{"Runtime.UnmarshalError", "Stack trace", "(*Handler).deploy (tasks.go:275)", "UnmarshalTypeError"}},
		{"deploy-retry", 0, []string{"succeeded: nothing failed", "1 failed attempt was retried"}},
	}
	for _, tt := range tests {
		t.Run(tt.history, func(t *testing.T) {
			t.Parallel()
			r := replayOf(t, tt.history)
			code, out, errOut := replayOdin(t, r, "fail", watchtest.ExecutionArn)
			if code != tt.wantCode {
				t.Errorf("text: exit %d, want %d; stderr %s", code, tt.wantCode, errOut)
			}
			for _, w := range tt.wantText {
				if !strings.Contains(out, w) {
					t.Errorf("the report lacks %q", w)
				}
			}
			checkGolden(t, filepath.Join("testdata", "fail", tt.history+".golden"), []byte(out))

			code, out, errOut = replayOdin(t, r, "fail", watchtest.ExecutionArn, "--output", "json")
			if code != tt.wantCode {
				t.Errorf("json: exit %d, want %d; stderr %s", code, tt.wantCode, errOut)
			}
			var v map[string]any
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Fatalf("--output json is not one JSON object: %v\n%s", err, out)
			}
			checkGolden(t, filepath.Join("testdata", "fail", tt.history+".json.golden"), []byte(out))
		})
	}
}

// TestFailReadsEveryPage checks the report is the same whether the server
// pages (AWS, the local backend) or answers everything at once (moto).
func TestFailReadsEveryPage(t *testing.T) {
	r := replayOf(t, "unhealthy")
	_, paged, _ := replayOdin(t, r, "fail", watchtest.ExecutionArn, "--output", "json")
	r.IgnorePaging(true)
	_, whole, _ := replayOdin(t, r, "fail", watchtest.ExecutionArn, "--output", "json")
	if paged != whole {
		t.Errorf("paged and unpaged reads differ:\n%s\n---\n%s", paged, whole)
	}
}

// TestFailStillRunning shows an execution cut mid-way (as a running one
// is): it says where it is and exits 5.
func TestFailStillRunning(t *testing.T) {
	r := replayOf(t, "unhealthy")
	r.SetVisible(28) // CheckHealthy's first try has started
	code, out, _ := replayOdin(t, r, "fail", watchtest.ExecutionArn)
	if code != 5 {
		t.Errorf("exit %d, want 5", code)
	}
	if !strings.Contains(out, "is still running, in CheckHealthy.") || !strings.Contains(out, "odin status") {
		t.Errorf("running report:\n%s", out)
	}
}

func TestFailUsage(t *testing.T) {
	r := replayOf(t, "unhealthy")
	for _, args := range [][]string{
		{"fail", "a", "b"},
		{"fail", "--project", "hello"},
		{"fail", "x.yml", "--project", "hello", "--config-name", "c"},
		{"fail", "arn:aws:states:us-east-1:123456789012:stateMachine:odin-deployer"},
	} {
		if code, _, errOut := replayOdin(t, r, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errOut)
		}
	}
	code, out, errOut := replayOdin(t, r, "fail", "arn:aws:states:us-east-1:123456789012:execution:odin-deployer:nope")
	if code != 1 || out != "" || !strings.Contains(errOut, "ExecutionDoesNotExist") {
		t.Errorf("missing execution: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestFailOnLocalBackend deploys examples/failing (its service exits at
// start) with the real deployer on the local backend, then asks odin fail
// why, by release file, by project/config and as JSON. With -update it
// also stores the history as a diagnose test fixture.
func TestFailOnLocalBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("deploys real processes")
	}
	o := startLocalOdin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const file = "../examples/failing/release.yml"
	if code, out, errOut := o.run(ctx, "fail", file); code != 1 || out != "" || !strings.Contains(errOut, "no deploy of hello/failing (account "+o.backend.Endpoint().Account+") in state machine odin-deployer") {
		t.Errorf("before any deploy: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut := o.run(ctx, "deploy", file, "--output", "plain")
	if code != 1 {
		t.Fatalf("deploy of a failing release: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	code, text, errOut := o.run(ctx, "fail", file)
	t.Logf("odin fail:\n%s", text)
	if code != 1 {
		t.Errorf("odin fail: exit %d, want 1; stderr %s", code, errOut)
	}
	for _, want := range []string{
		"Deploy of hello/failing ", " FAILED: ", "Failed state", "Attempts", "Path ", "FailureClean",
		"Input of ", "Next steps", "odin deploy " + file,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("odin fail's report lacks %q", want)
		}
	}

	code, js, _ := o.run(ctx, "fail", "--project", "hello", "--config-name", "failing", "--output", "json")
	if code != 1 {
		t.Errorf("odin fail --project: exit %d, want 1", code)
	}
	var rep struct {
		Execution struct{ Arn, Status string }
		Verdict   string
		Release   struct{ Project, Config string }
		Failure   struct {
			State, Error string
			Attempts     []struct{ Error string }
		}
		Path []string
	}
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatalf("--output json: %v\n%s", err, js)
	}
	if rep.Verdict != "failed" || rep.Execution.Status != "FAILED" || rep.Release.Project != "hello" || rep.Release.Config != "failing" ||
		rep.Failure.State == "" || rep.Failure.Error == "" || len(rep.Failure.Attempts) == 0 || len(rep.Path) < 2 || rep.Path[len(rep.Path)-1] != "FailureClean" {
		t.Errorf("JSON report: %+v", rep)
	}
	if *update {
		recordFixture(t, ctx, o, rep.Execution.Arn, "../pkg/diagnose/testdata/history/local-crash.json")
	}

	// Lock held: another release's lock on hello/locked, as a crashed
	// deploy leaves it.
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	locked := filepath.Join(t.TempDir(), "release.yml")
	data = bytes.Replace(data, []byte("config_name: failing"), []byte("config_name: locked"), 1)
	// Another port: hello/failing's balancer keeps 8081, and odin deploy
	// refuses a port held by anything but the project and config's own.
	data = bytes.Replace(data, []byte("listen: 8081"), []byte(fmt.Sprintf("listen: %d", ports.Free(t))), 1)
	if err := os.WriteFile(locked, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ep := o.backend.Endpoint()
	s3c := s3.New(s3.Options{Region: ep.Region, BaseEndpoint: aws.String(ep.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(ep.AccessKeyID, ep.SecretAccessKey, "")})
	now := time.Now().UTC()
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(backend.LocalBucket), Key: aws.String(ep.Account + "/hello/locked/lock"),
		Body: strings.NewReader(`{"release_id":"r-other","owner":"arn:aws:iam::` + ep.Account + `:user/grace","execution":"deploy-hello_locked_r-other",` +
			`"acquired_at":"` + now.Format(time.RFC3339) + `","expires_at":"` + now.Add(time.Hour).Format(time.RFC3339) + `"}`)}); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := o.run(ctx, "deploy", locked, "--output", "plain"); code != 1 {
		t.Fatalf("deploy while locked: exit %d\n%s\n%s", code, out, errOut)
	}
	_, text, _ = o.run(ctx, "fail", locked)
	t.Logf("odin fail (locked):\n%s", text)
	for _, want := range []string{"LockExistsError in Lock", "r-other", "odin unlock " + locked, "odin unlock --project hello --config-name locked", "Lock → FailureClean"} {
		if !strings.Contains(text, want) {
			t.Errorf("odin fail's report lacks %q", want)
		}
	}
	if *update {
		_, js, _ := o.run(ctx, "fail", locked, "--output", "json")
		if err := json.Unmarshal([]byte(js), &rep); err != nil {
			t.Fatal(err)
		}
		recordFixture(t, ctx, o, rep.Execution.Arn, "../pkg/diagnose/testdata/history/local-lock-held.json")
	}

	// A later deploy of the project and config succeeds: by project and
	// config odin fail reports that success and names the failure; by the
	// failing release's file it still explains that release's deploy.
	fixed, _ := hello{Project: "hello", Config: "failing", Version: "fixed"}.write(t)
	if code, out, errOut := o.run(ctx, "deploy", fixed, "--output", "plain"); code != 0 {
		t.Fatalf("deploy of a fixed release: exit %d\n%s\n%s", code, out, errOut)
	}
	code, text, errOut = o.run(ctx, "fail", "--project", "hello", "--config-name", "failing")
	failedName := executionName(rep.Execution.Arn)
	if code != 0 || !strings.Contains(text, "succeeded: nothing failed") || !strings.Contains(errOut, "the newest that did is "+failedName+" (FAILED): odin fail "+failedName) {
		t.Errorf("odin fail --project after a fix: exit %d, want 0, the success and the failure named\nstdout:\n%s\nstderr:\n%s", code, text, errOut)
	}
	if code, text, errOut = o.run(ctx, "fail", file); code != 1 || !strings.Contains(text, failedName) {
		t.Errorf("odin fail FILE after a fix: exit %d, want 1 explaining %s\nstdout:\n%s\nstderr:\n%s", code, failedName, text, errOut)
	}

	// No argument: the release.yml of the current directory.
	t.Chdir("../examples/failing")
	code, text, errOut = o.run(ctx, "fail")
	if code != 1 || !strings.Contains(text, "Deploy of hello/failing ") || !strings.Contains(text, "odin deploy release.yml") {
		t.Errorf("odin fail in the release's directory: exit %d, stderr %s\n%s", code, errOut, text)
	}
}

// recordFixture stores an execution's history for pkg/diagnose's tests,
// with this run's temporary directory replaced so re-recording gives a
// small diff.
func recordFixture(t *testing.T, ctx context.Context, o *localOdin, arn, path string) {
	t.Helper()
	ep := o.backend.Endpoint()
	cfg := aws.Config{Region: ep.Region, Credentials: credentials.NewStaticCredentialsProvider(ep.AccessKeyID, ep.SecretAccessKey, "")}
	h, err := watchtest.Record(ctx, cfg, []func(*sfn.Options){func(so *sfn.Options) { so.BaseEndpoint = aws.String(ep.URL) }}, arn)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("..")
	tmp := regexp.MustCompile(regexp.QuoteMeta(o.dataDir) + `|/tmp/Test\w+/\d+`)
	for i, ev := range h.Events {
		b := tmp.ReplaceAll(ev, []byte("/tmp/odin-data"))
		h.Events[i] = bytes.ReplaceAll(b, []byte(abs), []byte("/src/odin"))
	}
	if err := h.Write(path); err != nil {
		t.Fatal(err)
	}
}

// countingClient counts the Step Functions operations odin calls.
type countingClient struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingClient) Do(req *http.Request) (*http.Response, error) {
	if op := req.Header.Get("X-Amz-Target"); op != "" {
		c.mu.Lock()
		c.calls[strings.TrimPrefix(op, "AWSStepFunctions.")]++
		c.mu.Unlock()
	}
	return http.DefaultClient.Do(req)
}

// loopDefinition loops until Step Functions' 25,000-event cap ends it.
const loopDefinition = `{"StartAt":"CheckHealthy","States":{
  "CheckHealthy":{"Type":"Pass","Next":"Healthy?"},
  "Healthy?":{"Type":"Choice","Choices":[{"Variable":"$.healthy","BooleanEquals":true,"Next":"Done"}],"Default":"CheckHealthy"},
  "Done":{"Type":"Succeed"}}}`

// TestFailLongHistoryOnLocalBackend runs an execution to the 25,000-event
// cap on the local backend and asks odin fail about it: every page is
// read, data only where the report needs it, and the cap is named as the
// cause. (Its speed and
// memory are measured by BenchmarkExplain25k and by /usr/bin/time; see
// the report of issue 6.)
func TestFailLongHistoryOnLocalBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 25,000 events")
	}
	o := startLocalOdin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ep := o.backend.Endpoint()
	c := sfn.New(sfn.Options{Region: ep.Region, BaseEndpoint: aws.String(ep.URL),
		Credentials: credentials.NewStaticCredentialsProvider(ep.AccessKeyID, ep.SecretAccessKey, "")})
	sm, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("loop"), Definition: aws.String(loopDefinition),
		RoleArn: aws.String("arn:aws:iam::" + ep.Account + ":role/odin")})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String("cap"),
		Input: aws.String(`{"project_name":"hello","config_name":"loop","release_id":"r-loop","healthy":false}`)})
	if err != nil {
		t.Fatal(err)
	}
	for {
		d, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: ex.ExecutionArn})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != "RUNNING" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the loop did not reach the cap")
		case <-time.After(100 * time.Millisecond):
		}
	}

	counter := &countingClient{calls: map[string]int{}}
	io, _, out, errOut := iostreams.Test()
	f := o.factory(io, time.Now)
	f.HTTPClient = counter
	code := Run(ctx, f, []string{"--data-dir", o.dataDir, "fail", aws.ToString(ex.ExecutionArn), "--output", "json"})
	if code != 1 {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	var rep struct {
		Events  int
		Failure struct {
			State, Error string
			Visit        int
		}
		NextSteps []string `json:"next_steps"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Events != 25000 || rep.Failure.Error != "States.Runtime" || rep.Failure.State == "" || rep.Failure.Visit < 6000 ||
		len(rep.NextSteps) == 0 || !strings.Contains(rep.NextSteps[0], "25,000") {
		t.Errorf("report %+v", rep)
	}
	// One page with data shows the history is long; then 25 pages without
	// data, and the newest one or two again with data (the failing state's
	// input, a health report looked for 1,000 events back).
	if n := counter.calls["GetExecutionHistory"]; n < 27 || n > 28 {
		t.Errorf("%d GetExecutionHistory calls for 25,000 events in pages of 1,000, want 1 + 25 + 1 or 2", n)
	}
}
