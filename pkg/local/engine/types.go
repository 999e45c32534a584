package engine

import (
	"context"
	"encoding/json"
	"time"
)

// This file is the contract between the engine and the rest of the local
// backend (the API server, the store, task handlers). Change it with care.

// Execution statuses, as the Step Functions API names them.
const (
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusTimedOut  = "TIMED_OUT"
	StatusAborted   = "ABORTED"
)

// Event is one history event, as GetExecutionHistory returns it.
//
// MarshalJSON (engine's job) writes the AWS wire shape:
// {"timestamp": <epoch seconds as a JSON number with ms>, "type": ..., "id": ...,
// "previousEventId": ..., "<detailsMember>": {...}} where detailsMember is the
// lowerCamel details member for Type (for example "taskFailedEventDetails"), and
// UnmarshalJSON reads it back, so the store can persist events as that JSON.
type Event struct {
	ID              int64
	PreviousEventID int64
	Timestamp       time.Time
	Type            string // e.g. "TaskStateEntered", "ExecutionFailed"
	Details         *Details
}

// Details holds every field any event's details member may carry; the wire
// form writes only those that are set. Input, Output and Parameters are JSON
// text (the API sends them as strings).
type Details struct {
	Name               string `json:"name,omitempty"`
	Input              string `json:"input,omitempty"`
	Output             string `json:"output,omitempty"`
	Error              string `json:"error,omitempty"`
	Cause              string `json:"cause,omitempty"`
	Resource           string `json:"resource,omitempty"`
	ResourceType       string `json:"resourceType,omitempty"`
	Region             string `json:"region,omitempty"`
	Parameters         string `json:"parameters,omitempty"`
	TimeoutInSeconds   *int64 `json:"timeoutInSeconds,omitempty"`
	HeartbeatInSeconds *int64 `json:"heartbeatInSeconds,omitempty"`
	RoleArn            string `json:"roleArn,omitempty"`
	Length             *int64 `json:"length,omitempty"` // MapStateStarted
	Index              *int64 `json:"index,omitempty"`  // MapIteration*
	Location           string `json:"location,omitempty"`
	State              string `json:"state,omitempty"` // EvaluationFailed
	RedriveCount       *int64 `json:"redriveCount,omitempty"`
	// AssignedVariables (StateExited) maps each variable the state assigned
	// to its value as JSON text.
	AssignedVariables map[string]string `json:"assignedVariables,omitempty"`
}

// TaskFunc is a task handler registered in-process under a Lambda function
// name: it gets the task's effective input and returns its result. An error
// that has an `ErrorType() string` method is reported with that name (as
// aws-lambda-go reports a Go error's type name); other errors are reported with
// their Go type name without the package, like Lambda does.
type TaskFunc func(ctx context.Context, input json.RawMessage) (json.RawMessage, error)

// TaskError is a task failure with AWS Lambda's shape: the history shows
// error = ErrorType and cause = {"errorMessage","errorType","stackTrace"} JSON.
type TaskError struct {
	ErrorType    string   `json:"errorType"`
	ErrorMessage string   `json:"errorMessage"`
	StackTrace   []string `json:"stackTrace,omitempty"`
}

func (e *TaskError) Error() string { return e.ErrorType + ": " + e.ErrorMessage }

// Clock is the engine's only source of time, so tests of Wait, Retry and
// timeouts run in milliseconds.
type Clock interface {
	Now() time.Time
	// After waits for d like time.After.
	After(d time.Duration) <-chan time.Time
}

// Sink receives every event of an execution, in id order, as it happens. The
// engine does not go on until Append returns: a recorded event is never lost.
// Append may be called concurrently for different executions.
type Sink interface {
	Append(ctx context.Context, executionArn string, ev Event) error
}
