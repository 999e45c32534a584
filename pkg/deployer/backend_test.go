package deployer_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/deploy"
	. "github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/deployer/localbackend"
	"github.com/odin-deploy/odin/pkg/local/server"
	"github.com/odin-deploy/odin/pkg/release"
)

// TestLocalBackend starts the local backend with the deployer the way `odin
// local serve` does (localbackend: Functions, Bootstrap) and deploys through
// the real client (pkg/deploy) and the Step Functions and S3 APIs over HTTP.
func TestLocalBackend(t *testing.T) {
	ctx := context.Background()
	b, err := localbackend.Start(ctx, server.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ep := b.Endpoint()
	arn := "arn:aws:states:" + ep.Region + ":" + ep.Account + ":stateMachine:" + StateMachineName
	sfnc := ep.SFNClient()

	// Bootstrap again (a restart) keeps the machine; an outdated definition
	// is replaced.
	if again, err := Bootstrap(ctx, ep); err != nil || again != arn {
		t.Fatalf("second bootstrap: %q %v (first %q)", again, err, arn)
	}
	old := strings.Replace(string(Definition(FunctionArn(ep.Region, ep.Account))), "odin's reference deployer", "an older deployer", 1)
	if _, err := sfnc.UpdateStateMachine(ctx, &sfn.UpdateStateMachineInput{StateMachineArn: aws.String(arn), Definition: aws.String(old)}); err != nil {
		t.Fatal(err)
	}
	if _, err := Bootstrap(ctx, ep); err != nil {
		t.Fatal(err)
	}
	d, err := sfnc.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
	if err != nil || aws.ToString(d.Definition) != string(Definition(FunctionArn(ep.Region, ep.Account))) {
		t.Fatalf("bootstrap did not update the definition: %v", err)
	}

	client := &deploy.Client{Storage: ep.S3Client(), Executions: sfnc, Bucket: Bucket, StateMachineArn: arn,
		Account: ep.Account, Region: ep.Region, Now: time.Now}
	releaseDir := t.TempDir()
	run := func(spec ReleaseSpec) (*sfn.DescribeExecutionOutput, []string) {
		t.Helper()
		f, err := release.Parse(filepath.Join(releaseDir, "release.yml"), ReleaseYAML(t, spec))
		if err != nil {
			t.Fatal(err)
		}
		plan, err := client.Plan(f, "arn:aws:iam::000000000000:user/tester", releaseDir)
		if err != nil {
			t.Fatal(err)
		}
		started, err := client.Start(ctx, plan)
		if err != nil {
			t.Fatal(err)
		}
		return waitDone(t, sfnc, started.ExecutionArn)
	}

	d1, path := run(ReleaseSpec{Config: "backend", Instances: 2})
	if d1.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("deploy: %s %s %s; path %v", d1.Status, aws.ToString(d1.Error), aws.ToString(d1.Cause), path)
	}
	if !slices.Equal(healthTurns(path), healthTurns(cat(happyPath, []string{"CleanUpSuccess", "ReleaseLock", "Success"}))) {
		t.Errorf("path %v", path)
	}
	d2, path := run(ReleaseSpec{Config: "backend", Mode: "crash"})
	if d2.Status != sfntypes.ExecutionStatusFailed || aws.ToString(d2.Error) != "DeployError" ||
		!strings.Contains(aws.ToString(d2.Cause), "exit status 3") {
		t.Fatalf("crash deploy: %s %s %s; path %v", d2.Status, aws.ToString(d2.Error), aws.ToString(d2.Cause), path)
	}
	if _, err := client.ReadLock(ctx, ep.Account, "hello", "backend"); err != deploy.ErrNoLock {
		t.Errorf("lock after the failed deploy: %v", err)
	}
}

func waitDone(t *testing.T, c *sfn.Client, arn string) (*sfn.DescribeExecutionOutput, []string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		d, err := c.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			var path []string
			in := &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000}
			for {
				h, err := c.GetExecutionHistory(context.Background(), in)
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range h.Events {
					if ev.StateEnteredEventDetails != nil {
						path = append(path, aws.ToString(ev.StateEnteredEventDetails.Name))
					}
				}
				if h.NextToken == nil {
					return d, path
				}
				in.NextToken = h.NextToken
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s still running", arn)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
