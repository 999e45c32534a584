package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/spf13/cobra"

	"github.com/odin-deploy/odin/pkg/backend"
	"github.com/odin-deploy/odin/pkg/deployer/install"
	"github.com/odin-deploy/odin/pkg/deployer/lambdazip"
	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/progress"
	"github.com/odin-deploy/odin/pkg/ui"
)

// InstallOptions are the inputs of `odin deployer install`, `upgrade`,
// `status` and `uninstall`.
type InstallOptions struct {
	IO *iostreams.IOStreams
	// Target installs (or removes) the role in a target account instead of
	// the deployer.
	Target          bool
	DeployerAccount string
	DryRun          bool
	Yes             bool
	// Where the function's odin comes from (see lambdazip): a linux/arm64
	// binary, a release archive, or, by default, this binary or a
	// cross-compile of the source tree.
	Binary, Archive string
	Bucket          string
	TargetRoleName  string
	LogRetention    int
	AlarmTopicArn   string
	Timeout         time.Duration
	// Package builds the function's code; tests substitute it.
	Package func(ctx context.Context, opts *InstallOptions) (install.Code, error)
	// Poll is the wait between CloudFormation polls (tests shorten it).
	Poll time.Duration
	// Explicit names the stack parameters whose flags were given; the
	// others keep the installed stack's values.
	Explicit map[string]bool
}

// explicitParams maps the flags given on the command line to the stack
// parameters they set.
func explicitParams(cmd *cobra.Command) map[string]bool {
	m := map[string]bool{}
	for flag, param := range map[string]string{"releases-bucket": "BucketName", "target-role": "TargetRoleName",
		"log-retention": "LogRetentionDays", "alarm-topic": "AlarmTopicArn"} {
		if f := cmd.Flags().Lookup(flag); f != nil && f.Changed {
			m[param] = true
		}
	}
	return m
}

