package conformance

// The second conformance source: executions recorded on real AWS Step Functions.
//
// A recorded set is a folder laid out as /work/shared/reference/aws-recorded-asl/README.md
// describes:
//
//   - NN-name.json: a state machine definition (JSON);
//   - inputs.json: {"NN-name.json": [input, ...]}, each input a JSON value (the runner encodes
//     it to a string to start the execution);
//   - expected.json: {"NN-name.json[i]": outcome of the i-th input}, the outcome being
//     {"status", "output" (parsed JSON or null), "error", "cause" (string or null),
//     "events": [[type, name], ...], "optional_events" (optional): [[type, name], ...]}. An
//     event's name is the "name" field of its *EventDetails object, "" when it has none.
//     optional_events are left out of both sides before comparing;
//   - SOURCES.md: where each case was recorded, one table row per case that starts
//     "| NN-name.json[i] |" (for the repository's own sets: the LocalStack snapshot key the
//     case reproduces, which is the citation);
//   - functions.json (optional, the repository's own sets only): {"name": behaviour}, the
//     Lambda functions the set's Task states call, each behaviour one of
//     {"result": JSON} (returns it), {"echo": true} (returns its input),
//     {"largeString": N} (returns a JSON string of N letters "a", for the payload limits),
//     {"error": "Type", "message": "text"} (fails with that errorType and errorMessage), with
//     an optional "sleepSeconds": N first. Behaviours are stateless, so the inputs of one
//     definition may run at once; function names are unique across all sets.
//
// Sets are read from two places:
//
//   - the shared folder shared/reference/aws-recorded-asl, found in the nearest ancestor of
//     the repository that holds it (or at $ODIN_AWS_RECORDED_DIR). It is not copied into the
//     repository. Where it is absent the test runs without those cases, unless
//     ODIN_REQUIRE_AWS_RECORDED=1 (CI), which makes it fail;
//   - every subfolder of testdata/aws-recorded: the repository's own cases in the same
//     layout (one subfolder per topic, so that parallel work adds files, not lines).
//
// Each case runs on the local backend and, when it is installed, on moto. Every case must
// be equal for the local backend in status, output, error, cause and events (types with
// names; without regard to order where branches or iterations may interleave); moto's result
// is only counted, and the figures of both are logged side by side. Where AWS and moto
// disagree, AWS wins.
//
// testdata/aws-recorded/engine-divergences.json lists {"case", "aspect", "reason"} for a
// case the local backend does not yet match (aspect: status, output, error, cause or
// events): reported, not failed, and an entry that no longer reproduces fails the test.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/local/access"
	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/local/server"
	"github.com/odin-deploy/odin/pkg/testpeer/moto"
)

const (
	// requireRecordedEnv turns a missing shared folder from a skip into a failure.
	requireRecordedEnv = "ODIN_REQUIRE_AWS_RECORDED"
	// recordedDirEnv overrides where the shared folder is looked for.
	recordedDirEnv = "ODIN_AWS_RECORDED_DIR"
	// sharedRecorded is the shared folder's path below an ancestor of the repository.
	sharedRecorded = "shared/reference/aws-recorded-asl"
	ownRecorded    = "testdata/aws-recorded"
)

// recordedCase is one execution recorded on AWS: a definition, an input, and AWS's outcome.
type recordedCase struct {
	// ID is "SET/NN-name.json[i]"; SET is "shared" for the shared folder.
	ID         string
	Set        string
	File       string // NN-name.json
	Index      int
	Definition string
	Input      string // the input, encoded
	Want       recordedOutcome
	// Unordered is true when branches or iterations may interleave (a Parallel state with
	// several branches, a Map without MaxConcurrency 1): events are compared as a multiset.
	Unordered bool
}

// recordedOutcome is an entry of expected.json.
type recordedOutcome struct {
	Status         string      `json:"status"`
	Output         any         `json:"output"`
	Error          *string     `json:"error"`
	Cause          *string     `json:"cause"`
	Events         [][2]string `json:"events"`
	OptionalEvents [][2]string `json:"optional_events,omitempty"`
}

