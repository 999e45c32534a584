package cmd

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pane is one tmux pane running one command on its own tmux server, whose
// socket lives in the test's temporary directory: the test neither sees nor
// disturbs anyone's tmux, and leaves no socket behind.
type pane struct {
	t      *testing.T
	tmux   string
	socket string
}

const paneWidth, paneHeight = 100, 30

// startPane runs script (a shell script file) in a new 100x30 pane. The pane
// stays after the script ends so its last screen can be read.
func startPane(t *testing.T, tmux, name, script string) *pane {
	t.Helper()
	p := &pane{t: t, tmux: tmux, socket: filepath.Join(t.TempDir(), name+".tmux")}
	// remain-on-exit must be set before the command can end, hence the
	// session starts with a shell that waits for a key first.
	p.tmuxCmd("-f", "/dev/null", "new-session", "-d", "-s", "e2e", "-x", strconv.Itoa(paneWidth), "-y", strconv.Itoa(paneHeight),
		"sh -c 'read go; exec sh \"$0\"' "+shellQuote(script))
	t.Cleanup(func() { _, _ = p.run("kill-server") })
	p.tmuxCmd("set-option", "-t", "e2e", "remain-on-exit", "on")
	p.tmuxCmd("send-keys", "-t", "e2e", "Enter")
	return p
}

func (p *pane) run(args ...string) (string, error) {
	out, err := exec.Command(p.tmux, append([]string{"-S", p.socket}, args...)...).CombinedOutput()
	return string(out), err
}