func newDeployerInstallCmds(f *Factory) []*cobra.Command {
	opts := &InstallOptions{IO: f.IO, Timeout: 30 * time.Minute, Package: packageCode}
	flags := func(c *cobra.Command, withCode bool) {
		c.Flags().BoolVar(&opts.Target, "target", false, "the role the deployer assumes in this (target) account, not the deployer itself")
		c.Flags().StringVar(&opts.DeployerAccount, "deployer-account", "", "with --target: the account the deployer runs in (12 digits)")
		c.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the change sets and change nothing")
		c.Flags().DurationVar(&opts.Timeout, "timeout", opts.Timeout, "how long one stack may take")
		if withCode {
			c.Flags().StringVar(&opts.Binary, "binary", "", "the odin binary for linux/arm64 to run as the function (default: this one, or a cross-compile of the source tree)")
			c.Flags().StringVar(&opts.Archive, "archive", "", "a release archive (odin_*_linux_arm64.tar.gz) to take the function's odin from")
			c.Flags().StringVar(&opts.Bucket, "releases-bucket", "", "name of the releases bucket to create (default odin-<account>-<region>)")
			c.Flags().StringVar(&opts.TargetRoleName, "target-role", "", "the role assumed in target accounts (default odin-deployer-target)")
			c.Flags().IntVar(&opts.LogRetention, "log-retention", 90, "days the function's logs are kept")
			c.Flags().StringVar(&opts.AlarmTopicArn, "alarm-topic", "", "an SNS topic ARN that an alarm on failed deploys notifies")
		}
	}
	installCmd := &cobra.Command{
		Use:   "install",
		Short: "Install (or update) the deployer on AWS: bucket, Lambda, roles, state machine, logs",
		Long: `Install the deployer in this account with CloudFormation, through change sets:
the stack odin-deployer-bucket (the releases bucket, kept on uninstall) and the stack
odin-deployer (the odin-deployer Lambda running this odin, its role, the state machine,
its role, a log group, and optionally an alarm). The function's code is uploaded to the
bucket under its SHA-256. With --target --deployer-account ID, install instead, in a
target account, the role odin-deployer-target that the deployer assumes there.

A second install with nothing changed says so and changes nothing; --dry-run prints
what would change. Uses --backend aws with --region, --profile and --endpoint.

Exit codes: 0 installed or unchanged, 1 a stack failed (rolled back), 2 bad usage.`,
		Example: `  odin --backend aws --region eu-west-1 deployer install --dry-run
  odin --backend aws deployer install
  odin --backend aws --profile target deployer install --target --deployer-account 111122223333`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Explicit = explicitParams(cmd)
			return installRun(cmd.Context(), f, opts, "install")
		},
	}
	flags(installCmd, true)
	upgrade := &cobra.Command{
		Use:   "upgrade",
		Short: "Update the installed deployer to this odin's version",
		Long: `An install of this odin: the function's code and the state machine become this
version's. Nothing changes when they already are.`,
		Example: "  odin --backend aws deployer upgrade --dry-run\n  odin --backend aws deployer upgrade",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Explicit = explicitParams(cmd)
			return installRun(cmd.Context(), f, opts, "upgrade")
		},
	}
	flags(upgrade, true)
	status := &cobra.Command{
		Use:     "status",
		Short:   "Show the deployer's stacks, its version against this odin's, and drift",
		Example: "  odin --backend aws deployer status\n  odin --backend aws deployer status --target",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return installStatusRun(cmd.Context(), f, opts)
		},
	}
	status.Flags().BoolVar(&opts.Target, "target", false, "the target role's stack in this account")
	uninstall := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove the deployer's stacks; the releases bucket is kept",
		Long: `Delete the stacks odin-deployer and odin-deployer-bucket (or, with --target, the
target role's stack). The releases bucket stays, with every release and lock in it: its
stack retains it, and odin says so.`,
		Example: "  odin --backend aws deployer uninstall --yes\n  odin --backend aws deployer uninstall --target --yes",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return uninstallRun(cmd.Context(), f, opts)
		},
	}
	uninstall.Flags().BoolVar(&opts.Target, "target", false, "remove the target role's stack in this account")
	uninstall.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	uninstall.Flags().DurationVar(&opts.Timeout, "timeout", opts.Timeout, "how long one stack may take")
	return []*cobra.Command{installCmd, upgrade, status, uninstall}
}

// requireAWS refuses the local backend, whose deployer is built in.
func requireAWS(f *Factory) error {
	if f.Settings.Backend != backend.AWS {
		return exitcode.UsageError(errors.New("the deployer is installed on AWS: run with --backend aws (and --region, --profile or --endpoint as needed); the local backend has its deployer built in"))
	}
	return nil
}

// stacksFor opens the aws backend and its CloudFormation.
func stacksFor(ctx context.Context, f *Factory, opts *InstallOptions) (*backend.Backend, *install.Stacks, error) {
	if err := requireAWS(f); err != nil {
		return nil, nil, err
	}
	b, err := f.Backend(ctx, true, "")
	if err != nil {
		return nil, nil, err
	}
	cf := cloudformation.NewFromConfig(b.Config, func(o *cloudformation.Options) {
		if b.Endpoint != "" {
			o.BaseEndpoint = aws.String(b.Endpoint)
		}
	})
	return b, &install.Stacks{CF: cf, Poll: opts.Poll, Timeout: opts.Timeout, Now: f.Now}, nil
}

