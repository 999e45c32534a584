package cmd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/release"
	"github.com/odin-deploy/odin/pkg/testpeer/moto"
)

// runAWS runs odin against an AWS-compatible endpoint with the SDK's own
// credential chain (the environment), as `--backend aws` does for real.
func runAWS(ctx context.Context, t *testing.T, endpoint string, args ...string) (int, string, string) {
	t.Helper()
	io, _, out, errOut := iostreams.Test()
	dir := t.TempDir()
	f := &Factory{
		IO:  io,
		Env: configEnv(dir),
		Now: time.Now,
	}
	base := []string{"--backend", "aws", "--endpoint", endpoint, "--region", moto.Region}
	code := Run(ctx, f, append(base, args...))
	return code, out.String(), errOut.String()
}

// startMoto starts moto and gives odin's AWS SDK chain its credentials and
// region from the environment alone (no shared config files), as a CI job
// would; the context bounds the test.
func startMoto(t *testing.T) (*moto.Server, context.Context) {
	t.Helper()
	mt := moto.Start(t)
	t.Setenv("AWS_ACCESS_KEY_ID", moto.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", moto.SecretAccessKey)
	t.Setenv("AWS_REGION", moto.Region)
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return mt, ctx
}

// End to end against moto, a Step Functions and S3 we did not write: odin
// deploy uploads the release with its SHA-256 and starts the deployer; odin
// status tails the execution to its end. moto's stand-in Lambda answers the
// deployer's tasks with queued results (the handler itself is tested on the
// local backend).
func TestDeployAndStatusOnMoto(t *testing.T) {
	mt, ctx := startMoto(t)

	bucket := "odin-" + moto.Account + "-" + moto.Region
	if _, err := mt.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	if _, err := deployer.EnsureStateMachine(ctx, mt.SFN(), moto.Region, moto.Account); err != nil {
		t.Fatal(err)
	}
	healthy := true
	state, _ := json.Marshal(deployer.State{WaitForDeploy: 1, WaitForHealthy: 1, Timeout: 60})
	done, _ := json.Marshal(deployer.State{WaitForDeploy: 1, WaitForHealthy: 1, Timeout: 60, Healthy: &healthy})
	// Validate, Lock, ValidateResources, Deploy, CheckHealthy, CleanUpSuccess, ReleaseLock.
	mt.QueueLambdaResults(t, string(state), string(state), string(state), string(state), string(done), string(done), string(done))

	file := "../examples/aws/release.yml"
	code, out, errOut := runAWS(ctx, t, mt.URL, "deploy", file, "--detach")
	if code != 0 {
		t.Fatalf("deploy exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "backend aws "+mt.URL+" · account "+moto.Account+" · region "+moto.Region) {
		t.Errorf("the first line does not say where the deploy goes:\n%s", errOut)
	}

	rel, err := release.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	id := release.ReleaseID(rel.SHA256)
	key := rel.Release.Root(moto.Account) + "/" + id + "/release"
	head, err := mt.S3().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumMode: s3types.ChecksumModeEnabled})
	if err != nil {
		t.Fatalf("release not uploaded to s3://%s/%s: %v", bucket, key, err)
	}
	sum := sha256.Sum256(rel.Bytes)
	if got, want := aws.ToString(head.ChecksumSHA256), base64.StdEncoding.EncodeToString(sum[:]); got != want {
		t.Errorf("uploaded checksum %q, want %q", got, want)
	}

	name := rel.Release.ExecutionName(id, 1)
	arn := "arn:aws:states:" + moto.Region + ":" + moto.Account + ":execution:" + deployer.StateMachineName + ":" + name
	d, err := mt.SFN().DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("execution %s not started: %v", name, err)
	}
	var in map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(d.Input)), &in); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"release_id": id, "release_key": key, "release_sha256": rel.SHA256, "bucket": bucket, "project_name": "payments"} {
		if in[k] != want {
			t.Errorf("input %s = %v, want %s", k, in[k], want)
		}
	}

	code, out, errOut = runAWS(ctx, t, mt.URL, "status", name, "--output", "plain")
	if code != 0 {
		t.Fatalf("status exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, step := range []string{"Validate", "Lock", "Deploy", "CheckHealthy", "ReleaseLock", "Success"} {
		if !strings.Contains(out, step) {
			t.Errorf("status output lacks step %s:\n%s", step, out)
		}
	}
}

