// Package progress holds the state of a deploy's live view: it folds watch
// events into the step table a renderer draws, and does no I/O.
package progress

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/watch"
)

// historyWarnAt is when to warn about the 25,000-event cap (stepfunctions.md §3.2).
const historyWarnAt = 24000

// Header says what is being deployed where; the command fills it.
type Header struct {
	Project   string `json:"project,omitempty"`
	Config    string `json:"config,omitempty"`
	Release   string `json:"release,omitempty"`
	Backend   string `json:"backend,omitempty"`
	Account   string `json:"account,omitempty"`
	Region    string `json:"region,omitempty"`
	Execution string `json:"execution,omitempty"`
	// NotDeployed is the release odin deploy --attach did not deploy
	// because it watches this execution, another release's, instead. Its
	// verdict is then a failure (exit 1) whatever this execution's outcome.
	NotDeployed string `json:"not_deployed,omitempty"`
}

// Status is a step's state in the view.
type Status string

// Step statuses.
const (
	Pending   Status = "pending"
	Running   Status = "running"
	Retrying  Status = "retrying" // an attempt failed; the state machine will try again
	Succeeded Status = "succeeded"
	Failed    Status = "failed"
	Stopped   Status = "stopped" // running when the execution was aborted or timed out
	Skipped   Status = "skipped" // never reached by an execution that has ended
)

// Row is one top-level step.
type Row struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Status  Status `json:"status"`
	Attempt int    `json:"attempt,omitempty"` // the try in progress or last made, from 1
	Visits  int    `json:"visits,omitempty"`  // a loop enters a state more than once
	// Finished counts visits that ended (succeeded or failed).
	Finished int `json:"-"`
	// Spent is the time spent in the step over finished visits; the current
	// visit began at Entered. Last is what the last finished visit took, for
	// a line about that visit (in a loop, Spent grows with every visit).
	Spent   time.Duration `json:"-"`
	Last    time.Duration `json:"-"`
	Entered time.Time     `json:"-"`
	// Error and Cause are the failure shown under the step (the last failed
	// attempt, or the step's failure).
	Error string `json:"error,omitempty"`
	Cause string `json:"cause,omitempty"`
	// Result is what a check found, in place of "succeeded": a check is a
	// task whose output carries a health report and whose next state is a
	// Choice that reads it ("web 0/2 healthy").
	Result string `json:"result,omitempty"`
	// OffPath says the step is off the happy path (a failure path's): a
	// view shows it only once it is entered.
	OffPath bool `json:"-"`

	check bool
}

// Shown says whether a view lists the row: a step off the happy path
// only once the execution entered it.
func (r Row) Shown() bool { return !r.OffPath || r.Visits > 0 }

// Duration is the time spent in the step over all its visits, counting a
// running visit up to now.
func (r Row) Duration(now time.Time) time.Duration {
	d := r.Spent
	if (r.Status == Running || r.Status == Retrying) && !r.Entered.IsZero() && now.After(r.Entered) {
		d += now.Sub(r.Entered)
	}
	return d
}

// Health is the release's health from the latest task output that had one.
// Model.Health changes (to a new value) only when a report differs from the
// last one.
type Health struct {
	Healthy  bool      `json:"healthy"`
	Services []Service `json:"services"`
	Step     string    `json:"step"` // the step whose output it came from
	At       time.Time `json:"at"`
}

// Service is one service's instance counts.
type Service struct {
	Name        string     `json:"name"`
	Desired     int        `json:"desired"`
	Healthy     int        `json:"healthy"`
	Launching   int        `json:"launching"`
	Unhealthy   int        `json:"unhealthy"`
	Terminating int        `json:"terminating"`
	Instances   []Instance `json:"instances,omitempty"`
}

// Instance is one copy of a service.
type Instance struct {
	ID        string   `json:"id"`
	ReleaseID string   `json:"release_id,omitempty"`
	State     string   `json:"state"`
	PID       int      `json:"pid,omitempty"`
	Port      int      `json:"port,omitempty"`
	Reason    string   `json:"reason,omitempty"`
	LogTail   []string `json:"log_tail,omitempty"`
}

// Failure is where and why the execution first went wrong.
type Failure struct {
	Step  string `json:"step"`
	Error string `json:"error"`
	Cause string `json:"cause,omitempty"`
}

