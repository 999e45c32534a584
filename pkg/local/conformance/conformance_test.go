// Package conformance checks the local Step Functions backend against moto 5.2.1, a States
// Language implementation nobody here wrote, over a corpus of state machines.
//
// Each machine in testdata/machines runs on moto and on our backend through the real
// aws-sdk-go-v2 client; the test compares status, output, error, cause and the history's
// (event type, state name) sequence. moto's results are recorded in testdata/moto (refresh
// with -update), so without moto the local backend is still compared against them. Where
// moto is known to differ from AWS, testdata/moto-differences.json names the machine, the
// aspect the comparison skips, and why; testdata/aws-expected.json then gives the outcome AWS
// documents, which the local backend is checked against instead. testdata/README.md has the
// file formats.
package conformance

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/testpeer/moto"
)

var (
	update  = flag.Bool("update", false, "rewrite golden files")
	useMoto = flag.Bool("moto", true, "run the corpus on moto too when it is installed (false: compare the local backend with the recordings only)")
)

const (
	roleArn       = "arn:aws:iam::123456789012:role/odin-conformance"
	executionName = "conformance"
	// runBound turns a hang into a failure; the slowest machine takes about 3 s on moto.
	runBound = 90 * time.Second
)

// machine is one corpus entry.
type machine struct {
	Name       string
	Definition string
	Input      string
	// Lambda holds the results every Lambda task of this machine returns, in order.
	Lambda []json.RawMessage
	// LambdaRegion is the Region of the machine's Lambda functions: moto keeps one queue of
	// results per Region, so machines that run at once each use their own.
	LambdaRegion string
	// Concurrent is true when events of different branches or iterations may interleave,
	// so the order of the history is not fixed.
	Concurrent bool
}

// slow reports whether the machine waits for seconds (timeouts, retries, waits).
func (m machine) slow() bool {
	for _, key := range []string{`"TimeoutSeconds"`, `"HeartbeatSeconds"`, `"Retry"`, `"Wait"`} {
		if strings.Contains(m.Definition, key) {
			return true
		}
	}
	return false
}

// outcome is what the comparison looks at, and the golden file's shape.
type outcome struct {
	Status string `json:"status"`
	// Output is the execution's output exactly as the backend returned it (moto does not
	// always return JSON).
	Output string  `json:"output,omitempty"`
	Error  string  `json:"error,omitempty"`
	Cause  string  `json:"cause,omitempty"`
	Events []event `json:"events"`
}

type event struct {
	ID    int64  `json:"id"`
	Prev  int64  `json:"prev"`
	Type  string `json:"type"`
	State string `json:"state,omitempty"`
	// At is the event's timestamp; only the retry backoff checks read it.
	At time.Time `json:"-"`
}

func (e event) label() string {
	if e.State == "" {
		return e.Type
	}
	return e.Type + "(" + e.State + ")"
}

// difference is an entry of testdata/moto-differences.json (Reason: how moto differs from
// AWS) or testdata/local-known-bugs.json (Reason: how the local backend is wrong).
type difference struct {
	Machine string `json:"machine"`
	// Aspect is one of status, output, error, cause, events (the sequence and prevs) or
	// prevs (only the previousEventIds).
	Aspect string `json:"aspect"`
	Reason string `json:"reason"`
	// Against is "aws" for a local bug found against aws-expected.json rather than moto.
	Against string `json:"against,omitempty"`
}

var aspects = []string{"status", "output", "error", "cause", "events", "prevs"}

