package sfnapi

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/local/engine"
)

func TestStartExecutionIdempotent(t *testing.T) {
	clock := engine.NewFakeClock(epoch0)
	r := newRig(t, "", Options{Clock: clock})
	ctx := context.Background()
	smArn := r.createMachine(t, "w", waitMachine)
	start := func(name, input string) (*sfn.StartExecutionOutput, error) {
		return r.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &smArn, Name: &name, Input: &input})
	}
	first, err := start("x", `{"a":1}`)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second) // a second start must report the first one's date
	again, err := start("x", `{"a":1}`)
	if err != nil {
		t.Fatalf("same name and input while running: %v", err)
	}
	if *again.ExecutionArn != *first.ExecutionArn || !again.StartDate.Equal(*first.StartDate) {
		t.Fatalf("second start %v %v, first %v %v", *again.ExecutionArn, again.StartDate, *first.ExecutionArn, first.StartDate)
	}
	// Byte equality: the same JSON spelled differently is other input.
	_, err = start("x", `{"a": 1}`)
	wantAPIError(t, err, "ExecutionAlreadyExists", "Execution Already Exists: '"+*first.ExecutionArn+"'")

	waitForTimer(t, clock) // the Wait state is waiting
	clock.Advance(time.Hour)
	if d := r.waitDone(t, *first.ExecutionArn); d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("status %s", d.Status)
	}
	_, err = start("x", `{"a":1}`)
	wantAPIError(t, err, "ExecutionAlreadyExists", "Execution Already Exists: '"+*first.ExecutionArn+"'")

	h, err := r.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: first.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	if n := countType(h.Events, types.HistoryEventTypeExecutionStarted); n != 1 {
		t.Fatalf("%d ExecutionStarted events, want 1", n)
	}
}

func countType(evs []types.HistoryEvent, typ types.HistoryEventType) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// TestHistoryPaging walks a 1,004-event history in pages both ways and
// checks ids, tokens, and includeExecutionData.
func TestHistoryPaging(t *testing.T) {
	r := newRig(t, "", Options{})
	arn := longExecution(t, r, 500)
	ctx := context.Background()
	all, _ := r.api.store.History(arn)
	total := len(all)
	if total < 1000 {
		t.Fatalf("the execution has %d events, want over 1,000", total)
	}
	for _, tt := range []struct {
		reverse  bool
		max      int32
		wantPage int
	}{
		{false, 0, 100}, {true, 0, 100}, {false, 333, 333}, {true, 1000, 1000}, {false, 1, 1},
	} {
		t.Run(fmt.Sprintf("reverse=%v,max=%d", tt.reverse, tt.max), func(t *testing.T) {
			var ids []int64
			pages := 0
			p := sfn.NewGetExecutionHistoryPaginator(r.client, &sfn.GetExecutionHistoryInput{
				ExecutionArn: &arn, ReverseOrder: tt.reverse, MaxResults: tt.max})
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if pages == 0 && len(out.Events) != tt.wantPage {
					t.Fatalf("first page has %d events, want %d", len(out.Events), tt.wantPage)
				}
				pages++
				for _, e := range out.Events {
					ids = append(ids, e.Id)
				}
			}
			if len(ids) != total || pages != (total+tt.wantPage-1)/tt.wantPage {
				t.Fatalf("%d events in %d pages, want %d", len(ids), pages, total)
			}
			for i, id := range ids {
				want := int64(i + 1)
				if tt.reverse {
					want = int64(total - i)
				}
				if id != want {
					t.Fatalf("event %d has id %d, want %d", i, id, want)
				}
			}
		})
	}

	t.Run("token tied to its arguments", func(t *testing.T) {
		out, err := r.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: &arn, MaxResults: 10})
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: &arn, MaxResults: 10, ReverseOrder: true, NextToken: out.NextToken})
		wantAPIError(t, err, "InvalidToken", "Invalid Token: 'Invalid token: the arguments changed since the token was issued'")
		// maxResults may change between pages.
		next, err := r.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: &arn, MaxResults: 5, NextToken: out.NextToken})
		if err != nil {
			t.Fatal(err)
		}
		if next.Events[0].Id != 11 || len(next.Events) != 5 {
			t.Fatalf("second page starts at %d with %d events", next.Events[0].Id, len(next.Events))
		}
	})

	t.Run("includeExecutionData false", func(t *testing.T) {
		out, err := r.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: &arn, MaxResults: 1000, IncludeExecutionData: aws.Bool(false)})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range out.Events {
			if d := e.ExecutionStartedEventDetails; d != nil && d.Input != nil {
				t.Fatalf("event %d has input %s", e.Id, *d.Input)
			}
			if d := e.StateEnteredEventDetails; d != nil && (d.Input != nil || d.Name == nil) {
				t.Fatalf("event %d: %+v", e.Id, d)
			}
			if d := e.StateExitedEventDetails; d != nil && (d.Output != nil || d.Name == nil) {
				t.Fatalf("event %d: %+v", e.Id, d)
			}
		}
		full, err := r.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: &arn, MaxResults: 2})
		if err != nil {
			t.Fatal(err)
		}
		if full.Events[1].StateEnteredEventDetails.Input == nil {
			t.Fatal("by default events carry their input")
		}
	})
}

