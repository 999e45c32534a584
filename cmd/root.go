// Package cmd holds odin's cobra commands: each parses flags into an Options
// value and hands it to a run function; Execute decides the exit code.
package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/cobra"

	"github.com/odin-deploy/odin/pkg/backend"
	"github.com/odin-deploy/odin/pkg/config"
	"github.com/odin-deploy/odin/pkg/deploy"
	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/local/access"
)

// Build information, stamped by the linker (see .goreleaser.yml), else
// read from the binary's build info (stampFromBuildInfo).
var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

// Factory holds what commands share for one invocation. Fields are filled in
// by the root command before any sub-command runs.
type Factory struct {
	IO  *iostreams.IOStreams
	Env config.Env
	Now func() time.Time

	// Settings is resolved in the root's PersistentPreRunE: flags, ODIN_* env,
	// config file, defaults.
	Settings *config.Settings

	// StartLocal returns the endpoint of the local backend, starting it when
	// none runs. Tests point it at an in-process server.
	StartLocal func(ctx context.Context, dataDir string) (access.Endpoint, error)
	// HTTPClient, when set, carries every AWS call (tests count them).
	HTTPClient aws.HTTPClient
}

// Backend opens the configured backend. identity asks for the caller's ARN,
// which only writers need.
//
// account is the AWS account the command is about, when known (a release's
// or an execution's): it picks the role to assume from account-roles.
func (f *Factory) Backend(ctx context.Context, identity bool, account string) (*backend.Backend, error) {
	dataDir := f.Settings.DataDir
	if dataDir == "" {
		dataDir = config.DefaultDataDir(f.Env)
	}
	var trace io.Writer
	if f.Settings.Verbose {
		trace = f.IO.ErrOut
	}
	b, err := backend.Open(ctx, backend.Options{
		Trace:      trace,
		Settings:   f.Settings,
		Identity:   identity,
		Account:    account,
		HTTPClient: f.HTTPClient,
		StartLocal: func(ctx context.Context) (access.Endpoint, error) {
			if f.StartLocal == nil {
				return access.Endpoint{}, errors.New("the local backend is not available in this build")
			}
			return f.StartLocal(ctx, dataDir)
		},
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Execute runs odin with the process's arguments and returns the exit code.
func Execute() int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	holdCollection(os.LookupEnv, holdFor, holdUpTo)
	stampFromBuildInfo()
	f := &Factory{IO: iostreams.System(), Env: os.LookupEnv, Now: time.Now, StartLocal: StartLocalBackend}
	// The one other place odin exits: a command that does not end when
	// asked (blocked where its context cannot reach) must not keep the
	// terminal.
	go endOnSignals(sigs, cancel, interruptGrace, f.IO.ErrOut, os.Exit)
	return Run(ctx, f, commandArgs(os.Args, os.LookupEnv))
}

// interruptGrace is how long a command has to end after SIGINT or SIGTERM
// before odin exits without it.
const interruptGrace = 5 * time.Second

// endOnSignals makes SIGINT and SIGTERM always end odin: the first cancels
// the command's context, which ends it cleanly (a watched deploy says how
// to attach again and exits 5); a second signal, or the command still
// running after grace, exits at once with 128 + the signal's number (130 for
// SIGINT, 143 for SIGTERM), as shells report a process a signal ended.
func endOnSignals(sigs <-chan os.Signal, cancel func(), grace time.Duration, errOut io.Writer, exit func(int)) {
	first := <-sigs
	cancel()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	why := "did not stop within " + grace.String()
	select {
	case s := <-sigs:
		why = "got " + signalName(s) + " again"
	case <-timer.C:
	}
	fmt.Fprintf(errOut, "odin: %s: %s, exiting now\n", signalName(first), why)
	exit(exitcode.Signalled(first))
}

func signalName(s os.Signal) string {
	if s == syscall.SIGTERM {
		return "SIGTERM"
	}
	if s == os.Interrupt {
		return "SIGINT"
	}
	return s.String()
}

// commandArgs is the command line odin runs from argv. Lambda starts a custom
// runtime's bootstrap with no arguments; when that bootstrap is odin itself
// (named bootstrap in the deployment package, or started by the Lambda
// runtime), it is the deployer's task handler.
func commandArgs(argv []string, env config.Env) []string {
	if len(argv) > 1 {
		return argv[1:]
	}
	api, _ := env("AWS_LAMBDA_RUNTIME_API")
	if api != "" || len(argv) == 1 && filepath.Base(argv[0]) == "bootstrap" {
		return []string{"deployer", "lambda"}
	}
	return nil
}

// Run runs odin with args against f and returns the exit code; tests call it.
func Run(ctx context.Context, f *Factory, args []string) int {
	root := NewRootCmd(f)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var ambiguous *deploy.AccountsError
	if errors.As(err, &ambiguous) {
		err = exitcode.UsageError(err) // the user must say which account
	}
	if err != nil {
		var ee *exitcode.Error
		if msg := err.Error(); msg != "" && !(errors.As(err, &ee) && ee.Err == nil) {
			if wantsJSON(f, args) {
				writeJSONError(f.IO.Out, exitcode.Of(err), msg)
			} else {
				fmt.Fprintf(f.IO.ErrOut, "odin: %s\n", msg)
				annotateError(f, err, msg)
			}
		}
	}
	return exitcode.Of(err)
}

// JSONError is how every command reports an error with --output json: one
// object on stdout, whatever came before it.
type JSONError struct {
	Type    string `json:"type"` // "error"
	Code    int    `json:"code"` // the exit code
	Message string `json:"message"`
}

func writeJSONError(w io.Writer, code int, msg string) {
	_ = json.NewEncoder(w).Encode(JSONError{Type: "error", Code: code, Message: msg})
}

// wantsJSON says whether the invocation asked for JSON output: from the
// settings once they loaded, else (a bad flag, say) from the command line
// and ODIN_OUTPUT as they stand.
func wantsJSON(f *Factory, args []string) bool {
	if f.Settings != nil {
		return f.Settings.Output == "json"
	}
	for i, a := range args {
		if a == "--output=json" || a == "--output" && i+1 < len(args) && args[i+1] == "json" {
			return true
		}
	}
	v, _ := f.Env("ODIN_OUTPUT")
	return v == "json"
}

// NewRootCmd builds the command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "odin",
		Short: "Validate, release and watch deploys run by AWS Step Functions",
		Long: `odin validates a release file, uploads it to S3 with its SHA-256, starts the
deployer state machine and shows every step live, with the error where it happened.

With no AWS account, odin runs deploys on an embedded local backend that speaks the
S3 and Step Functions APIs on loopback (the default backend). --backend aws talks to AWS.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionDetail(),
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			s, err := config.Load(cmd.Flags(), f.Env)
			if err != nil {
				return exitcode.UsageError(err)
			}
			f.Settings = s
			if s.NoColor {
				f.IO.SetColorEnabled(false)
			}
			return nil
		},
	}
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetIn(f.IO.In)
	config.RegisterFlags(root.PersistentFlags())
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return exitcode.UsageError(err) })
	// No SetVersionTemplate: a template anywhere keeps the linker from
	// dropping unused methods (see usage). Cobra prints "odin version " and
	// Version, which is versionLine.

	root.AddGroup(
		&cobra.Group{ID: "deploy", Title: "Deploys:"},
		&cobra.Group{ID: "release", Title: "Release files:"},
		&cobra.Group{ID: "backend", Title: "Backends and the deployer:"},
	)
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add("deploy", withBackendFlags(newDeployCmd(f)), withBackendFlags(newStatusCmd(f)), withBackendFlags(newFailCmd(f)),
		withBackendFlags(newHaltCmd(f)), withBackendFlags(newUnlockCmd(f)), withBackendFlags(newHistoryCmd(f)))
	add("release", newValidateCmd(f), newSchemaCmd(f))
	// The local backend's commands need its data directory only.
	add("backend", withBackendFlags(newLocalCmd(f), config.KeyDataDir), newDeployerCmd(f), withBackendFlags(newConfigCmd(f)))
	root.AddCommand(newVersionCmd(f), newCompletionCmd(f), newExitCodesCmd(f), newJSONFormatCmd(f), newGenDocsCmd(f))
	rejectUnknownCommands(root)
	root.SetUsageFunc(usage)
	root.SetHelpFunc(groupedHelp(root.HelpFunc()))
	return root
}

// withBackendFlags gives c (and its sub-commands) the flags of the given
// backend settings, all of them when none are given. Only the commands that
// use them have them: elsewhere --region is an unknown flag, and neither
// help nor completion offers it.
func withBackendFlags(c *cobra.Command, keys ...string) *cobra.Command {
	config.RegisterBackendFlags(c.PersistentFlags(), keys...)
	return c
}

// rejectUnknownCommands makes every command that only groups others (odin,
// odin local, ...) refuse an argument that names none of them with a usage
// error (exit 2). Left alone, cobra fails `odin frobnicate` with a plain
// error (exit 1) and answers `odin local frobnicate` with help (exit 0).
func rejectUnknownCommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		rejectUnknownCommands(sub)
	}
	if !c.HasSubCommands() || c.Runnable() {
		return
	}
	// What cobra's own unknown-command error would suggest: the commands
	// within two edits ("deplyo": deploy) or starting with what was typed.
	c.SuggestionsMinimumDistance = 2
	c.Args = usageArgs(func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		} else {
			msg += "; odin " + strings.TrimPrefix(cmd.CommandPath()+" --help", "odin ") + " lists them"
		}
		return errors.New(msg)
	})
	c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
}

func versionLine() string { return "odin version " + versionDetail() }

func versionDetail() string { return fmt.Sprintf("%s (commit %s, built %s)", version, commit, date) }

// usageArgs wraps a cobra argument check so that its failure exits 2.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return exitcode.UsageError(err)
		}
		return nil
	}
}
