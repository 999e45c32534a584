package localprovider

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/odin-deploy/odin/pkg/procgroup"
)

// A record per running instance lets a provider that starts after a crash of
// the server stop the instances the previous one left running: their
// supervisor, health checks and load balancer died with it.
type pidRecord struct {
	PID       int    `json:"pid"`
	ReleaseID string `json:"release_id"`
	Instance  string `json:"instance"`
}

func (p *Provider) pidDir() string { return filepath.Join(p.dataDir, "deployer", "pids") }

func (p *Provider) pidPath(releaseID, instance string) string {
	return filepath.Join(p.pidDir(), releaseID+"-"+instance+".json")
}

func (p *Provider) writePid(in *instance) {
	if err := os.MkdirAll(p.pidDir(), 0o700); err != nil {
		p.logger.Warn("cannot record instance pid", "error", err)
		return
	}
	b, _ := json.Marshal(pidRecord{PID: in.pid, ReleaseID: in.releaseID, Instance: in.id})
	if err := writePrivate(p.pidPath(in.releaseID, in.id), b); err != nil {
		p.logger.Warn("cannot record instance pid", "error", err)
	}
}

// writePrivate writes a file 0600 whatever mode an existing one had (the
// mode given to OpenFile applies only to a new file), before writing.
func writePrivate(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	_, err = f.Write(b)
	return errors.Join(err, f.Close())
}

func (p *Provider) removePid(in *instance) { os.Remove(p.pidPath(in.releaseID, in.id)) }

// reapOrphans stops the process groups of instances recorded by an earlier
// provider. A pid is only signalled when its environment still names the
// recorded release and instance, so a reused pid is never hit; where the
// environment cannot be read (no /proc), nothing is signalled.
func (p *Provider) reapOrphans() {
	entries, err := os.ReadDir(p.pidDir())
	if err != nil {
		return
	}
	for _, e := range entries {
		path := filepath.Join(p.pidDir(), e.Name())
		b, err := os.ReadFile(path)
		var rec pidRecord
		if err == nil && json.Unmarshal(b, &rec) == nil && rec.PID > 0 && isInstance(rec) {
			p.logger.Warn("stopping an instance left running by an earlier server", "release", rec.ReleaseID, "instance", rec.Instance, "pid", rec.PID)
			if err := procgroup.SignalOrphan(rec.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				p.logger.Warn("cannot stop orphaned instance", "pid", rec.PID, "error", err)
			}
		}
		os.Remove(path)
	}
}

func isInstance(rec pidRecord) bool {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(rec.PID) + "/environ")
	if err != nil {
		return false
	}
	vars := bytes.Split(env, []byte{0})
	has := func(kv string) bool {
		for _, v := range vars {
			if string(v) == kv {
				return true
			}
		}
		return false
	}
	return has("ODIN_RELEASE_ID="+rec.ReleaseID) && has("ODIN_INSTANCE="+rec.Instance)
}
