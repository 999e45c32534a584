package cmd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/deployer/localbackend"
	"github.com/odin-deploy/odin/pkg/local/server"
	"github.com/odin-deploy/odin/pkg/release"
)

func TestCommandArgs(t *testing.T) {
	lambda := []string{"deployer", "lambda"}
	onLambda := func(k string) (string, bool) {
		if k == "AWS_LAMBDA_RUNTIME_API" {
			return "127.0.0.1:9001", true
		}
		return "", false
	}
	noEnv := func(string) (string, bool) { return "", false }
	emptyAPI := func(k string) (string, bool) { return "", k == "AWS_LAMBDA_RUNTIME_API" }
	tests := []struct {
		argv []string
		env  func(string) (string, bool)
		want []string
	}{
		{[]string{"odin"}, noEnv, nil},
		{[]string{"odin", "version"}, noEnv, []string{"version"}},
		{[]string{"/var/task/bootstrap"}, noEnv, lambda},
		{[]string{"bootstrap"}, noEnv, lambda},
		{[]string{"/var/task/odin"}, onLambda, lambda},
		{[]string{"/var/task/bootstrap"}, onLambda, lambda},
		// Arguments are always obeyed: a bootstrap script may run `odin
		// deployer lambda` itself, and a user may run odin in a Lambda.
		{[]string{"/var/task/bootstrap", "version"}, onLambda, []string{"version"}},
		{[]string{"odin", "deploy", "release.yml"}, onLambda, []string{"deploy", "release.yml"}},
		{[]string{"/usr/local/bin/bootstrapper"}, noEnv, nil},
		{[]string{"odin"}, emptyAPI, nil},
		{nil, noEnv, nil},
	}
	for _, tt := range tests {
		if got := commandArgs(tt.argv, tt.env); !slices.Equal(got, tt.want) {
			_, api := tt.env("AWS_LAMBDA_RUNTIME_API")
			t.Errorf("commandArgs(%q) with AWS_LAMBDA_RUNTIME_API set %v = %q, want %q", tt.argv, api, got, tt.want)
		}
	}
}

// runtimeAPI is a Lambda Runtime API on loopback: it hands out the
// invocations queued on it, and records what the function answers.
type runtimeAPI struct {
	srv     *httptest.Server
	queue   chan invocation
	results chan invocationResult
	closed  chan struct{}
}

type invocation struct {
	id      string
	payload []byte
}

type invocationResult struct {
	id   string
	kind string // response, error or init-error
	body []byte
	at   time.Time
}

const functionArn = "arn:aws:lambda:us-east-1:000000000000:function:odin-deployer"

