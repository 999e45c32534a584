package jsonpath_test

import (
	"fmt"

	"github.com/odin-deploy/odin/pkg/local/jsonpath"
)

func ExampleTemplate_Eval() {
	raw, _ := jsonpath.Decode([]byte(`{
		"release.$": "$.release_id",
		"key.$": "States.Format('{}/{}', $.project, $.release_id)",
		"execution.$": "$$.Execution.Id",
		"retries": 3
	}`))
	tpl, err := jsonpath.CompileTemplate(raw) // once, when the definition is created
	if err != nil {
		fmt.Println(err)
		return
	}
	input, _ := jsonpath.Decode([]byte(`{"project":"web","release_id":"r-1"}`))
	context, _ := jsonpath.Decode([]byte(`{"Execution":{"Id":"arn:aws:states:us-east-1:123456789012:execution:deployer:r-1"}}`))
	out, err := tpl.Eval(input, context) // on every state entered
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := jsonpath.Marshal(out)
	fmt.Println(string(b))
	// Output: {"execution":"arn:aws:states:us-east-1:123456789012:execution:deployer:r-1","key":"web/r-1","release":"r-1","retries":3}
}

func ExampleSet() {
	input, _ := jsonpath.Decode([]byte(`{"release_id":"r-1"}`))
	resultPath, _ := jsonpath.CompileReference("$.results.deploy")
	out, _ := jsonpath.Set(input, resultPath, map[string]any{"ok": true})
	b, _ := jsonpath.Marshal(out)
	fmt.Println(string(b))
	// Output: {"release_id":"r-1","results":{"deploy":{"ok":true}}}
}

func ExampleNotFoundError() {
	p, _ := jsonpath.Compile("$.X")
	_, err := p.Get(map[string]any{})
	fmt.Println(err)
	// Output: Invalid path '$.X' : No results for path: $['X']
}
