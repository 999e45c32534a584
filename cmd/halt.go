package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/spf13/cobra"

	"github.com/odin-deploy/odin/pkg/awserr"
	"github.com/odin-deploy/odin/pkg/backend"
	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/deploy"
	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/iostreams"
)

// HaltOptions are the inputs of `odin halt`.
type HaltOptions struct {
	IO       *iostreams.IOStreams
	Target   targetFlags
	Arg      string
	Abort    bool
	Yes      bool
	NoFollow bool
	Reason   string
}

func newHaltCmd(f *Factory) *cobra.Command {
	opts := &HaltOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "halt [FILE|EXECUTION]",
		Short: "Stop a running deploy cleanly: it rolls back and releases its lock",
		Long: `Halt the running deploy of a release's project and config (or a named execution).

By default the halt is cooperative: odin writes the halt object the deployer checks in
Deploy and in every health check; the deployer then rolls back, stops the new release's
instances, keeps the previous release serving, and releases the lock. odin watches the
rollback; the exit code is 4 once it is halted.

--abort calls StopExecution instead, after a confirmation (or --yes). The deployer gets
no chance to clean up, so resources and the lock may be left behind: a last resort.`,
		Example:           "  odin halt examples/hello/release.yml\n  odin halt deploy-hello_development_r-0123456789abcdef --abort --yes",
		Args:              usageArgs(cobra.MaximumNArgs(1)),
		ValidArgsFunction: completeRunningOrFiles(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Arg = args[0]
			}
			return haltRun(cmd.Context(), f, opts)
		},
	}
	opts.Target.register(cmd, "an execution, a release file, or --project and --release-config")
	cmd.Flags().BoolVar(&opts.Abort, "abort", false, "stop the execution outright (StopExecution); may leave resources behind")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation of --abort")
	cmd.Flags().BoolVar(&opts.NoFollow, "no-follow", false, "do not watch the rollback")
	cmd.Flags().StringVar(&opts.Reason, "reason", "", "why, for the audit trail")
	return cmd
}

func haltRun(ctx context.Context, f *Factory, opts *HaltOptions) error {
	t, b, err := openTarget(ctx, f, opts.Arg, opts.Target, true)
	if err != nil {
		return err
	}
	c := deployClient(f, b)
	arn := t.ExecutionArn
	if arn == "" {
		running, err := c.Running(ctx, t.scope())
		if err != nil {
			return err
		}
		if len(running) == 0 {
			return exitcode.New(exitcode.Failed, fmt.Errorf("no deploy of %s is running in %s; nothing to halt", t.scope(), place(c.StateMachineArn)))
		}
		arn = aws.ToString(running[0].ExecutionArn)
	}
	d, err := b.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return describeError(arn, b.Account, err)
	}
	if d.Status != "RUNNING" {
		return exitcode.New(exitcode.Failed, fmt.Errorf("execution %s is not running (%s); nothing to halt", aws.ToString(d.Name), d.Status))
	}
	var in deploy.Input
	if err := json.Unmarshal([]byte(aws.ToString(d.Input)), &in); err != nil || in.ProjectName == "" {
		return errors.New("the execution's input is not an odin release; use --abort to stop it")
	}
	status := newStatusLine(f)
	action := HaltAction{Type: "halt", Action: "requested", Execution: aws.ToString(d.Name)}
	if opts.Abort {
		if err := confirm(opts.IO, opts.Yes, fmt.Sprintf("Stop %s without cleanup? Its resources and lock may be left behind.", aws.ToString(d.Name))); err != nil {
			return err
		}
		if err := c.Abort(ctx, arn, reasonOr(opts.Reason, "aborted with odin halt --abort by "+b.CallerArn)); err != nil {
			if b.Kind == backend.Local && awserr.Is(err, "InternalFailure") {
				// The local backend on a full disk: the execution no longer
				// goes on, but its stop is not recorded yet, so it still
				// reads RUNNING and its lock stays.
				return fmt.Errorf("%w\nits lock can be cleared now with `odin unlock --project %s --release-config %s --force --yes`",
					err, in.ProjectName, in.ConfigName)
			}
			return err
		}
		status.Printf("stopped %s\n", aws.ToString(d.Name))
		action.Action = "stopped"
	} else {
		key, err := c.Halt(ctx, in.AWSAccountID, in.ProjectName, in.ConfigName, contract.Halt{By: b.CallerArn, Reason: opts.Reason})
		if err != nil {
			return err
		}
		status.Printf("halt requested (s3://%s/%s); the deployer rolls back at its next check\n", b.Bucket, key)
	}
	if f.Settings.Output == "json" {
		if err := json.NewEncoder(f.IO.Out).Encode(action); err != nil {
			return err
		}
	}
	if opts.NoFollow {
		return nil
	}
	return follow(ctx, f, b, arn, followOptions{})
}

// HaltAction is the first object `odin halt --output json` writes: the
// execution it stopped (--abort) or asked to roll back (requested). The
// rollback's events follow unless --no-follow.
type HaltAction struct {
	Type      string `json:"type"` // "halt"
	Action    string `json:"action"`
	Execution string `json:"execution"`
}

func reasonOr(reason, fallback string) string {
	if reason != "" {
		return reason
	}
	return fallback
}
