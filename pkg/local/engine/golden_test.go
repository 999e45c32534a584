package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goldenFunctions are the Lambda functions the golden machines call.
func goldenFunctions(fns *Functions) {
	fns.Register("echo", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil })
	fns.Register("boom", func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return nil, &TaskError{ErrorType: "BoomError", ErrorMessage: "it went boom", StackTrace: []string{"main.go:1"}}
	})
	calls := 0
	fns.Register("flaky", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		calls++
		if calls <= 3 {
			return nil, &TaskError{ErrorType: "Flaky", ErrorMessage: fmt.Sprintf("attempt %d failed", calls)}
		}
		return in, nil
	})
}

// TestGoldenHistories runs each machine in testdata/histories and compares the
// whole result and history, wire form and all, with its golden file. The
// machines are sequential, so histories (and fake-clock timestamps) are
// deterministic. Refresh with -update after checking the diff.
func TestGoldenHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no machines: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var c struct {
				Input      json.RawMessage `json:"input"`
				Definition json.RawMessage `json:"definition"`
			}
			if err := json.Unmarshal(raw, &c); err != nil {
				t.Fatal(err)
			}
			rg := newRig(t, true)
			rg.rand = func() float64 { return 0.5 }
			goldenFunctions(rg.fns)
			res, evs := rg.run(string(c.Definition), string(c.Input))
			var b bytes.Buffer
			fmt.Fprintf(&b, "status %s\nerror %q\ncause %q\noutput %s\nstopped after %s\n\n", res.Status, res.Error, res.Cause, res.Output, res.StopDate.Sub(epoch))
			b.WriteString(shape(evs))
			b.WriteByte('\n')
			for _, ev := range evs {
				line, err := json.Marshal(ev)
				if err != nil {
					t.Fatal(err)
				}
				b.Write(line)
				b.WriteByte('\n')
			}
			golden := filepath.Join("testdata", "histories", name+".golden")
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("history differs from %s:\n%s", golden, b.String())
			}
		})
	}
}
