package awsprovider

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/odin-deploy/odin/pkg/contract"
)

// The happy path with two services, through moto's real APIs: Validate,
// Deploy, Health until healthy, then a second release replaces the first.
func TestDeployTwoServices(t *testing.T) {
	e := newEnv(t)
	d := e.deployment("v1", "")
	if err := e.provider.Validate(e.ctx, d); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if err := e.provider.Deploy(e.ctx, d); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	hl := e.untilHealthy(d)
	if got := hl.Services["web"]; got.Healthy != 2 || got.Desired != 2 {
		t.Errorf("web health = %+v, want 2/2 healthy", got)
	}
	if got := hl.Services["worker"]; got.Healthy != 1 || got.Desired != 1 {
		t.Errorf("worker health = %+v, want 1/1 healthy", got)
	}

	groups := e.groups()[d.ReleaseID]
	if len(groups) != 2 {
		t.Fatalf("release %s has %d groups, want 2", d.ReleaseID, len(groups))
	}
	for _, g := range groups {
		name := aws.ToString(g.AutoScalingGroupName)
		svc, _ := asgTag(g, TagService)
		if want := GroupName("shop", "prod", svc, d.ReleaseID); name != want {
			t.Errorf("group name %s, want %s", name, want)
		}
		for _, k := range []string{TagDeployWith, TagProject, TagConfig, TagService, TagRelease, TagName} {
			if _, ok := asgTag(g, k); !ok {
				t.Errorf("group %s lacks tag %s", name, k)
			}
		}
		for _, tag := range g.Tags {
			propagated := aws.ToBool(tag.PropagateAtLaunch)
			if odin := strings.HasPrefix(aws.ToString(tag.Key), "odin:"); propagated == odin {
				t.Errorf("group %s tag %s propagated=%v", name, aws.ToString(tag.Key), propagated)
			}
		}
		lt := g.LaunchTemplate
		if lt == nil || aws.ToString(lt.Version) != "1" {
			t.Errorf("group %s is not pinned to version 1 of its launch template: %+v", name, lt)
		}
		switch svc {
		case "web":
			if v, _ := asgTag(g, "team"); v != "shop" {
				t.Errorf("web group lacks the release's tag team=shop")
			}
			if aws.ToString(g.HealthCheckType) != "ELB" || len(g.TargetGroupARNs) != 1 || !slices.Equal(g.LoadBalancerNames, []string{"shop-legacy"}) {
				t.Errorf("web group: health check %s, target groups %v, elbs %v", aws.ToString(g.HealthCheckType), g.TargetGroupARNs, g.LoadBalancerNames)
			}
			if !strings.Contains(aws.ToString(g.VPCZoneIdentifier), e.fx.subnetA) || !strings.Contains(aws.ToString(g.VPCZoneIdentifier), e.fx.subnetB) {
				t.Errorf("web group subnets %s, want %s and %s", aws.ToString(g.VPCZoneIdentifier), e.fx.subnetA, e.fx.subnetB)
			}
		case "worker":
			if aws.ToString(g.HealthCheckType) != "EC2" {
				t.Errorf("worker group health check %s, want EC2 (no load balancers)", aws.ToString(g.HealthCheckType))
			}
		}
	}

	// The launch template carries image, type, groups, profile, volume, user data.
	name := GroupName("shop", "prod", "worker", d.ReleaseID)
	v, err := e.ec2.DescribeLaunchTemplateVersions(e.ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateName: aws.String(name)})
	e.must(err, "describe launch template versions")
	data := v.LaunchTemplateVersions[0].LaunchTemplateData
	if aws.ToString(data.ImageId) != e.fx.image || string(data.InstanceType) != "t3.small" {
		t.Errorf("template image %s type %s", aws.ToString(data.ImageId), data.InstanceType)
	}
	if !slices.Contains(data.SecurityGroupIds, e.fx.sgWorker) || !slices.Contains(data.SecurityGroupIds, e.fx.sgShared) {
		t.Errorf("template security groups %v, want %s and %s", data.SecurityGroupIds, e.fx.sgWorker, e.fx.sgShared)
	}
	if data.IamInstanceProfile == nil || !strings.HasSuffix(aws.ToString(data.IamInstanceProfile.Arn), "/odin/shop/prod/worker/shop-worker") {
		t.Errorf("template profile %+v", data.IamInstanceProfile)
	}
	if len(data.BlockDeviceMappings) != 1 || aws.ToInt32(data.BlockDeviceMappings[0].Ebs.VolumeSize) != 20 {
		t.Errorf("template volumes %+v", data.BlockDeviceMappings)
	}
	ud, _ := base64.StdEncoding.DecodeString(aws.ToString(data.UserData))
	want := "worker " + d.ReleaseID + " from s3://odin-releases/" + e.account + "/shop/prod/" + d.ReleaseID
	if !strings.Contains(string(ud), want) {
		t.Errorf("user data %q does not contain %q", ud, want)
	}

	// Every web instance is registered in the target group.
	th, err := e.elbv2.DescribeTargetHealth(e.ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(e.fx.tgWeb)})
	e.must(err, "describe target health")
	if len(th.TargetHealthDescriptions) != 2 {
		t.Errorf("target group has %d targets, want the 2 web instances", len(th.TargetHealthDescriptions))
	}

	if err := e.provider.CleanUpSuccess(e.ctx, d); err != nil {
		t.Fatalf("clean up success of the first release: %v", err)
	}
	if n := len(e.groups()[d.ReleaseID]); n != 2 {
		t.Fatalf("the first release's clean-up removed its own groups: %d left", n)
	}

	// v2 replaces v1: v1's groups and templates are gone, v2 serves.
	d2 := e.deployment("v2", "")
	for _, step := range []func() error{
		func() error { return e.provider.Validate(e.ctx, d2) },
		func() error { return e.provider.Deploy(e.ctx, d2) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	e.untilHealthy(d2)
	if err := e.provider.CleanUpSuccess(e.ctx, d2); err != nil {
		t.Fatalf("clean up success: %v", err)
	}
	all := e.groups()
	if len(all[d.ReleaseID]) != 0 || len(all[d2.ReleaseID]) != 2 {
		t.Errorf("after v2: %d groups of v1 (want 0), %d of v2 (want 2)", len(all[d.ReleaseID]), len(all[d2.ReleaseID]))
	}
	lts := e.templates()
	for n := range lts {
		if strings.Contains(n, d.ReleaseID) {
			t.Errorf("v1's launch template %s survived its clean-up", n)
		}
	}
	if len(lts) != 2 {
		t.Errorf("%d launch templates, want v2's 2: %v", len(lts), lts)
	}
	// Clean-up is idempotent.
	if err := e.provider.CleanUpSuccess(e.ctx, d2); err != nil {
		t.Errorf("second clean up success: %v", err)
	}
}

// A failed release is rolled back: its groups and templates go, the serving
// release's stay; twice is the same as once.
func TestCleanUpFailure(t *testing.T) {
	e := newEnv(t)
	v1 := e.deployment("v1", "")
	if err := e.provider.Deploy(e.ctx, v1); err != nil {
		t.Fatal(err)
	}
	v2 := e.deployment("v2", "")
	if err := e.provider.Deploy(e.ctx, v2); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := e.provider.CleanUpFailure(e.ctx, v2); err != nil {
			t.Fatalf("clean up failure #%d: %v", i+1, err)
		}
	}
	all := e.groups()
	if len(all[v2.ReleaseID]) != 0 || len(all[v1.ReleaseID]) != 2 {
		t.Errorf("after rollback: v2 has %d groups (want 0), v1 %d (want 2)", len(all[v2.ReleaseID]), len(all[v1.ReleaseID]))
	}
	for n := range e.templates() {
		if strings.Contains(n, v2.ReleaseID) {
			t.Errorf("v2's launch template %s survived the rollback", n)
		}
	}
	hl, err := e.provider.Health(e.ctx, v2)
	if err == nil || hl == nil || hl.Healthy {
		t.Errorf("health of a rolled-back release: %+v, %v; want a report and an error", hl, err)
	}
	var _ = contract.InstanceHealthy
}

