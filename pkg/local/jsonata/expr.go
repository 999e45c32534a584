// Package jsonata evaluates the JSONata of Amazon States Language as Step
// Functions runs it: "{% %}" expressions and templates, the $states variable,
// workflow variables, the functions AWS adds ($partition, $range, $hash,
// $random, $uuid, $parse) and jsonata-js 2.0.6's $assert, which the library lacks.
//
// Expressions are run by github.com/blues/jsonata-go (a port of jsonata-js
// 1.5 with most later functions); AWS runs jsonata-js 2.0.6. What differs and
// matters to state machines is covered here: AWS's functions are added and
// $random takes AWS's optional seed; JSON numbers go in as float64 and come
// out as json.Number written as JavaScript writes them. The library's error
// texts are its own, not jsonata-js's, so a cause that quotes a JSONata
// library error differs from AWS's after the common prefix.
package jsonata

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	jsonatago "github.com/blues/jsonata-go"
)

// Expr is one compiled "{% ... %}" expression.
type Expr struct {
	src     string // the text between {% and %}, trimmed, as AWS quotes it
	run     string // what is evaluated: src with its function bodies guarded
	vars    []string
	guarded bool
}

// Compile checks an expression's syntax. src is the text inside {% %}.
func Compile(src string) (x *Expr, err error) {
	src = strings.TrimSpace(src)
	switch {
	case src == "":
		return nil, errors.New("the expression is empty")
	case !utf8.ValidString(src):
		return nil, errors.New("the expression is not valid UTF-8")
	}
	defer func() {
		if p := recover(); p != nil { // the library's parser panics on a few inputs
			x, err = nil, fmt.Errorf("the expression cannot be parsed: %v", p)
		}
	}()
	if _, err := jsonatago.Compile(src); err != nil {
		return nil, err
	}
	run, err := guarded(src)
	if err != nil {
		return nil, err
	}
	if _, err := jsonatago.Compile(run); err != nil {
		return nil, fmt.Errorf("the expression cannot be run: %v", err)
	}
	return &Expr{src: src, run: run, vars: referencedNames(src), guarded: run != src}, nil
}

// String returns the expression as AWS quotes it in error causes.
func (e *Expr) String() string { return e.src }

// Variables lists the workflow variable names the expression reads ($name,
// except $states and function names it calls).
func (e *Expr) Variables() []string {
	var out []string
	for _, n := range e.vars {
		if n != "states" {
			out = append(out, n)
		}
	}
	return out
}

// referencedNames finds every $name outside string literals.
func referencedNames(src string) []string {
	seen := map[string]bool{}
	var out []string
	var quote byte
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '$':
			j := i + 1
			for j < len(src) && isNameByte(src[j]) {
				j++
			}
			name := src[i+1 : j]
			if name != "" && !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
			i = j - 1
		}
	}
	sort.Strings(out)
	return out
}

func isNameByte(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80
}

// Env is what an expression can read: $states and the workflow variables in
// scope.
type Env struct {
	States map[string]any
	// Lookup returns a workflow variable's value (JSON values with
	// json.Number numbers) and whether it is assigned.
	Lookup func(name string) (any, bool)
	// Random is the source of $random() and $uuid(): uniform in [0, 1).
	Random func() float64
}

// ErrUndefined is what Eval returns when the expression yields nothing.
var ErrUndefined = errors.New("returned nothing (undefined)")

// Eval runs the expression. The result is a JSON value with json.Number
// numbers; an expression that yields nothing gives ErrUndefined.
func (e *Expr) Eval(env *Env) (out any, err error) {
	defer func() {
		if p := recover(); p != nil { // the library panics on a few inputs
			out, err = nil, fmt.Errorf("the expression failed: %v", p)
		}
	}()
	x, err := jsonatago.Compile(e.run)
	if err != nil {
		return nil, err
	}
	exts := awsFunctions(env)
	if e.guarded {
		exts[guardName] = jsonatago.Extension{Func: stackGuard()}
	}
	if err := x.RegisterExts(exts); err != nil {
		return nil, err
	}
	vars := map[string]any{}
	for _, n := range e.vars {
		switch {
		case n == "states":
			if env.States != nil {
				vars[n] = toLibrary(env.States)
			}
		case env.Lookup != nil:
			if v, ok := env.Lookup(n); ok {
				vars[n] = toLibrary(v)
			}
		}
	}
	if len(vars) > 0 {
		if err := x.RegisterVars(vars); err != nil {
			return nil, err
		}
	}
	v, err := x.Eval(nil)
	if errors.Is(err, jsonatago.ErrUndefined) {
		return nil, ErrUndefined
	}
	if err != nil {
		return nil, jsError(err)
	}
	return fromLibrary(v)
}

// toLibrary converts a JSON value with json.Number numbers to the float64
// numbers the library computes with.
func toLibrary(v any) any {
	switch t := v.(type) {
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return math.Inf(1)
		}
		return f
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = toLibrary(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = toLibrary(x)
		}
		return out
	}
	return v
}

// errNotJSON says a result holds something JSON can't carry (a function).
var errNotJSON = errors.New("the result is not a JSON value")

// fromLibrary converts a library result to a JSON value with json.Number
// numbers, written as JavaScript writes them.
func fromLibrary(v any) (any, error) {
	switch t := v.(type) {
	case nil, string, bool:
		return t, nil
	case float64:
		return Number(t)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			c, err := fromLibrary(x)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(t))
		for _, x := range t {
			c, err := fromLibrary(x)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return json.Number(strconv.FormatInt(rv.Int(), 10)), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return json.Number(strconv.FormatUint(rv.Uint(), 10)), nil
	case reflect.Float32, reflect.Float64:
		return Number(rv.Float())
	case reflect.String:
		return rv.String(), nil
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Slice, reflect.Array:
		out := make([]any, 0, rv.Len())
		for i := range rv.Len() {
			c, err := fromLibrary(rv.Index(i).Interface())
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, nil
	case reflect.Map:
		out := make(map[string]any, rv.Len())
		for _, k := range rv.MapKeys() {
			if k.Kind() != reflect.String {
				return nil, errNotJSON
			}
			c, err := fromLibrary(rv.MapIndex(k).Interface())
			if err != nil {
				return nil, err
			}
			out[k.String()] = c
		}
		return out, nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, nil
		}
		return fromLibrary(rv.Elem().Interface())
	}
	return nil, errNotJSON
}

// Number writes a float64 as a JSON number the way JavaScript does.
func Number(f float64) (json.Number, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return "", errors.New("the number is not finite")
	}
	if f == 0 {
		return "0", nil // JavaScript writes -0 as 0
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return json.Number(strconv.FormatFloat(f, 'f', -1, 64)), nil
	}
	b, _ := json.Marshal(f)
	return json.Number(b), nil
}
