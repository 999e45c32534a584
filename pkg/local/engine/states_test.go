package engine

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestPass(t *testing.T) {
	rg := newRig(t, true)
	res, evs := rg.run(`{"StartAt":"P","States":{"P":{"Type":"Pass","Result":{"x":1},"ResultPath":"$.r","End":true}}}`, `{"a":"b"}`)
	if res.Status != StatusSucceeded {
		t.Fatalf("status %s: %s %s", res.Status, res.Error, res.Cause)
	}
	jsonEqual(t, "output", string(res.Output), `{"a":"b","r":{"x":1}}`)
	wantShape(t, evs, `
		1<0 ExecutionStarted
		2<0 PassStateEntered P
		3<2 PassStateExited P
		4<3 ExecutionSucceeded
	`)
	jsonEqual(t, "entered input", evs[1].Details.Input, `{"a":"b"}`)
	jsonEqual(t, "exited output", evs[2].Details.Output, `{"a":"b","r":{"x":1}}`)
}

func TestProcessingOrder(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
		"InputPath":"$.in",
		"Parameters":{"FunctionName":"echo","Payload":{"v.$":"$.v","n.$":"States.Format('{}-{}', $.v, $$.Execution.Name)","st.$":"$$.State.Name"}},
		"ResultSelector":{"p.$":"$.Payload","code.$":"$.StatusCode"},
		"ResultPath":"$.out",
		"OutputPath":"$.out",
		"End":true}}}`
	rg := newRig(t, true)
	rg.fns.Register("echo", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil })
	res, evs := rg.run(def, `{"in":{"v":"hi"},"other":1}`)
	if res.Status != StatusSucceeded {
		t.Fatalf("status %s: %s %s\n%s", res.Status, res.Error, res.Cause, shape(evs))
	}
	jsonEqual(t, "output", string(res.Output), `{"p":{"v":"hi","n":"hi-x","st":"T"},"code":200}`)
	wantShape(t, evs, `
		1<0 ExecutionStarted
		2<0 TaskStateEntered T
		3<2 TaskScheduled
		4<3 TaskStarted
		5<4 TaskSucceeded
		6<5 TaskStateExited T
		7<6 ExecutionSucceeded
	`)
	sched := evs[2].Details
	if sched.ResourceType != "lambda" || sched.Resource != "invoke" || sched.Region != "us-east-1" {
		t.Errorf("TaskScheduled details %+v", sched)
	}
	jsonEqual(t, "parameters", sched.Parameters, `{"FunctionName":"echo","Payload":{"v":"hi","n":"hi-x","st":"T"}}`)
}

func TestLegacyLambdaARN(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:echo:live","End":true}}}`
	rg := newRig(t, true)
	rg.fns.Register("echo", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil })
	res, evs := rg.run(def, `{"k":[1,2]}`)
	jsonEqual(t, "output", string(res.Output), `{"k":[1,2]}`)
	wantShape(t, evs, `
		1<0 ExecutionStarted
		2<0 TaskStateEntered T
		3<2 LambdaFunctionScheduled
		4<3 LambdaFunctionStarted
		5<4 LambdaFunctionSucceeded
		6<5 TaskStateExited T
		7<6 ExecutionSucceeded
	`)
	if evs[2].Details.Resource != "arn:aws:lambda:us-east-1:123456789012:function:echo:live" {
		t.Errorf("resource %q", evs[2].Details.Resource)
	}
}

type deployError struct{ msg string }

func (e *deployError) Error() string { return e.msg }

func TestTaskFailureUncaught(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f"},"End":true}}}`
	rg := newRig(t, true)
	rg.fns.Register("f", func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return nil, &deployError{"boom"}
	})
	res, evs := rg.run(def, `{}`)
	if res.Status != StatusFailed || res.Error != "deployError" {
		t.Fatalf("result %+v", res)
	}
	jsonEqual(t, "cause", res.Cause, `{"errorMessage":"boom","errorType":"deployError","stackTrace":[]}`)
	wantShape(t, evs, `
		1<0 ExecutionStarted
		2<0 TaskStateEntered T
		3<2 TaskScheduled
		4<3 TaskStarted
		5<4 TaskFailed
		6<5 ExecutionFailed
	`)
	if d := evs[4].Details; d.Error != "deployError" || d.Cause != res.Cause || d.ResourceType != "lambda" {
		t.Errorf("TaskFailed details %+v", d)
	}
}