// Model is the whole view state. Renderers read its fields; only Apply
// changes them.
type Model struct {
	Header  Header
	Rows    []Row
	Started time.Time
	Ended   time.Time
	// Status is "" while running, else the execution's final status.
	Status string
	Error  string
	Cause  string
	Output string
	Health *Health
	// FirstFailure is the first step that failed (not counting Fail states,
	// which only report it), nil while nothing failed.
	FirstFailure *Failure
	LastEventID  int64
	// HistoryWarning is set once the history nears Step Functions' hard cap
	// of 25,000 events, at which the execution fails.
	HistoryWarning string
	// Warning is the latest transient problem the watch is riding out
	// (throttling, network), cleared by the next event.
	Warning string
	// Usual is how long earlier deploys of the project and config took,
	// nil when none is known: the estimate of this one.
	Usual *Usual

	index map[string]int
	// happy is how many leading Rows are the happy path (watch.Graph.HappyPath).
	happy int
}

// New builds the view of an execution of definition (its steps come from
// the definition, so steps not reached yet are shown).
func New(definition []byte, h Header) (*Model, error) {
	g, err := watch.ParseDefinition(definition)
	if err != nil {
		return nil, err
	}
	return FromGraph(g, h), nil
}

// FromGraph builds the view from an already parsed definition.
func FromGraph(g *watch.Graph, h Header) *Model {
	m := &Model{Header: h, index: map[string]int{}, happy: g.HappyPath}
	types := map[string]string{}
	for _, s := range g.Steps {
		types[s.Name] = s.Type
	}
	for i, s := range g.Steps {
		m.Rows = append(m.Rows, Row{Name: s.Name, Type: s.Type, Status: Pending, OffPath: g.HappyPath > 0 && i >= g.HappyPath,
			check: s.Type == "Task" && types[s.Next] == "Choice"})
		m.index[s.Name] = i
	}
	return m
}

func (m *Model) row(name string) *Row {
	i, ok := m.index[name]
	if !ok {
		// A state the definition did not list (a definition changed under
		// us): show it rather than drop it.
		m.Rows = append(m.Rows, Row{Name: name, Status: Pending})
		i = len(m.Rows) - 1
		m.index[name] = i
	}
	return &m.Rows[i]
}

// Apply folds one event into the view and reports whether anything a
// renderer shows changed.
func (m *Model) Apply(ev watch.Event) bool {
	if ev.ID > m.LastEventID {
		m.LastEventID = ev.ID
		if ev.ID >= historyWarnAt && m.HistoryWarning == "" {
			m.HistoryWarning = fmt.Sprintf("the execution's history has %d events; Step Functions fails an execution at 25,000", ev.ID)
		}
	}
	m.Warning = ""
	nested := ev.State != ev.Step
	switch ev.Kind {
	case watch.ExecutionStarted:
		m.Started = ev.Time
		return true
	case watch.ExecutionEnded:
		return m.end(ev)
	}
	if ev.Step == "" {
		return false
	}
	r := m.row(ev.Step)
	if nested {
		// Inside a Parallel or Map: the row is the container; its own
		// events say when it starts and ends.
		return false
	}
	switch ev.Kind {
	case watch.StepEntered:
		r.Status, r.Entered, r.Attempt = Running, ev.Time, 0
		r.Visits++
		r.Error, r.Cause = "", ""
	case watch.AttemptStarted, watch.RetryScheduled:
		r.Status, r.Attempt = Running, ev.Attempt
	case watch.AttemptFailed:
		r.Status, r.Error, r.Cause = Retrying, ev.Error, ev.Cause
	case watch.AttemptSucceeded:
		r.Error, r.Cause = "", ""
		m.health(ev)
	case watch.StepSucceeded:
		m.leave(r, ev.Time)
		r.Status, r.Error, r.Cause = Succeeded, "", ""
		if r.Type == "Task" {
			// Other states pass the last health report along; it belongs
			// to the task that made it.
			m.health(ev)
			if r.check {
				r.Result = reportOf(ev.Output).Counts()
			}
		}
	case watch.StepFailed:
		m.leave(r, ev.Time)
		r.Status, r.Error, r.Cause = Failed, ev.Error, ev.Cause
		if m.FirstFailure == nil && r.Type != "Fail" {
			m.FirstFailure = &Failure{Step: r.Name, Error: ev.Error, Cause: ev.Cause}
		}
	default:
		return false
	}
	return true
}

func (m *Model) leave(r *Row, at time.Time) {
	r.Finished++
	r.Last = 0
	if !r.Entered.IsZero() && at.After(r.Entered) {
		r.Last = at.Sub(r.Entered)
		r.Spent += r.Last
	}
	r.Entered = time.Time{}
}

