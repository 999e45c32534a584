package engine

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odin-deploy/odin/pkg/procgroup"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestEventJSONGolden(t *testing.T) {
	ts := time.Date(2024, 11, 25, 15, 55, 14, 701_000_000, time.UTC)
	ten := int64(10)
	idx := int64(1)
	events := []Event{
		{ID: 1, Timestamp: ts, Type: "ExecutionStarted", Details: &Details{Input: `{"a":1}`, RoleArn: "arn:aws:iam::123456789012:role/r"}},
		{ID: 2, Timestamp: ts, Type: "TaskStateEntered", Details: &Details{Name: "T", Input: `{"a":1}`}},
		{ID: 3, PreviousEventID: 2, Timestamp: ts, Type: "TaskScheduled", Details: &Details{ResourceType: "lambda", Resource: "invoke", Region: "us-east-1", Parameters: `{"FunctionName":"f"}`, TimeoutInSeconds: &ten}},
		{ID: 4, PreviousEventID: 3, Timestamp: ts, Type: "LambdaFunctionStarted"},
		{ID: 5, PreviousEventID: 4, Timestamp: ts, Type: "TaskFailed", Details: &Details{ResourceType: "lambda", Resource: "invoke", Error: "E", Cause: `{"errorMessage":"m"}`}},
		{ID: 6, PreviousEventID: 5, Timestamp: ts, Type: "TaskStateExited", Details: &Details{Name: "T", Output: `{}`}},
		{ID: 7, PreviousEventID: 6, Timestamp: ts, Type: "MapIterationStarted", Details: &Details{Name: "M", Index: &idx}},
		{ID: 8, PreviousEventID: 7, Timestamp: ts, Type: "ParallelStateStarted"},
		{ID: 9, PreviousEventID: 0, Timestamp: ts, Type: "ExecutionAborted", Details: &Details{}},
		{ID: 10, PreviousEventID: 9, Timestamp: ts, Type: "ExecutionSucceeded", Details: &Details{Output: `"done"`}},
	}
	var b strings.Builder
	for _, ev := range events {
		line, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
		var back Event
		if err := json.Unmarshal(line, &back); err != nil {
			t.Fatal(err)
		}
		again, _ := json.Marshal(back)
		if string(again) != string(line) {
			t.Errorf("round trip:\n%s\n%s", line, again)
		}
		if !back.Timestamp.Equal(ev.Timestamp) {
			t.Errorf("timestamp %v, want %v", back.Timestamp, ev.Timestamp)
		}
	}
	golden := filepath.Join("testdata", "events.golden.jsonl")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("wire form:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestEventCap(t *testing.T) {
	// A loop that never ends: the history cap fails it.
	def := `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},"B":{"Type":"Pass","Next":"A"}}}`
	rg := newRig(t, true)
	rg.max = 50
	res, evs := rg.run(def, `{}`)
	if res.Status != StatusFailed || res.Error != "States.Runtime" || res.Cause != "The execution reached the maximum number of history events (50)." {
		t.Fatalf("result %+v", res)
	}
	l := last(evs)
	if len(evs) != 50 || l.ID != 50 || l.PreviousEventID != 49 || l.Type != "ExecutionFailed" {
		t.Errorf("last event %+v of %d", l, len(evs))
	}
}

func TestExecutionTimeout(t *testing.T) {
	def := `{"TimeoutSeconds":30,"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":100,"End":true}}}`
	rg := newRig(t, true)
	res, evs := rg.run(def, `{}`)
	if res.Status != StatusTimedOut || res.Error != "States.Timeout" {
		t.Fatalf("result %+v", res)
	}
	wantShape(t, evs, `
		1<0 ExecutionStarted
		2<0 WaitStateEntered W
		3<2 ExecutionTimedOut
	`)
	if got := res.StopDate.Sub(epoch); got != 30*time.Second {
		t.Errorf("stopped after %v", got)
	}
}

