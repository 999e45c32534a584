package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/odin-deploy/odin/pkg/local/engine"
)

// Files in the store's directory.
const (
	journalFile  = "journal"
	snapshotFile = "snapshot"
	tmpSuffix    = ".tmp"
	// historyChunk bounds a history record; longer histories take several.
	historyChunk = 4 << 20
)

// rewriteHistoryOver is the size over which a history file mostly of
// expired executions is rewritten (a variable for the tests).
var rewriteHistoryOver int64 = 16 << 20

// generationRecord opens a snapshot and a journal: a journal belongs to the
// snapshot of its generation.
type generationRecord struct {
	Gen     int64  `json:"gen"`
	NextSeq int64  `json:"nextSeq,omitempty"`
	History string `json:"history,omitempty"` // the history file's name
}

type snapshotStateMachine struct {
	StateMachine
	Deleted bool `json:"deleted,omitempty"`
}

type details struct {
	Input  string `json:"input"`
	Output string `json:"output,omitempty"`
	Error  string `json:"error,omitempty"`
	Cause  string `json:"cause,omitempty"`
}

// block is where a compacted execution's details and history are in the
// history file: whole records, checked when read.
type block struct {
	detailsOff, detailsLen int64
	histOff, histLen       int64
}

// historyFile is the append-only file of compacted executions.
type historyFile struct {
	name string
	f    File
	size int64
}

func openHistory(fsys FS, dir, name string) (*historyFile, error) {
	f, err := openPrivate(fsys, filepath.Join(dir, name), os.O_RDWR|os.O_CREATE|os.O_APPEND)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	h := &historyFile{name: name, f: f, size: st.Size()}
	if h.size == 0 {
		if err := h.writeRaw(historyMagic); err != nil {
			f.Close()
			return nil, err
		}
	}
	return h, nil
}

// writeRaw appends b, undoing a failed write.
func (h *historyFile) writeRaw(b []byte) error {
	n, err := h.f.Write(b)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		if terr := h.f.Truncate(h.size); terr != nil {
			return errors.Join(err, fmt.Errorf("undo: %w", terr))
		}
		return err
	}
	h.size += int64(n)
	return nil
}

// appendExecution writes x's details and history and returns where.
func (h *historyFile) appendExecution(x *execution) (*block, error) {
	d, _ := json.Marshal(details{Input: x.Input, Output: x.Output, Error: x.Error, Cause: x.Cause})
	buf := appendRecord(nil, kindDetails, d)
	b := &block{detailsOff: h.size, detailsLen: int64(len(buf)), histOff: h.size + int64(len(buf))}
	var chunk []byte
	flush := func() {
		if len(chunk) > 0 {
			buf = appendRecord(buf, kindHistory, chunk)
			chunk = chunk[:0]
		}
	}
	for _, e := range x.events {
		if len(chunk)+len(e.full)+binary.MaxVarintLen64 > historyChunk {
			flush()
		}
		chunk = binary.AppendUvarint(chunk, uint64(len(e.full)))
		chunk = append(chunk, e.full...)
	}
	flush()
	b.histLen = int64(len(buf)) - b.detailsLen
	if err := h.writeRaw(buf); err != nil {
		return nil, fmt.Errorf("write history %s: %w", h.name, err)
	}
	return b, nil
}

// records reads n bytes at off, which must be whole records of kind.
func (h *historyFile) records(off, n int64, kind byte, fn func(payload []byte) error) error {
	buf := make([]byte, n)
	if _, err := h.f.ReadAt(buf, off); err != nil {
		return fmt.Errorf("read %s at %d: %w", h.name, off, err)
	}
	for p := 0; p < len(buf); {
		k, payload, end, problem := recordAt(buf, p)
		if problem == "" && k != kind {
			problem = "a record of another kind"
		}
		if problem != "" {
			return fmt.Errorf("%w: %s at offset %d: %s", ErrDamaged, h.name, off+int64(p), problem)
		}
		if err := fn(payload); err != nil {
			return fmt.Errorf("%w: %s at offset %d: %v", ErrDamaged, h.name, off+int64(p), err)
		}
		p = end
	}
	return nil
}

