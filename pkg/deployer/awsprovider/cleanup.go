package awsprovider

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/odin-deploy/odin/pkg/awserr"
	"github.com/odin-deploy/odin/pkg/deployer"
)

// CleanUpSuccess removes the groups and launch templates of every other
// release of the project and config: the release now serves alone. Groups
// are detached from their load balancers first, and deleted once the load
// balancers have let go, so no request reaches an instance being torn down.
func (p *Provider) CleanUpSuccess(ctx context.Context, d *deployer.Deployment) error {
	c, err := p.session(ctx, d)
	if err != nil {
		return err
	}
	groups, err := projectGroups(ctx, c, d)
	if err != nil {
		return err
	}
	var old []asgtypes.AutoScalingGroup
	for _, g := range groups {
		if r, _ := asgTag(g, TagRelease); r != d.ReleaseID {
			old = append(old, g)
		}
	}
	if err := p.removeGroups(ctx, c, old); err != nil {
		return err
	}
	return p.removeTemplates(ctx, c, d, func(release string) bool { return release != d.ReleaseID })
}

// CleanUpFailure removes this release's groups and launch templates, found
// by tag (Deploy may have failed between creating a template and its
// group). The previous release keeps serving. A group this release had
// before this deploy began, while no other release has any, is the one
// serving (a redeploy of it failed): it is left alone.
func (p *Provider) CleanUpFailure(ctx context.Context, d *deployer.Deployment) error {
	c, err := p.session(ctx, d)
	if err != nil {
		return err
	}
	groups, err := projectGroups(ctx, c, d)
	if err != nil {
		return err
	}
	var mine []asgtypes.AutoScalingGroup
	others, serving := 0, false
	for _, g := range groups {
		if r, _ := asgTag(g, TagRelease); r != d.ReleaseID {
			others++
			continue
		}
		mine = append(mine, g)
		if created := aws.ToTime(g.CreatedTime); !d.Started.IsZero() && !created.IsZero() && created.Before(d.Started) {
			serving = true
		}
	}
	if serving && others == 0 {
		p.log.Warn("left the serving release's groups in place after its redeploy failed", "release", d.ReleaseID)
		return nil
	}
	if err := p.removeGroups(ctx, c, mine); err != nil {
		return err
	}
	return p.removeTemplates(ctx, c, d, func(release string) bool { return release == d.ReleaseID })
}

// removeGroups detaches each group from its target groups and classic load
// balancers, waits until they have let go, and deletes it with its
// instances. Gone already is done.
func (p *Provider) removeGroups(ctx context.Context, c *Clients, groups []asgtypes.AutoScalingGroup) error {
	sort.Slice(groups, func(i, j int) bool {
		return aws.ToString(groups[i].AutoScalingGroupName) < aws.ToString(groups[j].AutoScalingGroupName)
	})
	var errs []error
	for _, g := range groups {
		name := aws.ToString(g.AutoScalingGroupName)
		if err := p.detach(ctx, c, g); err != nil {
			errs = append(errs, err)
			continue
		}
		_, err := c.AutoScaling.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(name),
			ForceDelete:          aws.Bool(true),
		})
		switch {
		case err == nil:
			p.log.Info("deleted Auto Scaling group", "name", name)
		case gone(err):
		case awserr.Is(err, "ScalingActivityInProgress") && (strings.Contains(err.Error(), "being deleted") || strings.Contains(err.Error(), "Delete in progress")):
			// Already being deleted. Any other activity in progress is a
			// CleanUpError below, which the state machine retries.
		default:
			errs = append(errs, &deployer.CleanUpError{Msg: fmt.Sprintf("delete Auto Scaling group %s: %v", name, err)})
		}
	}
	return errors.Join(errs...)
}

