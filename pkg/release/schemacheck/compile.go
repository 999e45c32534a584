// Package schemacheck validates JSON-like values against the part of JSON
// Schema 2020-12 that schema/release.schema.json uses, and refuses to compile
// a schema that uses any other keyword.
//
// It replaces a general JSON Schema library whose package initialisation
// compiled its meta-schemas on every start of odin (about 10 ms and 1.7 MB),
// including the commands that never validate. This package does no work
// until Compile is called.
package schemacheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Draft is the only dialect ($schema) Compile accepts.
const Draft = "https://json-schema.org/draft/2020-12/schema"

// Schema is a compiled schema. It is immutable, so one Schema can validate
// from many goroutines at once.
type Schema struct {
	root *node
	// byPointer holds every subschema compiled, by JSON pointer.
	byPointer map[string]*node
}

// node is one compiled (sub)schema. Unset limits are -1.
type node struct {
	ptr   string // JSON pointer of the subschema in its document
	never bool   // the false schema

	types    []string // the types the keyword allows, in typeOrder
	hasConst bool
	constant any
	enum     []any // nil when there is no enum keyword
	ref      *node
	refText  string

	properties           map[string]*node
	additional           *node // additionalProperties as a schema
	noAdditional         bool  // additionalProperties: false
	required             []string
	minProps, maxProps   int
	propertyNames        *node
	minItems             int
	uniqueItems          bool
	items                *node
	minLength, maxLength int
	pattern              *regexp.Regexp
	minimum, maximum     *bound

	allOf      []*node
	ifSchema   *node
	thenSchema *node
}

// bound is a minimum or maximum: exact, with the common whole-number case
// comparable without big.Rat.
type bound struct {
	rat   *big.Rat
	whole int64
	isInt bool
}

// typeOrder is the order Error.Want lists types in for "type", whatever
// order the schema wrote them in.
var typeOrder = []string{"null", "boolean", "number", "integer", "string", "array", "object"}

// Compile compiles the schema document doc (JSON). A keyword this package
// does not implement, a malformed keyword value, a $ref it cannot resolve or
// a $ref cycle is an error, never silently ignored.
func Compile(doc []byte) (*Schema, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("parse schema: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("parse schema: more than one JSON value")
	}
	c := &compiler{doc: raw, nodes: map[string]*node{}}
	if m, ok := raw.(map[string]any); ok {
		if d, ok := m["$schema"]; ok && d != Draft {
			return nil, fmt.Errorf("schema: $schema is %v; only %s is supported", d, Draft)
		}
	}
	root := c.compile(raw, "")
	// A $ref may point at any subschema, so the ones not yet compiled are
	// compiled as they are met.
	for len(c.refs) > 0 && c.err == nil {
		n := c.refs[0]
		c.refs = c.refs[1:]
		n.ref = c.resolve(n)
	}
	if c.err != nil {
		return nil, c.err
	}
	if cycle, found := findCycle(c.nodes); found {
		return nil, fmt.Errorf("schema: $ref cycle through %s: validation would never end", showPointer(cycle))
	}
	return &Schema{root: root, byPointer: c.nodes}, nil
}

// Properties names the keys the "properties" keyword of the subschema at
// pointer (a JSON pointer such as "/$defs/service"; "" for the root) lists,
// sorted; nil when there is no such subschema.
func (s *Schema) Properties(pointer string) []string {
	n := s.byPointer[pointer]
	if n == nil {
		return nil
	}
	names := make([]string, 0, len(n.properties))
	for k := range n.properties {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

type compiler struct {
	doc   any
	nodes map[string]*node
	refs  []*node // nodes whose $ref is not resolved yet
	err   error   // the first error; later ones are often its echoes
}

func (c *compiler) fail(ptr, format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("schema %s: %s", showPointer(ptr), fmt.Sprintf(format, args...))
	}
}

func showPointer(ptr string) string {
	if ptr == "" {
		return "(root)"
	}
	return ptr
}

func (c *compiler) compile(raw any, ptr string) *node {
	if n := c.nodes[ptr]; n != nil {
		return n
	}
	n := &node{ptr: ptr, minProps: -1, maxProps: -1, minItems: -1, minLength: -1, maxLength: -1}
	c.nodes[ptr] = n
	switch v := raw.(type) {
	case bool:
		n.never = !v
		return n
	case map[string]any:
		// Keys in order, so the first error of a broken schema is always the same.
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			c.keyword(n, k, v[k], ptr)
		}
		return n
	}
	c.fail(ptr, "a schema must be an object or a boolean, not %s", jsonKind(raw))
	return n
}

