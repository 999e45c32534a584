// Package localprovider runs a release's services as processes on this
// machine, health-checks them and switches a per-service load balancer from
// the previous release to the new one (blue/green).
package localprovider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/procgroup"
)

// Provider runs releases as child processes. It lives as long as the local
// server: the deployer's tasks are separate invocations, and the processes,
// their health and the load balancers are kept here between them.
type Provider struct {
	dataDir   string
	stopGrace time.Duration
	logger    *slog.Logger
	startOnce sync.Once

	mu        sync.Mutex
	releases  map[string]*running // by release id
	active    map[string]string   // project/config -> release id serving traffic
	balancers map[int]*balancer   // by listen port
	owners    map[int]string      // listen port -> project/config
	ports     map[int]bool        // ports given to instances still running
	closed    bool

	done chan struct{}  // closed by Close: background work ends
	wg   sync.WaitGroup // background work (restores)
}

// Options configure a Provider.
type Options struct {
	// DataDir holds the instances' logs under logs/<project>/<config>/<release>/.
	DataDir string
	// StopGrace is how long a stopped instance has between SIGTERM and
	// SIGKILL (default 10s).
	StopGrace time.Duration
	Logger    *slog.Logger
}

// New returns a Provider. It stops instances a crashed server left behind,
// then brings back the releases that were serving when the last provider on
// DataDir stopped.
func New(opts Options) *Provider {
	p := &Provider{
		dataDir:   opts.DataDir,
		stopGrace: opts.StopGrace,
		logger:    opts.Logger,
		releases:  map[string]*running{},
		active:    map[string]string{},
		balancers: map[int]*balancer{},
		owners:    map[int]string{},
		ports:     map[int]bool{},
		done:      make(chan struct{}),
	}
	if p.stopGrace <= 0 {
		p.stopGrace = 10 * time.Second
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	return p
}

// Start takes over the data directory: it stops the instances a killed
// server left, then brings back each project's serving release. Call it
// once the server's lock is held, never before: a start that is refused
// (another server serves the directory) must not touch that server's
// instances, which the sweep would find alive and stop. Later calls do
// nothing.
func (p *Provider) Start() {
	p.startOnce.Do(func() {
		StopOrphans(p.dataDir, p.stopGrace, p.logger)
		p.restore()
	})
}

var _ deployer.Provider = (*Provider)(nil)

// running is one release's instances.
type running struct {
	d         deployer.Deployment
	instances []*instance
	// stopped is set once CleanUpFailure stopped the release; it stays so
	// that its report shows the instances stopped.
	stopped bool
	// restarted is set when the instances were started again after a
	// restart of the server (a restore, or a resumed deploy adopting them).
	restarted bool
}

func scope(d *deployer.Deployment) string { return d.Project + "/" + d.Config }

func serviceNames(d *deployer.Deployment) []string {
	names := make([]string, 0, len(d.Services))
	for n := range d.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Validate checks commands, working directories and listen ports.
func (p *Provider) Validate(_ context.Context, d *deployer.Deployment) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var problems []error
	for _, name := range serviceNames(d) {
		s := d.Services[name]
		if fi, err := os.Stat(s.WorkingDir); err != nil || !fi.IsDir() {
			problems = append(problems, fmt.Errorf("services.%s.working_dir %s is not a directory", name, s.WorkingDir))
			continue
		}
		if len(s.Command) == 0 {
			problems = append(problems, fmt.Errorf("services.%s has no command", name))
		} else if err := findCommand(s.Command[0], s.WorkingDir); err != nil {
			problems = append(problems, fmt.Errorf("services.%s.command: %w", name, err))
		}
		if s.Listen > 0 {
			if owner, ok := p.owners[s.Listen]; ok {
				if owner != scope(d) {
					problems = append(problems, fmt.Errorf("services.%s.listen: port %d is the load balancer of %s", name, s.Listen, owner))
				}
				continue
			}
			l, err := net.Listen("tcp", loopback(s.Listen))
			if err != nil {
				problems = append(problems, fmt.Errorf("services.%s.listen: port %d is not free: %v", name, s.Listen, err))
				continue
			}
			l.Close()
		}
	}
	if len(problems) > 0 {
		return &deployer.ResourceError{Msg: errors.Join(problems...).Error()}
	}
	return nil
}

func findCommand(name, dir string) error {
	if filepath.IsAbs(name) || filepath.Base(name) != name {
		path := name
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		fi, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("%s not found", path)
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("%s is not executable", path)
		}
		return nil
	}
	if _, err := exec.LookPath(name); err != nil {
		return fmt.Errorf("%s is not on PATH", name)
	}
	return nil
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// Deploy starts every instance of the release and a load balancer for each
// service that listens; traffic stays with the previous release.
func (p *Provider) Deploy(_ context.Context, d *deployer.Deployment) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("the local provider is shut down")
	}
	if r, ok := p.releases[d.ReleaseID]; ok && !r.stopped {
		// Already started: a retried Deploy, or the release deployed again
		// while it runs (to repair it). Instances that have exited start
		// again; the health checks that follow judge them as new ones.
		return p.restartExited(r, d)
	}
	r := &running{d: *d}
	p.releases[d.ReleaseID] = r
	for _, name := range serviceNames(d) {
		s := d.Services[name]
		if s.Listen > 0 {
			if err := p.ensureBalancer(d, s.Listen); err != nil {
				return &deployer.DeployError{Msg: fmt.Sprintf("services.%s: %v", name, err)}
			}
		}
		for i := 1; i <= s.Instances; i++ {
			in, err := p.start(d, name, i, s)
			if err != nil {
				return &deployer.DeployError{Msg: fmt.Sprintf("start %s-%d of release %s: %v", name, i, d.ReleaseID, err)}
			}
			r.instances = append(r.instances, in)
		}
	}
	return nil
}

