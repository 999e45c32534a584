package jsonata

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzTemplate compiles and evaluates arbitrary fields: whatever the text,
// compiling and evaluating return a value or an error, never a panic.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		`"{% $states.input.a %}"`, `{"k":"{% $sum([1,2]) %}"}`, `["{% $x %}", 1]`,
		`"{% $range(0, 3, 1) %}"`, `"{% $partition($states.input.xs, 2) %}"`, `"{% ( %}"`,
		`"{% $hash($string($states.input), 'SHA-256') %}"`, `"{% $parse('[1') %}"`,
		`"{% $states.input.xs[$ > 1] %}"`, `"{% $states.input ~> $keys() %}"`,
	} {
		f.Add(s, `{"a":1,"xs":[1,2,3]}`)
	}
	f.Fuzz(func(t *testing.T, field, input string) {
		var raw any
		if json.Unmarshal([]byte(field), &raw) != nil {
			return
		}
		var in any
		d := json.NewDecoder(strings.NewReader(input))
		d.UseNumber()
		if d.Decode(&in) != nil {
			return
		}
		tpl, err := CompileTemplate(raw, "Output")
		if err != nil {
			return
		}
		env := &Env{States: map[string]any{"input": in}, Lookup: func(string) (any, bool) { return json.Number("1"), true }}
		v, err := tpl.Eval(env)
		if err == nil {
			if _, err := json.Marshal(v); err != nil {
				t.Fatalf("result %#v is not JSON: %v", v, err)
			}
		}
	})
}
