package asl

import (
	"slices"
	"testing"
)

// TestValidationAsRecordedOnAWS holds ValidateType to the diagnostics AWS's
// ValidateStateMachineDefinition returned for the same definitions, word for word, as
// LocalStack's snapshot tests recorded them
// (tests/aws/services/stepfunctions/v2/test_sfn_api_validation.snapshot.json, recorded
// 19-10-2025; each case names its snapshot key). Only ERROR diagnostics are compared: the
// recordings asked for the default severity. A definition AWS runs (from the recorded
// executions) must give none.
func TestValidationAsRecordedOnAWS(t *testing.T) {
	const key = "test_sfn_api_validation.py::TestSfnApiValidation::"
	tests := []struct {
		key, machineType, definition string
		want                         []Diagnostic
	}{
		{key + "test_validate_state_machine_definition_not_a_definition[EMPTY_STRING]", "STANDARD", ``,
			[]Diagnostic{{Severity: SeverityError, Code: CodeSchema, Message: "Definition must be a valid JSON object"}}},
		{key + "test_validate_state_machine_definition_not_a_definition[NOT_A_DEF]", "STANDARD", `not a definition`,
			[]Diagnostic{{Severity: SeverityError, Code: CodeInvalidJSON,
				Location: `[Source: (String)"not a definition"; line: 1, column: 4]`,
				Message:  "Unrecognized token 'not': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')\n at [Source: (String)\"not a definition\"; line: 1, column: 4]"}}},
		{key + "test_validate_state_machine_definition_not_a_definition[EMPTY_DICT]", "STANDARD", `{}`,
			[]Diagnostic{{Severity: SeverityError, Code: CodeSchema, Location: "/", Message: "These fields are required: [States, StartAt]"}}},
		{key + "test_validate_state_machine_definition_type_standard[VALID_BASE_PASS]", "STANDARD",
			`{"Comment":"BASE_PASS_RESULT","StartAt":"State_1","States":{"State_1":{"Type":"Pass","Result":{"Arg1":"argument1"},"End":true}}}`, nil},
		{key + "test_validate_state_machine_definition_type_express[VALID_BASE_PASS]", "EXPRESS",
			`{"Comment":"BASE_PASS_RESULT","StartAt":"State_1","States":{"State_1":{"Type":"Pass","Result":{"Arg1":"argument1"},"End":true}}}`, nil},
		{key + "test_validate_state_machine_definition_type_standard[INVALID_BASE_NO_STARTAT]", "STANDARD",
			`{"Comment":"BASE_PASS_RESULT","States":{"State_1":{"Type":"Pass","Result":{"Arg1":"argument1"},"End":true}}}`,
			[]Diagnostic{{Severity: SeverityError, Code: CodeSchema, Location: "/", Message: "These fields are required: [StartAt]"}}},
		{key + "test_validate_state_machine_definition_type_express[ILLEGAL_WFTT]", "EXPRESS",
			`{"StartAt":"SendMessageWithWait","States":{"SendMessageWithWait":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken","Parameters":{"QueueUrl":"https://sqs.us-east-1.amazonaws.com/123456789012/q","MessageBody":{"Context.$":"$","TaskToken.$":"$$.Task.Token"}},"End":true}}}`,
			[]Diagnostic{{Severity: SeverityError, Code: CodeSchema, Location: "/States/SendMessageWithWait/Resource", Message: "Express state machine does not support '.waitForTaskToken' service integration "}}},
		{key + "test_validate_state_machine_definition_type_standard[INVALID_DOWNGRADE_QUERY_LANGUAGE]", "STANDARD",
			`{"StartAt":"Pass","States":{"Pass":{"Type":"Pass","End":true,"QueryLanguage":"JSONPath"}},"QueryLanguage":"JSONata"}`,
			[]Diagnostic{{Severity: SeverityError, Code: CodeSchema, Location: "/States/Pass", Message: "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine"}}},
		{key + "test_validate_state_machine_definition_type_express[INVALID_DOWNGRADE_QUERY_LANGUAGE]", "EXPRESS",
			`{"StartAt":"Pass","States":{"Pass":{"Type":"Pass","End":true,"QueryLanguage":"JSONPath"}},"QueryLanguage":"JSONata"}`,
			[]Diagnostic{{Severity: SeverityError, Code: CodeSchema, Location: "/States/Pass", Message: "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine"}}},
		// A JSONata Map inside a JSONPath machine may hold JSONPath states: only a machine-wide
		// JSONata forbids them.
		{key + "test_validate_state_machine_definition_type_standard[VALID_QUERY_LANGUAGE_PASS]", "STANDARD",
			`{"StartAt":"Map","QueryLanguage":"JSONPath","States":{"Map":{"Type":"Map","QueryLanguage":"JSONata","ItemProcessor":{"ProcessorConfig":{"Mode":"INLINE"},"StartAt":"Pass","States":{"Pass":{"QueryLanguage":"JSONPath","Type":"Pass","End":true}}},"End":true}}}`, nil},
		{key + "test_validate_state_machine_definition_type_express[VALID_QUERY_LANGUAGE_PASS]", "EXPRESS",
			`{"StartAt":"Map","QueryLanguage":"JSONPath","States":{"Map":{"Type":"Map","QueryLanguage":"JSONata","ItemProcessor":{"ProcessorConfig":{"Mode":"INLINE"},"StartAt":"Pass","States":{"Pass":{"QueryLanguage":"JSONPath","Type":"Pass","End":true}}},"End":true}}}`, nil},
		// An unknown Type, as AWS words it (LocalStack's test_test_state_machine_scenarios.py::
		// TestStateMachineScenarios::test_state_name_invalid_state_definition, validated on AWS,
		// quotes AWS's message: "The field 'Type' should have one of these values: [Task, Wait,
		// Pass, Succeed, Fail, Choice, Parallel, Map] at /States/ExistingButInvalidState/Type").
		// The state exists, so neither StartAt nor reachability is reported besides.
		{"test_test_state_machine_scenarios.py::TestStateMachineScenarios::test_state_name_invalid_state_definition", "STANDARD",
			`{"StartAt":"ExistingButInvalidState","States":{"ExistingButInvalidState":{"Type":"TypeThatDoesNotExist","Next":"End"},"End":{"Type":"Succeed"}}}`,
			[]Diagnostic{{Severity: SeverityError, Code: CodeSchema, Location: "/States/ExistingButInvalidState/Type", Message: "The field 'Type' should have one of these values: [Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map]"}}},
		// The recorded execution shared/31-map-legacy-iterator-item-selector ran on AWS: a legacy
		// Iterator with a ProcessorConfig is accepted.
		{"scenarios/test_base_scenarios.py::TestBaseScenarios::test_map_state_legacy_config_inline_item_selector", "STANDARD",
			`{"StartAt":"MapState","States":{"MapState":{"Type":"Map","MaxConcurrency":1,"ItemSelector":{"constantValue":"constant","mapValue.$":"$$.Map.Item.Value","fromInput.$":"$"},"Iterator":{"StartAt":"IteratorInner","States":{"IteratorInner":{"Type":"Pass","End":true}},"ProcessorConfig":{"Mode":"INLINE"}},"Next":"Finish"},"Finish":{"Type":"Succeed"}}}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			var got []Diagnostic
			for _, d := range ValidateType([]byte(tt.definition), tt.machineType) {
				if d.Severity == SeverityError {
					got = append(got, d)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("diagnostics\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}
