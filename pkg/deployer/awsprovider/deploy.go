package awsprovider

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/odin-deploy/odin/pkg/awserr"
	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/release"
)

// Deploy creates, per service, a launch template and an Auto Scaling group
// pinned to it. It is safe to run again: what exists with this release's
// tags is adopted, never created twice.
func (p *Provider) Deploy(ctx context.Context, d *deployer.Deployment) error {
	c, err := p.session(ctx, d)
	if err != nil {
		return err
	}
	res, err := p.resolve(ctx, c, d)
	if err != nil {
		return wrapCall(err, "resolve resources")
	}
	for _, name := range slices.Sorted(maps.Keys(d.Release.Services)) {
		if err := p.deployService(ctx, c, d, res, name); err != nil {
			return err
		}
	}
	return nil
}

func (p *Provider) deployService(ctx context.Context, c *Clients, d *deployer.Deployment, res *resolved, service string) error {
	s := d.Release.Services[service]
	if s.Placement != nil && s.Placement.GroupName != "" {
		if err := ensurePlacementGroup(ctx, c, s.Placement); err != nil {
			return err
		}
	}
	lt, err := p.ensureTemplate(ctx, c, d, res, service)
	if err != nil {
		return err
	}
	return p.ensureGroup(ctx, c, d, res, service, lt)
}

// capacity is what a service's group grows to: at least min_size, as many
// as the serving release has now (a deploy never shrinks a service that
// has scaled out), and at most max_size.
func capacity(a *release.Autoscaling, previous int) int {
	return min(max(a.MinSize, previous), a.MaxSize)
}

// Strategies are the rollout strategies, as the release schema names them.
var Strategies = []string{
	"AllAtOnce", "OneThenAllWithCanary", "25PercentStepRolloutNoCanary",
	"10PercentStepRolloutNoCanary", "10AtATimeNoCanary", "20AtATimeNoCanary",
}

// firstStep is the capacity a rollout strategy starts with.
func firstStep(strategy string, target int) int {
	return min(target, step(strategy, target))
}

// step is how much capacity a strategy adds once the instances so far are
// healthy.
func step(strategy string, target int) int {
	switch strategy {
	case "OneThenAllWithCanary":
		return 1
	case "25PercentStepRolloutNoCanary":
		return max(1, int(math.Ceil(float64(target)*0.25)))
	case "10PercentStepRolloutNoCanary":
		return max(1, int(math.Ceil(float64(target)*0.10)))
	case "10AtATimeNoCanary":
		return 10
	case "20AtATimeNoCanary":
		return 20
	}
	return target // AllAtOnce
}

// nextStep is the capacity after current under strategy; a canary, once
// healthy, is followed by everything else.
func nextStep(strategy string, current, target int) int {
	if strategy == "OneThenAllWithCanary" {
		return target
	}
	return min(target, current+step(strategy, target))
}

// previousCapacity is the most instances any other release's group of the
// service wants now.
func previousCapacity(res *resolved, d *deployer.Deployment, service string) int {
	n := 0
	for _, g := range res.groups {
		if s, _ := asgTag(g, TagService); s != service {
			continue
		}
		if r, _ := asgTag(g, TagRelease); r == d.ReleaseID {
			continue
		}
		n = max(n, int(aws.ToInt32(g.DesiredCapacity)))
	}
	return n
}

func ensurePlacementGroup(ctx context.Context, c *Clients, pl *release.Placement) error {
	out, err := c.EC2.DescribePlacementGroups(ctx, &ec2.DescribePlacementGroupsInput{
		Filters: []ec2types.Filter{{Name: aws.String("group-name"), Values: []string{pl.GroupName}}},
	})
	if err != nil {
		return fmt.Errorf("describe placement group %s: %w", pl.GroupName, err)
	}
	for _, g := range out.PlacementGroups {
		if aws.ToString(g.GroupName) != pl.GroupName {
			continue
		}
		if string(g.Strategy) != pl.Strategy {
			return &deployer.ResourceError{Msg: fmt.Sprintf("placement group %s exists with strategy %s, but the release asks for %s: name another group, or change the strategy", pl.GroupName, g.Strategy, pl.Strategy)}
		}
		return nil
	}
	in := &ec2.CreatePlacementGroupInput{GroupName: aws.String(pl.GroupName), Strategy: ec2types.PlacementStrategy(pl.Strategy)}
	if pl.PartitionCount > 0 {
		in.PartitionCount = aws.Int32(int32(pl.PartitionCount))
	}
	if _, err := c.EC2.CreatePlacementGroup(ctx, in); err != nil && !awserr.Is(err, "InvalidPlacementGroup.Duplicate") {
		return fmt.Errorf("create placement group %s: %w", pl.GroupName, err)
	}
	return nil
}

