package schemacheck

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is one way a value breaks the schema: one keyword of one subschema,
// at one place in the value.
type Error struct {
	// Keyword is the keyword that failed, such as "type" or "required";
	// "false" for the false schema and "invalid" for a value JSON cannot
	// hold (NaN, an infinity, a Go type with no JSON name).
	Keyword string
	// Instance is where in the value: the keys and list indexes, from the root.
	Instance []string
	// Key says the error is about the key that ends Instance, checked by the
	// propertyNames of the mapping that holds it, not about its value.
	Key bool
	// Schema is the JSON pointer of the subschema holding Keyword, after
	// any $ref: "/$defs/awsService", "/allOf/1/then", "" for the root.
	Schema string
	// Got is what the value has and Want what Keyword asks for:
	//   type: Got the value's JSON type (a number is "number", whole or not),
	//         Want the []string of types allowed;
	//   enum, const: Got the value, Want the []any of values or the value;
	//   minimum, maximum: both *big.Rat;
	//   minLength, maxLength (in runes), minItems, minProperties,
	//         maxProperties: both int;
	//   pattern: Got the string, Want the pattern.
	Got, Want any
	// Keys are the missing keys (required), in the schema's order, or the
	// keys not allowed (additionalProperties), sorted.
	Keys []string
	// Items are the indexes of the first two equal items (uniqueItems).
	Items [2]int
}

func (e Error) Error() string {
	var detail string
	switch e.Keyword {
	case "required", "additionalProperties":
		detail = strings.Join(e.Keys, ", ")
	case "uniqueItems":
		detail = fmt.Sprintf("items %d and %d are equal", e.Items[0], e.Items[1])
	case "false":
		detail = "not allowed"
	default:
		detail = fmt.Sprintf("want %v, got %v", show(e.Want), show(e.Got))
	}
	key := ""
	if e.Key {
		key = " (key)"
	}
	return fmt.Sprintf("/%s%s: %s at %s: %s", strings.Join(e.Instance, "/"), key, e.Keyword, showPointer(e.Schema), detail)
}

func show(v any) any {
	if r, ok := v.(*big.Rat); ok {
		return r.RatString()
	}
	return v
}

// Validate checks v, a value as encoding/json or a YAML decoder builds it
// (map[string]any, []any, string, bool, nil, and numbers as int, int64,
// float64 or json.Number), and returns every error, or nil when v is valid.
//
// Like JSON Schema's reference output, a failing type, const or enum stops
// the other keywords of its subschema (they would only repeat it); every
// other keyword is checked, and every subschema that applies is.
func (s *Schema) Validate(v any) []Error {
	r := run{path: make([]string, 0, 8)}
	r.check(s.root, v)
	return r.errs
}

// Valid reports whether v is valid, stopping at the first error.
func (s *Schema) Valid(v any) bool {
	r := run{quiet: 1}
	return r.check(s.root, v)
}

// run is one validation.
type run struct {
	path []string // the instance location being checked
	// quiet counts the enclosing checks that only want a verdict (an if):
	// errors are not recorded, and the first one ends the check.
	quiet  int
	keyTok bool // checking the key ending path (propertyNames)
	errs   []Error
}

// fail records e. Callers check quiet first, so a quiet check does not
// pay for building errors it drops.
func (r *run) fail(n *node, e Error) {
	e.Instance = slices.Clone(r.path)
	e.Key = r.keyTok
	e.Schema = n.ptr
	r.errs = append(r.errs, e)
}

func (r *run) check(n *node, v any) bool {
	if n.never {
		if r.quiet == 0 {
			r.fail(n, Error{Keyword: "false"})
		}
		return false
	}
	t := typeOf(v)
	if t == "" {
		if r.quiet == 0 {
			r.fail(n, Error{Keyword: "invalid", Got: fmt.Sprintf("%T", v)})
		}
		return false
	}
	if n.types != nil && !hasType(n.types, t, v) {
		if r.quiet == 0 {
			r.fail(n, Error{Keyword: "type", Got: t, Want: n.types})
		}
		return false
	}
	if n.hasConst && !equal(v, n.constant) {
		if r.quiet == 0 {
			r.fail(n, Error{Keyword: "const", Got: v, Want: n.constant})
		}
		return false
	}
	if n.enum != nil && !slices.ContainsFunc(n.enum, func(w any) bool { return equal(v, w) }) {
		if r.quiet == 0 {
			r.fail(n, Error{Keyword: "enum", Got: v, Want: n.enum})
		}
		return false
	}
	// In a quiet check the first failure decides; otherwise every keyword
	// that applies is checked, for every error.
	valid := true
	if n.ref != nil {
		valid = r.check(n.ref, v)
		if !valid && r.quiet > 0 {
			return false
		}
	}
	switch v := v.(type) {
	case map[string]any:
		valid = r.object(n, v) && valid
	case []any:
		valid = r.array(n, v) && valid
	case string:
		valid = r.str(n, v) && valid
	case bool, nil:
	default:
		valid = r.number(n, v) && valid
	}
	if !valid && r.quiet > 0 {
		return false
	}
	for _, sub := range n.allOf {
		valid = r.check(sub, v) && valid
		if !valid && r.quiet > 0 {
			return false
		}
	}
	if n.ifSchema != nil {
		r.quiet++
		matched := r.check(n.ifSchema, v)
		r.quiet--
		if matched && n.thenSchema != nil {
			valid = r.check(n.thenSchema, v) && valid
		}
	}
	return valid
}

