// Package engine executes Amazon States Language state machines and writes
// their execution histories event for event as AWS Step Functions does.
//
// Where the local engine knowingly differs from AWS:
//   - Task resources: only Lambda runs locally (function ARNs emit
//     LambdaFunction* events; arn:aws:states:::lambda:invoke[.waitForTaskToken]
//     emits Task* events). Any other resource (aws-sdk:*, sqs, activities, ...)
//     parses with a WARNING diagnostic and fails at run time with States.Runtime
//     ("... is not supported by the local backend") right after TaskStateEntered.
//   - lambda:invoke results carry ExecutedVersion "$LATEST", Payload,
//     SdkHttpMetadata {"HttpStatusCode": 200} and StatusCode 200; AWS adds
//     headers and a request id.
//   - A Lambda error's cause is {"errorMessage","errorType","stackTrace"}: no
//     requestId. An unregistered function fails with
//     Lambda.ResourceNotFoundException (retriable and catchable, as on AWS).
//   - HeartbeatSeconds is enforced only for .waitForTaskToken tasks (nothing
//     else can send a heartbeat locally).
//   - When a Parallel branch fails, the other branches stop without events
//     (Map iterations get <State>StateAborted and MapIterationAborted as AWS
//     records them).
//   - ToleratedFailureCount/Percentage work on inline Maps: a tolerated
//     iteration's result is its {"Error","Cause"}.
//   - ExecutionTimedOut points at the last event written; its cause is
//     "The execution timed out after N seconds." (AWS's exact text is unknown).
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/odin-deploy/odin/pkg/local/asl"
	"github.com/odin-deploy/odin/pkg/local/jsonpath"
)

// DefaultMaxEvents is AWS's hard cap on a STANDARD execution's history.
const DefaultMaxEvents = 25000

// MaxPayloadBytes is the limit on a state's or execution's input and output.
const MaxPayloadBytes = 256 * 1024

// Options configures an Engine. Zero values get working defaults.
type Options struct {
	Clock Clock // default SystemClock
	// Sink is required: where events go. If Append fails, the execution
	// stops where it is (logged), with no terminal event and no OnDone: it
	// stays RUNNING in the store, and Resume can continue it later.
	Sink      Sink
	Functions *Functions // Lambda functions; default an empty registry
	Region    string     // default "us-east-1"
	Account   string     // default "123456789012"
	Logger    *slog.Logger
	MaxEvents int // default DefaultMaxEvents
	// Rand returns a uniform number in [0, 1): the source of retry jitter.
	Rand func() float64
	// OnDone is called once when an execution ends, after its last event.
	OnDone func(executionArn string, r Result)
}

// Engine runs executions. It is safe for concurrent use.
type Engine struct {
	opts Options

	mu      sync.Mutex
	running map[string]*execution
	tokens  map[string]*callback
	closed  bool
	wg      sync.WaitGroup
}

// Execution is what Start needs to run one execution.
type Execution struct {
	Arn              string
	Name             string
	StateMachineArn  string
	StateMachineName string
	RoleArn          string
	Machine          *asl.StateMachine
	Input            json.RawMessage // default {}
	StartDate        time.Time       // default the clock's now
}

// Result is how an execution ended.
type Result struct {
	Status   string // StatusSucceeded, StatusFailed, StatusTimedOut or StatusAborted
	Output   json.RawMessage
	Error    string
	Cause    string
	StopDate time.Time
}

// Errors of the engine's API.
var (
	ErrClosed            = errors.New("engine is closed")
	ErrExecutionNotFound = errors.New("execution is not running")
	ErrAlreadyRunning    = errors.New("execution is already running")
	ErrTaskDoesNotExist  = errors.New("task does not exist")
	ErrInvalidToken      = errors.New("invalid task token")
	// ErrInvalidInput wraps input that is not JSON or is over MaxPayloadBytes
	// (the API's InvalidExecutionInput).
	ErrInvalidInput       = errors.New("invalid execution input")
	errHalted             = errors.New("execution halted")
	errTaskTimedOut       = errors.New("task timed out")
	errIterationCancelled = errors.New("stopped because another branch or iteration failed")
)

