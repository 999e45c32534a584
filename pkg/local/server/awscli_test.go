package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// awsCLI runs the AWS CLI (an independent client: botocore, not our SDK)
// against ep, or skips when it is not installed, unless ODIN_REQUIRE_AWSCLI=1.
func awsCLI(t *testing.T, ep Endpoint) func(args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("ODIN_REQUIRE_AWSCLI") == "1" {
			t.Fatal("ODIN_REQUIRE_AWSCLI=1 but the aws CLI is not on PATH")
		}
		t.Skip("the aws CLI is not on PATH")
	}
	home := t.TempDir()
	env := append(os.Environ(),
		"AWS_ENDPOINT_URL="+ep.URL,
		"AWS_ACCESS_KEY_ID="+ep.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+ep.SecretAccessKey,
		"AWS_DEFAULT_REGION="+ep.Region,
		"AWS_REGION="+ep.Region,
		"AWS_MAX_ATTEMPTS=1",
		"AWS_CONFIG_FILE="+filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"),
		"AWS_PAGER=",
	)
	return func(args ...string) (string, error) {
		cmd := exec.Command(bin, append(args, "--output", "json")...)
		cmd.Env = env
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		if err != nil {
			return out.String() + errOut.String(), err
		}
		return out.String(), nil
	}
}

func TestAWSCLIS3(t *testing.T) {
	s := newServer(t, Options{})
	aws := awsCLI(t, s.Endpoint())
	must := func(args ...string) string {
		t.Helper()
		out, err := aws(args...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "release.yml")
	body := bytes.Repeat([]byte("services: [web]\n"), 4096) // 64 KiB: several chunks if streamed
	if err := os.WriteFile(src, body, 0o600); err != nil {
		t.Fatal(err)
	}
	must("s3api", "create-bucket", "--bucket", "odin-releases")
	must("s3", "cp", src, "s3://odin-releases/acct/proj/cfg/r1/release")
	back := filepath.Join(dir, "back.yml")
	must("s3", "cp", "s3://odin-releases/acct/proj/cfg/r1/release", back)
	got, err := os.ReadFile(back)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("s3 cp round trip: %d bytes, %v", len(got), err)
	}
	// 9 MiB makes the CLI upload in parts and download in ranges.
	big := filepath.Join(dir, "big.bin")
	bigBody := bytes.Repeat([]byte("0123456789abcdef"), 9<<16)
	if err := os.WriteFile(big, bigBody, 0o600); err != nil {
		t.Fatal(err)
	}
	must("s3", "cp", big, "s3://odin-releases/artifacts/big.bin")
	must("s3", "cp", "s3://odin-releases/artifacts/big.bin", big+".back")
	if got, err := os.ReadFile(big + ".back"); err != nil || !bytes.Equal(got, bigBody) {
		t.Fatalf("multipart round trip: %d bytes, %v", len(got), err)
	}
	ls := must("s3", "ls", "s3://odin-releases/acct/proj/")
	if !strings.Contains(ls, "PRE cfg/") {
		t.Errorf("s3 ls:\n%s", ls)
	}

	// Checksums and conditional writes through botocore.
	sum := sha256.Sum256(body)
	want := base64.StdEncoding.EncodeToString(sum[:])
	must("s3api", "put-object", "--bucket", "odin-releases", "--key", "lock", "--body", src,
		"--if-none-match", "*", "--checksum-algorithm", "SHA256")
	out, err := aws("s3api", "put-object", "--bucket", "odin-releases", "--key", "lock", "--body", src, "--if-none-match", "*")
	if err == nil || !strings.Contains(out, "PreconditionFailed") {
		t.Errorf("second create-only put: %v\n%s", err, out)
	}
	var head struct{ ChecksumSHA256 string }
	if err := json.Unmarshal([]byte(must("s3api", "head-object", "--bucket", "odin-releases", "--key", "lock", "--checksum-mode", "ENABLED")), &head); err != nil {
		t.Fatal(err)
	}
	if head.ChecksumSHA256 != want {
		t.Errorf("head-object ChecksumSHA256 = %q, want %q", head.ChecksumSHA256, want)
	}
	must("s3", "rm", "s3://odin-releases/lock")

	// A wrong secret is refused.
	ep := s.Endpoint()
	ep.SecretAccessKey = "wrong-secret-wrong-secret-wrong-secret-x"
	bad := awsCLI(t, ep)
	if out, err := bad("s3api", "list-buckets"); err == nil || !strings.Contains(out, "SignatureDoesNotMatch") {
		t.Errorf("wrong secret: %v\n%s", err, out)
	}
}
