package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/odin-deploy/odin/pkg/local/asl"
	"github.com/odin-deploy/odin/pkg/local/jsonpath"
)

// evalRule evaluates a Choice rule against the state's effective input. A
// type mismatch is false; a Variable that matches nothing is a runtime error
// (except for IsPresent, which asks exactly that).
func (r *stateRun) evalRule(rule *asl.ChoiceRule, input any) (bool, *failure) {
	switch rule.Op {
	case "And", "Or":
		for _, c := range rule.Children {
			ok, f := r.evalRule(c, input)
			if f != nil {
				return false, f
			}
			if rule.Op == "And" && !ok {
				return false, nil
			}
			if rule.Op == "Or" && ok {
				return true, nil
			}
		}
		return rule.Op == "And", nil
	case "Not":
		ok, f := r.evalRule(rule.Children[0], input)
		return !ok, f
	}
	cmp, _ := asl.LookupComparison(rule.Op)
	v, err := r.choicePath(rule.Variable, input)
	if cmp.Cmp == "IsPresent" {
		var nf *jsonpath.NotFoundError
		present := err == nil
		if err != nil && !errors.As(err, &nf) {
			return false, r.dataFailure(err)
		}
		return present == rule.Value.(bool), nil
	}
	if err != nil {
		return false, r.runtime(fmt.Sprintf("Invalid path '%s': The choice state's condition path references an invalid value.", rule.Variable.Raw))
	}
	if cmp.Kind == asl.OperandTest {
		var is bool
		switch cmp.Cmp {
		case "IsNull":
			is = v == nil
		case "IsNumeric":
			_, is = v.(json.Number)
		case "IsString":
			_, is = v.(string)
		case "IsBoolean":
			_, is = v.(bool)
		case "IsTimestamp":
			s, ok := v.(string)
			_, err := asl.ParseTimestamp(s)
			is = ok && err == nil
		}
		return is == rule.Value.(bool), nil
	}
	operand := rule.Value
	if rule.ValuePath != nil {
		ov, err := r.choicePath(rule.ValuePath, input)
		if err != nil {
			return false, r.runtime(fmt.Sprintf("Invalid path '%s': The choice state's condition path references an invalid value.", rule.ValuePath.Raw))
		}
		operand = ov
	}
	return compareValues(cmp, v, operand), nil
}

func (r *stateRun) choicePath(p *asl.Path, input any) (any, error) {
	return r.getPath(p, input)
}

// compareValues applies a comparison; any operand of the wrong type gives false.
func compareValues(cmp asl.Comparison, v, operand any) bool {
	var c int
	switch cmp.Kind {
	case asl.OperandString:
		a, ok1 := v.(string)
		b, ok2 := operand.(string)
		if !ok1 || !ok2 {
			return false
		}
		if cmp.Cmp == "Matches" {
			return stringMatches(a, b)
		}
		c = strings.Compare(a, b)
	case asl.OperandNumber:
		a, ok1 := bigNumber(v)
		b, ok2 := bigNumber(operand)
		if !ok1 || !ok2 {
			return false
		}
		c = a.Cmp(b)
	case asl.OperandBool:
		a, ok1 := v.(bool)
		b, ok2 := operand.(bool)
		return ok1 && ok2 && a == b
	case asl.OperandTimestamp:
		a, ok1 := timestamp(v)
		b, ok2 := timestamp(operand)
		if !ok1 || !ok2 {
			return false
		}
		c = a.Compare(b)
	}
	switch cmp.Cmp {
	case "Equals":
		return c == 0
	case "LessThan":
		return c < 0
	case "GreaterThan":
		return c > 0
	case "LessThanEquals":
		return c <= 0
	case "GreaterThanEquals":
		return c >= 0
	}
	return false
}

func bigNumber(v any) (*big.Float, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, false
	}
	f, _, err := big.ParseFloat(string(n), 10, 256, big.ToNearestEven)
	return f, err == nil
}

func timestamp(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, true
	case string:
		p, err := asl.ParseTimestamp(t)
		return p, err == nil
	}
	return time.Time{}, false
}

// stringMatches matches s against a StringMatches pattern: '*' matches any
// run of characters; '\*' and '\\' are a literal star and backslash.
func stringMatches(s, pattern string) bool {
	type tok struct {
		star bool
		r    rune
	}
	var toks []tok
	pr := []rune(pattern)
	for i := 0; i < len(pr); i++ {
		switch {
		case pr[i] == '\\' && i+1 < len(pr):
			i++
			toks = append(toks, tok{r: pr[i]})
		case pr[i] == '*':
			toks = append(toks, tok{star: true})
		default:
			toks = append(toks, tok{r: pr[i]})
		}
	}
	sr := []rune(s)
	// Greedy matching with backtracking to the last star: linear in practice.
	si, ti, starTi, starSi := 0, 0, -1, 0
	for si < len(sr) {
		switch {
		case ti < len(toks) && !toks[ti].star && toks[ti].r == sr[si]:
			si++
			ti++
		case ti < len(toks) && toks[ti].star:
			starTi, starSi = ti, si
			ti++
		case starTi >= 0:
			starSi++
			si, ti = starSi, starTi+1
		default:
			return false
		}
	}
	for ti < len(toks) && toks[ti].star {
		ti++
	}
	return ti == len(toks)
}
