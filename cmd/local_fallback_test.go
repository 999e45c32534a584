package cmd

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/local/server"
)

// TestLocalServeFallsBackToAFreePortBuildingTheBackendOnce: with the default
// port taken, serve listens on a free port, and the backend (its provider
// with it) is built once, so a recorded serving release is brought back
// once. Falling back after a failed start built it twice.
func TestLocalServeFallsBackToAFreePortBuildingTheBackendOnce(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	opts, _, logs := testLocalOptions(t)
	opts.Listen, opts.ListenSet = taken.Addr().String(), false
	var mu sync.Mutex
	opts.IO.ErrOut = lockedWriter{&mu, logs}

	d := deployer.Deployment{ReleaseID: "r-0123456789abcdef", Project: "p", Config: "c", Services: map[string]deployer.Service{
		"web": {Command: []string{"sleep", "600"}, WorkingDir: t.TempDir(), Instances: 1},
	}}
	rec, _ := json.Marshal(d)
	serving := filepath.Join(opts.DataDir, "deployer", "serving")
	if err := os.MkdirAll(serving, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(serving, "p_c.json"), rec, 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- localServeRun(ctx, opts) }()
	ep, err := server.Ensure(context.Background(), opts.DataDir, func(context.Context) error { return nil })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if err != nil {
		t.Fatalf("serve did not become ready: %v", err)
	}
	if strings.HasSuffix(ep.URL, taken.Addr().String()) {
		t.Fatalf("serving on the taken address %s", ep.URL)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(logs.String(), "the default port is taken"); n != 1 {
		t.Errorf("%d fallbacks logged, want 1:\n%s", n, logs)
	}
	if n := strings.Count(logs.String(), "bringing back the serving release"); n != 1 {
		t.Errorf("the serving release was brought back %d times, want once:\n%s", n, logs)
	}
}
