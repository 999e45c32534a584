package deployer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/awserr"
	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/local/asl"
)

// validate checks the execution input and the release it points at, and
// decides the waits and the deadline of the health loop.
func (h *Handler) validate(ctx context.Context, st *State, ex execution) error {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"release_id", st.ReleaseID}, {"project_name", st.ProjectName}, {"config_name", st.ConfigName},
		{"target", st.Target}, {"aws_account_id", st.AWSAccountID}, {"aws_region", st.AWSRegion},
		{"bucket", st.Bucket}, {"release_key", st.ReleaseKey}, {"release_sha256", st.ReleaseSHA256},
		{"deployed_by", st.DeployedBy}, {"created_at", st.CreatedAt},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return &BadReleaseError{Msg: "execution input lacks " + strings.Join(missing, ", ")}
	}
	// The server decides these; a client must not.
	if st.StartedAt != "" || st.Deadline != "" || st.LockETag != "" || st.Healthy != nil || st.Health != nil ||
		st.Timeout != 0 || st.WaitForDeploy != 0 || st.WaitForHealthy != 0 ||
		st.Error != nil || st.CleanupError != nil || st.LockError != nil {
		return &BadReleaseError{Msg: "execution input sets fields the deployer owns (started_at, deadline, timeout, waits, lock, health, error)"}
	}
	if want := contract.ReleaseKey(st.AWSAccountID, st.ProjectName, st.ConfigName, st.ReleaseID); st.ReleaseKey != want {
		return &BadReleaseError{Msg: fmt.Sprintf("release_key %q is not where release %s belongs (%q)", st.ReleaseKey, st.ReleaseID, want)}
	}
	created, err := time.Parse(time.RFC3339Nano, st.CreatedAt)
	if err != nil {
		return &BadReleaseError{Msg: fmt.Sprintf("created_at %q is not an RFC 3339 time", st.CreatedAt)}
	}
	now := h.now()
	if created.Before(now.Add(-maxReleaseAge)) || created.After(now.Add(maxReleaseFuture)) {
		return &BadReleaseError{Msg: fmt.Sprintf("created_at %s is stale or in the future (now %s): deploy the release again", st.CreatedAt, now.UTC().Format(time.RFC3339))}
	}
	if _, err := h.provider(st); err != nil {
		return err
	}
	if st.Target == "local" && (st.AWSAccountID != h.Account || st.AWSRegion != h.Region) {
		return &BadReleaseError{Msg: fmt.Sprintf("release is for account %s region %s, but this deployer runs in account %s region %s", st.AWSAccountID, st.AWSRegion, h.Account, h.Region)}
	}
	if st.Target == "local" && !filepath.IsAbs(st.ReleaseDir) {
		return &BadReleaseError{Msg: fmt.Sprintf("release_dir %q must be the absolute directory of the release file for target local", st.ReleaseDir)}
	}
	data, err := h.readRelease(ctx, st)
	if err != nil {
		return err
	}
	r, err := checkRelease(st, data)
	if err != nil {
		return err
	}

	st.Timeout = r.timeout
	if st.Timeout <= 0 {
		st.Timeout = defaultTimeout
	}
	st.WaitForDeploy, st.WaitForHealthy = waits(st.Target, st.Timeout, r.minInterval)
	started := ex.Started
	if started.IsZero() {
		started = now
	}
	st.StartedAt = started.UTC().Format(time.RFC3339Nano)
	st.Deadline = now.Add(time.Duration(st.Timeout) * time.Second).UTC().Format(time.RFC3339Nano)
	return nil
}

// waits decides the seconds before the first health check and between
// checks: short for local processes, Coinbase's schedule on AWS, and never so
// short that the loop would exhaust the execution's history.
func waits(target string, timeout int, minInterval time.Duration) (deploy, healthy int) {
	if target == "local" {
		deploy, healthy = 1, max(1, int(minInterval/time.Second))
	} else {
		deploy = 30
		switch {
		case timeout < 1800:
			healthy = 15
		case timeout < 7200:
			healthy = 60
		default:
			healthy = 120
		}
	}
	for timeout/healthy*eventsPerLoop > historyBudget {
		healthy *= 2
	}
	return deploy, healthy
}

