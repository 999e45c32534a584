package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go"

	"github.com/odin-deploy/odin/pkg/local/access"
	"github.com/odin-deploy/odin/pkg/local/engine"
)

// TestMain doubles as a background server process for the lifecycle tests:
// with ODIN_TEST_SERVE_DIR set it serves that directory until SIGTERM.
func TestMain(m *testing.M) {
	if dir := os.Getenv("ODIN_TEST_SERVE_DIR"); dir != "" {
		os.Exit(serveForTest(dir))
	}
	os.Exit(m.Run())
}

func serveForTest(dir string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if os.Getenv("ODIN_TEST_IGNORE_TERM") != "" {
		signal.Ignore(syscall.SIGTERM)
	}
	opts := Options{DataDir: dir, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	if spec := os.Getenv("ODIN_TEST_FUNCTIONS"); spec != "" {
		var argvs map[string][]string
		if err := json.Unmarshal([]byte(spec), &argvs); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		opts.Functions = func(access.Endpoint) (*engine.Functions, error) {
			fns := engine.NewFunctions()
			for name, argv := range argvs {
				fns.RegisterCommand(name, argv, nil, "")
			}
			return fns, nil
		}
	}
	s, err := New(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := s.Wait(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func newServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = filepath.Join(t.TempDir(), "data")
	}
	s, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func s3Client(ep access.Endpoint, secret string) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(ep.URL), UsePathStyle: true, Region: ep.Region, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(ep.AccessKeyID, secret, ""),
	})
}

func sfnClient(ep access.Endpoint, secret string) *sfn.Client {
	return sfn.New(sfn.Options{
		BaseEndpoint: aws.String(ep.URL), Region: ep.Region, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(ep.AccessKeyID, secret, ""),
	})
}

func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return "not an API error: " + err.Error()
	}
	return ""
}

func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// fakeStates stands in for the Step Functions API until package sfnapi is
// wired in: it proves routing by credential scope, not SFN behaviour.
type fakeStates struct{ calls atomic.Int32 }

func (f *fakeStates) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	io.WriteString(w, `{"stateMachines":[]}`)
}
func (f *fakeStates) Close() error { return nil }

