// Package diagnose finds the root cause of a Step Functions execution that
// failed (or says it has not), from its history, for `odin fail`.
package diagnose

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/watch"
)

// Execution is what DescribeExecution says about the execution being
// explained; the history alone cannot tell RUNNING from a truncated read.
type Execution struct {
	Arn       string
	Name      string
	Status    string // RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED
	Error     string
	Cause     string
	StartDate time.Time
	StopDate  time.Time // zero while running
	// Input is the execution's input; it names the release when the
	// history was read without execution data.
	Input string
}

// Options carry what the caller knows beyond the history.
type Options struct {
	// ReleaseFile is the release file the user named, so the suggested
	// commands can use it ("" when the execution was named instead).
	ReleaseFile string
}

// Verdict says in one word how the execution stands.
type Verdict string

// The verdicts, part of `odin fail --output json`.
const (
	Succeeded Verdict = "succeeded"
	Running   Verdict = "running"
	Failed    Verdict = "failed"
	// TimedOut is a TIMED_OUT execution, or a FAILED one whose deploy
	// missed the release's timeout (its error is TimeoutError).
	TimedOut Verdict = "timed_out"
	Aborted  Verdict = "aborted"
	// Halted is a FAILED execution the deployer rolled back because someone
	// halted it (its error is HaltError).
	Halted Verdict = "halted"
)

// Report is the diagnosis. Its JSON form is `odin fail --output json`; a
// field that does not apply is left out.
type Report struct {
	Execution ExecutionInfo `json:"execution"`
	Verdict   Verdict       `json:"verdict"`
	// Release says which deploy it was, from the execution input.
	Release *Release `json:"release,omitempty"`

	// Failure is the root cause: the first state that failed (its retries
	// exhausted or not retried), with every attempt of that visit.
	Failure *Failure `json:"failure,omitempty"`
	// Path is the states entered from the failing state to the end: the
	// catch path that led to the final state.
	Path []string `json:"path,omitempty"`
	// PathOmitted counts the states left out of Path (a long loop).
	PathOmitted int `json:"path_omitted,omitempty"`
	// LaterFailures are failures after the root cause, typically the
	// cleanup failing too (FailureDirty).
	LaterFailures []LaterFailure `json:"later_failures,omitempty"`
	// FinalState is the last state entered; FinalError the execution's own
	// error, set only when it differs from the root cause's (cleanup failed).
	FinalState string `json:"final_state,omitempty"`
	FinalError string `json:"final_error,omitempty"`

	// Unhealthy lists the instances that were not healthy in the last
	// health report before the failure (the deployer's task output).
	Unhealthy []Instance `json:"unhealthy,omitempty"`
	// Problems are the FILE:LINE:COL lines of an invalid release.
	Problems []string `json:"problems,omitempty"`

	// RunningIn names the states an execution still running is in.
	RunningIn []string `json:"running_in,omitempty"`
	// RetriedFailures counts failed attempts that a retry recovered from.
	RetriedFailures int `json:"retried_failures,omitempty"`
	// Events is how many history events were read.
	Events int `json:"events"`

	// NextSteps are what to do now, most useful first.
	NextSteps []string `json:"next_steps,omitempty"`
}

// ExecutionInfo identifies the execution.
type ExecutionInfo struct {
	Arn      string     `json:"arn"`
	Name     string     `json:"name"`
	Status   string     `json:"status"`
	Started  *time.Time `json:"started,omitempty"`
	Stopped  *time.Time `json:"stopped,omitempty"`
	Duration string     `json:"duration,omitempty"`
}

// Release is the deploy's identity, read from the execution input.
type Release struct {
	ID         string `json:"id,omitempty"`
	Project    string `json:"project,omitempty"`
	Config     string `json:"config,omitempty"`
	DeployedBy string `json:"deployed_by,omitempty"`
	// Target is where the release runs (local, aws); Account its account.
	Target  string `json:"target,omitempty"`
	Account string `json:"account,omitempty"`
}

// Failure is the state that failed first and why.
type Failure struct {
	State string `json:"state"`
	// Step is the top-level state owning State when they differ (inside a
	// Parallel or Map).
	Step string `json:"step,omitempty"`
	Type string `json:"type,omitempty"` // Task, Wait, Fail, ...
	// Visit counts the times the state was entered, this one included (a
	// health-check loop enters CheckHealthy many times).
	Visit   int         `json:"visit,omitempty"`
	Error   string      `json:"error"`
	Cause   watch.Cause `json:"cause"`
	Caught  bool        `json:"caught"`
	Entered *time.Time  `json:"entered,omitempty"`
	// Attempts are the tries of this visit, oldest first; past 20 the
	// latest replaces the last kept one, and AttemptsOmitted counts them.
	Attempts        []Attempt `json:"attempts,omitempty"`
	AttemptsOmitted int       `json:"attempts_omitted,omitempty"`
	// Input is the state's input as JSON; InputTruncated says it was over
	// MaxInput bytes (then Input is a JSON string of the prefix).
	Input          json.RawMessage `json:"input,omitempty"`
	InputTruncated bool            `json:"input_truncated,omitempty"`
}

