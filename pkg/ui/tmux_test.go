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
	name := os.Getenv(tmuxHelperEnv)
	if name == "" {
		t.Skip("run by TestTUIInTmux")
	}
	def, evs := events(t, name, -1)
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
		return &watch.Result{}, nil
	})
	fmt.Printf("exit code %d err %v\n", vd.Code, err)
}

// The TUI in a real terminal (tmux) at three sizes, for a deploy that
// succeeds after a retry and one that fails after retries: what is left on
// the terminal, scrollback included, is the final frame whole (its title
// too, however short the pane), with no failure-path rows on success.
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
	for _, tc := range []struct {
		name, history string
		code          int
	}{
		{"success", "deploy-retry", 0},
		{"failure", "unhealthy", 1},
	} {
		for _, size := range [][2]int{{100, 30}, {80, 24}, {60, 20}} {
			w, h := size[0], size[1]
			t.Run(fmt.Sprintf("%s-%dx%d", tc.name, w, h), func(t *testing.T) {
				t.Parallel()
				screen := runInTmux(t, tmux, tc.history, w, h)
				exit := fmt.Sprintf("exit code %d err <nil>", tc.code)
				i := strings.LastIndex(screen, exit)
				if i < 0 {
					t.Fatalf("the helper did not end with %q:\n%s", exit, screen)
				}
				start := strings.LastIndex(screen[:i], "odin  hello/production")
				if start < 0 {
					t.Fatalf("no title before the end:\n%s", screen)
				}
				final := strings.TrimRight(screen[start:i], "\n ") + "\n"
				for n, l := range strings.Split(final, "\n") {
					if len([]rune(l)) > w {
						t.Errorf("line %d wider than the pane: %q", n, l)
					}
				}
				for _, step := range []string{"Validate", "CheckHealthy", "Healthy?"} {
					if !strings.Contains(final, " "+step+" ") {
						t.Errorf("the final frame lacks %s", step)
					}
				}
				for _, offPath := range []string{"HealthUnknown", "ReleaseLockDirty", "FailureDirty"} {
					if strings.Contains(final, offPath) {
						t.Errorf("the final frame shows %s, a failure-path state never entered", offPath)
					}
				}
				if tc.code == 0 && strings.Contains(final, "Failure") {
					t.Errorf("a success shows failure-path rows:\n%s", final)
				}
				if tc.code != 0 && !strings.Contains(final, "odin fail hello-production-r-20261125-2a9f") {
					t.Errorf("the failure's verdict does not give the odin fail command:\n%s", final)
				}
				golden(t, fmt.Sprintf("tmux-%s-%dx%d", tc.name, w, h), []byte(final))
			})
		}
	}
}

// runInTmux runs the helper on history in a w×h tmux pane of its own and
// returns the pane's text, scrollback included, once the helper has ended.
func runInTmux(t *testing.T, tmux, history string, w, h int) string {
	// A socket of the test's own (-S): -L sockets outlive kill-server in /tmp.
	sock := filepath.Join(t.TempDir(), "tmux.sock")
	run := func(args ...string) (string, error) {
		out, err := exec.Command(tmux, append([]string{"-S", sock}, args...)...).CombinedOutput()
		return string(out), err
	}
	wd, _ := os.Getwd()
	// The session starts with a shell that waits for a key, so that
	// remain-on-exit is set before the helper can end.
	cmd := fmt.Sprintf("sh -c 'read go; env %s=%s NO_COLOR=1 TERM=xterm-256color %s -test.run ^TestTmuxHelper$'", tmuxHelperEnv, history, os.Args[0])
	if out, err := run("-f", "/dev/null", "new-session", "-d", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), "-c", wd, "-s", "ui", cmd); err != nil {
		t.Fatalf("tmux: %v: %s", err, out)
	}
	t.Cleanup(func() { run("kill-server") })
	run("set-option", "-t", "ui", "remain-on-exit", "on")
	run("send-keys", "-t", "ui", "Enter")
	var screen string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		screen, _ = run("capture-pane", "-p", "-S", "-", "-t", "ui")
		if strings.Contains(screen, "exit code") {
			return screen
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the helper did not end in 60s:\n%s", screen)
	return ""
}
