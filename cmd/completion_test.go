package cmd

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/odin-deploy/odin/pkg/iostreams"
)

// The completion scripts in completions/ ship in release archives and are what
// package managers install; they must match the commands as built.
func TestCompletionsAreCurrent(t *testing.T) {
	dir := t.TempDir()
	io, _, _, _ := iostreams.Test()
	root := NewRootCmd(&Factory{IO: io})
	if err := writeCompletionFiles(root, dir); err != nil {
		t.Fatal(err)
	}
	for shell, name := range completionFiles {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		committed := filepath.Join("..", "completions", name)
		if *update {
			if err := os.WriteFile(committed, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(committed)
		if err != nil {
			t.Fatalf("%s completion: %v (run go test ./cmd -run TestCompletionsAreCurrent -update)", shell, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("completions/%s is stale: run go test ./cmd -run TestCompletionsAreCurrent -update", name)
		}
	}
}
