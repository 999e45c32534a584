package diagnose

import (
	"fmt"
	"strings"

	"github.com/odin-deploy/odin/pkg/contract"
)

// advise suggests what to do next, from the root cause's error name (and
// the final error when cleanup failed too).
func advise(r *Report, opts Options) []string {
	switch r.Verdict {
	case Succeeded:
		return nil
	case Running:
		return []string{"Follow it to the end: " + statusCmd(r, opts) + "; run odin fail again if it fails."}
	}
	var steps []string
	add := func(s ...string) { steps = append(steps, s...) }
	project, config, releaseID := "P", "C", "the release"
	if r.Release != nil {
		if r.Release.Project != "" {
			project = r.Release.Project
		}
		if r.Release.Config != "" {
			config = r.Release.Config
		}
		if r.Release.ID != "" {
			releaseID = "release " + r.Release.ID
		}
	}
	deployAgain := "odin deploy " + fileOr(opts, "RELEASE_FILE")
	onAWS := r.Release != nil && r.Release.Target == "aws"
	account := "its account"
	if r.Release != nil && r.Release.Account != "" {
		account = "account " + r.Release.Account
	}
	errName := ""
	if r.Failure != nil {
		errName = r.Failure.Error
	}
	switch errName {
	case contract.LockExistsError:
		cmds := []string{fmt.Sprintf("odin unlock --project %s --config-name %s", project, config)}
		if opts.ReleaseFile != "" {
			cmds = append([]string{"odin unlock " + opts.ReleaseFile}, cmds...)
		}
		add("Another deploy holds the lock of "+project+"/"+config+" (its holder is in the message above). "+
			"If that deploy is still running, wait for it: odin status --project "+project+" --config-name "+config+".",
			"If it is not running (it crashed or was stopped), clear the lock, which shows the holder and asks first: "+
				strings.Join(cmds, "  or  "),
			"Then deploy again: "+deployAgain)
	case contract.HealthError, contract.TimeoutError, contract.DeployError:
		what := "did not become healthy"
		switch errName {
		case contract.DeployError:
			what = "could not be started, or an instance exited"
		case contract.TimeoutError:
			what = "was not healthy before the release's timeout"
		}
		switch {
		case onAWS && errName == contract.DeployError:
			add("AWS refused or failed to launch the new " + releaseID + " in " + account + ": its own message above says why " +
				"(an image, an instance type, capacity in the zones, a permission of the odin-deployer-target role).")
		case onAWS:
			add("The new " + releaseID + " " + what + ": the message and the instances above say why; each reason names who " +
				"judged the instance (Auto Scaling, EC2, a target group or a classic load balancer).")
		case hasLogs(r.Unhealthy):
			add("The new " + releaseID + " " + what + ": the message, the unhealthy instances and their last log lines above say why.")
		default:
			add("The new " + releaseID + " " + what + ": the message above names the instance and its last log lines.")
		}
		add("It was rolled back; the previous release, if any, keeps serving.")
		if errName == contract.TimeoutError {
			add("If it only needs longer to start, raise the release's timeout; otherwise fix the service.")
		}
		add("Fix the service or its health check, then deploy again: " + deployAgain)
	case contract.BadReleaseError:
		msg := ""
		if r.Failure != nil {
			msg = r.Failure.Cause.Innermost().Message
		}
		switch {
		case len(r.Problems) > 0:
			add("The release file is invalid at the positions above: fix them and check with odin validate " + fileOr(opts, "RELEASE_FILE") + ".")
		case strings.Contains(msg, "digest mismatch"):
			add("The release in S3 is not the one this execution was started for: it was changed or replaced after upload. " +
				"odin deploy uploads it again and starts a fresh execution: " + deployAgain)
		case strings.Contains(msg, "stale"):
			add("The execution was started from an old upload; deploy again to start a fresh one: " + deployAgain)
		default:
			add("The deployer refused the release (the message above names the field). Check it with odin validate " +
				fileOr(opts, "RELEASE_FILE") + ", fix it, and deploy again.")
		}
	case contract.HaltError:
		add("The deploy was halted (by odin halt or by writing the halt object; the history does not record who) and rolled back: "+
			"the previous release, if any, keeps serving.",
			"When it is safe, deploy again: "+deployAgain)
	case contract.ResourceError:
		if onAWS {
			add("The release names AWS resources that this project, config and service may not use in "+account+
				", or that do not exist: the message above lists each with the tag, path or fix it needs.",
				"Tag or create them, then deploy again: "+deployAgain)
			break
		}
		add("Something the release needs is missing or taken (a command, a directory, a port): the message above names it. " +
			"Free or create it, then deploy again: " + deployAgain)
	case contract.CleanUpError:
		// The root cause itself was a cleanup failure: handled below.
	case "States.Timeout":
		add("A task ran past its TimeoutSeconds or missed its heartbeat: check the task's own logs for where it was stuck, " +
			"and raise the state's timeout if the work is legitimately slow.")
	case "States.Runtime":
		if r.Failure != nil && strings.Contains(r.Failure.Cause.Summary(), "maximum number of history events") {
			add("The execution hit Step Functions' cap of 25,000 history events: a loop ran too long (for the deployer, " +
				"a long timeout with a short wait_for_healthy). Bound the loop: fewer iterations, longer waits, or carry on in a new execution.")
			break
		}
		add("The state machine failed on its own data (a path that matched nothing, an invalid value): the cause names the state and path. " +
			"Fix the definition or the input; retrying will fail the same way.")
	case "States.TaskFailed":
		add("A task failed without a more specific error name: the cause above is all the task reported; check its logs.")
	case "Lambda.Unknown":
		add("The Lambda function died without reporting an error (out of memory, its own timeout, or a crash of the runtime): " +
			"check its CloudWatch logs for the request, and its memory and timeout settings.")
	case "States.DataLimitExceeded":
		add("A state's input or output went over 256 KiB: make the task return less (store large data in S3 and pass its key).")
	default:
		switch {
		case r.Verdict == TimedOut:
			add("The execution ran past its own TimeoutSeconds; resources it created may be left behind, since no cleanup ran. " +
				"Check them, and the lock with odin unlock --project " + project + " --config-name " + config + " (it shows the holder first).")
		case r.Verdict == Aborted:
			add("The execution was stopped (StopExecution): no cleanup ran, so instances of " + releaseID + " and the lock may be left behind. " +
				"Check them, and the lock with odin unlock --project " + project + " --config-name " + config + " (it shows the holder first).")
		case strings.HasPrefix(errName, "Runtime.") || (r.Failure != nil && len(r.Failure.Cause.StackTrace) > 0):
			add("The task's code failed (" + errName + "): the message and stack trace above show where. It is a bug in the task, not in the release.")
		case errName != "":
			add("The state failed with " + errName + ": see the message above.")
		}
	}
	if dirty(r) {
		add("ALERT: cleaning up failed too (" + r.FinalErrorOrRoot() + "), so instances of " + releaseID + " or the lock of " + project + "/" + config +
			" may be left behind. Check that no process or instance of it still runs (odin status shows the last health report), " +
			"and the lock with odin unlock --project " + project + " --config-name " + config + " (it shows the holder and asks before deleting).")
	}
	return steps
}

