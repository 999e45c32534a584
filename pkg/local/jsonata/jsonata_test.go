package jsonata

import (
	"encoding/json"
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"
)

func mustDecode(t testing.TB, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

func testEnv(t testing.TB) *Env {
	vars := map[string]any{"x": json.Number("42"), "obj": mustDecode(t, `{"a":[1,2]}`)}
	return &Env{
		States: map[string]any{"input": mustDecode(t, `{"n":3,"xs":[1,2,3.5],"s":"hi","big":12345678901234567890}`)},
		Lookup: func(name string) (any, bool) {
			v, ok := vars[name]
			return v, ok
		},
		Random: func() float64 { return 0.25 },
	}
}

func TestEval(t *testing.T) {
	tests := []struct {
		expr, want string
	}{
		{`$states.input.n`, `3`},
		{`$states.input.xs`, `[1,2,3.5]`},
		{`$sum($states.input.xs)`, `6.5`},
		{`$states.input.n / 2`, `1.5`},
		{`$states.input.n * 1e21`, `3e+21`},
		{`0 - 0`, `0`},
		{`$x`, `42`},
		{`$obj.a[1]`, `2`},
		{`$states.input.s & '!'`, `"hi!"`},
		{`{'k': $states.input.missing, 'v': 1}`, `{"v":1}`},
		{`$partition([1,2,3,4,5], 2)`, `[[1,2],[3,4],[5]]`},
		{`$range(0, 10, 5)`, `[0,5,10]`},
		{`$range(10, 0, -5)`, `[10,5,0]`},
		{`$range(1, 9, 9)`, `1`},
		{`$hash('abc', 'SHA-1')`, `"a9993e364706816aba3e25717850c26c9cd0d89d"`},
		{`$hash('abc', 'SHA-512') = '` + strings.Repeat("", 0) + `ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f'`, `true`},
		{`$parse('{"a":[1,"x",null]}')`, `{"a":[1,"x",null]}`},
		{`$parse('-0')`, `0`},
		{`$random()`, `0.25`},
		{`$random(7) = $random(7)`, `true`},
		{`$uuid()`, `"40000000-4000-4000-8000-000040000000"`},
		{`$exists($nosuch)`, `false`},
		{`[$assert(true), 1]`, `[1]`}, // jsonata-js 2.0.6's $assert, which AWS has: undefined when it holds
		{`$assert($states.input.n = 3, 'n is 3') ? 0 : 1`, `1`},
		{`"$notAVariable"`, `"$notAVariable"`},
	}
	env := testEnv(t)
	for _, tc := range tests {
		x, err := Compile(tc.expr)
		if err != nil {
			t.Errorf("Compile(%s): %v", tc.expr, err)
			continue
		}
		got, err := x.Eval(env)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		b, _ := json.Marshal(got)
		if string(b) != tc.want {
			t.Errorf("%s = %s, want %s", tc.expr, b, tc.want)
		}
	}
}

func TestEvalErrors(t *testing.T) {
	tests := []struct {
		expr, want string
	}{
		{`$nosuch`, "returned nothing (undefined)"},
		{`$states.input.missing`, "returned nothing (undefined)"},
		{`$range(5, 0, 1)`, "returned nothing (undefined)"},
		{`$randomSeeded(1)`, "T1006: Attempted to invoke a non-function"},
		{`$states.input.s + 1`, `T2001: The left side of the "+" operator must evaluate to a number`},
		{`1 - $states.input.s`, `T2002: The right side of the "-" operator must evaluate to a number`},
		{`$range('0', 4, 1)`, `T0410: Argument 1 of function "range" does not match function signature`},
		{`{"a":1, "a":2}`, `D1009: Multiple key definitions evaluate to same key: "a"`},
		{`$partition([1], 0)`, "positive integer"},
		{`$range(0, 1, 0)`, "must not be 0"},
		{`$range(0, 5000, 1)`, "at most 1000 items"},
		{`$hash('a', 'MD4')`, "must be one of"},
		{`$parse('{')`, "not JSON"},
		{`$string`, "not a JSON value"},
		{`$assert(false)`, "D3141: $assert() statement failed"},
		{`$assert($states.input.n > 5, 'n is too small')`, "D3141: n is too small"},
		{`$assert('yes')`, `T0410: Argument 1 of function "assert" does not match function signature`},
	}
	env := testEnv(t)
	for _, tc := range tests {
		x, err := Compile(tc.expr)
		if err != nil {
			t.Errorf("Compile(%s): %v", tc.expr, err)
			continue
		}
		_, err = x.Eval(env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.expr, err, tc.want)
		}
	}
}

