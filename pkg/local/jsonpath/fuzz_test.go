package jsonpath

import (
	"errors"
	"testing"
)

const fuzzDoc = `{"a":{"b":[1,2.5,{"c":"x","d":[true,null]}],"e":"s"},"f":[[1],[2,3]],"g":{"Execution":{"Id":"e"}}}`

// FuzzCompile feeds arbitrary expressions to the path compiler and, when one
// compiles, evaluates and sets through it: nothing may panic, and the error
// types must be the documented ones.
func FuzzCompile(f *testing.F) {
	for _, seed := range []string{
		"$", "$$", "$.a.b", "$['a b']", "$.a.b[0]", "$.a.b[-1]", "$.a.b[*].c", "$..c", "$.f[0:2]",
		"$.a.b[0,2]", "$.a.b[?(@.c == 'x')]", "$.a.b[?(@ > 1 && !(@ < 0) || @.d)]", "$$.Execution.Id",
		"$.a.b[::-1]", "$['a']['b'][2]['d'][0]", "$[?(@.b[?(@.c)])]", "$.a.b[?(@.c > $.a.e)]",
		"$[", "$.", "$[?(", "$['\\'']", "$..[*]", "$.*.*", "$.a.b[1:-1:2]", "$.q.r",
	} {
		f.Add(seed)
	}
	doc, err := Decode([]byte(fuzzDoc))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		p, err := Compile(expr)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile(%q) error %T, want *SyntaxError", expr, err)
			}
			_ = err.Error()
			return
		}
		_ = p.String()
		_ = p.Normalized()
		v, err := p.Get(doc)
		if err != nil {
			var nf *NotFoundError
			if !errors.As(err, &nf) || !p.IsDefinite() {
				t.Fatalf("Get(%q) error %v", expr, err)
			}
			_ = nf.Error()
		} else if _, err := Marshal(v); err != nil {
			t.Fatalf("Get(%q) gave an unencodable value: %v", expr, err)
		}
		if r, err := CompileReference(expr); err == nil {
			before, _ := Marshal(doc)
			if _, err := Set(doc, r, "v"); err != nil {
				var nf *NotFoundError
				if !errors.As(err, &nf) {
					t.Fatalf("Set(%q) error %T", expr, err)
				}
			}
			if after, _ := Marshal(doc); string(after) != string(before) {
				t.Fatalf("Set(%q) changed its input", expr)
			}
		}
	})
}

// FuzzIntrinsic compiles and runs arbitrary intrinsic calls: nothing may
// panic, and every runtime failure must be a States.IntrinsicFailure.
func FuzzIntrinsic(f *testing.F) {
	for _, seed := range []string{
		"States.Format('Hello, {}', $.a.e)", `States.Format('\{} {}', $.a.b)`, "States.StringToJson('{\"a\":1}')",
		"States.JsonToString($.a)", "States.Array(1, 'a', null, true, $.f)", "States.ArrayPartition($.a.b, 2)",
		"States.ArrayContains($.a.b, 1)", "States.ArrayRange(1, 9, 2)", "States.ArrayGetItem($.a.b, 1)",
		"States.ArrayLength($.f)", "States.ArrayUnique($.f)", "States.Base64Encode('x')", "States.Base64Decode('eA==')",
		"States.Hash('x', 'SHA-256')", "States.JsonMerge($.a, $.g, false)", "States.MathRandom(1, 10, 3)",
		"States.MathAdd(1, -2.5)", "States.StringSplit('a,b', ',')", "States.UUID()",
		"States.ArrayLength(States.Array(States.Array()))", "States.Format($$.Execution.Id)",
		"States.MathAdd(9223372036854775807, 1)", "States.ArrayRange(-9223372036854775808, 9223372036854775807, -1)",
	} {
		f.Add(seed)
	}
	doc, err := Decode([]byte(fuzzDoc))
	if err != nil {
		f.Fatal(err)
	}
	ctx := doc.(map[string]any)["g"]
	f.Fuzz(func(t *testing.T, expr string) {
		in, err := CompileIntrinsic(expr, WithRandom(&fixedSource{}))
		if err != nil {
			return
		}
		_ = in.String()
		v, err := in.Eval(doc, ctx)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Name != ErrIntrinsicFailure {
				t.Fatalf("Eval(%q) error %v, want States.IntrinsicFailure", expr, err)
			}
			return
		}
		if _, err := Marshal(v); err != nil {
			t.Fatalf("Eval(%q) gave an unencodable value: %v", expr, err)
		}
	})
}
