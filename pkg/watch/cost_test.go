package watch_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/odin-deploy/odin/pkg/watch"
	"github.com/odin-deploy/odin/pkg/watch/watchtest"
)

// bigHistory runs loopMachine on the local backend until its history has
// about n events and records it.
func bigHistory(t testing.TB, laps int) *watchtest.History {
	t.Helper()
	b := newLocalBackend(t, false)
	arn := b.start(t, "loop", loopMachine, `{"i":0,"n":`+itoa(laps)+`}`)
	waitDoneTB(t, b.client, arn)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	h, err := watchtest.Record(context.Background(), cfg, []func(*sfn.Options){func(o *sfn.Options) { o.BaseEndpoint = aws.String(b.url) }}, arn)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// pollCost is what one poll of a growing history costs.
type pollCost struct{ newEvents, calls, bytes int }

// tailCosts tails a replay of h that starts with base events visible and
// grows by each of adds in turn, one per poll, then ends; it returns the cost
// of every poll after the first read.
func tailCosts(t testing.TB, h *watchtest.History, base int, adds []int) (first pollCost, polls []pollCost) {
	t.Helper()
	r := watchtest.NewReplay(t, []byte(loopMachine), h)
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
			polls = append(polls, pc)
		}
		if n-1 < len(adds) {
			visible += adds[n-1]
		} else {
			visible = len(h.Events)
		}
		r.SetVisible(visible)
	}
	tl := watch.New(r.Client(), watchtest.ExecutionArn, watch.Options{Clock: clk, Rand: half})
	if _, err := tl.Run(context.Background(), func(watch.Event) {}); err != nil {
		t.Fatal(err)
	}
	return first, polls
}

// Issue 5's tailer cost on a 25,000-event history: at most 2 calls a poll
// when fewer than 100 events are new, and bytes a poll that do not depend on
// how long the history already is.
func TestTailCost25k(t *testing.T) {
	h := bigHistory(t, 6249)
	if len(h.Events) != 25000 {
		t.Fatalf("history has %d events", len(h.Events))
	}
	// Events flowing (a fetch of the newest 100 each tick), then idle (a
	// probe for the newest event), then news after idle (probe + exact fetch).
	adds := []int{1, 50, 99, 100, 150, 0, 0, 10, 0, 99}
	firstShort, short := tailCosts(t, h, 1000, adds)
	firstLong, long := tailCosts(t, h, 24000, adds)
	if firstShort.calls != 1 || firstLong.calls != 24 {
		t.Errorf("first read: %d calls for 1000 events, %d for 24000; want 1 and 24 (1000 a page)", firstShort.calls, firstLong.calls)
	}
	if short[6].bytes > 1000 {
		t.Errorf("an idle poll read %d bytes; want only the newest event", short[6].bytes)
	}
	for i, add := range adds {
		s, l := short[i], long[i]
		t.Logf("+%d new: %d calls %d bytes at 1,000 events; %d calls %d bytes at 24,000", add, s.calls, s.bytes, l.calls, l.bytes)
		if add < 100 && (s.calls > 2 || l.calls > 2) {
			t.Errorf("+%d new events took %d and %d calls, want at most 2", add, s.calls, l.calls)
		}
		// Same work at either length: pages of the newest 100, so at most
		// a few bytes apart (ids and timestamps have more digits later).
		if diff := l.bytes - s.bytes; diff > s.bytes/10 || diff < -s.bytes/10 {
			t.Errorf("+%d new events: %d bytes at 24,000 events vs %d at 1,000: grows with history", add, l.bytes, s.bytes)
		}
	}
}

// BenchmarkPoll25k is one steady-state poll (10 new events) at the end of a
// 25,000-event history.
func BenchmarkPoll25k(b *testing.B) {
	h := bigHistory(b, 6249)
	r := watchtest.NewReplay(b, []byte(loopMachine), h)
	api := r.Client()
	visible := 20000
	r.SetVisible(visible)
	clk := &tickClock{now: t0}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	i := 0
	clk.onWait = func(n int) {
		if n == 1 {
			b.ResetTimer()
			return
		}
		i++
		if i >= b.N || visible+10 >= len(h.Events)-3 {
			cancel()
			return
		}
		visible += 10
		r.SetVisible(visible)
	}
	b.ReportAllocs()
	watch.New(api, watchtest.ExecutionArn, watch.Options{Clock: clk, Rand: half}).Run(ctx, func(watch.Event) {})
	b.ReportMetric(float64(r.Bytes("GetExecutionHistory"))/float64(r.Calls("GetExecutionHistory")), "bytes/call")
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
