package awsprovider

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/release"
)

// Health reports the release's instances per service, raises capacity by
// the rollout strategy's next step when the instances so far are healthy,
// and fails at once when Auto Scaling could not launch (a DeployError with
// AWS's own message) or when more instances terminate than max_terms
// allows (a HaltError).
func (p *Provider) Health(ctx context.Context, d *deployer.Deployment) (*contract.Health, error) {
	c, err := p.session(ctx, d)
	if err != nil {
		return nil, err
	}
	hl := &contract.Health{Healthy: true, Services: map[string]*contract.ServiceHealth{}}
	var fatal error
	for _, name := range slices.Sorted(maps.Keys(d.Release.Services)) {
		sh, healthy, err := p.serviceHealth(ctx, c, d, name)
		if sh != nil {
			hl.Services[name] = sh
		}
		if err != nil {
			if _, typed := err.(interface{ ErrorType() string }); !typed {
				return nil, err
			}
			if fatal == nil {
				fatal = err
			}
		}
		if !healthy {
			hl.Healthy = false
		}
	}
	return hl, fatal
}

// instanceView is what the APIs say of one instance.
type instanceView struct {
	id        string
	lifecycle string // Auto Scaling's lifecycle state
	asgHealth string // Healthy, Unhealthy
	ec2State  string
	launched  time.Time
	targets   []targetView
	elbs      []elbView
}

type targetView struct{ group, state, reason, description string }
type elbView struct{ name, state, reason, description string }

// serviceHealth reports a service's instances and whether the service is
// healthy: its group has reached its capacity and enough of it is healthy.
func (p *Provider) serviceHealth(ctx context.Context, c *Clients, d *deployer.Deployment, service string) (*contract.ServiceHealth, bool, error) {
	name := groupName(d, service)
	s := d.Release.Services[service]
	g, err := describeGroup(ctx, c, name)
	if err != nil {
		return nil, false, err
	}
	if g == nil || deleting(*g) {
		sh := &contract.ServiceHealth{Desired: s.Autoscaling.MinSize, Instances: []contract.Instance{}}
		return sh, false, &deployer.DeployError{Msg: fmt.Sprintf("service %s: Auto Scaling group %s no longer exists (deleted outside this deploy?)", service, name)}
	}
	target := s.Autoscaling.MinSize
	if v, ok := asgTag(*g, TagCapacity); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			target = n
		}
	}
	if err := launchFailure(ctx, c, *g, service); err != nil {
		sh := &contract.ServiceHealth{Desired: target, Instances: []contract.Instance{}}
		return sh, false, err
	}
	views, err := p.instanceViews(ctx, c, *g, d.ReleaseID, service)
	if err != nil {
		return nil, false, err
	}
	grace := time.Duration(s.HealthCheck.Grace()) * time.Second
	sh := &contract.ServiceHealth{Desired: target, Instances: []contract.Instance{}}
	for _, v := range views {
		state, reason := classify(v, grace, p.now())
		switch state {
		case contract.InstanceHealthy:
			sh.Healthy++
		case contract.InstanceLaunching:
			sh.Launching++
		case contract.InstanceTerminating:
			sh.Terminating++
		default:
			sh.Unhealthy++
		}
		sh.Instances = append(sh.Instances, contract.Instance{ID: v.id, ReleaseID: d.ReleaseID, State: state, Reason: reason})
	}
	if a := s.Autoscaling; sh.Terminating > a.MaxTerms {
		return sh, false, &deployer.HaltError{Msg: fmt.Sprintf("service %s: %d of release %s's instances are terminating, more than max_terms (%d) allows: halting the deploy (%s)",
			service, sh.Terminating, d.ReleaseID, a.MaxTerms, reasons(sh, contract.InstanceTerminating))}
	}
	current := int(aws.ToInt32(g.DesiredCapacity))
	if current < target {
		// Still rolling out: the service is healthy only at its capacity.
		if sh.Healthy >= healthyNeeded(s.Autoscaling, current) {
			next := nextStep(s.Autoscaling.Strategy, current, target)
			if _, err := c.AutoScaling.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
				AutoScalingGroupName: aws.String(name),
				DesiredCapacity:      aws.Int32(int32(next)),
				MinSize:              aws.Int32(int32(min(s.Autoscaling.MinSize, next))),
			}); err != nil {
				return nil, false, fmt.Errorf("raise %s to %d instances: %w", name, next, err)
			}
			p.log.Info("rollout step", "group", name, "strategy", s.Autoscaling.Strategy, "from", current, "to", next, "capacity", target)
		}
		return sh, false, nil
	}
	return sh, sh.Healthy >= healthyNeeded(s.Autoscaling, target), nil
}