func (h *Handler) lockKey(st *State) string {
	return contract.LockKey(st.AWSAccountID, st.ProjectName, st.ConfigName)
}

// lock takes the project and config's deploy lock with a write that only
// succeeds if no lock exists, so two deploys can never both hold it. A lock
// held by another execution is taken over only when that execution has
// ended, or, when Step Functions cannot say, once the lock has expired.
func (h *Handler) lock(ctx context.Context, st *State, ex execution) error {
	now := h.now()
	rec := contract.Lock{
		ReleaseID:  st.ReleaseID,
		Owner:      st.DeployedBy,
		Execution:  ex.Arn,
		AcquiredAt: now.UTC().Format(time.RFC3339),
		ExpiresAt:  now.Add(lockLifetime(st)).UTC().Format(time.RFC3339),
	}
	body, _ := json.Marshal(rec)
	key := h.lockKey(st)
	for attempt := 0; ; attempt++ {
		out, err := h.Storage.PutObject(ctx, &s3.PutObjectInput{
			Bucket:      aws.String(st.Bucket),
			Key:         aws.String(key),
			Body:        bytes.NewReader(body),
			ContentType: aws.String("application/json"),
			IfNoneMatch: aws.String("*"),
		})
		if err == nil {
			st.LockETag = aws.ToString(out.ETag)
			return nil
		}
		if !awserr.Is(err, "PreconditionFailed", "ConditionalRequestConflict") {
			return &StorageError{Msg: fmt.Sprintf("take lock s3://%s/%s: %v", st.Bucket, key, err)}
		}
		held, etag, err := h.readLock(ctx, st)
		if err != nil {
			return err
		}
		if held == nil {
			if attempt == 0 {
				continue // released between our write and our read
			}
			return &LockExistsError{Msg: lockHeldMessage(st, nil, holder{}, now)}
		}
		if held.ReleaseID == st.ReleaseID && held.Execution == ex.Arn {
			// Our own lock: an earlier attempt of this task wrote it and
			// its answer was lost.
			st.LockETag = etag
			return nil
		}
		hs := h.describeHolder(ctx, held)
		if why := hs.stale(held, now); why != "" && attempt == 0 {
			// Delete exactly the lock we read and try once more.
			if _, err := h.Storage.DeleteObject(ctx, &s3.DeleteObjectInput{
				Bucket: aws.String(st.Bucket), Key: aws.String(key), IfMatch: aws.String(etag),
			}); err == nil {
				h.logger().Warn("took over a stale deploy lock: "+why, "holder", held.ReleaseID,
					"holder_execution", held.Execution, "holder_status", hs.status, "expires_at", held.ExpiresAt)
				continue
			}
		}
		return &LockExistsError{Msg: lockHeldMessage(st, held, hs, now)}
	}
}

// holder is what Step Functions says of the execution that holds a lock.
type holder struct {
	// status is the execution's status, holderGone when Step Functions
	// does not know it, or "" when unknown (no Executions, or the call
	// failed).
	status string
	// busyUntil is, for an execution that was aborted or timed out, when
	// a task it started can no longer be running.
	busyUntil time.Time
}

const holderGone = "ExecutionDoesNotExist"

// describeHolder asks Step Functions about the lock's execution. A failure
// (AccessDenied, throttling) leaves the status unknown, so that the lock's
// expiry decides as if there were no Executions.
func (h *Handler) describeHolder(ctx context.Context, held *contract.Lock) holder {
	if h.Executions == nil || held.Execution == "" {
		return holder{}
	}
	out, err := h.Executions.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(held.Execution)})
	switch {
	case err == nil:
		hs := holder{status: string(out.Status)}
		stopped := out.Status == sfntypes.ExecutionStatusAborted || out.Status == sfntypes.ExecutionStatusTimedOut
		if stopped && out.StopDate != nil && h.StoppedTaskGrace > 0 {
			hs.busyUntil = out.StopDate.Add(h.StoppedTaskGrace)
		}
		return hs
	case awserr.Is(err, "ExecutionDoesNotExist"):
		return holder{status: holderGone}
	}
	h.logger().Warn("cannot tell whether the deploy lock's execution still runs; the lock's expiry decides",
		"holder_execution", held.Execution, "error", err)
	return holder{}
}

