package asl

import (
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/odin-deploy/odin/pkg/local/jsonata"
	"github.com/odin-deploy/odin/pkg/local/jsonpath"
)

// Query languages.
const (
	QueryJSONPath = "JSONPath"
	QueryJSONata  = "JSONata"
)

// Query holds what a state has for JSONata and variables: its effective
// query language, its Assign and the JSONata forms of its fields. Fields that
// take a number or a timestamp hold an expression here only when given as
// "{% %}"; a literal stays in the JSONPath-era field (IntField.Value, ...).
type Query struct {
	// QueryLanguage is the state's effective language: its own field, else
	// the machine's, else JSONPath.
	QueryLanguage string
	Assign        *Assign

	Arguments        *jsonata.Template // Task, Parallel
	Output           *jsonata.Template // every state but Fail
	Items            *jsonata.Template // Map
	ItemSelectorExpr *jsonata.Template // Map, JSONata ItemSelector

	SecondsExpr                    *jsonata.Template // Wait
	TimestampExpr                  *jsonata.Template // Wait
	TimeoutSecondsExpr             *jsonata.Template // Task
	HeartbeatSecondsExpr           *jsonata.Template // Task
	MaxConcurrencyExpr             *jsonata.Template // Map
	ToleratedFailureCountExpr      *jsonata.Template // Map
	ToleratedFailurePercentageExpr *jsonata.Template // Map
	ErrorExpr, CauseExpr           *jsonata.Template // Fail
}

// JSONata reports whether the state runs JSONata.
func (q *Query) JSONata() bool { return q.QueryLanguage == QueryJSONata }

// Assign is a state's, a Choice rule's or a catcher's Assign: variable names
// to values. A JSONPath state's is a payload template ("name.$" keys take a
// path or an intrinsic); a JSONata state's is a JSONata template.
type Assign struct {
	Path  *jsonpath.Template
	Expr  *jsonata.Template
	Names []string // the variables it assigns, sorted
}

// MaxVariableNameLength is the longest variable name AWS accepts.
const MaxVariableNameLength = 80

var variableName = lazyRegexp(`^[A-Za-z_][A-Za-z0-9_]*$`)

// jsonPathOnly are the fields a JSONata state may not have.
var jsonPathOnly = []string{"InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Result",
	"SecondsPath", "TimestampPath", "ItemsPath", "MaxConcurrencyPath", "ToleratedFailureCountPath",
	"ToleratedFailurePercentagePath", "TimeoutSecondsPath", "HeartbeatSecondsPath", "ErrorPath", "CausePath", "Iterator", "Variable"}

// jsonataOnly are the fields a JSONPath state may not have.
var jsonataOnly = []string{"Arguments", "Output", "Items", "Condition"}

// jsonataFields are the fields of each state type in a JSONata state.
var jsonataFields = map[string][]string{
	TypePass:     {"Next", "End", "Output", "Assign"},
	TypeTask:     {"Next", "End", "Output", "Assign", "Arguments", "Resource", "TimeoutSeconds", "HeartbeatSeconds", "Retry", "Catch", "Credentials"},
	TypeChoice:   {"Choices", "Default", "Output", "Assign"},
	TypeWait:     {"Next", "End", "Output", "Assign", "Seconds", "Timestamp"},
	TypeSucceed:  {"Output"},
	TypeFail:     {"Error", "Cause"},
	TypeParallel: {"Next", "End", "Output", "Assign", "Arguments", "Branches", "Retry", "Catch"},
	TypeMap:      {"Next", "End", "Output", "Assign", "Items", "ItemSelector", "ItemProcessor", "MaxConcurrency", "ToleratedFailureCount", "ToleratedFailurePercentage", "Label", "ItemReader", "ItemBatcher", "ResultWriter", "Retry", "Catch"},
}

// stateLanguage reads a state's QueryLanguage against the machine's.
func (p *parser) stateLanguage(obj map[string]any, loc string) string {
	lang := p.lang
	v, ok := obj["QueryLanguage"]
	if !ok {
		return lang
	}
	s, _ := v.(string)
	switch s {
	case QueryJSONPath:
		if p.lang == QueryJSONata {
			// AWS's words and location (recorded: test_sfn_api_validation.py's
			// INVALID_DOWNGRADE_QUERY_LANGUAGE).
			p.errorf(CodeSchema, locOrRoot(loc), "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine")
		}
		return s
	case QueryJSONata:
		return s
	}
	p.errorf(CodeSchema, loc+"/QueryLanguage", "The value for the field 'QueryLanguage' must be one of [JSONPath, JSONata]")
	return lang
}

