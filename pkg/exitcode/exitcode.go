// Package exitcode maps errors to odin's documented process exit codes.
package exitcode

import (
	"context"
	"errors"
	"os"
	"syscall"
)

// The documented exit codes. They are part of odin's interface: scripts and CI
// branch on them, so a value never changes meaning.
const (
	OK       = 0 // the deploy succeeded, or the command did what was asked
	Failed   = 1 // the deploy failed, or an unexpected error
	Usage    = 2 // bad usage, bad flag, or an invalid release file
	TimedOut = 3 // the deploy missed its timeout, or the execution timed out
	Aborted  = 4 // the execution was aborted or halted
	Running  = 5 // still running when odin stopped waiting (--detach, --timeout, ctrl-c)

	// Interrupted and Terminated end an odin whose command did not stop
	// within a few seconds of SIGINT or SIGTERM, or that got the signal
	// twice: 128 + the signal's number, as shells report such an end.
	Interrupted = 130
	Terminated  = 143
)

// Signalled is the exit code of an odin that signal s ended.
func Signalled(s os.Signal) int {
	if s == syscall.SIGTERM {
		return Terminated
	}
	return Interrupted
}

// Error carries an exit code with the error that caused it.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return ""
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// New wraps err so that the process exits with code. A nil err gives a silent
// exit with that code (the command already printed what the user needs).
func New(code int, err error) error { return &Error{Code: code, Err: err} }

// Of returns the exit code err asks for: the code of the outermost *Error in its
// chain, Running for a cancelled
// context, and Failed otherwise.
func Of(err error) int {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, context.Canceled) {
		return Running
	}
	return Failed
}

// UsageError marks err as bad usage (exit 2).
func UsageError(err error) error { return New(Usage, err) }