// running says the holder runs, or will run again (a redrive was asked for).
func (hs holder) running() bool {
	return hs.status == string(sfntypes.ExecutionStatusRunning) || hs.status == string(sfntypes.ExecutionStatusPendingRedrive)
}

// stale says why the lock may be taken over, or "" if it may not.
func (hs holder) stale(held *contract.Lock, now time.Time) string {
	if now.Before(hs.busyUntil) {
		return "" // a task of the stopped execution may still act
	}
	switch sfntypes.ExecutionStatus(hs.status) {
	case sfntypes.ExecutionStatusSucceeded, sfntypes.ExecutionStatusFailed, sfntypes.ExecutionStatusTimedOut,
		sfntypes.ExecutionStatusAborted, holderGone:
		return "its execution has ended"
	}
	if hs.running() {
		return "" // whatever expires_at says
	}
	if exp, err := time.Parse(time.RFC3339, held.ExpiresAt); err == nil && now.After(exp) {
		return "it has expired"
	}
	return ""
}

// lockLifetime is how long a lock taken now may be needed: as long as the
// rest of its execution can run, so that expiry never hands the lock to
// another deploy while the holder still acts. Every Task attempt is cut off
// at its TimeoutSeconds and Retry adds attempts and backoff, so the sum of
// every Task state's worst case bounds all the tasks one execution runs
// (generously: an execution runs only some of them). The health loop adds
// the release's timeout (its deadline, set before the lock was taken), then
// at most one more wait and one more check than the tasks' sum counts.
func lockLifetime(st *State) time.Duration {
	worst := definitionLimits().worst
	var tasks time.Duration
	for _, d := range worst {
		tasks += d
	}
	waits := time.Duration(st.Timeout+st.WaitForDeploy+st.WaitForHealthy) * time.Second
	return waits + tasks + worst["CheckHealthy"]
}

// MaxTaskAttempt is the longest one attempt of any of the deployer's Task
// states can run: how long a Lambda invocation may outlive its stopped
// execution.
func MaxTaskAttempt() time.Duration {
	var longest time.Duration
	for _, d := range definitionLimits().attempt {
		longest = max(longest, d)
	}
	return longest
}

// lambdaMaxRun is the longest a Lambda invocation can run: a Task state
// without TimeoutSeconds is bounded by it.
const lambdaMaxRun = 15 * time.Minute

// taskLimits are the time limits of a definition's Task states.
type taskLimits struct {
	attempt map[string]time.Duration // one attempt, cut off at TimeoutSeconds
	worst   map[string]time.Duration // every attempt, retries and backoff
}

// definitionLimits are the deployer's own, read once with the States
// Language parser the local engine uses (the function ARN is a stand-in:
// the limits do not depend on it).
var definitionLimits = sync.OnceValue(func() taskLimits {
	sm, err := asl.Parse(Definition("arn:aws:lambda:us-east-1:000000000000:function:" + FunctionName))
	if err != nil {
		// The definition is embedded and TestTaskWorstCases reads it.
		panic("deployer definition: " + err.Error())
	}
	return limitsOf(sm)
})

func limitsOf(sm *asl.StateMachine) taskLimits {
	l := taskLimits{attempt: map[string]time.Duration{}, worst: map[string]time.Duration{}}
	for name, s := range sm.States {
		if s.Type != asl.TypeTask {
			continue
		}
		attempt := lambdaMaxRun
		if s.TimeoutSeconds.Set && s.TimeoutSeconds.Path == nil {
			attempt = time.Duration(s.TimeoutSeconds.Value) * time.Second
		}
		total := attempt
		// Each retrier counts its own attempts, so errors that alternate
		// between retriers get all of them.
		for _, r := range s.Retry {
			for i := range r.MaxAttempts {
				wait := r.IntervalSeconds * math.Pow(r.BackoffRate, float64(i))
				if r.MaxDelaySeconds > 0 {
					wait = min(wait, r.MaxDelaySeconds)
				}
				total += attempt + time.Duration(wait*float64(time.Second))
			}
		}
		l.attempt[name], l.worst[name] = attempt, total
	}
	return l
}

