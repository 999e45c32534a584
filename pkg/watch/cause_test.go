package watch_test

import (
	"strings"
	"testing"

	"github.com/odin-deploy/odin/pkg/watch"
)

func TestUnwrapCause(t *testing.T) {
	tests := []struct {
		name, cause, summary, typ string
		stack                     int
	}{
		{"plain text", "An error occurred while executing the state 'X'", "An error occurred while executing the state 'X'", "", 0},
		{"lambda", `{"errorMessage":"web: exited","errorType":"DeployError","stackTrace":["a","b"]}`, "web: exited", "DeployError", 2},
		{"nested", `{"errorMessage":"{\"errorMessage\":\"inner\",\"errorType\":\"Inner\"}","errorType":"Outer"}`, "inner", "Outer", 0},
		{"python frames", `{"errorMessage":"boom","errorType":"KeyError","stackTrace":[["f.py",1,"h","x"],"  File x"]}`, "boom", "KeyError", 2},
		{"caught error", `{"Error":"LockExistsError","Cause":"held"}`, "held", "LockExistsError", 0},
		{"multi-line", `{"errorMessage":"release is invalid:\nrelease.yml:3:1: bad","errorType":"BadReleaseError"}`, "release is invalid: …", "BadReleaseError", 0},
		{"broken json", `{"errorMessage":`, `{"errorMessage":`, "", 0},
		{"other json", `{"a":1}`, `{"a":1}`, "", 0},
		{"empty", ``, ``, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := watch.UnwrapCause(tt.cause)
			if c.Summary() != tt.summary || c.Type != tt.typ || len(c.StackTrace) != tt.stack || c.Raw != tt.cause {
				t.Fatalf("got %+v summary %q", c, c.Summary())
			}
		})
	}
}

func FuzzUnwrapCause(f *testing.F) {
	f.Add(`{"errorMessage":"{\"errorMessage\":\"inner\"}","errorType":"Outer","stackTrace":["a"]}`)
	f.Add(`{"Error":"E","Cause":"{\"errorMessage\":1}"}`)
	f.Add(strings.Repeat(`{"errorMessage":"`, 20))
	f.Fuzz(func(t *testing.T, cause string) {
		c := watch.UnwrapCause(cause)
		if c.Raw != cause {
			t.Fatal("raw changed")
		}
		depth := 0
		for n := c.Nested; n != nil; n = n.Nested {
			depth++
		}
		if depth > 9 {
			t.Fatalf("nesting %d", depth)
		}
		_ = c.Summary()
	})
}
