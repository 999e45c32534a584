package cmd

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/deployer/awsprovider/awstest"
	"github.com/odin-deploy/odin/pkg/deployer/install"
	"github.com/odin-deploy/odin/pkg/deployer/lambdazip"
	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/testpeer/moto"
)

// fakeArm64 writes a file that is an ELF executable for linux/arm64 as far
// as its header goes (what the packager checks), with tag making the bytes,
// hence the zip's digest, differ between "builds".
func fakeArm64(t *testing.T, tag string) string {
	t.Helper()
	h := make([]byte, 64)
	copy(h, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1})
	binary.LittleEndian.PutUint16(h[16:], 2)   // ET_EXEC
	binary.LittleEndian.PutUint16(h[18:], 183) // EM_AARCH64
	binary.LittleEndian.PutUint32(h[20:], 1)
	binary.LittleEndian.PutUint16(h[52:], 64) // ehsize
	binary.LittleEndian.PutUint16(h[54:], 56) // phentsize
	binary.LittleEndian.PutUint16(h[58:], 64) // shentsize
	path := filepath.Join(t.TempDir(), "odin")
	if err := os.WriteFile(path, append(h, []byte("odin "+tag)...), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// outcomeOf is the last JSON line of an install's output.
func outcomeOf(t *testing.T, out string) map[string]any {
	t.Helper()
	var last map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["type"] == "outcome" {
			last = m
		}
	}
	if last == nil {
		t.Fatalf("no outcome line in:\n%s", out)
	}
	return last
}

