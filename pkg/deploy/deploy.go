// Package deploy is the client side of a deploy: upload a release, start or
// attach to its execution, find deploys, halt them and clear their locks.
package deploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/awserr"
	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/release"
)

// Storage is the part of S3 the client uses.
type Storage interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// Executions is the part of Step Functions the client uses.
type Executions interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, opts ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	ListExecutions(ctx context.Context, in *sfn.ListExecutionsInput, opts ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error)
	StopExecution(ctx context.Context, in *sfn.StopExecutionInput, opts ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error)
}

// Client deploys releases to one backend.
type Client struct {
	Storage         Storage
	Executions      Executions
	Bucket          string
	StateMachineArn string
	Account         string
	Region          string
	Now             func() time.Time
}

// Input is the execution input the deployer receives (DESIGN.md: contracts).
// The deployer owns its shape and decodes it strictly, so it is defined once,
// there.
type Input = contract.Input

// Plan is everything a deploy will do, decided before any side effect.
type Plan struct {
	File      *release.File
	ReleaseID string
	Key       string
	// ExecutionName and ExecutionArn name the release's first attempt until
	// Start picks the attempt it deploys or attaches to.
	ExecutionName string
	ExecutionArn  string
	Input         Input
	// Redeploy deploys the release again even when it is what the latest
	// deploy left serving (to bring back instances that died).
	Redeploy bool
}

// Plan decides the release id, object key, execution name and input of a
// deploy of f. It does no I/O.
func (c *Client) Plan(f *release.File, deployedBy, releaseDir string) (*Plan, error) {
	r := f.Release
	account := r.AWSAccountID
	if account == "" {
		account = c.Account
	}
	region := r.AWSRegion
	if region == "" {
		region = c.Region
	}
	id := release.ReleaseID(f.SHA256)
	p := &Plan{
		File:      f,
		ReleaseID: id,
		Key:       contract.ReleaseKey(account, r.ProjectName, r.ConfigName, id),
	}
	p.Input = Input{
		ReleaseID:     id,
		ProjectName:   r.ProjectName,
		ConfigName:    r.ConfigName,
		Target:        r.Target,
		AWSAccountID:  account,
		AWSRegion:     region,
		Bucket:        c.Bucket,
		ReleaseKey:    p.Key,
		ReleaseSHA256: f.SHA256,
		DeployedBy:    deployedBy,
		CreatedAt:     c.now().UTC().Format(time.RFC3339),
	}
	if r.Target == "local" {
		p.Input.ReleaseDir = releaseDir
	}
	c.setAttempt(p, 1)
	return p, nil
}

