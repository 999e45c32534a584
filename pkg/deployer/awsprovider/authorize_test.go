package awsprovider

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/deployer/awsprovider/awstest"
)

// Each authorization rule refuses with a ResourceError that names the
// resource, the tag or path it lacks, and the fix; nothing is created.
func TestAuthorizationRefusals(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	untag := func(id, key string) {
		_, err := e.ec2.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{id}, Tags: []ec2types.Tag{{Key: aws.String(key)}}})
		e.must(err, "untag "+id)
	}
	tag := func(id, key, value string) {
		_, err := e.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: []ec2types.Tag{{Key: aws.String(key), Value: aws.String(value)}}})
		e.must(err, "tag "+id)
	}
	cases := []struct {
		name   string
		break_ func()
		fix    func()
		want   []string
	}{
		{
			name:   "image without DeployWith",
			break_: func() { untag(e.fx.image, TagDeployWith) },
			fix:    func() { tag(e.fx.image, TagDeployWith, DeployWithOdin) },
			want:   []string{"image shop-base (" + e.fx.image + ")", "lacks the tag DeployWith=odin", "aws ec2 create-tags --resources " + e.fx.image},
		},
		{
			name:   "subnet without DeployWith",
			break_: func() { untag(e.fx.subnetB, TagDeployWith) },
			fix:    func() { tag(e.fx.subnetB, TagDeployWith, DeployWithOdin) },
			want:   []string{"subnet shop-us-east-1b (" + e.fx.subnetB + ")", "lacks the tag DeployWith=odin"},
		},
		{
			name:   "security group of another service",
			break_: func() { tag(e.fx.sgWeb, TagService, "api") },
			fix:    func() { tag(e.fx.sgWeb, TagService, "web") },
			want:   []string{"security group shop-web (" + e.fx.sgWeb + ") is not authorized for shop/prod/web", `its tag ServiceName is "api", not "web" or "_all"`},
		},
		{
			name:   "security group without ProjectName",
			break_: func() { untag(e.fx.sgShared, TagProject) },
			fix:    func() { tag(e.fx.sgShared, TagProject, "shop") },
			want:   []string{"security group shop-base (" + e.fx.sgShared + ") is not authorized for shop/prod/web", "it has no tag ProjectName", "Key=ProjectName,Value=shop"},
		},
		{
			name: "target group of another config",
			break_: func() {
				_, err := e.elbv2.AddTags(ctx, &elbv2.AddTagsInput{ResourceArns: []string{e.fx.tgWeb}, Tags: []elbv2types.Tag{{Key: aws.String(TagConfig), Value: aws.String("staging")}}})
				e.must(err, "tag target group")
			},
			fix: func() {
				_, err := e.elbv2.AddTags(ctx, &elbv2.AddTagsInput{ResourceArns: []string{e.fx.tgWeb}, Tags: []elbv2types.Tag{{Key: aws.String(TagConfig), Value: aws.String("prod")}}})
				e.must(err, "tag target group")
			},
			want: []string{"target group shop-web is not authorized for shop/prod/web", `its tag ConfigName is "staging"`},
		},
		{
			name: "classic load balancer without ServiceName",
			break_: func() {
				_, err := e.elb.RemoveTags(ctx, &elb.RemoveTagsInput{LoadBalancerNames: []string{"shop-legacy"}, Tags: []elbtypes.TagKeyOnly{{Key: aws.String(TagService)}}})
				e.must(err, "untag elb")
			},
			fix: func() {
				_, err := e.elb.AddTags(ctx, &elb.AddTagsInput{LoadBalancerNames: []string{"shop-legacy"}, Tags: []elbtypes.Tag{{Key: aws.String(TagService), Value: aws.String("web")}}})
				e.must(err, "tag elb")
			},
			want: []string{"classic load balancer shop-legacy is not authorized for shop/prod/web", "it has no tag ServiceName", "aws elb add-tags --load-balancer-names shop-legacy"},
		},
		{
			name: "instance profile outside the service's path",
			break_: func() {
				_, err := e.iam.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: aws.String("shop-worker")})
				e.must(err, "delete profile")
				_, err = e.iam.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("shop-worker"), Path: aws.String("/odin/shop/prod/web/")})
				e.must(err, "create profile")
			},
			fix: func() {
				_, err := e.iam.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: aws.String("shop-worker")})
				e.must(err, "delete profile")
				_, err = e.iam.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("shop-worker"), Path: aws.String("/odin/shop/prod/worker/")})
				e.must(err, "create profile")
			},
			want: []string{"instance profile shop-worker is not authorized for shop/prod/worker", "its path is /odin/shop/prod/web/, not /odin/shop/prod/worker/", "--path /odin/shop/prod/worker/"},
		},
		{
			name: "instance profile holding a role outside /odin/",
			break_: func() {
				_, err := e.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("shop-web-admin"), Path: aws.String("/"),
					AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
				e.must(err, "create role")
				_, err = e.iam.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("shop-web"), RoleName: aws.String("shop-web-admin")})
				e.must(err, "add role")
			},
			fix: func() {
				_, err := e.iam.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: aws.String("shop-web"), RoleName: aws.String("shop-web-admin")})
				e.must(err, "remove role")
			},
			want: []string{"instance profile shop-web holds role shop-web-admin with path /", "odin passes only roles under /odin/"},
		},
	}
	d := e.deployment("v1", "")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.break_()
			defer tc.fix()
			for _, step := range []struct {
				name string
				call func() error
			}{{"validate", func() error { return e.provider.Validate(ctx, d) }}, {"deploy", func() error { return e.provider.Deploy(ctx, d) }}} {
				err := step.call()
				var re *deployer.ResourceError
				if !errors.As(err, &re) {
					t.Fatalf("%s: error %v (%T), want a ResourceError", step.name, err, err)
				}
				errContains(t, err, tc.want...)
			}
			if n := len(e.groups()[d.ReleaseID]); n != 0 {
				t.Errorf("a refused deploy created %d groups", n)
			}
			if n := len(e.templates()); n != 0 {
				t.Errorf("a refused deploy created %d launch templates", n)
			}
		})
	}
	// Fixed again, the same release validates.
	if err := e.provider.Validate(ctx, d); err != nil {
		t.Errorf("after every fix: %v", err)
	}
}