func TestStop(t *testing.T) {
	def := `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":100,"End":true}}}`
	rg := newRig(t, false)
	eng := rg.start()
	x := newExecution(mustParse(t, def), "x", `{}`)
	if err := eng.Start(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	waitForEvents(t, rg, x.Arn, 2)
	if err := eng.Stop(context.Background(), x.Arn, "", ""); err != nil {
		t.Fatal(err)
	}
	res, evs := rg.wait(x.Arn)
	if res.Status != StatusAborted {
		t.Errorf("result %+v", res)
	}
	wantShape(t, evs, `
		1<0 ExecutionStarted
		2<0 WaitStateEntered W
		3<0 ExecutionAborted
	`)
	if err := eng.Stop(context.Background(), x.Arn, "", ""); !errors.Is(err, ErrExecutionNotFound) {
		t.Errorf("second stop: %v", err)
	}
}

func TestNoEventsAfterClose(t *testing.T) {
	def := `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":1,"End":true}}}`
	rg := newRig(t, false)
	eng := rg.start()
	x := newExecution(mustParse(t, def), "x", `{}`)
	if err := eng.Start(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	waitForEvents(t, rg, x.Arn, 2)
	eng.Close()
	rg.clock.Advance(time.Hour)
	time.Sleep(10 * time.Millisecond)
	if n := len(rg.sink.history(x.Arn)); n != 2 {
		t.Errorf("%d events after Close", n)
	}
	if err := eng.Start(context.Background(), newExecution(mustParse(t, def), "y", `{}`)); !errors.Is(err, ErrClosed) {
		t.Errorf("start after close: %v", err)
	}
}

func TestCallback(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
		"Parameters":{"FunctionName":"notify","Payload":{"token.$":"$$.Task.Token"}},"HeartbeatSeconds":60,"TimeoutSeconds":600,
		"Catch":[{"ErrorEquals":["States.HeartbeatTimeout"],"Next":"HB"}],"End":true},"HB":{"Type":"Pass","End":true}}}`
	tests := []struct {
		name   string
		answer func(eng *Engine, clock *FakeClock, token string)
		status string
		errN   string
		output string
	}{
		{"success", func(eng *Engine, _ *FakeClock, tok string) {
			if err := eng.SendTaskHeartbeat(context.Background(), tok); err != nil {
				t.Error(err)
			}
			if err := eng.SendTaskSuccess(context.Background(), tok, `{"approved":true}`); err != nil {
				t.Error(err)
			}
		}, StatusSucceeded, "", `{"approved":true}`},
		{"failure", func(eng *Engine, _ *FakeClock, tok string) {
			if err := eng.SendTaskFailure(context.Background(), tok, "Rejected", "no"); err != nil {
				t.Error(err)
			}
		}, StatusFailed, "Rejected", ""},
		{"heartbeat timeout", func(eng *Engine, clock *FakeClock, tok string) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = clock.BlockUntil(ctx, 2) // the task timeout and the heartbeat timer
			clock.Advance(60 * time.Second)
		}, StatusSucceeded, "", `{"Error":"States.Timeout","Cause":""}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rg := newRig(t, false)
			tokens := make(chan string, 1)
			rg.fns.Register("notify", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
				var p struct{ Token string }
				_ = json.Unmarshal(in, &p)
				tokens <- p.Token
				return json.RawMessage(`null`), nil
			})
			eng := rg.start()
			x := newExecution(mustParse(t, def), "x", `{}`)
			if err := eng.Start(context.Background(), x); err != nil {
				t.Fatal(err)
			}
			tok := <-tokens
			waitForEvents(t, rg, x.Arn, 5) // ... TaskSubmitted
			tt.answer(eng, rg.clock, tok)
			res, evs := rg.wait(x.Arn)
			if res.Status != tt.status || res.Error != tt.errN {
				t.Fatalf("result %+v\n%s", res, shape(evs))
			}
			if tt.output != "" {
				jsonEqual(t, "output", string(res.Output), tt.output)
			}
			if evs[4].Type != "TaskSubmitted" {
				t.Errorf("history:\n%s", shape(evs))
			}
			if err := eng.SendTaskSuccess(context.Background(), tok, `{}`); !errors.Is(err, ErrTaskDoesNotExist) {
				t.Errorf("late SendTaskSuccess: %v", err)
			}
		})
	}
}

