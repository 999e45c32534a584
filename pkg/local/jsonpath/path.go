package jsonpath

import (
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Path is a compiled JSONPath expression: "$", "$.a.b", "$['a b']",
// "$.a[0]", "$.a[-1]", "$.a[*].b", "$..x", "$.a[1:3]", "$.a[0,2]",
// "$.a[?(@.x > 1)]", or a context path starting with "$$".
type Path struct {
	expr     string
	context  bool
	variable string // "$name...": the workflow variable the path reads
	definite bool
	segs     []segment
}

type segKind uint8

const (
	segName     segKind = iota // .a or ['a'] or ['a','b']
	segIndex                   // [0] or [0,2]
	segWildcard                // .* or [*]
	segSlice                   // [1:3:1]
	segFilter                  // [?(...)]
)

type segment struct {
	kind      segKind
	recursive bool // reached with "..": applies to the node and every descendant
	names     []string
	indexes   []int
	// slice bounds; hasStart/hasEnd say whether they were written
	start, end, step int
	hasStart, hasEnd bool
	filter           *filterExpr
}

// single reports whether the segment selects at most one child.
func (s *segment) single() bool {
	return !s.recursive && ((s.kind == segName && len(s.names) == 1) || (s.kind == segIndex && len(s.indexes) == 1))
}

// Compile parses a JSONPath expression.
func Compile(expr string) (*Path, error) {
	p := &parser{src: expr}
	path, err := p.path()
	if err != nil {
		return nil, err
	}
	if p.pos != len(expr) {
		return nil, p.errorf("unexpected %q", expr[p.pos:])
	}
	return path, nil
}

// CompileReference parses a reference path, the kind ResultPath, ItemsPath
// and the *Path fields of Choice and Wait take: it must select at most one
// value, so wildcards, slices, unions, filters and ".." are refused. Whether
// "$$" is allowed depends on the field; the caller checks IsContext.
func CompileReference(expr string) (*Path, error) {
	p, err := Compile(expr)
	if err != nil {
		return nil, err
	}
	if !p.definite {
		return nil, &SyntaxError{Expr: expr, Offset: -1, Msg: "a reference path must select a single value (no wildcards, slices, unions, filters or '..')"}
	}
	return p, nil
}

// String returns the expression as written.
func (p *Path) String() string { return p.expr }

// IsContext reports whether the path reads the Context Object ("$$").
func (p *Path) IsContext() bool { return p.context }

// Variable returns the name of the workflow variable the path reads ("x"
// for "$x.a"), or "" for a path on the input or the Context Object.
func (p *Path) Variable() string { return p.variable }

// IsDefinite reports whether the path selects at most one value.
func (p *Path) IsDefinite() bool { return p.definite }

// Normalized returns the path in Jayway's bracket form, "$['a'][0]", which
// AWS prints in its error causes. For an indefinite path it returns the
// expression as written.
func (p *Path) Normalized() string {
	if !p.definite {
		return p.expr
	}
	return p.normalizedPrefix(len(p.segs))
}

func (p *Path) normalizedPrefix(n int) string {
	var b strings.Builder
	b.WriteString("$")
	for _, s := range p.segs[:n] {
		if s.kind == segName {
			quoteKey(&b, s.names[0])
		} else {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.indexes[0]))
			b.WriteByte(']')
		}
	}
	return b.String()
}

// Get evaluates the path on doc. A definite path returns the one value it
// selects, or a *NotFoundError; an indefinite path returns a []any of every
// match (empty when nothing matches).
func (p *Path) Get(doc any) (any, error) {
	if p.definite {
		return p.getDefinite(doc)
	}
	out := []any{}
	p.collect(doc, doc, 0, &out)
	return out, nil
}

func (p *Path) getDefinite(doc any) (any, error) {
	cur := doc
	for i := range p.segs {
		s := &p.segs[i]
		if s.kind == segName {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, p.notFound(len(p.segs), false)
			}
			v, ok := m[s.names[0]]
			if !ok {
				// Jayway reports an absent member before the last step as
				// missing, and an absent last member as no result.
				return nil, p.notFound(i+1, i < len(p.segs)-1)
			}
			cur = v
			continue
		}
		a, ok := cur.([]any)
		if !ok {
			return nil, p.notFound(len(p.segs), false)
		}
		idx, ok := arrayIndex(s.indexes[0], len(a))
		if !ok {
			return nil, p.notFound(len(p.segs), false)
		}
		cur = a[idx]
	}
	return cur, nil
}

func (p *Path) notFound(at int, missing bool) *NotFoundError {
	return &NotFoundError{Path: p.expr, Normalized: p.Normalized(), At: p.normalizedPrefix(at), Missing: missing}
}

