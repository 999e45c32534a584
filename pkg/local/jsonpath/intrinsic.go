package jsonpath

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
)

// maxCallDepth is how deeply AWS lets intrinsic calls nest.
const maxCallDepth = 10

// Intrinsic is a compiled intrinsic function call such as
// "States.Format('Hello, {}', $.name)".
type Intrinsic struct {
	expr string
	fn   *function
	args []iarg
	opts *options
}

type iargKind uint8

const (
	argLiteral iargKind = iota
	argPath
	argCall
)

type iarg struct {
	kind iargKind
	lit  any
	// parts is a string literal split at its unescaped "{}" placeholders,
	// which States.Format needs: "\{}" is text, not a placeholder.
	parts []string
	path  *Path
	call  *Intrinsic
}

// Option configures compilation.
type Option func(*options)

type options struct {
	random *lockedSource
}

// WithRandom sets the source of randomness for States.UUID and unseeded
// States.MathRandom; by default they draw from crypto/rand. The source is
// used under a lock, so one compiled template may be evaluated concurrently.
func WithRandom(src rand.Source) Option {
	return func(o *options) { o.random = &lockedSource{src: src} }
}

func newOptions(opts []Option) *options {
	o := &options{}
	for _, opt := range opts {
		opt(o)
	}
	if o.random == nil {
		o.random = &lockedSource{src: cryptoSource{}}
	}
	return o
}

type lockedSource struct {
	mu  sync.Mutex
	src rand.Source
}

func (l *lockedSource) Uint64() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.src.Uint64()
}

// cryptoSource reads crypto/rand, which needs no seeding and no shared state.
type cryptoSource struct{}

func (cryptoSource) Uint64() uint64 {
	var b [8]byte
	_, _ = crand.Read(b[:]) // never fails on supported platforms (Go 1.24+ crashes instead)
	return binary.LittleEndian.Uint64(b[:])
}

// IsIntrinsic reports whether expr is written as an intrinsic call.
func IsIntrinsic(expr string) bool { return strings.HasPrefix(expr, "States.") }

// CompileIntrinsic parses an intrinsic call, checking the function name and
// its number of arguments.
func CompileIntrinsic(expr string, opts ...Option) (*Intrinsic, error) {
	return compileIntrinsic(expr, newOptions(opts))
}

func compileIntrinsic(expr string, o *options) (*Intrinsic, error) {
	p := &parser{src: expr}
	in, err := p.call(o)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(expr) {
		return nil, p.errorf("unexpected %q after the call", expr[p.pos:])
	}
	return in, nil
}

// String returns the call as written.
func (i *Intrinsic) String() string { return i.expr }

// usesVariables reports whether an argument, at any depth, reads a workflow
// variable.
func (i *Intrinsic) usesVariables() bool {
	for j := range i.args {
		a := &i.args[j]
		if (a.kind == argPath && a.path.variable != "") || (a.kind == argCall && a.call.usesVariables()) {
			return true
		}
	}
	return false
}

func (p *parser) call(o *options) (*Intrinsic, error) {
	if p.depth >= maxCallDepth {
		return nil, p.errorf("intrinsic calls nest more than %d deep", maxCallDepth)
	}
	p.depth++
	defer func() { p.depth-- }()
	start := p.pos
	if !p.has("States.") {
		return nil, p.errorf("an intrinsic function starts with 'States.'")
	}
	p.pos += len("States.")
	nameStart := p.pos
	for p.pos < len(p.src) && isAlnum(p.src[p.pos]) {
		p.pos++
	}
	name := p.src[start:p.pos]
	fn, ok := functions[p.src[nameStart:p.pos]]
	if !ok {
		p.pos = start
		return nil, p.errorf("unknown intrinsic function %q", name)
	}
	p.skipSpace()
	if p.peek() != '(' {
		return nil, p.errorf("expected '(' after %s", name)
	}
	p.pos++
	in := &Intrinsic{fn: fn, opts: o}
	p.skipSpace()
	if p.peek() == ')' {
		p.pos++
	} else {
		for {
			p.skipSpace()
			a, err := p.argument(o)
			if err != nil {
				return nil, err
			}
			in.args = append(in.args, a)
			p.skipSpace()
			if p.peek() == ',' {
				p.pos++
				continue
			}
			if p.peek() == ')' {
				p.pos++
				break
			}
			return nil, p.errorf("expected ',' or ')' in the arguments of %s", name)
		}
	}
	in.expr = p.src[start:p.pos]
	if n := len(in.args); n < fn.min || (fn.max >= 0 && n > fn.max) {
		return nil, &SyntaxError{Expr: p.src, Offset: start, Msg: fn.arity(n)}
	}
	return in, nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *parser) argument(o *options) (iarg, error) {
	switch c := p.peek(); {
	case c == '\'':
		return p.stringArg()
	case c == '$':
		path, err := p.path()
		if err != nil {
			return iarg{}, err
		}
		return iarg{kind: argPath, path: path}, nil
	case c == 'S':
		in, err := p.call(o)
		if err != nil {
			return iarg{}, err
		}
		return iarg{kind: argCall, call: in}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		n, err := p.number()
		if err != nil {
			return iarg{}, err
		}
		return iarg{lit: n}, nil
	}
	for _, w := range []struct {
		word string
		v    any
	}{{"null", nil}, {"true", true}, {"false", false}} {
		if p.has(w.word) && (p.pos+len(w.word) == len(p.src) || !isAlnum(p.src[p.pos+len(w.word)])) {
			p.pos += len(w.word)
			return iarg{lit: w.v}, nil
		}
	}
	return iarg{}, p.errorf("unexpected %s: an argument is a 'string', a number, null, true, false, a path or an intrinsic call", describeByte(p.src, p.pos))
}

