package cmd

import (
	"context"
	"strings"
	"testing"
)

// TestUnknownExecution names an execution that does not exist: every
// command that reads one says where it looked and exits 2 (a bad
// argument), not a raw API error.
func TestUnknownExecution(t *testing.T) {
	o := startLocalOdin(t)
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	ep := o.backend.Endpoint()
	want := "no execution deploy-nope_dev_r-0000000000000000 in state machine odin-deployer (account " + ep.Account + ", region " + ep.Region + ")"
	for _, args := range [][]string{
		{"status", "deploy-nope_dev_r-0000000000000000"},
		{"status", "deploy-nope_dev_r-0000000000000000", "--no-follow"},
		{"fail", "deploy-nope_dev_r-0000000000000000"},
		{"halt", "deploy-nope_dev_r-0000000000000000", "--yes"},
	} {
		code, out, errOut := o.run(ctx, args...)
		if code != 2 || !strings.Contains(errOut, want) || strings.Contains(errOut, "StatusCode") || out != "" {
			t.Errorf("odin %s: exit %d, want 2 and %q\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
		}
	}
}
