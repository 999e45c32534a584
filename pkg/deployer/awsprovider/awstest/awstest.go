// Package awstest creates, in an AWS-compatible endpoint such as moto, the
// resources an aws release names, tagged so that odin's AWS provider may use
// them: the fixtures of the provider's tests and of the end-to-end tests.
package awstest

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Account is an account's admin clients on an endpoint.
type Account struct {
	ID    string
	EC2   *ec2.Client
	ASG   *autoscaling.Client
	ELB   *elb.Client
	ELBv2 *elbv2.Client
	IAM   *iam.Client
	SNS   *sns.Client
}

// Admin is account id on the endpoint, reached by assuming a role there
// with base's credentials (moto lands the keys in the role's account).
func Admin(base aws.Config, endpoint, id string) *Account {
	cfg := base.Copy()
	stsc := sts.NewFromConfig(base, func(o *sts.Options) { o.BaseEndpoint = aws.String(endpoint) })
	cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsc, "arn:aws:iam::"+id+":role/admin"))
	ep := aws.String(endpoint)
	return &Account{
		ID:    id,
		EC2:   ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = ep }),
		ASG:   autoscaling.NewFromConfig(cfg, func(o *autoscaling.Options) { o.BaseEndpoint = ep }),
		ELB:   elb.NewFromConfig(cfg, func(o *elb.Options) { o.BaseEndpoint = ep }),
		ELBv2: elbv2.NewFromConfig(cfg, func(o *elbv2.Options) { o.BaseEndpoint = ep }),
		IAM:   iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = ep }),
		SNS:   sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = ep }),
	}
}

// Shop is what Shop creates: a VPC with two subnets (Name shop-us-east-1a
// and shop-us-east-1b), an image (Name shop-base), security groups
// shop-web, shop-worker and shop-base (services web, worker and _all), a
// target group and a classic load balancer for web (shop-web,
// shop-legacy), and instance profiles shop-web and shop-worker, all for
// project shop, config prod.
type Shop struct {
	VPC, SubnetA, SubnetB, Image, SGWeb, SGWorker, SGShared string
	TargetGroup                                             string // ARN
}

// The tags odin's provider reads (awsprovider's names; repeated here so the
// fixtures do not depend on the code they test).
const (
	tagDeployWith = "DeployWith"
	tagProject    = "ProjectName"
	tagConfig     = "ConfigName"
	tagService    = "ServiceName"
)

