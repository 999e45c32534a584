package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// RecoveryFile, in the store's directory, keeps the report of the last
// recovery from damage until someone deletes it.
const RecoveryFile = "recovery.json"

// Recovery is what Open found damaged and what it lost.
type Recovery struct {
	At time.Time `json:"at"`
	// File is the damaged file; Copy is where it was copied as it was found.
	File string `json:"file"`
	Copy string `json:"copy,omitempty"`
	// Damaged are the spans of File that held no whole record.
	Damaged []Span `json:"damaged,omitempty"`
	// Torn is a last record cut short by a crash, dropped.
	Torn *Span `json:"torn,omitempty"`
	// Records is how many whole records were recovered.
	Records int `json:"records"`
	// LostEvents are the history events known to be lost.
	LostEvents []LostEvents `json:"lostEvents,omitempty"`
	// LostExecutions are executions whose record was lost, known only by
	// their events that survived.
	LostExecutions []LostExecution `json:"lostExecutions,omitempty"`
	// Actions are what the backend did about the loss once it served, such
	// as a deploy lock it released whose holder no longer runs.
	Actions []string `json:"actions,omitempty"`
}

// LostEvents are events FirstID..LastID of an execution's history; LastID
// 0 when the damage may have held events after FirstID-1 but nothing says
// how many.
type LostEvents struct {
	Execution string `json:"execution"`
	FirstID   int64  `json:"firstId"`
	LastID    int64  `json:"lastId"`
	// Status is the execution's status after the recovery.
	Status string `json:"status"`
	Note   string `json:"note,omitempty"`
}

// LostExecution is an execution whose record was lost.
type LostExecution struct {
	Seq    int64 `json:"seq"`
	Events int   `json:"eventsDropped"`
}

// Lost reports whether anything but a torn last record was lost.
func (r *Recovery) Lost() bool {
	return r != nil && (len(r.Damaged) > 0 || len(r.LostEvents) > 0 || len(r.LostExecutions) > 0)
}

// Summary says in a few lines what was damaged and lost.
func (r *Recovery) Summary() string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	var bytes int64
	for _, d := range r.Damaged {
		bytes += d.Length
	}
	if r.Lost() || r.Torn != nil {
		fmt.Fprintf(&b, "%s: %d damaged span(s), %d bytes; %d whole records recovered", r.File, len(r.Damaged), bytes, r.Records)
	}
	if r.Copy != "" {
		fmt.Fprintf(&b, "; the damaged file was copied to %s", r.Copy)
	}
	for _, d := range r.Damaged {
		fmt.Fprintf(&b, "\n  damaged: %s", d)
	}
	for _, l := range r.LostEvents {
		if l.LastID == 0 {
			fmt.Fprintf(&b, "\n  maybe lost: events from %d of %s (now %s)", l.FirstID, l.Execution, l.Status)
		} else {
			fmt.Fprintf(&b, "\n  lost: events %d-%d of %s (now %s)", l.FirstID, l.LastID, l.Execution, l.Status)
		}
		if l.Note != "" {
			fmt.Fprintf(&b, ": %s", l.Note)
		}
	}
	for _, l := range r.LostExecutions {
		fmt.Fprintf(&b, "\n  lost: the record of execution #%d; %d of its events were dropped", l.Seq, l.Events)
	}
	for _, a := range r.Actions {
		fmt.Fprintf(&b, "\n  done: %s", a)
	}
	return strings.TrimPrefix(b.String(), "\n")
}

// NoteRecovery adds action to the recovery report kept in a store's
// directory, starting one dated now when there is none (executions failed
// on start without damage). Only the server holding the data directory
// calls it.
func NoteRecovery(dir string, now time.Time, action string) error {
	r, err := ReadRecovery(dir)
	if err != nil {
		return err
	}
	if r == nil {
		r = &Recovery{At: now.UTC(), File: filepath.Join(dir, journalFile)}
	}
	r.Actions = append(r.Actions, action)
	return writeFile(OSFS{}, filepath.Join(dir, RecoveryFile), marshalRecovery(r))
}

func marshalRecovery(r *Recovery) []byte {
	b, _ := json.MarshalIndent(r, "", "  ")
	return append(b, '\n')
}

// ReadRecovery reads the recovery report kept in a store's directory; nil
// when there is none.
func ReadRecovery(dir string) (*Recovery, error) {
	b, err := os.ReadFile(filepath.Join(dir, RecoveryFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r Recovery
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, RecoveryFile), err)
	}
	return &r, nil
}
