package install

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/deployer/awsprovider"
	"github.com/odin-deploy/odin/pkg/testpeer/moto"
)

// The three stacks, created as `odin deployer install` would, on moto's own server (the
// launcher's execution mode keeps Step Functions apart from what CloudFormation creates).
//
// moto 5.2.1 creates every resource of the templates but applies only part of them; what it
// drops is checked by the golden files and cfn-lint only:
//   - AWS::S3::Bucket: BucketName and BucketEncryption applied; VersioningConfiguration,
//     PublicAccessBlockConfiguration and OwnershipControls ignored.
//   - AWS::S3::BucketPolicy, AWS::CloudWatch::Alarm: not supported; skipped without error.
//   - AWS::Lambda::Function: Architectures (x86_64 stays), LoggingConfig and Tags ignored.
//   - AWS::StepFunctions::StateMachine: StateMachineType and DefinitionSubstitutions ignored.
//   - AWS::IAM::Role: inline policies come back from GetRolePolicy as Python's repr of the
//     document, not as URL-encoded JSON.
func TestStacksOnMoto(t *testing.T) {
	t.Parallel()
	s := moto.StartPlain(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := s.Config()

	bucketStack := createStack(ctx, t, cloudformation.NewFromConfig(cfg), BucketStack, BucketTemplate(), nil)
	bucket := bucketStack["BucketName"]
	if want := "odin-" + moto.Account + "-" + moto.Region; bucket != want {
		t.Fatalf("bucket %q, want the default name %q", bucket, want)
	}
	s3c := s.S3()
	if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("the bucket: %v", err)
	}
	enc, err := s3c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(bucket)})
	if err != nil || enc.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != "AES256" {
		t.Errorf("bucket encryption: %v", err)
	}

	const codeKey = "odin/v1.2.3/deployer.zip"
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(codeKey), Body: bytes.NewReader(lambdaZip(t))}); err != nil {
		t.Fatal(err)
	}
	out := createStack(ctx, t, cloudformation.NewFromConfig(cfg), DeployerStack, DeployerTemplate(), map[string]string{
		"BucketName": bucket, "CodeKey": codeKey, "Version": "v1.2.3", "LogRetentionDays": "30",
		"AlarmTopicArn": "arn:aws:sns:us-east-1:" + moto.Account + ":odin-alarms",
	})
	functionArn := deployer.FunctionArn(moto.Region, moto.Account)
	functionRole := "arn:aws:iam::" + moto.Account + ":role/" + FunctionRoleName
	wantOut := map[string]string{
		"StateMachineArn":  "arn:aws:states:us-east-1:" + moto.Account + ":stateMachine:" + deployer.StateMachineName,
		"StateMachineName": deployer.StateMachineName,
		"FunctionArn":      functionArn,
		"FunctionRoleArn":  functionRole,
		"BucketName":       bucket,
		"Version":          "v1.2.3",
	}
	if !reflect.DeepEqual(out, wantOut) {
		t.Errorf("deployer stack outputs:\n got %v\nwant %v", out, wantOut)
	}

	fn, err := lambda.NewFromConfig(cfg).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(deployer.FunctionName)})
	if err != nil {
		t.Fatalf("the function: %v", err)
	}
	c := fn.Configuration
	if c.Runtime != lambdatypes.RuntimeProvidedal2023 || aws.ToString(c.Handler) != "bootstrap" || aws.ToInt32(c.MemorySize) != 512 ||
		aws.ToInt32(c.Timeout) != 900 || aws.ToString(c.Role) != functionRole || aws.ToString(c.FunctionArn) != functionArn {
		t.Errorf("function: runtime %s handler %s memory %d timeout %d role %s arn %s", c.Runtime, aws.ToString(c.Handler),
			aws.ToInt32(c.MemorySize), aws.ToInt32(c.Timeout), aws.ToString(c.Role), aws.ToString(c.FunctionArn))
	}
	if env := c.Environment.Variables; env["ODIN_TARGET_ROLE"] != awsprovider.DefaultRoleName || env["ODIN_VERSION"] != "v1.2.3" {
		t.Errorf("function environment %v", env)
	}
	// moto leaves Architectures at x86_64; TestDeployerTemplate
	// checks that the template asks for arm64.

	sm, err := sfn.NewFromConfig(cfg).DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(out["StateMachineArn"])})
	if err != nil {
		t.Fatalf("the state machine: %v", err)
	}
	if aws.ToString(sm.Definition) != string(deployer.Definition(functionArn)) {
		t.Errorf("the state machine's definition is not deployer.Definition(%s):\n%s", functionArn, aws.ToString(sm.Definition))
	}
	if want := "arn:aws:iam::" + moto.Account + ":role/" + StatesRoleName; aws.ToString(sm.RoleArn) != want {
		t.Errorf("state machine role %s, want %s", aws.ToString(sm.RoleArn), want)
	}

	groups, err := cloudwatchlogs.NewFromConfig(cfg).DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(LogGroupName)})
	if err != nil || len(groups.LogGroups) != 1 || aws.ToInt32(groups.LogGroups[0].RetentionInDays) != 30 {
		t.Errorf("log group %s with 30 days' retention: %v %+v", LogGroupName, err, groups)
	}

	ownIAM := iam.NewFromConfig(cfg)
	checkRole(ctx, t, ownIAM, FunctionRoleName, servicePrincipal("lambda.amazonaws.com"), functionPolicy(bucket))
	checkRole(ctx, t, ownIAM, StatesRoleName, servicePrincipal("states.amazonaws.com"), awsprovider.Policy{
		Version: "2012-10-17",
		Statement: []awsprovider.Statement{{Sid: "InvokeFunction", Effect: "Allow", Action: []string{"lambda:InvokeFunction"},
			Resource: []string{functionArn, functionArn + ":*"}}},
	})

	// The target account: moto puts the keys of a role it assumes in the role's account.
	const targetAccount = "222222222222"
	target := cfg.Copy()
	target.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), "arn:aws:iam::"+targetAccount+":role/admin"))
	out = createStack(ctx, t, cloudformation.NewFromConfig(target), TargetStack, TargetTemplate(), map[string]string{"DeployerAccount": moto.Account})
	if want := "arn:aws:iam::" + targetAccount + ":role/" + awsprovider.DefaultRoleName; out["RoleArn"] != want {
		t.Errorf("target role %s, want %s", out["RoleArn"], want)
	}
	checkRole(ctx, t, iam.NewFromConfig(target), awsprovider.DefaultRoleName, awsprovider.TrustPolicy("arn:aws:iam::"+moto.Account+":root", functionRole), awsprovider.TargetPolicy("aws"))
	if _, err := ownIAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(awsprovider.DefaultRoleName)}); err == nil {
		t.Errorf("the target role was created in the deployer's account too")
	}
}

