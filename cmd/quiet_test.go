package cmd

import (
	"strings"
	"testing"

	"github.com/odin-deploy/odin/pkg/watch/watchtest"
)

// --quiet leaves the verdict line alone on stdout, live or not, and nothing
// on stderr; the exit code and --output json are what they are without it.
func TestStatusQuiet(t *testing.T) {
	r := replayOf(t, "unhealthy")
	const verdict = "FAILED: deploy failed after 27s at CheckHealthy: HealthError: web-2: GET http://127.0.0.1:8082/health: 500 Internal Server Error; see why with: odin fail replay\n"
	for _, args := range [][]string{
		{"status", watchtest.ExecutionArn, "--quiet", "--output", "plain"},
		{"status", watchtest.ExecutionArn, "--quiet"}, // auto: plain here, and never the TUI
		{"status", watchtest.ExecutionArn, "--quiet", "--no-follow"},
	} {
		code, out, errOut := replayOdin(t, r, args...)
		if code != 1 || out != verdict || errOut != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 1 and only the verdict", args, code, out, errOut)
		}
	}
	for _, extra := range [][]string{nil, {"--no-follow"}} {
		args := append([]string{"status", watchtest.ExecutionArn, "--output", "json"}, extra...)
		_, loud, _ := replayOdin(t, r, args...)
		code, quiet, _ := replayOdin(t, r, append(args, "--quiet")...)
		if code != 1 || quiet != loud || !strings.Contains(quiet, `"exit_code":1`) {
			t.Errorf("%v --quiet: exit %d, JSON changed:\n%s\nwant\n%s", args, code, quiet, loud)
		}
	}
}
