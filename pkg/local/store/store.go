// Package store keeps the local Step Functions backend's state machines,
// executions and histories durable in one data directory.
//
// Every change is one checksummed record appended to <dir>/journal with a
// single write before the call that made it returns, so a change survives
// the server being killed (SIGKILL). A write that fails (a full disk) is
// undone by truncating the journal back to its last whole record before
// anything else is appended, so a failed write never tears the journal.
// fsync is batched: a background loop syncs at most every SyncInterval, so a
// power loss or kernel crash can lose the last SyncInterval of changes,
// never corrupt what came before.
//
// Finished executions are compacted: their details and histories move to an
// append-only history file and their summaries to a snapshot, rewritten
// with the journal, which then holds only what runs. Only summaries stay in
// memory, so restart time and memory follow the running executions, not
// every execution ever run. Executions expire Retention after they end.
//
// Open replays the snapshot and the journal. Damage is told apart from a
// crash's torn last record: the damaged file is copied aside, every whole
// record is recovered, and what was lost is logged, kept in
// <dir>/recovery.json and reported by Recovery. Journals of the format
// before this one are read and rewritten in it.
package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odin-deploy/odin/pkg/local/engine"
)

// Errors of the store. The API maps them to Step Functions errors.
var (
	ErrClosed          = errors.New("store is closed")
	ErrExists          = errors.New("already exists")
	ErrNotFound        = errors.New("not found")
	ErrEventOutOfOrder = errors.New("event id out of order")
	// ErrDamaged says stored data failed its checksum when read.
	ErrDamaged = errors.New("stored data is damaged")
)

// Defaults of Options.
const (
	DefaultSyncInterval = 100 * time.Millisecond
	// DefaultRetention is how long a finished execution is kept, as on AWS.
	DefaultRetention = 90 * 24 * time.Hour
	// DefaultCompactEvery is how many executions may finish in the journal
	// before they are compacted.
	DefaultCompactEvery = 256
)

// Options configures a store.
type Options struct {
	SyncInterval time.Duration // default DefaultSyncInterval
	Logger       *slog.Logger
	// FS is the file layer; default OSFS.
	FS FS
	// Now is the clock executions expire by; default time.Now.
	Now func() time.Time
	// Retention is how long after its end an execution is kept; 0 is
	// DefaultRetention, a negative value keeps executions for good.
	Retention time.Duration
	// CompactEvery is how many finished executions the journal may hold
	// before they are compacted; default DefaultCompactEvery.
	CompactEvery int
}

// Revision is one definition of a state machine, as an execution ran it.
type Revision struct {
	ID         string    `json:"id"`
	Definition string    `json:"definition"`
	RoleArn    string    `json:"roleArn"`
	Date       time.Time `json:"date"`
	// Logging and Tracing are the configurations as the API received them.
	Logging json.RawMessage `json:"logging,omitempty"`
	Tracing json.RawMessage `json:"tracing,omitempty"`
}

// StateMachine is a state machine and every revision of its definition.
type StateMachine struct {
	Arn     string    `json:"arn"`
	Name    string    `json:"name"`
	Type    string    `json:"type"`
	Created time.Time `json:"created"`
	// Revisions, oldest first; the last is current. A machine deleted and
	// created again keeps its older revisions so that the executions that ran
	// them can still be described.
	Revisions []Revision `json:"revisions"`
}

// Current is the revision new executions run.
func (sm StateMachine) Current() Revision { return sm.Revisions[len(sm.Revisions)-1] }

// Execution is one execution's record. Status and what follows it are
// derived from the history's terminal event.
type Execution struct {
	Arn              string    `json:"arn"`
	Name             string    `json:"name"`
	StateMachineArn  string    `json:"stateMachineArn"`
	StateMachineName string    `json:"stateMachineName"`
	Revision         int       `json:"revision"` // index into StateMachine.Revisions
	RoleArn          string    `json:"roleArn"`
	Input            string    `json:"input"`
	TraceHeader      string    `json:"traceHeader,omitempty"`
	StartDate        time.Time `json:"startDate"`

	Status   string    `json:"-"`
	StopDate time.Time `json:"-"`
	Output   string    `json:"-"`
	Error    string    `json:"-"`
	Cause    string    `json:"-"`
	Events   int       `json:"-"` // number of recorded events
	// LastEventID is the id of the last recorded event: Events, unless
	// damage to the journal lost events from the history.
	LastEventID int64 `json:"-"`
}

