package release

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// semantic checks what the schema cannot say. It reads the tree defensively:
// a value of the wrong type was already reported by the schema, so it is
// skipped here rather than reported twice.
func (c *checker) semantic(t *tree) {
	root, ok := t.value.(map[string]any)
	if !ok {
		return
	}
	timeout := DefaultTimeout
	if v, ok := root["timeout"].(int64); ok {
		timeout = int(v)
	}
	services, _ := root["services"].(map[string]any)
	c.names(t, "services", services, "service name", nameProblem)
	if hooks, ok := root["lifecycle"].(map[string]any); ok {
		c.names(t, "lifecycle", hooks, "hook name", nameProblem)
		c.lifecycle(t, root, hooks)
	}
	if md, ok := root["metadata"].(map[string]any); ok {
		c.names(t, "metadata", md, "key", lengthProblem(128))
	}
	ports := map[int64]string{}
	for _, name := range t.inFileOrder("services", services) {
		svc, ok := services[name].(map[string]any)
		if !ok {
			continue
		}
		at := func(keys ...string) loc {
			return t.locs[strings.Join(append([]string{"services", name}, keys...), pathSep)]
		}

		if p, ok := svc["listen"].(int64); ok && p >= 1024 && p <= 65535 {
			if other, dup := ports[p]; dup {
				c.add(at("listen").value, "%s: port %d is already the listen port of service %s", at("listen").path, p, other)
			} else {
				ports[p] = name
			}
		}
		base := "services" + pathSep + name
		if env, ok := svc["env"].(map[string]any); ok {
			c.names(t, base+pathSep+"env", env, "variable name", envNameProblem)
			for _, k := range t.inFileOrder(base+pathSep+"env", env) {
				if k == "PORT" || strings.HasPrefix(k, "ODIN_") {
					c.add(at("env", k).key, "%s: is set by odin for each instance; choose another name", at("env", k).path)
				}
			}
		}
		if hc, ok := svc["health_check"].(map[string]any); ok {
			if hc["type"] == "tcp" {
				for _, k := range []string{"path", "expected_status"} {
					if _, set := hc[k]; set {
						c.add(at("health_check", k).key, "%s: applies only to http checks, and type is tcp", at("health_check", k).path)
					}
				}
			}
			if g, ok := hc["grace_period"].(int64); ok && g > int64(timeout) {
				l := at("health_check", "grace_period")
				c.add(l.value, "%s: must not be longer than the release timeout (%d), not %d", l.path, timeout, g)
			}
		}
		if as, ok := svc["autoscaling"].(map[string]any); ok {
			lo, okLo := as["min_size"].(int64)
			hi, okHi := as["max_size"].(int64)
			if okLo && okHi && lo > hi {
				l := at("autoscaling", "max_size")
				c.add(l.value, "%s: must be at least min_size (%d), not %d", l.path, lo, hi)
			}
		}
		if pl, ok := svc["placement"].(map[string]any); ok {
			c.placement(pl, at)
		}
		if ebs, ok := svc["ebs"].(map[string]any); ok {
			c.iops(ebs, at)
		}
		if tags, ok := svc["tags"].(map[string]any); ok {
			c.names(t, base+pathSep+"tags", tags, "tag key", lengthProblem(128))
			for _, k := range t.inFileOrder(base+pathSep+"tags", tags) {
				l := at("tags", k)
				if strings.HasPrefix(strings.ToLower(k), "aws:") {
					c.add(l.key, "%s: tag keys starting with aws: are reserved by AWS", l.path)
				}
				if strings.HasPrefix(strings.ToLower(k), "odin:") {
					c.add(l.key, "%s: tag keys starting with odin: are odin's own (odin:execution, odin:capacity); choose another key", l.path)
				}
				if i := slices.IndexFunc(odinTags, func(tag string) bool { return strings.EqualFold(tag, k) }); i >= 0 {
					c.add(l.key, "%s: odin sets the %s tag itself; choose another key", l.path, odinTags[i])
				}
			}
		}
	}
	if ud, ok := root["user_data"].(string); ok {
		c.userData(ud, t.locs["user_data"])
		c.userDataSize(t, root, services, ud)
	}
}

// odinTags are the tags odin puts on what it launches. It finds its groups
// and instances by them, so a release may not set them, in any letter case.
var odinTags = []string{"DeployWith", "ProjectName", "ConfigName", "ServiceName", "ReleaseID", "Name"}

