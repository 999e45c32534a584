package store_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/local/store"
	"github.com/odin-deploy/odin/pkg/local/store/faultfs"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

const smArn = "arn:aws:states:us-east-1:123456789012:stateMachine:m"

func xArn(i int) string {
	return fmt.Sprintf("arn:aws:states:us-east-1:123456789012:execution:m:x%d", i)
}

// history is the events of an execution of the script: started, a state
// entered and exited n times, and an end (none for a running one).
func history(n int, end string) []engine.Event {
	evs := []engine.Event{{ID: 1, Type: "ExecutionStarted", Timestamp: t0, Details: &engine.Details{Input: `{"i":1}`}}}
	for range n {
		id := int64(len(evs) + 1)
		evs = append(evs,
			engine.Event{ID: id, PreviousEventID: id - 1, Type: "PassStateEntered", Timestamp: t0, Details: &engine.Details{Name: "A", Input: `{"i":1}`}},
			engine.Event{ID: id + 1, PreviousEventID: id, Type: "PassStateExited", Timestamp: t0, Details: &engine.Details{Name: "A", Output: `{"i":2}`}})
	}
	id := int64(len(evs) + 1)
	switch end {
	case "ExecutionSucceeded":
		evs = append(evs, engine.Event{ID: id, PreviousEventID: id - 1, Type: end, Timestamp: t0.Add(time.Minute), Details: &engine.Details{Output: `{"i":2}`}})
	case "ExecutionFailed":
		evs = append(evs, engine.Event{ID: id, PreviousEventID: id - 1, Type: end, Timestamp: t0.Add(time.Minute), Details: &engine.Details{Error: "E", Cause: "C"}})
	}
	return evs
}

// scriptExecutions is what the script runs: five executions interleaved,
// four of which end; with CompactEvery 2 the store compacts along the way.
var scriptExecutions = []struct {
	passes int
	end    string
}{{2, "ExecutionSucceeded"}, {3, "ExecutionFailed"}, {1, "ExecutionSucceeded"}, {2, ""}, {4, "ExecutionSucceeded"}}

// runScript creates the state machine and the executions and appends their
// events, interleaved. An operation that fails is retried until it
// succeeds, up to tries times: the caller decides when space returns.
func runScript(t *testing.T, s *store.Store, retry func(what string, op func() error)) {
	ctx := context.Background()
	retry("create state machine", func() error {
		_, err := s.CreateStateMachine(ctx, store.StateMachine{Arn: smArn, Name: "m", Type: "STANDARD", Created: t0,
			Revisions: []store.Revision{{ID: "r1", Definition: `{"StartAt":"A"}`, RoleArn: "arn:aws:iam::1:role/r", Date: t0}}})
		if errors.Is(err, store.ErrExists) {
			return nil
		}
		return err
	})
	hs := make([][]engine.Event, len(scriptExecutions))
	for i, x := range scriptExecutions {
		hs[i] = history(x.passes, x.end)
		retry(fmt.Sprint("create execution ", i), func() error {
			_, err := s.CreateExecution(ctx, store.Execution{Arn: xArn(i), Name: fmt.Sprint("x", i), StateMachineArn: smArn,
				StateMachineName: "m", Input: `{"i":1}`, StartDate: t0})
			if errors.Is(err, store.ErrExists) {
				return nil
			}
			return err
		})
	}
	for step := 0; ; step++ {
		more := false
		for i := range hs {
			if step >= len(hs[i]) {
				continue
			}
			more = true
			ev := hs[i][step]
			retry(fmt.Sprintf("append event %d of %d", ev.ID, i), func() error { return s.Append(ctx, xArn(i), ev) })
		}
		if !more {
			return
		}
	}
}

// checkScript checks that the store holds exactly what the script wrote.
func checkScript(t *testing.T, s *store.Store) {
	t.Helper()
	for i, sx := range scriptExecutions {
		want := history(sx.passes, sx.end)
		x, ok := s.Execution(xArn(i))
		if !ok {
			t.Fatalf("execution %d is gone", i)
		}
		wantStatus := map[string]string{"": engine.StatusRunning, "ExecutionSucceeded": engine.StatusSucceeded, "ExecutionFailed": engine.StatusFailed}[sx.end]
		if x.Status != wantStatus || x.Events != len(want) || x.Input != `{"i":1}` {
			t.Fatalf("execution %d: %s with %d events, want %s with %d", i, x.Status, x.Events, wantStatus, len(want))
		}
		got, err := s.Events(xArn(i))
		if err != nil {
			t.Fatal(err)
		}
		for j := range want {
			if got[j].ID != want[j].ID || got[j].Type != want[j].Type {
				t.Fatalf("execution %d event %d: %d %s, want %d %s", i, j, got[j].ID, got[j].Type, want[j].ID, want[j].Type)
			}
		}
	}
}

