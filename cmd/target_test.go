package cmd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odin-deploy/odin/pkg/backend"
	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/local/access"
)

func TestTargetAccount(t *testing.T) {
	data, err := os.ReadFile("../examples/aws/release.yml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	other := filepath.Join(dir, "other.yml")
	// The example moved to another account: its lifecycle role and topic move with it.
	if err := os.WriteFile(other, []byte(strings.ReplaceAll(string(data), "123456789012", "222222222222")), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		arg   string
		flags targetFlags
		want  string
	}{
		{"execution ARN", "arn:aws:states:us-east-1:333333333333:execution:odin-deployer:deploy-a_b_r-0", targetFlags{}, "333333333333"},
		{"release file", other, targetFlags{}, "222222222222"},
		{"local release names no account", "../examples/hello/release.yml", targetFlags{}, ""},
		{"execution name", "deploy-a_b_r-0", targetFlags{}, ""},
		{"--account", "", targetFlags{Project: "a", Config: "b", Account: "444444444444"}, "444444444444"},
		{"--project alone", "", targetFlags{Project: "a", Config: "b"}, ""},
		{"missing file", filepath.Join(dir, "gone.yml"), targetFlags{}, ""},
		{"short ARN", "arn:aws", targetFlags{}, ""},
	}
	for _, tt := range tests {
		got := ""
		if tg, err := parseTarget(tt.arg, tt.flags); err == nil {
			got = tg.account()
		}
		if got != tt.want {
			t.Errorf("%s: account = %q, want %q", tt.name, got, tt.want)
		}
	}

	// With no argument, the release.yml of the current directory.
	t.Chdir(dir)
	if err := os.Rename(other, filepath.Join(dir, "release.yml")); err != nil {
		t.Fatal(err)
	}
	if tg, err := parseTarget("", targetFlags{}); err != nil || tg.account() != "222222222222" {
		t.Errorf("release.yml here: %v, %v", tg, err)
	}
}

func TestResolveTargetAccount(t *testing.T) {
	b := &backend.Backend{Account: "123456789012", StateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:odin-deployer"}
	resolve := func(arg string, flags targetFlags) (*target, error) {
		tg, err := parseTarget(arg, flags)
		if err == nil {
			tg.resolve(b)
		}
		return tg, err
	}
	got, err := resolve("", targetFlags{Project: "a", Config: "b", Account: "444444444444"})
	if err != nil || got.Account != "444444444444" || got.scope().Account != "444444444444" {
		t.Errorf("--account: %+v, %v", got, err)
	}
	got, err = resolve("", targetFlags{Project: "a", Config: "b"})
	if err != nil || got.Account != "123456789012" || got.scope().Account != "" {
		t.Errorf("default account: %+v, %v (the caller's for the lock, every account for the scope)", got, err)
	}
	got, err = resolve("deploy-a_b_r-0", targetFlags{})
	if err != nil || got.ExecutionArn != "arn:aws:states:us-east-1:123456789012:execution:odin-deployer:deploy-a_b_r-0" {
		t.Errorf("an execution name: %+v, %v", got, err)
	}
	got, err = resolve("../examples/hello/release.yml", targetFlags{})
	if err != nil || got.Account != "123456789012" || got.scope().Account != "123456789012" {
		t.Errorf("a release without aws_account_id deploys to the caller's account: %+v, %v", got, err)
	}
	for _, tt := range []struct {
		arg   string
		flags targetFlags
		want  string
	}{
		{"", targetFlags{Account: "444444444444"}, "--account needs --project"},
		{"", targetFlags{Project: "a", Config: "b", Account: "4444"}, `--account "4444" is not an AWS account id`},
		{"deploy-a_b_r-0", targetFlags{Account: "444444444444"}, "not both"},
	} {
		if _, err := parseTarget(tt.arg, tt.flags); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseTarget(%q, %+v): %v, want %q", tt.arg, tt.flags, err, tt.want)
		}
	}
}

// TestBadTargetStartsNothing: a bad argument is reported before the
// backend is opened, so the local backend is not started for it.
func TestBadTargetStartsNothing(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "release.yml")
	if err := os.WriteFile(bad, []byte("project_name: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"status", bad}, "invalid release:\n" + bad + ":"},
		{[]string{"fail", bad}, "invalid release:\n" + bad + ":"},
		{[]string{"halt", bad, "--yes"}, "invalid release:\n" + bad + ":"},
		{[]string{"unlock", bad, "--yes"}, "invalid release:\n" + bad + ":"},
		{[]string{"history", bad}, "invalid release:\n" + bad + ":"},
		{[]string{"status", "--account", "123"}, "--account needs --project"},
		{[]string{"history", "--all", "--project", "p"}, "--all lists every project"},
	} {
		args := tt.args
		io, _, _, errOut := iostreams.Test()
		started := 0
		f := &Factory{IO: io, Env: func(string) (string, bool) { return "", false }, Now: time.Now,
			StartLocal: func(context.Context, string) (access.Endpoint, error) {
				started++
				return access.Endpoint{}, errors.New("not in this test")
			}}
		code := Run(context.Background(), f, append([]string{"--data-dir", t.TempDir()}, args...))
		if code != 2 || started != 0 || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("odin %s: exit %d, local backend started %d times; want 2, none and %q\n%s", strings.Join(args, " "), code, started, tt.want, errOut)
		}
	}
}
