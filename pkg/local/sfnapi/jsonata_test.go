package sfnapi

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// A JSONata machine with variables, run through the API: the SDK reads the
// assigned variables and the EvaluationFailed details off the history.
func TestJSONataAndVariablesThroughTheAPI(t *testing.T) {
	r := newRig(t, "", Options{})
	ctx := context.Background()
	def := `{"QueryLanguage":"JSONata","StartAt":"Set","States":{
		"Set":{"Type":"Pass","Assign":{"count":"{% $count($states.input.xs) %}","first":"{% $states.input.xs[0] %}"},"Next":"Use"},
		"Use":{"Type":"Pass","Output":{"n":"{% $count %}","doubled":"{% $first * 2 %}","missing":"{% $states.input.nope %}"},"End":true}}}`
	smArn := r.createMachine(t, "jsonata", def)
	start, err := r.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smArn), Input: aws.String(`{"xs":[4,5,6]}`)})
	if err != nil {
		t.Fatal(err)
	}
	d := r.waitDone(t, *start.ExecutionArn)
	if d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != "States.QueryEvaluationError" {
		t.Fatalf("describe: %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	h, err := r.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	exited := h.Events[2].StateExitedEventDetails
	if exited == nil || exited.AssignedVariables["count"] != "3" || exited.AssignedVariables["first"] != "4" ||
		exited.AssignedVariablesDetails == nil || exited.AssignedVariablesDetails.Truncated {
		t.Fatalf("Set's Exited details: %+v", exited)
	}
	ev := h.Events[4]
	f := ev.EvaluationFailedEventDetails
	if ev.Type != types.HistoryEventTypeEvaluationFailed || f == nil || aws.ToString(f.Location) != "Output/missing" || aws.ToString(f.State) != "Use" ||
		aws.ToString(f.Cause) != "An error occurred while executing the state 'Use' (entered at the event id #4). The JSONata expression '$states.input.nope' specified for the field 'Output/missing' returned nothing (undefined)." {
		t.Fatalf("event 5: %s %+v", ev.Type, f)
	}
	if ev.PreviousEventId != 3 {
		t.Errorf("EvaluationFailed points at %d, want 3 (what Use's Entered event points at)", ev.PreviousEventId)
	}

	// A definition AWS refuses is refused with its message.
	_, err = r.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("bad"), RoleArn: aws.String(role),
		Definition: aws.String(`{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Pass","ResultPath":"$.x","End":true}}}`)})
	wantAPIError(t, err, "InvalidDefinition", "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The QueryLanguage is set to 'JSONata', but field 'ResultPath' is only supported for the 'JSONPath' QueryLanguage at /States/A'")
}
