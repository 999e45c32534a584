package jsonata

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"

	"github.com/blues/jsonata-go/jparse"
)

// The library evaluates JSONata by recursion on the Go stack and has no limit
// of its own, so a function that calls itself forever would exhaust the stack
// and crash the process (a Go stack overflow is fatal). Every function body is
// therefore rewritten to call $__guard() first, which fails the evaluation
// with jsonata-js's U1001 once the stack is deeper than maxGuardFrames. The
// library also turns tail calls into a loop, which no stack limit stops, so
// the guard also fails an evaluation past maxGuardCalls function calls.

const (
	guardName      = "__guard"
	maxGuardFrames = 1 << 15
	maxGuardCalls  = 1_000_000
)

// errStackOverflow is jsonata-js's error for runaway recursion.
//
//lint:ignore ST1005 jsonata-js's own wording, which users search for
var errStackOverflow = errors.New("U1001: Stack overflow error: Check for non-terminating recursive function.  Consider rewriting as tail-recursive.")

// errTooManyCalls stops a non-terminating tail-recursive function.
var errTooManyCalls = fmt.Errorf("the expression called functions more than %d times (the local backend's limit on one evaluation)", maxGuardCalls)

var (
	nodeType  = reflect.TypeOf((*jparse.Node)(nil)).Elem()
	nodesType = reflect.TypeOf([]jparse.Node(nil))
)

// guarded returns the expression to evaluate: src itself when it defines no
// function, else src with $__guard() at the start of every function body.
func guarded(src string) (string, error) {
	root, err := jparse.Parse(src)
	if err != nil {
		return "", err
	}
	found := false
	root = guardNode(root, &found)
	if !found {
		return src, nil
	}
	return root.String(), nil
}

// guardNode walks the tree (every exported field of type Node or []Node) and
// wraps each lambda's body.
func guardNode(n jparse.Node, found *bool) jparse.Node {
	if n == nil {
		return nil
	}
	if l, ok := n.(*jparse.LambdaNode); ok {
		*found = true
		l.Body = &jparse.BlockNode{Exprs: []jparse.Node{
			&jparse.FunctionCallNode{Func: &jparse.VariableNode{Name: guardName}},
			guardNode(l.Body, found),
		}}
		return l
	}
	v := reflect.ValueOf(n)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return n
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return n
	}
	for i := range v.NumField() {
		f := v.Field(i)
		if !f.CanSet() {
			continue
		}
		switch {
		case f.Type() == nodeType:
			if !f.IsNil() {
				f.Set(reflect.ValueOf(guardNode(f.Interface().(jparse.Node), found)))
			}
		case f.Type() == nodesType:
			for j := range f.Len() {
				e := f.Index(j)
				if !e.IsNil() {
					e.Set(reflect.ValueOf(guardNode(e.Interface().(jparse.Node), found)))
				}
			}
		case f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Struct && !f.IsNil():
			// embedded or pointer-to-struct nodes (a typed lambda holds its
			// *LambdaNode)
			if inner, ok := f.Interface().(jparse.Node); ok {
				guardNode(inner, found)
			}
		}
	}
	return n
}

// stackGuard is the $__guard function of one evaluation.
func stackGuard() func() (bool, error) {
	var pcs []uintptr
	calls := 0
	return func() (bool, error) {
		calls++
		if calls > maxGuardCalls {
			return false, errTooManyCalls
		}
		if calls%16 != 0 { // the stack grows a level a call: look every 16th
			return true, nil
		}
		if pcs == nil {
			pcs = make([]uintptr, maxGuardFrames)
		}
		if runtime.Callers(0, pcs) == len(pcs) {
			return false, errStackOverflow
		}
		return true, nil
	}
}
