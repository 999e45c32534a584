#!/usr/bin/env bash
# Creates what examples/aws/release.yml (and rehearsal.yml) names, tagged so
# that odin authorizes the release to use it: a VPC with the subnets, the
# security groups, the target group, the classic ELB, the image, the instance
# profiles and the lifecycle hooks' role and topics. Placement groups are not
# created here: odin creates those at deploy (moto has none, hence
# rehearsal.yml).
#
# Meant for moto (an AWS emulator):
#
#   moto_server -p 5000 &
#   AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_ACCESS_KEY_ID=test \
#     AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 \
#     examples/aws/fixtures.sh
#
# Options:
#   --account-id ID  the account to create in; default the release's
#                    aws_account_id (123456789012, moto's default account).
#                    When the caller is in another account, the script
#                    assumes --role there first.
#   --role NAME      the role assumed in --account-id
#                    (default OrganizationAccountAccessRole).
#   --image-id ID    tag this existing AMI instead of registering one; on
#                    real AWS pass an image that boots.
#
# It is safe to run twice: everything is looked up by name or tag first and
# only created, with its tags, when missing. The last lines it prints are the
# ids of what the release names.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
release="$here/release.yml"

# What the release names. Keep in step with release.yml (the account, region
# and subnets are read from it); fixtures_test.go checks every name in it
# against what this script created.
project=payments
config=production
image_name=payments-base-2026-11
vpc_name=payments-production
# security group name, and the service it is for (_all: shared by services)
security_groups=(payments-api:api payments-base:_all)
target_groups=(payments-api-blue:api)
elbs=(payments-legacy:api)
# instance profile = service
profiles=(api worker)
lifecycle_role=payments-lifecycle
topics=(payments-lifecycle payments-warm-up)

account_id=$(sed -n 's/^aws_account_id: *"\{0,1\}\([0-9]*\)"\{0,1\} *$/\1/p' "$release")
region=$(sed -n 's/^aws_region: *\([a-z0-9-]*\) *$/\1/p' "$release")
# The subnets' names, read from the release since they change most: a name
# that ends in a zone of the region (private-us-east-1c) is put in that zone,
# others alternate between the zones a and b.
mapfile -t subnets < <(awk '/^subnets:/ { in_list = 1; next } in_list && /^  - / { print $2; next } { in_list = 0 }' "$release")
role=OrganizationAccountAccessRole
image_id=
while (($#)); do
	case $1 in
	--account-id) account_id=${2:?--account-id needs a value}; shift 2 ;;
	--role) role=${2:?--role needs a value}; shift 2 ;;
	--image-id) image_id=${2:?--image-id needs a value}; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "fixtures.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
# The release's region wins over the environment's: that is where odin looks.
export AWS_DEFAULT_REGION=${region:-${AWS_DEFAULT_REGION:-us-east-1}} AWS_PAGER=
export AWS_REGION=$AWS_DEFAULT_REGION

# q runs the AWS CLI and prints its text output, "" for the CLI's null.
q() {
	local out
	out=$(aws --output text "$@") || return
	[[ $out == None ]] && out=
	printf '%s\n' "$out"
}

# tags prints a TagSpecifications argument: resource type $1, then Key=Value
# pairs.
tags() {
	local type=$1 kv list=
	shift
	for kv in "$@"; do
		list+="{Key=${kv%%=*},Value=${kv#*=}},"
	done
	printf 'ResourceType=%s,Tags=[%s]' "$type" "${list%,}"
}

# owner prints the ProjectName, ConfigName and ServiceName tags for service
# $1 as Key=Value pairs, one a line.
owner() { printf '%s\n' "ProjectName=$project" "ConfigName=$config" "ServiceName=$1"; }

# owner_tags prints the same tags as the --tags shorthand of elb and elbv2.
owner_tags() { owner "$1" | sed 's/^\([^=]*\)=\(.*\)$/Key=\1,Value=\2/'; }

caller=$(q sts get-caller-identity --query Account)
if [[ -n $account_id && $caller != "$account_id" ]]; then
	echo "assuming role $role in account $account_id (caller is in $caller)" >&2
	read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN < <(q sts assume-role \
		--role-arn "arn:aws:iam::$account_id:role/$role" --role-session-name odin-fixtures \
		--query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]')
	export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
	unset AWS_PROFILE
else
	account_id=$caller
fi

# The VPC, found by its Name tag; everything else that has a VPC is in it.
vpc=$(q ec2 describe-vpcs --filters "Name=tag:Name,Values=$vpc_name" --query 'Vpcs[0].VpcId')
if [[ -z $vpc ]]; then
	vpc=$(q ec2 create-vpc --cidr-block 10.42.0.0/16 --tag-specifications "$(tags vpc "Name=$vpc_name")" --query Vpc.VpcId)
