//go:build unix

package release

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A release file must be a regular file: a FIFO (which blocked Load for
// ever: open waits for a writer), a directory and a device are refused at
// once, naming what they are; a regular file still loads.
func TestLoadRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "release.yml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, kind := range map[string]string{fifo: "a named pipe (FIFO)", dir: "a directory", os.DevNull: "a character device"} {
		_, err := Load(path)
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), kind) {
			t.Errorf("Load(%s) = %v, want %v naming the path and %q", path, err, ErrNotRegular, kind)
		}
	}
	good := filepath.Join(dir, "good.yml")
	if err := os.WriteFile(good, []byte("project_name: hello\nconfig_name: dev\ntarget: local\nservices:\n  web:\n    command: [go, run, .]\n    listen: 8080\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if f, err := Load(good); err != nil || f.Release.ProjectName != "hello" {
		t.Fatalf("Load of a regular file: %v", err)
	}
	// A link to a regular file is followed, as before.
	link := filepath.Join(dir, "link.yml")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(link); err != nil {
		t.Fatalf("Load through a symlink: %v", err)
	}
}