func (h *historyFile) details(b *block) (details, error) {
	var d details
	err := h.records(b.detailsOff, b.detailsLen, kindDetails, func(p []byte) error { return json.Unmarshal(p, &d) })
	return d, err
}

func (h *historyFile) history(b *block) ([]*Event, error) {
	var out []*Event
	err := h.records(b.histOff, b.histLen, kindHistory, func(p []byte) error {
		for len(p) > 0 {
			n, k := binary.Uvarint(p)
			if k <= 0 || uint64(len(p)-k) < n {
				return errors.New("a history event cut short")
			}
			out = append(out, &Event{full: p[k : k+int(n)], hasData: true})
			p = p[k+int(n):]
		}
		return nil
	})
	return out, err
}

// historyCache keeps the last few compacted histories read, for a client
// paging through one.
type historyCache struct {
	mu      sync.Mutex
	entries []cacheEntry
}

type cacheEntry struct {
	b *block
	h []*Event
}

func (c *historyCache) get(b *block) ([]*Event, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		if e.b == b {
			return e.h, true
		}
	}
	return nil, false
}

func (c *historyCache) put(b *block, h []*Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = append(c.entries, cacheEntry{b, h})
	if len(c.entries) > 4 {
		c.entries = c.entries[1:]
	}
}

// A summary is a compacted execution's record in the snapshot.
func appendSummary(buf []byte, x *execution, b *block) []byte {
	str := func(s string) {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	buf = binary.AppendUvarint(buf, uint64(x.seq))
	str(x.Arn)
	str(x.Name)
	str(x.StateMachineArn)
	str(x.StateMachineName)
	buf = binary.AppendUvarint(buf, uint64(x.Revision))
	str(x.RoleArn)
	str(x.TraceHeader)
	buf = binary.AppendVarint(buf, x.StartDate.UnixNano())
	buf = binary.AppendVarint(buf, x.StopDate.UnixNano())
	str(x.Status)
	buf = binary.AppendUvarint(buf, uint64(x.Events))
	buf = binary.AppendUvarint(buf, uint64(x.LastEventID))
	for _, v := range []int64{b.detailsOff, b.detailsLen, b.histOff, b.histLen} {
		buf = binary.AppendUvarint(buf, uint64(v))
	}
	return buf
}

// summaryReader decodes summaries, sharing the strings many repeat.
type summaryReader struct {
	intern map[string]string
}

func (r *summaryReader) decode(p []byte) (*execution, error) {
	bad := false
	uv := func() uint64 {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			bad = true
			return 0
		}
		p = p[n:]
		return v
	}
	vi := func() int64 {
		v, n := binary.Varint(p)
		if n <= 0 {
			bad = true
			return 0
		}
		p = p[n:]
		return v
	}
	str := func() string {
		n := uv()
		if bad || uint64(len(p)) < n {
			bad = true
			return ""
		}
		s := string(p[:n])
		p = p[n:]
		return s
	}
	shared := func(s string) string {
		if v, ok := r.intern[s]; ok {
			return v
		}
		r.intern[s] = s
		return s
	}
	x := &execution{}
	x.seq = int64(uv())
	x.Arn = str()
	x.Name = str()
	if strings.HasSuffix(x.Arn, ":"+x.Name) {
		x.Name = x.Arn[len(x.Arn)-len(x.Name):]
	}
	x.StateMachineArn = shared(str())
	x.StateMachineName = shared(str())
	x.Revision = int(uv())
	x.RoleArn = shared(str())
	x.TraceHeader = str()
	x.StartDate = time.Unix(0, vi()).UTC()
	if stop := vi(); stop != (time.Time{}).UnixNano() {
		x.StopDate = time.Unix(0, stop).UTC()
	}
	x.Status = shared(str())
	x.Events = int(uv())
	x.LastEventID = int64(uv())
	b := &block{}
	for _, v := range []*int64{&b.detailsOff, &b.detailsLen, &b.histOff, &b.histLen} {
		*v = int64(uv())
	}
	if bad || len(p) != 0 {
		return nil, errors.New("a summary that does not decode")
	}
	x.block = b
	return x, nil
}

