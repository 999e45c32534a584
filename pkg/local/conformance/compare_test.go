package conformance

import (
	"slices"
	"testing"
)

// The comparison is what makes the corpus mean anything: if it called everything equal,
// every conformance case would pass. These cases pin what it must tell apart.

func TestSameJSON(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{`1`, `1.0`, true},
		{`{"a":1,"b":[1,2]}`, `{"b": [1, 2], "a": 1}`, true},
		{`[1,2]`, `[2,1]`, false},
		{`{"a":1}`, `{"a":1,"b":null}`, false},
		{`{"a":null}`, `{"a":false}`, false},
		{`"done"`, `done`, false}, // moto's unquoted string output is not JSON
		{`done`, `done`, true},
		{``, `{}`, false},
		{`1e3`, `1000`, true},
	}
	for _, tt := range tests {
		if got := sameJSON(tt.a, tt.b); got != tt.want {
			t.Errorf("sameJSON(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func ev(id, prev int64, typ, state string) event {
	return event{ID: id, Prev: prev, Type: typ, State: state}
}

func TestCompareFindsEachAspect(t *testing.T) {
	base := outcome{Status: "SUCCEEDED", Output: `{"a":1}`, Events: []event{
		ev(1, 0, "ExecutionStarted", ""), ev(2, 0, "PassStateEntered", "P"), ev(3, 2, "PassStateExited", "P"), ev(4, 3, "ExecutionSucceeded", ""),
	}}
	edit := func(f func(*outcome)) outcome {
		o := base
		o.Events = slices.Clone(base.Events)
		f(&o)
		return o
	}
	tests := []struct {
		name string
		got  outcome
		skip map[string]string
		want []string
	}{
		{"equal", base, nil, nil},
		{"status", edit(func(o *outcome) { o.Status = "FAILED" }), nil, []string{"status"}},
		{"output", edit(func(o *outcome) { o.Output = `{"a":2}` }), nil, []string{"output"}},
		{"error and cause", edit(func(o *outcome) { o.Error, o.Cause = "E", "C" }), nil, []string{"error", "cause"}},
		{"state name", edit(func(o *outcome) { o.Events[2].State = "Q" }), nil, []string{"events"}},
		{"missing event", edit(func(o *outcome) { o.Events = o.Events[:3] }), nil, []string{"events"}},
		{"prev", edit(func(o *outcome) { o.Events[1].Prev = 1 }), nil, []string{"prevs"}},
		{"skipped", edit(func(o *outcome) { o.Status, o.Events[1].Prev = "FAILED", 1 }), map[string]string{"status": "r", "prevs": "r"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, d := range compare(machine{}, sides{"a", "b"}, base, tt.got, tt.skip) {
				got = append(got, d.aspect)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("mismatched aspects %v, want %v", got, tt.want)
			}
		})
	}
}

// For concurrent machines order is free and join events may point at either branch, but
// every event and every other parent must match.
func TestCompareConcurrent(t *testing.T) {
	want := []event{
		ev(1, 0, "ExecutionStarted", ""), ev(2, 0, "ParallelStateEntered", "P"), ev(3, 2, "ParallelStateStarted", ""),
		ev(4, 3, "PassStateEntered", "A"), ev(5, 3, "PassStateEntered", "B"), ev(6, 4, "PassStateExited", "A"),
		ev(7, 5, "PassStateExited", "B"), ev(8, 7, "ParallelStateSucceeded", ""), ev(9, 7, "ParallelStateExited", "P"),
		ev(10, 9, "ExecutionSucceeded", ""),
	}
	// B's events first, and the join points at A's last event.
	reordered := []event{
		ev(1, 0, "ExecutionStarted", ""), ev(2, 0, "ParallelStateEntered", "P"), ev(3, 2, "ParallelStateStarted", ""),
		ev(4, 3, "PassStateEntered", "B"), ev(5, 3, "PassStateEntered", "A"), ev(6, 4, "PassStateExited", "B"),
		ev(7, 5, "PassStateExited", "A"), ev(8, 7, "ParallelStateSucceeded", ""), ev(9, 7, "ParallelStateExited", "P"),
		ev(10, 9, "ExecutionSucceeded", ""),
	}
	if msg := compareConcurrent(sides{"a", "b"}, want, reordered, false); msg != "" {
		t.Errorf("reordered branches reported as different:\n%s", msg)
	}
	wrongParent := slices.Clone(reordered)
	wrongParent[6] = ev(7, 4, "PassStateExited", "A") // A's exit points at B's entry
	if msg := compareConcurrent(sides{"a", "b"}, want, wrongParent, false); msg == "" {
		t.Error("a branch event with the other branch's parent was not reported")
	}
	if msg := compareConcurrent(sides{"a", "b"}, want, wrongParent, true); msg != "" {
		t.Errorf("with prevs skipped, still reported:\n%s", msg)
	}
	if msg := compareConcurrent(sides{"a", "b"}, want, reordered[:9], false); msg == "" {
		t.Error("a missing event was not reported")
	}
}
