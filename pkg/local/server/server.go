// Package server runs the local backend: one loopback HTTP server that
// authenticates every request and serves S3 and Step Functions from a data
// directory, with the credentials, lock, pid and endpoint files around it.
package server

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/odin-deploy/odin/pkg/local/access"
	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/local/s3api"
	"github.com/odin-deploy/odin/pkg/local/sfnapi"
	"github.com/odin-deploy/odin/pkg/local/sigv4"
	"github.com/odin-deploy/odin/pkg/local/store"
	"github.com/odin-deploy/odin/pkg/local/stsapi"
	"github.com/odin-deploy/odin/pkg/procgroup"
)

// Defaults of the local backend. The account is fixed so that ARNs are
// stable across restarts and machines; it is AWS's documented placeholder.
const (
	DefaultRegion  = "us-east-1"
	DefaultAccount = "000000000000"
	// DefaultAddr is where `odin local serve` listens unless told otherwise.
	DefaultAddr = "127.0.0.1:4599"
)

// Files in the data directory.
const (
	LockFile     = "server.lock"   // held (flock) by the running server
	StartLock    = "start.lock"    // held while a CLI decides whether to start one
	PidFile      = "server.pid"    // the running server's pid
	EndpointFile = "endpoint.json" // URL and credentials of the running server (0600)
	LogFile      = "server.log"    // a background server's output
	// StartErrorFile holds why the last server failed to start, for the
	// CLI waiting for it; a server that starts removes it.
	StartErrorFile = "start-error.txt"
)

// StatesAPI is the Step Functions JSON 1.0 API (package sfnapi).
type StatesAPI interface {
	http.Handler
	Close() error
}

// Options configures a server.
type Options struct {
	DataDir string
	// Addr is host:port; default 127.0.0.1:0. A host that is not loopback is
	// refused unless AllowRemote.
	Addr        string
	AllowRemote bool
	// Listener, when set, is where the server serves instead of listening
	// on Addr (which then only names it): a caller that must fall back to
	// another port listens first, so that the backend is built only once.
	// It must be a loopback address unless AllowRemote; New closes it on
	// failure.
	Listener net.Listener
	Logger   *slog.Logger
	// Clock drives the engine (Wait, Retry, timeouts); nil is the real clock.
	Clock engine.Clock
	// Now is the wall clock for SigV4's 15-minute window and S3 timestamps;
	// nil is time.Now. It is separate from Clock so that tests fast-forwarding
	// executions still sign with real time.
	Now             func() time.Time
	Region, Account string
	// Version is odin's version, in the health answer.
	Version string
	// AWSEndpoint is where the deployer's AWS provider sends its calls
	// (moto, LocalStack), recorded for `odin local status` and for the CLI
	// to check before it deploys a target aws release; empty when target aws
	// is not served.
	AWSEndpoint string
	// Throttle answers Step Functions calls with AWS's per-operation token
	// buckets (package sfnapi), for `odin local serve --throttle aws`.
	Throttle bool
	// Functions builds the task functions once the endpoint is known, so
	// in-process handlers can call back into this server through the SDK.
	// It is called once the server holds the data directory's lock, before
	// any execution resumes: what takes over the directory goes there. Nil
	// means none are registered.
	Functions func(ep access.Endpoint) (*engine.Functions, error)
	// States builds the Step Functions API from the functions that
	// Functions built; nil is package sfnapi over DataDir. Tests substitute it.
	States func(ctx context.Context, ep access.Endpoint, fns *engine.Functions) (StatesAPI, error)
	// Bootstrap runs after the server serves, e.g. to create the deployer's
	// state machine and bucket. Its failure stops the server.
	Bootstrap func(ctx context.Context, ep access.Endpoint) error
	// Recovered runs after Bootstrap when this start recovered the Step
	// Functions store from damage or failed executions it found running
	// instead of resuming them, so that what they held can be let go (the
	// deployer's locks). It runs only if the States API reports recoveries
	// (package sfnapi does); what it fails to do it logs.
	Recovered func(ctx context.Context, ep access.Endpoint, r Recovered)
	// Retention is how long finished executions are kept (90 days when 0,
	// for good when negative).
	Retention time.Duration
	// StoreFS is the file layer of the Step Functions store; nil is the
	// operating system's. Tests inject faults (a full disk) through it.
	StoreFS store.FS
	// StallRetry is how often an execution stopped by a failed history
	// write is tried again (sfnapi's default when 0).
	StallRetry time.Duration
}

