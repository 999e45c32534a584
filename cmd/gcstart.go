package cmd

import (
	"runtime/debug"
	"sync"
	"time"

	"github.com/odin-deploy/odin/pkg/config"
)

// Most odin commands end within a second having allocated a few MB. A
// garbage collection in that time frees little and costs much, on machines
// where each fresh page of memory is dear (the collector's mark bits and
// workers take fresh pages; measured: a deploy --detach touches about 250
// fewer pages without one). So the collector waits: for the first
// holdFor of the process, or until the heap reaches holdUpTo, whichever is
// first; then it runs as Go's defaults (or GOGC and GOMEMLIMIT) say.
const (
	holdFor  = time.Second
	holdUpTo = 64 << 20
)

// holdCollection defers the first garbage collection as above, unless the
// environment sets GOGC (then the user's choice stands). It returns a
// function that ends the hold at once (tests; a long-running command may
// call it too).
func holdCollection(env config.Env, d time.Duration, limit int64) (release func()) {
	if _, set := env("GOGC"); set {
		return func() {}
	}
	percent := debug.SetGCPercent(-1)
	memLimit := debug.SetMemoryLimit(-1) // reads it
	debug.SetMemoryLimit(min(memLimit, limit))
	var once sync.Once
	end := func() {
		once.Do(func() {
			debug.SetGCPercent(percent)
			debug.SetMemoryLimit(memLimit)
		})
	}
	time.AfterFunc(d, end)
	return end
}
