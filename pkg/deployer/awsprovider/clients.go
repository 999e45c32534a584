package awsprovider

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/odin-deploy/odin/pkg/backend"
	"github.com/odin-deploy/odin/pkg/contract"
)

// EC2 is the part of EC2 the provider uses.
type EC2 interface {
	DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, opts ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error)
	DescribeSubnets(ctx context.Context, in *ec2.DescribeSubnetsInput, opts ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	DescribeSecurityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput, opts ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
	DescribePlacementGroups(ctx context.Context, in *ec2.DescribePlacementGroupsInput, opts ...func(*ec2.Options)) (*ec2.DescribePlacementGroupsOutput, error)
	CreatePlacementGroup(ctx context.Context, in *ec2.CreatePlacementGroupInput, opts ...func(*ec2.Options)) (*ec2.CreatePlacementGroupOutput, error)
	DescribeLaunchTemplates(ctx context.Context, in *ec2.DescribeLaunchTemplatesInput, opts ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplatesOutput, error)
	CreateLaunchTemplate(ctx context.Context, in *ec2.CreateLaunchTemplateInput, opts ...func(*ec2.Options)) (*ec2.CreateLaunchTemplateOutput, error)
	DeleteLaunchTemplate(ctx context.Context, in *ec2.DeleteLaunchTemplateInput, opts ...func(*ec2.Options)) (*ec2.DeleteLaunchTemplateOutput, error)
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// AutoScaling is the part of Auto Scaling the provider uses.
type AutoScaling interface {
	DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	CreateAutoScalingGroup(ctx context.Context, in *autoscaling.CreateAutoScalingGroupInput, opts ...func(*autoscaling.Options)) (*autoscaling.CreateAutoScalingGroupOutput, error)
	UpdateAutoScalingGroup(ctx context.Context, in *autoscaling.UpdateAutoScalingGroupInput, opts ...func(*autoscaling.Options)) (*autoscaling.UpdateAutoScalingGroupOutput, error)
	DeleteAutoScalingGroup(ctx context.Context, in *autoscaling.DeleteAutoScalingGroupInput, opts ...func(*autoscaling.Options)) (*autoscaling.DeleteAutoScalingGroupOutput, error)
	DescribeScalingActivities(ctx context.Context, in *autoscaling.DescribeScalingActivitiesInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeScalingActivitiesOutput, error)
	DetachLoadBalancerTargetGroups(ctx context.Context, in *autoscaling.DetachLoadBalancerTargetGroupsInput, opts ...func(*autoscaling.Options)) (*autoscaling.DetachLoadBalancerTargetGroupsOutput, error)
	DetachLoadBalancers(ctx context.Context, in *autoscaling.DetachLoadBalancersInput, opts ...func(*autoscaling.Options)) (*autoscaling.DetachLoadBalancersOutput, error)
	DescribeLoadBalancerTargetGroups(ctx context.Context, in *autoscaling.DescribeLoadBalancerTargetGroupsInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeLoadBalancerTargetGroupsOutput, error)
	DescribeLoadBalancers(ctx context.Context, in *autoscaling.DescribeLoadBalancersInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeLoadBalancersOutput, error)
}

// ELB is the part of Classic Load Balancing the provider uses.
type ELB interface {
	DescribeLoadBalancers(ctx context.Context, in *elb.DescribeLoadBalancersInput, opts ...func(*elb.Options)) (*elb.DescribeLoadBalancersOutput, error)
	DescribeTags(ctx context.Context, in *elb.DescribeTagsInput, opts ...func(*elb.Options)) (*elb.DescribeTagsOutput, error)
	DescribeInstanceHealth(ctx context.Context, in *elb.DescribeInstanceHealthInput, opts ...func(*elb.Options)) (*elb.DescribeInstanceHealthOutput, error)
}

// ELBv2 is the part of Elastic Load Balancing v2 the provider uses.
type ELBv2 interface {
	DescribeTargetGroups(ctx context.Context, in *elbv2.DescribeTargetGroupsInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupsOutput, error)
	DescribeTags(ctx context.Context, in *elbv2.DescribeTagsInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeTagsOutput, error)
	DescribeTargetHealth(ctx context.Context, in *elbv2.DescribeTargetHealthInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error)
}

// IAM is the part of IAM the provider uses.
type IAM interface {
	GetInstanceProfile(ctx context.Context, in *iam.GetInstanceProfileInput, opts ...func(*iam.Options)) (*iam.GetInstanceProfileOutput, error)
	GetRole(ctx context.Context, in *iam.GetRoleInput, opts ...func(*iam.Options)) (*iam.GetRoleOutput, error)
}

// SNS is the part of SNS the provider uses.
type SNS interface {
	GetTopicAttributes(ctx context.Context, in *sns.GetTopicAttributesInput, opts ...func(*sns.Options)) (*sns.GetTopicAttributesOutput, error)
}

// Clients are the provider's clients in one account and region, acting as
// the role the deployer assumed there.
type Clients struct {
	EC2         EC2
	AutoScaling AutoScaling
	ELB         ELB
	ELBv2       ELBv2
	IAM         IAM
	SNS         SNS
}

// Session says whose deploy the clients act for: the role session is named
// for the execution and carries the deploying person as source identity, so
// CloudTrail in the target account names both.
type Session struct {
	Account, Region string
	// Execution is the execution's ARN or name.
	Execution string
	// DeployedBy is the caller ARN that started the deploy.
	DeployedBy string
}

// DefaultRoleName is the role the deployer assumes in a release's account.
const DefaultRoleName = contract.TargetRoleName

// Sessions builds Clients for a Session: the deployer's own credentials
// assume RoleName in the session's account. Clients are cached, so a warm
// Lambda does not assume the role on every task; the cache key holds the
// session name and source identity too, so one deploy's calls are never
// made under another deploy's name.
type Sessions struct {
	// Base is the deployer's own configuration (its credentials and
	// retries); its region is replaced by the session's.
	Base aws.Config
	// RoleName is the role assumed in each account; DefaultRoleName when
	// empty.
	RoleName string
	// Endpoint, when set, receives every call (STS, EC2, Auto Scaling, ELB,
	// ELBv2, IAM, SNS): moto or LocalStack for a rehearsal.
	Endpoint string
	// Partition is the ARN partition ("aws" unless set).
	Partition string

	mu    sync.Mutex
	cache map[sessionKey]*Clients
}

type sessionKey struct{ account, region, name, source string }

// maxCachedSessions bounds the cache: past it, the oldest entries are
// dropped wholesale (cheap, and a Lambda serves few sessions at once).
const maxCachedSessions = 64

// Clients returns the clients for s, assuming the target role in s.Account
// first, so that a role that is missing or does not trust the deployer is
// reported as such, once, rather than as the first call's failure.
func (ss *Sessions) Clients(ctx context.Context, s Session) (*Clients, error) {
	if s.Account == "" || s.Region == "" {
		return nil, fmt.Errorf("no account or region to deploy to (account %q, region %q)", s.Account, s.Region)
	}
	key := sessionKey{s.Account, s.Region, SessionName(s.Execution), SourceIdentity(s.DeployedBy)}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if c := ss.cache[key]; c != nil {
		return c, nil
	}
	if ss.cache == nil || len(ss.cache) >= maxCachedSessions {
		ss.cache = map[sessionKey]*Clients{}
	}
	cfg := ss.config(key)
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return nil, fmt.Errorf("assume role %s as session %s: %w (the role must exist in account %s, trust the deployer's own role, and allow sts:SetSourceIdentity)",
			ss.RoleArn(s.Account), key.name, err, s.Account)
	}
	c := &Clients{
		EC2:         ec2.NewFromConfig(cfg, func(o *ec2.Options) { ss.endpoint(&o.BaseEndpoint) }),
		AutoScaling: autoscaling.NewFromConfig(cfg, func(o *autoscaling.Options) { ss.endpoint(&o.BaseEndpoint) }),
		ELB:         elb.NewFromConfig(cfg, func(o *elb.Options) { ss.endpoint(&o.BaseEndpoint) }),
		ELBv2:       elbv2.NewFromConfig(cfg, func(o *elbv2.Options) { ss.endpoint(&o.BaseEndpoint) }),
		IAM:         iam.NewFromConfig(cfg, func(o *iam.Options) { ss.endpoint(&o.BaseEndpoint) }),
		SNS:         sns.NewFromConfig(cfg, func(o *sns.Options) { ss.endpoint(&o.BaseEndpoint) }),
	}
	ss.cache[key] = c
	return c, nil
}