func startRuntimeAPI(t testing.TB) *runtimeAPI {
	t.Helper()
	a := &runtimeAPI{queue: make(chan invocation, 10), results: make(chan invocationResult, 10), closed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case inv := <-a.queue:
			h := w.Header()
			h.Set("Content-Type", "application/json")
			h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
			h.Set("Lambda-Runtime-Invoked-Function-Arn", functionArn)
			h.Set("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0")
			w.Write(inv.payload)
		case <-r.Context().Done():
		case <-a.closed:
		}
	})
	record := func(kind string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			a.results <- invocationResult{id: r.PathValue("id"), kind: kind, body: body, at: time.Now()}
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"status":"OK"}`)
		}
	}
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", record("response"))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", record("error"))
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", record("init-error"))
	a.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		close(a.closed)
		a.srv.Close()
	})
	return a
}

func (a *runtimeAPI) invoke(id string, payload []byte) { a.queue <- invocation{id, payload} }

// lambdaFunction is the odin-deployer function as Lambda runs it: odin as
// the bootstrap of a custom runtime, against the local backend.
type lambdaFunction struct {
	bootstrap string
	env       []string
	api       *runtimeAPI
	backend   *localbackend.Backend
}

var (
	bootstrapOnce sync.Once
	bootstrapDir  string
	bootstrapErr  error
)

// newLambdaFunction builds odin for this machine (once per test binary) and
// starts the local backend and a runtime API for it.
func newLambdaFunction(t testing.TB) *lambdaFunction {
	t.Helper()
	bootstrapOnce.Do(func() {
		bootstrapDir, bootstrapErr = os.MkdirTemp("", "odin-lambda-task-")
		if bootstrapErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(bootstrapDir, "bootstrap"), ".")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			bootstrapErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if bootstrapErr != nil {
		t.Fatal(bootstrapErr)
	}
	b, err := localbackend.Start(context.Background(), server.Options{
		DataDir: t.TempDir(),
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close local backend: %v", err)
		}
	})
	api := startRuntimeAPI(t)
	ep := b.Endpoint()
	return &lambdaFunction{
		bootstrap: filepath.Join(bootstrapDir, "bootstrap"),
		api:       api,
		backend:   b,
		// What Lambda sets for a provided.al2023 function, with the
		// endpoint and credentials of the local backend; no developer's
		// AWS configuration reaches the function.
		env: []string{
			"AWS_LAMBDA_RUNTIME_API=" + strings.TrimPrefix(api.srv.URL, "http://"),
			"AWS_ENDPOINT_URL=" + ep.URL,
			"AWS_ACCESS_KEY_ID=" + ep.AccessKeyID,
			"AWS_SECRET_ACCESS_KEY=" + ep.SecretAccessKey,
			"AWS_REGION=" + ep.Region,
			"AWS_DEFAULT_REGION=" + ep.Region,
			"AWS_CONFIG_FILE=/dev/null",
			"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
			"AWS_LAMBDA_FUNCTION_NAME=odin-deployer",
			"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512",
			"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
			"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
			"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/odin-deployer",
			"AWS_LAMBDA_LOG_STREAM_NAME=2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
			"AWS_XRAY_CONTEXT_MISSING=LOG_ERROR",
			"_HANDLER=bootstrap",
			"LAMBDA_TASK_ROOT=" + bootstrapDir,
			"LAMBDA_RUNTIME_DIR=/var/runtime",
			"LANG=en_US.UTF-8",
			"TZ=:UTC",
			"PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		},
	}
}

// start runs the bootstrap as Lambda does, with no arguments, and returns
// when it was started, a channel that receives its exit, and a function
// that kills it.
func (l *lambdaFunction) start(t testing.TB, stderr io.Writer) (time.Time, <-chan error, func()) {
	t.Helper()
	cmd := exec.Command(l.bootstrap)
	cmd.Env = l.env
	cmd.Dir = bootstrapDir
	cmd.Stdout, cmd.Stderr = stderr, stderr
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		err := cmd.Wait()
		exited <- err
		close(done)
	}()
	stop := func() {
		cmd.Process.Kill()
		<-done
	}
	t.Cleanup(stop)
	return started, exited, stop
}

// result waits for the function's answer to an invocation.
func (l *lambdaFunction) result(t testing.TB, exited <-chan error, logs fmt.Stringer) invocationResult {
	t.Helper()
	select {
	case r := <-l.api.results:
		return r
	case err := <-exited:
		t.Fatalf("bootstrap exited (%v) before answering; its output:\n%s", err, logs)
	case <-time.After(time.Minute):
		t.Fatalf("no answer in a minute; the bootstrap's output:\n%s", logs)
	}
	panic("unreachable")
}

// uploadExample puts examples/aws/release.yml where `odin deploy` puts a
// release, and returns the execution input that deploys it.
func (l *lambdaFunction) uploadExample(t testing.TB) contract.Input {
	t.Helper()
	data, err := os.ReadFile("../examples/aws/release.yml")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	id := release.ReleaseID(sha)
	in := contract.Input{
		ReleaseID: id, ProjectName: "payments", ConfigName: "production", Target: "aws",
		AWSAccountID: "123456789012", AWSRegion: "us-east-1", Bucket: deployer.Bucket,
		ReleaseKey:    "123456789012/payments/production/" + id + "/release",
		ReleaseSHA256: sha, DeployedBy: "arn:aws:iam::123456789012:user/ada",
		CreatedAt: time.Now().UTC().Format(time.RFC3339),
	}
	_, err = l.backend.Endpoint().S3Client().PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(in.Bucket), Key: aws.String(in.ReleaseKey), Body: bytes.NewReader(data),
		ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
	})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func taskPayload(t testing.TB, task string, in any) []byte {
	t.Helper()
	input, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := json.Marshal(map[string]any{
		"Task": task, "Input": json.RawMessage(input),
		"Execution": "arn:aws:states:us-east-1:123456789012:execution:odin-deployer:deploy-payments_production_1",
		"StartTime": time.Now().UTC().Format(time.RFC3339Nano),
	})
	return p
}

// odin, started by Lambda as a custom runtime's bootstrap, serves the
// deployer's tasks: it validates a release stored in S3, and answers a
// payload the state machine could not have sent with BadReleaseError, the
// error the state machine's catchers name.
func TestBootstrapServesDeployerTasks(t *testing.T) {
	t.Parallel() // waits on servers and health checks, not the CPU
	if testing.Short() {
		t.Skip("builds and runs the odin binary")
	}
	l := newLambdaFunction(t)
	in := l.uploadExample(t)
	var logs syncBuffer
	_, exited, _ := l.start(t, &logs)

	l.api.invoke("req-validate", taskPayload(t, "Validate", in))
	r := l.result(t, exited, &logs)
	if r.id != "req-validate" || r.kind != "response" {
		t.Fatalf("Validate: %s %s %s\nbootstrap output:\n%s", r.id, r.kind, r.body, &logs)
	}
	var st deployer.State
	if err := json.Unmarshal(r.body, &st); err != nil {
		t.Fatalf("Validate answered %s: %v", r.body, err)
	}
	deadline, err := time.Parse(time.RFC3339Nano, st.Deadline)
	if st.ReleaseID != in.ReleaseID || st.Timeout != 1800 || err != nil || time.Until(deadline) < 29*time.Minute || st.WaitForDeploy == 0 || st.WaitForHealthy == 0 {
		t.Errorf("Validate answered %s, want release %s with timeout 1800 and a deadline in 30 minutes", r.body, in.ReleaseID)
	}

	// The same process takes the next invocation.
	l.api.invoke("req-bad", []byte(`{"Task": "Validate", "Input": {"release_id": 7}}`))
	r = l.result(t, exited, &logs)
	var lambdaErr struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if err := json.Unmarshal(r.body, &lambdaErr); err != nil || r.id != "req-bad" || r.kind != "error" ||
		lambdaErr.ErrorType != "BadReleaseError" || !strings.Contains(lambdaErr.ErrorMessage, "execution input") {
		t.Errorf("invalid payload: %s %s %s, want an error of type BadReleaseError", r.id, r.kind, r.body)
	}
	if !strings.Contains(logs.String(), `"msg":"task succeeded","task":"Validate"`) {
		t.Errorf("no JSON log of the task in the function's output:\n%s", &logs)
	}
}

// BenchmarkBootstrapColdStart measures a cold start: from starting the
// bootstrap to its answer to the first invocation (a Validate reading the
// release from S3).
//
//	go test ./cmd -run '^$' -bench BootstrapColdStart -benchtime 10x
func BenchmarkBootstrapColdStart(b *testing.B) {
	l := newLambdaFunction(b)
	payload := taskPayload(b, "Validate", l.uploadExample(b))
	var took []time.Duration
	for i := 0; b.Loop(); i++ {
		var logs syncBuffer
		started, exited, stop := l.start(b, &logs)
		l.api.invoke(fmt.Sprintf("req-%d", i), payload)
		r := l.result(b, exited, &logs)
		if r.kind != "response" {
			b.Fatalf("%s %s\n%s", r.kind, r.body, &logs)
		}
		took = append(took, r.at.Sub(started))
		stop()
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms-median-first-answer")
	b.Logf("first answer after: %v", took)
}
