package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/backend"
	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/deploy"
	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/progress"
	"github.com/odin-deploy/odin/pkg/ui"
	"github.com/odin-deploy/odin/pkg/watch"
)

// followOptions tune how a command watches an execution.
type followOptions struct {
	// Timeout stops watching after this long (the execution goes on).
	Timeout time.Duration
	// NotDeployed is the release odin deploy --attach did not deploy: the
	// execution watched is another release's, so its outcome exits 1.
	NotDeployed string
}

// follow shows an execution live until it ends (or the user detaches, or
// the timeout passes) and returns the exit code of its outcome.
func follow(ctx context.Context, f *Factory, b *backend.Backend, arn string, opts followOptions) error {
	mode, err := ui.ParseMode(outputMode(f))
	if err != nil {
		return exitcode.UsageError(err)
	}
	in, err := executionInput(ctx, b, arn)
	if err != nil {
		return err
	}
	watchCtx := ctx
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		watchCtx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}

	var view *ui.View
	tailer := watch.New(b.SFN, arn, watch.Options{
		IncludeData: true, // task output carries each service's health
		OnError:     func(err error, retryIn time.Duration) { view.Warn(err, retryIn) },
	})
	_, graph, err := tailer.Definition(ctx)
	if err != nil {
		return fmt.Errorf("read the definition of %s: %w", executionName(arn), err)
	}
	model := progress.FromGraph(graph, progress.Header{
		Project:     in.ProjectName,
		Config:      in.ConfigName,
		Release:     in.ReleaseID,
		Backend:     b.Kind,
		Account:     in.AWSAccountID,
		Region:      in.AWSRegion,
		Execution:   executionName(arn),
		NotDeployed: opts.NotDeployed,
	})
	if in.ProjectName != "" && !f.Settings.Quiet {
		model.Usual = usualTime(ctx, deployClient(f, b), b, graph, in, arn)
	}
	reattach := "odin status " + executionName(arn)
	view = ui.New(model, ui.Options{
		Mode:     mode,
		IO:       f.IO,
		Now:      f.Now,
		Reattach: reattach,
		Quiet:    f.Settings.Quiet,
		Halt: func(ctx context.Context) error {
			if in.ProjectName == "" {
				return errors.New("not an odin deploy: nothing to halt")
			}
			_, err := deployClient(f, b).Halt(ctx, in.AWSAccountID, in.ProjectName, in.ConfigName, contract.Halt{By: b.CallerArn, Reason: "halted from the live view"})
			return err
		},
	})
	verdict, err := view.Run(watchCtx, tailer.Run)
	if err == nil && view.Mode() == ui.ModeGitHub {
		githubDeploySummary(ctx, f, b, arn, model, verdict)
	}
	if err != nil {
		if watchCtx.Err() != nil {
			return stoppedWatching(reattach)
		}
		return err
	}
	if verdict.Code == exitcode.Running {
		return exitcode.New(exitcode.Running, nil) // the view has said how to attach again
	}
	return exitcode.New(verdict.Code, nil)
}

func stoppedWatching(reattach string) error {
	return exitcode.New(exitcode.Running, fmt.Errorf("stopped watching; the deploy goes on. Attach again with: %s", reattach))
}

// executionInput reads the deploy input of an execution; an execution that
// is not an odin deploy gives an empty input.
func executionInput(ctx context.Context, b *backend.Backend, arn string) (deploy.Input, error) {
	var in deploy.Input
	d, err := b.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return in, describeError(arn, b.Account, err)
	}
	_ = json.Unmarshal([]byte(aws.ToString(d.Input)), &in)
	return in, nil
}

// earlierDeploys is how many of a project and config's latest successful
// deploys the estimate of a deploy's time is taken over.
const earlierDeploys = 5

// usualTime is how long the latest successful deploys of the project and
// config took, step by step, read from their histories; nil when there are
// none or they cannot be read (the estimate is a nicety, never a failure).
func usualTime(ctx context.Context, c *deploy.Client, b *backend.Backend, graph *watch.Graph, in deploy.Input, arn string) *progress.Usual {
	recs, err := c.History(ctx, deploy.HistoryQuery{Project: in.ProjectName, Config: in.ConfigName, Account: in.AWSAccountID,
		Status: "SUCCEEDED", Limit: earlierDeploys + 1})
	if err != nil {
		return nil
	}
	var earlier []*progress.Model
	for _, r := range recs {
		if r.ExecutionArn == arn || len(earlier) == earlierDeploys {
			continue
		}
		m := progress.FromGraph(graph, progress.Header{})
		tr := watch.NewTranslator(graph)
		err := watch.ReadHistory(ctx, b.SFN, r.ExecutionArn, watch.Read{}, func(events []sfntypes.HistoryEvent, _ bool) bool {
			for _, h := range events {
				for _, ev := range tr.Translate(h) {
					m.Apply(ev)
				}
			}
			return true
		})
		if err == nil {
			earlier = append(earlier, m)
		}
	}
	return progress.UsualOf(earlier)
}
