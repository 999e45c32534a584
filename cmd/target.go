package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
	"github.com/spf13/cobra"

	"github.com/odin-deploy/odin/pkg/backend"
	"github.com/odin-deploy/odin/pkg/config"
	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/deploy"
	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/release"
)

// targetFlags name a project and config without a release file.
type targetFlags struct {
	Project string
	Config  string
	Account string
	// takes is what the command takes, for a usage error's hint.
	takes string
}

// register adds the flags to cmd; takes says what cmd takes in all (an
// execution, a release file, these flags).
func (t *targetFlags) register(cmd *cobra.Command, takes string) {
	t.takes = takes
	cmd.Flags().StringVar(&t.Project, "project", "", "project name (instead of a release file)")
	cmd.Flags().StringVar(&t.Config, "release-config", "", "the release's config_name (with --project)")
	// The old name, kept working: beside --config (the config file) it
	// read as one of its options.
	cmd.Flags().StringVar(&t.Config, "config-name", "", "the release's config_name (with --project); now --release-config")
	_ = cmd.Flags().MarkHidden("config-name")
	cmd.Flags().StringVar(&t.Account, "account", "", "AWS account of --project (picks its role from account-roles; default: the caller's)")
	_ = cmd.RegisterFlagCompletionFunc("project", cobra.NoFileCompletions)
	_ = cmd.RegisterFlagCompletionFunc("release-config", cobra.NoFileCompletions)
	_ = cmd.RegisterFlagCompletionFunc("config-name", cobra.NoFileCompletions)
	_ = cmd.RegisterFlagCompletionFunc("account", cobra.NoFileCompletions)
}

// target is what a command's argument resolved to.
type target struct {
	// Account is the account of the project and config: the release's
	// aws_account_id, --account, else (once resolved) the caller's.
	Project, Config, Account string
	// ExecutionArn is set when the argument named an execution.
	ExecutionArn string
	// File is set when the argument (or the current directory) gave a release file.
	File *release.File
	// scopeAccount keeps other accounts' deploys of the project and config
	// out: the release's account, or --account; empty matches every account.
	scopeAccount string
	// executionName is an execution named without its ARN, which needs the
	// backend's state machine.
	executionName string
}

// scope is what the target's project and config mean to pkg/deploy.
func (t *target) scope() deploy.Scope {
	return deploy.Scope{Account: t.scopeAccount, Project: t.Project, Config: t.Config}
}

// account is the AWS account the target names, if it does (--account, a
// release's aws_account_id, an execution ARN's account): it picks the role
// odin assumes.
func (t *target) account() string {
	if t.Account != "" {
		return t.Account
	}
	return arnAccount(t.ExecutionArn)
}

// arnAccount is the account field of an ARN ("" when it has none).
func arnAccount(arn string) string {
	if parts := strings.Split(arn, ":"); len(parts) > 4 {
		return parts[4]
	}
	return ""
}

// defaultReleaseFiles are looked for in the current directory when a command
// is given neither an argument nor --project.
var defaultReleaseFiles = []string{"release.yml", "release.yaml"}

// openTarget reads what the user pointed at, then opens the backend for it
// (with the role of the account it names) and fills in what only the
// backend knows. A bad argument is reported before anything is opened or
// started.
func openTarget(ctx context.Context, f *Factory, arg string, flags targetFlags, identity bool) (*target, *backend.Backend, error) {
	t, err := parseTarget(arg, flags)
	if err != nil {
		return nil, nil, err
	}
	b, err := f.Backend(ctx, identity, t.account())
	if err != nil {
		return nil, nil, err
	}
	t.resolve(b)
	return t, b, nil
}

// parseTarget reads what the user pointed at: an execution ARN or name, a
// release file, --project/--release-config, or a release file in the current
// directory. It needs no backend.
func parseTarget(arg string, flags targetFlags) (*target, error) {
	switch {
	case arg != "" && (flags.Project != "" || flags.Config != "" || flags.Account != ""):
		return nil, exitcode.UsageError(errors.New("give an execution or release file, or --project/--release-config/--account, not both"))
	case flags.Account != "" && flags.Project == "":
		return nil, exitcode.UsageError(errors.New("--account needs --project and --release-config"))
	case flags.Account != "" && !config.IsAccountID(flags.Account):
		return nil, exitcode.UsageError(fmt.Errorf("--account %q is not an AWS account id (12 digits)", flags.Account))
	case strings.HasPrefix(arg, "arn:"):
		if !strings.Contains(arg, ":execution:") {
			return nil, exitcode.UsageError(fmt.Errorf("%s is not an execution ARN", arg))
		}
		return &target{ExecutionArn: arg}, nil
	case arg != "" && isReleaseFile(arg):
		return targetFromFile(arg)
	case arg != "":
		return &target{executionName: arg}, nil
	case flags.Project != "":
		if flags.Config == "" {
			return nil, exitcode.UsageError(errors.New("--project needs --release-config"))
		}
		return &target{Project: flags.Project, Config: flags.Config, Account: flags.Account, scopeAccount: flags.Account}, nil
	case flags.Config != "":
		return nil, exitcode.UsageError(errors.New("--release-config needs --project"))
	}
	for _, name := range defaultReleaseFiles {
		if _, err := os.Stat(name); err == nil {
			return targetFromFile(name)
		}
	}
	return nil, exitcode.UsageError(errors.New("no release file here (release.yml or release.yaml): give " + flags.takes))
}

