package deployer

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
	"github.com/odin-deploy/odin/pkg/contract"
)

// fakeExecutions answers DescribeExecution with one status or one error.
// TestLockHolderOnLocalBackend asks the real API; this covers the answers
// the local backend does not give (AccessDenied, PENDING_REDRIVE).
type fakeExecutions struct {
	status  sfntypes.ExecutionStatus
	stopped time.Time
	err     error
	asked   []string
}

func (f *fakeExecutions) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	f.asked = append(f.asked, aws.ToString(in.ExecutionArn))
	if f.err != nil {
		return nil, f.err
	}
	out := &sfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, Status: f.status}
	if !f.stopped.IsZero() {
		out.StopDate = aws.Time(f.stopped)
	}
	return out, nil
}

// contend has release A take the lock, runs advance (to move the clock,
// change what Step Functions says of A), then has release B try to lock.
// It returns the lock as it is then, and B's Lock error.
func contend(t *testing.T, f *fixture, advance func(stA *State)) (*contract.Lock, error) {
	t.Helper()
	inA := upload(t, f.s3, f.bucket, releaseYAML(t, releaseSpec{Version: "a"}), "")
	inB := upload(t, f.s3, f.bucket, releaseYAML(t, releaseSpec{Version: "b"}), "")
	stA, err := invoke(t, f.h, "Validate", inA, execA, f.now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := invoke(t, f.h, "Lock", stA, execA, f.now); err != nil {
		t.Fatal(err)
	}
	advance(stA)
	inB.CreatedAt = f.now.UTC().Format(time.RFC3339)
	stB, err := invoke(t, f.h, "Validate", inB, "exec-b", f.now)
	if err != nil {
		t.Fatal(err)
	}
	_, lockErr := invoke(t, f.h, "Lock", stB, "exec-b", f.now)
	held, _, err := f.h.readLock(context.Background(), stB)
	if err != nil || held == nil {
		t.Fatalf("read lock: %v %v", held, err)
	}
	return held, lockErr
}

// TestLockHolder: release A holds the lock; release B's Lock takes it over
// only when A's execution has ended, or, when Step Functions cannot say,
// once A's lock has expired.
func TestLockHolder(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform: states:DescribeExecution"}
	gone := &sfntypes.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist: '" + execA + "'")}
	tests := []struct {
		name      string
		execs     *fakeExecutions // nil: no Executions
		expired   bool            // B locks after A's lock expired
		wantTaken bool
		want      []string // in the LockExistsError
	}{
		{"aborted", &fakeExecutions{status: sfntypes.ExecutionStatusAborted}, false, true, nil},
		{"failed", &fakeExecutions{status: sfntypes.ExecutionStatusFailed}, false, true, nil},
		{"timed out", &fakeExecutions{status: sfntypes.ExecutionStatusTimedOut}, false, true, nil},
		{"succeeded", &fakeExecutions{status: sfntypes.ExecutionStatusSucceeded}, false, true, nil},
		{"does not exist", &fakeExecutions{err: gone}, false, true, nil},
		{"running", &fakeExecutions{status: sfntypes.ExecutionStatusRunning}, false, false,
			[]string{"execution " + execA, "still running (RUNNING)", "odin halt deploy-a"}},
		{"running past expiry", &fakeExecutions{status: sfntypes.ExecutionStatusRunning}, true, false,
			[]string{"still running (RUNNING)"}},
		{"redrive pending past expiry", &fakeExecutions{status: sfntypes.ExecutionStatusPendingRedrive}, true, false,
			[]string{"still running (PENDING_REDRIVE)"}},
		{"access denied", &fakeExecutions{err: denied}, false, false,
			[]string{"locked by release", "until ", "odin unlock --project hello --config-name test"}},
		{"access denied past expiry", &fakeExecutions{err: denied}, true, true, nil},
		{"no executions", nil, false, false, []string{"until ", "odin unlock --project hello --config-name test"}},
		{"no executions past expiry", nil, true, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.execs != nil {
				f.h.Executions = tt.execs
			}
			held, err := contend(t, f, func(stA *State) {
				if tt.expired {
					f.now = f.now.Add(lockLifetime(stA) + time.Minute)
				} else {
					f.now = f.now.Add(90 * time.Second)
				}
			})
			if tt.wantTaken {
				if err != nil || held.Execution != "exec-b" {
					t.Fatalf("B did not take over A's lock: %v; lock held by %s", err, held.Execution)
				}
			} else {
				if errorType(err) != "LockExistsError" || held.Execution != execA {
					t.Fatalf("got %v; lock held by %s, want LockExistsError and A's lock kept", err, held.Execution)
				}
				for _, want := range tt.want {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("%q lacks %q", err, want)
					}
				}
			}
			if tt.execs != nil && (len(tt.execs.asked) == 0 || tt.execs.asked[0] != execA) {
				t.Errorf("described %v, want A's execution", tt.execs.asked)
			}
		})
	}
}

