// Package moto starts and stops a moto server (a third-party AWS emulator) as a test peer.
// It lives outside internal/ so that the CLI's end-to-end tests (package cmd) can use it.
//
// moto 5.2.1 lives in the machine image's pyenv Python. The server is started through an
// embedded launcher that turns Step Functions execution on and works around
// getmoto/moto#10077 (see /work/shared/reference/test-peers.md §1.4); StartPlain starts it
// as moto ships it, for CloudFormation tests. When moto is absent the test is skipped,
// unless ODIN_REQUIRE_MOTO=1 (CI), which makes it fail instead.
package moto

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

//go:embed launcher.py
var launcher []byte

// Fixed identity of the server: moto accepts any credentials and puts everything in its
// default account unless told otherwise.
const (
	Region          = "us-east-1"
	Account         = "123456789012"
	AccessKeyID     = "test"
	SecretAccessKey = "test"
)

// RequireEnv names the environment variable that turns "moto is absent" from a skip into a
// failure; CI sets it.
const RequireEnv = "ODIN_REQUIRE_MOTO"

const (
	// 2.3 s is typical. moto imports for tens of seconds when several start at
	// once on a loaded 2-core machine (30 s was once not enough); a moto that
	// died is reported at once, so the bound only limits a hung one.
	readyTimeout = 2 * time.Minute
	readyPoll    = 50 * time.Millisecond
	stopGrace    = 5 * time.Second
	logTailBytes = 16 << 10
)

// Server is one running moto process. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base endpoint, for example http://127.0.0.1:43121.
	URL string

	cmd     *exec.Cmd
	dir     string // holds the launcher and the log; removed on Stop
	logPath string
	exited  chan struct{}
	waitErr error

	stopOnce sync.Once
	stopErr  error
	lastLog  string // the log's tail, kept when Stop removes the file
}

// Start starts a moto server for this test and stops it when the test ends, dumping the
// tail of moto's log if the test failed. It skips the test when moto is not installed
// (fails instead when ODIN_REQUIRE_MOTO=1).
func Start(t testing.TB) *Server {
	t.Helper()
	return startForTest(t, withLauncher)
}

// StartPlain is Start for moto's own server, without the launcher: Step Functions does not
// execute, but resources that CloudFormation creates are visible to the other services'
// APIs only there (execution mode keeps its state machines apart from CloudFormation's).
func StartPlain(t testing.TB) *Server {
	t.Helper()
	return startForTest(t, plain)
}

func startForTest(t testing.TB, launch launchFunc) *Server {
	t.Helper()
	python := requirePython(t)
	s, err := start(python, launch)
	if err != nil {
		t.Fatalf("start moto: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("moto log (%s), last %d bytes:\n%s", s.logPath, logTailBytes, s.LogTail())
		}
		if err := s.Stop(); err != nil {
			t.Errorf("stop moto: %v", err)
		}
	})
	return s
}

// shared is the one server a test binary may share between its tests; see Main and Shared.
// It is package state only because a test binary has exactly one lifetime.
var shared struct {
	mu      sync.Mutex
	inMain  bool
	started bool
	server  *Server
	err     error
}

