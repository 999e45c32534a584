package deployer

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/odin-deploy/odin/pkg/awserr"
)

// Storage is the part of S3 the deployer uses.
type Storage interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// Executions is the part of Step Functions the lock uses to learn whether the
// execution holding it still runs.
type Executions interface {
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

// Handler runs the deployer's tasks. One value serves every invocation: in a
// Lambda, or registered in-process with the local backend.
type Handler struct {
	Storage Storage
	// Executions, when set, tells Lock whether the execution holding a
	// lock still runs: a lock whose execution has ended is taken over at
	// once, and one whose execution runs is never taken over. On AWS the
	// function's role needs states:DescribeExecution on the deployer's
	// executions. When it is nil, or the call fails, the lock's expiry
	// decides.
	Executions Executions
	// StoppedTaskGrace is how long a task may go on after its execution
	// was aborted or timed out: Step Functions does not stop a Lambda
	// invocation under way, so on AWS it is the longest task attempt
	// (MaxTaskAttempt); the local engine cancels its in-process tasks, so
	// there it is zero. Until it has passed, the stopped execution's lock
	// is not taken over.
	StoppedTaskGrace time.Duration
	// Providers run releases, by release target ("local", "aws").
	Providers map[string]Provider
	// Unsupported says, by target, why this deployer has no provider for
	// it and what to do instead.
	Unsupported map[string]string
	// Account and Region are where this deployer runs; a local release must
	// name them (or nothing).
	Account, Region string
	Now             func() time.Time
	Logger          *slog.Logger
}

// Limits the deployer applies to what it reads and decides.
const (
	maxReleaseBytes = 1 << 20
	defaultTimeout  = 600
	// A release may be created up to this long before it is deployed, and
	// this far in the future (clock skew): an old execution input cannot be
	// replayed.
	maxReleaseAge    = 10 * 24 * time.Hour
	maxReleaseFuture = 2 * time.Minute
	// historyBudget bounds the health loop's events (the engine and AWS stop
	// an execution at 25,000).
	historyBudget = 15000
	eventsPerLoop = 8
)

// envelope is the Task state's Parameters: the task name and the state.
type envelope struct {
	Task      string          `json:"Task"`
	Input     json.RawMessage `json:"Input"`
	Execution string          `json:"Execution"`
	StartTime string          `json:"StartTime"`
}

type taskFn func(ctx context.Context, st *State, ex execution) error

type execution struct {
	Arn     string
	Started time.Time
}

func (h *Handler) tasks() map[string]taskFn {
	return map[string]taskFn{
		"Validate":           h.validate,
		"Lock":               h.lock,
		"ValidateResources":  h.validateResources,
		"Deploy":             h.deploy,
		"CheckHealthy":       h.checkHealthy,
		"CleanUpSuccess":     h.cleanUpSuccess,
		"CleanUpFailure":     h.cleanUpFailure,
		"ReleaseLock":        h.releaseLock,
		"ReleaseLockFailure": h.releaseLock,
		"ReleaseLockDirty":   h.releaseLock,
	}
}

// Invoke runs the task the payload names and returns the new state. Its
// signature is engine.TaskFunc's and a valid aws-lambda-go handler.
func (h *Handler) Invoke(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
	var env envelope
	if err := json.Unmarshal(payload, &env); err != nil {
		return nil, &BadReleaseError{Msg: "task payload is not a JSON object with Task and Input: " + err.Error()}
	}
	fn, ok := h.tasks()[env.Task]
	if !ok {
		return nil, &BadReleaseError{Msg: fmt.Sprintf("unknown task %q: the state machine and the task handler are of different versions", env.Task)}
	}
	st := &State{}
	dec := json.NewDecoder(strings.NewReader(string(env.Input)))
	// The execution input comes from a client: reject what the deployer
	// does not know rather than ignore it.
	dec.DisallowUnknownFields()
	if err := dec.Decode(st); err != nil {
		return nil, &BadReleaseError{Msg: "execution input: " + err.Error()}
	}
	ex := execution{Arn: env.Execution}
	if env.StartTime != "" {
		if t, err := time.Parse(time.RFC3339Nano, env.StartTime); err == nil {
			ex.Started = t
		}
	}
	log := h.logger().With("task", env.Task, "release", st.ReleaseID, "execution", env.Execution)
	log.Info("task started")
	if err := fn(ctx, st, ex); err != nil {
		log.Warn("task failed", "error", err)
		return nil, err
	}
	log.Info("task succeeded")
	return json.Marshal(st)
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (h *Handler) provider(st *State) (Provider, error) {
	p := h.Providers[st.Target]
	if why := h.Unsupported[st.Target]; p == nil && why != "" {
		return nil, &BadReleaseError{Msg: fmt.Sprintf("this deployer does not deploy target %q: %s", st.Target, why)}
	}
	if p == nil {
		return nil, &BadReleaseError{Msg: fmt.Sprintf("this deployer has no provider for target %q", st.Target)}
	}
	return p, nil
}

func (st *State) deadline() time.Time {
	t, _ := time.Parse(time.RFC3339Nano, st.Deadline)
	return t
}

func (st *State) started() time.Time {
	t, _ := time.Parse(time.RFC3339Nano, st.StartedAt)
	return t
}

// readRelease downloads the release and checks its bytes against the digest
// the client computed before it uploaded them. Every task that acts on the
// release reads it again this way, so nothing is acted on unverified.
func (h *Handler) readRelease(ctx context.Context, st *State) ([]byte, error) {
	where := fmt.Sprintf("s3://%s/%s", st.Bucket, st.ReleaseKey)
	out, err := h.Storage.GetObject(ctx, &s3.GetObjectInput{
		Bucket:       aws.String(st.Bucket),
		Key:          aws.String(st.ReleaseKey),
		ChecksumMode: s3types.ChecksumModeEnabled,
	})
	if err != nil {
		if awserr.Is(err, "NoSuchKey", "NotFound", "NoSuchBucket") {
			return nil, &BadReleaseError{Msg: fmt.Sprintf("release %s not found: %v", where, err)}
		}
		return nil, &StorageError{Msg: fmt.Sprintf("read release %s: %v", where, err)}
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, maxReleaseBytes+1))
	if err != nil {
		return nil, &StorageError{Msg: fmt.Sprintf("read release %s: %v", where, err)}
	}
	if len(data) > maxReleaseBytes {
		return nil, &BadReleaseError{Msg: fmt.Sprintf("release %s is larger than %d bytes", where, maxReleaseBytes)}
	}
	sum := sha256.Sum256(data)
	got := hex.EncodeToString(sum[:])
	if !strings.EqualFold(got, st.ReleaseSHA256) {
		return nil, &BadReleaseError{Msg: fmt.Sprintf("release digest mismatch: %s has sha256 %s, the execution input expects %s", where, got, st.ReleaseSHA256)}
	}
	if stored := aws.ToString(out.ChecksumSHA256); stored != "" && !strings.Contains(stored, "-") &&
		stored != base64.StdEncoding.EncodeToString(sum[:]) {
		return nil, &BadReleaseError{Msg: fmt.Sprintf("release digest mismatch: %s was stored with checksum %s, its bytes hash to %s", where, stored, base64.StdEncoding.EncodeToString(sum[:]))}
	}
	return data, nil
}

// deployment reads and verifies the release again and describes it for the
// provider.
func (h *Handler) deployment(ctx context.Context, st *State, ex execution) (*Deployment, error) {
	data, err := h.readRelease(ctx, st)
	if err != nil {
		return nil, err
	}
	info, err := checkRelease(st, data)
	if err != nil {
		return nil, err
	}
	return &Deployment{
		ReleaseID:  st.ReleaseID,
		Project:    st.ProjectName,
		Config:     st.ConfigName,
		Account:    st.AWSAccountID,
		Region:     st.AWSRegion,
		Execution:  ex.Arn,
		DeployedBy: st.DeployedBy,
		Bucket:     st.Bucket,
		Services:   info.services,
		Release:    info.release,
		Started:    st.started(),
		Deadline:   st.deadline(),
	}, nil
}
