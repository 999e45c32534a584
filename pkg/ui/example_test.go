package ui_test

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/progress"
	"github.com/odin-deploy/odin/pkg/ui"
	"github.com/odin-deploy/odin/pkg/watch"
)

// How `odin deploy` and `odin status` show an execution: the tailer reads
// the history, the model folds it, the view renders it, and the verdict's
// code is the exit code.
func Example() {
	var (
		ctx    = context.Background()
		client *sfn.Client // from the Factory's backend
		arn    = "arn:aws:states:us-east-1:123456789012:execution:odin-deployer:hello-production-r1"
		io     = iostreams.System()
		mode   = ui.ModeAuto // from --output, through ui.ParseMode
	)
	run := func() error {
		var view *ui.View
		tailer := watch.New(client, arn, watch.Options{
			IncludeData: true, // task output carries per-service health
			OnError:     func(err error, retryIn time.Duration) { view.Warn(err, retryIn) },
		})
		_, graph, err := tailer.Definition(ctx)
		if err != nil {
			return err
		}
		model := progress.FromGraph(graph, progress.Header{Project: "hello", Config: "production", Execution: arn})
		view = ui.New(model, ui.Options{Mode: mode, IO: io,
			Halt:     func(ctx context.Context) error { return nil /* write the halt object */ },
			Reattach: "odin status " + arn})
		verdict, err := view.Run(ctx, tailer.Run)
		if err != nil {
			return err
		}
		return exitcode.New(verdict.Code, nil)
	}
	_ = run // needs a backend; the example is for reading, and runs only to show it builds
	// Output:
}
