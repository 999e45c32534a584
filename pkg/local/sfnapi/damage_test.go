package sfnapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/local/engine"
)

// TestDamagedJournalAtEveryRecord writes a real journal (a state machine
// waiting mid-execution, two finished executions of another), damages the
// length of each record in turn, and starts the API on it: it always
// starts, an execution missing afterwards is in the recovery report, and
// none stays RUNNING: each resumes and ends (or fails with States.Runtime
// when what it needs was lost).
func TestDamagedJournalAtEveryRecord(t *testing.T) {
	fns := engine.NewFunctions()
	fns.Register("work", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage(`"done"`), nil
	})
	ctx := context.Background()
	dir := t.TempDir()
	clock := engine.NewFakeClock(epoch0)
	r := newRig(t, dir, Options{Clock: clock, Functions: fns})
	waiting := r.createMachine(t, "restart", restartMachine)
	pass := r.createMachine(t, "pass", passMachine)
	var arns []string
	x, err := r.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &waiting, Name: aws.String("w")})
	if err != nil {
		t.Fatal(err)
	}
	arns = append(arns, *x.ExecutionArn)
	waitForTimer(t, clock)
	for i := range 2 {
		x, err := r.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &pass, Name: aws.String(fmt.Sprint("p", i))})
		if err != nil {
			t.Fatal(err)
		}
		r.waitDone(t, *x.ExecutionArn)
		arns = append(arns, *x.ExecutionArn)
	}
	r.close()
	good, err := os.ReadFile(filepath.Join(dir, "sfn", "journal"))
	if err != nil {
		t.Fatal(err)
	}
	var offsets []int
	for off := 8; off+14 <= len(good); off += 14 + int(binary.LittleEndian.Uint32(good[off+2:off+6])) {
		offsets = append(offsets, off)
	}
	for i, off := range offsets[1:] {
		t.Run(fmt.Sprintf("record %d at %d", i+1, off), func(t *testing.T) {
			dir := t.TempDir()
			b := bytes.Clone(good)
			b[off+3] ^= 0x20 // a length byte
			if err := os.MkdirAll(filepath.Join(dir, "sfn"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "sfn", "journal"), b, 0o600); err != nil {
				t.Fatal(err)
			}
			clock := engine.NewFakeClock(epoch0.Add(10 * time.Minute))
			r := newRig(t, dir, Options{Clock: clock, Functions: fns})
			rec := r.api.Recovery()
			if !rec.Lost() {
				t.Fatalf("damage not reported: %+v", rec)
			}
			deadline := time.Now().Add(20 * time.Second)
			for _, arn := range arns {
				for {
					d, err := r.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
					if err != nil {
						if len(rec.LostExecutions) == 0 {
							t.Fatalf("%s lost without a report: %v", arn, err)
						}
						break
					}
					if d.Status != types.ExecutionStatusRunning {
						if d.Status == types.ExecutionStatusFailed && aws.ToString(d.Error) != "States.Runtime" {
							t.Fatalf("%s failed with %s", arn, aws.ToString(d.Error))
						}
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("%s still RUNNING after its wait\n%s", arn, rec.Summary())
					}
					clock.Advance(time.Hour) // the Wait state's hour
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
}
