// Package watch tails a Step Functions execution's history incrementally and
// turns it into a stream of typed step events.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// API is the part of the Step Functions client the tailer uses; *sfn.Client
// satisfies it.
type API interface {
	GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, optFns ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	DescribeStateMachineForExecution(ctx context.Context, in *sfn.DescribeStateMachineForExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeStateMachineForExecutionOutput, error)
}

// Clock is the tailer's source of time, injected so tests run without
// sleeping.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options tune a Tailer. The zero value follows stepfunctions.md §7.
type Options struct {
	// IncludeData asks for inputs and outputs (task output carries health).
	// It makes pages bigger, so it is off unless a view needs it.
	IncludeData bool
	// MinInterval is the poll interval while events flow (default 1 s);
	// MaxInterval the idle one it backs off to (default 5 s).
	MinInterval, MaxInterval time.Duration
	// PageSize caps maxResults for a tick while events flow (default 1000,
	// the most AWS returns). A tick after one that brought a few events
	// asks for twice as many plus four (at most 100), so with data on a
	// poll costs about what is new rather than a fixed page; when more is
	// new than that, a second call reads exactly what the first page's
	// newest id shows is new. Any other tick (after an idle one, the first
	// read or a burst) asks for the newest event alone, without data, then
	// fetches exactly the new ones, paging by up to FirstPageSize (default
	// 1000), which the first read pages by too.
	PageSize, FirstPageSize int32
	// Clock and Rand (a float in [0,1) for jitter) default to the real ones.
	Clock Clock
	Rand  func() float64
	// Once reads what the history has now and returns without waiting for
	// the end (`odin status --no-follow`); the Result's Status is RUNNING
	// when the execution has not ended.
	Once bool
	// OnError is told about each transient error (throttling, network) the
	// tailer rides out, and the delay before it tries again.
	OnError func(err error, retryIn time.Duration)
}

// Result is how the execution ended.
type Result struct {
	Status string // SUCCEEDED, FAILED, TIMED_OUT, ABORTED
	Error  string
	Cause  string
	Output string
	// LastEventID is the id of the last event emitted.
	LastEventID int64
}

// Tailer follows one execution.
type Tailer struct {
	api  API
	arn  string
	opts Options

	graph    *Graph
	lastSeen int64
	forward  bool // the server ignores reverseOrder (moto 5.2.1): read forward
	walk     *walk
	// expect is how many events the next tick should bring: what the last
	// one brought, or 0 when that says nothing (idle, the first read).
	expect int
	calls  int // API history calls made, for tests and benchmarks
}

// guessMax is the largest page a tick guesses at: the fixed page ticks once
// read. Past it a wrong guess, such as the tick after a burst, costs more
// with data on (about 1.2 KB an event) than the probe's extra call.
const guessMax = 100

// New returns a Tailer for the execution arn.
func New(api API, executionArn string, opts Options) *Tailer {
	if opts.MinInterval <= 0 {
		opts.MinInterval = time.Second
	}
	if opts.MaxInterval < opts.MinInterval {
		opts.MaxInterval = max(5*time.Second, opts.MinInterval)
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 1000
	}
	if opts.FirstPageSize <= 0 {
		opts.FirstPageSize = 1000
	}
	if opts.Clock == nil {
		opts.Clock = systemClock{}
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	return &Tailer{api: api, arn: executionArn, opts: opts}
}

// Definition returns the definition the execution runs (one
// DescribeStateMachineForExecution call, made once).
func (t *Tailer) Definition(ctx context.Context) ([]byte, *Graph, error) {
	if strings.Contains(t.arn, ":express:") {
		return nil, nil, fmt.Errorf("%s is an EXPRESS execution: Step Functions keeps no history for those, so it cannot be watched (use a STANDARD state machine)", t.arn)
	}
	out, err := t.api.DescribeStateMachineForExecution(ctx, &sfn.DescribeStateMachineForExecutionInput{ExecutionArn: aws.String(t.arn)})
	if err != nil {
		return nil, nil, fmt.Errorf("describe state machine for execution %s: %w", t.arn, err)
	}
	def := []byte(aws.ToString(out.Definition))
	g, err := ParseDefinition(def)
	if err != nil {
		return nil, nil, fmt.Errorf("execution %s: %w", t.arn, err)
	}
	t.graph = g
	return def, g, nil
}

// Forward reports whether the tailer found the server ignores reverseOrder
// (moto 5.2.1) and reads the history forward.
func (t *Tailer) Forward() bool { return t.forward }

// Calls is how many GetExecutionHistory calls the tailer has made.
func (t *Tailer) Calls() int { return t.calls }

// Run tails the execution until it ends or ctx is done, calling emit for
// each Event in history order, never twice for one history event. It returns
// the outcome, or ctx's error when it stops before the end. Transient errors
// (throttling, network) are retried with jittered backoff; only errors that
// retrying cannot fix (no such execution, access denied) end it early.
func (t *Tailer) Run(ctx context.Context, emit func(Event)) (*Result, error) {
	if t.graph == nil {
		if _, _, err := t.Definition(ctx); err != nil {
			return nil, err
		}
	}
	tr := NewTranslator(t.graph)
	interval := t.opts.MinInterval
	failures := 0
	var res *Result
	for {
		evs, err := t.poll(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if !transient(err) {
				return nil, fmt.Errorf("read history of %s: %w", t.arn, err)
			}
			failures++
			wait := backoff(failures, t.opts.Rand)
			if t.opts.OnError != nil {
				t.opts.OnError(err, wait)
			}
			if err := t.sleep(ctx, wait); err != nil {
				return nil, err
			}
			continue
		}
		failures = 0
		for _, h := range evs {
			for _, ev := range tr.Translate(h) {
				emit(ev)
				if ev.Kind == ExecutionEnded {
					res = &Result{Status: ev.Status, Error: ev.Error, Cause: ev.Cause, Output: ev.Output, LastEventID: ev.ID}
				}
			}
			if res != nil {
				break
			}
		}
		if res != nil {
			return t.finish(ctx, res), nil
		}
		if t.opts.Once {
			return &Result{Status: string(types.ExecutionStatusRunning), LastEventID: t.lastSeen}, nil
		}
		if len(evs) > 0 {
			interval = t.opts.MinInterval
		} else {
			interval = min(interval*2, t.opts.MaxInterval)
		}
		if err := t.sleep(ctx, interval); err != nil {
			return nil, err
		}
	}
}

// finish fetches the output of a succeeded execution when the history was
// read without data: one DescribeExecution call at the end, never per tick.
func (t *Tailer) finish(ctx context.Context, res *Result) *Result {
	if res.Status != string(types.ExecutionStatusSucceeded) || res.Output != "" {
		return res
	}
	out, err := t.api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(t.arn)})
	if err == nil {
		res.Output = aws.ToString(out.Output)
	}
	return res
}