// restartExited replaces the instances of r that have exited (crashed or
// killed) with new ones. The load balancer learns their ports when the
// deploy is promoted (CleanUpSuccess). Callers hold p.mu.
func (p *Provider) restartExited(r *running, d *deployer.Deployment) error {
	for i, in := range r.instances {
		if in.snapshot().State != contract.InstanceExited {
			continue
		}
		s, ok := d.Services[in.service]
		if !ok {
			continue
		}
		fresh, err := p.start(d, in.service, in.n, s)
		if err != nil {
			return &deployer.DeployError{Msg: fmt.Sprintf("restart %s of release %s: %v", in.id, d.ReleaseID, err)}
		}
		p.logger.Info("restarted an instance that had exited", "release", d.ReleaseID, "instance", in.id)
		r.instances[i] = fresh
	}
	return nil
}

func (p *Provider) ensureBalancer(d *deployer.Deployment, port int) error {
	if owner, ok := p.owners[port]; ok {
		if owner != scope(d) {
			return fmt.Errorf("port %d is the load balancer of %s", port, owner)
		}
		return nil
	}
	b, err := newBalancer(loopback(port), scope(d))
	if err != nil {
		return err
	}
	p.balancers[port] = b
	p.owners[port] = scope(d)
	return nil
}

func (p *Provider) start(d *deployer.Deployment, service string, n int, s deployer.Service) (*instance, error) {
	id := service + "-" + strconv.Itoa(n)
	port, err := p.assignPort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(p.dataDir, "logs", d.Project, d.Config, d.ReleaseID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, id+".log")
	// The file is kept across starts of the release (a retry, a rollback to
	// it, a restore after a restart), so people reading it see every start;
	// a separator shows where this one begins, and the report's log tail
	// reads only what follows it.
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	// 0600 whatever mode a file left from before had: instances log what
	// they like.
	if err := logFile.Chmod(0o600); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("make log %s private: %w", logPath, err)
	}
	logFrom, err := markStart(logFile, id, d.ReleaseID, time.Now())
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("write log %s: %w", logPath, err)
	}
	// The instance outlives the task invocation that starts it, so it is not
	// bound to that invocation's context.
	cmd := exec.Command(s.Command[0], s.Command[1:]...)
	cmd.Dir = s.WorkingDir
	cmd.Env = instanceEnv(os.Environ(), d, service, id, port, s)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	group := procgroup.New(cmd)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	in := newInstance(id, service, d.ReleaseID, port, logPath, logFrom, s.HealthCheck, cmd, group)
	in.n = n
	p.writePid(in)
	go func() {
		err := group.Wait() // what the instance left in its group goes with it
		logFile.Close()
		p.removePid(in)
		p.mu.Lock()
		delete(p.ports, port)
		p.mu.Unlock()
		in.exitedWith(err)
	}()
	go in.watch()
	p.logger.Info("instance started", "release", d.ReleaseID, "instance", id, "pid", cmd.Process.Pid, "port", port)
	return in, nil
}