// Event is a recorded history event in its wire form.
type Event struct {
	full    []byte
	hasData bool                   // it carries input or output
	lean    atomic.Pointer[[]byte] // made on first use: most reads want full
}

// JSON returns the event's wire form, with its input and output or without
// (GetExecutionHistory's includeExecutionData false).
func (e *Event) JSON(withData bool) []byte {
	if withData || !e.hasData {
		return e.full
	}
	if p := e.lean.Load(); p != nil {
		return *p
	}
	var ev engine.Event
	if err := json.Unmarshal(e.full, &ev); err != nil || ev.Details == nil {
		return e.full // no details, nothing to drop
	}
	d := *ev.Details
	d.Input, d.Output = "", ""
	ev.Details = &d
	b, err := json.Marshal(ev)
	if err != nil {
		return e.full
	}
	e.lean.Store(&b)
	return b
}

type executionRecord struct {
	Seq int64 `json:"seq"`
	Execution
}

type revisionRecord struct {
	Arn string `json:"arn"`
	Revision
}

type execution struct {
	Execution
	seq int64
	// events is the history of an execution in the journal; nil once
	// compacted, when block says where its details and history are.
	events []*Event
	block  *block
}

type stateMachine struct {
	StateMachine
	deleted    bool
	executions []*execution // in start (seq) order
}

// Store is the durable state of the local Step Functions backend. It is safe
// for concurrent use.
type Store struct {
	dir, path    string
	fs           FS
	log          *slog.Logger
	now          func() time.Time
	retention    time.Duration
	compactEvery int

	mu     sync.RWMutex
	f      File  // the journal, appended to
	size   int64 // the journal's length up to its last whole record
	broken error // a failed write that could not be undone yet
	hist   *historyFile
	gen    int64 // generation of the snapshot and journal
	closed bool

	sms       map[string]*stateMachine
	smOrder   []*stateMachine
	byArn     map[string]*execution
	journaled map[int64]*execution // executions whose records are in the journal, by seq
	finished  int                  // of them, how many have ended
	nextSeq   int64
	buf       []byte
	recovery  *Recovery
	cache     historyCache

	dirty     atomic.Bool
	compactCh chan struct{}
	stop      chan struct{}
	loopDone  chan struct{}
}

// Open opens (creating when needed) the store in dir: it loads the
// snapshot, replays the journal, recovers from damage and compacts.
func Open(dir string, opts Options) (*Store, error) {
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = DefaultSyncInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.FS == nil {
		opts.FS = OSFS{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Retention == 0 {
		opts.Retention = DefaultRetention
	}
	if opts.CompactEvery <= 0 {
		opts.CompactEvery = DefaultCompactEvery
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{
		dir: dir, path: filepath.Join(dir, journalFile), fs: opts.FS, log: opts.Logger, now: opts.Now,
		retention: opts.Retention, compactEvery: opts.CompactEvery,
		sms: map[string]*stateMachine{}, byArn: map[string]*execution{}, journaled: map[int64]*execution{},
		nextSeq: 1, compactCh: make(chan struct{}, 1), stop: make(chan struct{}), loopDone: make(chan struct{}),
	}
	if err := s.load(); err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	go s.loop(opts.SyncInterval)
	return s, nil
}

func (s *Store) closeFiles() {
	if s.f != nil {
		s.f.Close()
	}
	if s.hist != nil {
		s.hist.f.Close()
	}
}

// loop syncs the journal every interval when it changed, and compacts when
// asked or once an hour (for retention).
func (s *Store) loop(every time.Duration) {
	defer close(s.loopDone)
	t := time.NewTicker(every)
	defer t.Stop()
	hourly := time.NewTicker(time.Hour)
	defer hourly.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if s.dirty.Swap(false) {
				s.mu.RLock()
				if !s.closed {
					if err := s.f.Sync(); err != nil {
						s.log.Error("fsync journal", "path", s.path, "err", err)
					}
				}
				s.mu.RUnlock()
			}
		case <-s.compactCh:
			s.compactLogged()
		case <-hourly.C:
			s.compactLogged()
		}
	}
}

func (s *Store) compactLogged() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if err := s.compactLocked(); err != nil {
		s.log.Error("compact the journal (retried later; nothing is lost)", "dir", s.dir, "err", err)
	}
}

// Compact moves finished executions out of the journal and drops expired
// ones now, rather than when the journal next fills.
func (s *Store) Compact() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.compactLocked()
}

// Close syncs and closes the journal.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.loopDone
	err := s.f.Sync()
	return errors.Join(err, s.f.Close(), s.hist.f.Close())
}

