package jsonpath

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// mustDecode decodes test JSON or stops the test.
func mustDecode(t testing.TB, s string) any {
	t.Helper()
	v, err := Decode([]byte(s))
	if err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

const store = `{
  "store": {
    "book": [
      {"category": "reference", "author": "Nigel Rees", "title": "Sayings", "price": 8.95},
      {"category": "fiction", "author": "Evelyn Waugh", "title": "Sword", "price": 12.99},
      {"category": "fiction", "author": "Herman Melville", "title": "Moby Dick", "isbn": "0-553", "price": 8.99},
      {"category": "fiction", "author": "J. R. R. Tolkien", "title": "LOTR", "isbn": "0-395", "price": 22.99}
    ],
    "bicycle": {"color": "red", "price": 19.95}
  },
  "a b": {"c'd": 1},
  "q\\\"x\"": 2,
  "r\"s": 3,
  "n": null,
  "big": 12345678901234567890,
  "arr": [0, 1, 2, 3, 4, 5]
}`

func TestGet(t *testing.T) {
	doc := mustDecode(t, store)
	tests := []struct {
		expr     string
		want     string
		definite bool
	}{
		{"$", "", true}, // whole document, checked below
		{"$.store.bicycle.color", `"red"`, true},
		{"$['store']['bicycle']['price']", `19.95`, true},
		{`$["store"].bicycle`, `{"color":"red","price":19.95}`, true},
		{"$['a b']['c\\'d']", `1`, true},
		// A backslash before anything but the enclosing quote is part of the name (AWS).
		{`$['q\"x"']`, `2`, true},
		{`$["r\"s"]`, `3`, true}, // \" escapes the enclosing quote
		{"$.n", `null`, true},
		{"$.big", `12345678901234567890`, true},
		{"$.store.book[0].title", `"Sayings"`, true},
		{"$.store.book[-1].title", `"LOTR"`, true},
		{"$.arr[ 2 ]", `2`, true},
		{"$.store.book[*].author", `["Nigel Rees","Evelyn Waugh","Herman Melville","J. R. R. Tolkien"]`, false},
		{"$.store.book[0,2].price", `[8.95,8.99]`, false},
		{"$.arr[1:3]", `[1,2]`, false},
		{"$.arr[:2]", `[0,1]`, false},
		{"$.arr[-2:]", `[4,5]`, false},
		{"$.arr[::2]", `[0,2,4]`, false},
		{"$.arr[::-2]", `[5,3,1]`, false},
		{"$.arr[4:100]", `[4,5]`, false},
		{"$.arr[7:9]", `[]`, false},
		{"$..isbn", `["0-553","0-395"]`, false},
		{"$.store..price", `[19.95,8.95,12.99,8.99,22.99]`, false},
		{"$.store.*.color", `["red"]`, false},
		{"$.store.book[?(@.isbn)].title", `["Moby Dick","LOTR"]`, false},
		{"$.store.book[?(@.price < 10)].title", `["Sayings","Moby Dick"]`, false},
		{"$.store.book[?(@.price >= 12.99 && @.category == 'fiction')].title", `["Sword","LOTR"]`, false},
		{"$.store.book[?(@.author == 'Nigel Rees' || @.price > 20)].title", `["Sayings","LOTR"]`, false},
		{"$.store.book[?(!(@.category == \"fiction\"))].title", `["Sayings"]`, false},
		{"$.store.book[?(@.price > $.store.bicycle.price)].title", `["LOTR"]`, false},
		{"$.store.book[?(@.isbn != '0-553')].title", `["Sayings","Sword","LOTR"]`, false},
		{"$.store.book[?(@.title > 'M')].title", `["Sayings","Sword","Moby Dick"]`, false},
		{"$.store.book[?(@.price == 8.950)].title", `["Sayings"]`, false},
		{"$.arr[?(@ > 3)]", `[4,5]`, false},
		{"$.missing[*]", `[]`, false},
		{"$$.Execution.Id", ``, true}, // context path: read on any doc
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			p, err := Compile(tt.expr)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if p.IsDefinite() != tt.definite {
				t.Errorf("IsDefinite = %v, want %v", p.IsDefinite(), tt.definite)
			}
			if p.String() != tt.expr {
				t.Errorf("String = %q", p.String())
			}
			if p.IsContext() {
				ctx := mustDecode(t, `{"Execution":{"Id":"arn:x"}}`)
				v, err := p.Get(ctx)
				if err != nil || v != "arn:x" {
					t.Fatalf("Get on context = %v, %v", v, err)
				}
				return
			}
			v, err := p.Get(doc)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			want := tt.want
			if tt.expr == "$" {
				want = mustJSON(t, doc)
			}
			if got := mustJSON(t, v); got != want {
				t.Errorf("Get = %s, want %s", got, want)
			}
		})
	}
}