// healthyNeeded is how many healthy instances make a group of desired
// instances healthy: max(min_size, floor(desired × (1 − spread))), never
// more than desired.
func healthyNeeded(a *release.Autoscaling, desired int) int {
	n := max(a.MinSize, int(math.Floor(float64(desired)*(1-a.Spread)+1e-9)))
	return min(n, desired)
}

// launchFailure is a DeployError carrying Auto Scaling's own message when
// the group failed to launch an instance since it was created: a bad AMI,
// no capacity for the type, an unauthorized call. Waiting would not help.
func launchFailure(ctx context.Context, c *Clients, g asgtypes.AutoScalingGroup, service string) error {
	name := aws.ToString(g.AutoScalingGroupName)
	out, err := c.AutoScaling.DescribeScalingActivities(ctx, &autoscaling.DescribeScalingActivitiesInput{
		AutoScalingGroupName: aws.String(name),
		MaxRecords:           aws.Int32(20),
	})
	if err != nil {
		return fmt.Errorf("describe scaling activities of %s: %w", name, err)
	}
	// The newest activity that ended decides: Auto Scaling retries a
	// launch that failed for want of capacity in one zone, and a success
	// after a failure means it recovered.
	created := aws.ToTime(g.CreatedTime)
	for _, a := range out.Activities {
		if !created.IsZero() && a.StartTime != nil && a.StartTime.Before(created) {
			continue // an earlier group of the same name
		}
		switch a.StatusCode {
		case asgtypes.ScalingActivityStatusCodeSuccessful:
			return nil
		case asgtypes.ScalingActivityStatusCodeFailed:
			msg := aws.ToString(a.StatusMessage)
			if msg == "" {
				msg = aws.ToString(a.Description)
			}
			return &deployer.DeployError{Msg: fmt.Sprintf("service %s: Auto Scaling could not launch instances in %s: %s (%s)",
				service, name, msg, strings.TrimSpace(aws.ToString(a.Description)))}
		}
	}
	return nil
}

// instanceViews gathers what Auto Scaling, EC2, the target groups and the
// classic load balancers say of the group's instances, and of the
// release's instances that left the group but have not finished leaving
// (shutting down, or still draining from a target group): those are
// terminations too.
func (p *Provider) instanceViews(ctx context.Context, c *Clients, g asgtypes.AutoScalingGroup, releaseID, service string) ([]instanceView, error) {
	name := aws.ToString(g.AutoScalingGroupName)
	views := map[string]*instanceView{}
	for _, in := range g.Instances {
		id := aws.ToString(in.InstanceId)
		views[id] = &instanceView{id: id, lifecycle: string(in.LifecycleState), asgHealth: aws.ToString(in.HealthStatus)}
	}
	// EC2's view of every instance of the release's service, found by tag:
	// stopped ones, launch times for the grace period, and those that left
	// the group. One EC2 does not know yet (eventual consistency) keeps the
	// group's view alone.
	in := &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + TagRelease), Values: []string{releaseID}},
		{Name: aws.String("tag:" + TagService), Values: []string{service}},
	}}
	pages := ec2.NewDescribeInstancesPaginator(c.EC2, in)
	var leaving []string
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe instances of %s: %w", name, err)
		}
		for _, r := range page.Reservations {
			for _, in := range r.Instances {
				id := aws.ToString(in.InstanceId)
				state := ""
				if in.State != nil {
					state = string(in.State.Name)
				}
				v := views[id]
				if v == nil {
					if state != "shutting-down" && state != "terminated" {
						continue
					}
					v = &instanceView{id: id, lifecycle: "Detached"}
					views[id] = v
					leaving = append(leaving, id)
				}
				v.ec2State, v.launched = state, aws.ToTime(in.LaunchTime)
			}
		}
	}
	ids := make([]string, 0, len(views))
	for id := range views {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if len(ids) == 0 {
		return nil, nil
	}
	// Each target group is asked about exactly these instances, so one that
	// is not registered says so, and one that left says whether it drains.
	for _, tg := range g.TargetGroupARNs {
		targets := make([]elbv2types.TargetDescription, len(ids))
		for i, id := range ids {
			targets[i] = elbv2types.TargetDescription{Id: aws.String(id)}
		}
		out, err := c.ELBv2.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(tg), Targets: targets})
		if err != nil {
			return nil, fmt.Errorf("describe target health in %s: %w", tg, err)
		}
		for _, th := range out.TargetHealthDescriptions {
			v := views[aws.ToString(th.Target.Id)]
			if v == nil {
				continue
			}
			tv := targetView{group: targetGroupName(tg)}
			if h := th.TargetHealth; h != nil {
				tv.state, tv.reason, tv.description = string(h.State), string(h.Reason), aws.ToString(h.Description)
			}
			if tv.state == "unused" && tv.reason == "Target.NotRegistered" {
				tv.state, tv.reason, tv.description = "not registered", "", ""
			}
			v.targets = append(v.targets, tv)
		}
	}
	for _, lb := range g.LoadBalancerNames {
		out, err := c.ELB.DescribeInstanceHealth(ctx, &elb.DescribeInstanceHealthInput{LoadBalancerName: aws.String(lb)})
		if err != nil {
			return nil, fmt.Errorf("describe instance health in %s: %w", lb, err)
		}
		seen := map[string]bool{}
		for _, st := range out.InstanceStates {
			id := aws.ToString(st.InstanceId)
			if v := views[id]; v != nil {
				seen[id] = true
				v.elbs = append(v.elbs, elbView{name: lb, state: aws.ToString(st.State), reason: aws.ToString(st.ReasonCode), description: aws.ToString(st.Description)})
			}
		}
		for _, id := range ids {
			if !seen[id] {
				views[id].elbs = append(views[id].elbs, elbView{name: lb, state: "not registered"})
			}
		}
	}
	res := make([]instanceView, 0, len(ids))
	for _, id := range ids {
		v := *views[id]
		if slices.Contains(leaving, id) && !v.draining() && v.ec2State == "terminated" {
			continue // gone: it has finished leaving
		}
		res = append(res, v)
	}
	return res, nil
}

