package awsprovider

// What moto 5.2.1 cannot show, faked behind the provider's own client
// interfaces: each fake wraps moto's real client and changes only the answer
// moto lacks, shaped as AWS documents it. Each is paired with a canary in
// motocanary_test.go that fails once moto gains the behaviour, so the fake
// can give way to a moto test.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/deployer"
)

// wrapped is a ClientSource whose clients are moto's, changed by wrap.
type wrapped struct {
	inner ClientSource
	wrap  func(*Clients) *Clients
}

func (w wrapped) Clients(ctx context.Context, s Session) (*Clients, error) {
	c, err := w.inner.Clients(ctx, s)
	if err != nil {
		return nil, err
	}
	return w.wrap(c), nil
}

func (e *env) providerWith(wrap func(*Clients) *Clients) *Provider {
	return New(Options{Clients: wrapped{e.sessions, wrap}, PollInterval: 10 * time.Millisecond, DetachTimeout: 300 * time.Millisecond})
}

// targetStates answers DescribeTargetHealth with the given state for the
// given instances (AWS: a new target is "initial" with
// Elb.RegistrationInProgress until it passes its checks; a failing one is
// "unhealthy" with Target.ResponseCodeMismatch or Target.Timeout).
type targetStates struct {
	ELBv2
	states map[string]elbv2types.TargetHealth
}

func (f targetStates) DescribeTargetHealth(ctx context.Context, in *elbv2.DescribeTargetHealthInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error) {
	out, err := f.ELBv2.DescribeTargetHealth(ctx, in, opts...)
	if err != nil {
		return nil, err
	}
	for i, th := range out.TargetHealthDescriptions {
		if h, ok := f.states[aws.ToString(th.Target.Id)]; ok {
			out.TargetHealthDescriptions[i].TargetHealth = &h
		}
	}
	return out, nil
}

