//go:build !linux

package moto

import "os/exec"

// dieWithParent has no portable equivalent outside Linux: Stop and the test's
// cleanup stop moto instead.
func dieWithParent(*exec.Cmd) {}
