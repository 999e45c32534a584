package moto

import (
	"os/exec"
	"syscall"
)

// dieWithParent kills moto when the test binary dies, so a test killed by its
// timeout does not leave moto behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
