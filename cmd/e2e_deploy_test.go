package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/release"
	"github.com/odin-deploy/odin/pkg/testpeer/ports"
)

// e2eTimeout bounds each end-to-end test so that a hang fails it instead of
// the whole package; it is never an assertion on speed.
const e2eTimeout = 3 * time.Minute

// hello describes a copy of examples/hello/release.yml: a copy with other
// content is another release, with its own digest, id and execution.
type hello struct {
	Project, Config string
	Version         string // the VERSION the service answers with
	// HealthPath, when set, replaces /healthz: a path the service answers
	// 404 keeps the release unhealthy (and its deploy running) until its
	// grace period and timeout, so a test can act while it runs.
	HealthPath string
	// HealthyThreshold, when set, replaces 2 checks in a row (a second
	// apiece): a slower deploy for a test that must see it run.
	HealthyThreshold int
	// Port is the balancer's port; zero picks a free one. Releases of one
	// project and config share it, as blue and green share a balancer.
	Port int
}

// write writes the release into a new temporary directory with a free
// balancer port and working_dir leading to examples/hello, so tests neither
// collide with each other nor with a developer's own deploy of the example.
// It returns the file's path and the port the release serves on.
func (h hello) write(t *testing.T) (string, int) {
	t.Helper()
	data, err := os.ReadFile("../examples/hello/release.yml")
	if err != nil {
		t.Fatal(err)
	}
	src, err := filepath.Abs("../examples/hello")
	if err != nil {
		t.Fatal(err)
	}
	// A relative working_dir resolves against the release file's directory
	// (the deployer gets it as release_dir): exercise that, as users write it.
	dir := t.TempDir()
	path := filepath.Join(dir, "release.yml")
	rel, err := filepath.Rel(dir, src)
	if err != nil {
		t.Fatal(err)
	}
	port := h.Port
	if port == 0 {
		port = freePort(t)
	}
	text := string(data)
	replace := func(old, new string) {
		t.Helper()
		if !strings.Contains(text, old) {
			t.Fatalf("examples/hello/release.yml no longer has %q; update the test's copy", old)
		}
		text = strings.Replace(text, old, new, 1)
	}
	replace("project_name: hello\n", "project_name: "+h.Project+"\n")
	replace("config_name: development\n", "config_name: "+h.Config+"\n")
	replace("working_dir: .\n", "working_dir: "+strconv.Quote(rel)+"\n")
	replace("listen: 8080\n", "listen: "+strconv.Itoa(port)+"\n")
	replace("VERSION: v1\n", "VERSION: "+h.Version+"\n")
	if h.HealthyThreshold != 0 {
		replace("healthy_threshold: 2\n", "healthy_threshold: "+strconv.Itoa(h.HealthyThreshold)+"\n")
	}
	if h.HealthPath != "" {
		replace("path: /healthz\n", "path: "+h.HealthPath+"\n")
		replace("grace_period: 60\n", "grace_period: 240\n")
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, port
}

// failingRelease writes a copy of examples/failing/release.yml (its service
// exits at start) with a free port and an absolute working_dir.
func failingRelease(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../examples/failing/release.yml")
	if err != nil {
		t.Fatal(err)
	}
	src, err := filepath.Abs("../examples/failing")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for old, new := range map[string]string{
		"working_dir: .\n": "working_dir: " + strconv.Quote(src) + "\n",
		"listen: 8081\n":   "listen: " + strconv.Itoa(freePort(t)) + "\n",
	} {
		if !strings.Contains(text, old) {
			t.Fatalf("examples/failing/release.yml no longer has %q; update the test's copy", old)
		}
		text = strings.Replace(text, old, new, 1)
	}
	path := filepath.Join(t.TempDir(), "release.yml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// freePort is a loopback port nothing listens on right now, outside the
// range outgoing connections take theirs from.
func freePort(t *testing.T) int { return ports.Free(t) }

// answer is what the release's balancer at port answers on /.
func answer(t *testing.T, port int) string {
	t.Helper()
	return get(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/")
}

// sfnClient and s3Client reach the test's backend directly, as a second
// opinion on what odin says it did.
func (o *localOdin) sfnClient() *sfn.Client {
	return o.backend.Endpoint().SFNClient()
}

func (o *localOdin) s3Client() *s3.Client {
	return o.backend.Endpoint().S3Client()
}

// executions lists every execution of the deployer whose name starts with
// the release's execution prefix (its project and config).
func (o *localOdin) executions(ctx context.Context, project, configName string) []sfntypes.ExecutionListItem {
	o.t.Helper()
	arn := "arn:aws:states:" + o.backend.Endpoint().Region + ":" + o.backend.Endpoint().Account + ":stateMachine:" + deployer.StateMachineName
	out, err := o.sfnClient().ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(arn), MaxResults: 1000})
	if err != nil {
		o.t.Fatal(err)
	}
	var list []sfntypes.ExecutionListItem
	for _, e := range out.Executions {
		if strings.HasPrefix(aws.ToString(e.Name), release.ExecutionPrefix(project, configName)) {
			list = append(list, e)
		}
	}
	return list
}

// objectExists says whether key is in the releases bucket.
func (o *localOdin) objectExists(ctx context.Context, key string) bool {
	o.t.Helper()
	_, err := o.s3Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(deployer.Bucket), Key: aws.String(key)})
	if err == nil {
		return true
	}
	if isNotFound(err) {
		return false
	}
	o.t.Fatalf("head s3://%s/%s: %v", deployer.Bucket, key, err)
	return false
}

