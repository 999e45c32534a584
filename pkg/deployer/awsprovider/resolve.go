package awsprovider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/odin-deploy/odin/pkg/awserr"
	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/release"
)

// resolved is a release with every name turned into the id AWS wants, each
// checked for this project, config and service.
type resolved struct {
	image    ec2types.Image
	subnets  []string // ids, in the release's order
	vpc      string
	services map[string]*resolvedService
	// groups are the project and config's groups (odin's, by tag), not
	// being deleted: this release's and the others'.
	groups []asgtypes.AutoScalingGroup
}

type resolvedService struct {
	securityGroups []string // ids
	targetGroups   []string // ARNs
	elbs           []string // names
	profileArn     string
}

// problems collects every refusal, so one ValidateResources names them all.
type problems []string

func (ps *problems) add(format string, args ...any) { *ps = append(*ps, fmt.Sprintf(format, args...)) }

func (ps problems) err(d *deployer.Deployment) error {
	if len(ps) == 0 {
		return nil
	}
	return &deployer.ResourceError{Msg: fmt.Sprintf("release %s cannot use what it names in account %s (%s):\n- %s",
		d.ReleaseID, d.Account, d.Region, strings.Join(ps, "\n- "))}
}

// who names the project, config and service a resource must be tagged for.
type who struct{ project, config, service string }

func (w who) String() string { return w.project + "/" + w.config + "/" + w.service }

// authorize checks the ProjectName, ConfigName and ServiceName tags of a
// security group, target group or ELB. tag returns a tag's value and
// whether it is set; fix is the command that would tag it.
func authorize(ps *problems, what string, w who, tag func(string) (string, bool), fix func(key, value string) string) bool {
	ok := true
	for _, kv := range [][2]string{{TagProject, w.project}, {TagConfig, w.config}, {TagService, w.service}} {
		got, set := tag(kv[0])
		switch {
		case !set:
			ps.add("%s is not authorized for %s: it has no tag %s; tag it %s=%s (or %s) to allow it: %s", what, w, kv[0], kv[0], kv[1], AllValue, fix(kv[0], kv[1]))
			ok = false
		case got != kv[1] && got != AllValue:
			ps.add("%s is not authorized for %s: its tag %s is %q, not %q or %q; it belongs to another %s", what, w, kv[0], got, kv[1], AllValue, strings.ToLower(strings.TrimSuffix(kv[0], "Name")))
			ok = false
		}
	}
	return ok
}

var (
	amiID    = lazyRegexp(`^ami-([0-9a-f]{8}|[0-9a-f]{17})$`)
	subnetID = lazyRegexp(`^subnet-([0-9a-f]{8}|[0-9a-f]{17})$`)
	sgID     = lazyRegexp(`^sg-([0-9a-f]{8}|[0-9a-f]{17})$`)
)

// resolve resolves and authorizes everything the release names. A refusal
// is a *deployer.ResourceError naming every problem; a failed call is
// returned as it is.
func (p *Provider) resolve(ctx context.Context, c *Clients, d *deployer.Deployment) (*resolved, error) {
	r := d.Release
	if r == nil {
		return nil, &deployer.BadReleaseError{Msg: "the deployment carries no release"}
	}
	var ps problems
	res := &resolved{services: map[string]*resolvedService{}}
	if err := p.resolveImage(ctx, c, r.Image, res, &ps); err != nil {
		return nil, err
	}
	if err := p.resolveSubnets(ctx, c, r.Subnets, res, &ps); err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(r.Services)) {
		s := r.Services[name]
		w := who{d.Project, d.Config, name}
		rs := &resolvedService{}
		res.services[name] = rs
		if err := p.resolveSecurityGroups(ctx, c, s.SecurityGroups, w, res.vpc, rs, &ps); err != nil {
			return nil, err
		}
		if err := p.resolveTargetGroups(ctx, c, s.TargetGroups, w, res.vpc, rs, &ps); err != nil {
			return nil, err
		}
		if err := p.resolveELBs(ctx, c, s.ELBs, w, rs, &ps); err != nil {
			return nil, err
		}
		if s.Profile != "" {
			if err := p.resolveProfile(ctx, c, s.Profile, w, rs, &ps); err != nil {
				return nil, err
			}
		}
		if s.EBS != nil {
			checkVolume(&ps, name, s.EBS, res.image)
		}
	}
	if err := p.resolveHooks(ctx, c, d, &ps); err != nil {
		return nil, err
	}
	groups, err := projectGroups(ctx, c, d)
	if err != nil {
		return nil, err
	}
	res.groups = groups
	return res, ps.err(d)
}

