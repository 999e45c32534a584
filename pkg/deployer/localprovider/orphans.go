package localprovider

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/odin-deploy/odin/pkg/procgroup"
)

// A record per running instance lets whoever finds a provider gone without
// stopping its instances (a server killed, a server started again after a
// crash) stop them: their supervisor, health checks and load balancer died
// with it, and nothing else would ever stop them.
type pidRecord struct {
	PID       int    `json:"pid"`
	ReleaseID string `json:"release_id"`
	Instance  string `json:"instance"`
}

func pidDir(dataDir string) string { return filepath.Join(dataDir, "deployer", "pids") }

func (p *Provider) pidPath(releaseID, instance string) string {
	return filepath.Join(pidDir(p.dataDir), releaseID+"-"+instance+".json")
}

func (p *Provider) writePid(in *instance) {
	if err := os.MkdirAll(pidDir(p.dataDir), 0o700); err != nil {
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

// StopOrphans stops the instances that a provider on dataDir recorded and
// left running because it died without stopping them (its server was
// SIGKILLed). Each one's process group gets SIGTERM, and SIGKILL if anything
// of it is still there after grace. Only call it when no provider runs on
// dataDir: a running one's instances are recorded the same way.
//
// A group is signalled only while a process in it still carries the recorded
// release and instance in its environment, so a reused pid is never hit, and
// the rest of a group whose leader exited after the server died (a `go run`
// child, a shell's commands) is still found. Where environments cannot be
// read (no /proc), nothing is signalled.
func StopOrphans(dataDir string, grace time.Duration, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	entries, err := os.ReadDir(pidDir(dataDir))
	if err != nil {
		return
	}
	var recs []pidRecord
	for _, e := range entries {
		path := filepath.Join(pidDir(dataDir), e.Name())
		b, err := os.ReadFile(path)
		var rec pidRecord
		if err == nil && json.Unmarshal(b, &rec) == nil && rec.PID > 0 {
			recs = append(recs, rec)
		}
		// What is not stopped below never will be: a record is no use
		// once it has been looked at.
		os.Remove(path)
	}
	left := liveGroups(recs)
	for _, rec := range left {
		logger.Warn("stopping an instance left running by an earlier server", "release", rec.ReleaseID, "instance", rec.Instance, "pgid", rec.PID)
		signalOrphan(rec, syscall.SIGTERM, logger)
	}
	deadline := time.Now().Add(grace)
	for len(left) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		left = liveGroups(left)
	}
	for _, rec := range left {
		logger.Warn("an instance left running by an earlier server did not stop on SIGTERM: killing it", "release", rec.ReleaseID, "instance", rec.Instance, "pgid", rec.PID, "grace", grace)
		signalOrphan(rec, syscall.SIGKILL, logger)
	}
}

func signalOrphan(rec pidRecord, sig syscall.Signal, logger *slog.Logger) {
	if err := procgroup.SignalOrphan(rec.PID, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		logger.Warn("cannot stop an instance left running by an earlier server", "pgid", rec.PID, "signal", sig, "error", err)
	}
}

// liveGroups returns the records whose process group still has a process
// that carries the record's release and instance in its environment. A
// group's id is never given to a new process while the group has members,
// and a member that is not the instance's (started with a cleared
// environment) does not count, so a reused id is never mistaken for one.
func liveGroups(recs []pidRecord) []pidRecord {
	if len(recs) == 0 {
		return nil
	}
	want := map[int][]pidRecord{}
	for _, r := range recs {
		want[r.PID] = append(want[r.PID], r)
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	found := map[pidRecord]bool{}
	for _, e := range procs {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		pgid, ok := processGroup(pid)
		if !ok || want[pgid] == nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		for _, r := range want[pgid] {
			if hasVar(env, "ODIN_RELEASE_ID="+r.ReleaseID) && hasVar(env, "ODIN_INSTANCE="+r.Instance) {
				found[r] = true
			}
		}
	}
	var live []pidRecord
	for _, r := range recs {
		if found[r] {
			live = append(live, r)
		}
	}
	return live
}

// processGroup reads the process group of a live process (not a zombie) from
// /proc/<pid>/stat: "pid (comm) state ppid pgrp ...", where comm may hold
// spaces and parentheses.
func processGroup(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
		return 0, false
	}
	pgid, err := strconv.Atoi(f[2])
	return pgid, err == nil
}

func hasVar(env []byte, kv string) bool {
	for _, v := range bytes.Split(env, []byte{0}) {
		if string(v) == kv {
			return true
		}
	}
	return false
}
