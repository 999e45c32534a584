package sfnapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/local/store"
)

const maxInputBytes = 262144

var statuses = []string{"SUCCEEDED", "TIMED_OUT", "PENDING_REDRIVE", "ABORTED", "FAILED", "RUNNING"}

// execArnOf checks an executionArn argument and finds the execution.
func (a *API) execArnOf(s string) (store.Execution, *apiError) {
	p, err := parseArn(s, "execution")
	if err != nil {
		return store.Execution{}, err
	}
	if len(p.rest) != 2 {
		return store.Execution{}, invalidArn("Invalid Arn format: " + s)
	}
	x, xerr := a.store.ExecutionErr(s)
	if errors.Is(xerr, store.ErrNotFound) {
		return store.Execution{}, executionDoesNotExist(s)
	}
	if xerr != nil {
		return store.Execution{}, internalErr(xerr)
	}
	return x, nil
}

func (a *API) startExecution(ctx context.Context, body []byte) (any, error) {
	var in struct {
		StateMachineArn *string `json:"stateMachineArn"`
		Name            *string `json:"name"`
		Input           *string `json:"input"`
		TraceHeader     *string `json:"traceHeader"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.required("stateMachineArn", in.StateMachineArn)
	v.length("stateMachineArn", in.StateMachineArn, 1, 256, false)
	v.length("name", in.Name, 1, 80, false)
	v.length("traceHeader", in.TraceHeader, 0, 256, false)
	if in.Input != nil && len(*in.Input) > maxInputBytes {
		v.addSensitive("input", "Member must have length less than or equal to "+strconv.Itoa(maxInputBytes))
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := a.smArnOf(*in.StateMachineArn); err != nil {
		return nil, err
	}
	name := newUUID()
	if in.Name != nil {
		name = *in.Name
		if !validName(name) {
			return nil, modelErr("InvalidName", "Invalid Name: '%s'", name)
		}
	}
	input := "{}"
	if in.Input != nil {
		input = *in.Input
		var probe any
		if err := json.Unmarshal([]byte(input), &probe); err != nil {
			return nil, modelErr("InvalidExecutionInput", "Invalid State Machine Execution Input: '%s'", err.Error())
		}
	}
	sm, ok := a.store.StateMachine(*in.StateMachineArn)
	if !ok {
		return nil, stateMachineDoesNotExist(*in.StateMachineArn)
	}
	rev := len(sm.Revisions) - 1
	m, err := a.machine(sm.Arn, rev)
	if err != nil {
		return nil, err
	}
	x := store.Execution{
		Arn: executionArn(a.opts.Region, a.opts.Account, sm.Name, name), Name: name,
		StateMachineArn: sm.Arn, StateMachineName: sm.Name, Revision: rev,
		RoleArn: sm.Current().RoleArn, Input: input, StartDate: a.opts.Clock.Now().Truncate(time.Millisecond),
	}
	if in.TraceHeader != nil {
		x.TraceHeader = *in.TraceHeader
	}
	got, err := a.store.CreateExecution(ctx, x)
	switch {
	case errors.Is(err, store.ErrExists):
		// The same name and input while the first is running is the same
		// start (STANDARD idempotency); anything else is a conflict.
		if got.Status == engine.StatusRunning && got.Input == input && got.StateMachineArn == sm.Arn {
			return startOutput(got), nil
		}
		return nil, modelErr("ExecutionAlreadyExists", "Execution Already Exists: '%s'", x.Arn)
	case errors.Is(err, store.ErrNotFound):
		return nil, stateMachineDoesNotExist(sm.Arn)
	case err != nil:
		return nil, err
	}
	if err := a.engine.Start(ctx, engineExecution(got, m)); err != nil {
		// Recorded but not started (the server is closing): the next server
		// starts it when it resumes.
		a.log.Error("start execution", "execution", got.Arn, "err", err)
	}
	return startOutput(got), nil
}

func startOutput(x store.Execution) any {
	return struct {
		ExecutionArn string      `json:"executionArn"`
		StartDate    json.Number `json:"startDate"`
	}{x.Arn, epoch(x.StartDate)}
}

type dataDetails struct {
	Included bool `json:"included"`
}

func (a *API) describeExecution(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ExecutionArn *string `json:"executionArn"`
		IncludedData *string `json:"includedData"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.required("executionArn", in.ExecutionArn)
	v.length("executionArn", in.ExecutionArn, 1, 256, false)
	v.enum("includedData", in.IncludedData, "ALL_DATA", "METADATA_ONLY")
	if err := v.err(); err != nil {
		return nil, err
	}
	x, aerr := a.execArnOf(*in.ExecutionArn)
	if aerr != nil {
		return nil, aerr
	}
	withData := in.IncludedData == nil || *in.IncludedData == "ALL_DATA"
	out := struct {
		ExecutionArn        string       `json:"executionArn"`
		StateMachineArn     string       `json:"stateMachineArn"`
		Name                string       `json:"name"`
		Status              string       `json:"status"`
		StartDate           json.Number  `json:"startDate"`
		StopDate            json.Number  `json:"stopDate,omitempty"`
		Input               *string      `json:"input,omitempty"`
		InputDetails        *dataDetails `json:"inputDetails,omitempty"`
		Output              *string      `json:"output,omitempty"`
		OutputDetails       *dataDetails `json:"outputDetails,omitempty"`
		TraceHeader         string       `json:"traceHeader,omitempty"`
		Error               string       `json:"error,omitempty"`
		Cause               string       `json:"cause,omitempty"`
		RedriveCount        *int         `json:"redriveCount,omitempty"`
		RedriveStatus       string       `json:"redriveStatus"`
		RedriveStatusReason string       `json:"redriveStatusReason,omitempty"`
	}{
		ExecutionArn: x.Arn, StateMachineArn: x.StateMachineArn, Name: x.Name, Status: x.Status,
		StartDate: epoch(x.StartDate), StopDate: epoch(x.StopDate), TraceHeader: x.TraceHeader,
		Error: x.Error, Cause: x.Cause,
	}
	if x.Status == engine.StatusTimedOut {
		// AWS describes a timed-out execution without an error or a cause
		// (recorded: LocalStack's test_timeouts test_global_timeout); only
		// its ExecutionTimedOut event carries States.Timeout.
		out.Error, out.Cause = "", ""
	}
	if withData {
		out.Input, out.InputDetails = &x.Input, &dataDetails{true}
		if x.Status == engine.StatusSucceeded {
			out.Output, out.OutputDetails = &x.Output, &dataDetails{true}
		}
	}
	// redrive* as AWS records them, though the local backend can't redrive.
	switch x.Status {
	case engine.StatusRunning, engine.StatusSucceeded:
		out.RedriveStatus = "NOT_REDRIVABLE"
		out.RedriveStatusReason = "Execution is " + x.Status + " and cannot be redriven"
	default:
		zero := 0
		out.RedriveCount = &zero
		out.RedriveStatus = "REDRIVABLE"
		if x.Events >= engine.DefaultMaxEvents {
			out.RedriveStatus = "NOT_REDRIVABLE"
			out.RedriveStatusReason = "Execution history event limit exceeded"
		}
	}
	return out, nil
}

func (a *API) describeStateMachineForExecution(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ExecutionArn *string `json:"executionArn"`
		IncludedData *string `json:"includedData"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.required("executionArn", in.ExecutionArn)
	v.length("executionArn", in.ExecutionArn, 1, 256, false)
	v.enum("includedData", in.IncludedData, "ALL_DATA", "METADATA_ONLY")
	if err := v.err(); err != nil {
		return nil, err
	}
	x, aerr := a.execArnOf(*in.ExecutionArn)
	if aerr != nil {
		return nil, aerr
	}
	sm, rev, ok := a.store.StateMachineRevision(x.StateMachineArn, x.Revision)
	if !ok {
		return nil, stateMachineDoesNotExist(x.StateMachineArn)
	}
	return describeStateMachineOutput{
		StateMachineArn: sm.Arn, Name: sm.Name, Definition: rev.Definition, RoleArn: rev.RoleArn,
		UpdateDate:           epoch(rev.Date),
		LoggingConfiguration: orDefault(rev.Logging, defaultLogging),
		TracingConfiguration: orDefault(rev.Tracing, defaultTracing),
		RevisionID:           rev.ID,
	}, nil
}

func (a *API) getExecutionHistory(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ExecutionArn         *string `json:"executionArn"`
		MaxResults           *int64  `json:"maxResults"`
		ReverseOrder         bool    `json:"reverseOrder"`
		NextToken            *string `json:"nextToken"`
		IncludeExecutionData *bool   `json:"includeExecutionData"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.required("executionArn", in.ExecutionArn)
	v.length("executionArn", in.ExecutionArn, 1, 256, false)
	v.intRange("maxResults", in.MaxResults, 0, 1000)
	v.length("nextToken", in.NextToken, 1, 1024, false)
	if err := v.err(); err != nil {
		return nil, err
	}
	x, aerr := a.execArnOf(*in.ExecutionArn)
	if aerr != nil {
		return nil, aerr
	}
	withData := in.IncludeExecutionData == nil || *in.IncludeExecutionData
	args := []string{"GetExecutionHistory", x.Arn, strconv.FormatBool(in.ReverseOrder), strconv.FormatBool(withData)}
	events, err := a.store.History(x.Arn)
	if err != nil {
		return nil, err
	}
	n := pageSize(in.MaxResults)

	// A position is the index of the next event to return; it stays valid as
	// events are added, in either direction.
	pos := int64(0)
	if in.ReverseOrder {
		pos = int64(len(events)) - 1
	}
	if in.NextToken != nil {
		p, err := a.tokens.decode(*in.NextToken, args...)
		if err != nil {
			return nil, err
		}
		if p < 0 || p >= int64(len(events)) {
			return nil, invalidToken("Invalid token")
		}
		pos = p
	}
	var lo, hi, next int64 // page is events[lo:hi]
	if in.ReverseOrder {
		hi = pos + 1
		lo = max(hi-int64(n), 0)
		next = lo - 1
	} else {
		lo = pos
		hi = min(lo+int64(n), int64(len(events)))
		next = hi
		if next >= int64(len(events)) {
			next = -1
		}
	}
	var b bytes.Buffer
	b.Grow(int(hi-lo) * 256)
	b.WriteString(`{"events":[`)
	for i := range hi - lo {
		j := lo + i
		if in.ReverseOrder {
			j = hi - 1 - i
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(events[j].JSON(withData))
	}
	b.WriteByte(']')
	if next >= 0 && lo < hi {
		b.WriteString(`,"nextToken":"`)
		b.WriteString(a.tokens.encode(next, args...))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return rawJSON(b.Bytes()), nil
}

func (a *API) listExecutions(ctx context.Context, body []byte) (any, error) {
	var in struct {
		StateMachineArn *string `json:"stateMachineArn"`
		MapRunArn       *string `json:"mapRunArn"`
		StatusFilter    *string `json:"statusFilter"`
		MaxResults      *int64  `json:"maxResults"`
		NextToken       *string `json:"nextToken"`
		RedriveFilter   *string `json:"redriveFilter"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.length("stateMachineArn", in.StateMachineArn, 1, 256, false)
	v.enum("statusFilter", in.StatusFilter, statuses...)
	v.intRange("maxResults", in.MaxResults, 0, 1000)
	v.length("nextToken", in.NextToken, 1, 3096, false)
	v.enum("redriveFilter", in.RedriveFilter, "REDRIVEN", "NOT_REDRIVEN")
	if err := v.err(); err != nil {
		return nil, err
	}
	if in.MapRunArn != nil {
		return nil, validationErr("Map runs (distributed Map) are not supported by the local backend")
	}
	if in.StateMachineArn == nil {
		return nil, validationErr("Must provide a StateMachine ARN or MapRun ARN")
	}
	if err := a.smArnOf(*in.StateMachineArn); err != nil {
		return nil, err
	}
	status := ""
	if in.StatusFilter != nil {
		status = *in.StatusFilter
		if status == "PENDING_REDRIVE" {
			return nil, validationErr("PENDING_REDRIVE status filter is only valid with a Map Run ARN")
		}
	}
	if _, ok := a.store.StateMachine(*in.StateMachineArn); !ok {
		return nil, stateMachineDoesNotExist(*in.StateMachineArn)
	}
	redrive := ""
	if in.RedriveFilter != nil {
		redrive = *in.RedriveFilter
	}
	args := []string{"ListExecutions", *in.StateMachineArn, status, redrive}
	from := -1
	if in.NextToken != nil {
		p, err := a.tokens.decode(*in.NextToken, args...)
		if err != nil {
			return nil, err
		}
		from = int(p)
	}
	xs, next := a.store.ListExecutions(*in.StateMachineArn, status, from, pageSize(in.MaxResults))
	if redrive == "REDRIVEN" {
		xs, next = nil, -1 // nothing is ever redriven locally
	}
	type item struct {
		ExecutionArn    string      `json:"executionArn"`
		StateMachineArn string      `json:"stateMachineArn"`
		Name            string      `json:"name"`
		Status          string      `json:"status"`
		StartDate       json.Number `json:"startDate"`
		StopDate        json.Number `json:"stopDate,omitempty"`
	}
	out := struct {
		Executions []item `json:"executions"`
		NextToken  string `json:"nextToken,omitempty"`
	}{Executions: []item{}}
	for _, x := range xs {
		out.Executions = append(out.Executions, item{x.Arn, x.StateMachineArn, x.Name, x.Status, epoch(x.StartDate), epoch(x.StopDate)})
	}
	if next >= 0 {
		out.NextToken = a.tokens.encode(int64(next), args...)
	}
	return out, nil
}

func (a *API) stopExecution(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ExecutionArn *string `json:"executionArn"`
		Error        *string `json:"error"`
		Cause        *string `json:"cause"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.required("executionArn", in.ExecutionArn)
	v.length("executionArn", in.ExecutionArn, 1, 256, false)
	v.length("error", in.Error, 0, 256, true)
	v.length("cause", in.Cause, 0, 32768, true)
	if err := v.err(); err != nil {
		return nil, err
	}
	x, aerr := a.execArnOf(*in.ExecutionArn)
	if aerr != nil {
		return nil, aerr
	}
	if x.Status == engine.StatusRunning {
		var errName, cause string
		if in.Error != nil {
			errName = *in.Error
		}
		if in.Cause != nil {
			cause = *in.Cause
		}
		err := a.engine.Stop(ctx, x.Arn, errName, cause)
		if errors.Is(err, engine.ErrExecutionNotFound) {
			// It ended between the two looks, the engine never ran it (its
			// start is still on the way), or a failed history write stopped
			// it: record the stop directly.
			a.endUnowned(ctx, x.Arn, "ExecutionAborted", errName, cause)
		} else if err != nil {
			return nil, err
		}
		x, _ = a.store.Execution(x.Arn)
		if x.Status == engine.StatusRunning && !a.engine.Running(x.Arn) {
			// The abort could not be written (a full disk): it stays RUNNING
			// on disk, but never goes on; the abort is written once the
			// history can be. Say so rather than claim a stop.
			a.mu.Lock()
			werr := a.stalled[x.Arn].err
			a.mu.Unlock()
			if werr == nil {
				werr = errors.New("a history write failed")
			}
			a.stopLater(x.Arn, stopRequest{errName, cause}, werr)
			return nil, &apiError{status: 500, namespace: nsService, name: "InternalFailure", message: "the local backend could not record the stop of " +
				x.Arn + " (its history cannot be written: " + werr.Error() + "); it does not go on, and its stop is recorded once there is space"}
		}
	}
	stop := x.StopDate
	if stop.IsZero() {
		stop = a.opts.Clock.Now()
	}
	return struct {
		StopDate json.Number `json:"stopDate"`
	}{epoch(stop)}, nil
}

func (a *API) taskErr(token string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, engine.ErrTaskDoesNotExist):
		return modelErr("TaskDoesNotExist", "Task Does Not Exist: '%s'", token)
	case errors.Is(err, engine.ErrInvalidToken):
		return invalidToken("Invalid token")
	}
	return err
}

func (a *API) sendTaskSuccess(ctx context.Context, body []byte) (any, error) {
	var in struct {
		TaskToken *string `json:"taskToken"`
		Output    *string `json:"output"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.required("taskToken", in.TaskToken)
	v.required("output", in.Output)
	v.length("taskToken", in.TaskToken, 1, 2048, false)
	if in.Output != nil && len(*in.Output) > maxInputBytes {
		v.addSensitive("output", "Member must have length less than or equal to "+strconv.Itoa(maxInputBytes))
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if !json.Valid([]byte(*in.Output)) {
		return nil, modelErr("InvalidOutput", "Invalid State Machine Output: 'output is not valid JSON'")
	}
	return struct{}{}, a.taskErr(*in.TaskToken, a.engine.SendTaskSuccess(ctx, *in.TaskToken, *in.Output))
}

func (a *API) sendTaskFailure(ctx context.Context, body []byte) (any, error) {
	var in struct {
		TaskToken *string `json:"taskToken"`
		Error     *string `json:"error"`
		Cause     *string `json:"cause"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.required("taskToken", in.TaskToken)
	v.length("taskToken", in.TaskToken, 1, 2048, false)
	v.length("error", in.Error, 0, 256, true)
	v.length("cause", in.Cause, 0, 32768, true)
	if err := v.err(); err != nil {
		return nil, err
	}
	var errName, cause string
	if in.Error != nil {
		errName = *in.Error
	}
	if in.Cause != nil {
		cause = *in.Cause
	}
	return struct{}{}, a.taskErr(*in.TaskToken, a.engine.SendTaskFailure(ctx, *in.TaskToken, errName, cause))
}

func (a *API) sendTaskHeartbeat(ctx context.Context, body []byte) (any, error) {
	var in struct {
		TaskToken *string `json:"taskToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.required("taskToken", in.TaskToken)
	v.length("taskToken", in.TaskToken, 1, 2048, false)
	if err := v.err(); err != nil {
		return nil, err
	}
	return struct{}{}, a.taskErr(*in.TaskToken, a.engine.SendTaskHeartbeat(ctx, *in.TaskToken))
}
