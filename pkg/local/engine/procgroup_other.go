//go:build !unix

package engine

import "os/exec"

// killGroupOnCancel kills the command itself on a timeout; without process
// groups its children are left to the operating system.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.Cancel = func() error { return cmd.Process.Kill() }
}
