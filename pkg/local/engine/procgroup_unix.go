//go:build unix

package engine

import (
	"os"
	"os/exec"
	"syscall"
)

// killGroupOnCancel runs cmd in its own process group, so that a timeout
// kills the command's children too.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// Only while the leader is not reaped is its pid, the group's id,
		// still its own: os.Process knows (it holds a pidfd where it can).
		if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
			return os.ErrProcessDone
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
