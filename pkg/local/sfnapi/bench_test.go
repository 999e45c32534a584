package sfnapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/odin-deploy/odin/pkg/local/engine"
)

// tenStates is the benchmark's 10-state machine: Pass, a Lambda Task,
// Choice and Succeed, about 25 history events per execution.
const tenStates = `{"StartAt":"P1","States":{
 "P1":{"Type":"Pass","Result":1,"ResultPath":"$.p1","Next":"P2"},
 "P2":{"Type":"Pass","Result":2,"ResultPath":"$.p2","Next":"T"},
 "T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:echo","ResultPath":"$.t","Next":"C"},
 "C":{"Type":"Choice","Choices":[{"Variable":"$.p1","NumericEquals":1,"Next":"P3"}],"Default":"P4"},
 "P3":{"Type":"Pass","Next":"P4"},
 "P4":{"Type":"Pass","Next":"P5"},
 "P5":{"Type":"Pass","Next":"P6"},
 "P6":{"Type":"Pass","Next":"P7"},
 "P7":{"Type":"Pass","Next":"S"},
 "S":{"Type":"Succeed"}}}`

func echoFunctions() *engine.Functions {
	fns := engine.NewFunctions()
	fns.Register("echo", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage(`{"ok":true}`), nil
	})
	return fns
}

// BenchmarkExecutions starts b.N executions of a 10-state machine through
// the HTTP API from 32 concurrent clients and waits for all of them to
// succeed. executions/s is the figure to compare with the 500/s target.
func BenchmarkExecutions(b *testing.B) {
	r := newRig(b, "", Options{Clock: engine.SystemClock{}, Functions: echoFunctions()})
	smArn := r.createMachine(b, "ten", tenStates)
	ctx := context.Background()
	var n atomic.Int64
	arns := make([]string, b.N)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := n.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				out, err := r.client.StartExecution(ctx, &sfn.StartExecutionInput{
					StateMachineArn: aws.String(smArn), Name: aws.String(fmt.Sprintf("x%d", i)), Input: aws.String(`{"n":1}`)})
				if err != nil {
					b.Error(err)
					return
				}
				arns[i] = *out.ExecutionArn
			}
		}()
	}
	wg.Wait()
	// Wait for every execution to end, reading the store directly so the
	// polling doesn't compete with the work being measured.
	for _, arn := range arns {
		for {
			x, ok := r.api.store.Execution(arn)
			if ok && x.Status != engine.StatusRunning {
				if x.Status != engine.StatusSucceeded {
					b.Fatalf("%s ended %s: %s %s", arn, x.Status, x.Error, x.Cause)
				}
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "executions/s")
	if x, _ := r.api.store.Execution(arns[0]); true {
		b.ReportMetric(float64(x.Events), "events/execution")
	}
}

// BenchmarkHistoryPage serves one GetExecutionHistory page of 1,000 events
// (with input and output, 230 KB) over HTTP: "server" reads it with a plain
// HTTP client (the server's cost plus loopback), "sdk" through the
// aws-sdk-go-v2 client, whose JSON decoding costs most of the time.
func BenchmarkHistoryPage(b *testing.B) {
	r := newRig(b, "", Options{})
	arn := longExecution(b, r, 500) // 1,004 events
	ctx := context.Background()
	b.Run("server/includeExecutionData=false", func(b *testing.B) {
		body := fmt.Sprintf(`{"executionArn":%q,"maxResults":1000,"reverseOrder":true,"includeExecutionData":false}`, arn)
		for b.Loop() {
			req, _ := http.NewRequest("POST", r.srv.URL, strings.NewReader(body))
			req.Header.Set("X-Amz-Target", "AWSStepFunctions.GetExecutionHistory")
			resp, err := r.srv.Client().Do(req)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || n < 100_000 {
				b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
			}
		}
	})
	for _, reverse := range []bool{false, true} {
		b.Run(fmt.Sprintf("server/reverse=%v", reverse), func(b *testing.B) {
			body := fmt.Sprintf(`{"executionArn":%q,"maxResults":1000,"reverseOrder":%v}`, arn, reverse)
			for b.Loop() {
				req, _ := http.NewRequest("POST", r.srv.URL, strings.NewReader(body))
				req.Header.Set("X-Amz-Target", "AWSStepFunctions.GetExecutionHistory")
				resp, err := r.srv.Client().Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || n < 200_000 {
					b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
				}
			}
		})
		b.Run(fmt.Sprintf("sdk/reverse=%v", reverse), func(b *testing.B) {
			for b.Loop() {
				out, err := r.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{
					ExecutionArn: aws.String(arn), MaxResults: 1000, ReverseOrder: reverse})
				if err != nil {
					b.Fatal(err)
				}
				if len(out.Events) != 1000 {
					b.Fatalf("%d events", len(out.Events))
				}
			}
		})
	}
}

// longExecution runs a Pass/Choice loop of rounds/2 turns (4 events each)
// and returns its ARN once it has ended.
func longExecution(tb testing.TB, r *rig, rounds int) string {
	tb.Helper()
	def := `{"StartAt":"Inc","States":{
 "Inc":{"Type":"Pass","Parameters":{"i.$":"States.MathAdd($.i, 1)","pad":"some payload to make events realistic"},"Next":"More"},
 "More":{"Type":"Choice","Choices":[{"Variable":"$.i","NumericLessThan":` + fmt.Sprint(rounds/2) + `,"Next":"Inc"}],"Default":"Done"},
 "Done":{"Type":"Succeed"}}}`
	smArn := r.createMachine(tb, "long", def)
	out, err := r.client.StartExecution(context.Background(), &sfn.StartExecutionInput{
		StateMachineArn: aws.String(smArn), Input: aws.String(`{"i":0}`)})
	if err != nil {
		tb.Fatal(err)
	}
	r.waitDone(tb, *out.ExecutionArn)
	return *out.ExecutionArn
}
