package localbackend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/deploy"
	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/local/access"
	"github.com/odin-deploy/odin/pkg/local/server"
	"github.com/odin-deploy/odin/pkg/local/store"
)

// releaseOrphanedLocks lets go of the deploy locks whose execution this
// start lost or failed. A deploy's execution that the backend failed on
// start (what it needed was in the damaged bytes, or the server died in it
// twice) never reaches its own ReleaseLockFailure, and one whose record was
// lost no longer exists: either way nothing will release its lock, and
// `odin unlock` or the next deploy's takeover would be the user's chore.
// A lock of an execution that ended otherwise (aborted, timed out) is left
// for `odin unlock`, as documented. The delete is conditional on the lock
// read, so a lock taken meanwhile is never removed.
func releaseOrphanedLocks(ctx context.Context, ep access.Endpoint, dataDir string, log *slog.Logger, r server.Recovered) {
	s3c := ep.S3Client()
	c := &deploy.Client{Storage: s3c, Executions: ep.SFNClient(), Bucket: deployer.Bucket, Account: ep.Account, Region: ep.Region}
	keys, err := lockKeys(ctx, s3c)
	if err != nil {
		log.Error("list the deploy locks after a recovery; `odin unlock` clears one whose execution no longer runs", "err", err)
		return
	}
	for _, key := range keys {
		parts := strings.Split(key, "/") // account/project/config/lock
		l, err := c.ReadLock(ctx, parts[0], parts[1], parts[2])
		if errors.Is(err, deploy.ErrNoLock) {
			continue
		}
		if err != nil {
			log.Error("read a deploy lock after a recovery", "key", key, "err", err)
			continue
		}
		why := ""
		if slices.Contains(r.Failed, l.Execution) {
			why = "its execution was failed on start instead of resumed"
		} else if r.Report.Lost() && l.Execution != "" {
			_, err := c.Executions.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(l.Execution)})
			var gone *sfntypes.ExecutionDoesNotExist
			if errors.As(err, &gone) {
				why = "its execution was lost with the damaged journal"
			}
		}
		if why == "" {
			continue
		}
		if err := c.Unlock(ctx, l); err != nil {
			log.Error("release a deploy lock whose execution no longer runs; `odin unlock` clears it", "key", key, "execution", l.Execution, "err", err)
			continue
		}
		action := fmt.Sprintf("released the deploy lock s3://%s/%s of release %s: %s (%s)", deployer.Bucket, key, l.ReleaseID, why, l.Execution)
		log.Warn(action)
		if err := store.NoteRecovery(filepath.Join(dataDir, "sfn"), time.Now(), action); err != nil {
			log.Error("note the released lock in the recovery report", "err", err)
		}
	}
}

// lockKeys lists the deploy locks in the releases bucket.
func lockKeys(ctx context.Context, s3c *s3.Client) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(s3c, &s3.ListObjectsV2Input{Bucket: aws.String(deployer.Bucket)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range out.Contents {
			key := aws.ToString(o.Key)
			if parts := strings.Split(key, "/"); len(parts) == 4 && parts[3] == "lock" {
				keys = append(keys, key)
			}
		}
	}
	return keys, nil
}
