package cmd

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/exitcode"
)

func TestDeployerDefinition(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"deployer", "definition"}, exitcode.OK, `"Resource": "${FunctionArn}"`},
		{[]string{"deployer", "definition", "--account", "123456789012", "--region", "eu-west-1"}, exitcode.OK,
			`"Resource": "arn:aws:lambda:eu-west-1:123456789012:function:odin-deployer"`},
		{[]string{"deployer", "definition", "--function-arn", "arn:aws:lambda:us-east-1:1:function:x"}, exitcode.OK,
			`"Resource": "arn:aws:lambda:us-east-1:1:function:x"`},
		{[]string{"deployer", "definition", "--account", "123456789012"}, exitcode.Usage, ""},
		{[]string{"deployer", "definition", "extra"}, exitcode.Usage, ""},
		{[]string{"deployer", "lambda"}, exitcode.Usage, ""},
	}
	for _, tt := range tests {
		f, out, errOut := testFactory()
		code := Run(context.Background(), f, tt.args)
		if code != tt.code || !strings.Contains(out.String(), tt.contains) {
			t.Errorf("odin %v = %d, stdout %.80q, stderr %q; want %d containing %q", tt.args, code, out, errOut, tt.code, tt.contains)
		}
		if code == exitcode.OK && !json.Valid(out.Bytes()) {
			t.Errorf("odin %v printed invalid JSON", tt.args)
		}
	}
	f, out, _ := testFactory()
	Run(context.Background(), f, []string{"deployer", "definition", "--account", "000000000000", "--region", "us-east-1"})
	if out.String() != string(deployer.Definition(deployer.FunctionArn("us-east-1", "000000000000"))) {
		t.Error("the printed definition is not the one the local backend creates")
	}
}
