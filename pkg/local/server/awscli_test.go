package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odin-deploy/odin/pkg/local/access"
	"github.com/odin-deploy/odin/pkg/local/engine"
)

// awsCLI runs the AWS CLI (an independent client: botocore, not our SDK)
// against ep, or skips when it is not installed, unless ODIN_REQUIRE_AWSCLI=1.
func awsCLI(t *testing.T, ep access.Endpoint) func(args ...string) (string, error) {
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
	if testing.Short() {
		t.Skip("runs the AWS CLI a dozen times")
	}
	t.Parallel() // the CLI's start-up dominates; overlap it with the other CLI test
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
	must("s3", "cp", "s3://odin-releases/acct/proj/cfg/r1/release", "s3://odin-releases/acct/proj/copy/release") // CopyObject
	ls := must("s3", "ls", "s3://odin-releases/acct/proj/")
	if !strings.Contains(ls, "PRE cfg/") || !strings.Contains(ls, "PRE copy/") {
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

func TestAWSCLIStepFunctions(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the AWS CLI several times")
	}
	t.Parallel()
	s := newServer(t, Options{Functions: func(access.Endpoint) (*engine.Functions, error) {
		fns := engine.NewFunctions()
		fns.Register("greet", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			var v struct{ Who string }
			if err := json.Unmarshal(in, &v); err != nil {
				return nil, err
			}
			return json.Marshal(map[string]string{"greeting": "hello " + v.Who})
		})
		return fns, nil
	}})
	ep := s.Endpoint()
	aws := awsCLI(t, ep)
	must := func(v any, args ...string) {
		t.Helper()
		out, err := aws(args...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if v != nil {
			if err := json.Unmarshal([]byte(out), v); err != nil {
				t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
	}
	def := fmt.Sprintf(`{"StartAt":"Start","States":{
		"Start":{"Type":"Pass","Next":"Greet"},
		"Greet":{"Type":"Task","Resource":"arn:aws:lambda:%s:%s:function:greet","Next":"Done"},
		"Done":{"Type":"Succeed"}}}`, ep.Region, ep.Account)
	smFile := filepath.Join(t.TempDir(), "sm.json")
	if err := os.WriteFile(smFile, []byte(def), 0o600); err != nil {
		t.Fatal(err)
	}
	var sm struct{ StateMachineArn string }
	must(&sm, "stepfunctions", "create-state-machine", "--name", "hello", "--definition", "file://"+smFile,
		"--role-arn", "arn:aws:iam::"+ep.Account+":role/odin-local")
	var ex struct{ ExecutionArn string }
	must(&ex, "stepfunctions", "start-execution", "--state-machine-arn", sm.StateMachineArn, "--name", "run-1", "--input", `{"who":"odin"}`)

	var desc struct{ Status, Output string }
	for i := 0; ; i++ {
		must(&desc, "stepfunctions", "describe-execution", "--execution-arn", ex.ExecutionArn)
		if desc.Status != "RUNNING" || i == 20 {
			break
		}
		time.Sleep(100 * time.Millisecond) // polling a real execution, not asserting time
	}
	if desc.Status != "SUCCEEDED" || desc.Output != `{"greeting":"hello odin"}` {
		t.Fatalf("describe-execution: %+v", desc)
	}

	type event struct {
		ID              int64  `json:"id"`
		PreviousEventID int64  `json:"previousEventId"`
		Type            string `json:"type"`
	}
	var all struct{ Events []event }
	must(&all, "stepfunctions", "get-execution-history", "--execution-arn", ex.ExecutionArn, "--page-size", "4")
	n := len(all.Events)
	if n < 8 || all.Events[0].Type != "ExecutionStarted" || all.Events[n-1].Type != "ExecutionSucceeded" {
		t.Fatalf("history through 4-event pages: %+v", all.Events)
	}
	for i, e := range all.Events {
		if e.ID != int64(i+1) {
			t.Fatalf("event %d has id %d: ids must be contiguous from 1", i, e.ID)
		}
	}

	var page struct {
		Events    []event
		NextToken string
	}
	must(&page, "stepfunctions", "get-execution-history", "--execution-arn", ex.ExecutionArn, "--reverse-order", "--max-items", "3", "--page-size", "2")
	if len(page.Events) != 3 || page.Events[0].ID != int64(n) || page.Events[2].ID != int64(n-2) || page.NextToken == "" {
		t.Fatalf("first reverse page of 3: %+v", page)
	}
	var next struct{ Events []event }
	must(&next, "stepfunctions", "get-execution-history", "--execution-arn", ex.ExecutionArn, "--reverse-order", "--max-items", "3", "--page-size", "2", "--starting-token", page.NextToken)
	if len(next.Events) != 3 || next.Events[0].ID != int64(n-3) {
		t.Fatalf("second reverse page: %+v", next.Events)
	}
}

// A service the server lacks answers in that service's protocol: the AWS
// CLI shows the message, for a JSON service, a query one and a REST one.
func TestAWSCLIUnsupportedService(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the AWS CLI")
	}
	t.Parallel()
	s := newServer(t, Options{})
	aws := awsCLI(t, s.Endpoint())
	for _, args := range [][]string{
		{"dynamodb", "list-tables"},  // AWS JSON 1.0
		{"sns", "list-topics"},       // query
		{"lambda", "list-functions"}, // REST JSON
	} {
		out, err := aws(args...)
		if err == nil {
			t.Errorf("aws %s succeeded: %s", strings.Join(args, " "), out)
			continue
		}
		want := "(UnsupportedService) when calling the "
		if !strings.Contains(out, want) || !strings.Contains(out, "odin's local backend serves S3, Step Functions and STS only, not "+args[0]) {
			t.Errorf("aws %s: %s\nwant %q and the message", strings.Join(args, " "), out, want)
		}
	}
}