// TestAccountRolesOnMoto deploys a release of another account through the
// role account-roles names for it: odin assumes the role (moto's STS), so
// the release lands in that account's bucket and starts that account's
// deployer, and the first line says so. status finds the execution by its
// ARN's account; without the role it looks in the caller's own account.
func TestAccountRolesOnMoto(t *testing.T) {
	mt, ctx := startMoto(t)

	const other = "222222222222"
	role := "arn:aws:iam::" + other + ":role/odin-deployer"
	cfg := mt.Config()
	cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(mt.STS(), role, func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = "setup" }))
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Account) != other {
		t.Fatalf("moto's assumed role is account %s (%v), want %s", aws.ToString(id.Account), err, other)
	}
	s3c, sfnc := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }), sfn.NewFromConfig(cfg)
	bucket := "odin-" + other + "-" + moto.Region
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	if _, err := deployer.EnsureStateMachine(ctx, sfnc, moto.Region, other); err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile("../examples/aws/release.yml")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "release.yml")
	// The example moved to the other account: its lifecycle role and topic move with it.
	if err := os.WriteFile(file, bytes.ReplaceAll(data, []byte(moto.Account), []byte(other)), 0o644); err != nil {
		t.Fatal(err)
	}
	roles := "--account-roles=" + other + "=" + role
	code, out, errOut := runAWS(ctx, t, mt.URL, roles, "deploy", file, "--detach")
	if code != 0 {
		t.Fatalf("deploy exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if want := "account " + other + " · region " + moto.Region + " · state machine " + deployer.StateMachineName + " · role " + role; !strings.Contains(errOut, want) {
		t.Errorf("the first line does not say %q:\n%s", want, errOut)
	}
	rel, err := release.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	rid := release.ReleaseID(rel.SHA256)
	key := rel.Release.Root(other) + "/" + rid + "/release"
	if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		t.Errorf("release not in s3://%s/%s: %v", bucket, key, err)
	}
	arn := "arn:aws:states:" + moto.Region + ":" + other + ":execution:" + deployer.StateMachineName + ":" + rel.Release.ExecutionName(rid, 1)
	d, err := sfnc.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("execution not started in account %s: %v", other, err)
	}
	var in contract.Input
	// The session is named for the caller the role was assumed from: moto's
	// test credentials are user/moto.
	want := "arn:aws:sts::" + other + ":assumed-role/odin-deployer/odin-moto"
	if err := json.Unmarshal([]byte(aws.ToString(d.Input)), &in); err != nil || in.DeployedBy != want {
		t.Errorf("deployed_by %q (%v), want %s", in.DeployedBy, err, want)
	}

	// The execution has no stand-in Lambda results in that account, so it
	// ends however moto ends it, maybe while status reads it: the exit code
	// must be the outcome's for the status DescribeExecution gives just
	// before or just after (README: 0 succeeded, 1 failed, 3 timed out,
	// 4 aborted, 5 still running), and what matters is that status reads it
	// there.
	outcome := func() int {
		t.Helper()
		d, err := sfnc.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		return map[sfntypes.ExecutionStatus]int{sfntypes.ExecutionStatusSucceeded: exitcode.OK, sfntypes.ExecutionStatusFailed: exitcode.Failed,
			sfntypes.ExecutionStatusTimedOut: exitcode.TimedOut, sfntypes.ExecutionStatusAborted: exitcode.Aborted,
			sfntypes.ExecutionStatusRunning: exitcode.Running}[d.Status]
	}
	before := outcome()
	code, out, errOut = runAWS(ctx, t, mt.URL, roles, "status", arn, "--no-follow", "--output", "json")
	after := outcome()
	if code != before && code != after || !strings.Contains(out, `"type":"start"`) || !strings.Contains(out, `"account":"`+other+`"`) || !strings.Contains(errOut, "account "+other) {
		t.Errorf("status by ARN with the role: exit %d, want %d (the execution's outcome), the deploy in account %s\nstdout:\n%s\nstderr:\n%s", code, after, other, out, errOut)
	}
	if code, _, errOut := runAWS(ctx, t, mt.URL, "status", arn, "--no-follow"); code != 2 || !strings.Contains(errOut, "no execution "+executionName(arn)+" in state machine "+deployer.StateMachineName+" (account "+other) ||
		!strings.Contains(errOut, "asked with account "+moto.Account+"'s credentials") {
		t.Errorf("status by ARN without the role: exit %d, want 2: no such execution in the caller's account\n%s", code, errOut)
	}
	if code, _, errOut := runAWS(ctx, t, mt.URL, "--account-roles", other+"=arn:aws:iam::333333333333:role/x", "status", arn); code != 2 || !strings.Contains(errOut, "is in account 333333333333, not "+other) {
		t.Errorf("a role listed under the wrong account: exit %d, want 2\n%s", code, errOut)
	}
}

// A target local release is refused on the aws backend before anything is
// uploaded: the deployer on AWS deploys target aws only.
func TestLocalReleaseRefusedOnAWSBackend(t *testing.T) {
	mt, ctx := startMoto(t)
	bucket := "odin-" + moto.Account + "-" + moto.Region
	if _, err := mt.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runAWS(ctx, t, mt.URL, "deploy", "../examples/hello/release.yml", "--detach")
	if code != 2 || !strings.Contains(errOut, "target local runs on this machine") {
		t.Fatalf("exit %d, want 2 with the reason\n%s", code, errOut)
	}
	list, err := mt.S3().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != 0 {
		t.Errorf("a refused release uploaded %d objects", len(list.Contents))
	}
}

// odin deploy warns once when the installed deployer (its state machine's
// odin:version tag) is of another minor version than this odin.
func TestDeployerVersionWarningOnMoto(t *testing.T) {
	mt, ctx := startMoto(t)
	bucket := "odin-" + moto.Account + "-" + moto.Region
	if _, err := mt.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	if _, err := mt.SFN().CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String(deployer.StateMachineName),
		Definition: aws.String(string(deployer.Definition(deployer.FunctionArn(moto.Region, moto.Account)))),
		RoleArn:    aws.String("arn:aws:iam::" + moto.Account + ":role/odin-deployer-states"),
		Tags:       []sfntypes.Tag{{Key: aws.String(VersionTag), Value: aws.String("v0.1.4")}},
	}); err != nil {
		t.Fatal(err)
	}
	defer func(v string) { version = v }(version)
	for _, tc := range []struct {
		cli  string
		warn bool
	}{{"v0.2.0", true}, {"v0.1.9", false}} {
		version = tc.cli
		code, out, errOut := runAWS(ctx, t, mt.URL, "deploy", "../examples/aws/release.yml", "--detach")
		if code != 0 {
			t.Fatalf("deploy: exit %d\n%s\n%s", code, out, errOut)
		}
		warned := strings.Count(errOut, "warning: the deployer is odin v0.1.4 and this odin is "+tc.cli)
		if (warned == 1) != tc.warn || warned > 1 {
			t.Errorf("odin %s against a v0.1.4 deployer warned %d times, want warn=%v:\n%s", tc.cli, warned, tc.warn, errOut)
		}
	}
}
