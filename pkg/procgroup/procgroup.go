// Package procgroup runs a command as the leader of its own process group,
// so that stopping it stops what it started too (`go run` starts the
// program as a child; a task's shell starts its commands), and signals that
// group only while its id is still the command's: the leader's pid, and with
// it the group's id, may belong to an unrelated process once the leader is
// reaped.
package procgroup

import (
	"os/exec"
	"sync"
	"syscall"
)

// Group is a started command's process group.
type Group struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	gone bool // the leader exited: its pid is no longer safe to signal
}

// New prepares cmd to lead a process group of its own; call it before
// cmd.Start. Signal may be called once cmd has started (from cmd.Cancel,
// say), and Wait replaces cmd.Wait.
func New(cmd *exec.Cmd) *Group {
	ownGroup(cmd)
	return &Group{cmd: cmd}
}

// Signal sends sig to the group while its leader has not exited, and does
// nothing after (nil). Holding the lock across the send keeps Wait's reap from
// slipping in between.
func (g *Group) Signal(sig syscall.Signal) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gone || g.cmd.Process == nil {
		return nil
	}
	return signalGroup(g.cmd.Process.Pid, sig)
}

// Wait waits for the leader to exit and returns cmd.Wait's result. Where the
// system can wait without reaping (Linux), whatever the leader left running
// in its group is killed first, while the unreaped leader still holds the
// group's id.
func (g *Group) Wait() error {
	if awaitExit(g.cmd.Process.Pid) {
		g.markGone()
		_ = signalGroup(g.cmd.Process.Pid, syscall.SIGKILL)
	}
	err := g.cmd.Wait()
	g.markGone()
	return err
}

func (g *Group) markGone() {
	g.mu.Lock()
	g.gone = true
	g.mu.Unlock()
}