func (m *Model) end(ev watch.Event) bool {
	m.Status, m.Ended = ev.Status, ev.Time
	m.Error, m.Cause = ev.Error, ev.Cause
	if ev.Output != "" {
		m.Output = ev.Output
	}
	for i := range m.Rows {
		r := &m.Rows[i]
		switch r.Status {
		case Running, Retrying:
			m.leave(r, ev.Time)
			r.Status = Stopped
		case Pending:
			r.Status = Skipped
		}
	}
	if m.FirstFailure == nil && ev.Status != "SUCCEEDED" && ev.Error != "" {
		m.FirstFailure = &Failure{Error: ev.Error, Cause: ev.Cause}
	}
	return true
}

// reportOf reads a task's output for the deployer's `health` field; nil
// when it has none.
func reportOf(output string) *Health {
	if output == "" {
		return nil
	}
	var out contract.TaskOutput
	if json.Unmarshal([]byte(output), &out) != nil || out.Health == nil {
		return nil
	}
	h := &Health{Healthy: out.Health.Healthy}
	for name, s := range out.Health.Services {
		if s == nil {
			continue
		}
		h.Services = append(h.Services, Service{Name: name, Desired: s.Desired, Healthy: s.Healthy, Launching: s.Launching,
			Unhealthy: s.Unhealthy, Terminating: s.Terminating, Instances: instances(s.Instances)})
	}
	sort.Slice(h.Services, func(i, j int) bool { return h.Services[i].Name < h.Services[j].Name })
	return h
}

// Counts is the report in short: "web 0/2 healthy, api 1/1 healthy"; ""
// without a report.
func (h *Health) Counts() string {
	if h == nil {
		return ""
	}
	var parts []string
	for _, s := range h.Services {
		parts = append(parts, fmt.Sprintf("%s %d/%d healthy", s.Name, s.Healthy, s.Desired))
	}
	return strings.Join(parts, ", ")
}

// health keeps a task's health report as the release's latest.
func (m *Model) health(ev watch.Event) bool {
	h := reportOf(ev.Output)
	if h == nil {
		return false
	}
	h.Step, h.At = ev.Step, ev.Time
	if m.Health != nil && m.Health.Healthy == h.Healthy && reflect.DeepEqual(m.Health.Services, h.Services) {
		// The same report again: a task's exit repeats its attempt's
		// output, and later tasks pass the report along. It still came
		// from the step (and the time) that first carried it.
		return false
	}
	m.Health = h
	return true
}

func instances(in []contract.Instance) []Instance {
	var out []Instance
	for _, i := range in {
		out = append(out, Instance{ID: i.ID, ReleaseID: i.ReleaseID, State: i.State, PID: i.PID, Port: i.Port, Reason: i.Reason, LogTail: i.LogTail})
	}
	return out
}

// SetWarning records a transient problem to show until the next event.
func (m *Model) SetWarning(msg string) { m.Warning = msg }

// Done reports whether the execution has ended.
func (m *Model) Done() bool { return m.Status != "" }

// Elapsed is the execution's run time so far (or in all, once ended).
func (m *Model) Elapsed(now time.Time) time.Duration {
	if m.Started.IsZero() {
		return 0
	}
	end := now
	if !m.Ended.IsZero() {
		end = m.Ended
	}
	if end.Before(m.Started) {
		return 0
	}
	return end.Sub(m.Started)
}

// StepCount is how far an execution got, as a header shows it.
type StepCount struct {
	// Done counts the happy path's steps (StartAt to success) that ended
	// at least once (succeeded, failed or stopped), so a loop never makes
	// it go back; Total is the happy path's length, which nothing that
	// happens later changes.
	Done, Total int
	// OffPath is set once the execution entered a step off the happy path:
	// for the deployer, its rollback. Rollback counts those steps finished.
	OffPath  bool
	Rollback int
}

// String is "8/11", or "8/11, rollback 2" once off the happy path.
func (c StepCount) String() string {
	s := fmt.Sprintf("%d/%d", c.Done, c.Total)
	if c.OffPath {
		s += fmt.Sprintf(", rollback %d", c.Rollback)
	}
	return s
}

