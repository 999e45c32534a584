package store_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/odin-deploy/odin/pkg/local/store"
)

// NoteRecovery adds what the backend did after a recovery (a released
// lock) to the report, starting one when the start lost nothing but failed
// executions; the report stays private.
func TestNoteRecovery(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	if err := store.NoteRecovery(dir, at, "released the deploy lock s3://b/k of release r-1"); err != nil {
		t.Fatal(err)
	}
	if err := store.NoteRecovery(dir, at.Add(time.Hour), "released the deploy lock s3://b/k2 of release r-2"); err != nil {
		t.Fatal(err)
	}
	r, err := store.ReadRecovery(dir)
	if err != nil || r == nil {
		t.Fatalf("no report: %v", err)
	}
	if r.Lost() || !r.At.Equal(at) || len(r.Actions) != 2 {
		t.Fatalf("report: %+v", r)
	}
	want := "  done: released the deploy lock s3://b/k of release r-1\n  done: released the deploy lock s3://b/k2 of release r-2"
	if got := r.Summary(); got != want {
		t.Errorf("summary:\n%s\nwant:\n%s", got, want)
	}
	fi, err := os.Stat(filepath.Join(dir, store.RecoveryFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the report's mode: %v %v", fi.Mode(), err)
	}
}
