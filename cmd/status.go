package cmd

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/odin-deploy/odin/pkg/iostreams"
)

// StatusOptions are the inputs of `odin status`.
type StatusOptions struct {
	IO       *iostreams.IOStreams
	Target   targetFlags
	Arg      string
	NoFollow bool
	Timeout  time.Duration
}

func newStatusCmd(f *Factory) *cobra.Command {
	opts := &StatusOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "status [EXECUTION|FILE]",
		Short: "Attach to a deploy and tail it to the end",
		Long: `Attach to a deploy, running or finished, and show every step with the same view as
odin deploy. With no argument: the running (else the latest) deploy of the release.yml
in the current directory, or of --project/--release-config.

--no-follow prints where the deploy is and exits with its outcome's code (5 while it
is still running). --output json writes JSON lines (odin json-format describes them).`,
		Example:           "  odin status\n  odin status deploy-hello_development_r-0123456789abcdef\n  odin status --project hello --release-config development --no-follow",
		Args:              usageArgs(cobra.MaximumNArgs(1)),
		ValidArgsFunction: completeExecutionsOrFiles(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Arg = args[0]
			}
			return statusRun(cmd.Context(), f, opts)
		},
	}
	opts.Target.register(cmd, "an execution, a release file, or --project and --release-config")
	cmd.Flags().BoolVar(&opts.NoFollow, "no-follow", false, "print the deploy's state and exit with its outcome's code")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 0, "stop watching after this long (exit 5)")
	return cmd
}

func statusRun(ctx context.Context, f *Factory, opts *StatusOptions) error {
	t, b, err := openTarget(ctx, f, opts.Arg, opts.Target, false)
	if err != nil {
		return err
	}
	arn, err := t.execution(ctx, deployClient(f, b), false)
	if err != nil {
		return err
	}
	if opts.NoFollow || f.Settings.Verbose {
		// The live view's header says where the deploy runs; a snapshot
		// has none.
		newStatusLine(f).Println(b.Describe())
	}
	checkDeployerVersion(ctx, f, b)()
	if opts.NoFollow {
		return snapshot(ctx, f, b, arn)
	}
	return follow(ctx, f, b, arn, followOptions{Timeout: opts.Timeout})
}
