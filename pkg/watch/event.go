package watch

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// Kind says what happened to a step or to the execution.
type Kind string

// The event kinds, in the order a step usually goes through them. Their
// string values are part of `--output json`.
const (
	ExecutionStarted Kind = "execution_started"
	StepEntered      Kind = "step_entered"
	AttemptStarted   Kind = "attempt_started"   // the first try of a task (Scheduled)
	RetryScheduled   Kind = "retry_scheduled"   // a further try after a failed one
	AttemptFailed    Kind = "attempt_failed"    // one try failed; a retry or a catch may follow
	AttemptSucceeded Kind = "attempt_succeeded" // one try succeeded (carries the task's output)
	StepSucceeded    Kind = "step_succeeded"    // the state exited normally
	StepFailed       Kind = "step_failed"       // the state failed: caught (it exits) or the execution ends
	ExecutionEnded   Kind = "execution_ended"
)

// Event is one change a view shows, derived from one history event.
type Event struct {
	Kind Kind
	// ID and Type are the history event's id and raw type (e.g. TaskFailed).
	ID   int64
	Type string
	Time time.Time
	// State is the state the event is about; Step is the top-level state
	// that owns it (they differ inside a Parallel or Map).
	State string
	Step  string
	// Attempt counts tries of the state's work in this visit, from 1.
	Attempt int
	Error   string
	Cause   string
	// Status is set on ExecutionEnded: SUCCEEDED, FAILED, TIMED_OUT, ABORTED.
	Status string
	// Input and Output are JSON text, present when the history carries
	// execution data.
	Input  string
	Output string
}

// Translator turns history events, given in id order, into Events. It keeps
// what it needs to attribute task events (which carry no state name) to
// their state: each event belongs to the state of its previousEventId.
type Translator struct {
	graph    *Graph
	stateOf  map[int64]string
	attempts map[string]int
	failure  map[string]*Event // the last failed try of a state in this visit
}

// NewTranslator returns a Translator for a state machine's graph (nil is
// allowed: steps are then the states themselves).
func NewTranslator(g *Graph) *Translator {
	return &Translator{graph: g, stateOf: map[int64]string{}, attempts: map[string]int{}, failure: map[string]*Event{}}
}

func (t *Translator) step(state string) string {
	if o := t.graph.Owner(state); o != "" {
		return o
	}
	return state
}

// Translate returns the Events one history event gives (often none).
func (t *Translator) Translate(h types.HistoryEvent) []Event {
	ev := Event{ID: h.Id, Type: string(h.Type), Time: aws.ToTime(h.Timestamp)}
	prevState := t.stateOf[h.PreviousEventId]
	state := prevState
	switch {
	case EnteredName(h) != "":
		state = EnteredName(h)
	case ExitedName(h) != "":
		state = ExitedName(h)
	case isContainerEvent(h.Type):
		state = t.step(prevState)
	case h.MapIterationStartedEventDetails != nil:
		state = aws.ToString(h.MapIterationStartedEventDetails.Name)
	}
	t.stateOf[h.Id] = state
	ev.State, ev.Step = state, t.step(state)
	one := func(k Kind) []Event { ev.Kind = k; return []Event{ev} }

	switch {
	case h.Type == types.HistoryEventTypeExecutionStarted:
		ev.Input = InputOf(h)
		ev.State, ev.Step = "", ""
		return one(ExecutionStarted)
	case EnteredName(h) != "":
		t.attempts[state] = 0
		delete(t.failure, state)
		ev.Input = InputOf(h)
		return one(StepEntered)
	case isAttemptStart(h.Type):
		t.attempts[state]++
		delete(t.failure, state)
		ev.Attempt = t.attempts[state]
		ev.Input = InputOf(h)
		if ev.Attempt > 1 {
			return one(RetryScheduled)
		}
		return one(AttemptStarted)
	case isAttemptSuccess(h.Type):
		delete(t.failure, state)
		ev.Attempt = t.attempts[state]
		ev.Output = OutputOf(h)
		return one(AttemptSucceeded)
	case ExitedName(h) != "":
		ev.Output = OutputOf(h)
		ev.Attempt = t.attempts[state]
		if f := t.failure[state]; f != nil {
			ev.Error, ev.Cause = f.Error, f.Cause
			return one(StepFailed)
		}
		return one(StepSucceeded)
	case IsTerminal(h.Type):
		return t.terminal(h, ev, prevState)
	}
	if name, cause, ok := ErrorOf(h); ok {
		ev.Error, ev.Cause = name, cause
		ev.Attempt = t.attempts[state]
		f := ev
		t.failure[state] = &f
		return one(AttemptFailed)
	}
	return nil
}

func (t *Translator) terminal(h types.HistoryEvent, ev Event, prevState string) []Event {
	var out []Event
	ev.Status = terminalStatus(h.Type)
	ev.Error, ev.Cause, _ = ErrorOf(h)
	ev.Output = OutputOf(h)
	// An uncaught failure ends the execution straight from the failing
	// state's event: that state failed. (A Fail state ends it this way too.)
	if h.Type != types.HistoryEventTypeExecutionSucceeded && prevState != "" {
		sf := ev
		sf.Kind = StepFailed
		sf.Status = ""
		sf.Output = ""
		sf.Attempt = t.attempts[prevState]
		if f := t.failure[prevState]; f != nil && sf.Error == "" {
			sf.Error, sf.Cause = f.Error, f.Cause
		}
		out = append(out, sf)
	}
	ev.Kind = ExecutionEnded
	ev.State, ev.Step = "", ""
	return append(out, ev)
}

func terminalStatus(t types.HistoryEventType) string {
	switch t {
	case types.HistoryEventTypeExecutionSucceeded:
		return string(types.ExecutionStatusSucceeded)
	case types.HistoryEventTypeExecutionFailed:
		return string(types.ExecutionStatusFailed)
	case types.HistoryEventTypeExecutionTimedOut:
		return string(types.ExecutionStatusTimedOut)
	case types.HistoryEventTypeExecutionAborted:
		return string(types.ExecutionStatusAborted)
	}
	return ""
}