func TestCommandFunctions(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:cmd","TimeoutSeconds":3,"End":true}}}`
	tests := []struct {
		name, script, status, errName, output, causeHas string
	}{
		{"echo", `cat`, StatusSucceeded, "", `{"in":1}`, ""},
		{"typed error", `echo '{"errorType":"BadReleaseError","errorMessage":"release is bad"}'; exit 3`, StatusFailed, "BadReleaseError", "", "release is bad"},
		{"crash", `echo oops >&2; exit 1`, StatusFailed, "Lambda.Unknown", "", "oops"},
		{"not JSON", `echo hello`, StatusFailed, "Lambda.Unknown", "", "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rg := newRig(t, true)
			rg.fns.RegisterCommand("cmd", []string{sh, "-c", tt.script}, nil, t.TempDir())
			res, _ := rg.run(def, `{"in":1}`)
			if res.Status != tt.status || res.Error != tt.errName || !strings.Contains(res.Cause, tt.causeHas) {
				t.Fatalf("result %+v", res)
			}
			if tt.output != "" {
				jsonEqual(t, "output", string(res.Output), tt.output)
			}
		})
	}
}

func TestCommandTimeoutKillsProcessGroup(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	// The command starts a grandchild that would outlive a plain kill.
	script := `sleep 300 & echo $! > ` + pidFile + `; wait`
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:cmd","TimeoutSeconds":3,"End":true}}}`
	rg := newRig(t, false)
	rg.fns.RegisterCommand("cmd", []string{sh, "-c", script}, nil, dir)
	eng := rg.start()
	x := newExecution(mustParse(t, def), "x", `{}`)
	if err := eng.Start(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(pidFile); err == nil && strings.TrimSpace(string(b)) != "" {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	rg.clock.Advance(3 * time.Second)
	res, _ := rg.wait(x.Arn)
	if res.Error != "States.Timeout" {
		t.Fatalf("result %+v", res)
	}
	b, _ := os.ReadFile(pidFile)
	pid := strings.TrimSpace(string(b))
	for range 200 {
		if _, err := os.Stat("/proc/" + pid); os.IsNotExist(err) {
			return
		}
		if st, err := os.ReadFile("/proc/" + pid + "/stat"); err == nil && strings.Contains(string(st), ") Z ") {
			return // a zombie waiting for its reaper: dead
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("grandchild %s still running after the timeout", pid)
}

// TestCommandIsRecordedWhileItRuns: with RecordCommands, a running command
// task has a private record naming its process group, found by the ODIN_TASK
// in its environment and labelled with its execution and state, for a server
// started after this one is killed; the record goes when the command ends.
func TestCommandIsRecordedWhileItRuns(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	records := filepath.Join(dir, "tasks")
	script := `cat >/dev/null; echo "$ODIN_TASK" >got; while [ ! -f go ]; do sleep 0.05; done; echo '{"done":true}'`
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:cmd","End":true}}}`
	rg := newRig(t, false)
	rg.fns.RegisterCommand("cmd", []string{sh, "-c", script}, nil, dir)
	rg.fns.RecordCommands(records, nil)
	eng := rg.start()
	x := newExecution(mustParse(t, def), "x", `{}`)
	if err := eng.Start(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	var token string
	for deadline := time.Now().Add(time.Minute); token == ""; time.Sleep(5 * time.Millisecond) {
		if b, err := os.ReadFile(filepath.Join(dir, "got")); err == nil && strings.HasSuffix(string(b), "\n") {
			token = strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatal("the command never ran")
		}
	}
	if token == "" {
		t.Fatal("the command's environment has no ODIN_TASK")
	}
	// The command may run before its record is written.
	path := filepath.Join(records, token+".json")
	fi, err := os.Stat(path)
	for deadline := time.Now().Add(time.Minute); err != nil && time.Now().Before(deadline); fi, err = os.Stat(path) {
		time.Sleep(5 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("no record of the running command: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("record mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	var rec procgroup.Record
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	want := procgroup.Record{PGID: rec.PGID, Env: []string{"ODIN_TASK=" + token},
		Labels: map[string]string{"function": "cmd", "execution": x.Arn, "state": "T"}}
	if rec.PGID <= 1 || !reflect.DeepEqual(rec, want) {
		t.Errorf("record %+v, want %+v", rec, want)
	}
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if res, _ := rg.wait(x.Arn); res.Status != StatusSucceeded {
		t.Fatalf("result %+v", res)
	}
	if entries, _ := os.ReadDir(records); len(entries) != 0 {
		t.Errorf("records left after the command ended: %v", entries)
	}
}

func TestDataLimit(t *testing.T) {
	big := strings.Repeat("x", MaxPayloadBytes)
	t.Run("Pass output is terminal", func(t *testing.T) {
		rg := newRig(t, true)
		res, evs := rg.run(`{"StartAt":"P","States":{"P":{"Type":"Pass","Result":"`+big+`","End":true}}}`, `{}`)
		if res.Error != "States.DataLimitExceeded" {
			t.Fatalf("result %+v", res.Error)
		}
		wantShape(t, evs, `
			1<0 ExecutionStarted
			2<0 PassStateEntered P
			3<2 ExecutionFailed
		`)
	})
	t.Run("task result is catchable", func(t *testing.T) {
		rg := newRig(t, true)
		calls := 0
		rg.fns.Register("f", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			calls++
			return json.Marshal(big)
		})
		res, _ := rg.run(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f",
			"Retry":[{"ErrorEquals":["States.ALL"]}],
			"Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.e","Next":"C"}],"End":true},"C":{"Type":"Succeed"}}}`, `{}`)
		if res.Status != StatusSucceeded || !strings.Contains(string(res.Output), "States.DataLimitExceeded") {
			t.Fatalf("result %+v", res)
		}
		if calls != 1 {
			t.Errorf("States.ALL retried a data limit failure: %d calls", calls)
		}
	})
}

func TestIntrinsicsInParameters(t *testing.T) {
	def := `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{
		"fmt.$":"States.Format('{} of {}', $.a, $.b)",
		"arr.$":"States.Array($.a, $.b)",
		"len.$":"States.ArrayLength($.list)",
		"has.$":"States.ArrayContains($.list, 2)",
		"sum.$":"States.MathAdd($.a, 10)",
		"json.$":"States.JsonToString($.obj)",
		"obj.$":"States.StringToJson($.str)",
		"b64.$":"States.Base64Encode('hi')",
		"hash.$":"States.Hash('abc', 'SHA-256')",
		"part.$":"States.ArrayPartition($.list, 2)",
		"split.$":"States.StringSplit('a,b', ',')",
		"merged.$":"States.JsonMerge($.obj, $.obj2, false)",
		"ctx.$":"$$.Execution.Name"},"End":true}}}`
	rg := newRig(t, true)
	res, evs := rg.run(def, `{"a":1,"b":2,"list":[1,2,3],"obj":{"k":"v"},"obj2":{"z":1},"str":"{\"q\":[true]}"}`)
	if res.Status != StatusSucceeded {
		t.Fatalf("result %+v\n%s", res, shape(evs))
	}
	jsonEqual(t, "output", string(res.Output), `{
		"fmt":"1 of 2","arr":[1,2],"len":3,"has":true,"sum":11,"json":"{\"k\":\"v\"}","obj":{"q":[true]},
		"b64":"aGk=","hash":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"part":[[1,2],[3]],"split":["a","b"],"merged":{"k":"v","z":1},"ctx":"x"}`)

	rg2 := newRig(t, true)
	res, _ = rg2.run(`{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"x.$":"States.ArrayGetItem($.list, 9)"},"End":true}}}`, `{"list":[1]}`)
	if res.Error != "States.IntrinsicFailure" && res.Error != "States.Runtime" {
		t.Errorf("intrinsic failure: %+v", res)
	}
}

func TestChoiceOperators(t *testing.T) {
	tests := []struct {
		rule  string
		input string
		want  bool
	}{
		{`"Variable":"$.v","StringEquals":"a"`, `{"v":"a"}`, true},
		{`"Variable":"$.v","StringEquals":"a"`, `{"v":1}`, false},
		{`"Variable":"$.v","StringLessThan":"b"`, `{"v":"a"}`, true},
		{`"Variable":"$.v","StringGreaterThanEquals":"b"`, `{"v":"a"}`, false},
		{`"Variable":"$.v","StringEqualsPath":"$.w"`, `{"v":"a","w":"a"}`, true},
		{`"Variable":"$.v","StringMatches":"log-*.txt"`, `{"v":"log-2024.txt"}`, true},
		{`"Variable":"$.v","StringMatches":"a\\*b"`, `{"v":"a*b"}`, true},
		{`"Variable":"$.v","StringMatches":"a\\*b"`, `{"v":"axb"}`, false},
		{`"Variable":"$.v","StringMatches":"*"`, `{"v":""}`, true},
		{`"Variable":"$.v","NumericEquals":1`, `{"v":1.0}`, true},
		{`"Variable":"$.v","NumericLessThan":1.5`, `{"v":1}`, true},
		{`"Variable":"$.v","NumericGreaterThanPath":"$.w"`, `{"v":3,"w":2}`, true},
		{`"Variable":"$.v","NumericLessThanEquals":2`, `{"v":"1"}`, false},
		{`"Variable":"$.v","NumericEquals":9007199254740993`, `{"v":9007199254740992}`, false},
		{`"Variable":"$.v","BooleanEquals":false`, `{"v":false}`, true},
		{`"Variable":"$.v","BooleanEqualsPath":"$.w"`, `{"v":true,"w":true}`, true},
		{`"Variable":"$.v","TimestampEquals":"2024-01-01T00:00:00Z"`, `{"v":"2024-01-01T01:00:00+01:00"}`, true},
		{`"Variable":"$.v","TimestampLessThan":"2024-01-01T00:00:00Z"`, `{"v":"2023-12-31T23:59:59.5Z"}`, true},
		{`"Variable":"$.v","TimestampGreaterThanPath":"$.w"`, `{"v":"2024-01-02T00:00:00Z","w":"2024-01-01T00:00:00Z"}`, true},
		{`"Variable":"$.v","TimestampLessThanEquals":"2024-01-01T00:00:00Z"`, `{"v":"yesterday"}`, false},
		{`"Variable":"$.v","IsNull":true`, `{"v":null}`, true},
		{`"Variable":"$.v","IsPresent":false`, `{}`, true},
		{`"Variable":"$.v","IsPresent":true`, `{"v":null}`, true},
		{`"Variable":"$.v","IsNumeric":true`, `{"v":"1"}`, false},
		{`"Variable":"$.v","IsString":true`, `{"v":"1"}`, true},
		{`"Variable":"$.v","IsBoolean":false`, `{"v":1}`, true},
		{`"Variable":"$.v","IsTimestamp":true`, `{"v":"2024-01-01T00:00:00Z"}`, true},
		{`"And":[{"Variable":"$.v","IsPresent":true},{"Variable":"$.v","NumericGreaterThan":0}]`, `{"v":1}`, true},
		{`"Or":[{"Variable":"$.v","IsString":true},{"Variable":"$.v","NumericGreaterThan":5}]`, `{"v":1}`, false},
		{`"Not":{"Variable":"$.v","StringEquals":"a"}`, `{"v":"b"}`, true},
		{`"Variable":"$$.Execution.Name","StringEquals":"x"`, `{}`, true},
	}
	for _, tt := range tests {
		def := `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{` + tt.rule + `,"Next":"Yes"}],"Default":"No"},
			"Yes":{"Type":"Pass","Result":true,"End":true},"No":{"Type":"Pass","Result":false,"End":true}}}`
		rg := newRig(t, true)
		res, evs := rg.run(def, tt.input)
		if res.Status != StatusSucceeded {
			t.Errorf("%s on %s: %+v\n%s", tt.rule, tt.input, res, shape(evs))
			continue
		}
		if got := string(res.Output) == "true"; got != tt.want {
			t.Errorf("%s on %s = %v, want %v", tt.rule, tt.input, got, tt.want)
		}
	}
}

func TestChoiceMissingVariableIsRuntimeError(t *testing.T) {
	rg := newRig(t, true)
	res, _ := rg.run(`{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.nope","StringEquals":"a","Next":"D"}],"Default":"D"},"D":{"Type":"Succeed"}}}`, `{}`)
	if res.Error != "States.Runtime" {
		t.Errorf("result %+v", res)
	}
	rg2 := newRig(t, true)
	res, _ = rg2.run(`{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.v","StringEquals":"a","Next":"D"}]},"D":{"Type":"Succeed"}}}`, `{"v":"b"}`)
	if res.Error != "States.NoChoiceMatched" {
		t.Errorf("result %+v", res)
	}
}