// odin deployer install, upgrade, status and uninstall against a plain moto
// server, whose CloudFormation creates the S3, IAM, Lambda, Logs and Step
// Functions resources; then a deploy starts the installed state machine.
func TestDeployerInstallOnMoto(t *testing.T) {
	if testing.Short() {
		t.Skip("runs moto's CloudFormation")
	}
	mt := moto.StartPlain(t)
	t.Setenv("AWS_ACCESS_KEY_ID", moto.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", moto.SecretAccessKey)
	t.Setenv("AWS_REGION", moto.Region)
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := mt.Config()
	ep := func(o *string) *string { return aws.String(mt.URL) }
	cf := cloudformation.NewFromConfig(cfg, func(o *cloudformation.Options) { o.BaseEndpoint = ep(nil) })
	lam := lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = ep(nil) })
	states := sfn.NewFromConfig(cfg, func(o *sfn.Options) { o.BaseEndpoint = ep(nil) })
	run := func(want int, args ...string) string {
		t.Helper()
		start := time.Now()
		code, out, errOut := runAWS(ctx, t, mt.URL, append([]string{"deployer"}, args...)...)
		t.Logf("odin deployer %s: exit %d in %s", strings.Join(args, " "), code, time.Since(start).Round(time.Millisecond))
		if code != want {
			t.Fatalf("odin deployer %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
		}
		return out
	}
	codeSha := func(bin string) string {
		zip, _, _, err := lambdazip.Build(ctx, lambdazip.Source{Binary: bin})
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(zip)
		return base64.StdEncoding.EncodeToString(sum[:])
	}
	function := func() *lambda.GetFunctionOutput {
		t.Helper()
		out, err := lam.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(deployer.FunctionName)})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	// A binary that cannot be the function is a bad argument, and nothing
	// reaches AWS.
	x86 := filepath.Join(t.TempDir(), "odin")
	if err := os.WriteFile(x86, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	run(2, "install", "--binary", x86)
	if stacks, _ := cf.ListStacks(ctx, &cloudformation.ListStacksInput{}); len(stacks.StackSummaries) != 0 {
		t.Errorf("a refused binary left %d stacks", len(stacks.StackSummaries))
	}

	// A dry run of the first install changes nothing.
	v1, v2 := fakeArm64(t, "v1"), fakeArm64(t, "v2")
	if o := outcomeOf(t, run(0, "install", "--binary", v1, "--dry-run", "--output", "json")); o["status"] != "DRY_RUN" {
		t.Errorf("dry run outcome %v", o)
	}
	stacks, err := cf.ListStacks(ctx, &cloudformation.ListStacksInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stacks.StackSummaries {
		if s.StackStatus != "DELETE_COMPLETE" && s.StackStatus != "REVIEW_IN_PROGRESS" {
			t.Errorf("the dry run left stack %s %s", aws.ToString(s.StackName), s.StackStatus)
		}
	}

	// Install: the stacks, their outputs and resources; a custom log
	// retention that later upgrades keep.
	out := run(0, "install", "--binary", v1, "--log-retention", "30", "--output", "json")
	if o := outcomeOf(t, out); o["status"] != "SUCCEEDED" {
		t.Fatalf("install outcome %v", o)
	}
	if !strings.Contains(out, `"type":"event"`) || !strings.Contains(out, "CREATE_COMPLETE") {
		t.Errorf("install showed no stack events:\n%s", out)
	}
	fn := function()
	if got, want := aws.ToString(fn.Configuration.CodeSha256), codeSha(v1); got != want {
		t.Errorf("function code sha256 %s, want the uploaded zip's %s", got, want)
	}
	smArn := "arn:aws:states:" + moto.Region + ":" + moto.Account + ":stateMachine:" + deployer.StateMachineName
	sm, err := states.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(smArn)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(sm.Definition), string(deployer.Definition(aws.ToString(fn.Configuration.FunctionArn))); got != want {
		t.Errorf("the installed definition differs from odin deployer definition:\n%s\nwant:\n%s", got, want)
	}
	bucket := "odin-" + moto.Account + "-" + moto.Region
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = ep(nil); o.UsePathStyle = true })
	if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("the releases bucket %s: %v", bucket, err)
	}

	// Again, unchanged.
	before, _ := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(install.DeployerStack)})
	if o := outcomeOf(t, run(0, "install", "--binary", v1, "--output", "json")); o["status"] != "UNCHANGED" {
		t.Errorf("second install outcome %v, want UNCHANGED", o)
	}
	after, _ := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(install.DeployerStack)})
	if !aws.ToTime(before.Stacks[0].LastUpdatedTime).Equal(aws.ToTime(after.Stacks[0].LastUpdatedTime)) || before.Stacks[0].StackStatus != after.Stacks[0].StackStatus {
		t.Errorf("the second install changed the stack: %s -> %s", before.Stacks[0].StackStatus, after.Stacks[0].StackStatus)
	}

	// A dry run of an upgrade shows the change and makes none; the upgrade does.
	out = run(0, "upgrade", "--binary", v2, "--dry-run")
	if !strings.Contains(out, "param   CodeKey") || strings.Contains(out, "odin-deployer: no changes") {
		t.Errorf("dry run of an upgrade does not show the function's new code:\n%s", out)
	}
	if got := aws.ToString(function().Configuration.CodeSha256); got != codeSha(v1) {
		t.Errorf("the dry run changed the function's code")
	}
	// Code planted at the key the upgrade will use is refused, not run.
	planted, _, _, err := lambdazip.Build(ctx, lambdazip.Source{Binary: v2})
	if err != nil {
		t.Fatal(err)
	}
	key := install.Code{Zip: planted}.Key()
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("#!/bin/sh\necho pwned\n")}); err != nil {
		t.Fatal(err)
	}
	if out := run(1, "upgrade", "--binary", v2, "--output", "plain"); !strings.Contains(out, "holds other bytes than this odin's function code") {
		t.Errorf("planted code was not refused:\n%s", out)
	}
	if got := aws.ToString(function().Configuration.CodeSha256); got != codeSha(v1) {
		t.Errorf("the planted code reached the function")
	}
	if _, err := s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		t.Fatal(err)
	}

	run(0, "upgrade", "--binary", v2, "--output", "plain")
	if got, want := aws.ToString(function().Configuration.CodeSha256), codeSha(v2); got != want {
		t.Errorf("after the upgrade the code sha256 is %s, want %s", got, want)
	}
	// The upgrade kept what the install was given.
	ds, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(install.DeployerStack)})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ds.Stacks[0].Parameters {
		if aws.ToString(p.ParameterKey) == "LogRetentionDays" && aws.ToString(p.ParameterValue) != "30" {
			t.Errorf("the upgrade reset LogRetentionDays to %s", aws.ToString(p.ParameterValue))
		}
	}

	// The target role in another account, through an assumed role.
	const target = "222222222222"
	out = run(0, "install", "--target", "--deployer-account", moto.Account, "--assume-role", "arn:aws:iam::"+target+":role/admin", "--output", "plain")
	if !strings.Contains(out, "odin-deployer-target") {
		t.Errorf("the target install shows no events of its stack:\n%s", out)
	}
	role, err := awstest.Admin(cfg, mt.URL, target).IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("odin-deployer-target")})
	if err != nil {
		t.Fatalf("the target role in account %s: %v", target, err)
	}
	if doc := aws.ToString(role.Role.AssumeRolePolicyDocument); !strings.Contains(doc, moto.Account) {
		t.Errorf("the target role does not trust the deployer's account: %s", doc)
	}

	// A deploy with the installed names starts the installed state machine
	// (moto does not run the Lambda's code: starting and being visible is the check).
	code, dout, derr := runAWS(ctx, t, mt.URL, "deploy", "../examples/aws/release.yml", "--detach")
	if code != 0 {
		t.Fatalf("deploy: exit %d\n%s\n%s", code, dout, derr)
	}
	list, err := states.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smArn)})
	if err != nil || len(list.Executions) != 1 {
		t.Fatalf("executions of the installed state machine: %v, %v", list, err)
	}
	name := aws.ToString(list.Executions[0].Name)
	// Plain moto answers GetExecutionHistory with a canned history that
	// ends in success, so status exits 0, the outcome's code.
	code, sout, serr := runAWS(ctx, t, mt.URL, "status", name, "--no-follow", "--output", "plain")
	if code != exitcode.OK || !strings.Contains(sout, "payments/production release r-") || !strings.Contains(serr, "state machine odin-deployer") {
		t.Errorf("odin status of the started deploy: exit %d\n%s\n%s", code, sout, serr)
	}

	if out := run(0, "status"); !strings.Contains(out, install.DeployerStack) || !strings.Contains(out, "UPDATE_COMPLETE") {
		t.Errorf("deployer status:\n%s", out)
	}

	// Uninstall removes the stacks and keeps the bucket, and says so.
	out = run(0, "uninstall", "--yes", "--output", "plain")
	if !strings.Contains(out, "kept s3://"+bucket) {
		t.Errorf("uninstall does not say it kept the bucket:\n%s", out)
	}
	if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Errorf("uninstall removed the releases bucket: %v", err)
	}
	if _, err := lam.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(deployer.FunctionName)}); err == nil {
		t.Errorf("the function survived the uninstall")
	}
	if _, err := states.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(smArn)}); err == nil {
		t.Errorf("the state machine survived the uninstall")
	}
	if out := run(1, "status"); !strings.Contains(out, "NOT_INSTALLED") || !strings.Contains(out, install.Retained) {
		t.Errorf("status after the uninstall:\n%s", out)
	}

	// Installed again, the deployer uses the kept bucket as it is (a bucket
	// stack would fail: CloudFormation cannot create a bucket that exists).
	out = run(0, "install", "--binary", v2, "--output", "plain")
	if !strings.Contains(out, install.BucketStack+" "+install.Retained) {
		t.Errorf("the reinstall does not say it used the kept bucket:\n%s", out)
	}
	if got, want := aws.ToString(function().Configuration.CodeSha256), codeSha(v2); got != want {
		t.Errorf("after the reinstall the code sha256 is %s, want %s", got, want)
	}
}