// Attempt is one try of a state's work: Scheduled, Started, then Failed,
// TimedOut or Succeeded.
type Attempt struct {
	Number    int        `json:"number"`
	Scheduled time.Time  `json:"scheduled"`
	Started   *time.Time `json:"started,omitempty"`
	Ended     *time.Time `json:"ended,omitempty"`
	Duration  string     `json:"duration,omitempty"` // from Started (else Scheduled) to Ended
	Error     string     `json:"error,omitempty"`
	Message   string     `json:"message,omitempty"`
}

// LaterFailure is a failure after the root cause.
type LaterFailure struct {
	State   string `json:"state"`
	Error   string `json:"error"`
	Message string `json:"message,omitempty"`
}

// Instance is one not-healthy instance from the deployer's health report.
type Instance struct {
	Service   string   `json:"service"`
	ID        string   `json:"id"`
	ReleaseID string   `json:"release_id,omitempty"`
	State     string   `json:"state"`
	PID       int      `json:"pid,omitempty"`
	Port      int      `json:"port,omitempty"`
	Reason    string   `json:"reason,omitempty"`
	LogTail   []string `json:"log_tail,omitempty"`
}

// Limits that keep a report readable and its cost flat however long the
// history is.
const (
	// MaxInput is the most of the failing state's input a report keeps.
	MaxInput = 64 << 10
	// maxPath is the most states Path lists; a loop after the failure is
	// summarised by PathOmitted.
	maxPath = 50
	// maxLater is the most later failures kept.
	maxLater = 20
	// maxAttempts is the most attempts kept per visit (a Retry may allow
	// 99); the first ones and the last one are what a reader needs.
	maxAttempts = 20
)

// Explain diagnoses an execution from its whole history, oldest event
// first. definition may be nil (states are then taken as top-level).
func Explain(exec Execution, definition []byte, events []types.HistoryEvent, opts Options) (*Report, error) {
	x, err := NewExplainer(definition)
	if err != nil {
		return nil, err
	}
	for _, ev := range events {
		x.Add(ev)
	}
	return x.Report(exec, opts), nil
}

// Explainer diagnoses a history read a page at a time: Add each event in
// id order, then ask for the Report. It keeps only what the report needs
// (the open visit of each state, the root failure, the path after it), so
// a 25,000-event history need not be held in memory.
type Explainer struct {
	tr     *watch.Translator
	events int
	lastID int64

	release *Release
	visits  map[string]int    // times each state was entered
	open    map[string]*visit // the current visit of each state
	// closed is the last finished visit of each state: an execution cut
	// off between two states (the history cap, an abort) failed in it.
	closed map[string]*visit
	lastIn string // the last state entered
	// health is the last task output that carried a health report, up to
	// the root failure; healthID is the event it came from.
	health   string
	healthID int64

	first, last time.Time // of the events seen
	finalStatus string    // from the history's terminal event

	root     *Failure
	rootID   int64  // the event that failed the root state
	rootVis  *visit // the root state's visit
	path     []string
	omitted  int
	later    []LaterFailure
	retried  int
	final    string
	finalErr string
}

// visit is one entry into a state, kept until it ends.
type visit struct {
	name, typ string
	n         int
	enteredID int64
	entered   time.Time
	input     string
	attempts  []Attempt
	dropped   int // attempts beyond maxAttempts
	// scheduledID is the newest attempt's Scheduled event, which its
	// Started event points to.
	scheduledID int64
	lastErr     string
	lastCause   string
}

// NewExplainer returns an Explainer for a state machine definition (nil is
// allowed).
func NewExplainer(definition []byte) (*Explainer, error) {
	var g *watch.Graph
	if len(definition) > 0 {
		var err error
		if g, err = watch.ParseDefinition(definition); err != nil {
			return nil, err
		}
	}
	return &Explainer{tr: watch.NewTranslator(g), visits: map[string]int{}, open: map[string]*visit{}, closed: map[string]*visit{}}, nil
}