// TestLockHolderStoppedTaskGrace: on AWS a Lambda task goes on after its
// execution is aborted, so the aborted (or timed-out) holder's lock is kept
// until its longest task could have ended; a failed holder's tasks ended
// with it.
func TestLockHolderStoppedTaskGrace(t *testing.T) {
	const grace = 10 * time.Minute
	tests := []struct {
		name       string
		status     sfntypes.ExecutionStatus
		stoppedAgo time.Duration
		wantTaken  bool
	}{
		{"aborted a minute ago", sfntypes.ExecutionStatusAborted, time.Minute, false},
		{"timed out a minute ago", sfntypes.ExecutionStatusTimedOut, time.Minute, false},
		{"aborted long ago", sfntypes.ExecutionStatusAborted, grace + time.Second, true},
		{"failed a minute ago", sfntypes.ExecutionStatusFailed, time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.h.StoppedTaskGrace = grace
			held, err := contend(t, f, func(*State) {
				f.now = f.now.Add(grace + time.Hour)
				f.h.Executions = &fakeExecutions{status: tt.status, stopped: f.now.Add(-tt.stoppedAgo)}
			})
			if tt.wantTaken {
				if err != nil || held.Execution != "exec-b" {
					t.Fatalf("B did not take over: %v; lock held by %s", err, held.Execution)
				}
				return
			}
			if errorType(err) != "LockExistsError" || held.Execution != execA {
				t.Fatalf("got %v; lock held by %s, want LockExistsError and A's lock kept", err, held.Execution)
			}
			until := f.now.Add(-tt.stoppedAgo).Add(grace).UTC().Format(time.RFC3339)
			for _, want := range []string{"was " + string(tt.status), "may still be running until " + until, "odin unlock --project hello --config-name test --account 123456789012`"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q lacks %q", err, want)
				}
			}
		})
	}
}

// TestTaskWorstCases reads the definition's limits: every Task state, each
// attempt cut off at TimeoutSeconds, retries with their backoff.
func TestTaskWorstCases(t *testing.T) {
	worst := definitionLimits().worst
	if got := MaxTaskAttempt(); got != 600*time.Second {
		t.Errorf("MaxTaskAttempt = %s, want the definition's 600 s task timeout", got)
	}
	for name, want := range map[string]time.Duration{
		"Validate":       4*600*time.Second + (1+2+4)*time.Second, // MaxAttempts 3
		"CleanUpSuccess": 3*600*time.Second + (1+2)*time.Second,   // MaxAttempts 2
		"Deploy":         4*600*time.Second + (1+2+4)*time.Second, // the HaltError retrier adds nothing
		"CheckHealthy":   4*600*time.Second + (1+2+4)*time.Second,
	} {
		if worst[name] != want {
			t.Errorf("%s: %s, want %s", name, worst[name], want)
		}
	}
	if len(worst) != 10 {
		t.Errorf("%d Task states, want 10: %v", len(worst), worst)
	}
	// The lock outlives the release's timeout and waits by every task's
	// worst case, CheckHealthy's twice: eight tasks retried 3 times (one
	// of them CheckHealthy), two retried twice.
	st := &State{Timeout: 600, WaitForDeploy: 30, WaitForHealthy: 15}
	want := (600+30+15)*time.Second + 9*worst["Validate"] + 2*worst["CleanUpSuccess"]
	if got := lockLifetime(st); got != want {
		t.Errorf("lock lifetime %s, want %s", got, want)
	}
}
