//go:build unix

package release

import "syscall"

// openNonBlocking keeps open(2) from waiting for a FIFO's writer; it changes
// nothing for the regular files Load goes on to read.
const openNonBlocking = syscall.O_NONBLOCK
