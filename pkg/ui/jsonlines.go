package ui

import (
	"encoding/json"
	"io"
	"time"

	"github.com/odin-deploy/odin/pkg/progress"
	"github.com/odin-deploy/odin/pkg/watch"
)

// JSONLines writes one JSON object a line (`--output json`). A field marked
// ? is left out when empty or zero; the others are always there.
//
//	{"type":"start", "header":{"project"?, "config"?, "release"?, "backend"?, "account"?, "region"?, "execution"?, "not_deployed"?},
//	  "steps":[{"name", "type"}]}
//	{"type":"event", "kind", "id", "time", "event_type", "state"?, "step"?, "attempt"?, "error"?, "cause"?,
//	  "message"?, "status"?, "health"?}
//	{"type":"warning", "message", "retry_in_ms"}
//	{"type":"outcome", "status", "exit_code", "text", "execution"?, "elapsed_ms", "error"?, "cause"?,
//	  "failure"?:{"step", "error", "cause"?},
//	  "steps":[{"name", "status", "attempt"?, "visits"?, "duration_ms", "error"?}], "health"?, "output"?}
//
// health, on an event or the outcome, is
//
//	{"healthy", "services":[{"name", "desired", "healthy", "launching", "unhealthy", "terminating",
//	  "instances"?:[{"id", "release_id"?, "state", "pid"?, "port"?, "reason"?, "log_tail"?}]}], "step", "at"}
//
// The first line is start, the last is always outcome; events and warnings
// come in between. start's steps are the definition's top-level states in
// table order, type being the state's Type (Task, Wait, Choice, ...).
//
// An event: kind is one of watch's Kind values (execution_started,
// step_entered, attempt_started, retry_scheduled, attempt_failed,
// attempt_succeeded, step_succeeded, step_failed, execution_ended); id is
// the history event's id (a failing state that ends the execution gives a
// step_failed and an execution_ended with the same id); time is RFC 3339 in
// UTC; event_type is the raw history event type; state is the state the
// event is about and step the top-level step (table row) holding it, which
// differ inside a Parallel or Map; attempt counts tries from 1; error and
// cause are the Step Functions error name and cause, message the cause
// unwrapped to its innermost message; status is on execution_ended only
// (SUCCEEDED, FAILED, TIMED_OUT, ABORTED). health is present once per
// report: on the event whose output first carried a report that differs
// from the last one (usually a task's attempt_succeeded), not on the events
// that pass the same report along; its step and at say where and when it
// came from.
//
// A warning is a transient problem the watch is riding out (throttling, the
// network) and retry_in_ms when it tries again.
//
// The outcome: status is SUCCEEDED, FAILED, TIMED_OUT, ABORTED, HALTED,
// RUNNING (odin stopped watching first) or NOT_DEPLOYED (deploy --attach
// watched another release's deploy to its end), exit_code the process's exit code
// and text the verdict line; elapsed_ms is the execution's run time; error
// and cause are the execution's; failure is where it first went wrong (step
// is empty when no step failed); each step's status is pending, running,
// retrying, succeeded, failed, stopped or skipped, attempt its last try,
// visits how often it was entered and duration_ms its time over all visits;
// health is the last report and output the execution's output JSON.
type JSONLines struct {
	enc        *json.Encoder
	m          *progress.Model
	lastHealth *progress.Health
}

// NewJSONLines returns a JSON-lines renderer of m to w.
func NewJSONLines(w io.Writer, m *progress.Model) *JSONLines {
	return &JSONLines{enc: json.NewEncoder(w), m: m}
}

type jsonStep struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// UsualMS is the step's median time over the project and config's
	// earlier successful deploys.
	UsualMS *int64 `json:"usual_ms,omitempty"`
}

// jsonUsual is the estimate from earlier deploys.
type jsonUsual struct {
	Deploys int   `json:"deploys"`
	TotalMS int64 `json:"total_ms"`
}

