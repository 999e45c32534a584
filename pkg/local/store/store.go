// Package store keeps the local Step Functions backend's state machines,
// executions and histories durable in one append-only journal.
//
// Every change is one checksummed record appended to <dir>/journal with a
// single write(2) before the call that made it returns, so a change survives
// the server being killed (SIGKILL). fsync is batched: a background loop
// syncs at most every SyncInterval, so a power loss or kernel crash can lose
// the last SyncInterval of changes, never corrupt what came before. Open
// replays the journal into in-memory indexes and drops a torn last record;
// damage followed by more records is ErrCorrupt, not silently dropped.
//
// Every event's wire JSON is also kept in memory, so a history page is a
// concatenation of ready bytes. The journal is never compacted and nothing
// expires: memory and the time Open takes (about 4 µs an event) grow with
// every execution ever run. That suits a developer's machine; a long-lived
// server would want retention.
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
)

// DefaultSyncInterval is how often written records are fsynced.
const DefaultSyncInterval = 100 * time.Millisecond

// Options configures a store.
type Options struct {
	SyncInterval time.Duration // default DefaultSyncInterval
	Logger       *slog.Logger
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
	seq    int64
	events []*Event
}

type stateMachine struct {
	StateMachine
	deleted    bool
	executions []*execution // in start order
}

// Store is the durable state of the local Step Functions backend. It is safe
// for concurrent use.
type Store struct {
	path string
	log  *slog.Logger

	mu      sync.RWMutex
	f       *os.File
	closed  bool
	sms     map[string]*stateMachine
	smOrder []*stateMachine
	byArn   map[string]*execution
	bySeq   map[int64]*execution
	nextSeq int64
	buf     []byte

	dirty    atomic.Bool
	stopSync chan struct{}
	syncDone chan struct{}
}

