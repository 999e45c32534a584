// Command fillhistory fills a local backend's data directory with finished
// executions, for .ci/bench-restart to measure restart time, memory and
// journal size against. It drives package sfnapi in-process, so the journal
// is written by the same code a server runs.
//
//	go run ./pkg/local/sfnapi/fillhistory -dir DATA_DIR -n 20000
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/local/sfnapi"
)

// deployLike is shaped like a deploy's history: Pass states standing for the
// deployer's tasks, each entered and exited with a state of a few hundred
// bytes, 26 events an execution.
const deployLike = `{"StartAt":"Validate","States":{
 "Validate":{"Type":"Pass","Result":{"ok":true},"ResultPath":"$.validate","Next":"Lock"},
 "Lock":{"Type":"Pass","Result":{"lock":"held"},"ResultPath":"$.lock","Next":"ValidateResources"},
 "ValidateResources":{"Type":"Pass","Next":"Deploy"},
 "Deploy":{"Type":"Pass","Result":{"instances":["i-0001","i-0002"]},"ResultPath":"$.deploy","Next":"WaitForDeploy"},
 "WaitForDeploy":{"Type":"Pass","Next":"CheckHealthy"},
 "CheckHealthy":{"Type":"Pass","Result":{"healthy":2},"ResultPath":"$.health","Next":"Healthy"},
 "Healthy":{"Type":"Choice","Choices":[{"Variable":"$.health.healthy","NumericEquals":2,"Next":"CleanUpSuccess"}],"Default":"CheckHealthy"},
 "CleanUpSuccess":{"Type":"Pass","Next":"ReleaseLock"},
 "ReleaseLock":{"Type":"Pass","Result":{"lock":"released"},"ResultPath":"$.lock","Next":"Success"},
 "Success":{"Type":"Succeed"}}}`

const input = `{"release_id":"r-0123456789abcdef","project_name":"bench","config_name":"development","aws_account_id":"000000000000","aws_region":"us-east-1","bucket":"odin-000000000000-us-east-1","release_key":"000000000000/bench/development/r-0123456789abcdef/release","release_sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","deployed_by":"arn:aws:iam::000000000000:user/bench"}`

func main() {
	dir := flag.String("dir", "", "data directory to fill (created if missing)")
	n := flag.Int("n", 1000, "finished executions to add")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "fillhistory: -dir is required")
		os.Exit(2)
	}
	if err := fill(context.Background(), *dir, *n); err != nil {
		fmt.Fprintln(os.Stderr, "fillhistory:", err)
		os.Exit(1)
	}
}

func fill(ctx context.Context, dir string, n int) error {
	api, err := sfnapi.New(ctx, sfnapi.Options{DataDir: dir, Account: "000000000000"})
	if err != nil {
		return err
	}
	defer api.Close()
	call := func(op string, body any) (map[string]any, error) {
		b, _ := json.Marshal(body)
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(b))
		req.Header.Set("X-Amz-Target", "AWSStepFunctions."+op)
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)
		var out map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &out)
		if w.Code != http.StatusOK {
			return out, fmt.Errorf("%s: %d %s", op, w.Code, w.Body.String())
		}
		return out, nil
	}
	sm, err := call("CreateStateMachine", map[string]string{"name": "bench", "definition": deployLike,
		"roleArn": "arn:aws:iam::000000000000:role/bench"})
	if err != nil {
		if sm["__type"] == nil {
			return err
		}
		sm = map[string]any{"stateMachineArn": "arn:aws:states:us-east-1:000000000000:stateMachine:bench"}
	}
	smArn := sm["stateMachineArn"].(string)
	prefix := time.Now().Format("150405.000")
	var next atomic.Int64
	arns := make([]string, n)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				out, err := call("StartExecution", map[string]string{"stateMachineArn": smArn,
					"name": fmt.Sprintf("deploy-%s-%d", prefix, i), "input": input})
				if err != nil {
					errs <- err
					return
				}
				arns[i] = out["executionArn"].(string)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	for _, arn := range arns {
		for {
			out, err := call("DescribeExecution", map[string]string{"executionArn": arn})
			if err != nil {
				return err
			}
			if out["status"] != engine.StatusRunning {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	return nil
}