// readAll reads a whole file through fsys; a missing file is empty.
func readAll(fsys FS, path string) ([]byte, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b, nil
}

// writeFile writes a whole new file and syncs it.
func writeFile(fsys FS, path string, b []byte) error {
	f, err := openPrivate(fsys, path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return err
	}
	n, err := f.Write(b)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// load reads the snapshot and the journal into memory, recovering from
// damage, and compacts what the journal holds that has ended.
func (s *Store) load() error {
	rec := &Recovery{At: s.now().UTC()}
	s.rollForward()

	// The snapshot: state machines and compacted executions. Written new by
	// every compaction, it is private from then on; one found wider (copied
	// in, restored from a backup) is made so now.
	snap, err := readAll(s.fs, filepath.Join(s.dir, snapshotFile))
	if err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(s.dir, snapshotFile), 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("restrict the snapshot to mode 0600: %w", err)
	}
	var snapGen generationRecord
	damagedSnapshot := false
	if len(snap) > 0 {
		if len(snap) < len(snapshotMagic) || string(snap[:len(snapshotMagic)]) != string(snapshotMagic) {
			return fmt.Errorf("%s is not a snapshot of this store (move it aside to start without it)", filepath.Join(s.dir, snapshotFile))
		}
		sr := &summaryReader{intern: map[string]string{}}
		res := scan(snap, len(snapshotMagic), false, func(off int, kind byte, p []byte) error {
			switch kind {
			case kindGeneration:
				return json.Unmarshal(p, &snapGen)
			case kindSnapshotSM:
				var sm snapshotStateMachine
				if err := json.Unmarshal(p, &sm); err != nil {
					return err
				}
				s.applyStateMachine(sm.StateMachine)
				s.sms[sm.Arn].deleted = sm.Deleted
			case kindSummary:
				x, err := sr.decode(p)
				if err != nil {
					return err
				}
				s.byArn[x.Arn] = x
				if sm := s.sms[x.StateMachineArn]; sm != nil {
					sm.executions = append(sm.executions, x)
				}
			default:
				return fmt.Errorf("unknown snapshot record kind %d", kind)
			}
			rec.Records++
			return nil
		})
		if len(res.Damaged) > 0 || res.Torn.Length > 0 {
			// A snapshot is written whole and renamed into place: damage
			// here is the disk's. Keep a copy and go on with what is whole.
			damagedSnapshot = true
			rec.File = filepath.Join(s.dir, snapshotFile)
			rec.Damaged = append(rec.Damaged, res.Damaged...)
			if res.Torn.Length > 0 {
				rec.Damaged = append(rec.Damaged, res.Torn)
			}
			if rec.Copy, err = s.copyAside(rec.File, snap); err != nil {
				return err
			}
		}
		s.gen = snapGen.Gen
		s.nextSeq = max(s.nextSeq, snapGen.NextSeq)
	}
	histName := snapGen.History
	if histName == "" {
		histName = "history-" + strconv.FormatInt(s.gen, 10)
	}
	if s.hist, err = openHistory(s.fs, s.dir, histName); err != nil {
		return fmt.Errorf("open history: %w", err)
	}
	for _, x := range s.byArn {
		s.nextSeq = max(s.nextSeq, x.seq+1)
	}

	// The journal: what changed since.
	if s.f, err = openPrivate(s.fs, s.path, os.O_RDWR|os.O_CREATE|os.O_APPEND); err != nil {
		return err
	}
	b, err := readAll(s.fs, s.path)
	if err != nil {
		return err
	}
	v1 := len(b) > 0 && (len(b) < len(journalMagic) || string(b[:len(journalMagic)]) != string(journalMagic))
	start := len(journalMagic)
	if v1 {
		start = 0
	}
	var jgen int64
	skip := map[int64]bool{}
	lostSeq := map[int64]int{}
	type gap struct{ first, last int64 }
	gaps := map[*execution][]gap{}
	lastOff := map[*execution]int64{} // where each execution's last record is
	res := scan(b, min(start, len(b)), v1, func(off int, kind byte, p []byte) error {
		rec.Records++
		switch kind {
		case kindGeneration:
			var g generationRecord
			if err := json.Unmarshal(p, &g); err != nil {
				return err
			}
			jgen = g.Gen
		case kindStateMachine, kindRevision, kindDeleteSM:
			if jgen < s.gen {
				return nil // the snapshot has it
			}
			return s.replayStateMachine(kind, p)
		case kindExecution:
			var r executionRecord
			if err := json.Unmarshal(p, &r); err != nil {
				return err
			}
			if s.byArn[r.Arn] != nil {
				skip[r.Seq] = true // compacted
				return nil
			}
			lastOff[s.applyExecution(r)] = int64(off)
		case kindEvent:
			seq, n := binary.Uvarint(p)
			if n <= 0 {
				return errors.New("event record without an execution")
			}
			x := s.journaled[int64(seq)]
			if x == nil {
				if !skip[int64(seq)] {
					lostSeq[int64(seq)]++
				}
				return nil
			}
			// Only a terminal event's details matter here: read the rest's id
			// and type alone, which is most of the cost of opening.
			var head struct {
				ID   int64  `json:"id"`
				Type string `json:"type"`
			}
			if err := json.Unmarshal(p[n:], &head); err != nil {
				return err
			}
			ev := engine.Event{ID: head.ID, Type: head.Type}
			if terminal(head.Type) {
				if err := json.Unmarshal(p[n:], &ev); err != nil {
					return err
				}
			}
			switch {
			case ev.ID <= x.LastEventID:
				s.log.Warn("skipping an event recorded twice in the journal", "execution", x.Arn, "id", ev.ID)
				return nil
			case ev.ID > x.LastEventID+1:
				gaps[x] = append(gaps[x], gap{x.LastEventID + 1, ev.ID - 1})
			}
			x.addEvent(ev, append([]byte(nil), p[n:]...))
			lastOff[x] = int64(off)
		default:
			return fmt.Errorf("unknown record kind %d", kind)
		}
		return nil
	})
	s.size = int64(len(b))
	if len(b) == 0 {
		s.size = 0
	}
	damaged := len(res.Damaged) > 0
	if damaged {
		rec.File = s.path
		rec.Damaged = res.Damaged
		if rec.Copy, err = s.copyAside(s.path, b); err != nil {
			return err
		}
	}
	if res.Torn.Length > 0 {
		t := res.Torn
		rec.Torn = &t
		s.log.Warn("dropping a record cut short at the end of the journal (a crash mid-write)", "path", s.path, "offset", t.Offset, "bytes", t.Length)
	}
	if res.End < int64(len(b)) {
		// Nothing may be appended after a torn or damaged end; the damage
		// is copied aside above.
		if err := s.f.Truncate(res.End); err != nil {
			return fmt.Errorf("drop the journal's damaged end: %w", err)
		}
		s.size = res.End
	}
	for x, gs := range gaps {
		if x.Status == engine.StatusRunning {
			// Resume from the last whole event, as after a crash: drop what
			// follows the first gap.
			keep := int(gs[0].first - 1)
			if keep > len(x.events) {
				keep = len(x.events)
			}
			rec.LostEvents = append(rec.LostEvents, LostEvents{Execution: x.Arn, FirstID: gs[0].first, LastID: x.LastEventID,
				Status: x.Status, Note: fmt.Sprintf("events after the damage were dropped too; it resumes from event %d", keep)})
			x.events = x.events[:keep]
			x.Events, x.LastEventID = keep, int64(keep)
			continue
		}
		for _, g := range gs {
			rec.LostEvents = append(rec.LostEvents, LostEvents{Execution: x.Arn, FirstID: g.first, LastID: g.last, Status: x.Status,
				Note: "its outcome was recorded and is kept"})
		}
	}
	if damaged {
		// A running execution recorded before damage may have gone on in
		// the damaged bytes, even to its end: it resumes from its last
		// whole event, as after a crash, and the report says so.
		firstDamage := res.Damaged[0].Offset
		for _, x := range s.journaled {
			if x.Status != engine.StatusRunning || lastOff[x] > firstDamage || gaps[x] != nil {
				continue
			}
			rec.LostEvents = append(rec.LostEvents, LostEvents{Execution: x.Arn, FirstID: x.LastEventID + 1, Status: x.Status,
				Note: fmt.Sprintf("events after %d may have been in the damaged bytes; it resumes from event %d", x.LastEventID, x.LastEventID)})
		}
	}
	slices.SortFunc(rec.LostEvents, func(a, b LostEvents) int { return strings.Compare(a.Execution, b.Execution) })
	for seq, n := range lostSeq {
		rec.LostExecutions = append(rec.LostExecutions, LostExecution{Seq: seq, Events: n})
	}
	slices.SortFunc(rec.LostExecutions, func(a, b LostExecution) int { return int(a.Seq - b.Seq) })
	for _, x := range s.journaled {
		if x.Status != engine.StatusRunning {
			s.finished++
		}
	}
	for _, sm := range s.sms {
		slices.SortFunc(sm.executions, func(a, b *execution) int { return int(a.seq - b.seq) })
	}
	if rec.Torn != nil {
		s.recovery = rec // for Recovery; nothing acknowledged is lost
	}
	if rec.Lost() || damagedSnapshot {
		s.recovery = rec
		s.log.Error("the store was damaged; recovered every whole record", "report", rec.Summary())
		if err := s.writeRecovery(rec); err != nil {
			s.log.Error("write the recovery report", "err", err)
		}
	}
	if len(b) == 0 {
		// A new journal: its magic and generation first.
		if err := s.startJournal(); err != nil {
			return err
		}
	}
	// Compact now when the journal holds anything finished or is in the old
	// format, so restart time follows what runs.
	if v1 || damaged || damagedSnapshot || s.finished > 0 || s.expiring() {
		if err := s.compactLocked(); err != nil {
			if v1 {
				return fmt.Errorf("rewrite the journal in the current format: %w (free some space and start again; the journal is unchanged)", err)
			}
			s.log.Error("compact the journal (retried later; nothing is lost)", "dir", s.dir, "err", err)
		}
	}
	return nil
}