// detach takes the group out of its load balancers and waits until they
// say it is out, within the provider's detach timeout.
func (p *Provider) detach(ctx context.Context, c *Clients, g asgtypes.AutoScalingGroup) error {
	name := aws.ToString(g.AutoScalingGroupName)
	if len(g.TargetGroupARNs) > 0 {
		_, err := c.AutoScaling.DetachLoadBalancerTargetGroups(ctx, &autoscaling.DetachLoadBalancerTargetGroupsInput{
			AutoScalingGroupName: aws.String(name), TargetGroupARNs: g.TargetGroupARNs,
		})
		if err != nil && !gone(err) {
			return &deployer.CleanUpError{Msg: fmt.Sprintf("detach %s from its target groups: %v", name, err)}
		}
	}
	if len(g.LoadBalancerNames) > 0 {
		_, err := c.AutoScaling.DetachLoadBalancers(ctx, &autoscaling.DetachLoadBalancersInput{
			AutoScalingGroupName: aws.String(name), LoadBalancerNames: g.LoadBalancerNames,
		})
		if err != nil && !gone(err) {
			return &deployer.CleanUpError{Msg: fmt.Sprintf("detach %s from its load balancers: %v", name, err)}
		}
	}
	if len(g.TargetGroupARNs)+len(g.LoadBalancerNames) == 0 {
		return nil
	}
	deadline := p.now().Add(p.detachTimeout)
	for {
		left, err := attached(ctx, c, name)
		if err != nil {
			if gone(err) {
				return nil
			}
			return fmt.Errorf("wait for %s to detach: %w", name, err)
		}
		if len(left) == 0 {
			return nil
		}
		if !p.now().Before(deadline) {
			return &deployer.CleanUpError{Msg: fmt.Sprintf("%s is still attached to %s after %s (connection draining); clean-up will try again", name, strings.Join(left, ", "), p.detachTimeout)}
		}
		if err := p.sleep(ctx, p.pollInterval); err != nil {
			return err
		}
	}
}

// attached lists the load balancers and target groups still holding the
// group (any state but Removed).
func attached(ctx context.Context, c *Clients, name string) ([]string, error) {
	var left []string
	tgs, err := c.AutoScaling.DescribeLoadBalancerTargetGroups(ctx, &autoscaling.DescribeLoadBalancerTargetGroupsInput{AutoScalingGroupName: aws.String(name)})
	if err != nil {
		return nil, err
	}
	for _, s := range tgs.LoadBalancerTargetGroups {
		if st := aws.ToString(s.State); st != "Removed" {
			left = append(left, targetGroupName(aws.ToString(s.LoadBalancerTargetGroupARN))+" ("+st+")")
		}
	}
	lbs, err := c.AutoScaling.DescribeLoadBalancers(ctx, &autoscaling.DescribeLoadBalancersInput{AutoScalingGroupName: aws.String(name)})
	if err != nil {
		return nil, err
	}
	for _, s := range lbs.LoadBalancers {
		if st := aws.ToString(s.State); st != "Removed" {
			left = append(left, aws.ToString(s.LoadBalancerName)+" ("+st+")")
		}
	}
	return left, nil
}

// gone says the group no longer exists.
func gone(err error) bool {
	return awserr.Is(err, "ValidationError") && strings.Contains(strings.ToLower(err.Error()), "not found")
}

// removeTemplates deletes the project and config's launch templates whose
// release matches, found by tag.
func (p *Provider) removeTemplates(ctx context.Context, c *Clients, d *deployer.Deployment, match func(release string) bool) error {
	in := &ec2.DescribeLaunchTemplatesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + TagProject), Values: []string{d.Project}},
		{Name: aws.String("tag:" + TagConfig), Values: []string{d.Config}},
		{Name: aws.String("tag:" + TagDeployWith), Values: []string{DeployWithOdin}},
	}}
	var errs []error
	pages := ec2.NewDescribeLaunchTemplatesPaginator(c.EC2, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("find the launch templates of %s/%s: %w", d.Project, d.Config, err)
		}
		for _, lt := range page.LaunchTemplates {
			pr, _ := ec2Tag(lt.Tags, TagProject)
			cf, _ := ec2Tag(lt.Tags, TagConfig)
			r, _ := ec2Tag(lt.Tags, TagRelease)
			if pr != d.Project || cf != d.Config || !match(r) {
				continue
			}
			id := aws.ToString(lt.LaunchTemplateId)
			_, err := c.EC2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: aws.String(id)})
			switch {
			case err == nil:
				p.log.Info("deleted launch template", "name", aws.ToString(lt.LaunchTemplateName), "id", id)
			case awserr.Is(err, "InvalidLaunchTemplateId.NotFound", "InvalidLaunchTemplateName.NotFoundException"):
			default:
				errs = append(errs, &deployer.CleanUpError{Msg: fmt.Sprintf("delete launch template %s (%s): %v", aws.ToString(lt.LaunchTemplateName), id, err)})
			}
		}
	}
	return errors.Join(errs...)
}