func lockHeldMessage(st *State, held *contract.Lock, hs holder, now time.Time) string {
	clear := fmt.Sprintf("if no deploy of it is running, clear the lock with `odin unlock --project %s --config-name %s --account %s` (or `odin unlock <release file>`)", st.ProjectName, st.ConfigName, st.AWSAccountID)
	if held == nil {
		return fmt.Sprintf("deploys of %s/%s are locked by another deploy that changed while being read; %s", st.ProjectName, st.ConfigName, clear)
	}
	age := "for an unknown time"
	if t, err := time.Parse(time.RFC3339, held.AcquiredAt); err == nil {
		age = "for " + now.Sub(t).Truncate(time.Second).String()
	}
	if now.Before(hs.busyUntil) {
		return fmt.Sprintf("deploys of %s/%s are locked by release %s (owner %s, execution %s) %s; that execution was %s, but a task it started may still be running until %s (Step Functions does not stop a Lambda under way): deploy again after that, or, if you know it has ended, clear the lock with `odin unlock --project %s --config-name %s --account %s`",
			st.ProjectName, st.ConfigName, held.ReleaseID, held.Owner, held.Execution, age, hs.status, hs.busyUntil.UTC().Format(time.RFC3339), st.ProjectName, st.ConfigName, st.AWSAccountID)
	}
	if hs.running() {
		return fmt.Sprintf("deploys of %s/%s are locked by release %s (owner %s, execution %s) %s, and that execution is still running (%s): wait for it to end, or halt it with `odin halt %s`",
			st.ProjectName, st.ConfigName, held.ReleaseID, held.Owner, held.Execution, age, hs.status, executionName(held.Execution))
	}
	return fmt.Sprintf("deploys of %s/%s are locked by release %s (owner %s, execution %s) %s, until %s; %s",
		st.ProjectName, st.ConfigName, held.ReleaseID, held.Owner, held.Execution, age, held.ExpiresAt, clear)
}

// executionName is the last part of an execution ARN, which `odin halt` takes.
func executionName(arn string) string {
	return arn[strings.LastIndex(arn, ":")+1:]
}

// readLock returns the lock and its ETag, or nil when there is none.
func (h *Handler) readLock(ctx context.Context, st *State) (*contract.Lock, string, error) {
	key := h.lockKey(st)
	out, err := h.Storage.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(st.Bucket), Key: aws.String(key)})
	if err != nil {
		if awserr.Is(err, "NoSuchKey", "NotFound") {
			return nil, "", nil
		}
		return nil, "", &StorageError{Msg: fmt.Sprintf("read lock s3://%s/%s: %v", st.Bucket, key, err)}
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, 64<<10))
	if err != nil {
		return nil, "", &StorageError{Msg: fmt.Sprintf("read lock s3://%s/%s: %v", st.Bucket, key, err)}
	}
	rec := &contract.Lock{}
	if err := json.Unmarshal(data, rec); err != nil {
		rec = &contract.Lock{ReleaseID: "(not an odin lock: " + err.Error() + ")"}
	}
	return rec, aws.ToString(out.ETag), nil
}

// releaseLock deletes the lock only if it is the one this execution wrote:
// the delete is conditional on its ETag, so another release's lock is never
// removed. No lock, or another's, is not an error.
func (h *Handler) releaseLock(ctx context.Context, st *State, _ execution) error {
	if st.LockETag == "" {
		return nil
	}
	key := h.lockKey(st)
	_, err := h.Storage.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket:  aws.String(st.Bucket),
		Key:     aws.String(key),
		IfMatch: aws.String(st.LockETag),
	})
	switch {
	case err == nil, awserr.Is(err, "NoSuchKey", "NotFound"):
		st.LockETag = ""
		return nil
	case awserr.Is(err, "PreconditionFailed"):
		h.logger().Warn("the deploy lock is no longer this execution's; left it", "key", key)
		st.LockETag = ""
		return nil
	}
	return &CleanUpError{Msg: fmt.Sprintf("release lock s3://%s/%s: %v", st.Bucket, key, err)}
}

