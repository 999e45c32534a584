package jsonpath

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Template is a compiled payload template: the value of Parameters,
// ResultSelector, ItemSelector or Credentials. A key ending in ".$" holds a
// path ("$..." on the input, "$$..." on the Context Object) or an intrinsic
// call, and gives its result under the key without ".$"; objects and arrays
// recurse; everything else is copied as written.
type Template struct {
	root     tnode
	usesVars bool
}

// UsesVariables reports whether a path or intrinsic of the template reads a
// workflow variable ("$name"), so callers need pass an *Env only then.
func (t *Template) UsesVariables() bool { return t.usesVars }

type tkind uint8

const (
	tLiteral tkind = iota
	tObject
	tArray
	tPath
	tCall
)

type tnode struct {
	kind   tkind
	lit    any
	fields []tfield
	items  []tnode
	path   *Path
	call   *Intrinsic
	field  string // the ".$" key, for error causes
}

type tfield struct {
	key  string
	node tnode
}

// FieldError is one problem in a template, located by the dotted chain of keys
// (and [i] for array items) that leads to it.
type FieldError struct {
	Field string // e.g. "Payload.ids[0].id.$"
	Err   error
}

// Error names the field and the problem.
func (e *FieldError) Error() string { return "field '" + e.Field + "': " + e.Err.Error() }

// Unwrap gives the underlying compile error.
func (e *FieldError) Unwrap() error { return e.Err }

// TemplateError lists every problem CompileTemplate found, so a definition
// validator can report them all at once.
type TemplateError struct {
	Problems []*FieldError
}

// Error joins every problem with "; ".
func (e *TemplateError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return strings.Join(msgs, "; ")
}

// CompileTemplate compiles a template from its decoded JSON. Bad paths,
// unknown intrinsics, wrong argument counts and non-string ".$" values are
// reported together as a *TemplateError.
func CompileTemplate(raw any, opts ...Option) (*Template, error) {
	c := templateCompiler{opts: newOptions(opts)}
	root := c.node(raw, "")
	if len(c.problems) > 0 {
		return nil, &TemplateError{Problems: c.problems}
	}
	return &Template{root: root, usesVars: c.usesVars}, nil
}

// CompileField compiles one dynamic value, a path or an intrinsic call, that a
// definition gives under a field of its own (Fail's ErrorPath, for example):
// Eval returns the value itself, and a path that matches nothing names field
// in the cause, as AWS does ("specified for the field 'ErrorPath'").
func CompileField(field, expr string, opts ...Option) (*Template, error) {
	c := templateCompiler{opts: newOptions(opts)}
	root := c.dynamic(expr, field, field)
	if len(c.problems) > 0 {
		return nil, &TemplateError{Problems: c.problems}
	}
	return &Template{root: root, usesVars: c.usesVars}, nil
}

type templateCompiler struct {
	opts     *options
	problems []*FieldError
	usesVars bool
}

func (c *templateCompiler) fail(field string, err error) {
	c.problems = append(c.problems, &FieldError{Field: field, Err: err})
}

func (c *templateCompiler) node(raw any, at string) tnode {
	switch v := raw.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys) // stable error order and output
		n := tnode{kind: tObject, fields: make([]tfield, 0, len(v))}
		for _, k := range keys {
			field := joinField(at, k)
			if !strings.HasSuffix(k, ".$") {
				n.fields = append(n.fields, tfield{key: k, node: c.node(v[k], field)})
				continue
			}
			out := strings.TrimSuffix(k, ".$")
			if _, dup := v[out]; dup {
				c.fail(field, fmt.Errorf("the field '%s' is also given as '%s'", out, k))
				continue
			}
			n.fields = append(n.fields, tfield{key: out, node: c.dynamic(v[k], k, field)})
		}
		return n
	case []any:
		n := tnode{kind: tArray, items: make([]tnode, len(v))}
		for i, item := range v {
			n.items[i] = c.node(item, fmt.Sprintf("%s[%d]", at, i))
		}
		return n
	}
	return tnode{kind: tLiteral, lit: raw}
}

// dynamic compiles the value of a ".$" key.
func (c *templateCompiler) dynamic(raw any, key, field string) tnode {
	s, ok := raw.(string)
	switch {
	case ok && strings.HasPrefix(s, "$"):
		p, err := Compile(s)
		if err != nil {
			c.fail(field, err)
			return tnode{}
		}
		c.usesVars = c.usesVars || p.variable != ""
		return tnode{kind: tPath, path: p, field: key}
	case ok && IsIntrinsic(s):
		in, err := compileIntrinsic(s, c.opts)
		if err != nil {
			c.fail(field, err)
			return tnode{}
		}
		c.usesVars = c.usesVars || in.usesVariables()
		return tnode{kind: tCall, call: in, field: key}
	}
	c.fail(field, fmt.Errorf("the value for the field '%s' must be a valid JSONPath or a valid intrinsic function call", key))
	return tnode{}
}

func joinField(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

// Eval builds the template's value from input (for "$" paths) and context
// (the Context Object, for "$$" paths). A path that matches nothing raises
// States.ParameterPathFailure and a failing intrinsic States.IntrinsicFailure,
// both as *Error. A value over MaxValueBytes, or an evaluation over its
// budget, is a *LimitError.
func (t *Template) Eval(input, context any) (any, error) {
	b := newBudget()
	v, err := t.root.eval(input, context, b)
	if err != nil {
		return nil, err
	}
	if !b.fits(v, "the payload template") {
		return nil, b.err
	}
	return v, nil
}

func (n *tnode) eval(input, context any, b *budget) (any, error) {
	if !b.step(1, n.field) {
		return nil, b.err
	}
	switch n.kind {
	case tLiteral:
		return n.lit, nil
	case tObject:
		out := make(map[string]any, len(n.fields))
		for i := range n.fields {
			f := &n.fields[i]
			v, err := f.node.eval(input, context, b)
			if err != nil {
				return nil, err
			}
			out[f.key] = v
		}
		return out, nil
	case tArray:
		out := make([]any, len(n.items))
		for i := range n.items {
			v, err := n.items[i].eval(input, context, b)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case tPath:
		doc, err := Doc(n.path, input, context)
		if err != nil {
			return nil, &Error{Name: ErrRuntime, Cause: err.Error()}
		}
		v, err := n.path.get(doc, b)
		if err != nil {
			return nil, pathFailure(n.path, n.field, doc, err)
		}
		return v, nil
	default:
		return n.call.eval(input, context, b)
	}
}

// pathFailure words a template path miss as AWS does.
func pathFailure(p *Path, field string, doc any, err error) error {
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		return err
	}
	return &Error{
		Name: ErrParameterPathFailure,
		Cause: "The JSONPath '" + p.expr + "' specified for the field '" + field +
			"' could not be found in the input '" + compactString(doc) + "'",
	}
}

// ValidatePath reports whether expr is a path this package can evaluate.
func ValidatePath(expr string) error {
	_, err := Compile(expr)
	return err
}

// ValidateTemplate reports every problem in a template, as CompileTemplate.
func ValidateTemplate(raw any) error {
	_, err := CompileTemplate(raw)
	return err
}
