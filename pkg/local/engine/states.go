package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/odin-deploy/odin/pkg/local/asl"
	"github.com/odin-deploy/odin/pkg/local/jsonpath"
)

// stateRun is one visit of one state.
type stateRun struct {
	xe         *execution
	th         *thread
	st         *asl.State
	enteredID  int64
	enteredAt  time.Time
	raw        any // the state's raw input
	retryCount int
	// enteredPrev is what the Entered event pointed back to (an
	// EvaluationFailed event points there too).
	enteredPrev int64
	// assign is what the state's Assign evaluated to; exit stores it.
	assign *assignment
	// timeoutSet and heartbeatSet say whether a Task gave TimeoutSeconds or
	// HeartbeatSeconds (its TaskScheduled event shows them then).
	timeoutSet, heartbeatSet bool
}

// runMachine runs states from m.StartAt (or from a resume point) until one
// ends the machine or fails.
func (xe *execution) runMachine(ctx context.Context, th *thread, m *asl.Machine, input any, rs *resumePoint) (any, *failure) {
	name := m.StartAt
	if rs != nil {
		name = rs.state
	}
	for {
		st := m.States[name]
		if st == nil { // Parse rules this out; guard against a hand-built machine.
			return nil, &failure{name: "States.Runtime", terminal: true, cause: fmt.Sprintf("State '%s' does not exist", name)}
		}
		out, next, f := xe.runState(ctx, th, st, input, rs)
		rs = nil
		if f != nil {
			return nil, f
		}
		if next == "" {
			return out, nil
		}
		input, name = out, next
	}
}

func (xe *execution) runState(ctx context.Context, th *thread, st *asl.State, input any, rs *resumePoint) (any, string, *failure) {
	r := &stateRun{xe: xe, th: th, st: st, raw: input}
	if rs != nil && rs.entered {
		r.enteredID, r.enteredAt, r.raw, r.retryCount = rs.enteredID, rs.enteredAt, rs.input, rs.retryCount
	} else {
		rs = nil
		text, _ := jsonpath.Marshal(input)
		r.enteredPrev = xe.prevOf(th)
		id, err := xe.emit(th, st.Type+"StateEntered", -1, &Details{Name: st.Name, Input: string(text)})
		if err != nil {
			return nil, "", haltedFailure()
		}
		r.enteredID, r.enteredAt = id, xe.e.opts.Clock.Now()
	}
	if ctx.Err() != nil {
		return nil, "", haltedFailure()
	}
	if st.JSONata() {
		return r.runJSONata(ctx, rs)
	}
	switch st.Type {
	case asl.TypePass:
		return r.pass()
	case asl.TypeTask:
		return r.task(ctx, rs)
	case asl.TypeChoice:
		return r.choice()
	case asl.TypeWait:
		return r.wait(ctx)
	case asl.TypeSucceed:
		out, f := r.inputOutput()
		if f != nil {
			return nil, "", f
		}
		return r.exit(out, "")
	case asl.TypeFail:
		return nil, "", r.fail()
	case asl.TypeParallel:
		return r.parallel(ctx)
	case asl.TypeMap:
		return r.mapState(ctx)
	}
	return nil, "", r.runtime("unknown state type " + st.Type)
}

func (r *stateRun) runtime(detail string) *failure {
	return runtimeFailure(r.st, r.enteredID, detail)
}

// dataFailure turns an evaluation error of a path or template into the error
// AWS raises for it.
func (r *stateRun) dataFailure(err error) *failure {
	if le := (*jsonpath.LimitError)(nil); errors.As(err, &le) {
		return r.limitFailure(le)
	}
	var je *jsonpath.Error
	if errors.As(err, &je) {
		f := runtimeFailure(r.st, r.enteredID, je.Cause)
		// AWS reports a Parameters path that matches nothing as States.Runtime
		// (recorded), not the spec's States.ParameterPathFailure.
		if je.Name != jsonpath.ErrParameterPathFailure {
			f.name = je.Name
			f.terminal = je.Name == jsonpath.ErrRuntime
		}
		return f
	}
	return r.runtime(err.Error())
}