fi

# The sections below are independent of each other, so they run at once:
# each AWS CLI call takes about a second, mostly the CLI starting up. Each
# looks its resources up first, all in one call where the API lists them,
# creates what is missing and prints its lines of the report.

# name_ids prints "Name-tag id" lines for the EC2 resources of describe
# command $1 (describe-subnets), list key $2 (Subnets) and id field $3
# (SubnetId) in the VPC whose Name tag is one of the rest.
name_ids() {
	local names
	names=$(IFS=,; echo "${*:4}")
	q ec2 "$1" --filters "Name=vpc-id,Values=$vpc" "Name=tag:Name,Values=$names" \
		--query "$2[].[Tags[?Key=='Name'].Value|[0],$3]"
}

# Subnets, by Name tag, tagged DeployWith=odin; then the classic ELBs, by
# name, in them.
make_subnets_and_elbs() {
	local found i name id az subnet_ids=() s service kv dns
	declare -A ids=()
	found=$(name_ids describe-subnets Subnets SubnetId "${subnets[@]}")
	while read -r name id; do
		[[ -n $name ]] || continue
		ids[$name]=$id
	done <<<"$found"
	for i in "${!subnets[@]}"; do
		name=${subnets[i]}
		if [[ $name == subnet-* ]]; then
			echo "fixtures.sh: skipping subnet $name: an id cannot be created, only a Name tag" >&2
			continue
		fi
		id=${ids[$name]:-}
		if [[ -z $id ]]; then
			if [[ $name =~ (${AWS_DEFAULT_REGION}[a-z])$ ]]; then
				az=${BASH_REMATCH[1]}
			else
				az=$AWS_DEFAULT_REGION$( ((i % 2)) && echo b || echo a)
			fi
			id=$(q ec2 create-subnet --vpc-id "$vpc" --availability-zone "$az" --cidr-block "10.42.$((i + 1)).0/24" \
				--tag-specifications "$(tags subnet "Name=$name" DeployWith=odin)" --query Subnet.SubnetId)
		fi
		subnet_ids+=("$id")
		echo "subnet $name $id"
	done

	declare -A dnss=()
	found=$(q elb describe-load-balancers --query 'LoadBalancerDescriptions[].[LoadBalancerName,DNSName]')
	while read -r name dns; do
		[[ -n $name ]] || continue
		dnss[$name]=$dns
	done <<<"$found"
	for s in "${elbs[@]}"; do
		IFS=: read -r name service <<<"$s"
		dns=${dnss[$name]:-}
		if [[ -z $dns ]]; then
			mapfile -t kv < <(owner_tags "$service")
			dns=$(q elb create-load-balancer --load-balancer-name "$name" --subnets "${subnet_ids[@]}" \
				--listeners Protocol=HTTP,LoadBalancerPort=80,InstanceProtocol=HTTP,InstancePort=80 \
				--tags "${kv[@]}" --query DNSName)
		fi
		echo "elb $name $dns"
	done
}

# Security groups, by Name tag, tagged for their service.
make_security_groups() {
	local found s name service id kv names=()
	declare -A ids=()
	for s in "${security_groups[@]}"; do
		names+=("${s%%:*}")
	done
	found=$(name_ids describe-security-groups SecurityGroups GroupId "${names[@]}")
	while read -r name id; do
		[[ -n $name ]] || continue
		ids[$name]=$id
	done <<<"$found"
	for s in "${security_groups[@]}"; do
		IFS=: read -r name service <<<"$s"
		id=${ids[$name]:-}
		if [[ -z $id ]]; then
			mapfile -t kv < <(owner "$service")
			id=$(q ec2 create-security-group --vpc-id "$vpc" --group-name "$name" --description "odin example: $name" \
				--tag-specifications "$(tags security-group "Name=$name" "${kv[@]}")" --query GroupId)
		fi
		echo "security-group $name $id"
	done
}

# Target groups, by name.
make_target_groups() {
	local found s name service arn kv
	declare -A arns=()
	found=$(q elbv2 describe-target-groups --query 'TargetGroups[].[TargetGroupName,TargetGroupArn]')
	while read -r name arn; do
		[[ -n $name ]] || continue
		arns[$name]=$arn
	done <<<"$found"
	for s in "${target_groups[@]}"; do
		IFS=: read -r name service <<<"$s"
		arn=${arns[$name]:-}
		if [[ -z $arn ]]; then
			mapfile -t kv < <(owner_tags "$service")
			arn=$(q elbv2 create-target-group --name "$name" --protocol HTTP --port 80 --vpc-id "$vpc" \
				--target-type instance --health-check-path /healthz \
				--tags "${kv[@]}" --query 'TargetGroups[0].TargetGroupArn')
		fi
		echo "target-group $name $arn"
	done
}

