package jsonpath

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

const intrinsicInput = `{
  "name": "Arnav",
  "template": "Hello, my name is {}.",
  "arr": [1, 2, 3, 4, 5, 6, 7, 8, 9],
  "dups": [1, 2, 3, 3, 3, 3, 3, 3, 4, "a", "a", {"x": 1}, {"x": 1.0}, [1], [1], 1.0, null, null],
  "obj": {"Arg1": 1, "Arg2": [], "s": "t"},
  "json1": {"a": {"a1": 1, "a2": 2}, "b": 2},
  "json2": {"a": {"a3": 1, "a4": 2}, "c": 3},
  "str": "{\"k\":[1,2,{\"z\":null}]}",
  "split": "This.is+a,test=string",
  "splitter": ".+,=",
  "index": 5,
  "float": 1.5,
  "neg": -1.5,
  "b64": "RGF0YSB0byBlbmNvZGU=",
  "emptyArr": []
}`

func TestIntrinsics(t *testing.T) {
	input := mustDecode(t, intrinsicInput)
	ctx := mustDecode(t, `{"Execution":{"Name":"exec-1"},"Map":{"Item":{"Index":3}}}`)
	tests := []struct{ expr, want string }{
		{"States.Format('Hello, my name is {}.', $.name)", `"Hello, my name is Arnav."`},
		{"States.Format($.template, $.name)", `"Hello, my name is Arnav."`},
		{"States.Format('plain')", `"plain"`},
		{"States.Format('{}{}', 'a', 'b')", `"ab"`},
		{`States.Format('\{} is literal, {} is not', 1)`, `"{} is literal, 1 is not"`},
		{`States.Format('it\'s \\ {}', 'x')`, `"it's \\ x"`},
		{"States.Format('{} {} {} {} {}', $.obj, $.arr, null, true, $.float)", `"{Arg1=1, Arg2=[], s=t} [1, 2, 3, 4, 5, 6, 7, 8, 9] null true 1.5"`},
		{"States.Format('{} {} {}', 10000000.0, 0.0001, 2.0)", `"1.0E7 1.0E-4 2.0"`},
		{"States.Format('run {}', $$.Execution.Name)", `"run exec-1"`},
		{"States.StringToJson($.str)", `{"k":[1,2,{"z":null}]}`},
		{"States.StringToJson('  ')", `null`},
		{"States.StringToJson('\"<&>\"')", `"<&>"`},
		{"States.JsonToString($.obj)", `"{\"Arg1\":1,\"Arg2\":[],\"s\":\"t\"}"`},
		{"States.JsonToString('<&>')", `"\"<&>\""`},
		{"States.JsonToString(States.StringToJson($.str))", `"{\"k\":[1,2,{\"z\":null}]}"`},
		{"States.Array()", `[]`},
		{"States.Array('a', 1, null, true, false, $.obj.s, States.Array(2))", `["a",1,null,true,false,"t",[2]]`},
		{"States.ArrayPartition($.arr, 4)", `[[1,2,3,4],[5,6,7,8],[9]]`},
		{"States.ArrayPartition($.arr, 100)", `[[1,2,3,4,5,6,7,8,9]]`},
		{"States.ArrayPartition($.emptyArr, 2)", `[]`},
		{"States.ArrayContains($.arr, 5)", `true`},
		{"States.ArrayContains($.arr, 5.0)", `true`},
		{"States.ArrayContains($.arr, '5')", `false`},
		{"States.ArrayContains($.dups, $.json1.b)", `true`},
		{"States.ArrayRange(1, 9, 2)", `[1,3,5,7,9]`},
		{"States.ArrayRange(10, 1, -3)", `[10,7,4,1]`},
		{"States.ArrayRange(1, 1, 5)", `[1]`},
		{"States.ArrayRange(5, 1, 1)", `[]`},
		{"States.ArrayRange(0, 999, 1)", ``}, // 1000 items: checked by length
		{"States.ArrayGetItem($.arr, $.index)", `6`},
		{"States.ArrayGetItem($.arr, 0)", `1`},
		{"States.ArrayLength($.arr)", `9`},
		{"States.ArrayLength($.emptyArr)", `0`},
		{"States.ArrayUnique($.dups)", `[1,2,3,4,"a",{"x":1},[1],null]`},
		{"States.Base64Encode('Data to encode')", `"RGF0YSB0byBlbmNvZGU="`},
		{"States.Base64Encode('é')", `"w6k="`},
		{"States.Base64Decode($.b64)", `"Data to encode"`},
		{"States.Base64Decode(States.Base64Encode('round trip'))", `"round trip"`},
		{"States.Hash('input data', 'MD5')", `"812f45842bc6d66ee14572ce20db8e86"`},
		{"States.Hash('input data', 'SHA-1')", `"aaff4a450a104cd177d28d18d74485e8cae074b7"`},
		{"States.Hash('input data', 'SHA-256')", `"b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"`},
		{"States.Hash('input data', 'SHA-384')", `"d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562"`},
		{"States.Hash('input data', 'SHA-512')", `"6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4"`},
		{"States.JsonMerge($.json1, $.json2, false)", `{"a":{"a3":1,"a4":2},"b":2,"c":3}`},
		{"States.MathRandom(1, 1)", `1`},
		{"States.MathAdd(111, -1)", `110`},
		{"States.MathAdd($.float, 1)", `3`},
		{"States.MathAdd($.neg, 0)", `-1`},
		{"States.MathAdd(-2.5, 0)", `-2`},
		{"States.MathAdd($$.Map.Item.Index, 1)", `4`},
		{"States.StringSplit($.split, $.splitter)", `["This","is","a","test","string"]`},
		{"States.StringSplit('1,2,,3,', ',')", `["1","2","3"]`},
		{"States.StringSplit('abc', '')", `["abc"]`},
		{"States.ArrayLength( $.arr )  ", `9`},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			in, err := CompileIntrinsic(tt.expr)
			if err != nil {
				t.Fatalf("CompileIntrinsic: %v", err)
			}
			got, err := in.Eval(input, ctx)
			if err != nil {
				t.Fatalf("Eval: %v", err)
			}
			s := mustJSON(t, got)
			switch {
			case strings.HasPrefix(tt.expr, "States.ArrayRange(0, 999"):
				if a := got.([]any); len(a) != 1000 || mustJSON(t, a[999]) != "999" {
					t.Errorf("ArrayRange gave %d items", len(a))
				}
			default:
				if s != tt.want {
					t.Errorf("Eval = %s, want %s", s, tt.want)
				}
			}
		})
	}
}

