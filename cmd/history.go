package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/odin-deploy/odin/pkg/config"
	"github.com/odin-deploy/odin/pkg/deploy"
	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/iostreams"
)

// HistoryOptions are the inputs of `odin history`.
type HistoryOptions struct {
	IO     *iostreams.IOStreams
	Now    func() time.Time
	Target targetFlags
	Arg    string
	All    bool
	Limit  int
	Status string
	Since  time.Duration
	JSON   bool
}

var historyStatuses = []string{"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}

func newHistoryCmd(f *Factory) *cobra.Command {
	opts := &HistoryOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "history [FILE]",
		Short: "List deploys, newest first: the audit trail",
		Long: `List the deployer's executions newest first: release, who deployed it, where
(account and region), when, how long, and the outcome. Every account a deployer serves
is in the one trail. With a release file (or --project/--release-config) only that project
and config; with --all every project.`,
		Example:           "  odin history examples/hello/release.yml\n  odin history --all --status FAILED --since 72h\n  odin history --all --output json",
		Args:              usageArgs(cobra.MaximumNArgs(1)),
		ValidArgsFunction: completeFiles,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Arg = args[0]
			}
			opts.Now = f.Now
			opts.JSON = f.Settings.Output == "json"
			opts.Status = strings.ToUpper(opts.Status)
			if opts.Status != "" && !contains(historyStatuses, opts.Status) {
				return exitcode.UsageError(fmt.Errorf("invalid --status %q (want one of: %s)", opts.Status, strings.Join(historyStatuses, ", ")))
			}
			if opts.Limit < 1 || opts.Limit > 1000 {
				return exitcode.UsageError(fmt.Errorf("invalid --limit %d (want 1 to 1000)", opts.Limit))
			}
			return historyRun(cmd.Context(), f, opts)
		},
	}
	opts.Target.register(cmd, "a release file, --project and --release-config, or --all")
	cmd.Flags().BoolVar(&opts.All, "all", false, "every project and config")
	cmd.Flags().IntVar(&opts.Limit, "limit", 20, "at most this many deploys")
	cmd.Flags().StringVar(&opts.Status, "status", "", "only this outcome: "+strings.Join(historyStatuses, ", "))
	cmd.Flags().DurationVar(&opts.Since, "since", 0, "only deploys started within this long (e.g. 72h)")
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(historyStatuses, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

func historyRun(ctx context.Context, f *Factory, opts *HistoryOptions) error {
	q := deploy.HistoryQuery{Status: opts.Status, Limit: opts.Limit}
	if opts.Since > 0 {
		q.Since = opts.Now().Add(-opts.Since)
	}
	// The arguments are checked before the backend is opened.
	var t *target
	switch {
	case opts.All && (opts.Arg != "" || opts.Target.Project != "" || opts.Target.Config != ""):
		return exitcode.UsageError(fmt.Errorf("--all lists every project and config: give it no release file, --project or --release-config (--account keeps one account)"))
	case opts.All:
		if opts.Target.Account != "" && !config.IsAccountID(opts.Target.Account) {
			return exitcode.UsageError(fmt.Errorf("--account %q is not an AWS account id (12 digits)", opts.Target.Account))
		}
		q.Account = opts.Target.Account
	default:
		var err error
		if t, err = parseTarget(opts.Arg, opts.Target); err != nil {
			return err
		}
		if t.Project == "" {
			return exitcode.UsageError(fmt.Errorf("history needs a release file, --project/--release-config or --all"))
		}
	}
	account := q.Account
	if t != nil {
		account = t.account()
	}
	b, err := f.Backend(ctx, false, account)
	if err != nil {
		return err
	}
	if t != nil {
		t.resolve(b)
		q.Project, q.Config, q.Account = t.Project, t.Config, t.scopeAccount
	}
	what := deploy.Scope{Account: q.Account, Project: q.Project, Config: q.Config}.String()
	if q.Project == "" {
		what = "any project"
		if q.Account != "" {
			what += " in account " + q.Account
		}
	}
	recs, err := deployClient(f, b).History(ctx, q)
	if err != nil {
		return err
	}
	if opts.JSON {
		enc := json.NewEncoder(opts.IO.Out)
		if recs == nil {
			recs = []deploy.Record{}
		}
		return enc.Encode(recs)
	}
	if len(recs) == 0 {
		fmt.Fprintf(opts.IO.ErrOut, "no deploys of %s found in %s\n", what, place(b.StateMachineArn))
		return nil
	}
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED\tPROJECT/CONFIG\tRELEASE\tACCOUNT/REGION\tDEPLOYED BY\tDURATION\tOUTCOME")
	for _, r := range recs {
		outcome := r.Status
		if r.Error != "" {
			outcome += " (" + r.Error + ")"
		}
		fmt.Fprintf(tw, "%s\t%s/%s\t%s\t%s/%s\t%s\t%s\t%s\n", r.Started.Local().Format("2006-01-02 15:04:05"),
			r.Project, r.Config, r.ReleaseID, r.Account, r.Region, shortCaller(r.DeployedBy), r.Duration, outcome)
	}
	return tw.Flush()
}

// shortCaller keeps the part of a caller ARN a person recognises.
func shortCaller(arn string) string {
	if i := strings.Index(arn, ":user/"); i >= 0 {
		return arn[i+6:]
	}
	if i := strings.Index(arn, ":assumed-role/"); i >= 0 {
		return arn[i+14:]
	}
	return arn
}
