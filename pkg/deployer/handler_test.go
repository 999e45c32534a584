package deployer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/odin-deploy/odin/pkg/testpeer/service"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/testpeer/moto"
)

// The test binary doubles as the release's service: with TEST_SERVICE_MODE
// set it serves HTTP on $PORT (or crashes, or fails its health check).
func TestMain(m *testing.M) {
	if mode := os.Getenv("TEST_SERVICE_MODE"); mode != "" {
		os.Exit(serveForTest(mode))
	}
	os.Exit(moto.Main(m))
}

func serveForTest(mode string) int {
	fmt.Println("starting", os.Getenv("ODIN_INSTANCE"), "of", os.Getenv("ODIN_RELEASE_ID"))
	if mode == "crash" {
		fmt.Fprintln(os.Stderr, "fatal: cannot open config.toml")
		return 3
	}
	status := http.StatusOK
	if mode == "unhealthy" {
		status = http.StatusServiceUnavailable
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) })
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "release %s version %s", os.Getenv("ODIN_RELEASE_ID"), os.Getenv("VERSION"))
	})
	return service.Serve(mux)
}

var releaseTemplate = template.Must(template.New("r").Parse(`project_name: hello
config_name: {{.Config}}
target: local
timeout: {{.Timeout}}
services:
  web:
    command: ["{{.Exe}}"]
    working_dir: "."
    env:
      TEST_SERVICE_MODE: {{.Mode}}
      VERSION: {{.Version}}
    instances: {{.Instances}}
    listen: {{.Listen}}
    health_check:
      type: http
      path: /healthz
      interval: 1
      healthy_threshold: 1
      unhealthy_threshold: 1
      grace_period: 0
`))

type releaseSpec struct {
	Config    string
	Exe       string
	Mode      string
	Version   string
	Instances int
	Listen    int
	Timeout   int
}

func releaseYAML(t *testing.T, s releaseSpec) []byte {
	t.Helper()
	if s.Exe == "" {
		s.Exe = testExe(t)
	}
	if s.Mode == "" {
		s.Mode = "ok"
	}
	if s.Config == "" {
		s.Config = "test"
	}
	if s.Listen == 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s.Listen = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	if s.Version == "" {
		s.Version = "v1"
	}
	if s.Instances == 0 {
		s.Instances = 1
	}
	if s.Timeout == 0 {
		s.Timeout = 60
	}
	var b bytes.Buffer
	if err := releaseTemplate.Execute(&b, s); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// fakeProvider records calls; fail makes a method fail.
type fakeProvider struct {
	calls  []string
	health *contract.Health
	fail   map[string]error
}

func (f *fakeProvider) call(name string) error {
	f.calls = append(f.calls, name)
	return f.fail[name]
}
func (f *fakeProvider) Validate(context.Context, *Deployment) error { return f.call("Validate") }
func (f *fakeProvider) Deploy(context.Context, *Deployment) error   { return f.call("Deploy") }
func (f *fakeProvider) Health(context.Context, *Deployment) (*contract.Health, error) {
	if err := f.call("Health"); err != nil {
		return nil, err
	}
	return f.health, nil
}
func (f *fakeProvider) CleanUpSuccess(context.Context, *Deployment) error {
	return f.call("CleanUpSuccess")
}
func (f *fakeProvider) CleanUpFailure(context.Context, *Deployment) error {
	return f.call("CleanUpFailure")
}

type fixture struct {
	h      *Handler
	s3     *s3.Client
	bucket string
	now    time.Time
	p      *fakeProvider
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	c, bucket := testBucket(t)
	return newFixtureOn(c, bucket)
}

// newFixtureOn is a fixture whose releases and locks live in bucket.
func newFixtureOn(c *s3.Client, bucket string) *fixture {
	f := &fixture{s3: c, bucket: bucket, now: time.Now(), p: &fakeProvider{
		health: &contract.Health{Healthy: true, Services: map[string]*contract.ServiceHealth{"web": {Desired: 1, Healthy: 1}}},
	}}
	f.h = &Handler{
		Storage:   c,
		Providers: map[string]Provider{"local": f.p},
		Account:   "123456789012",
		Region:    "us-east-1",
		Now:       func() time.Time { return f.now },
	}
	return f
}

// invoke runs one task the way the state machine's Parameters call it.
func invoke(t *testing.T, h *Handler, task string, st any, execution string, started time.Time) (*State, error) {
	t.Helper()
	in, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]any{
		"Task": task, "Input": json.RawMessage(in), "Execution": execution,
		"StartTime": started.UTC().Format(time.RFC3339Nano),
	})
	out, err := h.Invoke(context.Background(), payload)
	if err != nil {
		return nil, err
	}
	var next State
	if err := json.Unmarshal(out, &next); err != nil {
		t.Fatalf("task %s output %s: %v", task, out, err)
	}
	return &next, nil
}

