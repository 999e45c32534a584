package jsonpath

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// maxNesting bounds filter parentheses and nested intrinsic calls, so a hostile
// definition cannot exhaust the stack.
const maxNesting = 32

// parser reads paths, filters and intrinsic calls from src. The intrinsic
// parser embeds paths in argument lists, so a path ends at the first byte that
// cannot continue it (',', ')', a space...).
type parser struct {
	src   string
	pos   int
	depth int
}

func (p *parser) errorf(format string, args ...any) *SyntaxError {
	return &SyntaxError{Expr: p.src, Offset: p.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) peek() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

func (p *parser) has(s string) bool { return strings.HasPrefix(p.src[p.pos:], s) }

func (p *parser) skipSpace() {
	for p.pos < len(p.src) && isSpace(p.src[p.pos]) {
		p.pos++
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// isNameByte reports whether c may appear in a dot-notation member name.
// Everything else ends the name; names with such bytes use ['...'].
func isNameByte(c byte) bool {
	switch c {
	case '.', '[', ']', '(', ')', '\'', '"', ',', '=', '<', '>', '!', '&', '|', '*', '?', '@', '$', '\\', '{', '}':
		return false
	}
	return !isSpace(c)
}

// isVariableByte reports whether c may appear in a variable name.
func isVariableByte(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// path reads "$...", "$$..." or "$name..." from the current position.
func (p *parser) path() (*Path, error) {
	start := p.pos
	if p.peek() != '$' {
		return nil, p.errorf("a path must start with '$'")
	}
	p.pos++
	ctx := false
	variable := ""
	switch c := p.peek(); {
	case c == '$':
		ctx = true
		p.pos++
	case c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
		// "$name" reads a workflow variable (Assign).
		n := p.pos
		for p.pos < len(p.src) && isVariableByte(p.src[p.pos]) {
			p.pos++
		}
		variable = p.src[n:p.pos]
	}
	segs, err := p.segments()
	if err != nil {
		return nil, err
	}
	path := newPath(p.src[start:p.pos], segs)
	path.context = ctx
	path.variable = variable
	return path, nil
}

func (p *parser) segments() ([]segment, error) {
	var segs []segment
	for {
		switch {
		case p.has(".."):
			p.pos += 2
			var s segment
			var err error
			switch p.peek() {
			case '[':
				s, err = p.bracket()
			case '*':
				p.pos++
				s = segment{kind: segWildcard}
			default:
				s, err = p.dotName()
			}
			if err != nil {
				return nil, err
			}
			s.recursive = true
			segs = append(segs, s)
		case p.peek() == '.':
			p.pos++
			if p.peek() == '*' {
				p.pos++
				segs = append(segs, segment{kind: segWildcard})
				continue
			}
			s, err := p.dotName()
			if err != nil {
				return nil, err
			}
			segs = append(segs, s)
		case p.peek() == '[':
			s, err := p.bracket()
			if err != nil {
				return nil, err
			}
			segs = append(segs, s)
		default:
			return segs, nil
		}
	}
}

func (p *parser) dotName() (segment, error) {
	start := p.pos
	for p.pos < len(p.src) && isNameByte(p.src[p.pos]) {
		p.pos++
	}
	if p.pos == start {
		return segment{}, p.errorf("expected a member name")
	}
	return segment{kind: segName, names: []string{p.src[start:p.pos]}}, nil
}

// bracket reads "[...]": a wildcard, quoted names, indexes, a slice or a filter.
func (p *parser) bracket() (segment, error) {
	p.pos++ // '['
	p.skipSpace()
	var s segment
	switch c := p.peek(); {
	case c == '*':
		p.pos++
		s = segment{kind: segWildcard}
	case c == '?':
		p.pos++
		p.skipSpace()
		if p.peek() != '(' {
			return s, p.errorf("expected '(' after '?'")
		}
		p.pos++
		f, err := p.filterOr()
		if err != nil {
			return s, err
		}
		p.skipSpace()
		if p.peek() != ')' {
			return s, p.errorf("expected ')' to close the filter")
		}
		p.pos++
		s = segment{kind: segFilter, filter: f}
	case c == '\'' || c == '"':
		s.kind = segName
		for {
			if q := p.peek(); q != '\'' && q != '"' {
				return s, p.errorf("expected a quoted name after ','")
			}
			name, err := p.quoted()
			if err != nil {
				return s, err
			}
			s.names = append(s.names, name)
			p.skipSpace()
			if p.peek() != ',' {
				break
			}
			p.pos++
			p.skipSpace()
		}
	case c == '-' || c == ':' || (c >= '0' && c <= '9'):
		var err error
		if s, err = p.indexes(); err != nil {
			return s, err
		}
	default:
		return s, p.errorf("unexpected %s in brackets", describeByte(p.src, p.pos))
	}
	p.skipSpace()
	if p.peek() != ']' {
		return s, p.errorf("expected ']'")
	}
	p.pos++
	return s, nil
}

func describeByte(src string, pos int) string {
	if pos >= len(src) {
		return "end of expression"
	}
	return strconv.QuoteRune(rune(src[pos]))
}

// indexes reads "0", "0,2,-1" or a slice "1:3", ":2", "::-1".
func (p *parser) indexes() (segment, error) {
	first, hasFirst, err := p.optInt()
	if err != nil {
		return segment{}, err
	}
	p.skipSpace()
	if p.peek() == ':' {
		s := segment{kind: segSlice, start: first, hasStart: hasFirst, step: 1}
		p.pos++
		p.skipSpace()
		if s.end, s.hasEnd, err = p.optInt(); err != nil {
			return s, err
		}
		p.skipSpace()
		if p.peek() == ':' {
			p.pos++
			p.skipSpace()
			step, hasStep, err := p.optInt()
			if err != nil {
				return s, err
			}
			if hasStep {
				if step == 0 {
					return s, p.errorf("slice step must not be 0")
				}
				s.step = step
			}
		}
		return s, nil
	}
	if !hasFirst {
		return segment{}, p.errorf("expected an index")
	}
	s := segment{kind: segIndex, indexes: []int{first}}
	for p.peek() == ',' {
		p.pos++
		p.skipSpace()
		i, ok, err := p.optInt()
		if err != nil {
			return s, err
		}
		if !ok {
			return s, p.errorf("expected an index after ','")
		}
		s.indexes = append(s.indexes, i)
		p.skipSpace()
	}
	return s, nil
}

func (p *parser) optInt() (int, bool, error) {
	start := p.pos
	if p.peek() == '-' {
		p.pos++
	}
	for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
		p.pos++
	}
	if p.pos == start {
		return 0, false, nil
	}
	i, err := strconv.Atoi(p.src[start:p.pos])
	if err != nil {
		p.pos = start
		return 0, false, p.errorf("invalid index %q", p.src[start:p.pos])
	}
	return i, true, nil
}

// quoted reads a 'name' or "name". A backslash escapes only the quote that
// encloses the name; before anything else it is a character of the name, as on
// AWS: $['Test\"Name'] reads the key Test\"Name (recorded, LocalStack's
// test_escape_sequence_parsing[ESCAPE_SEQUENCES_JSONPATH]).
func (p *parser) quoted() (string, error) {
	q := p.src[p.pos]
	p.pos++
	var b strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == q:
			p.pos++
			return b.String(), nil
		case c == '\\' && p.pos+1 < len(p.src) && p.src[p.pos+1] == q:
			b.WriteByte(q)
			p.pos += 2
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
	return "", p.errorf("unterminated quoted name")
}

// Filters: ?( expr ) with ||, &&, !, parentheses, comparisons
// (== != < <= > >=) and existence tests on @ (the current item) or $ paths.

type filterKind uint8

const (
	filterOr filterKind = iota
	filterAnd
	filterNot
	filterCompare
	filterExists
)

type filterExpr struct {
	kind        filterKind
	a, b        *filterExpr
	left, right operand
	op          string
}

type operand struct {
	path     *Path // nil for a literal
	relative bool  // @ rather than $
	lit      any
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxNesting {
		return p.errorf("nested more than %d deep", maxNesting)
	}
	return nil
}

func (p *parser) filterOr() (*filterExpr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	left, err := p.filterAnd()
	if err != nil {
		return nil, err
	}
	for {
		p.skipSpace()
		if !p.has("||") {
			return left, nil
		}
		p.pos += 2
		right, err := p.filterAnd()
		if err != nil {
			return nil, err
		}
		left = &filterExpr{kind: filterOr, a: left, b: right}
	}
}

func (p *parser) filterAnd() (*filterExpr, error) {
	left, err := p.filterUnary()
	if err != nil {
		return nil, err
	}
	for {
		p.skipSpace()
		if !p.has("&&") {
			return left, nil
		}
		p.pos += 2
		right, err := p.filterUnary()
		if err != nil {
			return nil, err
		}
		left = &filterExpr{kind: filterAnd, a: left, b: right}
	}
}

func (p *parser) filterUnary() (*filterExpr, error) {
	p.skipSpace()
	switch {
	case p.peek() == '!' && !p.has("!="):
		p.pos++
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		inner, err := p.filterUnary()
		if err != nil {
			return nil, err
		}
		return &filterExpr{kind: filterNot, a: inner}, nil
	case p.peek() == '(':
		p.pos++
		inner, err := p.filterOr()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.peek() != ')' {
			return nil, p.errorf("expected ')'")
		}
		p.pos++
		return inner, nil
	}
	left, err := p.operand()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	for _, op := range []string{"==", "!=", "<=", ">=", "<", ">"} {
		if p.has(op) {
			p.pos += len(op)
			p.skipSpace()
			right, err := p.operand()
			if err != nil {
				return nil, err
			}
			return &filterExpr{kind: filterCompare, op: op, left: left, right: right}, nil
		}
	}
	return &filterExpr{kind: filterExists, left: left}, nil
}

func (p *parser) operand() (operand, error) {
	switch c := p.peek(); {
	case c == '@':
		start := p.pos
		p.pos++
		segs, err := p.segments()
		if err != nil {
			return operand{}, err
		}
		return operand{path: newPath(p.src[start:p.pos], segs), relative: true}, nil
	case c == '$':
		path, err := p.path()
		if err != nil {
			return operand{}, err
		}
		if path.context {
			return operand{}, p.errorf("a filter cannot read the context object")
		}
		return operand{path: path}, nil
	case c == '\'' || c == '"':
		s, err := p.quoted()
		return operand{lit: s}, err
	case c == '-' || (c >= '0' && c <= '9'):
		n, err := p.number()
		return operand{lit: n}, err
	}
	for _, w := range []struct {
		word string
		v    any
	}{{"true", true}, {"false", false}, {"null", nil}} {
		if p.has(w.word) {
			p.pos += len(w.word)
			return operand{lit: w.v}, nil
		}
	}
	return operand{}, p.errorf("unexpected %s in filter", describeByte(p.src, p.pos))
}

// number reads a JSON number.
func (p *parser) number() (json.Number, error) {
	start := p.pos
	for p.pos < len(p.src) && strings.IndexByte("+-0123456789.eE", p.src[p.pos]) >= 0 {
		p.pos++
	}
	text := p.src[start:p.pos]
	if !json.Valid([]byte(text)) || !isNumber(json.Number(text)) {
		p.pos = start
		return "", p.errorf("invalid number %q", text)
	}
	return json.Number(text), nil
}

func newPath(expr string, segs []segment) *Path {
	path := &Path{expr: expr, segs: segs, definite: true}
	for i := range segs {
		if !segs[i].single() {
			path.definite = false
		}
	}
	return path
}

// test evaluates the filter on cur within the budget of the path expr; a
// filter stopped by the budget is false, and the budget keeps the error.
func (f *filterExpr) test(root, cur any, bg *budget, expr string) bool {
	if !bg.step(1, expr) {
		return false
	}
	switch f.kind {
	case filterOr:
		return f.a.test(root, cur, bg, expr) || f.b.test(root, cur, bg, expr)
	case filterAnd:
		return f.a.test(root, cur, bg, expr) && f.b.test(root, cur, bg, expr)
	case filterNot:
		return !f.a.test(root, cur, bg, expr)
	case filterExists:
		v, ok := f.left.value(root, cur, bg)
		if f.left.path == nil {
			return v == true
		}
		if a, isArr := v.([]any); ok && isArr && !f.left.path.definite {
			return len(a) > 0
		}
		return ok
	}
	l, lok := f.left.value(root, cur, bg)
	r, rok := f.right.value(root, cur, bg)
	if !lok || !rok {
		return f.op == "!="
	}
	// Comparing two containers visits their nodes: charge them first.
	if n, _ := Size(l, max(bg.steps, 0)); isContainer(l) && isContainer(r) && !bg.step(n, expr) {
		return false
	}
	switch f.op {
	case "==":
		return equal(l, r)
	case "!=":
		return !equal(l, r)
	}
	c, ok := compare(l, r)
	if !ok {
		return false
	}
	switch f.op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	default:
		return c >= 0
	}
}

// compare orders two numbers or two strings.
func compare(a, b any) (int, bool) {
	if as, ok := a.(string); ok {
		bs, ok := b.(string)
		return strings.Compare(as, bs), ok
	}
	x, ok1 := bigNumber(a)
	y, ok2 := bigNumber(b)
	if !ok1 || !ok2 {
		return 0, false
	}
	return x.Cmp(y), true
}

func (o *operand) value(root, cur any, b *budget) (any, bool) {
	if o.path == nil {
		return o.lit, true
	}
	doc := root
	if o.relative {
		doc = cur
	}
	v, err := o.path.get(doc, b)
	return v, err == nil
}

func isContainer(v any) bool {
	switch v.(type) {
	case []any, map[string]any:
		return true
	}
	return false
}
