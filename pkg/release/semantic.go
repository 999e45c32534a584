package release

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
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
		if tags, ok := svc["tags"].(map[string]any); ok {
			c.names(t, base+pathSep+"tags", tags, "tag key", lengthProblem(128))
			for _, k := range t.inFileOrder(base+pathSep+"tags", tags) {
				if strings.HasPrefix(strings.ToLower(k), "aws:") {
					c.add(at("tags", k).key, "%s: tag keys starting with aws: are reserved by AWS", at("tags", k).path)
				}
			}
		}
	}
	if ud, ok := root["user_data"].(string); ok {
		c.userData(ud, t.locs["user_data"])
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

// UserDataVariables are the placeholders ({{NAME}}) odin replaces in
// user_data. Each call returns a fresh slice.
func UserDataVariables() []string { return slices.Clone(userDataVariables) }

var userDataVariables = []string{
	"RELEASE_ID", "PROJECT_NAME", "CONFIG_NAME", "SERVICE_NAME", "RELEASE_BUCKET",
	"AWS_ACCOUNT_ID", "AWS_REGION", "RELEASE_DIR",
}

var placeholder = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]*)\s*\}\}`)

// userData reports placeholders odin would leave unreplaced: a typo there
// would surface only as a broken instance at boot.
func (c *checker) userData(ud string, l loc) {
	for _, m := range placeholder.FindAllStringSubmatch(ud, 20) {
		if !slices.Contains(userDataVariables, m[1]) {
			c.add(l.value, "%s: unknown variable %s; odin replaces {{%s}}", l.path, m[0], strings.Join(userDataVariables, "}}, {{"))
		}
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
	nameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
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
	case !nameRE.MatchString(name):
		return patternHelp(nameRE.String())
	}
	return ""
}

func envNameProblem(name string) string {
	if !envNameRE.MatchString(name) {
		return patternHelp(envNameRE.String())
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
