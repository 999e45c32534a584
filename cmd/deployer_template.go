package cmd

import (
	"github.com/spf13/cobra"

	"github.com/odin-deploy/odin/pkg/deployer/install"
	"github.com/odin-deploy/odin/pkg/iostreams"
)

// DeployerTemplateOptions are the inputs of `odin deployer template`.
type DeployerTemplateOptions struct {
	IO     *iostreams.IOStreams
	Target bool
	Bucket bool
}

func newDeployerTemplateCmd(f *Factory) *cobra.Command {
	opts := &DeployerTemplateOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "template",
		Short: "Print the CloudFormation templates odin deployer install uses",
		Long: `Print the embedded CloudFormation templates (YAML): by default the deployer
account's stack odin-deployer (Lambda, roles, state machine, log group, alarm); with
--bucket its releases bucket's stack; with --target the role the deployer assumes in a
target account, with the least-privilege policy of the AWS provider.`,
		Example: "  odin deployer template > deployer.yaml\n  odin deployer template --target | cfn-lint",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			t := install.DeployerTemplate()
			switch {
			case opts.Target:
				t = install.TargetTemplate()
			case opts.Bucket:
				t = install.BucketTemplate()
			}
			_, err := opts.IO.Out.Write(t)
			return err
		},
	}
	cmd.Flags().BoolVar(&opts.Target, "target", false, "the target account's role")
	cmd.Flags().BoolVar(&opts.Bucket, "bucket", false, "the releases bucket's stack")
	cmd.MarkFlagsMutuallyExclusive("target", "bucket")
	return cmd
}
