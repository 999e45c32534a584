package diagnose

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/watch"
)

// maxLogLines is how many of an instance's last log lines a report shows.
const maxLogLines = 10

// Report returns the diagnosis of the events added so far. exec.Status
// decides the verdict; when it is empty the history's own end decides
// (RUNNING if it has none).
func (x *Explainer) Report(exec Execution, opts Options) *Report {
	status := exec.Status
	if status == "" {
		status = x.finalStatus
		if status == "" {
			status = "RUNNING"
		}
	}
	r := &Report{
		Execution:       x.info(exec, status),
		Release:         x.release,
		Events:          x.events,
		RetriedFailures: x.retried,
		Path:            slices.Clone(x.path),
		PathOmitted:     x.omitted,
		LaterFailures:   slices.Clone(x.later),
		FinalState:      x.final,
	}
	if r.Release == nil {
		r.Release = releaseOf(exec.Input)
	}
	if x.root != nil {
		f := *x.root
		r.Failure = &f
	}
	switch status {
	case "SUCCEEDED":
		r.Verdict = Succeeded
		// A failure that was caught and led to success is not the story.
		r.Failure, r.Path, r.PathOmitted, r.LaterFailures = nil, nil, 0, nil
	case "RUNNING":
		r.Verdict = Running
		r.RunningIn = x.runningIn()
		r.FinalState = ""
	case "TIMED_OUT":
		r.Verdict = TimedOut
	case "ABORTED":
		r.Verdict = Aborted
	default:
		r.Verdict = Failed
	}
	if r.Verdict != Succeeded && r.Verdict != Running {
		x.completeFailure(r, exec)
		finalErr := exec.Error
		if finalErr == "" {
			finalErr = x.finalErr
		}
		if r.Failure != nil && finalErr != "" && finalErr != r.Failure.Error {
			r.FinalError = finalErr
		}
		rootIs := func(name string) bool { return r.Failure != nil && r.Failure.Error == name || finalErr == name }
		switch {
		case r.Verdict == Failed && rootIs(contract.HaltError):
			r.Verdict = Halted
		case r.Verdict == Failed && rootIs(contract.TimeoutError):
			// The deployer's own deadline (the release's timeout) ends
			// the execution as FAILED, after rolling back.
			r.Verdict = TimedOut
		}
	}
	if r.Failure != nil {
		r.Unhealthy = unhealthy(x.health)
		if r.Failure.Error == contract.BadReleaseError {
			r.Problems = problems(r.Failure.Cause.Innermost().Message)
		}
	}
	r.NextSteps = advise(r, opts)
	return r
}

// completeFailure fills in the failure when no state failed in the history:
// a timeout or abort ends the execution while a state runs, and the
// history may have been cut short.
func (x *Explainer) completeFailure(r *Report, exec Execution) {
	if r.Failure != nil {
		return
	}
	errName, cause := exec.Error, exec.Cause
	if errName == "" && cause == "" {
		errName = x.finalErr
	}
	f := &Failure{State: x.lastIn, Error: errName, Cause: watch.UnwrapCause(cause)}
	if v, _ := x.failingVisit(); v != nil {
		entered := v.entered
		f.Type, f.Visit, f.Entered = v.typ, v.n, &entered
		f.Attempts, f.AttemptsOmitted = slices.Clone(v.attempts), v.dropped
		f.Input, f.InputTruncated = clipInput(v.input)
		if f.Error == "" {
			f.Error, f.Cause = v.lastErr, watch.UnwrapCause(v.lastCause)
		}
	}
	if f.State == "" && f.Error == "" {
		return
	}
	r.Failure = f
	if f.State != "" {
		r.Path = []string{f.State}
	}
	r.FinalState = x.lastIn
}

func (x *Explainer) info(exec Execution, status string) ExecutionInfo {
	in := ExecutionInfo{Arn: exec.Arn, Name: exec.Name, Status: status}
	// The history's own times are the execution's when it has its first
	// and last events; DescribeExecution's fill in when it does not.
	start, stop := x.first, time.Time{}
	if start.IsZero() {
		start = exec.StartDate
	}
	if status != "RUNNING" {
		stop = exec.StopDate
		if x.finalStatus != "" || stop.IsZero() {
			stop = x.last
		}
	}
	if !start.IsZero() {
		s := start.UTC()
		in.Started = &s
	}
	if !stop.IsZero() {
		s := stop.UTC()
		in.Stopped = &s
		if !start.IsZero() {
			in.Duration = stop.Sub(start).Round(time.Second).String()
		}
	}
	return in
}

// runningIn lists the states entered and not yet left, oldest first.
func (x *Explainer) runningIn() []string {
	vs := make([]*visit, 0, len(x.open))
	for _, v := range x.open {
		if v.typ != "" {
			vs = append(vs, v)
		}
	}
	sort.Slice(vs, func(i, j int) bool {
		if !vs[i].entered.Equal(vs[j].entered) {
			return vs[i].entered.Before(vs[j].entered)
		}
		return vs[i].name < vs[j].name
	})
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.name
	}
	if len(out) == 0 && x.lastIn != "" {
		// Between two states: the one it just left says where it is.
		out = []string{x.lastIn}
	}
	return out
}

// unhealthy lists the instances of a health report that are not healthy,
// by service then id.
func unhealthy(output string) []Instance {
	if output == "" {
		return nil
	}
	var h contract.TaskOutput
	if json.Unmarshal([]byte(output), &h) != nil || h.Health == nil {
		return nil
	}
	var out []Instance
	for name, s := range h.Health.Services {
		if s == nil {
			continue
		}
		for _, in := range s.Instances {
			if in.State == contract.InstanceHealthy {
				continue
			}
			tail := in.LogTail
			if len(tail) > maxLogLines {
				tail = tail[len(tail)-maxLogLines:]
			}
			out = append(out, Instance{Service: name, ID: in.ID, ReleaseID: in.ReleaseID, State: in.State,
				PID: in.PID, Port: in.Port, Reason: in.Reason, LogTail: slices.Clone(tail)})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// positionLine matches a release problem, "FILE:LINE:COL: message".
var positionLine = lazyRegexp(`^\S+:\d+:\d+: \S`)

func problems(msg string) []string {
	var out []string
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimSpace(line)
		if positionLine().MatchString(line) {
			out = append(out, line)
		}
	}
	return out
}
