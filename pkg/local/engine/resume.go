package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/odin-deploy/odin/pkg/local/asl"
	"github.com/odin-deploy/odin/pkg/local/jsonpath"
)

// resumePoint says where a resumed execution picks up: the state to run and,
// when its Entered event was already recorded, what the history says about it.
type resumePoint struct {
	state      string
	entered    bool
	enteredID  int64
	enteredAt  time.Time
	input      any
	retryCount int
	counts     []int64  // Task: attempts used per retrier
	pending    *failure // Task: a recorded failure whose retry or catch was not
	result     any      // Task: a recorded result whose Exited event was not
	hasResult  bool
}

// ErrNotResumable says a history can't be resumed: it is empty, has gaps, or
// already ended.
var ErrNotResumable = errors.New("execution history cannot be resumed")

// Resume continues an execution after the process that ran it died, from its
// recorded history (ids 1..n, as the sink received them). New events continue
// at id n+1.
//
// How each kind of state picks up:
//   - A top-level state whose Exited event was recorded is not run again: its
//     transition is recomputed (Next, the Choice rule that matches its recorded
//     input, or the catcher that matches the recorded error).
//   - A top-level state that was entered but not exited runs again from its
//     recorded input, without a second Entered event. A Wait waits only what
//     is left of its time. A Task whose result was recorded goes on with that
//     result; a Task whose failure was recorded makes its retry-or-catch
//     decision (a retry waits its full interval again); a Task that was in
//     flight (Scheduled or Started, no outcome) is scheduled again, so its
//     function runs a second time: task functions must be idempotent.
//   - A Parallel or Map that was in flight restarts as a whole with a new
//     ParallelStateStarted / MapStateStarted; its branches and iterations run
//     again from their start, and its retry counters start again from zero.
func (e *Engine) Resume(ctx context.Context, x Execution, history []Event) error {
	if len(history) == 0 || history[0].Type != "ExecutionStarted" {
		return fmt.Errorf("resume execution %s: %w: it does not start with ExecutionStarted", x.Arn, ErrNotResumable)
	}
	for i, ev := range history {
		if ev.ID != int64(i+1) {
			return fmt.Errorf("resume execution %s: %w: event %d has id %d", x.Arn, ErrNotResumable, i+1, ev.ID)
		}
	}
	if l := history[len(history)-1]; terminalType(l.Type) {
		return fmt.Errorf("resume execution %s: %w: it already ended with %s", x.Arn, ErrNotResumable, l.Type)
	}
	if d := history[0].Details; d != nil && d.Input != "" {
		x.Input = json.RawMessage(d.Input)
	}
	if x.StartDate.IsZero() {
		x.StartDate = history[0].Timestamp
	}
	xe, err := e.newExecution(x)
	if err != nil {
		return fmt.Errorf("resume execution %s: %w", x.Arn, err)
	}
	xe.lastID = int64(len(history))
	plan, err := xe.planResume(history)
	if err != nil {
		xe.forget()
		return fmt.Errorf("resume execution %s: %w", x.Arn, err)
	}
	xe.goRun(plan)
	return nil
}

// topVisit is what the history says about the last top-level state visited.
type topVisit struct {
	st        *asl.State
	entered   Event
	exited    *Event
	lastOwnID int64   // the last event on the top-level thread
	events    []Event // the state's events after Entered
}

// planResume reads the history and returns the function that carries on.
func (xe *execution) planResume(history []Event) (func(), error) {
	top := &xe.x.Machine.Machine
	var v *topVisit
	for _, ev := range history[1:] {
		name := ""
		if ev.Details != nil {
			name = ev.Details.Name
		}
		switch {
		case strings.HasSuffix(ev.Type, "StateEntered") && top.States[name] != nil:
			// State names are unique across the machine, so a top-level
			// name means a top-level visit.
			v = &topVisit{st: top.States[name], entered: ev, lastOwnID: ev.ID}
		case v == nil:
		case strings.HasSuffix(ev.Type, "StateExited") && name == v.st.Name:
			e := ev
			v.exited = &e
			v.lastOwnID = ev.ID
		case v.exited == nil:
			v.events = append(v.events, ev)
			if v.st.Type == asl.TypeTask || ev.Type == v.st.Type+"StateStarted" || ev.Type == v.st.Type+"StateFailed" {
				v.lastOwnID = ev.ID
			}
		}
	}
	if v == nil {
		return func() { xe.runTop(&thread{scope: &scope{}, vars: newVariables(nil)}, xe.input, nil) }, nil
	}
	vars, err := xe.replayVariables(history)
	if err != nil {
		return nil, err
	}
	th := &thread{scope: &scope{}, prev: v.lastOwnID, vars: vars}
	if v.exited != nil {
		out, err := jsonpath.Decode([]byte(v.exited.Details.Output))
		if err != nil {
			return nil, fmt.Errorf("event %d: output is not JSON: %w", v.exited.ID, err)
		}
		next, err := xe.recomputeTransition(v, history)
		if err != nil {
			return nil, err
		}
		if next == "" {
			text, _ := jsonpath.Marshal(out)
			return func() {
				xe.finish("ExecutionSucceeded", v.exited.ID, &Details{Output: string(text)},
					Result{Status: StatusSucceeded, Output: json.RawMessage(text)})
			}, nil
		}
		return func() { xe.runTop(th, out, &resumePoint{state: next}) }, nil
	}
	in, err := jsonpath.Decode([]byte(v.entered.Details.Input))
	if err != nil {
		return nil, fmt.Errorf("event %d: input is not JSON: %w", v.entered.ID, err)
	}
	rs := &resumePoint{state: v.st.Name, entered: true, enteredID: v.entered.ID, enteredAt: v.entered.Timestamp, input: in}
	if v.st.Type == asl.TypeTask {
		if err := xe.replayTask(v, rs); err != nil {
			return nil, err
		}
	}
	return func() { xe.runTop(th, in, rs) }, nil
}

