// Package sfnapi serves the AWS Step Functions JSON 1.0 API over the local
// engine and its durable store.
//
// Where it knowingly differs from AWS:
//   - STANDARD state machines only: EXPRESS gives StateMachineTypeNotSupported;
//     publishing versions, aliases and map runs give ValidationException.
//   - RedriveExecution is not served, though DescribeExecution reports
//     redriveStatus as AWS records it.
//   - DeleteStateMachine deletes at once (no DELETING status); executions
//     already running go on to their end and stay readable.
//   - An execution name stays taken until the execution expires, Retention
//     (90 days by default, as on AWS) after it ended; expiry is checked
//     when the store compacts (every 256 finished executions, hourly and
//     on start), so a name may stay taken a little longer.
//   - InvalidExecutionInput carries Go's JSON parser message, not Jackson's.
//   - nextTokens are signed with a key kept in DataDir/sfn/token.key, so they
//     outlive a restart; a token may change maxResults but nothing else.
//   - With Options.Throttle, ListStateMachines and other operations AWS
//     publishes no quota for share a 100-token bucket refilled at 2/s.
package sfnapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/odin-deploy/odin/pkg/local/asl"
	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/local/store"
)

// maxRequestBytes bounds a request body: AWS's hard limit is 1 MB for the
// request, and a definition alone may be 1 MiB, so allow a little more.
const maxRequestBytes = 2 << 20

// Options configures the API. Zero values get working defaults.
type Options struct {
	DataDir   string            // required: state lives in DataDir/sfn
	Functions *engine.Functions // task handlers
	Clock     engine.Clock      // default the system clock
	Region    string            // default us-east-1
	Account   string            // default 123456789012
	Logger    *slog.Logger
	// Throttle turns on AWS's per-operation token buckets, answering
	// ThrottlingException when one is empty, so clients' backoff can be tested.
	Throttle bool
	// SyncInterval is how often the store fsyncs (store.DefaultSyncInterval).
	SyncInterval time.Duration
	// Retention is how long a finished execution is kept
	// (store.DefaultRetention, 90 days as on AWS; negative: for good).
	Retention time.Duration
	// FS is the store's file layer (store.OSFS); tests inject faults.
	FS store.FS
	// StallRetry is how often an execution whose history could not be
	// written (a full disk) is tried again (default 2 s); StallLimit is how
	// long it is tried before it is failed with States.Runtime (default 10
	// minutes). Either way it does not stay RUNNING with nothing running it.
	StallRetry, StallLimit time.Duration
}

// API is the Step Functions API. It is an http.Handler for POST / requests
// whose X-Amz-Target is AWSStepFunctions.<Operation>.
type API struct {
	opts     Options
	log      *slog.Logger
	store    *store.Store
	engine   *engine.Engine
	tokens   *tokens
	throttle *throttle
	ops      map[string]handler

	mu       sync.Mutex
	machines map[machineKey]*asl.StateMachine // parsed revisions
	stalled  map[string]stall                 // executions whose history could not be written
	// failedOnStart are the executions New failed instead of resuming.
	failedOnStart []string

	stop     chan struct{}
	stopped  chan struct{}
	stopOnce sync.Once
}

// stall is an execution stopped by a failed history write.
type stall struct {
	since time.Time
	err   error
	// stop is a StopExecution whose ExecutionAborted could not be written
	// either: the execution is not resumed, and the abort is written as
	// soon as the history can be.
	stop *stopRequest
}

type stopRequest struct{ errName, cause string }

type machineKey struct {
	arn string
	rev int
}

type handler func(ctx context.Context, body []byte) (any, error)

// rawJSON is a response body the handler has already encoded.
type rawJSON []byte

