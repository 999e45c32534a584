package localprovider

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/odin-deploy/odin/pkg/procgroup"
)

// A record per running instance lets whoever finds a provider gone without
// stopping its instances (a server killed, a server started again after a
// crash) stop them: their supervisor, health checks and load balancer died
// with it, and nothing else would ever stop them.
func pidRecords(dataDir string) procgroup.Records {
	return procgroup.Records{Dir: filepath.Join(dataDir, "deployer", "pids")}
}

// instanceRecord names an instance's group by the variables instanceEnv
// gives its processes.
func instanceRecord(releaseID, instance string, pgid int) (string, procgroup.Record) {
	return releaseID + "-" + instance + ".json", procgroup.Record{
		PGID:   pgid,
		Env:    []string{"ODIN_RELEASE_ID=" + releaseID, "ODIN_INSTANCE=" + instance},
		Labels: map[string]string{"release": releaseID, "instance": instance},
	}
}

func (p *Provider) writePid(in *instance) {
	if err := pidRecords(p.dataDir).Add(instanceRecord(in.releaseID, in.id, in.pid)); err != nil {
		p.logger.Warn("cannot record instance pid", "error", err)
	}
}

func (p *Provider) removePid(in *instance) {
	name, _ := instanceRecord(in.releaseID, in.id, in.pid)
	pidRecords(p.dataDir).Remove(name)
}

// StopOrphans stops the instances that a provider on dataDir recorded and
// left running because it died without stopping them (its server was
// SIGKILLed): SIGTERM to each one's process group, and SIGKILL if anything
// of it is still there after grace. Only call it when no provider runs on
// dataDir: a running one's instances are recorded the same way. A group is
// signalled only while a process in it still carries the instance's
// ODIN_RELEASE_ID and ODIN_INSTANCE (see procgroup.Records.StopLeft).
func StopOrphans(dataDir string, grace time.Duration, logger *slog.Logger) {
	upgradeRecords(dataDir, logger)
	pidRecords(dataDir).StopLeft(grace, logger)
}

// legacyRecord is how builds before procgroup.Records recorded an
// instance: {"pid", "release_id", "instance"}, the pid leading its group.
type legacyRecord struct {
	PID       int    `json:"pid"`
	ReleaseID string `json:"release_id"`
	Instance  string `json:"instance"`
}

// upgradeRecords rewrites records an earlier build left in its own format,
// so that an upgrade over a killed server still stops its instances.
func upgradeRecords(dataDir string, logger *slog.Logger) {
	recs := pidRecords(dataDir)
	entries, err := os.ReadDir(recs.Dir)
	if err != nil {
		return // none, or StopLeft says why
	}
	for _, e := range entries {
		path := filepath.Join(recs.Dir, e.Name())
		b, err := os.ReadFile(path)
		if err != nil || !e.Type().IsRegular() || len(b) > 64<<10 {
			continue
		}
		var old legacyRecord
		if json.Unmarshal(b, &old) != nil || old.PID <= 1 || old.ReleaseID == "" || old.Instance == "" || bytes.Contains(b, []byte(`"pgid"`)) {
			continue
		}
		name, rec := instanceRecord(old.ReleaseID, old.Instance, old.PID)
		if name != e.Name() {
			os.Remove(path)
		}
		if err := recs.Add(name, rec); err != nil {
			logger.Warn("cannot read an instance record of an earlier build", "file", path, "error", err)
		}
	}
}
