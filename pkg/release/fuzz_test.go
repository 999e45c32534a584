package release

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzParse feeds Parse arbitrary bytes. Seeds are the examples, the table
// cases of TestInvalid and testdata/fuzz/FuzzParse. Parse must not panic or
// hang, must return either a consistent File or well-formed Problems.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"hello/release.yml", "aws/release.yml", "broken/release.yml", "failing/release.yml"} {
		data, err := os.ReadFile(filepath.Join(repoRoot, "examples", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(local))
	f.Add([]byte(aws))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("f.yml", data)
		if err == nil {
			sum := sha256.Sum256(data)
			if file.SHA256 != hex.EncodeToString(sum[:]) || string(file.Bytes) != string(data) {
				t.Fatal("digest or bytes do not match the input")
			}
			r := file.Release
			if r == nil || len(r.Services) == 0 || (r.Target != TargetLocal && r.Target != TargetAWS) {
				t.Fatalf("valid release without services or target: %+v", r)
			}
			if name := r.ExecutionName(ReleaseID(file.SHA256), MaxAttempts); !sfnName.MatchString(name) {
				t.Fatalf("execution name %q is not valid", name)
			}
			checkDecoders(t, data, r)
			for name, s := range r.Services {
				if s.Name != name || s.HealthCheck == nil {
					t.Fatalf("service %q not defaulted: %+v", name, s)
				}
			}
			return
		}
		var ps Problems
		if !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("error %T %v, want Problems", err, err)
		}
		for _, p := range ps {
			if p.File != "f.yml" || p.Line < 1 || p.Col < 1 || p.Message == "" || strings.ContainsAny(p.Message, "\n\r") {
				t.Fatalf("malformed problem %+v", p)
			}
		}
		if !slices.IsSortedFunc(ps, func(a, b Problem) int {
			if a.Line != b.Line {
				return a.Line - b.Line
			}
			return a.Col - b.Col
		}) {
			t.Fatalf("problems not in file order: %v", ps)
		}
	})
}

// decodeViaJSON is the obvious decoder decodeRelease replaced for speed; the
// two must agree on every valid release.
func decodeViaJSON(t *testing.T, data []byte) *Release {
	t.Helper()
	c := checker{file: "f.yml"}
	tr, ok := c.document(data)
	if !ok {
		t.Fatalf("document: %v", c.problems)
	}
	raw, err := json.Marshal(tr.value)
	if err != nil {
		t.Fatal(err)
	}
	var r Release
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	r.applyDefaults()
	return &r
}

func checkDecoders(t *testing.T, data []byte, r *Release) {
	t.Helper()
	want := decodeViaJSON(t, data)
	// Compared as JSON, where omitempty makes an empty map and a missing one alike.
	if mustJSON(r) != mustJSON(want) {
		t.Fatalf("decoders disagree:\n%s\nvia JSON:\n%s", mustJSON(r), mustJSON(want))
	}
}