// Recovered is what a start recovered from: the store's damage report (nil
// when it opened clean) and the executions failed instead of resumed.
type Recovered struct {
	Report *store.Recovery
	Failed []string
}

// recoveries is what a States API that recovers on start reports.
type recoveries interface {
	Recovery() *store.Recovery
	FailedOnStart() []string
}

// Server is a running local backend.
type Server struct {
	ep       access.Endpoint
	dataDir  string
	instance string
	version  string
	// awsEndpoint is Options.AWSEndpoint.
	awsEndpoint string
	throttle    bool
	started     time.Time
	log         *slog.Logger
	lock        *os.File
	http        *http.Server
	s3          *s3api.API
	states      StatesAPI
	sts         *stsapi.API
	verifier    *sigv4.Verifier
	serveErr    chan error
	closing     atomic.Bool
	statesOff   sync.Once
	statesErr   error
	closeOnce   sync.Once
	closeErr    error
}

// ErrAlreadyRunning is returned by New when another server holds the data dir.
var ErrAlreadyRunning = errors.New("a local backend server is already running for this data directory")

// New prepares the data directory, listens and starts serving. It returns once
// requests are being served and Bootstrap (if any) has run.
func New(ctx context.Context, opts Options) (_ *Server, err error) {
	if opts.DataDir == "" {
		return nil, errors.New("server: no data directory")
	}
	dir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s := &Server{dataDir: dir, version: opts.Version, awsEndpoint: opts.AWSEndpoint, throttle: opts.Throttle, log: opts.Logger, serveErr: make(chan error, 1), started: time.Now()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	region, account := opts.Region, opts.Account
	if region == "" {
		region = DefaultRegion
	}
	if account == "" {
		account = DefaultAccount
	}
	addr := opts.Addr
	if opts.Listener != nil {
		addr = opts.Listener.Addr().String()
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if err := CheckListenAddr(addr, opts.AllowRemote); err != nil {
		if opts.Listener != nil {
			opts.Listener.Close()
		}
		return nil, err
	}
	ln := opts.Listener
	defer func() {
		if err != nil && ln != nil {
			ln.Close()
		}
	}()
	if err := prepareDataDir(dir, s.log); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if s.http != nil {
				s.http.Close()
			}
			if s.lock != nil {
				// Say why while the lock is still held: a CLI waiting for
				// this server takes a released lock with no recorded
				// error for a server that died without a word.
				RecordStartError(dir, err)
			}
			s.release()
		}
	}()
	if s.lock, err = lockServer(dir); err != nil {
		return nil, err
	}
	creds, err := loadOrCreateCredentials(dir)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	spool, err := prepareSpool(dir)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.verifier = &sigv4.Verifier{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, Now: now, SpoolDir: spool}
	s.sts = &stsapi.API{Account: account, User: localUser()}
	s.s3, err = s3api.Open(s3api.Options{Dir: filepath.Join(dir, "s3"), Now: now, Region: region, Owner: account, Logger: s.log})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if ln == nil {
		if ln, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("server: listen on %s: %w", addr, err)
		}
	}
	s.ep = access.Endpoint{URL: "http://" + ln.Addr().String(), AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey,
		Region: region, Account: account}
	s.instance = randomID()
	fns := engine.NewFunctions()
	if opts.Functions != nil {
		if fns, err = opts.Functions(s.ep); err != nil {
			return nil, fmt.Errorf("server: register task functions: %w", err)
		}
	}
	// A server killed while command tasks ran left them running; the
	// executions resumed below would run them a second time beside them.
	StopOrphanTasks(dir, orphanTaskGrace, s.log)
	fns.RecordCommands(taskRecords(dir).Dir, s.log)
	states := opts.States
	if states == nil {
		states = func(ctx context.Context, ep access.Endpoint, fns *engine.Functions) (StatesAPI, error) {
			api, err := sfnapi.New(ctx, sfnapi.Options{DataDir: dir, Functions: fns, Clock: opts.Clock,
				Region: ep.Region, Account: ep.Account, Logger: s.log, Retention: opts.Retention, FS: opts.StoreFS, StallRetry: opts.StallRetry,
				Throttle: opts.Throttle})
			if err != nil {
				return nil, err // not a nil *sfnapi.API in a non-nil StatesAPI
			}
			return api, nil
		}
	}
	statesAPI, err := states(ctx, s.ep, fns)
	if err != nil {
		return nil, fmt.Errorf("server: start the Step Functions API: %w", err)
	}
	s.states = statesAPI
	// Replaying the store leaves garbage the size of its snapshot and
	// journal: hand it back to the system now rather than keep it as RSS.
	debug.FreeOSMemory()
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	go func() { s.serveErr <- s.http.Serve(ln) }()
	if opts.Bootstrap != nil {
		if err := opts.Bootstrap(ctx, s.ep); err != nil {
			return nil, fmt.Errorf("server: bootstrap: %w", err)
		}
	}
	if r, ok := s.states.(recoveries); ok && opts.Recovered != nil {
		if rec := (Recovered{Report: r.Recovery(), Failed: r.FailedOnStart()}); rec.Report.Lost() || len(rec.Failed) > 0 {
			opts.Recovered(ctx, s.ep, rec)
		}
	}
	// Only now may CLIs find it (endpoint.json): a CLI that found it before
	// the bootstrap could start a deploy before the deployer exists.
	if err := s.writeRunFiles(); err != nil {
		return nil, err
	}
	s.log.Info("local backend serving", "url", s.ep.URL, "data_dir", dir, "region", region, "account", account,
		"access_key_id", creds.AccessKeyID, "pid", os.Getpid())
	return s, nil
}