// Recovery reports what Open recovered from and lost (Lost), or the torn
// last record it dropped; nil when the store opened clean.
func (s *Store) Recovery() *Recovery {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.recovery
}

func (s *Store) applyStateMachine(in StateMachine) {
	if sm := s.sms[in.Arn]; sm != nil {
		// Created again after a delete: keep the old revisions.
		sm.deleted = false
		sm.Type, sm.Created = in.Type, in.Created
		sm.Revisions = append(sm.Revisions, in.Revisions...)
		s.smOrder = slices.DeleteFunc(s.smOrder, func(x *stateMachine) bool { return x == sm })
		s.smOrder = append(s.smOrder, sm)
		return
	}
	sm := &stateMachine{StateMachine: in}
	sm.Revisions = slices.Clone(in.Revisions)
	s.sms[in.Arn] = sm
	s.smOrder = append(s.smOrder, sm)
}

func (s *Store) applyExecution(r executionRecord) *execution {
	x := &execution{Execution: r.Execution, seq: r.Seq}
	x.Status = engine.StatusRunning
	s.byArn[x.Arn] = x
	s.journaled[x.seq] = x
	if r.Seq >= s.nextSeq {
		s.nextSeq = r.Seq + 1
	}
	if sm := s.sms[x.StateMachineArn]; sm != nil {
		sm.executions = append(sm.executions, x)
	}
	return x
}

// terminal reports whether an event of type typ ends an execution.
func terminal(typ string) bool {
	switch typ {
	case "ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted":
		return true
	}
	return false
}

// addEvent records ev (whose wire JSON is full) and, for a terminal event,
// the execution's outcome.
func (x *execution) addEvent(ev engine.Event, full []byte) {
	// Replay doesn't decode details: assume data there, JSON(false) checks.
	hasData := ev.Details == nil || ev.Details.Input != "" || ev.Details.Output != ""
	x.events = append(x.events, &Event{full: full, hasData: hasData})
	x.Events = len(x.events)
	x.LastEventID = ev.ID
	d := ev.Details
	if d == nil {
		d = &engine.Details{}
	}
	switch ev.Type {
	case "ExecutionSucceeded":
		x.Status, x.Output = engine.StatusSucceeded, d.Output
	case "ExecutionFailed":
		x.Status, x.Error, x.Cause = engine.StatusFailed, d.Error, d.Cause
	case "ExecutionTimedOut":
		x.Status, x.Error, x.Cause = engine.StatusTimedOut, d.Error, d.Cause
	case "ExecutionAborted":
		x.Status, x.Error, x.Cause = engine.StatusAborted, d.Error, d.Cause
	default:
		return
	}
	x.StopDate = ev.Timestamp
}

// write appends one record to the journal. A write that fails is undone
// (the journal truncated back to its last whole record) before anything
// else is appended; until that succeeds every write is refused. Callers
// hold s.mu.
func (s *Store) write(kind byte, payload []byte) error {
	if s.closed {
		return ErrClosed
	}
	if s.broken != nil {
		if err := s.undo(); err != nil {
			return fmt.Errorf("write journal %s: a failed write could not be undone yet: %w", s.path, err)
		}
	}
	s.buf = appendRecord(s.buf[:0], kind, payload)
	n, err := s.f.Write(s.buf)
	if err == nil && n != len(s.buf) {
		err = fmt.Errorf("short write: %d of %d bytes", n, len(s.buf))
	}
	if err != nil {
		s.broken = err
		if uerr := s.undo(); uerr != nil {
			s.log.Error("undo a failed journal write (retried before the next write)", "path", s.path, "err", uerr)
		}
		return fmt.Errorf("write journal %s: %w", s.path, err)
	}
	s.size += int64(len(s.buf))
	if cap(s.buf) > 1<<20 {
		s.buf = nil // don't pin a large definition's buffer
	}
	s.dirty.Store(true)
	return nil
}

// undo truncates the journal back to its last whole record.
func (s *Store) undo() error {
	if err := s.f.Truncate(s.size); err != nil {
		return err
	}
	s.broken = nil
	return nil
}

func (s *Store) writeJSON(kind byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.write(kind, b)
}

