package release

import (
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/odin-deploy/odin/pkg/release/schemacheck"
	"github.com/odin-deploy/odin/schema"
)

// Prepare compiles the release schema now rather than on the first
// validation: a process that will validate soon (the deployer's Lambda, at
// a cold start) can do it while it waits for other things.
func Prepare() { _, _ = compiledSchema() }

// compiledSchema is compiled once, on first use, and never changes after:
// nothing is compiled before a command validates a release.
var compiledSchema = sync.OnceValues(compileSchema)

type compiled struct {
	schema *schemacheck.Schema
	// keys are the keys each kind of mapping accepts, for "did you mean".
	keys map[string][]string
}

func compileSchema() (*compiled, error) {
	sch, err := schemacheck.Compile(schema.JSON())
	if err != nil {
		return nil, fmt.Errorf("compile release schema: %w", err)
	}
	c := &compiled{schema: sch, keys: map[string][]string{"root": sch.Properties("")}}
	for _, name := range []string{"service", "healthCheck", "autoscaling", "ebs", "placement", "lifecycleHook"} {
		c.keys[name] = sch.Properties("/$defs/" + name)
	}
	return c, nil
}

// mappingKind names the schema definition of the mapping at instance location
// tokens, or "" when it has none.
func mappingKind(tokens []string) string {
	switch {
	case len(tokens) == 0:
		return "root"
	case len(tokens) == 2 && tokens[0] == "services":
		return "service"
	case len(tokens) == 2 && tokens[0] == "lifecycle":
		return "lifecycleHook"
	case len(tokens) == 3 && tokens[0] == "services":
		switch tokens[2] {
		case "health_check":
			return "healthCheck"
		case "autoscaling", "ebs", "placement":
			return tokens[2]
		}
	}
	return ""
}

// Fields odin writes itself. A release file that sets one is refused with a
// message saying so, rather than "unknown key", because the user may be
// replaying a release odin printed.
var serverOwned = map[string]bool{
	"release_id": true, "created_at": true, "uuid": true, "started_at": true, "success": true,
	"healthy": true, "error": true, "deployed_by": true, "bucket": true, "user_data_sha256": true,
	"wait_for_detach": true, "wait_for_healthy": true, "release_sha256": true, "release_key": true,
	"release_dir": true, "service_name": true, "resources": true, "created_asg": true,
	"previous_desired_capacity": true, "healthy_report": true,
}

func (c *checker) validate(t *tree) {
	cs, err := compiledSchema()
	if err != nil {
		c.add(Pos{1, 1}, "internal error: %v", err)
		return
	}
	for _, e := range cs.schema.Validate(t.value) {
		c.schemaError(t, cs, e)
	}
	c.semantic(t)
}

func (c *checker) schemaError(t *tree, cs *compiled, e schemacheck.Error) {
	if e.Key {
		// semantic checks the names of services, hooks, variables and tags
		// with messages of its own ("service name must be ...").
		return
	}
	path := strings.Join(e.Instance, pathSep)
	if t.isPoisoned(e.Instance) {
		return
	}
	l := t.locs[path]
	pre := prefix(l.path)
	switch e.Keyword {
	case "additionalProperties":
		mk := mappingKind(e.Instance)
		for _, p := range e.Keys {
			kl := t.locs[childPath(path, p)]
			switch {
			case serverOwned[p] && (mk == "root" || mk == "service"):
				c.add(kl.key, "%s%s is set by odin, not the release file", pre, p)
			default:
				msg := fmt.Sprintf("%sunknown key %q", pre, p)
				if s := suggest(p, cs.keys[mk]); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				c.add(kl.key, "%s", msg)
			}
		}
	case "false":
		other := TargetAWS
		if t.target() == TargetAWS {
			other = TargetLocal
		}
		c.add(l.key, "%sapplies only to target %s", pre, other)
	case "required":
		why := ""
		switch {
		case strings.HasPrefix(e.Schema, "/$defs/awsService") || strings.HasPrefix(e.Schema, "/allOf/1/"):
			why = " for target aws"
		case strings.HasPrefix(e.Schema, "/$defs/localService"):
			why = " for target local"
		}
		for _, m := range e.Keys {
			c.add(l.value, "%smissing required key %q%s", pre, m, why)
		}
	case "type":
		want, _ := e.Want.([]string)
		got, _ := e.Got.(string)
		msg := fmt.Sprintf("must be %s, not %s", orList(yamlTypes(want)), article(yamlType(got)))
		if slices.Contains(want, "string") && got == "number" {
			msg += " (put it in quotes)"
		}
		if l.path == "" {
			msg = "a release file " + msg
		}
		c.add(l.value, "%s%s", pre, msg)
	case "enum":
		values, _ := e.Want.([]any)
		want := make([]string, len(values))
		for i, w := range values {
			want[i] = fmt.Sprint(w)
		}
		c.add(l.value, "%smust be one of %s, not %s", pre, strings.Join(want, ", "), show(e.Got))
	case "const":
		c.add(l.value, "%smust be %v, not %s", pre, e.Want, show(e.Got))
	case "minimum":
		c.add(l.value, "%smust be at least %s, not %s", pre, rat(e.Want), rat(e.Got))
	case "maximum":
		c.add(l.value, "%smust be at most %s, not %s", pre, rat(e.Want), rat(e.Got))
	case "minLength":
		if e.Want == 1 {
			c.add(l.value, "%smust not be empty", pre)
		} else {
			c.add(l.value, "%smust be at least %d characters long, not %d", pre, e.Want, e.Got)
		}
	case "maxLength":
		c.add(l.value, "%smust be at most %d characters long, not %d", pre, e.Want, e.Got)
	case "pattern":
		pattern, _ := e.Want.(string)
		c.add(l.value, "%s%s, not %q", pre, patternHelp(pattern), e.Got)
	case "minItems":
		n, _ := e.Want.(int)
		c.add(l.value, "%smust list at least %s", pre, plural(n, "item"))
	case "minProperties":
		n, _ := e.Want.(int)
		what := "entry"
		if l.path == "services" {
			what = "service"
		}
		c.add(l.value, "%smust have at least %s", pre, plural(n, what))
	case "maxProperties":
		n, _ := e.Want.(int)
		c.add(l.value, "%smust have at most %s, not %d", pre, plural(n, "entry"), e.Got)
	case "uniqueItems":
		first, again := e.Items[0], e.Items[1]
		il := t.locs[childPath(path, strconv.Itoa(again))]
		fl := t.locs[childPath(path, strconv.Itoa(first))]
		c.add(il.value, "%srepeats %s (already at line %d)", prefix(il.path), fl.path, fl.value.Line)
	default:
		c.add(l.value, "%s%v", pre, e)
	}
}

