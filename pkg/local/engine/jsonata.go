package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/odin-deploy/odin/pkg/local/asl"
	"github.com/odin-deploy/odin/pkg/local/jsonata"
)

// This file runs states whose QueryLanguage is JSONata: Arguments, Output,
// Assign and the "{% %}" forms of the other fields, with $states.input,
// $states.result, $states.errorOutput and $states.context.

// statesVar builds $states for one evaluation.
func (r *stateRun) statesVar(extra map[string]any, token string, item map[string]any) *jsonata.Env {
	states := map[string]any{"input": r.raw, "context": r.contextObject(token, item)}
	for k, v := range extra {
		states[k] = v
	}
	return &jsonata.Env{States: states, Lookup: r.th.vars.lookup, Random: r.xe.e.opts.Rand}
}

// queryFailure turns a JSONata evaluation error into States.QueryEvaluationError
// and records the EvaluationFailed event AWS writes for it.
func (r *stateRun) queryFailure(err error) *failure {
	location, detail := "", err.Error()
	var je *jsonata.Error
	if errors.As(err, &je) {
		location, detail = je.Location, je.Cause
	}
	f := &failure{name: jsonata.ErrQueryEvaluation,
		cause: fmt.Sprintf("An error occurred while executing the state '%s' (entered at the event id #%d). %s", r.st.Name, r.enteredID, detail)}
	if _, err := r.xe.emit(r.th, "EvaluationFailed", r.enteredPrev, &Details{Error: f.name, Cause: f.cause, Location: location, State: r.st.Name}); err != nil {
		return haltedFailure()
	}
	return f
}

// typeFailure is a field whose expression gave a value of the wrong type.
func (r *stateRun) typeFailure(t *jsonata.Template, field, want string, v any) *failure {
	return r.queryFailure(&jsonata.Error{Location: field, Cause: fmt.Sprintf(
		"The JSONata expression '%s' specified for the field '%s' returned an unexpected result type. Expected '%s', but was '%s' for value: %s",
		expressionText(t), field, want, jsonType(v), compact(v))})
}

