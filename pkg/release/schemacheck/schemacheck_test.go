package schemacheck

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/odin-deploy/odin/schema"
)

func TestCompilesReleaseSchema(t *testing.T) {
	s, err := Compile(schema.JSON())
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Properties("/$defs/ebs"); strings.Join(got, " ") != "device_name iops volume_size volume_type" {
		t.Errorf("ebs properties %v", got)
	}
	if s.Properties("/$defs/nothing") != nil {
		t.Error("properties of a missing subschema")
	}
}

// TestCompileRefuses checks that a schema this package cannot honour fails
// to compile, naming where, rather than being partly ignored.
func TestCompileRefuses(t *testing.T) {
	tests := []struct {
		name, schema, want string
	}{
		{"unknown keyword", `{"format": "email"}`, `schema /format: keyword "format" is not supported`},
		{"keyword of another draft", `{"items": {}, "maxItems": 3}`, `schema /maxItems: keyword "maxItems"`},
		{"else", `{"if": true, "then": true, "else": false}`, `schema /else: keyword "else"`},
		{"unknown keyword deep", `{"properties": {"a": {"items": {"allOf": [{"exclusiveMinimum": 1}]}}}}`,
			`schema /properties/a/items/allOf/0/exclusiveMinimum: keyword "exclusiveMinimum"`},
		{"unknown keyword in an unused definition", `{"$defs": {"x": {"oneOf": [true]}}}`, `schema /$defs/x/oneOf: keyword "oneOf"`},
		{"unknown keyword in propertyNames", `{"propertyNames": {"format": "uuid"}}`, `schema /propertyNames/format:`},
		{"another dialect", `{"$schema": "http://json-schema.org/draft-07/schema#"}`, `only https://json-schema.org/draft/2020-12/schema is supported`},
		{"nested $id", `{"properties": {"a": {"$id": "https://example.com/a"}}}`, `schema /properties/a/$id: $id is supported only at the root`},
		{"unknown type", `{"type": "strin"}`, `schema /type: "strin" is not a JSON type`},
		{"type listed twice", `{"type": ["string", "string"]}`, `listed twice`},
		{"no types", `{"type": []}`, `schema /type: must name at least one type`},
		{"negative length", `{"minLength": -1}`, `schema /minLength: must be a non-negative integer`},
		{"fractional count", `{"minItems": 1.5}`, `schema /minItems: must be a non-negative integer`},
		{"length as a string", `{"maxLength": "3"}`, `schema /maxLength: must be a non-negative integer`},
		{"minimum as a string", `{"minimum": "3"}`, `schema /minimum: must be a number`},
		{"bad pattern", `{"pattern": "(["}`, `schema /pattern: error parsing regexp`},
		{"required not strings", `{"required": [1]}`, `schema /required: must be an array of distinct strings`},
		{"required twice", `{"required": ["a", "a"]}`, `must be an array of distinct strings`},
		{"enum not an array", `{"enum": "a"}`, `schema /enum: must be an array`},
		{"items as an array", `{"items": [{}]}`, `schema /items: a schema must be an object or a boolean, not an array`},
		{"schema as a string", `{"properties": {"a": "string"}}`, `schema /properties/a: a schema must be an object or a boolean`},
		{"empty allOf", `{"allOf": []}`, `schema /allOf: must be a non-empty array`},
		{"uniqueItems not a boolean", `{"uniqueItems": 1}`, `schema /uniqueItems: must be a boolean`},
		{"remote $ref", `{"$ref": "https://example.com/other.json"}`, `only references within the schema`},
		{"$ref to an anchor", `{"$ref": "#name"}`, `only JSON pointer fragments`},
		{"$ref to nothing", `{"$ref": "#/$defs/missing"}`, `schema /$ref: "#/$defs/missing" points at nothing`},
		{"$ref cycle", `{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"allOf": [{"$ref": "#/$defs/a"}]}}}`, `$ref cycle through`},
		{"$ref to itself", `{"$ref": "#"}`, `$ref cycle through (root)`},
		{"not JSON", `{"type": }`, `parse schema:`},
		{"two values", `{} {}`, `more than one JSON value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile([]byte(tt.schema))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestCompileAccepts covers what the release schema does not use but the
// keywords it does allow.
func TestCompileAccepts(t *testing.T) {
	for _, s := range []string{
		`true`, `false`, `{}`,
		`{"type": ["integer", "null"], "minimum": 0.5, "maximum": 1e3}`,
		`{"minLength": 1.0}`,
		`{"$ref": "#/properties/a", "properties": {"a": {"type": "string"}}}`,
		`{"$defs": {"a/b": {"$defs": {"c~d": true}}}, "$ref": "#/$defs/a~1b/$defs/c~0d"}`,
		`{"allOf": [{"$ref": "#/allOf/1"}, {"type": "object"}]}`,
		`{"if": {"required": ["a"]}}`,
		`{"items": {"$ref": "#"}}`,
	} {
		if _, err := Compile([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name, schema, value string
		want                []string // Error.Error() of each error, in order
	}{
		{"valid", `{"type": "object", "properties": {"a": {"type": "string"}}}`, `{"a": "x"}`, nil},
		{"false schema", `false`, `1`, []string{"/: false at (root): not allowed"}},
		{"true schema", `true`, `[1, {"a": null}]`, nil},
		{"type", `{"type": "string"}`, `1`, []string{"/: type at (root): want [string], got number"}},
		{"types listed in a fixed order", `{"type": ["object", "null", "string"]}`, `true`,
			[]string{"/: type at (root): want [null string object], got boolean"}},
		{"integer accepts a whole float", `{"type": "integer"}`, `2.0`, nil},
		{"integer refuses a fraction", `{"type": "integer"}`, `2.5`, []string{"/: type at (root): want [integer], got number"}},
		{"number accepts an integer", `{"type": "number"}`, `2`, nil},
		{"type failure stops the subschema", `{"type": "string", "minLength": 3, "allOf": [false]}`, `5`,
			[]string{"/: type at (root): want [string], got number"}},
		{"const", `{"const": "local"}`, `"aws"`, []string{"/: const at (root): want local, got aws"}},
		{"const of a number", `{"const": 1}`, `1.0`, nil},
		{"const failure stops the subschema", `{"const": "a", "pattern": "^b"}`, `"c"`, []string{"/: const at (root): want a, got c"}},
		{"enum", `{"enum": ["http", "tcp"]}`, `"grpc"`, []string{"/: enum at (root): want [http tcp], got grpc"}},
		{"enum of another type", `{"enum": ["1"]}`, `1`, []string{"/: enum at (root): want [1], got 1"}},
		{"enum of structures", `{"enum": [{"a": [1, 2]}]}`, `{"a": [1.0, 2]}`, nil},
		{"required, in the schema's order", `{"required": ["b", "a", "c"]}`, `{"c": 1}`, []string{"/: required at (root): b, a"}},
		{"required ignores a non-object", `{"required": ["a"]}`, `"x"`, nil},
		{"additionalProperties false, sorted", `{"properties": {"a": true}, "additionalProperties": false}`, `{"z": 1, "a": 1, "b": 2}`,
			[]string{"/: additionalProperties at (root): b, z"}},
		{"additionalProperties schema", `{"properties": {"a": true}, "additionalProperties": {"type": "string"}}`, `{"a": 1, "b": 2}`,
			[]string{"/b: type at /additionalProperties: want [string], got number"}},
		{"min and max properties", `{"minProperties": 2, "maxProperties": 0}`, `{"a": 1}`,
			[]string{"/: minProperties at (root): want 2, got 1", "/: maxProperties at (root): want 0, got 1"}},
		{"propertyNames", `{"propertyNames": {"maxLength": 2}}`, `{"abc": 1}`,
			[]string{"/abc (key): maxLength at /propertyNames: want 2, got 3"}},
		{"minItems, uniqueItems and items", `{"minItems": 4, "uniqueItems": true, "items": {"type": "string"}}`, `["a", 1, "a"]`,
			[]string{"/: minItems at (root): want 4, got 3", "/: uniqueItems at (root): items 0 and 2 are equal", "/1: type at /items: want [string], got number"}},
		{"uniqueItems compares numbers by value", `{"uniqueItems": true}`, `[1, 2, 1.0]`, []string{"/: uniqueItems at (root): items 0 and 2 are equal"}},
		{"uniqueItems of many items", `{"uniqueItems": true}`, `[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,{"a":[1]},18,19,{"a":[1.0]},2]`,
			[]string{"/: uniqueItems at (root): items 18 and 21 are equal"}},
		{"uniqueItems of many distinct items", `{"uniqueItems": true}`, `[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,"1",[1],{"1":1},true,null,1.5]`, nil},
		{"lengths count runes", `{"minLength": 3, "maxLength": 3}`, `"ééé"`, nil},
		{"lengths", `{"minLength": 2, "maxLength": 0}`, `"é"`,
			[]string{"/: minLength at (root): want 2, got 1", "/: maxLength at (root): want 0, got 1"}},
		{"pattern is not anchored", `{"pattern": "b"}`, `"abc"`, nil},
		{"pattern", `{"pattern": "^b"}`, `"abc"`, []string{"/: pattern at (root): want ^b, got abc"}},
		{"minimum and maximum", `{"minimum": 1.5, "maximum": 1}`, `1.25`,
			[]string{"/: minimum at (root): want 3/2, got 5/4", "/: maximum at (root): want 1, got 5/4"}},
		{"bounds are inclusive", `{"minimum": 0.1, "maximum": 0.1}`, `0.1`, nil},
		{"$ref and its siblings both apply", `{"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s", "maxLength": 1}`, `"ab"`,
			[]string{"/: maxLength at (root): want 1, got 2"}},
		{"$ref reports the target's location", `{"$defs": {"s": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/s"}}}`, `{"a": 1}`,
			[]string{"/a: type at /$defs/s: want [string], got number"}},
		{"allOf reports every branch", `{"allOf": [{"minimum": 5}, {"maximum": 0}]}`, `3`,
			[]string{"/: minimum at /allOf/0: want 5, got 3", "/: maximum at /allOf/1: want 0, got 3"}},
		{"if true applies then", `{"if": {"required": ["a"]}, "then": {"required": ["b"]}}`, `{"a": 1}`, []string{"/: required at /then: b"}},
		{"if false skips then", `{"if": {"required": ["a"]}, "then": false}`, `{"b": 1}`, nil},
		{"errors of if are not reported", `{"if": {"properties": {"t": {"const": "x"}}}, "then": true}`, `{"t": "y"}`, nil},
		{"false property", `{"properties": {"image": false}}`, `{"image": "x"}`, []string{"/image: false at /properties/image: not allowed"}},
		{"nested locations", `{"properties": {"s": {"additionalProperties": {"items": {"minimum": 0}}}}}`, `{"s": {"web": [1, -1]}}`,
			[]string{"/s/web/1: minimum at /properties/s/additionalProperties/items: want 0, got -1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Compile([]byte(tt.schema))
			if err != nil {
				t.Fatal(err)
			}
			var v any
			if err := json.Unmarshal([]byte(tt.value), &v); err != nil {
				t.Fatal(err)
			}
			errs := s.Validate(v)
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if s.Valid(v) != (len(errs) == 0) {
				t.Errorf("Valid says %v, Validate found %d errors", s.Valid(v), len(errs))
			}
		})
	}
}

// TestValidateGoValues covers the numbers a YAML decoder makes, and values
// JSON has no room for.
func TestValidateGoValues(t *testing.T) {
	s, err := Compile([]byte(`{"type": "integer", "minimum": 2}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{int(2), int64(2), float64(2), json.Number("2"), json.Number("2.0")} {
		if errs := s.Validate(v); errs != nil {
			t.Errorf("%T %v: %v", v, v, errs)
		}
	}
	for _, v := range []any{int(1), int64(1), float64(1.5), json.Number("1")} {
		if s.Valid(v) {
			t.Errorf("%T %v is valid", v, v)
		}
	}
	// Beyond 2^53, where float64 skips whole numbers.
	big, err := Compile([]byte(`{"maximum": 9007199254740992, "uniqueItems": true}`))
	if err != nil {
		t.Fatal(err)
	}
	if big.Valid(int64(9007199254740993)) || !big.Valid(int64(9007199254740992)) || !big.Valid(float64(9007199254740992)) {
		t.Error("maximum 2^53 misjudged past float64's precision")
	}
	if !big.Valid([]any{int64(1<<62 + 1), int64(1 << 62)}) || big.Valid([]any{float64(1e20), json.Number("100000000000000000000")}) {
		t.Error("uniqueItems misjudged past float64's precision")
	}
	nan := 0.0
	nan /= nan
	for _, v := range []any{nan, struct{}{}, []string{"a"}} {
		errs := s.Validate(v)
		if len(errs) != 1 || errs[0].Keyword != "invalid" {
			t.Errorf("%T %v: %v, want one invalid", v, v, errs)
		}
	}
}
