package localprovider

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/odin-deploy/odin/pkg/contract"
)

// restartProvider closes p (the server stops: every instance ends) and
// starts a new provider on the same data directory, which restores the
// serving release in the background.
func restartProvider(t *testing.T, p *Provider, dir string) *Provider {
	t.Helper()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	next := New(Options{DataDir: dir, StopGrace: 2 * time.Second})
	next.Start() // as the server does once it holds the lock
	t.Cleanup(func() { next.Close() })
	return next
}

func waitServing(t *testing.T, p *Provider, releaseID string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for p.Serving("hello", "test") != releaseID {
		if time.Now().After(deadline) {
			t.Fatalf("serving %q, want %q", p.Serving("hello", "test"), releaseID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRestoreKeepsTheDeployingRelease: after a restart, the restore brings
// the serving release back, and the deploy that was under way resumes
// beside it: the restore's switch must not stop the deploying release, and
// the deploy then finishes and takes over.
func TestRestoreKeepsTheDeployingRelease(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	listen := freeListenPort(t)
	first := New(Options{DataDir: dir, StopGrace: 2 * time.Second})
	v1, v2 := deployment(t, "r-v1", "ok", 1, listen), deployment(t, "r-v2", "ok", 2, listen)
	promote(t, first, v1)
	if err := first.Deploy(ctx, v2); err != nil {
		t.Fatal(err)
	}

	second := restartProvider(t, first, dir)
	// The resumed deploy's next question starts its instances again.
	h, err := second.Health(ctx, v2)
	if err != nil {
		t.Fatalf("the resumed deploy's health check: %v", err)
	}
	if h.Services["web"].Desired != 2 || len(h.Services["web"].Instances) != 2 {
		t.Fatalf("after the restart: %+v", h.Services["web"])
	}
	waitServing(t, second, "r-v1") // the restore switched back to v1 ...
	waitFor(t, second, v2, func(h *contract.Health, err error) bool { return err == nil && h.Healthy })
	if pids := second.PIDs("r-v2"); len(pids) != 2 { // ... and stopped nothing
		t.Fatalf("the deploying release has %d instances running after the restore, want 2", len(pids))
	}
	if got := get(t, listen); !strings.HasPrefix(got, "200 r-v1 ") {
		t.Fatalf("while v2 deploys, the port answered %q", got)
	}
	if err := second.CleanUpSuccess(ctx, v2); err != nil {
		t.Fatal(err)
	}
	if got := get(t, listen); !strings.HasPrefix(got, "200 r-v2 ") {
		t.Fatalf("after the deploy, the port answered %q", got)
	}
	if pids := second.PIDs("r-v1"); len(pids) != 0 {
		t.Errorf("the previous release still runs: %v", pids)
	}
}

// TestCleanUpSuccessResumedAfterRestart: a CleanUpSuccess that the restart
// interrupted runs again and succeeds once its release serves, whether the
// restart came before the switch was recorded (the old release is restored,
// the new one adopted) or after (the new one is restored).
func TestCleanUpSuccessResumedAfterRestart(t *testing.T) {
	for _, recorded := range []bool{false, true} {
		name := "before the switch was recorded"
		if recorded {
			name = "after the switch was recorded"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			listen := freeListenPort(t)
			first := New(Options{DataDir: dir, StopGrace: 2 * time.Second})
			v1, v2 := deployment(t, "r-v1", "ok", 1, listen), deployment(t, "r-v2", "ok", 1, listen)
			promote(t, first, v1)
			if err := first.Deploy(ctx, v2); err != nil {
				t.Fatal(err)
			}
			waitFor(t, first, v2, func(h *contract.Health, err error) bool { return err == nil && h.Healthy })
			if recorded {
				first.recordServing(v2) // the kill landed after this line of CleanUpSuccess
			}

			second := restartProvider(t, first, dir)
			if err := second.CleanUpSuccess(ctx, v2); err != nil {
				t.Fatalf("the resumed CleanUpSuccess: %v", err)
			}
			waitServing(t, second, "r-v2")
			if got := get(t, listen); !strings.HasPrefix(got, "200 r-v2 ") {
				t.Fatalf("the port answered %q", got)
			}
			// A restore that comes late never takes traffic back.
			if err := second.promote(v1, true); err != nil {
				t.Fatal(err)
			}
			if s := second.Serving("hello", "test"); s != "r-v2" {
				t.Fatalf("a late restore of v1 switched traffic to %q", s)
			}
		})
	}
}

// TestCleanUpFailureOfAForgottenRelease: a rollback resumed after a restart
// has nothing to stop, and its report must not start the release again.
func TestCleanUpFailureOfAForgottenRelease(t *testing.T) {
	ctx := context.Background()
	p := newProvider(t)
	d := deployment(t, "r-gone", "ok", 1, 0)
	if err := p.CleanUpFailure(ctx, d); err != nil {
		t.Fatal(err)
	}
	h, _ := p.Health(ctx, d)
	if pids := p.PIDs("r-gone"); len(pids) != 0 || h == nil || h.Healthy {
		t.Fatalf("after the rollback of a forgotten release: pids %v, health %+v", pids, h)
	}
}