func TestStartRejectsBadInput(t *testing.T) {
	eng := New(Options{Sink: newMemorySink(), Clock: NewFakeClock(epoch)})
	defer eng.Close()
	sm := mustParse(t, `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`)
	for _, in := range []string{`{"a":`, `{} {}`, `"` + strings.Repeat("x", MaxPayloadBytes) + `"`} {
		if err := eng.Start(context.Background(), newExecution(sm, "x", in)); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("input %.20q: %v", in, err)
		}
	}
}

func TestDynamicFieldsFromPaths(t *testing.T) {
	t.Run("TimeoutSecondsPath", func(t *testing.T) {
		def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"slow"},"TimeoutSecondsPath":"$.timeout","End":true}}}`
		rg := newRig(t, false)
		rg.fns.Register("slow", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		})
		eng := rg.start()
		x := newExecution(mustParse(t, def), "x", `{"timeout":42}`)
		if err := eng.Start(context.Background(), x); err != nil {
			t.Fatal(err)
		}
		waitForEvents(t, rg, x.Arn, 4)
		rg.clock.Advance(41 * time.Second)
		if n := len(rg.sink.history(x.Arn)); n != 4 {
			t.Fatalf("timed out early: %d events", n)
		}
		rg.clock.Advance(time.Second)
		res, evs := rg.wait(x.Arn)
		if res.Error != "States.Timeout" || evs[4].Type != "TaskTimedOut" {
			t.Errorf("result %+v\n%s", res, shape(evs))
		}
	})
	t.Run("TimeoutSecondsPath not a number", func(t *testing.T) {
		rg := newRig(t, true)
		res, _ := rg.run(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f"},"TimeoutSecondsPath":"$.t","End":true}}}`, `{"t":"soon"}`)
		if res.Error != "States.Runtime" {
			t.Errorf("result %+v", res)
		}
	})
	t.Run("MaxConcurrencyPath and ToleratedFailurePercentage", func(t *testing.T) {
		def := `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.xs","MaxConcurrencyPath":"$.mc","ToleratedFailurePercentage":50,
			"ItemProcessor":{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$","BooleanEquals":false,"Next":"F"}],"Default":"P"},
			"F":{"Type":"Fail","Error":"No"},"P":{"Type":"Pass","End":true}}},"End":true}}}`
		for _, tt := range []struct {
			in, status string
		}{
			{`{"mc":2,"xs":[true,false,true,false]}`, StatusSucceeded},
			{`{"mc":2,"xs":[true,false,false,false]}`, StatusFailed},
		} {
			rg := newRig(t, true)
			res, evs := rg.run(def, tt.in)
			if res.Status != tt.status {
				t.Errorf("%s: result %+v\n%s", tt.in, res, shape(evs))
			}
		}
	})
}

