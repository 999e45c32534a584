package cmd

import (
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every way of calling odin wrongly exits 2, as `odin exit-codes` says,
// before anything touches a backend.
func TestUsageErrorsExit2(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		stderr   string // part of the message
	}{
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate" for "odin"`},
		{[]string{"statu"}, 2, `did you mean status?`},
		{[]string{"local", "frobnicate"}, 2, `unknown command "frobnicate" for "odin local"`},
		{[]string{"deployer", "frobnicate"}, 2, `unknown command "frobnicate" for "odin deployer"`},
		{[]string{"--frobnicate"}, 2, "unknown flag: --frobnicate"},
		{[]string{"version", "--frobnicate"}, 2, "unknown flag: --frobnicate"},
		{[]string{"frobnicate", "--frobnicate"}, 2, "unknown flag"},
		{[]string{"deploy", "a.yml", "b.yml"}, 2, "accepts at most 1 arg(s), received 2"},
		{[]string{"status", "a", "b"}, 2, "accepts at most 1 arg(s)"},
		{[]string{"config", "extra"}, 2, "unknown command"},
		{[]string{"deploy", "--timeout", "abc", "x.yml"}, 2, `invalid argument "abc" for "--timeout"`},
		{[]string{"--output", "xml", "version"}, 2, `invalid output "xml"`},
		{[]string{"--quiet", "--verbose", "version"}, 2, "cannot be used together"},
		// The backend and AWS flags are only on the commands that use them.
		{[]string{"schema", "--region", "us-east-1"}, 2, "unknown flag: --region"},
		{[]string{"--backend", "aws", "version"}, 2, "unknown flag: --backend"},
		{[]string{"validate", "--profile", "dev", "x.yml"}, 2, "unknown flag: --profile"},
		{[]string{"deployer", "template", "--endpoint", "http://127.0.0.1:1"}, 2, "unknown flag: --endpoint"},
		{[]string{"local", "status", "--region", "us-east-1"}, 2, "unknown flag: --region"},
		// Still fine: a group alone, or help, prints help and exits 0.
		{[]string{}, 0, ""},
		{[]string{"local"}, 0, ""},
		{[]string{"help", "local"}, 0, ""},
		{[]string{"version"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f, out, errOut := testFactory()
			code := Run(context.Background(), f, tt.args)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			if !strings.Contains(errOut.String(), tt.stderr) {
				t.Errorf("stderr %q, want it to say %q", errOut, tt.stderr)
			}
			if tt.wantCode == 0 && out.Len() == 0 {
				t.Error("nothing on stdout")
			}
		})
	}
}

// Every command a user runs shows an example in its help.
func TestEveryLeafCommandHasAnExample(t *testing.T) {
	f, _, _ := testFactory()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c.Runnable() && !c.HasSubCommands() && c.Name() != "help" && c.Example == "" {
			t.Errorf("%s has no example", c.CommandPath())
		}
	}
	walk(NewRootCmd(f))
}

// Help groups the flags, shows the AWS flags only on commands that open a
// backend, and shows --release-config, not its old name (which still works).
func TestHelpGroupsFlags(t *testing.T) {
	for _, tt := range []struct {
		cmd      string
		want     []string
		wantNone []string
	}{
		{"schema", []string{"General flags:", "--output"}, []string{"--region", "--profile", "Backend and AWS flags:"}},
		{"version", []string{"General flags:"}, []string{"--region", "--backend"}},
		{"completion", []string{"General flags:"}, []string{"--region"}},
		{"status", []string{"Flags:\n", "--release-config", "General flags:", "Backend and AWS flags:", "--region", "--profile"}, []string{"--config-name"}},
		{"validate", []string{"General flags:"}, []string{"--region", "--data-dir", "Backend and AWS flags:"}},
		{"local", []string{"Backend and AWS flags:", "--data-dir"}, []string{"--region", "--profile"}},
		{"deployer definition", []string{"Backend and AWS flags:", "--region"}, []string{"--profile", "--backend"}},
		{"deployer template", []string{"--bucket "}, []string{"--region", "Backend and AWS flags:"}},
		{"deployer install", []string{"Backend and AWS flags:", "--region", "--profile", "--backend"}, nil},
	} {
		f, out, _ := testFactory()
		if code := Run(context.Background(), f, append(strings.Fields(tt.cmd), "--help")); code != 0 {
			t.Fatalf("%s --help: exit %d", tt.cmd, code)
		}
		for _, w := range tt.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s --help lacks %q:\n%s", tt.cmd, w, out)
			}
		}
		for _, w := range tt.wantNone {
			if strings.Contains(out.String(), w) {
				t.Errorf("%s --help shows %q:\n%s", tt.cmd, w, out)
			}
		}
	}
	// Completion offers the flags a command has.
	for cmd, want := range map[string]bool{"schema": false, "version": false, "status": true, "history": true} {
		f, out, _ := testFactory()
		Run(context.Background(), f, []string{"__complete", cmd, "--"})
		if got := strings.Contains(out.String(), "--region\t"); got != want {
			t.Errorf("completion of odin %s -- offers --region: %v, want %v:\n%s", cmd, got, want, out)
		}
	}

	// The old name still works.
	f, _, errOut := testFactory()
	if code := Run(context.Background(), f, []string{"status", "--config-name", "dev"}); code != 2 || !strings.Contains(errOut.String(), "--release-config needs --project") {
		t.Errorf("--config-name alone: exit %d, %q; want 2 and that it needs --project", code, errOut)
	}
}