// Clean-up removes only the project and config's own groups: another
// project's, another config's, and a group odin did not create are left
// alone, even with names and tags close to ours.
func TestCleanUpLeavesOthersAlone(t *testing.T) {
	e := newEnv(t)
	v1 := e.deployment("v1", "")
	if err := e.provider.Deploy(e.ctx, v1); err != nil {
		t.Fatal(err)
	}
	web := GroupName("shop", "prod", "web", v1.ReleaseID)
	g, err := describeGroup(e.ctx, e.admin, web)
	if err != nil || g == nil {
		t.Fatalf("describe %s: %v", web, err)
	}
	mk := func(name string, tags map[string]string) {
		var ts []asgtypes.Tag
		for k, v := range tags {
			ts = append(ts, asgtypes.Tag{Key: aws.String(k), Value: aws.String(v), PropagateAtLaunch: aws.Bool(true)})
		}
		_, err := e.asg.CreateAutoScalingGroup(e.ctx, &autoscaling.CreateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(name), MinSize: aws.Int32(0), MaxSize: aws.Int32(1), DesiredCapacity: aws.Int32(0),
			LaunchTemplate:    &asgtypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String(web)},
			VPCZoneIdentifier: aws.String(e.fx.subnetA), Tags: ts,
		})
		e.must(err, "create group "+name)
	}
	others := map[string]map[string]string{
		"odin-shopx-prod-web-r-1":   {TagDeployWith: "odin", TagProject: "shopx", TagConfig: "prod", TagService: "web", TagRelease: "r-1"},
		"odin-shop-staging-web-r-2": {TagDeployWith: "odin", TagProject: "shop", TagConfig: "staging", TagService: "web", TagRelease: "r-2"},
		"hand-made-shop-prod":       {TagProject: "shop", TagConfig: "prod", TagService: "web", TagRelease: "r-3"},
	}
	for name, tags := range others {
		mk(name, tags)
	}
	v2 := e.deployment("v2", "")
	if err := e.provider.Deploy(e.ctx, v2); err != nil {
		t.Fatal(err)
	}
	e.untilHealthy(v2)
	if err := e.provider.CleanUpSuccess(e.ctx, v2); err != nil {
		t.Fatal(err)
	}
	if err := e.provider.CleanUpFailure(e.ctx, e.deployment("v3", "")); err != nil {
		t.Fatal(err)
	}
	out, err := e.asg.DescribeAutoScalingGroups(e.ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	e.must(err, "describe groups")
	left := map[string]bool{}
	for _, g := range out.AutoScalingGroups {
		left[aws.ToString(g.AutoScalingGroupName)] = true
	}
	for name := range others {
		if !left[name] {
			t.Errorf("clean-up of shop/prod deleted %s", name)
		}
	}
	if left[web] {
		t.Errorf("v1's group %s survived v2's clean-up", web)
	}
	if n := len(e.groups()[v2.ReleaseID]); n != 2 {
		t.Errorf("v2 has %d groups, want 2", n)
	}
}
