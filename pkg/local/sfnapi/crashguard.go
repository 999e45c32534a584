package sfnapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/local/store"
)

// A server that dies while an execution is in some state resumes that
// execution in the same state when it starts again. If that state is what
// kills the server (a definition that exhausts memory, a task handler that
// crashes the process), resuming it again would kill the server again, for
// good: a crash loop. So every start writes down, before it resumes anything,
// where each execution it resumes stands (the last state it left: resuming
// a state records events of its own, such as a task scheduled again, which
// are not progress) and how many unexpected stops in a row found it there; a
// clean stop removes the record.
// A start that finds the record knows the last server died: an execution
// found twice in a row at the same point is failed instead of being resumed
// again. A clean stop in between starts the count again.

const resumeGuardFile = "resuming.json"

// resumeGuard is the record, by execution ARN.
type resumeGuard map[string]resumePoint

type resumePoint struct {
	LastExit int64 `json:"lastExit"` // id of the last *StateExited event, 0 if none
	Deaths   int   `json:"deaths"`   // unexpected stops in a row that found it there
}

// lastExit is how far an execution has got: the last state it left.
func lastExit(events []engine.Event) int64 {
	for i := len(events) - 1; i >= 0; i-- {
		if strings.HasSuffix(events[i].Type, "StateExited") {
			return events[i].ID
		}
	}
	return 0
}

// loadResumeGuard reads the record; died says whether the last server
// stopped without removing it, that is, unexpectedly.
func loadResumeGuard(dir string) (g resumeGuard, died bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, resumeGuardFile))
	if errors.Is(err, fs.ErrNotExist) {
		return resumeGuard{}, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	g = resumeGuard{}
	if err := json.Unmarshal(b, &g); err != nil {
		// Torn by the death itself: the death counts, the points are lost.
		return resumeGuard{}, true, nil
	}
	return g, true, nil
}

// save writes the record durably before any execution is resumed, so that a
// death during the resume itself is counted.
func (g resumeGuard) save(dir string) error {
	b, err := json.Marshal(g)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, resumeGuardFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil { // a leftover tmp keeps its mode
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// clearResumeGuard forgets the record on a clean stop: executions left
// RUNNING by a stop are not suspects.
func clearResumeGuard(dir string) error {
	err := os.Remove(filepath.Join(dir, resumeGuardFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// crashLoopCause words the failure of an execution that is not resumed
// again, naming the state it was in.
func crashLoopCause(events []engine.Event) string {
	state, id := "", int64(0)
	for _, ev := range events {
		if strings.HasSuffix(ev.Type, "StateEntered") && ev.Details != nil {
			state, id = ev.Details.Name, ev.ID
		}
	}
	where := "before its first state"
	if state != "" {
		where = fmt.Sprintf("in the state '%s' (entered at the event id #%d)", state, id)
	}
	return "The local backend stopped unexpectedly twice in a row while this execution was " + where +
		", without the execution leaving it in between; it is not resumed a third time, so that it cannot stop the backend again."
}

// suspects splits the executions to resume into those to resume and those
// that two unexpected stops in a row found at the same point.
func (g resumeGuard) suspects(running []store.Execution, died bool, history func(arn string) []engine.Event) (resume, fail []store.Execution, next resumeGuard) {
	next = resumeGuard{}
	for _, x := range running {
		p := resumePoint{LastExit: lastExit(history(x.Arn))}
		if died {
			p.Deaths = 1
			if prev, seen := g[x.Arn]; seen && prev.LastExit == p.LastExit {
				p.Deaths = prev.Deaths + 1
			}
		}
		if p.Deaths >= 2 {
			fail = append(fail, x)
			continue
		}
		next[x.Arn] = p
		resume = append(resume, x)
	}
	return resume, fail, next
}
