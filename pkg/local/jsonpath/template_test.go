package jsonpath

import (
	"errors"
	"strings"
	"testing"
)

func TestTemplateEval(t *testing.T) {
	input := `{"name":"Arnav","ids":[3,1,3],"deep":{"k":{"v":true}},"html":"<b>"}`
	context := `{"Execution":{"Id":"arn:aws:states:us-east-1:1:execution:m:e","Name":"e"},"State":{"Name":"S","RetryCount":0},"Map":{"Item":{"Index":2,"Value":"x"}}}`
	tests := []struct {
		name, template, want string
	}{
		{"literals only", `{"a":1,"b":"s","c":null,"d":[true,{"e":2.50}]}`, `{"a":1,"b":"s","c":null,"d":[true,{"e":2.50}]}`},
		{"path", `{"n.$":"$.name"}`, `{"n":"Arnav"}`},
		{"whole input", `{"all.$":"$"}`, `{"all":{"deep":{"k":{"v":true}},"html":"<b>","ids":[3,1,3],"name":"Arnav"}}`},
		{"nested objects", `{"a":{"b":{"v.$":"$.deep.k.v","lit":"x"}}}`, `{"a":{"b":{"lit":"x","v":true}}}`},
		{"objects in arrays", `{"list":[{"id.$":"$.ids[0]"},{"id.$":"$.ids[1]"},"plain"]}`, `{"list":[{"id":3},{"id":1},"plain"]}`},
		{"indefinite path gives an array", `{"all.$":"$.ids[*]","none.$":"$.nothing[*]"}`, `{"all":[3,1,3],"none":[]}`},
		{"context", `{"id.$":"$$.Execution.Id","item.$":"$$.Map.Item.Value","i.$":"$$.Map.Item.Index"}`, `{"i":2,"id":"arn:aws:states:us-east-1:1:execution:m:e","item":"x"}`},
		{"whole context", `{"state.$":"$$.State"}`, `{"state":{"Name":"S","RetryCount":0}}`},
		{"intrinsic", `{"greeting.$":"States.Format('Hello, {} from {}', $.name, $$.State.Name)"}`, `{"greeting":"Hello, Arnav from S"}`},
		{"nested intrinsic", `{"n.$":"States.ArrayLength(States.ArrayUnique($.ids))"}`, `{"n":2}`},
		{"dollar in a literal key", `{"price$":"$.x","a.b":"$.y"}`, `{"a.b":"$.y","price$":"$.x"}`},
		{"top-level array", `[{"x.$":"$.name"},1]`, `[{"x":"Arnav"},1]`},
		{"top-level literal", `"just text"`, `"just text"`},
		{"no HTML escaping", `{"h.$":"$.html"}`, `{"h":"<b>"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := CompileTemplate(mustDecode(t, tt.template))
			if err != nil {
				t.Fatalf("CompileTemplate: %v", err)
			}
			got, err := tpl.Eval(mustDecode(t, input), mustDecode(t, context))
			if err != nil {
				t.Fatalf("Eval: %v", err)
			}
			if s := mustJSON(t, got); s != tt.want {
				t.Errorf("Eval = %s\nwant   %s", s, tt.want)
			}
		})
	}
}

// TestTemplateFreshContainers checks that two evaluations never share the
// objects the template builds, so the engine may hand them to Set freely.
func TestTemplateFreshContainers(t *testing.T) {
	tpl, err := CompileTemplate(mustDecode(t, `{"a":{"b":1},"l":[1]}`))
	if err != nil {
		t.Fatal(err)
	}
	v1, _ := tpl.Eval(nil, nil)
	v2, _ := tpl.Eval(nil, nil)
	v1.(map[string]any)["a"].(map[string]any)["b"] = 2
	v1.(map[string]any)["l"].([]any)[0] = 2
	if got := mustJSON(t, v2); got != `{"a":{"b":1},"l":[1]}` {
		t.Fatalf("second evaluation sees the first one's change: %s", got)
	}
}

func TestTemplateEvalErrors(t *testing.T) {
	tests := []struct {
		name, template, input string
		errName, cause        string
	}{
		{
			"missing path", `{"value.$":"$.x"}`, `{"a":1,"h":"<&>"}`,
			ErrParameterPathFailure, `The JSONPath '$.x' specified for the field 'value.$' could not be found in the input '{"a":1,"h":"<&>"}'`,
		},
		{
			"missing nested path", `{"outer":[{"in.$":"$.a.b.c"}]}`, `{"a":{}}`,
			ErrParameterPathFailure, `The JSONPath '$.a.b.c' specified for the field 'in.$' could not be found in the input '{"a":{}}'`,
		},
		{
			"missing context path", `{"t.$":"$$.Task.Token"}`, `{}`,
			ErrParameterPathFailure, `The JSONPath '$$.Task.Token' specified for the field 't.$' could not be found in the input '{"Execution":{"Id":"e"}}'`,
		},
		{
			"intrinsic failure", `{"x.$":"States.ArrayGetItem($.l, 5)"}`, `{"l":[1]}`,
			ErrIntrinsicFailure, `Invalid arguments in States.ArrayGetItem: index 5 is out of bounds for an array of length 1`,
		},
		{
			"path inside an intrinsic", `{"x.$":"States.Format('{}', $.nope)"}`, `{}`,
			ErrIntrinsicFailure, `Invalid arguments in States.Format: the JSONPath '$.nope' could not be found in the input '{}'`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := CompileTemplate(mustDecode(t, tt.template))
			if err != nil {
				t.Fatalf("CompileTemplate: %v", err)
			}
			_, err = tpl.Eval(mustDecode(t, tt.input), mustDecode(t, `{"Execution":{"Id":"e"}}`))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Eval error = %v, want *Error", err)
			}
			if e.Name != tt.errName || e.Cause != tt.cause {
				t.Errorf("Eval error\n got %s: %s\nwant %s: %s", e.Name, e.Cause, tt.errName, tt.cause)
			}
		})
	}
}

func TestCompileTemplateErrors(t *testing.T) {
	tpl := `{
	  "ok.$": "$.a",
	  "num.$": 5,
	  "word.$": "hello",
	  "nested": {"bad.$": "$.a[", "list": [{"fn.$": "States.Nope()"}]},
	  "arity.$": "States.ArrayLength($.a, $.b)",
	  "dup": 1, "dup.$": "$.x"
	}`
	_, err := CompileTemplate(mustDecode(t, tpl))
	var te *TemplateError
	if !errors.As(err, &te) {
		t.Fatalf("error %v, want *TemplateError", err)
	}
	want := []string{
		"field 'arity.$': invalid expression 'States.ArrayLength($.a, $.b)': States.ArrayLength takes 1 argument but got 2 at offset 0",
		"field 'dup.$': the field 'dup' is also given as 'dup.$'",
		"field 'nested.bad.$': invalid expression '$.a[': unexpected end of expression in brackets at offset 4",
		"field 'nested.list[0].fn.$': invalid expression 'States.Nope()': unknown intrinsic function \"States.Nope\" at offset 0",
		"field 'num.$': the value for the field 'num.$' must be a valid JSONPath or a valid intrinsic function call",
		"field 'word.$': the value for the field 'word.$' must be a valid JSONPath or a valid intrinsic function call",
	}
	var got []string
	for _, p := range te.Problems {
		got = append(got, p.Error())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if ValidateTemplate(mustDecode(t, tpl)) == nil {
		t.Error("ValidateTemplate accepted a bad template")
	}
	if err := ValidateTemplate(mustDecode(t, `{"a.$":"$.b"}`)); err != nil {
		t.Errorf("ValidateTemplate: %v", err)
	}
	if ValidatePath("$.a[") == nil || ValidatePath("$.a") != nil {
		t.Error("ValidatePath disagrees with Compile")
	}
}

// TestTemplateConcurrent evaluates one compiled template from many
// goroutines, as the engine does for parallel branches; run with -race.
func TestTemplateConcurrent(t *testing.T) {
	tpl, err := CompileTemplate(mustDecode(t, `{"id.$":"States.UUID()","n.$":"States.MathRandom(1, 9)","v.$":"$.v","o":{"k.$":"$$.k"}}`))
	if err != nil {
		t.Fatal(err)
	}
	input, ctx := mustDecode(t, `{"v":[1,2]}`), mustDecode(t, `{"k":"c"}`)
	done := make(chan error)
	for range 8 {
		go func() {
			var err error
			for range 100 {
				if _, err = tpl.Eval(input, ctx); err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
