//go:build !linux

package localprovider

// awaitExit returns at once where a process cannot be waited for without
// reaping it; the group is then not signalled after its leader exits, since
// the leader's pid may already belong to another process.
func awaitExit(int) {}

const sweepGroupBeforeReap = false
