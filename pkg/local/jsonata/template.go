package jsonata

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrQueryEvaluation is the error name of every JSONata failure.
const ErrQueryEvaluation = "States.QueryEvaluationError"

// Error is a failed evaluation, worded as AWS words it. Location is the
// field, slash-separated ("Output/v", "Arguments/Payload/x").
type Error struct {
	Location string
	Cause    string
}

func (e *Error) Error() string { return ErrQueryEvaluation + ": " + e.Cause }

// IsExpression reports whether a string field holds a JSONata expression:
// it starts with "{%" and ends with "%}".
func IsExpression(s string) bool {
	return len(s) >= 4 && strings.HasPrefix(s, "{%") && strings.HasSuffix(s, "%}")
}

// Template is a field's JSON value in which every string of the form
// "{% expr %}", at any depth, is an expression evaluated in its place.
type Template struct {
	root tnode
}

type tkind uint8

const (
	tLiteral tkind = iota
	tExpr
	tObject
	tArray
)

type tnode struct {
	kind   tkind
	lit    any
	expr   *Expr
	field  string // the location AWS names in a cause
	keys   []string
	fields []tnode
	items  []tnode
}

// CompileTemplate compiles raw (a decoded JSON value) for the field named
// field ("Output", "Arguments", ...). A syntax error names the location.
func CompileTemplate(raw any, field string) (*Template, error) {
	n, err := compileNode(raw, field)
	if err != nil {
		return nil, err
	}
	return &Template{root: n}, nil
}

// SyntaxError is an expression that does not parse.
type SyntaxError struct {
	Location string
	Expr     string
	Err      error
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("the JSONata expression '%s' at %s is not valid: %v", e.Expr, e.Location, e.Err)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

func compileNode(raw any, at string) (tnode, error) {
	switch t := raw.(type) {
	case string:
		if !IsExpression(t) {
			return tnode{kind: tLiteral, lit: t}, nil
		}
		src := t[2 : len(t)-2]
		x, err := Compile(src)
		if err != nil {
			return tnode{}, &SyntaxError{Location: at, Expr: strings.TrimSpace(src), Err: err}
		}
		return tnode{kind: tExpr, expr: x, field: at}, nil
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		n := tnode{kind: tObject, keys: keys, fields: make([]tnode, len(keys))}
		dynamic := false
		for i, k := range keys {
			c, err := compileNode(t[k], at+"/"+k)
			if err != nil {
				return tnode{}, err
			}
			n.fields[i] = c
			dynamic = dynamic || c.kind != tLiteral
		}
		if !dynamic {
			return tnode{kind: tLiteral, lit: raw}, nil
		}
		return n, nil
	case []any:
		n := tnode{kind: tArray, items: make([]tnode, len(t))}
		dynamic := false
		for i, v := range t {
			c, err := compileNode(v, fmt.Sprintf("%s[%d]", at, i))
			if err != nil {
				return tnode{}, err
			}
			n.items[i] = c
			dynamic = dynamic || c.kind != tLiteral
		}
		if !dynamic {
			return tnode{kind: tLiteral, lit: raw}, nil
		}
		return n, nil
	}
	return tnode{kind: tLiteral, lit: raw}, nil
}

// IsLiteral reports whether the template holds no expression.
func (t *Template) IsLiteral() bool { return t.root.kind == tLiteral }

// Literal returns the template's value when it holds no expression.
func (t *Template) Literal() any { return t.root.lit }

// Variables lists the workflow variables the template's expressions read.
func (t *Template) Variables() []string {
	seen := map[string]bool{}
	var out []string
	var walk func(n *tnode)
	walk = func(n *tnode) {
		switch n.kind {
		case tExpr:
			for _, v := range n.expr.Variables() {
				if !seen[v] {
					seen[v] = true
					out = append(out, v)
				}
			}
		case tObject:
			for i := range n.fields {
				walk(&n.fields[i])
			}
		case tArray:
			for i := range n.items {
				walk(&n.items[i])
			}
		}
	}
	walk(&t.root)
	sort.Strings(out)
	return out
}

// Eval builds the template's value. An expression that fails or yields
// nothing gives an *Error; inside an object, a member whose expression yields
// nothing fails too, as on AWS.
func (t *Template) Eval(env *Env) (any, error) {
	return t.root.eval(env)
}

func (n *tnode) eval(env *Env) (any, error) {
	switch n.kind {
	case tLiteral:
		return n.lit, nil
	case tExpr:
		v, err := n.expr.Eval(env)
		if err == nil {
			return v, nil
		}
		if errors.Is(err, ErrUndefined) {
			return nil, &Error{Location: n.field, Cause: fmt.Sprintf("The JSONata expression '%s' specified for the field '%s' returned nothing (undefined).", n.expr.src, n.field)}
		}
		return nil, &Error{Location: n.field, Cause: fmt.Sprintf("The JSONata expression '%s' specified for the field '%s' threw an error during evaluation. %v", n.expr.src, n.field, err)}
	case tObject:
		out := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			v, err := n.fields[i].eval(env)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	default:
		out := make([]any, len(n.items))
		for i := range n.items {
			v, err := n.items[i].eval(env)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
}

// Field returns the location AWS names for the template's root.
func (t *Template) Field() string {
	return t.root.field
}

// String returns the expression of a template that is one "{% %}" string, as
// AWS quotes it; "" otherwise.
func (t *Template) String() string {
	if t.root.kind == tExpr {
		return t.root.expr.src
	}
	return ""
}