// startJournal writes a new, empty journal's magic and generation.
func (s *Store) startJournal() error {
	buf := append([]byte(nil), journalMagic...)
	g, _ := json.Marshal(generationRecord{Gen: s.gen})
	buf = appendRecord(buf, kindGeneration, g)
	n, err := s.f.Write(buf)
	if err == nil && n != len(buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		if terr := s.f.Truncate(0); terr != nil {
			err = errors.Join(err, terr)
		}
		return fmt.Errorf("start the journal: %w", err)
	}
	s.size = int64(len(buf))
	return nil
}

func (s *Store) replayStateMachine(kind byte, p []byte) error {
	switch kind {
	case kindStateMachine:
		var sm StateMachine
		if err := json.Unmarshal(p, &sm); err != nil {
			return err
		}
		if len(sm.Revisions) == 0 {
			return errors.New("a state machine without a revision")
		}
		s.applyStateMachine(sm)
	case kindRevision:
		var r revisionRecord
		if err := json.Unmarshal(p, &r); err != nil {
			return err
		}
		if sm := s.sms[r.Arn]; sm != nil {
			sm.Revisions = append(sm.Revisions, r.Revision)
		}
	case kindDeleteSM:
		var r struct{ Arn string }
		if err := json.Unmarshal(p, &r); err != nil {
			return err
		}
		if sm := s.sms[r.Arn]; sm != nil {
			sm.deleted = true
		}
	}
	return nil
}