func tagSpec(kind ec2types.ResourceType, kv ...string) []ec2types.TagSpecification {
	var tags []ec2types.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		tags = append(tags, ec2types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return []ec2types.TagSpecification{{ResourceType: kind, Tags: tags}}
}

// CreateShop creates project shop's fixtures in a.
func (a *Account) CreateShop(ctx context.Context) (Shop, error) {
	var fx Shop
	vpc, err := a.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.20.0.0/16")})
	if err != nil {
		return fx, fmt.Errorf("create vpc: %w", err)
	}
	fx.VPC = aws.ToString(vpc.Vpc.VpcId)
	for i, az := range []string{"us-east-1a", "us-east-1b"} {
		sn, err := a.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{
			VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String(fmt.Sprintf("10.20.%d.0/24", i)), AvailabilityZone: aws.String(az),
			TagSpecifications: tagSpec(ec2types.ResourceTypeSubnet, "Name", "shop-"+az, tagDeployWith, "odin"),
		})
		if err != nil {
			return fx, fmt.Errorf("create subnet: %w", err)
		}
		if i == 0 {
			fx.SubnetA = aws.ToString(sn.Subnet.SubnetId)
		} else {
			fx.SubnetB = aws.ToString(sn.Subnet.SubnetId)
		}
	}
	// An image of our own, made from one of the endpoint's Amazon images.
	imgs, err := a.EC2.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"}, MaxResults: aws.Int32(5)})
	if err != nil {
		return fx, fmt.Errorf("describe images: %w", err)
	}
	if len(imgs.Images) == 0 {
		return fx, fmt.Errorf("the endpoint has no Amazon images to build one from")
	}
	run, err := a.EC2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: imgs.Images[0].ImageId, MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		SubnetId: aws.String(fx.SubnetA)})
	if err != nil {
		return fx, fmt.Errorf("run an instance for the image: %w", err)
	}
	img, err := a.EC2.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: run.Instances[0].InstanceId, Name: aws.String("shop-base")})
	if err != nil {
		return fx, fmt.Errorf("create image: %w", err)
	}
	fx.Image = aws.ToString(img.ImageId)
	if _, err := a.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{fx.Image}, Tags: []ec2types.Tag{
		{Key: aws.String("Name"), Value: aws.String("shop-base")}, {Key: aws.String(tagDeployWith), Value: aws.String("odin")}}}); err != nil {
		return fx, fmt.Errorf("tag image: %w", err)
	}
	if _, err := a.EC2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{aws.ToString(run.Instances[0].InstanceId)}}); err != nil {
		return fx, fmt.Errorf("terminate the image's instance: %w", err)
	}

	for _, sg := range []struct {
		name, service string
		id            *string
	}{{"shop-web", "web", &fx.SGWeb}, {"shop-worker", "worker", &fx.SGWorker}, {"shop-base", "_all", &fx.SGShared}} {
		out, err := a.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(sg.name), Description: aws.String(sg.name), VpcId: vpc.Vpc.VpcId,
			TagSpecifications: tagSpec(ec2types.ResourceTypeSecurityGroup, "Name", sg.name, tagProject, "shop", tagConfig, "prod", tagService, sg.service)})
		if err != nil {
			return fx, fmt.Errorf("create security group %s: %w", sg.name, err)
		}
		*sg.id = aws.ToString(out.GroupId)
	}
	tg, err := a.ELBv2.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String("shop-web"), Protocol: elbv2types.ProtocolEnumHttp,
		Port: aws.Int32(80), VpcId: vpc.Vpc.VpcId, TargetType: elbv2types.TargetTypeEnumInstance,
		Tags: []elbv2types.Tag{{Key: aws.String(tagProject), Value: aws.String("shop")}, {Key: aws.String(tagConfig), Value: aws.String("prod")}, {Key: aws.String(tagService), Value: aws.String("web")}}})
	if err != nil {
		return fx, fmt.Errorf("create target group: %w", err)
	}
	fx.TargetGroup = aws.ToString(tg.TargetGroups[0].TargetGroupArn)
	if _, err := a.ELB.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{LoadBalancerName: aws.String("shop-legacy"),
		Listeners: []elbtypes.Listener{{Protocol: aws.String("HTTP"), LoadBalancerPort: 80, InstancePort: aws.Int32(80)}},
		Subnets:   []string{fx.SubnetA, fx.SubnetB},
		Tags:      []elbtypes.Tag{{Key: aws.String(tagProject), Value: aws.String("shop")}, {Key: aws.String(tagConfig), Value: aws.String("prod")}, {Key: aws.String(tagService), Value: aws.String("web")}}}); err != nil {
		return fx, fmt.Errorf("create classic load balancer: %w", err)
	}
	for _, svc := range []string{"web", "worker"} {
		if _, err := a.IAM.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("shop-" + svc),
			Path: aws.String("/odin/shop/prod/" + svc + "/")}); err != nil {
			return fx, fmt.Errorf("create instance profile: %w", err)
		}
	}
	return fx, nil
}

// ShopRelease is a release of project shop, config prod, in account, with
// the web service's autoscaling block extended by extra (", max_terms: 1")
// and its tag version set to version (a new version is a new release).
func ShopRelease(account, version, extra string) string {
	return fmt.Sprintf(shopRelease, account, version, extra)
}

const shopRelease = `project_name: shop
config_name: prod
target: aws
aws_account_id: "%s"
aws_region: us-east-1
timeout: 600
image: shop-base
subnets: [shop-us-east-1a, shop-us-east-1b]
user_data: |
  #!/bin/sh
  echo "{{SERVICE_NAME}} {{RELEASE_ID}} from {{RELEASE_DIR}}" > /etc/odin-release
services:
  web:
    instance_type: t3.micro
    security_groups: [shop-web, shop-base]
    target_groups: [shop-web]
    elbs: [shop-legacy]
    profile: shop-web
    tags: {team: shop, version: "%s"}
    autoscaling: {min_size: 2, max_size: 4%s}
    health_check: {grace_period: 0}
  worker:
    instance_type: t3.small
    security_groups: [shop-worker, shop-base]
    profile: shop-worker
    autoscaling: {min_size: 1}
    ebs: {volume_size: 20}
    health_check: {grace_period: 0}
`
