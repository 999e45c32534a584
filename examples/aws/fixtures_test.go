package aws_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
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

	"github.com/odin-deploy/odin/cmd"
	"github.com/odin-deploy/odin/pkg/deployer/localbackend"
	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/local/access"
	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/local/server"
	"github.com/odin-deploy/odin/pkg/release"
	"github.com/odin-deploy/odin/pkg/testpeer/moto"
)

// allValue in ProjectName, ConfigName or ServiceName authorizes every value.
const allValue = "_all"

// TestRehearsal follows the rehearsal in rehearsal.yml's header against a
// fresh moto. fixtures.sh runs twice, reports the same resources both times
// and creates everything release.yml names, tagged (or placed) so that odin
// authorizes the release to use it. Then, on a local backend rehearsing
// against that moto, odin deploy rehearsal.yml succeeds with a pinned group
// per service; odin deploy release.yml fails, and odin fail says it was on
// the placement group, which moto does not have.
func TestRehearsal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the AWS CLI some forty times and deploys on moto")
	}
	bin := awsCLI(t)
	s := moto.Start(t)
	c := newClients(s)
	ok := t.Run("fixtures", func(t *testing.T) {
		first := runFixtures(t, bin, s)
		second := runFixtures(t, bin, s)
		if first != second {
			t.Errorf("a second run reported other resources (not idempotent):\nfirst:\n%s\nsecond:\n%s", first, second)
		}
		checkFixtures(t, c, load(t, "release.yml").Release)
	})
	if !ok {
		t.FailNow()
	}

	odin := startOdin(t, s)
	rehearsal := load(t, "rehearsal.yml")
	t.Run("deploy rehearsal.yml", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		code, out, errOut := odin(ctx, "deploy", "rehearsal.yml", "--output", "plain")
		if code != 0 {
			t.Fatalf("odin deploy rehearsal.yml: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		checkDeployed(t, c, rehearsal.Release, release.ReleaseID(rehearsal.SHA256))
	})
	t.Run("deploy release.yml", func(t *testing.T) {
		// A minute, far more than the failure takes: a user must see the
		// error, not wait on a deploy that cannot succeed.
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		code, out, errOut := odin(ctx, "deploy", "release.yml", "--output", "plain")
		if code != 1 {
			t.Fatalf("odin deploy release.yml on moto: exit %d, want 1 (failed)\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		code, out, errOut = odin(ctx, "fail", "release.yml")
		t.Logf("odin fail release.yml (exit %d):\n%s%s", code, out, errOut)
		if code != 1 {
			t.Errorf("odin fail release.yml: exit %d, want 1 (failed)", code)
		}
		for _, want := range []string{"Failed state  Deploy", "placement group payments-api", "DescribePlacementGroups"} {
			if !strings.Contains(out, want) {
				t.Errorf("odin fail release.yml does not say %q", want)
			}
		}
		// Rolled back: the rehearsal's release keeps serving.
		checkDeployed(t, c, rehearsal.Release, release.ReleaseID(rehearsal.SHA256))
	})
}

// TestRehearsalIsReleaseLessPlacement keeps rehearsal.yml the payments
// release of release.yml, less what moto cannot run: placement groups and
// worker's io2 volume.
func TestRehearsalIsReleaseLessPlacement(t *testing.T) {
	want := load(t, "release.yml").Release
	for _, svc := range want.Services {
		svc.Placement = nil
	}
	want.Services["worker"].EBS.VolumeType = "gp3"
	got := load(t, "rehearsal.yml").Release
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("rehearsal.yml is not release.yml less placement and with a gp3 volume for worker:\n%s\nwant:\n%s", g, w)
	}
}

func load(t *testing.T, path string) *release.File {
	t.Helper()
	f, err := release.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// startOdin starts a local backend that rehearses target aws releases
// against s, as `odin local start --aws-endpoint` does, and returns what
// runs odin against it: the exit code, stdout and stderr. The engine's
// clock skips the deployer's waits (30 s before the first health check,
// 15 s between checks).
func startOdin(t *testing.T, s *moto.Server) func(ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := s.Config()
	b, err := localbackend.StartWith(t.Context(), server.Options{
		DataDir: dir,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clock:   engine.NewAutoClock(time.Now()),
	}, localbackend.AWS{Endpoint: s.URL, Config: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close local backend: %v", err)
		}
	})
	return func(ctx context.Context, args ...string) (int, string, string) {
		streams, _, out, errOut := iostreams.Test()
		f := &cmd.Factory{
			IO: streams,
			// Only a config directory of its own: no developer's config
			// file or ODIN_* variable leaks in.
			Env: func(k string) (string, bool) {
				if k == "XDG_CONFIG_HOME" {
					return dir, true
				}
				return "", false
			},
			Now: time.Now,
			StartLocal: func(context.Context, string) (access.Endpoint, error) {
				return b.Endpoint(), nil
			},
		}
		code := cmd.Run(ctx, f, append([]string{"--data-dir", dir}, args...))
		return code, out.String(), errOut.String()
	}
}

// awsCLI finds the AWS CLI, or skips when it is not installed, unless
// ODIN_REQUIRE_AWSCLI=1 (CI).
func awsCLI(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("ODIN_REQUIRE_AWSCLI") == "1" {
			t.Fatal("ODIN_REQUIRE_AWSCLI=1 but the aws CLI is not on PATH")
		}
		t.Skip("the aws CLI is not on PATH")
	}
	return bin
}