func openWith(t *testing.T, dir string, fsys store.FS) *store.Store {
	t.Helper()
	s, err := store.Open(dir, store.Options{FS: fsys, CompactEvery: 2})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestFullDiskAtEveryWrite runs the script with the disk full at each of
// its writes in turn (journal, history, snapshot and their compactions),
// and with the undo of the failed write failing too. The operation that
// failed is retried once space returns. Reopened, the store holds exactly
// what was written, with nothing torn, damaged or lost.
func TestFullDiskAtEveryWrite(t *testing.T) {
	clean := &faultfs.FS{}
	dir := t.TempDir()
	s := openWith(t, dir, clean)
	runScript(t, s, func(what string, op func() error) {
		if err := op(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	})
	s.Close()
	writes := clean.Writes()
	if writes < 30 {
		t.Fatalf("the script made only %d writes", writes)
	}
	for _, undoFails := range []bool{false, true} {
		for k := 1; k <= writes; k++ {
			t.Run(fmt.Sprintf("write %d undo fails %v", k, undoFails), func(t *testing.T) {
				fsys := &faultfs.FS{}
				fsys.FailWrite(k)
				dir := t.TempDir()
				s, err := store.Open(dir, store.Options{FS: fsys, CompactEvery: 2})
				if err != nil {
					// The fault hit opening: a clear error, and the next
					// open (space back) works.
					if !errors.Is(err, syscall.ENOSPC) {
						t.Fatalf("open: %v", err)
					}
					s = openWith(t, dir, fsys)
				}
				failed := 0
				runScript(t, s, func(what string, op func() error) {
					err := op()
					if err == nil {
						return
					}
					failed++
					if !errors.Is(err, syscall.ENOSPC) && !errors.Is(err, syscall.EIO) {
						t.Fatalf("%s: %v, want ENOSPC", what, err)
					}
					if undoFails {
						fsys.FailTruncates(1)
					}
					// Space is back: the retry succeeds, but for a failed
					// undo, which the retry after it redoes.
					for range 2 {
						if err = op(); err == nil {
							return
						}
					}
					t.Fatalf("%s after space returned: %v", what, err)
				})
				if err := s.Compact(); err != nil && s.Compact() != nil {
					t.Fatalf("compact once space returned: %v", s.Compact())
				}
				checkScript(t, s)
				s.Close()
				s2 := openWith(t, dir, store.OSFS{})
				defer s2.Close()
				if r := s2.Recovery(); r != nil {
					t.Fatalf("a failed write left the journal torn or damaged: %s", r.Summary())
				}
				checkScript(t, s2)
			})
		}
	}
}

// TestStaysFull fills the disk for good mid-script: every write fails and
// none tears the journal; once space returns the script goes on.
func TestStaysFull(t *testing.T) {
	fsys := &faultfs.FS{}
	dir := t.TempDir()
	s := openWith(t, dir, fsys)
	n := 0
	runScript(t, s, func(what string, op func() error) {
		n++
		if n == 9 {
			fsys.SetFull(true)
			for range 5 {
				if err := op(); !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("%s on a full disk: %v", what, err)
				}
			}
			fsys.SetFull(false)
		}
		if err := op(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	})
	checkScript(t, s)
	s.Close()
	s2 := openWith(t, dir, store.OSFS{})
	defer s2.Close()
	if r := s2.Recovery(); r != nil {
		t.Fatalf("%s", r.Summary())
	}
	checkScript(t, s2)
}

// journalRecords returns the offset and length of every record of a
// journal in the current format.
func journalRecords(t *testing.T, b []byte) [][2]int {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("ODINJNL2")) {
		t.Fatalf("not a journal: %q", b[:min(8, len(b))])
	}
	var out [][2]int
	for off := 8; off < len(b); {
		n := int(binary.LittleEndian.Uint32(b[off+2 : off+6]))
		out = append(out, [2]int{off, 14 + n})
		off += 14 + n
	}
	return out
}

// writeJournal writes the script's journal with nothing compacted: two
// thirds of it finished executions, the rest running.
func writeJournal(t *testing.T) []byte {
	dir := t.TempDir()
	s, err := store.Open(dir, store.Options{CompactEvery: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	runScript(t, s, func(what string, op func() error) {
		if err := op(); err != nil {
			t.Fatal(err)
		}
	})
	s.Close()
	b, err := os.ReadFile(filepath.Join(dir, "journal"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDamageAtEveryRecord damages a real journal at every record: its
// magic, each byte of its length, its header checksum, its payload, and
// cuts it at and inside every record. Each opens; a cut is a torn tail
// (nothing lost that was not being written); damage is copied aside and
// reported, every whole record after it is recovered (a damaged length is
// not taken for a torn tail), no finished execution is lost without a
// report, a running one resumes from a whole history, and a second open
// is clean.
func TestDamageAtEveryRecord(t *testing.T) {
	good := writeJournal(t)
	recs := journalRecords(t, good)
	type damage struct {
		name string
		b    []byte
		torn bool // a cut: nothing after it
	}
	var cases []damage
	flip := func(at int) []byte {
		b := bytes.Clone(good)
		b[at] ^= 0x5a
		return b
	}
	for i, r := range recs[1:] { // recs[0] is the generation
		off, n := r[0], r[1]
		name := fmt.Sprintf("record %d at %d", i+1, off)
		cases = append(cases,
			damage{name + " magic", flip(off), false},
			damage{name + " header checksum", flip(off + 11), false},
			damage{name + " payload", flip(off + 14 + (n-14)/2), false},
			damage{name + " cut at its start", bytes.Clone(good[:off]), true},
			damage{name + " cut in its header", bytes.Clone(good[:off+7]), true},
			damage{name + " cut in its body", bytes.Clone(good[:off+n-1]), true},
			damage{name + " zeros from its middle", append(bytes.Clone(good[:off+n/2]), make([]byte, len(good)-off-n/2)...), true},
		)
		for j := 2; j < 6; j++ {
			cases = append(cases, damage{fmt.Sprintf("%s length byte %d", name, j-2), flip(off + j), false})
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "journal")
			if err := os.WriteFile(path, c.b, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := store.Open(dir, store.Options{})
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			r := s.Recovery()
			lastWhole := len(c.b)
			if !c.torn {
				if !r.Lost() || len(r.Damaged) == 0 {
					t.Fatalf("damage not reported: %+v", r)
				}
				if copied, err := os.ReadFile(r.Copy); err != nil || !bytes.Equal(copied, c.b) {
					t.Fatalf("the damaged journal was not copied aside as found: %v", err)
				}
				if kept, err := store.ReadRecovery(dir); err != nil || kept == nil || !kept.Lost() {
					t.Fatalf("no recovery report in %s: %v", dir, err)
				}
				// Exactly one record is damaged: all the others are whole.
				if r.Records != len(recs)-1 {
					t.Fatalf("recovered %d records of %d, with one damaged:\n%s", r.Records, len(recs), r.Summary())
				}
			} else if r.Lost() {
				t.Fatalf("a cut reported as damage: %s", r.Summary())
			}
			_ = lastWhole
			for i, sx := range scriptExecutions {
				x, ok := s.Execution(xArn(i))
				want := history(sx.passes, sx.end)
				if !ok {
					if !c.torn && !r.Lost() {
						t.Fatalf("execution %d lost without a report", i)
					}
					continue
				}
				if x.Status == engine.StatusRunning {
					// It resumes from a history without gaps.
					evs, err := s.Events(xArn(i))
					if err != nil {
						t.Fatal(err)
					}
					for j, ev := range evs {
						if ev.ID != int64(j+1) {
							t.Fatalf("execution %d resumes from a history with a gap: %v", i, evs)
						}
					}
					if sx.end != "" && !c.torn && !slices.ContainsFunc(r.LostEvents, func(l store.LostEvents) bool { return l.Execution == xArn(i) }) {
						t.Fatalf("finished execution %d is running again without a report", i)
					}
					continue
				}
				if x.Events != len(want) && !slices.ContainsFunc(r.LostEvents, func(l store.LostEvents) bool { return l.Execution == xArn(i) }) {
					t.Fatalf("execution %d lost events without a report: %d of %d", i, x.Events, len(want))
				}
			}
			// The store goes on, and opens clean next time.
			ctx := context.Background()
			if _, err := s.CreateStateMachine(ctx, store.StateMachine{Arn: smArn + "2", Name: "m2", Revisions: []store.Revision{{ID: "r"}}}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s2, err := store.Open(dir, store.Options{})
			if err != nil {
				t.Fatalf("second open: %v", err)
			}
			defer s2.Close()
			if r2 := s2.Recovery(); r2 != nil {
				t.Fatalf("second open not clean: %s", r2.Summary())
			}
			if _, ok := s2.StateMachine(smArn + "2"); !ok {
				t.Fatal("a write after the recovery is gone")
			}
		})
	}
}

// v1Record frames a record as journals did before the current format.
func v1Record(kind byte, payload any) []byte {
	var p []byte
	switch v := payload.(type) {
	case []byte:
		p = v
	default:
		p, _ = json.Marshal(v)
	}
	body := append([]byte{kind}, p...)
	h := make([]byte, 8)
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(body)))
	binary.LittleEndian.PutUint32(h[4:8], crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
	return append(h, body...)
}

// TestMigrateV1 opens journals in the format before this one, whole and
// with a damaged length field: each is read, recovered around the damage
// and rewritten in the current format.
func TestMigrateV1(t *testing.T) {
	var b []byte
	b = append(b, v1Record(1, store.StateMachine{Arn: smArn, Name: "m", Type: "STANDARD", Created: t0,
		Revisions: []store.Revision{{ID: "r1", Definition: `{"StartAt":"A"}`, Date: t0}}})...)
	var offsets []int
	for i := range 20 {
		offsets = append(offsets, len(b))
		b = append(b, v1Record(4, map[string]any{"seq": i + 1, "arn": xArn(i), "name": fmt.Sprint("x", i),
			"stateMachineArn": smArn, "stateMachineName": "m", "input": `{"i":1}`, "startDate": t0})...)
		for _, ev := range history(1, "ExecutionSucceeded") {
			full, _ := json.Marshal(ev)
			b = append(b, v1Record(5, append(binary.AppendUvarint(nil, uint64(i+1)), full...))...)
		}
	}
	damaged := bytes.Clone(b)
	damaged[offsets[8]+1] ^= 0x7f // execution 8's length: once, 12 of 20 vanished
	for name, journal := range map[string][]byte{"whole": b, "damaged length": damaged} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "journal"), journal, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := store.Open(dir, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			found := 0
			for i := range 20 {
				if x, ok := s.Execution(xArn(i)); ok && x.Status == engine.StatusSucceeded && x.Events == 4 {
					found++
				}
			}
			r := s.Recovery()
			switch {
			case name == "whole" && (found != 20 || r != nil):
				t.Fatalf("migrated %d of 20; %v", found, r)
			case name == "damaged length" && (found != 19 || !r.Lost() || len(r.LostExecutions) != 1 || r.LostExecutions[0].Seq != 9):
				t.Fatalf("recovered %d of 20 (want 19, execution 8 reported lost):\n%s", found, r.Summary())
			}
			s.Close()
			now, _ := os.ReadFile(filepath.Join(dir, "journal"))
			if !bytes.HasPrefix(now, []byte("ODINJNL2")) {
				t.Fatal("the journal was not rewritten in the current format")
			}
			s2, err := store.Open(dir, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			if x, ok := s2.Execution(xArn(19)); !ok || x.Status != engine.StatusSucceeded {
				t.Fatalf("after the migration: %+v", x)
			}
		})
	}
}

// TestRetention: finished executions expire Retention after they end, with
// their histories; running ones never do, and an expired name is free.
func TestRetention(t *testing.T) {
	dir := t.TempDir()
	now := t0
	opts := store.Options{Retention: 24 * time.Hour, Now: func() time.Time { return now }, CompactEvery: 2}
	s, err := store.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	runScript(t, s, func(what string, op func() error) {
		if err := op(); err != nil {
			t.Fatal(err)
		}
	})
	checkScript(t, s) // compacted along the way, nothing expired yet
	s.Close()
	now = t0.Add(25 * time.Hour) // the finished ones ended at t0+1m
	s, err = store.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, sx := range scriptExecutions {
		_, ok := s.Execution(xArn(i))
		if ok != (sx.end == "") {
			t.Errorf("execution %d (%q) present %v after the retention", i, sx.end, ok)
		}
	}
	if xs, _ := s.ListExecutions(smArn, "", -1, 100); len(xs) != 1 {
		t.Fatalf("listed %d executions after the retention", len(xs))
	}
	if _, err := s.CreateExecution(context.Background(), store.Execution{Arn: xArn(0), Name: "x0", StateMachineArn: smArn,
		StateMachineName: "m", Input: "{}", StartDate: now}); err != nil {
		t.Fatalf("an expired execution's name: %v", err)
	}
}