func (t *tree) isPoisoned(tokens []string) bool {
	if len(t.poisoned) == 0 {
		return false
	}
	for i := range tokens {
		if t.poisoned[strings.Join(tokens[:i+1], pathSep)] {
			return true
		}
	}
	return false
}

// target is the release's target when it is a valid one.
func (t *tree) target() string {
	m, _ := t.value.(map[string]any)
	s, _ := m["target"].(string)
	return s
}

// patternHelp says in words what each pattern of the schema asks for.
func patternHelp(pattern string) string {
	switch pattern {
	case "^[a-z0-9][a-z0-9-]*$":
		return "must be lower-case letters, digits and hyphens, starting with a letter or digit"
	case "^[0-9]{12}$":
		return "must be exactly 12 digits"
	case "^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$":
		return "must be an AWS Region such as us-east-1"
	case `^[a-z][a-z0-9-]*\.[a-z0-9]+$`:
		return "must be an EC2 instance type such as t3.micro"
	case "^/":
		return "must start with /"
	case "^[A-Za-z_][A-Za-z0-9_]*$":
		return "must be letters, digits and underscores, not starting with a digit"
	case "^/dev/(sd|xvd)[a-z]{1,2}[0-9]{0,2}$":
		return "must be a device name such as /dev/xvda or /dev/sdf"
	case `^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$`:
		return "must be an IAM role ARN such as arn:aws:iam::123456789012:role/name"
	case `^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[\w-]+$`:
		return "must be an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:topic"
	case "^ami-([0-9a-f]{8}|[0-9a-f]{17})$":
		return "must be an AMI id (ami- and 8 or 17 lower-case hex digits; a Name tag value cannot start with ami-)"
	case "^subnet-([0-9a-f]{8}|[0-9a-f]{17})$":
		return "must be a subnet id (subnet- and 8 or 17 lower-case hex digits; a Name tag value cannot start with subnet-)"
	case "^sg-([0-9a-f]{8}|[0-9a-f]{17})$":
		return "must be a security group id (sg- and 8 or 17 lower-case hex digits; a Name tag value cannot start with sg-)"
	case "^[A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?$":
		return "must be 1 to 32 letters, digits and hyphens, not starting or ending with a hyphen"
	case `^[\w+=,.@-]{1,128}$`:
		return "must be 1 to 128 letters, digits and any of +=,.@_-"
	}
	return "must match " + pattern
}

// yamlType names a JSON Schema type the way YAML users say it.
func yamlType(t string) string {
	switch t {
	case "object":
		return "mapping"
	case "array":
		return "list"
	case "null":
		return "empty"
	}
	return t
}

func yamlTypes(ts []string) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = article(yamlType(t))
	}
	return out
}

func article(t string) string {
	switch t {
	case "empty":
		return "empty"
	case "integer":
		return "an integer"
	}
	return "a " + t
}

func orList(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	if strings.HasSuffix(what, "y") {
		return fmt.Sprintf("%d %sies", n, what[:len(what)-1])
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func rat(v any) string {
	r, _ := v.(*big.Rat)
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	return r.FloatString(3)
}

// show formats a value the user wrote, for a message.
func show(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case nil:
		return "empty"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	return fmt.Sprint(v)
}

// suggest is the known key closest to key, when one is close enough to be a
// likely typo.
func suggest(key string, known []string) string {
	if len(key) > 64 {
		return ""
	}
	best, bestD := "", 3
	for _, k := range known {
		if d := distance(key, k); d < bestD && d <= max(1, len(key)/2) {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