// New opens the store in opts.DataDir/sfn, starts the engine and resumes the
// executions that were running when the last server stopped.
func New(ctx context.Context, opts Options) (*API, error) {
	if opts.DataDir == "" {
		return nil, errors.New("sfnapi: no data directory")
	}
	if opts.Clock == nil {
		opts.Clock = engine.SystemClock{}
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Account == "" {
		opts.Account = "123456789012"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.StallRetry <= 0 {
		opts.StallRetry = 2 * time.Second
	}
	if opts.StallLimit <= 0 {
		opts.StallLimit = 10 * time.Minute
	}
	dir := filepath.Join(opts.DataDir, "sfn")
	st, err := store.Open(dir, store.Options{SyncInterval: opts.SyncInterval, Logger: opts.Logger,
		FS: opts.FS, Retention: opts.Retention})
	if err != nil {
		return nil, fmt.Errorf("sfnapi: %w", err)
	}
	key, err := loadTokenKey(dir)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("sfnapi: %w", err)
	}
	a := &API{opts: opts, log: opts.Logger, store: st, machines: map[machineKey]*asl.StateMachine{},
		tokens: &tokens{key: key, now: opts.Clock.Now}, stalled: map[string]stall{},
		stop: make(chan struct{}), stopped: make(chan struct{})}
	a.engine = engine.New(engine.Options{
		Clock: opts.Clock, Sink: historySink{a}, Functions: opts.Functions,
		Region: opts.Region, Account: opts.Account, Logger: opts.Logger,
	})
	a.ops = map[string]handler{
		"CreateStateMachine":               a.createStateMachine,
		"UpdateStateMachine":               a.updateStateMachine,
		"DescribeStateMachine":             a.describeStateMachine,
		"ListStateMachines":                a.listStateMachines,
		"DeleteStateMachine":               a.deleteStateMachine,
		"ValidateStateMachineDefinition":   a.validateStateMachineDefinition,
		"StartExecution":                   a.startExecution,
		"DescribeExecution":                a.describeExecution,
		"DescribeStateMachineForExecution": a.describeStateMachineForExecution,
		"GetExecutionHistory":              a.getExecutionHistory,
		"ListExecutions":                   a.listExecutions,
		"StopExecution":                    a.stopExecution,
		"SendTaskSuccess":                  a.sendTaskSuccess,
		"SendTaskFailure":                  a.sendTaskFailure,
		"SendTaskHeartbeat":                a.sendTaskHeartbeat,
	}
	if opts.Throttle {
		names := make([]string, 0, len(a.ops))
		for op := range a.ops {
			names = append(names, op)
		}
		a.throttle = newThrottle(opts.Region, opts.Clock.Now, names)
	}
	a.resume(ctx)
	go a.retryStalled()
	return a, nil
}

// Recovery reports what the store recovered from when it opened, nil when
// it opened clean.
func (a *API) Recovery() *store.Recovery { return a.store.Recovery() }

// FailedOnStart returns the executions that New found RUNNING and failed
// with States.Runtime instead of resuming them: what they needed was lost
// or damaged, or the server died in them twice. Nothing runs them, so
// whatever they held (a deploy's lock) is theirs no more.
func (a *API) FailedOnStart() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.failedOnStart)
}

// historySink is the engine's Sink: the store, noting the executions whose
// history could not be written so that they are tried again.
type historySink struct{ a *API }

func (h historySink) Append(ctx context.Context, arn string, ev engine.Event) error {
	err := h.a.store.Append(ctx, arn, ev)
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrEventOutOfOrder) && !errors.Is(err, store.ErrClosed) {
		h.a.mu.Lock()
		if _, ok := h.a.stalled[arn]; !ok {
			h.a.stalled[arn] = stall{since: time.Now(), err: err}
		}
		h.a.mu.Unlock()
	}
	return err
}

// retryStalled tries the executions stopped by a failed history write
// again every StallRetry: each resumes from its last recorded event once
// its history can be written, or after StallLimit ends FAILED with
// States.Runtime. Either way it does not stay RUNNING for good.
func (a *API) retryStalled() {
	defer close(a.stopped)
	t := time.NewTicker(a.opts.StallRetry)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
		}
		a.mu.Lock()
		arns := make(map[string]stall, len(a.stalled))
		maps.Copy(arns, a.stalled)
		a.mu.Unlock()
		for arn, st := range arns {
			a.retryOne(arn, st)
		}
	}
}