// stringArg reads 'text' where \' \{ \} and \\ are escapes.
func (p *parser) stringArg() (iarg, error) {
	p.pos++ // opening quote
	var cur, all strings.Builder
	var parts []string
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '\'':
			p.pos++
			parts = append(parts, cur.String())
			return iarg{lit: all.String(), parts: parts}, nil
		case c == '\\':
			if p.pos+1 >= len(p.src) || strings.IndexByte(`'{}\`, p.src[p.pos+1]) < 0 {
				return iarg{}, p.errorf(`invalid escape: only \' \{ \} and \\ are allowed in a string`)
			}
			cur.WriteByte(p.src[p.pos+1])
			all.WriteByte(p.src[p.pos+1])
			p.pos += 2
		case c == '{' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '}':
			parts = append(parts, cur.String())
			cur.Reset()
			all.WriteString("{}")
			p.pos += 2
		default:
			cur.WriteByte(c)
			all.WriteByte(c)
			p.pos++
		}
	}
	return iarg{}, p.errorf("unterminated string")
}

// Eval runs the call: "$" arguments read input and "$$" arguments read
// context. Failures are *Error named States.IntrinsicFailure; a result over
// MaxValueBytes, or an evaluation over its budget, is a *LimitError.
func (i *Intrinsic) Eval(input, context any) (any, error) {
	return i.eval(input, context, newBudget())
}

func (i *Intrinsic) eval(input, context any, b *budget) (any, error) {
	if !b.step(1, i.expr) {
		return nil, b.err
	}
	args := make([]any, len(i.args))
	for j := range i.args {
		a := &i.args[j]
		switch a.kind {
		case argLiteral:
			args[j] = a.lit
		case argPath:
			doc, err := Doc(a.path, input, context)
			if err != nil {
				return nil, i.failf("%s", err.Error())
			}
			v, err := a.path.get(doc, b)
			if b.err != nil {
				return nil, b.err
			}
			if err != nil {
				return nil, i.failf("the JSONPath '%s' could not be found in the input '%s'", a.path.expr, compactString(doc))
			}
			args[j] = v
		case argCall:
			v, err := a.call.eval(input, context, b)
			if err != nil {
				return nil, err
			}
			args[j] = v
		}
	}
	if buildsText[i.fn.name] {
		// The result is made from the arguments' text: charge it before.
		n, _ := Size(args, max(b.built, 0))
		if !b.build(n, i.expr) {
			return nil, b.err
		}
	}
	v, err := i.fn.eval(i, args)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, i.failf("%s", err.Error())
	}
	if !b.fits(v, i.expr) {
		return nil, b.err
	}
	return v, nil
}

func (i *Intrinsic) failf(format string, args ...any) *Error {
	return &Error{Name: ErrIntrinsicFailure, Cause: "Invalid arguments in " + i.fn.name + ": " + fmt.Sprintf(format, args...)}
}

// function describes one intrinsic: its name, how many arguments it takes
// (max -1: any number) and what it does with their values.
type function struct {
	name     string
	min, max int
	eval     func(i *Intrinsic, args []any) (any, error)
}

func (f *function) arity(got int) string {
	var want string
	switch {
	case f.max < 0:
		want = "at least " + strconv.Itoa(f.min)
	case f.min == f.max:
		want = strconv.Itoa(f.min)
	default:
		want = strconv.Itoa(f.min) + " to " + strconv.Itoa(f.max)
	}
	noun := "arguments"
	if want == "1" {
		noun = "argument"
	}
	return f.name + " takes " + want + " " + noun + " but got " + strconv.Itoa(got)
}