func (t *Tailer) sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.opts.Clock.After(d):
		return nil
	}
}

// poll returns the new events after lastSeen, in id order, and advances
// lastSeen through the contiguous run it returns.
func (t *Tailer) poll(ctx context.Context) ([]types.HistoryEvent, error) {
	first := t.lastSeen == 0
	var got []types.HistoryEvent
	var err error
	if t.forward {
		got, err = t.readForward(ctx)
	} else {
		got, err = t.readBackward(ctx)
	}
	if err != nil {
		return nil, err
	}
	slices.SortFunc(got, func(a, b types.HistoryEvent) int { return cmpInt64(a.Id, b.Id) })
	// Emit only a contiguous run from lastSeen+1: a gap is re-read next tick.
	out := got[:0]
	for _, h := range got {
		if h.Id <= t.lastSeen {
			continue
		}
		if h.Id != t.lastSeen+1 {
			break
		}
		out = append(out, h)
		t.lastSeen = h.Id
	}
	t.expect = len(out)
	if first {
		// How much history there was says nothing of how fast it grows.
		t.expect = 0
	}
	return out, nil
}

// walk is a newest-first read in progress. It survives a transient error so
// the next try resumes from its token instead of starting over, which
// matters when a long first read is throttled half-way.
type walk struct {
	in  *sfn.GetExecutionHistoryInput
	got []types.HistoryEvent
}

