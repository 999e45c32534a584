package asl

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		def  string
		want []string // "CODE|location|message substring"; empty means valid
	}{
		{"valid", `{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`, nil},
		{"not JSON", `{"StartAt":`, []string{"INVALID_JSON_DESCRIPTION|/|"}},
		{"trailing data", `{"StartAt":"A","States":{"A":{"Type":"Succeed"}}} x`, []string{"INVALID_JSON_DESCRIPTION|/|"}},
		{"missing States", `{"StartAt":"A"}`, []string{"SCHEMA_VALIDATION_FAILED|/|These fields are required: [States]"}},
		{"unknown top field", `{"StartAt":"A","Foo":1,"States":{"A":{"Type":"Succeed"}}}`, []string{"SCHEMA_VALIDATION_FAILED|/|The field 'Foo' is not supported"}},
		{"unknown state field", `{"StartAt":"A","States":{"A":{"Type":"Pass","Resource":"x","End":true}}}`, []string{"SCHEMA_VALIDATION_FAILED|/States/A|The field 'Resource' is not supported"}},
		{"bad type", `{"StartAt":"A","States":{"A":{"Type":"Nope"}}}`, []string{"SCHEMA_VALIDATION_FAILED|/States/A/Type|"}},
		{"missing StartAt target", `{"StartAt":"B","States":{"A":{"Type":"Succeed"}}}`, []string{"MISSING_TRANSITION_TARGET|/StartAt|Missing 'StartAt' target: B"}},
		{"missing Next target", `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}`, []string{"MISSING_TRANSITION_TARGET|/States/A/Next|Missing 'Next' target: B"}},
		{"missing Default target", `{"StartAt":"A","States":{"A":{"Type":"Choice","Choices":[{"Variable":"$.x","IsPresent":true,"Next":"A"}],"Default":"Z"}}}`,
			[]string{"MISSING_TRANSITION_TARGET|/States/A/Default|Missing 'Default' target: Z"}},
		{"missing Catch target", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","Catch":[{"ErrorEquals":["States.ALL"],"Next":"Z"}],"End":true}}}`,
			[]string{"MISSING_TRANSITION_TARGET|/States/A/Catch[0]/Next|Missing 'Next' target: Z"}},
		{"unreachable", `{"StartAt":"A","States":{"A":{"Type":"Succeed"},"B":{"Type":"Succeed"}}}`, []string{"MISSING_TRANSITION_TARGET|/States/B|State \"B\" is not reachable."}},
		{"Next and End", `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"A","End":true}}}`, []string{"SCHEMA_VALIDATION_FAILED|/States/A|Only one of 'Next' or 'End'"}},
		{"neither Next nor End", `{"StartAt":"A","States":{"A":{"Type":"Pass"}}}`, []string{"SCHEMA_VALIDATION_FAILED|/States/A|These fields are required: [Next or End]"}},
		{"States.ALL not alone", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","Retry":[{"ErrorEquals":["States.ALL","X"]}],"End":true}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED|/States/A/Retry[0]/ErrorEquals|must appear alone"}},
		{"States.ALL not last", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","Retry":[{"ErrorEquals":["States.ALL"]},{"ErrorEquals":["X"]}],"End":true}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED|/States/A/Retry[0]/ErrorEquals|only in the last"}},
		{"reserved error name", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","Catch":[{"ErrorEquals":["States.Mine"],"Next":"A"}],"End":true}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED|/States/A/Catch[0]/ErrorEquals[0]|'States.Mine' is not a predefined error name"}},
		{"Wait two fields", `{"StartAt":"A","States":{"A":{"Type":"Wait","Seconds":1,"SecondsPath":"$.s","End":true}}}`, []string{"SCHEMA_VALIDATION_FAILED|/States/A|exactly one of"}},
		{"Wait no field", `{"StartAt":"A","States":{"A":{"Type":"Wait","End":true}}}`, []string{"SCHEMA_VALIDATION_FAILED|/States/A|exactly one of"}},
		{"Wait bad timestamp", `{"StartAt":"A","States":{"A":{"Type":"Wait","Timestamp":"2020-01-01t00:00:00z","End":true}}}`, []string{"SCHEMA_VALIDATION_FAILED|/States/A/Timestamp|"}},
		{"Choice two operators", `{"StartAt":"A","States":{"A":{"Type":"Choice","Choices":[{"Variable":"$.x","StringEquals":"a","IsNull":true,"Next":"A"}]}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED|/States/A/Choices[0]|exactly one comparison operator"}},
		{"Choice operand type", `{"StartAt":"A","States":{"A":{"Type":"Choice","Choices":[{"Variable":"$.x","NumericEquals":"1","Next":"A"}]}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED|/States/A/Choices[0]/NumericEquals|must be a NUMBER"}},
		{"Choice nested Next", `{"StartAt":"A","States":{"A":{"Type":"Choice","Choices":[{"Not":{"Variable":"$.x","IsNull":true,"Next":"A"},"Next":"A"}]}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED|/States/A/Choices[0]/Not|only allowed in top-level"}},
		{"literal and path", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","TimeoutSeconds":5,"TimeoutSecondsPath":"$.t","End":true}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED|/States/A|cannot both be given"}},
		{"heartbeat not below timeout", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","TimeoutSeconds":5,"HeartbeatSeconds":5,"End":true}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED|/States/A/HeartbeatSeconds|smaller than TimeoutSeconds"}},
		{"bad path", `{"StartAt":"A","States":{"A":{"Type":"Pass","InputPath":"$.a[","End":true}}}`, []string{"SCHEMA_VALIDATION_FAILED|/States/A/InputPath|valid JSONPath"}},
		{"path without $", `{"StartAt":"A","States":{"A":{"Type":"Pass","OutputPath":"a","End":true}}}`, []string{"SCHEMA_VALIDATION_FAILED|/States/A/OutputPath|valid JSONPath"}},
		{"ResultPath on context", `{"StartAt":"A","States":{"A":{"Type":"Pass","ResultPath":"$$.x","End":true}}}`, []string{"SCHEMA_VALIDATION_FAILED|/States/A/ResultPath|"}},
		{"unknown intrinsic", `{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"x.$":"States.Nope(1)"},"End":true}}}`, []string{"SCHEMA_VALIDATION_FAILED|/States/A/Parameters|"}},
		{"wrong type", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","TimeoutSeconds":"5","End":true}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED|/States/A/TimeoutSeconds|must be an INTEGER"}},
		{"long name", `{"StartAt":"` + strings.Repeat("n", 81) + `","States":{"` + strings.Repeat("n", 81) + `":{"Type":"Succeed"}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED|/States/" + strings.Repeat("n", 81) + "|at most 80"}},
		{"duplicate across branches", `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
			{"StartAt":"X","States":{"X":{"Type":"Succeed"}}},{"StartAt":"X","States":{"X":{"Type":"Succeed"}}}]}}}`,
			[]string{"DUPLICATE_STATE_NAME|/States/P/Branches[1]/States/X|Duplicate State name: X"}},
		{"branch target outside", `{"StartAt":"P","States":{"P":{"Type":"Parallel","Next":"Z","Branches":[
			{"StartAt":"X","States":{"X":{"Type":"Pass","Next":"Z"}}}]},"Z":{"Type":"Succeed"}}}`,
			[]string{"MISSING_TRANSITION_TARGET|/States/P/Branches[0]/States/X/Next|Missing 'Next' target: Z"}},
		{"JSONata", `{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Pass","Output":"{% $states.input %}","Assign":{"x":"{% 1 %}"},"End":true}}}`, nil},
		{"JSONata on a state", `{"StartAt":"A","States":{"A":{"Type":"Succeed","QueryLanguage":"JSONata","Output":{"a":"{% $states.input.a %}"}}}}`, nil},
		{"JSONPath state under a JSONata machine", `{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Succeed","QueryLanguage":"JSONPath"}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED|/States/A|can not be 'JSONPath' if set to 'JSONata' for whole state machine"}},
		{"JSONPath field in a JSONata state", `{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Pass","InputPath":"$.a","End":true}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED|/States/A|The QueryLanguage is set to 'JSONata', but field 'InputPath' is only supported for the 'JSONPath' QueryLanguage"}},
		{"JSONata field in a JSONPath state", `{"StartAt":"A","States":{"A":{"Type":"Pass","Output":{},"End":true}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED|/States/A|The QueryLanguage is set to 'JSONPath', but field 'Output' is only supported for the 'JSONata' QueryLanguage"}},
		{"bad JSONata", `{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Pass","Output":{"x":"{% $states.input.( %}"},"End":true}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED|/States/A/Output/x|The JSONata expression '$states.input.(' is not valid"}},
		{"JSONata Choice without Condition", `{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Choice","Choices":[{"Next":"B"}]},"B":{"Type":"Succeed"}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED|/States/A/Choices[0]|These fields are required: [Condition]"}},
		{"Assign", `{"StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"x":1,"y.$":"$.a"},"End":true}}}`, nil},
		{"Assign bad name", `{"StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"1x":1},"End":true}}}`, []string{"SCHEMA_VALIDATION_FAILED|/States/A/Assign|The variable name '1x' is not valid"}},
		{"Assign to an outer variable", `{"StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"x":1},"Next":"M"},"M":{"Type":"Map","ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","Assign":{"x":2},"End":true}}},"End":true}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED|/States/M/ItemProcessor/States/I/Assign|The variable 'x' is assigned in an outer scope"}},
		{"Assign in sibling branches", `{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[{"StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"x":1},"End":true}}},{"StartAt":"B","States":{"B":{"Type":"Pass","Assign":{"x":2},"End":true}}}],"End":true}}}`, nil},
		{"distributed map", `{"StartAt":"M","States":{"M":{"Type":"Map","End":true,"ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},"StartAt":"X","States":{"X":{"Type":"Succeed"}}}}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED|/States/M/ItemProcessor/ProcessorConfig/Mode|not supported by the local backend"}},
		{"unsupported resource warns", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::aws-sdk:s3:listBuckets","End":true}}}`,
			[]string{"WARNING:INVALID_RESOURCE|/States/A/Resource|not supported by the local backend"}},
		{"lambda invoke without FunctionName", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"Payload":{}},"End":true}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED|/States/A/Parameters|'FunctionName' is required"}},
		{"waitForTaskToken without token", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken","Parameters":{"FunctionName":"f"},"End":true}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED|/States/A/Parameters|task token"}},
		{"Fail Error and ErrorPath", `{"StartAt":"A","States":{"A":{"Type":"Fail","Error":"E","ErrorPath":"$.e"}}}`, []string{"SCHEMA_VALIDATION_FAILED|/States/A|cannot both be given"}},
		{"BackoffRate below 1", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","Retry":[{"ErrorEquals":["X"],"BackoffRate":0.5}],"End":true}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED|/States/A/Retry[0]/BackoffRate|"}},
		{"JitterStrategy", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","Retry":[{"ErrorEquals":["X"],"JitterStrategy":"HALF"}],"End":true}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED|/States/A/Retry[0]/JitterStrategy|"}},
		{"Map Parameters and ItemSelector", `{"StartAt":"M","States":{"M":{"Type":"Map","End":true,"Parameters":{},"ItemSelector":{},"Iterator":{"StartAt":"X","States":{"X":{"Type":"Succeed"}}}}}}`,
			[]string{"SCHEMA_VALIDATION_FAILED|/States/M|Only one of 'Parameters' or 'ItemSelector'"}},
		{"every state type", everyStateType, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diags := Validate([]byte(tt.def))
			var got []string
			for _, d := range diags {
				got = append(got, d.Severity+":"+d.Code+"|"+d.Location+"|"+d.Message)
			}
			if len(tt.want) == 0 && len(diags) > 0 {
				t.Fatalf("want valid, got:\n%s", strings.Join(got, "\n"))
			}
			for _, w := range tt.want {
				sev := "ERROR:"
				if strings.HasPrefix(w, "WARNING:") {
					sev, w = "WARNING:", strings.TrimPrefix(w, "WARNING:")
				}
				parts := strings.SplitN(w, "|", 3)
				found := false
				for _, g := range got {
					gp := strings.SplitN(g, "|", 3)
					if gp[0] == sev+parts[0] && gp[1] == parts[1] && strings.Contains(gp[2], parts[2]) {
						found = true
					}
				}
				if !found {
					t.Errorf("missing %s%s in:\n%s", sev, w, strings.Join(got, "\n"))
				}
			}
			_, err := Parse([]byte(tt.def))
			if HasErrors(diags) != (err != nil) {
				t.Errorf("Parse error %v disagrees with diagnostics", err)
			}
		})
	}
}

const everyStateType = `{
  "Comment": "one of each", "Version": "1.0", "TimeoutSeconds": 60,
  "StartAt": "Pass",
  "States": {
    "Pass": {"Type": "Pass", "Parameters": {"a.$": "$.x", "n.$": "States.MathAdd(1, 2)"}, "ResultPath": "$.p", "Next": "Task"},
    "Task": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f", "Payload.$": "$"},
      "ResultSelector": {"x.$": "$.Payload"}, "TimeoutSecondsPath": "$.t", "HeartbeatSeconds": 10, "Credentials": {"RoleArn": "arn:aws:iam::123456789012:role/x"},
      "Retry": [{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 2, "MaxAttempts": 2, "BackoffRate": 1.5, "MaxDelaySeconds": 5, "JitterStrategy": "FULL"}],
      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Fail"}], "Next": "Choice"},
    "Choice": {"Type": "Choice", "Choices": [
      {"Variable": "$.a", "StringEqualsPath": "$.b", "Next": "Wait"},
      {"Or": [{"Variable": "$.n", "NumericLessThan": 1}, {"Variable": "$.ts", "TimestampGreaterThan": "2020-01-01T00:00:00Z"}], "Next": "Parallel"},
      {"Variable": "$.s", "StringMatches": "a*\\*", "Next": "Map"}], "Default": "Succeed"},
    "Wait": {"Type": "Wait", "TimestampPath": "$.when", "Next": "Succeed"},
    "Parallel": {"Type": "Parallel", "Branches": [{"StartAt": "B1", "States": {"B1": {"Type": "Pass", "End": true}}}], "Next": "Succeed"},
    "Map": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrencyPath": "$.mc", "ToleratedFailurePercentage": 10, "Label": "m",
      "ItemSelector": {"v.$": "$$.Map.Item.Value"}, "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "I1", "States": {"I1": {"Type": "Succeed"}}}, "Next": "Succeed"},
    "Succeed": {"Type": "Succeed", "OutputPath": null},
    "Fail": {"Type": "Fail", "ErrorPath": "$.err.Error", "CausePath": "States.Format('x {}', $.err.Cause)"}
  }
}`

func TestParseCompiles(t *testing.T) {
	sm, err := Parse([]byte(everyStateType))
	if err != nil {
		t.Fatal(err)
	}
	if sm.TimeoutSeconds != 60 || len(sm.States) != 8 {
		t.Fatalf("machine %+v", sm)
	}
	task := sm.States["Task"]
	if task.Integration.Kind != LambdaInvoke || task.TimeoutSeconds.Path == nil || task.HeartbeatSeconds.Value != 10 {
		t.Errorf("task %+v", task)
	}
	r := task.Retry[0]
	if r.IntervalSeconds != 2 || r.MaxAttempts != 2 || r.BackoffRate != 1.5 || r.MaxDelaySeconds != 5 || !r.JitterFull {
		t.Errorf("retrier %+v", r)
	}
	if sm.States["Succeed"].OutputPath == nil || !sm.States["Succeed"].OutputPath.Null {
		t.Errorf("OutputPath null not kept")
	}
	if m := sm.States["Map"]; m.Processor == nil || m.MaxConcurrency.Path == nil || m.ToleratedFailurePercentage.Value != 10 {
		t.Errorf("map %+v", m)
	}
}

func TestInvalidDefinitionMessage(t *testing.T) {
	_, err := Parse([]byte(`{"StartAt":"A"}`))
	if got, want := err.Error(), "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: These fields are required: [States] at /'"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	_, err = Parse([]byte(`{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},"C":{"Type":"Succeed"}}}`))
	want := "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: B at /States/A/Next, MISSING_TRANSITION_TARGET: State \"C\" is not reachable. at /States/C'"
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
}

func TestResolveResource(t *testing.T) {
	tests := []struct {
		res  string
		kind IntegrationKind
		typ  string
		name string
		wait bool
	}{
		{"arn:aws:lambda:us-east-1:123456789012:function:deployer", LambdaARN, "", "", false},
		{"arn:aws:lambda:us-east-1:123456789012:function:deployer:$LATEST", LambdaARN, "", "", false},
		{"arn:aws:states:::lambda:invoke", LambdaInvoke, "lambda", "invoke", false},
		{"arn:aws:states:::lambda:invoke.waitForTaskToken", LambdaInvoke, "lambda", "invoke.waitForTaskToken", true},
		{"arn:aws:states:::sqs:sendMessage.waitForTaskToken", Unsupported, "sqs", "sendMessage.waitForTaskToken", true},
		{"arn:aws:states:::aws-sdk:s3:listObjects", Unsupported, "aws-sdk:s3", "listObjects", false},
		{"arn:aws:states:us-east-1:123456789012:activity:a", Unsupported, "activity", "arn:aws:states:us-east-1:123456789012:activity:a", false},
	}
	for _, tt := range tests {
		in := ResolveResource(tt.res)
		if in.Kind != tt.kind || in.ResourceType != tt.typ || in.ResourceName != tt.name || in.WaitForTaskToken != tt.wait {
			t.Errorf("ResolveResource(%s) = %+v", tt.res, in)
		}
	}
}