# The image: exactly one AMI of this account with the Name tag.
make_image() {
	local id=$image_id
	if [[ -n $id ]]; then
		aws ec2 create-tags --resources "$id" --tags "Key=Name,Value=$image_name" Key=DeployWith,Value=odin
	else
		id=$(q ec2 describe-images --owners self --filters "Name=tag:Name,Values=$image_name" --query 'Images[].ImageId')
		if [[ $id == *[[:space:]]* ]]; then
			echo "fixtures.sh: several images have the tag Name=$image_name ($id); deregister all but one" >&2
			exit 1
		fi
		if [[ -z $id ]]; then
			id=$(q ec2 register-image --name "$image_name" --description "odin example image" \
				--architecture x86_64 --virtualization-type hvm --root-device-name /dev/xvda \
				--block-device-mappings 'DeviceName=/dev/xvda,Ebs={VolumeSize=8,VolumeType=gp3}' --query ImageId)
			# Tagged apart: moto 5.2.1 drops RegisterImage's TagSpecifications.
			aws ec2 create-tags --resources "$id" --tags "Key=Name,Value=$image_name" Key=DeployWith,Value=odin
		fi
	fi
	echo "image $image_name $id"
}

# Instance profiles, each with a role of the same name, under the path that
# authorizes its service.
make_instance_profiles() {
	local found service name path got arn role ec2_trust
	ec2_trust='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
	declare -A paths=() arns=() roles=()
	found=$(q iam list-instance-profiles --query 'InstanceProfiles[].[InstanceProfileName,Path,Arn,Roles[0].RoleName]')
	while read -r name path arn role; do
		[[ -n $name ]] || continue
		paths[$name]=$path
		arns[$name]=$arn
		roles[$name]=$role
	done <<<"$found"
	for service in "${profiles[@]}"; do
		name=$project-$service
		path=/odin/$project/$config/$service/
		got=${paths[$name]:-}
		arn=${arns[$name]:-}
		role=${roles[$name]:-None}
		if [[ -n $got && $got != "$path" ]]; then
			echo "fixtures.sh: instance profile $name has path $got, not $path; delete it and run again" >&2
			exit 1
		fi
		if [[ -z $got ]]; then
			arn=$(q iam create-instance-profile --instance-profile-name "$name" --path "$path" --query InstanceProfile.Arn)
		fi
		if [[ $role == None ]]; then
			q iam get-role --role-name "$name" --query Role.Arn >/dev/null 2>&1 ||
				q iam create-role --role-name "$name" --path "$path" --assume-role-policy-document "$ec2_trust" --query Role.Arn >/dev/null
			aws iam add-role-to-instance-profile --instance-profile-name "$name" --role-name "$name"
		fi
		echo "instance-profile $name $arn"
	done
}

# Lifecycle hooks: the topics, and the role Auto Scaling uses to publish.
make_lifecycle() {
	local name arn asg_trust topic_arns
	for name in "${topics[@]}"; do
		# CreateTopic returns the existing topic's ARN.
		echo "sns-topic $name $(q sns create-topic --name "$name" --query TopicArn)"
	done
	if ! arn=$(q iam get-role --role-name "$lifecycle_role" --query Role.Arn 2>/dev/null); then
		asg_trust='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"autoscaling.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
		arn=$(q iam create-role --role-name "$lifecycle_role" --assume-role-policy-document "$asg_trust" --query Role.Arn)
		topic_arns=$(printf '"arn:aws:sns:%s:%s:%s",' "$AWS_DEFAULT_REGION" "$account_id" "${topics[@]}")
		aws iam put-role-policy --role-name "$lifecycle_role" --policy-name publish-lifecycle \
			--policy-document "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"sns:Publish\",\"Resource\":[${topic_arns%,}]}]}"
	fi
	echo "lifecycle-role $lifecycle_role $arn"
}

sections=(make_subnets_and_elbs make_security_groups make_target_groups make_image make_instance_profiles make_lifecycle)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
pids=()
for s in "${sections[@]}"; do
	"$s" >"$out/$s" &
	pids+=($!)
done
failed=()
for i in "${!pids[@]}"; do
	wait "${pids[i]}" || failed+=("${sections[i]}")
done
if ((${#failed[@]})); then
	echo "fixtures.sh: could not make ${failed[*]#make_} (the AWS CLI's error is above)" >&2
	exit 1
fi

echo "fixtures for $project/$config in account $account_id, $AWS_DEFAULT_REGION:"
echo "  vpc $vpc_name $vpc"
for s in "${sections[@]}"; do
	sed 's/^/  /' "$out/$s"
done
