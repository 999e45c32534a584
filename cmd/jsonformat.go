package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
)

// jsonLinesFormat documents `--output json` of odin deploy and odin status;
// README.md (JSON output) carries the same text, and a test keeps them equal.
const jsonLinesFormat = `odin deploy and odin status with --output json write one JSON object per line
on stdout; odin's own remarks go to stderr. The first line is start (odin
deploy writes a deploy line before it), the last is outcome; events and
warnings come in between (status --no-follow writes start and outcome only).
A field marked ? is left out when empty or zero.

  {"type":"deploy", "action", "release", "execution"?, "attempt"?, "watching"?}

deploy: action is started, attached (the release is being deployed: odin
watches that execution), already_deployed (the latest deploy deployed it) or
refused (another release is being deployed; watching names it with --attach).

Every command with --output json reports an error, instead of on stderr, as
one object on stdout, code being the exit code:

  {"type":"error", "code", "message"}

The other commands write their result as JSON too: halt one line before the
rollback's (none with --no-follow), the others one document.

  halt:      {"type":"halt", "action" (stopped or requested), "execution"}
  unlock:    {"type":"unlock", "key", "held", "lock"?, "execution_status"?, "deleted"}
  local status, start and stop: {"type":"local", "action"?, "running", "pid"?,
     "endpoint"?, "access_key_id"?, "region"?, "account"?, "data_dir"?,
     "started_at"?, "aws_endpoint"?, "throttle"?, "start_error"?, "recovery"?}
  local env: {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", ...}, the variables
  exit-codes: [{"code", "name", "meaning"}]

  {"type":"start", "header":{"project"?, "config"?, "release"?, "backend"?,
     "account"?, "region"?, "execution"?, "not_deployed"?},
     "steps":[{"name", "type", "usual_ms"?}], "usual"?:{"deploys", "total_ms"}}
  {"type":"event", "kind", "id", "time", "event_type", "state"?, "step"?,
     "attempt"?, "error"?, "cause"?, "message"?, "status"?, "health"?}
  {"type":"warning", "message", "retry_in_ms"}
  {"type":"outcome", "status", "exit_code", "text", "explain"?, "execution"?, "elapsed_ms",
     "error"?, "cause"?, "failure"?:{"step", "error", "cause"?},
     "steps":[{"name", "status", "attempt"?, "visits"?, "duration_ms", "error"?}],
     "health"?, "output"?}

health, on an event or the outcome:

  {"healthy", "services":[{"name", "desired", "healthy", "launching",
     "unhealthy", "terminating", "instances"?:[{"id", "release_id"?, "state",
     "pid"?, "port"?, "reason"?, "log_tail"?}]}], "step", "at"}

start: steps are the state machine's top-level states in table order; type is
the state's Type (Task, Wait, Choice, ...). not_deployed names the release that
odin deploy --attach did not deploy, because it watches another release's
deploy; the outcome's exit_code is then 1 whatever that deploy's status.
usual is how long the project and config's latest successful deploys (up to
5) took, the median, and usual_ms each step's median: the live view's estimate.

event: kind is execution_started, step_entered, attempt_started,
retry_scheduled, attempt_failed, attempt_succeeded, step_succeeded,
step_failed or execution_ended; id is the history event's id; time is RFC 3339
in UTC; event_type is the raw Step Functions history event type; state is the
state the event is about and step the top-level step holding it (they differ
inside a Parallel or Map); attempt counts tries from 1; error and cause are
Step Functions' error name and cause, message the cause unwrapped to its
innermost message; status is on execution_ended only (SUCCEEDED, FAILED,
TIMED_OUT, ABORTED). health appears once per report, on the event whose output
carried a report that differs from the last.

warning: a transient problem the watch rides out (throttling, the network);
retry_in_ms is when it tries again.

outcome: status is SUCCEEDED, FAILED, TIMED_OUT, ABORTED, HALTED, RUNNING
(odin stopped watching first) or NOT_DEPLOYED (odin deploy --attach: the
watched deploy ended, text says how); exit_code is odin's exit code and text the
verdict line; explain, after a failure, is the odin fail command that explains it; elapsed_ms is the execution's run time; error and cause are the
execution's; failure is where it first went wrong; each step's status is
pending, running, retrying, succeeded, failed, stopped or skipped, attempt its
last try, visits how often it was entered and duration_ms its time over all
visits; health is the last report and output the execution's output.
`

func newJSONFormatCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "json-format",
		Example: "  odin json-format",
		Short:   "Describe the JSON lines of --output json",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(f.IO.Out, jsonLinesFormat)
			return err
		},
	}
}