func (a *API) retryOne(arn string, st stall) {
	ctx := context.Background()
	if a.engine.Running(arn) {
		return // still stopping, or already resumed
	}
	x, ok := a.store.Execution(arn)
	if !ok || x.Status != engine.StatusRunning {
		a.forgetStall(arn)
		return
	}
	if st.stop != nil {
		a.endUnowned(ctx, arn, "ExecutionAborted", st.stop.errName, st.stop.cause)
		if x, ok := a.store.Execution(arn); ok && x.Status != engine.StatusRunning {
			a.log.Info("recorded the stop of an execution once its history could be written", "execution", arn)
			a.forgetStall(arn)
		}
		return
	}
	if time.Since(st.since) > a.opts.StallLimit {
		a.endUnowned(ctx, arn, "ExecutionFailed", "States.Runtime", fmt.Sprintf(
			"The local backend could not write this execution's history for %s: %v", a.opts.StallLimit, st.err))
		if x, ok := a.store.Execution(arn); ok && x.Status != engine.StatusRunning {
			a.forgetStall(arn)
		}
		return
	}
	a.log.Info("resuming an execution stopped by a failed history write", "execution", arn, "since", st.since)
	if err := a.resumeOne(ctx, x); err != nil {
		a.log.Error("resume execution", "execution", arn, "err", err)
		a.endUnowned(ctx, arn, "ExecutionFailed", "States.Runtime",
			"The local backend could not resume this execution after a failed history write: "+err.Error())
	}
	// A resume that cannot write either stalls it again, keeping its start.
}

// stopLater keeps a stop that could not be written, for retryStalled.
func (a *API) stopLater(arn string, stop stopRequest, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st, ok := a.stalled[arn]
	if !ok {
		st = stall{since: time.Now(), err: err}
	}
	st.stop = &stop
	a.stalled[arn] = st
}

func (a *API) forgetStall(arn string) {
	a.mu.Lock()
	delete(a.stalled, arn)
	a.mu.Unlock()
}

// resume restarts every execution the store has as RUNNING from its
// recorded history. One that can't be resumed (its definition no longer
// parses, its history is damaged) is failed with States.Runtime, so that it
// doesn't stay RUNNING with nothing running it.
func (a *API) resume(ctx context.Context) {
	dir := filepath.Join(a.opts.DataDir, "sfn")
	guard, died, err := loadResumeGuard(dir)
	if err != nil {
		a.log.Error("read the record of resumed executions", "err", err)
	}
	running, suspects, next := guard.suspects(a.store.Running(), died, func(arn string) []engine.Event {
		events, _ := a.store.Events(arn)
		return events
	})
	for _, x := range suspects {
		events, _ := a.store.Events(x.Arn)
		cause := crashLoopCause(events)
		a.log.Error("not resuming an execution the backend died in twice", "execution", x.Arn, "cause", cause)
		a.failOnStart(ctx, x.Arn, cause)
	}
	if err := next.save(dir); err != nil {
		a.log.Error("record the resumed executions", "err", err)
	}
	for _, x := range running {
		if err := a.resumeOne(ctx, x); err != nil {
			a.log.Error("resume execution", "execution", x.Arn, "err", err)
			a.failOnStart(ctx, x.Arn, "The local backend could not resume this execution after a restart: "+err.Error())
		}
	}
}

// failOnStart fails an execution that New does not resume, and notes it.
func (a *API) failOnStart(ctx context.Context, arn, cause string) {
	a.endUnowned(ctx, arn, "ExecutionFailed", "States.Runtime", cause)
	if x, ok := a.store.Execution(arn); ok && x.Status != engine.StatusRunning {
		a.mu.Lock()
		a.failedOnStart = append(a.failedOnStart, arn)
		a.mu.Unlock()
	}
}

// endUnowned records the terminal event of an execution the store has as
// RUNNING but the engine doesn't run.
func (a *API) endUnowned(ctx context.Context, arn, typ, errName, cause string) {
	x, ok := a.store.Execution(arn)
	if !ok || x.Status != engine.StatusRunning || a.engine.Running(arn) {
		return
	}
	ev := engine.Event{ID: x.LastEventID + 1, Timestamp: a.opts.Clock.Now(), Type: typ,
		Details: &engine.Details{Error: errName, Cause: cause}}
	if typ != "ExecutionAborted" { // AWS's ExecutionAborted points at event 0
		ev.PreviousEventID = x.LastEventID
	}
	if err := a.store.Append(ctx, arn, ev); err != nil {
		a.log.Error("end execution", "execution", arn, "err", err)
	}
}