// Steps counts the happy path's steps done and, once the execution left it,
// the rollback's steps apart: the total never jumps when something fails.
// A definition with no happy path (no Succeed or End reached) counts every
// step the execution can still reach.
func (m *Model) Steps() StepCount {
	var c StepCount
	for i, r := range m.Rows {
		finished := r.Finished > 0
		switch {
		case m.happy == 0:
			if r.Status != Skipped {
				c.Total++
			}
			if finished {
				c.Done++
			}
		case i < m.happy:
			c.Total++
			if finished {
				c.Done++
			}
		case r.Visits > 0:
			c.OffPath = true
			if finished {
				c.Rollback++
			}
		}
	}
	return c
}

// Current is the step running now ("" when none).
func (m *Model) Current() *Row {
	for i := range m.Rows {
		if s := m.Rows[i].Status; s == Running || s == Retrying {
			return &m.Rows[i]
		}
	}
	return nil
}

func (m *Model) firstError() string {
	if m.FirstFailure == nil {
		return ""
	}
	return m.FirstFailure.Error
}

// Verdict is the one-line outcome and the process exit code it maps to.
type Verdict struct {
	Status string `json:"status"` // SUCCEEDED, FAILED, TIMED_OUT, ABORTED, HALTED, RUNNING, NOT_DEPLOYED
	Code   int    `json:"exit_code"`
	Text   string `json:"text"`
	// Explain is the command that explains a failure (odin fail EXECUTION),
	// also the end of Text.
	Explain string `json:"explain,omitempty"`
}

// Verdict says how the execution ended, or that it is still running.
func (m *Model) Verdict(now time.Time) Verdict {
	v := m.verdict(now)
	if m.Header.NotDeployed != "" && v.Code != exitcode.Running {
		// The watched deploy's own outcome stays in the text.
		v.Status, v.Code = "NOT_DEPLOYED", exitcode.Failed
		v.Text += fmt.Sprintf("; release %s was not deployed (odin watched this deploy instead)", m.Header.NotDeployed)
		return v
	}
	if v.Code != exitcode.OK && v.Code != exitcode.Running && m.Header.Execution != "" {
		v.Explain = "odin fail " + m.Header.Execution
		v.Text += "; see why with: " + v.Explain
	}
	return v
}

func (m *Model) verdict(now time.Time) Verdict {
	what := "deploy"
	if m.Header.Project != "" {
		what = fmt.Sprintf("deploy of %s/%s", m.Header.Project, m.Header.Config)
		if m.Header.Release != "" {
			what += " release " + m.Header.Release
		}
	}
	took := FormatDuration(m.Elapsed(now))
	failure := func() string {
		f := m.FirstFailure
		if f == nil {
			return ""
		}
		s := ""
		if f.Step != "" {
			s = " at " + f.Step
		}
		if f.Error != "" {
			s += ": " + f.Error
		}
		if msg := watch.UnwrapCause(f.Cause).Summary(); msg != "" {
			s += ": " + msg
		}
		return s
	}
	switch m.Status {
	case "SUCCEEDED":
		return Verdict{Status: "SUCCEEDED", Code: exitcode.OK, Text: fmt.Sprintf("%s succeeded in %s", what, took)}
	case "FAILED":
		// The deployer ends a halted or timed-out deploy itself, after its
		// rollback, so Step Functions reports FAILED: the first failure's
		// error name says which.
		switch m.firstError() {
		case contract.HaltError:
			return Verdict{Status: "HALTED", Code: exitcode.Aborted, Text: fmt.Sprintf("%s was halted after %s%s", what, took, failure())}
		case contract.TimeoutError:
			return Verdict{Status: "TIMED_OUT", Code: exitcode.TimedOut, Text: fmt.Sprintf("%s timed out after %s%s", what, took, failure())}
		}
		return Verdict{Status: "FAILED", Code: exitcode.Failed, Text: fmt.Sprintf("%s failed after %s%s", what, took, failure())}
	case "TIMED_OUT":
		return Verdict{Status: "TIMED_OUT", Code: exitcode.TimedOut, Text: fmt.Sprintf("%s timed out after %s%s", what, took, failure())}
	case "ABORTED":
		return Verdict{Status: "ABORTED", Code: exitcode.Aborted, Text: fmt.Sprintf("%s was aborted after %s%s", what, took, failure())}
	}
	at := ""
	if r := m.Current(); r != nil {
		at = " (at " + r.Name + ")"
	}
	return Verdict{Status: "RUNNING", Code: exitcode.Running, Text: fmt.Sprintf("%s is still running after %s%s", what, took, at)}
}

// FormatDuration is a short human duration: 850ms, 12s, 3m05s, 1h02m.
func FormatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}
