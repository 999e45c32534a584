package deployer_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/deploy"
	. "github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/deployer/localbackend"
	"github.com/odin-deploy/odin/pkg/local/access"
	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/local/server"
	"github.com/odin-deploy/odin/pkg/local/store"
	"github.com/odin-deploy/odin/pkg/release"
)

// TestDeployDamagedJournalAtEveryRecord damages the Step Functions journal
// of a real deploy on the local backend, stopped cleanly in two places:
// inside its first CheckHealthy (after Deploy launched its instances and
// WaitForHealthy passed, the lock held), and after it finished. For every
// record of each journal it damages a length byte, and separately a payload
// byte, and starts the backend on a copy of the data directory. Each case
// ends with the server started and the damage reported; the deploy's
// execution SUCCEEDED, or failed by the backend with States.Runtime saying
// why, or gone with its loss in the report; nothing RUNNING; and no lock
// left, the report saying so when the backend released it.
//
// Damage at a record drops every later event of a running execution (it
// resumes from its last whole event before the damage), so the journal
// stopped in CheckHealthy also covers a stop at each earlier point: in
// Deploy, in the waits.
func TestDeployDamagedJournalAtEveryRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("a backend start per damaged record")
	}
	// Four deploys stopped alike, each with its own listen port, so that
	// four resumed deploys (which mostly wait on health checks) run at once.
	mid := make([]*stoppedDeploy, 4)
	var done *stoppedDeploy
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()} // outlive "deploy": resumed deploys run there
	t.Run("deploy", func(t *testing.T) {
		for i := range mid {
			t.Run(fmt.Sprint("in CheckHealthy ", i), func(t *testing.T) {
				t.Parallel()
				mid[i] = deployAndStop(t, dirs[i], "CheckHealthy")
			})
		}
		t.Run("finished", func(t *testing.T) {
			t.Parallel()
			done = deployAndStop(t, dirs[len(mid)], "")
		})
	})
	if t.Failed() {
		return
	}
	for _, m := range mid[1:] {
		if !slices.Equal(m.shape, mid[0].shape) {
			t.Fatalf("deploys stopped alike left different journals:\n%v\n%v", mid[0].shape, m.shape)
		}
	}
	t.Logf("stopped in CheckHealthy: %d records; finished: %d records", len(mid[0].offsets), len(done.offsets))

	lanes := make(chan *stoppedDeploy, len(mid))
	for _, m := range mid {
		lanes <- m
	}
	for i := range mid[0].offsets {
		t.Run(fmt.Sprintf("in CheckHealthy/record %d %s", i, mid[0].shape[i]), func(t *testing.T) {
			t.Parallel()
			var wg sync.WaitGroup
			for _, what := range damages {
				dir := t.TempDir()
				wg.Go(func() {
					lane := <-lanes
					defer func() { lanes <- lane }()
					outcome, err := lane.restartDamaged(dir, i, what)
					if err != nil {
						t.Errorf("%s damaged: %v", what, err)
					} else {
						t.Logf("%s damaged: %s", what, outcome)
					}
				})
			}
			wg.Wait()
		})
	}
	for i := range done.offsets {
		for _, what := range damages {
			t.Run(fmt.Sprintf("finished/record %d %s/%s", i, done.shape[i], what), func(t *testing.T) {
				t.Parallel()
				outcome, err := done.restartDamaged(t.TempDir(), i, what)
				if err != nil {
					t.Fatal(err)
				}
				t.Log(outcome)
			})
		}
	}
}

// What is damaged in a record: the second byte of its length, or a byte in
// the middle of its body.
var damages = []string{"length", "payload"}

// stoppedDeploy is the data directory of a backend stopped cleanly during
// or after a deploy.
type stoppedDeploy struct {
	dir       string
	execution string
	locked    bool      // the deploy held its lock
	stopped   time.Time // when the backend stopped
	journal   []byte
	offsets   []int    // of the journal's records
	shape     []string // each record's kind, or its event's type
}

// fastClock is the engine's clock for a backend started on a copy of a
// stopped one's data: it tells the time as if the copy started as soon as
// the backend stopped (so a case that waits its turn does not outlive the
// deploy's timeout), and waits a twentieth as long, so Wait states pass
// quickly.
type fastClock struct{ late time.Duration }