// scope is where the plan deploys.
func (p *Plan) scope() Scope {
	return Scope{Account: p.Input.AWSAccountID, Project: p.Input.ProjectName, Config: p.Input.ConfigName}
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// ConflictError says another release of the same project and config is being
// deployed; nothing was uploaded or started.
type ConflictError struct {
	Scope   Scope
	Running sfntypes.ExecutionListItem
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("another release is being deployed to this project and config: execution %s (started %s); nothing was uploaded. Watch it with `odin status %s`, or wait for it to end",
		aws.ToString(e.Running.Name), aws.ToTime(e.Running.StartDate).UTC().Format(time.RFC3339), aws.ToString(e.Running.Name))
}

// Started says how a deploy began.
type Started struct {
	ExecutionArn  string
	ExecutionName string
	// Attempt counts the deploys of this release to its project and config:
	// 1 the first time, more when it is rolled back to or retried.
	Attempt int
	// Attached is true when odin watches an existing execution of the
	// release instead of starting one: it is running (the same release
	// deployed again while it deploys), or it is the project and config's
	// latest deploy and succeeded, so it is what is serving.
	Attached bool
	Status   string
	// Uploaded is false when the release object was already in S3 (its key
	// is its digest, so it holds the same bytes).
	Uploaded bool
}

// Start uploads the release and starts a deploy of it, unless that would
// deploy it twice: it attaches to the release's execution when one is
// running, or when the project and config's latest deploy is this release
// and succeeded, so it is what is serving. A release deployed before and since
// replaced, or whose last deploy failed, is deployed again as a new attempt
// (a new execution name: Step Functions never reuses one). Start refuses,
// before any upload, when another release of the same project and config is
// running. p's ExecutionName and ExecutionArn are set to the attempt used.
func (c *Client) Start(ctx context.Context, p *Plan) (*Started, error) {
	// The look-ups run at once, before any side effect: on a laptop far from
	// the region each is a round trip.
	var (
		probe    attemptProbe
		probeErr error
		done     = make(chan struct{})
	)
	go func() {
		defer close(done)
		probe, probeErr = c.probeAttempts(ctx, p.Input.ProjectName, p.Input.ConfigName, p.ReleaseID)
	}()
	running, runningErr := c.Running(ctx, p.scope())
	<-done
	if runningErr != nil {
		return nil, runningErr
	}
	if probeErr != nil {
		return nil, probeErr
	}
	for _, r := range running {
		if n := release.Attempt(aws.ToString(r.Name), p.Input.ProjectName, p.Input.ConfigName, p.ReleaseID); n > 0 {
			return c.attach(p, n, string(sfntypes.ExecutionStatusRunning)), nil
		}
	}
	if len(running) > 0 {
		return nil, &ConflictError{Scope: p.scope(), Running: running[0]}
	}
	if probe.lastStatus == sfntypes.ExecutionStatusRunning {
		// Started after the list was read.
		return c.attach(p, probe.last, string(probe.lastStatus)), nil
	}
	if probe.lastStatus == sfntypes.ExecutionStatusSucceeded && !p.Redeploy {
		serving, err := c.isLatest(ctx, p, probe.last)
		if err != nil {
			return nil, err
		}
		if serving {
			return c.attach(p, probe.last, string(probe.lastStatus)), nil
		}
	}

	uploaded, err := c.upload(ctx, p)
	if err != nil {
		return nil, err
	}
	input, err := json.Marshal(p.Input)
	if err != nil {
		return nil, err
	}
	// Another odin may take the same attempt between the probe and the
	// start: the one whose name is taken looks again.
	for attempt, tries := probe.free, 0; ; attempt, tries = attempt+1, tries+1 {
		if attempt > release.MaxAttempts {
			return nil, fmt.Errorf("release %s has been deployed %d times to %s/%s, the most one release can be; change the release file (any byte makes a new release) and deploy that", p.ReleaseID, release.MaxAttempts, p.Input.ProjectName, p.Input.ConfigName)
		}
		c.setAttempt(p, attempt)
		out, err := c.Executions.StartExecution(ctx, &sfn.StartExecutionInput{
			StateMachineArn: aws.String(c.StateMachineArn),
			Name:            aws.String(p.ExecutionName),
			Input:           aws.String(string(input)),
		})
		if err == nil {
			return &Started{ExecutionArn: aws.ToString(out.ExecutionArn), ExecutionName: p.ExecutionName, Attempt: attempt,
				Status: string(sfntypes.ExecutionStatusRunning), Uploaded: uploaded}, nil
		}
		if !awserr.Is(err, "ExecutionAlreadyExists") || tries >= 3 {
			return nil, fmt.Errorf("start execution %s: %w", p.ExecutionName, err)
		}
		d, derr := c.describe(ctx, p.ExecutionArn)
		if derr == nil && d.Status == sfntypes.ExecutionStatusRunning {
			// Another odin started this release a moment ago: watch it.
			return c.attach(p, attempt, string(d.Status)), nil
		}
	}
}

func (c *Client) attach(p *Plan, attempt int, status string) *Started {
	c.setAttempt(p, attempt)
	return &Started{ExecutionArn: p.ExecutionArn, ExecutionName: p.ExecutionName, Attempt: attempt, Attached: true, Status: status}
}

func (c *Client) setAttempt(p *Plan, attempt int) {
	p.ExecutionName = release.ExecutionName(p.Input.ProjectName, p.Input.ConfigName, p.ReleaseID, attempt)
	p.ExecutionArn = c.executionArn(p.ExecutionName)
}

func (c *Client) executionArn(name string) string {
	return contract.ExecutionArn(c.StateMachineArn, name)
}

func (c *Client) describe(ctx context.Context, arn string) (*sfn.DescribeExecutionOutput, error) {
	return c.Executions.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
}

// attemptProbe is what exists of a release's attempts.
type attemptProbe struct {
	// last is the newest existing attempt (0: none) and lastStatus its
	// status; free is the first attempt whose name is unused.
	last       int
	lastStatus sfntypes.ExecutionStatus
	free       int
}

// probeAttempts finds the release's newest attempt with a few
// DescribeExecution calls: doubling until a name is free, then halving.
// Attempts are started in order, so the ones that exist are 1..n, or k..n
// once Step Functions has forgotten executions older than 90 days (then
// attempt 1's name is free to use again).
func (c *Client) probeAttempts(ctx context.Context, project, configName, releaseID string) (attemptProbe, error) {
	var pr attemptProbe
	exists := func(n int) (bool, error) {
		d, err := c.describe(ctx, c.executionArn(release.ExecutionName(project, configName, releaseID, n)))
		switch {
		case err == nil:
			if n > pr.last {
				pr.last, pr.lastStatus = n, d.Status
			}
			return true, nil
		case awserr.Is(err, "ExecutionDoesNotExist"):
			return false, nil
		default:
			return false, c.stateMachineError(fmt.Sprintf("look up attempt %d of release %s", n, releaseID), err)
		}
	}
	lo, hi := 0, 1 // attempt lo exists (0: none known); hi is the next to try
	for {
		ok, err := exists(hi)
		if err != nil {
			return pr, err
		}
		if !ok {
			break
		}
		lo = hi
		if hi == release.MaxAttempts {
			hi++
			break
		}
		hi = min(hi*2, release.MaxAttempts)
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		ok, err := exists(mid)
		if err != nil {
			return pr, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	pr.free = hi
	return pr, nil
}

// LatestAttempt finds the execution of the newest deploy of a release to
// a project and config; ok is false when it was never deployed there (or
// so long ago that Step Functions has forgotten).
func (c *Client) LatestAttempt(ctx context.Context, project, configName, releaseID string) (arn string, ok bool, err error) {
	pr, err := c.probeAttempts(ctx, project, configName, releaseID)
	if err != nil || pr.last == 0 {
		return "", false, err
	}
	return c.executionArn(release.ExecutionName(project, configName, releaseID, pr.last)), true, nil
}

// isLatest says whether the release's attempt is the newest execution of
// its project and config, that is, what the last deploy left serving.
func (c *Client) isLatest(ctx context.Context, p *Plan, attempt int) (bool, error) {
	recs, err := c.latest(ctx, p.scope(), "")
	if err != nil || len(recs) == 0 {
		return false, err
	}
	return aws.ToString(recs[0].Name) == release.ExecutionName(p.Input.ProjectName, p.Input.ConfigName, p.ReleaseID, attempt), nil
}

// upload writes the release's exact bytes with their SHA-256, which S3
// verifies on the way in and the deployer verifies again before it acts. The
// key is derived from the digest, so an existing object is the same release.
func (c *Client) upload(ctx context.Context, p *Plan) (uploaded bool, err error) {
	sum := sha256.Sum256(p.File.Bytes)
	if hex.EncodeToString(sum[:]) != p.File.SHA256 {
		return false, errors.New("release bytes changed since they were validated")
	}
	_, err = c.Storage.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(c.Bucket),
		Key:    aws.String(p.Key),
		Body:   bytes.NewReader(p.File.Bytes),
		// Name the algorithm too: without it the SDK adds its default CRC32
		// and some servers keep that instead of the SHA-256.
		ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(base64.StdEncoding.EncodeToString(sum[:])),
		ContentType:       aws.String("application/yaml"),
		IfNoneMatch:       aws.String("*"),
	})
	switch {
	case err == nil:
		return true, nil
	case awserr.Is(err, "PreconditionFailed"):
		return false, nil
	}
	return false, fmt.Errorf("upload release to s3://%s/%s: %w", c.Bucket, p.Key, err)
}

// Scope is what a deploy is to: a project and config, in an account. One
// deployer may deploy to many accounts, so Account, when set, keeps another
// account's deploys of the same project and config apart; empty, it
// matches every account.
type Scope struct {
	Account, Project, Config string
}

func (s Scope) String() string {
	if s.Account == "" {
		return s.Project + "/" + s.Config
	}
	return s.Project + "/" + s.Config + " (account " + s.Account + ")"
}

// Running lists the running executions of a scope, across every page
// (Coinbase's client looked at the first 100 only).
func (c *Client) Running(ctx context.Context, s Scope) ([]sfntypes.ExecutionListItem, error) {
	prefix := release.ExecutionPrefix(s.Project, s.Config)
	var out []sfntypes.ExecutionListItem
	accounts := map[string]bool{}
	in := &sfn.ListExecutionsInput{StateMachineArn: aws.String(c.StateMachineArn), StatusFilter: sfntypes.ExecutionStatusRunning, MaxResults: 1000}
	for {
		page, err := c.Executions.ListExecutions(ctx, in)
		if err != nil {
			return nil, c.stateMachineError("list running executions", err)
		}
		for _, e := range page.Executions {
			if !strings.HasPrefix(aws.ToString(e.Name), prefix) {
				continue
			}
			// A cut prefix can be shared by another project and config, and
			// an account is only in the input: the input says for sure.
			input, same, err := c.isFor(ctx, e, s)
			if err != nil {
				return nil, err
			}
			if same {
				out = append(out, e)
				accounts[input.AWSAccountID] = true
			}
		}
		if page.NextToken == nil {
			break
		}
		in.NextToken = page.NextToken
	}
	if len(accounts) > 1 {
		return nil, &AccountsError{Scope: s, Accounts: slices.Sorted(maps.Keys(accounts))}
	}
	return out, nil
}

// AccountsError says a scope without an account matched deploys running in
// several accounts: which one is meant needs the account.
type AccountsError struct {
	Scope    Scope
	Accounts []string
}

func (e *AccountsError) Error() string {
	return fmt.Sprintf("deploys of %s are running in accounts %s: say which with --account (or a release file)", e.Scope, strings.Join(e.Accounts, ", "))
}

// isFor reads an execution's input and says whether it is a deploy of s.
func (c *Client) isFor(ctx context.Context, e sfntypes.ExecutionListItem, s Scope) (Input, bool, error) {
	var in Input
	d, err := c.describe(ctx, aws.ToString(e.ExecutionArn))
	if err != nil {
		return in, false, fmt.Errorf("describe execution %s: %w", aws.ToString(e.Name), err)
	}
	if err := json.Unmarshal([]byte(aws.ToString(d.Input)), &in); err != nil {
		return in, false, nil
	}
	return in, in.ProjectName == s.Project && in.ConfigName == s.Config && (s.Account == "" || in.AWSAccountID == s.Account), nil
}

// stateMachineError explains the usual first-day mistake: pointing odin at a
// region or account where the deployer is not deployed.
func (c *Client) stateMachineError(doing string, err error) error {
	if awserr.Is(err, "StateMachineDoesNotExist") {
		return fmt.Errorf("%s: the deployer state machine %s does not exist; deploy it there (see the README, Running against AWS) or point --state-machine, --region or --backend at the right one", doing, c.StateMachineArn)
	}
	return fmt.Errorf("%s: %w", doing, err)
}
