package cmd

import (
	"context"
	"fmt"
	"math"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/spf13/cobra"

	"github.com/odin-deploy/odin/pkg/deploy"
	"github.com/odin-deploy/odin/pkg/diagnose"
	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/release"
	"github.com/odin-deploy/odin/pkg/watch"
)

// FailOptions are the inputs of `odin fail`.
type FailOptions struct {
	IO     *iostreams.IOStreams
	Target targetFlags
	Arg    string
	// JSON prints the report as one JSON object (--output json).
	JSON bool
}

const failLong = `Explain why a deploy failed: the first state that failed and its error, the cause
unwrapped (a Lambda error's message, type and stack trace), every attempt with its
timing, the path the deployer took from there to its final state (the rollback), the
unhealthy instances and their last log lines, the input of the failing state, and
what to do next. It says so plainly when the execution succeeded or is still running.

A release file (with no argument, the release.yml in the current directory) means
the newest deploy of that release: its latest attempt when it was rolled back to or
retried. --project/--release-config (or a file whose release was never deployed) means
the latest deploy of that project and config; when that one did not fail, the report
says it succeeded or is running, and the newest failed deploy is named on stderr.
An execution name or ARN is explained whatever its outcome.

The exit code is the execution's outcome, as for odin status --no-follow, so a script
can branch on it: 0 succeeded (nothing failed), 1 failed, 3 timed out, 4 aborted or
halted, 5 still running. Errors reading the execution also exit 1, with a message on
stderr and nothing on stdout; an execution that does not exist exits 2.

--output json prints one JSON object:
  execution        {arn, name, status, started, stopped, duration}
  verdict          succeeded | running | failed | timed_out | aborted | halted
  release          {id, project, config, deployed_by} from the execution input
  failure          the root cause: {state, step, type, visit, error, cause {message,
                   type, stack_trace, nested}, caught, entered, attempts [{number,
                   scheduled, started, ended, duration, error, message}],
                   attempts_omitted, input, input_truncated}
  path             states from the failing one to the final state
  path_omitted     states left out of a long path
  later_failures   [{state, error, message}] after the root cause (cleanup failing)
  final_state      the last state entered
  final_error      the execution's error when it differs from the root cause's
  unhealthy        [{service, id, release_id, state, pid, port, reason, log_tail}]
  problems         FILE:LINE:COL lines of an invalid release
  running_in       states a running execution is in
  retried_failures failed attempts a retry recovered from
  events           history events read
  next_steps       what to do now
Fields that do not apply are left out.`

func newFailCmd(f *Factory) *cobra.Command {
	opts := &FailOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:               "fail [EXECUTION|FILE]",
		Short:             "Explain why a deploy failed and what to do next",
		Long:              failLong,
		Example:           "  odin fail\n  odin fail release.yml --output json\n  odin fail --project hello --release-config production\n  odin fail deploy-hello_production_r-0123456789abcdef",
		Args:              usageArgs(cobra.MaximumNArgs(1)),
		ValidArgsFunction: completeExecutionsOrFiles(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Arg = args[0]
			}
			opts.JSON = f.Settings.Output == "json"
			return failRun(cmd.Context(), f, opts)
		},
	}
	opts.Target.register(cmd, "an execution, a release file, or --project and --release-config")
	return cmd
}

func failRun(ctx context.Context, f *Factory, opts *FailOptions) error {
	t, b, err := openTarget(ctx, f, opts.Arg, opts.Target, false)
	if err != nil {
		return err
	}
	arn, err := failedExecution(ctx, t, deployClient(f, b), newStatusLine(f))
	if err != nil {
		return err
	}
	var dopts diagnose.Options
	if t.File != nil {
		dopts.ReleaseFile = t.File.Path
	}
	r, err := explainExecution(ctx, b.SFN, arn, b.Account, dopts)
	if err != nil {
		return err
	}
	if opts.JSON {
		err = r.WriteJSON(opts.IO.Out)
	} else {
		err = r.WriteText(opts.IO.Out)
	}
	if err != nil {
		return err
	}
	return verdictError(r.Verdict)
}

// verdictError is the exit code of a diagnosis, as odin status would give
// for the same execution.
func verdictError(v diagnose.Verdict) error {
	switch v {
	case diagnose.Succeeded:
		return nil
	case diagnose.Running:
		return exitcode.New(exitcode.Running, nil)
	case diagnose.TimedOut:
		return exitcode.New(exitcode.TimedOut, nil)
	case diagnose.Aborted, diagnose.Halted:
		return exitcode.New(exitcode.Aborted, nil)
	}
	return exitcode.New(exitcode.Failed, nil)
}

