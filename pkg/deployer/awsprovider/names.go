package awsprovider

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/odin-deploy/odin/pkg/deployer"
)

// Tags odin puts on what it creates and reads on what it is allowed to use.
const (
	TagDeployWith = "DeployWith"
	TagProject    = "ProjectName"
	TagConfig     = "ConfigName"
	TagService    = "ServiceName"
	TagRelease    = "ReleaseID"
	TagName       = "Name"
	// TagExecution names the execution that created a group (not
	// propagated to instances): the audit trail in the target account.
	TagExecution = "odin:execution"
	// TagCapacity is the capacity the release's group grows to; a rollout
	// strategy starts below it and raises the group's desired capacity in
	// steps (not propagated).
	TagCapacity = "odin:capacity"

	// DeployWithOdin is TagDeployWith's value on AMIs and subnets odin may use.
	DeployWithOdin = "odin"
	// AllValue in ProjectName, ConfigName or ServiceName allows every value.
	AllValue = "_all"
)

// maxTemplateName is the longest launch template name EC2 accepts (an Auto
// Scaling group name may have 255; the group takes the same name).
const maxTemplateName = 128

// GroupName is the name of the Auto Scaling group, and of its launch
// template, of a service of a release: odin-<project>-<config>-<service>-<release id>.
// Names too long for a launch template keep their end (the service and the
// release id) and a hash of the whole in place of their middle.
func GroupName(project, config, service, releaseID string) string {
	name := "odin-" + project + "-" + config + "-" + service + "-" + releaseID
	if len(name) <= maxTemplateName {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	h := hex.EncodeToString(sum[:4])
	tail := "-" + service + "-" + releaseID
	keep := maxTemplateName - len(tail) - len(h) - 1
	if keep < len("odin-") {
		// Not from a valid release (names are at most 40 characters):
		// the whole hash alone.
		return "odin-" + hex.EncodeToString(sum[:])
	}
	return name[:keep] + "-" + h + tail
}

func groupName(d *deployer.Deployment, service string) string {
	return GroupName(d.Project, d.Config, service, d.ReleaseID)
}

// releaseTags are the tags of every group and template of a release's
// service, propagated to its instances: odin's own, then the release's
// (which may not set odin's, the validator refuses that).
func releaseTags(d *deployer.Deployment, service string) [][2]string {
	tags := [][2]string{
		{TagDeployWith, DeployWithOdin},
		{TagProject, d.Project},
		{TagConfig, d.Config},
		{TagService, service},
		{TagRelease, d.ReleaseID},
		{TagName, groupName(d, service)},
	}
	if d.Release != nil {
		if s := d.Release.Services[service]; s != nil {
			for _, k := range slices.Sorted(maps.Keys(s.Tags)) {
				if !odinTag(k) {
					tags = append(tags, [2]string{k, s.Tags[k]})
				}
			}
		}
	}
	return tags
}

func odinTag(key string) bool {
	switch key {
	case TagDeployWith, TagProject, TagConfig, TagService, TagRelease, TagName, TagExecution, TagCapacity:
		return true
	}
	return false
}

func groupTags(d *deployer.Deployment, service string, capacity int) []asgtypes.Tag {
	name := groupName(d, service)
	var out []asgtypes.Tag
	add := func(k, v string, propagate bool) {
		out = append(out, asgtypes.Tag{
			Key: &k, Value: &v, PropagateAtLaunch: &propagate,
			ResourceId: &name, ResourceType: aws.String("auto-scaling-group"),
		})
	}
	for _, kv := range releaseTags(d, service) {
		add(kv[0], kv[1], true)
	}
	if d.Execution != "" {
		add(TagExecution, d.Execution, false)
	}
	add(TagCapacity, strconv.Itoa(capacity), false)
	return out
}

func ec2Tags(d *deployer.Deployment, service string) []ec2types.Tag {
	var out []ec2types.Tag
	for _, kv := range releaseTags(d, service) {
		out = append(out, ec2types.Tag{Key: aws.String(kv[0]), Value: aws.String(kv[1])})
	}
	return out
}

// asgTag is the value of key on a group, and whether it has it.
func asgTag(g asgtypes.AutoScalingGroup, key string) (string, bool) {
	for _, t := range g.Tags {
		if t.Key != nil && *t.Key == key {
			if t.Value == nil {
				return "", true
			}
			return *t.Value, true
		}
	}
	return "", false
}

func ec2Tag(tags []ec2types.Tag, key string) (string, bool) {
	for _, t := range tags {
		if t.Key != nil && *t.Key == key {
			if t.Value == nil {
				return "", true
			}
			return *t.Value, true
		}
	}
	return "", false
}