// Paired with TestCanaryTargetHealthAlwaysHealthy.
func TestFakeTargetInitialAndUnhealthy(t *testing.T) {
	e := newEnv(t)
	d := e.deployment("v1", "")
	if err := e.provider.Deploy(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	hl := e.untilHealthy(d)
	a, b := hl.Services["web"].Instances[0].ID, hl.Services["web"].Instances[1].ID
	p := e.providerWith(func(c *Clients) *Clients {
		c2 := *c
		c2.ELBv2 = targetStates{c.ELBv2, map[string]elbv2types.TargetHealth{
			a: {State: elbv2types.TargetHealthStateEnumInitial, Reason: elbv2types.TargetHealthReasonEnumRegistrationInProgress, Description: aws.String("Target registration is in progress")},
			b: {State: elbv2types.TargetHealthStateEnumUnhealthy, Reason: elbv2types.TargetHealthReasonEnumResponseCodeMismatch, Description: aws.String("Health checks failed with these codes: [502]")},
		}}
		return &c2
	})
	hl, err := p.Health(e.ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	web := hl.Services["web"]
	got := map[string]contract.Instance{}
	for _, in := range web.Instances {
		got[in.ID] = in
	}
	if in := got[a]; in.State != contract.InstanceLaunching || !strings.Contains(in.Reason, "target group shop-web: initial (Elb.RegistrationInProgress: Target registration is in progress)") {
		t.Errorf("initial target: %+v, want launching with the registration reason", in)
	}
	if in := got[b]; in.State != contract.InstanceUnhealthy || !strings.Contains(in.Reason, "target group shop-web: unhealthy (Target.ResponseCodeMismatch: Health checks failed with these codes: [502])") {
		t.Errorf("unhealthy target: %+v, want unhealthy with AWS's reason", in)
	}
	if hl.Healthy || web.Healthy != 0 || web.Launching != 1 || web.Unhealthy != 1 {
		t.Errorf("web counts %+v healthy=%v; want 0 healthy, 1 launching, 1 unhealthy", web, hl.Healthy)
	}
	// Within the grace period a failing check means still launching.
	if state, _ := classify(instanceView{id: b, lifecycle: "InService", asgHealth: "Healthy", ec2State: "running", launched: time.Now(),
		targets: []targetView{{group: "shop-web", state: "unhealthy"}}}, 5*time.Minute, time.Now()); state != contract.InstanceLaunching {
		t.Errorf("unhealthy within the grace period is %s, want launching", state)
	}
}

// lifecycleStates answers DescribeAutoScalingGroups with the given
// lifecycle state for the given instances (AWS: Pending, Pending:Wait while
// a launch hook holds it, Terminating:Wait while a termination hook does).
type lifecycleStates struct {
	AutoScaling
	states map[string]asgtypes.LifecycleState
	// status, when set, is every group's Status ("Delete in progress").
	status string
}

func (f lifecycleStates) DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	out, err := f.AutoScaling.DescribeAutoScalingGroups(ctx, in, opts...)
	if err != nil {
		return nil, err
	}
	for gi := range out.AutoScalingGroups {
		g := &out.AutoScalingGroups[gi]
		if f.status != "" {
			g.Status = aws.String(f.status)
		}
		for ii := range g.Instances {
			if s, ok := f.states[aws.ToString(g.Instances[ii].InstanceId)]; ok {
				g.Instances[ii].LifecycleState = s
			}
		}
	}
	return out, nil
}

// Paired with TestCanaryInstancesInServiceAtOnce.
func TestFakePendingAndTerminatingLifecycle(t *testing.T) {
	e := newEnv(t)
	d := e.deployment("v1", "")
	if err := e.provider.Deploy(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	hl := e.untilHealthy(d)
	a, b := hl.Services["web"].Instances[0].ID, hl.Services["web"].Instances[1].ID
	p := e.providerWith(func(c *Clients) *Clients {
		c2 := *c
		c2.AutoScaling = lifecycleStates{AutoScaling: c.AutoScaling, states: map[string]asgtypes.LifecycleState{
			a: asgtypes.LifecycleStatePendingWait, b: asgtypes.LifecycleStateTerminatingWait}}
		return &c2
	})
	// max_terms 0: one instance terminating halts the deploy.
	hl, err := p.Health(e.ctx, d)
	var he *deployer.HaltError
	if !errors.As(err, &he) {
		t.Fatalf("a terminating instance with max_terms 0: %v, want a HaltError", err)
	}
	errContains(t, err, "1 of release "+d.ReleaseID+"'s instances are terminating, more than max_terms (0)", b+": Auto Scaling: Terminating:Wait")
	web := hl.Services["web"]
	if web.Launching != 1 || web.Terminating != 1 {
		t.Errorf("web %+v, want 1 launching (Pending:Wait) and 1 terminating", web)
	}
}

// failedActivities answers DescribeScalingActivities with a failed launch,
// as AWS reports a bad AMI (moto records no activities); recovered puts a
// successful launch after it, newest first as AWS lists them.
type failedActivities struct {
	AutoScaling
	recovered bool
}

func (f failedActivities) DescribeScalingActivities(ctx context.Context, in *autoscaling.DescribeScalingActivitiesInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeScalingActivitiesOutput, error) {
	var newer []asgtypes.Activity
	if f.recovered {
		newer = append(newer, asgtypes.Activity{
			ActivityId: aws.String("5e3c3a0e-6d3c-4a47-9d7b-2b8f0d1c9a11"), AutoScalingGroupName: in.AutoScalingGroupName,
			Description: aws.String("Launching a new EC2 instance: i-0123456789abcdef0"), StatusCode: asgtypes.ScalingActivityStatusCodeSuccessful,
			StartTime: aws.Time(time.Now().Add(2 * time.Hour)), Progress: aws.Int32(100),
		})
	}
	return &autoscaling.DescribeScalingActivitiesOutput{Activities: append(newer, asgtypes.Activity{
		ActivityId:           aws.String("f9f2d65b-f1f2-43e7-b46d-d86756459699"),
		AutoScalingGroupName: in.AutoScalingGroupName,
		Cause:                aws.String("At 2026-12-05T10:00:00Z an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 0 to 2."),
		Description:          aws.String("Launching a new EC2 instance.  Status Reason: The image id '[ami-0123456789abcdef0]' does not exist. Launching EC2 instance failed."),
		StatusCode:           asgtypes.ScalingActivityStatusCodeFailed,
		StatusMessage:        aws.String("The image id '[ami-0123456789abcdef0]' does not exist. Launching EC2 instance failed."),
		StartTime:            aws.Time(time.Now().Add(time.Hour)),
		Progress:             aws.Int32(100),
	})}, nil
}

// Paired with TestCanaryNoFailedScalingActivity.
func TestFakeFailedLaunchFailsAtOnce(t *testing.T) {
	e := newEnv(t)
	d := e.deployment("v1", "")
	if err := e.provider.Deploy(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	p := e.providerWith(func(c *Clients) *Clients {
		c2 := *c
		c2.AutoScaling = failedActivities{AutoScaling: c.AutoScaling}
		return &c2
	})
	_, err := p.Health(e.ctx, d)
	var de *deployer.DeployError
	if !errors.As(err, &de) {
		t.Fatalf("a failed launch: %v, want a DeployError at once", err)
	}
	errContains(t, err, "Auto Scaling could not launch instances", "The image id '[ami-0123456789abcdef0]' does not exist. Launching EC2 instance failed.")
	// A launch that succeeded after the failure (capacity found in another
	// zone) means the group recovered.
	recovered := e.providerWith(func(c *Clients) *Clients {
		c2 := *c
		c2.AutoScaling = failedActivities{AutoScaling: c.AutoScaling, recovered: true}
		return &c2
	})
	if _, err := recovered.Health(e.ctx, d); err != nil {
		t.Errorf("a failure followed by a success: %v, want no error", err)
	}
}

// raceCreate hides the group from the first describe, so the provider
// creates it, and then answers AlreadyExists as AWS does for a group that
// another attempt created meanwhile (moto silently succeeds instead).
type raceCreate struct {
	AutoScaling
	hidden *bool
}

func (f raceCreate) DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	if len(in.AutoScalingGroupNames) > 0 && !*f.hidden {
		*f.hidden = true
		return &autoscaling.DescribeAutoScalingGroupsOutput{}, nil
	}
	return f.AutoScaling.DescribeAutoScalingGroups(ctx, in, opts...)
}

func (f raceCreate) CreateAutoScalingGroup(ctx context.Context, in *autoscaling.CreateAutoScalingGroupInput, opts ...func(*autoscaling.Options)) (*autoscaling.CreateAutoScalingGroupOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "AlreadyExists", Message: "AutoScalingGroup by this name already exists - A group with the name " + aws.ToString(in.AutoScalingGroupName) + " already exists", Fault: smithy.FaultClient}
}

// Paired with TestCanaryCreateGroupTwiceSucceeds.
func TestFakeAlreadyExistsAdopts(t *testing.T) {
	e := newEnv(t)
	d := e.deployment("v1", "")
	if err := e.provider.Deploy(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	hidden := false
	p := e.providerWith(func(c *Clients) *Clients {
		c2 := *c
		c2.AutoScaling = raceCreate{c.AutoScaling, &hidden}
		return &c2
	})
	if err := p.Deploy(e.ctx, d); err != nil {
		t.Fatalf("AlreadyExists for this release's own group: %v, want adoption", err)
	}
	if !hidden {
		t.Fatal("the fake never hid the group: the test did not reach CreateAutoScalingGroup")
	}
	// The same answer for a group that is another release's is refused.
	other := e.deployment("v1", "")
	other.ReleaseID = "r-0000000000000000"
	hidden = false
	p2 := e.providerWith(func(c *Clients) *Clients {
		c2 := *c
		c2.AutoScaling = raceCreate{renamed{c.AutoScaling, GroupName("shop", "prod", "web", other.ReleaseID), GroupName("shop", "prod", "web", d.ReleaseID)}, &hidden}
		return &c2
	})
	err := p2.Deploy(e.ctx, other)
	var de *deployer.DeployError
	if !errors.As(err, &de) {
		t.Fatalf("AlreadyExists for a foreign group: %v, want a DeployError", err)
	}
}

// renamed answers describes of one group name with another group.
type renamed struct {
	AutoScaling
	from, to string
}

func (f renamed) DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	if len(in.AutoScalingGroupNames) == 1 && in.AutoScalingGroupNames[0] == f.from {
		in2 := *in
		in2.AutoScalingGroupNames = []string{f.to}
		out, err := f.AutoScaling.DescribeAutoScalingGroups(ctx, &in2, opts...)
		if err == nil {
			for i := range out.AutoScalingGroups {
				out.AutoScalingGroups[i].AutoScalingGroupName = aws.String(f.from)
			}
		}
		return out, err
	}
	return f.AutoScaling.DescribeAutoScalingGroups(ctx, in, opts...)
}

// Paired with TestCanaryDeleteGroupImmediate: a group AWS is still deleting
// ("Delete in progress") is neither a previous release to clean up nor one
// to adopt.
func TestFakeDeleteInProgress(t *testing.T) {
	e := newEnv(t)
	d := e.deployment("v1", "")
	if err := e.provider.Deploy(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	p := e.providerWith(func(c *Clients) *Clients {
		c2 := *c
		c2.AutoScaling = lifecycleStates{AutoScaling: c.AutoScaling, status: "Delete in progress"}
		return &c2
	})
	err := p.Deploy(e.ctx, d)
	var de *deployer.DeployError
	if !errors.As(err, &de) {
		t.Fatalf("deploy over a group being deleted: %v, want a DeployError", err)
	}
	errContains(t, err, "is still being deleted", "deploy again once it is gone")
	// Clean-up skips groups being deleted: nothing to detach or delete.
	v2 := e.deployment("v2", "")
	if err := p.CleanUpSuccess(e.ctx, v2); err != nil {
		t.Fatal(err)
	}
	if n := len(e.groups()[d.ReleaseID]); n != 2 {
		t.Errorf("clean-up touched %d groups being deleted; want them left to AWS (2 remain in moto)", 2-n)
	}
}

// stillDeleting answers the first describes of one group name with that
// group being deleted, as AWS does for minutes after DeleteAutoScalingGroup
// (moto deletes at once), then with what moto says.
type stillDeleting struct {
	AutoScaling
	name  string
	times *int
}

func (f stillDeleting) DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	if len(in.AutoScalingGroupNames) == 1 && in.AutoScalingGroupNames[0] == f.name && *f.times > 0 {
		*f.times--
		return &autoscaling.DescribeAutoScalingGroupsOutput{AutoScalingGroups: []asgtypes.AutoScalingGroup{{
			AutoScalingGroupName: aws.String(f.name), Status: aws.String("Delete in progress"),
			MinSize: aws.Int32(0), MaxSize: aws.Int32(0), DesiredCapacity: aws.Int32(0),
		}}}, nil
	}
	return f.AutoScaling.DescribeAutoScalingGroups(ctx, in, opts...)
}

// A rollback to a release whose group is still being deleted waits until it
// is gone, then creates it again.
func TestFakeRollbackWaitsForDeletion(t *testing.T) {
	e := newEnv(t)
	v1 := e.deployment("v1", "")
	web := GroupName("shop", "prod", "web", v1.ReleaseID)
	times := 3
	p := e.providerWith(func(c *Clients) *Clients {
		c2 := *c
		c2.AutoScaling = stillDeleting{c.AutoScaling, web, &times}
		return &c2
	})
	if err := p.Deploy(e.ctx, v1); err != nil {
		t.Fatalf("deploy over a group being deleted: %v, want a wait and a new group", err)
	}
	if times != 0 {
		t.Errorf("the provider did not wait for the deletion (%d describes left)", times)
	}
	if n := len(e.groups()[v1.ReleaseID]); n != 2 {
		t.Errorf("%d groups after the wait, want 2", n)
	}
}