func (p *pane) tmuxCmd(args ...string) string {
	p.t.Helper()
	out, err := p.run(args...)
	if err != nil {
		p.t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return out
}

// screen is what the pane shows now, without escape sequences.
func (p *pane) screen() string {
	p.t.Helper()
	return p.tmuxCmd("capture-pane", "-p", "-t", "e2e")
}

// await polls the screen until cond holds and returns that screen; ctx's
// deadline turns a hang into a failure showing the last screen.
func (p *pane) await(ctx context.Context, what string, cond func(screen string) bool) string {
	p.t.Helper()
	for {
		s := p.screen()
		if cond(s) {
			return s
		}
		select {
		case <-ctx.Done():
			p.t.Fatalf("gave up waiting for %s; the pane shows:\n%s", what, s)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// runningRow is a step row of the live view whose status is running.
var runningRow = regexp.MustCompile(`(?m)^ \S \S+\s+running\b`)

// runningFrame says a whole frame of the live view with a running step is on
// screen (or odin has ended). The key help is the frame's last line: tmux may
// show a frame half drawn, and only then is the rest of it there too.
func runningFrame(screen string) bool {
	return runningRow.MatchString(screen) && strings.Contains(screen, "q detach") || exitedLine.MatchString(screen)
}

// exitedLine is what the pane's script prints once odin has ended.
var exitedLine = regexp.MustCompile(`odin exited (\d+)`)

// buildOdin builds the odin binary from the repository root.
func buildOdin(ctx context.Context, t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "odin")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestDeployInTmux runs the odin binary in a real terminal: tmux, 100x30.
// `odin deploy` starts its own local backend (XDG_STATE_HOME is a temporary
// directory) and shows the live view: captured while a step runs and at the
// end, every step of the success path and the verdict are on screen. A
// second deploy is detached with q: the re-attach command is printed, the
// exit code is 5; that command attaches again, and h then y halt the deploy.
func TestDeployInTmux(t *testing.T) {
	t.Parallel() // waits on servers and health checks, not the CPU
	if testing.Short() {
		t.Skip("builds odin and deploys real processes")
	}
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("ODIN_REQUIRE_TMUX") == "1" {
			t.Fatal("tmux is required (ODIN_REQUIRE_TMUX=1) but not on PATH")
		}
		t.Skip("no tmux (.ci/run installs it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	bin := buildOdin(ctx, t)

	home := t.TempDir()
	env := []string{
		"XDG_STATE_HOME=" + filepath.Join(home, "state"),
		"XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
		"TERM=xterm-256color",
		"NO_COLOR=1",
	}
	// odin in the pane and odin run by the test share env, so they meet the
	// same local backend; stop it (and the instances it runs) at the end.
	odin := func(args ...string) (int, string, string) {
		t.Helper()
		// Not the test's ctx: the cleanup's `local stop` runs after it ends.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), env...)
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			return ee.ExitCode(), out.String(), errOut.String()
		case err != nil:
			t.Fatalf("odin %s: %v", strings.Join(args, " "), err)
		}
		return 0, out.String(), errOut.String()
	}
	t.Cleanup(func() {
		if code, out, errOut := odin("local", "stop"); code != 0 || !strings.Contains(out, "stopped") {
			t.Errorf("odin local stop: exit %d\n%s%s", code, out, errOut)
		}
	})
	script := func(args ...string) string {
		var b strings.Builder
		b.WriteString("#!/bin/sh\n")
		for _, kv := range env {
			b.WriteString("export " + shellQuote(kv) + "\n")
		}
		b.WriteString(shellQuote(bin))
		for _, a := range args {
			b.WriteString(" " + shellQuote(a))
		}
		b.WriteString("\necho \"odin exited $?\"\n")
		path := filepath.Join(t.TempDir(), "run.sh")
		if err := os.WriteFile(path, []byte(b.String()), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}

	// Five health checks in a row (seconds) keep the deploy running long
	// enough to be seen running even on a loaded machine.
	file, port := hello{Project: "tmux", Config: "e2e", Version: "v1", HealthyThreshold: 5}.write(t)
	p := startPane(t, tmux, "deploy", script("deploy", file))

	running := p.await(ctx, "a running step", runningFrame)
	if exitedLine.MatchString(running) {
		t.Fatalf("odin ended before a step was seen running:\n%s", running)
	}
	for _, want := range []string{"odin  tmux/e2e  release r-", "backend local", "execution deploy-tmux_e2e_r-", "elapsed ", " · steps ", "Validate", "q detach"} {
		if !strings.Contains(running, want) {
			t.Errorf("the running screen lacks %q:\n%s", want, running)
		}
	}

	end := p.await(ctx, "odin to end", exitedLine.MatchString)
	t.Logf("the last screen:\n%s", end)
	if m := exitedLine.FindStringSubmatch(end); m[1] != "0" {
		t.Errorf("odin deploy exited %s, want 0", m[1])
	}
	for _, step := range []string{"Validate", "Lock", "ValidateResources", "Deploy", "WaitForDeploy", "WaitForHealthy", "Healthy?", "CleanUpSuccess", "ReleaseLock", "Success"} {
		if !regexp.MustCompile(`(?m)^ ✓ ` + regexp.QuoteMeta(step) + `\s+succeeded\b`).MatchString(end) {
			t.Errorf("the last screen has no succeeded row for %s", step)
		}
	}
	// The header once: the backend line is the live view's, not also a line
	// of its own before it. And no failure-path row on a success.
	if n := strings.Count(end, "backend local"); n != 1 {
		t.Errorf("the last screen names the backend %d times, want once", n)
	}
	for _, offPath := range []string{"HealthUnknown", "CleanUpFailure", "ReleaseLockFailure", "FailureClean", "ReleaseLockDirty", "FailureDirty"} {
		if strings.Contains(end, offPath) {
			t.Errorf("the last screen of a success shows %s", offPath)
		}
	}
	// The check says what it found.
	if !regexp.MustCompile(`(?m)^ ✓ CheckHealthy\s+web 2/2 healthy\b`).MatchString(end) {
		t.Errorf("the last screen has no CheckHealthy row with its result")
	}
	if n := strings.Count(end, "backend local"); n != 1 {
		t.Errorf("the backend line is on the screen %d times, want once", n)
	}
	if !regexp.MustCompile(`(?m)^SUCCEEDED: deploy of tmux/e2e release r-[0-9a-f]+ succeeded in \S+`).MatchString(end) {
		t.Errorf("the last screen has no SUCCEEDED verdict")
	}
	if !strings.Contains(end, "health: web 2/2 healthy") {
		t.Errorf("the last screen does not show the service's health")
	}
	if body := answer(t, port); !strings.Contains(body, "version v1") {
		t.Errorf("the deployed release answers %q", body)
	}

	// A release that never becomes healthy runs until halted: detach with q.
	stuck, _ := hello{Project: "tmux", Config: "e2e", Version: "v2", HealthPath: "/never-healthy", Port: port}.write(t)
	p2 := startPane(t, tmux, "detach", script("deploy", stuck))
	p2.await(ctx, "a running step", runningFrame)
	p2.tmuxCmd("send-keys", "-t", "e2e", "q")
	detached := p2.await(ctx, "odin to detach", exitedLine.MatchString)
	t.Logf("the screen after q:\n%s", detached)
	if m := exitedLine.FindStringSubmatch(detached); m[1] != "5" {
		t.Errorf("odin deploy exited %s after q, want 5", m[1])
	}
	attach := regexp.MustCompile(`odin status (deploy-tmux_e2e_r-[0-9a-f]+)`).FindStringSubmatch(detached)
	if attach == nil {
		t.Fatalf("no re-attach command after q:\n%s", detached)
	}
	if n := strings.Count(detached, "Attach again with"); n != 1 {
		t.Errorf("the re-attach hint is printed %d times, want once", n)
	}

	// The printed command finds the deploy, which goes on.
	code, out, errOut := odin("status", attach[1], "--no-follow", "--output", "plain")
	if code != 5 || !strings.Contains(out, "RUNNING") {
		t.Errorf("%s --no-follow: exit %d, want 5 (running)\nstdout:\n%s\nstderr:\n%s", attach[0], code, out, errOut)
	}

	// Attach again in the terminal and halt with h, then y: the deployer
	// rolls back, v1 keeps serving, exit 4.
	p3 := startPane(t, tmux, "halt", script("status", attach[1]))
	p3.await(ctx, "the attached view", func(s string) bool { return strings.Contains(s, "h halt") || exitedLine.MatchString(s) })
	p3.tmuxCmd("send-keys", "-t", "e2e", "h")
	p3.await(ctx, "the halt confirmation", func(s string) bool {
		return strings.Contains(s, "Halt this deploy and roll back? (y/n)") || exitedLine.MatchString(s)
	})
	p3.tmuxCmd("send-keys", "-t", "e2e", "y")
	halted := p3.await(ctx, "odin to end after the halt", exitedLine.MatchString)
	t.Logf("the screen after h, y:\n%s", halted)
	if m := exitedLine.FindStringSubmatch(halted); m[1] != "4" {
		t.Errorf("odin status exited %s after halting, want 4", m[1])
	}
	if !regexp.MustCompile(`(?m)^HALTED: deploy of tmux/e2e release r-[0-9a-f]+ was halted after `).MatchString(halted) {
		t.Errorf("the screen after the halt has no HALTED verdict")
	}
	for _, step := range []string{"CleanUpFailure", "ReleaseLockFailure"} {
		if !regexp.MustCompile(`(?m)^ ✓ ` + step + `\s+succeeded\b`).MatchString(halted) {
			t.Errorf("the rollback step %s is not shown succeeded", step)
		}
	}
	if body := answer(t, port); !strings.Contains(body, "version v1") {
		t.Errorf("after the halt the balancer answers %q, want v1", body)
	}
}
