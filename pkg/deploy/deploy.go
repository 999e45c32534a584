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
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/odin-deploy/odin/pkg/deployer"
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
type Input = deployer.Input

// Plan is everything a deploy will do, decided before any side effect.
type Plan struct {
	File          *release.File
	ReleaseID     string
	Key           string
	ExecutionName string
	ExecutionArn  string
	Input         Input
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
	name := r.ExecutionName(id)
	p := &Plan{
		File:          f,
		ReleaseID:     id,
		Key:           r.Root(account) + "/" + id + "/release",
		ExecutionName: name,
		ExecutionArn:  strings.Replace(c.StateMachineArn, ":stateMachine:", ":execution:", 1) + ":" + name,
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
	return p, nil
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
	Running sfntypes.ExecutionListItem
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("another release is being deployed to this project and config: execution %s (started %s); nothing was uploaded. Watch it with `odin status %s`, or wait for it to end",
		aws.ToString(e.Running.Name), aws.ToTime(e.Running.StartDate).UTC().Format(time.RFC3339), aws.ToString(e.Running.Name))
}

// Started says how a deploy began.
type Started struct {
	ExecutionArn string
	// Attached is true when the release's execution already existed (the same
	// release deployed again), so odin watches it instead of deploying twice.
	Attached bool
	Status   string
}

// Start uploads the release and starts its execution, or attaches to the
// execution of the same release if there is one. It refuses, before any
// upload, when another release of the same project and config is running.
func (c *Client) Start(ctx context.Context, p *Plan) (*Started, error) {
	// Both look-ups before any side effect, at once: on a laptop far from
	// the region each is a round trip.
	var (
		existing    *sfn.DescribeExecutionOutput
		describeErr error
		done        = make(chan struct{})
	)
	go func() {
		defer close(done)
		existing, describeErr = c.Executions.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(p.ExecutionArn)})
	}()
	running, runningErr := c.Running(ctx, p.Input.ProjectName, p.Input.ConfigName)
	<-done
	switch {
	case describeErr == nil:
		return &Started{ExecutionArn: p.ExecutionArn, Attached: true, Status: string(existing.Status)}, nil
	case !isCode(describeErr, "ExecutionDoesNotExist"):
		return nil, fmt.Errorf("look up execution %s: %w", p.ExecutionName, describeErr)
	case runningErr != nil:
		return nil, runningErr
	}
	for _, r := range running {
		if aws.ToString(r.Name) != p.ExecutionName {
			return nil, &ConflictError{Running: r}
		}
	}

	if err := c.upload(ctx, p); err != nil {
		return nil, err
	}
	input, err := json.Marshal(p.Input)
	if err != nil {
		return nil, err
	}
	out, err := c.Executions.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(c.StateMachineArn),
		Name:            aws.String(p.ExecutionName),
		Input:           aws.String(string(input)),
	})
	if err != nil {
		if isCode(err, "ExecutionAlreadyExists") {
			// Another odin started the same release a moment ago: attach.
			return &Started{ExecutionArn: p.ExecutionArn, Attached: true}, nil
		}
		return nil, fmt.Errorf("start execution %s: %w", p.ExecutionName, err)
	}
	return &Started{ExecutionArn: aws.ToString(out.ExecutionArn), Status: string(sfntypes.ExecutionStatusRunning)}, nil
}

// upload writes the release's exact bytes with their SHA-256, which S3
// verifies on the way in and the deployer verifies again before it acts. The
// key is derived from the digest, so an existing object is the same release.
func (c *Client) upload(ctx context.Context, p *Plan) error {
	sum := sha256.Sum256(p.File.Bytes)
	if hex.EncodeToString(sum[:]) != p.File.SHA256 {
		return errors.New("release bytes changed since they were validated")
	}
	_, err := c.Storage.PutObject(ctx, &s3.PutObjectInput{
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
	if err != nil && !isCode(err, "PreconditionFailed") {
		return fmt.Errorf("upload release to s3://%s/%s: %w", c.Bucket, p.Key, err)
	}
	return nil
}

// Running lists the running executions of a project and config, across every
// page (Coinbase's client looked at the first 100 only).
func (c *Client) Running(ctx context.Context, project, configName string) ([]sfntypes.ExecutionListItem, error) {
	prefix := release.ExecutionPrefix(project, configName)
	var out []sfntypes.ExecutionListItem
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
			// A prefix can be shared by another project whose name has a dash
			// where this one's config begins; the input says for sure.
			same, err := c.isFor(ctx, e, project, configName)
			if err != nil {
				return nil, err
			}
			if same {
				out = append(out, e)
			}
		}
		if page.NextToken == nil {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

func (c *Client) isFor(ctx context.Context, e sfntypes.ExecutionListItem, project, configName string) (bool, error) {
	d, err := c.Executions.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: e.ExecutionArn})
	if err != nil {
		return false, fmt.Errorf("describe execution %s: %w", aws.ToString(e.Name), err)
	}
	var in Input
	if err := json.Unmarshal([]byte(aws.ToString(d.Input)), &in); err != nil {
		return false, nil
	}
	return in.ProjectName == project && in.ConfigName == configName, nil
}

// stateMachineError explains the usual first-day mistake: pointing odin at a
// region or account where the deployer is not deployed.
func (c *Client) stateMachineError(doing string, err error) error {
	if isCode(err, "StateMachineDoesNotExist") {
		return fmt.Errorf("%s: the deployer state machine %s does not exist; deploy it there (see the README, Running against AWS) or point --state-machine, --region or --backend at the right one", doing, c.StateMachineArn)
	}
	return fmt.Errorf("%s: %w", doing, err)
}