func TestHistoryTokenExpires(t *testing.T) {
	clock := engine.NewFakeClock(epoch0)
	r := newRig(t, "", Options{Clock: clock})
	ctx := context.Background()
	smArn := r.createMachine(t, "m", passMachine)
	x, err := r.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &smArn})
	if err != nil {
		t.Fatal(err)
	}
	r.waitDone(t, *x.ExecutionArn)
	out, err := r.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: x.ExecutionArn, MaxResults: 2})
	if err != nil || out.NextToken == nil {
		t.Fatalf("first page: %v", err)
	}
	clock.Advance(24*time.Hour - time.Second)
	if _, err := r.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: x.ExecutionArn, MaxResults: 2, NextToken: out.NextToken}); err != nil {
		t.Fatalf("a token under 24 h old: %v", err)
	}
	clock.Advance(2 * time.Second)
	_, err = r.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: x.ExecutionArn, MaxResults: 2, NextToken: out.NextToken})
	wantAPIError(t, err, "InvalidToken", "Invalid Token: 'Invalid token: the token has expired'")
}

func TestListExecutions(t *testing.T) {
	clock := engine.NewFakeClock(epoch0)
	r := newRig(t, "", Options{Clock: clock})
	ctx := context.Background()
	pass := r.createMachine(t, "p", passMachine)
	wait := r.createMachine(t, "w", waitMachine)
	var passNames []string
	for i := range 7 {
		name := fmt.Sprintf("p%d", i)
		passNames = append(passNames, name)
		x, err := r.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &pass, Name: &name})
		if err != nil {
			t.Fatal(err)
		}
		r.waitDone(t, *x.ExecutionArn)
		clock.Advance(time.Second)
	}
	if _, err := r.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &wait, Name: aws.String("running")}); err != nil {
		t.Fatal(err)
	}

	var names []string
	p := sfn.NewListExecutionsPaginator(r.client, &sfn.ListExecutionsInput{StateMachineArn: &pass, MaxResults: 3})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, x := range out.Executions {
			names = append(names, *x.Name)
			if x.Status != types.ExecutionStatusSucceeded || x.StopDate == nil || *x.StateMachineArn != pass {
				t.Fatalf("list item %+v", x)
			}
		}
	}
	slices.Reverse(passNames) // newest first
	if !slices.Equal(names, passNames) || pages != 3 {
		t.Fatalf("listed %v in %d pages, want %v in 3", names, pages, passNames)
	}

	for _, tt := range []struct {
		status types.ExecutionStatus
		want   []string
	}{
		{types.ExecutionStatusRunning, []string{"running"}},
		{types.ExecutionStatusSucceeded, nil},
		{"", []string{"running"}},
	} {
		out, err := r.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: &wait, StatusFilter: tt.status})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, x := range out.Executions {
			got = append(got, *x.Name)
		}
		if !slices.Equal(got, tt.want) || out.NextToken != nil {
			t.Fatalf("status %q: %v (token %v), want %v", tt.status, got, out.NextToken, tt.want)
		}
	}
}

