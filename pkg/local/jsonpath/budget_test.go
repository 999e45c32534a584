package jsonpath

import (
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// deepObject is {"a":{"a":...{"a":1}...}}, depth levels deep: small as text,
// but "$..*" over it selects every subtree, whose sizes add up to
// depth²/2 times the text's.
func deepObject(depth int) string {
	return strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
}

// nestedFormat nests States.Format fan-out wide, depth deep, around arg: a
// definition of a few KB whose value would be fan-out^depth times arg's.
func nestedFormat(arg string, fanOut, depth int) string {
	expr := arg
	for range depth {
		expr = "States.Format('" + strings.Repeat("{}", fanOut) + "'" + strings.Repeat(", "+expr, fanOut) + ")"
	}
	return expr
}

// nestedJSONArray nests States.JsonToString(States.Array(x, x, ...)).
func nestedJSONArray(arg string, fanOut, depth int) string {
	expr := arg
	for range depth {
		expr = "States.JsonToString(States.Array(" + strings.TrimPrefix(strings.Repeat(", "+expr, fanOut), ", ") + "))"
	}
	return expr
}

func bigInput(t testing.TB) any {
	t.Helper()
	doc, err := Decode([]byte(`{"s":"` + strings.Repeat("x", 250*1024) + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// allocated runs fn and returns the bytes it allocated (all goroutines, so
// run it alone): the budget is checked before the memory is spent, so a
// hostile evaluation allocates a few MB, not the GB its value would weigh.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

const hostileAllocLimit = 64 << 20

func TestBudgetHostileIntrinsics(t *testing.T) {
	input := bigInput(t)
	cases := []struct {
		name string
		expr string
	}{
		// 14 KB and 3 KB of definition; values of 512 and 243 times the input.
		{"nested Format", nestedFormat("$.s", 2, 9)},
		{"nested JsonToString of Array", nestedJSONArray("$.s", 3, 5)},
		{"wide Format", "States.Format('" + strings.Repeat("{}", 2000) + "'" + strings.Repeat(", $.s", 2000) + ")"},
		{"Array of the input", "States.Array(" + strings.TrimPrefix(strings.Repeat(", $", 3000), ", ") + ")"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.expr) > 24*1024 {
				t.Fatalf("the definition is %d bytes, meant to be small", len(tc.expr))
			}
			in, err := CompileIntrinsic(tc.expr)
			if err != nil {
				t.Fatal(err.Error()[len(err.Error())-100:])
			}
			var evalErr error
			n := allocated(func() { _, evalErr = in.Eval(input, nil) })
			var le *LimitError
			if !errors.As(evalErr, &le) || le.Steps {
				t.Fatalf("Eval: %v, want a size *LimitError", evalErr)
			}
			if n > hostileAllocLimit {
				t.Errorf("allocated %d MB before failing; the budget must stop it first", n>>20)
			}
		})
	}
}

func TestBudgetHostilePaths(t *testing.T) {
	deep, err := Decode([]byte(deepObject(9000)))
	if err != nil {
		t.Fatal(err)
	}
	wide := make([]any, 3000)
	for i := range wide {
		wide[i] = map[string]any{"x": json.Number("1"), "y": []any{"a", "b"}}
	}
	cases := []struct {
		name  string
		path  string
		doc   any
		steps bool
	}{
		{"every subtree of a deep input", "$..*", deep, false},
		{"every subtree twice", "$..*..*", deep, false},
		// Each element's filter scans the whole document: quadratic work.
		{"filter that scans the whole input per element", "$[?($..x == 7)]", wide, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			var getErr error
			n := allocated(func() { _, getErr = p.Get(tc.doc) })
			var le *LimitError
			if !errors.As(getErr, &le) || le.Steps != tc.steps {
				t.Fatalf("Get: %v, want a *LimitError with Steps=%v", getErr, tc.steps)
			}
			if n > hostileAllocLimit {
				t.Errorf("allocated %d MB before failing; the budget must stop it first", n>>20)
			}
		})
	}
}

// TestBudgetTemplate: a template whose fields each hold the whole input
// weighs their sum, and is refused over the payload limit.
func TestBudgetTemplate(t *testing.T) {
	input := bigInput(t)
	fields := map[string]any{}
	for i := range 4 {
		fields["f"+string(rune('a'+i))+".$"] = "$.s"
	}
	tpl, err := CompileTemplate(fields)
	if err != nil {
		t.Fatal(err)
	}
	var le *LimitError
	if _, err := tpl.Eval(input, nil); !errors.As(err, &le) || le.Steps {
		t.Fatalf("Eval: %v, want a size *LimitError", err)
	}
	// One copy fits.
	one, _ := CompileTemplate(map[string]any{"s.$": "$.s"})
	if _, err := one.Eval(input, nil); err != nil {
		t.Fatalf("a template within the limit: %v", err)
	}
}

// TestBudgetLeavesOrdinaryWorkAlone: the budgets are far above what real
// definitions need.
func TestBudgetLeavesOrdinaryWorkAlone(t *testing.T) {
	items := make([]any, 1000)
	for i := range items {
		items[i] = map[string]any{"id": json.Number("1"), "tags": []any{"a", "b"}}
	}
	doc := map[string]any{"items": items}
	for _, expr := range []string{"$..id", "$.items[?(@.id == 1)]", "$..*"} {
		p, err := Compile(expr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Get(doc); err != nil {
			t.Errorf("%s: %v", expr, err)
		}
	}
	in, err := CompileIntrinsic("States.Format('{} and {}', States.JsonToString($.items[0]), States.ArrayLength($.items))")
	if err != nil {
		t.Fatal(err)
	}
	v, err := in.Eval(doc, nil)
	if err != nil || v != `{"id":1,"tags":["a","b"]} and 1000` {
		t.Errorf("Eval = %v, %v", v, err)
	}
}

// TestSize: Size agrees with Marshal byte for byte, and stops early.
func TestSize(t *testing.T) {
	values := []string{
		`null`, `true`, `false`, `0`, `-1.5e300`, `"plain"`, `"quote \" backslash \\ tab \t nl \n"`,
		`"\u0001\u001f\b\f\r"`, `"é ü 漢字 🙂"`, `"\u2028\u2029"`, `"<tag> & more"`,
		`[]`, `{}`, `[1,[2,[3]],{"a":{"b":[]}}]`, `{"k\"ey":"v","":null,"z":[true,false]}`,
	}
	for _, text := range values {
		v, err := Decode([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := Marshal(v)
		if n, ok := Size(v, 1<<20); !ok || n != len(want) {
			t.Errorf("Size(%s) = %d, %v; Marshal gives %d bytes", text, n, ok, len(want))
		}
	}
	invalid := string([]byte{'a', 0xff, 'b'})
	want, _ := Marshal(invalid)
	if n, _ := Size(invalid, 100); n != len(want) {
		t.Errorf("Size of invalid UTF-8 = %d, Marshal gives %d", n, len(want))
	}
	deep, _ := Decode([]byte(deepObject(5000)))
	if n, ok := Size(deep, 100); ok || n > 200 {
		t.Errorf("Size(deep, 100) = %d, %v: it must stop soon after the limit", n, ok)
	}
}

func FuzzSize(f *testing.F) {
	f.Add(`{"a":[1,"x\u0000",null]}`)
	f.Add(`"\ud800"`)
	f.Fuzz(func(t *testing.T, text string) {
		v, err := Decode([]byte(text))
		if err != nil {
			return
		}
		want, err := Marshal(v)
		if err != nil {
			return
		}
		if n, ok := Size(v, len(want)); !ok || n != len(want) {
			t.Fatalf("Size(%q) = %d, %v; Marshal gives %d bytes", text, n, ok, len(want))
		}
	})
}

func BenchmarkHostileDeepWildcard(b *testing.B) {
	deep, _ := Decode([]byte(deepObject(9000)))
	p, _ := Compile("$..*")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Get(deep); err == nil {
			b.Fatal("no error")
		}
	}
}

func BenchmarkHostileNestedFormat(b *testing.B) {
	input := bigInput(b)
	in, _ := CompileIntrinsic(nestedFormat("$.s", 2, 9))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := in.Eval(input, nil); err == nil {
			b.Fatal("no error")
		}
	}
}
