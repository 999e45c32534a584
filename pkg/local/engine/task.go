package engine

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/odin-deploy/odin/pkg/local/asl"
	"github.com/odin-deploy/odin/pkg/local/jsonpath"
)

// matches reports whether a retrier's or catcher's ErrorEquals covers f.
func matches(names []string, f *failure) bool {
	if f.terminal {
		return false // States.Runtime and friends are never retried or caught
	}
	for _, n := range names {
		switch n {
		case f.name, "States.ALL":
			return true
		case "States.TaskFailed":
			if f.name != "States.Timeout" {
				return true
			}
		case "States.HeartbeatTimeout":
			if f.heartbeat {
				return true
			}
		}
	}
	return false
}

// retryDelay applies the first retrier that matches f: it says whether to try
// again and after how long. counts holds the attempts used per retrier.
func (r *stateRun) retryDelay(counts []int64, f *failure) (time.Duration, bool) {
	for i, ret := range r.st.Retry {
		if !matches(ret.ErrorEquals, f) {
			continue
		}
		if f.name == "States.DataLimitExceeded" && !slices.Contains(ret.ErrorEquals, f.name) {
			// The docs say States.ALL doesn't cover it; retrying the same
			// oversized result would not help anyway. (A catcher's States.ALL
			// does catch it: recorded on AWS.)
			return 0, false
		}
		if counts[i] >= ret.MaxAttempts {
			return 0, false
		}
		counts[i]++
		delay := ret.IntervalSeconds * math.Pow(ret.BackoffRate, float64(counts[i]-1))
		if ret.MaxDelaySeconds > 0 && delay > ret.MaxDelaySeconds {
			delay = ret.MaxDelaySeconds
		}
		if ret.JitterFull {
			delay *= r.xe.e.opts.Rand()
		}
		if delay > maxWait.Seconds() {
			delay = maxWait.Seconds()
		}
		return time.Duration(math.Round(delay*1000)) * time.Millisecond, true
	}
	return 0, false
}

// retryOrCatch handles a failed attempt: it waits and returns retry=true, or
// it applies the first matching catcher and leaves the state, or it returns
// the failure for the enclosing machine.
func (r *stateRun) retryOrCatch(ctx context.Context, counts []int64, f *failure, retryable bool) (retry bool, out any, next string, ff *failure) {
	if f.halted {
		return false, nil, "", f
	}
	if retryable {
		if d, ok := r.retryDelay(counts, f); ok {
			if err := sleep(ctx, r.xe.e.opts.Clock, d); err != nil {
				return false, nil, "", haltedFailure()
			}
			r.retryCount++
			return true, nil, "", nil
		}
	}
	out, next, ff = r.catch(f)
	return false, out, next, ff
}

func (r *stateRun) catch(f *failure) (any, string, *failure) {
	r.assign = nil
	for _, c := range r.st.Catch {
		if !matches(c.ErrorEquals, f) {
			continue
		}
		errOut := map[string]any{"Error": f.name, "Cause": f.cause}
		if r.st.JSONata() {
			return r.catchJSONata(c, errOut)
		}
		a, ff := r.evalPathAssign(c.Assign, errOut)
		if ff != nil {
			return nil, "", ff
		}
		out, ff := r.applyResultPath(c.ResultPath, errOut)
		if ff != nil {
			return nil, "", ff
		}
		r.assign = a
		return r.exit(out, c.Next)
	}
	return nil, "", f
}