// Names that match nothing, or more than one thing, are refused too, all at
// once.
func TestUnresolvableNames(t *testing.T) {
	e := newEnv(t)
	yaml := strings.NewReplacer(
		"image: shop-base", "image: no-such-image",
		"[shop-us-east-1a, shop-us-east-1b]", "[shop-us-east-1a, nowhere]",
		"target_groups: [shop-web]", "target_groups: [shop-web, gone-tg]",
		"elbs: [shop-legacy]", "elbs: [gone-elb]",
		"profile: shop-web", "profile: no-profile",
		"[shop-worker, shop-base]", "[shop-worker, no-such-sg]",
	).Replace(awstest.ShopRelease(e.account, "v1", ""))
	d := e.deploymentOf(yaml)
	err := e.provider.Validate(e.ctx, d)
	errContains(t, err,
		`image "no-such-image": no AMI has the tag Name=no-such-image`,
		"subnet nowhere does not exist",
		"target group gone-tg (service web) does not exist",
		"classic load balancer gone-elb (service web) does not exist",
		"instance profile no-profile (service web) does not exist",
		"security group no-such-sg (service worker) does not exist in the subnets' VPC "+e.fx.vpc,
	)
	// An image name that two AMIs carry is ambiguous.
	imgs, err2 := e.ec2.DescribeImages(e.ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"}, MaxResults: aws.Int32(5)})
	e.must(err2, "describe images")
	_, err2 = e.ec2.CreateTags(e.ctx, &ec2.CreateTagsInput{Resources: []string{aws.ToString(imgs.Images[1].ImageId)}, Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("shop-base")}}})
	e.must(err2, "tag a second image")
	errContains(t, e.provider.Validate(e.ctx, e.deployment("v1", "")), `image "shop-base" is ambiguous: 2 AMIs have the tag Name=shop-base`)
}

// An image name is a Name tag, not a pattern: "shop-*" matches nothing,
// though EC2's filter would take it for a wildcard.
func TestImageNameIsNotAPattern(t *testing.T) {
	e := newEnv(t)
	d := e.deploymentOf(strings.Replace(awstest.ShopRelease(e.account, "v1", ""), "image: shop-base", `image: "shop-*"`, 1))
	errContains(t, e.provider.Validate(e.ctx, d), `image "shop-*": no AMI has the tag Name=shop-*`)
}
