package sfnapi

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/local/store"
)

// TestResumeGuard walks the record through starts and stops: only two
// unexpected stops in a row with the execution at the same point fail it.
func TestResumeGuard(t *testing.T) {
	dir := t.TempDir()
	inState := []engine.Event{
		{ID: 1, Type: "ExecutionStarted"},
		{ID: 2, Type: "PassStateEntered", Details: &engine.Details{Name: "A"}},
		{ID: 3, Type: "PassStateExited", Details: &engine.Details{Name: "A"}},
		{ID: 4, Type: "TaskStateEntered", Details: &engine.Details{Name: "Stuck"}},
	}
	moved := append(slices.Clone(inState),
		engine.Event{ID: 5, Type: "TaskStateExited", Details: &engine.Details{Name: "Stuck"}},
		engine.Event{ID: 6, Type: "WaitStateEntered", Details: &engine.Details{Name: "Later"}})
	x := []store.Execution{{Arn: "arn:x"}}
	// start loads the record, decides, and saves as a start does.
	start := func(events []engine.Event) (resumed, failed int) {
		t.Helper()
		g, died, err := loadResumeGuard(dir)
		if err != nil {
			t.Fatal(err)
		}
		resume, fail, next := g.suspects(x, died, func(string) []engine.Event { return events })
		if err := next.save(dir); err != nil {
			t.Fatal(err)
		}
		return len(resume), len(fail)
	}
	cleanStop := func() {
		if err := clearResumeGuard(dir); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name           string
		do             func() (int, int)
		resume, failed int
	}{
		{"first start after a clean stop", func() (int, int) { return start(inState) }, 1, 0},
		{"died once in the state", func() (int, int) { return start(inState) }, 1, 0},
		{"moved on, then died", func() (int, int) { return start(moved) }, 1, 0},
		{"died again where it moved to", func() (int, int) { return start(moved) }, 0, 1},
		{"a clean stop starts the count again", func() (int, int) { cleanStop(); return start(moved) }, 1, 0},
		{"one death after the clean stop", func() (int, int) { return start(moved) }, 1, 0},
	}
	for _, s := range steps {
		if r, f := s.do(); r != s.resume || f != s.failed {
			t.Fatalf("%s: resumed %d, failed %d; want %d, %d", s.name, r, f, s.resume, s.failed)
		}
	}
	// A record torn by the death still counts the death.
	if err := os.WriteFile(filepath.Join(dir, resumeGuardFile), []byte(`{"arn:x":{"lastEx`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, died, _ := loadResumeGuard(dir); !died {
		t.Error("a torn record must count as a death")
	}
	if got := crashLoopCause(inState); got != "The local backend stopped unexpectedly twice in a row while this execution was in the state 'Stuck' (entered at the event id #4), without the execution leaving it in between; it is not resumed a third time, so that it cannot stop the backend again." {
		t.Errorf("cause %q", got)
	}
}
