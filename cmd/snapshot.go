package cmd

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/backend"
	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/progress"
	"github.com/odin-deploy/odin/pkg/ui"
	"github.com/odin-deploy/odin/pkg/watch"
)

// snapshot prints where an execution is now, from one read of its history,
// and returns its outcome's code (5 while it runs). The history is read
// without execution data and folded as it streams in, so a 25,000-event
// history costs 25 pages and little memory.
func snapshot(ctx context.Context, f *Factory, b *backend.Backend, arn string) error {
	in, err := executionInput(ctx, b, arn)
	if err != nil {
		return err
	}
	def, err := b.SFN.DescribeStateMachineForExecution(ctx, &sfn.DescribeStateMachineForExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return fmt.Errorf("read the definition of %s: %w", executionName(arn), err)
	}
	graph, err := watch.ParseDefinition([]byte(aws.ToString(def.Definition)))
	if err != nil {
		return err
	}
	model := progress.FromGraph(graph, progress.Header{
		Project: in.ProjectName, Config: in.ConfigName, Release: in.ReleaseID,
		Backend: b.Kind, Account: in.AWSAccountID, Region: in.AWSRegion, Execution: executionName(arn),
	})
	tr := watch.NewTranslator(graph)
	err = watch.ReadHistory(ctx, b.SFN, arn, watch.Read{}, func(events []types.HistoryEvent, _ bool) bool {
		for _, ev := range events {
			for _, e := range tr.Translate(ev) {
				model.Apply(e)
			}
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("read the history of %s: %w", executionName(arn), err)
	}

	now := f.Now()
	verdict := model.Verdict(now)
	switch {
	case f.Settings.Output == "json":
		// The live view's grammar without its events: the start line, then
		// the outcome (status RUNNING while the deploy runs).
		j := ui.NewJSONLines(f.IO.Out, model)
		j.Start()
		j.Finish(verdict, now)
	case f.Settings.Quiet:
		// --quiet: the verdict alone, as the live view's plain output ends.
		fmt.Fprintf(f.IO.Out, "%s: %s\n", verdict.Status, verdict.Text)
	default:
		if err := writeSteps(f.IO.Out, model, now); err != nil {
			return err
		}
		fmt.Fprintf(f.IO.Out, "%s: %s\n", verdict.Status, verdict.Text)
	}
	if verdict.Code == exitcode.OK {
		return nil
	}
	return exitcode.New(verdict.Code, nil)
}

// writeSteps prints the step table of a snapshot. While the deploy runs,
// the steps still ahead of it on the happy path are shown, not the
// rollback it may never need.
func writeSteps(w io.Writer, model *progress.Model, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tSTATUS\tVISITS\tTIME\tERROR")
	for _, r := range model.Rows {
		switch {
		case r.Status == progress.Skipped, !r.Shown():
			continue
		case r.Status == progress.Pending && model.Status != "":
			continue // steps a finished deploy never reached are noise
		}
		visits := ""
		if r.Visits > 1 {
			visits = fmt.Sprint(r.Visits)
		}
		took := ""
		if r.Status != progress.Pending {
			took = progress.FormatDuration(r.Duration(now))
		}
		status := string(r.Status)
		if r.Result != "" && r.Status == progress.Succeeded {
			status = r.Result
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, status, visits, took, r.Error)
	}
	return tw.Flush()
}