func TestGetNotFound(t *testing.T) {
	doc := mustDecode(t, `{"a":{"b":"s","arr":[1]},"X":null}`)
	tests := []struct {
		expr   string
		detail string
		error  string
	}{
		{"$.X.y", "No results for path: $['X']['y']", ""},
		{"$.Y", "No results for path: $['Y']", "Invalid path '$.Y' : No results for path: $['Y']"},
		{"$.a.zz", "No results for path: $['a']['zz']", ""},
		{"$.q.r.s", "Missing property in path $['q']", "Invalid path '$.q.r.s' : Missing property in path $['q']"},
		{"$.a.b.c", "No results for path: $['a']['b']['c']", ""},
		{"$.a.arr[1]", "No results for path: $['a']['arr'][1]", ""},
		{"$.a.arr[-2]", "No results for path: $['a']['arr'][-2]", ""},
		{"$.a[0]", "No results for path: $['a'][0]", ""},
		{"$['it''s']", "", ""}, // syntax error, checked below
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			p, err := Compile(tt.expr)
			if tt.detail == "" {
				if err == nil {
					t.Fatalf("Compile(%q) succeeded, want a syntax error", tt.expr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			_, err = p.Get(doc)
			var nf *NotFoundError
			if !errors.As(err, &nf) {
				t.Fatalf("Get error = %v, want *NotFoundError", err)
			}
			if nf.Detail() != tt.detail {
				t.Errorf("Detail = %q, want %q", nf.Detail(), tt.detail)
			}
			if tt.error != "" && nf.Error() != tt.error {
				t.Errorf("Error = %q, want %q", nf.Error(), tt.error)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct{ expr, msg string }{
		{"", "must start with '$'"},
		{"a.b", "must start with '$'"},
		{"$.", "expected a member name"},
		{"$.a.", "expected a member name"},
		{"$[", "unexpected end of expression in brackets"},
		{"$['a'", "expected ']'"},
		{"$['a", "unterminated quoted name"},
		{"$['a',", "expected a quoted name after ','"},
		{"$[1", "expected ']'"},
		{"$[::0]", "slice step must not be 0"},
		{"$[?(@.a ==)]", "unexpected ')' in filter"},
		{"$[?(@.a]", "expected ')'"},
		{"$[?@.a]", "expected '(' after '?'"},
		{"$[?($$.a)]", "cannot read the context object"},
		{"$[99999999999999999999]", "invalid index"},
		{"$ .a", "unexpected \" .a\""},
		{"$.a b", "unexpected \" b\""},
		{"$[?(" + strings.Repeat("(", 40) + "@.a" + strings.Repeat(")", 40) + ")]", "nested more than"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := Compile(tt.expr)
			if err == nil {
				t.Fatalf("Compile(%q) succeeded", tt.expr)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T, want *SyntaxError", err)
			}
			if !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), "'"+tt.expr+"'") {
				t.Errorf("error %q, want it to name the expression and say %q", err, tt.msg)
			}
		})
	}
}

func TestCompileReference(t *testing.T) {
	for _, ok := range []string{"$", "$.a", "$.a[0].b", "$['x y']", "$$.Task.Token"} {
		if _, err := CompileReference(ok); err != nil {
			t.Errorf("CompileReference(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"$.a[*]", "$..a", "$.a[0,1]", "$.a[1:2]", "$.a[?(@.x)]", "$['a','b']", "$.*", "x"} {
		if _, err := CompileReference(bad); err == nil {
			t.Errorf("CompileReference(%q) succeeded, want an error", bad)
		}
	}
}

func TestSet(t *testing.T) {
	tests := []struct {
		doc, path, value string
		want             string
		err              string // Detail of the *NotFoundError
	}{
		{`{"a":1}`, "$", `{"r":true}`, `{"r":true}`, ""},
		{`"scalar"`, "$", `2`, `2`, ""},
		{`{"a":1}`, "$.result", `"x"`, `{"a":1,"result":"x"}`, ""},
		{`{"a":1}`, "$.a", `{"b":2}`, `{"a":{"b":2}}`, ""},
		{`{"a":1}`, "$.x.y.z", `3`, `{"a":1,"x":{"y":{"z":3}}}`, ""},
		{`{"a":{"k":1}}`, "$.a.b", `null`, `{"a":{"b":null,"k":1}}`, ""},
		{`{"a":[1,{"b":2}]}`, "$.a[1].c", `3`, `{"a":[1,{"b":2,"c":3}]}`, ""},
		{`{"a":[1,2]}`, "$.a[-1]", `9`, `{"a":[1,9]}`, ""},
		{`{"a":"s"}`, "$.a.b", `1`, "", "Missing property in path $['a']"},
		{`{"a":[1]}`, "$.a[3]", `1`, "", "Missing property in path $['a'][3]"},
		{`{"a":{}}`, "$.a[0]", `1`, "", "Missing property in path $['a']"},
		{`"s"`, "$.a", `1`, "", "Missing property in path $"},
		{`null`, "$.a", `1`, "", "Missing property in path $"},
	}
	for _, tt := range tests {
		t.Run(tt.doc+" "+tt.path, func(t *testing.T) {
			doc := mustDecode(t, tt.doc)
			before := mustJSON(t, doc)
			p, err := CompileReference(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Set(doc, p, mustDecode(t, tt.value))
			if tt.err != "" {
				var nf *NotFoundError
				if !errors.As(err, &nf) || nf.Detail() != tt.err {
					t.Fatalf("Set error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Set: %v", err)
			}
			if s := mustJSON(t, got); s != tt.want {
				t.Errorf("Set = %s, want %s", s, tt.want)
			}
			if after := mustJSON(t, doc); after != before {
				t.Errorf("Set changed its input: %s became %s", before, after)
			}
		})
	}
}

// TestSetSharesNothingItChanges checks the copy-on-write promise: a value
// reachable from the old document through another reference never changes.
func TestSetSharesNothingItChanges(t *testing.T) {
	doc := mustDecode(t, `{"a":{"b":{"c":1}},"keep":{"x":1}}`)
	alias := doc.(map[string]any)["a"].(map[string]any)
	p, _ := CompileReference("$.a.b.d")
	out, err := Set(doc, p, "new")
	if err != nil {
		t.Fatal(err)
	}
	if _, changed := alias["b"].(map[string]any)["d"]; changed {
		t.Fatal("Set wrote into a map the caller still holds")
	}
	om := out.(map[string]any)
	if om["keep"].(map[string]any)["x"] == nil {
		t.Fatal("untouched branch lost")
	}
}

func TestSetRejectsIndefinite(t *testing.T) {
	p, _ := Compile("$.a[*]")
	if _, err := Set(map[string]any{}, p, 1); err == nil {
		t.Fatal("Set through a wildcard succeeded")
	}
}

func TestNormalized(t *testing.T) {
	for expr, want := range map[string]string{
		"$":              "$",
		"$.a.b":          "$['a']['b']",
		"$['it\\'s'][2]": "$['it\\'s'][2]",
		"$.a[*]":         "$.a[*]",
	} {
		p, err := Compile(expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Normalized(); got != want {
			t.Errorf("Normalized(%q) = %q, want %q", expr, got, want)
		}
	}
}

func TestDecodeMarshal(t *testing.T) {
	v, err := Decode([]byte(` {"html":"<a&b>","n":1.50,"big":123456789012345678901234567890} `))
	if err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(t, v); got != `{"big":123456789012345678901234567890,"html":"<a&b>","n":1.50}` {
		t.Errorf("round trip = %s", got)
	}
	for _, bad := range []string{``, `{"a":1} {}`, `{"a":1}x`, `{`, `[1,]`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) succeeded", bad)
		}
	}
}

func TestVariablePaths(t *testing.T) {
	vars := map[string]any{"x": map[string]any{"a": []any{"p", "q"}}, "n": json.Number("3")}
	env := &Env{Context: map[string]any{"k": "ctx"}, Lookup: func(name string) (any, bool) {
		v, ok := vars[name]
		return v, ok
	}}
	for _, c := range []struct {
		path string
		want any
	}{
		{"$x.a[1]", "q"},
		{"$n", json.Number("3")},
		{"$$.k", "ctx"},
		{"$.in", "input"},
	} {
		p, err := Compile(c.path)
		if err != nil {
			t.Fatalf("Compile(%q): %v", c.path, err)
		}
		doc, err := Doc(p, map[string]any{"in": "input"}, env)
		if err != nil {
			t.Fatalf("Doc(%q): %v", c.path, err)
		}
		got, err := p.Get(doc)
		if err != nil || !equal(got, c.want) {
			t.Errorf("%s = %v, %v; want %v", c.path, got, err, c.want)
		}
	}
	p, _ := Compile("$missing.a")
	if p.Variable() != "missing" {
		t.Errorf("Variable() = %q", p.Variable())
	}
	var ue *UndefinedVariableError
	if _, err := Doc(p, nil, env); !errors.As(err, &ue) {
		t.Errorf("Doc on an unassigned variable: %v, want *UndefinedVariableError", err)
	}
	tpl, err := CompileTemplate(map[string]any{"v.$": "States.Format('n={}', $n)"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := tpl.Eval(nil, env)
	if err != nil || got.(map[string]any)["v"] != "n=3" {
		t.Errorf("intrinsic over a variable = %v, %v", got, err)
	}
}

func TestCompileFieldUsesVariables(t *testing.T) {
	for expr, want := range map[string]bool{"$errorVar": true, "$.a": false, "States.Format('{}', $v)": true, "$$.Execution.Id": false} {
		tpl, err := CompileField("ErrorPath", expr)
		if err != nil || tpl.UsesVariables() != want {
			t.Errorf("CompileField(%q).UsesVariables() = %v, %v; want %v", expr, tpl != nil && tpl.UsesVariables(), err, want)
		}
	}
}
