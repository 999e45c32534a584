package asl

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// OperandKind is what a Choice comparison operator compares.
type OperandKind int

// Operand kinds.
const (
	OperandString OperandKind = iota
	OperandNumber
	OperandBool
	OperandTimestamp
	OperandTest // Is*: a boolean literal saying which answer is wanted
)

// Comparison describes one comparison operator (without its Path suffix).
type Comparison struct {
	Kind OperandKind
	// Cmp is the comparison: "Equals", "LessThan", "GreaterThan",
	// "LessThanEquals", "GreaterThanEquals", "Matches", or the Is* name.
	Cmp string
}

// comparisons maps every operator name to what it compares; *Path variants
// are added in init.
var comparisons = map[string]Comparison{
	"StringMatches": {OperandString, "Matches"},
	"BooleanEquals": {OperandBool, "Equals"},
	"IsNull":        {OperandTest, "IsNull"},
	"IsPresent":     {OperandTest, "IsPresent"},
	"IsNumeric":     {OperandTest, "IsNumeric"},
	"IsString":      {OperandTest, "IsString"},
	"IsBoolean":     {OperandTest, "IsBoolean"},
	"IsTimestamp":   {OperandTest, "IsTimestamp"},
}

func init() {
	for family, kind := range map[string]OperandKind{"String": OperandString, "Numeric": OperandNumber, "Timestamp": OperandTimestamp} {
		for _, c := range []string{"Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals"} {
			comparisons[family+c] = Comparison{kind, c}
			comparisons[family+c+"Path"] = Comparison{kind, c}
		}
	}
	comparisons["BooleanEqualsPath"] = Comparison{OperandBool, "Equals"}
}

// LookupComparison returns the comparison an operator name means.
func LookupComparison(op string) (Comparison, bool) {
	c, ok := comparisons[op]
	return c, ok
}

func (p *parser) choice(st *State, obj map[string]any, loc string) {
	if !p.require(obj, loc, "Choices") {
		return
	}
	arr := p.array(obj, loc, "Choices")
	if arr != nil && len(arr) == 0 {
		p.errorf(CodeSchema, loc+"/Choices", "The field 'Choices' must contain at least one rule")
	}
	for i, v := range arr {
		if r := p.rule(v, fmt.Sprintf("%s/Choices[%d]", loc, i), true); r != nil {
			st.Choices = append(st.Choices, r)
		}
	}
	st.Default = p.str(obj, loc, "Default")
}

func (p *parser) rule(v any, loc string, top bool) *ChoiceRule {
	obj, ok := v.(map[string]any)
	if !ok {
		p.errorf(CodeSchema, loc, "A choice rule must be a JSON object")
		return nil
	}
	r := &ChoiceRule{}
	if p.stateLang == QueryJSONata && top {
		p.fields(obj, loc, []string{"Condition", "Next", "Assign", "Output", "Comment"})
		p.languageFields(obj, loc, QueryJSONata)
		if p.require(obj, loc, "Next") {
			r.Next = p.str(obj, loc, "Next")
		}
		r.Op = "Condition"
		p.ruleQuery(r, obj, loc, QueryJSONata)
		return r
	}
	var ops []string
	for _, k := range sortedKeys(obj) {
		switch k {
		case "Variable", "Comment":
		case "Assign":
			if !top {
				p.errorf(CodeSchema, loc, "The field 'Assign' is only allowed in top-level choice rules")
			}
		case "Next":
			if !top {
				p.errorf(CodeSchema, loc, "The field 'Next' is only allowed in top-level choice rules")
			}
		case "And", "Or", "Not":
			ops = append(ops, k)
		default:
			if _, ok := comparisons[k]; ok {
				ops = append(ops, k)
			} else {
				p.errorf(CodeSchema, loc, "The field '%s' is not supported by Step Functions", k)
			}
		}
	}
	if top {
		if p.require(obj, loc, "Next") {
			r.Next = p.str(obj, loc, "Next")
		}
		r.Assign = p.assign(obj, loc, QueryJSONPath)
	}
	if len(ops) != 1 {
		if len(ops) == 0 {
			p.errorf(CodeSchema, loc, "A choice rule must have exactly one comparison operator or And, Or, Not")
		} else {
			sort.Strings(ops)
			p.errorf(CodeSchema, loc, "A choice rule must have exactly one comparison operator, found [%s]", strings.Join(ops, ", "))
		}
		return nil
	}
	r.Op = ops[0]
	switch r.Op {
	case "And", "Or":
		if _, ok := obj["Variable"]; ok {
			p.errorf(CodeSchema, loc+"/Variable", "The field 'Variable' is not allowed with %s", r.Op)
		}
		arr := p.array(obj, loc, r.Op)
		if arr != nil && len(arr) == 0 {
			p.errorf(CodeSchema, loc+"/"+r.Op, "The field '%s' must contain at least one rule", r.Op)
		}
		for i, c := range arr {
			if cr := p.rule(c, fmt.Sprintf("%s/%s[%d]", loc, r.Op, i), false); cr != nil {
				r.Children = append(r.Children, cr)
			}
		}
		return r
	case "Not":
		if _, ok := obj["Variable"]; ok {
			p.errorf(CodeSchema, loc+"/Variable", "The field 'Variable' is not allowed with Not")
		}
		if cr := p.rule(obj["Not"], loc+"/Not", false); cr != nil {
			r.Children = []*ChoiceRule{cr}
		}
		return r
	}
	if !p.require(obj, loc, "Variable") {
		return nil
	}
	if s, ok := obj["Variable"].(string); ok {
		r.Variable = p.compilePath(s, loc+"/Variable", "Variable", pathPlain)
	} else {
		p.errorf(CodeSchema, loc+"/Variable", "The value for the field 'Variable' must be a STRING")
	}
	cmp := comparisons[r.Op]
	operand := obj[r.Op]
	oloc := loc + "/" + r.Op
	if strings.HasSuffix(r.Op, "Path") {
		s, ok := operand.(string)
		if !ok {
			p.errorf(CodeSchema, oloc, "The value for the field '%s' must be a STRING", r.Op)
			return r
		}
		r.ValuePath = p.compilePath(s, oloc, r.Op, pathPlain)
		return r
	}
	switch cmp.Kind {
	case OperandString:
		s, ok := operand.(string)
		if !ok {
			p.errorf(CodeSchema, oloc, "The value for the field '%s' must be a STRING", r.Op)
		}
		r.Value = s
	case OperandNumber:
		n, ok := operand.(json.Number)
		if !ok {
			p.errorf(CodeSchema, oloc, "The value for the field '%s' must be a NUMBER", r.Op)
		}
		r.Value = n
	case OperandBool, OperandTest:
		b, ok := operand.(bool)
		if !ok {
			p.errorf(CodeSchema, oloc, "The value for the field '%s' must be a BOOLEAN", r.Op)
		}
		r.Value = b
	case OperandTimestamp:
		s, _ := operand.(string)
		t, err := ParseTimestamp(s)
		if err != nil {
			p.errorf(CodeSchema, oloc, "The value for the field '%s' must be a valid ISO-8601 timestamp", r.Op)
		}
		r.Value = t
	}
	return r
}
