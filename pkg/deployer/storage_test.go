package deployer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/local/server"
	"github.com/odin-deploy/odin/pkg/testpeer/moto"
)

// testBucket makes a fresh bucket on moto and returns a client for it.
func testBucket(t *testing.T) (*s3.Client, string) {
	t.Helper()
	// moto is the S3 here: a real peer we did not write, with the
	// conditional writes and deletes the lock depends on.
	c := moto.Shared(t).S3()
	bucket := fmt.Sprintf("odin-test-%d", time.Now().UnixNano())
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	return c, bucket
}

// localBucket is a bucket on the local backend's own S3, served in-process.
func localBucket(t *testing.T) (*s3.Client, string) {
	t.Helper()
	srv, err := server.New(context.Background(), server.Options{DataDir: t.TempDir(), Region: "us-east-1", Account: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c := srv.Endpoint().S3Client()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(Bucket)}); err != nil {
		t.Fatal(err)
	}
	return c, Bucket
}

// upload stores a release the way `odin deploy` does and returns the
// execution input for it.
func upload(t *testing.T, c *s3.Client, bucket string, data []byte, releaseDir string) contract.Input {
	t.Helper()
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	id := "r-" + sha[:16]
	if releaseDir == "" {
		releaseDir = t.TempDir()
	}
	config := "test"
	if m := configName.FindSubmatch(data); m != nil {
		config = string(m[1])
	}
	in := contract.Input{
		ReleaseID: id, ProjectName: "hello", ConfigName: config, Target: "local",
		AWSAccountID: "123456789012", AWSRegion: "us-east-1", Bucket: bucket,
		ReleaseKey:    "123456789012/hello/" + config + "/" + id + "/release",
		ReleaseSHA256: sha, DeployedBy: "arn:aws:iam::123456789012:user/alice",
		CreatedAt: time.Now().UTC().Format(time.RFC3339), ReleaseDir: releaseDir,
	}
	if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(in.ReleaseKey), Body: bytes.NewReader(data),
		ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
	}); err != nil {
		t.Fatal(err)
	}
	return in
}

var configName = regexp.MustCompile(`(?m)^config_name: (\S+)$`)

func testExe(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Clean(exe)
}