// child checks v, found under tok, against n.
func (r *run) child(n *node, tok string, v any) bool {
	r.path = append(r.path, tok)
	valid := r.check(n, v)
	r.path = r.path[:len(r.path)-1]
	return valid
}

func (r *run) object(n *node, obj map[string]any) bool {
	ok := true
	if n.minProps >= 0 && len(obj) < n.minProps {
		if r.quiet > 0 {
			return false
		}
		r.fail(n, Error{Keyword: "minProperties", Got: len(obj), Want: n.minProps})
		ok = false
	}
	if n.maxProps >= 0 && len(obj) > n.maxProps {
		if r.quiet > 0 {
			return false
		}
		r.fail(n, Error{Keyword: "maxProperties", Got: len(obj), Want: n.maxProps})
		ok = false
	}
	var missing []string
	for _, k := range n.required {
		if _, set := obj[k]; !set {
			if r.quiet > 0 {
				return false
			}
			missing = append(missing, k)
		}
	}
	if missing != nil {
		r.fail(n, Error{Keyword: "required", Keys: missing})
		ok = false
	}
	var extra []string
	for k, v := range obj {
		switch sub := n.properties[k]; {
		case sub != nil:
			ok = r.child(sub, k, v) && ok
		case n.additional != nil:
			ok = r.child(n.additional, k, v) && ok
		case n.noAdditional:
			extra = append(extra, k)
			ok = false
		}
		if !ok && r.quiet > 0 {
			return false
		}
	}
	if extra != nil {
		slices.Sort(extra)
		if r.quiet > 0 {
			return false
		}
		r.fail(n, Error{Keyword: "additionalProperties", Keys: extra})
	}
	if n.propertyNames != nil {
		for k := range obj {
			r.path = append(r.path, k)
			r.keyTok = true
			ok = r.check(n.propertyNames, k) && ok
			r.keyTok = false
			r.path = r.path[:len(r.path)-1]
			if !ok && r.quiet > 0 {
				return false
			}
		}
	}
	return ok
}

func (r *run) array(n *node, arr []any) bool {
	ok := true
	if n.minItems >= 0 && len(arr) < n.minItems {
		if r.quiet > 0 {
			return false
		}
		r.fail(n, Error{Keyword: "minItems", Got: len(arr), Want: n.minItems})
		ok = false
	}
	if n.uniqueItems {
		if first, again := duplicate(arr); again >= 0 {
			if r.quiet > 0 {
				return false
			}
			r.fail(n, Error{Keyword: "uniqueItems", Items: [2]int{first, again}})
			ok = false
		}
	}
	if n.items != nil {
		for i, item := range arr {
			ok = r.child(n.items, strconv.Itoa(i), item) && ok
			if !ok && r.quiet > 0 {
				return false
			}
		}
	}
	return ok
}

func (r *run) str(n *node, s string) bool {
	ok := true
	if n.minLength >= 0 || n.maxLength >= 0 {
		length := utf8.RuneCountInString(s)
		if n.minLength >= 0 && length < n.minLength {
			if r.quiet > 0 {
				return false
			}
			r.fail(n, Error{Keyword: "minLength", Got: length, Want: n.minLength})
			ok = false
		}
		if n.maxLength >= 0 && length > n.maxLength {
			if r.quiet > 0 {
				return false
			}
			r.fail(n, Error{Keyword: "maxLength", Got: length, Want: n.maxLength})
			ok = false
		}
	}
	if n.pattern != nil && !n.pattern.MatchString(s) {
		if r.quiet > 0 {
			return false
		}
		r.fail(n, Error{Keyword: "pattern", Got: s, Want: n.pattern.String()})
		ok = false
	}
	return ok
}

func (r *run) number(n *node, v any) bool {
	ok := true
	if n.minimum != nil && n.minimum.cmp(v) > 0 {
		if r.quiet > 0 {
			return false
		}
		r.fail(n, Error{Keyword: "minimum", Got: ratOf(v), Want: n.minimum.rat})
		ok = false
	}
	if n.maximum != nil && n.maximum.cmp(v) < 0 {
		if r.quiet > 0 {
			return false
		}
		r.fail(n, Error{Keyword: "maximum", Got: ratOf(v), Want: n.maximum.rat})
		ok = false
	}
	return ok
}