// markStart writes the separator line that begins a start of an instance
// and returns the offset after it. It is written before the process exists,
// so nothing the process writes can come before it; that is also why it
// carries no pid.
func markStart(f *os.File, id, releaseID string, now time.Time) (int64, error) {
	if _, err := fmt.Fprintf(f, "--- odin: instance %s of release %s starting at %s ---\n", id, releaseID, now.Format(time.RFC3339)); err != nil {
		return 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// assignPort picks a free port no instance of this provider holds. The
// kernel may hand a just-closed port out again before the instance it was
// picked for has bound it, so the ports given out are remembered until their
// instance exits. Called with p.mu held.
func (p *Provider) assignPort() (int, error) {
	for range 20 {
		port, err := freePort()
		if err != nil {
			return 0, err
		}
		if !p.ports[port] {
			p.ports[port] = true
			return port, nil
		}
	}
	return 0, errors.New("find a free port: every port offered is already given to an instance")
}

// freePort picks a loopback port nothing listens on, from below the
// kernel's ephemeral range. A port the kernel hands out for ":0" is one it
// also gives outgoing connections: between this check and the instance's
// bind, a busy machine's next connection may take it, and the instance
// fails with "address already in use". Below that range, only another
// listener could.
func freePort() (int, error) {
	lo, hi := instancePorts(ephemeralRangePath)
	for range 100 {
		port := lo + rand.IntN(hi-lo)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		l.Close()
		return port, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0") // all of them taken: any will do
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ephemeralRangePath is where Linux says which ports outgoing connections
// take.
const ephemeralRangePath = "/proc/sys/net/ipv4/ip_local_port_range"

// instancePorts is the range instances' ports come from: 10000–19999, or
// the 10,000 ports below the ephemeral range when that starts lower. The
// ephemeral range starts at 32768 on Linux by default and 49152 elsewhere.
func instancePorts(rangePath string) (lo, hi int) {
	ephemeral := 49152
	if b, err := os.ReadFile(rangePath); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 0 {
				ephemeral = n
			}
		}
	}
	lo, hi = 10000, 20000
	if ephemeral < hi {
		hi = max(ephemeral, 2048)
		lo = max(1024, hi-10000)
	}
	return lo, hi
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Health reports the release's instances. An instance that exited is a
// DeployError: a process that crashed at start will not become healthy. A
// release the provider does not know is one a deploy resumed after a restart
// is still deploying: its instances are started again (see adopt).
func (p *Provider) Health(ctx context.Context, d *deployer.Deployment) (*contract.Health, error) {
	if err := p.adopt(ctx, d); err != nil {
		return nil, err
	}
	return p.health(d)
}

func (p *Provider) health(d *deployer.Deployment) (*contract.Health, error) {
	ins, ok := p.instancesOf(d.ReleaseID)
	if !ok {
		return nil, &deployer.DeployError{Msg: fmt.Sprintf("release %s is not running on this local backend (was the server restarted?)", d.ReleaseID)}
	}
	hl := &contract.Health{Healthy: true, Services: map[string]*contract.ServiceHealth{}}
	for _, name := range serviceNames(d) {
		hl.Services[name] = &contract.ServiceHealth{Desired: d.Services[name].Instances, Instances: []contract.Instance{}}
	}
	var crashed []string
	for _, in := range ins {
		snap := in.snapshot()
		sh := hl.Services[in.service]
		if sh == nil {
			continue
		}
		sh.Instances = append(sh.Instances, snap)
		switch snap.State {
		case contract.InstanceHealthy:
			sh.Healthy++
		case contract.InstanceLaunching:
			sh.Launching++
		case contract.InstanceTerminating:
			sh.Terminating++
		case contract.InstanceStopped:
		case contract.InstanceExited:
			sh.Unhealthy++
			if !in.stopRequested() {
				crashed = append(crashed, fmt.Sprintf("instance %s (pid %d) exited: %s; last log lines: %s", snap.ID, snap.PID, snap.Reason, joinTail(snap.LogTail)))
			}
		default:
			sh.Unhealthy++
		}
	}
	for _, sh := range hl.Services {
		if sh.Healthy < sh.Desired {
			hl.Healthy = false
		}
	}
	if len(crashed) > 0 {
		hl.Healthy = false
		return hl, &deployer.DeployError{Msg: fmt.Sprintf("release %s: %s", d.ReleaseID, joinSemi(crashed))}
	}
	return hl, nil
}

// CleanUpSuccess sends each service's traffic to the release, then stops
// every other release of the project and config. Resumed after a restart of
// the server, it first waits for the release's instances, started again, to
// be healthy.
func (p *Provider) CleanUpSuccess(ctx context.Context, d *deployer.Deployment) error {
	if err := p.adopt(ctx, d); err != nil {
		return &deployer.CleanUpError{Msg: err.Error()}
	}
	if err := p.awaitRestarted(ctx, d); err != nil {
		return err
	}
	return p.promote(d, false)
}

// promote switches traffic to d. A restore (restoring) switches only while
// no other release has been promoted since the server started, and stops
// nothing: the other releases of the project and config are deploys the
// restart interrupted, whose executions resume and decide their fate.
func (p *Provider) promote(d *deployer.Deployment, restoring bool) error {
	p.mu.Lock()
	if cur := p.active[scope(d)]; restoring && cur != "" && cur != d.ReleaseID {
		p.mu.Unlock()
		p.logger.Info("not switching back to the restored release: another release was promoted since", "release", d.ReleaseID, "serving", cur)
		return nil
	}
	r := p.releases[d.ReleaseID]
	if r == nil {
		p.mu.Unlock()
		return &deployer.CleanUpError{Msg: fmt.Sprintf("release %s is not running on this local backend", d.ReleaseID)}
	}
	for _, in := range r.instances {
		if s := in.snapshot(); s.State != contract.InstanceHealthy {
			p.mu.Unlock()
			return &deployer.CleanUpError{Msg: fmt.Sprintf("not switching to release %s: instance %s is %s", d.ReleaseID, s.ID, s.State)}
		}
	}
	// Every service's balancer is checked before any is switched, so a
	// release is never half promoted.
	type switchover struct {
		b     *balancer
		ports []int
	}
	var switches []switchover
	for _, name := range serviceNames(d) {
		s := d.Services[name]
		if s.Listen == 0 {
			continue
		}
		b := p.balancers[s.Listen]
		if b == nil {
			p.mu.Unlock()
			return &deployer.CleanUpError{Msg: fmt.Sprintf("not switching to release %s: services.%s has no load balancer on port %d", d.ReleaseID, name, s.Listen)}
		}
		sw := switchover{b: b}
		for _, in := range r.instances {
			if in.service == name {
				sw.ports = append(sw.ports, in.port)
			}
		}
		switches = append(switches, sw)
	}
	for _, sw := range switches {
		sw.b.route(d.ReleaseID, sw.ports)
	}
	p.active[scope(d)] = d.ReleaseID
	p.recordServing(d)
	// A load balancer the release no longer listens on (a service removed
	// or moved to another port) would route to stopped instances: close it.
	listens := map[int]bool{}
	for _, s := range d.Services {
		listens[s.Listen] = true
	}
	var unused []*balancer
	for port, owner := range p.owners {
		if owner == scope(d) && !listens[port] {
			unused = append(unused, p.balancers[port])
			delete(p.balancers, port)
			delete(p.owners, port)
		}
	}
	var old []*running
	for id, o := range p.releases {
		if !restoring && id != d.ReleaseID && scope(&o.d) == scope(d) {
			old = append(old, o)
			delete(p.releases, id)
		}
	}
	p.mu.Unlock()
	for _, b := range unused {
		b.close()
	}
	for _, o := range old {
		p.logger.Info("stopping previous release", "release", o.d.ReleaseID)
		if err := p.stopAll(o.instances); err != nil {
			return &deployer.CleanUpError{Msg: fmt.Sprintf("switched to release %s, but stopping release %s: %v", d.ReleaseID, o.d.ReleaseID, err)}
		}
	}
	return nil
}

// CleanUpFailure stops the release's instances; the serving release is
// untouched. A failed deploy of the release that is serving (deployed
// again, say after another release failed) started nothing of its own:
// its Deploy found the release running. So there is nothing to clean up,
// and stopping it would take the service down.
func (p *Provider) CleanUpFailure(_ context.Context, d *deployer.Deployment) error {
	p.mu.Lock()
	r := p.releases[d.ReleaseID]
	if r != nil && p.active[scope(d)] == d.ReleaseID {
		p.mu.Unlock()
		p.logger.Info("the failed deploy's release is serving; leaving it running", "release", d.ReleaseID)
		return nil
	}
	if r == nil {
		// Unknown, as after a restart of the server: nothing of it runs.
		// Remember it as stopped, so that its report (and any later
		// question) does not start it again.
		p.releases[d.ReleaseID] = &running{d: *d, stopped: true}
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	ins, _ := p.instancesOf(d.ReleaseID)
	if err := p.stopAll(ins); err != nil {
		return &deployer.CleanUpError{Msg: fmt.Sprintf("stop release %s: %v", d.ReleaseID, err)}
	}
	p.mu.Lock()
	r.stopped = true
	p.mu.Unlock()
	return nil
}

// stopAll stops instances at once: SIGTERM to each process group, SIGKILL
// to those still running after the grace period.
func (p *Provider) stopAll(ins []*instance) error {
	errs := make(chan error, len(ins))
	for _, in := range ins {
		go func() { errs <- in.stop(p.stopGrace) }()
	}
	var all []error
	for range ins {
		if err := <-errs; err != nil {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}

// Close stops every instance and load balancer: the local server is going
// away, and with it whatever would supervise them.
func (p *Provider) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	p.mu.Unlock()
	p.wg.Wait()
	p.mu.Lock()
	var ins []*instance
	for _, r := range p.releases {
		ins = append(ins, r.instances...)
	}
	p.releases = map[string]*running{}
	bs := p.balancers
	p.balancers = map[int]*balancer{}
	p.owners = map[int]string{}
	p.mu.Unlock()
	err := p.stopAll(ins)
	for _, b := range bs {
		b.close()
	}
	return err
}

// Serving returns the release id serving a project and config, if any.
func (p *Provider) Serving(project, config string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.active[project+"/"+config]
}

// instancesOf returns a copy of a release's instances, and whether the
// provider knows the release.
func (p *Provider) instancesOf(releaseID string) ([]*instance, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.releases[releaseID]
	if r == nil {
		return nil, false
	}
	return slices.Clone(r.instances), true
}

// PIDs returns the process ids of a release's instances still running.
func (p *Provider) PIDs(releaseID string) []int {
	ins, _ := p.instancesOf(releaseID)
	var pids []int
	for _, in := range ins {
		if s := in.snapshot(); s.State != contract.InstanceExited && s.State != contract.InstanceStopped {
			pids = append(pids, s.PID)
		}
	}
	return pids
}