// languageFields reports the fields of obj that its query language forbids.
func (p *parser) languageFields(obj map[string]any, loc, lang string) {
	other, forbidden := QueryJSONata, jsonataOnly
	if lang == QueryJSONata {
		other, forbidden = QueryJSONPath, jsonPathOnly
	}
	for _, k := range sortedKeys(obj) {
		if slices.Contains(forbidden, k) {
			p.errorf(CodeSchema, locOrRoot(loc), "The QueryLanguage is set to '%s', but field '%s' is only supported for the '%s' QueryLanguage", lang, k, other)
		}
	}
}

// template compiles a JSONata field (any JSON value with "{% %}" strings).
func (p *parser) jsonataTemplate(obj map[string]any, loc, key string) *jsonata.Template {
	v, ok := obj[key]
	if !ok {
		return nil
	}
	t, err := jsonata.CompileTemplate(v, key)
	if err != nil {
		var se *jsonata.SyntaxError
		if errors.As(err, &se) {
			p.errorf(CodeSchema, loc+"/"+se.Location, "The JSONata expression '%s' is not valid: %v", se.Expr, se.Err)
		} else {
			p.errorf(CodeSchema, loc+"/"+key, "%v", err)
		}
		return nil
	}
	return t
}

// expressionField reads a field a JSONata state may give literally or as
// "{% %}": it returns the compiled expression, or nil when the value is a
// literal (or absent).
func (p *parser) expressionField(obj map[string]any, loc, key string) *jsonata.Template {
	s, ok := obj[key].(string)
	if !ok || !jsonata.IsExpression(s) {
		return nil
	}
	return p.jsonataTemplate(obj, loc, key)
}

// assign compiles an Assign field of a state, a Choice rule or a catcher.
func (p *parser) assign(obj map[string]any, loc, lang string) *Assign {
	v, ok := obj["Assign"]
	if !ok {
		return nil
	}
	aloc := loc + "/Assign"
	m, isObj := v.(map[string]any)
	if !isObj {
		p.errorf(CodeSchema, aloc, "The value for the field 'Assign' must be an OBJECT")
		return nil
	}
	a := &Assign{}
	for _, k := range sortedKeys(m) {
		name := k
		if lang == QueryJSONPath {
			name = strings.TrimSuffix(k, ".$")
		}
		switch {
		case len(name) > MaxVariableNameLength:
			p.errorf(CodeSchema, aloc, "The variable name '%s' is longer than %d characters", name, MaxVariableNameLength)
		case !variableName().MatchString(name):
			p.errorf(CodeSchema, aloc, "The variable name '%s' is not valid: it must start with a letter or '_' followed by letters, digits or '_'", name)
		case name == "states":
			p.errorf(CodeSchema, aloc, "The variable name 'states' is reserved")
		}
		if slices.Contains(a.Names, name) {
			p.errorf(CodeSchema, aloc, "The variable '%s' is assigned twice", name)
		}
		a.Names = append(a.Names, name)
	}
	if lang == QueryJSONata {
		a.Expr = p.jsonataTemplate(obj, loc, "Assign")
	} else {
		t, err := jsonpath.CompileTemplate(v)
		if err != nil {
			p.errorf(CodeSchema, aloc, "The value for the field 'Assign' is not valid: %v", err)
			return nil
		}
		a.Path = t
	}
	p.assigned(a.Names, aloc)
	return a
}

// assigned records names assigned in the current scope and refuses a name an
// enclosing scope (outside a Map or Parallel) assigns: inner states read outer
// variables but do not write them.
func (p *parser) assigned(names []string, loc string) {
	for _, n := range names {
		p.scope.assigns[n] = append(p.scope.assigns[n], loc)
	}
}

// varScope is the variables assigned at one level: the top of the machine,
// or one Parallel branch or Map item processor.
type varScope struct {
	parent  *varScope
	assigns map[string][]string // name -> locations of the Assigns that set it
}

// enterScope starts a branch or item processor's scope.
func (p *parser) enterScope() {
	p.scope = &varScope{parent: p.scope, assigns: map[string][]string{}}
}

// leaveScope ends a branch or item processor's scope, refusing names that an
// outer scope also assigns.
func (p *parser) leaveScope() {
	inner := p.scope
	p.scope = inner.parent
	p.innerScopes = append(p.innerScopes, inner)
}

// checkScopes runs once the whole machine is read: an inner scope may not
// assign a variable an outer scope assigns.
func (p *parser) checkScopes() {
	for _, in := range p.innerScopes {
		for name, locs := range in.assigns {
			for s := in.parent; s != nil; s = s.parent {
				if len(s.assigns[name]) > 0 {
					for _, l := range locs {
						p.errorf(CodeSchema, l, "The variable '%s' is assigned in an outer scope: a Map or Parallel state's inner states can read it but cannot assign it", name)
					}
					break
				}
			}
		}
	}
}

