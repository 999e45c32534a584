package localprovider

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// awaitExit blocks until the process pid has exited, without reaping it: the
// zombie keeps its pid, and so its process group's id, from being reused
// while what the leader left in its group is stopped.
func awaitExit(pid int) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, syscall.EINTR) {
			return
		}
	}
}

// sweepGroupBeforeReap says whether awaitExit holds the pid: only then may
// the group be signalled after the leader exited.
const sweepGroupBeforeReap = true