func loadCorpus(t *testing.T) []machine {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "machines", "*.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	var corpus []machine
	regions := map[string]string{}
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".asl.json")
		def, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m := machine{Name: name, Definition: string(def), Input: "{}"}
		if b, err := os.ReadFile(strings.TrimSuffix(p, ".asl.json") + ".input.json"); err == nil {
			m.Input = string(b)
		} else if !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if !json.Valid([]byte(m.Input)) {
			t.Fatalf("%s: input is not JSON", name)
		}
		var asl map[string]any
		if err := json.Unmarshal(def, &asl); err != nil {
			t.Fatalf("%s: definition: %v", p, err)
		}
		m.Concurrent = concurrent(asl)
		fnRegions := lambdaRegions(asl)
		for _, f := range lambdaFunctions(asl) {
			// The local backend gives each machine a function of its own, named after it.
			if f != name {
				t.Fatalf("%s: Lambda function %q; name a corpus machine's functions after the machine", name, f)
			}
		}
		if b, err := os.ReadFile(strings.TrimSuffix(p, ".asl.json") + ".lambda.json"); err == nil {
			if err := json.Unmarshal(b, &m.Lambda); err != nil {
				t.Fatalf("%s.lambda.json: %v", name, err)
			}
		} else if !os.IsNotExist(err) {
			t.Fatal(err)
		}
		switch {
		case len(fnRegions) > 1:
			t.Fatalf("%s: Lambda functions in several Regions %v; use one per machine", name, fnRegions)
		case len(fnRegions) == 1:
			m.LambdaRegion = fnRegions[0]
			// us-east-1 (lambda:invoke, whose Region is the execution's) is shared under a
			// lock; every other Region belongs to one machine.
			if other, ok := regions[m.LambdaRegion]; ok && m.LambdaRegion != moto.Region {
				t.Fatalf("%s and %s both use Lambda Region %s; moto's result queue is per Region", other, name, m.LambdaRegion)
			}
			regions[m.LambdaRegion] = name
		}
		corpus = append(corpus, m)
	}
	return corpus
}

// walkStates calls fn on every state of the definition, nested ones included.
func walkStates(states any, fn func(name string, st map[string]any)) {
	m, _ := states.(map[string]any)
	for name, v := range m {
		st, _ := v.(map[string]any)
		if st == nil {
			continue
		}
		fn(name, st)
		if branches, ok := st["Branches"].([]any); ok {
			for _, b := range branches {
				if bm, ok := b.(map[string]any); ok {
					walkStates(bm["States"], fn)
				}
			}
		}
		for _, key := range []string{"Iterator", "ItemProcessor"} {
			if p, ok := st[key].(map[string]any); ok {
				walkStates(p["States"], fn)
			}
		}
	}
}

func concurrent(asl map[string]any) bool {
	found := false
	walkStates(asl["States"], func(_ string, st map[string]any) {
		switch st["Type"] {
		case "Parallel":
			if b, _ := st["Branches"].([]any); len(b) > 1 {
				found = true
			}
		case "Map":
			if mc, ok := st["MaxConcurrency"].(float64); !ok || mc != 1 {
				found = true
			}
		}
	})
	return found
}

// lambdaFunctions lists the names of the functions the machine's Lambda tasks call.
func lambdaFunctions(asl map[string]any) []string {
	var out []string
	walkStates(asl["States"], func(_ string, st map[string]any) {
		res, _ := st["Resource"].(string)
		switch {
		case strings.HasPrefix(res, "arn:aws:lambda:"):
			out = append(out, strings.Split(res, ":")[6])
		case strings.HasPrefix(res, "arn:aws:states:::lambda:invoke"):
			params, _ := st["Parameters"].(map[string]any)
			fn, _ := params["FunctionName"].(string)
			out = append(out, fn)
		}
	})
	return out
}