// runFixtures runs the script as its header says, and returns the report it
// ends with.
func runFixtures(t *testing.T, bin string, s *moto.Server) string {
	t.Helper()
	home := t.TempDir()
	script := exec.Command("./fixtures.sh")
	// Only these AWS settings: a developer's profile or session must not leak in.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	script.Env = append(env,
		"PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"AWS_ENDPOINT_URL="+s.URL,
		"AWS_ACCESS_KEY_ID="+moto.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+moto.SecretAccessKey,
		"AWS_DEFAULT_REGION="+moto.Region,
		"AWS_MAX_ATTEMPTS=1",
		"AWS_CONFIG_FILE="+filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"),
	)
	var out, errOut bytes.Buffer
	script.Stdout, script.Stderr = &out, &errOut
	if err := script.Run(); err != nil {
		t.Fatalf("fixtures.sh: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	report := out.String()
	if !strings.Contains(report, "fixtures for ") {
		t.Fatalf("fixtures.sh printed no report:\n%s\nstderr:\n%s", report, errOut.String())
	}
	return report
}

// clients reach moto's services the release uses.
type clients struct {
	ec2   *ec2.Client
	asg   *autoscaling.Client
	elb   *elb.Client
	elbv2 *elbv2.Client
	iam   *iam.Client
	sns   *sns.Client
}

func newClients(s *moto.Server) *clients {
	cfg := s.Config()
	return &clients{
		ec2:   ec2.NewFromConfig(cfg),
		asg:   autoscaling.NewFromConfig(cfg),
		elb:   elb.NewFromConfig(cfg),
		elbv2: elbv2.NewFromConfig(cfg),
		iam:   iam.NewFromConfig(cfg),
		sns:   sns.NewFromConfig(cfg),
	}
}

func checkFixtures(t *testing.T, c *clients, r *release.Release) {
	ctx := t.Context()
	if r.AWSAccountID != moto.Account {
		t.Errorf("release account %s is not moto's default %s, which the default credentials reach", r.AWSAccountID, moto.Account)
	}

	images, err := c.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{Filters: nameFilter(r.Image)})
	if err != nil {
		t.Fatalf("describe image %s: %v", r.Image, err)
	}
	if n := len(images.Images); n != 1 {
		t.Errorf("%d images have the tag Name=%s, want exactly 1", n, r.Image)
	} else if v := ec2Tags(images.Images[0].Tags)["DeployWith"]; v != "odin" {
		t.Errorf("image %s has DeployWith=%q, want odin", r.Image, v)
	}

	vpcs, azs := map[string]bool{}, map[string]bool{}
	var subnetIDs []string
	for _, name := range r.Subnets {
		out, err := c.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: nameFilter(name)})
		if err != nil {
			t.Fatalf("describe subnet %s: %v", name, err)
		}
		if n := len(out.Subnets); n != 1 {
			t.Errorf("%d subnets have the tag Name=%s, want exactly 1", n, name)
			continue
		}
		sn := out.Subnets[0]
		if v := ec2Tags(sn.Tags)["DeployWith"]; v != "odin" {
			t.Errorf("subnet %s has DeployWith=%q, want odin", name, v)
		}
		vpcs[aws.ToString(sn.VpcId)] = true
		azs[aws.ToString(sn.AvailabilityZone)] = true
		subnetIDs = append(subnetIDs, aws.ToString(sn.SubnetId))
	}
	if len(vpcs) != 1 || len(azs) != len(r.Subnets) {
		t.Errorf("subnets %v are in VPCs %v and zones %v, want one VPC and a zone each", r.Subnets, vpcs, azs)
	}
	var vpc string
	for v := range vpcs {
		vpc = v
	}

	// A security group shared by services must be tagged for all of them.
	users := map[string][]string{}
	for name, svc := range r.Services {
		for _, g := range svc.SecurityGroups {
			users[g] = append(users[g], name)
		}
	}
	for g, services := range users {
		out, err := c.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: nameFilter(g)})
		if err != nil {
			t.Fatalf("describe security group %s: %v", g, err)
		}
		if n := len(out.SecurityGroups); n != 1 {
			t.Errorf("%d security groups have the tag Name=%s, want exactly 1", n, g)
			continue
		}
		sg := out.SecurityGroups[0]
		if got := aws.ToString(sg.VpcId); got != vpc {
			t.Errorf("security group %s is in VPC %s, not the subnets' %s", g, got, vpc)
		}
		for _, svc := range services {
			checkOwner(t, "security group "+g, ec2Tags(sg.Tags), r, svc)
		}
	}

	for name, svc := range r.Services {
		for _, tg := range svc.TargetGroups {
			out, err := c.elbv2.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{Names: []string{tg}})
			if err != nil {
				t.Errorf("target group %s: %v", tg, err)
				continue
			}
			g := out.TargetGroups[0]
			if aws.ToString(g.VpcId) != vpc || g.Protocol != "HTTP" || aws.ToInt32(g.Port) != 80 {
				t.Errorf("target group %s: VPC %s, %s port %d; want VPC %s, HTTP port 80", tg, aws.ToString(g.VpcId), g.Protocol, aws.ToInt32(g.Port), vpc)
			}
			tags, err := c.elbv2.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: []string{aws.ToString(g.TargetGroupArn)}})
			if err != nil {
				t.Fatalf("tags of target group %s: %v", tg, err)
			}
			m := map[string]string{}
			for _, td := range tags.TagDescriptions {
				for _, tag := range td.Tags {
					m[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
				}
			}
			checkOwner(t, "target group "+tg, m, r, name)
		}
		for _, lb := range svc.ELBs {
			out, err := c.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerNames: []string{lb}})
			if err != nil {
				t.Errorf("classic ELB %s: %v", lb, err)
				continue
			}
			if got := out.LoadBalancerDescriptions[0].Subnets; !sameSet(got, subnetIDs) {
				t.Errorf("classic ELB %s is in subnets %v, want %v", lb, got, subnetIDs)
			}
			tags, err := c.elb.DescribeTags(ctx, &elb.DescribeTagsInput{LoadBalancerNames: []string{lb}})
			if err != nil {
				t.Fatalf("tags of classic ELB %s: %v", lb, err)
			}
			m := map[string]string{}
			for _, td := range tags.TagDescriptions {
				for _, tag := range td.Tags {
					m[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
				}
			}
			checkOwner(t, "classic ELB "+lb, m, r, name)
		}
		if svc.Profile != "" {
			out, err := c.iam.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(svc.Profile)})
			if err != nil {
				t.Errorf("instance profile %s: %v", svc.Profile, err)
				continue
			}
			want := "/odin/" + r.ProjectName + "/" + r.ConfigName + "/" + name + "/"
			if got := aws.ToString(out.InstanceProfile.Path); got != want {
				t.Errorf("instance profile %s has path %s, want %s", svc.Profile, got, want)
			}
			if len(out.InstanceProfile.Roles) != 1 {
				t.Errorf("instance profile %s has %d roles, want 1", svc.Profile, len(out.InstanceProfile.Roles))
			}
		}
	}

	for name, hook := range r.Lifecycle {
		role := hook.Role[strings.LastIndex(hook.Role, "/")+1:]
		got, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)})
		if err != nil {
			t.Errorf("lifecycle hook %s: role %s: %v", name, hook.Role, err)
		} else if arn := aws.ToString(got.Role.Arn); arn != hook.Role {
			t.Errorf("lifecycle hook %s: role ARN is %s, release names %s", name, arn, hook.Role)
		}
		if _, err := c.sns.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(hook.SNS)}); err != nil {
			t.Errorf("lifecycle hook %s: topic %s: %v", name, hook.SNS, err)
		}
	}
}