// TestMapRunsIterationsConcurrently proves concurrency without timing: each
// iteration's task waits at a barrier until as many iterations as the Map
// may run at once are inside their task. A Map that ran one item at a time
// would never get past the barrier (the run would not end).
func TestMapRunsIterationsConcurrently(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxConc  string
		together int // iterations that must be inside their task at once
	}{
		{"MaxConcurrency 2", `"MaxConcurrency":2,`, 2},
		{"no limit", ``, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			def := `{"StartAt":"M","States":{"M":{"Type":"Map",` + tc.maxConc + `"ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","End":true}}},"End":true}}}`
			rg := newRig(t, true)
			var mu sync.Mutex
			arrived, running, peak := 0, 0, 0
			barrier := make(chan struct{})
			rg.fns.Register("f", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
				mu.Lock()
				arrived++
				running++
				peak = max(peak, running)
				if arrived == tc.together {
					close(barrier)
				}
				mu.Unlock()
				select {
				case <-barrier:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				mu.Lock()
				running--
				mu.Unlock()
				return in, nil
			})
			res, evs := rg.run(def, `[1,2,3,4,5]`)
			jsonEqual(t, "output", string(res.Output), `[1,2,3,4,5]`)
			if peak < tc.together {
				t.Errorf("at most %d iterations ran at once, want %d", peak, tc.together)
			}
			if tc.together == 2 && peak > 2 {
				t.Errorf("%d iterations ran at once, want at most 2", peak)
			}
			n := 0
			for _, ev := range evs {
				if ev.Type == "MapIterationStarted" {
					n++
				}
			}
			if n != 5 {
				t.Errorf("history:\n%s", shape(evs))
			}
		})
	}
}

