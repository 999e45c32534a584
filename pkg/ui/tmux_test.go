package ui

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/progress"
	"github.com/odin-deploy/odin/pkg/watch"
)

const tmuxHelperEnv = "ODIN_UI_TMUX_HELPER"

// TestTmuxHelper is the program TestTUIInTmux runs inside tmux: the live
// view of a recorded deploy, on the real terminal.
func TestTmuxHelper(t *testing.T) {
	if os.Getenv(tmuxHelperEnv) != "1" {
		t.Skip("run by TestTUIInTmux")
	}
	def, evs := events(t, "unhealthy", -1)
	m, _ := progress.New(def, header)
	v := New(m, Options{IO: iostreams.System()})
	if v.Mode() != ModeTUI {
		t.Fatalf("mode %s in tmux", v.Mode())
	}
	vd, err := v.Run(context.Background(), func(ctx context.Context, emit func(watch.Event)) (*watch.Result, error) {
		for _, ev := range evs {
			emit(ev)
			time.Sleep(5 * time.Millisecond) // let frames render in between
		}
		return &watch.Result{Status: "FAILED"}, nil
	})
	fmt.Printf("exit code %d err %v\n", vd.Code, err)
}

// The TUI once in a real terminal: tmux, 100x30.
func TestTUIInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("ODIN_REQUIRE_TMUX") == "1" {
			t.Fatal("tmux is required (ODIN_REQUIRE_TMUX=1) but not on PATH")
		}
		t.Skip("no tmux (set ODIN_REQUIRE_TMUX=1 to make this a failure)")
	}
	// A socket of the test's own (-S): -L sockets outlive kill-server in /tmp.
	sock := filepath.Join(t.TempDir(), "tmux.sock")
	run := func(args ...string) (string, error) {
		out, err := exec.Command(tmux, append([]string{"-S", sock}, args...)...).CombinedOutput()
		return string(out), err
	}
	wd, _ := os.Getwd()
	cmd := fmt.Sprintf("env %s=1 NO_COLOR=1 TERM=xterm-256color %s -test.run '^TestTmuxHelper$'", tmuxHelperEnv, os.Args[0])
	if out, err := run("new-session", "-d", "-x", "100", "-y", "30", "-c", wd, "-s", "ui", cmd); err != nil {
		t.Fatalf("tmux: %v: %s", err, out)
	}
	t.Cleanup(func() { run("kill-server") })
	run("set-option", "-t", "ui", "remain-on-exit", "on")
	var screen string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		screen, _ = run("capture-pane", "-p", "-t", "ui")
		if strings.Contains(screen, "exit code") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, want := range []string{
		// (The title line may have scrolled off by the time the helper's own
		// lines are printed below the final frame.)
		"elapsed 27s · steps 8/11, rollback 3",
		"CheckHealthy        failed (×2)",
		"HealthError: web-2: GET http://127.0.0.1:8082/health: 500 Internal Server Error",
		"FAILED: deploy of hello/production release r-20261125-2a9f failed after 27s at CheckHealthy:\nHealthError: web-2: GET",
		"exit code 1 err <nil>",
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
	for i, l := range strings.Split(screen, "\n") {
		if len([]rune(l)) > 100 {
			t.Errorf("line %d wider than the pane: %q", i, l)
		}
	}
}