// typeOf names v's JSON type, or "" when JSON has none for it.
func typeOf(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case int, int64:
		return "number"
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return ""
		}
		return "number"
	case json.Number:
		if _, ok := new(big.Rat).SetString(v.String()); ok {
			return "number"
		}
	}
	return ""
}

func hasType(types []string, t string, v any) bool {
	if slices.Contains(types, t) {
		return true
	}
	return t == "number" && slices.Contains(types, "integer") && isWhole(v)
}

// isWhole says whether the number v is a whole number. A float64 is whole
// exactly when its shortest decimal form is, so this agrees with reading the
// number from its JSON text.
func isWhole(v any) bool {
	switch n := v.(type) {
	case int, int64:
		return true
	case float64:
		return n == math.Trunc(n)
	}
	return ratOf(v).IsInt()
}

// exact is the number v as an int64 when it is a whole number both int64
// and float64 hold exactly: the common case, compared without big.Rat.
func exact(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case float64:
		if n == math.Trunc(n) && math.Abs(n) <= 1<<53 {
			return int64(n), true
		}
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// ratOf is the number v as its JSON text says it, exactly: a float64 is
// read as its shortest decimal form (0.1 is one tenth), as the number a
// release file wrote.
func ratOf(v any) *big.Rat {
	var text string
	switch n := v.(type) {
	case int:
		return new(big.Rat).SetInt64(int64(n))
	case int64:
		return new(big.Rat).SetInt64(n)
	case float64:
		text = strconv.FormatFloat(n, 'g', -1, 64)
	case json.Number:
		text = n.String()
	}
	r, ok := new(big.Rat).SetString(text)
	if !ok {
		return new(big.Rat)
	}
	return r
}

// cmp compares the bound with the number v.
func (b *bound) cmp(v any) int {
	if b.isInt {
		if x, ok := exact(v); ok {
			return cmp.Compare(b.whole, x)
		}
		// A whole bound float64 holds exactly is at least an ulp from any
		// other float64, farther than the float's shortest decimal form
		// strays from it, so comparing the floats compares those forms.
		if f, ok := v.(float64); ok && b.whole >= -1<<53 && b.whole <= 1<<53 {
			return cmp.Compare(float64(b.whole), f)
		}
	}
	return b.rat.Cmp(ratOf(v))
}

func isNumber(v any) bool {
	switch v.(type) {
	case int, int64, float64, json.Number:
		return true
	}
	return false
}

// equal is JSON equality: numbers by value (1 and 1.0 are equal), mappings
// whatever their order.
func equal(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, av := range a {
			bv, ok := b[k]
			if !ok || !equal(av, bv) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		return ok && slices.EqualFunc(a, b, equal)
	case string:
		b, ok := b.(string)
		return ok && a == b
	case bool:
		b, ok := b.(bool)
		return ok && a == b
	case nil:
		return b == nil
	}
	if !isNumber(a) || !isNumber(b) {
		return false
	}
	if x, ok := exact(a); ok {
		if y, ok := exact(b); ok {
			return x == y
		}
	}
	return ratOf(a).Cmp(ratOf(b)) == 0
}

// duplicate finds the first item equal to an earlier one: the smallest
// again whose value an earlier item has, and the first such item. It
// returns again -1 when every item is distinct.
func duplicate(arr []any) (first, again int) {
	if len(arr) <= 16 {
		for i := 1; i < len(arr); i++ {
			for j := range i {
				if equal(arr[i], arr[j]) {
					return j, i
				}
			}
		}
		return -1, -1
	}
	seen := make(map[string]int, len(arr))
	var sb strings.Builder
	for i, item := range arr {
		sb.Reset()
		canonical(&sb, item)
		k := sb.String()
		if j, dup := seen[k]; dup {
			return j, i
		}
		seen[k] = i
	}
	return -1, -1
}

// canonical writes a text that two values share exactly when they are equal.
func canonical(sb *strings.Builder, v any) {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		sb.WriteByte('{')
		for _, k := range keys {
			sb.WriteString(strconv.Quote(k))
			sb.WriteByte(':')
			canonical(sb, v[k])
			sb.WriteByte(',')
		}
		sb.WriteByte('}')
	case []any:
		sb.WriteByte('[')
		for _, item := range v {
			canonical(sb, item)
			sb.WriteByte(',')
		}
		sb.WriteByte(']')
	case string:
		sb.WriteString(strconv.Quote(v))
	case bool:
		sb.WriteString(strconv.FormatBool(v))
	case nil:
		sb.WriteString("null")
	default:
		if x, ok := exact(v); ok {
			sb.WriteString(strconv.FormatInt(x, 10))
		} else {
			sb.WriteString(ratOf(v).RatString())
		}
	}
}
