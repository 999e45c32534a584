package engine

import (
	"fmt"
	"maps"
	"slices"

	"github.com/odin-deploy/odin/pkg/local/asl"
	"github.com/odin-deploy/odin/pkg/local/jsonpath"
)

// Variable limits from the Step Functions quotas: one variable, and all the
// variables one Assign sets, are at most 256 KiB of JSON; all the variables an
// execution holds at once are at most 10 MiB.
const (
	MaxVariableBytes       = 256 * 1024
	MaxAssignBytes         = 256 * 1024
	MaxExecutionVarBytes   = 10 * 1024 * 1024
	errDataLimitExceeded   = "States.DataLimitExceeded"
	assignedVariablesLimit = 256 * 1024 // assignedVariables beyond this are truncated in the history
)

// variables is one scope of workflow variables: the top level, or one
// Parallel branch or Map iteration, which reads its parent's variables but
// writes only its own (the parser refuses inner Assigns of outer names).
// A scope is written only by its own thread, and a parent is not written
// while its children run, so no lock is needed.
type variables struct {
	parent *variables
	values map[string]any
	sizes  map[string]int
}

func newVariables(parent *variables) *variables {
	return &variables{parent: parent}
}

func (v *variables) lookup(name string) (any, bool) {
	for s := v; s != nil; s = s.parent {
		if x, ok := s.values[name]; ok {
			return x, true
		}
	}
	return nil, false
}

// size is the JSON size of every variable the scope itself holds.
func (v *variables) size() int {
	n := 0
	for _, s := range v.sizes {
		n += s
	}
	return n
}

// assignment is what a state's Assign evaluated to: each variable's value
// and JSON text.
type assignment struct {
	values map[string]any
	texts  map[string]string
}

// newAssignment checks an Assign's values against the size limits.
func (r *stateRun) newAssignment(values map[string]any) (*assignment, *failure) {
	a := &assignment{values: values, texts: make(map[string]string, len(values))}
	total := 0
	for _, name := range slices.Sorted(maps.Keys(values)) {
		b, err := jsonpath.Marshal(values[name])
		if err != nil {
			return nil, r.runtime(err.Error())
		}
		if len(b) > MaxVariableBytes {
			return nil, &failure{name: errDataLimitExceeded, terminal: true,
				cause: fmt.Sprintf("The variable '%s' assigned by the state '%s' has a size exceeding the maximum number of bytes service limit (%d bytes).", name, r.st.Name, MaxVariableBytes)}
		}
		a.texts[name] = string(b)
		total += len(b)
	}
	if total > MaxAssignBytes {
		return nil, &failure{name: errDataLimitExceeded, terminal: true,
			cause: fmt.Sprintf("The variables assigned by the state '%s' have a total size exceeding the maximum number of bytes service limit (%d bytes).", r.st.Name, MaxAssignBytes)}
	}
	return a, nil
}

// commit stores the assignment in the thread's scope, keeping the
// execution's total within its limit.
func (r *stateRun) commit(a *assignment) *failure {
	if a == nil || len(a.values) == 0 {
		return nil
	}
	vars := r.th.vars
	delta := 0
	for name, text := range a.texts {
		delta += len(text) - vars.sizes[name]
	}
	xe := r.xe
	xe.mu.Lock()
	if xe.varBytes+delta > MaxExecutionVarBytes {
		xe.mu.Unlock()
		return &failure{name: errDataLimitExceeded, terminal: true,
			cause: fmt.Sprintf("The variables of the execution would have a total size exceeding the maximum number of bytes service limit (%d bytes) after the state '%s'.", MaxExecutionVarBytes, r.st.Name)}
	}
	xe.varBytes += delta
	xe.mu.Unlock()
	if vars.values == nil {
		vars.values, vars.sizes = map[string]any{}, map[string]int{}
	}
	for name, v := range a.values {
		vars.values[name] = v
		vars.sizes[name] = len(a.texts[name])
	}
	return nil
}

// release gives back an inner scope's share of the execution's total when
// its branch or iteration ends.
func (xe *execution) release(v *variables) {
	if n := v.size(); n > 0 {
		xe.mu.Lock()
		xe.varBytes -= n
		xe.mu.Unlock()
	}
}

// assignedDetails is the history's assignedVariables: name -> JSON text.
func (a *assignment) assignedDetails() map[string]string {
	if a == nil || len(a.texts) == 0 {
		return nil
	}
	return a.texts
}

// evalAssign evaluates a JSONPath Assign over doc (the state's result, or the
// error output in a catcher).
func (r *stateRun) evalPathAssign(as *asl.Assign, doc any) (*assignment, *failure) {
	if as == nil || as.Path == nil {
		return nil, nil
	}
	v, err := as.Path.Eval(doc, r.env(as.Path, "", nil))
	if err != nil {
		return nil, r.dataFailure(err)
	}
	m, _ := v.(map[string]any)
	return r.newAssignment(m)
}

// env is what a JSONPath template reads besides its input: the Context
// Object, and the variables too when the template reads any (the common case
// needs no more than the Context Object).
func (r *stateRun) env(t *jsonpath.Template, token string, item map[string]any) any {
	ctx := r.contextObject(token, item)
	if !t.UsesVariables() {
		return ctx
	}
	return &jsonpath.Env{Context: ctx, Lookup: r.th.vars.lookup}
}

// pathDoc returns the document a path reads: doc, the Context Object or a
// variable.
func (r *stateRun) pathDoc(p *jsonpath.Path, doc any) (any, error) {
	switch {
	case p.IsContext():
		return r.contextObject("", nil), nil
	case p.Variable() != "":
		return jsonpath.Doc(p, doc, &jsonpath.Env{Lookup: r.th.vars.lookup})
	}
	return doc, nil
}

// getPath evaluates a path field on doc (or the Context Object or a variable).
func (r *stateRun) getPath(p *asl.Path, doc any) (any, error) {
	src, err := r.pathDoc(p.Path, doc)
	if err != nil {
		return nil, err
	}
	return p.Path.Get(src)
}