func (r *stateRun) task(ctx context.Context, rs *resumePoint) (any, string, *failure) {
	st := r.st
	if st.Integration.Kind == asl.Unsupported {
		return nil, "", r.runtime(fmt.Sprintf("The resource '%s' is not supported by the local backend: only Lambda functions (function ARNs and arn:aws:states:::lambda:invoke) run locally.", st.Resource))
	}
	var timeout, heartbeat int64
	var f *failure
	if st.JSONata() {
		if timeout, r.timeoutSet, f = r.jsonataSeconds(st.TimeoutSecondsExpr, st.TimeoutSeconds, asl.DefaultTaskTimeoutSeconds, "TimeoutSeconds"); f != nil {
			return r.catch(f)
		}
		if heartbeat, r.heartbeatSet, f = r.jsonataSeconds(st.HeartbeatSecondsExpr, st.HeartbeatSeconds, 0, "HeartbeatSeconds"); f != nil {
			return r.catch(f)
		}
	} else {
		r.timeoutSet, r.heartbeatSet = st.TimeoutSeconds.Set, st.HeartbeatSeconds.Set
		if timeout, f = r.seconds(st.TimeoutSeconds, asl.DefaultTaskTimeoutSeconds); f != nil {
			return nil, "", f
		}
		if heartbeat, f = r.seconds(st.HeartbeatSeconds, 0); f != nil {
			return nil, "", f
		}
	}
	counts := make([]int64, len(st.Retry))
	if rs != nil {
		// Resumed after a crash: pick up what the history recorded.
		copy(counts, rs.counts)
		var f *failure
		switch {
		case rs.hasResult:
			out, ff := r.resultOutput(rs.result)
			if ff == nil {
				return r.exit(out, r.next())
			}
			f = ff
			_, out, next, ff := r.retryOrCatch(ctx, counts, f, false)
			return out, next, ff
		case rs.pending != nil:
			retry, out, next, ff := r.retryOrCatch(ctx, counts, rs.pending, true)
			if !retry {
				return out, next, ff
			}
		}
	}
	for {
		result, f, attempted := r.attempt(ctx, timeout, heartbeat)
		if f == nil {
			out, ff := r.resultOutput(result)
			if ff == nil {
				return r.exit(out, r.next())
			}
			f, attempted = ff, false
		}
		retry, out, next, ff := r.retryOrCatch(ctx, counts, f, attempted)
		if !retry {
			return out, next, ff
		}
	}
}

// seconds resolves TimeoutSeconds(Path) or HeartbeatSeconds(Path).
func (r *stateRun) seconds(f asl.IntField, def int64) (int64, *failure) {
	if !f.Set {
		return def, nil
	}
	if f.Path == nil {
		return f.Value, nil
	}
	v, err := r.getPath(f.Path, r.raw)
	if err != nil {
		return 0, r.dataFailure(err)
	}
	n, ok := nonNegativeInt(v)
	if !ok || n == 0 {
		return 0, r.runtime(fmt.Sprintf("The value of the path '%s' must be a positive integer: %s", f.Path.Raw, compact(v)))
	}
	return n, nil
}