func (c fastClock) Now() time.Time                       { return time.Now().Add(-c.late) }
func (fastClock) After(d time.Duration) <-chan time.Time { return time.After(d / 20) }

// deployAndStop deploys a release in base/release on a backend in
// base/data and stops it cleanly once the deployer is inside task (its work
// done, its result not yet recorded), or once the deploy finished when
// task is "".
func deployAndStop(t *testing.T, base, task string) *stoppedDeploy {
	t.Helper()
	dir, releaseDir := filepath.Join(base, "data"), filepath.Join(base, "release")
	if err := os.Mkdir(releaseDir, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	held := make(chan struct{}, 1)
	so, p, err := localbackend.WithDeployer(ctx, server.Options{DataDir: dir}, localbackend.AWS{})
	if err != nil {
		t.Fatal(err)
	}
	if task != "" {
		so.Functions = holdTask(so.Functions, task, held)
	}
	s, err := server.New(ctx, so)
	if err != nil {
		p.Close()
		t.Fatal(err)
	}
	b := &localbackend.Backend{Server: s, Provider: p}
	defer b.Close()
	ep := b.Endpoint()
	client := damageClient(ep)
	f, err := release.Parse(filepath.Join(releaseDir, "release.yml"), ReleaseYAML(t, ReleaseSpec{Config: "damage", Instances: 1}))
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
	sd := &stoppedDeploy{dir: dir, execution: started.ExecutionArn, locked: task != ""}
	if task == "" {
		d, path := waitDone(t, ep.SFNClient(), started.ExecutionArn)
		if d.Status != sfntypes.ExecutionStatusSucceeded {
			t.Fatalf("deploy: %s %s %s; path %v", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), path)
		}
	} else {
		select {
		case <-held:
		case <-ctx.Done():
			t.Fatalf("the deploy never reached %s", task)
		}
		if _, err := client.ReadLock(ctx, ep.Account, "hello", "damage"); err != nil {
			t.Fatalf("the lock inside %s: %v", task, err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	sd.stopped = time.Now()
	if sd.journal, err = os.ReadFile(filepath.Join(dir, "sfn", "journal")); err != nil {
		t.Fatal(err)
	}
	if sd.offsets, sd.shape, err = records(sd.journal); err != nil {
		t.Fatal(err)
	}
	return sd
}

// holdTask makes the deployer's task hold do its work, then send on held
// and wait for the backend to stop.
func holdTask(functions func(access.Endpoint) (*engine.Functions, error), hold string, held chan<- struct{}) func(access.Endpoint) (*engine.Functions, error) {
	return func(ep access.Endpoint) (*engine.Functions, error) {
		fns, err := functions(ep)
		if err != nil {
			return nil, err
		}
		real, _ := fns.Lookup(FunctionName)
		fns.Register(FunctionName, func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
			out, err := real(ctx, payload)
			var call struct{ Task string }
			_ = json.Unmarshal(payload, &call)
			if call.Task != hold {
				return out, err
			}
			select {
			case held <- struct{}{}:
			default:
			}
			<-ctx.Done() // the backend stops with the task in flight
			return nil, ctx.Err()
		})
		return fns, nil
	}
}

// records walks the journal's records: an 8-byte file magic, then records
// of a 14-byte header (the body's length at +2) and a body (a kind byte,
// then the payload; an event's is a uvarint execution seq and its JSON).
func records(j []byte) (offsets []int, shape []string, err error) {
	off := 8
	for off+14 <= len(j) {
		n := int(binary.LittleEndian.Uint32(j[off+2 : off+6]))
		body := j[off+14 : off+14+n]
		what := fmt.Sprint("kind ", body[0])
		if body[0] == 5 {
			_, k := binary.Uvarint(body[1:])
			var ev struct{ Type string }
			if err := json.Unmarshal(body[1+k:], &ev); err != nil {
				return nil, nil, fmt.Errorf("event record at %d: %w", off, err)
			}
			what = ev.Type
		}
		offsets, shape = append(offsets, off), append(shape, what)
		off += 14 + n
	}
	if off != len(j) {
		return nil, nil, fmt.Errorf("the journal does not end on a record: %d of %d bytes", off, len(j))
	}
	return offsets, shape, nil
}

func damageClient(ep access.Endpoint) *deploy.Client {
	return &deploy.Client{Storage: ep.S3Client(), Executions: ep.SFNClient(), Bucket: Bucket,
		StateMachineArn: "arn:aws:states:" + ep.Region + ":" + ep.Account + ":stateMachine:" + StateMachineName,
		Account:         ep.Account, Region: ep.Region, Now: time.Now}
}

// restartDamaged starts the backend on a copy (in cp) of the stopped one's
// data with record i of its journal damaged, and checks what the issue's
// fault suite asks of every case. It says what became of the deploy.
func (sd *stoppedDeploy) restartDamaged(cp string, i int, what string) (outcome string, _ error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	j := bytes.Clone(sd.journal)
	off := sd.offsets[i]
	if what == "length" {
		j[off+3] ^= 0x20
	} else {
		j[off+14+int(binary.LittleEndian.Uint32(j[off+2:off+6]))/2] ^= 0x20
	}
	if err := os.CopyFS(cp, os.DirFS(sd.dir)); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(cp, "sfn", "journal"), j, 0o600); err != nil {
		return "", err
	}
	b, err := localbackend.Start(ctx, server.Options{DataDir: cp, Clock: fastClock{time.Since(sd.stopped)}})
	if err != nil {
		return "", fmt.Errorf("the backend does not start on the damaged journal: %w", err)
	}
	defer b.Close()
	rec, err := store.ReadRecovery(filepath.Join(cp, "sfn"))
	if err != nil || !rec.Lost() {
		return "", fmt.Errorf("the damage is not reported: %+v %v", rec, err)
	}
	ep := b.Endpoint()
	sfnc := ep.SFNClient()
	released := false // the backend released the lock, not the deploy
	d, err := waitEnded(ctx, sfnc, sd.execution)
	var gone *sfntypes.ExecutionDoesNotExist
	switch {
	case errors.As(err, &gone):
		if len(rec.LostExecutions) == 0 {
			return "", fmt.Errorf("the deploy's execution is gone without a report:\n%s", rec.Summary())
		}
		released, outcome = sd.locked, "the execution is gone, reported lost"
	case err != nil:
		return "", err
	case d.Status == sfntypes.ExecutionStatusSucceeded:
		outcome = "the deploy succeeded"
	case d.Status == sfntypes.ExecutionStatusFailed && aws.ToString(d.Error) == "States.Runtime" &&
		strings.Contains(aws.ToString(d.Cause), "local backend"):
		// What it needed was lost, and its cause says so.
		released, outcome = sd.locked, "the backend failed it: "+aws.ToString(d.Cause)
	default:
		return "", fmt.Errorf("deploy: %s %s %s\n%s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), rec.Summary())
	}
	if l, err := damageClient(ep).ReadLock(ctx, ep.Account, "hello", "damage"); !errors.Is(err, deploy.ErrNoLock) {
		return "", fmt.Errorf("a lock left: %+v %v\n%s", l, err, rec.Summary())
	}
	if released {
		if rec, err = store.ReadRecovery(filepath.Join(cp, "sfn")); err != nil || !strings.Contains(rec.Summary(), "released the deploy lock") {
			return "", fmt.Errorf("the backend released the lock without a word in the report: %v\n%s", err, rec.Summary())
		}
	}
	if err := b.Close(); err != nil {
		return "", err
	}
	// Nothing RUNNING, including an execution whose state machine was lost
	// (it is in no listing).
	s, err := store.Open(filepath.Join(cp, "sfn"), store.Options{})
	if err != nil {
		return "", fmt.Errorf("reopen the store: %w", err)
	}
	defer s.Close()
	if r := s.Running(); len(r) > 0 {
		return "", fmt.Errorf("%d executions left RUNNING: %s", len(r), r[0].Arn)
	}
	if released {
		outcome += "; the backend released its lock"
	}
	return outcome, nil
}

// waitEnded polls an execution until it is no longer RUNNING; ctx only
// keeps a broken backend from hanging the test.
func waitEnded(ctx context.Context, c *sfn.Client, arn string) (*sfn.DescribeExecutionOutput, error) {
	for {
		d, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil || d.Status != sfntypes.ExecutionStatusRunning {
			return d, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s still RUNNING: %w", arn, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