func TestRetryThenCatch(t *testing.T) {
	def := `{"StartAt":"T","States":{
		"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f",
			"Retry":[{"ErrorEquals":["HaltError"],"MaxAttempts":0},{"ErrorEquals":["States.ALL"],"IntervalSeconds":2,"MaxAttempts":3,"BackoffRate":3}],
			"Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.err","Next":"C"}],"End":true},
		"C":{"Type":"Pass","End":true}}}`
	rg := newRig(t, true)
	calls := 0
	rg.fns.Register("f", func(context.Context, json.RawMessage) (json.RawMessage, error) {
		calls++
		return nil, &TaskError{ErrorType: "DeployError", ErrorMessage: "nope"}
	})
	res, evs := rg.run(def, `{"a":1}`)
	if calls != 4 {
		t.Errorf("calls = %d, want 4", calls)
	}
	if got, want := rg.clock.Fired(), []time.Duration{2 * time.Second, 6 * time.Second, 18 * time.Second}; !equalDurations(got, want) {
		t.Errorf("waits %v, want %v", got, want)
	}
	jsonEqual(t, "output", string(res.Output), `{"a":1,"err":{"Error":"DeployError","Cause":"{\"errorMessage\":\"nope\",\"errorType\":\"DeployError\",\"stackTrace\":[]}"}}`)
	wantShape(t, evs, `
		1<0 ExecutionStarted
		2<0 TaskStateEntered T
		3<2 LambdaFunctionScheduled
		4<3 LambdaFunctionStarted
		5<4 LambdaFunctionFailed
		6<5 LambdaFunctionScheduled
		7<6 LambdaFunctionStarted
		8<7 LambdaFunctionFailed
		9<8 LambdaFunctionScheduled
		10<9 LambdaFunctionStarted
		11<10 LambdaFunctionFailed
		12<11 LambdaFunctionScheduled
		13<12 LambdaFunctionStarted
		14<13 LambdaFunctionFailed
		15<14 TaskStateExited T
		16<15 PassStateEntered C
		17<16 PassStateExited C
		18<17 ExecutionSucceeded
	`)
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRetryFirstMatchOnly(t *testing.T) {
	// HaltError matches the first retrier (MaxAttempts 0), so the States.ALL
	// retrier after it must not retry it.
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f",
		"Retry":[{"ErrorEquals":["HaltError"],"MaxAttempts":0},{"ErrorEquals":["States.ALL"],"MaxAttempts":5}],"End":true}}}`
	rg := newRig(t, true)
	calls := 0
	rg.fns.Register("f", func(context.Context, json.RawMessage) (json.RawMessage, error) {
		calls++
		return nil, &TaskError{ErrorType: "HaltError", ErrorMessage: "halted"}
	})
	res, _ := rg.run(def, `{}`)
	if calls != 1 || res.Error != "HaltError" {
		t.Errorf("calls %d, result %+v", calls, res)
	}
}

func TestRetryBackoffCapsAndJitter(t *testing.T) {
	tests := []struct {
		name    string
		retrier string
		rand    float64
		want    []time.Duration
	}{
		{"defaults", `{"ErrorEquals":["E"]}`, 0, []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second}},
		{"max delay", `{"ErrorEquals":["E"],"IntervalSeconds":3,"BackoffRate":4,"MaxAttempts":4,"MaxDelaySeconds":20}`, 0,
			[]time.Duration{3 * time.Second, 12 * time.Second, 20 * time.Second, 20 * time.Second}},
		{"full jitter", `{"ErrorEquals":["E"],"IntervalSeconds":10,"MaxAttempts":2,"JitterStrategy":"FULL"}`, 0.25,
			[]time.Duration{2500 * time.Millisecond, 5 * time.Second}},
		{"fractional backoff", `{"ErrorEquals":["E"],"IntervalSeconds":2,"BackoffRate":1.5,"MaxAttempts":3}`, 0,
			[]time.Duration{2 * time.Second, 3 * time.Second, 4500 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rg := newRig(t, true)
			rg.rand = func() float64 { return tt.rand }
			rg.fns.Register("f", func(context.Context, json.RawMessage) (json.RawMessage, error) {
				return nil, &TaskError{ErrorType: "E", ErrorMessage: "x"}
			})
			res, _ := rg.run(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","Retry":[`+tt.retrier+`],"End":true}}}`, `{}`)
			if res.Error != "E" {
				t.Fatalf("result %+v", res)
			}
			if got := rg.clock.Fired(); !equalDurations(got, tt.want) {
				t.Errorf("waits %v, want %v", got, tt.want)
			}
		})
	}
}

