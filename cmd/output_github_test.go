package cmd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odin-deploy/odin/pkg/config"
	"github.com/odin-deploy/odin/pkg/ghactions"
	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/local/access"
	"github.com/odin-deploy/odin/pkg/watch/watchtest"
)

// githubOdin runs odin as a step of a GitHub Actions job would: with
// GITHUB_ACTIONS=true and a step summary file, against r when r is set. It
// returns the exit code, stdout, stderr and the step summary.
func githubOdin(t *testing.T, r *watchtest.Replay, args ...string) (int, string, string, string) {
	t.Helper()
	dir := t.TempDir()
	summary := filepath.Join(dir, "step-summary.md")
	io, _, out, errOut := iostreams.Test()
	f := &Factory{
		IO: io,
		Env: func(k string) (string, bool) {
			switch k {
			case "XDG_CONFIG_HOME", "ODIN_DATA_DIR": // validate has no --data-dir
				return dir, true
			case "GITHUB_ACTIONS":
				return "true", true
			case "GITHUB_STEP_SUMMARY":
				return summary, true
			}
			return "", false
		},
		Now: func() time.Time { return time.Date(2026, 11, 25, 22, 0, 0, 0, time.UTC) },
		StartLocal: func(context.Context, string) (access.Endpoint, error) {
			if r == nil {
				return access.Endpoint{}, errors.New("no backend in this test")
			}
			return access.Endpoint{URL: r.URL, AccessKeyID: "test", SecretAccessKey: "test", Region: "us-east-1", Account: "123456789012"}, nil
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := Run(ctx, f, args)
	b, err := os.ReadFile(summary)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return code, out.String(), errOut.String(), string(b)
}

// workflowCommands parses every line of a log that starts with "::" by the
// runner's grammar (ActionCommand.TryParseV2); a malformed one fails the test.
func workflowCommands(t *testing.T, log string) []ghactions.Command {
	t.Helper()
	var cmds []ghactions.Command
	for i, l := range strings.Split(log, "\n") {
		c, err := ghactions.Parse(l)
		if errors.Is(err, ghactions.ErrNotCommand) {
			continue
		}
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		cmds = append(cmds, c)
	}
	return cmds
}

// odin status in a GitHub Actions job, on a recorded success and failure:
// the log (groups, the ::error naming the step and cause) and the step
// summary, which for the failure quotes odin fail's report, read through
// the real SDK from the same backend.
func TestGitHubStatusGolden(t *testing.T) {
	for _, tt := range []struct {
		history string
		code    int
		errors  int
	}{
		{"deploy-retry", 0, 0},
		{"unhealthy", 1, 1},
	} {
		t.Run(tt.history, func(t *testing.T) {
			code, out, errOut, summary := githubOdin(t, replayOf(t, tt.history), "status", watchtest.ExecutionArn)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr %s", code, tt.code, errOut)
			}
			errs, groups := 0, 0
			for _, c := range workflowCommands(t, out) {
				switch c.Name {
				case "error":
					errs++
					if c.Properties["title"] != "odin deploy: failed at CheckHealthy" || !strings.Contains(c.Message, "HealthError: web-2") {
						t.Errorf("::error lacks the step or the cause: %+v", c)
					}
				case "group":
					groups++
				}
			}
			if errs != tt.errors || groups < 5 {
				t.Errorf("%d ::error and %d ::group lines", errs, groups)
			}
			if tt.code != 0 && !strings.Contains(summary, "#### Why it failed (odin fail)") {
				t.Error("the failure's summary lacks the odin fail report")
			}
			checkGolden(t, filepath.Join("testdata", "github", tt.history+".log.golden"), []byte(out))
			checkGolden(t, filepath.Join("testdata", "github", tt.history+".summary.md.golden"), []byte(summary))
		})
	}
}

// An invalid release in a GitHub Actions job: an ::error with file, line
// and column for every problem (GitHub shows it on the line in the pull
// request), a summary table, exit 2; deploy refuses it the same way.
func TestGitHubInvalidRelease(t *testing.T) {
	const bad = "testdata/github/invalid.yml"
	for _, args := range [][]string{{"validate", "../examples/hello/release.yml", bad}, {"deploy", bad}} {
		t.Run(args[0], func(t *testing.T) {
			code, out, errOut, summary := githubOdin(t, nil, args...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr %s", code, errOut)
			}
			var got []string
			for _, c := range workflowCommands(t, out) {
				if c.Name != "error" {
					t.Errorf("unexpected %+v", c)
				}
				got = append(got, c.Properties["file"]+":"+c.Properties["line"]+":"+c.Properties["col"])
			}
			if want := []string{bad + ":8:10", bad + ":9:1"}; strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("annotations at %q, want %q", got, want)
			}
			checkGolden(t, filepath.Join("testdata", "github", args[0]+"-invalid.log.golden"), []byte(out))
			checkGolden(t, filepath.Join("testdata", "github", args[0]+"-invalid.summary.md.golden"), []byte(summary))
		})
	}
}

// Any other error odin exits with is an ::error too, once.
func TestGitHubErrorAnnotation(t *testing.T) {
	code, out, errOut, _ := githubOdin(t, nil, "deploy", "testdata/github/missing.yml")
	cmds := workflowCommands(t, out)
	if code != 2 || len(cmds) != 1 || cmds[0].Name != "error" || cmds[0].Properties["title"] != "odin" ||
		!strings.Contains(cmds[0].Message, "missing.yml") || !strings.Contains(errOut, "odin: ") {
		t.Errorf("exit %d, commands %+v, stderr %q", code, cmds, errOut)
	}
}

// --output github chooses it outside Actions too; --output plain inside
// Actions does without it.
func TestGitHubOutputChoice(t *testing.T) {
	f, _, _ := testFactory()
	for _, tt := range []struct {
		output string
		env    bool
		want   string
	}{
		{"auto", true, "github"},
		{"auto", false, "auto"},
		{"github", false, "github"},
		{"plain", true, "plain"},
		{"json", true, "json"},
	} {
		f.Env = func(k string) (string, bool) {
			return map[bool]string{true: "true"}[tt.env && k == "GITHUB_ACTIONS"], tt.env
		}
		f.Settings = &config.Settings{Output: tt.output}
		if got := outputMode(f); got != tt.want {
			t.Errorf("--output %s, GITHUB_ACTIONS %v: %s, want %s", tt.output, tt.env, got, tt.want)
		}
	}
}