// functionBehaviour is an entry of a set's functions.json.
type functionBehaviour struct {
	Result       json.RawMessage `json:"result,omitempty"`
	Echo         bool            `json:"echo,omitempty"`
	LargeString  int             `json:"largeString,omitempty"`
	Error        string          `json:"error,omitempty"`
	Message      string          `json:"message,omitempty"`
	SleepSeconds float64         `json:"sleepSeconds,omitempty"`
}

func (f functionBehaviour) validate() error {
	kinds := 0
	if f.Result != nil {
		kinds++
	}
	if f.Echo {
		kinds++
	}
	if f.LargeString > 0 {
		kinds++
	}
	if f.Error != "" {
		kinds++
	}
	if kinds != 1 {
		return errors.New(`want exactly one of "result", "echo", "largeString" and "error"`)
	}
	if f.SleepSeconds < 0 {
		return errors.New("sleepSeconds is negative")
	}
	return nil
}

func (f functionBehaviour) invoke(ctx context.Context, input json.RawMessage) (json.RawMessage, error) {
	if f.SleepSeconds > 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(f.SleepSeconds * float64(time.Second))):
		}
	}
	switch {
	case f.Error != "":
		return nil, &engine.TaskError{ErrorType: f.Error, ErrorMessage: f.Message}
	case f.Echo:
		return input, nil
	case f.LargeString > 0:
		return json.Marshal(strings.Repeat("a", f.LargeString))
	default:
		return f.Result, nil
	}
}

// recordedSet is one folder of cases.
type recordedSet struct {
	Name      string
	Dir       string
	Cases     []recordedCase
	Functions map[string]functionBehaviour
}

// findSharedRecorded returns the shared folder, or "" when it is not here.
func findSharedRecorded(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv(recordedDirEnv); dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return "" // named but absent: as if not here
		}
		return dir
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		candidate := filepath.Join(dir, sharedRecorded)
		if st, err := os.Stat(candidate); err == nil && st.IsDir() {
			return candidate
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}

var caseKey = regexp.MustCompile(`^(.+\.json)\[(\d+)\]$`)

// loadRecordedSet reads one folder in the layout above.
func loadRecordedSet(t *testing.T, name, dir string) recordedSet {
	t.Helper()
	set := recordedSet{Name: name, Dir: dir, Functions: map[string]functionBehaviour{}}
	var inputs map[string][]json.RawMessage
	readJSONFile(t, filepath.Join(dir, "inputs.json"), &inputs)
	var expected map[string]recordedOutcome
	readJSONFile(t, filepath.Join(dir, "expected.json"), &expected)
	if _, err := os.Stat(filepath.Join(dir, "functions.json")); err == nil {
		readJSONFile(t, filepath.Join(dir, "functions.json"), &set.Functions)
		for fn, b := range set.Functions {
			if err := b.validate(); err != nil {
				t.Fatalf("%s/functions.json: %s: %v", dir, fn, err)
			}
		}
	}
	sources, err := os.ReadFile(filepath.Join(dir, "SOURCES.md"))
	if err != nil {
		t.Errorf("%s: no SOURCES.md citing where each case was recorded: %v", dir, err)
	}
	definitions := map[string]string{}
	for key, want := range expected {
		m := caseKey.FindStringSubmatch(key)
		if m == nil {
			t.Fatalf("%s/expected.json: key %q is not NN-name.json[i]", dir, key)
		}
		file := m[1]
		var index int
		fmt.Sscan(m[2], &index)
		ins, ok := inputs[file]
		if !ok || index >= len(ins) {
			t.Fatalf("%s/expected.json: %s: no input %d in inputs.json", dir, key, index)
		}
		if sources != nil && !strings.Contains(string(sources), "| "+key+" |") {
			t.Errorf("%s/SOURCES.md: no row for %s citing where it was recorded", dir, key)
		}
		def, ok := definitions[file]
		if !ok {
			b, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			if !json.Valid(b) {
				t.Fatalf("%s/%s: not JSON", dir, file)
			}
			def = string(b)
			definitions[file] = def
		}
		input, err := json.Marshal(ins[index])
		if err != nil {
			t.Fatalf("%s: input: %v", key, err)
		}
		var asl map[string]any
		if err := json.Unmarshal([]byte(def), &asl); err != nil {
			t.Fatalf("%s/%s: %v", dir, file, err)
		}
		set.Cases = append(set.Cases, recordedCase{
			ID: name + "/" + key, Set: name, File: file, Index: index,
			Definition: def, Input: string(input), Want: want, Unordered: concurrent(asl),
		})
	}
	for file, ins := range inputs {
		for i := range ins {
			if _, ok := expected[fmt.Sprintf("%s[%d]", file, i)]; !ok {
				t.Errorf("%s/inputs.json: %s[%d] has no expected outcome", dir, file, i)
			}
		}
	}
	sort.Slice(set.Cases, func(a, b int) bool {
		if set.Cases[a].File != set.Cases[b].File {
			return set.Cases[a].File < set.Cases[b].File
		}
		return set.Cases[a].Index < set.Cases[b].Index
	})
	return set
}

func readJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// loadRecordedSets reads the shared folder (when it is here) and the repository's own sets.
func loadRecordedSets(t *testing.T) []recordedSet {
	t.Helper()
	var sets []recordedSet
	if dir := findSharedRecorded(t); dir != "" {
		sets = append(sets, loadRecordedSet(t, "shared", dir))
	} else if os.Getenv(requireRecordedEnv) == "1" {
		t.Fatalf("%s=1 but no %s in any ancestor of the working directory (or $%s)", requireRecordedEnv, sharedRecorded, recordedDirEnv)
	} else {
		t.Logf("no %s here: running only the repository's own recorded cases (set %s=1 to require it)", sharedRecorded, requireRecordedEnv)
	}
	entries, err := os.ReadDir(ownRecorded)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			sets = append(sets, loadRecordedSet(t, e.Name(), filepath.Join(ownRecorded, e.Name())))
		}
	}
	seen := map[string]string{}
	for _, s := range sets {
		for fn := range s.Functions {
			if other, ok := seen[fn]; ok {
				t.Fatalf("function %s is defined by both set %s and set %s", fn, other, s.Name)
			}
			seen[fn] = s.Name
		}
	}
	return sets
}

// usesJSONata reports whether a case's definition sets a JSONata query language.
func usesJSONata(c recordedCase) bool { return strings.Contains(c.Definition, `"JSONata"`) }

// recordedDivergence is an entry of testdata/aws-recorded/engine-divergences.json.
type recordedDivergence struct {
	Case   string `json:"case"`
	Aspect string `json:"aspect"`
	Reason string `json:"reason"`
}

func loadRecordedDivergences(t *testing.T, cases map[string]bool, haveShared bool) map[string]map[string]string {
	t.Helper()
	var list []recordedDivergence
	readJSONFile(t, filepath.Join(ownRecorded, "engine-divergences.json"), &list)
	out := map[string]map[string]string{}
	for _, d := range list {
		if !cases[d.Case] && (haveShared || !strings.HasPrefix(d.Case, "shared/")) {
			t.Errorf("engine-divergences.json: no case %q", d.Case)
		}
		if !slices.Contains([]string{"status", "output", "error", "cause", "events"}, d.Aspect) {
			t.Errorf("engine-divergences.json: %s: unknown aspect %q", d.Case, d.Aspect)
		}
		if strings.TrimSpace(d.Reason) == "" {
			t.Errorf("engine-divergences.json: %s/%s: no reason given", d.Case, d.Aspect)
		}
		if out[d.Case] == nil {
			out[d.Case] = map[string]string{}
		}
		out[d.Case][d.Aspect] = d.Reason
	}
	return out
}

// recordedRun is what a backend did with a case, reduced like expected.json.
type recordedRun struct {
	Status string
	Output string
	Error  string
	Cause  string
	Events [][2]string
}

// machineName names a case's state machine: unique per case, within AWS's 80 characters.
func machineName(c recordedCase) string {
	name := strings.TrimSuffix(c.Set+"-"+c.File, ".json") + fmt.Sprintf("-%d", c.Index)
	name = regexp.MustCompile(`[^A-Za-z0-9_-]`).ReplaceAllString(name, "_")
	if len(name) > 80 {
		name = name[len(name)-80:]
	}
	return name
}