// attempt runs the task once. attempted is false when it failed before it was
// scheduled (a bad Parameters path): such failures are caught, not retried.
func (r *stateRun) attempt(ctx context.Context, timeout, heartbeat int64) (result any, f *failure, attempted bool) {
	st := r.st
	in := st.Integration
	var cb *callback
	token := ""
	if in.WaitForTaskToken {
		cb = r.xe.e.newCallback(r.xe)
		token = cb.token
		defer r.xe.e.dropCallback(token)
	}
	var eff any
	if st.JSONata() {
		eff, f = r.jsonataArguments(token)
	} else {
		eff, f = r.effectiveInput(st.Parameters, token)
	}
	if f != nil {
		return nil, f, false
	}
	effText, err := jsonpath.Marshal(eff)
	if err != nil {
		return nil, r.runtime(err.Error()), false
	}
	var timeoutDetail, heartbeatDetail *int64
	if r.timeoutSet {
		timeoutDetail = &timeout
	}
	if r.heartbeatSet {
		heartbeatDetail = &heartbeat
	}

	legacy := in.Kind == asl.LambdaARN
	resType, resName := in.ResourceType, in.ResourceName
	var fnName string
	var payload any = eff
	var schedErr error
	if legacy {
		fnName = in.Function
		_, schedErr = r.xe.emit(r.th, "LambdaFunctionScheduled", -1, &Details{Resource: st.Resource, Input: string(effText), TimeoutInSeconds: timeoutDetail})
		if schedErr == nil {
			_, schedErr = r.xe.emit(r.th, "LambdaFunctionStarted", -1, nil)
		}
	} else {
		_, schedErr = r.xe.emit(r.th, "TaskScheduled", -1, &Details{ResourceType: resType, Resource: resName,
			Region: r.xe.e.opts.Region, Parameters: string(effText), TimeoutInSeconds: timeoutDetail, HeartbeatInSeconds: heartbeatDetail})
		if schedErr == nil {
			_, schedErr = r.xe.emit(r.th, "TaskStarted", -1, &Details{ResourceType: resType, Resource: resName})
		}
		obj, _ := eff.(map[string]any)
		fnName, _ = obj["FunctionName"].(string)
		payload = obj["Payload"]
		if _, ok := obj["Payload"]; !ok {
			payload = map[string]any{}
		}
	}
	if schedErr != nil {
		return nil, haltedFailure(), true
	}
	// The timeout runs from Started. An auto-advancing test clock is held
	// until the function has answered, so it can't jump to the timeout while
	// the engine is merely busy.
	release := func() {}
	if hc, ok := r.xe.e.opts.Clock.(holdingClock); ok {
		release = hc.Hold()
	}
	defer func() { release() }()
	deadline, stop := startTimer(r.xe.e.opts.Clock, time.Duration(timeout)*time.Second)
	defer stop()

	res, f := r.invoke(ctx, fnName, payload, deadline)
	if f == nil && !legacy {
		res = map[string]any{
			"ExecutedVersion": "$LATEST",
			"Payload":         res,
			"SdkHttpMetadata": map[string]any{"HttpStatusCode": json.Number("200")},
			"StatusCode":      json.Number("200"),
		}
	}
	if f == nil && cb != nil {
		text, _ := jsonpath.Marshal(res)
		if _, err := r.xe.emit(r.th, "TaskSubmitted", -1, &Details{ResourceType: resType, Resource: resName, Output: string(text)}); err != nil {
			return nil, haltedFailure(), true
		}
		release()
		res, f = r.awaitCallback(ctx, cb, deadline, heartbeat)
	}
	if f != nil {
		if f.halted {
			return nil, f, true
		}
		typ := "TaskFailed"
		switch {
		case legacy && f.name == "States.Timeout":
			typ = "LambdaFunctionTimedOut"
		case legacy:
			typ = "LambdaFunctionFailed"
		case f.name == "States.Timeout":
			typ = "TaskTimedOut"
		}
		d := &Details{Error: f.name, Cause: f.cause}
		if !legacy {
			d.ResourceType, d.Resource = resType, resName
		}
		if _, err := r.xe.emit(r.th, typ, -1, d); err != nil {
			return nil, haltedFailure(), true
		}
		return nil, f, true
	}
	text, _ := jsonpath.Marshal(res)
	if len(text) > MaxPayloadBytes {
		// AWS names the task by its function ARN (a Lambda resource) or by its
		// service ("lambda"), not by the state (recorded: LocalStack's
		// test_states_errors ..._data_limit_exceeded_on_large_utf8_response).
		task := resType
		if legacy {
			task = st.Resource
		}
		f := &failure{name: "States.DataLimitExceeded",
			cause: fmt.Sprintf("The state/task '%s' returned a result with a size exceeding the maximum number of bytes service limit.", task)}
		typ, d := "TaskFailed", &Details{ResourceType: resType, Resource: resName, Error: f.name, Cause: f.cause}
		if legacy {
			typ, d = "LambdaFunctionFailed", &Details{Error: f.name, Cause: f.cause}
		}
		if _, err := r.xe.emit(r.th, typ, -1, d); err != nil {
			return nil, haltedFailure(), true
		}
		return nil, f, true
	}
	typ, d := "TaskSucceeded", &Details{ResourceType: resType, Resource: resName, Output: string(text)}
	if legacy {
		typ, d = "LambdaFunctionSucceeded", &Details{Output: string(text)}
	}
	if _, err := r.xe.emit(r.th, typ, -1, d); err != nil {
		return nil, haltedFailure(), true
	}
	return res, nil, true
}

func timeoutFailure() *failure {
	return &failure{name: "States.Timeout"}
}

type invokeResult struct {
	out json.RawMessage
	err error
}

// invoke runs a registered function with input until it returns, the
// deadline passes or the execution stops.
func (r *stateRun) invoke(ctx context.Context, name string, input any, deadline <-chan time.Time) (any, *failure) {
	fn, ok := r.xe.e.opts.Functions.Lookup(name)
	if !ok {
		msg := fmt.Sprintf("Function not found: %s (the function is not registered with the local backend: register it in-process or configure a command for it)", name)
		return nil, &failure{name: "Lambda.ResourceNotFoundException", cause: msg}
	}
	payload, err := jsonpath.Marshal(input)
	if err != nil {
		return nil, r.runtime(err.Error())
	}
	cctx, cancel := context.WithCancelCause(withTask(ctx, r.xe.x.Arn, r.st.Name))
	defer cancel(nil)
	release := func() {}
	if hc, ok := r.xe.e.opts.Clock.(holdingClock); ok {
		release = hc.Hold()
	}
	done := make(chan invokeResult, 1)
	go func() {
		defer release()
		out, err := callSafely(cctx, fn, payload)
		done <- invokeResult{out, err}
	}()
	select {
	case res := <-done:
		if res.err != nil {
			if ctx.Err() != nil {
				return nil, haltedFailure()
			}
			if errors.Is(res.err, errResultTooLarge) {
				return nil, r.resultTooLarge()
			}
			return nil, taskFailure(res.err)
		}
		if len(res.out) == 0 {
			return nil, nil
		}
		if len(res.out) > MaxPayloadBytes {
			return nil, r.resultTooLarge() // not decoded: it fails anyway
		}
		v, err := jsonpath.Decode(res.out)
		if err != nil {
			return nil, &failure{name: "Lambda.Unknown", cause: lambdaCause("Lambda.Unknown", "the function returned invalid JSON: "+err.Error(), nil)}
		}
		return v, nil
	case <-deadline:
		cancel(errTaskTimedOut)
		return nil, timeoutFailure()
	case <-ctx.Done():
		cancel(context.Cause(ctx))
		return nil, haltedFailure()
	}
}

