package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/odin-deploy/odin/pkg/config"
	"github.com/odin-deploy/odin/pkg/deployer/localbackend"
	"github.com/odin-deploy/odin/pkg/deployer/localprovider"
	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/local/access"
	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/local/server"
	"github.com/odin-deploy/odin/pkg/local/store"
)

// LocalOptions are the inputs of the `odin local` commands.
type LocalOptions struct {
	IO *iostreams.IOStreams
	// JSON writes one object (--output json) in place of the text.
	JSON    bool
	Now     func() time.Time
	DataDir string
	// Listen is the serve/start address; ListenSet says the user chose it
	// (the default port falls back to any free port when taken).
	Listen      string
	ListenSet   bool
	AllowRemote bool
	Verbose     bool
	// DataDirFlag is the --data-dir to repeat in hints, empty for the default.
	DataDirFlag string
	// Functions are NAME=COMMAND task functions (--function), run as
	// processes with the task input on stdin and the result on stdout.
	Functions []string
	// AWSEndpoint (--aws-endpoint) sends the deployer's AWS provider calls
	// to an AWS-compatible endpoint, so target aws releases are rehearsed
	// on it; AWSRole (--aws-role) is the role assumed in each account.
	AWSEndpoint string
	AWSRole     string
	// Throttle (--throttle) is "aws" to answer Step Functions calls with
	// AWS's per-operation token buckets (ThrottlingException past them), so
	// retry and backoff paths meet real throttling; "" or "off" for none.
	Throttle string
	// Grace is how long stop waits after SIGTERM before SIGKILL.
	Grace time.Duration
	// Retention (--retention) is how long finished executions are kept.
	Retention time.Duration
	// Start makes sure a server runs for DataDir and returns its endpoint,
	// and whether it had to start one; by default it starts this binary's
	// `local serve` in the background.
	Start func(ctx context.Context, opts *LocalOptions) (ep access.Endpoint, started bool, err error)
	// ServerOptions, when set, adjusts the server that serve runs (tests
	// inject clocks; the deployer registers its handlers in localServerOptions).
	ServerOptions func(*server.Options)
}