// Config is the configuration whose credentials are the target role's in
// s.Account, assumed for s.
func (ss *Sessions) Config(s Session) aws.Config {
	return ss.config(sessionKey{s.Account, s.Region, SessionName(s.Execution), SourceIdentity(s.DeployedBy)})
}

func (ss *Sessions) config(key sessionKey) aws.Config {
	cfg := ss.Base.Copy()
	cfg.Region = key.region
	stsClient := sts.NewFromConfig(cfg, func(o *sts.Options) { ss.endpoint(&o.BaseEndpoint) })
	cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, ss.RoleArn(key.account), func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = key.name
		if key.source != "" {
			o.SourceIdentity = aws.String(key.source)
		}
	}))
	return cfg
}

// RoleArn is the role the deployer assumes in account.
func (ss *Sessions) RoleArn(account string) string {
	name := ss.RoleName
	if name == "" {
		name = DefaultRoleName
	}
	partition := ss.Partition
	if partition == "" {
		partition = "aws"
	}
	return "arn:" + partition + ":iam::" + account + ":role/" + name
}

func (ss *Sessions) endpoint(dst **string) {
	if ss.Endpoint != "" {
		*dst = aws.String(ss.Endpoint)
	}
}

// SessionName is the role session name for an execution: its name (the last
// part of its ARN), in the characters and the 64 bytes STS allows.
func SessionName(execution string) string {
	name := backend.STSName(execution[strings.LastIndex(execution, ":")+1:], 64)
	if len(name) < 2 {
		return contract.DeployerName
	}
	return name
}

// SourceIdentity is the source identity for the caller who deployed: the
// last part of the caller's ARN (a user, or an SSO session's name), which
// CloudTrail records on every call made with the role, and which any role
// chained from it keeps.
func SourceIdentity(deployedBy string) string {
	name := backend.STSName(deployedBy[strings.LastIndexAny(deployedBy, "/:")+1:], 64)
	if len(name) < 2 {
		return ""
	}
	return name
}