// template is a launch template version a group is pinned to.
type template struct {
	id, name string
	version  int64
}

// clientToken makes CreateLaunchTemplate idempotent across retries of one
// execution's Deploy. A later execution of the same release (a rollback to
// it, a retry after a failure) sends another: EC2 would answer a reused
// token with the template it created the first time, since deleted.
func clientToken(name, execution string) string {
	sum := sha256.Sum256([]byte(name + "\x00" + execution))
	return hex.EncodeToString(sum[:16])
}

func (p *Provider) ensureTemplate(ctx context.Context, c *Clients, d *deployer.Deployment, res *resolved, service string) (template, error) {
	name := groupName(d, service)
	if t, found, err := findTemplate(ctx, c, d, name); found || err != nil {
		return t, err
	}
	data, err := templateData(d, res, service)
	if err != nil {
		return template{}, err
	}
	out, err := c.EC2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(name),
		LaunchTemplateData: data,
		ClientToken:        aws.String(clientToken(name, d.Execution)),
		VersionDescription: aws.String("odin release " + d.ReleaseID),
		TagSpecifications: []ec2types.TagSpecification{{
			ResourceType: ec2types.ResourceTypeLaunchTemplate,
			Tags:         ec2Tags(d, service),
		}},
	})
	if awserr.Is(err, "InvalidLaunchTemplateName.AlreadyExistsException") {
		// Another attempt created it between our describe and our create.
		t, found, err := findTemplate(ctx, c, d, name)
		if err == nil && !found {
			err = &deployer.DeployError{Msg: fmt.Sprintf("launch template %s exists but cannot be described", name)}
		}
		return t, err
	}
	if err != nil {
		return template{}, fmt.Errorf("create launch template %s: %w", name, err)
	}
	lt := out.LaunchTemplate
	p.log.Info("created launch template", "name", name, "id", aws.ToString(lt.LaunchTemplateId), "release", d.ReleaseID)
	return template{id: aws.ToString(lt.LaunchTemplateId), name: name, version: aws.ToInt64(lt.LatestVersionNumber)}, nil
}

// findTemplate finds the service's template of this release by name, and
// adopts it only if its tags say it is this release's.
func findTemplate(ctx context.Context, c *Clients, d *deployer.Deployment, name string) (template, bool, error) {
	out, err := c.EC2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{name}})
	if awserr.Is(err, "InvalidLaunchTemplateName.NotFoundException", "InvalidLaunchTemplateId.NotFound") {
		return template{}, false, nil
	}
	if err != nil {
		return template{}, false, fmt.Errorf("describe launch template %s: %w", name, err)
	}
	for _, lt := range out.LaunchTemplates {
		if aws.ToString(lt.LaunchTemplateName) != name {
			continue
		}
		if r, _ := ec2Tag(lt.Tags, TagRelease); r != d.ReleaseID {
			return template{}, false, &deployer.DeployError{Msg: fmt.Sprintf("launch template %s (%s) exists but is not release %s's (its tag %s is %q): delete it, or find who created it", name, aws.ToString(lt.LaunchTemplateId), d.ReleaseID, TagRelease, r)}
		}
		return template{id: aws.ToString(lt.LaunchTemplateId), name: name, version: aws.ToInt64(lt.DefaultVersionNumber)}, true, nil
	}
	return template{}, false, nil
}