func isNotFound(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "NotFound") || strings.Contains(msg, "NoSuchKey") || strings.Contains(msg, "404")
}

// planned is where odin puts a release file: its release id, S3 key and
// execution name, computed from the file as odin does.
type planned struct {
	ReleaseID, Key, Execution, ExecutionArn string
}

func (o *localOdin) plan(path string) planned {
	o.t.Helper()
	f, err := release.Load(path)
	if err != nil {
		o.t.Fatal(err)
	}
	ep := o.backend.Endpoint()
	id := release.ReleaseID(f.SHA256)
	name := f.Release.ExecutionName(id, 1)
	return planned{
		ReleaseID:    id,
		Key:          f.Release.Root(ep.Account) + "/" + id + "/release",
		Execution:    name,
		ExecutionArn: "arn:aws:states:" + ep.Region + ":" + ep.Account + ":execution:" + deployer.StateMachineName + ":" + name,
	}
}

// describe is an execution as Step Functions sees it.
func (o *localOdin) describe(ctx context.Context, arn string) *sfn.DescribeExecutionOutput {
	o.t.Helper()
	d, err := o.sfnClient().DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		o.t.Fatalf("describe %s: %v", arn, err)
	}
	return d
}

// waitFor polls until cond holds; ctx's deadline turns a hang into a
// failure that says what was awaited.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s: %v", what, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// entered says whether an execution has entered state (its history has
// the state's TaskStateEntered event).
func (o *localOdin) entered(ctx context.Context, arn, state string) bool {
	o.t.Helper()
	in := &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000}
	for {
		page, err := o.sfnClient().GetExecutionHistory(ctx, in)
		if err != nil {
			o.t.Fatalf("history of %s: %v", arn, err)
		}
		for _, ev := range page.Events {
			if ev.StateEnteredEventDetails != nil && aws.ToString(ev.StateEnteredEventDetails.Name) == state {
				return true
			}
		}
		if page.NextToken == nil {
			return false
		}
		in.NextToken = page.NextToken
	}
}

// lastLine is the last non-empty line of out: the verdict of a watch.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	return lines[len(lines)-1]
}