func TestTemplate(t *testing.T) {
	raw := mustDecode(t, `{"lit":" {% not an expression %} ","path":"$.x","n":1.5,"e":"{% $states.input.n + 1 %}",
		"arr":[1,"{% $x %}",{"deep":"{%$states.input.s%}"}]}`)
	tpl, err := CompileTemplate(raw, "Output")
	if err != nil {
		t.Fatal(err)
	}
	if tpl.IsLiteral() {
		t.Error("IsLiteral() = true for a template with expressions")
	}
	if got := tpl.Variables(); len(got) != 1 || got[0] != "x" {
		t.Errorf("Variables() = %v, want [x]", got)
	}
	got, err := tpl.Eval(testEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(got)
	want := `{"arr":[1,42,{"deep":"hi"}],"e":4,"lit":" {% not an expression %} ","n":1.5,"path":"$.x"}`
	if string(b) != want {
		t.Errorf("template = %s\nwant       %s", b, want)
	}

	lit, err := CompileTemplate(mustDecode(t, `{"a":[1,"b"]}`), "Output")
	if err != nil || !lit.IsLiteral() {
		t.Errorf("a template without expressions: literal %v, %v", lit != nil && lit.IsLiteral(), err)
	}
}

func TestTemplateErrorsNameTheField(t *testing.T) {
	tpl, err := CompileTemplate(mustDecode(t, `{"a":{"b":"{% $states.input.missing %}"}}`), "Output")
	if err != nil {
		t.Fatal(err)
	}
	_, err = tpl.Eval(testEnv(t))
	var je *Error
	if !errors.As(err, &je) {
		t.Fatalf("error %v, want *Error", err)
	}
	want := "The JSONata expression '$states.input.missing' specified for the field 'Output/a/b' returned nothing (undefined)."
	if je.Location != "Output/a/b" || je.Cause != want {
		t.Errorf("error %+v\nwant location Output/a/b, cause %q", je, want)
	}

	tpl, _ = CompileTemplate("{% $randomSeeded(1) %}", "Output")
	_, err = tpl.Eval(testEnv(t))
	want = "The JSONata expression '$randomSeeded(1)' specified for the field 'Output' threw an error during evaluation. T1006: Attempted to invoke a non-function"
	if !errors.As(err, &je) || je.Cause != want {
		t.Errorf("error %v\nwant cause %q", err, want)
	}

	_, err = CompileTemplate(mustDecode(t, `{"x":["{% $states.input.( %}"]}`), "Arguments")
	var se *SyntaxError
	if !errors.As(err, &se) || se.Location != "Arguments/x[0]" || se.Expr != "$states.input.(" {
		t.Errorf("syntax error %v, want one at Arguments/x[0]", err)
	}
}

func TestNumber(t *testing.T) {
	tenth, fifth := 0.1, 0.2 // variables, so the sum is computed in float64
	for f, want := range map[float64]string{0: "0", math.Copysign(0, -1): "0", 1: "1", -2.5: "-2.5", 1e20: "100000000000000000000", 1e21: "1e+21", tenth + fifth: "0.30000000000000004", 1e-7: "1e-7"} {
		got, err := Number(f)
		if err != nil || string(got) != want {
			t.Errorf("Number(%g) = %s, %v; want %s", f, got, err, want)
		}
	}
	if _, err := Number(math.Inf(1)); err == nil {
		t.Error("Number(+Inf) succeeded")
	}
}

var uuidShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestUUIDIsVersion4(t *testing.T) {
	x, _ := Compile(`$uuid()`)
	for range 20 {
		v, err := x.Eval(&Env{})
		if s, _ := v.(string); err != nil || !uuidShape.MatchString(s) {
			t.Fatalf("$uuid() = %v, %v", v, err)
		}
	}
}

func TestReferencedNames(t *testing.T) {
	got := referencedNames(`$a + $b.c & "$notme" & '$nor' & $states.input & $a`)
	want := []string{"a", "b", "states"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("referencedNames = %v, want %v", got, want)
	}
}

// A function that calls itself forever must end the evaluation with an
// error, not exhaust the Go stack (which would crash the server).
func TestRunawayRecursionIsAnError(t *testing.T) {
	x, err := Compile(`($f := function($x){ $f($x) }; $f(1))`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Eval(&Env{}); err == nil || !strings.HasPrefix(err.Error(), "U1001: Stack overflow error") {
		t.Fatalf("runaway recursion: %v, want U1001", err)
	}
	x, _ = Compile(`($f := function($n){ $n <= 0 ? 0 : 1 + $f($n - 1) }; $f(300))`)
	if v, err := x.Eval(&Env{}); err != nil || v != json.Number("300") {
		t.Fatalf("bounded recursion = %v, %v; want 300", v, err)
	}
}
