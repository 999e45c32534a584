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
	"github.com/spf13/cobra"

	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/deploy"
	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/iostreams"
)

// UnlockOptions are the inputs of `odin unlock`.
type UnlockOptions struct {
	IO     *iostreams.IOStreams
	Now    func() time.Time
	Target targetFlags
	Arg    string
	Yes    bool
	Force  bool
	JSON   bool
}

// UnlockResult is what `odin unlock --output json` writes: the lock it found
// (none when none is held) and whether it deleted it. A refusal is an error
// object instead.
type UnlockResult struct {
	Type string `json:"type"` // "unlock"
	// Key is the lock's s3:// URL.
	Key     string         `json:"key"`
	Held    bool           `json:"held"`
	Lock    *contract.Lock `json:"lock,omitempty"`
	Status  string         `json:"execution_status,omitempty"`
	Deleted bool           `json:"deleted"`
}

func newUnlockCmd(f *Factory) *cobra.Command {
	opts := &UnlockOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "unlock [FILE]",
		Short: "Clear a stale deploy lock",
		Long: `Show who holds the deploy lock of a project and config, and delete it after you
confirm. The delete is conditional: if another deploy takes the lock meanwhile, nothing
is removed. A lock held by a deploy that is still running, or whose deploy cannot be
looked up (no permission, throttling, the network), is refused unless --force.`,
		Example:           "  odin unlock examples/hello/release.yml\n  odin unlock --project hello --release-config development --yes",
		Args:              usageArgs(cobra.MaximumNArgs(1)),
		ValidArgsFunction: completeFiles,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Arg = args[0]
			}
			opts.Now = f.Now
			opts.JSON = f.Settings.Output == "json"
			return unlockRun(cmd.Context(), f, opts)
		},
	}
	opts.Target.register(cmd, "a release file, or --project and --release-config")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "clear the lock even if its deploy is still running or cannot be looked up")
	return cmd
}

func unlockRun(ctx context.Context, f *Factory, opts *UnlockOptions) error {
	t, b, err := openTarget(ctx, f, opts.Arg, opts.Target, false)
	if err != nil {
		return err
	}
	if t.Project == "" {
		return exitcode.UsageError(errors.New("unlock needs a release file or --project/--release-config, not an execution"))
	}
	c := deployClient(f, b)
	lock, err := c.ReadLock(ctx, t.Account, t.Project, t.Config)
	if errors.Is(err, deploy.ErrNoLock) && opts.JSON {
		return json.NewEncoder(opts.IO.Out).Encode(UnlockResult{Type: "unlock", Key: "s3://" + b.Bucket + "/" + contract.LockKey(t.Account, t.Project, t.Config)})
	}
	if errors.Is(err, deploy.ErrNoLock) {
		fmt.Fprintf(opts.IO.Out, "no lock is held for %s (s3://%s/%s); --account looks in another account\n",
			deploy.Scope{Account: t.Account, Project: t.Project, Config: t.Config}, b.Bucket, contract.LockKey(t.Account, t.Project, t.Config))
		return nil
	}
	if err != nil {
		return err
	}
	age := "unknown age"
	if at, err := time.Parse(time.RFC3339, lock.AcquiredAt); err == nil {
		age = opts.Now().Sub(at).Round(time.Second).String() + " old"
	}
	// Ask about the holder before showing the lock, so the summary says
	// whether it still runs.
	status, describeErr := "", error(nil)
	if lock.Execution != "" {
		d, err := b.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(lock.Execution)})
		var gone *sfntypes.ExecutionDoesNotExist
		switch {
		case err == nil:
			status = string(d.Status)
		case errors.As(err, &gone):
			status = "does not exist"
		default:
			status, describeErr = "unknown", err
		}
	}
	execution := lock.Execution
	if status != "" {
		execution += " (" + status + ")"
	}
	result := UnlockResult{Type: "unlock", Key: "s3://" + b.Bucket + "/" + lock.Key, Held: true, Lock: &lock.Lock, Status: status}
	report := opts.IO.Out
	if opts.JSON {
		report = opts.IO.ErrOut // stdout has the one object
	}
	fmt.Fprintf(report, "lock s3://%s/%s\n  release   %s\n  held by   %s\n  execution %s\n  acquired  %s (%s)\n",
		b.Bucket, lock.Key, lock.ReleaseID, lock.Owner, execution, lock.AcquiredAt, age)

	if !opts.Force {
		switch {
		case status == string(sfntypes.ExecutionStatusRunning) || status == string(sfntypes.ExecutionStatusPendingRedrive):
			name := executionName(lock.Execution)
			return exitcode.New(exitcode.Failed, fmt.Errorf("the lock belongs to a deploy that is still running (%s); halt it with `odin halt %s`, or pass --force", name, name))
		case describeErr != nil:
			// Without its status the holder may still be running: wrong
			// region, no permission, throttling or the network say nothing.
			return exitcode.New(exitcode.Failed, fmt.Errorf("cannot tell whether the lock's execution %s is still running: %w; --force deletes the lock anyway", lock.Execution, describeErr))
		}
	}
	if err := confirm(opts.IO, opts.Yes, "Delete this lock?"); err != nil {
		return err
	}
	if err := c.Unlock(ctx, lock); err != nil {
		return err
	}
	if opts.JSON {
		result.Deleted = true
		return json.NewEncoder(opts.IO.Out).Encode(result)
	}
	fmt.Fprintln(opts.IO.Out, "lock deleted")
	return nil
}