// templateData is the launch template of a service: image, type, network,
// profile, volume, placement, metadata service and user data.
func templateData(d *deployer.Deployment, res *resolved, service string) (*ec2types.RequestLaunchTemplateData, error) {
	s := d.Release.Services[service]
	rs := res.services[service]
	data := &ec2types.RequestLaunchTemplateData{
		ImageId:      res.image.ImageId,
		InstanceType: ec2types.InstanceType(s.InstanceType),
		// IMDSv2 only: a request forged through the instance (SSRF) cannot
		// read the profile's credentials.
		MetadataOptions: &ec2types.LaunchTemplateInstanceMetadataOptionsRequest{
			HttpTokens:              ec2types.LaunchTemplateHttpTokensStateRequired,
			HttpEndpoint:            ec2types.LaunchTemplateInstanceMetadataEndpointStateEnabled,
			HttpPutResponseHopLimit: aws.Int32(2),
		},
		TagSpecifications: []ec2types.LaunchTemplateTagSpecificationRequest{
			{ResourceType: ec2types.ResourceTypeInstance, Tags: ec2Tags(d, service)},
			{ResourceType: ec2types.ResourceTypeVolume, Tags: ec2Tags(d, service)},
		},
	}
	if s.AssociatePublicIPAddress {
		// A public address is a property of the network interface, which
		// then carries the security groups too.
		data.NetworkInterfaces = []ec2types.LaunchTemplateInstanceNetworkInterfaceSpecificationRequest{{
			DeviceIndex:              aws.Int32(0),
			AssociatePublicIpAddress: aws.Bool(true),
			Groups:                   rs.securityGroups,
			DeleteOnTermination:      aws.Bool(true),
		}}
	} else {
		data.SecurityGroupIds = rs.securityGroups
	}
	if rs.profileArn != "" {
		data.IamInstanceProfile = &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Arn: aws.String(rs.profileArn)}
	}
	if v := s.EBS; v != nil {
		ebs := &ec2types.LaunchTemplateEbsBlockDeviceRequest{
			VolumeSize:          aws.Int32(int32(v.VolumeSize)),
			VolumeType:          ec2types.VolumeType(v.VolumeType),
			DeleteOnTermination: aws.Bool(true),
			Encrypted:           aws.Bool(true),
		}
		if v.Iops > 0 {
			ebs.Iops = aws.Int32(int32(v.Iops))
		}
		data.BlockDeviceMappings = []ec2types.LaunchTemplateBlockDeviceMappingRequest{{DeviceName: aws.String(v.DeviceName), Ebs: ebs}}
	}
	if pl := s.Placement; pl != nil {
		data.Placement = &ec2types.LaunchTemplatePlacementRequest{Tenancy: ec2types.Tenancy(pl.Tenancy)}
		if pl.GroupName != "" {
			data.Placement.GroupName = aws.String(pl.GroupName)
		}
	}
	if d.Release.UserData != "" {
		ud := release.UserData(d.Release, release.UserDataValues{ReleaseID: d.ReleaseID, Service: service, Bucket: d.Bucket})
		if len(ud) > release.MaxUserDataBytes {
			return nil, &deployer.BadReleaseError{Msg: fmt.Sprintf("service %s: user_data is %d bytes once its variables are replaced, more than EC2's %d", service, len(ud), release.MaxUserDataBytes)}
		}
		data.UserData = aws.String(base64.StdEncoding.EncodeToString([]byte(ud)))
	}
	return data, nil
}

