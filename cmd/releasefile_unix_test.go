//go:build unix

package cmd

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Every command that reads a release file refuses one that is not a
// regular file with exit 2 and a message naming it, at once: `odin validate`
// and `odin deploy` on a FIFO hung for good and ignored SIGINT and SIGTERM.
// The real binary, so that a hang would show as one (the context bounds it).
func TestReleaseFileMustBeRegular(t *testing.T) {
	if testing.Short() {
		t.Skip("builds odin")
	}
	bin := odinBinary(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "release.yml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "folder.yml")
	if err := os.Mkdir(folder, 0o700); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(dir, "state"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "NO_COLOR=1")
	for _, path := range []struct{ path, kind string }{{fifo, "a named pipe (FIFO)"}, {folder, "a directory"}, {os.DevNull, "a character device"}} {
		for _, args := range [][]string{{"validate"}, {"deploy"}, {"deploy", "--detach"}, {"status"}, {"fail"}, {"history"}} {
			name := strings.Join(args, " ") + " " + path.kind
			t.Run(name, func(t *testing.T) {
				if len(args) == 1 && args[0] != "validate" && args[0] != "deploy" && path.path == os.DevNull {
					t.Skip("/dev/null has no .yml name: status, fail and history take it for an execution name")
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, bin, append(args, path.path)...)
				cmd.Env = env
				out, err := cmd.CombinedOutput()
				if ctx.Err() != nil {
					t.Fatalf("odin %s %s hung", name, path.path)
				}
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 2 {
					t.Fatalf("odin %s: %v, want exit 2\n%s", name, err, out)
				}
				if !strings.Contains(string(out), path.path) || !strings.Contains(string(out), "not a regular file") || !strings.Contains(string(out), path.kind) {
					t.Errorf("odin %s: the message does not name the file and what it is:\n%s", name, out)
				}
				if _, err := os.Stat(filepath.Join(dir, "state", "odin", "server.lock")); err == nil {
					t.Errorf("odin %s started a local backend before refusing the file", name)
				}
			})
		}
	}
}
