package cmd

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/odin-deploy/odin/pkg/watch/watchtest"
)

// documentedKeys reads jsonLinesFormat's grammar: for each line type, every
// key it names (top-level or nested).
func documentedKeys(t *testing.T) map[string]map[string]bool {
	t.Helper()
	grammar, _, ok := strings.Cut(jsonLinesFormat, "health, on an event")
	if !ok {
		t.Fatal("jsonLinesFormat lost its grammar")
	}
	keys := map[string]map[string]bool{}
	var current map[string]bool
	for _, tok := range regexp.MustCompile(`"type":"(\w+)"|"(\w+)"`).FindAllStringSubmatch(grammar, -1) {
		if tok[1] != "" {
			current = map[string]bool{"type": true}
			keys[tok[1]] = current
			continue
		}
		if current != nil {
			current[tok[2]] = true
		}
	}
	return keys
}

// TestJSONFormatDocumented: every key odin writes with --output json is in
// the documented format for its line type, and README.md carries that
// format word for word.
func TestJSONFormatDocumented(t *testing.T) {
	doc := documentedKeys(t)
	for _, want := range []string{"start", "event", "warning", "outcome"} {
		if doc[want] == nil {
			t.Fatalf("the format does not document %s lines", want)
		}
	}
	for _, history := range []string{"deploy-retry", "unhealthy", "lambda-stack"} {
		r := replayOf(t, history)
		_, out, _ := replayOdin(t, r, "status", watchtest.ExecutionArn, "--output", "json")
		seen := map[string]bool{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				t.Fatalf("%s: not JSON: %s", history, line)
			}
			var typ string
			_ = json.Unmarshal(obj["type"], &typ)
			keys := doc[typ]
			if keys == nil {
				t.Errorf("%s: undocumented line type %q", history, typ)
				continue
			}
			seen[typ] = true
			for k := range obj {
				if !keys[k] {
					t.Errorf("%s: %s line has undocumented key %q", history, typ, k)
				}
			}
		}
		if !seen["start"] || !seen["event"] || !seen["outcome"] {
			t.Errorf("%s: line types %v, want start, event and outcome", history, seen)
		}
	}

	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```\n"+jsonLinesFormat+"```\n") {
		t.Errorf("README.md does not carry the JSON format as `odin json-format` prints it (in a ``` block)")
	}
}