// lambdaRegions lists the Regions of the machine's Lambda tasks; lambda:invoke runs in the
// execution's Region, us-east-1.
func lambdaRegions(asl map[string]any) []string {
	set := map[string]bool{}
	walkStates(asl["States"], func(_ string, st map[string]any) {
		res, _ := st["Resource"].(string)
		switch {
		case strings.HasPrefix(res, "arn:aws:lambda:"):
			set[strings.Split(res, ":")[3]] = true
		case strings.HasPrefix(res, "arn:aws:states:::lambda:invoke"):
			set[moto.Region] = true
		}
	})
	var out []string
	for r := range set {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

func loadDifferences(t *testing.T, corpus []machine) map[string]map[string]string {
	t.Helper()
	return loadAspectList(t, corpus, "moto-differences.json")
}

// loadAspectList reads a list of {machine, aspect, reason} from testdata/file: the entries
// about the comparison with moto (those without "against").
func loadAspectList(t *testing.T, corpus []machine, file string) map[string]map[string]string {
	t.Helper()
	return loadAspectListAgainst(t, corpus, file, "")
}

// loadAspectListAgainst reads the entries of testdata/file whose "against" is against.
func loadAspectListAgainst(t *testing.T, corpus []machine, file, against string) map[string]map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var list []difference
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	known := map[string]bool{}
	for _, m := range corpus {
		known[m.Name] = true
	}
	out := map[string]map[string]string{}
	for _, d := range list {
		if d.Against != against {
			continue
		}
		if !known[d.Machine] {
			t.Errorf("%s: no machine %q in the corpus", file, d.Machine)
		}
		if !slices.Contains(aspects, d.Aspect) {
			t.Errorf("%s: %s: unknown aspect %q (want one of %v)", file, d.Machine, d.Aspect, aspects)
		}
		if strings.TrimSpace(d.Reason) == "" {
			t.Errorf("%s: %s/%s: no reason given", file, d.Machine, d.Aspect)
		}
		if out[d.Machine] == nil {
			out[d.Machine] = map[string]string{}
		}
		out[d.Machine][d.Aspect] = d.Reason
	}
	return out
}

// backend is a Step Functions endpoint the corpus runs on.
type backend struct {
	name   string
	client *sfn.Client
	// prepare makes the machine's Lambda tasks return m.Lambda; done is called once the
	// execution has ended.
	prepare func(m machine) (done func(), err error)
	// slots bounds how many machines run at once, if not nil.
	slots chan struct{}
}

// execute runs m on b and reads back its outcome.
func execute(b backend, m machine) (outcome, error) {
	if b.slots != nil {
		b.slots <- struct{}{}
		defer func() { <-b.slots }()
	}
	ctx, cancel := context.WithTimeout(context.Background(), runBound)
	defer cancel()
	sm, err := b.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name: aws.String(m.Name), Definition: aws.String(m.Definition), RoleArn: aws.String(roleArn),
	})
	if err != nil {
		return outcome{}, fmt.Errorf("%s: create state machine %s: %w", b.name, m.Name, err)
	}
	done, err := b.prepare(m)
	if err != nil {
		return outcome{}, fmt.Errorf("%s: prepare %s: %w", b.name, m.Name, err)
	}
	defer done()
	x, err := b.client.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: sm.StateMachineArn, Name: aws.String(executionName), Input: aws.String(m.Input),
	})
	if err != nil {
		return outcome{}, fmt.Errorf("%s: start execution of %s: %w", b.name, m.Name, err)
	}
	var d *sfn.DescribeExecutionOutput
	for {
		d, err = b.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: x.ExecutionArn})
		if err != nil {
			return outcome{}, fmt.Errorf("%s: describe execution of %s: %w", b.name, m.Name, err)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			break
		}
		select {
		case <-ctx.Done():
			return outcome{}, fmt.Errorf("%s: %s still running after %s", b.name, m.Name, runBound)
		case <-time.After(100 * time.Millisecond):
		}
	}
	var history []sfntypes.HistoryEvent
	in := &sfn.GetExecutionHistoryInput{ExecutionArn: x.ExecutionArn, MaxResults: 1000}
	for {
		page, err := b.client.GetExecutionHistory(ctx, in)
		if err != nil {
			return outcome{}, fmt.Errorf("%s: history of %s: %w", b.name, m.Name, err)
		}
		history = append(history, page.Events...)
		// moto ignores paging and never returns a token.
		if page.NextToken == nil {
			break
		}
		in.NextToken = page.NextToken
	}
	return outcome{
		Status: string(d.Status),
		Output: aws.ToString(d.Output),
		Error:  aws.ToString(d.Error),
		Cause:  aws.ToString(d.Cause),
		Events: events(history),
	}, nil
}

// events reduces a history to ids, prevs, types and the state each event belongs to: the
// name in its details, the Map's name and the index for Map iterations, and for Task and
// Lambda events the nearest state entered before it on its own thread (following prevs).
// Other events (Parallel/Map progress, aborts, execution events) keep only their type.
func events(history []sfntypes.HistoryEvent) []event {
	byID := map[int64]sfntypes.HistoryEvent{}
	for _, h := range history {
		byID[h.Id] = h
	}
	out := make([]event, 0, len(history))
	for _, h := range history {
		e := event{ID: h.Id, Prev: h.PreviousEventId, Type: string(h.Type), At: aws.ToTime(h.Timestamp)}
		switch {
		case h.StateEnteredEventDetails != nil:
			e.State = aws.ToString(h.StateEnteredEventDetails.Name)
		case h.StateExitedEventDetails != nil:
			e.State = aws.ToString(h.StateExitedEventDetails.Name)
		case h.MapIterationStartedEventDetails != nil:
			e.State = iteration(h.MapIterationStartedEventDetails)
		case h.MapIterationSucceededEventDetails != nil:
			e.State = iteration(h.MapIterationSucceededEventDetails)
		case h.MapIterationFailedEventDetails != nil:
			e.State = iteration(h.MapIterationFailedEventDetails)
		case h.MapIterationAbortedEventDetails != nil:
			e.State = iteration(h.MapIterationAbortedEventDetails)
		case (strings.HasPrefix(e.Type, "Task") || strings.HasPrefix(e.Type, "LambdaFunction")) && e.Type != "TaskStateAborted":
			for p, seen := h.PreviousEventId, 0; p != 0 && seen < len(history); seen++ {
				prev, ok := byID[p]
				if !ok {
					break
				}
				if prev.StateEnteredEventDetails != nil {
					e.State = aws.ToString(prev.StateEnteredEventDetails.Name)
					break
				}
				p = prev.PreviousEventId
			}
		}
		out = append(out, e)
	}
	return out
}

