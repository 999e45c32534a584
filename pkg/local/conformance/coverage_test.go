package conformance

import (
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The corpus must keep covering what issue 3 asks for. A feature counts only in a machine
// whose outcome is compared (no status difference with moto listed), so a case moto
// cannot run does not make up for a missing one.
var required = map[string][]string{
	"state type": {"Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"},
	"Choice operator": {
		"StringEquals", "StringLessThan", "StringGreaterThan", "StringLessThanEquals", "StringGreaterThanEquals",
		"StringEqualsPath", "StringLessThanPath", "StringGreaterThanPath", "StringLessThanEqualsPath", "StringGreaterThanEqualsPath",
		"NumericEquals", "NumericLessThan", "NumericGreaterThan", "NumericLessThanEquals", "NumericGreaterThanEquals",
		"NumericEqualsPath", "NumericLessThanPath", "NumericGreaterThanPath", "NumericLessThanEqualsPath", "NumericGreaterThanEqualsPath",
		"TimestampEquals", "TimestampLessThan", "TimestampGreaterThan", "TimestampLessThanEquals", "TimestampGreaterThanEquals",
		"TimestampEqualsPath", "TimestampLessThanPath", "TimestampGreaterThanPath", "TimestampLessThanEqualsPath", "TimestampGreaterThanEqualsPath",
		"StringMatches", "BooleanEquals", "BooleanEqualsPath",
		"IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp",
		"And", "Or", "Not",
	},
	"intrinsic": {
		"States.Format", "States.StringToJson", "States.JsonToString", "States.Array", "States.ArrayPartition",
		"States.ArrayContains", "States.ArrayRange", "States.ArrayGetItem", "States.ArrayLength", "States.ArrayUnique",
		"States.Base64Encode", "States.Base64Decode", "States.Hash", "States.JsonMerge", "States.MathRandom",
		"States.MathAdd", "States.StringSplit", "States.UUID",
	},
	"field": {
		"InputPath", "Parameters", "ResultSelector", "ResultPath", "OutputPath",
		"Retry.IntervalSeconds", "Retry.MaxAttempts", "Retry.BackoffRate", "Retry.MaxDelaySeconds",
		"Catch.ResultPath", "Fail.ErrorPath", "Fail.CausePath",
		"Wait.Seconds", "Wait.SecondsPath", "Wait.Timestamp", "Wait.TimestampPath",
		"Map.ItemsPath", "Map.ItemSelector", "Map.MaxConcurrency", "Map.ItemProcessor", "Map.Iterator",
		"Task.TimeoutSeconds", "Task.HeartbeatSeconds", "TimeoutSeconds (execution)",
		"Parallel.Retry", "Map.Retry", "Parallel.Catch", "Map.Catch", "$$ (context object)",
	},
}

var intrinsicName = regexp.MustCompile(`States\.[A-Za-z0-9]+\(`)

// features lists what a definition uses, in the names of required.
func features(asl map[string]any) map[string]bool {
	out := map[string]bool{}
	if _, ok := asl["TimeoutSeconds"]; ok {
		out["TimeoutSeconds (execution)"] = true
	}
	var rule func(r map[string]any)
	rule = func(r map[string]any) {
		for k, v := range r {
			switch k {
			case "Variable", "Next":
				continue
			case "And", "Or":
				out[k] = true
				for _, sub := range v.([]any) {
					rule(sub.(map[string]any))
				}
			case "Not":
				out[k] = true
				rule(v.(map[string]any))
			default:
				out[k] = true
			}
		}
	}
	var strs func(v any)
	strs = func(v any) {
		switch v := v.(type) {
		case string:
			for _, m := range intrinsicName.FindAllString(v, -1) {
				out[strings.TrimSuffix(m, "(")] = true
			}
			if strings.Contains(v, "$$.") {
				out["$$ (context object)"] = true
			}
		case map[string]any:
			for _, x := range v {
				strs(x)
			}
		case []any:
			for _, x := range v {
				strs(x)
			}
		}
	}
	walkStates(asl["States"], func(_ string, st map[string]any) {
		typ, _ := st["Type"].(string)
		out[typ] = true
		for k, v := range st {
			switch k {
			case "InputPath", "Parameters", "ResultSelector", "ResultPath", "OutputPath":
				out[k] = true
			case "Retry":
				out[typ+".Retry"] = true
				for _, r := range v.([]any) {
					for f := range r.(map[string]any) {
						out["Retry."+f] = true
					}
				}
			case "Catch":
				out[typ+".Catch"] = true
				for _, c := range v.([]any) {
					if _, ok := c.(map[string]any)["ResultPath"]; ok {
						out["Catch.ResultPath"] = true
					}
				}
			case "Choices":
				for _, r := range v.([]any) {
					rule(r.(map[string]any))
				}
			default:
				out[typ+"."+k] = true
			}
		}
		strs(st)
	})
	return out
}

func TestCorpusCoverage(t *testing.T) {
	corpus := loadCorpus(t)
	skips := loadDifferences(t, corpus)
	covered := map[string]bool{}
	for _, m := range corpus {
		if _, uncompared := skips[m.Name]["status"]; uncompared {
			continue
		}
		var asl map[string]any
		if err := json.Unmarshal([]byte(m.Definition), &asl); err != nil {
			t.Fatal(err)
		}
		for f := range features(asl) {
			covered[f] = true
		}
	}
	kinds := make([]string, 0, len(required))
	for k := range required {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, kind := range kinds {
		var missing []string
		for _, f := range required[kind] {
			if !covered[f] {
				missing = append(missing, f)
			}
		}
		if len(missing) > 0 {
			t.Errorf("no compared corpus machine uses %s %s", kind, strings.Join(missing, ", "))
		}
	}
	// Guard the scanner itself: a feature the corpus certainly has must be seen.
	if !slices.ContainsFunc(required["state type"], func(s string) bool { return covered[s] }) {
		t.Fatal("the feature scan found no state types at all")
	}
}

func TestFeatures(t *testing.T) {
	var asl map[string]any
	def := `{"StartAt":"C","TimeoutSeconds":5,"States":{
		"C":{"Type":"Choice","Choices":[{"Not":{"Variable":"$.a","IsPresent":true},"Next":"P"}],"Default":"P"},
		"P":{"Type":"Parallel","Branches":[{"StartAt":"X","States":{"X":{"Type":"Pass","Parameters":{"a.$":"States.Format('{}', $$.Execution.Name)"},"End":true}}}],
		     "Retry":[{"ErrorEquals":["States.ALL"],"MaxDelaySeconds":2}],"End":true}}}`
	if err := json.Unmarshal([]byte(def), &asl); err != nil {
		t.Fatal(err)
	}
	got := features(asl)
	for _, f := range []string{"Choice", "Parallel", "Pass", "Not", "IsPresent", "States.Format", "$$ (context object)",
		"Parameters", "Parallel.Retry", "Retry.MaxDelaySeconds", "TimeoutSeconds (execution)"} {
		if !got[f] {
			t.Errorf("feature %q not found", f)
		}
	}
	for _, f := range []string{"Map", "Wait", "And", "States.Array", "Catch.ResultPath", "Retry.BackoffRate", "Variable", "Next"} {
		if got[f] {
			t.Errorf("feature %q found but not used", f)
		}
	}
}
