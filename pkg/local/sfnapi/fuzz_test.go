package sfnapi

import (
	"context"
	"encoding/json"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/odin-deploy/odin/pkg/local/engine"
)

// FuzzRequest sends arbitrary bodies to every operation: the API never
// panics, and answers 200 with JSON or an AWS-shaped error.
func FuzzRequest(f *testing.F) {
	r := newRig(f, "", Options{Clock: engine.NewFakeClock(epoch0)})
	smArn := r.createMachine(f, "m", passMachine)
	x, err := r.client.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(smArn), Name: aws.String("x")})
	if err != nil {
		f.Fatal(err)
	}
	r.waitDone(f, *x.ExecutionArn)
	ops := slices.Sorted(maps.Keys(r.api.ops)) // a stable order, so seeds mean the same op
	for i := range ops {
		f.Add(uint8(i), `{"stateMachineArn":"`+smArn+`","executionArn":"`+*x.ExecutionArn+`","maxResults":2,"reverseOrder":true}`)
	}
	f.Add(uint8(0), `{"name":"n","definition":"{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"End\":true}}}","roleArn":"arn:aws:iam::1:role/r"}`)
	f.Add(uint8(1), `{"nextToken":"AQAAAAAAAAAA","maxResults":-5}`)
	f.Add(uint8(2), `[1,2,3]`)
	f.Add(uint8(3), `{"input":null,"name":"\u0000"}`)
	f.Fuzz(func(t *testing.T, op uint8, body string) {
		name := ops[int(op)%len(ops)]
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set("X-Amz-Target", "AWSStepFunctions."+name)
		w := httptest.NewRecorder()
		r.api.ServeHTTP(w, req)
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s answered %d with non-JSON %q", name, w.Code, w.Body.String())
		}
		switch w.Code {
		case 200:
		case 400, 500:
			if typ, _ := out["__type"].(string); !strings.Contains(typ, "#") || w.Header().Get("X-Amzn-ErrorType") == "" {
				t.Fatalf("%s error without a type: %s", name, w.Body.String())
			}
		default:
			t.Fatalf("%s answered %d", name, w.Code)
		}
	})
}