// iopsLimits are the provisioned IOPS EC2 accepts per EBS volume type; the
// types with none set their own IOPS and refuse the field.
var iopsLimits = map[string]struct {
	required bool
	lo, hi   float64
}{
	"gp3": {false, 3000, 16000}, "io1": {true, 100, 64000}, "io2": {true, 100, 256000},
	"gp2": {}, "st1": {}, "sc1": {}, "standard": {},
}

func (c *checker) iops(ebs map[string]any, at func(keys ...string) loc) {
	volumeType := DefaultEBSVolumeType
	if vt, set := ebs["volume_type"]; set {
		volumeType, _ = vt.(string)
	}
	limits, known := iopsLimits[volumeType]
	v, set := ebs["iops"]
	n, whole := wholeNumber(v)
	l := at("ebs", "iops")
	switch {
	case !known:
		// The schema reported the volume type.
	case !set && limits.required:
		c.add(at("ebs").value, "%s: missing required key \"iops\" for volume_type %s", at("ebs").path, volumeType)
	case set && limits.hi == 0:
		c.add(l.key, "%s: applies only to volume_type gp3, io1 and io2, and volume_type is %s", l.path, volumeType)
	case whole && n < limits.lo:
		c.add(l.value, "%s: must be at least %.0f for volume_type %s, not %s", l.path, limits.lo, volumeType, formatNumber(n))
	case whole && n > limits.hi:
		c.add(l.value, "%s: must be at most %.0f for volume_type %s, not %s", l.path, limits.hi, volumeType, formatNumber(n))
	}
}

// wholeNumber reads a value the schema accepts as an integer: YAML may
// have produced it as a float (3e3).
func wholeNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case float64:
		return n, n == math.Trunc(n)
	}
	return 0, false
}

func formatNumber(n float64) string { return strconv.FormatFloat(n, 'f', -1, 64) }

