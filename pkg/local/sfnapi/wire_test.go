package sfnapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/odin-deploy/odin/pkg/local/engine"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestWireGolden pins the exact JSON of each operation's answer (epoch-number
// timestamps, members left out when absent, strings for input and output)
// for one scripted session. Refresh with go test -run WireGolden -update.
func TestWireGolden(t *testing.T) {
	clock := engine.NewFakeClock(epoch0)
	r := newRig(t, "", Options{Clock: clock})
	smArn := stateMachineArn(region, account, "golden")
	xArn := executionArn(region, account, "golden", "run")
	fArn := executionArn(region, account, "golden", "fail")
	def, _ := json.Marshal(`{"StartAt":"A","States":{"A":{"Type":"Pass","Result":{"x":1},"ResultPath":"$.a","Next":"C"},"C":{"Type":"Choice","Choices":[{"And":[{"Variable":"$.fail","IsPresent":true},{"Variable":"$.fail","BooleanEquals":true}],"Next":"F"}],"Default":"S"},"F":{"Type":"Fail","Error":"Boom","Cause":"it broke"},"S":{"Type":"Succeed"}}}`)
	calls := []struct{ op, body string }{
		{"CreateStateMachine", `{"name":"golden","definition":` + string(def) + `,"roleArn":"` + role + `"}`},
		{"DescribeStateMachine", `{"stateMachineArn":"` + smArn + `"}`},
		{"ListStateMachines", `{}`},
		{"StartExecution", `{"stateMachineArn":"` + smArn + `","name":"run","input":"{\"k\":\"v\"}"}`},
		{"StartExecution", `{"stateMachineArn":"` + smArn + `","name":"fail","input":"{\"fail\":true}"}`},
		{"DescribeExecution", `{"executionArn":"` + xArn + `"}`},
		{"DescribeExecution", `{"executionArn":"` + xArn + `","includedData":"METADATA_ONLY"}`},
		{"DescribeExecution", `{"executionArn":"` + fArn + `"}`},
		{"GetExecutionHistory", `{"executionArn":"` + xArn + `"}`},
		{"GetExecutionHistory", `{"executionArn":"` + fArn + `","reverseOrder":true,"includeExecutionData":false,"maxResults":3}`},
		{"ListExecutions", `{"stateMachineArn":"` + smArn + `"}`},
		{"DescribeStateMachineForExecution", `{"executionArn":"` + xArn + `"}`},
		{"ValidateStateMachineDefinition", `{"definition":"{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"Next\":\"B\"}}}"}`},
		{"StopExecution", `{"executionArn":"` + xArn + `"}`},
		{"DeleteStateMachine", `{"stateMachineArn":"` + smArn + `"}`},
	}
	// Ids that are random by design, and tokens (signed with a random key).
	scrub := regexp.MustCompile(`("revisionId":|"nextToken":)"[^"]*"`)
	var out bytes.Buffer
	for _, c := range calls {
		req, _ := http.NewRequest("POST", r.srv.URL+"/", strings.NewReader(c.body))
		req.Header.Set("X-Amz-Target", "AWSStepFunctions."+c.op)
		resp, err := r.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if c.op == "StartExecution" {
			// Let it finish before the next call describes it.
			var s struct{ ExecutionArn string }
			json.Unmarshal(b, &s)
			r.waitDone(t, s.ExecutionArn)
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, scrub.ReplaceAll(b, []byte(`$1"…"`)), "", "  "); err != nil {
			t.Fatalf("%s answered non-JSON %s", c.op, b)
		}
		fmt.Fprintf(&out, "### %s %s\n%d %s\n%s\n\n", c.op, c.body, resp.StatusCode, resp.Header.Get("Content-Type"), pretty.Bytes())
	}
	golden := filepath.Join("testdata", "wire.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("wire answers differ from %s (run with -update if the change is meant):\n%s", golden, out.Bytes())
	}
}