func TestStopExecution(t *testing.T) {
	clock := engine.NewFakeClock(epoch0)
	r := newRig(t, "", Options{Clock: clock})
	ctx := context.Background()
	smArn := r.createMachine(t, "w", waitMachine)
	x, err := r.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &smArn})
	if err != nil {
		t.Fatal(err)
	}
	waitForTimer(t, clock)
	clock.Advance(5 * time.Second)
	out, err := r.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: x.ExecutionArn, Error: aws.String("Halted"), Cause: aws.String("by the test")})
	if err != nil {
		t.Fatal(err)
	}
	if want := epoch0.Add(5 * time.Second); !out.StopDate.Equal(want) {
		t.Fatalf("stop date %v, want %v", out.StopDate, want)
	}
	d := r.waitDone(t, *x.ExecutionArn)
	if d.Status != types.ExecutionStatusAborted || aws.ToString(d.Error) != "Halted" || aws.ToString(d.Cause) != "by the test" || d.Output != nil {
		t.Fatalf("describe %s %v %v", d.Status, d.Error, d.Cause)
	}
	h, err := r.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: x.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	last := h.Events[len(h.Events)-1]
	if last.Type != types.HistoryEventTypeExecutionAborted || aws.ToString(last.ExecutionAbortedEventDetails.Error) != "Halted" {
		t.Fatalf("last event %+v", last)
	}
	// Stopping again reports the same stop.
	again, err := r.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: x.ExecutionArn})
	if err != nil || !again.StopDate.Equal(*out.StopDate) {
		t.Fatalf("second stop: %v %v", again, err)
	}
}

func TestStateMachineLifecycle(t *testing.T) {
	clock := engine.NewFakeClock(epoch0)
	r := newRig(t, "", Options{Clock: clock})
	ctx := context.Background()
	arn := r.createMachine(t, "life", waitMachine)

	// Creating the same machine again is idempotent, even with another role.
	again, err := r.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("life"), Definition: aws.String(waitMachine), RoleArn: aws.String(role + "2")})
	if err != nil || *again.StateMachineArn != arn || !again.CreationDate.Equal(epoch0) {
		t.Fatalf("idempotent create: %v %v", again, err)
	}
	old, err := r.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &arn, Name: aws.String("old")})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	up, err := r.client.UpdateStateMachine(ctx, &sfn.UpdateStateMachineInput{StateMachineArn: &arn, Definition: aws.String(passMachine)})
	if err != nil {
		t.Fatal(err)
	}
	if !up.UpdateDate.Equal(epoch0.Add(time.Minute)) || aws.ToString(up.RevisionId) == "" {
		t.Fatalf("update: %+v", up)
	}
	d, err := r.client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: &arn})
	if err != nil {
		t.Fatal(err)
	}
	if *d.Definition != passMachine || *d.RoleArn != role || d.Status != types.StateMachineStatusActive ||
		d.Type != types.StateMachineTypeStandard || !d.CreationDate.Equal(epoch0) || *d.RevisionId != *up.RevisionId ||
		d.LoggingConfiguration == nil || d.LoggingConfiguration.Level != types.LogLevelOff {
		t.Fatalf("describe after update: %+v", d)
	}
	// The running execution keeps the definition it started with.
	fx, err := r.client.DescribeStateMachineForExecution(ctx, &sfn.DescribeStateMachineForExecutionInput{ExecutionArn: old.ExecutionArn})
	if err != nil || *fx.Definition != waitMachine || !fx.UpdateDate.Equal(epoch0) {
		t.Fatalf("old execution's machine: %v %v", fx, err)
	}
	nw, err := r.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &arn, Name: aws.String("new")})
	if err != nil {
		t.Fatal(err)
	}
	if d := r.waitDone(t, *nw.ExecutionArn); d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("new execution %s", d.Status)
	}

	list, err := r.client.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	if err != nil || len(list.StateMachines) != 1 || *list.StateMachines[0].StateMachineArn != arn {
		t.Fatalf("list: %+v %v", list, err)
	}

	if _, err := r.client.DeleteStateMachine(ctx, &sfn.DeleteStateMachineInput{StateMachineArn: &arn}); err != nil {
		t.Fatal(err)
	}
	_, err = r.client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: &arn})
	wantAPIError(t, err, "StateMachineDoesNotExist", "State Machine Does Not Exist: '"+arn+"'")
	// Its executions stay readable, and the running one runs on.
	if _, err := r.client.DescribeStateMachineForExecution(ctx, &sfn.DescribeStateMachineForExecutionInput{ExecutionArn: old.ExecutionArn}); err != nil {
		t.Fatal(err)
	}
	waitForTimer(t, clock)
	clock.Advance(time.Hour)
	if d := r.waitDone(t, *old.ExecutionArn); d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("old execution %s", d.Status)
	}
	if _, err := r.client.DeleteStateMachine(ctx, &sfn.DeleteStateMachineInput{StateMachineArn: &arn}); err != nil {
		t.Fatalf("deleting again: %v", err)
	}
}