// Add takes the next history event. Events at or below the last id seen
// are ignored, so overlapping pages do no harm.
func (x *Explainer) Add(h types.HistoryEvent) {
	if h.Id <= x.lastID {
		return
	}
	x.lastID = h.Id
	x.events++
	if t := timeOf(h); !t.IsZero() {
		if x.first.IsZero() {
			x.first = t
		}
		x.last = t
	}
	if h.Type == types.HistoryEventTypeExecutionStarted {
		x.release = releaseOf(watch.InputOf(h))
	}
	x.started(h)
	for _, ev := range x.tr.Translate(h) {
		x.apply(ev)
	}
}

// started notes a task's Started event on its attempt (the Translator
// gives no event for it).
func (x *Explainer) started(h types.HistoryEvent) {
	switch h.Type {
	case types.HistoryEventTypeTaskStarted, types.HistoryEventTypeLambdaFunctionStarted, types.HistoryEventTypeActivityStarted:
	default:
		return
	}
	for _, v := range x.open {
		if v.scheduledID == h.PreviousEventId {
			if a := v.current(); a != nil {
				t := timeOf(h)
				a.Started = &t
			}
			return
		}
	}
}

func (x *Explainer) apply(ev watch.Event) {
	switch ev.Kind {
	case watch.StepEntered:
		x.visits[ev.State]++
		x.lastIn = ev.State
		v := &visit{name: ev.State, typ: stateType(ev.Type), n: x.visits[ev.State], enteredID: ev.ID, entered: ev.Time}
		if x.root == nil {
			v.input = ev.Input
		} else {
			x.addPath(ev.State)
		}
		x.open[ev.State] = v
	case watch.AttemptStarted, watch.RetryScheduled:
		v := x.visit(ev)
		a := Attempt{Number: ev.Attempt, Scheduled: ev.Time}
		if len(v.attempts) < maxAttempts {
			v.attempts = append(v.attempts, a)
		} else {
			// Keep the first tries and the latest one.
			v.attempts[maxAttempts-1] = a
			v.dropped++
		}
		v.scheduledID = ev.ID
	case watch.AttemptFailed:
		v := x.visit(ev)
		v.lastErr, v.lastCause = ev.Error, ev.Cause
		if a := v.current(); a != nil && a.Ended == nil {
			end(a, ev.Time)
			a.Error, a.Message = ev.Error, watch.UnwrapCause(ev.Cause).Summary()
		}
	case watch.AttemptSucceeded:
		v := x.visit(ev)
		if a := v.current(); a != nil && a.Ended == nil {
			end(a, ev.Time)
		}
		if v.lastErr != "" {
			x.retried++
			v.lastErr, v.lastCause = "", ""
		}
		if x.root == nil && strings.Contains(ev.Output, `"health"`) {
			x.health, x.healthID = ev.Output, ev.ID
		}
	case watch.StepSucceeded:
		x.close(ev.State)
	case watch.StepFailed:
		x.failed(ev)
		x.close(ev.State)
	case watch.ExecutionEnded:
		x.final = x.lastIn
		x.finalErr = ev.Error
		x.finalStatus = ev.Status
	}
}

// failed records a state that failed: the first one is the root cause.
func (x *Explainer) failed(ev watch.Event) {
	v := x.visit(ev)
	name, cause := ev.Error, ev.Cause
	if name == "" && cause == "" {
		name, cause = v.lastErr, v.lastCause
	}
	if x.root != nil {
		// A Fail state only passes on the error it was given; the final
		// error is reported on its own.
		if len(x.later) < maxLater && v.typ != "Fail" {
			x.later = append(x.later, LaterFailure{State: ev.State, Error: name, Message: watch.UnwrapCause(cause).Summary()})
		}
		return
	}
	entered := v.entered
	f := &Failure{
		State: ev.State, Type: v.typ, Visit: v.n, Error: name, Cause: watch.UnwrapCause(cause),
		Caught: strings.HasSuffix(ev.Type, "StateExited"), Entered: &entered,
		Attempts: v.attempts, AttemptsOmitted: v.dropped,
	}
	if ev.Step != ev.State {
		f.Step = ev.Step
	}
	f.Input, f.InputTruncated = clipInput(v.input)
	x.root, x.rootID, x.rootVis = f, ev.ID, v
	x.addPath(ev.State)
	// Nothing entered before the failure is needed any more.
	for _, o := range x.open {
		o.input = ""
	}
	for _, o := range x.closed {
		o.input = ""
	}
}

func (x *Explainer) addPath(state string) {
	if len(x.path) > 0 && x.path[len(x.path)-1] == state {
		return
	}
	if len(x.path) >= maxPath {
		// Keep the head and the final state: the end is what matters.
		x.path[maxPath-1] = state
		x.omitted++
		return
	}
	x.path = append(x.path, state)
}

