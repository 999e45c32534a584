package engine

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// nestedFormat nests States.Format fan-out wide, depth deep, around arg.
func nestedFormat(arg string, fanOut, depth int) string {
	expr := arg
	for range depth {
		expr = "States.Format('" + strings.Repeat("{}", fanOut) + "'" + strings.Repeat(", "+expr, fanOut) + ")"
	}
	return expr
}

func passDef(field, value string, extra string) string {
	v, _ := json.Marshal(value)
	return `{"StartAt":"Hostile","States":{"Hostile":{"Type":"Pass",` + extra + `"Parameters":{"` + field + `":` + string(v) + `},"End":true}}}`
}

// TestBudgetFailsHostileExecutions: definitions and inputs built to blow up
// fail their execution with the error AWS raises.
func TestBudgetFailsHostileExecutions(t *testing.T) {
	big := `{"s":"` + strings.Repeat("x", 250*1024) + `"}`
	deep := strings.Repeat(`{"a":`, 9000) + "1" + strings.Repeat("}", 9000)
	items := make([]string, 3000)
	for i := range items {
		items[i] = `{"x":1,"y":["a","b"]}`
	}
	wide := `{"items":[` + strings.Join(items, ",") + `]}`
	cases := []struct {
		name, def, input, err, cause string
	}{
		{"nested intrinsics over a large input", passDef("v.$", nestedFormat("$.s", 2, 9), ""), big,
			"States.DataLimitExceeded", "The state/task 'Hostile' returned a result with a size exceeding the maximum number of bytes service limit."},
		{"every subtree of a deep input", passDef("v.$", "$..*", ""), deep,
			"States.DataLimitExceeded", "The state/task 'Hostile' returned a result with a size exceeding the maximum number of bytes service limit."},
		{"quadratic filter", passDef("v.$", "$.items[?($..x == 7)]", ""), wide,
			"States.Runtime", "An error occurred while executing the state 'Hostile' (entered at the event id #2). The local backend stopped the evaluation of '$..x' after 2000000 steps, its limit for one evaluation."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, evs := newRig(t, true).run(tc.def, tc.input)
			if r.Status != StatusFailed || r.Error != tc.err || r.Cause != tc.cause {
				t.Fatalf("got %s %s %q, want FAILED %s %q", r.Status, r.Error, r.Cause, tc.err, tc.cause)
			}
			wantShape(t, evs, "1<0 ExecutionStarted\n2<0 PassStateEntered Hostile\n3<2 ExecutionFailed\n")
		})
	}
}

// TestBudgetSharedOutput: a Map whose iterations each return the whole
// input holds little memory but would be enormous as text; it fails at its
// exit without writing that text.
func TestBudgetSharedOutput(t *testing.T) {
	def := `{"StartAt":"Fan","States":{"Fan":{"Type":"Map","ItemsPath":"$.items",
		"ItemSelector":{"all.$":"$$.Execution.Input"},
		"ItemProcessor":{"StartAt":"Echo","States":{"Echo":{"Type":"Pass","End":true}}},"End":true}}}`
	items := strings.TrimSuffix(strings.Repeat("0,", 40), ",")
	input := `{"pad":"` + strings.Repeat("x", 200*1024) + `","items":[` + items + `]}`
	r, _ := newRig(t, true).run(def, input)
	if r.Status != StatusFailed || r.Error != "States.DataLimitExceeded" {
		t.Fatalf("got %s %s %q, want FAILED States.DataLimitExceeded", r.Status, r.Error, r.Cause)
	}
}

// TestBudgetCommandResult: a command function that writes without end is
// stopped once its output passes the payload limit, and its task fails with
// AWS's States.DataLimitExceeded (a task result's, which a catcher catches).
func TestBudgetCommandResult(t *testing.T) {
	if _, err := exec.LookPath("yes"); err != nil {
		t.Skip("no yes")
	}
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:flood",
		"Catch":[{"ErrorEquals":["States.DataLimitExceeded"],"Next":"Caught"}],"End":true},"Caught":{"Type":"Pass","End":true}}}`
	rg := newRig(t, true)
	rg.fns.RegisterCommand("flood", []string{"sh", "-c", "cat >/dev/null; yes"}, nil, "")
	r, evs := rg.run(def, `{}`)
	if r.Status != StatusSucceeded || !strings.Contains(string(r.Output), "States.DataLimitExceeded") ||
		!strings.Contains(string(r.Output), `The state/task 'arn:aws:lambda:us-east-1:123456789012:function:flood' returned a result with a size exceeding the maximum number of bytes service limit`) {
		t.Fatalf("got %s %s %q\n%s", r.Status, r.Output, r.Cause, shape(evs))
	}
}