// jsonataState reads the fields of a JSONata state (st.Type is known and its
// common fields, Next/End and Retry/Catch, are read by the caller).
func (p *parser) jsonataState(st *State, obj map[string]any, loc string) {
	typ := st.Type
	if slices.Contains(jsonataFields[typ], "Output") {
		st.Output = p.jsonataTemplate(obj, loc, "Output")
	}
	if slices.Contains(jsonataFields[typ], "Arguments") {
		st.Arguments = p.jsonataTemplate(obj, loc, "Arguments")
		if v, ok := obj["Arguments"]; ok && typ == TypeParallel {
			if _, isObj := v.(map[string]any); !isObj {
				if s, isStr := v.(string); !isStr || !jsonata.IsExpression(s) {
					p.errorf(CodeSchema, loc+"/Arguments", "The value for the field 'Arguments' must be an OBJECT or a JSONata expression")
				}
			}
		}
	}
	switch typ {
	case TypeTask:
		st.TimeoutSecondsExpr = p.expressionField(obj, loc, "TimeoutSeconds")
		st.HeartbeatSecondsExpr = p.expressionField(obj, loc, "HeartbeatSeconds")
	case TypeWait:
		n := 0
		for _, k := range []string{"Seconds", "Timestamp"} {
			if _, ok := obj[k]; ok {
				n++
			}
		}
		if n != 1 {
			p.errorf(CodeSchema, loc, "A Wait state must have exactly one of [Seconds, Timestamp]")
		}
		st.SecondsExpr = p.expressionField(obj, loc, "Seconds")
		st.TimestampExpr = p.expressionField(obj, loc, "Timestamp")
	case TypeFail:
		st.ErrorExpr = p.expressionField(obj, loc, "Error")
		st.CauseExpr = p.expressionField(obj, loc, "Cause")
	case TypeMap:
		st.Items = p.jsonataTemplate(obj, loc, "Items")
		if v, ok := obj["Items"]; ok {
			_, isArr := v.([]any)
			s, isStr := v.(string)
			if !isArr && !(isStr && jsonata.IsExpression(s)) {
				p.errorf(CodeSchema, loc+"/Items", "The value for the field 'Items' must be an ARRAY or a JSONata expression")
			}
		}
		st.ItemSelectorExpr = p.jsonataTemplate(obj, loc, "ItemSelector")
		st.MaxConcurrencyExpr = p.expressionField(obj, loc, "MaxConcurrency")
		st.ToleratedFailureCountExpr = p.expressionField(obj, loc, "ToleratedFailureCount")
		st.ToleratedFailurePercentageExpr = p.expressionField(obj, loc, "ToleratedFailurePercentage")
	}
}

// literalOnly returns obj without the given keys whose values are "{% %}"
// expressions (and without drop), so the JSONPath-era readers see only
// literal values.
func literalOnly(obj map[string]any, drop []string, keys ...string) map[string]any {
	out := maps.Clone(obj)
	for _, k := range keys {
		if s, ok := obj[k].(string); ok && jsonata.IsExpression(s) {
			delete(out, k)
		}
	}
	for _, k := range drop {
		delete(out, k)
	}
	return out
}

// catcherQuery reads a catcher's Output and Assign.
func (p *parser) catcherQuery(c *Catcher, co map[string]any, cloc, lang string) {
	c.Assign = p.assign(co, cloc, lang)
	if lang == QueryJSONata {
		c.Output = p.jsonataTemplate(co, cloc, "Output")
	}
}

// ruleQuery reads a top-level Choice rule's Condition, Output and Assign.
func (p *parser) ruleQuery(r *ChoiceRule, obj map[string]any, loc, lang string) {
	r.Assign = p.assign(obj, loc, lang)
	if lang != QueryJSONata {
		return
	}
	r.Output = p.jsonataTemplate(obj, loc, "Output")
	if !p.require(obj, loc, "Condition") {
		return
	}
	switch c := obj["Condition"].(type) {
	case bool:
		r.Condition = p.jsonataTemplate(obj, loc, "Condition")
	case string:
		if !jsonata.IsExpression(c) {
			p.errorf(CodeSchema, loc+"/Condition", "The value for the field 'Condition' must be a JSONata expression or a BOOLEAN")
			return
		}
		r.Condition = p.jsonataTemplate(obj, loc, "Condition")
	default:
		p.errorf(CodeSchema, loc+"/Condition", "The value for the field 'Condition' must be a JSONata expression or a BOOLEAN")
	}
}