func TestErrorMatching(t *testing.T) {
	tests := []struct {
		names []string
		f     failure
		want  bool
	}{
		{[]string{"States.ALL"}, failure{name: "X"}, true},
		{[]string{"States.ALL"}, failure{name: "States.Runtime", terminal: true}, false},
		{[]string{"States.Runtime"}, failure{name: "States.Runtime", terminal: true}, false},
		{[]string{"States.TaskFailed"}, failure{name: "Lambda.Unknown"}, true},
		{[]string{"States.TaskFailed"}, failure{name: "States.Timeout"}, false},
		{[]string{"States.Timeout"}, failure{name: "States.Timeout"}, true},
		{[]string{"States.HeartbeatTimeout"}, failure{name: "States.Timeout", heartbeat: true}, true},
		{[]string{"States.HeartbeatTimeout"}, failure{name: "States.Timeout"}, false},
		{[]string{"A", "B"}, failure{name: "B"}, true},
		{[]string{"A"}, failure{name: "a"}, false},
	}
	for _, tt := range tests {
		if got := matches(tt.names, &tt.f); got != tt.want {
			t.Errorf("matches(%v, %+v) = %v", tt.names, tt.f, got)
		}
	}
}

func TestChoiceAndWait(t *testing.T) {
	def := `{"StartAt":"C","States":{
		"C":{"Type":"Choice","Choices":[
			{"Variable":"$.n","NumericGreaterThan":10,"Next":"Big"},
			{"And":[{"Variable":"$.s","StringMatches":"dep*-\\*x"},{"Not":{"Variable":"$.flag","BooleanEquals":true}}],"Next":"W"}],
			"Default":"Small"},
		"W":{"Type":"Wait","SecondsPath":"$.secs","Next":"Done"},
		"Big":{"Type":"Succeed"},
		"Small":{"Type":"Fail","Error":"TooSmall","Cause":"n is small"},
		"Done":{"Type":"Succeed","OutputPath":"$.s"}}}`
	tests := []struct {
		input, status, output, errName string
		waits                          []time.Duration
	}{
		{`{"n":11}`, StatusSucceeded, `{"n":11}`, "", nil},
		{`{"n":1,"s":"deploy-*x","flag":false,"secs":7}`, StatusSucceeded, `"deploy-*x"`, "", []time.Duration{7 * time.Second}},
		{`{"n":1,"s":"deploy-yx","flag":false,"secs":7}`, StatusFailed, "", "TooSmall", nil},
		{`{"n":"11","s":"deploy-*x","flag":true}`, StatusFailed, "", "TooSmall", nil},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			rg := newRig(t, true)
			res, evs := rg.run(def, tt.input)
			if res.Status != tt.status || res.Error != tt.errName {
				t.Fatalf("result %+v\n%s", res, shape(evs))
			}
			if tt.output != "" {
				jsonEqual(t, "output", string(res.Output), tt.output)
			}
			if got := rg.clock.Fired(); !equalDurations(got, tt.waits) {
				t.Errorf("waits %v, want %v", got, tt.waits)
			}
		})
	}
}

func TestFailStateHistory(t *testing.T) {
	rg := newRig(t, true)
	res, evs := rg.run(`{"StartAt":"F","States":{"F":{"Type":"Fail","ErrorPath":"$.e","CausePath":"States.Format('bad {}', $.c)"}}}`, `{"e":"MyError","c":"thing"}`)
	if res.Error != "MyError" || res.Cause != "bad thing" {
		t.Errorf("result %+v", res)
	}
	wantShape(t, evs, `
		1<0 ExecutionStarted
		2<0 FailStateEntered F
		3<2 ExecutionFailed
	`)
	rg2 := newRig(t, true)
	_, evs = rg2.run(`{"StartAt":"F","States":{"F":{"Type":"Fail"}}}`, `{}`)
	b, _ := json.Marshal(last(evs))
	if want := `"executionFailedEventDetails":{}`; !contains(string(b), want) {
		t.Errorf("%s lacks %s", b, want)
	}
}