// copyAside keeps a damaged file as it was found, next to it.
func (s *Store) copyAside(path string, b []byte) (string, error) {
	cp := path + ".damaged-" + s.now().UTC().Format("20060102T150405.000000000Z")
	if err := writeFile(s.fs, cp, b); err != nil {
		return "", fmt.Errorf("%s is damaged and could not be copied aside before recovery (%w); free some space, or move it aside yourself", path, err)
	}
	return cp, nil
}

func (s *Store) writeRecovery(r *Recovery) error {
	return writeFile(s.fs, filepath.Join(s.dir, RecoveryFile), marshalRecovery(r))
}

// rollForward finishes a compaction that a crash interrupted between
// renaming the new snapshot and the new journal into place, and removes
// the leftovers of one interrupted before.
func (s *Store) rollForward() {
	tmpJournal := s.path + tmpSuffix
	tmpSnap := filepath.Join(s.dir, snapshotFile+tmpSuffix)
	_ = s.fs.Remove(tmpSnap)
	j, err := readAll(s.fs, tmpJournal)
	if err != nil || len(j) == 0 {
		_ = s.fs.Remove(tmpJournal)
		return
	}
	snap, _ := readAll(s.fs, filepath.Join(s.dir, snapshotFile))
	if g, ok := firstGeneration(snap, snapshotMagic); ok {
		if jg, ok := firstGeneration(j, journalMagic); ok && jg == g {
			if cur, _ := readAll(s.fs, s.path); func() bool { cg, ok := firstGeneration(cur, journalMagic); return !ok || cg < g }() {
				if err := s.fs.Rename(tmpJournal, s.path); err == nil {
					s.log.Warn("finished a compaction interrupted by a crash", "dir", s.dir)
					return
				}
			}
		}
	}
	_ = s.fs.Remove(tmpJournal)
}

