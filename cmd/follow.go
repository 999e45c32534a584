package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/odin-deploy/odin/pkg/backend"
	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/watch"
)

// followOptions tune how a command watches an execution.
type followOptions struct {
	// Timeout stops watching after this long (the execution goes on).
	Timeout time.Duration
}

// follow watches an execution to its end and returns the exit code of its
// outcome.
func follow(ctx context.Context, f *Factory, b *backend.Backend, arn string, opts followOptions) error {
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	t := watch.New(b.SFN, arn, watch.Options{IncludeData: true})
	res, err := t.Run(ctx, func(ev watch.Event) {
		fmt.Fprintf(f.IO.Out, "%s %s %s %s\n", ev.Time.Format(time.TimeOnly), ev.Kind, ev.Step, ev.Error)
	})
	if err != nil {
		if ctx.Err() != nil {
			return exitcode.New(exitcode.Running, fmt.Errorf("stopped watching; the deploy goes on: odin status %s", executionName(arn)))
		}
		return err
	}
	return outcomeError(res.Status, res.Error, res.Cause)
}

// outcomeError maps how an execution ended to odin's exit codes. A deploy that
// the deployer rolled back because it was halted exits 4 like an abort.
func outcomeError(status, errName, cause string) error {
	switch status {
	case "SUCCEEDED":
		return nil
	case "TIMED_OUT":
		return exitcode.New(exitcode.TimedOut, nil)
	case "ABORTED":
		return exitcode.New(exitcode.Aborted, nil)
	case "FAILED":
		if errName == "HaltError" {
			return exitcode.New(exitcode.Aborted, nil)
		}
		return exitcode.New(exitcode.Failed, nil)
	case "RUNNING", "":
		return exitcode.New(exitcode.Running, nil)
	}
	return exitcode.New(exitcode.Failed, nil)
}

// snapshot prints where an execution is now and returns its outcome's code.
func snapshot(ctx context.Context, f *Factory, b *backend.Backend, arn string, d *sfn.DescribeExecutionOutput) error {
	fmt.Fprintf(f.IO.Out, "%s %s\n", aws.ToString(d.Name), d.Status)
	return outcomeError(string(d.Status), aws.ToString(d.Error), aws.ToString(d.Cause))
}