func iteration(d *sfntypes.MapIterationEventDetails) string {
	return fmt.Sprintf("%s#%d", aws.ToString(d.Name), d.Index)
}

// sides names the two outcomes in messages.
type sides struct{ want, got string }

// mismatch is one aspect in which two outcomes differ.
type mismatch struct {
	aspect string
	msg    string
}

// compare lists every aspect in which got differs from want. Aspects in skip are not
// compared; events and prevs are compared only when their sequence is fixed (see
// compareConcurrent for the others).
func compare(m machine, n sides, want, got outcome, skip map[string]string) []mismatch {
	var out []mismatch
	add := func(aspect, format string, args ...any) {
		if _, ok := skip[aspect]; !ok {
			out = append(out, mismatch{aspect, fmt.Sprintf(format, args...)})
		}
	}
	if want.Status != got.Status {
		add("status", "status: %s %s, %s %s", n.want, want.Status, n.got, got.Status)
	}
	if !sameJSON(want.Output, got.Output) {
		add("output", "output:\n%-8s %s\n%-8s %s", n.want, want.Output, n.got, got.Output)
	}
	if want.Error != got.Error {
		add("error", "error: %s %q, %s %q", n.want, want.Error, n.got, got.Error)
	}
	if want.Cause != got.Cause {
		add("cause", "cause:\n%-8s %q\n%-8s %q", n.want, want.Cause, n.got, got.Cause)
	}
	if _, ok := skip["events"]; ok {
		return out
	}
	_, skipPrevs := skip["prevs"]
	if m.Concurrent {
		if msg := compareConcurrent(n, want.Events, got.Events, skipPrevs); msg != "" {
			add("events", "%s", msg)
		}
		return out
	}
	if w, g := labels(want.Events), labels(got.Events); !slices.Equal(w, g) {
		add("events", "events:\n%-8s %s\n%-8s %s", n.want, strings.Join(w, " "), n.got, strings.Join(g, " "))
		return out
	}
	for i := range want.Events {
		if w, g := want.Events[i], got.Events[i]; w.ID != g.ID || w.Prev != g.Prev {
			add("prevs", "event %d %s: %s id %d prev %d, %s id %d prev %d", i, w.label(), n.want, w.ID, w.Prev, n.got, g.ID, g.Prev)
		}
	}
	return out
}

func labels(evs []event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.label()
	}
	return out
}

// joins are the events whose prev is whichever branch or iteration happened to finish (or
// fail) last, or, for moto's concurrent Maps, whichever iteration freed a slot: their parent
// depends on timing.
var joins = map[string]bool{
	"ParallelStateSucceeded": true, "ParallelStateExited": true, "ParallelStateFailed": true,
	"MapStateSucceeded": true, "MapStateExited": true, "MapStateFailed": true,
	"MapIterationStarted": true, "MapIterationAborted": true, "TaskStateAborted": true,
}

