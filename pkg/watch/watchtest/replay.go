// Package watchtest serves recorded execution histories over the Step
// Functions JSON 1.0 API, with AWS's paging rules, for tests of code that
// reads histories through the real SDK.
package watchtest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/deployer"
)

// ExecutionArn is the one execution a Replay serves.
const ExecutionArn = "arn:aws:states:us-east-1:123456789012:execution:odin-deployer:replay"

// History is a recorded GetExecutionHistory output: {"events": [...]}, each
// event in the wire shape (epoch-second timestamps, lowerCamel members).
type History struct {
	Events []json.RawMessage `json:"events"`
}

// ReadHistory reads a recorded history file.
func ReadHistory(path string) (*History, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var h History
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &h, nil
}

// Replay is a Step Functions endpoint for one execution. It answers
// GetExecutionHistory like AWS (newest first on request, maxResults, tokens
// tied to the other arguments), DescribeStateMachineForExecution and
// DescribeExecution, counts calls and bytes, and can reveal the history a
// few events at a time to act as a running execution.
type Replay struct {
	URL string

	srv        *httptest.Server
	definition string
	events     []json.RawMessage

	mu        sync.Mutex
	visible   int
	calls     map[string]int
	bytes     map[string]int
	throttleN int
	// IgnorePaging makes it behave like moto 5.2.1: every event, oldest
	// first, no token, whatever the request asks.
	ignorePaging bool
}