// TestDeployFailingExampleOnLocalBackend deploys a copy of examples/failing,
// whose service exits at start: odin exits 1, and the screen names the step
// that failed and the cause (the instance's own last words).
func TestDeployFailingExampleOnLocalBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("deploys real processes")
	}
	o := startLocalOdin(t)
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	file := failingRelease(t)
	p := o.plan(file)

	code, out, errOut := o.run(ctx, "deploy", file, "--output", "plain")
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	const cause = "hello: cannot start: --crash was given"
	for _, want := range []string{
		"CheckHealthy: attempt 1 failed: DeployError: ",
		"CheckHealthy: failed in ",
		"CleanUpFailure: succeeded",
		"ReleaseLockFailure: succeeded",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	verdict := lastLine(out)
	wantVerdict := "FAILED: deploy of hello/failing release " + p.ReleaseID + " failed after "
	if !strings.HasPrefix(verdict, wantVerdict) || !strings.Contains(verdict, " at CheckHealthy: DeployError: ") || !strings.Contains(verdict, cause) {
		t.Errorf("verdict %q, want %q… at CheckHealthy: DeployError: …%s", verdict, wantVerdict, cause)
	}
	if d := o.describe(ctx, p.ExecutionArn); d.Status != sfntypes.ExecutionStatusFailed || aws.ToString(d.Error) != "DeployError" {
		t.Errorf("the execution is %s (%s), want FAILED (DeployError)", d.Status, aws.ToString(d.Error))
	}
}