// keyword compiles one keyword of the subschema n at ptr.
func (c *compiler) keyword(n *node, k string, v any, ptr string) {
	at := ptr + "/" + escapeToken(k)
	switch k {
	case "description", "title":
		if _, ok := v.(string); !ok {
			c.fail(at, "must be a string")
		}
	case "default":
	case "$schema":
		if ptr != "" {
			c.fail(at, "$schema is supported only at the root")
		}
	case "$id":
		// A nested $id would change what $ref resolves against.
		if _, ok := v.(string); !ok || ptr != "" {
			c.fail(at, "$id is supported only at the root, as a string")
		}
	case "$defs", "properties":
		m, ok := v.(map[string]any)
		if !ok {
			c.fail(at, "must be an object of schemas")
			return
		}
		for name, sub := range m {
			s := c.compile(sub, at+"/"+escapeToken(name))
			if k == "properties" {
				if n.properties == nil {
					n.properties = make(map[string]*node, len(m))
				}
				n.properties[name] = s
			}
		}
	case "type":
		n.types = c.types(v, at)
	case "const":
		n.hasConst, n.constant = true, v
	case "enum":
		a, ok := v.([]any)
		if !ok {
			c.fail(at, "must be an array")
			return
		}
		n.enum = a
	case "$ref":
		s, ok := v.(string)
		if !ok {
			c.fail(at, "must be a string")
			return
		}
		n.refText = s
		c.refs = append(c.refs, n)
	case "additionalProperties":
		if b, ok := v.(bool); ok && !b {
			n.noAdditional = true
			return
		}
		n.additional = c.compile(v, at)
	case "required":
		n.required = c.strings(v, at)
	case "minProperties":
		n.minProps = c.count(v, at)
	case "maxProperties":
		n.maxProps = c.count(v, at)
	case "propertyNames":
		n.propertyNames = c.compile(v, at)
	case "minItems":
		n.minItems = c.count(v, at)
	case "uniqueItems":
		b, ok := v.(bool)
		if !ok {
			c.fail(at, "must be a boolean")
		}
		n.uniqueItems = b
	case "items":
		n.items = c.compile(v, at)
	case "minLength":
		n.minLength = c.count(v, at)
	case "maxLength":
		n.maxLength = c.count(v, at)
	case "pattern":
		s, ok := v.(string)
		if !ok {
			c.fail(at, "must be a string")
			return
		}
		re, err := regexp.Compile(s)
		if err != nil {
			c.fail(at, "%v", err)
			return
		}
		n.pattern = re
	case "minimum":
		n.minimum = c.bound(v, at)
	case "maximum":
		n.maximum = c.bound(v, at)
	case "allOf":
		a, ok := v.([]any)
		if !ok || len(a) == 0 {
			c.fail(at, "must be a non-empty array of schemas")
			return
		}
		for i, sub := range a {
			n.allOf = append(n.allOf, c.compile(sub, at+"/"+strconv.Itoa(i)))
		}
	case "if":
		n.ifSchema = c.compile(v, at)
	case "then":
		n.thenSchema = c.compile(v, at)
	default:
		c.fail(at, "keyword %q is not supported by odin's schema validator (pkg/release/schemacheck); implement it there before using it", k)
	}
}

