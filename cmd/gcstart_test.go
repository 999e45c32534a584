package cmd

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// gcSettings reads the collector's percent and memory limit without
// changing them.
func gcSettings() (percent int, limit int64) {
	percent = debug.SetGCPercent(-1)
	debug.SetGCPercent(percent)
	return percent, debug.SetMemoryLimit(-1)
}

func noEnv(string) (string, bool) { return "", false }

func TestHoldCollectionDefersThenRestores(t *testing.T) {
	percent, limit := gcSettings()
	release := holdCollection(noEnv, time.Hour, 32<<20)
	p, l := gcSettings()
	release()
	if p != -1 || l != min(limit, 32<<20) {
		t.Errorf("during the hold: GC percent %d, memory limit %d; want -1 and %d", p, l, min(limit, 32<<20))
	}
	if p, l := gcSettings(); p != percent || l != limit {
		t.Errorf("after the hold: GC percent %d, memory limit %d; want %d and %d as before", p, l, percent, limit)
	}
	release() // a second end changes nothing
	if p, l := gcSettings(); p != percent || l != limit {
		t.Errorf("after a second release: GC percent %d, memory limit %d; want %d and %d", p, l, percent, limit)
	}
}

func TestHoldCollectionEndsByItself(t *testing.T) {
	percent, limit := gcSettings()
	holdCollection(noEnv, time.Millisecond, 32<<20)
	for {
		if p, l := gcSettings(); p == percent && l == limit {
			return
		}
		time.Sleep(time.Millisecond) // the test's own timeout bounds the wait
	}
}

// The hold is bounded by memory as well as time: a process that allocates
// past the limit is collected during the hold.
func TestHoldCollectionCollectsAtTheLimit(t *testing.T) {
	release := holdCollection(noEnv, time.Hour, 16<<20)
	defer release()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var keep [][]byte
	for i := 0; i < 64; i++ { // 64 MiB of garbage, 1 MiB live at a time
		keep = append(keep[:0], make([]byte, 1<<20))
	}
	_ = keep
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if after.NumGC == before.NumGC {
		t.Fatalf("no collection while 64 MiB were allocated under a 16 MiB limit")
	}
}

func TestHoldCollectionLeavesGOGCAlone(t *testing.T) {
	percent, limit := gcSettings()
	release := holdCollection(func(k string) (string, bool) { return "200", k == "GOGC" }, time.Hour, 16<<20)
	defer release()
	if p, l := gcSettings(); p != percent || l != limit {
		t.Errorf("with GOGC set: GC percent %d, memory limit %d; want them untouched (%d, %d)", p, l, percent, limit)
	}
}
