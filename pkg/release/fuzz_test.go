package release

import (
	"crypto/sha256"
	"encoding/hex"
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
			if name := r.ExecutionName(ReleaseID(file.SHA256)); !sfnName.MatchString(name) {
				t.Fatalf("execution name %q is not valid", name)
			}
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