func expressionText(t *jsonata.Template) string {
	if t == nil {
		return ""
	}
	return t.String()
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

// evalTemplate evaluates a JSONata field; a nil template gives def.
func (r *stateRun) evalTemplate(t *jsonata.Template, env *jsonata.Env, def any) (any, *failure) {
	if t == nil {
		return def, nil
	}
	v, err := t.Eval(env)
	if err != nil {
		return nil, r.queryFailure(err)
	}
	return v, nil
}

// finishJSONata evaluates Output (default def) and Assign, both over the
// same $states and the variables as they were when the state was entered.
func (r *stateRun) finishJSONata(output *jsonata.Template, assign *asl.Assign, env *jsonata.Env, def any) (any, *failure) {
	out, f := r.evalTemplate(output, env, def)
	if f != nil {
		return nil, f
	}
	if assign != nil && assign.Expr != nil {
		v, f := r.evalTemplate(assign.Expr, env, nil)
		if f != nil {
			return nil, f
		}
		m, _ := v.(map[string]any)
		a, f := r.newAssignment(m)
		if f != nil {
			return nil, f
		}
		r.assign = a
	}
	return out, nil
}

// resultOutput is what a Task, Parallel or Map makes of its result: Output
// and Assign in JSONata, ResultSelector, ResultPath, OutputPath and Assign in
// JSONPath.
func (r *stateRun) resultOutput(result any) (any, *failure) {
	if !r.st.JSONata() {
		return r.output(result, r.st.ResultSelector, r.st.ResultPath)
	}
	env := r.statesVar(map[string]any{"result": result}, "", nil)
	return r.finishJSONata(r.st.Output, r.st.Assign, env, result)
}

// catchJSONata leaves a JSONata state through a catcher: its Output (default
// the error output) and Assign see $states.errorOutput.
func (r *stateRun) catchJSONata(c *asl.Catcher, errOut map[string]any) (any, string, *failure) {
	env := r.statesVar(map[string]any{"errorOutput": errOut}, "", nil)
	out, f := r.finishJSONata(c.Output, c.Assign, env, errOut)
	if f != nil {
		return nil, "", f
	}
	return r.exit(out, c.Next)
}

// runJSONata runs one visit of a JSONata state.
func (r *stateRun) runJSONata(ctx context.Context, rs *resumePoint) (any, string, *failure) {
	st := r.st
	env := r.statesVar(nil, "", nil)
	switch st.Type {
	case asl.TypePass, asl.TypeSucceed:
		out, f := r.finishJSONata(st.Output, st.Assign, env, r.raw)
		if f != nil {
			return nil, "", f
		}
		next := ""
		if st.Type == asl.TypePass {
			next = r.next()
		}
		return r.exit(out, next)
	case asl.TypeChoice:
		return r.choiceJSONata(env)
	case asl.TypeWait:
		return r.waitJSONata(ctx, env)
	case asl.TypeFail:
		return nil, "", r.failJSONata(env)
	case asl.TypeTask:
		return r.task(ctx, rs)
	case asl.TypeParallel:
		eff, f := r.evalTemplate(st.Arguments, env, r.raw)
		if f != nil {
			return r.catch(f)
		}
		return r.structured(ctx, "Parallel", func(startedID int64) (any, int64, *failure) {
			return r.runBranches(ctx, eff, startedID)
		}, func() *Details { return nil })
	case asl.TypeMap:
		return r.mapJSONata(ctx, env)
	}
	return nil, "", r.runtime("unknown state type " + st.Type)
}

func (r *stateRun) choiceJSONata(env *jsonata.Env) (any, string, *failure) {
	st := r.st
	next, output, assign := st.Default, st.Output, st.Assign
	for _, rule := range st.Choices {
		v, f := r.evalTemplate(rule.Condition, env, nil)
		if f != nil {
			return nil, "", f
		}
		b, ok := v.(bool)
		if !ok {
			return nil, "", r.typeFailure(rule.Condition, "Condition", "boolean", v)
		}
		if b {
			next, assign = rule.Next, rule.Assign
			if rule.Output != nil {
				output = rule.Output
			}
			break
		}
	}
	if next == "" {
		return nil, "", &failure{name: "States.NoChoiceMatched",
			cause: fmt.Sprintf("No Matches! for the state '%s' (entered at the event id #%d)", r.st.Name, r.enteredID)}
	}
	out, f := r.finishJSONata(output, assign, env, r.raw)
	if f != nil {
		return nil, "", f
	}
	return r.exit(out, next)
}

// intExpr evaluates a field that must give a non-negative integer.
func (r *stateRun) intExpr(t *jsonata.Template, env *jsonata.Env, field string) (int64, *failure) {
	v, f := r.evalTemplate(t, env, nil)
	if f != nil {
		return 0, f
	}
	n, ok := nonNegativeInt(v)
	if !ok {
		return 0, r.typeFailure(t, field, "integer", v)
	}
	return n, nil
}

func (r *stateRun) waitJSONata(ctx context.Context, env *jsonata.Env) (any, string, *failure) {
	st := r.st
	var until time.Time
	switch {
	case st.SecondsExpr != nil:
		n, f := r.intExpr(st.SecondsExpr, env, "Seconds")
		if f != nil {
			return nil, "", f
		}
		if time.Duration(n) > maxWait/time.Second {
			return nil, "", r.runtime("The Seconds parameter references a value that is too large")
		}
		until = r.enteredAt.Add(time.Duration(n) * time.Second)
	case st.TimestampExpr != nil:
		v, f := r.evalTemplate(st.TimestampExpr, env, nil)
		if f != nil {
			return nil, "", f
		}
		s, ok := v.(string)
		if !ok {
			return nil, "", r.typeFailure(st.TimestampExpr, "Timestamp", "string", v)
		}
		t, err := asl.ParseTimestamp(s)
		if err != nil {
			return nil, "", r.queryFailure(&jsonata.Error{Location: "Timestamp", Cause: fmt.Sprintf(
				"The JSONata expression '%s' specified for the field 'Timestamp' returned a value that is not a valid ISO-8601 extended offset date-time format string: %s", st.TimestampExpr.String(), compact(v))})
		}
		until = t
	case st.Timestamp != nil:
		until = *st.Timestamp
	default:
		until = r.enteredAt.Add(time.Duration(st.Seconds.Value) * time.Second)
	}
	if until.Sub(r.enteredAt) > maxWait {
		return nil, "", r.runtime("The wait time is too far in the future")
	}
	if d := until.Sub(r.xe.e.opts.Clock.Now()); d > 0 {
		if err := sleep(ctx, r.xe.e.opts.Clock, d); err != nil {
			return nil, "", haltedFailure()
		}
	}
	out, f := r.finishJSONata(st.Output, st.Assign, env, r.raw)
	if f != nil {
		return nil, "", f
	}
	return r.exit(out, r.next())
}

func (r *stateRun) failJSONata(env *jsonata.Env) *failure {
	f := &failure{}
	get := func(t *jsonata.Template, lit *asl.Value, field string) (string, *failure) {
		if t == nil {
			if lit == nil {
				return "", nil
			}
			return lit.Literal, nil
		}
		v, ff := r.evalTemplate(t, env, nil)
		if ff != nil {
			return "", ff
		}
		s, ok := v.(string)
		if !ok {
			return "", r.typeFailure(t, field, "string", v)
		}
		return s, nil
	}
	var ff *failure
	if f.name, ff = get(r.st.ErrorExpr, r.st.Error, "Error"); ff != nil {
		return ff
	}
	if f.cause, ff = get(r.st.CauseExpr, r.st.Cause, "Cause"); ff != nil {
		return ff
	}
	return f
}

// jsonataSeconds resolves a JSONata Task's TimeoutSeconds or HeartbeatSeconds.
func (r *stateRun) jsonataSeconds(t *jsonata.Template, lit asl.IntField, def int64, field string) (int64, bool, *failure) {
	if t == nil {
		if !lit.Set {
			return def, false, nil
		}
		return lit.Value, true, nil
	}
	n, f := r.intExpr(t, r.statesVar(nil, "", nil), field)
	if f != nil {
		return 0, true, f
	}
	if n == 0 {
		return 0, true, r.typeFailure(t, field, "positive integer", json.Number("0"))
	}
	return n, true, nil
}

// jsonataArguments is a JSONata Task's effective input.
func (r *stateRun) jsonataArguments(token string) (any, *failure) {
	return r.evalTemplate(r.st.Arguments, r.statesVar(nil, token, nil), r.raw)
}

func (r *stateRun) mapJSONata(ctx context.Context, env *jsonata.Env) (any, string, *failure) {
	st := r.st
	itemsV, f := r.evalTemplate(st.Items, env, r.raw)
	if f != nil {
		return nil, "", f
	}
	items, ok := itemsV.([]any)
	if !ok {
		if st.Items != nil {
			return nil, "", r.typeFailure(st.Items, "Items", "array", itemsV)
		}
		return nil, "", r.runtime(fmt.Sprintf("Map state input must be an array but was: %s", compact(itemsV)))
	}
	maxConc := st.MaxConcurrency.Value
	if st.MaxConcurrencyExpr != nil {
		if maxConc, f = r.intExpr(st.MaxConcurrencyExpr, env, "MaxConcurrency"); f != nil {
			return nil, "", f
		}
	}
	tol, f := r.toleranceJSONata(env, len(items))
	if f != nil {
		return nil, "", f
	}
	var selectItem func(int, any) (any, *failure)
	if st.ItemSelectorExpr != nil {
		selectItem = func(i int, item any) (any, *failure) {
			ienv := r.statesVar(nil, "", map[string]any{"Index": itoa(int64(i)), "Value": item})
			return r.evalTemplate(st.ItemSelectorExpr, ienv, item)
		}
	}
	length := int64(len(items))
	return r.structured(ctx, "Map", func(startedID int64) (any, int64, *failure) {
		return r.runIterations(ctx, r.raw, items, startedID, int(maxConc), tol, selectItem)
	}, func() *Details { return &Details{Length: &length} })
}

func (r *stateRun) toleranceJSONata(env *jsonata.Env, n int) (int, *failure) {
	st := r.st
	countSet := st.ToleratedFailureCount.Set || st.ToleratedFailureCountExpr != nil
	pctSet := st.ToleratedFailurePercentage.Set || st.ToleratedFailurePercentageExpr != nil
	if !countSet && !pctSet {
		return -1, nil
	}
	limit := math.MaxInt32
	if countSet {
		c := st.ToleratedFailureCount.Value
		if st.ToleratedFailureCountExpr != nil {
			var f *failure
			if c, f = r.intExpr(st.ToleratedFailureCountExpr, env, "ToleratedFailureCount"); f != nil {
				return 0, f
			}
		}
		limit = int(c)
	}
	if pctSet {
		pct := st.ToleratedFailurePercentage.Value
		if t := st.ToleratedFailurePercentageExpr; t != nil {
			v, f := r.evalTemplate(t, env, nil)
			if f != nil {
				return 0, f
			}
			b, ok := bigNumber(v)
			if !ok {
				return 0, r.typeFailure(t, "ToleratedFailurePercentage", "number", v)
			}
			pct, _ = b.Float64()
			if pct < 0 || pct > 100 {
				return 0, r.typeFailure(t, "ToleratedFailurePercentage", "number between 0 and 100", v)
			}
		}
		limit = min(limit, int(math.Floor(pct*float64(n)/100)))
	}
	return limit, nil
}