// New returns an engine.
func New(opts Options) *Engine {
	if opts.Clock == nil {
		opts.Clock = SystemClock{}
	}
	if opts.Functions == nil {
		opts.Functions = NewFunctions()
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
	if opts.MaxEvents <= 0 {
		opts.MaxEvents = DefaultMaxEvents
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	return &Engine{opts: opts, running: map[string]*execution{}, tokens: map[string]*callback{}}
}

// Start begins an execution: ExecutionStarted and everything after it are
// written to the sink from a goroutine of the engine. The returned error is
// only about starting (bad input, engine closed, already running).
func (e *Engine) Start(ctx context.Context, x Execution) error {
	xe, err := e.newExecution(x)
	if err != nil {
		return err
	}
	if _, err := xe.emit(nil, "ExecutionStarted", 0, &Details{Input: xe.inputText, RoleArn: x.RoleArn}); err != nil {
		xe.forget()
		return fmt.Errorf("start execution %s: %w", x.Arn, err)
	}
	xe.goRun(func() { xe.runTop(&thread{scope: &scope{}, vars: newVariables(nil)}, xe.input, nil) })
	return nil
}

func (e *Engine) newExecution(x Execution) (*execution, error) {
	if x.Machine == nil {
		return nil, fmt.Errorf("start execution %s: no state machine", x.Arn)
	}
	if len(x.Input) == 0 {
		x.Input = json.RawMessage("{}")
	}
	if len(x.Input) > MaxPayloadBytes {
		return nil, fmt.Errorf("start execution %s: %w: %d bytes, over the %d-byte limit", x.Arn, ErrInvalidInput, len(x.Input), MaxPayloadBytes)
	}
	input, err := jsonpath.Decode(x.Input)
	if err != nil {
		return nil, fmt.Errorf("start execution %s: %w: %v", x.Arn, ErrInvalidInput, err)
	}
	inputText, _ := jsonpath.Marshal(input)
	if x.StartDate.IsZero() {
		x.StartDate = e.opts.Clock.Now()
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	xe := &execution{e: e, x: x, input: input, inputText: string(inputText), ctx: ctx, cancel: cancel}
	xe.ctxExecution = map[string]any{
		"Id": x.Arn, "Input": input, "Name": x.Name, "RoleArn": x.RoleArn,
		"StartTime": isoTime(x.StartDate), "RedriveCount": json.Number("0"),
	}
	xe.ctxMachine = map[string]any{"Id": x.StateMachineArn, "Name": x.StateMachineName}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		cancel(ErrClosed)
		return nil, ErrClosed
	}
	if _, dup := e.running[x.Arn]; dup {
		cancel(ErrAlreadyRunning)
		return nil, fmt.Errorf("start execution %s: %w", x.Arn, ErrAlreadyRunning)
	}
	e.running[x.Arn] = xe
	return xe, nil
}

// Stop aborts a running execution: ExecutionAborted (with errName and cause
// when given) is its last event.
func (e *Engine) Stop(ctx context.Context, arn, errName, cause string) error {
	e.mu.Lock()
	xe := e.running[arn]
	e.mu.Unlock()
	if xe == nil {
		return fmt.Errorf("stop execution %s: %w", arn, ErrExecutionNotFound)
	}
	// AWS's recorded ExecutionAborted points at event 0, whatever ran last.
	xe.finish("ExecutionAborted", 0, &Details{Error: errName, Cause: cause},
		Result{Status: StatusAborted, Error: errName, Cause: cause})
	return nil
}

// Running reports whether an execution is running in this engine.
func (e *Engine) Running(arn string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.running[arn] != nil
}

// Close stops every execution without writing another event and waits for
// the engine's goroutines, including OnDone calls already under way (not for
// task functions that ignore their context). Executions that were running get
// no terminal event and no OnDone: they stay RUNNING in the store, and Resume
// picks them up.
func (e *Engine) Close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	xs := make([]*execution, 0, len(e.running))
	for _, xe := range e.running {
		xs = append(xs, xe)
	}
	e.mu.Unlock()
	for _, xe := range xs {
		xe.mu.Lock()
		xe.done = true
		xe.mu.Unlock()
		xe.cancel(ErrClosed)
	}
	e.wg.Wait()
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// execution is one running execution. mu orders its events: ids are assigned
// and events appended to the sink under it, so the sink sees them in id order.
type execution struct {
	e            *Engine
	x            Execution
	input        any
	inputText    string
	ctxExecution map[string]any
	ctxMachine   map[string]any
	ctx          context.Context
	cancel       context.CancelCauseFunc

	mu       sync.Mutex
	lastID   int64
	done     bool
	varBytes int // the JSON size of every workflow variable held now
}

// thread is one line of causality: the top level, a Parallel branch or a Map
// iteration. prev is the id the thread's next event points back to; cur is
// the type of the state it is in (for the *StateAborted events of a Map that
// fails). Both are guarded by execution.mu.
type thread struct {
	prev  int64
	cur   string
	scope *scope
	vars  *variables // the workflow variables this thread reads and writes
}

// scope is a set of threads that stop together: the branches of one Parallel
// or the iterations of one Map. stopped is guarded by execution.mu.
type scope struct {
	parent  *scope
	stopped bool
}

func (s *scope) stoppedLocked() bool {
	for ; s != nil; s = s.parent {
		if s.stopped {
			return true
		}
	}
	return false
}

func terminalType(typ string) bool {
	switch typ {
	case "ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut":
		return true
	}
	return false
}

// emit writes one event. With a thread, prev is taken from it (when prev < 0)
// and the thread moves on to the new event.
func (xe *execution) emit(th *thread, typ string, prev int64, d *Details) (int64, error) {
	xe.mu.Lock()
	defer xe.mu.Unlock()
	return xe.emitLocked(th, typ, prev, d)
}

func (xe *execution) emitLocked(th *thread, typ string, prev int64, d *Details) (int64, error) {
	if xe.done || (th != nil && th.scope.stoppedLocked()) {
		return 0, errHalted
	}
	if th != nil && prev < 0 {
		prev = th.prev
	}
	if xe.lastID+1 >= int64(xe.e.opts.MaxEvents) && !terminalType(typ) {
		cause := fmt.Sprintf("The execution reached the maximum number of history events (%d).", xe.e.opts.MaxEvents)
		xe.finishLocked("ExecutionFailed", xe.lastID, &Details{Error: "States.Runtime", Cause: cause},
			Result{Status: StatusFailed, Error: "States.Runtime", Cause: cause})
		return 0, errHalted
	}
	id := xe.lastID + 1
	ev := Event{ID: id, PreviousEventID: prev, Timestamp: xe.e.opts.Clock.Now(), Type: typ, Details: d}
	if err := xe.e.opts.Sink.Append(context.Background(), xe.x.Arn, ev); err != nil {
		// The history can't be written, so the execution can't go on.
		xe.e.opts.Logger.Error("history write failed; execution stopped", "execution", xe.x.Arn, "event", typ, "err", err)
		xe.done = true
		xe.cancel(err)
		go xe.forget()
		return 0, errHalted
	}
	xe.lastID = id
	if th != nil {
		th.prev = id
		switch {
		case strings.HasSuffix(typ, "StateEntered"):
			th.cur = strings.TrimSuffix(typ, "StateEntered")
		case strings.HasSuffix(typ, "StateExited"):
			th.cur = ""
		}
	}
	return id, nil
}

// finish writes the terminal event (unless one was written already), records
// the result and stops the execution's goroutines.
func (xe *execution) finish(typ string, prev int64, d *Details, r Result) bool {
	xe.mu.Lock()
	defer xe.mu.Unlock()
	return xe.finishLocked(typ, prev, d, r)
}

func (xe *execution) finishLocked(typ string, prev int64, d *Details, r Result) bool {
	if xe.done {
		return false
	}
	if _, err := xe.emitLocked(nil, typ, prev, d); err != nil {
		return false
	}
	xe.done = true
	r.StopDate = xe.e.opts.Clock.Now()
	xe.cancel(errHalted)
	// OnDone runs outside the execution's lock (it may call back into the
	// engine) but inside the engine's wait group, so Close waits for it.
	xe.e.wg.Add(1)
	go func() {
		defer xe.e.wg.Done()
		xe.forget()
		if xe.e.opts.OnDone != nil {
			xe.e.opts.OnDone(xe.x.Arn, r)
		}
	}()
	return true
}

func (xe *execution) forget() {
	xe.e.mu.Lock()
	defer xe.e.mu.Unlock()
	if xe.e.running[xe.x.Arn] == xe {
		delete(xe.e.running, xe.x.Arn)
	}
	for tok, cb := range xe.e.tokens {
		if cb.xe == xe {
			delete(xe.e.tokens, tok)
		}
	}
}

func (xe *execution) goRun(fn func()) {
	xe.e.wg.Add(1)
	go func() {
		defer xe.e.wg.Done()
		fn()
	}()
}

// runTop runs the machine from its start (or from a resume point) and writes
// the execution's terminal event.
func (xe *execution) runTop(th *thread, input any, rs *resumePoint) {
	if t := xe.x.Machine.TimeoutSeconds; t > 0 {
		// The timer is armed here, before the machine runs, not in the
		// goroutine: armed there it could start after the first Wait's timer
		// and, on a fake clock, after the clock had jumped past the deadline.
		deadline := xe.x.StartDate.Add(time.Duration(t) * time.Second)
		fired, stop := startTimer(xe.e.opts.Clock, deadline.Sub(xe.e.opts.Clock.Now()))
		xe.goRun(func() {
			defer stop()
			select {
			case <-fired:
			case <-xe.ctx.Done():
				return
			}
			xe.mu.Lock()
			last := xe.lastID
			xe.mu.Unlock()
			xe.finish("ExecutionTimedOut", last, &Details{Error: "States.Timeout", Cause: fmt.Sprintf("The execution timed out after %d seconds.", t)},
				Result{Status: StatusTimedOut, Error: "States.Timeout", Cause: fmt.Sprintf("The execution timed out after %d seconds.", t)})
		})
	}
	out, f := xe.runMachine(xe.ctx, th, &xe.x.Machine.Machine, input, rs)
	xe.mu.Lock()
	prev := th.prev
	xe.mu.Unlock()
	if f != nil {
		if f.halted {
			return
		}
		xe.finish("ExecutionFailed", prev, &Details{Error: f.name, Cause: f.cause},
			Result{Status: StatusFailed, Error: f.name, Cause: f.cause})
		return
	}
	text, _ := jsonpath.Marshal(out)
	xe.finish("ExecutionSucceeded", prev, &Details{Output: string(text)},
		Result{Status: StatusSucceeded, Output: json.RawMessage(text)})
}

// failure is a States Language error on its way to a Retry, a Catch or the
// execution's end.
type failure struct {
	name, cause string
	terminal    bool // never retried or caught (States.Runtime, state-level DataLimitExceeded)
	halted      bool // the execution was stopped, timed out or closed: write nothing more
	heartbeat   bool // a missed heartbeat (matches States.HeartbeatTimeout too)
}

func (f *failure) Error() string { return f.name + ": " + f.cause }

func haltedFailure() *failure { return &failure{halted: true, terminal: true} }

func runtimeFailure(st *asl.State, enteredID int64, detail string) *failure {
	return &failure{name: "States.Runtime", terminal: true,
		cause: fmt.Sprintf("An error occurred while executing the state '%s' (entered at the event id #%d). %s", st.Name, enteredID, detail)}
}

func itoa(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }
