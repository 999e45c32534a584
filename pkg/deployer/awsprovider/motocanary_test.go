package awsprovider

// Canaries for moto 5.2.1's gaps. The provider's tests use fakes where moto
// lacks a behaviour; each canary below asserts moto still lacks it, and fails,
// naming the fake to retire, once moto gains it.
//
// Other moto 5.2.1 behaviour, observed in server mode against the calls the
// provider makes (2026-12, boto3 probes plus these tests):
//   - CreatePlacementGroup and DescribePlacementGroups: HTTP 500, "not
//     implemented". A launch template's Placement (GroupName, Tenancy) is
//     accepted even when the group does not exist, and ignored: instances
//     get GroupName "" and Tenancy default.
//   - Classic ELB DescribeInstanceHealth: ASG instances are registered and
//     InService at once; a stopped instance is OutOfService; SetInstanceHealth
//     does not change it; DetachLoadBalancers and DeleteAutoScalingGroup
//     deregister at once.
//   - CreateLaunchTemplate ClientToken is ignored: the same token and name
//     again gives InvalidLaunchTemplateName.AlreadyExistsException (AWS
//     returns the first template); the same token with another name creates
//     a second template.
//   - DescribeLaunchTemplates Filters tag:<key> and tag-key work.
//   - DescribeAutoScalingGroups Filters tag:ReleaseID, tag-key and tag-value
//     work.
//   - CreateAutoScalingGroup LifecycleHookSpecificationList is accepted and
//     dropped (DescribeLifecycleHooks returns none). PutLifecycleHook
//     succeeds, but DescribeLifecycleHooks then returns a canned hook (role
//     arn:aws:iam::1234567890:role/my-auto-scaling-role, target an SQS
//     my-queue, HeartbeatTimeout 3600) instead of what was put.
//   - DetachLoadBalancerTargetGroups is immediate: the group is gone from
//     DescribeLoadBalancerTargetGroups (never "Removing") and its targets
//     are deregistered at once (no draining).
//   - StopInstances: the ASG still reports the instance InService/Healthy;
//     the target turns "unused" (Target.InvalidState); classic ELB
//     OutOfService.
//   - SetInstanceHealth Unhealthy: the ASG shows Unhealthy and never replaces
//     it; target health stays healthy.
//   - TerminateInstances on an ASG instance: a replacement is InService at
//     once and registered with the classic ELB but NOT with the target
//     groups; the old target is deregistered at once (no draining).
//     DescribeScalingActivities stays empty.
//   - DeleteAutoScalingGroup terminates the instances, but their targets are
//     left registered and reported healthy (even one that was "unused").
//   - CreateAutoScalingGroup with an existing name replaces the group's
//     settings (sizes, target groups) and orphans its running instances.
//   - STS AssumeRole into arn:aws:iam::222222222222:role/<any> with
//     SourceIdentity: works without the role existing; GetCallerIdentity
//     gives account 222222222222 and the assumed-role ARN; resources are
//     per account (own default VPC, no launch templates of 123456789012).
//     The response carries no SourceIdentity.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/odin-deploy/odin/pkg/testpeer/moto"
)

// canaryBogusAMI names an image that does not exist; moto launches it anyway.
const canaryBogusAMI = "ami-0000000000000bad0"

type canaryEnv struct {
	ctx   context.Context
	ec2   *ec2.Client
	asg   *autoscaling.Client
	elbv2 *elbv2.Client
	id    string // unique per test: the moto server is shared
}

func newCanaryEnv(t *testing.T) *canaryEnv {
	t.Helper()
	s := moto.Shared(t)
	cfg := s.Config()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return &canaryEnv{
		ctx:   t.Context(),
		ec2:   ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(s.URL) }),
		asg:   autoscaling.NewFromConfig(cfg, func(o *autoscaling.Options) { o.BaseEndpoint = aws.String(s.URL) }),
		elbv2: elbv2.NewFromConfig(cfg, func(o *elbv2.Options) { o.BaseEndpoint = aws.String(s.URL) }),
		id:    hex.EncodeToString(b),
	}
}

// defaultSubnets returns two of the default VPC's subnets and the VPC.
func (e *canaryEnv) defaultSubnets(t *testing.T) (vpc string, subnets []string) {
	t.Helper()
	out, err := e.ec2.DescribeSubnets(e.ctx, &ec2.DescribeSubnetsInput{
		Filters: []ec2types.Filter{{Name: aws.String("default-for-az"), Values: []string{"true"}}},
	})
	if err != nil {
		t.Fatalf("describe default subnets: %v", err)
	}
	if len(out.Subnets) < 2 {
		t.Fatalf("moto has %d default subnets, want at least 2", len(out.Subnets))
	}
	for _, s := range out.Subnets[:2] {
		subnets = append(subnets, aws.ToString(s.SubnetId))
	}
	return aws.ToString(out.Subnets[0].VpcId), subnets
}

func (e *canaryEnv) launchTemplate(t *testing.T, image string) string {
	t.Helper()
	out, err := e.ec2.CreateLaunchTemplate(e.ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("canary-" + e.id),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{
			ImageId:      aws.String(image),
			InstanceType: ec2types.InstanceTypeT3Micro,
		},
	})
	if err != nil {
		t.Fatalf("create launch template: %v", err)
	}
	return aws.ToString(out.LaunchTemplate.LaunchTemplateId)
}

// realAMI returns one of moto's Amazon-owned images.
func (e *canaryEnv) realAMI(t *testing.T) string {
	t.Helper()
	out, err := e.ec2.DescribeImages(e.ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"}})
	if err != nil {
		t.Fatalf("describe moto's images: %v", err)
	}
	if len(out.Images) == 0 {
		t.Fatal("moto has no Amazon-owned images")
	}
	return aws.ToString(out.Images[0].ImageId)
}

// group creates an Auto Scaling group of desired instances from template.
func (e *canaryEnv) group(t *testing.T, template string, desired int32, subnets, targetGroups []string) string {
	t.Helper()
	name := "canary-" + e.id
	_, err := e.asg.CreateAutoScalingGroup(e.ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name),
		LaunchTemplate:       &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(template), Version: aws.String("$Latest")},
		MinSize:              aws.Int32(desired),
		MaxSize:              aws.Int32(desired),
		DesiredCapacity:      aws.Int32(desired),
		VPCZoneIdentifier:    aws.String(subnets[0] + "," + subnets[1]),
		TargetGroupARNs:      targetGroups,
	})
	if err != nil {
		t.Fatalf("create group %s: %v", name, err)
	}
	t.Cleanup(func() {
		e.asg.DeleteAutoScalingGroup(context.Background(), &autoscaling.DeleteAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(name), ForceDelete: aws.Bool(true),
		})
	})
	return name
}

func (e *canaryEnv) describeGroup(t *testing.T, name string) []astypes.AutoScalingGroup {
	t.Helper()
	out, err := e.asg.DescribeAutoScalingGroups(e.ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		t.Fatalf("describe group %s: %v", name, err)
	}
	return out.AutoScalingGroups
}

func TestCanaryTargetHealthAlwaysHealthy(t *testing.T) {
	e := newCanaryEnv(t)
	vpc, subnets := e.defaultSubnets(t)
	tg, err := e.elbv2.CreateTargetGroup(e.ctx, &elbv2.CreateTargetGroupInput{
		Name: aws.String("canary-" + e.id), Protocol: elbv2types.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String(vpc),
	})
	if err != nil {
		t.Fatalf("create target group: %v", err)
	}
	arn := aws.ToString(tg.TargetGroups[0].TargetGroupArn)
	e.group(t, e.launchTemplate(t, e.realAMI(t)), 2, subnets, []string{arn})

	out, err := e.elbv2.DescribeTargetHealth(e.ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("describe target health: %v", err)
	}
	if len(out.TargetHealthDescriptions) != 2 {
		t.Fatalf("moto now registers %d targets for a new group of 2, not both at once: replace the fake targetStates (TestFakeTargetInitialAndUnhealthy) with a moto test", len(out.TargetHealthDescriptions))
	}
	for _, d := range out.TargetHealthDescriptions {
		if s := d.TargetHealth.State; s != elbv2types.TargetHealthStateEnumHealthy {
			t.Errorf("moto now reports a new target %s as %q (not healthy at once): replace the fake targetStates (TestFakeTargetInitialAndUnhealthy) with a moto test", aws.ToString(d.Target.Id), s)
		}
	}
}

func TestCanaryInstancesInServiceAtOnce(t *testing.T) {
	e := newCanaryEnv(t)
	_, subnets := e.defaultSubnets(t)
	name := e.group(t, e.launchTemplate(t, canaryBogusAMI), 2, subnets, nil)

	groups := e.describeGroup(t, name)
	if len(groups) != 1 || len(groups[0].Instances) != 2 {
		t.Fatalf("moto now launches fewer instances than desired from an AMI that does not exist (%+v): replace the fake lifecycleStates (TestFakePendingAndTerminatingLifecycle) with a moto test", groups)
	}
	for _, i := range groups[0].Instances {
		if i.LifecycleState != astypes.LifecycleStateInService {
			t.Errorf("moto now puts instance %s in lifecycle state %q (not InService at once): replace the fake lifecycleStates (TestFakePendingAndTerminatingLifecycle) with a moto test", aws.ToString(i.InstanceId), i.LifecycleState)
		}
	}
}

func TestCanaryNoFailedScalingActivity(t *testing.T) {
	e := newCanaryEnv(t)
	_, subnets := e.defaultSubnets(t)
	name := e.group(t, e.launchTemplate(t, canaryBogusAMI), 1, subnets, nil)

	out, err := e.asg.DescribeScalingActivities(e.ctx, &autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String(name)})
	if err != nil {
		t.Fatalf("describe scaling activities: %v", err)
	}
	for _, a := range out.Activities {
		t.Errorf("moto now reports scaling activities (%s: %s) for a group whose AMI does not exist: replace the fake failedActivities (TestFakeFailedLaunchFailsAtOnce) with a moto test", a.StatusCode, aws.ToString(a.StatusMessage))
	}
}

func TestCanaryCreateGroupTwiceSucceeds(t *testing.T) {
	e := newCanaryEnv(t)
	_, subnets := e.defaultSubnets(t)
	lt := e.launchTemplate(t, e.realAMI(t))
	name := e.group(t, lt, 0, subnets, nil)

	_, err := e.asg.CreateAutoScalingGroup(e.ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name),
		LaunchTemplate:       &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt), Version: aws.String("$Latest")},
		MinSize:              aws.Int32(0),
		MaxSize:              aws.Int32(0),
		VPCZoneIdentifier:    aws.String(subnets[0]),
	})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "AlreadyExists" {
			t.Fatalf("moto now rejects a second group of the same name (AlreadyExists): replace the fake raceCreate (TestFakeAlreadyExistsAdopts) with a moto test")
		}
		t.Fatalf("moto now fails a second group of the same name with %v (AWS: AlreadyExists): replace the fake raceCreate (TestFakeAlreadyExistsAdopts) with a moto test", err)
	}
	if n := len(e.describeGroup(t, name)); n != 1 {
		t.Errorf("moto lists %d groups named %s after creating it twice, want 1", n, name)
	}
}

func TestCanaryDeleteGroupImmediate(t *testing.T) {
	e := newCanaryEnv(t)
	_, subnets := e.defaultSubnets(t)
	name := e.group(t, e.launchTemplate(t, e.realAMI(t)), 2, subnets, nil)
	if g := e.describeGroup(t, name); len(g) != 1 || len(g[0].Instances) != 2 {
		t.Fatalf("group %s before delete: %+v, want 2 instances", name, g)
	}

	_, err := e.asg.DeleteAutoScalingGroup(e.ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String(name)})
	if err != nil {
		t.Fatalf("moto now refuses to delete a group with instances without ForceDelete (%v): replace the fake lifecycleStates.status (TestFakeDeleteInProgress) with a moto test", err)
	}
	for _, g := range e.describeGroup(t, name) {
		t.Errorf("moto now keeps a deleted group (status %q): replace the fake lifecycleStates.status (TestFakeDeleteInProgress) with a moto test", aws.ToString(g.Status))
	}
}