func contains(s, sub string) bool { return len(s) >= len(sub) && (s == sub || indexOf(s, sub) >= 0) }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestRuntimeErrors(t *testing.T) {
	tests := []struct {
		name, def, input, cause string
	}{
		{"InputPath", `{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":"$.X","End":true}}}`, `{}`,
			"An error occurred while executing the state 'P' (entered at the event id #2). Invalid path '$.X' : No results for path: $['X']"},
		{"negative SecondsPath", `{"StartAt":"W","States":{"W":{"Type":"Wait","SecondsPath":"$.s","End":true}}}`, `{"s":-1}`, ""},
		{"bad timestamp", `{"StartAt":"W","States":{"W":{"Type":"Wait","TimestampPath":"$.s","End":true}}}`, `{"s":"2020-01-01 00:00"}`, ""},
		{"Map over a non-array", `{"StartAt":"M","States":{"M":{"Type":"Map","ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}}`, `{"a":1}`,
			`An error occurred while executing the state 'M' (entered at the event id #2). Map state input must be an array but was: {"a":1}`},
		// The causes below are AWS's as recorded (the shared AWS recordings 15, 16, 18, 19 and
		// 22, and LocalStack's test_wait), or as LocalStack's interpreter words them where no
		// recording exists (the tolerated-failure paths, a negative MaxConcurrencyPath).
		{"SecondsPath not a long", `{"StartAt":"W","States":{"W":{"Type":"Wait","SecondsPath":"$.s","End":true}}}`, `{"s":1.5}`,
			"An error occurred while executing the state 'W' (entered at the event id #2). The SecondsPath parameter cannot be parsed as a long value: $.s == 1.5"},
		{"SecondsPath missing", `{"StartAt":"W","States":{"W":{"Type":"Wait","SecondsPath":"$.s","End":true}}}`, `{}`,
			"An error occurred while executing the state 'W' (entered at the event id #2). The SecondsPath parameter does not reference an input value: $.s"},
		{"TimestampPath without a zone", `{"StartAt":"W","States":{"W":{"Type":"Wait","TimestampPath":"$.t","End":true}}}`, `{"t":"2016-12-05T21:29:29"}`,
			"An error occurred while executing the state 'W' (entered at the event id #2). The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: $.t == 2016-12-05T21:29:29"},
		{"ErrorPath missing", `{"StartAt":"F","States":{"F":{"Type":"Fail","ErrorPath":"$.e","Cause":"c"}}}`, `{"x":1}`,
			`An error occurred while executing the state 'F' (entered at the event id #2). The JSONPath '$.e' specified for the field 'ErrorPath' could not be found in the input '{"x":1}'`},
		{"CausePath missing", `{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"E","CausePath":"$.c"}}}`, `{"x":1}`,
			`An error occurred while executing the state 'F' (entered at the event id #2). The JSONPath '$.c' specified for the field 'CausePath' could not be found in the input '{"x":1}'`},
		{"MaxConcurrencyPath not an integer", mapWith(`"MaxConcurrencyPath":"$.m"`), `{"m":{},"items":[1]}`,
			`An error occurred while executing the state 'M' (entered at the event id #2). The MaxConcurrencyPath field refers to value "{}" which is not a valid integer: $.m`},
		{"MaxConcurrencyPath negative", mapWith(`"MaxConcurrencyPath":"$.m"`), `{"m":-1,"items":[1]}`,
			"An error occurred while executing the state 'M' (entered at the event id #2). Expected non-negative integer for MaxConcurrency, got '-1' instead."},
		{"ToleratedFailureCountPath a string", mapWith(`"ToleratedFailureCountPath":"$.c"`), `{"c":"x","items":[1]}`,
			`An error occurred while executing the state 'M' (entered at the event id #2). The ToleratedFailureCountPath field refers to value "x" which is not a valid integer: $.c`},
		{"ToleratedFailureCountPath negative", mapWith(`"ToleratedFailureCountPath":"$.c"`), `{"c":-2,"items":[1]}`,
			"An error occurred while executing the state 'M' (entered at the event id #2). ToleratedFailureCount cannot be negative."},
		{"ToleratedFailurePercentagePath not a number", mapWith(`"ToleratedFailurePercentagePath":"$.p"`), `{"p":[1],"items":[1]}`,
			`An error occurred while executing the state 'M' (entered at the event id #2). The ToleratedFailurePercentagePath field refers to value "[1]" which is not a valid float: $.p`},
		{"ToleratedFailurePercentagePath over 100", mapWith(`"ToleratedFailurePercentagePath":"$.p"`), `{"p":101,"items":[1]}`,
			"An error occurred while executing the state 'M' (entered at the event id #2). ToleratedFailurePercentage must be between 0 and 100."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rg := newRig(t, true)
			res, evs := rg.run(tt.def, tt.input)
			if res.Error != "States.Runtime" {
				t.Fatalf("result %+v\n%s", res, shape(evs))
			}
			if tt.cause != "" && res.Cause != tt.cause {
				t.Errorf("cause %q\nwant  %q", res.Cause, tt.cause)
			}
			if len(evs) != 3 || evs[2].PreviousEventID != 2 {
				t.Errorf("history:\n%s", shape(evs))
			}
		})
	}
}