func (c *compiler) types(v any, at string) []string {
	var names []string
	switch v := v.(type) {
	case string:
		names = []string{v}
	case []any:
		for _, t := range v {
			s, ok := t.(string)
			if !ok {
				c.fail(at, "must be a type name or an array of them")
				return nil
			}
			names = append(names, s)
		}
	default:
		c.fail(at, "must be a type name or an array of them")
		return nil
	}
	if len(names) == 0 {
		c.fail(at, "must name at least one type")
	}
	for i, t := range names {
		if !slices.Contains(typeOrder, t) || slices.Contains(names[:i], t) {
			c.fail(at, "%q is not a JSON type, or is listed twice", t)
		}
	}
	var ordered []string
	for _, t := range typeOrder {
		if slices.Contains(names, t) {
			ordered = append(ordered, t)
		}
	}
	return ordered
}

func (c *compiler) strings(v any, at string) []string {
	a, ok := v.([]any)
	if !ok {
		c.fail(at, "must be an array of strings")
		return nil
	}
	out := make([]string, 0, len(a))
	for _, item := range a {
		s, ok := item.(string)
		if !ok || slices.Contains(out, s) {
			c.fail(at, "must be an array of distinct strings")
			return nil
		}
		out = append(out, s)
	}
	return out
}

// count reads a non-negative whole number (2020-12 allows 1.0).
func (c *compiler) count(v any, at string) int {
	if num, ok := v.(json.Number); ok {
		if r, ok := new(big.Rat).SetString(num.String()); ok && r.IsInt() && r.Sign() >= 0 && r.Num().IsInt64() && r.Num().Int64() <= 1<<31 {
			return int(r.Num().Int64())
		}
	}
	c.fail(at, "must be a non-negative integer")
	return -1
}

func (c *compiler) bound(v any, at string) *bound {
	num, ok := v.(json.Number)
	if !ok {
		c.fail(at, "must be a number")
		return nil
	}
	r, ok := new(big.Rat).SetString(num.String())
	if !ok {
		c.fail(at, "must be a number")
		return nil
	}
	b := &bound{rat: r}
	if r.IsInt() && r.Num().IsInt64() {
		b.whole, b.isInt = r.Num().Int64(), true
	}
	return b
}

// resolve finds the subschema n's $ref names. Only references into the same
// document ("#/$defs/name", any JSON pointer) are supported.
func (c *compiler) resolve(n *node) *node {
	at := n.ptr + "/$ref"
	frag, ok := strings.CutPrefix(n.refText, "#")
	if !ok {
		c.fail(at, "%q: only references within the schema (#/...) are supported", n.refText)
		return nil
	}
	ptr, err := url.PathUnescape(frag)
	if err != nil || (ptr != "" && !strings.HasPrefix(ptr, "/")) {
		c.fail(at, "%q: only JSON pointer fragments (#/...) are supported", n.refText)
		return nil
	}
	if target := c.nodes[ptr]; target != nil {
		return target
	}
	raw := c.doc
	for _, tok := range strings.Split(ptr, "/")[1:] {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch v := raw.(type) {
		case map[string]any:
			raw, ok = v[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			ok = err == nil && i >= 0 && i < len(v)
			if ok {
				raw = v[i]
			}
		default:
			ok = false
		}
		if !ok {
			c.fail(at, "%q points at nothing", n.refText)
			return nil
		}
	}
	return c.compile(raw, ptr)
}

// findCycle returns the pointer of a subschema that reaches itself through
// keywords that apply to the same value ($ref, allOf, if, then).
func findCycle(nodes map[string]*node) (string, bool) {
	const (
		unseen = iota
		active
		done
	)
	state := map[*node]int{}
	var visit func(n *node) (string, bool)
	visit = func(n *node) (string, bool) {
		switch state[n] {
		case active:
			return n.ptr, true
		case done:
			return "", false
		}
		state[n] = active
		for _, m := range append([]*node{n.ref, n.ifSchema, n.thenSchema}, n.allOf...) {
			if m == nil {
				continue
			}
			if p, found := visit(m); found {
				return p, true
			}
		}
		state[n] = done
		return "", false
	}
	ptrs := make([]string, 0, len(nodes))
	for p := range nodes {
		ptrs = append(ptrs, p)
	}
	slices.Sort(ptrs)
	for _, p := range ptrs {
		if cycle, found := visit(nodes[p]); found {
			return cycle, true
		}
	}
	return "", false
}

func escapeToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}
