package watch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/watch"
	"github.com/odin-deploy/odin/pkg/watch/watchtest"
)

// tickClock is the tailer's clock in tests: each wait is recorded, then
// returns after a real millisecond (so a server running the execution gets
// to move) and calls onWait, which tests use to reveal more history.
type tickClock struct {
	mu     sync.Mutex
	now    time.Time
	waits  []time.Duration
	onWait func(n int)
	real   time.Duration // real time each wait takes; default 1 ms
}

func (c *tickClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *tickClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	n, now, hook := len(c.waits), c.now, c.onWait
	c.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	ch := make(chan time.Time, 1)
	real := c.real
	if real == 0 {
		real = time.Millisecond
	}
	go func() { time.Sleep(real); ch <- now }()
	return ch
}

func (c *tickClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.waits)
}

func half() float64 { return 0.5 }

// tail runs a Tailer to the end and returns what it emitted.
func tail(t *testing.T, api watch.API, arn string, opts watch.Options) ([]watch.Event, *watch.Result, *watch.Tailer) {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = &tickClock{now: t0}
	}
	if opts.Rand == nil {
		opts.Rand = half
	}
	tl := watch.New(api, arn, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []watch.Event
	res, err := tl.Run(ctx, func(ev watch.Event) { got = append(got, ev) })
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return got, res, tl
}

// translateAll is what reading the whole history at once gives; an
// incremental tail must give exactly the same.
func translateAll(t *testing.T, def []byte, evs []types.HistoryEvent) []watch.Event {
	t.Helper()
	g, err := watch.ParseDefinition(def)
	if err != nil {
		t.Fatal(err)
	}
	tr := watch.NewTranslator(g)
	var out []watch.Event
	for _, h := range evs {
		out = append(out, tr.Translate(h)...)
	}
	return out
}

func fullHistory(t *testing.T, c *sfn.Client, arn string, data bool) []types.HistoryEvent {
	t.Helper()
	var evs []types.HistoryEvent
	p := sfn.NewGetExecutionHistoryPaginator(c, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn),
		MaxResults: 1000, IncludeExecutionData: aws.Bool(data)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, out.Events...)
	}
	return evs
}

func checkDense(t *testing.T, got []watch.Event) {
	t.Helper()
	for i := 1; i < len(got); i++ {
		if got[i].ID < got[i-1].ID {
			t.Fatalf("event %d (id %d) after id %d: out of order", i, got[i].ID, got[i-1].ID)
		}
	}
}

