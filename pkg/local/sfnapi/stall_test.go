package sfnapi

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/local/store/faultfs"
)

const stallMachine = `{"StartAt":"Work","States":{
 "Work":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:work","Next":"After"},
 "After":{"Type":"Pass","End":true}}}`

// stallRig runs an execution whose task waits until the disk is full, so
// that the task's result cannot be recorded; it returns the rig, the disk
// and the execution.
func stallRig(t *testing.T, opts Options) (*rig, *faultfs.FS, string, func()) {
	fsys := &faultfs.FS{}
	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	fns := engine.NewFunctions()
	fns.Register("work", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		once.Do(func() { close(entered); <-release })
		return json.RawMessage(`"done"`), nil
	})
	opts.FS, opts.Functions, opts.Clock = fsys, fns, engine.SystemClock{}
	r := newRig(t, "", opts)
	smArn := r.createMachine(t, "stall", stallMachine)
	x, err := r.client.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: &smArn, Name: aws.String("x")})
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	fsys.SetFull(true)
	return r, fsys, *x.ExecutionArn, func() { close(release) }
}

// waitStalled waits until the engine has stopped the execution for its
// failed write.
func waitStalled(t *testing.T, r *rig, arn string) {
	for r.api.engine.Running(arn) {
		time.Sleep(5 * time.Millisecond)
	}
	d, err := r.client.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: &arn})
	if err != nil || d.Status != types.ExecutionStatusRunning {
		t.Fatalf("a stalled execution: %v %v", d, err)
	}
}

// TestStalledExecutionResumes: a task's result cannot be written (the disk
// is full); the execution stays RUNNING while the disk is full and goes on
// from its last recorded event once space returns.
func TestStalledExecutionResumes(t *testing.T) {
	r, fsys, arn, release := stallRig(t, Options{StallRetry: 10 * time.Millisecond})
	release()
	waitStalled(t, r, arn)
	time.Sleep(50 * time.Millisecond) // retries on a full disk change nothing
	waitStalled(t, r, arn)
	fsys.SetFull(false)
	d := r.waitDone(t, arn)
	if d.Status != types.ExecutionStatusSucceeded || aws.ToString(d.Output) != `"done"` {
		t.Fatalf("after space returned: %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
}

// TestStalledExecutionFails: an execution whose history cannot be written
// for StallLimit ends FAILED with States.Runtime, not RUNNING for good.
func TestStalledExecutionFails(t *testing.T) {
	r, fsys, arn, release := stallRig(t, Options{StallRetry: 10 * time.Millisecond, StallLimit: 100 * time.Millisecond})
	release()
	waitStalled(t, r, arn)
	time.Sleep(150 * time.Millisecond)
	fsys.SetFull(false) // the terminal event needs room too
	d := r.waitDone(t, arn)
	if d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != "States.Runtime" ||
		!strings.Contains(aws.ToString(d.Cause), "no space left on device") {
		t.Fatalf("a stalled execution past its limit: %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
}

// TestStopStalledExecution: StopExecution (odin halt --abort) ends a
// stalled execution at once.
func TestStopStalledExecution(t *testing.T) {
	r, fsys, arn, release := stallRig(t, Options{StallRetry: time.Hour})
	release()
	waitStalled(t, r, arn)
	fsys.SetFull(false)
	if _, err := r.client.StopExecution(context.Background(), &sfn.StopExecutionInput{ExecutionArn: &arn, Error: aws.String("odin.Aborted")}); err != nil {
		t.Fatal(err)
	}
	d := r.waitDone(t, arn)
	if d.Status != types.ExecutionStatusAborted || aws.ToString(d.Error) != "odin.Aborted" {
		t.Fatalf("stopped: %s %s", d.Status, aws.ToString(d.Error))
	}
}

// TestStopStalledExecutionOnFullDisk: a StopExecution whose abort cannot be
// written either (the disk stays full) is refused with InternalFailure
// saying so; the execution does not go on meanwhile, and its abort is
// recorded once there is space.
func TestStopStalledExecutionOnFullDisk(t *testing.T) {
	r, fsys, arn, release := stallRig(t, Options{StallRetry: 10 * time.Millisecond})
	release()
	waitStalled(t, r, arn)
	_, err := r.client.StopExecution(context.Background(), &sfn.StopExecutionInput{ExecutionArn: &arn, Error: aws.String("odin.Aborted")})
	if err == nil || !strings.Contains(err.Error(), "InternalFailure") || !strings.Contains(err.Error(), "could not record the stop") {
		t.Fatalf("StopExecution on a full disk: %v", err)
	}
	writes := fsys.Writes()
	for fsys.Writes() < writes+5 { // retried: the abort, never a resume
		if r.api.engine.Running(arn) {
			t.Fatal("the stopped execution was resumed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	fsys.SetFull(false)
	d := r.waitDone(t, arn)
	if d.Status != types.ExecutionStatusAborted || aws.ToString(d.Error) != "odin.Aborted" {
		t.Fatalf("once there is space: %s %s", d.Status, aws.ToString(d.Error))
	}
}
