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
//   - An execution name stays taken for good, not for 90 days.
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
	"net/http"
	"path/filepath"
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
}

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
	dir := filepath.Join(opts.DataDir, "sfn")
	st, err := store.Open(dir, store.Options{SyncInterval: opts.SyncInterval, Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("sfnapi: %w", err)
	}
	key, err := loadTokenKey(dir)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("sfnapi: %w", err)
	}
	a := &API{opts: opts, log: opts.Logger, store: st, machines: map[machineKey]*asl.StateMachine{},
		tokens: &tokens{key: key, now: opts.Clock.Now}}
	a.engine = engine.New(engine.Options{
		Clock: opts.Clock, Sink: st, Functions: opts.Functions,
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
	return a, nil
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
		a.endUnowned(ctx, x.Arn, "ExecutionFailed", "States.Runtime", cause)
	}
	if err := next.save(dir); err != nil {
		a.log.Error("record the resumed executions", "err", err)
	}
	for _, x := range running {
		if err := a.resumeOne(ctx, x); err != nil {
			a.log.Error("resume execution", "execution", x.Arn, "err", err)
			a.endUnowned(ctx, x.Arn, "ExecutionFailed", "States.Runtime",
				"The local backend could not resume this execution after a restart: "+err.Error())
		}
	}
}

// endUnowned records the terminal event of an execution the store has as
// RUNNING but the engine doesn't run.
func (a *API) endUnowned(ctx context.Context, arn, typ, errName, cause string) {
	x, ok := a.store.Execution(arn)
	if !ok || x.Status != engine.StatusRunning || a.engine.Running(arn) {
		return
	}
	ev := engine.Event{ID: int64(x.Events) + 1, Timestamp: a.opts.Clock.Now(), Type: typ,
		Details: &engine.Details{Error: errName, Cause: cause}}
	if typ != "ExecutionAborted" { // AWS's ExecutionAborted points at event 0
		ev.PreviousEventID = int64(x.Events)
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
