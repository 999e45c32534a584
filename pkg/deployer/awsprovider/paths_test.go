package awsprovider

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/testpeer/moto"
)

// The provider acts in the release's account through the role it assumes
// there, named for the execution and carrying who deployed; the deployer's
// own account gets nothing.
func TestCrossAccount(t *testing.T) {
	e := newEnv(t)
	d := e.deployment("v1", "")
	if d.Account == moto.Account {
		t.Fatal("the test's account must differ from the deployer's")
	}
	id, err := sts.NewFromConfig(e.sessions.Config(Session{Account: d.Account, Region: d.Region, Execution: d.Execution, DeployedBy: d.DeployedBy}),
		func(o *sts.Options) { o.BaseEndpoint = aws.String(e.mt.URL) }).GetCallerIdentity(e.ctx, &sts.GetCallerIdentityInput{})
	e.must(err, "get caller identity as the target role")
	wantArn := "arn:aws:sts::" + d.Account + ":assumed-role/" + DefaultRoleName + "/deploy-shop_prod_" + d.ReleaseID
	if aws.ToString(id.Arn) != wantArn {
		t.Errorf("the provider acts as %s, want %s", aws.ToString(id.Arn), wantArn)
	}
	if err := e.provider.Deploy(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	if n := len(e.groups()[d.ReleaseID]); n != 2 {
		t.Fatalf("account %s has %d groups of the release, want 2", d.Account, n)
	}
	// The deployer's own account (moto's default) has none of it.
	home := autoscaling.NewFromConfig(e.mt.Config(), func(o *autoscaling.Options) { o.BaseEndpoint = aws.String(e.mt.URL) })
	out, err := home.DescribeAutoScalingGroups(e.ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	e.must(err, "describe groups in the deployer's account")
	for _, g := range out.AutoScalingGroups {
		if r, _ := asgTag(g, TagRelease); r == d.ReleaseID {
			t.Errorf("group %s was created in the deployer's account", aws.ToString(g.AutoScalingGroupName))
		}
	}
	lts, err := ec2.NewFromConfig(e.mt.Config(), func(o *ec2.Options) { o.BaseEndpoint = aws.String(e.mt.URL) }).
		DescribeLaunchTemplates(e.ctx, &ec2.DescribeLaunchTemplatesInput{})
	e.must(err, "describe templates in the deployer's account")
	for _, lt := range lts.LaunchTemplates {
		if strings.Contains(aws.ToString(lt.LaunchTemplateName), d.ReleaseID) {
			t.Errorf("launch template %s was created in the deployer's account", aws.ToString(lt.LaunchTemplateName))
		}
	}
}

// A Deploy run again (a retried task) adopts what the first created, also
// when it stopped between the template and the group.
func TestRedeployAdopts(t *testing.T) {
	e := newEnv(t)
	d := e.deployment("v1", "")
	if err := e.provider.Deploy(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	before := e.groups()[d.ReleaseID]
	if err := e.provider.Deploy(e.ctx, d); err != nil {
		t.Fatalf("second deploy: %v", err)
	}
	after := e.groups()[d.ReleaseID]
	if len(before) != 2 || len(after) != 2 {
		t.Fatalf("groups before %d, after %d; want 2 and 2", len(before), len(after))
	}
	for i := range before {
		if !aws.ToTime(before[i].CreatedTime).Equal(aws.ToTime(after[i].CreatedTime)) {
			t.Errorf("group %s was created again", aws.ToString(after[i].AutoScalingGroupName))
		}
	}
	// A Deploy that died after its template: the group is created then,
	// pinned to the template that exists.
	web := GroupName("shop", "prod", "web", d.ReleaseID)
	_, err := e.asg.DeleteAutoScalingGroup(e.ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String(web), ForceDelete: aws.Bool(true)})
	e.must(err, "delete web group")
	if err := e.provider.Deploy(e.ctx, d); err != nil {
		t.Fatalf("deploy after losing a group: %v", err)
	}
	if n := len(e.groups()[d.ReleaseID]); n != 2 {
		t.Errorf("%d groups, want 2", n)
	}
	if n := len(e.templates()); n != 2 {
		t.Errorf("%d launch templates, want 2 (adopted, not created again)", n)
	}
	e.untilHealthy(d)

	// A group of that name that is not this release's is never adopted.
	other := e.deployment("v2", "")
	_, err = e.asg.CreateAutoScalingGroup(e.ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(GroupName("shop", "prod", "web", other.ReleaseID)),
		MinSize:              aws.Int32(0), MaxSize: aws.Int32(0),
		LaunchTemplate:    &asgtypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String(web)},
		VPCZoneIdentifier: aws.String(e.fx.subnetA),
	})
	e.must(err, "create a squatting group")
	err = e.provider.Deploy(e.ctx, other)
	var de *deployer.DeployError
	if !errors.As(err, &de) {
		t.Fatalf("deploy over a foreign group: %v, want a DeployError", err)
	}
	errContains(t, err, "exists but is not release "+other.ReleaseID+"'s")
}