// orphanTaskGrace is how long a command task left by a killed server has to
// end on SIGTERM before it is killed. The start waits for it, and an
// interrupted task runs again from its start anyway.
const orphanTaskGrace = 5 * time.Second

func taskRecords(dataDir string) procgroup.Records {
	return procgroup.Records{Dir: filepath.Join(dataDir, "tasks")}
}

// StopOrphanTasks stops the command tasks that a server on dataDir left
// running when it was killed (see engine.Functions.RecordCommands):
// SIGTERM, and SIGKILL after grace. Call it only while no server runs on
// dataDir.
func StopOrphanTasks(dataDir string, grace time.Duration, logger *slog.Logger) {
	taskRecords(dataDir).StopLeft(grace, logger)
}

// access.Endpoint returns where the server listens and its credentials.
func (s *Server) Endpoint() access.Endpoint { return s.ep }

// DataDir returns the absolute data directory.
func (s *Server) DataDir() string { return s.dataDir }

// S3 returns the S3 API, for a bootstrap that creates buckets in-process.
func (s *Server) S3() *s3api.API { return s.s3 }

// Wait blocks until ctx is done (nil) or the server stops serving on its own (the error).
func (s *Server) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-s.serveErr:
		s.serveErr <- err
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("server stopped: %w", err)
	}
}

// Close stops accepting requests, lets in-flight ones finish (up to 10 s),
// closes the APIs and removes the pid and endpoint files.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var errs []error
		// Stop the engine before the listener: a task handler calling back
		// into this server must not see a refused connection and record a
		// failure that never happened. Executions stay RUNNING in the store
		// and the next server resumes them.
		s.closing.Store(true)
		errs = append(errs, s.closeStates())
		if s.http != nil {
			if err := s.http.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("shut down http: %w", err))
				s.http.Close()
			}
		}
		errs = append(errs, s.release())
		s.closeErr = errors.Join(errs...)
		s.log.Info("local backend stopped", "data_dir", s.dataDir)
	})
	return s.closeErr
}