// TestDeploySameReleaseTwiceAttaches deploys one release three times: while
// the first runs (detached), a second `odin deploy` attaches to it and
// follows it to the end; a third, after the end, finds it is what the latest
// deploy left serving and shows that deploy. One execution, exit 0 each time.
func TestDeploySameReleaseTwiceAttaches(t *testing.T) {
	if testing.Short() {
		t.Skip("deploys real processes")
	}
	o := startLocalOdin(t)
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	file, port := hello{Project: "twice", Config: "e2e", Version: "v1"}.write(t)
	p := o.plan(file)

	code, out, errOut := o.run(ctx, "deploy", file, "--detach", "--output", "json")
	if code != 0 || !strings.Contains(errOut, "started "+p.Execution+"\n") {
		t.Fatalf("first deploy: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if want := `{"type":"deploy","action":"started","release":"` + p.ReleaseID + `","execution":"` + p.Execution + `","attempt":1}` + "\n"; out != want {
		t.Errorf("first deploy --detach --output json: stdout %s, want only %s", out, want)
	}

	// The second follows the running execution as JSON lines: every event
	// once, in order, then the outcome.
	code, out, errOut = o.run(ctx, "deploy", file, "--output", "json")
	if code != 0 {
		t.Fatalf("second deploy: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// The first line says what odin did: it attached.
	action, rest, _ := strings.Cut(out, "\n")
	if want := `{"type":"deploy","action":"attached","release":"` + p.ReleaseID + `","execution":"` + p.Execution + `"}`; action != want {
		t.Errorf("second deploy's first line %s, want %s", action, want)
	}
	checkJSONLines(t, rest, "twice", "SUCCEEDED")
	attaching := "release " + p.ReleaseID + " is being deployed by " + p.Execution + "; attaching\n"
	if !strings.Contains(errOut, attaching) {
		t.Errorf("second deploy does not say it attaches (%q); stderr:\n%s", attaching, errOut)
	}
	if strings.Contains(errOut, "uploaded ") || strings.Contains(errOut, "started ") {
		t.Errorf("second deploy uploaded or started again; stderr:\n%s", errOut)
	}

	code, out, errOut = o.run(ctx, "deploy", file, "--output", "plain")
	deployed := "release " + p.ReleaseID + " is already deployed: " + p.Execution + ", the latest deploy of twice/e2e, succeeded; nothing to do (--redeploy deploys it again)\n"
	if code != 0 || !strings.Contains(errOut, deployed) || !strings.HasPrefix(lastLine(out), "SUCCEEDED") {
		t.Errorf("third deploy: exit %d, want 0, %q and the deploy's verdict\nstdout:\n%s\nstderr:\n%s", code, deployed, out, errOut)
	}

	code, out, _ = o.run(ctx, "deploy", file, "--output", "json")
	action, _, _ = strings.Cut(out, "\n")
	if want := `{"type":"deploy","action":"already_deployed","release":"` + p.ReleaseID + `","execution":"` + p.Execution + `"}`; code != 0 || action != want {
		t.Errorf("fourth deploy --output json: exit %d, first line %s, want 0 and %s", code, action, want)
	}

	if list := o.executions(ctx, "twice", "e2e"); len(list) != 1 || aws.ToString(list[0].Name) != p.Execution {
		t.Errorf("executions of twice/e2e: %d, want exactly %s", len(list), p.Execution)
	}

	// Deployed again, the deploy is estimated from the one before it, read
	// back from the backend's history: its usual time, and each step's.
	code, out, errOut = o.run(ctx, "deploy", file, "--redeploy", "--output", "json")
	if code != 0 {
		t.Fatalf("--redeploy: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	var start struct {
		Type  string
		Steps []struct {
			Name    string
			UsualMS *int64 `json:"usual_ms"`
		}
		Usual *struct {
			Deploys int
			TotalMS int64 `json:"total_ms"`
		}
	}
	_, rest, _ = strings.Cut(out, "\n") // the deploy action
	line, _, _ := strings.Cut(rest, "\n")
	if err := json.Unmarshal([]byte(line), &start); err != nil || start.Type != "start" || start.Usual == nil || start.Usual.Deploys != 1 || start.Usual.TotalMS <= 0 {
		t.Errorf("--redeploy's start line %s: want usual over 1 deploy (%v)", line, err)
	}
	for _, st := range start.Steps {
		if st.Name == "WaitForDeploy" && (st.UsualMS == nil || *st.UsualMS <= 0) {
			t.Errorf("WaitForDeploy has no usual time: %s", line)
		}
	}

	if list := o.executions(ctx, "twice", "e2e"); len(list) != 2 {
		t.Errorf("executions of twice/e2e: %d, want 2 after --redeploy", len(list))
	}
	if body := answer(t, port); !strings.Contains(body, "version v1") {
		t.Errorf("the release answers %q", body)
	}
}

// TestDeployRefusedWhileAnotherRuns starts a release that stays unhealthy
// (so its deploy keeps running; odin stops watching it after --timeout),
// then deploys another release of the same
// project and config: odin refuses before uploading, names the running
// execution and exits 1; nothing was uploaded or started. --attach watches
// the running one instead. The first is then aborted.
func TestDeployRefusedWhileAnotherRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("deploys real processes")
	}
	o := startLocalOdin(t)
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	first, port := hello{Project: "busy", Config: "e2e", Version: "v1", HealthPath: "/never-healthy"}.write(t)
	second, _ := hello{Project: "busy", Config: "e2e", Version: "v2", Port: port}.write(t)
	p1, p2 := o.plan(first), o.plan(second)

	// The first is watched for a second only: odin stops watching, says how
	// to attach again (once) and exits 5; the deploy goes on.
	code, out, errOut := o.run(ctx, "deploy", first, "--timeout", "1s", "--output", "plain")
	if code != 5 || strings.Count(errOut, "Attach again with") != 1 || !strings.Contains(errOut, "odin status "+p1.Execution+"\n") {
		t.Fatalf("first deploy --timeout 1s: exit %d, want 5 and the re-attach command once\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if d := o.describe(ctx, p1.ExecutionArn); d.Status != sfntypes.ExecutionStatusRunning {
		t.Fatalf("after --timeout the execution is %s, want RUNNING", d.Status)
	}

	code, out, errOut = o.run(ctx, "deploy", second, "--output", "plain")
	if code != 1 {
		t.Fatalf("second release: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"another release is being deployed", "execution " + p1.Execution, "nothing was uploaded", "odin status " + p1.Execution} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the refusal lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "uploaded s3://") {
		t.Errorf("the refused deploy says it uploaded:\n%s", errOut)
	}
	if !o.objectExists(ctx, p1.Key) {
		t.Errorf("the running release's object s3://%s/%s is missing", deployer.Bucket, p1.Key)
	}
	if o.objectExists(ctx, p2.Key) {
		t.Errorf("the refused release was uploaded: s3://%s/%s exists", deployer.Bucket, p2.Key)
	}
	if list := o.executions(ctx, "busy", "e2e"); len(list) != 1 || aws.ToString(list[0].Name) != p1.Execution {
		t.Errorf("executions of busy/e2e: %v, want only %s", names(list), p1.Execution)
	}

	// As JSON: what odin did (refused), then the error, with its code.
	code, out, _ = o.run(ctx, "deploy", second, "--output", "json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var refusal JSONError
	if code != 1 || len(lines) != 2 || lines[0] != `{"type":"deploy","action":"refused","release":"`+p2.ReleaseID+`"}` ||
		json.Unmarshal([]byte(lines[1]), &refusal) != nil || refusal.Type != "error" || refusal.Code != 1 || !strings.Contains(refusal.Message, "another release is being deployed") {
		t.Errorf("second release --output json: exit %d, stdout:\n%s\nwant 1, the refused action and the error object", code, out)
	}

	code, out, errOut = o.run(ctx, "deploy", second, "--attach", "--detach")
	if code != 2 || !strings.Contains(errOut, "--detach and --attach cannot be used together") {
		t.Errorf("--attach --detach: exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, out, errOut = o.run(ctx, "deploy", second, "--attach", "--timeout", "1s", "--output", "plain")
	if code != 5 || !strings.Contains(errOut, "watching it instead: "+p1.Execution+"\n") || !strings.Contains(errOut, "release "+p2.ReleaseID+" ("+second+") is not deployed") {
		t.Errorf("--attach --timeout 1s: exit %d, want 5, watching %s\nstdout:\n%s\nstderr:\n%s", code, p1.Execution, out, errOut)
	}

	// --attach watches the other deploy to its end, then exits 1: the
	// second release was not deployed, whatever the first's outcome.
	watcher, attached := o.runInBackground(ctx, "deploy", second, "--attach", "--output", "json")
	waitFor(ctx, t, "the second deploy to watch the first", func() bool { return strings.Contains(watcher.String(), "watching it instead") })
	code, out, errOut = o.run(ctx, "halt", first, "--abort", "--yes", "--no-follow")
	if code != 0 || !strings.Contains(errOut, "stopped "+p1.Execution) {
		t.Fatalf("halt --abort: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	r := <-attached
	if action, _, _ := strings.Cut(r.out, "\n"); action != `{"type":"deploy","action":"refused","release":"`+p2.ReleaseID+`","watching":"`+p1.Execution+`"}` {
		t.Errorf("--attach --output json: first line %s, want the refused action watching %s", action, p1.Execution)
	}
	if r.code != 1 || !strings.Contains(r.errOut, "release "+p2.ReleaseID+" ("+second+") was not deployed: odin watched "+p1.Execution) {
		t.Errorf("--attach to a deploy that ended: exit %d, want 1 and why\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.errOut)
	}
	// The JSON outcome agrees with the exit code.
	var outcome struct {
		Type, Status, Text string
		ExitCode           int `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(lastLine(r.out)), &outcome); err != nil || outcome.Type != "outcome" || outcome.Status != "NOT_DEPLOYED" || !strings.Contains(outcome.Text, "was aborted") ||
		outcome.ExitCode != 1 || !strings.Contains(outcome.Text, "release "+p2.ReleaseID+" was not deployed") {
		t.Errorf("--attach --output json: outcome %+v (%v), want NOT_DEPLOYED with exit_code 1 and why", outcome, err)
	}
	if o.objectExists(ctx, p2.Key) {
		t.Errorf("--attach uploaded the second release")
	}
	if d := o.describe(ctx, p1.ExecutionArn); d.Status != sfntypes.ExecutionStatusAborted {
		t.Errorf("after halt --abort the execution is %s, want ABORTED", d.Status)
	}
}

// syncBuffer is stderr that a test reads while odin writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// result is how an odin run ended.
type result struct {
	code        int
	out, errOut string
}

// runInBackground runs odin as run does, without waiting: its stderr can be
// read as it goes, and its result arrives on the channel.
func (o *localOdin) runInBackground(ctx context.Context, args ...string) (*syncBuffer, <-chan result) {
	io, _, out, _ := iostreams.Test()
	errOut := &syncBuffer{}
	io.ErrOut = errOut
	f := o.factory(io, time.Now)
	done := make(chan result, 1)
	go func() {
		code := Run(ctx, f, append([]string{"--data-dir", o.dataDir}, args...))
		done <- result{code, out.String(), errOut.String()}
	}()
	return errOut, done
}

// checkJSONLines checks `--output json`: one object a line, a start with
// the project, events with strictly increasing ids (none twice, none out of
// order), and last the outcome with its status and exit code 0.
func checkJSONLines(t *testing.T, out, project, status string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	var last int64
	kinds := map[string]bool{}
	for i, l := range lines {
		var v struct {
			Type     string
			Kind     string
			ID       int64
			Status   string
			ExitCode *int `json:"exit_code"`
			Header   struct{ Project string }
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i+1, err, l)
		}
		switch {
		case i == 0 && (v.Type != "start" || v.Header.Project != project):
			t.Errorf("first line %s, want a start of project %s", l, project)
		case i == len(lines)-1 && (v.Type != "outcome" || v.Status != status || v.ExitCode == nil || *v.ExitCode != 0):
			t.Errorf("last line %s, want the outcome %s with exit code 0", l, status)
		case v.Type == "event":
			if v.ID <= last {
				t.Errorf("line %d: event %d after event %d", i+1, v.ID, last)
			}
			last = v.ID
			kinds[v.Kind] = true
		}
	}
	for _, k := range []string{"execution_started", "step_entered", "attempt_succeeded", "step_succeeded", "execution_ended"} {
		if !kinds[k] {
			t.Errorf("no %s event in the JSON lines", k)
		}
	}
}

func names(list []sfntypes.ExecutionListItem) []string {
	var out []string
	for _, e := range list {
		out = append(out, aws.ToString(e.Name))
	}
	return out
}

// TestDetachThenStatusFollows starts a deploy with --detach, then runs the
// command it prints: `odin status EXECUTION` attaches to the running
// execution and follows it to its end.
func TestDetachThenStatusFollows(t *testing.T) {
	if testing.Short() {
		t.Skip("deploys real processes")
	}
	o := startLocalOdin(t)
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	file, port := hello{Project: "detach", Config: "e2e", Version: "v1"}.write(t)
	p := o.plan(file)

	code, out, errOut := o.run(ctx, "deploy", file, "--detach")
	if code != 0 || out != "" {
		t.Fatalf("deploy --detach: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	const hint = "detached; follow it with: odin status "
	i := strings.Index(errOut, hint)
	if i < 0 {
		t.Fatalf("deploy --detach does not say how to follow:\n%s", errOut)
	}
	reattach := strings.Fields(errOut[i+len(hint):])[0]
	if reattach != p.Execution {
		t.Errorf("the hint names %q, want %s", reattach, p.Execution)
	}
	// --detach returns once the execution has started: its health checks
	// take seconds more, so it is still running here.
	if d := o.describe(ctx, p.ExecutionArn); d.Status != sfntypes.ExecutionStatusRunning {
		t.Fatalf("after --detach the execution is %s, want RUNNING", d.Status)
	}

	code, out, errOut = o.run(ctx, "status", reattach, "--output", "plain")
	if code != 0 {
		t.Fatalf("status: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"Validate: succeeded", "Deploy: succeeded", "CheckHealthy: web ", "CleanUpSuccess: succeeded", "execution succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	if want := "SUCCEEDED: deploy of detach/e2e release " + p.ReleaseID; !strings.HasPrefix(lastLine(out), want) {
		t.Errorf("verdict %q, want %q…", lastLine(out), want)
	}
	if d := o.describe(ctx, p.ExecutionArn); d.Status != sfntypes.ExecutionStatusSucceeded {
		t.Errorf("status returned while the execution is %s", d.Status)
	}
	if body := answer(t, port); !strings.Contains(body, "version v1") {
		t.Errorf("the release answers %q", body)
	}
}