func kinds(evs []watch.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%d %s %s", e.ID, e.Kind, e.Step)
		if e.Attempt > 0 {
			fmt.Fprintf(&b, " #%d", e.Attempt)
		}
		if e.Error != "" {
			fmt.Fprintf(&b, " %s", e.Error)
		}
		if e.Status != "" {
			fmt.Fprintf(&b, " %s", e.Status)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// The tailer against odin's local backend while the execution runs: a retry,
// a Wait, a Parallel, a caught failure, a Fail state.
func TestTailLocalBackend(t *testing.T) {
	b := newLocalBackend(t, false)
	b.fns.Register("check", flaky(2))
	b.fns.Register("finish", func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return nil, &engine_TaskError{"DeployError", "web: exited with status 1"}
	})
	arn := b.start(t, "retry", retryMachine, `{}`)
	got, res, _ := tail(t, b.client, arn, watch.Options{IncludeData: true})
	checkDense(t, got)
	if res.Status != "FAILED" || res.Error != "FailureClean" || res.Cause != "rolled back" {
		t.Fatalf("result %+v", res)
	}
	want := translateAll(t, []byte(retryMachine), fullHistory(t, b.client, arn, true))
	if kinds(got) != kinds(want) {
		t.Fatalf("incremental tail differs from the whole history:\n got:\n%s\nwant:\n%s", kinds(got), kinds(want))
	}
	seq := kinds(got)
	for _, s := range []string{
		"attempt_started Check #1", "attempt_failed Check #1 HealthError", "retry_scheduled Check #2",
		"retry_scheduled Check #3", "attempt_succeeded Check #3", "step_succeeded Check #3",
		"step_entered Both", "step_succeeded Both", "step_failed Finish #1 DeployError",
		"step_entered Failed", "step_failed Failed FailureClean", "execution_ended  FailureClean FAILED",
	} {
		if !strings.Contains(seq, s) {
			t.Errorf("missing %q in\n%s", s, seq)
		}
	}
	// Nested branch states are attributed to their Parallel.
	for _, e := range got {
		if e.State == "Left" && e.Step != "Both" {
			t.Errorf("Left attributed to %q", e.Step)
		}
	}
}

// engine_TaskError avoids importing the engine twice under two names.
type engine_TaskError struct{ typ, msg string }

func (e *engine_TaskError) Error() string     { return e.msg }
func (e *engine_TaskError) ErrorType() string { return e.typ }

// Throttling from the local backend's real token buckets never ends the
// watch.
func TestTailLocalBackendThrottled(t *testing.T) {
	b := newLocalBackend(t, true)
	arn := b.start(t, "loop", loopMachine, `{"i":0,"n":150}`)
	waitDone(t, b.client, arn)
	want := translateAll(t, []byte(loopMachine), fullHistory(t, b.client, arn, false))
	var errs []error
	// PageSize 1 makes many calls so the GetExecutionHistory bucket (400)
	// runs dry; the SDK's own retries are off so the tailer sees it.
	c := sfn.New(sfn.Options{Region: "us-east-1", BaseEndpoint: aws.String(b.url),
		Credentials: b.client.Options().Credentials, RetryMaxAttempts: 1})
	got, res, _ := tail(t, c, arn, watch.Options{PageSize: 1, FirstPageSize: 1,
		OnError: func(err error, _ time.Duration) { errs = append(errs, err) }})
	if res.Status != "SUCCEEDED" {
		t.Fatalf("status %s", res.Status)
	}
	if kinds(got) != kinds(want) {
		t.Fatal("throttled tail lost or duplicated events")
	}
	if len(errs) == 0 {
		t.Fatal("expected throttling with 600 one-event pages")
	}
	if !strings.Contains(errs[0].Error(), "ThrottlingException") {
		t.Fatalf("first error %v", errs[0])
	}
}

func recordedDeployer(t *testing.T, name string) ([]byte, *watchtest.History) {
	t.Helper()
	def := deployerDefinition(t)
	h, err := watchtest.ReadHistory(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return def, h
}

// A history revealed a few events per tick, read newest-first with paging:
// no duplicates, no gaps, same as the whole.
func TestTailReplayGrowing(t *testing.T) {
	for _, step := range []int{1, 3, 7, 150} {
		t.Run(fmt.Sprint(step), func(t *testing.T) {
			def, h := recordedDeployer(t, "deploy-retry")
			r := watchtest.NewReplay(t, def, h)
			r.SetVisible(1)
			clk := &tickClock{now: t0}
			visible := 1
			clk.onWait = func(int) { visible += step; r.SetVisible(visible) }
			got, res, _ := tail(t, r.Client(), watchtest.ExecutionArn, watch.Options{Clock: clk, PageSize: 2})
			want := translateAll(t, def, watchtest.Events(t, def, filepath.Join("testdata", "deploy-retry.json")))
			if kinds(got) != kinds(want) {
				t.Fatalf("got\n%s\nwant\n%s", kinds(got), kinds(want))
			}
			if res.Status != "SUCCEEDED" || res.Output == "" {
				t.Fatalf("result %+v", res)
			}
		})
	}
}

// growOnCall reveals more history after each GetExecutionHistory call, as a
// running execution does between a poll's first page and its second.
type growOnCall struct {
	*sfn.Client
	r       *watchtest.Replay
	visible *int
	grow    func() int
}

func (g *growOnCall) GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, optFns ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	out, err := g.Client.GetExecutionHistory(ctx, in, optFns...)
	*g.visible += g.grow()
	g.r.SetVisible(*g.visible)
	return out, err
}

// A history that grows by a trickle, bursts and silences between polls,
// and sometimes within one, read with sized pages and data: every event
// once, in order, whatever the guesses.
func TestTailReplayBursts(t *testing.T) {
	h := deployHistory(t, 300)
	def := []byte(healthLoopMachine)
	r := watchtest.NewReplay(t, def, h)
	want := translateAll(t, def, fullHistory(t, r.Client(), watchtest.ExecutionArn, true))
	for _, tc := range []struct {
		name           string
		ticks, midPoll []int
	}{
		{"between polls", []int{0, 1, 3, 9, 9, 12, 30, 50, 99, 150, 400}, []int{0}},
		{"within polls", []int{0, 1, 9, 9, 50, 99}, []int{0, 0, 1, 5, 40}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(1, 2))
			visible := 3
			r.SetVisible(visible)
			clk := &tickClock{now: t0}
			clk.onWait = func(int) {
				visible += tc.ticks[rnd.IntN(len(tc.ticks))]
				r.SetVisible(visible)
			}
			api := &growOnCall{Client: r.Client(), r: r, visible: &visible,
				grow: func() int { return tc.midPoll[rnd.IntN(len(tc.midPoll))] }}
			got, res, _ := tail(t, api, watchtest.ExecutionArn, watch.Options{Clock: clk, IncludeData: true})
			if kinds(got) != kinds(want) {
				t.Fatalf("got\n%s\nwant\n%s", kinds(got), kinds(want))
			}
			if res.Status != "SUCCEEDED" {
				t.Fatalf("result %+v", res)
			}
		})
	}
}

