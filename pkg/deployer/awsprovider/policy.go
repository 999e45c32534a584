package awsprovider

import (
	"encoding/json"
)

// Policy is an IAM policy document.
type Policy struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a Policy.
type Statement struct {
	Sid       string                    `json:"Sid"`
	Effect    string                    `json:"Effect"`
	Principal map[string]any            `json:"Principal,omitempty"`
	Action    []string                  `json:"Action"`
	Resource  any                       `json:"Resource,omitempty"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

// TargetPolicy is the least-privilege policy of the role the deployer
// assumes in a target account (DefaultRoleName): what the provider calls,
// and no more. Everything it creates must carry DeployWith=odin
// (aws:RequestTag), everything it changes or deletes must already carry it
// (autoscaling:ResourceTag, ec2:ResourceTag), and it passes only roles under
// /odin/ to EC2 (instance profiles) and lifecycle-hook roles to Auto Scaling.
// The CloudFormation templates of `odin deployer install` embed this
// document; partition is "aws" outside China and GovCloud.
func TargetPolicy(partition string) Policy {
	arn := func(rest string) string { return "arn:" + partition + ":" + rest }
	odin := map[string]any{"DeployWith": DeployWithOdin}
	tagged := func(prefix string) map[string]map[string]any {
		return map[string]map[string]any{"StringEquals": {prefix + "/" + TagDeployWith: odin["DeployWith"]}}
	}
	return Policy{
		Version: "2012-10-17",
		Statement: []Statement{
			{
				Sid:    "Read",
				Effect: "Allow",
				Action: []string{
					"ec2:DescribeImages", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeInstances",
					"ec2:DescribeLaunchTemplates", "ec2:DescribeLaunchTemplateVersions", "ec2:DescribePlacementGroups",
					"autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeScalingActivities",
					"autoscaling:DescribeLoadBalancerTargetGroups", "autoscaling:DescribeLoadBalancers",
					"elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTags",
					"elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeLoadBalancers",
					"elasticloadbalancing:DescribeInstanceHealth",
				},
				// Describe calls do not support resource-level permissions.
				Resource: "*",
			},
			{
				Sid:      "ReadProfilesAndHookTargets",
				Effect:   "Allow",
				Action:   []string{"iam:GetInstanceProfile", "iam:GetRole", "sns:GetTopicAttributes"},
				Resource: []string{arn("iam::*:instance-profile/odin/*"), arn("iam::*:role/*"), arn("sns:*:*:*")},
			},
			{
				Sid:       "CreateTaggedLaunchTemplates",
				Effect:    "Allow",
				Action:    []string{"ec2:CreateLaunchTemplate"},
				Resource:  arn("ec2:*:*:launch-template/*"),
				Condition: tagged("aws:RequestTag"),
			},
			{
				Sid:       "DeleteOdinLaunchTemplates",
				Effect:    "Allow",
				Action:    []string{"ec2:DeleteLaunchTemplate"},
				Resource:  arn("ec2:*:*:launch-template/*"),
				Condition: tagged("ec2:ResourceTag"),
			},
			{
				Sid:      "TagOnCreateOnly",
				Effect:   "Allow",
				Action:   []string{"ec2:CreateTags"},
				Resource: []string{arn("ec2:*:*:launch-template/*"), arn("ec2:*:*:instance/*"), arn("ec2:*:*:volume/*"), arn("ec2:*:*:network-interface/*")},
				Condition: map[string]map[string]any{"StringEquals": {
					"ec2:CreateAction": []string{"CreateLaunchTemplate", "RunInstances"},
				}},
			},
			{
				// Auto Scaling launches with the caller's permission to run
				// the group's launch template, and only odin's.
				Sid:      "RunFromOdinLaunchTemplates",
				Effect:   "Allow",
				Action:   []string{"ec2:RunInstances"},
				Resource: "*",
				Condition: map[string]map[string]any{
					"ArnLike": {"ec2:LaunchTemplate": arn("ec2:*:*:launch-template/*")},
				},
			},
			{
				Sid:      "PlacementGroups",
				Effect:   "Allow",
				Action:   []string{"ec2:CreatePlacementGroup"},
				Resource: arn("ec2:*:*:placement-group/*"),
			},
			{
				Sid:       "CreateTaggedGroups",
				Effect:    "Allow",
				Action:    []string{"autoscaling:CreateAutoScalingGroup", "autoscaling:CreateOrUpdateTags"},
				Resource:  arn("autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/odin-*"),
				Condition: tagged("aws:RequestTag"),
			},
			{
				Sid:    "ChangeOdinGroups",
				Effect: "Allow",
				Action: []string{
					"autoscaling:UpdateAutoScalingGroup", "autoscaling:DeleteAutoScalingGroup",
					"autoscaling:DetachLoadBalancerTargetGroups", "autoscaling:DetachLoadBalancers",
				},
				Resource:  arn("autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/odin-*"),
				Condition: tagged("autoscaling:ResourceTag"),
			},
			{
				Sid:      "PassInstanceProfileRoles",
				Effect:   "Allow",
				Action:   []string{"iam:PassRole"},
				Resource: arn("iam::*:role/odin/*"),
				Condition: map[string]map[string]any{"StringEquals": {
					"iam:PassedToService": "ec2.amazonaws.com",
				}},
			},
			{
				// A new account's first group creates Auto Scaling's
				// service-linked role.
				Sid:      "AutoScalingServiceLinkedRole",
				Effect:   "Allow",
				Action:   []string{"iam:CreateServiceLinkedRole"},
				Resource: arn("iam::*:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling*"),
				Condition: map[string]map[string]any{"StringEquals": {
					"iam:AWSServiceName": "autoscaling.amazonaws.com",
				}},
			},
			{
				Sid:      "PassLifecycleHookRoles",
				Effect:   "Allow",
				Action:   []string{"iam:PassRole"},
				Resource: arn("iam::*:role/*"),
				Condition: map[string]map[string]any{"StringEquals": {
					"iam:PassedToService": "autoscaling.amazonaws.com",
				}},
			},
		},
	}
}

// TrustPolicy is the target role's trust policy: only the deployer's own
// role (deployerRoleArn, in deployerAccount) may assume it, and only while
// naming the person who deploys (a source identity), which CloudTrail then
// records on every call. The principal is the account with a condition on
// the role's ARN, not the role itself: IAM binds a role principal to the
// role's unique id, so a deployer uninstalled and installed again (a new
// role of the same name) would be locked out of every target account.
func TrustPolicy(deployerAccount, deployerRoleArn string) Policy {
	return Policy{
		Version: "2012-10-17",
		Statement: []Statement{{
			Sid:       "DeployerOnly",
			Effect:    "Allow",
			Principal: map[string]any{"AWS": deployerAccount},
			Action:    []string{"sts:AssumeRole", "sts:SetSourceIdentity"},
			Condition: map[string]map[string]any{
				"ArnEquals": {"aws:PrincipalArn": deployerRoleArn},
				"Null":      {"sts:SourceIdentity": "false"},
			},
		}},
	}
}

// JSON is the document as IAM takes it.
func (p Policy) JSON() []byte {
	b, _ := json.MarshalIndent(p, "", "  ")
	return b
}
