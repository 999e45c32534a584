package conformance

import (
	"os"
	"testing"

	"github.com/odin-deploy/odin/pkg/testpeer/moto"
)

// TestMain stops the moto server the package's tests share (moto.Shared): starting one
// server instead of one per test halves the time spent waiting for moto on a loaded machine.
func TestMain(m *testing.M) { os.Exit(moto.Main(m)) }

// sharedMoto is the package's moto server, wiped of what an earlier test left in it (state
// machines, executions, queued Lambda results).
func sharedMoto(t *testing.T) *moto.Server {
	t.Helper()
	s := moto.Shared(t)
	s.Reset(t)
	return s
}