// closeStates closes the Step Functions API once.
func (s *Server) closeStates() error {
	s.statesOff.Do(func() {
		if s.states != nil {
			s.statesErr = s.states.Close()
		}
	})
	return s.statesErr
}

// release closes what New opened, in reverse order; safe on a half-built server.
func (s *Server) release() error {
	errs := []error{s.closeStates()}
	if s.s3 != nil {
		errs = append(errs, s.s3.Close())
		s.s3 = nil
	}
	if s.lock != nil {
		// Only the lock holder owns the run files.
		for _, f := range []string{EndpointFile, PidFile} {
			if err := os.Remove(filepath.Join(s.dataDir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		errs = append(errs, s.lock.Close()) // closing the descriptor drops the flock
		s.lock = nil
	}
	return errors.Join(errs...)
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// CheckListenAddr refuses to expose the backend beyond this machine unless asked.
func CheckListenAddr(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("server: listen address %q: %w", addr, err)
	}
	if allowRemote {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("server: refusing to listen on %q: not a loopback address (the local backend is for this machine; pass --allow-remote to expose it)", addr)
	}
	return nil
}

// prepareDataDir creates the data directory 0700. An existing directory that
// others can read is left alone, with a warning: it may be the user's own.
func prepareDataDir(dir string, log *slog.Logger) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("server: create data directory: %w", err)
		}
		return os.Chmod(dir, 0o700)
	case err != nil:
		return fmt.Errorf("server: data directory: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("server: data directory %s is not a directory", dir)
	case fi.Mode().Perm()&0o077 != 0:
		log.Warn("data directory is accessible to other users; the credentials file inside stays 0600",
			"data_dir", dir, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
	}
	return nil
}

// SpoolDir holds request bodies while their signature is verified.
const SpoolDir = "spool"

// prepareSpool creates the spool directory 0700 and empties it: files left
// there are bodies of requests a killed server was verifying.
func prepareSpool(dir string) (string, error) {
	spool := filepath.Join(dir, SpoolDir)
	if err := os.MkdirAll(spool, 0o700); err != nil {
		return "", fmt.Errorf("create the spool directory: %w", err)
	}
	if err := os.Chmod(spool, 0o700); err != nil {
		return "", err
	}
	left, err := os.ReadDir(spool)
	if err != nil {
		return "", fmt.Errorf("read the spool directory: %w", err)
	}
	for _, e := range left {
		_ = os.Remove(filepath.Join(spool, e.Name()))
	}
	return spool, nil
}

// lockServer takes the data directory's server lock for the process's
// lifetime; the kernel drops it if the process dies, so a crash never leaves
// a stale lock.
func lockServer(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("server: open lock: %w", err)
	}
	_ = f.Chmod(0o600)
	// A CLI probing whether a server runs holds a shared lock on the same
	// file for a moment (lockHeld); a start that lands in that moment must
	// not take the probe for a running server. A server holds its lock for
	// good, so a lock still held after lockPatience is one.
	err = tryLock(f, true)
	for deadline := time.Now().Add(lockPatience); errors.Is(err, errLocked) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		err = tryLock(f, true)
	}
	if err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			if pid, _ := readPid(dir); pid > 0 {
				return nil, fmt.Errorf("%w (pid %d, %s)", ErrAlreadyRunning, pid, dir)
			}
			return nil, fmt.Errorf("%w (%s)", ErrAlreadyRunning, dir)
		}
		return nil, fmt.Errorf("server: lock %s: %w", dir, err)
	}
	// Who holds the lock, for Stop (see readPid).
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("server: lock %s: %w", dir, err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("server: lock %s: %w", dir, err)
	}
	return f, nil
}

// lockPatience is how long a starting server waits out a lock held by
// someone else before it concludes another server runs.
const lockPatience = time.Second

