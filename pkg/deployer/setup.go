package deployer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/odin-deploy/odin/pkg/awserr"
	"github.com/odin-deploy/odin/pkg/local/access"
)

// Bucket is the local backend's releases bucket.
const Bucket = "odin-releases"

// LocalHandler is the task handler as the local backend at ep runs it:
// releases come from its S3, and target "local" runs on p.
func LocalHandler(ep access.Endpoint, p Provider, logger *slog.Logger) *Handler {
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
func Bootstrap(ctx context.Context, ep access.Endpoint) (stateMachineArn string, err error) {
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