func TestListStateMachinesPaging(t *testing.T) {
	r := newRig(t, "", Options{})
	ctx := context.Background()
	var want []string
	for i := range 5 {
		want = append(want, r.createMachine(t, fmt.Sprintf("sm%d", i), passMachine))
	}
	var got []string
	p := sfn.NewListStateMachinesPaginator(r.client, &sfn.ListStateMachinesInput{MaxResults: 2})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, sm := range out.StateMachines {
			got = append(got, *sm.StateMachineArn)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
}

func TestValidateStateMachineDefinition(t *testing.T) {
	r := newRig(t, "", Options{})
	ctx := context.Background()
	ok, err := r.client.ValidateStateMachineDefinition(ctx, &sfn.ValidateStateMachineDefinitionInput{Definition: aws.String(passMachine)})
	if err != nil || ok.Result != types.ValidateStateMachineDefinitionResultCodeOk || len(ok.Diagnostics) != 0 {
		t.Fatalf("valid definition: %+v %v", ok, err)
	}
	bad, err := r.client.ValidateStateMachineDefinition(ctx, &sfn.ValidateStateMachineDefinitionInput{
		Definition: aws.String(`{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Nowhere"}}}`)})
	if err != nil {
		t.Fatalf("an invalid definition is still a 200: %v", err)
	}
	if bad.Result != types.ValidateStateMachineDefinitionResultCodeFail || len(bad.Diagnostics) == 0 {
		t.Fatalf("invalid definition: %+v", bad)
	}
	d := bad.Diagnostics[0]
	if d.Severity != types.ValidateStateMachineDefinitionSeverityError || aws.ToString(d.Code) == "" || aws.ToString(d.Message) == "" {
		t.Fatalf("diagnostic %+v", d)
	}
	notJSON, err := r.client.ValidateStateMachineDefinition(ctx, &sfn.ValidateStateMachineDefinitionInput{Definition: aws.String(`{`), MaxResults: 1})
	if err != nil || notJSON.Result != types.ValidateStateMachineDefinitionResultCodeFail || len(notJSON.Diagnostics) != 1 ||
		aws.ToString(notJSON.Diagnostics[0].Code) != "INVALID_JSON_DESCRIPTION" {
		t.Fatalf("not JSON: %+v %v", notJSON, err)
	}
	// As AWS records: an empty definition is diagnosed, not refused, and the type counts.
	empty, err := r.client.ValidateStateMachineDefinition(ctx, &sfn.ValidateStateMachineDefinitionInput{Definition: aws.String("")})
	if err != nil || empty.Result != types.ValidateStateMachineDefinitionResultCodeFail || len(empty.Diagnostics) != 1 ||
		aws.ToString(empty.Diagnostics[0].Message) != "Definition must be a valid JSON object" || empty.Diagnostics[0].Location != nil {
		t.Fatalf("empty: %+v %v", empty, err)
	}
	wftt := `{"StartAt":"S","States":{"S":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken","Parameters":{"QueueUrl":"q","MessageBody":{"T.$":"$$.Task.Token"}},"End":true}}}`
	express, err := r.client.ValidateStateMachineDefinition(ctx, &sfn.ValidateStateMachineDefinitionInput{Definition: aws.String(wftt), Type: types.StateMachineTypeExpress})
	if err != nil || express.Result != types.ValidateStateMachineDefinitionResultCodeFail || len(express.Diagnostics) != 1 ||
		aws.ToString(express.Diagnostics[0].Location) != "/States/S/Resource" {
		t.Fatalf("express with .waitForTaskToken: %+v %v", express, err)
	}
	standard, err := r.client.ValidateStateMachineDefinition(ctx, &sfn.ValidateStateMachineDefinitionInput{Definition: aws.String(wftt)})
	if err != nil || standard.Result != types.ValidateStateMachineDefinitionResultCodeOk {
		t.Fatalf("standard with .waitForTaskToken: %+v %v", standard, err)
	}
}

func TestThrottling(t *testing.T) {
	clock := engine.NewFakeClock(epoch0)
	r := newRig(t, "", Options{Clock: clock, Throttle: true})
	ctx := context.Background()
	// DescribeStateMachineForExecution: bucket 200, refill 1/s.
	call := func() error {
		_, err := r.client.DescribeStateMachineForExecution(ctx, &sfn.DescribeStateMachineForExecutionInput{
			ExecutionArn: aws.String(executionArn(region, account, "m", "x"))})
		return err
	}
	for i := range 200 {
		if err := call(); err == nil || strings.Contains(err.Error(), "ThrottlingException") {
			t.Fatalf("call %d: %v, want ExecutionDoesNotExist", i, err)
		}
	}
	wantAPIError(t, call(), "ThrottlingException", "Rate exceeded")
	clock.Advance(time.Second)
	wantAPIError(t, call(), "ExecutionDoesNotExist", "")
	wantAPIError(t, call(), "ThrottlingException", "Rate exceeded")
}

func TestValidName(t *testing.T) {
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"deploy-web_prod-2026", true}, {"ünïcödé", true}, {"a.b", true}, {"a@b", true},
		{"a b", false}, {"a\tb", false}, {"a\u00a0b", false}, {"a\u3000b", false},
		{"a\x00b", false}, {"a\x7fb", false}, {"a\u0085b", false}, {"a\uffffb", false}, {"a\xffb", false},
	} {
		if got := validName(tt.name); got != tt.ok {
			t.Errorf("validName(%q) = %v, want %v", tt.name, got, tt.ok)
		}
	}
	for _, c := range "<>{}[]?*\"#%\\^|~`$&,;:/" {
		if name := "a" + string(c) + "b"; validName(name) {
			t.Errorf("validName(%q) = true", name)
		}
	}
}