// checkHalt fails with HaltError when a halt object was written after the
// execution started (an older one is from an earlier deploy).
func (h *Handler) checkHalt(ctx context.Context, st *State) error {
	key := contract.HaltKey(st.AWSAccountID, st.ProjectName, st.ConfigName)
	out, err := h.Storage.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(st.Bucket), Key: aws.String(key)})
	if err != nil {
		if awserr.Is(err, "NoSuchKey", "NotFound") {
			return nil
		}
		return &StorageError{Msg: fmt.Sprintf("check halt s3://%s/%s: %v", st.Bucket, key, err)}
	}
	written := aws.ToTime(out.LastModified)
	// LastModified has whole seconds.
	if written.Before(st.started().Truncate(time.Second)) {
		return nil
	}
	return &HaltError{Msg: fmt.Sprintf("deploy halted: s3://%s/%s was written at %s; rolling back", st.Bucket, key, written.UTC().Format(time.RFC3339))}
}

func (h *Handler) validateResources(ctx context.Context, st *State, ex execution) error {
	p, d, err := h.target(ctx, st, ex)
	if err != nil {
		return err
	}
	if err := p.Validate(ctx, d); err != nil {
		return asType(err, func(m string) error { return &ResourceError{Msg: m} })
	}
	return nil
}

func (h *Handler) deploy(ctx context.Context, st *State, ex execution) error {
	if err := h.checkHalt(ctx, st); err != nil {
		return err
	}
	p, d, err := h.target(ctx, st, ex)
	if err != nil {
		return err
	}
	if err := p.Deploy(ctx, d); err != nil {
		return asType(err, func(m string) error { return &DeployError{Msg: m} })
	}
	healthy := false
	st.Healthy = &healthy
	if hl, _ := p.Health(ctx, d); hl != nil {
		st.Health = hl
	}
	return nil
}

func (h *Handler) checkHealthy(ctx context.Context, st *State, ex execution) error {
	if err := h.checkHalt(ctx, st); err != nil {
		return err
	}
	p, d, err := h.target(ctx, st, ex)
	if err != nil {
		return err
	}
	hl, err := p.Health(ctx, d)
	if err != nil {
		return asType(err, func(m string) error { return &HealthError{Msg: m} })
	}
	st.Health = hl
	st.Healthy = &hl.Healthy
	if !hl.Healthy && !h.now().Before(d.Deadline) {
		return &TimeoutError{Msg: fmt.Sprintf("release %s is not healthy after its timeout of %ds: %s",
			st.ReleaseID, st.Timeout, hl.Summary())}
	}
	return nil
}

func (h *Handler) cleanUpSuccess(ctx context.Context, st *State, ex execution) error {
	p, d, err := h.target(ctx, st, ex)
	if err != nil {
		return err
	}
	if err := p.CleanUpSuccess(ctx, d); err != nil {
		return asType(err, func(m string) error { return &CleanUpError{Msg: m} })
	}
	if hl, err := p.Health(ctx, d); err == nil {
		st.Health = hl
	}
	return nil
}

func (h *Handler) cleanUpFailure(ctx context.Context, st *State, ex execution) error {
	p, err := h.provider(st)
	if err != nil {
		return err
	}
	d, err := h.deployment(ctx, st, ex)
	if err != nil {
		return &CleanUpError{Msg: "cannot clean up: " + err.Error()}
	}
	if err := p.CleanUpFailure(ctx, d); err != nil {
		return asType(err, func(m string) error { return &CleanUpError{Msg: m} })
	}
	// The report shows the instances stopped (one that crashed stays
	// "exited", hence the error is not the point here).
	if hl, _ := p.Health(ctx, d); hl != nil {
		st.Health = hl
	}
	return nil
}

// asType keeps a provider's typed error (a DeployError from Health, say) and
// gives any other error the task's type.
func asType(err error, wrap func(string) error) error {
	if _, ok := err.(interface{ ErrorType() string }); ok {
		return err
	}
	return wrap(err.Error())
}

// target is the provider of the release's target and the deployment it acts
// on: what every task after Validate starts from.
func (h *Handler) target(ctx context.Context, st *State, ex execution) (Provider, *Deployment, error) {
	p, err := h.provider(st)
	if err != nil {
		return nil, nil, err
	}
	d, err := h.deployment(ctx, st, ex)
	if err != nil {
		return nil, nil, err
	}
	return p, d, nil
}