// failedExecution is the execution a target means for odin fail: the one
// it names; else the newest attempt of its release file's release; else
// the latest deploy of its project and config, naming the newest failed
// one on stderr when that is another.
func failedExecution(ctx context.Context, t *target, c *deploy.Client, note *statusLine) (string, error) {
	if t.ExecutionArn != "" {
		return t.ExecutionArn, nil
	}
	if t.File != nil {
		id := release.ReleaseID(t.File.SHA256)
		arn, ok, err := c.LatestAttempt(ctx, t.Project, t.Config, id)
		if err != nil {
			return "", err
		}
		if ok {
			return arn, nil
		}
		note.Printf("release %s (%s) has not been deployed to %s; explaining the latest deploy there\n", id, t.File.Path, t.scope())
	}
	current, ok, err := c.Current(ctx, t.scope())
	if err != nil {
		return "", err
	}
	if !ok {
		return "", exitcode.New(exitcode.Failed, fmt.Errorf("no deploy of %s in %s", t.scope(), place(c.StateMachineArn)))
	}
	if current.Status == sfntypes.ExecutionStatusRunning || current.Status == sfntypes.ExecutionStatusSucceeded {
		failed, ok, err := c.LatestFailed(ctx, t.scope())
		if err == nil && ok {
			note.Printf("the latest deploy of %s did not fail; the newest that did is %s (%s): odin fail %s\n",
				t.scope(), aws.ToString(failed.Name), failed.Status, aws.ToString(failed.Name))
		}
	}
	return aws.ToString(current.ExecutionArn), nil
}

// historyAPI is what odin fail reads of an execution; *sfn.Client has it.
type historyAPI interface {
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	DescribeStateMachineForExecution(ctx context.Context, in *sfn.DescribeStateMachineForExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeStateMachineForExecutionOutput, error)
	GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, optFns ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
}

// explainExecution reads an execution's status, definition and history and
// diagnoses it. A history that fits in one page is read once, with inputs
// and outputs. A longer one is read in two passes, because inputs and
// outputs are most of its bytes (a 25,000-event deployer history carries
// ~30 MB of them): every page without data, oldest first, then newest
// first with data only until the failing state's input and the last health
// report are found. Each page is handed to the explainer and dropped, so
// memory stays flat however long the history.
func explainExecution(ctx context.Context, api historyAPI, arn, caller string, opts diagnose.Options) (*diagnose.Report, error) {
	name := executionName(arn)
	d, err := api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return nil, describeError(arn, caller, err)
	}
	// The definition only names the top-level step of a nested state; a
	// backend without DescribeStateMachineForExecution still gets a report.
	var def []byte
	if sm, err := api.DescribeStateMachineForExecution(ctx, &sfn.DescribeStateMachineForExecutionInput{ExecutionArn: aws.String(arn)}); err == nil {
		def = []byte(aws.ToString(sm.Definition))
	}
	explainer := func() *diagnose.Explainer {
		x, err := diagnose.NewExplainer(def)
		if err != nil {
			x, _ = diagnose.NewExplainer(nil)
		}
		return x
	}
	read := func(r watch.Read, page func(events []sfntypes.HistoryEvent, more bool) bool) error {
		if err := watch.ReadHistory(ctx, api, arn, r, page); err != nil {
			return fmt.Errorf("read the history of %s: %w", name, err)
		}
		return nil
	}
	x := explainer()
	long := false
	err = read(watch.Read{IncludeData: true}, func(events []sfntypes.HistoryEvent, more bool) bool {
		for _, ev := range events {
			x.Add(ev)
		}
		long = more
		return false
	})
	if err == nil && long {
		x = explainer()
		err = read(watch.Read{}, func(events []sfntypes.HistoryEvent, _ bool) bool {
			for _, ev := range events {
				x.Add(ev)
			}
			return true
		})
		oldest := int64(math.MaxInt64)
		if err == nil {
			err = read(watch.Read{Reverse: true, IncludeData: true}, func(events []sfntypes.HistoryEvent, _ bool) bool {
				for _, ev := range events {
					x.AddData(ev)
					oldest = min(oldest, ev.Id)
				}
				return x.DataWanted(oldest)
			})
		}
	}
	if err != nil {
		return nil, err
	}
	return x.Report(diagnose.Execution{
		Arn: arn, Name: aws.ToString(d.Name), Status: string(d.Status),
		Error: aws.ToString(d.Error), Cause: aws.ToString(d.Cause), Input: aws.ToString(d.Input),
		StartDate: aws.ToTime(d.StartDate), StopDate: aws.ToTime(d.StopDate),
	}, opts), nil
}