const execA = "arn:aws:states:us-east-1:123456789012:execution:odin-deployer:deploy-a"

func errorType(err error) string {
	var typed interface{ ErrorType() string }
	if errors.As(err, &typed) {
		return typed.ErrorType()
	}
	return fmt.Sprintf("%T", err)
}

func TestValidate(t *testing.T) {
	f := newFixture(t)
	good := releaseYAML(t, releaseSpec{})
	tests := []struct {
		name     string
		data     []byte
		edit     func(in map[string]any)
		wantType string
		want     string
	}{
		{"ok", good, nil, "", ""},
		{"digest mismatch", good, func(in map[string]any) {
			in["release_sha256"] = strings.Repeat("ab", 32)
		}, "BadReleaseError", "release digest mismatch"},
		{"invalid release", []byte("project_name: hello\nconfig_name: test\ntarget: local\nservices:\n  web:\n    command: [x]\n    colour: blue\n"), nil,
			"BadReleaseError", "colour"},
		{"project differs", bytes.Replace(good, []byte("project_name: hello"), []byte("project_name: other"), 1), nil,
			"BadReleaseError", `project_name is "other" in the release but "hello" in the execution input`},
		{"stale", good, func(in map[string]any) {
			in["created_at"] = time.Now().Add(-11 * 24 * time.Hour).UTC().Format(time.RFC3339)
		}, "BadReleaseError", "is stale or in the future"},
		{"other account", good, func(in map[string]any) {
			in["aws_account_id"] = "999999999999"
			in["release_key"] = strings.Replace(in["release_key"].(string), "123456789012", "999999999999", 1)
		}, "BadReleaseError", "but this deployer runs in account 123456789012"},
		{"key elsewhere", good, func(in map[string]any) {
			in["release_key"] = "123456789012/hello/test/r-other/release"
		}, "BadReleaseError", "is not where release"},
		{"unknown input field", good, func(in map[string]any) { in["healthy_report"] = 1 }, "BadReleaseError", `unknown field "healthy_report"`},
		{"server-owned field", good, func(in map[string]any) { in["wait_for_healthy"] = 1 }, "BadReleaseError", "fields the deployer owns"},
		{"missing field", good, func(in map[string]any) { delete(in, "deployed_by") }, "BadReleaseError", "lacks deployed_by"},
		{"no provider", good, func(in map[string]any) { in["target"] = "mars" }, "BadReleaseError", `no provider for target "mars"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := upload(t, f.s3, f.bucket, tt.data, t.TempDir())
			var m map[string]any
			b, _ := json.Marshal(in)
			json.Unmarshal(b, &m)
			if tt.edit != nil {
				tt.edit(m)
			}
			st, err := invoke(t, f.h, "Validate", m, execA, f.now)
			if tt.wantType == "" {
				if err != nil {
					t.Fatal(err)
				}
				if st.Timeout != 60 || st.WaitForDeploy != 1 || st.WaitForHealthy != 1 || st.StartedAt == "" || st.Deadline == "" {
					t.Errorf("state %+v", st)
				}
				return
			}
			if errorType(err) != tt.wantType || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %s %v; want %s containing %q", errorType(err), err, tt.wantType, tt.want)
			}
		})
	}
}

// A store that returns a checksum its bytes do not have (tampering, or a
// store bug) fails Validate even though the bytes match the input's digest.
// moto and our S3 both refuse to store such an object, so the store here is
// in memory.
func TestStoredChecksumMismatch(t *testing.T) {
	rel := releaseYAML(t, releaseSpec{})
	sum := sha256.Sum256(rel)
	sha := hex.EncodeToString(sum[:])
	id := "r-" + sha[:16]
	in := contract.Input{ReleaseID: id, ProjectName: "hello", ConfigName: "test", Target: "local", AWSAccountID: "123456789012",
		AWSRegion: "us-east-1", Bucket: "b", ReleaseKey: "123456789012/hello/test/" + id + "/release", ReleaseSHA256: sha,
		DeployedBy: "me", CreatedAt: time.Now().UTC().Format(time.RFC3339), ReleaseDir: t.TempDir()}
	for _, tt := range []struct {
		checksum string
		wantErr  bool
	}{
		{"", false},
		{base64.StdEncoding.EncodeToString(sum[:]), false},
		{"abc123==-2", false}, // a multipart object's composite checksum is not the object's
		{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", true},
	} {
		h := &Handler{Storage: memStorage{release: rel, checksum: tt.checksum}, Providers: map[string]Provider{"local": &fakeProvider{}},
			Account: "123456789012", Region: "us-east-1"}
		_, err := invoke(t, h, "Validate", in, execA, time.Now())
		if tt.wantErr != (err != nil) || (err != nil && !strings.Contains(err.Error(), "was stored with checksum")) {
			t.Errorf("checksum %q: %v", tt.checksum, err)
		}
	}
}

// TestLock runs on both S3s odin meets: moto's, and the local backend's own
// (its conditional writes and deletes are ours). It is the test that catches
// a lock released without checking whose it is.
func TestLock(t *testing.T) {
	t.Run("moto", func(t *testing.T) { testLock(t, newFixture(t)) })
	t.Run("local backend", func(t *testing.T) {
		c, bucket := localBucket(t)
		testLock(t, newFixtureOn(c, bucket))
	})
}

func testLock(t *testing.T, f *fixture) {
	ctx := context.Background()
	inA := upload(t, f.s3, f.bucket, releaseYAML(t, releaseSpec{Version: "a"}), "")
	inB := upload(t, f.s3, f.bucket, releaseYAML(t, releaseSpec{Version: "b"}), "")
	stA, err := invoke(t, f.h, "Validate", inA, execA, f.now)
	if err != nil {
		t.Fatal(err)
	}
	stB, err := invoke(t, f.h, "Validate", inB, "exec-b", f.now)
	if err != nil {
		t.Fatal(err)
	}

	locked, err := invoke(t, f.h, "Lock", stA, execA, f.now)
	if err != nil {
		t.Fatal(err)
	}
	if locked.LockETag == "" {
		t.Fatal("no lock etag in state")
	}
	again, err := invoke(t, f.h, "Lock", stA, execA, f.now)
	if err != nil || again.LockETag != locked.LockETag {
		t.Fatalf("a retried Lock of the same execution must get its own lock back: %v %q", err, again.LockETag)
	}

	f.now = f.now.Add(90 * time.Second)
	_, err = invoke(t, f.h, "Lock", stB, "exec-b", f.now)
	if errorType(err) != "LockExistsError" {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"locked by release " + stA.ReleaseID, "owner arn:aws:iam::123456789012:user/alice", execA, "for 1m30s",
		"odin unlock --project hello --config-name test"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("lock message %q lacks %q", err, want)
		}
	}

	// B never held the lock: releasing must not remove A's.
	if _, err := invoke(t, f.h, "ReleaseLockFailure", stB, "exec-b", f.now); err != nil {
		t.Fatal(err)
	}
	forged := *stB
	forged.LockETag = `"not-the-etag"`
	if _, err := invoke(t, f.h, "ReleaseLockFailure", &forged, "exec-b", f.now); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(f.bucket), Key: aws.String("123456789012/hello/test/lock")}); err != nil {
		t.Fatalf("A's lock was removed by B: %v", err)
	}

	done, err := invoke(t, f.h, "ReleaseLock", locked, execA, f.now)
	if err != nil || done.LockETag != "" {
		t.Fatalf("release: %v %q", err, done.LockETag)
	}
	if _, err := f.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(f.bucket), Key: aws.String("123456789012/hello/test/lock")}); err == nil {
		t.Fatal("lock still there after ReleaseLock")
	}
	if _, err := invoke(t, f.h, "ReleaseLock", locked, execA, f.now); err != nil {
		t.Fatalf("releasing twice: %v", err)
	}
	if _, err := invoke(t, f.h, "Lock", stB, "exec-b", f.now); err != nil {
		t.Fatalf("B after A released: %v", err)
	}
}

func TestHalt(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := upload(t, f.s3, f.bucket, releaseYAML(t, releaseSpec{}), "")
	putHalt := func() {
		if _, err := f.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(f.bucket), Key: aws.String("123456789012/hello/test/halt"),
			Body: strings.NewReader(`{"by":"bob"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	// A halt left over from an earlier deploy does not stop this one.
	putHalt()
	started := time.Now().Add(time.Minute)
	st, err := invoke(t, f.h, "Validate", in, execA, started)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := invoke(t, f.h, "Deploy", st, execA, started); err != nil {
		t.Fatalf("an old halt stopped the deploy: %v", err)
	}
	// One written after the execution started does.
	started = time.Now().Add(-time.Minute)
	st, _ = invoke(t, f.h, "Validate", in, execA, started)
	for _, task := range []string{"Deploy", "CheckHealthy"} {
		_, err := invoke(t, f.h, task, st, execA, started)
		if errorType(err) != "HaltError" || !strings.Contains(err.Error(), "deploy halted") {
			t.Errorf("%s: got %v", task, err)
		}
	}
}

func TestCheckHealthy(t *testing.T) {
	f := newFixture(t)
	in := upload(t, f.s3, f.bucket, releaseYAML(t, releaseSpec{}), "")
	st, err := invoke(t, f.h, "Validate", in, execA, f.now)
	if err != nil {
		t.Fatal(err)
	}
	f.p.health = &contract.Health{Services: map[string]*contract.ServiceHealth{"web": {Desired: 1, Unhealthy: 1, Instances: []contract.Instance{
		{ID: "web-1", State: contract.InstanceUnhealthy, Reason: "http check GET http://127.0.0.1:1/healthz: status 503, expected 200", LogTail: []string{"starting web-1"}},
	}}}}
	out, err := invoke(t, f.h, "CheckHealthy", st, execA, f.now)
	if err != nil {
		t.Fatal(err)
	}
	if out.Healthy == nil || *out.Healthy || out.Health.Services["web"].Unhealthy != 1 {
		t.Fatalf("state %+v", out)
	}
	f.now = f.now.Add(61 * time.Second)
	_, err = invoke(t, f.h, "CheckHealthy", st, execA, f.now)
	if errorType(err) != "TimeoutError" {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"not healthy after its timeout of 60s", "web 0/1 healthy", "web-1 unhealthy: http check", "status 503", "last log lines: starting web-1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	f.p.fail = map[string]error{"Health": errors.New("connection reset")}
	if _, err := invoke(t, f.h, "CheckHealthy", st, execA, f.now); errorType(err) != "HealthError" {
		t.Fatalf("an untyped provider error must be HealthError (retried): %v", err)
	}
}

func TestUnknownTask(t *testing.T) {
	h := &Handler{}
	for _, payload := range []string{`{"Task":"Explode","Input":{}}`, `[]`, `{"Task":"Validate","Input":[1]}`} {
		if _, err := h.Invoke(context.Background(), json.RawMessage(payload)); errorType(err) != "BadReleaseError" {
			t.Errorf("%s: %v", payload, err)
		}
	}
}