var (
	accountRE = lazyRegexp(`^[0-9]{12}$`)
	regionRE  = lazyRegexp(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	roleARN   = lazyRegexp(`^arn:aws[a-z-]*:iam::([0-9]{12}):role/`)
	topicARN  = lazyRegexp(`^arn:aws[a-z-]*:sns:([a-z0-9-]+):([0-9]{12}):`)
)

// lifecycle reports hooks whose role or topic Auto Scaling, in the
// release's account and region, could not use.
func (c *checker) lifecycle(t *tree, root, hooks map[string]any) {
	account, _ := root["aws_account_id"].(string)
	region, _ := root["aws_region"].(string)
	// A missing or malformed account or region was reported by the schema.
	checkAccount, checkRegion := accountRE().MatchString(account), regionRE().MatchString(region)
	for _, name := range t.inFileOrder("lifecycle", hooks) {
		hook, ok := hooks[name].(map[string]any)
		if !ok {
			continue
		}
		at := func(key string) loc { return t.locs[childPath(childPath("lifecycle", name), key)] }
		role, _ := hook["role"].(string)
		if m := roleARN().FindStringSubmatch(role); m != nil && checkAccount && m[1] != account {
			c.add(at("role").value, "%s: must be a role of account %s (aws_account_id), not %s", at("role").path, account, m[1])
		}
		topic, _ := hook["sns"].(string)
		m := topicARN().FindStringSubmatch(topic)
		if m == nil {
			continue
		}
		if checkRegion && m[1] != region {
			c.add(at("sns").value, "%s: must be a topic in region %s (aws_region), not %s", at("sns").path, region, m[1])
		}
		if checkAccount && m[2] != account {
			c.add(at("sns").value, "%s: must be a topic of account %s (aws_account_id), not %s", at("sns").path, account, m[2])
		}
	}
}

func (c *checker) placement(pl map[string]any, at func(keys ...string) loc) {
	strategy, _ := pl["strategy"].(string)
	_, hasCount := pl["partition_count"]
	_, hasGroup := pl["group_name"]
	_, hasStrategy := pl["strategy"]
	whole := at("placement")
	switch {
	case strategy == "partition" && !hasCount:
		c.add(whole.value, "%s: missing required key \"partition_count\" for strategy partition", whole.path)
	case hasCount && hasStrategy && strategy != "partition":
		c.add(at("placement", "partition_count").key, "%s: applies only to strategy partition", at("placement", "partition_count").path)
	}
	switch {
	case hasStrategy && !hasGroup:
		c.add(whole.value, "%s: missing required key \"group_name\" (strategy needs a placement group)", whole.path)
	case hasGroup && !hasStrategy:
		c.add(whole.value, "%s: missing required key \"strategy\" (a placement group needs a strategy)", whole.path)
	}
}

// userData reports placeholders odin would leave unreplaced: a typo there
// would surface only as a broken instance at boot.
func (c *checker) userData(ud string, l loc) {
	for _, m := range placeholder().FindAllStringSubmatch(ud, 20) {
		if !slices.Contains(userDataVariables, m[1]) {
			c.add(l.value, "%s: unknown variable %s; odin replaces {{%s}}", l.path, m[0], strings.Join(userDataVariables, "}}, {{"))
		}
	}
}

// maxBucketName is S3's limit on a bucket name: the release bucket is the
// deployer's, so user_data must fit with the longest.
const maxBucketName = 63

// userDataSize reports user data that could outgrow EC2's limit once
// replaced. Only the service name varies between services, so the longest
// name stands for all of them.
func (c *checker) userDataSize(t *tree, root, services map[string]any, ud string) {
	if utf8.RuneCountInString(ud) > MaxUserDataBytes || len(services) == 0 {
		return // the schema reported the length
	}
	service := ""
	for _, name := range t.inFileOrder("services", services) {
		if len(name) > len(service) {
			service = name
		}
	}
	r := &Release{
		ProjectName:  str(root["project_name"]),
		ConfigName:   str(root["config_name"]),
		AWSAccountID: str(root["aws_account_id"]),
		AWSRegion:    str(root["aws_region"]),
		UserData:     ud,
	}
	worst := UserDataValues{ReleaseID: ReleaseID(strings.Repeat("0", 64)), Service: service, Bucket: strings.Repeat("b", maxBucketName)}
	if n := len(UserData(r, worst)); n > MaxUserDataBytes {
		l := t.locs["user_data"]
		c.add(l.value, "%s: may become %d bytes long once odin replaces its variables (for service %s and a %d-character bucket name); EC2 allows at most %d",
			l.path, n, service, maxBucketName, MaxUserDataBytes)
	}
}

// inFileOrder returns the keys of m, the mapping at path, in the order the
// file writes them, so "already used by" names the earlier one.
func (t *tree) inFileOrder(path string, m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		la, lb := t.locs[childPath(path, a)].key, t.locs[childPath(path, b)].key
		return cmp.Or(cmp.Compare(la.Line, lb.Line), cmp.Compare(la.Col, lb.Col))
	})
	return keys
}

// names reports keys of m, the mapping at path, that break its naming rule.
// (The schema says the same with propertyNames, for editors.)
func (c *checker) names(t *tree, path string, m map[string]any, what string, problem func(string) string) {
	for _, k := range t.inFileOrder(path, m) {
		if why := problem(k); why != "" {
			l := t.locs[childPath(path, k)]
			c.add(l.key, "%s: %s %s", l.path, what, why)
		}
	}
}

var (
	nameRE    = lazyRegexp(`^[a-z0-9][a-z0-9-]*$`)
	envNameRE = lazyRegexp(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// MaxNameLength bounds project, config, service and hook names: short enough
// that S3 keys stay readable and a project-only execution name prefix fits.
const MaxNameLength = 40

func nameProblem(name string) string {
	switch {
	case name == "":
		return "must not be empty"
	case len(name) > MaxNameLength:
		return fmt.Sprintf("must be at most %d characters long, not %d", MaxNameLength, len(name))
	case !nameRE().MatchString(name):
		return patternHelp(nameRE().String())
	}
	return ""
}

func envNameProblem(name string) string {
	if !envNameRE().MatchString(name) {
		return patternHelp(envNameRE().String())
	}
	return ""
}

func lengthProblem(maxLen int) func(string) string {
	return func(name string) string {
		switch {
		case name == "":
			return "must not be empty"
		case utf8.RuneCountInString(name) > maxLen:
			return fmt.Sprintf("must be at most %d characters long, not %d", maxLen, utf8.RuneCountInString(name))
		}
		return ""
	}
}