// runRecorded runs c on client and reads back its outcome.
func runRecorded(client *sfn.Client, c recordedCase) (recordedRun, error) {
	ctx, cancel := context.WithTimeout(context.Background(), runBound)
	defer cancel()
	sm, err := client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name: aws.String(machineName(c)), Definition: aws.String(c.Definition), RoleArn: aws.String(roleArn),
	})
	if err != nil {
		return recordedRun{}, fmt.Errorf("create state machine: %w", err)
	}
	x, err := client.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: sm.StateMachineArn, Name: aws.String(executionName), Input: aws.String(c.Input),
	})
	if err != nil {
		return recordedRun{}, fmt.Errorf("start execution: %w", err)
	}
	var d *sfn.DescribeExecutionOutput
	for {
		d, err = client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: x.ExecutionArn})
		if err != nil {
			return recordedRun{}, fmt.Errorf("describe execution: %w", err)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			break
		}
		select {
		case <-ctx.Done():
			return recordedRun{}, fmt.Errorf("still running after %s", runBound)
		case <-time.After(50 * time.Millisecond):
		}
	}
	run := recordedRun{
		Status: string(d.Status), Output: aws.ToString(d.Output),
		Error: aws.ToString(d.Error), Cause: aws.ToString(d.Cause),
	}
	in := &sfn.GetExecutionHistoryInput{ExecutionArn: x.ExecutionArn, MaxResults: 1000}
	for {
		page, err := client.GetExecutionHistory(ctx, in)
		if err != nil {
			return recordedRun{}, fmt.Errorf("history: %w", err)
		}
		for _, h := range page.Events {
			run.Events = append(run.Events, [2]string{string(h.Type), detailsName(h)})
		}
		if page.NextToken == nil {
			break
		}
		in.NextToken = page.NextToken
	}
	return run, nil
}

// detailsName is the "name" field of the event's *EventDetails object, "" when it has none.
func detailsName(h sfntypes.HistoryEvent) string {
	v := reflect.ValueOf(h)
	for i := range v.NumField() {
		f := v.Field(i)
		if !strings.HasSuffix(v.Type().Field(i).Name, "EventDetails") || f.Kind() != reflect.Pointer || f.IsNil() {
			continue
		}
		if name := f.Elem().FieldByName("Name"); name.IsValid() && name.Kind() == reflect.Pointer && !name.IsNil() {
			if s, ok := name.Elem().Interface().(string); ok {
				return s
			}
		}
	}
	return ""
}