func installRun(ctx context.Context, f *Factory, opts *InstallOptions, verb string) error {
	if opts.Target && opts.DeployerAccount == "" {
		return exitcode.UsageError(errors.New("--target needs --deployer-account: the 12-digit account the deployer runs in, which the role will trust"))
	}
	if !opts.Target && opts.DeployerAccount != "" {
		return exitcode.UsageError(errors.New("--deployer-account goes with --target"))
	}
	if opts.Binary != "" && opts.Archive != "" {
		return exitcode.UsageError(errors.New("--binary and --archive cannot be used together"))
	}
	if a := opts.DeployerAccount; opts.Target && (len(a) != 12 || strings.Trim(a, "0123456789") != "") {
		return exitcode.UsageError(fmt.Errorf("--deployer-account must be the deployer's 12-digit account, not %q", a))
	}
	// Package before anything reaches AWS: a binary that cannot be the
	// function is a bad argument, and nothing is changed. But not for a
	// backend it cannot go to: packaging compiles odin.
	if err := requireAWS(f); err != nil {
		return err
	}
	var code install.Code
	if !opts.Target {
		var err error
		if code, err = opts.Package(ctx, opts); err != nil {
			return exitcode.UsageError(fmt.Errorf("package the deployer function: %w", err))
		}
	}
	b, st, err := stacksFor(ctx, f, opts)
	if err != nil {
		return err
	}
	status := newStatusLine(f)
	status.Println(b.Describe())
	ctx, view := newStackView(ctx, f, b, verb, opts.Target)
	var rep *install.Report
	if opts.Target {
		rep, err = install.InstallTarget(ctx, st, install.Target{Version: version, DeployerAccount: opts.DeployerAccount, RoleName: opts.TargetRoleName}, opts.DryRun, view.event)
	} else {
		rep, err = install.InstallDeployer(ctx, st, b.S3, install.Deployer{
			Version: version, Account: b.Account, Region: b.Region, Bucket: opts.Bucket, TargetRoleName: opts.TargetRoleName,
			LogRetentionDays: opts.LogRetention, AlarmTopicArn: opts.AlarmTopicArn, Explicit: opts.Explicit,
			Code: func(context.Context) (install.Code, error) { return code, nil },
		}, opts.DryRun, view.event)
	}
	return view.outcome(verb, rep, err, opts.DryRun)
}

func uninstallRun(ctx context.Context, f *Factory, opts *InstallOptions) error {
	b, st, err := stacksFor(ctx, f, opts)
	if err != nil {
		return err
	}
	newStatusLine(f).Println(b.Describe())
	what := "the deployer's stacks " + install.DeployerStack + " and " + install.BucketStack + " (the releases bucket is kept)"
	if opts.Target {
		what = "the target role's stack " + install.TargetStack + " (the deployer can no longer deploy to this account)"
	}
	if err := confirm(opts.IO, opts.Yes, "Delete "+what+" in account "+b.Account+" "+b.Region+"?"); err != nil {
		return err
	}
	ctx, view := newStackView(ctx, f, b, "uninstall", opts.Target)
	rep, err := install.Uninstall(ctx, st, opts.Target, "odin-"+b.Account+"-"+b.Region, view.event)
	return view.outcome("uninstall", rep, err, false)
}