// Main runs the tests of a package that uses Shared and then stops the shared server:
//
//	func TestMain(m *testing.M) { os.Exit(moto.Main(m)) }
//
// If the tests failed, the tail of moto's log is written to stderr.
func Main(m *testing.M) int {
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()

	code := m.Run()

	shared.mu.Lock()
	defer shared.mu.Unlock()
	if s := shared.server; s != nil {
		if code != 0 {
			fmt.Fprintf(os.Stderr, "moto log (%s), last %d bytes:\n%s\n", s.logPath, logTailBytes, s.LogTail())
		}
		if err := s.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop moto: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Shared returns the test binary's shared moto server, starting it on first use. The
// package's TestMain must call Main, which stops it. Tests sharing it must use unique
// names (or not run in parallel with a Reset).
func Shared(t testing.TB) *Server {
	t.Helper()
	python := requirePython(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.inMain {
		t.Fatal("moto.Shared needs TestMain to call moto.Main, which stops the server")
	}
	if !shared.started {
		shared.started = true
		shared.server, shared.err = start(python, withLauncher)
	}
	if shared.err != nil {
		t.Fatalf("start moto: %v", shared.err)
	}
	return shared.server
}

// Available reports whether moto can be started here, and if not, why. Tests that have
// something useful to do without moto (compare against recorded goldens) use it to choose;
// when ODIN_REQUIRE_MOTO=1 they should call Start anyway, so that CI fails loudly.
func Available() error {
	_, err := findPython()
	return err
}

// Required reports whether ODIN_REQUIRE_MOTO=1.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// requirePython returns a python3 that can import moto, or skips (or fails) the test.
func requirePython(t testing.TB) string {
	t.Helper()
	python, err := findPython()
	if err == nil {
		return python
	}
	if Required() {
		t.Fatalf("moto is required (%s=1) but not usable: %v", RequireEnv, err)
	}
	t.Skipf("moto not available (set %s=1 to make this a failure): %v", RequireEnv, err)
	return ""
}

var pythonOnce = sync.OnceValues(func() (string, error) { return probePython(pyenvRoots()) })

func findPython() (string, error) { return pythonOnce() }

// probePython looks for a python3 that has moto: the one on PATH (pyenv shims in the image),
// then the pyenv versions' own binaries, since a stripped PATH loses the shims.
func probePython(roots []string) (string, error) {
	var candidates []string
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	for _, r := range roots {
		found, _ := filepath.Glob(filepath.Join(r, "versions", "*", "bin", "python3"))
		candidates = append(candidates, found...)
	}
	var tried []string
	for _, p := range candidates {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, p, "-c", "import moto, moto.server; print(moto.__version__)").CombinedOutput()
		cancel()
		if err == nil {
			return p, nil
		}
		tried = append(tried, fmt.Sprintf("%s: %v: %s", p, err, lastLine(string(out))))
	}
	if len(tried) == 0 {
		return "", errors.New("no python3 on PATH or under a pyenv versions directory")
	}
	return "", fmt.Errorf("no python3 can import moto: %s", strings.Join(tried, "; "))
}

// pyenvRoots lists where pyenv may keep its Pythons.
func pyenvRoots() []string {
	var roots []string
	if r := os.Getenv("PYENV_ROOT"); r != "" {
		roots = append(roots, r)
	}
	if home, err := os.UserHomeDir(); err == nil {
		roots = append(roots, filepath.Join(home, ".pyenv"))
	}
	return append(roots, "/root/.pyenv")
}

// launchFunc returns the arguments that start moto's server when given to python, before
// the address options; dir is the server's own directory.
type launchFunc func(dir string) ([]string, error)

// withLauncher runs the embedded launcher (Step Functions execution on).
func withLauncher(dir string) ([]string, error) {
	script := filepath.Join(dir, "launcher.py")
	if err := os.WriteFile(script, launcher, 0o600); err != nil {
		return nil, err
	}
	return []string{script}, nil
}

// plain runs moto's server module as moto ships it.
func plain(string) ([]string, error) { return []string{"-m", "moto.server"}, nil }

func start(python string, launch launchFunc) (*Server, error) {
	dir, err := os.MkdirTemp("", "odin-moto-")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Server, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	args, err := launch(dir)
	if err != nil {
		return fail(err)
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	logPath := filepath.Join(dir, "moto.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fail(err)
	}
	defer logFile.Close() // the child holds its own descriptor

	cmd := exec.Command(python, append(args, "-H", "127.0.0.1", "-p", strconv.Itoa(port))...)
	// MOTO_PORT tells moto's Step Functions interpreter where to send its own calls
	// (Lambda invokes) back to.
	cmd.Env = append(os.Environ(), "MOTO_PORT="+strconv.Itoa(port), "PYTHONUNBUFFERED=1")
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("run %s: %w", python, err))
	}
	s := &Server{
		URL:     "http://127.0.0.1:" + strconv.Itoa(port),
		cmd:     cmd,
		dir:     dir,
		logPath: logPath,
		exited:  make(chan struct{}),
	}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(); err != nil {
		tail := s.LogTail()
		s.Stop()
		return nil, fmt.Errorf("%w; log:\n%s", err, tail)
	}
	return s, nil
}

// freePort asks the kernel for a free loopback port. Another process could take it before
// moto binds it; on this machine that race has not been seen, and readiness would fail
// clearly if it happened.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) waitReady() error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("moto exited before it was ready: %v", s.waitErr)
		default:
		}
		resp, err := client.Get(s.URL + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("moto at %s not ready after %s (last error: %v)", s.URL, readyTimeout, err)
		}
		time.Sleep(readyPoll)
	}
}