// compareRecorded lists the aspects in which got differs from the recording, with a
// message for each.
func compareRecorded(c recordedCase, got recordedRun) []mismatch {
	var out []mismatch
	want := c.Want
	if want.Status != got.Status {
		out = append(out, mismatch{"status", fmt.Sprintf("status: AWS %s, got %s", want.Status, got.Status)})
	}
	if want.Output == nil {
		if got.Output != "" && got.Output != "null" {
			out = append(out, mismatch{"output", fmt.Sprintf("output: AWS none, got %s", got.Output)})
		}
	} else {
		b, err := json.Marshal(want.Output)
		if err != nil || !sameJSON(string(b), got.Output) {
			out = append(out, mismatch{"output", fmt.Sprintf("output:\nAWS %s\ngot %s", b, got.Output)})
		}
	}
	if w := deref(want.Error); w != got.Error {
		out = append(out, mismatch{"error", fmt.Sprintf("error: AWS %q, got %q", w, got.Error)})
	}
	if w := deref(want.Cause); w != got.Cause {
		out = append(out, mismatch{"cause", fmt.Sprintf("cause:\nAWS %q\ngot %q", w, got.Cause)})
	}
	optional := func(e [2]string) bool { return slices.Contains(want.OptionalEvents, e) }
	w := slices.DeleteFunc(slices.Clone(want.Events), optional)
	g := slices.DeleteFunc(slices.Clone(got.Events), optional)
	if c.Unordered {
		sortPairs(w)
		sortPairs(g)
	}
	if !slices.Equal(w, g) {
		out = append(out, mismatch{"events", fmt.Sprintf("events:\nAWS %s\ngot %s", pairLabels(w), pairLabels(g))})
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func sortPairs(p [][2]string) {
	sort.Slice(p, func(a, b int) bool {
		if p[a][0] != p[b][0] {
			return p[a][0] < p[b][0]
		}
		return p[a][1] < p[b][1]
	})
}

func pairLabels(p [][2]string) string {
	out := make([]string, len(p))
	for i, e := range p {
		out[i] = e[0]
		if e[1] != "" {
			out[i] += "(" + e[1] + ")"
		}
	}
	return strings.Join(out, " ")
}

// recordedLocal starts the local backend with the sets' functions.
func recordedLocal(t *testing.T, sets []recordedSet) *sfn.Client {
	t.Helper()
	srv, err := server.New(context.Background(), server.Options{
		DataDir: t.TempDir(),
		Region:  moto.Region,
		Account: moto.Account,
		Functions: func(access.Endpoint) (*engine.Functions, error) {
			fns := engine.NewFunctions()
			for _, s := range sets {
				for name, b := range s.Functions {
					fns.Register(name, b.invoke)
				}
			}
			return fns, nil
		},
	})
	if err != nil {
		t.Fatalf("start the local backend: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close the local backend: %v", err)
		}
	})
	ep := srv.Endpoint()
	return sfn.New(sfn.Options{
		Region:       ep.Region,
		BaseEndpoint: aws.String(ep.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(ep.AccessKeyID, ep.SecretAccessKey, ""),
	})
}

// TestAWSRecorded runs every recorded case on the local backend and on moto and compares
// both with what AWS recorded. The local backend must match every case (bar the entries of
// engine-divergences.json); moto is only counted. The summary line gives equal/total for
// each, side by side.
func TestAWSRecorded(t *testing.T) {
	sets := loadRecordedSets(t)
	var cases []recordedCase
	ids := map[string]bool{}
	haveShared := false
	for _, s := range sets {
		cases = append(cases, s.Cases...)
		for _, c := range s.Cases {
			ids[c.ID] = true
		}
		haveShared = haveShared || s.Name == "shared"
	}
	divergences := loadRecordedDivergences(t, ids, haveShared)

	var motoClient, motoJSONata *sfn.Client
	if err := moto.Available(); (err == nil && *useMoto) || moto.Required() {
		motoClient = sharedMoto(t).SFN()
		if slices.ContainsFunc(cases, usesJSONata) {
			// Once moto 5.2.1 has parsed a JSONata definition it reads
			// JSONPath ones as JSONata too, so the JSONata cases get a moto
			// server of their own and leave the shared one clean.
			motoJSONata = moto.Start(t).SFN()
		}
	} else if err != nil {
		t.Logf("moto is not available (%v): comparing the local backend only", err)
	}
	local := recordedLocal(t, sets)

	type result struct {
		local, moto       recordedRun
		localErr, motoErr error
	}
	results := make([]result, len(cases))
	var wg sync.WaitGroup
	slots := make(chan struct{}, 16) // moto runs each execution in a Python thread
	for i, c := range cases {
		wg.Go(func() { results[i].local, results[i].localErr = runRecorded(local, c) })
		if motoClient != nil {
			wg.Go(func() {
				slots <- struct{}{}
				defer func() { <-slots }()
				client := motoClient
				if usesJSONata(c) {
					client = motoJSONata
				}
				results[i].moto, results[i].motoErr = runRecorded(client, c)
			})
		}
	}
	wg.Wait()

	type tally struct{ local, moto, total int }
	bySet := map[string]*tally{}
	var all tally
	for i, c := range cases {
		r := results[i]
		if bySet[c.Set] == nil {
			bySet[c.Set] = &tally{}
		}
		bySet[c.Set].total++
		all.total++
		if motoClient != nil {
			switch {
			case r.motoErr != nil:
				t.Logf("%s: moto: %v", c.ID, r.motoErr)
			case len(compareRecorded(c, r.moto)) == 0:
				bySet[c.Set].moto++
				all.moto++
			default:
				for _, d := range compareRecorded(c, r.moto) {
					t.Logf("%s: moto differs from AWS: %s", c.ID, d.msg)
				}
			}
		}
		t.Run(c.ID, func(t *testing.T) {
			var found []mismatch
			if r.localErr != nil {
				// AWS ran it; a backend that cannot is wrong in the status first of all.
				found = []mismatch{{"status", fmt.Sprintf("local: %v", r.localErr)}}
			} else {
				found = compareRecorded(c, r.local)
			}
			if len(found) == 0 {
				bySet[c.Set].local++
				all.local++
			}
			mismatched := map[string]bool{}
			for _, d := range found {
				mismatched[d.aspect] = true
				if reason, ok := divergences[c.ID][d.aspect]; ok {
					t.Logf("known divergence (%s): %s", reason, d.msg)
					continue
				}
				t.Errorf("local differs from AWS: %s", d.msg)
			}
			for aspect := range divergences[c.ID] {
				if !mismatched[aspect] {
					t.Errorf("engine-divergences.json lists %s of %s, but the local backend now matches AWS: remove the entry", aspect, c.ID)
				}
			}
		})
	}
	motoFigure := func(n int) string {
		if motoClient == nil {
			return "not run"
		}
		return fmt.Sprint(n)
	}
	names := make([]string, 0, len(bySet))
	for name := range bySet {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := bySet[name]
		t.Logf("aws-recorded set %-10s local %3d/%d equal   moto %s/%d equal", name, s.local, s.total, motoFigure(s.moto), s.total)
	}
	t.Logf("aws-recorded summary: local %d/%d equal, moto %s/%d equal", all.local, all.total, motoFigure(all.moto), all.total)
}

// awsRecordedErrorNames are the States.* errors that executions recorded on AWS raise
// (LocalStack's AWS-validated snapshots) for what the local backend runs: Lambda tasks,
// inline Map, Parallel, Choice, Wait, Fail, JSONata. No such recording was found for the
// others: States.NoChoiceMatched and States.IntrinsicFailure (aws-expected.json checks
// their names, from the spec), States.HeartbeatTimeout, States.TaskFailed,
// States.ExceedToleratedFailureThreshold, and the errors of services the backend does not
// run (States.Permissions, States.ItemReaderFailed, States.ResultWriterFailed).
var awsRecordedErrorNames = []string{
	"States.Runtime", "States.QueryEvaluationError", "States.Timeout", "States.DataLimitExceeded",
}

// TestAWSRecordedCoverage keeps the recorded cases covering every state type and every
// error name in awsRecordedErrorNames, and logs the error names they record. Without the
// shared folder only the repository's own sets are here, which do not cover everything
// alone, so the bar applies when the shared folder is.
func TestAWSRecordedCoverage(t *testing.T) {
	sets := loadRecordedSets(t)
	types := map[string]int{}
	errorNames := map[string]int{}
	haveShared := false
	for _, s := range sets {
		haveShared = haveShared || s.Name == "shared"
		seen := map[string]bool{}
		for _, c := range s.Cases {
			if c.Want.Error != nil {
				errorNames[*c.Want.Error]++
			}
			// A caught error shows in the output as {"Error": ..., "Cause": ...}.
			if out, ok := c.Want.Output.(map[string]any); ok {
				if name, ok := out["Error"].(string); ok && out["Cause"] != nil {
					errorNames[name+" (caught)"]++
				}
			}
			if seen[c.File] {
				continue
			}
			seen[c.File] = true
			var asl map[string]any
			if err := json.Unmarshal([]byte(c.Definition), &asl); err != nil {
				t.Fatalf("%s: %v", c.ID, err)
			}
			walkStates(asl["States"], func(_ string, st map[string]any) {
				if typ, ok := st["Type"].(string); ok {
					types[typ]++
				}
			})
		}
	}
	for _, typ := range required["state type"] {
		if types[typ] == 0 && haveShared {
			t.Errorf("no recorded case has a %s state", typ)
		}
	}
	for _, name := range awsRecordedErrorNames {
		if errorNames[name]+errorNames[name+" (caught)"] == 0 && haveShared {
			t.Errorf("no recorded case ends in or catches %s", name)
		}
	}
	t.Logf("state types (definitions using them): %v", types)
	t.Logf("error names recorded (runs): %v", errorNames)
}