// NewReplay starts a Replay of events for a definition; the whole history
// is visible until SetVisible says otherwise. It stops when t ends.
func NewReplay(t testing.TB, definition []byte, h *History) *Replay {
	r := &Replay{definition: string(definition), events: h.Events, visible: len(h.Events),
		calls: map[string]int{}, bytes: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL
	t.Cleanup(r.srv.Close)
	return r
}

// SetVisible shows only the first n events (an execution still running).
func (r *Replay) SetVisible(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.visible = min(max(n, 0), len(r.events))
}

// Throttle makes the next n calls fail with ThrottlingException.
func (r *Replay) Throttle(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.throttleN = n
}

// IgnorePaging switches to moto 5.2.1's behaviour.
func (r *Replay) IgnorePaging(v bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ignorePaging = v
}

// Calls and Bytes return the count of requests to, and response bytes from,
// an operation (e.g. "GetExecutionHistory") so far.
func (r *Replay) Calls(op string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[op]
}

// Bytes returns the response bytes of an operation so far.
func (r *Replay) Bytes(op string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bytes[op]
}

// Client is an SDK client for the replay (static credentials, no retries so
// tests see every error the server sends).
func (r *Replay) Client() *sfn.Client {
	return sfn.New(sfn.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(r.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		RetryMaxAttempts: 1,
		// Bodies are read whole before the SDK decodes them: streaming
		// decode from this httptest server intermittently failed with "use
		// of closed network connection" (not seen against the local backend).
		HTTPClient: &capture{next: &http.Client{}},
	})
}

type historyRequest struct {
	ExecutionArn         string `json:"executionArn"`
	MaxResults           int    `json:"maxResults"`
	NextToken            string `json:"nextToken"`
	ReverseOrder         bool   `json:"reverseOrder"`
	IncludeExecutionData *bool  `json:"includeExecutionData"`
}

type token struct {
	Offset  int    `json:"o"`
	Reverse bool   `json:"r"`
	Size    int    `json:"s"`
	Data    bool   `json:"d"`
	Horizon int    `json:"h"` // the newest id when the walk began, so pages stay stable
	Arn     string `json:"a"`
}

func (r *Replay) serve(w http.ResponseWriter, req *http.Request) {
	op := strings.TrimPrefix(req.Header.Get("X-Amz-Target"), "AWSStepFunctions.")
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.calls[op]++
	throttled := r.throttleN > 0
	if throttled {
		r.throttleN--
	}
	visible := r.visible
	ignorePaging := r.ignorePaging
	r.mu.Unlock()

	var out any
	var status = http.StatusOK
	switch {
	case throttled:
		status, out = http.StatusBadRequest, apiError("ThrottlingException", "Rate exceeded")
	case op == "DescribeStateMachineForExecution":
		out = map[string]any{"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:odin-deployer",
			"name": "odin-deployer", "definition": r.definition, "roleArn": "arn:aws:iam::123456789012:role/odin",
			"updateDate": 1.7e9}
	case op == "DescribeExecution":
		out = r.describe(visible)
	case op == "GetExecutionHistory":
		var in historyRequest
		if err := json.Unmarshal(body, &in); err != nil {
			status, out = http.StatusBadRequest, apiError("SerializationException", err.Error())
			break
		}
		if in.ExecutionArn != ExecutionArn {
			status, out = http.StatusBadRequest, apiError("ExecutionDoesNotExist", "Execution Does Not Exist: '"+in.ExecutionArn+"'")
			break
		}
		if ignorePaging {
			out = map[string]any{"events": r.events[:visible]}
			break
		}
		var err error
		out, err = r.page(in, visible)
		if err != nil {
			status, out = http.StatusBadRequest, apiError("InvalidToken", err.Error())
		}
	default:
		status, out = http.StatusBadRequest, apiError("UnknownOperationException", op)
	}
	b, _ := json.Marshal(out)
	r.mu.Lock()
	r.bytes[op] += len(b)
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func apiError(code, msg string) map[string]string {
	return map[string]string{"__type": "com.amazonaws.swf.service.v2.model#" + code, "message": msg}
}

func (r *Replay) page(in historyRequest, visible int) (map[string]any, error) {
	size := in.MaxResults
	if size <= 0 {
		size = 100
	}
	data := in.IncludeExecutionData == nil || *in.IncludeExecutionData
	tok := token{Reverse: in.ReverseOrder, Size: size, Data: data, Horizon: visible, Arn: in.ExecutionArn}
	if in.NextToken != "" {
		raw, err := base64.StdEncoding.DecodeString(in.NextToken)
		var got token
		if err == nil {
			err = json.Unmarshal(raw, &got)
		}
		if err != nil || got.Reverse != tok.Reverse || got.Size != tok.Size || got.Data != tok.Data || got.Arn != tok.Arn {
			//lint:ignore ST1005 AWS's own wording, as a client sees it
			return nil, errors.New("Invalid Token: 'Invalid token'")
		}
		tok = got
	}
	n := tok.Horizon
	var idx []int
	for i := tok.Offset; i < n && len(idx) < size; i++ {
		if tok.Reverse {
			idx = append(idx, n-1-i)
		} else {
			idx = append(idx, i)
		}
	}
	evs := make([]json.RawMessage, 0, len(idx))
	for _, i := range idx {
		ev := r.events[i]
		if !data {
			ev = stripData(ev)
		}
		evs = append(evs, ev)
	}
	res := map[string]any{"events": evs}
	if next := tok.Offset + len(idx); next < n {
		tok.Offset = next
		b, _ := json.Marshal(tok)
		res["nextToken"] = base64.StdEncoding.EncodeToString(b)
	}
	return res, nil
}

// stripData drops input and output from an event's details, as AWS does for
// includeExecutionData=false.
func stripData(ev json.RawMessage) json.RawMessage {
	if !bytes.Contains(ev, []byte(`"input"`)) && !bytes.Contains(ev, []byte(`"output"`)) {
		return ev
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(ev, &m) != nil {
		return ev
	}
	for k, v := range m {
		if !strings.HasSuffix(k, "EventDetails") {
			continue
		}
		var d map[string]json.RawMessage
		if json.Unmarshal(v, &d) != nil {
			continue
		}
		delete(d, "input")
		delete(d, "output")
		m[k], _ = json.Marshal(d)
	}
	b, _ := json.Marshal(m)
	return b
}

func (r *Replay) describe(visible int) map[string]any {
	out := map[string]any{"executionArn": ExecutionArn, "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:odin-deployer",
		"name": "replay", "status": "RUNNING", "startDate": 1.7e9}
	if visible == 0 {
		return out
	}
	var last struct {
		Type string `json:"type"`
		Succ *struct {
			Output string `json:"output"`
		} `json:"executionSucceededEventDetails"`
	}
	json.Unmarshal(r.events[visible-1], &last)
	switch last.Type {
	case "ExecutionSucceeded":
		out["status"] = "SUCCEEDED"
		if last.Succ != nil {
			out["output"] = last.Succ.Output
		}
	case "ExecutionFailed":
		out["status"] = "FAILED"
	case "ExecutionTimedOut":
		out["status"] = "TIMED_OUT"
	case "ExecutionAborted":
		out["status"] = "ABORTED"
	}
	return out
}

// Events reads a recorded history file into SDK events, decoding it with the
// SDK's own deserializer (served by a Replay), so tests see exactly what a
// command would.
func Events(t testing.TB, definition []byte, path string) []types.HistoryEvent {
	t.Helper()
	h, err := ReadHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReplay(t, definition, h)
	c := r.Client()
	var evs []types.HistoryEvent
	p := sfn.NewGetExecutionHistoryPaginator(c, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(ExecutionArn), MaxResults: 1000})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		evs = append(evs, out.Events...)
	}
	return evs
}

// capture keeps the bodies of GetExecutionHistory responses.
type capture struct {
	next   aws.HTTPClient
	keep   bool
	mu     sync.Mutex
	bodies [][]byte
}

func (c *capture) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(req)
	if err != nil {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if c.keep && strings.HasSuffix(req.Header.Get("X-Amz-Target"), ".GetExecutionHistory") {
		c.mu.Lock()
		c.bodies = append(c.bodies, b)
		c.mu.Unlock()
	}
	return resp, nil
}

// Record reads an execution's whole history oldest-first with includeExecutionData
// through a client built from cfg, and returns it in the wire shape the server
// sent. It reads every page and keeps each id once, so it works with servers
// that ignore paging too.
func Record(ctx context.Context, cfg aws.Config, optFns []func(*sfn.Options), executionArn string) (*History, error) {
	next := cfg.HTTPClient
	if next == nil {
		next = http.DefaultClient
	}
	cp := &capture{next: next, keep: true}
	cfg.HTTPClient = cp
	c := sfn.NewFromConfig(cfg, optFns...)
	p := sfn.NewGetExecutionHistoryPaginator(c, &sfn.GetExecutionHistoryInput{
		ExecutionArn: aws.String(executionArn), MaxResults: 1000, IncludeExecutionData: aws.Bool(true)})
	for p.HasMorePages() {
		if _, err := p.NextPage(ctx); err != nil {
			return nil, fmt.Errorf("record history of %s: %w", executionArn, err)
		}
	}
	h := &History{}
	seen := map[int64]bool{}
	for _, b := range cp.bodies {
		var page History
		if err := json.Unmarshal(b, &page); err != nil {
			return nil, fmt.Errorf("record history of %s: %w", executionArn, err)
		}
		for _, ev := range page.Events {
			var id struct {
				ID int64 `json:"id"`
			}
			json.Unmarshal(ev, &id)
			if !seen[id.ID] {
				seen[id.ID] = true
				h.Events = append(h.Events, ev)
			}
		}
	}
	return h, nil
}

// Write stores a history as indented JSON.
func (h *History) Write(path string) error {
	var buf bytes.Buffer
	buf.WriteString("{\"events\": [\n")
	for i, ev := range h.Events {
		var c bytes.Buffer
		if err := json.Compact(&c, ev); err != nil {
			return err
		}
		buf.WriteString("  ")
		buf.Write(c.Bytes())
		if i < len(h.Events)-1 {
			buf.WriteString(",")
		}
		buf.WriteString("\n")
	}
	buf.WriteString("]}\n")
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// HistoryPath is the path of a history recorded in pkg/watch/testdata
// (deploy-retry, digest-mismatch, lock-held, unhealthy, timeout, halt,
// failure-dirty, lambda-stack, and the moto recordings).
func HistoryPath(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", name+".json")
}

// Recorded returns a recorded history's definition (testdata/<name>.asl.json,
// else the deployer's) and its events.
func Recorded(t testing.TB, name string) ([]byte, []types.HistoryEvent) {
	t.Helper()
	def, err := os.ReadFile(strings.TrimSuffix(HistoryPath(name), ".json") + ".asl.json")
	if err != nil {
		def = deployer.Definition(deployer.FunctionArn("us-east-1", "123456789012"))
	}
	return def, Events(t, def, HistoryPath(name))
}

// Deployer returns the deployer's definition (as the recordings ran it) and
// the events of a recorded deployer history.
func Deployer(t testing.TB, name string) ([]byte, []types.HistoryEvent) {
	t.Helper()
	def := deployer.Definition(deployer.FunctionArn("us-east-1", "123456789012"))
	return def, Events(t, def, HistoryPath(name))
}
