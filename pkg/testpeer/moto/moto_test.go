package moto

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

const role = "arn:aws:iam::123456789012:role/odin-test"

// lambdaMachine is one legacy Lambda task in region, so its results come from that Region's
// queue.
func lambdaMachine(region string) string {
	return fmt.Sprintf(`{"StartAt":"Call","States":{"Call":{"Type":"Task","Resource":"arn:aws:lambda:%s:123456789012:function:f","End":true}}}`, region)
}

// run creates the machine, starts one execution and waits for it.
func run(t *testing.T, c *sfn.Client, name, definition string, executions int) []*sfn.DescribeExecutionOutput {
	t.Helper()
	ctx := context.Background()
	sm, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name: aws.String(name), Definition: aws.String(definition), RoleArn: aws.String(role),
	})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	var out []*sfn.DescribeExecutionOutput
	for i := range executions {
		x, err := c.StartExecution(ctx, &sfn.StartExecutionInput{
			StateMachineArn: sm.StateMachineArn, Name: aws.String(fmt.Sprintf("x%d", i)), Input: aws.String(`{"n":1}`),
		})
		if err != nil {
			t.Fatalf("start execution %d of %s: %v", i, name, err)
		}
		out = append(out, wait(t, c, aws.ToString(x.ExecutionArn)))
	}
	return out
}

func wait(t *testing.T, c *sfn.Client, arn string) *sfn.DescribeExecutionOutput {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; {
		d, err := c.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still running", arn)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The #10077 fix: without it, the second StartExecution on a machine that has run fails
// with HTTP 500 "cannot pickle '_thread.RLock' object". Each run also consumes one queued
// Lambda result, in order.
func TestExecutionsRunRepeatedlyWithQueuedResults(t *testing.T) {
	s := Shared(t)
	s.QueueLambdaResultsIn(t, "eu-west-1", `{"r":1}`, `{"r":2}`, `{"r":3}`)
	got := run(t, s.SFN(), "repeat", lambdaMachine("eu-west-1"), 3)
	for i, d := range got {
		want := fmt.Sprintf(`{"r": %d}`, i+1) // moto writes Python's JSON spacing
		if d.Status != sfntypes.ExecutionStatusSucceeded || aws.ToString(d.Output) != want {
			t.Errorf("execution %d: status %s output %s; want SUCCEEDED %s", i, d.Status, aws.ToString(d.Output), want)
		}
	}
	if log := s.LogTail(); strings.Contains(log, "cannot pickle") {
		t.Errorf("moto log shows getmoto/moto#10077 (the launcher's fix is not in effect):\n%s", log)
	}
}

// Queues are per Region, which is what lets concurrent tests control their own results.
func TestLambdaQueuesArePerRegion(t *testing.T) {
	s := Shared(t)
	s.QueueLambdaResultsIn(t, "us-west-2", `"west"`)
	s.QueueLambdaResultsIn(t, "ap-south-1", `"south"`)
	south := run(t, s.SFN(), "south", lambdaMachine("ap-south-1"), 1)[0]
	west := run(t, s.SFN(), "west", lambdaMachine("us-west-2"), 1)[0]
	// moto writes a string result unquoted (not JSON); AWS would write "south".
	if aws.ToString(south.Output) != `south` || aws.ToString(west.Output) != `west` {
		t.Errorf("outputs south=%s west=%s; want south and west", aws.ToString(south.Output), aws.ToString(west.Output))
	}
}

func TestClientsReachTheirServices(t *testing.T) {
	s := Shared(t)
	ctx := context.Background()
	if _, err := s.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("odin-moto-clients")}); err != nil {
		t.Fatalf("S3 CreateBucket: %v", err)
	}
	id, err := s.STS().GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("STS GetCallerIdentity: %v", err)
	}
	if aws.ToString(id.Account) != Account {
		t.Errorf("account %s, want %s", aws.ToString(id.Account), Account)
	}
}

// A server of its own, so Reset and Stop don't disturb the tests sharing one.
func TestResetAndStop(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	c := s.SFN()
	s.QueueLambdaResults(t, `"queued"`)
	run(t, c, "before-reset", `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`, 1)
	s.Reset(t)
	list, err := c.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.StateMachines) != 0 {
		t.Errorf("after reset: %d state machines, want 0", len(list.StateMachines))
	}
	// Execution mode survives the reset, and the reset dropped the queued result: the
	// stand-in Lambda then echoes its input.
	d := run(t, c, "after-reset", lambdaMachine(Region), 1)[0]
	if d.Status != sfntypes.ExecutionStatusSucceeded || aws.ToString(d.Output) != `{"n": 1}` {
		t.Errorf("after reset: status %s output %s; want SUCCEEDED with the input echoed", d.Status, aws.ToString(d.Output))
	}

	pid := s.cmd.Process.Pid
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("moto pid %d still exists after Stop (kill -0: %v)", pid, err)
	}
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Errorf("Stop left %s behind", s.dir)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// moto's own server: what CloudFormation creates is what the Step Functions API serves,
// and executions do not run.
func TestStartPlainServesCloudFormationsStateMachines(t *testing.T) {
	s := StartPlain(t)
	ctx := context.Background()
	const template = `{"Resources": {"Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
		"StateMachineName": "from-cfn", "RoleArn": "` + role + `",
		"DefinitionString": "{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"End\":true}}}"}}}}`
	if _, err := cloudformation.NewFromConfig(s.Config()).CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String("plain"), TemplateBody: aws.String(template)}); err != nil {
		t.Fatalf("create stack: %v", err)
	}
	c := s.SFN()
	arn := "arn:aws:states:" + Region + ":" + Account + ":stateMachine:from-cfn"
	if _, err := c.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)}); err != nil {
		t.Fatalf("the stack's state machine: %v", err)
	}
	start, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the launcher's moto ends a Pass machine well within this
	d, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: start.ExecutionArn})
	if err != nil || d.Status != sfntypes.ExecutionStatusRunning {
		t.Errorf("execution on plain moto: %v %v; want RUNNING for ever", d, err)
	}
}

// With the shims gone from PATH (env -i, some CI runners), the probe still finds the pyenv
// Python by its versions directory; with neither, it says what it tried.
func TestProbePythonFallsBackToPyenvVersions(t *testing.T) {
	python, err := findPython()
	if err != nil {
		if Required() {
			t.Fatalf("moto is required (%s=1) but not usable: %v", RequireEnv, err)
		}
		t.Skip("moto not installed here:", err)
	}
	// The PATH python3 is usually a pyenv shim (a bash script); link the interpreter itself.
	out, err := exec.Command(python, "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Fatal(err)
	}
	real := strings.TrimSpace(string(out))
	root := t.TempDir()
	bin := filepath.Join(root, "versions", "3.11.7", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(bin, "python3")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())
	if got, err := probePython([]string{root}); err != nil || got != filepath.Join(bin, "python3") {
		t.Errorf("probePython = %q, %v; want %s", got, err, filepath.Join(bin, "python3"))
	}
	if got, err := probePython([]string{t.TempDir()}); err == nil {
		t.Errorf("probePython with nothing installed = %q, want an error", got)
	}
}