// dirty says whether cleanup failed: the execution ended in FailureDirty or
// a CleanUpError was raised anywhere.
func dirty(r *Report) bool {
	if r.FinalState == "FailureDirty" || r.FinalError == contract.CleanUpError || r.FinalError == "FailureDirty" {
		return true
	}
	if r.Failure != nil && r.Failure.Error == contract.CleanUpError {
		return true
	}
	for _, l := range r.LaterFailures {
		if l.Error == contract.CleanUpError {
			return true
		}
	}
	return false
}

// FinalErrorOrRoot is the error that ended the execution: FinalError when it
// differs from the root cause's, else the root cause's.
func (r *Report) FinalErrorOrRoot() string {
	if r.FinalError != "" {
		return r.FinalError
	}
	if r.Failure != nil {
		return r.Failure.Error
	}
	return ""
}

func fileOr(opts Options, placeholder string) string {
	if opts.ReleaseFile != "" {
		return opts.ReleaseFile
	}
	return placeholder
}

func statusCmd(r *Report, opts Options) string {
	if opts.ReleaseFile != "" {
		return "odin status " + opts.ReleaseFile
	}
	if r.Execution.Name != "" {
		return "odin status " + r.Execution.Name
	}
	return "odin status"
}

func hasLogs(ins []Instance) bool {
	for _, in := range ins {
		if len(in.LogTail) > 0 || in.Reason != "" {
			return true
		}
	}
	return false
}
