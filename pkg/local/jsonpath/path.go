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
// match (empty when nothing matches), or a *LimitError when the matches
// weigh more than MaxValueBytes or finding them takes more than MaxSteps.
func (p *Path) Get(doc any) (any, error) {
	return p.get(doc, newBudget())
}

func (p *Path) get(doc any, b *budget) (any, error) {
	if p.definite {
		if !b.step(len(p.segs)+1, p.expr) {
			return nil, b.err
		}
		return p.getDefinite(doc)
	}
	c := &collector{p: p, root: doc, b: b, out: []any{}}
	c.collect(doc, 0)
	if b.err != nil {
		return nil, b.err
	}
	return c.out, nil
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

// collector gathers the matches of an indefinite path within a budget: each
// node visited is a step, and the matches may weigh at most MaxValueBytes.
type collector struct {
	p    *Path
	root any
	b    *budget
	out  []any
	size int // the JSON size of out so far
}

// collect appends to out every value that segments i.. select from cur.
func (c *collector) collect(cur any, i int) {
	if !c.b.step(1, c.p.expr) {
		return
	}
	if i == len(c.p.segs) {
		n, ok := Size(cur, MaxValueBytes-c.size)
		c.size += n + 1
		if !ok {
			c.b.err = &LimitError{Expr: c.p.expr, Limit: MaxValueBytes}
			return
		}
		c.out = append(c.out, cur)
		return
	}
	s := &c.p.segs[i]
	if s.recursive {
		c.descend(cur, i)
		return
	}
	c.apply(cur, s, func(v any) { c.collect(v, i+1) })
}

// descend applies segment i to cur and to every container below it, in
// document order (object members sorted by key: Go maps have no order).
func (c *collector) descend(cur any, i int) {
	if !c.b.step(1, c.p.expr) {
		return
	}
	s := &c.p.segs[i]
	c.apply(cur, s, func(v any) { c.collect(v, i+1) })
	switch x := cur.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			if c.b.err != nil {
				return
			}
			c.descend(x[k], i)
		}
	case []any:
		for _, v := range x {
			if c.b.err != nil {
				return
			}
			c.descend(v, i)
		}
	}
}

// apply calls yield for each child of cur that s selects, until the budget
// is gone.
func (c *collector) apply(cur any, s *segment, yield func(any)) {
	b := c.b
	switch s.kind {
	case segName:
		if m, ok := cur.(map[string]any); ok {
			for _, n := range s.names {
				if v, ok := m[n]; ok && b.err == nil {
					yield(v)
				}
			}
		}
	case segIndex:
		if a, ok := cur.([]any); ok {
			for _, i := range s.indexes {
				if j, ok := arrayIndex(i, len(a)); ok && b.err == nil {
					yield(a[j])
				}
			}
		}
	case segWildcard:
		switch x := cur.(type) {
		case map[string]any:
			for _, k := range sortedKeys(x) {
				if b.err != nil {
					return
				}
				yield(x[k])
			}
		case []any:
			for _, v := range x {
				if b.err != nil {
					return
				}
				yield(v)
			}
		}
	case segSlice:
		if a, ok := cur.([]any); ok {
			start, end, step := sliceBounds(s, len(a))
			if step > 0 {
				for j := start; j < end && b.err == nil; j += step {
					yield(a[j])
				}
			} else {
				for j := start; j > end && b.err == nil; j += step {
					yield(a[j])
				}
			}
		}
	case segFilter:
		switch x := cur.(type) {
		case []any:
			for _, v := range x {
				if b.err != nil {
					return
				}
				if s.filter.test(c.root, v, b, c.p.expr) {
					yield(v)
				}
			}
		case map[string]any:
			// Jayway applies a filter on an object to the object itself.
			if s.filter.test(c.root, x, b, c.p.expr) {
				yield(x)
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
