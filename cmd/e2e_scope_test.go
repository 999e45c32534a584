package cmd

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/odin-deploy/odin/pkg/deploy"
	"github.com/odin-deploy/odin/pkg/release"
)

// TestScopeAcrossAccounts: one state machine runs deploys of web/production
// to two accounts. --project without --account cannot say which is meant,
// so halt and status refuse (exit 2) and name both accounts; --account
// picks one; history --all --account keeps one account.
func TestScopeAcrossAccounts(t *testing.T) {
	o := startLocalOdin(t)
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	api := o.sfnClient()
	sm, err := api.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String("waits"),
		Definition: aws.String(`{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":600,"End":true}}}`),
		RoleArn:    aws.String("arn:aws:iam::000000000000:role/odin"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for account, id := range map[string]string{"111111111111": "r-1111111111111111", "222222222222": "r-2222222222222222"} {
		in, _ := json.Marshal(deploy.Input{ReleaseID: id, ProjectName: "web", ConfigName: "production", AWSAccountID: account, AWSRegion: "us-east-1"})
		if _, err := api.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn,
			Name: aws.String(release.ExecutionName("web", "production", id, 1)), Input: aws.String(string(in))}); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) (int, string, string) {
		return o.run(ctx, append([]string{"--state-machine", "waits"}, args...)...)
	}
	const both = "deploys of web/production are running in accounts 111111111111, 222222222222: say which with --account"
	for _, args := range [][]string{
		{"halt", "--project", "web", "--config-name", "production", "--yes"},
		{"status", "--project", "web", "--config-name", "production", "--no-follow"},
		{"fail", "--project", "web", "--config-name", "production"},
	} {
		if code, out, errOut := run(args...); code != 2 || !strings.Contains(errOut, both) {
			t.Errorf("odin %s: exit %d, want 2 and %q\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, both, out, errOut)
		}
	}
	code, out, errOut := run("status", "--project", "web", "--config-name", "production", "--account", "111111111111", "--no-follow", "--output", "json")
	if code != 5 || !strings.Contains(out, `"execution":"deploy-web_production_r-1111111111111111"`) {
		t.Errorf("status --account 111111111111: exit %d, want 5 and its deploy\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	if code, _, errOut := run("history", "--all", "--project", "web"); code != 2 || !strings.Contains(errOut, "--all lists every project") {
		t.Errorf("history --all --project: exit %d, want 2\n%s", code, errOut)
	}
	code, out, errOut = run("history", "--all", "--account", "222222222222", "--output", "json")
	var recs []deploy.Record
	if err := json.Unmarshal([]byte(out), &recs); code != 0 || err != nil || len(recs) != 1 || recs[0].Account != "222222222222" {
		t.Errorf("history --all --account 222222222222: exit %d, %d records (%v)\nstdout:\n%s\nstderr:\n%s", code, len(recs), err, out, errOut)
	}
	if code, _, errOut := run("history", "--all", "--account", "333333333333"); code != 0 || !strings.Contains(errOut, "no deploys of any project in account 333333333333 found in state machine waits") {
		t.Errorf("history of an account with none: exit %d\n%s", code, errOut)
	}
}