func installStatusRun(ctx context.Context, f *Factory, opts *InstallOptions) error {
	b, st, err := stacksFor(ctx, f, opts)
	if err != nil {
		return err
	}
	names := []string{install.BucketStack, install.DeployerStack}
	if opts.Target {
		names = []string{install.TargetStack}
	}
	type stackStatus struct {
		*install.Info
		Drift string `json:"drift,omitempty"`
	}
	var out []stackStatus
	missing := 0
	for _, n := range names {
		info, err := st.Describe(ctx, n)
		if err != nil {
			return err
		}
		if info == nil && n == install.BucketStack {
			// An uninstall keeps the bucket; a reinstall uses it without its stack.
			bucket := "odin-" + b.Account + "-" + b.Region
			if _, err := b.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err == nil {
				out = append(out, stackStatus{Info: &install.Info{Name: n, Status: install.Retained, Outputs: map[string]string{"BucketName": bucket}}})
				continue
			}
		}
		if info == nil {
			missing++
			out = append(out, stackStatus{Info: &install.Info{Name: n, Status: "NOT_INSTALLED"}})
			continue
		}
		out = append(out, stackStatus{Info: info, Drift: st.Drift(ctx, n)})
	}
	installed := ""
	for _, s := range out {
		if v := s.Params["Version"]; v != "" {
			installed = v
		}
	}
	if f.Settings.Output == "json" {
		enc := json.NewEncoder(f.IO.Out)
		if err := enc.Encode(map[string]any{"account": b.Account, "region": b.Region, "stacks": out, "deployer_version": installed, "cli_version": version}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(f.IO.Out, "account %s · region %s\n", b.Account, b.Region)
		for _, s := range out {
			line := fmt.Sprintf("  %-22s %s", s.Name, s.Status)
			if s.Drift != "" {
				line += " · drift " + s.Drift
			}
			fmt.Fprintln(f.IO.Out, line)
		}
		if !opts.Target {
			switch {
			case installed == "":
			case installed == version:
				fmt.Fprintf(f.IO.Out, "deployer version %s, the same as this odin\n", installed)
			default:
				fmt.Fprintf(f.IO.Out, "deployer version %s, this odin is %s: odin --backend aws deployer upgrade\n", installed, version)
			}
		}
	}
	if missing > 0 {
		hint := "odin --backend aws deployer install"
		if opts.Target {
			hint += " --target --deployer-account ACCOUNT"
		}
		return exitcode.New(exitcode.Failed, fmt.Errorf("not installed in account %s %s: %s", b.Account, b.Region, hint))
	}
	return nil
}

// stackView draws stack events as they come, and the outcome, with
// deploy's exit codes: on a terminal the live table (ui.StackView),
// otherwise one line each, or one JSON object each with --output json.
type stackView struct {
	mu     sync.Mutex
	out    io.Writer
	errOut io.Writer
	json   bool
	quiet  bool
	tui    *ui.StackView // nil unless the output is the TUI
	// ctx is the stack operation's: done when the user stops watching
	// (ctrl-c), and then the outcome says the stacks go on.
	ctx context.Context
	// watch is the command that shows the stacks after odin stops watching.
	watch string
}

// newStackView picks the renderer the way deploys do (--output, a
// terminal, --quiet) and returns the context the stack operation runs in.
func newStackView(ctx context.Context, f *Factory, b *backend.Backend, verb string, target bool) (context.Context, *stackView) {
	command, watch := "odin deployer "+verb, "odin --backend aws --region "+b.Region+" deployer status"
	if target {
		command += " --target"
		watch += " --target"
	}
	v := &stackView{out: f.IO.Out, errOut: f.IO.ErrOut, json: f.Settings.Output == "json", quiet: f.Settings.Quiet, ctx: ctx, watch: watch}
	mode, err := ui.ParseMode(f.Settings.Output)
	if err != nil || v.json {
		return ctx, v
	}
	if (ui.Options{Mode: mode, IO: f.IO, Quiet: f.Settings.Quiet}).Resolve() == ui.ModeTUI {
		v.tui, v.ctx = ui.StartStacks(ctx, ui.StackHeader{Command: command, Account: b.Account, Region: b.Region}, ui.Options{IO: f.IO, Now: f.Now})
	}
	return v.ctx, v
}

func (v *stackView) event(e install.Event) {
	if v.tui != nil {
		v.tui.Event(ui.StackEvent(e))
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.json {
		_ = json.NewEncoder(v.out).Encode(map[string]any{"type": "event", "event": e})
		return
	}
	if v.quiet {
		return
	}
	line := fmt.Sprintf("%s  %-22s %-30s %-32s %s", e.Time.UTC().Format("15:04:05"), e.Stack, e.LogicalID+" ("+e.Type+")", e.Status, "")
	if e.Reason != "" {
		line = strings.TrimRight(line, " ") + "  " + e.Reason
	}
	fmt.Fprintln(v.out, strings.TrimRight(line, " "))
}

func (v *stackView) outcome(verb string, rep *install.Report, err error, dryRun bool) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	code := exitcode.OK
	status, text := "SUCCEEDED", ""
	switch {
	case err != nil && v.ctx.Err() != nil:
		code, status, text = exitcode.Running, "RUNNING", verb+": odin stopped watching; a stack operation already started goes on in CloudFormation"
	case err != nil:
		code, status, text = exitcode.Failed, "FAILED", verb+" failed: "+err.Error()
	case dryRun:
		status, text = "DRY_RUN", dryRunText(rep)
	case rep != nil && !rep.Changed():
		status, text = "UNCHANGED", "nothing to do: every stack is as this odin ("+version+") would make it"
	default:
		text = verb + " complete: " + summary(rep)
	}
	var changes, kept []string
	if dryRun && rep != nil {
		changes = changeLines(rep)
	}
	if rep != nil {
		for _, k := range rep.Kept {
			kept = append(kept, "kept "+k)
		}
	}
	plain := func() {
		for _, l := range append(append(changes, text), kept...) {
			fmt.Fprintln(v.out, l)
		}
	}
	switch {
	case v.json:
		_ = json.NewEncoder(v.out).Encode(map[string]any{"type": "outcome", "status": status, "exit_code": code, "text": text, "report": rep})
	case v.tui != nil:
		if ferr := v.tui.Finish(progress.Verdict{Status: status, Code: code, Text: text}, append(changes, kept...)); ferr != nil {
			fmt.Fprintln(v.errOut, ferr)
			plain() // the live view could not run: the outcome still shows
		}
	default:
		plain()
	}
	switch {
	case code == exitcode.Running:
		fmt.Fprintf(v.errOut, "A stack operation already started goes on in CloudFormation. Watch the stacks with:\n  %s\n", v.watch)
		return exitcode.New(exitcode.Running, nil)
	case err != nil:
		return exitcode.New(exitcode.Failed, err)
	}
	return nil
}

// changeLines are a dry run's change sets, a stack's changes under it.
func changeLines(rep *install.Report) []string {
	var out []string
	for _, s := range rep.Stacks {
		out = append(out, fmt.Sprintf("%s: %s", s.Stack, changeLine(s)))
		for _, k := range slices.Sorted(maps.Keys(s.Params)) {
			out = append(out, fmt.Sprintf("  param   %-28s %s", k, s.Params[k]))
		}
		for _, c := range s.Changes {
			r := ""
			if c.Replacement != "" && c.Replacement != "False" {
				r = " (replacement: " + c.Replacement + ")"
			}
			out = append(out, fmt.Sprintf("  %-7s %-28s %s%s", c.Action, c.LogicalID, c.Type, r))
		}
	}
	return out
}

func changeLine(r *install.Result) string {
	switch {
	case !r.Changed:
		return "no changes"
	case len(r.Changes) == 1:
		return "1 change"
	}
	return fmt.Sprintf("%d changes", len(r.Changes))
}

func dryRunText(rep *install.Report) string {
	if rep == nil || !rep.Changed() {
		return "dry run: nothing would change"
	}
	return "dry run: nothing was changed; run without --dry-run to apply these change sets"
}

func summary(rep *install.Report) string {
	if rep == nil {
		return ""
	}
	var parts []string
	for _, s := range rep.Stacks {
		st := s.Status
		switch {
		case st == install.Retained:
			st += " (the bucket an uninstall kept, used as it is)"
		case !s.Changed:
			st = "unchanged"
		}
		parts = append(parts, s.Stack+" "+st)
	}
	if rep.CodeKey != "" {
		verb := "already in"
		if rep.Uploaded {
			verb = "uploaded to"
		}
		parts = append(parts, fmt.Sprintf("function code (sha256 %s, %s) %s s3://%s/%s", rep.CodeSHA256[:12], rep.CodeFrom, verb, rep.Bucket, rep.CodeKey))
	}
	return strings.Join(parts, "; ")
}

// packageCode builds the function's zip from --binary, --archive, this
// binary on linux/arm64, or a cross-compile of the source tree.
func packageCode(ctx context.Context, opts *InstallOptions) (install.Code, error) {
	zip, _, from, err := lambdazip.Build(ctx, lambdazip.Source{Binary: opts.Binary, Archive: opts.Archive, Version: version})
	if err != nil {
		return install.Code{}, err
	}
	return install.Code{Zip: zip, From: from}, nil
}
