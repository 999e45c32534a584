package sfnapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/odin-deploy/odin/pkg/local/asl"
	"github.com/odin-deploy/odin/pkg/local/engine"
)

// TestErrors drives each operation into each of its errors through the SDK
// and checks the code and AWS's exact message.
func TestErrors(t *testing.T) {
	r := newRig(t, "", Options{Clock: engine.NewFakeClock(epoch0)})
	ctx := context.Background()
	smArn := r.createMachine(t, "m", passMachine)
	missingSM := stateMachineArn(region, account, "nope")
	missingX := executionArn(region, account, "m", "nope")
	done, err := r.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &smArn, Name: aws.String("done")})
	if err != nil {
		t.Fatal(err)
	}
	r.waitDone(t, *done.ExecutionArn)
	_, badDefErr := asl.Parse([]byte(`{"StartAt":"A"}`))
	long := strings.Repeat("n", 81)

	tests := []struct {
		name string
		call func() error
		code string
		msg  string // "" checks only the code; a trailing * checks a prefix
	}{
		{"create: name too long", func() error {
			_, err := r.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: &long, Definition: aws.String(passMachine), RoleArn: aws.String(role)})
			return err
		}, "ValidationException", "1 validation error detected: Value '" + long + "' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80"},
		{"create: bad name", func() error {
			_, err := r.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("a b"), Definition: aws.String(passMachine), RoleArn: aws.String(role)})
			return err
		}, "InvalidName", "Invalid Name: 'a b'"},
		{"create: bad definition", func() error {
			_, err := r.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("bad"), Definition: aws.String(`{"StartAt":"A"}`), RoleArn: aws.String(role)})
			return err
		}, "InvalidDefinition", badDefErr.Error()},
		{"create: not JSON", func() error {
			_, err := r.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("bad"), Definition: aws.String(`{`), RoleArn: aws.String(role)})
			return err
		}, "InvalidDefinition", "Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION*"},
		{"create: role not an ARN", func() error {
			_, err := r.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("x"), Definition: aws.String(passMachine), RoleArn: aws.String("role")})
			return err
		}, "InvalidArn", "Invalid Arn: 'Invalid ARN prefix: role'"},
		{"create: same name, other definition", func() error {
			_, err := r.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("m"), Definition: aws.String(failMachine), RoleArn: aws.String(role)})
			return err
		}, "StateMachineAlreadyExists", "State Machine Already Exists: '" + smArn + "'"},
		{"create: EXPRESS", func() error {
			_, err := r.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("e"), Definition: aws.String(passMachine), RoleArn: aws.String(role), Type: types.StateMachineTypeExpress})
			return err
		}, "StateMachineTypeNotSupported", ""},
		{"create: bad type", func() error {
			_, err := r.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("e"), Definition: aws.String(passMachine), RoleArn: aws.String(role), Type: "BATCH"})
			return err
		}, "ValidationException", "1 validation error detected: Value 'BATCH' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"},
		{"describe state machine: missing", func() error {
			_, err := r.client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: &missingSM})
			return err
		}, "StateMachineDoesNotExist", "State Machine Does Not Exist: '" + missingSM + "'"},
		{"describe state machine: not an ARN", func() error {
			_, err := r.client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String("foo")})
			return err
		}, "InvalidArn", "Invalid Arn: 'Invalid ARN prefix: foo'"},
		{"describe state machine: execution ARN", func() error {
			_, err := r.client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: done.ExecutionArn})
			return err
		}, "InvalidArn", "Invalid Arn: 'Resource type not valid in this context: execution'"},
		{"update: nothing to update", func() error {
			_, err := r.client.UpdateStateMachine(ctx, &sfn.UpdateStateMachineInput{StateMachineArn: &smArn})
			return err
		}, "MissingRequiredParameter", "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified"},
		{"update: missing", func() error {
			_, err := r.client.UpdateStateMachine(ctx, &sfn.UpdateStateMachineInput{StateMachineArn: &missingSM, RoleArn: aws.String(role)})
			return err
		}, "StateMachineDoesNotExist", "State Machine Does Not Exist: '" + missingSM + "'"},
		{"update: bad definition", func() error {
			_, err := r.client.UpdateStateMachine(ctx, &sfn.UpdateStateMachineInput{StateMachineArn: &smArn, Definition: aws.String(`{"StartAt":"A"}`)})
			return err
		}, "InvalidDefinition", badDefErr.Error()},
		{"start: bad name", func() error {
			_, err := r.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &smArn, Name: aws.String("a:b")})
			return err
		}, "InvalidName", "Invalid Name: 'a:b'"},
		{"start: name too long", func() error {
			_, err := r.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &smArn, Name: &long})
			return err
		}, "ValidationException", "1 validation error detected: Value '" + long + "' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80"},
		{"start: input not JSON", func() error {
			_, err := r.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &smArn, Input: aws.String(`{"a":`)})
			return err
		}, "InvalidExecutionInput", "Invalid State Machine Execution Input: '*"},
		{"start: input over 256 KiB", func() error {
			big := `"` + strings.Repeat("x", 262144) + `"`
			_, err := r.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &smArn, Input: &big})
			return err
		}, "ValidationException", "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to 262144"},
		{"start: missing state machine", func() error {
			_, err := r.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &missingSM})
			return err
		}, "StateMachineDoesNotExist", "State Machine Does Not Exist: '" + missingSM + "'"},
		{"start: name of a closed execution", func() error {
			_, err := r.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &smArn, Name: aws.String("done")})
			return err
		}, "ExecutionAlreadyExists", "Execution Already Exists: '" + *done.ExecutionArn + "'"},
		{"describe execution: missing", func() error {
			_, err := r.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: &missingX})
			return err
		}, "ExecutionDoesNotExist", "Execution Does Not Exist: '" + missingX + "'"},
		{"describe execution: state machine ARN", func() error {
			_, err := r.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: &smArn})
			return err
		}, "InvalidArn", "Invalid Arn: 'Resource type not valid in this context: stateMachine'"},
		{"describe state machine for execution: missing", func() error {
			_, err := r.client.DescribeStateMachineForExecution(ctx, &sfn.DescribeStateMachineForExecutionInput{ExecutionArn: &missingX})
			return err
		}, "ExecutionDoesNotExist", "Execution Does Not Exist: '" + missingX + "'"},
		{"history: maxResults 1001", func() error {
			_, err := r.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: done.ExecutionArn, MaxResults: 1001})
			return err
		}, "ValidationException", "1 validation error detected: Value '1001' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"},
		{"history: two violations", func() error {
			_, err := r.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: done.ExecutionArn, MaxResults: -1, NextToken: aws.String(strings.Repeat("t", 1025))})
			return err
		}, "ValidationException", "2 validation errors detected: Value '-1' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 0; Value '" + strings.Repeat("t", 1025) + "' at 'nextToken' failed to satisfy constraint: Member must have length less than or equal to 1024"},
		{"history: forged token", func() error {
			_, err := r.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: done.ExecutionArn, NextToken: aws.String("AAAA")})
			return err
		}, "InvalidToken", "Invalid Token: 'Invalid token'"},
		{"history: missing", func() error {
			_, err := r.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: &missingX})
			return err
		}, "ExecutionDoesNotExist", "Execution Does Not Exist: '" + missingX + "'"},
		{"list executions: bad status", func() error {
			_, err := r.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: &smArn, StatusFilter: "BOGUS"})
			return err
		}, "ValidationException", "1 validation error detected: Value 'BOGUS' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [SUCCEEDED, TIMED_OUT, PENDING_REDRIVE, ABORTED, FAILED, RUNNING]"},
		{"list executions: missing state machine", func() error {
			_, err := r.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: &missingSM})
			return err
		}, "StateMachineDoesNotExist", "State Machine Does Not Exist: '" + missingSM + "'"},
		{"list state machines: maxResults 1001", func() error {
			_, err := r.client.ListStateMachines(ctx, &sfn.ListStateMachinesInput{MaxResults: 1001})
			return err
		}, "ValidationException", "1 validation error detected: Value '1001' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"},
		{"stop: missing", func() error {
			_, err := r.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: &missingX})
			return err
		}, "ExecutionDoesNotExist", "Execution Does Not Exist: '" + missingX + "'"},
		{"send task success: unknown token", func() error {
			_, err := r.client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String("nope"), Output: aws.String("{}")})
			return err
		}, "TaskDoesNotExist", "Task Does Not Exist: 'nope'"},
		{"send task success: output not JSON", func() error {
			_, err := r.client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String("nope"), Output: aws.String("{")})
			return err
		}, "InvalidOutput", ""},
		{"send task heartbeat: unknown token", func() error {
			_, err := r.client.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String("nope")})
			return err
		}, "TaskDoesNotExist", "Task Does Not Exist: 'nope'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if prefix, ok := strings.CutSuffix(tt.msg, "*"); ok {
				wantAPIError(t, err, tt.code, "")
				var ae smithy.APIError
				errors.As(err, &ae)
				if !strings.HasPrefix(ae.ErrorMessage(), prefix) {
					t.Fatalf("message %q, want prefix %q", ae.ErrorMessage(), prefix)
				}
				return
			}
			wantAPIError(t, err, tt.code, tt.msg)
		})
	}
}