// mapWith is a Map over $.items with the given extra fields.
func mapWith(fields string) string {
	return `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items",` + fields +
		`,"ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}}`
}

func TestRuntimeErrorAfterTaskSuccessIsNotCaught(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","OutputPath":"$.missing",
		"Catch":[{"ErrorEquals":["States.ALL"],"Next":"C"}],"End":true},"C":{"Type":"Succeed"}}}`
	rg := newRig(t, true)
	rg.fns.Register("f", func(context.Context, json.RawMessage) (json.RawMessage, error) { return json.RawMessage(`{}`), nil })
	res, evs := rg.run(def, `{}`)
	if res.Error != "States.Runtime" {
		t.Fatalf("result %+v", res)
	}
	wantShape(t, evs, `
		1<0 ExecutionStarted
		2<0 TaskStateEntered T
		3<2 LambdaFunctionScheduled
		4<3 LambdaFunctionStarted
		5<4 LambdaFunctionSucceeded
		6<5 ExecutionFailed
	`)
}

func TestUnknownFunction(t *testing.T) {
	rg := newRig(t, true)
	res, _ := rg.run(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"arn:aws:lambda:us-east-1:123456789012:function:ghost"},"End":true}}}`, `{}`)
	if res.Error != "Lambda.ResourceNotFoundException" || !contains(res.Cause, "ghost") || !contains(res.Cause, "not registered with the local backend") {
		t.Errorf("result %+v", res)
	}
}

func TestUnsupportedResource(t *testing.T) {
	rg := newRig(t, true)
	res, evs := rg.run(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::aws-sdk:s3:listBuckets","End":true}}}`, `{}`)
	if res.Error != "States.Runtime" || !contains(res.Cause, "not supported by the local backend") {
		t.Errorf("result %+v\n%s", res, shape(evs))
	}
}

func TestTaskTimeout(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:slow","TimeoutSeconds":5,"End":true}}}`
	rg := newRig(t, false)
	cancelled := make(chan error, 1)
	rg.fns.Register("slow", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		<-ctx.Done()
		cancelled <- context.Cause(ctx)
		return nil, ctx.Err()
	})
	eng := rg.start()
	x := newExecution(mustParse(t, def), "x", `{}`)
	if err := eng.Start(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rg.clock.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	rg.clock.Advance(5 * time.Second)
	res, evs := rg.wait(x.Arn)
	if res.Error != "States.Timeout" {
		t.Errorf("result %+v", res)
	}
	if err := <-cancelled; !errors.Is(err, errTaskTimedOut) {
		t.Errorf("task context cause %v", err)
	}
	wantShape(t, evs, `
		1<0 ExecutionStarted
		2<0 TaskStateEntered T
		3<2 LambdaFunctionScheduled
		4<3 LambdaFunctionStarted
		5<4 LambdaFunctionTimedOut
		6<5 ExecutionFailed
	`)
	if got := *evs[2].Details.TimeoutInSeconds; got != 5 {
		t.Errorf("timeoutInSeconds %d", got)
	}
}
