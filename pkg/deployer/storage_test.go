package deployer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// A moto server is the S3 the handler tests talk to: a real peer that
// implements conditional writes and deletes, which the lock depends on.
// (Switch to pkg/internal/moto once it lands.)
var motoOnce struct {
	sync.Once
	url string
	cmd *exec.Cmd
	err error
}

func motoURL(t *testing.T) string {
	t.Helper()
	motoOnce.Do(func() {
		bin, err := exec.LookPath("moto_server")
		if err != nil {
			motoOnce.err = err
			return
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			motoOnce.err = err
			return
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		logf, _ := os.CreateTemp("", "odin-deployer-moto-*.log")
		cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			motoOnce.err = err
			return
		}
		motoOnce.cmd = cmd
		url := "http://127.0.0.1:" + strconv.Itoa(port)
		for i := 0; i < 400; i++ {
			if resp, err := http.Get(url + "/moto-api/"); err == nil {
				resp.Body.Close()
				motoOnce.url = url
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		motoOnce.err = fmt.Errorf("moto did not start; log in %s", logf.Name())
	})
	if motoOnce.err != nil {
		if os.Getenv("ODIN_REQUIRE_MOTO") == "1" {
			t.Fatalf("moto: %v", motoOnce.err)
		}
		t.Skipf("moto is not available: %v", motoOnce.err)
	}
	return motoOnce.url
}

func stopMoto() {
	if motoOnce.cmd != nil {
		syscall.Kill(motoOnce.cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { motoOnce.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			motoOnce.cmd.Process.Kill()
		}
	}
}

// testBucket makes a fresh bucket on moto and returns a client for it.
func testBucket(t *testing.T) (*s3.Client, string) {
	t.Helper()
	ep := Endpoint{URL: motoURL(t), AccessKeyID: "test", SecretAccessKey: "test", Region: "us-east-1", Account: "123456789012"}
	c := ep.S3Client()
	bucket := fmt.Sprintf("odin-test-%d", time.Now().UnixNano())
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	return c, bucket
}

// upload stores a release the way `odin deploy` does and returns the
// execution input for it.
func upload(t *testing.T, c *s3.Client, bucket string, data []byte, releaseDir string) Input {
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
	in := Input{
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