func TestS3ThroughServerWithSDKDefaults(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, Options{})
	c := s3Client(s.Endpoint(), s.Endpoint().SecretAccessKey)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("odin-releases")}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("release\n"), 10000)
	sum := sha256.Sum256(body)
	b64 := base64.StdEncoding.EncodeToString(sum[:])
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("odin-releases"), Key: aws.String("a/b/release"),
		Body: bytes.NewReader(body), ChecksumSHA256: aws.String(b64)}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	// The SDK's default CRC32, with no algorithm chosen.
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("odin-releases"), Key: aws.String("a/b/other"),
		Body: bytes.NewReader(body)}); err != nil {
		t.Fatalf("PutObject with default checksum: %v", err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("odin-releases"), Key: aws.String("a/b/release"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	got, err := io.ReadAll(out.Body) // the SDK validates the checksum while reading
	if err != nil || !bytes.Equal(got, body) || aws.ToString(out.ChecksumSHA256) != b64 {
		t.Fatalf("GetObject: err %v, %d bytes, checksum %q", err, len(got), aws.ToString(out.ChecksumSHA256))
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("odin-releases"), Prefix: aws.String("a/b/")})
	if err != nil || len(list.Contents) != 2 {
		t.Fatalf("ListObjectsV2: %v, %d objects", err, len(list.Contents))
	}
}

func TestAuthIsRequired(t *testing.T) {
	ctx := context.Background()
	fs := &fakeStates{}
	s := newServer(t, Options{States: func(context.Context, access.Endpoint, *engine.Functions) (StatesAPI, error) { return fs, nil }})
	ep := s.Endpoint()

	t.Run("s3 right secret", func(t *testing.T) {
		if _, err := s3Client(ep, ep.SecretAccessKey).ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("states routed by scope", func(t *testing.T) {
		if _, err := sfnClient(ep, ep.SecretAccessKey).ListStateMachines(ctx, &sfn.ListStateMachinesInput{}); err != nil {
			t.Fatal(err)
		}
		if fs.calls.Load() != 1 {
			t.Fatalf("states handler called %d times", fs.calls.Load())
		}
	})
	cases := []struct {
		name   string
		do     func() error
		code   string
		status int
	}{
		{"s3 wrong secret", func() error {
			_, err := s3Client(ep, "wrong").ListBuckets(ctx, &s3.ListBucketsInput{})
			return err
		}, "SignatureDoesNotMatch", 403},
		{"s3 unknown key", func() error {
			_, err := s3Client(access.Endpoint{URL: ep.URL, Region: ep.Region, AccessKeyID: "AKIAUNKNOWN000000000"}, ep.SecretAccessKey).ListBuckets(ctx, &s3.ListBucketsInput{})
			return err
		}, "InvalidAccessKeyId", 403},
		{"states wrong secret", func() error {
			_, err := sfnClient(ep, "wrong").ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
			return err
		}, "InvalidSignatureException", 403},
		{"states unknown key", func() error {
			_, err := sfnClient(access.Endpoint{URL: ep.URL, Region: ep.Region, AccessKeyID: "AKIAUNKNOWN000000000"}, ep.SecretAccessKey).ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
			return err
		}, "UnrecognizedClientException", 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if errCode(err) != tc.code || httpStatus(err) != tc.status {
				t.Fatalf("error %v (status %d), want %s %d", err, httpStatus(err), tc.code, tc.status)
			}
		})
	}
	if fs.calls.Load() != 1 {
		t.Errorf("a refused request reached the states handler (%d calls)", fs.calls.Load())
	}

	// Raw requests: unsigned and expired, in both APIs' error shapes.
	raw := []struct {
		name, target, wantType string
		sign                   time.Duration // offset of the signing time; 0 = unsigned
		xml                    bool
	}{
		{name: "s3 unsigned", wantType: "<Code>AccessDenied</Code>", xml: true},
		{name: "states unsigned", target: "AWSStepFunctions.ListStateMachines", wantType: `"__type":"MissingAuthenticationTokenException"`},
		{name: "s3 expired", wantType: "<Code>RequestTimeTooSkewed</Code>", sign: -20 * time.Minute, xml: true},
		{name: "states expired", target: "AWSStepFunctions.ListStateMachines", wantType: `"__type":"InvalidSignatureException"`, sign: -20 * time.Minute},
	}
	for _, tc := range raw {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", ep.URL+"/", strings.NewReader("{}"))
			service := "s3"
			if tc.target != "" {
				req.Header.Set("X-Amz-Target", tc.target)
				req.Header.Set("Content-Type", "application/x-amz-json-1.0")
				service = "states"
			} else {
				req.Method = "GET"
				req.Body, req.ContentLength = nil, 0
			}
			if tc.sign != 0 {
				ph := fmt.Sprintf("%x", sha256.Sum256([]byte("{}")))
				if service == "s3" {
					ph = fmt.Sprintf("%x", sha256.Sum256(nil))
					req.Header.Set("X-Amz-Content-Sha256", ph)
				}
				err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: ep.AccessKeyID, SecretAccessKey: ep.SecretAccessKey},
					req, ph, service, ep.Region, time.Now().Add(tc.sign))
				if err != nil {
					t.Fatal(err)
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 403 || !strings.Contains(strings.ReplaceAll(string(b), " ", ""), tc.wantType) {
				t.Fatalf("got %d %s", resp.StatusCode, b)
			}
			if strings.Contains(string(b), ep.SecretAccessKey) {
				t.Fatal("the error leaks the secret")
			}
		})
	}
}

