package cmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odin-deploy/odin/pkg/deployer/localbackend"
	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/local/access"
	"github.com/odin-deploy/odin/pkg/local/server"
)

// localOdin is odin wired to an in-process local backend with the reference
// deployer, as `odin local serve` runs it.
type localOdin struct {
	t       *testing.T
	backend *localbackend.Backend
	dataDir string
}

func startLocalOdin(t *testing.T) *localOdin {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	b, err := localbackend.Start(ctx, server.Options{
		DataDir: dir,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close local backend: %v", err)
		}
	})
	return &localOdin{t: t, backend: b, dataDir: dir}
}

// run runs odin with args and returns its exit code, stdout and stderr.
func (o *localOdin) run(ctx context.Context, args ...string) (int, string, string) {
	return o.runAs(ctx, session{}, args...)
}

// factory is what odin runs with against the test's backend: its own
// config directory, and the backend instead of starting one.
func (o *localOdin) factory(io *iostreams.IOStreams, now func() time.Time) *Factory {
	return &Factory{
		IO:  io,
		Env: configEnv(o.dataDir),
		Now: now,
		StartLocal: func(context.Context, string) (access.Endpoint, error) {
			return o.backend.Endpoint(), nil
		},
	}
}

// configEnv is an environment with only XDG_CONFIG_HOME, at dir: no
// developer's config file or ODIN_* variable leaks into a test.
func configEnv(dir string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		if k == "XDG_CONFIG_HOME" {
			return dir, true
		}
		return "", false
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return b.String()
}

func TestDeployHelloOnLocalBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("deploys real processes")
	}
	o := startLocalOdin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// A copy of examples/hello/release.yml on a free port: the example as
	// users run it, without colliding with a developer's own deploy of it.
	file, port := hello{Project: "hello", Config: "development", Version: "v1"}.write(t)
	code, out, errOut := o.run(ctx, "deploy", file, "--output", "plain")
	t.Logf("stdout:\n%s\nstderr:\n%s", out, errOut)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if body := get(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); !strings.Contains(body, "version v1") {
		t.Fatalf("hello answers %q", body)
	}

	// Attach to it afterwards: the release file names the project/config.
	code, out, errOut = o.run(ctx, "status", file, "--no-follow")
	if code != 0 || !strings.Contains(out, "SUCCEEDED: deploy of hello/development release r-") || !strings.Contains(out, "CheckHealthy") {
		t.Fatalf("status --no-follow: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

// Tab on `odin status` lists executions from the running local backend (and
// never starts one): the shell gets names it can use at once.
func TestCompleteExecutionNames(t *testing.T) {
	if testing.Short() {
		t.Skip("deploys real processes")
	}
	o := startLocalOdin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	file, _ := hello{Project: "complete", Config: "development", Version: "v1"}.write(t)
	if code, out, errOut := o.run(ctx, "deploy", file, "--detach"); code != 0 {
		t.Fatalf("deploy exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ := o.run(ctx, "__complete", "status", "deploy-")
	if code != 0 || !strings.Contains(out, "deploy-complete_development_r-") {
		t.Fatalf("completion exit %d:\n%s", code, out)
	}
	// With nothing typed: the release files here and the executions.
	t.Chdir(filepath.Dir(file))
	code, out, _ = o.run(ctx, "__complete", "status", "")
	if code != 0 || !strings.Contains(out, "release.yml\trelease file\n") || !strings.Contains(out, "deploy-complete_development_r-") {
		t.Fatalf("completion of nothing: exit %d:\n%s", code, out)
	}
}