func (p *Provider) resolveImage(ctx context.Context, c *Clients, image string, res *resolved, ps *problems) error {
	in := &ec2.DescribeImagesInput{}
	byID := amiID().MatchString(image)
	if byID {
		in.ImageIds = []string{image}
	} else {
		in.Filters = []ec2types.Filter{{Name: aws.String("tag:Name"), Values: []string{image}}}
	}
	out, err := c.EC2.DescribeImages(ctx, in)
	if err != nil {
		if awserr.Is(err, "InvalidAMIID.NotFound", "InvalidAMIID.Malformed") {
			ps.add("image %s does not exist in this account and region (or is not shared with it)", image)
			return nil
		}
		return fmt.Errorf("describe image %s: %w", image, err)
	}
	if !byID {
		// EC2's filter values are patterns (* and ?): keep exact names
		// only, so a release always names the one image it meant.
		exact := out.Images[:0]
		for _, im := range out.Images {
			if name, _ := ec2Tag(im.Tags, TagName); name == image {
				exact = append(exact, im)
			}
		}
		out.Images = exact
	}
	switch n := len(out.Images); {
	case n == 0 && byID:
		ps.add("image %s does not exist in this account and region (or is not shared with it)", image)
		return nil
	case n == 0:
		ps.add("image %q: no AMI has the tag Name=%s here; name it with `aws ec2 create-tags --resources <ami-id> --tags Key=Name,Value=%s Key=%s,Value=%s`, or give its id", image, image, image, TagDeployWith, DeployWithOdin)
		return nil
	case n > 1:
		ids := make([]string, n)
		for i, im := range out.Images {
			ids[i] = aws.ToString(im.ImageId)
		}
		sort.Strings(ids)
		ps.add("image %q is ambiguous: %d AMIs have the tag Name=%s (%s); give the id, or untag the others", image, n, image, strings.Join(ids, ", "))
		return nil
	}
	im := out.Images[0]
	res.image = im
	id := aws.ToString(im.ImageId)
	if v, _ := ec2Tag(im.Tags, TagDeployWith); v != DeployWithOdin {
		ps.add("image %s (%s) is not allowed for odin deploys: it lacks the tag %s=%s; tag it: aws ec2 create-tags --resources %s --tags Key=%s,Value=%s", image, id, TagDeployWith, DeployWithOdin, id, TagDeployWith, DeployWithOdin)
	}
	if st := im.State; st != "" && st != ec2types.ImageStateAvailable {
		ps.add("image %s (%s) is %s, not available", image, id, st)
	}
	return nil
}

func (p *Provider) resolveSubnets(ctx context.Context, c *Clients, names []string, res *resolved, ps *problems) error {
	var ids, tagged []string
	for _, n := range names {
		if subnetID().MatchString(n) {
			ids = append(ids, n)
		} else {
			tagged = append(tagged, n)
		}
	}
	var found []ec2types.Subnet
	if len(ids) > 0 {
		out, err := c.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("subnet-id"), Values: ids}}})
		if err != nil {
			return fmt.Errorf("describe subnets %s: %w", strings.Join(ids, ", "), err)
		}
		found = append(found, out.Subnets...)
	}
	if len(tagged) > 0 {
		out, err := c.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("tag:Name"), Values: tagged}}})
		if err != nil {
			return fmt.Errorf("describe subnets %s: %w", strings.Join(tagged, ", "), err)
		}
		found = append(found, out.Subnets...)
	}
	vpcs := map[string][]string{}
	for _, n := range names {
		var match []ec2types.Subnet
		for _, s := range found {
			if name, _ := ec2Tag(s.Tags, TagName); aws.ToString(s.SubnetId) == n || name == n {
				match = append(match, s)
			}
		}
		switch len(match) {
		case 0:
			ps.add("subnet %s does not exist in this account and region (looked for the id and the tag Name)", n)
			continue
		case 1:
		default:
			ps.add("subnet %s is ambiguous: %d subnets have the tag Name=%s; give the id", n, len(match), n)
			continue
		}
		s := match[0]
		id := aws.ToString(s.SubnetId)
		if v, _ := ec2Tag(s.Tags, TagDeployWith); v != DeployWithOdin {
			ps.add("subnet %s (%s) is not allowed for odin deploys: it lacks the tag %s=%s; tag it: aws ec2 create-tags --resources %s --tags Key=%s,Value=%s", n, id, TagDeployWith, DeployWithOdin, id, TagDeployWith, DeployWithOdin)
		}
		res.subnets = append(res.subnets, id)
		vpc := aws.ToString(s.VpcId)
		vpcs[vpc] = append(vpcs[vpc], n)
		res.vpc = vpc
	}
	if len(vpcs) > 1 {
		var parts []string
		for v, ns := range vpcs {
			parts = append(parts, v+": "+strings.Join(ns, ", "))
		}
		sort.Strings(parts)
		ps.add("subnets are in %d VPCs (%s); an Auto Scaling group's subnets must share one VPC", len(vpcs), strings.Join(parts, "; "))
		res.vpc = ""
	}
	return nil
}