// compareConcurrent compares histories whose events may interleave: the same events, and
// the same parent graph (each event's label with its prev's label, joins aside), in any
// order.
func compareConcurrent(n sides, want, got []event, skipPrevs bool) string {
	edges := func(evs []event) []string {
		byID := map[int64]event{}
		for _, e := range evs {
			byID[e.ID] = e
		}
		out := make([]string, 0, len(evs))
		for _, e := range evs {
			s := e.label()
			if !skipPrevs && !joins[e.Type] {
				parent := "-"
				if p, ok := byID[e.Prev]; ok {
					parent = p.label()
				}
				s = parent + " -> " + s
			}
			out = append(out, s)
		}
		sort.Strings(out)
		return out
	}
	w, g := edges(want), edges(got)
	if slices.Equal(w, g) {
		return ""
	}
	var missing, extra []string
	for _, d := range diffMultiset(w, g) {
		if d.inWant {
			missing = append(missing, d.s)
		} else {
			extra = append(extra, d.s)
		}
	}
	return fmt.Sprintf("events (order aside, as parent -> event):\nonly %s: %s\nonly %s: %s", n.want, strings.Join(missing, "; "), n.got, strings.Join(extra, "; "))
}

type multisetDiff struct {
	s      string
	inWant bool
}

func diffMultiset(want, got []string) []multisetDiff {
	count := map[string]int{}
	for _, s := range want {
		count[s]++
	}
	for _, s := range got {
		count[s]--
	}
	var out []multisetDiff
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for n := count[k]; n > 0; n-- {
			out = append(out, multisetDiff{k, true})
		}
		for n := count[k]; n < 0; n++ {
			out = append(out, multisetDiff{k, false})
		}
	}
	return out
}

// sameJSON compares two JSON texts as values; numbers compare numerically (1 equals 1.0).
// Texts that are not JSON compare as strings.
func sameJSON(a, b string) bool {
	if a == b {
		return true
	}
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return false
	}
	return equalValues(va, vb)
}

func equalValues(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, v := range a {
			w, ok := bm[k]
			if !ok || !equalValues(v, w) {
				return false
			}
		}
		return true
	case []any:
		bs, ok := b.([]any)
		if !ok || len(a) != len(bs) {
			return false
		}
		for i := range a {
			if !equalValues(a[i], bs[i]) {
				return false
			}
		}
		return true
	default:
		return a == b // float64, string, bool, nil
	}
}

func goldenPath(name string) string { return filepath.Join("testdata", "moto", name+".json") }