// callSafely runs fn, turning a panic into a Lambda.Unknown error so a bad
// handler can't take the server down.
func callSafely(ctx context.Context, fn TaskFunc, input json.RawMessage) (out json.RawMessage, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &TaskError{ErrorType: "Lambda.Unknown", ErrorMessage: fmt.Sprintf("the function panicked: %v", p)}
		}
	}()
	return fn(ctx, input)
}

// callback is a task waiting for SendTaskSuccess/Failure/Heartbeat.
type callback struct {
	xe        *execution
	token     string
	result    chan callbackResult
	heartbeat chan struct{}
}

type callbackResult struct {
	output      any
	name, cause string
	failed      bool
}

func (e *Engine) newCallback(xe *execution) *callback {
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	cb := &callback{xe: xe, token: base64.RawURLEncoding.EncodeToString(b),
		result: make(chan callbackResult, 1), heartbeat: make(chan struct{}, 1)}
	e.mu.Lock()
	e.tokens[cb.token] = cb
	e.mu.Unlock()
	return cb
}

func (e *Engine) dropCallback(token string) {
	e.mu.Lock()
	delete(e.tokens, token)
	e.mu.Unlock()
}

func (r *stateRun) awaitCallback(ctx context.Context, cb *callback, deadline <-chan time.Time, heartbeat int64) (any, *failure) {
	clock := r.xe.e.opts.Clock
	var hb <-chan time.Time
	stopHB := func() {}
	if heartbeat > 0 {
		hb, stopHB = startTimer(clock, time.Duration(heartbeat)*time.Second)
	}
	defer func() { stopHB() }()
	for {
		select {
		case res := <-cb.result:
			if res.failed {
				return nil, &failure{name: res.name, cause: res.cause}
			}
			return res.output, nil
		case <-cb.heartbeat:
			if heartbeat > 0 {
				stopHB()
				hb, stopHB = startTimer(clock, time.Duration(heartbeat)*time.Second)
			}
		case <-hb:
			f := timeoutFailure()
			f.heartbeat = true
			return nil, f
		case <-deadline:
			return nil, timeoutFailure()
		case <-ctx.Done():
			return nil, haltedFailure()
		}
	}
}

func (e *Engine) lookupCallback(token string) (*callback, error) {
	if token == "" || len(token) > 2048 {
		return nil, ErrInvalidToken
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	cb := e.tokens[token]
	if cb == nil {
		return nil, ErrTaskDoesNotExist
	}
	return cb, nil
}

func (e *Engine) complete(token string, res callbackResult) error {
	cb, err := e.lookupCallback(token)
	if err != nil {
		return err
	}
	select {
	case cb.result <- res:
		e.dropCallback(token)
		return nil
	default:
		return ErrTaskDoesNotExist // already completed
	}
}

// SendTaskSuccess completes a .waitForTaskToken task with output (JSON text).
func (e *Engine) SendTaskSuccess(ctx context.Context, token string, output string) error {
	if len(output) > MaxPayloadBytes {
		return fmt.Errorf("send task success: %w: output is %d bytes, over the %d-byte limit", ErrInvalidInput, len(output), MaxPayloadBytes)
	}
	v, err := jsonpath.Decode([]byte(output))
	if err != nil {
		return fmt.Errorf("send task success: %w: output is not JSON: %v", ErrInvalidInput, err)
	}
	return e.complete(token, callbackResult{output: v})
}

// SendTaskFailure fails a .waitForTaskToken task with an error and cause.
func (e *Engine) SendTaskFailure(ctx context.Context, token, errName, cause string) error {
	return e.complete(token, callbackResult{failed: true, name: errName, cause: cause})
}

// SendTaskHeartbeat restarts a waiting task's heartbeat timer.
func (e *Engine) SendTaskHeartbeat(ctx context.Context, token string) error {
	cb, err := e.lookupCallback(token)
	if err != nil {
		return err
	}
	select {
	case cb.heartbeat <- struct{}{}:
	default:
	}
	return nil
}

var _ = errors.New
