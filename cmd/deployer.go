package cmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/spf13/cobra"

	"github.com/odin-deploy/odin/pkg/config"
	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/deployer/awsprovider"
	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/release"
)

func newDeployerCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deployer",
		Short: "The reference deployer: install it on AWS, print its state machine or templates, run its Lambda",
		Long: `The reference deployer is a Step Functions state machine and one task handler behind
all of its Task states. The local backend runs both itself; on AWS, 'odin deployer install'
puts them there with CloudFormation (see 'odin deployer template').`,
	}
	// definition takes --region for the function's ARN; install and the
	// others open the backend.
	cmd.AddCommand(withBackendFlags(newDeployerDefinitionCmd(f), config.KeyRegion), newDeployerLambdaCmd(f), newDeployerTemplateCmd(f))
	for _, c := range newDeployerInstallCmds(f) {
		cmd.AddCommand(withBackendFlags(c))
	}
	return cmd
}

// DeployerDefinitionOptions are the inputs of `odin deployer definition`.
type DeployerDefinitionOptions struct {
	IO          *iostreams.IOStreams
	FunctionArn string
	Region      string
	Account     string
}

func newDeployerDefinitionCmd(f *Factory) *cobra.Command {
	opts := &DeployerDefinitionOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "definition",
		Short: "Print the deployer's state machine (Amazon States Language)",
		Long: `Print the deployer's state machine. Every Task state runs the one Lambda function
odin-deployer. Without --account or --function-arn, the definition has ${FunctionArn}
where that function's ARN goes.`,
		Example: "  odin deployer definition --account 123456789012 --region eu-west-1 > deployer.asl.json",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Region == "" && f.Settings != nil {
				opts.Region = f.Settings.Region
			}
			return deployerDefinitionRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.FunctionArn, "function-arn", "", "ARN of the task handler's Lambda function")
	cmd.Flags().StringVar(&opts.Account, "account", "", "AWS account of the odin-deployer function (with --region)")
	return cmd
}

func deployerDefinitionRun(opts *DeployerDefinitionOptions) error {
	arn := opts.FunctionArn
	if arn == "" && opts.Account != "" {
		if opts.Region == "" {
			return exitcode.UsageError(errors.New("--account needs a region: set --region, ODIN_REGION or the config file's region"))
		}
		arn = deployer.FunctionArn(opts.Region, opts.Account)
	}
	def := deployer.Template()
	if arn != "" {
		def = deployer.Definition(arn)
	}
	_, err := opts.IO.Out.Write(def)
	return err
}

func newDeployerLambdaCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "lambda",
		Example: "  odin deployer lambda   # as the Lambda runtime starts it; a bootstrap named odin needs no arguments",
		Short:   "Run the deployer's task handler as an AWS Lambda function",
		Long: `Serve the deployer's tasks through the AWS Lambda runtime API. This is the entry
point of the odin-deployer Lambda function (a custom runtime whose bootstrap runs
'odin deployer lambda'); it refuses to run outside Lambda.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return deployerLambdaRun(cmd.Context(), f)
		},
	}
}

// TargetRoleEnv names the Lambda's environment variable that holds the role
// the deployer assumes in each target account (default odin-deployer-target).
const TargetRoleEnv = "ODIN_TARGET_ROLE"

func deployerLambdaRun(ctx context.Context, f *Factory) error {
	if _, ok := f.Env("AWS_LAMBDA_RUNTIME_API"); !ok {
		return exitcode.UsageError(errors.New("deployer lambda runs inside AWS Lambda only (AWS_LAMBDA_RUNTIME_API is not set)"))
	}
	// The first task validates a release: compile its schema (a few
	// milliseconds) while the configuration loads and the runtime API
	// hands over the first invocation.
	go release.Prepare()
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS configuration: %w", err)
	}
	targetRole, _ := f.Env(TargetRoleEnv)
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	h := &deployer.Handler{
		Storage:    s3.NewFromConfig(cfg),
		Executions: sfn.NewFromConfig(cfg),
		// A Lambda task is not stopped with its execution.
		StoppedTaskGrace: deployer.MaxTaskAttempt(),
		// Target aws: the provider assumes the target role in each
		// release's account; S3 and Step Functions stay on this function's
		// own role. Target local needs a laptop, not a Lambda.
		Providers: map[string]deployer.Provider{"aws": awsprovider.New(awsprovider.Options{
			Clients: &awsprovider.Sessions{Base: cfg, RoleName: targetRole},
			Logger:  logger,
		})},
		Unsupported: map[string]string{"local": "target local runs on the local backend only (odin deploy without --backend aws)"},
		// No Account: it only checks target local releases, which this
		// deployer refuses, and asking STS for it would slow every cold start.
		Region: cfg.Region,
		Now:    time.Now,
		Logger: logger,
	}
	lambda.StartWithOptions(h.Invoke, lambda.WithContext(ctx))
	return nil
}
