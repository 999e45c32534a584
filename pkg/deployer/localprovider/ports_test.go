package localprovider

import (
	"os"
	"path/filepath"
	"testing"
)

// Instances' ports come from below the ephemeral range, which outgoing
// connections draw from: a port picked there may be taken by a connection
// before the instance binds it.
func TestInstancePortsBelowTheEphemeralRange(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		content string
		lo, hi  int
	}{
		{"32768\t60999\n", 10000, 20000}, // Linux's default
		{"15000 60999\n", 5000, 15000},
		{"1500 60999\n", 1024, 2048},
		{"garbage\n", 10000, 20000},
	} {
		path := filepath.Join(dir, "range")
		if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if lo, hi := instancePorts(path); lo != tt.lo || hi != tt.hi {
			t.Errorf("range %q: ports [%d, %d), want [%d, %d)", tt.content, lo, hi, tt.lo, tt.hi)
		}
	}
	if lo, hi := instancePorts(filepath.Join(dir, "missing")); lo != 10000 || hi != 20000 {
		t.Errorf("no range file: ports [%d, %d), want [10000, 20000)", lo, hi)
	}
	lo, hi := instancePorts(ephemeralRangePath)
	for range 20 {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		if port < lo || port >= hi {
			t.Fatalf("freePort = %d, outside [%d, %d)", port, lo, hi)
		}
	}
}