// Open opens (creating when needed) the store in dir, replaying its journal.
func Open(dir string, opts Options) (*Store, error) {
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = DefaultSyncInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	path := filepath.Join(dir, "journal")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{
		path: path, log: opts.Logger, f: f,
		sms: map[string]*stateMachine{}, byArn: map[string]*execution{}, bySeq: map[int64]*execution{},
		nextSeq: 1, stopSync: make(chan struct{}), syncDone: make(chan struct{}),
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	end, err := readRecords(f, st.Size(), s.replay)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if st.Size() > end {
		s.log.Warn("dropping a torn record at the end of the journal", "path", path, "offset", end, "bytes", st.Size()-end)
		if err := f.Truncate(end); err != nil {
			f.Close()
			return nil, fmt.Errorf("open store: drop torn tail: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	go s.syncLoop(opts.SyncInterval)
	return s, nil
}

func (s *Store) syncLoop(every time.Duration) {
	defer close(s.syncDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stopSync:
			return
		case <-t.C:
			if s.dirty.Swap(false) {
				if err := s.f.Sync(); err != nil {
					s.log.Error("fsync journal", "path", s.path, "err", err)
				}
			}
		}
	}
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
	close(s.stopSync)
	<-s.syncDone
	err := s.f.Sync()
	return errors.Join(err, s.f.Close())
}

// replay applies one journal record to the in-memory indexes.
func (s *Store) replay(kind byte, payload []byte) error {
	switch kind {
	case kindStateMachine:
		var sm StateMachine
		if err := json.Unmarshal(payload, &sm); err != nil {
			return err
		}
		s.applyStateMachine(sm)
	case kindRevision:
		var r revisionRecord
		if err := json.Unmarshal(payload, &r); err != nil {
			return err
		}
		if sm := s.sms[r.Arn]; sm != nil {
			sm.Revisions = append(sm.Revisions, r.Revision)
		}
	case kindDeleteSM:
		var r struct{ Arn string }
		if err := json.Unmarshal(payload, &r); err != nil {
			return err
		}
		if sm := s.sms[r.Arn]; sm != nil {
			sm.deleted = true
		}
	case kindExecution:
		var r executionRecord
		if err := json.Unmarshal(payload, &r); err != nil {
			return err
		}
		s.applyExecution(r)
	case kindEvent:
		seq, n := binary.Uvarint(payload)
		if n <= 0 {
			return errors.New("event record without an execution")
		}
		x := s.bySeq[int64(seq)]
		if x == nil {
			return fmt.Errorf("event of unknown execution %d", seq)
		}
		// Only a terminal event's details matter here: read the rest's id
		// and type alone, which is most of the cost of opening.
		var head struct {
			ID   int64  `json:"id"`
			Type string `json:"type"`
		}
		if err := json.Unmarshal(payload[n:], &head); err != nil {
			return err
		}
		ev := engine.Event{ID: head.ID, Type: head.Type}
		if terminal(head.Type) {
			if err := json.Unmarshal(payload[n:], &ev); err != nil {
				return err
			}
		}
		if ev.ID != int64(len(x.events)+1) {
			// A duplicate can't be written (Append refuses it); skip rather
			// than refuse to open.
			s.log.Warn("skipping an out-of-order event in the journal", "execution", x.Arn, "id", ev.ID, "want", len(x.events)+1)
			return nil
		}
		x.addEvent(ev, payload[n:])
	default:
		return fmt.Errorf("unknown record kind %d", kind)
	}
	return nil
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

func (s *Store) applyExecution(r executionRecord) {
	x := &execution{Execution: r.Execution, seq: r.Seq}
	x.Status = engine.StatusRunning
	s.byArn[x.Arn] = x
	s.bySeq[x.seq] = x
	if r.Seq >= s.nextSeq {
		s.nextSeq = r.Seq + 1
	}
	if sm := s.sms[x.StateMachineArn]; sm != nil {
		sm.executions = append(sm.executions, x)
	}
}

// addEvent records ev (whose wire JSON is full) and, for a terminal event,
// the execution's outcome.
// terminal reports whether an event of type typ ends an execution.
func terminal(typ string) bool {
	switch typ {
	case "ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted":
		return true
	}
	return false
}

func (x *execution) addEvent(ev engine.Event, full []byte) {
	// Replay doesn't decode details: assume data there, JSON(false) checks.
	hasData := ev.Details == nil || ev.Details.Input != "" || ev.Details.Output != ""
	x.events = append(x.events, &Event{full: full, hasData: hasData})
	x.Events = len(x.events)
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

// write appends one record to the journal. Callers hold s.mu.
func (s *Store) write(kind byte, payload []byte) error {
	if s.closed {
		return ErrClosed
	}
	s.buf = appendRecord(s.buf[:0], kind, payload)
	if _, err := s.f.Write(s.buf); err != nil {
		return fmt.Errorf("write journal %s: %w", s.path, err)
	}
	if cap(s.buf) > 1<<20 {
		s.buf = nil // don't pin a large definition's buffer
	}
	s.dirty.Store(true)
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
	s.applyExecution(r)
	return s.byArn[x.Arn].Execution, nil
}

// Execution returns an execution's record.
func (s *Store) Execution(arn string) (Execution, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	x := s.byArn[arn]
	if x == nil {
		return Execution{}, false
	}
	return x.Execution, true
}

// ListExecutions returns up to limit executions of a state machine, newest
// first, starting at position from (-1: the newest) and keeping only those
// with status (all when ""), and the position to go on from (-1 at the end).
// Positions stay valid as executions are added.
func (s *Store) ListExecutions(smArn, status string, from, limit int) ([]Execution, int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sm := s.sms[smArn]
	if sm == nil {
		return nil, -1
	}
	i := len(sm.executions) - 1
	if from >= 0 && from < i {
		i = from
	}
	var out []Execution
	for ; i >= 0; i-- {
		x := sm.executions[i]
		if status != "" && x.Status != status {
			continue
		}
		if len(out) == limit {
			return out, i
		}
		out = append(out, x.Execution)
	}
	return out, -1
}

// Running returns the executions that have not ended, oldest first.
func (s *Store) Running() []Execution {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Execution
	for seq := int64(1); seq < s.nextSeq; seq++ {
		if x := s.bySeq[seq]; x != nil && x.Status == engine.StatusRunning {
			out = append(out, x.Execution)
		}
	}
	return out
}

// History returns an execution's recorded events, oldest first. The slice
// and its events must not be modified.
func (s *Store) History(arn string) ([]*Event, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	x := s.byArn[arn]
	if x == nil {
		return nil, false
	}
	return slices.Clip(x.events), true
}

// Events decodes an execution's history, for the engine to resume it.
func (s *Store) Events(arn string) ([]engine.Event, error) {
	h, ok := s.History(arn)
	if !ok {
		return nil, ErrNotFound
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
	if ev.ID != int64(len(x.events)+1) {
		return fmt.Errorf("append event %d to %s after %d events: %w", ev.ID, executionArn, len(x.events), ErrEventOutOfOrder)
	}
	payload := binary.AppendUvarint(make([]byte, 0, len(full)+binary.MaxVarintLen64), uint64(x.seq))
	payload = append(payload, full...)
	if err := s.write(kindEvent, payload); err != nil {
		return fmt.Errorf("append event %d to %s: %w", ev.ID, executionArn, err)
	}
	x.addEvent(ev, full)
	return nil
}