// Stop ends the process this package started: SIGTERM, then SIGKILL after a grace period.
// It is idempotent.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		defer func() {
			s.lastLog = s.LogTail()
			os.RemoveAll(s.dir)
		}()
		select {
		case <-s.exited:
			return
		default:
		}
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			s.stopErr = fmt.Errorf("SIGTERM moto (pid %d): %w", s.cmd.Process.Pid, err)
		}
		select {
		case <-s.exited:
			return
		case <-time.After(stopGrace):
		}
		if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			s.stopErr = fmt.Errorf("SIGKILL moto (pid %d): %w", s.cmd.Process.Pid, err)
			return
		}
		<-s.exited
	})
	return s.stopErr
}

// LogTail returns the end of moto's combined stdout and stderr.
func (s *Server) LogTail() string {
	if s.lastLog != "" {
		return s.lastLog
	}
	f, err := os.Open(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > logTailBytes {
		f.Seek(st.Size()-logTailBytes, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// Reset wipes every resource in moto (state machines, executions, buckets, queued Lambda
// results); the configuration, including execution mode, survives.
func (s *Server) Reset(t testing.TB) {
	t.Helper()
	if err := s.post(context.Background(), "/moto-api/reset", nil); err != nil {
		t.Fatalf("reset moto: %v", err)
	}
}

// QueueLambdaResults queues the responses moto's stand-in Lambda gives, in order, to Lambda
// tasks (legacy function ARNs and lambda:invoke) of functions in us-east-1. Each result is
// the JSON text the function "returns". The queue is shared by every execution in that
// Region; tests that run concurrently should use QueueLambdaResultsIn with distinct Regions.
func (s *Server) QueueLambdaResults(t testing.TB, results ...string) {
	t.Helper()
	s.QueueLambdaResultsIn(t, Region, results...)
}

// QueueLambdaResultsIn is QueueLambdaResults for functions in region: moto keeps one queue
// per account and Region, and a legacy Lambda task invokes in its function ARN's Region.
func (s *Server) QueueLambdaResultsIn(t testing.TB, region string, results ...string) {
	t.Helper()
	if err := s.EnqueueLambdaResults(context.Background(), region, results...); err != nil {
		t.Fatal(err)
	}
}

// EnqueueLambdaResults is QueueLambdaResultsIn for code that reports errors itself (for
// example from a goroutine, where t.Fatal must not be called).
func (s *Server) EnqueueLambdaResults(ctx context.Context, region string, results ...string) error {
	if results == nil {
		results = []string{}
	}
	body := map[string]any{"results": results, "region": region, "account_id": Account}
	if err := s.post(ctx, "/moto-api/static/lambda-simple/response", body); err != nil {
		return fmt.Errorf("queue Lambda results in moto: %w", err)
	}
	return nil
}

func (s *Server) post(ctx context.Context, path string, body any) error {
	var r io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("POST %s: %s: %s", path, resp.Status, msg)
	}
	return nil
}

// Config returns an SDK configuration for this server: static credentials test/test,
// us-east-1, and the server as the base endpoint of every service.
func (s *Server) Config() aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(s.URL),
	}
}

// SFN returns a Step Functions client for this server.
func (s *Server) SFN() *sfn.Client { return sfn.NewFromConfig(s.Config()) }

// S3 returns a path-style S3 client for this server.
func (s *Server) S3() *s3.Client {
	return s3.NewFromConfig(s.Config(), func(o *s3.Options) { o.UsePathStyle = true })
}

// STS returns an STS client for this server.
func (s *Server) STS() *sts.Client { return sts.NewFromConfig(s.Config()) }

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