func (p *Provider) resolveSecurityGroups(ctx context.Context, c *Clients, names []string, w who, vpc string, rs *resolvedService, ps *problems) error {
	if len(names) == 0 {
		ps.add("service %s names no security_groups; its instances would get the VPC's default group, which odin cannot authorize", w.service)
		return nil
	}
	var ids, tagged []string
	for _, n := range names {
		if sgID().MatchString(n) {
			ids = append(ids, n)
		} else {
			tagged = append(tagged, n)
		}
	}
	var found []ec2types.SecurityGroup
	if len(ids) > 0 {
		out, err := c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{{Name: aws.String("group-id"), Values: ids}}})
		if err != nil {
			return fmt.Errorf("describe security groups %s: %w", strings.Join(ids, ", "), err)
		}
		found = append(found, out.SecurityGroups...)
	}
	if len(tagged) > 0 {
		in := &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{{Name: aws.String("tag:Name"), Values: tagged}}}
		if vpc != "" {
			in.Filters = append(in.Filters, ec2types.Filter{Name: aws.String("vpc-id"), Values: []string{vpc}})
		}
		out, err := c.EC2.DescribeSecurityGroups(ctx, in)
		if err != nil {
			return fmt.Errorf("describe security groups %s: %w", strings.Join(tagged, ", "), err)
		}
		found = append(found, out.SecurityGroups...)
	}
	for _, n := range names {
		var match []ec2types.SecurityGroup
		for _, g := range found {
			if name, _ := ec2Tag(g.Tags, TagName); aws.ToString(g.GroupId) == n || name == n {
				match = append(match, g)
			}
		}
		switch len(match) {
		case 0:
			where := "this account and region"
			if vpc != "" {
				where = "the subnets' VPC " + vpc
			}
			ps.add("security group %s (service %s) does not exist in %s (looked for the id and the tag Name)", n, w.service, where)
			continue
		case 1:
		default:
			ps.add("security group %s (service %s) is ambiguous: %d groups have the tag Name=%s; give the id", n, w.service, len(match), n)
			continue
		}
		g := match[0]
		id := aws.ToString(g.GroupId)
		if vpc != "" && aws.ToString(g.VpcId) != vpc {
			ps.add("security group %s (%s) is in VPC %s, not the subnets' VPC %s", n, id, aws.ToString(g.VpcId), vpc)
			continue
		}
		what := fmt.Sprintf("security group %s (%s)", n, id)
		if authorize(ps, what, w, func(k string) (string, bool) { return ec2Tag(g.Tags, k) }, func(k, v string) string {
			return fmt.Sprintf("aws ec2 create-tags --resources %s --tags Key=%s,Value=%s", id, k, v)
		}) {
			rs.securityGroups = append(rs.securityGroups, id)
		}
	}
	return nil
}