// functionPolicy is what the deployer function may do, as the template says it for bucket
// in moto's account and Region.
func functionPolicy(bucket string) awsprovider.Policy {
	allow := func(sid, resource string, actions ...string) awsprovider.Statement {
		return awsprovider.Statement{Sid: sid, Effect: "Allow", Action: actions, Resource: resource}
	}
	return awsprovider.Policy{
		Version: "2012-10-17",
		Statement: []awsprovider.Statement{
			allow("ReleaseObjects", "arn:aws:s3:::"+bucket+"/*", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"),
			allow("ReleasesBucket", "arn:aws:s3:::"+bucket, "s3:ListBucket"),
			allow("OwnExecutions", "arn:aws:states:us-east-1:"+moto.Account+":execution:odin-deployer:*", "states:DescribeExecution"),
			allow("TargetAccounts", "arn:aws:iam::*:role/"+awsprovider.DefaultRoleName, "sts:AssumeRole", "sts:SetSourceIdentity"),
			allow("Logs", "arn:aws:logs:us-east-1:"+moto.Account+":log-group:"+LogGroupName+":*", "logs:CreateLogStream", "logs:PutLogEvents"),
		},
	}
}

// createStack creates a stack, waits until it is complete and returns its outputs.
func createStack(ctx context.Context, t *testing.T, cf *cloudformation.Client, name string, body []byte, params map[string]string) map[string]string {
	t.Helper()
	in := &cloudformation.CreateStackInput{
		StackName:    aws.String(name),
		TemplateBody: aws.String(string(body)),
		Capabilities: []cftypes.Capability{cftypes.CapabilityCapabilityNamedIam},
	}
	for k, v := range params {
		in.Parameters = append(in.Parameters, cftypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v)})
	}
	if _, err := cf.CreateStack(ctx, in); err != nil {
		t.Fatalf("create stack %s: %v", name, err)
	}
	w := cloudformation.NewStackCreateCompleteWaiter(cf, func(o *cloudformation.StackCreateCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	})
	d, err := w.WaitForOutput(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)}, 30*time.Second)
	if err != nil {
		t.Fatalf("stack %s: %v", name, err)
	}
	out := map[string]string{}
	for _, o := range d.Stacks[0].Outputs {
		out[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return out
}

// checkRole checks that role exists with trust policy trust and one inline policy,
// odin-deployer, equal to inline.
func checkRole(ctx context.Context, t *testing.T, c *iam.Client, role string, trust, inline awsprovider.Policy) {
	t.Helper()
	r, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)})
	if err != nil {
		t.Errorf("role %s: %v", role, err)
		return
	}
	samePolicy(t, role+" trust policy", aws.ToString(r.Role.AssumeRolePolicyDocument), trust)
	names, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(role)})
	if err != nil || !reflect.DeepEqual(names.PolicyNames, []string{"odin-deployer"}) {
		t.Errorf("role %s inline policies: %v %v; want [odin-deployer]", role, names, err)
		return
	}
	p, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String("odin-deployer")})
	if err != nil {
		t.Errorf("role %s policy: %v", role, err)
		return
	}
	samePolicy(t, role+" policy", aws.ToString(p.PolicyDocument), inline)
}

func samePolicy(t *testing.T, what, doc string, want awsprovider.Policy) {
	t.Helper()
	var got, w any
	if err := json.Unmarshal([]byte(policyJSON(doc)), &got); err != nil {
		t.Errorf("%s: %v in %s", what, err, doc)
		return
	}
	json.Unmarshal(want.JSON(), &w)
	if !reflect.DeepEqual(got, w) {
		g, _ := json.MarshalIndent(got, "", "  ")
		t.Errorf("%s:\n%s\nwant\n%s", what, g, want.JSON())
	}
}

// policyJSON is a policy document as IAM returns it (URL-encoded JSON) made JSON. moto
// 5.2.1 returns the inline policies of roles that CloudFormation created as Python's repr
// of the document; none of odin's documents holds a quote or a boolean, so swapping the
// quotes makes that JSON too.
func policyJSON(doc string) string {
	if d, err := url.PathUnescape(doc); err == nil {
		doc = d
	}
	if strings.HasPrefix(doc, "{'") {
		doc = strings.ReplaceAll(doc, "'", `"`)
	}
	return doc
}

// lambdaZip is a function package: a bootstrap that moto never runs.
func lambdaZip(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	w, err := z.Create("bootstrap")
	if err == nil {
		_, err = w.Write([]byte("#!/bin/sh\nexit 1\n"))
	}
	if err == nil {
		err = z.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