func (a *API) resumeOne(ctx context.Context, x store.Execution) error {
	m, err := a.machine(x.StateMachineArn, x.Revision)
	if err != nil {
		return err
	}
	events, err := a.store.Events(x.Arn)
	if err != nil {
		return err
	}
	ex := engineExecution(x, m)
	if len(events) == 0 {
		// The server stopped between recording the execution and its first
		// event: start it now.
		return a.engine.Start(ctx, ex)
	}
	a.log.Info("resuming execution", "execution", x.Arn, "events", len(events))
	return a.engine.Resume(ctx, ex, events)
}

func engineExecution(x store.Execution, m *asl.StateMachine) engine.Execution {
	return engine.Execution{
		Arn: x.Arn, Name: x.Name, StateMachineArn: x.StateMachineArn, StateMachineName: x.StateMachineName,
		RoleArn: x.RoleArn, Machine: m, Input: json.RawMessage(x.Input), StartDate: x.StartDate,
	}
}

// machine returns revision rev of a state machine, parsed once.
func (a *API) machine(smArn string, rev int) (*asl.StateMachine, error) {
	k := machineKey{smArn, rev}
	a.mu.Lock()
	m := a.machines[k]
	a.mu.Unlock()
	if m != nil {
		return m, nil
	}
	_, r, ok := a.store.StateMachineRevision(smArn, rev)
	if !ok {
		return nil, fmt.Errorf("state machine %s has no revision %d", smArn, rev)
	}
	m, err := asl.Parse([]byte(r.Definition))
	if err != nil {
		return nil, fmt.Errorf("parse state machine %s revision %d: %w", smArn, rev, err)
	}
	a.mu.Lock()
	a.machines[k] = m
	a.mu.Unlock()
	return m, nil
}

// Close stops the engine, leaving running executions RUNNING in the store
// for the next New to resume, and closes the store.
func (a *API) Close() error {
	a.stopOnce.Do(func() { close(a.stop) })
	<-a.stopped
	a.engine.Close()
	err := clearResumeGuard(filepath.Join(a.opts.DataDir, "sfn"))
	return errors.Join(err, a.store.Close())
}

// ServeHTTP answers one Step Functions API call.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-amzn-RequestId", newUUID())
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AWSStepFunctions.")
	h := a.ops[op]
	if !ok || h == nil || r.Method != http.MethodPost {
		writeError(w, &apiError{status: 400, namespace: nsService, name: "UnknownOperationException",
			message: fmt.Sprintf("Unknown operation %q", r.Header.Get("X-Amz-Target"))})
		return
	}
	if a.throttle != nil && !a.throttle.allow(op) {
		w.Header().Set("x-amz-retry-after", "1000")
		writeError(w, throttlingErr())
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		writeError(w, serializationErr("read request body: %v", err))
		return
	}
	if len(body) > maxRequestBytes {
		writeError(w, validationErr("Request body is larger than %d bytes", maxRequestBytes))
		return
	}
	out, err := h(r.Context(), body)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			a.log.Error("step functions call failed", "operation", op, "err", err)
			ae = internalErr(err)
		}
		writeError(w, ae)
		return
	}
	var b []byte
	if raw, ok := out.(rawJSON); ok {
		b = raw
	} else if b, err = json.Marshal(out); err != nil {
		writeError(w, internalErr(err))
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

func writeError(w http.ResponseWriter, e *apiError) {
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.namespace + "#" + e.name, e.message})
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-ErrorType", e.name)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.status)
	w.Write(b)
}

// decode reads a request body (empty means {}) into v.
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return serializationErr("Unexpected type for member '%s': %s", te.Field, te.Value)
		}
		return serializationErr("Request body is not valid JSON: %v", err)
	}
	return nil
}

// epoch writes t as AWS JSON 1.0 does: epoch seconds with milliseconds.
func epoch(t time.Time) json.Number {
	if t.IsZero() {
		return ""
	}
	return json.Number(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64))
}

// pageSize applies AWS's rule for maxResults: 0 (or absent) means 100.
func pageSize(n *int64) int {
	if n == nil || *n == 0 {
		return 100
	}
	return int(*n)
}