// readBackward pages newest-first until it reaches lastSeen (§7 steps 2–4),
// sizing its first page to what it expects is new: with data on, bytes a
// poll follow new events, not a fixed page.
func (t *Tailer) readBackward(ctx context.Context) ([]types.HistoryEvent, error) {
	if t.walk == nil {
		var size int32
		switch {
		case t.lastSeen == 0:
			size = t.opts.FirstPageSize
		case t.expect > 0 && 2*t.expect+4 <= guessMax:
			// Events trickle: one call for about twice what came last tick.
			size = int32(min(2*t.expect+4, int(t.opts.PageSize)))
		default:
			// The last tick says nothing of this one (idle, first read, a
			// burst): ask for the newest event alone (a few hundred
			// bytes), and fetch exactly what is new, if anything, with a
			// second call.
			newest, forward, err := t.probe(ctx)
			if err != nil {
				return nil, err
			}
			if forward {
				// The probe's events may lack data; read again with it.
				return t.readForward(ctx)
			}
			if len(newest) == 0 || newest[0].Id <= t.lastSeen {
				return nil, nil
			}
			size = int32(min(newest[0].Id-t.lastSeen, int64(t.opts.FirstPageSize)))
		}
		t.walk = &walk{in: &sfn.GetExecutionHistoryInput{
			ExecutionArn:         aws.String(t.arn),
			ReverseOrder:         true,
			MaxResults:           size,
			IncludeExecutionData: aws.Bool(t.opts.IncludeData),
		}}
	}
	w := t.walk
	for {
		t.calls++
		out, err := t.api.GetExecutionHistory(ctx, w.in)
		if err != nil {
			var ae smithy.APIError
			if w.in.NextToken != nil && errors.As(err, &ae) && ae.ErrorCode() == "InvalidToken" {
				// An expired token (24 h): start the walk again without it.
				w.in.NextToken = nil
				w.got = w.got[:0]
				continue
			}
			return nil, err
		}
		evs := out.Events
		if w.in.NextToken == nil && len(evs) >= 2 && evs[0].Id < evs[len(evs)-1].Id {
			// Oldest first although we asked for newest first: the server
			// ignores reverseOrder (and so paging). This page is the whole
			// history; read forward from now on.
			t.forward = true
			t.walk = nil
			return evs, nil
		}
		reached := false
		for _, h := range evs {
			if h.Id <= t.lastSeen {
				reached = true
				break
			}
			w.got = append(w.got, h)
		}
		if reached || out.NextToken == nil || len(evs) == 0 || evs[len(evs)-1].Id <= t.lastSeen+1 {
			t.walk = nil
			return w.got, nil
		}
		// More is new than the first page held, and more than a second page
		// of its size would bring. A token keeps the page size it came
		// with, so read newest-first again, sized by the newest id to all
		// that is new: one call more, not many.
		if rest := evs[len(evs)-1].Id - 1 - t.lastSeen; w.in.NextToken == nil && rest > int64(w.in.MaxResults) {
			if size := int32(min(evs[0].Id-t.lastSeen, int64(t.opts.PageSize))); size > w.in.MaxResults {
				w.in.MaxResults = size
				w.got = w.got[:0]
				continue
			}
		}
		w.in.NextToken = out.NextToken
	}
}

// probe reads the newest event without data. forward is set when the reply
// shows the server ignores reverseOrder.
func (t *Tailer) probe(ctx context.Context) (events []types.HistoryEvent, forward bool, err error) {
	t.calls++
	out, err := t.api.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{
		ExecutionArn:         aws.String(t.arn),
		ReverseOrder:         true,
		MaxResults:           1,
		IncludeExecutionData: aws.Bool(false),
	})
	if err != nil {
		return nil, false, err
	}
	evs := out.Events
	if len(evs) >= 2 && evs[0].Id < evs[len(evs)-1].Id {
		t.forward = true
		return evs, true, nil
	}
	return evs, false, nil
}

// readForward reads the whole history oldest-first and keeps what is new.
// Only for servers without reverse paging: it costs O(history) per tick.
func (t *Tailer) readForward(ctx context.Context) ([]types.HistoryEvent, error) {
	var got []types.HistoryEvent
	err := ReadHistory(ctx, countCalls{t}, t.arn, Read{IncludeData: t.opts.IncludeData}, func(events []types.HistoryEvent, _ bool) bool {
		for _, h := range events {
			if h.Id > t.lastSeen {
				got = append(got, h)
			}
		}
		return true
	})
	return got, err
}

// countCalls counts the tailer's history calls.
type countCalls struct{ t *Tailer }

func (c countCalls) GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, optFns ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	c.t.calls++
	return c.t.api.GetExecutionHistory(ctx, in, optFns...)
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Backoff on throttling and network errors, after copilot's streamer: an
// exponential ceiling from 1 s doubling to 32 s, full jitter, never under
// 1 s.
const (
	backoffMin = time.Second
	backoffMax = 32 * time.Second
)

func backoff(failures int, rnd func() float64) time.Duration {
	ceiling := backoffMin << min(failures, 6)
	ceiling = min(ceiling, backoffMax)
	d := time.Duration(rnd() * float64(ceiling))
	return max(d, backoffMin)
}

// throttleCodes are the error codes the SDK itself treats as throttling.
var throttleCodes = map[string]bool{
	"ThrottlingException": true, "Throttling": true, "ThrottledException": true,
	"RequestThrottledException": true, "TooManyRequestsException": true,
	"RequestLimitExceeded": true, "LimitExceededException": true, "SlowDown": true,
}

// transient reports whether retrying later may succeed: throttling, server
// faults, and failures to reach the server or read its answer. Anything
// else (no such execution, access denied, no credentials) ends the watch.
// Transient reports whether the tailer retries err (see transient).
func Transient(err error) bool { return transient(err) }

func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return throttleCodes[ae.ErrorCode()] || ae.ErrorFault() == smithy.FaultServer || httpStatus(err) >= 500
	}
	if st := httpStatus(err); st >= 500 || st == 429 {
		return true
	}
	var send *smithyhttp.RequestSendError
	var quota *ratelimit.QuotaExceededError
	var decode *smithy.DeserializationError
	var ne net.Error
	return errors.As(err, &send) || errors.As(err, &quota) || errors.As(err, &decode) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
