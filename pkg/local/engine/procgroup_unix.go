//go:build unix

package engine

import (
	"os/exec"
	"syscall"
)

// killGroupOnCancel runs cmd in its own process group, so that a timeout
// kills the command's children too.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
