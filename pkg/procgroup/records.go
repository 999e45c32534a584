package procgroup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/odin-deploy/odin/pkg/privfile"
)

// Records is a directory holding a Record per group a process started and
// has not seen end, so that whoever finds that process gone without having
// stopped its groups (a server SIGKILLed) can stop them with StopLeft:
// nothing else ever would.
type Records struct{ Dir string }

// Record names a running group and tells its processes from any other.
type Record struct {
	PGID int `json:"pgid"`
	// Env holds NAME=value entries that the group's processes carry in
	// their environment, and that no unrelated process does: a group is
	// stopped only while a process of it carries them all.
	Env []string `json:"env"`
	// Labels say what the group runs, in log lines.
	Labels map[string]string `json:"labels,omitempty"`
}

// Add records rec as name (a file name in Dir), readable by this user only.
func (r Records) Add(name string, rec Record) error {
	if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
		return fmt.Errorf("record %q: not a plain file name", name)
	}
	if rec.PGID <= 1 || len(rec.Env) == 0 {
		return fmt.Errorf("record %s: want a group id above 1 and an environment to find it by", name)
	}
	if err := os.MkdirAll(r.Dir, 0o700); err != nil {
		return fmt.Errorf("record %s: %w", name, err)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("record %s: %w", name, err)
	}
	if err := privfile.Write(filepath.Join(r.Dir, name), b); err != nil {
		return fmt.Errorf("record %s: %w", name, err)
	}
	return nil
}

// Remove forgets the record name: its group has ended.
func (r Records) Remove(name string) { os.Remove(filepath.Join(r.Dir, name)) }

// StopLeft stops the groups recorded in Dir that still run: SIGTERM, and
// SIGKILL to those with a process left after grace. It removes every record,
// and skips (logging) those it cannot read. Call it only while nothing adds
// records to Dir: a running process's groups are recorded the same way. It
// returns how many groups it found running.
//
// A group is signalled only while one of its processes carries the record's
// environment, so that a group id now someone else's is never hit, and the
// rest of a group whose leader exited (a `go run` child, a shell's commands)
// is still found. Where environments cannot be read (no /proc), nothing is
// signalled.
func (r Records) StopLeft(grace time.Duration, logger *slog.Logger) int {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	entries, err := os.ReadDir(r.Dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			logger.Warn("cannot read the records of process groups an earlier server left", "dir", r.Dir, "error", err)
		}
		return 0
	}
	var recs []Record
	for _, e := range entries {
		path := filepath.Join(r.Dir, e.Name())
		rec, err := readRecord(path)
		if err != nil {
			logger.Warn("skipping a damaged process group record", "file", path, "error", err)
		} else {
			recs = append(recs, rec)
		}
		// What is not stopped below never will be: a record is no use
		// once it has been looked at.
		if err := os.RemoveAll(path); err != nil {
			logger.Warn("cannot remove a process group record", "file", path, "error", err)
		}
	}
	left, unsure := liveGroups(recs)
	// A process caught in its exec shows no environment for a moment: look
	// again before concluding its group is gone, for what is judged gone
	// here is never looked at again.
	for tries := 0; unsure && tries < 40; tries++ {
		time.Sleep(25 * time.Millisecond)
		left, unsure = liveGroups(recs)
	}
	found := len(left)
	for _, rec := range left {
		logger.Warn("stopping processes left running by an earlier server", rec.attrs()...)
		signalLeft(rec, syscall.SIGTERM, logger)
	}
	deadline := time.Now().Add(grace)
	for len(left) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		// A group found above is still the one recorded while it has any
		// member (its id cannot be reused before it is empty): one whose
		// environment shows blank in its exec still counts.
		left = withMembers(left)
	}
	for _, rec := range left {
		logger.Warn("processes left running by an earlier server did not stop on SIGTERM: killing them", append(rec.attrs(), "grace", grace)...)
		signalLeft(rec, syscall.SIGKILL, logger)
	}
	return found
}

func readRecord(path string) (Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Record{}, err
	}
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return Record{}, err
	}
	if rec.PGID <= 1 {
		// -1 would signal every process this user may signal.
		return Record{}, fmt.Errorf("group id %d", rec.PGID)
	}
	if len(rec.Env) == 0 {
		return Record{}, errors.New("no environment to find the group by")
	}
	return rec, nil
}

func (rec Record) attrs() []any {
	var a []any
	for _, k := range slices.Sorted(maps.Keys(rec.Labels)) {
		a = append(a, k, rec.Labels[k])
	}
	return append(a, "pgid", rec.PGID)
}

func signalLeft(rec Record, sig syscall.Signal, logger *slog.Logger) {
	if err := signalGroup(rec.PGID, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		logger.Warn("cannot stop processes left running by an earlier server", append(rec.attrs(), "signal", sig, "error", err)...)
	}
}

// liveGroups returns the records whose group still has a process that
// carries the record's environment. A group's id is never given to a new
// process while the group has members, and a member without that
// environment does not count, so a reused id is never mistaken for the
// recorded group.
//
// unsure is set when a recorded group that was not found has a process
// whose environment could not be read or was empty (a process in the middle
// of its exec shows none): it may yet be the group's.
func liveGroups(recs []Record) (live []Record, unsure bool) {
	if len(recs) == 0 {
		return nil, false
	}
	want := map[int][]int{} // pgid -> indexes in recs
	for i, r := range recs {
		want[r.PGID] = append(want[r.PGID], i)
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, false
	}
	found := make([]bool, len(recs))
	blind := make([]bool, len(recs)) // a process of its group showed no environment
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
		for _, i := range want[pgid] {
			switch {
			case err != nil || len(env) == 0:
				blind[i] = true
			case hasAll(env, recs[i].Env):
				found[i] = true
			}
		}
	}
	for i, r := range recs {
		if found[i] {
			live = append(live, r)
		} else if blind[i] {
			unsure = true
		}
	}
	return live, unsure
}

// withMembers returns the records whose group has any live process.
func withMembers(recs []Record) []Record {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	alive := map[int]bool{}
	for _, e := range procs {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			if pgid, ok := processGroup(pid); ok {
				alive[pgid] = true
			}
		}
	}
	var left []Record
	for _, r := range recs {
		if alive[r.PGID] {
			left = append(left, r)
		}
	}
	return left
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

// hasAll says whether a /proc environ (NUL-separated) holds every entry.
func hasAll(environ []byte, entries []string) bool {
	have := map[string]bool{}
	for _, v := range bytes.Split(environ, []byte{0}) {
		have[string(v)] = true
	}
	for _, kv := range entries {
		if !have[kv] {
			return false
		}
	}
	return true
}