// checkDeployed checks what a user of release r (id releaseID) expects to
// run: per service one Auto Scaling group tagged with the release, pinned
// to a launch template version of the service's instance type, with
// min_size instances in service, all of them registered with the service's
// target groups and classic ELBs.
func checkDeployed(t *testing.T, c *clients, r *release.Release, releaseID string) {
	ctx := t.Context()
	out, err := c.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{
		Filters: []asgtypes.Filter{{Name: aws.String("tag:ReleaseID"), Values: []string{releaseID}}},
	})
	if err != nil {
		t.Fatalf("describe the groups of %s: %v", releaseID, err)
	}
	groups := map[string][]asgtypes.AutoScalingGroup{}
	for _, g := range out.AutoScalingGroups {
		service := ""
		for _, tag := range g.Tags {
			if aws.ToString(tag.Key) == "ServiceName" {
				service = aws.ToString(tag.Value)
			}
		}
		groups[service] = append(groups[service], g)
	}
	for service := range groups {
		if r.Services[service] == nil {
			t.Errorf("release %s has groups for service %q, which it does not name", releaseID, service)
		}
	}
	for service, svc := range r.Services {
		if n := len(groups[service]); n != 1 {
			t.Errorf("service %s has %d Auto Scaling groups tagged ReleaseID=%s, want 1", service, n, releaseID)
			continue
		}
		g := groups[service][0]
		name := aws.ToString(g.AutoScalingGroupName)
		checkTemplate(t, c, name, g.LaunchTemplate, svc.InstanceType)

		var instances []string
		for _, in := range g.Instances {
			if in.LifecycleState == asgtypes.LifecycleStateInService {
				instances = append(instances, aws.ToString(in.InstanceId))
			}
		}
		if len(instances) != svc.Autoscaling.MinSize {
			t.Errorf("group %s has %d instances in service, want min_size %d", name, len(instances), svc.Autoscaling.MinSize)
		}

		var arns []string
		for _, tg := range svc.TargetGroups {
			out, err := c.elbv2.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{Names: []string{tg}})
			if err != nil {
				t.Fatalf("target group %s: %v", tg, err)
			}
			arn := aws.ToString(out.TargetGroups[0].TargetGroupArn)
			arns = append(arns, arn)
			health, err := c.elbv2.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(arn)})
			if err != nil {
				t.Fatalf("targets of %s: %v", tg, err)
			}
			var targets []string
			for _, th := range health.TargetHealthDescriptions {
				targets = append(targets, aws.ToString(th.Target.Id))
			}
			if !sameSet(targets, instances) {
				t.Errorf("target group %s has targets %v, want group %s's instances %v", tg, targets, name, instances)
			}
		}
		if !sameSet(g.TargetGroupARNs, arns) {
			t.Errorf("group %s is attached to target groups %v, want %v (%v)", name, g.TargetGroupARNs, svc.TargetGroups, arns)
		}
		for _, lb := range svc.ELBs {
			health, err := c.elb.DescribeInstanceHealth(ctx, &elb.DescribeInstanceHealthInput{LoadBalancerName: aws.String(lb)})
			if err != nil {
				t.Fatalf("instances of classic ELB %s: %v", lb, err)
			}
			var registered []string
			for _, st := range health.InstanceStates {
				registered = append(registered, aws.ToString(st.InstanceId))
			}
			if !sameSet(registered, instances) {
				t.Errorf("classic ELB %s has instances %v, want group %s's instances %v", lb, registered, name, instances)
			}
		}
		if !sameSet(g.LoadBalancerNames, svc.ELBs) {
			t.Errorf("group %s is attached to classic ELBs %v, want %v", name, g.LoadBalancerNames, svc.ELBs)
		}
	}
}