func (p *Provider) resolveTargetGroups(ctx context.Context, c *Clients, names []string, w who, vpc string, rs *resolvedService, ps *problems) error {
	if len(names) == 0 {
		return nil
	}
	out, err := c.ELBv2.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{Names: names})
	if err != nil {
		if !awserr.Is(err, "TargetGroupNotFound") {
			return fmt.Errorf("describe target groups %s: %w", strings.Join(names, ", "), err)
		}
		// One missing name fails the whole call: ask one by one to say which.
		out = &elbv2.DescribeTargetGroupsOutput{}
		for _, n := range names {
			one, err := c.ELBv2.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{Names: []string{n}})
			switch {
			case awserr.Is(err, "TargetGroupNotFound"):
				ps.add("target group %s (service %s) does not exist in this account and region", n, w.service)
			case err != nil:
				return fmt.Errorf("describe target group %s: %w", n, err)
			default:
				out.TargetGroups = append(out.TargetGroups, one.TargetGroups...)
			}
		}
	}
	if len(out.TargetGroups) == 0 {
		return nil
	}
	arns := make([]string, len(out.TargetGroups))
	for i, tg := range out.TargetGroups {
		arns[i] = aws.ToString(tg.TargetGroupArn)
	}
	tags, err := c.ELBv2.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: arns})
	if err != nil {
		return fmt.Errorf("describe tags of target groups %s: %w", strings.Join(names, ", "), err)
	}
	byArn := map[string]map[string]string{}
	for _, td := range tags.TagDescriptions {
		m := map[string]string{}
		for _, t := range td.Tags {
			m[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		byArn[aws.ToString(td.ResourceArn)] = m
	}
	for _, tg := range out.TargetGroups {
		arn, name := aws.ToString(tg.TargetGroupArn), aws.ToString(tg.TargetGroupName)
		if vpc != "" && tg.VpcId != nil && aws.ToString(tg.VpcId) != vpc {
			ps.add("target group %s is in VPC %s, not the subnets' VPC %s", name, aws.ToString(tg.VpcId), vpc)
			continue
		}
		if tg.TargetType != "" && tg.TargetType != "instance" {
			ps.add("target group %s has target type %s; Auto Scaling registers instances, so it needs target type instance", name, tg.TargetType)
			continue
		}
		m := byArn[arn]
		if authorize(ps, "target group "+name, w, func(k string) (string, bool) { v, ok := m[k]; return v, ok }, func(k, v string) string {
			return fmt.Sprintf("aws elbv2 add-tags --resource-arns %s --tags Key=%s,Value=%s", arn, k, v)
		}) {
			rs.targetGroups = append(rs.targetGroups, arn)
		}
	}
	return nil
}

func (p *Provider) resolveELBs(ctx context.Context, c *Clients, names []string, w who, rs *resolvedService, ps *problems) error {
	if len(names) == 0 {
		return nil
	}
	var found []string
	for _, n := range names {
		out, err := c.ELB.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerNames: []string{n}})
		switch {
		case awserr.Is(err, "LoadBalancerNotFound", "AccessPointNotFound"):
			ps.add("classic load balancer %s (service %s) does not exist in this account and region", n, w.service)
			continue
		case err != nil:
			return fmt.Errorf("describe load balancer %s: %w", n, err)
		case len(out.LoadBalancerDescriptions) == 0:
			ps.add("classic load balancer %s (service %s) does not exist in this account and region", n, w.service)
			continue
		}
		found = append(found, n)
	}
	if len(found) == 0 {
		return nil
	}
	tags, err := c.ELB.DescribeTags(ctx, &elb.DescribeTagsInput{LoadBalancerNames: found})
	if err != nil {
		return fmt.Errorf("describe tags of load balancers %s: %w", strings.Join(found, ", "), err)
	}
	byName := map[string]map[string]string{}
	for _, td := range tags.TagDescriptions {
		m := map[string]string{}
		for _, t := range td.Tags {
			m[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		byName[aws.ToString(td.LoadBalancerName)] = m
	}
	for _, n := range found {
		m := byName[n]
		if authorize(ps, "classic load balancer "+n, w, func(k string) (string, bool) { v, ok := m[k]; return v, ok }, func(k, v string) string {
			return fmt.Sprintf("aws elb add-tags --load-balancer-names %s --tags Key=%s,Value=%s", n, k, v)
		}) {
			rs.elbs = append(rs.elbs, n)
		}
	}
	return nil
}

// ProfilePath is the path an instance profile must have to be used by a
// service: the IAM policy's iam:PassRole condition and this check agree.
func ProfilePath(project, config, service string) string {
	return "/odin/" + project + "/" + config + "/" + service + "/"
}

func (p *Provider) resolveProfile(ctx context.Context, c *Clients, name string, w who, rs *resolvedService, ps *problems) error {
	out, err := c.IAM.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(name)})
	if awserr.Is(err, "NoSuchEntity") {
		ps.add("instance profile %s (service %s) does not exist in this account", name, w.service)
		return nil
	}
	if err != nil {
		return fmt.Errorf("get instance profile %s: %w", name, err)
	}
	ip := out.InstanceProfile
	want := ProfilePath(w.project, w.config, w.service)
	if got := aws.ToString(ip.Path); got != want {
		ps.add("instance profile %s is not authorized for %s: its path is %s, not %s; create it under that path: aws iam create-instance-profile --instance-profile-name %s --path %s", name, w, got, want, name, want)
		return nil
	}
	// The target role may pass only roles under /odin/ (TargetPolicy).
	for _, r := range ip.Roles {
		if path := aws.ToString(r.Path); !strings.HasPrefix(path, "/odin/") {
			ps.add("instance profile %s holds role %s with path %s; odin passes only roles under /odin/ to EC2: recreate the role with --path %s", name, aws.ToString(r.RoleName), path, want)
			return nil
		}
	}
	rs.profileArn = aws.ToString(ip.Arn)
	return nil
}