// TestWireErrors checks what the SDK can't send or hides: unknown targets,
// required members, malformed bodies, and the error's wire shape.
func TestWireErrors(t *testing.T) {
	r := newRig(t, "", Options{})
	tests := []struct {
		name, target, body, typ, msg string
	}{
		{"unknown operation", "AWSStepFunctions.Frobnicate", `{}`, "com.amazon.coral.service#UnknownOperationException", `Unknown operation "AWSStepFunctions.Frobnicate"`},
		{"other service", "DynamoDB_20120810.Query", `{}`, "com.amazon.coral.service#UnknownOperationException", `Unknown operation "DynamoDB_20120810.Query"`},
		{"required members", "AWSStepFunctions.CreateStateMachine", `{}`, "com.amazon.coral.validate#ValidationException",
			"3 validation errors detected: Value null at 'name' failed to satisfy constraint: Member must not be null; Value null at 'definition' failed to satisfy constraint: Member must not be null; Value null at 'roleArn' failed to satisfy constraint: Member must not be null"},
		{"empty body", "AWSStepFunctions.DescribeExecution", ``, "com.amazon.coral.validate#ValidationException",
			"1 validation error detected: Value null at 'executionArn' failed to satisfy constraint: Member must not be null"},
		{"not JSON", "AWSStepFunctions.DescribeExecution", `{`, "com.amazon.coral.service#SerializationException", ""},
		{"wrong type", "AWSStepFunctions.GetExecutionHistory", `{"executionArn":"x","maxResults":"ten"}`, "com.amazon.coral.service#SerializationException", ""},
		{"missing execution", "AWSStepFunctions.DescribeExecution", `{"executionArn":"arn:aws:states:us-east-1:123456789012:execution:m:x"}`,
			"com.amazonaws.swf.service.v2.model#ExecutionDoesNotExist", "Execution Does Not Exist: 'arn:aws:states:us-east-1:123456789012:execution:m:x'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", r.srv.URL+"/", strings.NewReader(tt.body))
			req.Header.Set("X-Amz-Target", tt.target)
			req.Header.Set("Content-Type", "application/x-amz-json-1.0")
			resp, err := r.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 400 {
				t.Fatalf("status %d, want 400: %s", resp.StatusCode, b)
			}
			var got struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("error body %s: %v", b, err)
			}
			if got.Type != tt.typ || (tt.msg != "" && got.Message != tt.msg) {
				t.Fatalf("got %s %q\nwant %s %q", got.Type, got.Message, tt.typ, tt.msg)
			}
			name := tt.typ[strings.IndexByte(tt.typ, '#')+1:]
			if h := resp.Header.Get("X-Amzn-ErrorType"); h != name {
				t.Fatalf("X-Amzn-ErrorType %q, want %q", h, name)
			}
			if resp.Header.Get("x-amzn-RequestId") == "" {
				t.Fatal("no x-amzn-RequestId")
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-json-1.0" {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
}
