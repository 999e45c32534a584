package server

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Log and data files are 0600 whatever mode they had: an existing
// server.log kept 0644, and so did the lock files and the S3 index.
func TestFilesArePrivateWhateverExistedBefore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(filepath.Join(dir, "s3"), 0o700); err != nil {
		t.Fatal(err)
	}
	files := []string{LogFile, LockFile, StartLock, filepath.Join("s3", "s3.db")}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true(1)")
	}
	proc, err := StartDetached(truePath, nil, filepath.Join(dir, LogFile))
	if err != nil {
		t.Fatal(err)
	}
	proc.Wait()
	unlock, err := lockStart(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	newServer(t, Options{DataDir: dir})
	for _, f := range append(files, SpoolDir) {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: %04o, want %04o", f, fi.Mode().Perm(), want)
		}
	}
}