func (r *stateRun) contextObject(token string, item map[string]any) map[string]any {
	c := map[string]any{
		"Execution":    r.xe.ctxExecution,
		"StateMachine": r.xe.ctxMachine,
		"State": map[string]any{
			"EnteredTime": isoTime(r.enteredAt),
			"Name":        r.st.Name,
			"RetryCount":  itoa(int64(r.retryCount)),
		},
	}
	if token != "" {
		c["Task"] = map[string]any{"Token": token}
	}
	if item != nil {
		c["Map"] = map[string]any{"Item": item}
	}
	return c
}

// selectPath applies InputPath or OutputPath.
func (r *stateRun) selectPath(p *asl.Path, doc any) (any, *failure) {
	switch {
	case p == nil:
		return doc, nil
	case p.Null:
		return map[string]any{}, nil
	}
	v, err := r.getPath(p, doc)
	if err != nil {
		return nil, r.dataFailure(err)
	}
	return v, nil
}

// effectiveInput is InputPath then Parameters.
func (r *stateRun) effectiveInput(params *jsonpath.Template, token string) (any, *failure) {
	eff, f := r.selectPath(r.st.InputPath, r.raw)
	if f != nil || params == nil {
		return eff, f
	}
	v, err := params.Eval(eff, r.env(params, token, nil))
	if err != nil {
		return nil, r.dataFailure(err)
	}
	return v, nil
}

// output is ResultSelector, ResultPath into the raw input, then OutputPath.
func (r *stateRun) output(result any, selector *jsonpath.Template, resultPath *asl.Path) (any, *failure) {
	if selector != nil {
		v, err := selector.Eval(result, r.env(selector, "", nil))
		if err != nil {
			return nil, r.dataFailure(err)
		}
		result = v
	}
	if r.st.Assign != nil {
		a, f := r.evalPathAssign(r.st.Assign, result)
		if f != nil {
			return nil, f
		}
		r.assign = a
	}
	merged, f := r.applyResultPath(resultPath, result)
	if f != nil {
		return nil, f
	}
	return r.selectPath(r.st.OutputPath, merged)
}

func (r *stateRun) applyResultPath(p *asl.Path, result any) (any, *failure) {
	switch {
	case p == nil:
		return result, nil
	case p.Null:
		return r.raw, nil
	}
	v, err := jsonpath.Set(r.raw, p.Path, result)
	if err != nil {
		return nil, r.dataFailure(err)
	}
	return v, nil
}

// inputOutput is InputPath then OutputPath (Choice, Succeed, Wait).
func (r *stateRun) inputOutput() (any, *failure) {
	eff, f := r.selectPath(r.st.InputPath, r.raw)
	if f != nil {
		return nil, f
	}
	return r.selectPath(r.st.OutputPath, eff)
}

// exit writes the state's Exited event after checking the output's size.
func (r *stateRun) exit(out any, next string) (any, string, *failure) {
	if overPayload(out) {
		return nil, "", dataLimitFailure(r.st.Name)
	}
	text, err := jsonpath.Marshal(out)
	if err != nil {
		return nil, "", r.runtime(err.Error())
	}
	if len(text) > MaxPayloadBytes {
		return nil, "", dataLimitFailure(r.st.Name)
	}
	a := r.assign
	r.assign = nil
	if f := r.commit(a); f != nil {
		return nil, "", f
	}
	if _, err := r.xe.emit(r.th, r.st.Type+"StateExited", -1, &Details{Name: r.st.Name, Output: string(text), AssignedVariables: a.assignedDetails()}); err != nil {
		return nil, "", haltedFailure()
	}
	return out, next, nil
}

// next is where the state goes after a normal exit ("" ends the machine).
func (r *stateRun) next() string {
	if r.st.End {
		return ""
	}
	return r.st.Next
}

func (r *stateRun) pass() (any, string, *failure) {
	eff, f := r.effectiveInput(r.st.Parameters, "")
	if f != nil {
		return nil, "", f
	}
	result := eff
	if r.st.HasResult {
		result = r.st.Result
	}
	out, f := r.output(result, nil, r.st.ResultPath)
	if f != nil {
		return nil, "", f
	}
	return r.exit(out, r.next())
}