func (v instanceView) draining() bool {
	for _, t := range v.targets {
		if t.state == "draining" {
			return true
		}
	}
	return false
}

// targetGroupName is the name in a target group's ARN
// (…:targetgroup/<name>/<id>).
func targetGroupName(arn string) string {
	if i := strings.Index(arn, ":targetgroup/"); i >= 0 {
		rest := arn[i+len(":targetgroup/"):]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			return rest[:j]
		}
		return rest
	}
	return arn
}

// classify decides an instance's state from every view of it, and says why
// when it is not healthy. Termination wins over everything (Coinbase's
// rule: a terminating instance never comes back); an instance still in its
// grace period whose checks fail is launching, not unhealthy.
func classify(v instanceView, grace time.Duration, now time.Time) (state, reason string) {
	lc := v.lifecycle
	switch {
	case strings.HasPrefix(lc, "Terminating") || lc == "Terminated":
		return contract.InstanceTerminating, "Auto Scaling: " + lc
	case v.ec2State == "shutting-down" || v.ec2State == "terminated":
		reason := "EC2: " + v.ec2State
		for _, t := range v.targets {
			if t.state == "draining" {
				reason += "; target group " + t.group + ": draining"
			}
		}
		return contract.InstanceTerminating, reason
	}
	for _, t := range v.targets {
		if t.state == "draining" {
			return contract.InstanceTerminating, "target group " + t.group + ": draining" + detail(t.reason, t.description)
		}
	}
	if v.ec2State == "stopped" || v.ec2State == "stopping" {
		return contract.InstanceUnhealthy, "EC2: instance " + v.ec2State
	}
	if strings.HasPrefix(lc, "Pending") || lc == "Warmed:Pending" {
		return contract.InstanceLaunching, "Auto Scaling: " + lc
	}
	if v.ec2State == "pending" {
		return contract.InstanceLaunching, "EC2: pending"
	}
	inGrace := !v.launched.IsZero() && now.Sub(v.launched) < grace
	var why []string
	launching := false
	if lc != string(asgtypes.LifecycleStateInService) {
		why = append(why, "Auto Scaling: "+lc)
	}
	if v.asgHealth != "" && v.asgHealth != "Healthy" {
		why = append(why, "Auto Scaling health: "+v.asgHealth)
	}
	for _, t := range v.targets {
		switch t.state {
		case "healthy":
		case "initial":
			launching = true
			why = append(why, "target group "+t.group+": initial"+detail(t.reason, t.description))
		default:
			why = append(why, "target group "+t.group+": "+t.state+detail(t.reason, t.description))
		}
	}
	for _, e := range v.elbs {
		if e.state != "InService" {
			why = append(why, "load balancer "+e.name+": "+e.state+detail(e.reason, e.description))
		}
	}
	switch {
	case len(why) == 0:
		return contract.InstanceHealthy, ""
	case launching || inGrace:
		return contract.InstanceLaunching, strings.Join(why, "; ")
	}
	return contract.InstanceUnhealthy, strings.Join(why, "; ")
}

func detail(reason, description string) string {
	switch {
	case reason != "" && description != "":
		return " (" + reason + ": " + description + ")"
	case reason != "":
		return " (" + reason + ")"
	case description != "" && description != "N/A":
		return " (" + description + ")"
	}
	return ""
}

// reasons lists the instances in state with their reasons.
func reasons(sh *contract.ServiceHealth, state string) string {
	var out []string
	for _, in := range sh.Instances {
		if in.State == state {
			out = append(out, in.ID+": "+in.Reason)
		}
	}
	return strings.Join(out, "; ")
}
