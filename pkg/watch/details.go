package watch

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// ErrorOf returns the error name and cause a history event carries, and
// whether it is an event that reports a failure at all (stepfunctions.md
// §3.5 lists them). ExecutionAborted is one even when its details are empty.
func ErrorOf(ev types.HistoryEvent) (name, cause string, ok bool) {
	pick := func(e, c *string) (string, string, bool) { return aws.ToString(e), aws.ToString(c), true }
	switch {
	case ev.TaskFailedEventDetails != nil:
		return pick(ev.TaskFailedEventDetails.Error, ev.TaskFailedEventDetails.Cause)
	case ev.TaskStartFailedEventDetails != nil:
		return pick(ev.TaskStartFailedEventDetails.Error, ev.TaskStartFailedEventDetails.Cause)
	case ev.TaskSubmitFailedEventDetails != nil:
		return pick(ev.TaskSubmitFailedEventDetails.Error, ev.TaskSubmitFailedEventDetails.Cause)
	case ev.TaskTimedOutEventDetails != nil:
		return pick(ev.TaskTimedOutEventDetails.Error, ev.TaskTimedOutEventDetails.Cause)
	case ev.LambdaFunctionFailedEventDetails != nil:
		return pick(ev.LambdaFunctionFailedEventDetails.Error, ev.LambdaFunctionFailedEventDetails.Cause)
	case ev.LambdaFunctionScheduleFailedEventDetails != nil:
		return pick(ev.LambdaFunctionScheduleFailedEventDetails.Error, ev.LambdaFunctionScheduleFailedEventDetails.Cause)
	case ev.LambdaFunctionStartFailedEventDetails != nil:
		return pick(ev.LambdaFunctionStartFailedEventDetails.Error, ev.LambdaFunctionStartFailedEventDetails.Cause)
	case ev.LambdaFunctionTimedOutEventDetails != nil:
		return pick(ev.LambdaFunctionTimedOutEventDetails.Error, ev.LambdaFunctionTimedOutEventDetails.Cause)
	case ev.ActivityFailedEventDetails != nil:
		return pick(ev.ActivityFailedEventDetails.Error, ev.ActivityFailedEventDetails.Cause)
	case ev.ActivityScheduleFailedEventDetails != nil:
		return pick(ev.ActivityScheduleFailedEventDetails.Error, ev.ActivityScheduleFailedEventDetails.Cause)
	case ev.ActivityTimedOutEventDetails != nil:
		return pick(ev.ActivityTimedOutEventDetails.Error, ev.ActivityTimedOutEventDetails.Cause)
	case ev.MapRunFailedEventDetails != nil:
		return pick(ev.MapRunFailedEventDetails.Error, ev.MapRunFailedEventDetails.Cause)
	case ev.EvaluationFailedEventDetails != nil:
		return pick(ev.EvaluationFailedEventDetails.Error, ev.EvaluationFailedEventDetails.Cause)
	case ev.ExecutionFailedEventDetails != nil:
		return pick(ev.ExecutionFailedEventDetails.Error, ev.ExecutionFailedEventDetails.Cause)
	case ev.ExecutionTimedOutEventDetails != nil:
		return pick(ev.ExecutionTimedOutEventDetails.Error, ev.ExecutionTimedOutEventDetails.Cause)
	case ev.ExecutionAbortedEventDetails != nil:
		return pick(ev.ExecutionAbortedEventDetails.Error, ev.ExecutionAbortedEventDetails.Cause)
	}
	switch ev.Type {
	case types.HistoryEventTypeExecutionAborted, types.HistoryEventTypeExecutionFailed,
		types.HistoryEventTypeExecutionTimedOut, types.HistoryEventTypeParallelStateFailed,
		types.HistoryEventTypeMapStateFailed, types.HistoryEventTypeTaskFailed,
		types.HistoryEventTypeLambdaFunctionFailed:
		return "", "", true
	}
	return "", "", false
}

