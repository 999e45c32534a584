package watch_test

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/watch"
	"github.com/odin-deploy/odin/pkg/watch/watchtest"
)

// bigHistory runs loopMachine on the local backend until its history has
// about n events and records it.
func bigHistory(t testing.TB, laps int) *watchtest.History {
	t.Helper()
	b := newLocalBackend(t, false)
	arn := b.start(t, "loop", loopMachine, `{"i":0,"n":`+itoa(laps)+`}`)
	return recordDone(t, b, arn)
}

func recordDone(t testing.TB, b *localBackend, arn string) *watchtest.History {
	t.Helper()
	waitDoneTB(t, b.client, arn)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	h, err := watchtest.Record(context.Background(), cfg, []func(*sfn.Options){func(o *sfn.Options) { o.BaseEndpoint = aws.String(b.url) }}, arn)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// healthLoopMachine checks health over and over like the deployer's
// CheckHealthy: 7 events a lap, each but LambdaFunctionStarted carrying the
// whole state.
const healthLoopMachine = `{
  "StartAt": "CheckHealthy",
  "States": {
    "CheckHealthy": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:check", "Next": "More?"},
    "More?": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericLessThanPath": "$.n", "Next": "CheckHealthy"}], "Default": "Done"},
    "Done": {"Type": "Succeed"}
  }
}`

const healthLap = 7

// deployHistory runs healthLoopMachine for laps laps on the local backend
// and records it with data: the deployer's input plus a health report with
// log lines, 1.2–1.6 KB an event, as a real deploy's history carries.
func deployHistory(t testing.TB, laps int) *watchtest.History {
	t.Helper()
	// The auto clock: the step clock would move a task timeout's worth a
	// lap, expiring the recording's tokens.
	b := newLocalBackendClock(t, engine.NewAutoClock(t0))
	b.fns.Register("check", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		var st map[string]any
		if err := json.Unmarshal(in, &st); err != nil {
			return nil, err
		}
		i, _ := st["i"].(float64)
		st["i"] = i + 1
		maps.Copy(st, halfHealthy.set)
		return json.Marshal(st)
	})
	input := strings.TrimSuffix(deployInput, "}") + `,"i":0,"n":` + itoa(laps) + `}`
	return recordDone(t, b, b.start(t, "health", healthLoopMachine, input))
}

// pollCost is what one poll of a growing history costs; newBytes is the
// size of its new events alone.
type pollCost struct{ newEvents, calls, bytes, newBytes int }

// tailCosts tails a replay of h that starts with base events visible and
// grows by each of adds in turn, one per poll, then ends; it returns the cost
// of the first read and of every poll after it.
func tailCosts(t testing.TB, def string, h *watchtest.History, base int, adds []int, opts watch.Options) (first pollCost, polls []pollCost) {
	t.Helper()
	r := watchtest.NewReplay(t, []byte(def), h)
	r.SetVisible(base)
	visible := base
	lastCalls, lastBytes := 0, 0
	clk := &tickClock{now: t0}
	clk.onWait = func(n int) {
		c, b := r.Calls("GetExecutionHistory"), r.Bytes("GetExecutionHistory")
		pc := pollCost{calls: c - lastCalls, bytes: b - lastBytes}
		lastCalls, lastBytes = c, b
		if n == 1 {
			pc.newEvents = base
			first = pc
		} else {
			pc.newEvents = adds[n-2]
			for _, ev := range h.Events[visible-pc.newEvents : visible] {
				pc.newBytes += len(ev)
			}
			polls = append(polls, pc)
		}
		if n-1 < len(adds) {
			visible += adds[n-1]
		} else {
			visible = len(h.Events)
		}
		r.SetVisible(visible)
	}
	opts.Clock, opts.Rand = clk, half
	tl := watch.New(r.Client(), watchtest.ExecutionArn, opts)
	if _, err := tl.Run(context.Background(), func(watch.Event) {}); err != nil {
		t.Fatal(err)
	}
	return first, polls
}

