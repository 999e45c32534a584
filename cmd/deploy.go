package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/cobra"

	"github.com/odin-deploy/odin/pkg/backend"
	"github.com/odin-deploy/odin/pkg/deploy"
	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/release"
)

// DeployOptions are the inputs of `odin deploy`.
type DeployOptions struct {
	IO     *iostreams.IOStreams
	File   string
	Detach bool
	Attach bool
	// Redeploy deploys again the release the latest deploy left serving.
	Redeploy bool
	Timeout  time.Duration
}

func newDeployCmd(f *Factory) *cobra.Command {
	opts := &DeployOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "deploy [FILE]",
		Short: "Validate a release, upload it, start the deployer and watch every step",
		Long: `Validate the release file, upload its exact bytes to S3 with their SHA-256, start the
deployer state machine and watch every step to the end. With no FILE, the release.yml
(or release.yaml) in the current directory, as status and fail do.

Nothing is uploaded when the release is invalid (exit 2) or when another release of the
same project and config is being deployed (exit 1). --attach watches that other deploy
instead; yours is still not deployed, so odin then exits 1 whatever the other's outcome
(5 if it stopped watching first).
The release id derives from the file's SHA-256. Deploying a file while it is being deployed
attaches to that deploy, and deploying the file that the latest deploy successfully deployed
shows that deploy: neither deploys twice (--redeploy deploys it again, which restarts
instances that died). Any other time (to roll back to an earlier
release, or to retry one that failed) the release is deployed again as a new attempt, an
execution named deploy-<project>_<config>_<release id>-<attempt>.

--output json writes one JSON object per event and a final outcome object; odin
json-format describes every field.

Exit codes: 0 succeeded, 1 failed, 2 invalid release or usage, 3 timed out, 4 halted or
aborted, 5 still running when odin stopped waiting (--timeout, ctrl-c).`,
		Example: `  odin deploy examples/hello/release.yml
  odin deploy release.yml --detach && odin status release.yml
  odin deploy release.yml --output plain --timeout 15m`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return []string{"yml", "yaml"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.File = args[0]
			} else {
				file, err := defaultReleaseFile("odin deploy FILE")
				if err != nil {
					return err
				}
				opts.File = file
			}
			if opts.Timeout < 0 {
				return exitcode.UsageError(errors.New("--timeout must not be negative"))
			}
			if opts.Detach && opts.Timeout > 0 {
				return exitcode.UsageError(errors.New("--detach and --timeout cannot be used together"))
			}
			if opts.Detach && opts.Attach {
				return exitcode.UsageError(errors.New("--detach and --attach cannot be used together: --attach watches another release's deploy"))
			}
			return deployRun(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Detach, "detach", false, "start the deploy and return without watching")
	cmd.Flags().BoolVar(&opts.Attach, "attach", false, "if another release of this project and config is running, watch it instead (then exit 1: yours was not deployed)")
	cmd.Flags().BoolVar(&opts.Redeploy, "redeploy", false, "deploy again even if this release is what the latest deploy left serving (restarts instances that died)")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 0, "stop watching after this long (the deploy goes on; exit 5)")
	return cmd
}