func TestIntrinsicsCompileErrors(t *testing.T) {
	tests := []struct{ expr, msg string }{
		{"States.Nope()", `unknown intrinsic function "States.Nope"`},
		{"States.format('x')", `unknown intrinsic function "States.format"`},
		{"Format('x')", "starts with 'States.'"},
		{"States.Format", "expected '(' after States.Format"},
		{"States.Format()", "States.Format takes at least 1 argument"},
		{"States.UUID(1)", "States.UUID takes 0 arguments but got 1"},
		{"States.MathRandom(1)", "States.MathRandom takes 2 to 3 arguments but got 1"},
		{"States.ArrayLength($.a, $.b)", "takes 1 argument but got 2"},
		{"States.Format('x'", "expected ',' or ')'"},
		{"States.Format('x) ", "unterminated string"},
		{`States.Format('\n')`, `invalid escape`},
		{"States.Format('x') trailing", `unexpected "trailing" after the call`},
		{"States.Array(1,)", "unexpected ')'"},
		{"States.Array(nul)", "unexpected 'n'"},
		{"States.Array(nullx)", "unexpected 'n'"},
		{"States.Array(1.2.3)", "invalid number"},
		{"States.Array($.a[)", "in brackets"},
		{"States.Array(" + strings.Repeat("States.Array(", 10) + strings.Repeat(")", 11), "nest more than 10 deep"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := CompileIntrinsic(tt.expr)
			if err == nil {
				t.Fatalf("CompileIntrinsic(%q) succeeded", tt.expr)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q, want %q in it", err, tt.msg)
			}
		})
	}
	// Ten levels are allowed.
	ten := strings.Repeat("States.Array(", 10) + strings.Repeat(")", 10)
	if _, err := CompileIntrinsic(ten); err != nil {
		t.Errorf("ten nested calls: %v", err)
	}
}

