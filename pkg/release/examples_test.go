package release

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// repoRoot is where the examples live, relative to this package.
const repoRoot = "../.."

// TestExamplesValidate loads every examples/**/release*.yml but the broken one.
func TestExamplesValidate(t *testing.T) {
	var files []string
	err := filepath.WalkDir(filepath.Join(repoRoot, "examples"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "broken" {
			return filepath.SkipDir
		}
		if m, _ := filepath.Match("release*.yml", d.Name()); m && !d.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("found %d example releases (%v), want hello, hello v2, failing and aws", len(files), files)
	}
	for _, path := range files {
		t.Run(path, func(t *testing.T) {
			f, err := Load(path)
			if err != nil {
				t.Fatalf("example does not validate:\n%v", err)
			}
			raw, _ := os.ReadFile(path)
			if string(f.Bytes) != string(raw) {
				t.Error("File.Bytes differ from the file")
			}
			if !strings.HasPrefix(string(raw), "# yaml-language-server: $schema=../../schema/release.schema.json\n") {
				t.Error("example does not start with the yaml-language-server schema line")
			}
		})
	}
}

// TestBrokenExample checks examples/broken/release.yml's problems against
// examples/broken/expected-errors.txt (go test -update rewrites it).
func TestBrokenExample(t *testing.T) {
	// Named as `odin validate examples/broken/release.yml` run from the
	// repository root names it, so the text file reads like its output.
	const name = "examples/broken/release.yml"
	data, err := os.ReadFile(filepath.Join(repoRoot, name))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse(name, data)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Parse = %v, want Problems", err)
	}
	got := ps.Error() + "\n"
	golden := filepath.Join(repoRoot, "examples/broken/expected-errors.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/release -run TestBrokenExample -update)", err)
	}
	if got != string(want) {
		t.Errorf("problems of %s:\n%s\nwant (%s):\n%s", name, got, golden, want)
	}
	// Every line marked "# wrong" must be named by at least one problem.
	for i, line := range strings.Split(string(data), "\n") {
		if !strings.Contains(line, "# wrong") {
			continue
		}
		found := false
		for _, p := range ps {
			found = found || p.Line == i+1
		}
		if !found {
			t.Errorf("line %d is marked wrong but no problem names it: %s", i+1, line)
		}
	}
}

// TestAWSExampleUsesEveryField keeps examples/aws/release.yml a complete
// reference: every field the schema allows for target aws appears in it.
func TestAWSExampleUsesEveryField(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "examples/aws/release.yml"))
	if err != nil {
		t.Fatal(err)
	}
	c := checker{file: "aws.yml"}
	tr, ok := c.document(data)
	if !ok {
		t.Fatal(c.problems)
	}
	used := map[string]bool{}
	for path := range tr.locs {
		tokens := strings.Split(path, pathSep)
		if kind := mappingKind(tokens[:len(tokens)-1]); kind != "" {
			used[kind+"."+tokens[len(tokens)-1]] = true
		}
	}
	cs, err := compiledSchema()
	if err != nil {
		t.Fatal(err)
	}
	localOnly := map[string]bool{"command": true, "working_dir": true, "env": true, "instances": true, "listen": true}
	for kind, keys := range cs.keys {
		if kind == "healthCheck" {
			keys = []string{"grace_period"} // the only one aws uses
		}
		for _, k := range keys {
			if kind == "service" && localOnly[k] {
				continue
			}
			if !used[kind+"."+k] {
				t.Errorf("examples/aws/release.yml does not use %s field %s", kind, k)
			}
		}
	}
}