func deployRun(ctx context.Context, f *Factory, opts *DeployOptions) error {
	// On AWS, the backend opens while the release is validated: it reads
	// the SDK's configuration and asks STS who calls, a round trip that
	// changes nothing. Not when the release's account picks the role to
	// assume (--account-roles), and not on the local backend, whose opening
	// may start a server: an invalid release must leave nothing behind.
	var early *earlyBackend
	if f.Settings.Backend == backend.AWS && len(f.Settings.AccountRoles) == 0 {
		early = openBackendEarly(ctx, f)
	}
	file, err := release.Load(opts.File)
	if err != nil {
		if early != nil {
			early.abandon() // what it would say (a credentials error) comes second to the release's
		}
		if githubOutput(f) {
			githubDeployRefused(f, opts.File, err)
		}
		return releaseError(err)
	}
	var b *backend.Backend
	if early != nil {
		b, err = early.wait()
	} else {
		b, err = f.Backend(ctx, true, file.Release.AWSAccountID)
	}
	if err != nil {
		return err
	}
	status := newStatusLine(f)
	if opts.Detach || f.Settings.Verbose {
		// Without a live view, whose header says where the deploy runs
		// (with --verbose, the endpoint, state machine and role too).
		status.Println(b.Describe())
	}
	// Asked beside the deploy's own requests; said once the deploy has
	// started (or failed to: a deployer of another version may be why).
	warnVersion := checkDeployerVersion(ctx, f, b)
	defer warnVersion()
	if file.Release.Target == release.TargetLocal && b.Kind == backend.AWS {
		return exitcode.UsageError(fmt.Errorf("%s: target local runs on this machine, through the local backend; the deployer on AWS deploys target aws only: drop --backend aws (or backend: aws in the config file), or make it a target aws release", opts.File))
	}
	if file.Release.Target == release.TargetAWS && b.Kind == backend.Local {
		// Refused before anything is uploaded: the deployer would refuse it.
		rehearsal, err := b.AWSRehearsal(ctx)
		if err != nil {
			return err
		}
		if rehearsal == "" {
			return exitcode.UsageError(fmt.Errorf("%s: target aws on the local backend is a rehearsal against an AWS-compatible endpoint, and this local backend has none: "+
				"odin local stop, then odin local start --aws-endpoint URL (moto, LocalStack); to deploy to AWS, use --backend aws", opts.File))
		}
		status.Printf("target aws rehearsed against %s\n", rehearsal)
	}

	c := deployClient(f, b)
	dir, err := filepath.Abs(filepath.Dir(opts.File))
	if err != nil {
		return err
	}
	plan, err := c.Plan(file, b.CallerArn, dir)
	if err != nil {
		return err
	}
	plan.Redeploy = opts.Redeploy
	if file.Release.Target == release.TargetLocal {
		if err := checkListenPorts(ctx, c, plan, file); err != nil {
			return err
		}
	}
	started, err := c.Start(ctx, plan)
	warnVersion()
	var conflict *deploy.ConflictError
	if f.Settings.Output == "json" {
		if err := writeDeployAction(f.IO.Out, plan, started, err, opts.Attach); err != nil {
			return err
		}
	}
	switch {
	case errors.As(err, &conflict) && opts.Attach:
		other := aws.ToString(conflict.Running.Name)
		status.Printf("another release is being deployed; watching it instead: %s\nrelease %s (%s) is not deployed; nothing was uploaded\n", other, plan.ReleaseID, opts.File)
		// Whatever the other deploy's outcome, a script must not read
		// success for this release: the verdict, in every output, is 1.
		err := follow(ctx, f, b, aws.ToString(conflict.Running.ExecutionArn), followOptions{Timeout: opts.Timeout, NotDeployed: plan.ReleaseID})
		if exitcode.Of(err) == exitcode.Running {
			return err
		}
		notDeployed := fmt.Errorf("release %s (%s) was not deployed: odin watched %s, another release's deploy, which has ended; deploy yours with: odin deploy %s", plan.ReleaseID, opts.File, other, opts.File)
		if f.Settings.Output == "json" {
			// The outcome, the last JSON line, says so already (NOT_DEPLOYED).
			status.Println("odin: " + notDeployed.Error())
			return exitcode.New(exitcode.Failed, nil)
		}
		return exitcode.New(exitcode.Failed, notDeployed)
	case errors.As(err, &conflict):
		return exitcode.New(exitcode.Failed, err)
	case err != nil:
		return err
	case started.Attached && started.Status == "RUNNING":
		status.Printf("release %s is being deployed by %s; attaching\n", plan.ReleaseID, started.ExecutionName)
	case started.Attached:
		status.Printf("release %s is already deployed: %s, the latest deploy of %s/%s, %s; nothing to do (--redeploy deploys it again)\n",
			plan.ReleaseID, started.ExecutionName, plan.Input.ProjectName, plan.Input.ConfigName, strings.ToLower(started.Status))
	default:
		verb := "uploaded"
		if !started.Uploaded {
			verb = "already uploaded"
		}
		status.Printf("%s s3://%s/%s (sha256 %s)\n", verb, b.Bucket, plan.Key, file.SHA256)
		if started.Attempt > 1 {
			status.Printf("started %s (attempt %d: release %s was deployed before)\n", started.ExecutionName, started.Attempt, plan.ReleaseID)
		} else {
			status.Printf("started %s\n", started.ExecutionName)
		}
	}
	if opts.Detach {
		if started.Attached && started.Status != "RUNNING" {
			return nil // nothing runs to follow
		}
		status.Printf("detached; follow it with: odin status %s\n", executionName(started.ExecutionArn))
		return nil
	}
	return follow(ctx, f, b, started.ExecutionArn, followOptions{Timeout: opts.Timeout})
}

