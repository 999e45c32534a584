package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odin-deploy/odin/pkg/backend"
)

func TestTargetAccount(t *testing.T) {
	data, err := os.ReadFile("../examples/aws/release.yml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	other := filepath.Join(dir, "other.yml")
	if err := os.WriteFile(other, []byte(strings.Replace(string(data), `aws_account_id: "123456789012"`, `aws_account_id: "222222222222"`, 1)), 0o644); err != nil {
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
		if got := targetAccount(tt.arg, tt.flags); got != tt.want {
			t.Errorf("%s: targetAccount = %q, want %q", tt.name, got, tt.want)
		}
	}

	// With no argument, the release.yml of the current directory.
	t.Chdir(dir)
	if err := os.Rename(other, filepath.Join(dir, "release.yml")); err != nil {
		t.Fatal(err)
	}
	if got := targetAccount("", targetFlags{}); got != "222222222222" {
		t.Errorf("release.yml here: targetAccount = %q", got)
	}
}

func TestResolveTargetAccount(t *testing.T) {
	b := &backend.Backend{Account: "123456789012", StateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:odin-deployer"}
	got, err := resolveTarget("", targetFlags{Project: "a", Config: "b", Account: "444444444444"}, b)
	if err != nil || got.Account != "444444444444" {
		t.Errorf("--account: %+v, %v", got, err)
	}
	got, err = resolveTarget("", targetFlags{Project: "a", Config: "b"}, b)
	if err != nil || got.Account != "123456789012" {
		t.Errorf("default account: %+v, %v", got, err)
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
		if _, err := resolveTarget(tt.arg, tt.flags, b); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("resolveTarget(%q, %+v): %v, want %q", tt.arg, tt.flags, err, tt.want)
		}
	}
}
