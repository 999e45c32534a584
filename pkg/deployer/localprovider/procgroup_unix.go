//go:build unix

package localprovider

import (
	"os/exec"
	"syscall"
)

// startInGroup starts cmd as the leader of its own process group, so that
// stopping it also stops what it started (`go run` starts the program as a
// child).
func startInGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// signalGroup sends sig to the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) error { return syscall.Kill(-pid, sig) }