func (p *Provider) ensureGroup(ctx context.Context, c *Clients, d *deployer.Deployment, res *resolved, service string, lt template) error {
	name := groupName(d, service)
	g, err := p.describeGroupDeleted(ctx, c, name)
	if err != nil {
		return err
	}
	if g != nil {
		return adoptable(*g, d, service)
	}
	s := d.Release.Services[service]
	a := s.Autoscaling
	target := capacity(a, previousCapacity(res, d, service))
	first := firstStep(a.Strategy, target)
	rs := res.services[service]
	in := &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name),
		LaunchTemplate: &asgtypes.LaunchTemplateSpecification{
			LaunchTemplateId: aws.String(lt.id),
			Version:          aws.String(strconv.FormatInt(lt.version, 10)),
		},
		MinSize:                aws.Int32(int32(min(a.MinSize, first))),
		MaxSize:                aws.Int32(int32(a.MaxSize)),
		DesiredCapacity:        aws.Int32(int32(first)),
		VPCZoneIdentifier:      aws.String(strings.Join(res.subnets, ",")),
		TargetGroupARNs:        rs.targetGroups,
		LoadBalancerNames:      rs.elbs,
		HealthCheckType:        aws.String("EC2"),
		HealthCheckGracePeriod: aws.Int32(int32(s.HealthCheck.Grace())),
		Tags:                   groupTags(d, service, target),
	}
	if len(rs.targetGroups)+len(rs.elbs) > 0 {
		in.HealthCheckType = aws.String("ELB")
	}
	for _, hook := range slices.Sorted(maps.Keys(d.Release.Lifecycle)) {
		h := d.Release.Lifecycle[hook]
		in.LifecycleHookSpecificationList = append(in.LifecycleHookSpecificationList, asgtypes.LifecycleHookSpecification{
			LifecycleHookName:     aws.String(hook),
			LifecycleTransition:   aws.String(h.Transition),
			NotificationTargetARN: aws.String(h.SNS),
			RoleARN:               aws.String(h.Role),
			HeartbeatTimeout:      aws.Int32(int32(h.HeartbeatTimeout)),
			// A hook whose listener is down lets the instance go on.
			DefaultResult: aws.String("CONTINUE"),
		})
	}
	_, err = c.AutoScaling.CreateAutoScalingGroup(ctx, in)
	if awserr.Is(err, "AlreadyExists") {
		g, derr := describeGroup(ctx, c, name)
		if derr != nil {
			return derr
		}
		if g == nil {
			return &deployer.DeployError{Msg: fmt.Sprintf("Auto Scaling group %s already exists but cannot be described", name)}
		}
		return adoptable(*g, d, service)
	}
	if err != nil {
		return fmt.Errorf("create Auto Scaling group %s: %w", name, err)
	}
	p.log.Info("created Auto Scaling group", "name", name, "capacity", target, "first_step", first, "release", d.ReleaseID)
	return nil
}

// adoptable says whether an existing group is this release's service's,
// which a retried Deploy takes over as it is.
func adoptable(g asgtypes.AutoScalingGroup, d *deployer.Deployment, service string) error {
	name := aws.ToString(g.AutoScalingGroupName)
	if deleting(g) {
		return &deployer.DeployError{Msg: fmt.Sprintf("Auto Scaling group %s is still being deleted (an earlier deploy of this release was cleaned up): deploy again once it is gone", name)}
	}
	for _, kv := range [][2]string{{TagProject, d.Project}, {TagConfig, d.Config}, {TagService, service}, {TagRelease, d.ReleaseID}} {
		if v, _ := asgTag(g, kv[0]); v != kv[1] {
			return &deployer.DeployError{Msg: fmt.Sprintf("Auto Scaling group %s exists but is not release %s's (its tag %s is %q, not %q): delete it, or find who created it", name, d.ReleaseID, kv[0], v, kv[1])}
		}
	}
	return nil
}

// describeGroupDeleted describes the group, and when AWS is still deleting
// an earlier one of that name (a rollback to a release whose group the
// release after it removed minutes ago), waits until it is gone, within the
// provider's detach timeout.
func (p *Provider) describeGroupDeleted(ctx context.Context, c *Clients, name string) (*asgtypes.AutoScalingGroup, error) {
	deadline := p.now().Add(p.detachTimeout)
	for {
		g, err := describeGroup(ctx, c, name)
		if err != nil || g == nil || !deleting(*g) || !p.now().Before(deadline) {
			return g, err
		}
		p.log.Info("waiting for an earlier group of the same name to be deleted", "group", name)
		if err := p.sleep(ctx, p.pollInterval); err != nil {
			return nil, err
		}
	}
}

func describeGroup(ctx context.Context, c *Clients, name string) (*asgtypes.AutoScalingGroup, error) {
	out, err := c.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		return nil, fmt.Errorf("describe Auto Scaling group %s: %w", name, err)
	}
	for _, g := range out.AutoScalingGroups {
		if aws.ToString(g.AutoScalingGroupName) == name {
			return &g, nil
		}
	}
	return nil, nil
}