func TestStopCancelsRunningTask(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","End":true}}}`
	rg := newRig(t, false)
	cancelled := make(chan struct{})
	rg.fns.Register("f", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		<-ctx.Done()
		close(cancelled)
		return nil, ctx.Err()
	})
	eng := rg.start()
	x := newExecution(mustParse(t, def), "x", `{}`)
	if err := eng.Start(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	waitForEvents(t, rg, x.Arn, 4)
	if err := eng.Stop(context.Background(), x.Arn, "Halted", "by a human"); err != nil {
		t.Fatal(err)
	}
	<-cancelled
	res, evs := rg.wait(x.Arn)
	if res.Status != StatusAborted || res.Error != "Halted" || res.Cause != "by a human" {
		t.Errorf("result %+v", res)
	}
	if l := last(evs); l.Type != "ExecutionAborted" || l.PreviousEventID != 0 || l.Details.Error != "Halted" {
		t.Errorf("history:\n%s", shape(evs))
	}
}

func TestSendTaskErrors(t *testing.T) {
	eng := New(Options{Sink: newMemorySink()})
	defer eng.Close()
	ctx := context.Background()
	if err := eng.SendTaskSuccess(ctx, "nope", `{}`); !errors.Is(err, ErrTaskDoesNotExist) {
		t.Errorf("unknown token: %v", err)
	}
	if err := eng.SendTaskHeartbeat(ctx, ""); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("empty token: %v", err)
	}
	if err := eng.SendTaskFailure(ctx, strings.Repeat("t", 2049), "E", "c"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("long token: %v", err)
	}
}

type failingSink struct {
	memorySink
	failAt int64
}

func (s *failingSink) Append(ctx context.Context, arn string, ev Event) error {
	if ev.ID == s.failAt {
		return errors.New("disk full")
	}
	return s.memorySink.Append(ctx, arn, ev)
}

func TestSinkFailureStopsTheExecution(t *testing.T) {
	sink := &failingSink{memorySink: *newMemorySink(), failAt: 3}
	done := make(chan Result, 1)
	eng := New(Options{Sink: sink, Clock: NewAutoClock(epoch), OnDone: func(_ string, r Result) { done <- r }})
	x := newExecution(mustParse(t, `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},"B":{"Type":"Pass","End":true}}}`), "x", `{}`)
	if err := eng.Start(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	for eng.Running(x.Arn) {
		time.Sleep(time.Millisecond)
	}
	eng.Close()
	select {
	case r := <-done:
		t.Errorf("OnDone called with %+v", r)
	default:
	}
	if n := len(sink.history(x.Arn)); n != 2 {
		t.Errorf("%d events recorded, want 2", n)
	}
}