// Issue 5's tailer cost on a 25,000-event history, with execution data on
// as the live view reads it: at most 2 calls a poll when fewer than 100
// events are new, and bytes a poll that follow the new events and do not
// depend on how long the history already is.
func TestTailCost25k(t *testing.T) {
	h := deployHistory(t, 3571)
	if len(h.Events) < 25000 {
		t.Fatalf("history has %d events", len(h.Events))
	}
	// Events flowing steadily, rising, then idle (a probe for the newest
	// event); news after idle (probe + exact fetch); a burst after quiet
	// and quiet after a burst.
	adds := []int{9, 9, 9, 99, 99, 9, 0, 0, 9, 1, 50, 99, 150, 0, 0, 10, 0, 99}
	grown := 0
	for _, a := range adds {
		grown += a
	}
	// The long tail starts at the same place in a lap as the short one, so
	// both read the same kinds of event.
	short := 1000
	long := short + (len(h.Events)-short-grown)/healthLap*healthLap
	opts := watch.Options{IncludeData: true}
	firstShort, shortPolls := tailCosts(t, healthLoopMachine, h, short, adds, opts)
	firstLong, longPolls := tailCosts(t, healthLoopMachine, h, long, adds, opts)
	if want := (long + 999) / 1000; firstShort.calls != 1 || firstLong.calls != want {
		t.Errorf("first read: %d calls for %d events, %d for %d; want 1 and %d (1000 a page)", firstShort.calls, short, firstLong.calls, long, want)
	}
	for i, add := range adds {
		s, l := shortPolls[i], longPolls[i]
		t.Logf("+%d new (%d B): %d calls %d B at %d events; %d calls %d B at %d", add, s.newBytes, s.calls, s.bytes, short, l.calls, l.bytes, long)
		if add < 100 && (s.calls > 2 || l.calls > 2) {
			t.Errorf("+%d new events took %d and %d calls, want at most 2", add, s.calls, l.calls)
		}
		// The same reads at either length: at most a few bytes apart (ids
		// and timestamps have more digits later).
		if diff := l.bytes - s.bytes; diff > s.bytes/10+100 || diff < -s.bytes/10-100 {
			t.Errorf("+%d new events: %d bytes at %d events vs %d at %d: grows with history", add, l.bytes, long, s.bytes, short)
		}
		steady := i > 0 && add > 0 && adds[i-1] == add
		for _, c := range []pollCost{s, l} {
			if steady && c.bytes > 3*c.newBytes {
				t.Errorf("+%d new events, as many as the poll before: read %d bytes for %d of events; want at most 3 times", add, c.bytes, c.newBytes)
			}
			if add == 0 && adds[i-1] == 0 && (c.calls != 1 || c.bytes > 1000) {
				t.Errorf("an idle poll read %d bytes in %d calls; want only the newest event", c.bytes, c.calls)
			}
		}
	}
}

// BenchmarkPoll25k is one steady-state poll (10 new events) at the end of a
// 25,000-event history, with execution data on as the live view reads it.
func BenchmarkPoll25k(b *testing.B) {
	h := deployHistory(b, 3571)
	r := watchtest.NewReplay(b, []byte(healthLoopMachine), h)
	api := r.Client()
	visible := 20000
	r.SetVisible(visible)
	clk := &tickClock{now: t0}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	i, calls0, bytes0 := 0, 0, 0
	clk.onWait = func(n int) {
		if n == 1 {
			calls0, bytes0 = r.Calls("GetExecutionHistory"), r.Bytes("GetExecutionHistory")
			b.ResetTimer()
		}
		if i >= b.N || visible+10 >= len(h.Events)-3 {
			cancel()
			return
		}
		i++
		visible += 10
		r.SetVisible(visible)
	}
	b.ReportAllocs()
	watch.New(api, watchtest.ExecutionArn, watch.Options{Clock: clk, Rand: half, IncludeData: true}).Run(ctx, func(watch.Event) {})
	b.StopTimer()
	// The poll after the first read probes; the rest are steady.
	polls := float64(max(i, 1))
	b.ReportMetric(float64(r.Calls("GetExecutionHistory")-calls0)/polls, "calls/poll")
	b.ReportMetric(float64(r.Bytes("GetExecutionHistory")-bytes0)/polls, "bytes/poll")
}

// Once returns after one read, with RUNNING when the execution goes on.
func TestTailOnce(t *testing.T) {
	h := bigHistory(t, 100)
	r := watchtest.NewReplay(t, []byte(loopMachine), h)
	r.SetVisible(200)
	var n int
	res, err := watch.New(r.Client(), watchtest.ExecutionArn, watch.Options{Once: true, Clock: &tickClock{now: t0}}).
		Run(context.Background(), func(watch.Event) { n++ })
	if err != nil || res.Status != "RUNNING" || res.LastEventID != 200 || n == 0 {
		t.Fatalf("res %+v err %v events %d", res, err, n)
	}
}

// BenchmarkAttach25k is `odin status --no-follow` on a finished
// 25,000-event execution of the local backend: read it all (newest first,
// 1000 a page) and fold it into events.
func BenchmarkAttach25k(b *testing.B) {
	lb := newLocalBackend(b, false)
	arn := lb.start(b, "loop", loopMachine, `{"i":0,"n":6249}`)
	waitDoneTB(b, lb.client, arn)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		tl := watch.New(lb.client, arn, watch.Options{Once: true, Clock: &tickClock{now: t0}})
		res, err := tl.Run(context.Background(), func(watch.Event) { n++ })
		if err != nil || res.Status != "SUCCEEDED" || res.LastEventID != 25000 {
			b.Fatalf("res %+v err %v", res, err)
		}
		b.ReportMetric(float64(tl.Calls()), "calls/op")
	}
}
