package jsonpath

// Env is what paths read besides the state's input: the Context Object
// ("$$") and the workflow variables in scope ("$name"). Pass it as the
// context argument of Template.Eval and Intrinsic.Eval; a plain value there
// is the Context Object alone.
type Env struct {
	Context any
	Lookup  func(name string) (any, bool)
}

// UndefinedVariableError is a path that reads a variable nothing assigned.
type UndefinedVariableError struct {
	Path, Name string
}

func (e *UndefinedVariableError) Error() string {
	return "Invalid path '" + e.Path + "': the variable '" + e.Name + "' is not assigned"
}

// Doc returns the document a path reads: the input, the Context Object or a
// workflow variable's value.
func Doc(p *Path, input, context any) (any, error) {
	env, isEnv := context.(*Env)
	switch {
	case p.variable != "":
		if isEnv && env.Lookup != nil {
			if v, ok := env.Lookup(p.variable); ok {
				return v, nil
			}
		}
		return nil, &UndefinedVariableError{Path: p.expr, Name: p.variable}
	case p.context:
		if isEnv {
			return env.Context, nil
		}
		return context, nil
	}
	return input, nil
}
