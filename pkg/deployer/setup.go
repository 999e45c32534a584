package deployer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/odin-deploy/odin/pkg/awserr"
	"github.com/odin-deploy/odin/pkg/local/engine"
)

// Bucket is the local backend's releases bucket.
const Bucket = "odin-releases"

// Endpoint is how in-process code reaches the local backend (the same fields
// as the local server's Endpoint, so one converts to the other).
type Endpoint struct {
	URL             string
	AccessKeyID     string
	SecretAccessKey string
	Region          string
	Account         string
}

func (ep Endpoint) config() aws.Config {
	return aws.Config{
		Region:           ep.Region,
		Credentials:      credentials.NewStaticCredentialsProvider(ep.AccessKeyID, ep.SecretAccessKey, ""),
		RetryMaxAttempts: 3,
	}
}

// S3Client is an S3 client for the local backend at ep.
func (ep Endpoint) S3Client() *s3.Client {
	return s3.NewFromConfig(ep.config(), func(o *s3.Options) {
		o.BaseEndpoint = aws.String(ep.URL)
		o.UsePathStyle = true
	})
}

// SFNClient is a Step Functions client for the local backend at ep.
func (ep Endpoint) SFNClient() *sfn.Client {
	return sfn.NewFromConfig(ep.config(), func(o *sfn.Options) { o.BaseEndpoint = aws.String(ep.URL) })
}

// LocalHandler is the task handler as the local backend at ep runs it:
// releases come from its S3, and target "local" runs on p.
func LocalHandler(ep Endpoint, p Provider, logger *slog.Logger) *Handler {
	return &Handler{
		Storage:    ep.S3Client(),
		Executions: ep.SFNClient(),
		Providers:  map[string]Provider{"local": p},
		Account:    ep.Account,
		Region:     ep.Region,
		Now:        time.Now,
		Logger:     logger,
	}
}

// Bootstrap creates the releases bucket and the deployer state machine on the
// local backend at ep, and updates the state machine when its definition
// changed (a newer odin). It is safe to run on every start.
func Bootstrap(ctx context.Context, ep Endpoint) (stateMachineArn string, err error) {
	_, err = ep.S3Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(Bucket)})
	if err != nil && !awserr.Is(err, "BucketAlreadyOwnedByYou", "BucketAlreadyExists") {
		return "", fmt.Errorf("create bucket %s: %w", Bucket, err)
	}
	return EnsureStateMachine(ctx, ep.SFNClient(), ep.Region, ep.Account)
}

// StateMachines is the part of Step Functions EnsureStateMachine uses.
type StateMachines interface {
	CreateStateMachine(ctx context.Context, in *sfn.CreateStateMachineInput, opts ...func(*sfn.Options)) (*sfn.CreateStateMachineOutput, error)
	DescribeStateMachine(ctx context.Context, in *sfn.DescribeStateMachineInput, opts ...func(*sfn.Options)) (*sfn.DescribeStateMachineOutput, error)
	UpdateStateMachine(ctx context.Context, in *sfn.UpdateStateMachineInput, opts ...func(*sfn.Options)) (*sfn.UpdateStateMachineOutput, error)
}

// EnsureStateMachine creates the deployer state machine, or updates it when
// the stored definition differs from this odin's.
func EnsureStateMachine(ctx context.Context, c StateMachines, region, account string) (string, error) {
	def := string(Definition(FunctionArn(region, account)))
	arn := "arn:aws:states:" + region + ":" + account + ":stateMachine:" + StateMachineName
	role := "arn:aws:iam::" + account + ":role/" + StateMachineName
	out, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String(StateMachineName),
		Definition: aws.String(def),
		RoleArn:    aws.String(role),
	})
	if err == nil {
		return aws.ToString(out.StateMachineArn), nil
	}
	if !awserr.Is(err, "StateMachineAlreadyExists") {
		return "", fmt.Errorf("create state machine %s: %w", StateMachineName, err)
	}
	cur, err := c.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("describe state machine %s: %w", StateMachineName, err)
	}
	if aws.ToString(cur.Definition) == def {
		return arn, nil
	}
	if _, err := c.UpdateStateMachine(ctx, &sfn.UpdateStateMachineInput{
		StateMachineArn: aws.String(arn),
		Definition:      aws.String(def),
		RoleArn:         aws.String(role),
	}); err != nil {
		return "", fmt.Errorf("update state machine %s: %w", StateMachineName, errors.Join(err))
	}
	return arn, nil
}

// Register registers the deployer's task handler in fns under
// FunctionName, reading releases from the local backend at ep and running
// target local on p. The local server calls it from its Functions hook:
//
//	p := localprovider.New(localprovider.Options{DataDir: dataDir, Logger: log})
//	defer p.Close() // after the server: it stops every instance
//	opts.Functions = func(ep server.Endpoint) (*engine.Functions, error) {
//		fns := engine.NewFunctions()
//		deployer.Register(fns, deployer.Endpoint(ep), p, log)
//		return fns, nil
//	}
//	opts.Bootstrap = func(ctx context.Context, ep server.Endpoint) error {
//		_, err := deployer.Bootstrap(ctx, deployer.Endpoint(ep))
//		return err
//	}
func Register(fns *engine.Functions, ep Endpoint, p Provider, logger *slog.Logger) {
	fns.Register(FunctionName, LocalHandler(ep, p, logger).Invoke)
}

// Functions is a new registry holding only the deployer's task handler (see
// Register).
func Functions(ep Endpoint, p Provider, logger *slog.Logger) *engine.Functions {
	fns := engine.NewFunctions()
	Register(fns, ep, p, logger)
	return fns
}