func (r *stateRun) choice() (any, string, *failure) {
	eff, f := r.selectPath(r.st.InputPath, r.raw)
	if f != nil {
		return nil, "", f
	}
	next := r.st.Default
	assign := r.st.Assign
	for _, rule := range r.st.Choices {
		ok, f := r.evalRule(rule, eff)
		if f != nil {
			return nil, "", f
		}
		if ok {
			next, assign = rule.Next, rule.Assign
			break
		}
	}
	if next == "" {
		return nil, "", &failure{name: "States.NoChoiceMatched",
			cause: fmt.Sprintf("No Matches! for the state '%s' (entered at the event id #%d)", r.st.Name, r.enteredID)}
	}
	if assign != nil {
		a, f := r.evalPathAssign(assign, eff)
		if f != nil {
			return nil, "", f
		}
		r.assign = a
	}
	out, f := r.selectPath(r.st.OutputPath, eff)
	if f != nil {
		return nil, "", f
	}
	return r.exit(out, next)
}

// maxWait is where AWS stops accepting a Wait (between 24,855 and 24,856 days).
const maxWait = time.Duration(math.MaxInt32) * time.Second

func (r *stateRun) wait(ctx context.Context) (any, string, *failure) {
	eff, f := r.selectPath(r.st.InputPath, r.raw)
	if f != nil {
		return nil, "", f
	}
	var until time.Time
	st := r.st
	switch {
	case st.Seconds.Set && st.Seconds.Path == nil:
		until = r.enteredAt.Add(time.Duration(st.Seconds.Value) * time.Second)
	case st.Seconds.Path != nil:
		v, err := r.getPath(st.Seconds.Path, eff)
		if err != nil {
			return nil, "", r.runtime("The SecondsPath parameter does not reference an input value: " + st.Seconds.Path.Raw)
		}
		n, ok := nonNegativeInt(v)
		if !ok {
			if b, isNum := bigNumber(v); isNum && b.Sign() < 0 {
				return nil, "", r.runtime(fmt.Sprintf("The SecondsPath parameter references a negative value: %s == %s", st.Seconds.Path.Raw, plain(v)))
			}
			return nil, "", r.runtime(fmt.Sprintf("The SecondsPath parameter cannot be parsed as a long value: %s == %s", st.Seconds.Path.Raw, plain(v)))
		}
		if time.Duration(n) > maxWait/time.Second {
			return nil, "", r.runtime("The SecondsPath parameter references a value that is too large")
		}
		until = r.enteredAt.Add(time.Duration(n) * time.Second)
	case st.Timestamp != nil:
		until = *st.Timestamp
	case st.TimestampPath != nil:
		v, err := r.getPath(st.TimestampPath, eff)
		if err != nil {
			return nil, "", r.dataFailure(err)
		}
		s, _ := v.(string)
		t, err := asl.ParseTimestamp(s)
		if err != nil {
			return nil, "", r.runtime(fmt.Sprintf("The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: %s == %s", st.TimestampPath.Raw, plain(v)))
		}
		until = t
	}
	d := until.Sub(r.xe.e.opts.Clock.Now())
	if until.Sub(r.enteredAt) > maxWait {
		return nil, "", r.runtime("The wait time is too far in the future")
	}
	if d > 0 {
		if err := sleep(ctx, r.xe.e.opts.Clock, d); err != nil {
			return nil, "", haltedFailure()
		}
	}
	if st.Assign != nil {
		a, f := r.evalPathAssign(st.Assign, eff)
		if f != nil {
			return nil, "", f
		}
		r.assign = a
	}
	out, f := r.selectPath(st.OutputPath, eff)
	if f != nil {
		return nil, "", f
	}
	return r.exit(out, r.next())
}

func (r *stateRun) fail() *failure {
	f := &failure{}
	eval := func(v *asl.Value) (string, *failure) {
		if v == nil {
			return "", nil
		}
		if v.Template == nil {
			return v.Literal, nil
		}
		out, err := v.Template.Eval(r.raw, r.env(v.Template, "", nil))
		if err != nil {
			return "", r.dataFailure(err)
		}
		s, ok := out.(string)
		if !ok {
			return "", r.runtime(fmt.Sprintf("The ErrorPath or CausePath of the state does not reference a string: %s", compact(out)))
		}
		return s, nil
	}
	var ff *failure
	if f.name, ff = eval(r.st.Error); ff != nil {
		return ff
	}
	if f.cause, ff = eval(r.st.Cause); ff != nil {
		return ff
	}
	return f
}

func compact(v any) string {
	b, err := jsonpath.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// plain writes a value into a cause as AWS does after "PATH == ": a string as it
// is, anything else as compact JSON.
func plain(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return compact(v)
}

func nonNegativeInt(v any) (int64, bool) {
	n, ok := v.(interface{ Int64() (int64, error) })
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil && i >= 0
}