// OutputOf returns the JSON output an event carries ("" when it has none or
// the history was read without execution data).
func OutputOf(ev types.HistoryEvent) string {
	switch {
	case ev.StateExitedEventDetails != nil:
		return aws.ToString(ev.StateExitedEventDetails.Output)
	case ev.TaskSucceededEventDetails != nil:
		return aws.ToString(ev.TaskSucceededEventDetails.Output)
	case ev.LambdaFunctionSucceededEventDetails != nil:
		return aws.ToString(ev.LambdaFunctionSucceededEventDetails.Output)
	case ev.ActivitySucceededEventDetails != nil:
		return aws.ToString(ev.ActivitySucceededEventDetails.Output)
	case ev.ExecutionSucceededEventDetails != nil:
		return aws.ToString(ev.ExecutionSucceededEventDetails.Output)
	}
	return ""
}

// InputOf returns the JSON input an event carries: a state's input on its
// Entered event, the execution's on ExecutionStarted, a task's parameters on
// its Scheduled event.
func InputOf(ev types.HistoryEvent) string {
	switch {
	case ev.StateEnteredEventDetails != nil:
		return aws.ToString(ev.StateEnteredEventDetails.Input)
	case ev.ExecutionStartedEventDetails != nil:
		return aws.ToString(ev.ExecutionStartedEventDetails.Input)
	case ev.TaskScheduledEventDetails != nil:
		return aws.ToString(ev.TaskScheduledEventDetails.Parameters)
	case ev.LambdaFunctionScheduledEventDetails != nil:
		return aws.ToString(ev.LambdaFunctionScheduledEventDetails.Input)
	case ev.ActivityScheduledEventDetails != nil:
		return aws.ToString(ev.ActivityScheduledEventDetails.Input)
	}
	return ""
}

// EnteredName is the state name of a *StateEntered event, else "".
func EnteredName(ev types.HistoryEvent) string {
	if ev.StateEnteredEventDetails != nil && strings.HasSuffix(string(ev.Type), "StateEntered") {
		return aws.ToString(ev.StateEnteredEventDetails.Name)
	}
	return ""
}

// ExitedName is the state name of a *StateExited event, else "".
func ExitedName(ev types.HistoryEvent) string {
	if ev.StateExitedEventDetails != nil && strings.HasSuffix(string(ev.Type), "StateExited") {
		return aws.ToString(ev.StateExitedEventDetails.Name)
	}
	return ""
}

// IsTerminal reports whether an event ends the execution.
func IsTerminal(t types.HistoryEventType) bool {
	switch t {
	case types.HistoryEventTypeExecutionSucceeded, types.HistoryEventTypeExecutionFailed,
		types.HistoryEventTypeExecutionTimedOut, types.HistoryEventTypeExecutionAborted:
		return true
	}
	return false
}

// isAttemptStart: a new try of a state's work begins (a retry emits another).
func isAttemptStart(t types.HistoryEventType) bool {
	switch t {
	case types.HistoryEventTypeTaskScheduled, types.HistoryEventTypeLambdaFunctionScheduled,
		types.HistoryEventTypeActivityScheduled, types.HistoryEventTypeParallelStateStarted,
		types.HistoryEventTypeMapStateStarted:
		return true
	}
	return false
}

func isAttemptSuccess(t types.HistoryEventType) bool {
	switch t {
	case types.HistoryEventTypeTaskSucceeded, types.HistoryEventTypeLambdaFunctionSucceeded,
		types.HistoryEventTypeActivitySucceeded, types.HistoryEventTypeParallelStateSucceeded,
		types.HistoryEventTypeMapStateSucceeded:
		return true
	}
	return false
}

// isContainerEvent: Parallel/Map bookkeeping whose previousEventId points into
// a branch, so its state is the container, not the branch's last state.
func isContainerEvent(t types.HistoryEventType) bool {
	switch t {
	case types.HistoryEventTypeParallelStateSucceeded, types.HistoryEventTypeParallelStateFailed,
		types.HistoryEventTypeParallelStateAborted, types.HistoryEventTypeMapStateSucceeded,
		types.HistoryEventTypeMapStateFailed, types.HistoryEventTypeMapStateAborted,
		types.HistoryEventTypeParallelStateStarted, types.HistoryEventTypeMapStateStarted:
		return true
	}
	return false
}