// TestTaskCallbacks completes .waitForTaskToken tasks through
// SendTaskSuccess and SendTaskFailure, after a heartbeat.
func TestTaskCallbacks(t *testing.T) {
	const def = `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
		"Parameters":{"FunctionName":"notify","Payload":{"token.$":"$$.Task.Token"}},"HeartbeatSeconds":60,"End":true}}}`
	tokens := make(chan string, 2)
	fns := engine.NewFunctions()
	fns.Register("notify", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		var p struct{ Token string }
		if err := json.Unmarshal(in, &p); err != nil {
			return nil, err
		}
		tokens <- p.Token
		return json.RawMessage(`null`), nil
	})
	r := newRig(t, "", Options{Clock: engine.NewFakeClock(epoch0), Functions: fns})
	ctx := context.Background()
	smArn := r.createMachine(t, "cb", def)

	ok, err := r.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &smArn, Name: aws.String("ok")})
	if err != nil {
		t.Fatal(err)
	}
	tok := <-tokens
	if _, err := r.client.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: &tok}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: &tok, Output: aws.String(`{"approved":true}`)}); err != nil {
		t.Fatal(err)
	}
	if d := r.waitDone(t, *ok.ExecutionArn); d.Status != types.ExecutionStatusSucceeded || aws.ToString(d.Output) != `{"approved":true}` {
		t.Fatalf("after SendTaskSuccess: %s %s", d.Status, aws.ToString(d.Output))
	}
	_, err = r.client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: &tok, Output: aws.String(`{}`)})
	wantAPIError(t, err, "TaskDoesNotExist", "")

	bad, err := r.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &smArn, Name: aws.String("bad")})
	if err != nil {
		t.Fatal(err)
	}
	tok = <-tokens
	if _, err := r.client.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: &tok, Error: aws.String("Rejected"), Cause: aws.String("no")}); err != nil {
		t.Fatal(err)
	}
	if d := r.waitDone(t, *bad.ExecutionArn); d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != "Rejected" || aws.ToString(d.Cause) != "no" {
		t.Fatalf("after SendTaskFailure: %s %v %v", d.Status, d.Error, d.Cause)
	}
}