// defaultReleaseFile is the release file in the current directory, for a
// command given none; usage is how to give one ("odin deploy FILE").
func defaultReleaseFile(usage string) (string, error) {
	for _, name := range defaultReleaseFiles {
		if _, err := os.Stat(name); err == nil {
			return name, nil
		}
	}
	return "", exitcode.UsageError(errors.New("no release file here (release.yml or release.yaml): give one: " + usage))
}

// resolve fills in what needs the backend: an execution name's ARN, and the
// caller's account where the target names none. A release without
// aws_account_id deploys to the caller's account (deploy.Client.Plan), so
// that is its scope too.
func (t *target) resolve(b *backend.Backend) {
	if t.executionName != "" {
		t.ExecutionArn = contract.ExecutionArn(b.StateMachineArn, t.executionName)
	}
	if t.Project != "" && t.Account == "" {
		t.Account = b.Account
		if t.File != nil {
			t.scopeAccount = t.Account
		}
	}
}

func isReleaseFile(arg string) bool {
	ext := strings.ToLower(filepath.Ext(arg))
	if ext == ".yml" || ext == ".yaml" {
		return true
	}
	st, err := os.Stat(arg)
	return err == nil && st.Mode().IsRegular()
}

func targetFromFile(path string) (*target, error) {
	f, err := release.Load(path)
	if err != nil {
		return nil, releaseError(err)
	}
	account := f.Release.AWSAccountID
	return &target{Project: f.Release.ProjectName, Config: f.Release.ConfigName, Account: account, File: f, scopeAccount: account}, nil
}

// releaseError gives an invalid release exit code 2 and prints every problem.
func releaseError(err error) error {
	var problems release.Problems
	if errors.As(err, &problems) {
		return exitcode.New(exitcode.Usage, fmt.Errorf("invalid release:\n%w", problems))
	}
	return exitcode.New(exitcode.Usage, err)
}

// execution finds the execution a target means: the one it names, else the
// running (or latest) one of its project and config.
func (t *target) execution(ctx context.Context, c *deploy.Client, failedOnly bool) (string, error) {
	if t.ExecutionArn != "" {
		return t.ExecutionArn, nil
	}
	find := c.Current
	what := "no deploy"
	if failedOnly {
		find = c.LatestFailed
		what = "no failed deploy"
	}
	item, ok, err := find(ctx, t.scope())
	if err != nil {
		return "", err
	}
	if !ok {
		return "", exitcode.New(exitcode.Failed, fmt.Errorf("%s of %s in %s", what, t.scope(), place(c.StateMachineArn)))
	}
	return aws.ToString(item.ExecutionArn), nil
}

// describeError explains a failed DescribeExecution. An execution that does
// not exist is a bad argument (exit 2), and the message says where odin
// looked: the usual cause is another region, account or backend.
// caller is the account odin's credentials are for: when the execution is
// in another, the message says so (the fix is a role there).
func describeError(arn, caller string, err error) error {
	name := executionName(arn)
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ExecutionDoesNotExist", "AccessDeniedException":
			as := ""
			if in := arnAccount(arn); caller != "" && in != caller {
				as = fmt.Sprintf(" (asked with account %s's credentials: account-roles or --assume-role give a role in account %s)", caller, in)
			}
			if ae.ErrorCode() == "AccessDeniedException" {
				// Permissions, not usage: exit 1, as documented.
				return fmt.Errorf("not allowed to read execution %s in %s%s: %s", name, place(arn), as, ae.ErrorMessage())
			}
			return exitcode.UsageError(fmt.Errorf("no execution %s in %s%s; odin history lists the deploys there, and --backend, --region and --account choose where odin looks", name, place(arn), as))
		case "InvalidArn":
			return exitcode.UsageError(fmt.Errorf("%s is not an execution name or ARN: %s", name, ae.ErrorMessage()))
		}
	}
	return fmt.Errorf("describe execution %s: %w", name, err)
}

// place names the state machine, account and region of a state machine's
// ARN, or of one of its executions' (arn:PARTITION:states:REGION:ACCOUNT:
// stateMachine|execution:MACHINE[:NAME]).
func place(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) < 7 {
		return "state machine " + arn
	}
	return fmt.Sprintf("state machine %s (account %s, region %s)", parts[6], parts[4], parts[3])
}

// deployClient is the deploy client for a backend.
func deployClient(f *Factory, b *backend.Backend) *deploy.Client {
	return &deploy.Client{
		Storage:         b.S3,
		Executions:      b.SFN,
		Bucket:          b.Bucket,
		StateMachineArn: b.StateMachineArn,
		Account:         b.Account,
		Region:          b.Region,
		Now:             f.Now,
	}
}
