//go:build unix

package server

import (
	"errors"
	"os"
	"syscall"
)

// tryLock takes an advisory lock on f without waiting; errLocked means
// another open file (any process, this one included) holds a conflicting one.
// The kernel drops it when the descriptor closes or the process dies.
func tryLock(f *os.File, exclusive bool) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errLocked
	}
	return err
}

// detached makes a child its own session leader, so the terminal's signals
// (Ctrl-C, hang-up) do not reach a background server.
func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// askToStop asks a server to stop cleanly.
func askToStop(p *os.Process) error { return p.Signal(syscall.SIGTERM) }
