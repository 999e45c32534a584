package watch_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/watch/watchtest"
)

var record = flag.Bool("record", false, "re-record testdata histories from the local backend")

func deployerDefinition(t testing.TB) []byte {
	return deployer.Definition(deployer.FunctionArn("us-east-1", "123456789012"))
}

// outcome is one scripted reply of the deployer's task function: fields to
// merge into the state, or an error with the deployer's error name.
type outcome struct {
	set   map[string]any
	err   string
	msg   string
	stack []string
}

// scripted stands in for the deployer's task handler: the real deployer
// definition runs on the real engine, and each task replies what the real
// handler replies on that path (same error names and messages).
func scripted(script map[string][]outcome) engine.TaskFunc {
	var mu sync.Mutex
	calls := map[string]int{}
	return func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
		var env struct {
			Task  string         `json:"Task"`
			Input map[string]any `json:"Input"`
		}
		if err := json.Unmarshal(payload, &env); err != nil {
			return nil, err
		}
		mu.Lock()
		n := calls[env.Task]
		calls[env.Task]++
		mu.Unlock()
		outs := script[env.Task]
		var o outcome
		if len(outs) > 0 {
			o = outs[min(n, len(outs)-1)]
		}
		if o.err != "" {
			return nil, &engine.TaskError{ErrorType: o.err, ErrorMessage: o.msg, StackTrace: o.stack}
		}
		st := maps.Clone(env.Input)
		maps.Copy(st, o.set)
		return json.Marshal(st)
	}
}

const deployInput = `{"release_id":"r-20261125-2a9f","project_name":"hello","config_name":"production","target":"local",` +
	`"aws_account_id":"123456789012","aws_region":"us-east-1","bucket":"odin-releases",` +
	`"release_key":"123456789012/hello/production/r-20261125-2a9f/release",` +
	`"release_sha256":"9f2c1e0c4b7f6d2a8e1b3c5d7f9a0b2c4d6e8f0a1b3c5d7e9f0a2b4c6d8e0f1a",` +
	`"deployed_by":"arn:aws:iam::123456789012:user/ada","created_at":"2026-11-25T20:59:50Z","release_dir":"/srv/hello"}`

func health(healthy bool, services map[string]any) map[string]any {
	return map[string]any{"healthy": healthy, "health": map[string]any{"healthy": healthy, "services": services}}
}

func svc(desired, healthy, launching, unhealthy int, instances ...map[string]any) map[string]any {
	return map[string]any{"desired": desired, "healthy": healthy, "launching": launching, "unhealthy": unhealthy,
		"terminating": 0, "instances": instances}
}

func inst(id, state string, pid, port int, reason string, logs ...string) map[string]any {
	m := map[string]any{"id": id, "release_id": "r-20261125-2a9f", "state": state, "pid": pid, "port": port}
	if reason != "" {
		m["reason"] = reason
	}
	if len(logs) > 0 {
		m["log_tail"] = logs
	}
	return m
}

var validated = outcome{set: map[string]any{"started_at": "2026-11-25T21:00:00Z", "deadline": "2026-11-25T21:05:00Z",
	"timeout": 300, "wait_for_deploy": 10, "wait_for_healthy": 5}}
var locked = outcome{set: map[string]any{"lock_etag": `"5d41402abc4b2a76b9719d911017c592"`}}
var deployed = outcome{set: health(false, map[string]any{"web": svc(2, 0, 2, 0,
	inst("web-1", "launching", 4242, 8081, ""), inst("web-2", "launching", 4243, 8082, ""))})}
var halfHealthy = outcome{set: health(false, map[string]any{"web": svc(2, 1, 0, 1,
	inst("web-1", "healthy", 4242, 8081, ""),
	inst("web-2", "unhealthy", 4243, 8082, "GET http://127.0.0.1:8082/health: 500 Internal Server Error",
		"2026/11/25 21:00:21 listening on :8082", "2026/11/25 21:00:22 db: dial tcp 127.0.0.1:5432: connect: connection refused",
		"2026/11/25 21:00:27 GET /health 500 (db unavailable)"))})}
var allHealthy = outcome{set: health(true, map[string]any{"web": svc(2, 2, 0, 0,
	inst("web-1", "healthy", 4242, 8081, ""), inst("web-2", "healthy", 4243, 8082, ""))})}