func readGolden(t *testing.T, name string) (outcome, bool) {
	t.Helper()
	b, err := os.ReadFile(goldenPath(name))
	if os.IsNotExist(err) {
		return outcome{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	var o outcome
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatalf("%s: %v", goldenPath(name), err)
	}
	return o, true
}

func writeGolden(t *testing.T, name string, o outcome) {
	t.Helper()
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(goldenPath(name)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goldenPath(name), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// motoBackend runs machines on a moto server. Machines with Lambda functions in us-east-1
// (lambda:invoke runs in the execution's Region) share moto's queue of results there: one
// that queues results runs alone, the others (which take whatever comes) run together.
func motoBackend(s *moto.Server) backend {
	var east sync.RWMutex
	return backend{
		name:   "moto",
		client: s.SFN(),
		// moto runs every execution in its own Python thread; with all of them at once on
		// a loaded machine, its stand-in Lambda can take longer than a task's timeout.
		slots: make(chan struct{}, 16),
		prepare: func(m machine) (func(), error) {
			switch {
			case m.LambdaRegion == "":
				return func() {}, nil
			case m.LambdaRegion != moto.Region:
			case len(m.Lambda) == 0:
				east.RLock()
				return east.RUnlock, nil
			default:
				east.Lock()
			}
			unlock := func() {
				if m.LambdaRegion == moto.Region {
					east.Unlock()
				}
			}
			results := make([]string, len(m.Lambda))
			for i, r := range m.Lambda {
				results[i] = string(r)
			}
			if err := s.EnqueueLambdaResults(context.Background(), m.LambdaRegion, results...); err != nil {
				unlock()
				return nil, err
			}
			return unlock, nil
		},
	}
}

func TestCorpusSize(t *testing.T) {
	corpus := loadCorpus(t)
	if len(corpus) < 40 {
		t.Errorf("corpus has %d machines; the conformance bar is at least 40", len(corpus))
	}
}

// TestConformance runs the corpus on moto (when it is here) and on the local backend, and
// compares the local outcome with moto's live one or, without moto, with its recording.
// moto's live outcome is also compared with its recording, which catches a corpus edit
// without -update and a case whose result is not deterministic.
//
// Known bugs of the local backend (testdata/local-known-bugs.json) are reported, not failed;
// one that no longer reproduces fails the test, so the list stays true.
func TestConformance(t *testing.T) {
	corpus := loadCorpus(t)
	skips := loadDifferences(t, corpus)
	bugs := loadKnownBugs(t, corpus)

	var peer *backend
	if err := moto.Available(); (err == nil && *useMoto) || moto.Required() {
		b := motoBackend(sharedMoto(t))
		peer = &b
	} else if err == nil {
		t.Log("-moto=false: comparing the local backend with the recorded moto results in testdata/moto")
	} else {
		t.Logf("moto is not available (%v): comparing the local backend with the recorded moto results in testdata/moto", err)
	}
	if *update && peer == nil {
		t.Fatal("-update needs moto")
	}
	local := localBackend(t, corpus, nil)

	// Every machine runs at once (t.Parallel would allow only GOMAXPROCS, and most of
	// the time is spent waiting for moto); the subtests then compare.
	type run struct {
		live, got         outcome
		liveErr, localErr error
	}
	runs := make([]run, len(corpus))
	var wg sync.WaitGroup
	// The slow machines (timeouts, retries, waits) take their slots first.
	order := make([]int, len(corpus))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return corpus[order[a]].slow() && !corpus[order[b]].slow() })
	for _, i := range order {
		m := corpus[i]
		if peer != nil {
			wg.Go(func() { runs[i].live, runs[i].liveErr = execute(*peer, m) })
		}
		wg.Go(func() { runs[i].got, runs[i].localErr = execute(*local, m) })
	}
	wg.Wait()

	for i, m := range corpus {
		r := runs[i]
		t.Run(m.Name, func(t *testing.T) {
			recorded, haveGolden := readGolden(t, m.Name)
			if !haveGolden && !*update {
				t.Fatalf("no recording %s; run with -update (needs moto)", goldenPath(m.Name))
			}
			if r.liveErr != nil {
				t.Fatal(r.liveErr)
			}
			reference := recorded
			if peer != nil {
				reference = r.live
				if *update {
					writeGolden(t, m.Name, r.live)
				} else {
					for _, d := range compare(m, sides{"recorded", "moto"}, recorded, r.live, nil) {
						t.Errorf("moto differs from its recording: %s", d.msg)
					}
				}
			}
			if want, ok := backoffs[m.Name]; ok && peer != nil {
				if _, differs := skips[m.Name]["events"]; !differs {
					checkBackoffAtLeast(t, r.live.Events, want)
				}
			}
			if r.localErr != nil {
				t.Fatal(r.localErr)
			}
			// An excuse must name a real difference: moto and the local backend differ in
			// every aspect moto-differences.json skips for this machine.
			differs := map[string]bool{}
			for _, d := range compare(m, sides{"moto", "local"}, reference, r.got, nil) {
				differs[d.aspect] = true
			}
			for aspect := range skips[m.Name] {
				if !differs[aspect] && !(aspect == "prevs" && differs["events"]) {
					t.Errorf("moto-differences.json excuses %s of %s, but moto and the local backend agree on it: remove the entry", aspect, m.Name)
				}
			}
			mismatched := map[string]bool{}
			for _, d := range compare(m, sides{"moto", "local"}, reference, r.got, skips[m.Name]) {
				mismatched[d.aspect] = true
				if bug, ok := bugs[m.Name][d.aspect]; ok {
					t.Logf("known local bug (%s): %s", bug, d.msg)
					continue
				}
				t.Error(d.msg)
			}
			for aspect := range bugs[m.Name] {
				if !mismatched[aspect] {
					t.Errorf("local-known-bugs.json lists %s of %s, but the local backend now agrees with moto: remove the entry", aspect, m.Name)
				}
			}
		})
	}
}

// loadKnownBugs reads testdata/local-known-bugs.json: the aspects in which the local
// backend is known to be wrong where moto is right, each with the bug's description.
func loadKnownBugs(t *testing.T, corpus []machine) map[string]map[string]string {
	t.Helper()
	return loadAspectList(t, corpus, "local-known-bugs.json")
}

// backoffs lists, for the corpus machines that retry, the wait before each retry that their
// Retry fields call for (IntervalSeconds × BackoffRate^n, capped by MaxDelaySeconds).
var backoffs = map[string][]time.Duration{
	"parallel-retry-maxattempts": {1 * time.Second, 1500 * time.Millisecond},          // rate 1.5
	"parallel-retry-maxdelay":    {1 * time.Second, 1 * time.Second},                  // 3 s capped at 1 s
	"parallel-retry-first-match": nil,                                                 // MaxAttempts 0 wins
	"parallel-retry-count":       {1 * time.Second, 2 * time.Second, 4 * time.Second}, // defaults: 3 attempts, rate 2
	"map-retry":                  {1 * time.Second},
	"map-retry-then-catch":       {1 * time.Second, 1 * time.Second}, // rate 1
}

// retryWaits measures each retry's wait: from the failing event to the new
// ParallelStateStarted or MapStateStarted that points back at it (stepfunctions.md §3.3).
func retryWaits(evs []event) []time.Duration {
	byID := map[int64]event{}
	var waits []time.Duration
	for _, e := range evs {
		byID[e.ID] = e
		if e.Type != "ParallelStateStarted" && e.Type != "MapStateStarted" {
			continue
		}
		// The first Started of a state follows its Entered; later ones are retries.
		if prev, ok := byID[e.Prev]; ok && prev.Type != strings.TrimSuffix(e.Type, "Started")+"Entered" {
			waits = append(waits, e.At.Sub(prev.At))
		}
	}
	return waits
}

// checkBackoffAtLeast checks real-time waits: never shorter than the Retry fields say (less
// the 1 ms the timestamps are rounded to). How much longer depends on the machine's load,
// so there is no upper bound.
func checkBackoffAtLeast(t *testing.T, evs []event, want []time.Duration) {
	t.Helper()
	got := retryWaits(evs)
	if len(got) != len(want) {
		t.Errorf("moto retried %d times (waits %v), want %d (%v)", len(got), got, len(want), want)
		return
	}
	for i := range want {
		if got[i] < want[i]-time.Millisecond {
			t.Errorf("moto's retry %d came after %v, want at least %v", i+1, got[i], want[i])
		}
	}
}

// TestRetryBackoff runs the retrying machines on the local backend with a fake clock, so the
// waits in the history are exactly those the engine chose: they must be exactly what the
// Retry fields call for.
func TestRetryBackoff(t *testing.T) {
	corpus := loadCorpus(t)
	byName := map[string]machine{}
	for _, m := range corpus {
		byName[m.Name] = m
	}
	local := localBackend(t, corpus, engine.NewAutoClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
	names := make([]string, 0, len(backoffs))
	for name := range backoffs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			m, ok := byName[name]
			if !ok {
				t.Fatalf("no machine %s in the corpus", name)
			}
			o, err := execute(*local, m)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := retryWaits(o.Events), backoffs[name]; !slices.Equal(got, want) {
				t.Errorf("waits before retries %v, want %v", got, want)
			}
		})
	}
}