// An unsigned request for a JSON service the server lacks (curl with
// DynamoDB's X-Amz-Target) is told so in that protocol, not with S3's XML
// about a missing signature.
func TestUnsignedOtherServiceAnsweredInItsProtocol(t *testing.T) {
	s := newServer(t, Options{})
	for target, name := range map[string]string{"DynamoDB_20120810.ListTables": "DynamoDB", "AmazonSQS.ListQueues": "AmazonSQS"} {
		req, _ := http.NewRequest("POST", s.Endpoint().URL+"/", strings.NewReader("{}"))
		req.Header.Set("X-Amz-Target", target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var got struct{ Type, Message string }
		_ = json.Unmarshal(bytes.ReplaceAll(b, []byte("__type"), []byte("type")), &got)
		if resp.StatusCode != 400 || got.Type != "UnsupportedService" || !strings.Contains(got.Message, "serves S3, Step Functions and STS only, not "+name+":") {
			t.Errorf("%s unsigned: %d %s, want 400 and UnsupportedService naming %s in JSON", target, resp.StatusCode, b, name)
		}
	}
}

func TestDataDirAndCredentialFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "odin")
	s := newServer(t, Options{DataDir: dir})
	modes := map[string]os.FileMode{"": 0o700, CredentialsFile: 0o600, EndpointFile: 0o600, PidFile: 0o600, LockFile: 0o600}
	for name, want := range modes {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", filepath.Join(dir, name), got, want)
		}
	}
	var creds Credentials
	b, _ := os.ReadFile(filepath.Join(dir, CredentialsFile))
	if err := json.Unmarshal(b, &creds); err != nil {
		t.Fatal(err)
	}
	ep := s.Endpoint()
	if creds.AccessKeyID != ep.AccessKeyID || creds.SecretAccessKey != ep.SecretAccessKey || len(creds.SecretAccessKey) != 40 || len(creds.AccessKeyID) != 20 {
		t.Fatalf("credentials %v do not match the endpoint %v", creds, ep)
	}
	if strings.Contains(fmt.Sprint(ep), ep.SecretAccessKey) || strings.Contains(fmt.Sprint(creds), creds.SecretAccessKey) {
		t.Error("printing an endpoint or credentials shows the secret")
	}

	// Restarting keeps the credentials; a second server on the dir is refused.
	if _, err := New(context.Background(), Options{DataDir: dir}); !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second server: %v, want ErrAlreadyRunning", err)
	}
	s.Close()
	if _, err := os.Stat(filepath.Join(dir, EndpointFile)); !os.IsNotExist(err) {
		t.Errorf("endpoint.json left after Close: %v", err)
	}
	os.Chmod(filepath.Join(dir, CredentialsFile), 0o644)
	s2 := newServer(t, Options{DataDir: dir})
	if s2.Endpoint().SecretAccessKey != ep.SecretAccessKey {
		t.Error("credentials changed across a restart")
	}
	if fi, _ := os.Stat(filepath.Join(dir, CredentialsFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("a readable credentials file was not restricted: %04o", fi.Mode().Perm())
	}
}

func TestListenAddressMustBeLoopback(t *testing.T) {
	cases := []struct {
		addr   string
		remote bool
		ok     bool
	}{
		{"127.0.0.1:0", false, true},
		{"[::1]:0", false, true},
		{"localhost:0", false, true},
		{"0.0.0.0:0", false, false},
		{":0", false, false},
		{"192.0.2.1:0", false, false},
		{"0.0.0.0:0", true, true},
		{"nonsense", false, false},
	}
	for _, tc := range cases {
		err := CheckListenAddr(tc.addr, tc.remote)
		if (err == nil) != tc.ok {
			t.Errorf("CheckListenAddr(%q, %v) = %v", tc.addr, tc.remote, err)
		}
	}
	dir := t.TempDir()
	if _, err := New(context.Background(), Options{DataDir: dir, Addr: "0.0.0.0:0"}); err == nil || !strings.Contains(err.Error(), "--allow-remote") {
		t.Fatalf("New on 0.0.0.0: %v", err)
	}
}

func TestBootstrapRunsWithEndpoint(t *testing.T) {
	var got access.Endpoint
	s := newServer(t, Options{Bootstrap: func(ctx context.Context, ep access.Endpoint) error {
		got = ep
		_, err := s3Client(ep, ep.SecretAccessKey).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("odin-releases")})
		return err
	}})
	if got != s.Endpoint() {
		t.Fatalf("bootstrap saw %v", got)
	}
	dir := t.TempDir()
	_, err := New(context.Background(), Options{DataDir: dir, Bootstrap: func(context.Context, access.Endpoint) error { return errors.New("boom") }})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("failed bootstrap: %v", err)
	}
	if held, _ := lockHeld(dir); held {
		t.Fatal("a failed start kept the lock")
	}
}