func firstGeneration(b, magic []byte) (int64, bool) {
	if len(b) < len(magic) || string(b[:len(magic)]) != string(magic) {
		return 0, false
	}
	kind, p, _, problem := recordAt(b, len(magic))
	if problem != "" || kind != kindGeneration {
		return 0, false
	}
	var g generationRecord
	if json.Unmarshal(p, &g) != nil {
		return 0, false
	}
	return g.Gen, true
}

// expired reports whether x ended longer than the retention ago.
func (s *Store) expired(x *execution, now time.Time) bool {
	return s.retention > 0 && x.Status != engine.StatusRunning && !x.StopDate.IsZero() && now.Sub(x.StopDate) > s.retention
}

func (s *Store) expiring() bool {
	now := s.now()
	for _, x := range s.byArn {
		if s.expired(x, now) {
			return true
		}
	}
	return false
}

// compactLocked moves the journal's finished executions to the history
// file and rewrites the snapshot and the journal, dropping expired
// executions. Until the new files are renamed into place nothing changes,
// in memory or on disk: a compaction that fails (a full disk) leaves the
// store as it was. When the history file is mostly expired executions, it
// is rewritten under a new name too. Callers hold s.mu.
func (s *Store) compactLocked() error {
	if s.broken != nil {
		if err := s.undo(); err != nil {
			return err
		}
	}
	now := s.now()
	gen := s.gen + 1
	all := make([]*execution, 0, len(s.byArn))
	var live int64
	for _, x := range s.byArn {
		if s.expired(x, now) {
			continue
		}
		all = append(all, x)
		if x.block != nil {
			live += x.block.detailsLen + x.block.histLen
		}
	}
	slices.SortFunc(all, func(a, b *execution) int { return int(a.seq - b.seq) })

	hist := s.hist
	rewrite := hist.size > rewriteHistoryOver && live < hist.size/2
	if rewrite {
		name := "history-" + strconv.FormatInt(gen, 10)
		_ = s.fs.Remove(filepath.Join(s.dir, name))
		h, err := openHistory(s.fs, s.dir, name)
		if err != nil {
			return fmt.Errorf("compact: %w", err)
		}
		hist = h
	}
	fail := func(err error) error {
		if rewrite {
			hist.f.Close()
			_ = s.fs.Remove(filepath.Join(s.dir, hist.name))
		}
		_ = s.fs.Remove(filepath.Join(s.dir, snapshotFile+tmpSuffix))
		_ = s.fs.Remove(s.path + tmpSuffix)
		return fmt.Errorf("compact: %w", err)
	}
	blocks := map[*execution]*block{}
	for _, x := range all {
		switch {
		case x.block != nil && rewrite:
			b, err := copyBlock(s.hist, hist, x.block)
			if err != nil {
				return fail(err)
			}
			blocks[x] = b
		case x.block == nil && x.Status != engine.StatusRunning:
			b, err := hist.appendExecution(x)
			if err != nil {
				return fail(err)
			}
			blocks[x] = b
		}
	}
	if len(blocks) > 0 {
		if err := hist.f.Sync(); err != nil {
			return fail(err)
		}
	}

	snap := append([]byte(nil), snapshotMagic...)
	g, _ := json.Marshal(generationRecord{Gen: gen, NextSeq: s.nextSeq, History: hist.name})
	snap = appendRecord(snap, kindGeneration, g)
	for _, sm := range s.smOrder {
		p, err := json.Marshal(snapshotStateMachine{StateMachine: sm.StateMachine, Deleted: sm.deleted})
		if err != nil {
			return fail(err)
		}
		snap = appendRecord(snap, kindSnapshotSM, p)
	}
	jnl := append([]byte(nil), journalMagic...)
	g, _ = json.Marshal(generationRecord{Gen: gen})
	jnl = appendRecord(jnl, kindGeneration, g)
	var sum []byte
	for _, x := range all {
		if x.Status == engine.StatusRunning {
			p, err := json.Marshal(executionRecord{Seq: x.seq, Execution: x.Execution})
			if err != nil {
				return fail(err)
			}
			jnl = appendRecord(jnl, kindExecution, p)
			for _, e := range x.events {
				p := binary.AppendUvarint(nil, uint64(x.seq))
				jnl = appendRecord(jnl, kindEvent, append(p, e.full...))
			}
			continue
		}
		b := blocks[x]
		if b == nil {
			b = x.block
		}
		sum = appendSummary(sum[:0], x, b)
		snap = appendRecord(snap, kindSummary, sum)
	}
	tmpSnap := filepath.Join(s.dir, snapshotFile+tmpSuffix)
	if err := writeFile(s.fs, tmpSnap, snap); err != nil {
		return fail(err)
	}
	if err := writeFile(s.fs, s.path+tmpSuffix, jnl); err != nil {
		return fail(err)
	}
	if err := s.fs.Rename(tmpSnap, filepath.Join(s.dir, snapshotFile)); err != nil {
		return fail(err)
	}
	// From here the new snapshot is in place: a crash before the journal's
	// rename is finished by rollForward on the next open.
	if err := s.fs.Rename(s.path+tmpSuffix, s.path); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	if err := s.fs.SyncDir(s.dir); err != nil {
		s.log.Warn("fsync the store's directory", "dir", s.dir, "err", err)
	}
	f, err := s.fs.OpenFile(s.path, os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("compact: reopen the journal: %w", err)
	}
	s.f.Close()
	s.f, s.size, s.gen = f, int64(len(jnl)), gen

	// Memory follows the files.
	for x, b := range blocks {
		x.block, x.events = b, nil
		x.Input, x.Output, x.Error, x.Cause = "", "", "", ""
		delete(s.journaled, x.seq)
	}
	for _, x := range s.byArn {
		if s.expired(x, now) {
			delete(s.byArn, x.Arn)
			delete(s.journaled, x.seq)
			if sm := s.sms[x.StateMachineArn]; sm != nil {
				sm.executions = slices.DeleteFunc(sm.executions, func(y *execution) bool { return y == x })
			}
		}
	}
	if rewrite {
		old := s.hist
		s.hist = hist
		old.f.Close()
		_ = s.fs.Remove(filepath.Join(s.dir, old.name))
		s.cache = historyCache{}
	}
	s.finished = 0
	return nil
}

// copyBlock copies a compacted execution's records from one history file
// to another, checking them on the way.
func copyBlock(from, to *historyFile, b *block) (*block, error) {
	buf := make([]byte, b.detailsLen+b.histLen)
	if _, err := from.f.ReadAt(buf, b.detailsOff); err != nil {
		return nil, err
	}
	nb := &block{detailsOff: to.size, detailsLen: b.detailsLen, histOff: to.size + b.detailsLen, histLen: b.histLen}
	if err := to.writeRaw(buf); err != nil {
		return nil, err
	}
	return nb, nil
}
