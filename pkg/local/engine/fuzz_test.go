package engine

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// fuzzMachine touches every data path: InputPath, Parameters with
// intrinsics, Choice on every operand kind, Wait by path, Map over a path,
// ResultSelector and ResultPath.
const fuzzMachine = `{"StartAt":"P","States":{
	"P":{"Type":"Pass","InputPath":"$.in","Parameters":{"s.$":"States.Format('{}', $.s)","all.$":"$"},"ResultPath":"$.p","Next":"C"},
	"C":{"Type":"Choice","Choices":[
		{"Variable":"$.n","NumericGreaterThanPath":"$.m","Next":"W"},
		{"Variable":"$.t","TimestampLessThan":"2030-01-01T00:00:00Z","Next":"M"},
		{"Or":[{"Variable":"$.s","StringMatches":"a*b"},{"Variable":"$.b","BooleanEquals":true}],"Next":"M"}],"Default":"M"},
	"W":{"Type":"Wait","SecondsPath":"$.n","Next":"M"},
	"M":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":2,"ItemSelector":{"v.$":"$$.Map.Item.Value"},
		"ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},"ResultSelector":{"n.$":"States.ArrayLength($)"},"End":true}}}`

func FuzzExecute(f *testing.F) {
	f.Add(`{"in":{"s":"ab","n":1,"m":0,"items":[1,2]}}`)
	f.Add(`{"in":{"s":"axb","t":"2020-01-01T00:00:00Z","items":[]}}`)
	f.Add(`{"in":{"n":-5,"m":-6,"items":[{"a":null}]}}`)
	f.Add(`{"in":null}`)
	f.Add(`[]`)
	sm := mustParse(f, fuzzMachine)
	f.Fuzz(func(t *testing.T, input string) {
		if !json.Valid([]byte(input)) {
			return
		}
		done := make(chan Result, 1)
		eng := New(Options{Sink: discardSink{}, Clock: NewAutoClock(epoch), OnDone: func(_ string, r Result) { done <- r }})
		defer eng.Close()
		if err := eng.Start(context.Background(), newExecution(sm, "x", input)); err != nil {
			return // not an object, too large, ...
		}
		select {
		case r := <-done:
			if r.Status == StatusSucceeded && !json.Valid(r.Output) {
				t.Fatalf("output %q is not JSON", r.Output)
			}
			if r.Status == StatusFailed && r.Error == "" {
				t.Fatalf("failed without an error: %+v", r)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("execution did not end")
		}
	})
}

// fuzzJSONataMachine runs JSONata and variables over the fuzzed input:
// Assign, Output, a Choice Condition, a Wait and a Map from expressions, and
// a JSONPath state reading the variables.
const fuzzJSONataMachine = `{"QueryLanguage":"JSONata","StartAt":"A","States":{
	"A":{"Type":"Pass","Assign":{"xs":"{% $states.input.items %}","n":"{% $states.input.n %}"},"Output":"{% $states.input %}","Next":"C"},
	"C":{"Type":"Choice","Choices":[{"Condition":"{% $n > 1 %}","Next":"W"}],"Default":"M"},
	"W":{"Type":"Wait","Seconds":"{% $n %}","Next":"M"},
	"M":{"Type":"Map","Items":"{% $xs %}","MaxConcurrency":"{% 2 %}","ItemSelector":{"v":"{% $states.context.Map.Item.Value %}"},
		"ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","Assign":{"inner":"{% $states.input.v %}"},"End":true}}},
		"Output":"{% $count($states.result) %}","Next":"J"},
	"J":{"Type":"Pass","QueryLanguage":"JSONata","Output":{"c":"{% $states.input %}","s":"{% $string($n) %}"},"End":true}}}`

func FuzzExecuteJSONata(f *testing.F) {
	f.Add(`{"items":[1,2],"n":0}`)
	f.Add(`{"items":"x","n":2}`)
	f.Add(`{"n":"a"}`)
	f.Add(`{"items":[{"a":[1]}],"n":-1}`)
	sm := mustParse(f, fuzzJSONataMachine)
	f.Fuzz(func(t *testing.T, input string) {
		if !json.Valid([]byte(input)) {
			return
		}
		done := make(chan Result, 1)
		eng := New(Options{Sink: discardSink{}, Clock: NewAutoClock(epoch), OnDone: func(_ string, r Result) { done <- r }})
		defer eng.Close()
		if err := eng.Start(context.Background(), newExecution(sm, "x", input)); err != nil {
			return
		}
		select {
		case r := <-done:
			if r.Status == StatusSucceeded && !json.Valid(r.Output) {
				t.Fatalf("output %q is not JSON", r.Output)
			}
			if r.Status == StatusFailed && r.Error == "" {
				t.Fatalf("failed without an error: %+v", r)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("execution did not end")
		}
	})
}