// The unhealthy paths moto can drive: each instance says why it is not
// healthy, and the service stops counting it.
func TestUnhealthyInstances(t *testing.T) {
	e := newEnv(t)
	d := e.deployment("v1", ", max_terms: 1")
	if err := e.provider.Deploy(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	hl := e.untilHealthy(d)
	ids := []string{hl.Services["web"].Instances[0].ID, hl.Services["web"].Instances[1].ID}
	state := func(hl *contract.Health, id string) contract.Instance {
		for _, in := range hl.Services["web"].Instances {
			if in.ID == id {
				return in
			}
		}
		t.Fatalf("instance %s not in the report: %+v", id, hl.Services["web"])
		return contract.Instance{}
	}
	check := func(id, wantState string, wantReason ...string) *contract.Health {
		t.Helper()
		hl, err := e.provider.Health(e.ctx, d)
		if err != nil {
			t.Fatalf("health: %v", err)
		}
		in := state(hl, id)
		if in.State != wantState {
			t.Errorf("instance %s is %s (%s), want %s", id, in.State, in.Reason, wantState)
		}
		for _, r := range wantReason {
			if !strings.Contains(in.Reason, r) {
				t.Errorf("instance %s reason %q lacks %q", id, in.Reason, r)
			}
		}
		if hl.Healthy {
			t.Errorf("the release is healthy with instance %s %s", id, in.State)
		}
		return hl
	}

	// Auto Scaling says it is unhealthy.
	_, err := e.asg.SetInstanceHealth(e.ctx, &autoscaling.SetInstanceHealthInput{InstanceId: aws.String(ids[0]), HealthStatus: aws.String("Unhealthy")})
	e.must(err, "set instance health")
	check(ids[0], contract.InstanceUnhealthy, "Auto Scaling health: Unhealthy")
	_, err = e.asg.SetInstanceHealth(e.ctx, &autoscaling.SetInstanceHealthInput{InstanceId: aws.String(ids[0]), HealthStatus: aws.String("Healthy")})
	e.must(err, "set instance health")

	// Stopped: EC2 says so, and the target group no longer uses it.
	_, err = e.ec2.StopInstances(e.ctx, &ec2.StopInstancesInput{InstanceIds: []string{ids[1]}})
	e.must(err, "stop instance")
	check(ids[1], contract.InstanceUnhealthy, "EC2: instance stopped")
	_, err = e.ec2.StartInstances(e.ctx, &ec2.StartInstancesInput{InstanceIds: []string{ids[1]}})
	e.must(err, "start instance")
	e.untilHealthy(d)

	// Deregistered from the target group (moto drops it at once, as AWS
	// does after the deregistration delay): it serves no traffic.
	_, err = e.elbv2.DeregisterTargets(e.ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: aws.String(e.fx.tgWeb), Targets: []elbv2types.TargetDescription{{Id: aws.String(ids[0])}}})
	e.must(err, "deregister target")
	check(ids[0], contract.InstanceUnhealthy, "target group shop-web: not registered")
	_, err = e.elbv2.RegisterTargets(e.ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(e.fx.tgWeb), Targets: []elbv2types.TargetDescription{{Id: aws.String(ids[0])}}})
	e.must(err, "register target")
	e.untilHealthy(d)

	// Terminated: Auto Scaling replaces it, and the old one drains from the
	// target group, a termination of this release's.
	_, err = e.ec2.TerminateInstances(e.ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{ids[1]}})
	e.must(err, "terminate instance")
	hl, err = e.provider.Health(e.ctx, d)
	if err != nil {
		t.Fatalf("health after one termination (max_terms 1): %v", err)
	}
	t.Logf("after TerminateInstances: %s", hl.Summary())
	if got := hl.Services["web"].Terminating; got != 1 {
		t.Errorf("terminating = %d, want 1", got)
	}
	if in := state(hl, ids[1]); in.State != contract.InstanceTerminating || !strings.Contains(in.Reason, "target group shop-web: draining") {
		t.Errorf("the terminated instance: %+v, want terminating and draining from shop-web", in)
	}

	// A second termination is more than max_terms: the deploy halts.
	_, err = e.ec2.TerminateInstances(e.ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{ids[0]}})
	e.must(err, "terminate instance")
	_, err = e.provider.Health(e.ctx, d)
	var he *deployer.HaltError
	if !errors.As(err, &he) {
		t.Fatalf("after two terminations: %v, want a HaltError", err)
	}
	errContains(t, err, "2 of release "+d.ReleaseID+"'s instances are terminating, more than max_terms (1)", ids[0], ids[1])
}

// A target role that cannot be assumed (here: nothing answers at the
// endpoint) is reported as such, naming the role and the account.
func TestAssumeRoleFailure(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	base := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("deployer", "secret", ""), RetryMaxAttempts: 1}
	p := New(Options{Clients: &Sessions{Base: base, Endpoint: url, RoleName: "deployer-target"}})
	d := (&env{t: t}).deploymentOfAccount("444455556666")
	err = p.Validate(context.Background(), d)
	errContains(t, err, "reach account 444455556666 in us-east-1", "assume role arn:aws:iam::444455556666:role/deployer-target as session deploy-shop_prod_"+d.ReleaseID,
		"the role must exist in account 444455556666")
}