// scenarios are the deployer's paths the renderers and `odin fail` are
// tested on.
var scenarios = map[string]map[string][]outcome{
	"deploy-retry": {
		"Validate": {validated}, "Lock": {locked}, "Deploy": {deployed},
		"CheckHealthy": {{err: "HealthError", msg: "web-2: GET http://127.0.0.1:8082/health: connection refused"}, halfHealthy, allHealthy},
	},
	"digest-mismatch": {
		"Validate": {{err: "BadReleaseError", msg: "release digest mismatch: s3://odin-releases/123456789012/hello/production/r-20261125-2a9f/release has sha256 1b4f0e9851971998e732078544c96b36c3d01cedf7caa332359d6f1d83567014, the execution input expects 9f2c1e0c4b7f6d2a8e1b3c5d7f9a0b2c4d6e8f0a1b3c5d7e9f0a2b4c6d8e0f1a"}},
	},
	"lock-held": {
		"Validate": {validated},
		"Lock":     {{err: "LockExistsError", msg: "deploys of hello/production are locked by release r-20261125-1c7e (owner arn:aws:iam::123456789012:user/grace, execution arn:aws:states:us-east-1:123456789012:execution:odin-deployer:hello-production-r-20261125-1c7e) for 42m10s, until 2026-11-25T22:17:50Z; if no deploy of it is running, clear the lock with `odin unlock --project hello --config-name production` (or `odin unlock <release file>`)"}},
	},
	"unhealthy": {
		"Validate": {validated}, "Lock": {locked}, "Deploy": {deployed},
		"CheckHealthy": {halfHealthy, {err: "HealthError", msg: "web-2: GET http://127.0.0.1:8082/health: 500 Internal Server Error"}},
	},
	"timeout": {
		"Validate": {validated}, "Lock": {locked}, "Deploy": {deployed},
		"CheckHealthy": {halfHealthy, halfHealthy, {err: "TimeoutError", msg: "release r-20261125-2a9f is not healthy after its timeout of 300s: web 1/2 healthy; web-2 unhealthy (GET http://127.0.0.1:8082/health: 500 Internal Server Error)"}},
	},
	"halt": {
		"Validate": {validated}, "Lock": {locked}, "Deploy": {deployed},
		"CheckHealthy": {halfHealthy, {err: "HaltError", msg: "deploy halted: s3://odin-releases/123456789012/hello/production/halt was written at 2026-11-25T21:00:40Z; rolling back"}},
	},
	"failure-dirty": {
		"Validate": {validated}, "Lock": {locked},
		"Deploy":         {{err: "DeployError", msg: "release r-20261125-2a9f: instance web-1 (pid 4242) exited: exit status 2; last log lines: panic: config: missing DATABASE_URL"}},
		"CleanUpFailure": {{err: "CleanUpError", msg: "stop web-1 (pid 4242): operation not permitted"}},
	},
	"lambda-stack": {
		"Validate": {validated}, "Lock": {locked},
		"Deploy": {{err: "Runtime.UnmarshalError", msg: `{"errorMessage":"json: cannot unmarshal string into Go struct field Service.services.web.instances of type int","errorType":"UnmarshalTypeError"}`,
			stack: []string{"github.com/odin-deploy/odin/pkg/deployer.(*Handler).deploy (tasks.go:275)",
				"github.com/odin-deploy/odin/pkg/deployer.(*Handler).Invoke (handler.go:121)",
				"github.com/aws/aws-lambda-go/lambda.(*handlerOptions).Invoke (handler.go:318)"}}},
	},
}

// TestRecordDeployerHistories runs each scenario on the local backend and,
// with -record, stores its history in testdata; without, it checks that the
// engine still produces the recorded event sequence.
func TestRecordDeployerHistories(t *testing.T) {
	for name, script := range scenarios {
		t.Run(name, func(t *testing.T) {
			h := runScenario(t, script)
			path := filepath.Join("testdata", name+".json")
			if *record {
				if err := h.Write(path); err != nil {
					t.Fatal(err)
				}
				return
			}
			old, err := watchtest.ReadHistory(path)
			if err != nil {
				t.Fatalf("%v (run with -record)", err)
			}
			if got, want := typeSeq(t, h), typeSeq(t, old); got != want {
				t.Errorf("the engine's history for %s changed (re-record with -record if intended):\n got %s\nwant %s", name, got, want)
			}
		})
	}
}

func typeSeq(t *testing.T, h *watchtest.History) string {
	var s string
	for _, ev := range h.Events {
		var e struct {
			Type string `json:"type"`
		}
		json.Unmarshal(ev, &e)
		s += e.Type + " "
	}
	return s
}

func runScenario(t *testing.T, script map[string][]outcome) *watchtest.History {
	t.Helper()
	b := newLocalBackendClock(t, engine.NewAutoClock(t0))
	b.fns.Register(deployer.FunctionName, scripted(script))
	arn := b.start(t, "odin-deployer", string(deployerDefinition(t)), deployInput)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		out, err := b.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if out.Status != "RUNNING" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("execution did not end")
		case <-time.After(5 * time.Millisecond):
		}
	}
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	h, err := watchtest.Record(ctx, cfg, []func(*sfn.Options){func(o *sfn.Options) { o.BaseEndpoint = aws.String(b.url) }}, arn)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var _ = fmt.Sprint

// An execution stopped by StopExecution (`odin halt --abort`) while it
// waits for the new release: recorded as testdata/aborted.json.
func TestRecordAborted(t *testing.T) {
	b := newLocalBackendClock(t, engine.NewFakeClock(t0)) // time never moves: the Wait waits
	b.fns.Register(deployer.FunctionName, scripted(map[string][]outcome{
		"Validate": {validated}, "Lock": {locked}, "Deploy": {deployed}}))
	arn := b.start(t, "odin-deployer", string(deployerDefinition(t)), deployInput)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		evs := fullHistory(t, b.client, arn, false)
		if len(evs) > 0 && evs[len(evs)-1].Type == "WaitStateEntered" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("never reached WaitForDeploy")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if _, err := b.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(arn),
		Error: aws.String("odin.Abort"), Cause: aws.String("aborted by ada with odin halt --abort")}); err != nil {
		t.Fatal(err)
	}
	waitDone(t, b.client, arn)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	h, err := watchtest.Record(ctx, cfg, []func(*sfn.Options){func(o *sfn.Options) { o.BaseEndpoint = aws.String(b.url) }}, arn)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "aborted.json")
	if *record {
		if err := h.Write(path); err != nil {
			t.Fatal(err)
		}
		return
	}
	old, err := watchtest.ReadHistory(path)
	if err != nil {
		t.Fatalf("%v (run with -record)", err)
	}
	if got, want := typeSeq(t, h), typeSeq(t, old); got != want {
		t.Errorf("history changed:\n got %s\nwant %s", got, want)
	}
}
