package deployer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/deploy"
	. "github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/deployer/localbackend"
	"github.com/odin-deploy/odin/pkg/local/server"
	"github.com/odin-deploy/odin/pkg/release"
)

// lockedBuffer is a log the backend writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLockHolderOnLocalBackend runs deploys on the local backend, whose
// deployer asks its Step Functions API about the execution holding a lock:
// one that was aborted (its lock left behind), failed or never existed is
// taken over at once; one still running never is, even past the lock's
// expiry.
func TestLockHolderOnLocalBackend(t *testing.T) {
	ctx := context.Background()
	var logs lockedBuffer
	b, err := localbackend.Start(ctx, server.Options{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ep := b.Endpoint()
	sfnc, s3c := ep.SFNClient(), ep.S3Client()
	client := &deploy.Client{Storage: s3c, Executions: sfnc, Bucket: Bucket,
		StateMachineArn: "arn:aws:states:" + ep.Region + ":" + ep.Account + ":stateMachine:" + StateMachineName,
		Account:         ep.Account, Region: ep.Region, Now: time.Now}
	releaseDir := t.TempDir()
	plan := func(t *testing.T, spec ReleaseSpec) *deploy.Plan {
		t.Helper()
		f, err := release.Parse(filepath.Join(releaseDir, "release.yml"), ReleaseYAML(t, spec))
		if err != nil {
			t.Fatal(err)
		}
		p, err := client.Plan(f, "arn:aws:iam::000000000000:user/tester", releaseDir)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	start := func(t *testing.T, spec ReleaseSpec) string {
		t.Helper()
		started, err := client.Start(ctx, plan(t, spec))
		if err != nil {
			t.Fatal(err)
		}
		return started.ExecutionArn
	}
	// startRacing starts a deploy as a second odin racing the first does:
	// its check for a running deploy came before the first started.
	startRacing := func(t *testing.T, spec ReleaseSpec) string {
		t.Helper()
		p := plan(t, spec)
		sum := sha256.Sum256(p.File.Bytes)
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(Bucket), Key: aws.String(p.Key),
			Body: bytes.NewReader(p.File.Bytes), ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum[:]))}); err != nil {
			t.Fatal(err)
		}
		input, _ := json.Marshal(p.Input)
		out, err := sfnc.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(client.StateMachineArn),
			Name: aws.String(p.ExecutionName), Input: aws.String(string(input))})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ExecutionArn)
	}
	lockKey := func(config string) string { return contract.LockKey(ep.Account, "hello", config) }
	readLock := func(t *testing.T, config string) *deploy.Lock {
		t.Helper()
		l, err := client.ReadLock(ctx, ep.Account, "hello", config)
		if err != nil {
			t.Fatalf("read lock of %s: %v", config, err)
		}
		return l
	}
	putLock := func(t *testing.T, config string, l contract.Lock) {
		t.Helper()
		body, _ := json.Marshal(l)
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(Bucket), Key: aws.String(lockKey(config)),
			Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	// holding starts a deploy that never becomes healthy and waits until it
	// holds the lock.
	holding := func(t *testing.T, config string) string {
		t.Helper()
		arn := start(t, ReleaseSpec{Config: config, Mode: "unhealthy", Timeout: 600})
		deadline := time.Now().Add(time.Minute)
		for {
			if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(Bucket), Key: aws.String(lockKey(config))}); err == nil {
				return arn
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never took its lock", arn)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	stop := func(t *testing.T, arn string) {
		t.Helper()
		if _, err := sfnc.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(arn)}); err != nil {
			t.Fatal(err)
		}
	}
	tookOver := func(t *testing.T, config, holder, status string) {
		t.Helper()
		arn := start(t, ReleaseSpec{Config: config})
		d, path := waitDone(t, sfnc, arn)
		if d.Status != sfntypes.ExecutionStatusSucceeded {
			t.Fatalf("deploy after a lock held by %s (%s): %s %s %s; path %v", holder, status, d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), path)
		}
		if want := "holder_execution=" + holder + " holder_status=" + status; !strings.Contains(logs.String(), want) {
			t.Errorf("the takeover is not logged with %q:\n%s", want, logs.String())
		}
	}
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)

	t.Run("aborted", func(t *testing.T) {
		// `odin halt --abort`: StopExecution runs no cleanup, so the lock
		// stays, unexpired, naming an execution that has ended.
		a := holding(t, "aborted")
		stop(t, a)
		if l := readLock(t, "aborted"); l.Execution != a {
			t.Fatalf("lock held by %s, want the aborted %s", l.Execution, a)
		}
		tookOver(t, "aborted", a, "ABORTED")
	})

	t.Run("failed", func(t *testing.T) {
		a := start(t, ReleaseSpec{Config: "failed", Mode: "crash"})
		if d, _ := waitDone(t, sfnc, a); d.Status != sfntypes.ExecutionStatusFailed {
			t.Fatalf("crash deploy: %s", d.Status)
		}
		// As if its ReleaseLockFailure had never run.
		putLock(t, "failed", contract.Lock{ReleaseID: "r-crashed", Owner: "bob", Execution: a,
			AcquiredAt: time.Now().UTC().Format(time.RFC3339), ExpiresAt: later})
		tookOver(t, "failed", a, "FAILED")
	})

	t.Run("never existed", func(t *testing.T) {
		gone := "arn:aws:states:" + ep.Region + ":" + ep.Account + ":execution:" + StateMachineName + ":deploy-gone"
		putLock(t, "gone", contract.Lock{ReleaseID: "r-gone", Owner: "bob", Execution: gone,
			AcquiredAt: time.Now().UTC().Format(time.RFC3339), ExpiresAt: later})
		tookOver(t, "gone", gone, "ExecutionDoesNotExist")
	})

	t.Run("running past expiry", func(t *testing.T) {
		a := holding(t, "running")
		defer stop(t, a)
		l := readLock(t, "running")
		// Its expiry has passed (a clock jump, a lock from an older
		// deployer): it still runs, so it keeps the lock.
		l.AcquiredAt = time.Now().Add(-2 * time.Hour).UTC().Format(time.RFC3339)
		l.ExpiresAt = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		putLock(t, "running", l.Lock)

		arn := startRacing(t, ReleaseSpec{Config: "running"})
		d, path := waitDone(t, sfnc, arn)
		if d.Status != sfntypes.ExecutionStatusFailed || aws.ToString(d.Error) != "LockExistsError" {
			t.Fatalf("deploy while another runs: %s %s %s; path %v", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), path)
		}
		name := a[strings.LastIndex(a, ":")+1:]
		for _, want := range []string{"execution " + a, "still running (RUNNING)", "odin halt " + name} {
			if !strings.Contains(aws.ToString(d.Cause), want) {
				t.Errorf("cause %q lacks %q", aws.ToString(d.Cause), want)
			}
		}
		if l := readLock(t, "running"); l.Execution != a {
			t.Errorf("the running deploy lost its lock to %s", l.Execution)
		}
	})
}