// CreateStateMachine records a new state machine with its first revision. If
// a machine of that ARN exists, it returns it with ErrExists.
func (s *Store) CreateStateMachine(ctx context.Context, sm StateMachine) (StateMachine, error) {
	if len(sm.Revisions) != 1 {
		return StateMachine{}, fmt.Errorf("create state machine %s: want one revision, got %d", sm.Arn, len(sm.Revisions))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.sms[sm.Arn]; cur != nil && !cur.deleted {
		return cur.snapshot(), ErrExists
	}
	if err := s.writeJSON(kindStateMachine, sm); err != nil {
		return StateMachine{}, fmt.Errorf("create state machine %s: %w", sm.Arn, err)
	}
	s.applyStateMachine(sm)
	return s.sms[sm.Arn].snapshot(), nil
}

// UpdateStateMachine adds a revision made by update from the current one.
func (s *Store) UpdateStateMachine(ctx context.Context, arn string, update func(cur Revision) Revision) (StateMachine, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sm := s.sms[arn]
	if sm == nil || sm.deleted {
		return StateMachine{}, ErrNotFound
	}
	r := update(sm.Current())
	if err := s.writeJSON(kindRevision, revisionRecord{Arn: arn, Revision: r}); err != nil {
		return StateMachine{}, fmt.Errorf("update state machine %s: %w", arn, err)
	}
	sm.Revisions = append(sm.Revisions, r)
	return sm.snapshot(), nil
}

// DeleteStateMachine deletes a state machine. Its executions stay readable.
func (s *Store) DeleteStateMachine(ctx context.Context, arn string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sm := s.sms[arn]
	if sm == nil || sm.deleted {
		return ErrNotFound
	}
	if err := s.writeJSON(kindDeleteSM, struct {
		Arn string `json:"arn"`
	}{arn}); err != nil {
		return fmt.Errorf("delete state machine %s: %w", arn, err)
	}
	sm.deleted = true
	return nil
}

func (sm *stateMachine) snapshot() StateMachine {
	c := sm.StateMachine
	c.Revisions = slices.Clip(c.Revisions)
	return c
}

// StateMachine returns a state machine that is not deleted.
func (s *Store) StateMachine(arn string) (StateMachine, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sm := s.sms[arn]
	if sm == nil || sm.deleted {
		return StateMachine{}, false
	}
	return sm.snapshot(), true
}

// StateMachineRevision returns revision rev of a state machine, deleted or not.
func (s *Store) StateMachineRevision(arn string, rev int) (StateMachine, Revision, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sm := s.sms[arn]
	if sm == nil || rev < 0 || rev >= len(sm.Revisions) {
		return StateMachine{}, Revision{}, false
	}
	return sm.snapshot(), sm.Revisions[rev], true
}

// ListStateMachines returns up to limit state machines in creation order
// from position from, and the position after them (-1 at the end).
func (s *Store) ListStateMachines(from, limit int) ([]StateMachine, int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []StateMachine
	i := max(from, 0)
	for ; i < len(s.smOrder) && len(out) < limit; i++ {
		if sm := s.smOrder[i]; !sm.deleted {
			out = append(out, sm.snapshot())
		}
	}
	for ; i < len(s.smOrder) && s.smOrder[i].deleted; i++ {
	}
	if i >= len(s.smOrder) {
		return out, -1
	}
	return out, i
}

// CreateExecution records a new execution of state machine revision
// x.Revision. If an execution of that ARN exists it returns it with
// ErrExists; if the machine is gone, ErrNotFound.
func (s *Store) CreateExecution(ctx context.Context, x Execution) (Execution, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.byArn[x.Arn]; cur != nil {
		return cur.Execution, ErrExists
	}
	if sm := s.sms[x.StateMachineArn]; sm == nil || sm.deleted {
		return Execution{}, ErrNotFound
	}
	r := executionRecord{Seq: s.nextSeq, Execution: x}
	if err := s.writeJSON(kindExecution, r); err != nil {
		return Execution{}, fmt.Errorf("create execution %s: %w", x.Arn, err)
	}
	return s.applyExecution(r).Execution, nil
}

// Execution returns an execution's record. A compacted execution's input,
// output, error and cause are read from the history file.
func (s *Store) Execution(arn string) (Execution, bool) {
	x, err := s.ExecutionErr(arn)
	return x, err == nil
}

// ExecutionErr is Execution with the reason it failed: ErrNotFound, or the
// history file could not be read.
func (s *Store) ExecutionErr(arn string) (Execution, error) {
	var err error
	for range 2 { // once more if a rewrite of the history file got in between
		s.mu.RLock()
		x := s.byArn[arn]
		if x == nil {
			s.mu.RUnlock()
			return Execution{}, ErrNotFound
		}
		out, b, h := x.Execution, x.block, s.hist
		s.mu.RUnlock()
		if b == nil {
			return out, nil
		}
		var d details
		if d, err = h.details(b); err == nil {
			out.Input, out.Output, out.Error, out.Cause = d.Input, d.Output, d.Error, d.Cause
			return out, nil
		}
	}
	return Execution{}, fmt.Errorf("execution %s: %w", arn, err)
}

// ListExecutions returns up to limit executions of a state machine, newest
// first, starting at position from (-1: the newest) and keeping only those
// with status (all when ""), and the position to go on from (-1 at the end).
// Positions are execution sequence numbers: they stay valid as executions
// are added and expire. Input, output, error and cause are left out.
func (s *Store) ListExecutions(smArn, status string, from, limit int) ([]Execution, int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sm := s.sms[smArn]
	if sm == nil {
		return nil, -1
	}
	i := len(sm.executions) - 1
	if from >= 0 {
		// The last execution whose seq is at most from.
		i = sort.Search(len(sm.executions), func(i int) bool { return sm.executions[i].seq > int64(from) }) - 1
	}
	var out []Execution
	for ; i >= 0; i-- {
		x := sm.executions[i]
		if status != "" && x.Status != status {
			continue
		}
		if len(out) == limit {
			return out, int(x.seq)
		}
		out = append(out, x.Execution)
	}
	return out, -1
}

// Running returns the executions that have not ended, oldest first.
func (s *Store) Running() []Execution {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*execution
	for _, x := range s.journaled {
		if x.Status == engine.StatusRunning {
			out = append(out, x)
		}
	}
	slices.SortFunc(out, func(a, b *execution) int { return int(a.seq - b.seq) })
	xs := make([]Execution, len(out))
	for i, x := range out {
		xs[i] = x.Execution
	}
	return xs
}

// History returns an execution's recorded events, oldest first. The slice
// and its events must not be modified.
func (s *Store) History(arn string) ([]*Event, error) {
	s.mu.RLock()
	x := s.byArn[arn]
	if x == nil {
		s.mu.RUnlock()
		return nil, ErrNotFound
	}
	if x.block == nil {
		defer s.mu.RUnlock()
		return slices.Clip(x.events), nil
	}
	b, hf := x.block, s.hist
	s.mu.RUnlock()
	if h, ok := s.cache.get(b); ok {
		return h, nil
	}
	h, err := hf.history(b)
	if err != nil {
		s.mu.RLock()
		retry := s.hist != hf // rewritten meanwhile: read where it is now
		s.mu.RUnlock()
		if retry {
			return s.History(arn)
		}
		return nil, fmt.Errorf("history of %s: %w", arn, err)
	}
	s.cache.put(b, h)
	return h, nil
}

// Events decodes an execution's history, for the engine to resume it.
func (s *Store) Events(arn string) ([]engine.Event, error) {
	h, err := s.History(arn)
	if err != nil {
		return nil, err
	}
	out := make([]engine.Event, len(h))
	for i, e := range h {
		if err := json.Unmarshal(e.full, &out[i]); err != nil {
			return nil, fmt.Errorf("event %d of %s: %w", i+1, arn, err)
		}
	}
	return out, nil
}

// Append records one history event: the engine's Sink. The event is written
// to the journal before Append returns. Ids must follow on from the last
// recorded one, so no event is recorded twice.
func (s *Store) Append(ctx context.Context, executionArn string, ev engine.Event) error {
	full, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("append event %d to %s: %w", ev.ID, executionArn, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.byArn[executionArn]
	if x == nil {
		return fmt.Errorf("append event %d to %s: %w", ev.ID, executionArn, ErrNotFound)
	}
	if x.block != nil || ev.ID != x.LastEventID+1 {
		return fmt.Errorf("append event %d to %s after event %d: %w", ev.ID, executionArn, x.LastEventID, ErrEventOutOfOrder)
	}
	payload := binary.AppendUvarint(make([]byte, 0, len(full)+binary.MaxVarintLen64), uint64(x.seq))
	payload = append(payload, full...)
	if err := s.write(kindEvent, payload); err != nil {
		return fmt.Errorf("append event %d to %s: %w", ev.ID, executionArn, err)
	}
	x.addEvent(ev, full)
	if x.Status != engine.StatusRunning {
		s.finished++
		if s.finished >= s.compactEvery {
			select {
			case s.compactCh <- struct{}{}:
			default:
			}
		}
	}
	return nil
}