// resolveHooks checks that each lifecycle hook's role and topic exist in
// the release's account.
func (p *Provider) resolveHooks(ctx context.Context, c *Clients, d *deployer.Deployment, ps *problems) error {
	names := slices.Sorted(maps.Keys(d.Release.Lifecycle))
	roles, topics := map[string]bool{}, map[string]bool{}
	for _, n := range names {
		h := d.Release.Lifecycle[n]
		if !roles[h.Role] {
			roles[h.Role] = true
			role := h.Role[strings.LastIndex(h.Role, "/")+1:]
			_, err := c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)})
			switch {
			case awserr.Is(err, "NoSuchEntity"):
				ps.add("lifecycle hook %s: role %s does not exist", n, h.Role)
			case err != nil:
				return fmt.Errorf("get role %s: %w", h.Role, err)
			}
		}
		if !topics[h.SNS] {
			topics[h.SNS] = true
			_, err := c.SNS.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(h.SNS)})
			switch {
			case awserr.Is(err, "NotFound", "NotFoundException"):
				ps.add("lifecycle hook %s: topic %s does not exist", n, h.SNS)
			case err != nil:
				return fmt.Errorf("get topic %s: %w", h.SNS, err)
			}
		}
	}
	return nil
}

// checkVolume refuses volumes EC2 would refuse at launch, known from the
// image: a boot volume of a type that cannot boot, or smaller than the
// image's snapshot.
func checkVolume(ps *problems, service string, v *release.EBS, im ec2types.Image) {
	if aws.ToString(im.RootDeviceName) != v.DeviceName {
		return // a data volume
	}
	if v.VolumeType == "st1" || v.VolumeType == "sc1" {
		ps.add("service %s: ebs volume_type %s cannot be the boot volume (%s is the image's root device); use gp3, gp2, io1, io2 or standard", service, v.VolumeType, v.DeviceName)
	}
	for _, m := range im.BlockDeviceMappings {
		if aws.ToString(m.DeviceName) == v.DeviceName && m.Ebs != nil && m.Ebs.VolumeSize != nil && int(*m.Ebs.VolumeSize) > v.VolumeSize {
			ps.add("service %s: ebs volume_size %d GiB is smaller than the image's root snapshot (%d GiB); use at least %d", service, v.VolumeSize, *m.Ebs.VolumeSize, *m.Ebs.VolumeSize)
		}
	}
}

// projectGroups are the project and config's groups that odin created,
// found with tag filters (never a scan of the account's groups), less those
// being deleted.
func projectGroups(ctx context.Context, c *Clients, d *deployer.Deployment) ([]asgtypes.AutoScalingGroup, error) {
	in := &autoscaling.DescribeAutoScalingGroupsInput{Filters: []asgtypes.Filter{
		{Name: aws.String("tag:" + TagProject), Values: []string{d.Project}},
		{Name: aws.String("tag:" + TagConfig), Values: []string{d.Config}},
		{Name: aws.String("tag:" + TagDeployWith), Values: []string{DeployWithOdin}},
	}}
	var out []asgtypes.AutoScalingGroup
	pages := autoscaling.NewDescribeAutoScalingGroupsPaginator(c.AutoScaling, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("find the groups of %s/%s: %w", d.Project, d.Config, err)
		}
		for _, g := range page.AutoScalingGroups {
			// The filters are the server's; check again what matters.
			p, _ := asgTag(g, TagProject)
			cf, _ := asgTag(g, TagConfig)
			if p != d.Project || cf != d.Config || deleting(g) {
				continue
			}
			out = append(out, g)
		}
	}
	return out, nil
}

func deleting(g asgtypes.AutoScalingGroup) bool {
	return strings.EqualFold(aws.ToString(g.Status), "Delete in progress")
}