// Start writes the start object.
func (j *JSONLines) Start() {
	steps := make([]jsonStep, 0, len(j.m.Rows))
	var usual *jsonUsual
	if u := j.m.Usual; u != nil {
		usual = &jsonUsual{Deploys: u.Deploys, TotalMS: u.Total.Milliseconds()}
	}
	for _, r := range j.m.Rows {
		s := jsonStep{Name: r.Name, Type: r.Type}
		if d, ok := j.m.Usual.Step(r.Name); ok {
			ms := d.Milliseconds()
			s.UsualMS = &ms
		}
		steps = append(steps, s)
	}
	j.enc.Encode(struct {
		Type   string          `json:"type"`
		Header progress.Header `json:"header"`
		Steps  []jsonStep      `json:"steps"`
		Usual  *jsonUsual      `json:"usual,omitempty"`
	}{"start", j.m.Header, steps, usual})
}

type jsonEvent struct {
	Type      string           `json:"type"`
	Kind      watch.Kind       `json:"kind"`
	ID        int64            `json:"id"`
	Time      time.Time        `json:"time"`
	EventType string           `json:"event_type"`
	State     string           `json:"state,omitempty"`
	Step      string           `json:"step,omitempty"`
	Attempt   int              `json:"attempt,omitempty"`
	Error     string           `json:"error,omitempty"`
	Cause     string           `json:"cause,omitempty"`
	Message   string           `json:"message,omitempty"`
	Status    string           `json:"status,omitempty"`
	Health    *progress.Health `json:"health,omitempty"`
}

// Event writes one event object (after the event was applied to the model).
func (j *JSONLines) Event(ev watch.Event) {
	out := jsonEvent{Type: "event", Kind: ev.Kind, ID: ev.ID, Time: ev.Time.UTC(), EventType: ev.Type, State: ev.State,
		Step: ev.Step, Attempt: ev.Attempt, Error: ev.Error, Cause: ev.Cause, Status: ev.Status}
	if ev.Cause != "" {
		out.Message = watch.UnwrapCause(ev.Cause).Summary()
	}
	if j.m.Health != j.lastHealth {
		j.lastHealth = j.m.Health
		out.Health = j.m.Health
	}
	j.enc.Encode(out)
}

// Warn writes a warning object.
func (j *JSONLines) Warn(err error, retryIn time.Duration) {
	j.enc.Encode(struct {
		Type    string `json:"type"`
		Message string `json:"message"`
		RetryIn int64  `json:"retry_in_ms"`
	}{"warning", err.Error(), retryIn.Milliseconds()})
}

type jsonRow struct {
	Name     string          `json:"name"`
	Status   progress.Status `json:"status"`
	Attempt  int             `json:"attempt,omitempty"`
	Visits   int             `json:"visits,omitempty"`
	Duration int64           `json:"duration_ms"`
	Error    string          `json:"error,omitempty"`
}

// Finish writes the outcome object.
func (j *JSONLines) Finish(v progress.Verdict, now time.Time) {
	rows := make([]jsonRow, 0, len(j.m.Rows))
	for _, r := range j.m.Rows {
		rows = append(rows, jsonRow{r.Name, r.Status, r.Attempt, r.Visits, r.Duration(now).Milliseconds(), r.Error})
	}
	out := struct {
		Type      string            `json:"type"`
		Status    string            `json:"status"`
		ExitCode  int               `json:"exit_code"`
		Text      string            `json:"text"`
		Execution string            `json:"execution,omitempty"`
		Elapsed   int64             `json:"elapsed_ms"`
		Error     string            `json:"error,omitempty"`
		Cause     string            `json:"cause,omitempty"`
		Failure   *progress.Failure `json:"failure,omitempty"`
		Steps     []jsonRow         `json:"steps"`
		Health    *progress.Health  `json:"health,omitempty"`
		Output    json.RawMessage   `json:"output,omitempty"`
	}{Type: "outcome", Status: v.Status, ExitCode: v.Code, Text: v.Text, Execution: j.m.Header.Execution,
		Elapsed: j.m.Elapsed(now).Milliseconds(), Error: j.m.Error, Cause: j.m.Cause, Failure: j.m.FirstFailure,
		Steps: rows, Health: j.m.Health}
	if json.Valid([]byte(j.m.Output)) {
		out.Output = json.RawMessage(j.m.Output)
	}
	j.enc.Encode(out)
}