// TestIntrinsicFailures checks every runtime error of every intrinsic: each
// must be States.IntrinsicFailure with a cause that names the function and
// the problem. The causes live in testdata/intrinsic_failures.golden.
func TestIntrinsicFailures(t *testing.T) {
	input := mustDecode(t, intrinsicInput)
	exprs := []string{
		"States.Format($.arr, 1)",
		"States.Format('{} {}', 1)",
		"States.Format('{}', 1, 2)",
		"States.StringToJson(1)",
		"States.StringToJson('{')",
		"States.StringToJson('1 2')",
		"States.ArrayPartition($.obj, 2)",
		"States.ArrayPartition($.arr, 0)",
		"States.ArrayPartition($.arr, 1.5)",
		"States.ArrayPartition($.arr, 'x')",
		"States.ArrayContains('x', 1)",
		"States.ArrayRange(1, 9, 0)",
		"States.ArrayRange(1.5, 9, 1)",
		"States.ArrayRange(0, 1000, 1)",
		"States.ArrayRange(-9223372036854775808, 9223372036854775807, 1)",
		"States.ArrayRange('1', 9, 1)",
		"States.ArrayGetItem($.arr, 9)",
		"States.ArrayGetItem($.arr, -1)",
		"States.ArrayGetItem($.arr, 'a')",
		"States.ArrayGetItem($.obj, 1)",
		"States.ArrayLength($.obj)",
		"States.ArrayUnique(null)",
		"States.Base64Encode(1)",
		"States.Base64Encode($.long)",
		"States.Base64Decode('not base64!')",
		"States.Base64Decode('/w==')",
		"States.Base64Decode($.long)",
		"States.Hash('x', 'SHA256')",
		"States.Hash(1, 'MD5')",
		"States.Hash($.long, 'MD5')",
		"States.Hash('x', null)",
		"States.JsonMerge($.json1, $.json2, true)",
		"States.JsonMerge($.json1, $.json2, 'false')",
		"States.JsonMerge($.arr, $.json2, false)",
		"States.JsonMerge($.json1, 1, false)",
		"States.MathRandom(5, 1)",
		"States.MathRandom('a', 1)",
		"States.MathRandom(1, 5, 'seed')",
		"States.MathAdd('1', 2)",
		"States.MathAdd(9223372036854775807, 1)",
		"States.MathAdd(1e300, 1)",
		"States.StringSplit(1, ',')",
		"States.StringSplit('a', 1)",
		"States.ArrayLength(States.ArrayGetItem($.arr, 99))",
	}
	m := input.(map[string]any)
	m["long"] = strings.Repeat("é", maxEncodedChars+1)
	var golden strings.Builder
	for _, expr := range exprs {
		in, err := CompileIntrinsic(expr)
		if err != nil {
			t.Errorf("CompileIntrinsic(%q): %v", expr, err)
			continue
		}
		v, err := in.Eval(input, nil)
		var e *Error
		if !errors.As(err, &e) || e.Name != ErrIntrinsicFailure {
			t.Errorf("%s = %v, %v; want States.IntrinsicFailure", expr, v, err)
			continue
		}
		fn := expr[:strings.IndexByte(expr, '(')]
		if expr == "States.ArrayLength(States.ArrayGetItem($.arr, 99))" {
			fn = "States.ArrayGetItem" // the inner call's failure surfaces as is
		}
		if !strings.HasPrefix(e.Cause, "Invalid arguments in "+fn+": ") {
			t.Errorf("%s: cause %q does not name %s", expr, e.Cause, fn)
		}
		fmt.Fprintf(&golden, "%s\n\t%s\n", expr, e.Cause)
	}
	checkGolden(t, "intrinsic_failures.golden", golden.String())
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// fixedSource is a deterministic random source for UUID and MathRandom tests.
type fixedSource struct{ next uint64 }

func (f *fixedSource) Uint64() uint64 {
	f.next += 0x9e3779b97f4a7c15
	return f.next
}

func TestRandomness(t *testing.T) {
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	in, err := CompileIntrinsic("States.UUID()")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[any]bool{}
	for range 100 {
		v, err := in.Eval(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !uuidRE.MatchString(v.(string)) {
			t.Fatalf("UUID %q is not a version 4 UUID", v)
		}
		if seen[v] {
			t.Fatalf("UUID %q repeated", v)
		}
		seen[v] = true
	}

	// An injected source makes UUID and unseeded MathRandom reproducible.
	eval := func(expr string) string {
		in, err := CompileIntrinsic(expr, WithRandom(&fixedSource{}))
		if err != nil {
			t.Fatal(err)
		}
		v, err := in.Eval(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return mustJSON(t, v)
	}
	for _, expr := range []string{"States.UUID()", "States.MathRandom(1, 1000)"} {
		if a, b := eval(expr), eval(expr); a != b {
			t.Errorf("%s with the same source: %s then %s", expr, a, b)
		}
	}

	// A seeded MathRandom is deterministic whatever the source, and stays in
	// range; different seeds give different sequences.
	seeded, _ := CompileIntrinsic("States.MathRandom(1, 1000000, 7)")
	first, _ := seeded.Eval(nil, nil)
	for range 10 {
		if v, _ := seeded.Eval(nil, nil); v != first {
			t.Fatalf("seeded MathRandom gave %v then %v", first, v)
		}
	}
	other, _ := CompileIntrinsic("States.MathRandom(1, 1000000, 8)")
	if v, _ := other.Eval(nil, nil); v == first {
		t.Errorf("seeds 7 and 8 both gave %v", v)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		lo, hi := r.IntN(50)-25, 0
		hi = lo + r.IntN(5)
		in, _ := CompileIntrinsic(fmt.Sprintf("States.MathRandom(%d, %d)", lo, hi))
		v, err := in.Eval(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := integer(v)
		if n < int64(lo) || n > int64(hi) {
			t.Fatalf("MathRandom(%d, %d) = %d", lo, hi, n)
		}
	}
	full, _ := CompileIntrinsic("States.MathRandom(-9223372036854775808, 9223372036854775807)")
	if _, err := full.Eval(nil, nil); err != nil {
		t.Errorf("MathRandom over the whole int64 range: %v", err)
	}
}

func TestIsIntrinsic(t *testing.T) {
	for expr, want := range map[string]bool{"States.Format('x')": true, "$.a": false, "States": false, "states.Format()": false} {
		if IsIntrinsic(expr) != want {
			t.Errorf("IsIntrinsic(%q) = %v", expr, !want)
		}
	}
}