// TestEnsureStartsOneServer: concurrent callers end with one server.
func TestEnsureStartsOneServer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	var starts atomic.Int32
	var mu sync.Mutex
	var servers []*Server
	start := func(ctx context.Context) error {
		starts.Add(1)
		s, err := New(ctx, Options{DataDir: dir})
		if err != nil {
			return err
		}
		mu.Lock()
		servers = append(servers, s)
		mu.Unlock()
		return nil
	}
	t.Cleanup(func() {
		for _, s := range servers {
			s.Close()
		}
	})
	var wg sync.WaitGroup
	eps := make([]access.Endpoint, 4)
	errs := make([]error, 4)
	for i := range eps {
		wg.Go(func() { eps[i], errs[i] = Ensure(context.Background(), dir, start) })
	}
	wg.Wait()
	for i := range eps {
		if errs[i] != nil || eps[i] != eps[0] {
			t.Fatalf("caller %d: %v %v (first %v)", i, eps[i], errs[i], eps[0])
		}
	}
	if starts.Load() != 1 {
		t.Fatalf("started %d servers", starts.Load())
	}
	st, err := Probe(context.Background(), dir)
	if err != nil || !st.Running || st.Pid != os.Getpid() {
		t.Fatalf("Probe = %+v, %v", st, err)
	}
}

// TestBackgroundServerLifecycle starts a real detached process, finds it,
// stops it, and kills one that ignores SIGTERM.
func TestBackgroundServerLifecycle(t *testing.T) {
	for _, ignoreTerm := range []bool{false, true} {
		t.Run(fmt.Sprintf("ignore_term=%v", ignoreTerm), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "d")
			var proc *os.Process
			start := func(context.Context) error {
				exe, _ := os.Executable()
				os.Setenv("ODIN_TEST_SERVE_DIR", dir)
				defer os.Unsetenv("ODIN_TEST_SERVE_DIR")
				if ignoreTerm {
					os.Setenv("ODIN_TEST_IGNORE_TERM", "1")
					defer os.Unsetenv("ODIN_TEST_IGNORE_TERM")
				}
				var err error
				proc, err = StartDetached(exe, []string{"-test.run=^$"}, filepath.Join(dir, LogFile))
				if err == nil {
					t.Cleanup(func() { proc.Kill() })
				}
				return err
			}
			ep, err := Ensure(context.Background(), dir, start)
			if err != nil {
				log, _ := os.ReadFile(filepath.Join(dir, LogFile))
				t.Fatalf("Ensure: %v\n%s", err, log)
			}
			done := make(chan struct{})
			go func() { proc.Wait(); close(done) }()
			t.Cleanup(func() { proc.Kill(); <-done })
			if _, err := s3Client(ep, ep.SecretAccessKey).ListBuckets(context.Background(), &s3.ListBucketsInput{}); err != nil {
				t.Fatalf("the background server does not answer: %v", err)
			}
			again, err := Ensure(context.Background(), dir, func(context.Context) error { return errors.New("must not start twice") })
			if err != nil || again != ep {
				t.Fatalf("second Ensure: %v %v", again, err)
			}
			pid, killed, err := Stop(context.Background(), dir, 300*time.Millisecond)
			if err != nil || pid != proc.Pid || killed != ignoreTerm {
				t.Fatalf("Stop = pid %d killed %v err %v (want pid %d killed %v)", pid, killed, err, proc.Pid, ignoreTerm)
			}
			<-done
			if st, _ := Probe(context.Background(), dir); st.Running {
				t.Fatal("still running after Stop")
			}
			for _, f := range []string{PidFile, EndpointFile} {
				if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
					t.Errorf("%s left after stop: %v", f, err)
				}
			}
			if _, _, err := Stop(context.Background(), dir, time.Second); !errors.Is(err, ErrNotRunning) {
				t.Errorf("Stop with nothing running: %v", err)
			}
		})
	}
}

// TestPresignedURLs: a presigned GET and PUT work with a plain HTTP client.
func TestPresignedURLs(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, Options{})
	c := s3Client(s.Endpoint(), s.Endpoint().SecretAccessKey)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("shared")}); err != nil {
		t.Fatal(err)
	}
	pc := s3.NewPresignClient(c)
	put, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("a/file.txt")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(put.Method, put.URL, strings.NewReader("presigned body"))
	for k, vs := range put.SignedHeader {
		if k != "Host" {
			req.Header[k] = vs
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("presigned PUT: %d", resp.StatusCode)
	}
	get, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("shared"), Key: aws.String("a/file.txt")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(get.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "presigned body" {
		t.Fatalf("presigned GET: %d %s", resp.StatusCode, body)
	}
	resp, err = http.Get(strings.Replace(get.URL, "X-Amz-Signature=", "X-Amz-Signature=0", 1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("tampered presigned GET: %d", resp.StatusCode)
	}
}
