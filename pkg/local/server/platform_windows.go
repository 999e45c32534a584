//go:build windows

package server

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/windows"
)

// tryLock takes a lock on the file's first byte without waiting; errLocked
// means another handle holds a conflicting one. Windows drops it when the
// handle closes or the process dies.
func tryLock(f *os.File, exclusive bool) error {
	flags := uint32(windows.LOCKFILE_FAIL_IMMEDIATELY)
	if exclusive {
		flags |= windows.LOCKFILE_EXCLUSIVE_LOCK
	}
	err := windows.LockFileEx(windows.Handle(f.Fd()), flags, 0, 1, 0, &windows.Overlapped{})
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return errLocked
	}
	return err
}

// detached starts a background server without the console's Ctrl-C.
func detached() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP | windows.DETACHED_PROCESS}
}

// askToStop: Windows has no SIGTERM for another process; stop ends it at once
// (recorded events are durable, and running executions resume at the next start).
func askToStop(p *os.Process) error { return p.Kill() }
