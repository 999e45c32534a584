package awsprovider

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/deployer/awsprovider/awstest"
	"github.com/odin-deploy/odin/pkg/release"
	"github.com/odin-deploy/odin/pkg/testpeer/moto"
)

// nextAccount gives each test an account of its own on the shared moto
// server: moto keeps every account's resources apart, so tests need no reset.
var nextAccount atomic.Int64

func newAccount() string { return fmt.Sprintf("%012d", 300000000000+nextAccount.Add(1)) }

// env is one test's account on moto: admin clients to build fixtures and
// inspect what the provider did, and a provider that reaches the account
// through the target role, as the deployer does.
type env struct {
	t       *testing.T
	ctx     context.Context
	mt      *moto.Server
	account string
	admin   *Clients
	asg     *autoscaling.Client
	ec2     *ec2.Client
	elbv2   *elbv2.Client
	elb     *elb.Client
	iam     *iam.Client
	sns     *sns.Client
	// sessions is what the provider assumes roles with.
	sessions *Sessions
	provider *Provider
	fx       fixtures
}

// fixtures are the ids of what newEnv created, tagged for project "shop",
// config "prod", services "web" and "worker".
type fixtures struct {
	vpc, subnetA, subnetB, image, sgWeb, sgWorker, sgShared string
	tgWeb                                                   string // ARN
}

func newEnv(t *testing.T) *env {
	t.Helper()
	mt := moto.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, mt: mt, account: newAccount()}
	// The test's admin credentials in its account.
	a := awstest.Admin(mt.Config(), mt.URL, e.account)
	e.asg, e.ec2, e.elbv2, e.elb, e.iam, e.sns = a.ASG, a.EC2, a.ELBv2, a.ELB, a.IAM, a.SNS
	e.admin = &Clients{EC2: e.ec2, AutoScaling: e.asg, ELB: e.elb, ELBv2: e.elbv2, IAM: e.iam, SNS: e.sns}
	base := mt.Config()
	e.sessions = &Sessions{Base: base, Endpoint: mt.URL}
	e.provider = New(Options{Clients: e.sessions, PollInterval: 10 * time.Millisecond})
	fx, err := a.CreateShop(ctx)
	e.must(err, "create fixtures")
	e.fx = fixtures{vpc: fx.VPC, subnetA: fx.SubnetA, subnetB: fx.SubnetB, image: fx.Image, sgWeb: fx.SGWeb,
		sgWorker: fx.SGWorker, sgShared: fx.SGShared, tgWeb: fx.TargetGroup}
	return e
}

func (e *env) must(err error, doing string) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("%s: %v", doing, err)
	}
}

// deployment parses a release and describes it as the deployer would.
func (e *env) deployment(version, autoscalingExtra string) *deployer.Deployment {
	e.t.Helper()
	return e.deploymentOf(awstest.ShopRelease(e.account, version, autoscalingExtra))
}

func (e *env) deploymentOf(yaml string) *deployer.Deployment {
	e.t.Helper()
	f, err := release.Parse("release.yml", []byte(yaml))
	if err != nil {
		e.t.Fatalf("release: %v", err)
	}
	id := release.ReleaseID(f.SHA256)
	return &deployer.Deployment{
		ReleaseID: id, Project: f.Release.ProjectName, Config: f.Release.ConfigName,
		Account: e.account, Region: "us-east-1",
		Execution:  "arn:aws:states:us-east-1:000000000000:execution:odin-deployer:deploy-shop_prod_" + id,
		DeployedBy: "arn:aws:sts::000000000000:assumed-role/dev/alice@example.com",
		Bucket:     "odin-releases",
		Release:    f.Release, Started: time.Now().Add(-time.Second), Deadline: time.Now().Add(10 * time.Minute),
	}
}

// deploymentOfAccount is project shop's release v1 for account, without an
// env's fixtures.
func (e *env) deploymentOfAccount(account string) *deployer.Deployment {
	e.account = account
	return e.deployment("v1", "")
}

// groups lists the account's groups of project shop by release.
func (e *env) groups() map[string][]asgtypes.AutoScalingGroup {
	e.t.Helper()
	out, err := e.asg.DescribeAutoScalingGroups(e.ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	e.must(err, "describe groups")
	m := map[string][]asgtypes.AutoScalingGroup{}
	for _, g := range out.AutoScalingGroups {
		r, _ := asgTag(g, TagRelease)
		m[r] = append(m[r], g)
	}
	return m
}

// templates lists the account's launch templates by name.
func (e *env) templates() map[string]ec2types.LaunchTemplate {
	e.t.Helper()
	out, err := e.ec2.DescribeLaunchTemplates(e.ctx, &ec2.DescribeLaunchTemplatesInput{})
	e.must(err, "describe launch templates")
	m := map[string]ec2types.LaunchTemplate{}
	for _, lt := range out.LaunchTemplates {
		m[aws.ToString(lt.LaunchTemplateName)] = lt
	}
	return m
}

// untilHealthy runs Health until the release is healthy, as the deployer's
// loop does, and returns the last report.
func (e *env) untilHealthy(d *deployer.Deployment) *contract.Health {
	e.t.Helper()
	var hl *contract.Health
	for i := 0; i < 20; i++ {
		var err error
		hl, err = e.provider.Health(e.ctx, d)
		if err != nil {
			e.t.Fatalf("health: %v", err)
		}
		if hl.Healthy {
			return hl
		}
	}
	e.t.Fatalf("not healthy after 20 checks: %s", hl.Summary())
	return nil
}

func errContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q\ndoes not contain %q", err, p)
		}
	}
}