// moto 5.2.1 ignores reverseOrder and paging: the tailer notices and reads
// forward with an id cursor.
func TestTailIgnoredPaging(t *testing.T) {
	def, h := recordedDeployer(t, "deploy-retry")
	r := watchtest.NewReplay(t, def, h)
	r.IgnorePaging(true)
	r.SetVisible(5)
	clk := &tickClock{now: t0}
	visible := 5
	clk.onWait = func(int) { visible += 4; r.SetVisible(visible) }
	got, _, _ := tail(t, r.Client(), watchtest.ExecutionArn, watch.Options{Clock: clk})
	want := translateAll(t, def, watchtest.Events(t, def, filepath.Join("testdata", "deploy-retry.json")))
	if kinds(got) != kinds(want) {
		t.Fatalf("got\n%s\nwant\n%s", kinds(got), kinds(want))
	}
}

// The poll interval is 1 s while events flow, doubles to 5 s when idle, and
// throttling backs off with jitter (rand 0.5: 1 s, 2 s, 4 s) without ending.
func TestTailIntervalsAndBackoff(t *testing.T) {
	def, h := recordedDeployer(t, "deploy-retry")
	r := watchtest.NewReplay(t, def, h)
	r.SetVisible(3)
	clk := &tickClock{now: t0}
	clk.onWait = func(n int) {
		switch n {
		case 5:
			r.SetVisible(6)
		case 6:
			r.Throttle(3)
		case 12:
			r.SetVisible(len(h.Events))
		}
	}
	var backoffs []time.Duration
	_, res, _ := tail(t, r.Client(), watchtest.ExecutionArn, watch.Options{Clock: clk,
		OnError: func(_ error, d time.Duration) { backoffs = append(backoffs, d) }})
	if res.Status != "SUCCEEDED" {
		t.Fatalf("result %+v", res)
	}
	s := time.Second
	want := []time.Duration{
		1 * s, 2 * s, 4 * s, 5 * s, 5 * s, // idle after the first read: back off to 5 s
		1 * s,               // news: fast again
		1 * s, 2 * s, 4 * s, // throttled three times: jittered backoff
		2 * s, 4 * s, 5 * s, // idle again (the interval continues from where it was)
	}
	if got := clk.Waits(); !slices.Equal(got, want) {
		t.Fatalf("waits\n got %v\nwant %v", got, want)
	}
	if !slices.Equal(backoffs, []time.Duration{s, 2 * s, 4 * s}) {
		t.Fatalf("backoffs %v", backoffs)
	}
}

func TestTailFatalError(t *testing.T) {
	def, h := recordedDeployer(t, "deploy-retry")
	r := watchtest.NewReplay(t, def, h)
	tl := watch.New(r.Client(), watchtest.ExecutionArn+"-missing", watch.Options{Clock: &tickClock{now: t0}})
	if _, _, err := tl.Definition(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := tl.Run(context.Background(), func(watch.Event) {})
	var nf *types.ExecutionDoesNotExist
	if !errors.As(err, &nf) {
		t.Fatalf("got %v, want ExecutionDoesNotExist", err)
	}
}

func TestTailCancelled(t *testing.T) {
	def, h := recordedDeployer(t, "deploy-retry")
	r := watchtest.NewReplay(t, def, h)
	r.SetVisible(4)
	ctx, cancel := context.WithCancel(context.Background())
	clk := &tickClock{now: t0, onWait: func(n int) {
		if n == 3 {
			cancel()
		}
	}}
	_, err := watch.New(r.Client(), watchtest.ExecutionArn, watch.Options{Clock: clk}).Run(ctx, func(watch.Event) {})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func waitDone(t *testing.T, c *sfn.Client, arn string) { waitDoneTB(t, c, arn) }

func itoa(n int) string { return fmt.Sprint(n) }

func waitDoneTB(t testing.TB, c *sfn.Client, arn string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		out, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if out.Status != types.ExecutionStatusRunning {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