// documented is an entry of testdata/aws-expected.json: where moto cannot be the reference,
// the outcome AWS documents (source says where), for the fields given. Output null, Error ""
// and Cause "" mean AWS has none; Events are labels as labels() writes them. Unrecorded names, for an
// aspect moto-differences.json excuses but no AWS value is known for, why it is not.
type documented struct {
	Machine    string            `json:"machine"`
	Status     string            `json:"status"`
	Output     json.RawMessage   `json:"output,omitempty"`
	Error      *string           `json:"error,omitempty"`
	Cause      *string           `json:"cause,omitempty"`
	Events     []string          `json:"events,omitempty"`
	Unrecorded map[string]string `json:"unrecorded,omitempty"`
	Source     string            `json:"source"`
}

// has reports whether the entry gives AWS's value for aspect.
func (d documented) has(aspect string) bool {
	switch aspect {
	case "status":
		return d.Status != ""
	case "output":
		return d.Output != nil
	case "error":
		return d.Error != nil
	case "cause":
		return d.Cause != nil
	case "events":
		return d.Events != nil
	}
	return false
}

// TestEveryExcuseIsChecked holds moto-differences.json to its purpose: an aspect the
// comparison with moto skips must still be checked against AWS, so aws-expected.json gives
// AWS's value for it, or says in "unrecorded" why no AWS value is known.
func TestEveryExcuseIsChecked(t *testing.T) {
	corpus := loadCorpus(t)
	excused := loadDifferences(t, corpus)
	b, err := os.ReadFile(filepath.Join("testdata", "aws-expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var list []documented
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatalf("aws-expected.json: %v", err)
	}
	byName := map[string]documented{}
	for _, d := range list {
		if _, dup := byName[d.Machine]; dup {
			t.Errorf("aws-expected.json: %s is listed twice", d.Machine)
		}
		byName[d.Machine] = d
		for aspect, why := range d.Unrecorded {
			if d.has(aspect) {
				t.Errorf("aws-expected.json: %s gives %s and also calls it unrecorded", d.Machine, aspect)
			}
			if strings.TrimSpace(why) == "" {
				t.Errorf("aws-expected.json: %s: unrecorded %s without a reason", d.Machine, aspect)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(excused)) {
		d, ok := byName[name]
		for _, aspect := range slices.Sorted(maps.Keys(excused[name])) {
			switch {
			case aspect == "prevs":
				// The previousEventIds are checked against the recorded rules in TestConformance's own cases.
			case !ok:
				t.Errorf("moto-differences.json excuses %s of %s, but aws-expected.json has no entry for it", aspect, name)
			case !d.has(aspect) && d.Unrecorded[aspect] == "":
				t.Errorf("moto-differences.json excuses %s of %s, but aws-expected.json neither gives AWS's %s nor says why it is unrecorded", aspect, name, aspect)
			}
		}
	}
}

// TestDocumentedOutcomes checks the local backend on the cases moto gets wrong, against the
// outcome the States Language spec or AWS's documentation gives. Known local bugs listed
// for these (local-known-bugs.json, "against": "aws") are reported, not failed.
func TestDocumentedOutcomes(t *testing.T) {
	corpus := loadCorpus(t)
	byName := map[string]machine{}
	for _, m := range corpus {
		byName[m.Name] = m
	}
	b, err := os.ReadFile(filepath.Join("testdata", "aws-expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var list []documented
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatalf("aws-expected.json: %v", err)
	}
	bugs := loadAspectListAgainst(t, corpus, "local-known-bugs.json", "aws")
	local := localBackend(t, corpus, engine.NewAutoClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
	for _, d := range list {
		t.Run(d.Machine, func(t *testing.T) {
			m, ok := byName[d.Machine]
			if !ok {
				t.Fatalf("aws-expected.json: no machine %q in the corpus", d.Machine)
			}
			if d.Source == "" {
				t.Errorf("aws-expected.json: %s: no source", d.Machine)
			}
			got, err := execute(*local, m)
			if err != nil {
				t.Fatal(err)
			}
			var found []mismatch
			if got.Status != d.Status {
				found = append(found, mismatch{"status", fmt.Sprintf("status: AWS %s, local %s (error %q, cause %q)", d.Status, got.Status, got.Error, got.Cause)})
			}
			// "output": null means AWS gives none (a failed execution).
			if d.Output != nil && !(string(d.Output) == "null" && got.Output == "") && !sameJSON(string(d.Output), got.Output) {
				found = append(found, mismatch{"output", fmt.Sprintf("output:\nAWS   %s\nlocal %s", d.Output, got.Output)})
			}
			if d.Error != nil && *d.Error != got.Error {
				found = append(found, mismatch{"error", fmt.Sprintf("error: AWS %q, local %q (cause %q)", *d.Error, got.Error, got.Cause)})
			}
			if d.Cause != nil && *d.Cause != got.Cause {
				found = append(found, mismatch{"cause", fmt.Sprintf("cause:\nAWS   %q\nlocal %q", *d.Cause, got.Cause)})
			}
			if d.Events != nil {
				want, have := slices.Clone(d.Events), labels(got.Events)
				if m.Concurrent {
					sort.Strings(want)
					sort.Strings(have)
				}
				if !slices.Equal(want, have) {
					found = append(found, mismatch{"events", fmt.Sprintf("events:\nAWS   %s\nlocal %s", strings.Join(d.Events, " "), strings.Join(labels(got.Events), " "))})
				}
			}
			mismatched := map[string]bool{}
			for _, f := range found {
				mismatched[f.aspect] = true
				if bug, ok := bugs[m.Name][f.aspect]; ok {
					t.Logf("known local bug (%s): %s", bug, f.msg)
					continue
				}
				t.Errorf("%s [%s]", f.msg, d.Source)
			}
			for aspect := range bugs[m.Name] {
				if !mismatched[aspect] {
					t.Errorf("local-known-bugs.json lists %s of %s against AWS, but the local backend now agrees: remove the entry", aspect, m.Name)
				}
			}
		})
	}
}
