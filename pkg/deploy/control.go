package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/odin-deploy/odin/pkg/awserr"
	"github.com/odin-deploy/odin/pkg/contract"
)

// Halt writes the halt object the deployer honours: it stops at its next
// check and rolls back, releasing the lock.
func (c *Client) Halt(ctx context.Context, account, project, configName string, note contract.Halt) (string, error) {
	key := contract.HaltKey(account, project, configName)
	if note.At == "" {
		note.At = c.now().UTC().Format(time.RFC3339)
	}
	body, err := json.Marshal(note)
	if err != nil {
		return "", err
	}
	if _, err := c.Storage.PutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(c.Bucket),
		Key:         aws.String(key),
		Body:        bytes.NewReader(body),
		ContentType: aws.String("application/json"),
	}); err != nil {
		return "", fmt.Errorf("write halt object s3://%s/%s: %w", c.Bucket, key, err)
	}
	return key, nil
}

// Abort stops an execution outright (StopExecution). Unlike a halt, the
// deployer gets no chance to clean up: resources may be left behind.
func (c *Client) Abort(ctx context.Context, executionArn, reason string) error {
	_, err := c.Executions.StopExecution(ctx, &sfn.StopExecutionInput{
		ExecutionArn: aws.String(executionArn),
		Error:        aws.String("odin.Aborted"),
		Cause:        aws.String(reason),
	})
	if err != nil {
		return fmt.Errorf("stop execution: %w", err)
	}
	return nil
}

// Lock is a deploy lock as the deployer writes it.
type Lock struct {
	contract.Lock

	Key  string `json:"-"`
	ETag string `json:"-"`
}

// ErrNoLock says there is no lock to clear.
var ErrNoLock = errors.New("no lock is held")

// ReadLock reads the lock of a project and config.
func (c *Client) ReadLock(ctx context.Context, account, project, configName string) (*Lock, error) {
	key := contract.LockKey(account, project, configName)
	out, err := c.Storage.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(c.Bucket), Key: aws.String(key)})
	if err != nil {
		if awserr.Is(err, "NoSuchKey") || awserr.Is(err, "NotFound") {
			return nil, ErrNoLock
		}
		return nil, fmt.Errorf("read lock s3://%s/%s: %w", c.Bucket, key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("read lock s3://%s/%s: %w", c.Bucket, key, err)
	}
	l := &Lock{}
	if err := json.Unmarshal(data, l); err != nil {
		return nil, fmt.Errorf("lock s3://%s/%s is not odin's: %w", c.Bucket, key, err)
	}
	l.Key, l.ETag = key, aws.ToString(out.ETag)
	return l, nil
}

// Unlock deletes the lock only if it is still the one that was read: a lock
// taken in the meantime by another deploy is never removed.
func (c *Client) Unlock(ctx context.Context, l *Lock) error {
	_, err := c.Storage.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket:  aws.String(c.Bucket),
		Key:     aws.String(l.Key),
		IfMatch: aws.String(l.ETag),
	})
	switch {
	case err == nil:
		return nil
	case awserr.Is(err, "PreconditionFailed"):
		return errors.New("the lock changed since it was read (another deploy took it); nothing was deleted")
	case awserr.Is(err, "NoSuchKey"):
		return ErrNoLock
	}
	return fmt.Errorf("delete lock s3://%s/%s: %w", c.Bucket, l.Key, err)
}
