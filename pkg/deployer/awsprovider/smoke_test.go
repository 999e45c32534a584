package awsprovider

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/release"
)

// SmokeEnv turns on the smoke test against a real AWS account. It costs a
// few minutes of one small instance.
const SmokeEnv = "ODIN_AWS_SMOKE"

// TestSmokeRealAccount deploys a one-instance release to a real account,
// waits until it is healthy, and rolls it back, through the same provider
// the deployer runs. It needs, in the account of the SDK's default
// credentials (or ODIN_SMOKE_ACCOUNT, reached through the target role):
//
//	ODIN_AWS_SMOKE=1
//	ODIN_SMOKE_IMAGE            an AMI id or Name tag, tagged DeployWith=odin
//	ODIN_SMOKE_SUBNETS          comma-separated subnet ids or Name tags, tagged DeployWith=odin
//	ODIN_SMOKE_SECURITY_GROUP   a security group tagged ProjectName=odin-smoke,
//	                            ConfigName=smoke, ServiceName=web (or _all)
//	ODIN_SMOKE_INSTANCE_TYPE    default t3.micro
//	ODIN_SMOKE_ROLE             the target role's name, default odin-deployer-target
//	                            (its trust policy must let these credentials assume it)
//
// Run: ODIN_AWS_SMOKE=1 ODIN_SMOKE_IMAGE=... go test ./pkg/deployer/awsprovider -run TestSmokeRealAccount -v -timeout 20m
func TestSmokeRealAccount(t *testing.T) {
	if os.Getenv(SmokeEnv) != "1" {
		t.Skipf("a real AWS account is used only with %s=1 (see the test's doc comment)", SmokeEnv)
	}
	need := func(k string) string {
		v := os.Getenv(k)
		if v == "" {
			t.Fatalf("%s=1 needs %s", SmokeEnv, k)
		}
		return v
	}
	image, subnets, sg := need("ODIN_SMOKE_IMAGE"), need("ODIN_SMOKE_SUBNETS"), need("ODIN_SMOKE_SECURITY_GROUP")
	itype := os.Getenv("ODIN_SMOKE_INSTANCE_TYPE")
	if itype == "" {
		itype = "t3.micro"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 18*time.Minute)
	defer cancel()
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	account := os.Getenv("ODIN_SMOKE_ACCOUNT")
	if account == "" {
		account = aws.ToString(id.Account)
	}
	yaml := fmt.Sprintf(`project_name: odin-smoke
config_name: smoke
target: aws
aws_account_id: "%s"
aws_region: %s
timeout: 900
image: %s
subnets: [%s]
services:
  web:
    instance_type: %s
    security_groups: [%s]
    autoscaling: {min_size: 1}
    health_check: {grace_period: 120}
`, account, cfg.Region, image, subnets, itype, sg)
	f, err := release.Parse("smoke.yml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	d := &deployer.Deployment{
		ReleaseID: release.ReleaseID(f.SHA256), Project: "odin-smoke", Config: "smoke", Account: account, Region: cfg.Region,
		Execution: "odin-smoke-" + now.Format("20060102T150405"), DeployedBy: aws.ToString(id.Arn), Bucket: "odin-smoke",
		Release: f.Release, Started: now, Deadline: now.Add(15 * time.Minute),
	}
	p := New(Options{Clients: &Sessions{Base: cfg, RoleName: os.Getenv("ODIN_SMOKE_ROLE")}})
	t.Cleanup(func() {
		// Whatever happened, leave nothing behind.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if err := p.CleanUpFailure(ctx, d); err != nil {
			t.Errorf("clean up: %v (delete group %s by hand)", err, GroupName(d.Project, d.Config, "web", d.ReleaseID))
		}
	})
	if err := p.Validate(ctx, d); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if err := p.Deploy(ctx, d); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	for {
		hl, err := p.Health(ctx, d)
		if err != nil {
			t.Fatalf("health: %v", err)
		}
		t.Logf("health: %s", hl.Summary())
		if hl.Healthy {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("not healthy in time")
		case <-time.After(15 * time.Second):
		}
	}
	if err := p.CleanUpFailure(ctx, d); err != nil {
		t.Fatalf("roll back: %v", err)
	}
	if _, err := p.Health(ctx, d); err == nil || !strings.Contains(err.Error(), "no longer exists") {
		t.Errorf("after the rollback the group should be gone: %v", err)
	}
}
