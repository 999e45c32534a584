package release

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	oracle "github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/odin-deploy/odin/pkg/release/schemacheck"
	"github.com/odin-deploy/odin/schema"
)

// The release schema is checked by schemacheck, a validator of our own for
// the keywords it uses, because a general JSON Schema library costs every
// odin command its start-up time. The general library stays here as the
// oracle: on every release file of the repository and on mutations of them,
// both must find the same errors.

var oracleSchema = sync.OnceValues(func() (*oracle.Schema, error) {
	doc, err := oracle.UnmarshalJSON(bytes.NewReader(schema.JSON()))
	if err != nil {
		return nil, err
	}
	c := oracle.NewCompiler()
	if err := c.AddResource(schema.ID, doc); err != nil {
		return nil, err
	}
	return c.Compile(schema.ID)
})

// findings describes the errors of a validation, one line each, sorted and
// without repeats, in a form both validators can be brought to: where, the
// keyword, the subschema, and what the message needs. Errors about keys
// (propertyNames) name the key only, since the oracle (v6.0.3) reports
// them at a location it has since reused.
func findings(errs []schemacheck.Error) []string {
	var out []string
	for _, e := range errs {
		if e.Key {
			out = append(out, "propertyNames: "+e.Instance[len(e.Instance)-1])
			continue
		}
		out = append(out, finding(e.Instance, e.Keyword, e.Schema, detail(e.Keyword, e.Got, e.Want, e.Keys, e.Items)))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func oracleFindings(err error) []string {
	if err == nil {
		return nil
	}
	var out []string
	var walk func(e *oracle.ValidationError)
	walk = func(e *oracle.ValidationError) {
		ptr := strings.TrimPrefix(e.SchemaURL, schema.ID+"#")
		switch k := e.ErrorKind.(type) {
		case *kind.PropertyNames:
			out = append(out, "propertyNames: "+k.Property)
			return
		case *kind.FalseSchema:
			out = append(out, finding(e.InstanceLocation, "false", ptr, ""))
			return
		}
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		var d string
		switch k := e.ErrorKind.(type) {
		case *kind.Type:
			d = detail("type", k.Got, k.Want, nil, [2]int{})
		case *kind.Enum:
			d = detail("enum", k.Got, k.Want, nil, [2]int{})
		case *kind.Const:
			d = detail("const", k.Got, k.Want, nil, [2]int{})
		case *kind.Required:
			d = detail("required", nil, nil, k.Missing, [2]int{})
		case *kind.AdditionalProperties:
			d = detail("additionalProperties", nil, nil, k.Properties, [2]int{})
		case *kind.Minimum:
			d = detail("minimum", k.Got, k.Want, nil, [2]int{})
		case *kind.Maximum:
			d = detail("maximum", k.Got, k.Want, nil, [2]int{})
		case *kind.MinLength:
			d = detail("minLength", k.Got, k.Want, nil, [2]int{})
		case *kind.MaxLength:
			d = detail("maxLength", k.Got, k.Want, nil, [2]int{})
		case *kind.Pattern:
			d = detail("pattern", k.Got, k.Want, nil, [2]int{})
		case *kind.MinItems:
			d = detail("minItems", k.Got, k.Want, nil, [2]int{})
		case *kind.MinProperties:
			d = detail("minProperties", k.Got, k.Want, nil, [2]int{})
		case *kind.MaxProperties:
			d = detail("maxProperties", k.Got, k.Want, nil, [2]int{})
		case *kind.UniqueItems:
			d = detail("uniqueItems", nil, nil, nil, k.Duplicates)
		default:
			d = fmt.Sprintf("%T %v", k, k)
		}
		out = append(out, finding(e.InstanceLocation, strings.Join(e.ErrorKind.KeywordPath(), "/"), ptr, d))
	}
	walk(err.(*oracle.ValidationError))
	slices.Sort(out)
	return slices.Compact(out)
}

func finding(instance []string, keyword, schemaPtr, detail string) string {
	return fmt.Sprintf("/%s: %s at %s: %s", strings.Join(instance, "/"), keyword, schemaPtr, detail)
}

// detail is what a message about the error shows, formatted alike for both
// validators (numbers as exact fractions, key lists sorted).
func detail(keyword string, got, want any, keys []string, items [2]int) string {
	switch keyword {
	case "false":
		return ""
	case "required", "additionalProperties":
		return strings.Join(slices.Sorted(slices.Values(keys)), ",")
	case "uniqueItems":
		return fmt.Sprint(items)
	case "minimum", "maximum":
		return fmt.Sprintf("want %s, got %s", rat(want), rat(got))
	}
	return fmt.Sprintf("want %v, got %v", want, got)
}

// agree validates v with both validators and fails t when they disagree.
func agree(t *testing.T, name string, v any) {
	t.Helper()
	cs, err := compiledSchema()
	if err != nil {
		t.Fatal(err)
	}
	osch, err := oracleSchema()
	if err != nil {
		t.Fatal(err)
	}
	ours := cs.schema.Validate(v)
	oerr := osch.Validate(v)
	if (len(ours) == 0) != (oerr == nil) {
		t.Fatalf("%s: schemacheck finds %d errors, the oracle says %v\nvalue: %s", name, len(ours), oerr, mustJSON(v))
	}
	if cs.schema.Valid(v) != (len(ours) == 0) {
		t.Fatalf("%s: Valid and Validate disagree", name)
	}
	got, want := findings(ours), oracleFindings(oerr)
	if !slices.Equal(got, want) {
		t.Fatalf("%s: schemacheck finds\n  %s\nthe oracle\n  %s\nvalue: %s", name,
			strings.Join(got, "\n  "), strings.Join(want, "\n  "), mustJSON(v))
	}
}

// releaseFiles is every release file of the repository: the examples, the
// YAML of every package's testdata, and every fuzz corpus entry.
func releaseFiles(t testing.TB) map[string][]byte {
	files := map[string][]byte{}
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == ".git" || name == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(repoRoot, path)
		slashed := filepath.ToSlash(rel)
		inTestdata := strings.Contains("/"+slashed, "/testdata/")
		switch {
		case strings.Contains(slashed, "/testdata/fuzz/"):
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for i, v := range corpusValues(data) {
				files[fmt.Sprintf("%s#%d", slashed, i)] = v
			}
		case (strings.HasPrefix(slashed, "examples/") || inTestdata) && (strings.HasSuffix(path, ".yml") || strings.HasSuffix(path, ".yaml")):
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files[slashed] = data
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// corpusValues are the []byte and string values of a Go fuzz corpus file.
func corpusValues(data []byte) [][]byte {
	var out [][]byte
	lines := strings.Split(string(data), "\n")
	if len(lines) == 0 || lines[0] != "go test fuzz v1" {
		return nil
	}
	for _, line := range lines[1:] {
		for _, kind := range []string{"[]byte(", "string("} {
			if lit, ok := strings.CutPrefix(line, kind); ok && strings.HasSuffix(lit, ")") {
				if s, err := strconv.Unquote(strings.TrimSuffix(lit, ")")); err == nil {
					out = append(out, []byte(s))
				}
			}
		}
	}
	return out
}

func TestSchemaAgreesWithOracleOnRepositoryFiles(t *testing.T) {
	files := releaseFiles(t)
	trees := 0
	for name, data := range files {
		c := checker{file: name}
		if tr, ok := c.document(data); ok {
			agree(t, name, tr.value)
			trees++
		}
	}
	// The examples alone are six; a walk that found far fewer is broken.
	if trees < 20 {
		t.Fatalf("only %d of %d files are YAML documents", trees, len(files))
	}
	t.Logf("%d documents of %d files agree", trees, len(files))
}

// replacements are values put in place of each value of a release, chosen
// to cross every keyword's boundaries.
func replacements() []any {
	return []any{
		nil, true, false, int64(0), int64(-1), int64(1), int64(2), int64(29), int64(30), int64(1023),
		int64(65535), int64(65536), int64(172801), int64(1 << 40), float64(0.5), float64(1.0), float64(1e300), float64(-0.001),
		"", "x", "local", "aws", "http", "gp3", "partition", "ami-0123abcd", "ami-zz", "subnet-0123456789abcdef0", "sg-1",
		"/", "/dev/xvda", "Upper_Case", "123456789012", "us-east-1", "t3.micro", "arn:aws:iam::123456789012:role/r",
		strings.Repeat("é", 41), strings.Repeat("x", 129), strings.Repeat("y", 1025),
		[]any{}, []any{"a"}, []any{"a", "a"}, []any{"a", int64(1)}, []any{nil},
		map[string]any{}, map[string]any{"x": "y"}, map[string]any{"PORT": int64(1)}, map[string]any{"Bad Name": "v", "ok": "v"},
	}
}

// mutate calls visit with root once per mutation: each value replaced by
// each of replacements, each key removed, an unknown key added to each
// mapping. It changes root in place and restores it after each visit.
func mutate(root any, visit func(name string, v any)) {
	for i, r := range replacements() {
		visit(fmt.Sprintf("root=%d", i), r)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(func(yield func(string) bool) {
				for k := range v {
					if !yield(k) {
						return
					}
				}
			}) {
				at := path + "/" + k
				old := v[k]
				for i, r := range replacements() {
					v[k] = r
					visit(fmt.Sprintf("%s=%d", at, i), root)
				}
				delete(v, k)
				visit(at+" removed", root)
				v[k] = old
				walk(at, old)
			}
			for _, k := range []string{"timout", "image", "listen", "instance_type", "health_check"} {
				if _, set := v[k]; !set {
					v[k] = "x"
					visit(path+"/"+k+" added", root)
					delete(v, k)
				}
			}
		case []any:
			for i, old := range v {
				at := path + "/" + strconv.Itoa(i)
				for j, r := range replacements() {
					v[i] = r
					visit(fmt.Sprintf("%s=%d", at, j), root)
				}
				v[i] = old
				walk(at, old)
			}
		}
	}
	walk("", root)
}

func TestSchemaAgreesWithOracleOnMutations(t *testing.T) {
	sources := []string{"examples/aws/release.yml", "examples/hello/release.yml", "examples/broken/release.yml"}
	if !testing.Short() {
		sources = append(sources, "examples/aws/rehearsal.yml", "examples/failing/release.yml", "examples/hello/release-v2.yml")
	}
	sources = append(sources, "") // the test's own local and aws releases
	n := 0
	for _, src := range sources {
		docs := []string{local, aws}
		if src != "" {
			data, err := os.ReadFile(filepath.Join(repoRoot, src))
			if err != nil {
				t.Fatal(err)
			}
			docs = []string{string(data)}
		}
		for _, doc := range docs {
			c := checker{file: src}
			tr, ok := c.document([]byte(doc))
			if !ok {
				t.Fatal(c.problems)
			}
			mutate(tr.value, func(name string, v any) {
				agree(t, src+" "+name, v)
				n++
			})
		}
	}
	t.Logf("%d mutations agree", n)
}

// FuzzSchemaAgreement checks that schemacheck and the oracle agree on any
// YAML document, and that schemacheck does not panic.
func FuzzSchemaAgreement(f *testing.F) {
	for _, data := range releaseFiles(f) {
		f.Add(data)
	}
	f.Add([]byte(local))
	f.Add([]byte(aws))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := checker{file: "f.yml"}
		if tr, ok := c.document(data); ok {
			agree(t, "fuzz input", tr.value)
		}
	})
}

// BenchmarkValidateAWSExample validates the AWS example's tree with a
// schema compiled once, with schemacheck and with the library it replaced.
func BenchmarkValidateAWSExample(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "examples/aws/release.yml"))
	if err != nil {
		b.Fatal(err)
	}
	c := checker{file: "aws.yml"}
	tr, ok := c.document(data)
	if !ok {
		b.Fatal(c.problems)
	}
	b.Run("schemacheck", func(b *testing.B) {
		cs, err := compiledSchema()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if errs := cs.schema.Validate(tr.value); errs != nil {
				b.Fatal(errs)
			}
		}
	})
	b.Run("jsonschema-v6", func(b *testing.B) {
		sch, err := oracleSchema()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := sch.Validate(tr.value); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCompileSchemaOracle is what BenchmarkCompileSchema cost with the
// library (its package initialisation, paid at every start, not counted).
func BenchmarkCompileSchemaOracle(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		doc, err := oracle.UnmarshalJSON(bytes.NewReader(schema.JSON()))
		if err != nil {
			b.Fatal(err)
		}
		c := oracle.NewCompiler()
		if err := c.AddResource(schema.ID, doc); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Compile(schema.ID); err != nil {
			b.Fatal(err)
		}
	}
}