func taskOutcome(typ string) (failed, succeeded bool) {
	switch typ {
	case "TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed",
		"LambdaFunctionFailed", "LambdaFunctionTimedOut", "LambdaFunctionStartFailed", "LambdaFunctionScheduleFailed":
		return true, false
	case "TaskSucceeded", "LambdaFunctionSucceeded":
		return false, true
	}
	return false, false
}

// replayTask rebuilds a Task's retry counters from its recorded failures.
func (xe *execution) replayTask(v *topVisit, rs *resumePoint) error {
	r := &stateRun{xe: xe, st: v.st}
	rs.counts = make([]int64, len(v.st.Retry))
	for i, ev := range v.events {
		failed, succeeded := taskOutcome(ev.Type)
		lastEvent := i == len(v.events)-1
		switch {
		case succeeded && lastEvent:
			res, err := jsonpath.Decode([]byte(ev.Details.Output))
			if err != nil {
				return fmt.Errorf("event %d: output is not JSON: %w", ev.ID, err)
			}
			rs.result, rs.hasResult = res, true
		case failed:
			f := &failure{name: ev.Details.Error, cause: ev.Details.Cause}
			if lastEvent {
				rs.pending = f
				continue
			}
			// The state went on after this failure, so it was retried.
			if _, ok := r.retryDelayNoJitter(rs.counts, f); ok {
				rs.retryCount++
			}
		}
	}
	return nil
}

// retryDelayNoJitter counts an attempt against the first matching retrier.
func (r *stateRun) retryDelayNoJitter(counts []int64, f *failure) (int, bool) {
	for i, ret := range r.st.Retry {
		if matches(ret.ErrorEquals, f) {
			if counts[i] >= ret.MaxAttempts {
				return i, false
			}
			counts[i]++
			return i, true
		}
	}
	return -1, false
}

// recomputeTransition finds where a top-level state that exited went next.
func (xe *execution) recomputeTransition(v *topVisit, history []Event) (string, error) {
	st := v.st
	prev := v.exited.PreviousEventID
	if prev > 0 && int(prev) <= len(history) {
		// Exited after a failure event means a catcher took it.
		pe := history[prev-1]
		failed, _ := taskOutcome(pe.Type)
		if failed || pe.Type == st.Type+"StateFailed" {
			name := xe.failureName(pe, history)
			for _, c := range st.Catch {
				if matches(c.ErrorEquals, &failure{name: name}) {
					return c.Next, nil
				}
			}
			return "", fmt.Errorf("event %d: no catcher of state %s matches the recorded error %q", v.exited.ID, st.Name, name)
		}
	}
	switch st.Type {
	case asl.TypeSucceed:
		return "", nil
	case asl.TypeChoice:
		in, err := jsonpath.Decode([]byte(v.entered.Details.Input))
		if err != nil {
			return "", fmt.Errorf("event %d: input is not JSON: %w", v.entered.ID, err)
		}
		r := &stateRun{xe: xe, st: st, raw: in, enteredID: v.entered.ID, enteredAt: v.entered.Timestamp}
		eff, f := r.selectPath(st.InputPath, in)
		if f != nil {
			return "", f
		}
		for _, rule := range st.Choices {
			ok, f := r.evalRule(rule, eff)
			if f != nil {
				return "", f
			}
			if ok {
				return rule.Next, nil
			}
		}
		return st.Default, nil
	}
	if st.End {
		return "", nil
	}
	return st.Next, nil
}

// failureName finds the error name behind a failure event, following
// ParallelStateFailed/MapStateFailed to the failing branch event.
func (xe *execution) failureName(ev Event, history []Event) string {
	for range len(history) {
		if ev.Details != nil && ev.Details.Error != "" {
			return ev.Details.Error
		}
		if ev.Type == "FailStateEntered" && ev.Details != nil {
			if st := findState(&xe.x.Machine.Machine, ev.Details.Name); st != nil && st.Error != nil && st.Error.Template == nil {
				return st.Error.Literal
			}
		}
		if ev.PreviousEventID <= 0 || int(ev.PreviousEventID) > len(history) {
			break
		}
		ev = history[ev.PreviousEventID-1]
	}
	return "States.ALL"
}

func findState(m *asl.Machine, name string) *asl.State {
	if st := m.States[name]; st != nil {
		return st
	}
	for _, st := range m.States {
		for _, b := range st.Branches {
			if f := findState(b, name); f != nil {
				return f
			}
		}
		if st.Processor != nil {
			if f := findState(st.Processor, name); f != nil {
				return f
			}
		}
	}
	return nil
}

// replayVariables rebuilds the top-level workflow variables from the
// assignedVariables of the top-level states' Exited events (the variables of
// branches and iterations end with them).
func (xe *execution) replayVariables(history []Event) (*variables, error) {
	vars := newVariables(nil)
	top := &xe.x.Machine.Machine
	for _, ev := range history {
		if ev.Details == nil || len(ev.Details.AssignedVariables) == 0 || top.States[ev.Details.Name] == nil ||
			!strings.HasSuffix(ev.Type, "StateExited") {
			continue
		}
		if vars.values == nil {
			vars.values, vars.sizes = map[string]any{}, map[string]int{}
		}
		for name, text := range ev.Details.AssignedVariables {
			v, err := jsonpath.Decode([]byte(text))
			if err != nil {
				return nil, fmt.Errorf("event %d: variable %s is not JSON: %w", ev.ID, name, err)
			}
			xe.varBytes += len(text) - vars.sizes[name]
			vars.values[name], vars.sizes[name] = v, len(text)
		}
	}
	return vars, nil
}