// checkTemplate checks that group is pinned to one version of a launch
// template (not $Latest or $Default, which a later change would move),
// and that the version launches instanceType.
func checkTemplate(t *testing.T, c *clients, group string, lt *asgtypes.LaunchTemplateSpecification, instanceType string) {
	t.Helper()
	if lt == nil {
		t.Errorf("group %s has no launch template", group)
		return
	}
	version := aws.ToString(lt.Version)
	if _, err := strconv.Atoi(version); err != nil {
		t.Errorf("group %s follows launch template version %q, want it pinned to a number", group, version)
		return
	}
	out, err := c.ec2.DescribeLaunchTemplateVersions(t.Context(), &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateId: lt.LaunchTemplateId, Versions: []string{version},
	})
	if err != nil || len(out.LaunchTemplateVersions) != 1 {
		t.Errorf("group %s: launch template %s version %s: %v", group, aws.ToString(lt.LaunchTemplateId), version, err)
		return
	}
	if got := out.LaunchTemplateVersions[0].LaunchTemplateData.InstanceType; string(got) != instanceType {
		t.Errorf("group %s launches %s, want %s", group, got, instanceType)
	}
}

// checkOwner checks the tags that authorize service to use a resource.
func checkOwner(t *testing.T, what string, tags map[string]string, r *release.Release, service string) {
	t.Helper()
	for key, want := range map[string]string{"ProjectName": r.ProjectName, "ConfigName": r.ConfigName, "ServiceName": service} {
		if got, ok := tags[key]; !ok || (got != want && got != allValue) {
			t.Errorf("%s has %s=%q (set: %t), want %q or %q", what, key, got, ok, want, allValue)
		}
	}
}

func nameFilter(name string) []ec2types.Filter {
	return []ec2types.Filter{{Name: aws.String("tag:Name"), Values: []string{name}}}
}

func ec2Tags(tags []ec2types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]bool{}
	for _, s := range a {
		seen[s] = true
	}
	for _, s := range b {
		if !seen[s] {
			return false
		}
	}
	return true
}