func (x *Explainer) close(state string) {
	if v := x.open[state]; v != nil {
		x.closed[state] = v
		delete(x.open, state)
	}
}

// visit returns the open visit of an event's state, else (for a failure
// reported after the state was left) its last visit, else a new one for
// events whose Entered event was not seen (a history read from the middle).
func (x *Explainer) visit(ev watch.Event) *visit {
	if v := x.open[ev.State]; v != nil {
		return v
	}
	if v := x.closed[ev.State]; v != nil && ev.Kind == watch.StepFailed {
		return v
	}
	x.visits[ev.State]++
	v := &visit{name: ev.State, n: x.visits[ev.State], entered: ev.Time}
	x.open[ev.State] = v
	return v
}

func (v *visit) current() *Attempt {
	if len(v.attempts) == 0 {
		return nil
	}
	return &v.attempts[len(v.attempts)-1]
}

func end(a *Attempt, t time.Time) {
	a.Ended = &t
	from := a.Scheduled
	if a.Started != nil {
		from = *a.Started
	}
	a.Duration = t.Sub(from).Round(time.Millisecond).String()
}

func timeOf(h types.HistoryEvent) time.Time {
	if h.Timestamp == nil {
		return time.Time{}
	}
	return h.Timestamp.UTC()
}

// stateType reads the state type from an Entered event's type name.
func stateType(eventType string) string {
	if t, ok := strings.CutSuffix(eventType, "StateEntered"); ok {
		return t
	}
	return ""
}

func releaseOf(input string) *Release {
	var in contract.Input
	if json.Unmarshal([]byte(input), &in) != nil || (in.ProjectName == "" && in.ReleaseID == "") {
		return nil
	}
	return &Release{ID: in.ReleaseID, Project: in.ProjectName, Config: in.ConfigName, DeployedBy: in.DeployedBy, Target: in.Target, Account: in.AWSAccountID}
}

// clipInput keeps a state's input whole when it is small, else a prefix as
// a JSON string.
func clipInput(in string) (json.RawMessage, bool) {
	if in == "" {
		return nil, false
	}
	if len(in) <= MaxInput && json.Valid([]byte(in)) {
		return json.RawMessage(in), false
	}
	cut := in
	if len(cut) > MaxInput {
		cut = strings.ToValidUTF8(cut[:MaxInput], "")
	}
	b, _ := json.Marshal(cut)
	return b, len(in) > MaxInput
}

// A history can be read in two passes to save time and memory when it is
// long: every page without execution data (inputs and outputs are most of
// its bytes) through Add, then, newest first and with data, only the
// events the report shows data from, through AddData, while DataWanted.

// DataWanted reports whether events older than oldest (read newest first
// with data) may still hold data the report shows: the failing state's
// input, or the last health report before the failure, looked for at most
// healthWindow events further back.
func (x *Explainer) DataWanted(oldest int64) bool {
	v, before := x.failingVisit()
	if v == nil {
		return false
	}
	if v.input == "" && v.enteredID > 0 && oldest > v.enteredID {
		return true
	}
	return x.health == "" && oldest > 1 && oldest > min(v.enteredID, before)-healthWindow
}

// healthWindow is how far before the failing state a health report is
// looked for in the second pass: a deployer reports health every few
// events, so a report further back would be stale anyway.
const healthWindow = 1000

// AddData takes an event read again with execution data after Add saw it
// without: the failing state's input and the last health report before
// the failure are filled in from it. Other events are ignored.
func (x *Explainer) AddData(h types.HistoryEvent) {
	v, before := x.failingVisit()
	if v == nil {
		return
	}
	if h.Id == v.enteredID && v.input == "" {
		v.input = watch.InputOf(h)
		if x.root != nil && x.rootVis == v {
			x.root.Input, x.root.InputTruncated = clipInput(v.input)
		}
	}
	if h.Id < before && h.Id > x.healthID && isTaskSuccess(h.Type) {
		if out := watch.OutputOf(h); strings.Contains(out, `"health"`) {
			x.health, x.healthID = out, h.Id
		}
	}
}

// failingVisit is the visit a report explains (the root failure's, else
// the last state's) and the event id health must come before.
func (x *Explainer) failingVisit() (*visit, int64) {
	if x.root != nil {
		return x.rootVis, x.rootID
	}
	if v := x.open[x.lastIn]; v != nil {
		return v, x.lastID + 1
	}
	return x.closed[x.lastIn], x.lastID + 1
}

func isTaskSuccess(t types.HistoryEventType) bool {
	switch t {
	case types.HistoryEventTypeTaskSucceeded, types.HistoryEventTypeLambdaFunctionSucceeded, types.HistoryEventTypeActivitySucceeded:
		return true
	}
	return false
}
