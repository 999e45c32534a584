package engine

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONataStates(t *testing.T) {
	tests := []struct {
		name, def, input string
		status, output   string
		errName, cause   string
	}{
		{
			name:   "Pass Output over the input",
			def:    `{"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Pass","Output":{"sum":"{% $sum($states.input.xs) %}","first":"{% $states.input.xs[0] %}","lit":"x"},"End":true}}}`,
			input:  `{"xs":[1,2,3.5]}`,
			status: StatusSucceeded, output: `{"sum":6.5,"first":1,"lit":"x"}`,
		},
		{
			name:   "a state overrides a JSONPath machine",
			def:    `{"StartAt":"P","States":{"P":{"Type":"Pass","QueryLanguage":"JSONata","Output":"{% $states.input.a & '!' %}","End":true}}}`,
			input:  `{"a":"hi"}`,
			status: StatusSucceeded, output: `"hi!"`,
		},
		{
			name: "Choice Condition",
			def: `{"QueryLanguage":"JSONata","StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Condition":"{% $states.input.n > 2 %}","Next":"Big"}],"Default":"Small"},
				"Big":{"Type":"Pass","Output":"big","End":true},"Small":{"Type":"Pass","Output":"small","End":true}}}`,
			input:  `{"n":3}`,
			status: StatusSucceeded, output: `"big"`,
		},
		{
			name:   "Condition that is not a boolean",
			def:    `{"QueryLanguage":"JSONata","StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Condition":"{% $states.input.n %}","Next":"C"}],"Default":"C"}}}`,
			input:  `{"n":3}`,
			status: StatusFailed, errName: "States.QueryEvaluationError",
			cause: "An error occurred while executing the state 'C' (entered at the event id #2). The JSONata expression '$states.input.n' specified for the field 'Condition' returned an unexpected result type. Expected 'boolean', but was 'number' for value: 3",
		},
		{
			name:   "undefined Output",
			def:    `{"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Pass","Output":{"v":"{% $states.input.missing %}"},"End":true}}}`,
			input:  `{}`,
			status: StatusFailed, errName: "States.QueryEvaluationError",
			cause: "An error occurred while executing the state 'P' (entered at the event id #2). The JSONata expression '$states.input.missing' specified for the field 'Output/v' returned nothing (undefined).",
		},
		{
			name:   "Fail Error and Cause expressions",
			def:    `{"QueryLanguage":"JSONata","StartAt":"F","States":{"F":{"Type":"Fail","Error":"{% $states.input.e %}","Cause":"{% 'because ' & $states.input.c %}"}}}`,
			input:  `{"e":"Boom","c":"x"}`,
			status: StatusFailed, errName: "Boom", cause: "because x",
		},
		{
			name:   "Wait Seconds expression",
			def:    `{"QueryLanguage":"JSONata","StartAt":"W","States":{"W":{"Type":"Wait","Seconds":"{% $states.input.s %}","Output":"{% $states.context.State.Name %}","End":true}}}`,
			input:  `{"s":2}`,
			status: StatusSucceeded, output: `"W"`,
		},
		{
			name: "Map Items and ItemSelector",
			def: `{"QueryLanguage":"JSONata","StartAt":"M","States":{"M":{"Type":"Map","Items":"{% $states.input.xs %}","MaxConcurrency":"{% 1 %}",
				"ItemSelector":{"v":"{% $states.context.Map.Item.Value * 10 %}","i":"{% $states.context.Map.Item.Index %}"},
				"ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},"Output":"{% $states.result.v %}","End":true}}}`,
			input:  `{"xs":[1,2]}`,
			status: StatusSucceeded, output: `[10,20]`,
		},
		{
			name: "Parallel Arguments",
			def: `{"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Parallel","Arguments":{"x":"{% $states.input.a %}"},
				"Branches":[{"StartAt":"A","States":{"A":{"Type":"Pass","Output":"{% $states.input.x + 1 %}","End":true}}},{"StartAt":"B","States":{"B":{"Type":"Pass","End":true}}}],"End":true}}}`,
			input:  `{"a":1}`,
			status: StatusSucceeded, output: `[2,{"x":1}]`,
		},
		{
			name:   "AWS functions",
			def:    `{"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Pass","Output":{"p":"{% $partition([1,2,3],2) %}","r":"{% $range(1,5,2) %}","h":"{% $hash('abc','MD5') %}","j":"{% $parse('{\"a\":[1]}') %}","u":"{% $length($uuid()) %}"},"End":true}}}`,
			input:  `{}`,
			status: StatusSucceeded, output: `{"p":[[1,2],[3]],"r":[1,3,5],"h":"900150983cd24fb0d6963f7d28e17f72","j":{"a":[1]},"u":36}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rg := newRig(t, true)
			res, evs := rg.run(tc.def, tc.input)
			if res.Status != tc.status {
				t.Fatalf("status %s (%s: %s), want %s\n%s", res.Status, res.Error, res.Cause, tc.status, shape(evs))
			}
			if tc.output != "" {
				jsonEqual(t, "output", string(res.Output), tc.output)
			}
			if res.Error != tc.errName || res.Cause != tc.cause {
				t.Errorf("error %q cause %q\nwant  %q cause %q", res.Error, res.Cause, tc.errName, tc.cause)
			}
		})
	}
}

func TestJSONataEvaluationFailedEvent(t *testing.T) {
	rg := newRig(t, true)
	res, evs := rg.run(`{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},"B":{"Type":"Pass","Output":"{% $states.input.nope %}","End":true}}}`, `{}`)
	if res.Status != StatusFailed {
		t.Fatalf("status %s", res.Status)
	}
	wantShape(t, evs, `
		1<0 ExecutionStarted
		2<0 PassStateEntered A
		3<2 PassStateExited A
		4<3 PassStateEntered B
		5<3 EvaluationFailed
		6<5 ExecutionFailed
	`)
	d := evs[4].Details
	if d.Error != "States.QueryEvaluationError" || d.Location != "Output" || d.State != "B" {
		t.Errorf("EvaluationFailed details %+v", d)
	}
}

func TestJSONataTaskAndCatch(t *testing.T) {
	def := `{"QueryLanguage":"JSONata","StartAt":"T","States":{
		"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","TimeoutSeconds":"{% 30 %}",
			"Arguments":{"FunctionName":"{% $states.input.fn %}","Payload":{"v":"{% $states.input.v %}"}},
			"Output":"{% $states.result.Payload %}","Assign":{"got":"{% $states.result.Payload.v %}"},
			"Catch":[{"ErrorEquals":["States.ALL"],"Output":{"caught":"{% $states.errorOutput.Error %}"},"Assign":{"err":"{% $states.errorOutput %}"},"Next":"After"}],
			"Next":"After"},
		"After":{"Type":"Pass","Output":{"in":"{% $states.input %}","got":"{% $exists($got) ? $got : null %}","err":"{% $exists($err) ? $err.Error : null %}"},"End":true}}}`
	rg := newRig(t, true)
	rg.fns.Register("echo", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil })
	rg.fns.Register("boom", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		return nil, &TaskError{ErrorType: "Boom", ErrorMessage: "no"}
	})
	res, evs := rg.run(def, `{"fn":"echo","v":7}`)
	if res.Status != StatusSucceeded {
		t.Fatalf("status %s %s %s\n%s", res.Status, res.Error, res.Cause, shape(evs))
	}
	jsonEqual(t, "output", string(res.Output), `{"in":{"v":7},"got":7,"err":null}`)
	sched := evs[2].Details
	jsonEqual(t, "parameters", sched.Parameters, `{"FunctionName":"echo","Payload":{"v":7}}`)
	if sched.TimeoutInSeconds == nil || *sched.TimeoutInSeconds != 30 {
		t.Errorf("timeoutInSeconds %v", sched.TimeoutInSeconds)
	}
	exited := evs[5]
	if exited.Type != "TaskStateExited" || exited.Details.AssignedVariables["got"] != "7" {
		t.Errorf("exited %s assigned %v", exited.Type, exited.Details.AssignedVariables)
	}

	rg = newRig(t, true)
	rg.fns.Register("boom", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		return nil, &TaskError{ErrorType: "Boom", ErrorMessage: "no"}
	})
	res, evs = rg.run(def, `{"fn":"boom","v":7}`)
	if res.Status != StatusSucceeded {
		t.Fatalf("status %s %s %s\n%s", res.Status, res.Error, res.Cause, shape(evs))
	}
	jsonEqual(t, "output", string(res.Output), `{"in":{"caught":"Boom"},"got":null,"err":"Boom"}`)
}

func TestVariablesJSONPath(t *testing.T) {
	def := `{"StartAt":"A","States":{
		"A":{"Type":"Pass","Result":{"q":"question"},"Assign":{"question.$":"$.q","answer":42,"ctx.$":"$$.State.Name"},"Next":"B"},
		"B":{"Type":"Pass","InputPath":"$answer","ResultPath":"$.r","Parameters":{"a.$":"$answer","f.$":"States.Format('{}={}', $question, $answer)"},"OutputPath":"$.r","Assign":{"answer":"changed"},"Next":"C"},
		"C":{"Type":"Choice","Choices":[{"Variable":"$answer","StringEquals":"changed","Next":"D","Assign":{"matched":true}}],"Default":"D"},
		"D":{"Type":"Pass","Parameters":{"m.$":"$matched","c.$":"$ctx","in.$":"$"},"End":true}}}`
	rg := newRig(t, true)
	res, evs := rg.run(def, `{}`)
	if res.Status != StatusSucceeded {
		t.Fatalf("status %s %s %s\n%s", res.Status, res.Error, res.Cause, shape(evs))
	}
	jsonEqual(t, "output", string(res.Output), `{"m":true,"c":"A","in":{"a":42,"f":"question=42"}}`)
	got := evs[2].Details.AssignedVariables
	want := map[string]string{"question": `"question"`, "answer": "42", "ctx": `"A"`}
	if len(got) != len(want) {
		t.Fatalf("assignedVariables %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("assignedVariables[%s] = %q, want %q", k, got[k], v)
		}
	}
	b, err := json.Marshal(evs[2])
	if err != nil || !strings.Contains(string(b), `"assignedVariablesDetails":{"truncated":false}`) {
		t.Errorf("wire form %s (%v) lacks assignedVariablesDetails", b, err)
	}
	if evs[1].Details.AssignedVariables != nil {
		t.Errorf("Entered event has assignedVariables")
	}
}

func TestVariablesScopes(t *testing.T) {
	// The Map's iterations read x from the outer scope and assign their own
	// y, which the outer scope never sees.
	def := `{"StartAt":"A","States":{
		"A":{"Type":"Pass","Assign":{"x":5},"Next":"M"},
		"M":{"Type":"Map","ItemsPath":"$.items","ItemProcessor":{"StartAt":"I","States":{
			"I":{"Type":"Pass","Assign":{"y.$":"$"},"Next":"J"},
			"J":{"Type":"Pass","Parameters":{"x.$":"$x","y.$":"$y"},"End":true}}},"Next":"After"},
		"After":{"Type":"Pass","QueryLanguage":"JSONata","Output":{"r":"{% $states.input %}","y":"{% $exists($y) %}"},"End":true}}}`
	rg := newRig(t, true)
	res, evs := rg.run(def, `{"items":[1,2,3]}`)
	if res.Status != StatusSucceeded {
		t.Fatalf("status %s %s %s\n%s", res.Status, res.Error, res.Cause, shape(evs))
	}
	jsonEqual(t, "output", string(res.Output), `{"r":[{"x":5,"y":1},{"x":5,"y":2},{"x":5,"y":3}],"y":false}`)
}

func TestVariableLimits(t *testing.T) {
	big := strings.Repeat("a", MaxVariableBytes)
	def := `{"StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"v.$":"$.s"},"End":true}}}`
	rg := newRig(t, true)
	in, _ := json.Marshal(map[string]string{"s": big[:MaxVariableBytes-100]})
	res, _ := rg.run(def, string(in))
	if res.Status != StatusSucceeded {
		t.Fatalf("a variable under the limit: %s %s %s", res.Status, res.Error, res.Cause)
	}
	// Two variables under the limit each but over it together.
	def2 := `{"StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"v.$":"$.s","w.$":"$.s"},"End":true}}}`
	rg = newRig(t, true)
	in, _ = json.Marshal(map[string]string{"s": big[:MaxVariableBytes/2+10]})
	res, evs := rg.run(def2, string(in))
	if res.Status != StatusFailed || res.Error != "States.DataLimitExceeded" {
		t.Fatalf("an Assign over the limit: %s %s %s\n%s", res.Status, res.Error, res.Cause, shape(evs))
	}
}