// runInfo is endpoint.json: everything a CLI needs to use or manage the server.
type runInfo struct {
	access.Endpoint
	Pid       int       `json:"pid"`
	Instance  string    `json:"instance"`
	StartedAt time.Time `json:"startedAt"`
	DataDir   string    `json:"dataDir"`
	// AWSEndpoint is Options.AWSEndpoint.
	AWSEndpoint string `json:"awsEndpoint,omitempty"`
	// Throttle is Options.Throttle.
	Throttle bool `json:"throttle,omitempty"`
}

func (s *Server) writeRunFiles() error {
	info := runInfo{Endpoint: s.ep, Pid: os.Getpid(), Instance: s.instance, StartedAt: s.started.UTC(), DataDir: s.dataDir, AWSEndpoint: s.awsEndpoint, Throttle: s.throttle}
	b, _ := json.MarshalIndent(info, "", "  ")
	if err := writeFileAtomic(filepath.Join(s.dataDir, PidFile), fmt.Appendf(nil, "%d\n", os.Getpid())); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(s.dataDir, EndpointFile), append(b, '\n')); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	_ = os.Remove(filepath.Join(s.dataDir, StartErrorFile))
	return nil
}

// ServeHTTP authenticates the request and routes it by its credential scope.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := randomID()
	w.Header().Set("x-amz-request-id", reqID)
	w.Header().Set("x-amzn-RequestId", reqID)
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	service := s.serve(rec, r)
	// Never the Authorization header or the query (a presigned URL's query
	// holds a signature); the path names buckets and keys only.
	level := slog.LevelInfo
	if service == "health" {
		level = slog.LevelDebug // CLIs poll it; it would drown the log
	}
	s.log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "service", service,
		"target", r.Header.Get("X-Amz-Target"), "status", rec.status, "duration", time.Since(start), "request_id", reqID)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) string {
	if s.closing.Load() {
		// Shutting down: the APIs' stores may already be closed.
		w.Header().Set("Connection", "close")
		if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AWSStepFunctions.") {
			writeJSONError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "the local backend is shutting down")
		} else {
			s3api.WriteError(w, r, &s3api.Error{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Message: "the local backend is shutting down"})
		}
		return "closing"
	}
	if r.URL.Path == access.HealthPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		return s.health(w, r)
	}
	isStates := strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AWSStepFunctions.")
	svc, _ := sigv4.Scope(r)
	if svc != "" {
		isStates = svc == "states"
		if !servedServices[svc] {
			writeUnsupported(w, r, svc)
			return "unsupported"
		}
	}
	if target := r.Header.Get("X-Amz-Target"); svc == "" && target != "" && !isStates {
		// Unsigned, for another JSON service (curl with DynamoDB's
		// X-Amz-Target): signed or not, the server lacks it, and S3's XML
		// "missing signature" would mislead.
		writeUnsupported(w, r, targetService(target))
		return "unsupported"
	}
	req, err := s.verifier.Verify(r)
	if err != nil {
		var se *sigv4.Error
		if !errors.As(err, &se) {
			se = &sigv4.Error{Status: http.StatusBadRequest, Code: "IncompleteBody", Message: err.Error()}
		}
		switch {
		case isStates:
			writeStatesAuthError(w, se)
		case svc == "sts":
			stsapi.WriteError(w, se.Status, se.Code, se.Message)
		default:
			s3api.WriteError(w, r, &s3api.Error{Status: se.Status, Code: se.Code, Message: se.Message, HeadersNotSigned: se.HeadersNotSigned})
		}
		return "auth"
	}
	// The verified body may be a spool file; net/http closes only the body
	// it made.
	defer r.Body.Close()
	switch req.Service {
	case "sts":
		s.sts.ServeHTTP(w, r)
	case "states":
		if s.states == nil {
			writeJSONError(w, http.StatusBadRequest, "UnknownOperationException", "the Step Functions API is not available in this server")
			return req.Service
		}
		if !isStates {
			writeJSONError(w, http.StatusBadRequest, "UnknownOperationException", "X-Amz-Target must name an AWSStepFunctions operation")
			return req.Service
		}
		s.states.ServeHTTP(w, r)
	default:
		s.s3.ServeHTTP(w, r)
	}
	return req.Service
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) string {
	h := access.Health{Status: "ok", Version: s.version}
	if r.Header.Get("Authorization") != "" || r.URL.Query().Has("X-Amz-Signature") {
		if _, err := s.verifier.Verify(r); err != nil {
			var se *sigv4.Error
			if !errors.As(err, &se) {
				se = &sigv4.Error{Status: http.StatusBadRequest, Code: "IncompleteBody", Message: err.Error()}
			}
			writeJSONError(w, se.Status, se.Code, se.Message)
			return "auth"
		}
		r.Body.Close()
		h.Instance, h.AWSEndpoint = s.instance, s.awsEndpoint
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(h)
	return "health"
}

// writeStatesAuthError answers as AWS's JSON services do for auth failures.
func writeStatesAuthError(w http.ResponseWriter, e *sigv4.Error) {
	code, msg, status := e.Code, e.Message, e.Status
	switch {
	case e.HeadersNotSigned != "":
		// Step Functions has no S3-style HeadersNotSigned; a signature that
		// does not cover the request is InvalidSignatureException there.
		code, status = "InvalidSignatureException", http.StatusForbidden
	case e.Code == sigv4.CodeMissingAuth:
		code, status = "MissingAuthenticationTokenException", http.StatusForbidden
		msg = "Request is missing Authentication Token"
	case e.Code == sigv4.CodeInvalidAccessKeyID:
		code, status = "UnrecognizedClientException", http.StatusForbidden
		msg = "The security token included in the request is invalid. (" + e.Message + ")"
	case e.Code == sigv4.CodeSignatureDoesNotMatch, e.Code == sigv4.CodeRequestTimeTooSkewed:
		code, status = "InvalidSignatureException", http.StatusForbidden
	case e.Code == sigv4.CodeMalformed:
		code, status = "IncompleteSignatureException", http.StatusForbidden
	}
	writeJSONError(w, status, code, msg)
}

// servedServices are the signing names of the APIs the server speaks.
var servedServices = map[string]bool{"s3": true, "states": true, "sts": true}

// writeUnsupported answers a request for a service the server lacks in that
// service's own protocol, so its client shows the message rather than a
// parse error or S3's idea of an error.
func writeUnsupported(w http.ResponseWriter, r *http.Request, service string) {
	const code = "UnsupportedService"
	msg := fmt.Sprintf("odin's local backend serves S3, Step Functions and STS only, not %s: point this client at AWS or at an emulator that has it", service)
	ct := r.Header.Get("Content-Type")
	switch {
	case r.Header.Get("X-Amz-Target") != "" || strings.HasPrefix(ct, "application/x-amz-json"):
		// AWS JSON 1.0/1.1 (DynamoDB, SQS, Step Functions...).
		w.Header().Set("Content-Type", cmp.Or(ct, "application/x-amz-json-1.0"))
		w.Header().Set("X-Amzn-ErrorType", code)
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		// The query protocol (IAM, SNS, CloudFormation, EC2...).
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>",
			code, html.EscapeString(msg), html.EscapeString(w.Header().Get("x-amz-request-id")))
	default:
		// REST JSON (Lambda, API Gateway...).
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", code)
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
	}
}

// targetService is the service an X-Amz-Target names:
// "DynamoDB_20120810.ListTables" is DynamoDB.
func targetService(target string) string {
	name, _, _ := strings.Cut(target, ".")
	if i := strings.LastIndexByte(name, '_'); i > 0 && len(name)-i == 9 && strings.Trim(name[i+1:], "0123456789") == "" {
		name = name[:i]
	}
	return name
}

func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the real writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// localUser names the person the local backend runs for: its caller identity.
func localUser() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	// Keep to what an IAM user name may hold (a Windows DOMAIN\user has a backslash).
	name = strings.Map(func(r rune) rune {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("+=,.@_-", r)) {
			return r
		}
		return '-'
	}, name)
	if name == "" {
		return "local"
	}
	return name
}