// earlyBackend is a backend opening in the background, for any account.
type earlyBackend struct {
	b      *backend.Backend
	err    error
	done   chan struct{}
	cancel context.CancelFunc
}

func openBackendEarly(ctx context.Context, f *Factory) *earlyBackend {
	ctx, cancel := context.WithCancel(ctx)
	e := &earlyBackend{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(e.done)
		e.b, e.err = f.Backend(ctx, true, "")
	}()
	return e
}

// wait returns the opened backend, or why it did not open.
func (e *earlyBackend) wait() (*backend.Backend, error) {
	<-e.done
	return e.b, e.err
}

// abandon stops the opening and waits for it to end, so nothing of it
// outlives the command.
func (e *earlyBackend) abandon() {
	e.cancel()
	<-e.done
}

// DeployAction is the first object `odin deploy --output json` writes: what
// odin did with the release.
type DeployAction struct {
	Type string `json:"type"` // "deploy"
	// Action is started (a new execution), attached (the release is being
	// deployed: odin watches that execution), already_deployed (the latest
	// deploy deployed it: nothing to do), or refused (another release of
	// the project and config is being deployed).
	Action    string `json:"action"`
	Release   string `json:"release"`
	Execution string `json:"execution,omitempty"`
	Attempt   int    `json:"attempt,omitempty"`
	// Watching is the other release's execution --attach watches instead.
	Watching string `json:"watching,omitempty"`
}

func writeDeployAction(w io.Writer, plan *deploy.Plan, started *deploy.Started, err error, attach bool) error {
	a := DeployAction{Type: "deploy", Release: plan.ReleaseID}
	var conflict *deploy.ConflictError
	switch {
	case errors.As(err, &conflict):
		a.Action = "refused"
		if attach {
			a.Watching = aws.ToString(conflict.Running.Name)
		}
	case err != nil:
		return nil // the error object says it
	case started.Attached && started.Status == "RUNNING":
		a.Action, a.Execution = "attached", started.ExecutionName
	case started.Attached:
		a.Action, a.Execution = "already_deployed", started.ExecutionName
	default:
		a.Action, a.Execution, a.Attempt = "started", started.ExecutionName, started.Attempt
	}
	return json.NewEncoder(w).Encode(a)
}

// checkListenPorts refuses, before anything is uploaded, a local release
// whose listen port another program holds. A port is only ever expected to
// be busy with the load balancer of an earlier deploy of the same project
// and config: once one has run here, the deployer's ValidateResources,
// which knows the balancers, decides.
func checkListenPorts(ctx context.Context, c *deploy.Client, plan *deploy.Plan, file *release.File) error {
	var busy []string
	for _, name := range slices.Sorted(maps.Keys(file.Release.Services)) {
		port := file.Release.Services[name].Listen
		if port <= 0 {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			busy = append(busy, fmt.Sprintf("services.%s.listen: port %d is in use", name, port))
			continue
		}
		l.Close()
	}
	if len(busy) == 0 {
		return nil
	}
	scope := deploy.Scope{Account: plan.Input.AWSAccountID, Project: plan.Input.ProjectName, Config: plan.Input.ConfigName}
	if _, deployed, err := c.Current(ctx, scope); err != nil || deployed {
		return err
	}
	return exitcode.UsageError(fmt.Errorf("%s: %s by another program (or another project's load balancer on this backend), and no deploy of %s/%s has run on this backend to hold it: "+
		"stop that program or pick a free port; nothing was uploaded", file.Path, strings.Join(busy, "; "), plan.Input.ProjectName, plan.Input.ConfigName))
}

// statusLine prints odin's own remarks (not the deploy's events) on stderr,
// unless --quiet asks for silence. On stderr they never mix with --output json.
type statusLine struct {
	io     *iostreams.IOStreams
	silent bool
}

func newStatusLine(f *Factory) *statusLine {
	return &statusLine{io: f.IO, silent: f.Settings.Quiet}
}

func (s *statusLine) Println(a ...any) {
	if !s.silent {
		fmt.Fprintln(s.io.ErrOut, a...)
	}
}

func (s *statusLine) Printf(format string, a ...any) {
	if !s.silent {
		fmt.Fprintf(s.io.ErrOut, format, a...)
	}
}

// executionName is the last part of an execution ARN.
func executionName(arn string) string {
	for i := len(arn) - 1; i >= 0; i-- {
		if arn[i] == ':' {
			return arn[i+1:]
		}
	}
	return arn
}