func newLocalCmd(f *Factory) *cobra.Command {
	opts := &LocalOptions{IO: f.IO, Grace: 10 * time.Second, Start: startDetached}
	prepare := func(cmd *cobra.Command) {
		opts.Now = f.Now
		opts.DataDir = localDataDir(f)
		opts.DataDirFlag = ""
		if opts.DataDir != config.DefaultDataDir(f.Env) {
			opts.DataDirFlag = opts.DataDir
		}
		opts.Verbose = f.Settings.Verbose
		opts.JSON = f.Settings.Output == "json"
		if fl := cmd.Flags().Lookup("listen"); fl != nil {
			opts.ListenSet = fl.Changed
		}
	}
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run the embedded local backend (S3 and Step Functions on loopback)",
		Long: `The local backend serves the S3 and Step Functions APIs on 127.0.0.1 from one data
directory (--data-dir, default $XDG_STATE_HOME/odin), so deploys run with no AWS
account. Every request must be signed (SigV4) with the access key the backend
generated on its first start (credentials.json, mode 0600).

odin starts it by itself when the backend is local; these commands manage it, and
` + "`odin local env`" + ` lets any AWS tool (the AWS CLI, boto3, Terraform) use it.`,
		Args: usageArgs(cobra.NoArgs),
	}
	addrFlags := func(c *cobra.Command) {
		c.Flags().StringVar(&opts.Listen, "listen", server.DefaultAddr, "address to listen on (a loopback address unless --allow-remote)")
		c.Flags().BoolVar(&opts.AllowRemote, "allow-remote", false, "allow a listen address reachable from other machines (anyone who has the credentials can deploy)")
		c.Flags().StringArrayVar(&opts.Functions, "function", nil,
			"NAME=COMMAND: run Lambda function NAME as COMMAND (split on spaces; JSON input on stdin, JSON result on stdout); repeatable")
		c.Flags().StringVar(&opts.AWSEndpoint, "aws-endpoint", "",
			"rehearse target aws releases: send the deployer's EC2, Auto Scaling, ELB, IAM, SNS and STS calls to this URL (moto, LocalStack)")
		c.Flags().StringVar(&opts.AWSRole, "aws-role", "", "with --aws-endpoint, the role assumed in each release's account (default odin-deployer-target)")
		c.Flags().StringVar(&opts.Throttle, "throttle", "off",
			"aws: throttle Step Functions calls with AWS's per-operation token buckets (burst and refill per second, as documented for us-east-1), answering ThrottlingException past them; off: never")
		c.Flags().DurationVar(&opts.Retention, "retention", store.DefaultRetention,
			"how long finished executions and their histories are kept (as on AWS, 90 days = 2160h); 0 keeps them for good")
	}

	serve := &cobra.Command{
		Use:     "serve",
		Example: "  odin local serve\n  odin local serve --listen 127.0.0.1:4599 --aws-endpoint http://127.0.0.1:5000",
		Short:   "Run the local backend in the foreground (Ctrl-C stops it)",
		Long: `Run the local backend in the foreground, logging every request to stderr.
If the default port is taken, another free port is used; see ` + "`odin local env`" + `.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			prepare(cmd)
			return localServeRun(cmd.Context(), opts)
		},
	}
	addrFlags(serve)

	start := &cobra.Command{
		Use:     "start",
		Example: "  odin local start\n  odin local start --aws-endpoint http://127.0.0.1:5000",
		Short:   "Start the local backend in the background and wait until it serves",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			prepare(cmd)
			return localStartRun(cmd.Context(), opts)
		},
	}
	addrFlags(start)

	status := &cobra.Command{
		Use:     "status",
		Example: "  odin local status",
		Short:   "Show whether the local backend runs, its pid, endpoint and uptime (exit 1 if not)",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			prepare(cmd)
			return localStatusRun(cmd.Context(), opts)
		},
	}

	stop := &cobra.Command{
		Use:     "stop",
		Example: "  odin local stop",
		Short:   "Stop the background local backend (SIGTERM, then SIGKILL after --grace)",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			prepare(cmd)
			return localStopRun(cmd.Context(), opts)
		},
	}
	stop.Flags().DurationVar(&opts.Grace, "grace", opts.Grace, "how long to wait for a clean stop before killing")

	env := &cobra.Command{
		Use:   "env",
		Short: "Print shell exports that point AWS tools at the local backend (starting it if needed)",
		Example: `  eval "$(odin local env)"
  aws stepfunctions list-state-machines`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			prepare(cmd)
			return localEnvRun(cmd.Context(), opts)
		},
	}
	addrFlags(env)

	cmd.AddCommand(serve, start, status, stop, env)
	return cmd
}

func localDataDir(f *Factory) string {
	if f.Settings != nil && f.Settings.DataDir != "" {
		return f.Settings.DataDir
	}
	return config.DefaultDataDir(f.Env)
}

// localServerOptions is what `odin local serve` runs. It is the seam where
// the reference deployer registers its task handlers (Functions) and its
// bootstrap (the deployer state machine and the release bucket).
func localServerOptions(opts *LocalOptions, log *slog.Logger) server.Options {
	so := server.Options{
		DataDir:     opts.DataDir,
		Addr:        opts.Listen,
		AllowRemote: opts.AllowRemote,
		Logger:      log,
		Version:     version,
		Throttle:    opts.Throttle == "aws",
		Retention:   retention(opts.Retention),
		Functions: func(access.Endpoint) (*engine.Functions, error) {
			fns := engine.NewFunctions()
			for _, spec := range opts.Functions {
				name, command, ok := strings.Cut(spec, "=")
				argv := strings.Fields(command)
				if !ok || name == "" || len(argv) == 0 {
					return nil, exitcode.UsageError(fmt.Errorf("--function %q: want NAME=COMMAND", spec))
				}
				fns.RegisterCommand(name, argv, nil, "")
			}
			return fns, nil
		},
	}
	if opts.ServerOptions != nil {
		opts.ServerOptions(&so)
	}
	return so
}

func localServeRun(ctx context.Context, opts *LocalOptions) error {
	level := slog.LevelInfo
	if opts.Verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(opts.IO.ErrOut, &slog.HandlerOptions{Level: level}))
	if err := checkThrottle(opts.Throttle); err != nil {
		return err
	}
	so := localServerOptions(opts, log)
	// The reference deployer: its task handler next to the --function
	// commands, and its bootstrap (release bucket, deployer state machine).
	if err := checkAWSEndpoint(opts.AWSEndpoint); err != nil {
		return err
	}
	rehearsal := localbackend.AWS{Endpoint: opts.AWSEndpoint, RoleName: opts.AWSRole}
	// Listen before anything is built: falling back to a free port after a
	// failed start built the backend twice, and its provider brought the
	// serving releases back twice.
	ln, err := listenLocal(so.Addr, opts.ListenSet, so.AllowRemote, log)
	if err != nil {
		server.RecordStartError(opts.DataDir, err)
		return err
	}
	so.Listener = ln
	b, err := localbackend.StartWith(ctx, so, rehearsal)
	if err != nil {
		if !errors.Is(err, server.ErrAlreadyRunning) {
			// The CLI that started this server in the background is
			// waiting for it: tell it why at once.
			server.RecordStartError(opts.DataDir, err)
		}
		return err
	}
	werr := b.Wait(ctx)
	// Close stops the server, then the release processes the deployer started.
	if err := b.Close(); err != nil {
		return errors.Join(werr, err)
	}
	return werr
}

// listenLocal listens on addr; when addr is the default and its port is
// taken (another data dir's server has it), on a free loopback port instead.
func listenLocal(addr string, chosen, allowRemote bool, log *slog.Logger) (net.Listener, error) {
	if err := server.CheckListenAddr(addr, allowRemote); err != nil {
		return nil, exitcode.UsageError(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil && !chosen && errors.Is(err, syscall.EADDRINUSE) {
		log.Warn("the default port is taken; listening on a free port", "addr", addr)
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// startDetached starts `odin local serve` for opts.DataDir in the background
// unless one runs, and returns its endpoint. Two CLIs doing this at once end
// with one server.
func startDetached(ctx context.Context, opts *LocalOptions) (access.Endpoint, bool, error) {
	started := false
	ep, err := server.Ensure(ctx, opts.DataDir, func(context.Context) error {
		started = true
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the odin binary: %w", err)
		}
		dir, err := filepath.Abs(opts.DataDir)
		if err != nil {
			return err
		}
		args := []string{"local", "serve", "--data-dir", dir}
		if opts.ListenSet {
			// Otherwise serve's default applies, with its fallback to a free
			// port when another data dir's server has 4599.
			args = append(args, "--listen", opts.Listen)
		}
		if opts.AllowRemote {
			args = append(args, "--allow-remote")
		}
		for _, fn := range opts.Functions {
			args = append(args, "--function", fn)
		}
		if opts.AWSEndpoint != "" {
			args = append(args, "--aws-endpoint", opts.AWSEndpoint)
		}
		if opts.AWSRole != "" {
			args = append(args, "--aws-role", opts.AWSRole)
		}
		if opts.Throttle == "aws" {
			args = append(args, "--throttle", "aws")
		}
		if opts.Retention != store.DefaultRetention && opts.Retention >= 0 {
			args = append(args, "--retention", opts.Retention.String())
		}
		proc, err := server.StartDetached(exe, args, filepath.Join(dir, server.LogFile))
		if err != nil {
			return err
		}
		// The server outlives this CLI; it is not our child to wait for.
		return proc.Release()
	})
	return ep, started, err
}

// StartLocalBackend is what Factory.StartLocal should be in the real binary:
// the local backend for dataDir, started in the background if none runs.
func StartLocalBackend(ctx context.Context, dataDir string) (access.Endpoint, error) {
	ep, _, err := startDetached(ctx, &LocalOptions{DataDir: dataDir, Listen: server.DefaultAddr})
	if err != nil {
		return access.Endpoint{}, err
	}
	return ep, nil
}

func localStartRun(ctx context.Context, opts *LocalOptions) error {
	if err := checkAWSEndpoint(opts.AWSEndpoint); err != nil {
		return err
	}
	if err := checkThrottle(opts.Throttle); err != nil {
		return err
	}
	ep, started, err := opts.Start(ctx, opts)
	if err != nil {
		return err
	}
	st, _ := server.Probe(ctx, opts.DataDir)
	verb := "started"
	if !started {
		verb = "already running"
		if opts.AWSEndpoint != "" && st.AWSEndpoint != opts.AWSEndpoint {
			have := "without --aws-endpoint"
			if st.AWSEndpoint != "" {
				have = "with --aws-endpoint " + st.AWSEndpoint
			}
			return exitcode.UsageError(fmt.Errorf("the local backend already runs %s (pid %d); stop it first: odin local stop, then odin local start --aws-endpoint %s", have, st.Pid, opts.AWSEndpoint))
		}
		if want := opts.Throttle == "aws"; want != st.Throttle {
			have, flag := "without --throttle aws", "--throttle aws"
			if st.Throttle {
				have, flag = "with --throttle aws", "--throttle off"
			}
			return exitcode.UsageError(fmt.Errorf("the local backend already runs %s (pid %d); stop it first: odin local stop, then odin local start %s", have, st.Pid, flag))
		}
	}
	if opts.JSON {
		action := "started"
		if !started {
			action = "already_running"
		}
		return json.NewEncoder(opts.IO.Out).Encode(LocalStatus{Type: "local", Action: action, Running: true, Pid: st.Pid,
			Endpoint: ep.URL, Region: ep.Region, Account: ep.Account, DataDir: st.DataDir, AWSEndpoint: st.AWSEndpoint, Throttle: st.Throttle})
	}
	fmt.Fprintf(opts.IO.Out, "local backend %s at %s (pid %d, data dir %s)\n", verb, ep.URL, st.Pid, st.DataDir)
	if st.AWSEndpoint != "" {
		fmt.Fprintf(opts.IO.Out, "target aws releases are rehearsed against %s\n", st.AWSEndpoint)
	}
	env := "odin local env"
	if opts.DataDirFlag != "" {
		env = "odin --data-dir " + shellQuote(opts.DataDirFlag) + " local env"
	}
	fmt.Fprintf(opts.IO.Out, "use it from other tools with: eval \"$(%s)\"\n", env)
	return nil
}

// LocalStatus is what `odin local status`, `start` and `stop` write with
// --output json.
type LocalStatus struct {
	Type string `json:"type"` // "local"
	// Action is what start or stop did: started, already_running, stopped,
	// killed (it did not stop within --grace) or not_running.
	Action      string `json:"action,omitempty"`
	Running     bool   `json:"running"`
	Pid         int    `json:"pid,omitempty"`
	Endpoint    string `json:"endpoint,omitempty"`
	AccessKeyID string `json:"access_key_id,omitempty"`
	Region      string `json:"region,omitempty"`
	Account     string `json:"account,omitempty"`
	DataDir     string `json:"data_dir,omitempty"`
	StartedAt   string `json:"started_at,omitempty"`
	AWSEndpoint string `json:"aws_endpoint,omitempty"`
	Throttle    bool   `json:"throttle,omitempty"`
	StartError  string `json:"start_error,omitempty"`
	// Recovery says what the Step Functions store lost to damage, and what
	// the backend did about it, until its report is deleted.
	Recovery string `json:"recovery,omitempty"`
}

func localStatusRun(ctx context.Context, opts *LocalOptions) error {
	st, err := server.Probe(ctx, opts.DataDir)
	if err != nil {
		return err
	}
	if opts.JSON {
		out := LocalStatus{Type: "local", Running: st.Running, DataDir: st.DataDir, StartError: st.StartError}
		if st.Running {
			out.Pid, out.Endpoint, out.AccessKeyID, out.Region, out.Account = st.Pid, st.Endpoint.URL, st.Endpoint.AccessKeyID, st.Endpoint.Region, st.Endpoint.Account
			out.StartedAt, out.AWSEndpoint, out.Throttle = st.StartedAt.UTC().Format(time.RFC3339), st.AWSEndpoint, st.Throttle
		}
		if r := st.Recovery; r.Lost() || r != nil && len(r.Actions) > 0 {
			out.Recovery = r.Summary()
		}
		if err := json.NewEncoder(opts.IO.Out).Encode(out); err != nil {
			return err
		}
		if !st.Running {
			return exitcode.New(exitcode.Failed, nil)
		}
		return nil
	}
	if !st.Running {
		fmt.Fprintf(opts.IO.Out, "local backend: not running (data dir %s)\n", st.DataDir)
		if st.StartError != "" {
			fmt.Fprintf(opts.IO.Out, "  last start failed: %s\n", st.StartError)
		}
		writeRecovery(opts.IO.Out, st)
		return exitcode.New(exitcode.Failed, nil)
	}
	defer writeRecovery(opts.IO.Out, st)
	up := opts.Now().Sub(st.StartedAt).Round(time.Second)
	aws := "refused (no --aws-endpoint)"
	if st.AWSEndpoint != "" {
		aws = "rehearsed against " + st.AWSEndpoint
	}
	if st.Throttle {
		aws += "\n  throttle   aws (Step Functions quotas)"
	}
	fmt.Fprintf(opts.IO.Out, "local backend: running\n  pid        %d\n  endpoint   %s\n  access key %s\n  region     %s\n  account    %s\n  data dir   %s\n  uptime     %s\n  target aws %s\n",
		st.Pid, st.Endpoint.URL, st.Endpoint.AccessKeyID, st.Endpoint.Region, st.Endpoint.Account, st.DataDir, up, aws)
	return nil
}

// checkThrottle refuses a --throttle other than aws or off.
func checkThrottle(v string) error {
	switch v {
	case "", "off", "aws":
		return nil
	}
	return exitcode.UsageError(fmt.Errorf("--throttle %q: want aws (AWS's Step Functions quotas) or off", v))
}

// writeRecovery reports what the Step Functions store lost to damage, if it
// ever was damaged, and what the backend did about it (a released lock),
// until the report is deleted.
func writeRecovery(w io.Writer, st server.Status) {
	r := st.Recovery
	switch {
	case r.Lost():
		fmt.Fprintf(w, "  journal    damaged; recovered on %s\n", r.At.Format(time.RFC3339))
	case r != nil && len(r.Actions) > 0:
		fmt.Fprintf(w, "  recovery   on %s\n", r.At.Format(time.RFC3339))
	default:
		return
	}
	for _, line := range strings.Split(r.Summary(), "\n") {
		fmt.Fprintf(w, "    %s\n", strings.TrimSpace(line))
	}
	fmt.Fprintf(w, "    (delete %s once read)\n", filepath.Join(st.DataDir, "sfn", store.RecoveryFile))
}

// retention maps --retention to the store's: 0 means for good.
func retention(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// checkAWSEndpoint refuses an --aws-endpoint that is not an http(s) URL
// with a host, before anything starts.
func checkAWSEndpoint(endpoint string) error {
	if endpoint == "" {
		return nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return exitcode.UsageError(fmt.Errorf("--aws-endpoint %q: want an http or https URL such as http://127.0.0.1:5000", endpoint))
	}
	return nil
}

func localStopRun(ctx context.Context, opts *LocalOptions) error {
	pid, killed, err := server.Stop(ctx, opts.DataDir, opts.Grace)
	if killed && err == nil {
		// A killed server could not stop the services and command tasks it
		// runs, and nothing else would until the next start: stop them here.
		localprovider.StopOrphans(opts.DataDir, opts.Grace, nil)
		server.StopOrphanTasks(opts.DataDir, opts.Grace, nil)
	}
	if opts.JSON && (err == nil || errors.Is(err, server.ErrNotRunning)) {
		out := LocalStatus{Type: "local", Action: "stopped", Pid: pid, DataDir: opts.DataDir}
		switch {
		case err != nil:
			out.Action, out.Pid = "not_running", 0
		case killed:
			out.Action = "killed"
		}
		return json.NewEncoder(opts.IO.Out).Encode(out)
	}
	if errors.Is(err, server.ErrNotRunning) {
		fmt.Fprintln(opts.IO.Out, "local backend: not running")
		return nil
	}
	if err != nil {
		return err
	}
	if killed {
		fmt.Fprintf(opts.IO.Out, "local backend (pid %d) did not stop within %s and was killed\n", pid, opts.Grace)
		return nil
	}
	fmt.Fprintf(opts.IO.Out, "local backend (pid %d) stopped\n", pid)
	return nil
}

func localEnvRun(ctx context.Context, opts *LocalOptions) error {
	ep, _, err := opts.Start(ctx, opts)
	if err != nil {
		return err
	}
	if opts.JSON {
		vars := map[string]string{}
		for _, kv := range localEnv(ep) {
			vars[kv[0]] = kv[1]
		}
		return json.NewEncoder(opts.IO.Out).Encode(vars)
	}
	writeLocalEnv(opts.IO.Out, ep)
	return nil
}

// writeLocalEnv prints POSIX shell exports. AWS_DEFAULT_REGION is for the AWS
// CLI v1, which does not read AWS_REGION.
func writeLocalEnv(w io.Writer, ep access.Endpoint) {
	for _, kv := range localEnv(ep) {
		fmt.Fprintf(w, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
}

// localEnv is what points AWS tools at the local backend.
func localEnv(ep access.Endpoint) [][2]string {
	return [][2]string{
		{"AWS_ENDPOINT_URL", ep.URL},
		{"AWS_ACCESS_KEY_ID", ep.AccessKeyID},
		{"AWS_SECRET_ACCESS_KEY", ep.SecretAccessKey},
		{"AWS_REGION", ep.Region},
		{"AWS_DEFAULT_REGION", ep.Region},
	}
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/+=@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