// arrayIndex resolves a possibly negative index (-1 is the last element).
func arrayIndex(i, n int) (int, bool) {
	if i < 0 {
		i += n
	}
	return i, i >= 0 && i < n
}

// collect appends to out every value that segments i.. select from cur.
func (p *Path) collect(root, cur any, i int, out *[]any) {
	if i == len(p.segs) {
		*out = append(*out, cur)
		return
	}
	s := &p.segs[i]
	if s.recursive {
		p.descend(root, cur, i, out)
		return
	}
	p.apply(root, cur, s, func(v any) { p.collect(root, v, i+1, out) })
}

// descend applies segment i to cur and to every container below it, in
// document order (object members sorted by key: Go maps have no order).
func (p *Path) descend(root, cur any, i int, out *[]any) {
	s := &p.segs[i]
	p.apply(root, cur, s, func(v any) { p.collect(root, v, i+1, out) })
	switch c := cur.(type) {
	case map[string]any:
		for _, k := range sortedKeys(c) {
			p.descend(root, c[k], i, out)
		}
	case []any:
		for _, v := range c {
			p.descend(root, v, i, out)
		}
	}
}

// apply calls yield for each child of cur that s selects.
func (p *Path) apply(root, cur any, s *segment, yield func(any)) {
	switch s.kind {
	case segName:
		if m, ok := cur.(map[string]any); ok {
			for _, n := range s.names {
				if v, ok := m[n]; ok {
					yield(v)
				}
			}
		}
	case segIndex:
		if a, ok := cur.([]any); ok {
			for _, i := range s.indexes {
				if j, ok := arrayIndex(i, len(a)); ok {
					yield(a[j])
				}
			}
		}
	case segWildcard:
		switch c := cur.(type) {
		case map[string]any:
			for _, k := range sortedKeys(c) {
				yield(c[k])
			}
		case []any:
			for _, v := range c {
				yield(v)
			}
		}
	case segSlice:
		if a, ok := cur.([]any); ok {
			start, end, step := sliceBounds(s, len(a))
			if step > 0 {
				for j := start; j < end; j += step {
					yield(a[j])
				}
			} else {
				for j := start; j > end; j += step {
					yield(a[j])
				}
			}
		}
	case segFilter:
		switch c := cur.(type) {
		case []any:
			for _, v := range c {
				if s.filter.test(root, v) {
					yield(v)
				}
			}
		case map[string]any:
			// Jayway applies a filter on an object to the object itself.
			if s.filter.test(root, c) {
				yield(c)
			}
		}
	}
}

// sliceBounds clamps a slice to an array of length n, Python style.
func sliceBounds(s *segment, n int) (start, end, step int) {
	step = s.step
	if step > 0 {
		start, end = 0, n
	} else {
		start, end = n-1, -1
	}
	clamp := func(i, lo, hi int) int {
		if i < 0 {
			i += n
		}
		return max(lo, min(i, hi))
	}
	if s.hasStart {
		if step > 0 {
			start = clamp(s.start, 0, n)
		} else {
			start = clamp(s.start, -1, n-1)
		}
	}
	if s.hasEnd {
		if step > 0 {
			end = clamp(s.end, 0, n)
		} else {
			end = clamp(s.end, -1, n-1)
		}
	}
	return start, end, step
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Set returns doc with value placed at p, with ResultPath semantics: "$"
// replaces the document, absent members on the way are created as objects,
// and a step into anything but an object (or an array, for an index step
// that is in range) is a *NotFoundError with Missing set. doc itself is not
// changed: the objects and arrays along the path are copied.
func Set(doc any, p *Path, value any) (any, error) {
	if !p.definite {
		return nil, &SyntaxError{Expr: p.expr, Offset: -1, Msg: "cannot set through a path that selects several values"}
	}
	return p.set(doc, 0, value)
}

func (p *Path) set(cur any, i int, value any) (any, error) {
	if i == len(p.segs) {
		return value, nil
	}
	s := &p.segs[i]
	if s.kind == segName {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, p.notFound(i, true)
		}
		child, ok := m[s.names[0]]
		if !ok && i < len(p.segs)-1 {
			child = map[string]any{}
		}
		nv, err := p.set(child, i+1, value)
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(m)+1)
		for k, v := range m {
			out[k] = v
		}
		out[s.names[0]] = nv
		return out, nil
	}
	a, ok := cur.([]any)
	if !ok {
		return nil, p.notFound(i, true)
	}
	idx, ok := arrayIndex(s.indexes[0], len(a))
	if !ok {
		return nil, p.notFound(i+1, true)
	}
	nv, err := p.set(a[idx], i+1, value)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(a)
	out[idx] = nv
	return out, nil
}
