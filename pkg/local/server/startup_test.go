package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStoreOpenErrorIsReturned: a Step Functions store that cannot be
// opened is New's error, naming the file and the way out, never a panic
// (a nil *sfnapi.API in a non-nil StatesAPI once was closed).
func TestStoreOpenErrorIsReturned(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sfn"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sfn", "snapshot"), []byte("not a snapshot at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(context.Background(), Options{DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), "snapshot") || !strings.Contains(err.Error(), "move it aside") {
		t.Fatalf("New: %v", err)
	}
	// The data directory is free again for a server started after a repair.
	if held, err := lockHeld(dir); err != nil || held {
		t.Fatalf("lock held after a failed start: %v %v", held, err)
	}
}

// TestEnsureReportsStartError: a background server that fails to start
// records why, and the CLI waiting for it returns that error, not a
// timeout.
func TestEnsureReportsStartError(t *testing.T) {
	dir := t.TempDir()
	_, err := Ensure(context.Background(), dir, func(context.Context) error {
		go RecordStartError(dir, errors.New("open store: the journal is unreadable"))
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "failed to start: open store: the journal is unreadable") {
		t.Fatalf("Ensure: %v", err)
	}
	st, err := Probe(context.Background(), dir)
	if err != nil || st.Running || !strings.Contains(st.StartError, "the journal is unreadable") {
		t.Fatalf("status after the failure: %+v %v", st, err)
	}
}

// TestEnsureReportsServerDeath: a server that took its lock and died
// without a word (a panic, a kill) is reported with its log's end at once.
func TestEnsureReportsServerDeath(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, LogFile), []byte("panic: something broke\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Ensure(context.Background(), dir, func(context.Context) error {
		f, err := lockServer(dir)
		if err != nil {
			return err
		}
		go func() {
			// The "server" dies after taking its lock (the CLI polls
			// every 50 ms, so it sees the lock held first).
			time.Sleep(300 * time.Millisecond)
			f.Close()
		}()
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "exited during start-up") || !strings.Contains(err.Error(), "panic: something broke") {
		t.Fatalf("Ensure: %v", err)
	}
}

// TestEnsureStartsWhenTheLockWentWithoutAServer: a lock held when Ensure
// looks, let go without anyone serving or saying why (a killed server's
// child holds a copy of the lock from its fork until its exec), is not a
// server starting: Ensure starts its own rather than report a death.
func TestEnsureStartsWhenTheLockWentWithoutAServer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	stray, err := lockServer(dir)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond) // the CLI polls every 50 ms: it sees the lock held first
		stray.Close()
	}()
	var s *Server
	t.Cleanup(func() {
		if s != nil {
			s.Close()
		}
	})
	starts := 0
	ep, err := Ensure(context.Background(), dir, func(ctx context.Context) error {
		starts++
		s, err = New(ctx, Options{DataDir: dir})
		return err
	})
	if err != nil || starts != 1 {
		t.Fatalf("Ensure = %v, %v after %d starts; want a server, started once", ep, err, starts)
	}
	if st, err := Probe(context.Background(), dir); err != nil || !st.Running {
		t.Fatalf("Probe = %+v, %v", st, err)
	}
}
