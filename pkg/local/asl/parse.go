package asl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/odin-deploy/odin/pkg/local/jsonpath"
)

// Limits from the States Language and the Step Functions quotas.
const (
	MaxNameLength       = 80
	MaxLabelLength      = 40
	MaxDefinitionBytes  = 1 << 20
	maxIntervalSeconds  = 99999999
	maxMaxAttempts      = 99999999
	maxMaxDelaySeconds  = 31622401
	maxTimeoutSeconds   = 99999999
	unsupportedLocalMsg = "is not supported by the local backend"
)

// PredefinedErrors are the error names a user may list in ErrorEquals that
// start with "States.".
var predefinedErrors = map[string]bool{
	"States.ALL": true, "States.TaskFailed": true, "States.Timeout": true,
	"States.HeartbeatTimeout": true, "States.Permissions": true, "States.Http.Socket": true,
	"States.ResultPathMatchFailure": true, "States.ParameterPathFailure": true,
	"States.IntrinsicFailure": true, "States.QueryEvaluationError": true,
	"States.BranchFailed": true, "States.NoChoiceMatched": true,
	"States.ExceedToleratedFailureThreshold": true, "States.ItemReaderFailed": true,
	"States.ResultWriterFailed": true, "States.DataLimitExceeded": true, "States.Runtime": true,
}

// Parse compiles a definition. A definition with any ERROR diagnostic gives a
// *DefinitionError; warnings (such as a resource the local backend cannot run)
// do not stop it.
func Parse(definition []byte) (*StateMachine, error) {
	sm, diags := parse(definition)
	var errs []Diagnostic
	for _, d := range diags {
		if d.Severity == SeverityError {
			errs = append(errs, d)
		}
	}
	if len(errs) > 0 {
		return nil, &DefinitionError{Diagnostics: errs}
	}
	return sm, nil
}

// Validate returns every problem in a definition, like
// ValidateStateMachineDefinition: nil means it is valid.
func Validate(definition []byte) []Diagnostic {
	_, diags := parse(definition)
	return diags
}

// ValidateType is Validate for a state machine of the given type (STANDARD or
// EXPRESS): an EXPRESS machine also refuses what AWS refuses in one.
func ValidateType(definition []byte, machineType string) []Diagnostic {
	p := newParser()
	p.express = machineType == "EXPRESS"
	_, diags := p.parse(definition)
	return diags
}

type parser struct {
	diags   []Diagnostic
	names   map[string]string // state name -> location, unique across the machine
	express bool              // the machine is EXPRESS

	lang        string // the machine's QueryLanguage (JSONPath by default)
	stateLang   string // the QueryLanguage of the state being read
	scope       *varScope
	innerScopes []*varScope
}

func newParser() *parser {
	return &parser{names: map[string]string{}, lang: QueryJSONPath, scope: &varScope{assigns: map[string][]string{}}}
}

func (p *parser) errorf(code, loc, format string, args ...any) {
	loc = locOrRoot(loc)
	p.diags = append(p.diags, Diagnostic{Severity: SeverityError, Code: code, Message: fmt.Sprintf(format, args...), Location: loc})
}

func (p *parser) warnf(code, loc, format string, args ...any) {
	loc = locOrRoot(loc)
	p.diags = append(p.diags, Diagnostic{Severity: SeverityWarning, Code: code, Message: fmt.Sprintf(format, args...), Location: loc})
}

// decode reads JSON with numbers kept exact, rejecting trailing data.
func decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the top-level value")
	}
	return v, nil
}

func parse(definition []byte) (*StateMachine, []Diagnostic) { return newParser().parse(definition) }

// notAnObject is AWS's diagnostic for a definition that is not a JSON object
// (recorded for the empty string; it has no location).
const notAnObject = "Definition must be a valid JSON object"

func (p *parser) parse(definition []byte) (*StateMachine, []Diagnostic) {
	if len(bytes.TrimSpace(definition)) == 0 {
		p.diags = append(p.diags, Diagnostic{Severity: SeverityError, Code: CodeSchema, Message: notAnObject})
		return nil, p.diags
	}
	if len(definition) > MaxDefinitionBytes {
		p.errorf(CodeSchema, "/", "The definition is larger than %d bytes", MaxDefinitionBytes)
		return nil, p.diags
	}
	if !utf8.Valid(definition) {
		p.errorf(CodeInvalidJSON, "/", "The definition is not valid UTF-8")
		return nil, p.diags
	}
	raw, err := decode(definition)
	if err != nil {
		if d, ok := unrecognizedToken(definition); ok {
			p.diags = append(p.diags, d)
		} else {
			p.errorf(CodeInvalidJSON, "/", "%s", jsonErrorText(definition, err))
		}
		return nil, p.diags
	}
	top, ok := raw.(map[string]any)
	if !ok {
		p.diags = append(p.diags, Diagnostic{Severity: SeverityError, Code: CodeSchema, Message: notAnObject})
		return nil, p.diags
	}
	sm := &StateMachine{}
	p.fields(top, "", []string{"Comment", "StartAt", "States", "Version", "TimeoutSeconds", "QueryLanguage"})
	sm.Comment = p.str(top, "", "Comment")
	sm.Version = p.str(top, "", "Version")
	if _, ok := top["Version"]; ok && sm.Version != "1.0" {
		p.errorf(CodeSchema, "/Version", "The value for the field 'Version' must be \"1.0\"")
	}
	sm.QueryLanguage = p.queryLanguage(top, "")
	if sm.QueryLanguage == QueryJSONata {
		p.lang = QueryJSONata
	}
	if f := p.intField(top, "", "TimeoutSeconds", "", 1, maxTimeoutSeconds); f.Set {
		sm.TimeoutSeconds = f.Value
	}
	m := p.machine(top, "")
	if m != nil {
		sm.Machine = *m
	}
	p.checkScopes()
	return sm, p.diags
}

// unrecognizedToken words a definition that starts with a bare word (not a
// definition at all) as AWS's JSON parser, Jackson, does (recorded:
// LocalStack's test_validate_state_machine_definition_not_a_definition[NOT_A_DEF]):
// the token, and where it ends in Jackson's [Source: ...] form.
func unrecognizedToken(b []byte) (Diagnostic, bool) {
	const maxSource = 500 // Jackson cuts longer sources short; not emulated
	if len(b) > maxSource {
		return Diagnostic{}, false
	}
	start := len(b) - len(bytes.TrimLeft(b, " \t\r\n"))
	end := start
	for end < len(b) && isTokenByte(b[end]) {
		end++
	}
	if end == start || !(b[start] >= 'a' && b[start] <= 'z' || b[start] >= 'A' && b[start] <= 'Z') {
		return Diagnostic{}, false
	}
	if tok := string(b[start:end]); tok == "null" || tok == "true" || tok == "false" {
		return Diagnostic{}, false
	}
	line, col := 1, 1
	for _, c := range b[:end] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	where := fmt.Sprintf("[Source: (String)%q; line: %d, column: %d]", string(b), line, col)
	return Diagnostic{
		Severity: SeverityError, Code: CodeInvalidJSON, Location: where,
		Message: fmt.Sprintf("Unrecognized token '%s': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')\n at %s", b[start:end], where),
	}, true
}

func isTokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$'
}

// jsonErrorText names where a JSON syntax error is, by line and column.
func jsonErrorText(b []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := 1, 1
		for _, c := range b[:min(int(se.Offset), len(b))] {
			if c == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		return fmt.Sprintf("%s (line %d, column %d)", se.Error(), line, col)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "Unexpected end of input"
	}
	return err.Error()
}

func (p *parser) queryLanguage(obj map[string]any, loc string) string {
	v, ok := obj["QueryLanguage"]
	if !ok {
		return ""
	}
	s, _ := v.(string)
	switch s {
	case QueryJSONPath, QueryJSONata:
	default:
		p.errorf(CodeSchema, loc+"/QueryLanguage", "The value for the field 'QueryLanguage' must be one of [JSONPath, JSONata]")
	}
	return s
}

// fields reports every key of obj not in allowed.
func (p *parser) fields(obj map[string]any, loc string, allowed []string) {
	for _, k := range sortedKeys(obj) {
		if !slices.Contains(allowed, k) {
			p.errorf(CodeSchema, locOrRoot(loc), "The field '%s' is not supported by Step Functions", k)
		}
	}
}

func locOrRoot(loc string) string {
	if loc == "" {
		return "/"
	}
	return loc
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (p *parser) require(obj map[string]any, loc string, names ...string) bool {
	var missing []string
	for _, n := range names {
		if _, ok := obj[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		p.errorf(CodeSchema, locOrRoot(loc), "These fields are required: [%s]", strings.Join(missing, ", "))
		return false
	}
	return true
}

func (p *parser) str(obj map[string]any, loc, key string) string {
	v, ok := obj[key]
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		p.errorf(CodeSchema, loc+"/"+key, "The value for the field '%s' must be a STRING", key)
	}
	return s
}

func (p *parser) boolean(obj map[string]any, loc, key string) (val, present bool) {
	v, ok := obj[key]
	if !ok {
		return false, false
	}
	b, ok := v.(bool)
	if !ok {
		p.errorf(CodeSchema, loc+"/"+key, "The value for the field '%s' must be a BOOLEAN", key)
	}
	return b, true
}

func (p *parser) object(obj map[string]any, loc, key string) map[string]any {
	v, ok := obj[key]
	if !ok {
		return nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		p.errorf(CodeSchema, loc+"/"+key, "The value for the field '%s' must be an OBJECT", key)
	}
	return o
}

func (p *parser) array(obj map[string]any, loc, key string) []any {
	v, ok := obj[key]
	if !ok {
		return nil
	}
	a, ok := v.([]any)
	if !ok {
		p.errorf(CodeSchema, loc+"/"+key, "The value for the field '%s' must be an ARRAY", key)
	}
	return a
}

// integer reads a JSON integer in [lo, hi].
func (p *parser) integer(v any, loc, key string, lo, hi int64) (int64, bool) {
	n, ok := v.(json.Number)
	if ok {
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			if i < lo || i > hi {
				p.errorf(CodeSchema, loc, "The value for the field '%s' must be between %d and %d", key, lo, hi)
				return 0, false
			}
			return i, true
		}
	}
	p.errorf(CodeSchema, loc, "The value for the field '%s' must be an INTEGER", key)
	return 0, false
}

func (p *parser) number(v any, loc, key string, lo, hi float64) (float64, bool) {
	n, ok := v.(json.Number)
	if ok {
		if f, err := strconv.ParseFloat(string(n), 64); err == nil && !math.IsInf(f, 0) {
			if f < lo || f > hi {
				p.errorf(CodeSchema, loc, "The value for the field '%s' must be between %g and %g", key, lo, hi)
				return 0, false
			}
			return f, true
		}
	}
	p.errorf(CodeSchema, loc, "The value for the field '%s' must be a NUMBER", key)
	return 0, false
}

// intField reads an integer given literally (key) or as a path (pathKey).
func (p *parser) intField(obj map[string]any, loc, key, pathKey string, lo, hi int64) IntField {
	var f IntField
	v, lit := obj[key]
	_, byPath := obj[pathKey]
	byPath = byPath && pathKey != ""
	if lit && byPath {
		p.errorf(CodeSchema, loc, "The fields '%s' and '%s' cannot both be given", key, pathKey)
		return f
	}
	if lit {
		f.Value, f.Set = p.integer(v, loc+"/"+key, key, lo, hi)
	}
	if byPath {
		f.Path = p.path(obj, loc, pathKey, pathPlain)
		f.Set = f.Path != nil
	}
	return f
}

func (p *parser) floatField(obj map[string]any, loc, key, pathKey string, lo, hi float64) FloatField {
	var f FloatField
	v, lit := obj[key]
	_, byPath := obj[pathKey]
	if lit && byPath {
		p.errorf(CodeSchema, loc, "The fields '%s' and '%s' cannot both be given", key, pathKey)
		return f
	}
	if lit {
		f.Value, f.Set = p.number(v, loc+"/"+key, key, lo, hi)
	}
	if byPath {
		f.Path = p.path(obj, loc, pathKey, pathPlain)
		f.Set = f.Path != nil
	}
	return f
}

type pathKind int

const (
	pathPlain     pathKind = iota // a path, no null
	pathNullable                  // InputPath, OutputPath: null allowed
	pathReference                 // ResultPath: reference path or null, no $$
)

func (p *parser) path(obj map[string]any, loc, key string, kind pathKind) *Path {
	v, ok := obj[key]
	if !ok {
		return nil
	}
	floc := loc + "/" + key
	if v == nil {
		if kind == pathPlain {
			p.errorf(CodeSchema, floc, "The value for the field '%s' must be a STRING", key)
			return nil
		}
		return &Path{Null: true}
	}
	s, ok := v.(string)
	if !ok {
		p.errorf(CodeSchema, floc, "The value for the field '%s' must be a STRING", key)
		return nil
	}
	return p.compilePath(s, floc, key, kind)
}

func (p *parser) compilePath(s, floc, key string, kind pathKind) *Path {
	if !strings.HasPrefix(s, "$") {
		p.errorf(CodeSchema, floc, "The value for the field '%s' must be a valid JSONPath", key)
		return nil
	}
	var (
		c   *jsonpath.Path
		err error
	)
	if kind == pathReference {
		if strings.HasPrefix(s, "$$") {
			p.errorf(CodeSchema, floc, "The value for the field '%s' must be a valid ReferencePath: it cannot refer to the context object", key)
			return nil
		}
		c, err = jsonpath.CompileReference(s)
	} else {
		c, err = jsonpath.Compile(s)
	}
	if err != nil {
		p.errorf(CodeSchema, floc, "The value for the field '%s' must be a valid JSONPath: %v", key, err)
		return nil
	}
	return &Path{Raw: s, Path: c}
}

func (p *parser) template(obj map[string]any, loc, key string) *jsonpath.Template {
	v, ok := obj[key]
	if !ok {
		return nil
	}
	if _, isObj := v.(map[string]any); !isObj {
		p.errorf(CodeSchema, loc+"/"+key, "The value for the field '%s' must be an OBJECT", key)
		return nil
	}
	t, err := jsonpath.CompileTemplate(v)
	if err != nil {
		p.errorf(CodeSchema, loc+"/"+key, "The value for the field '%s' is not valid: %v", key, err)
		return nil
	}
	return t
}

// machine parses StartAt and States of obj (the top level, a branch or an
// item processor) and checks transitions within it.
func (p *parser) machine(obj map[string]any, loc string) *Machine {
	// AWS lists the missing fields in this order: "These fields are required: [States, StartAt]".
	if !p.require(obj, loc, "States", "StartAt") {
		return nil
	}
	m := &Machine{StartAt: p.str(obj, loc, "StartAt"), States: map[string]*State{}}
	states := p.object(obj, loc, "States")
	if states == nil {
		return m
	}
	if len(states) == 0 {
		p.errorf(CodeSchema, loc+"/States", "The field 'States' must contain at least one state")
	}
	for _, name := range sortedKeys(states) {
		sloc := loc + "/States/" + name
		if utf8.RuneCountInString(name) > MaxNameLength {
			p.errorf(CodeSchema, sloc, "State names must be at most %d characters", MaxNameLength)
		}
		if name == "" {
			p.errorf(CodeSchema, sloc, "State names must not be empty")
		}
		if prev, dup := p.names[name]; dup {
			p.errorf(CodeDuplicateName, sloc, "Duplicate State name: %s (also at %s)", name, prev)
		}
		p.names[name] = sloc
		so, ok := states[name].(map[string]any)
		if !ok {
			p.errorf(CodeSchema, sloc, "A state must be a JSON object")
			continue
		}
		if st := p.state(name, so, sloc); st != nil {
			m.States[name] = st
		}
	}
	if len(m.States) == len(states) {
		// With a state that did not parse, every transition to it and
		// everything past it would be reported too.
		p.transitions(m, loc)
	}
	return m
}

func (p *parser) transitions(m *Machine, loc string) {
	target := func(next, floc, field string) {
		if next == "" {
			return
		}
		if _, ok := m.States[next]; !ok {
			p.errorf(CodeMissingTarget, floc, "Missing '%s' target: %s", field, next)
		}
	}
	if m.StartAt != "" {
		target(m.StartAt, locOrRoot(loc)+pathSep(loc)+"StartAt", "StartAt")
	}
	for _, name := range sortedStateNames(m) {
		st := m.States[name]
		sloc := loc + "/States/" + name
		target(st.Next, sloc+"/Next", "Next")
		target(st.Default, sloc+"/Default", "Default")
		for i, c := range st.Catch {
			target(c.Next, fmt.Sprintf("%s/Catch[%d]/Next", sloc, i), "Next")
		}
		for i, r := range st.Choices {
			target(r.Next, fmt.Sprintf("%s/Choices[%d]/Next", sloc, i), "Next")
		}
	}
	// Reachability from StartAt.
	seen := map[string]bool{}
	queue := []string{m.StartAt}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		st, ok := m.States[n]
		if !ok || seen[n] {
			continue
		}
		seen[n] = true
		queue = append(queue, st.Next, st.Default)
		for _, c := range st.Catch {
			queue = append(queue, c.Next)
		}
		for _, r := range st.Choices {
			queue = append(queue, r.Next)
		}
	}
	if _, ok := m.States[m.StartAt]; !ok {
		return
	}
	for _, name := range sortedStateNames(m) {
		if !seen[name] {
			p.errorf(CodeMissingTarget, loc+"/States/"+name, "State \"%s\" is not reachable.", name)
		}
	}
}

func pathSep(loc string) string {
	if loc == "" {
		return ""
	}
	return "/"
}

func sortedStateNames(m *Machine) []string {
	names := make([]string, 0, len(m.States))
	for n := range m.States {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var stateFields = map[string][]string{
	TypePass:     {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "Result"},
	TypeTask:     {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Resource", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath", "Retry", "Catch", "Credentials"},
	TypeChoice:   {"InputPath", "OutputPath", "Choices", "Default"},
	TypeWait:     {"Next", "End", "InputPath", "OutputPath", "Seconds", "Timestamp", "SecondsPath", "TimestampPath"},
	TypeSucceed:  {"InputPath", "OutputPath"},
	TypeFail:     {"Error", "Cause", "ErrorPath", "CausePath"},
	TypeParallel: {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Branches", "Retry", "Catch"},
	TypeMap:      {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ItemSelector", "ResultSelector", "Iterator", "ItemProcessor", "ItemsPath", "MaxConcurrency", "MaxConcurrencyPath", "ToleratedFailureCount", "ToleratedFailureCountPath", "ToleratedFailurePercentage", "ToleratedFailurePercentagePath", "Label", "ItemReader", "ItemBatcher", "ResultWriter", "Retry", "Catch"},
}

// Fields AWS accepts that the local backend cannot honour.
var unsupportedFields = map[string]string{
	"ItemReader":   "Distributed Map (ItemReader)",
	"ItemBatcher":  "Distributed Map (ItemBatcher)",
	"ResultWriter": "Distributed Map (ResultWriter)",
}

func (p *parser) state(name string, obj map[string]any, loc string) *State {
	if !p.require(obj, loc, "Type") {
		return nil
	}
	typ, _ := obj["Type"].(string)
	allowed, ok := stateFields[typ]
	if !ok {
		p.errorf(CodeSchema, loc+"/Type", "The field 'Type' should have one of these values: [Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map]")
		return nil
	}
	st := &State{Name: name, Type: typ}
	lang := p.stateLanguage(obj, loc)
	st.QueryLanguage, p.stateLang = lang, lang
	if lang == QueryJSONata {
		allowed = jsonataFields[typ]
	} else if typ != TypeSucceed && typ != TypeFail {
		allowed = append(slices.Clip(allowed), "Assign")
	}
	p.languageFields(obj, loc, lang)
	for _, k := range sortedKeys(obj) {
		switch {
		case k == "Type" || k == "Comment" || k == "QueryLanguage":
		case lang == QueryJSONata && slices.Contains(jsonPathOnly, k), lang == QueryJSONPath && slices.Contains(jsonataOnly, k):
			// reported by languageFields
		case unsupportedFields[k] != "":
			p.errorf(CodeSchema, loc+"/"+k, "%s %s", unsupportedFields[k], unsupportedLocalMsg)
		case !slices.Contains(allowed, k):
			p.errorf(CodeSchema, loc, "The field '%s' is not supported by Step Functions", k)
		}
	}
	st.Comment = p.str(obj, loc, "Comment")
	if slices.Contains(allowed, "Assign") {
		st.Assign = p.assign(obj, loc, lang)
	}
	if lang == QueryJSONata {
		p.jsonataState(st, obj, loc)
		var drop []string
		if typ == TypeMap {
			drop = []string{"ItemSelector"}
		}
		obj = literalOnly(obj, drop, "TimeoutSeconds", "HeartbeatSeconds", "Seconds", "Timestamp",
			"MaxConcurrency", "ToleratedFailureCount", "ToleratedFailurePercentage", "Error", "Cause")
	}

	// Next / End.
	switch typ {
	case TypeChoice, TypeSucceed, TypeFail:
	default:
		st.Next = p.str(obj, loc, "Next")
		end, hasEnd := p.boolean(obj, loc, "End")
		_, hasNext := obj["Next"]
		switch {
		case hasNext && hasEnd:
			p.errorf(CodeSchema, loc, "Only one of 'Next' or 'End' can be present")
		case !hasNext && !hasEnd:
			p.errorf(CodeSchema, loc, "These fields are required: [Next or End]")
		case hasEnd && !end:
			p.errorf(CodeSchema, loc+"/End", "The value for the field 'End' must be true")
		}
		st.End = end
	}
	if slices.Contains(allowed, "InputPath") {
		st.InputPath = p.path(obj, loc, "InputPath", pathNullable)
		st.OutputPath = p.path(obj, loc, "OutputPath", pathNullable)
	}
	if slices.Contains(allowed, "ResultPath") {
		st.ResultPath = p.path(obj, loc, "ResultPath", pathReference)
	}
	if slices.Contains(allowed, "Parameters") && typ != TypeMap {
		st.Parameters = p.template(obj, loc, "Parameters")
	}
	if slices.Contains(allowed, "ResultSelector") {
		st.ResultSelector = p.template(obj, loc, "ResultSelector")
	}
	if slices.Contains(allowed, "Retry") {
		st.Retry = p.retriers(obj, loc)
		st.Catch = p.catchers(obj, loc)
	}

	switch typ {
	case TypePass:
		if v, ok := obj["Result"]; ok {
			st.Result, st.HasResult = v, true
		}
	case TypeTask:
		p.task(st, obj, loc)
	case TypeChoice:
		p.choice(st, obj, loc)
	case TypeWait:
		if lang == QueryJSONata {
			st.Seconds = p.intField(obj, loc, "Seconds", "", 0, maxTimeoutSeconds)
			if _, ok := obj["Timestamp"]; ok {
				p.waitTimestamp(st, obj, loc)
			}
		} else {
			p.wait(st, obj, loc)
		}
	case TypeFail:
		st.Error = p.value(obj, loc, "Error", "ErrorPath")
		st.Cause = p.value(obj, loc, "Cause", "CausePath")
	case TypeParallel:
		if p.require(obj, loc, "Branches") {
			branches := p.array(obj, loc, "Branches")
			if branches != nil && len(branches) == 0 {
				p.errorf(CodeSchema, loc+"/Branches", "The field 'Branches' must contain at least one branch")
			}
			for i, b := range branches {
				bloc := fmt.Sprintf("%s/Branches[%d]", loc, i)
				bo, ok := b.(map[string]any)
				if !ok {
					p.errorf(CodeSchema, bloc, "A branch must be a JSON object")
					continue
				}
				p.fields(bo, bloc, []string{"StartAt", "States", "Comment"})
				p.enterScope()
				if m := p.machine(bo, bloc); m != nil {
					st.Branches = append(st.Branches, m)
				}
				p.leaveScope()
			}
		}
	case TypeMap:
		p.mapState(st, obj, loc)
	}
	return st
}

func (p *parser) value(obj map[string]any, loc, key, pathKey string) *Value {
	_, lit := obj[key]
	pv, byPath := obj[pathKey]
	switch {
	case lit && byPath:
		p.errorf(CodeSchema, loc, "The fields '%s' and '%s' cannot both be given", key, pathKey)
	case lit:
		return &Value{Literal: p.str(obj, loc, key)}
	case byPath:
		s, ok := pv.(string)
		if !ok {
			p.errorf(CodeSchema, loc+"/"+pathKey, "The value for the field '%s' must be a STRING", pathKey)
			return nil
		}
		t, err := jsonpath.CompileField(pathKey, s)
		if err != nil {
			p.errorf(CodeSchema, loc+"/"+pathKey, "The value for the field '%s' must be a valid JSONPath or intrinsic function: %v", pathKey, err)
			return nil
		}
		return &Value{Template: t}
	}
	return nil
}

var (
	lambdaARN    = lazyRegexp(`^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]+)?$`)
	statesARN    = lazyRegexp(`^arn:aws[a-z-]*:states:[a-z0-9-]*:\d*:([A-Za-z0-9-]+(?::[A-Za-z0-9-]+)?):([A-Za-z0-9.:-]+)$`)
	activityARN  = lazyRegexp(`^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:activity:`)
	taskTokenKey = "$$.Task.Token"
)

// ResolveResource classifies a Task Resource.
func ResolveResource(resource string) Integration {
	if lambdaARN().MatchString(resource) {
		return Integration{Kind: LambdaARN, Function: resource}
	}
	if activityARN().MatchString(resource) {
		return Integration{Kind: Unsupported, ResourceType: "activity", ResourceName: resource}
	}
	if m := statesARN().FindStringSubmatch(resource); m != nil {
		in := Integration{Kind: Unsupported, ResourceType: m[1], ResourceName: m[2]}
		api := m[2]
		if strings.HasSuffix(api, ".waitForTaskToken") {
			in.WaitForTaskToken = true
			api = strings.TrimSuffix(api, ".waitForTaskToken")
		}
		if m[1] == "lambda" && api == "invoke" {
			in.Kind = LambdaInvoke
		}
		return in
	}
	return Integration{Kind: Unsupported}
}

func (p *parser) task(st *State, obj map[string]any, loc string) {
	if !p.require(obj, loc, "Resource") {
		return
	}
	st.Resource = p.str(obj, loc, "Resource")
	st.Integration = ResolveResource(st.Resource)
	switch st.Integration.Kind {
	case Unsupported:
		if !strings.HasPrefix(st.Resource, "arn:") {
			p.errorf(CodeInvalidResource, loc+"/Resource", "Resource '%s' is not a valid ARN", st.Resource)
		} else {
			p.warnf(CodeInvalidResource, loc+"/Resource", "Resource '%s' %s: only Lambda functions (function ARNs and arn:aws:states:::lambda:invoke) run locally", st.Resource, unsupportedLocalMsg)
		}
	case LambdaInvoke:
		field := "Parameters"
		if st.JSONata() {
			field = "Arguments"
		}
		params, isObj := obj[field].(map[string]any)
		_, name := params["FunctionName"]
		_, namePath := params["FunctionName.$"]
		if !name && !namePath && (isObj || !st.JSONata()) {
			p.errorf(CodeSchema, loc+"/"+field, "The field 'FunctionName' is required but was missing")
		}
	}
	if st.Integration.WaitForTaskToken && p.express {
		// AWS's text, trailing space included (recorded: LocalStack's
		// test_validate_state_machine_definition_type_express[ILLEGAL_WFTT]).
		p.errorf(CodeSchema, loc+"/Resource", "Express state machine does not support '.waitForTaskToken' service integration ")
	}
	switch {
	case !st.Integration.WaitForTaskToken:
	case st.JSONata() && !strings.Contains(fmt.Sprint(obj["Arguments"]), "$states.context.Task.Token"):
		p.errorf(CodeSchema, loc+"/Arguments", "The 'Arguments' field must contain the task token ($states.context.Task.Token) when the resource ends in .waitForTaskToken")
	case !st.JSONata() && !strings.Contains(fmt.Sprint(obj["Parameters"]), taskTokenKey):
		p.errorf(CodeSchema, loc+"/Parameters", "The 'Parameters' field must contain the task token ($$.Task.Token) when the resource ends in .waitForTaskToken")
	}
	st.TimeoutSeconds = p.intField(obj, loc, "TimeoutSeconds", "TimeoutSecondsPath", 1, maxTimeoutSeconds)
	st.HeartbeatSeconds = p.intField(obj, loc, "HeartbeatSeconds", "HeartbeatSecondsPath", 1, maxTimeoutSeconds)
	if hb := st.HeartbeatSeconds; hb.Set && hb.Path == nil {
		timeout := int64(DefaultTaskTimeoutSeconds)
		if st.TimeoutSeconds.Set && st.TimeoutSeconds.Path == nil {
			timeout = st.TimeoutSeconds.Value
		}
		if hb.Value >= timeout {
			p.errorf(CodeSchema, loc+"/HeartbeatSeconds", "HeartbeatSeconds must be smaller than TimeoutSeconds")
		}
	}
	if _, ok := obj["Credentials"]; ok {
		st.Credentials = p.template(obj, loc, "Credentials")
	}
}

func (p *parser) errorEquals(obj map[string]any, loc string, last bool) []string {
	if !p.require(obj, loc, "ErrorEquals") {
		return nil
	}
	arr := p.array(obj, loc, "ErrorEquals")
	if arr != nil && len(arr) == 0 {
		p.errorf(CodeSchema, loc+"/ErrorEquals", "The field 'ErrorEquals' must contain at least one error name")
	}
	var names []string
	for i, v := range arr {
		s, ok := v.(string)
		if !ok {
			p.errorf(CodeSchema, fmt.Sprintf("%s/ErrorEquals[%d]", loc, i), "Error names must be STRINGs")
			continue
		}
		if strings.HasPrefix(s, "States.") && !predefinedErrors[s] {
			p.errorf(CodeSchema, fmt.Sprintf("%s/ErrorEquals[%d]", loc, i), "'%s' is not a predefined error name; names starting 'States.' are reserved", s)
		}
		names = append(names, s)
	}
	if slices.Contains(names, "States.ALL") {
		if len(names) > 1 {
			p.errorf(CodeSchema, loc+"/ErrorEquals", "'States.ALL' must appear alone in ErrorEquals")
		}
		if !last {
			p.errorf(CodeSchema, loc+"/ErrorEquals", "'States.ALL' must appear only in the last element")
		}
	}
	return names
}

func (p *parser) retriers(obj map[string]any, loc string) []*Retrier {
	arr := p.array(obj, loc, "Retry")
	var out []*Retrier
	for i, v := range arr {
		rloc := fmt.Sprintf("%s/Retry[%d]", loc, i)
		ro, ok := v.(map[string]any)
		if !ok {
			p.errorf(CodeSchema, rloc, "A retrier must be a JSON object")
			continue
		}
		p.fields(ro, rloc, []string{"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment"})
		r := &Retrier{IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2}
		r.ErrorEquals = p.errorEquals(ro, rloc, i == len(arr)-1)
		if v, ok := ro["IntervalSeconds"]; ok {
			n, _ := p.integer(v, rloc+"/IntervalSeconds", "IntervalSeconds", 1, maxIntervalSeconds)
			r.IntervalSeconds = float64(n)
		}
		if v, ok := ro["MaxAttempts"]; ok {
			r.MaxAttempts, _ = p.integer(v, rloc+"/MaxAttempts", "MaxAttempts", 0, maxMaxAttempts)
		}
		if v, ok := ro["BackoffRate"]; ok {
			r.BackoffRate, _ = p.number(v, rloc+"/BackoffRate", "BackoffRate", 1, math.MaxFloat64)
		}
		if v, ok := ro["MaxDelaySeconds"]; ok {
			n, _ := p.integer(v, rloc+"/MaxDelaySeconds", "MaxDelaySeconds", 1, maxMaxDelaySeconds)
			r.MaxDelaySeconds = float64(n)
		}
		switch js := p.str(ro, rloc, "JitterStrategy"); js {
		case "", "NONE":
		case "FULL":
			r.JitterFull = true
		default:
			p.errorf(CodeSchema, rloc+"/JitterStrategy", "The value for the field 'JitterStrategy' must be one of [FULL, NONE]")
		}
		out = append(out, r)
	}
	return out
}

func (p *parser) catchers(obj map[string]any, loc string) []*Catcher {
	arr := p.array(obj, loc, "Catch")
	var out []*Catcher
	for i, v := range arr {
		cloc := fmt.Sprintf("%s/Catch[%d]", loc, i)
		co, ok := v.(map[string]any)
		if !ok {
			p.errorf(CodeSchema, cloc, "A catcher must be a JSON object")
			continue
		}
		catchFields := []string{"ErrorEquals", "Next", "ResultPath", "Comment", "Assign"}
		if p.stateLang == QueryJSONata {
			catchFields = []string{"ErrorEquals", "Next", "Output", "Comment", "Assign"}
			p.languageFields(co, cloc, QueryJSONata)
		}
		p.fields(co, cloc, catchFields)
		c := &Catcher{ErrorEquals: p.errorEquals(co, cloc, i == len(arr)-1)}
		if p.require(co, cloc, "Next") {
			c.Next = p.str(co, cloc, "Next")
		}
		if p.stateLang != QueryJSONata {
			c.ResultPath = p.path(co, cloc, "ResultPath", pathReference)
		}
		p.catcherQuery(c, co, cloc, p.stateLang)
		out = append(out, c)
	}
	return out
}

func (p *parser) wait(st *State, obj map[string]any, loc string) {
	n := 0
	for _, k := range []string{"Seconds", "Timestamp", "SecondsPath", "TimestampPath"} {
		if _, ok := obj[k]; ok {
			n++
		}
	}
	if n != 1 {
		p.errorf(CodeSchema, loc, "A Wait state must have exactly one of [Seconds, Timestamp, SecondsPath, TimestampPath]")
		return
	}
	st.Seconds = p.intField(obj, loc, "Seconds", "SecondsPath", 0, maxTimeoutSeconds)
	if _, ok := obj["Timestamp"]; ok {
		p.waitTimestamp(st, obj, loc)
	}
	st.TimestampPath = p.path(obj, loc, "TimestampPath", pathPlain)
}

func (p *parser) waitTimestamp(st *State, obj map[string]any, loc string) {
	{
		s := p.str(obj, loc, "Timestamp")
		t, err := ParseTimestamp(s)
		if err != nil {
			p.errorf(CodeSchema, loc+"/Timestamp", "The value for the field 'Timestamp' must be a valid ISO-8601 timestamp: %q", s)
		} else {
			st.Timestamp = &t
		}
	}
}

// ParseTimestamp reads a States Language timestamp: RFC 3339 with an
// uppercase T and Z (or offset).
func ParseTimestamp(s string) (time.Time, error) {
	if strings.ContainsAny(s, "tz ") {
		return time.Time{}, fmt.Errorf("timestamp %q must use an uppercase T and Z", s)
	}
	return time.Parse(time.RFC3339Nano, s)
}

// processor parses a Map's ItemProcessor or Iterator (key): a machine with an
// optional ProcessorConfig, of which only the INLINE mode runs locally.
func (p *parser) processor(obj map[string]any, loc, key string) *Machine {
	o := p.object(obj, loc, key)
	if o == nil {
		return nil
	}
	ploc := loc + "/" + key
	p.fields(o, ploc, []string{"StartAt", "States", "Comment", "ProcessorConfig"})
	if pc := p.object(o, ploc, "ProcessorConfig"); pc != nil {
		p.fields(pc, ploc+"/ProcessorConfig", []string{"Mode", "ExecutionType"})
		switch mode := p.str(pc, ploc+"/ProcessorConfig", "Mode"); mode {
		case "", "INLINE":
		case "DISTRIBUTED":
			p.errorf(CodeSchema, ploc+"/ProcessorConfig/Mode", "Distributed Map (Mode DISTRIBUTED) %s", unsupportedLocalMsg)
		default:
			p.errorf(CodeSchema, ploc+"/ProcessorConfig/Mode", "The value for the field 'Mode' must be one of [INLINE, DISTRIBUTED]")
		}
	}
	p.enterScope()
	defer p.leaveScope()
	return p.machine(o, ploc)
}

func (p *parser) mapState(st *State, obj map[string]any, loc string) {
	_, it := obj["Iterator"]
	_, ip := obj["ItemProcessor"]
	switch {
	case it && ip:
		p.errorf(CodeSchema, loc, "Only one of 'Iterator' or 'ItemProcessor' can be present")
	case !it && !ip:
		p.errorf(CodeSchema, loc, "These fields are required: [ItemProcessor]")
	case it:
		// AWS accepts the legacy Iterator with a ProcessorConfig too (recorded:
		// LocalStack's test_map_state_legacy_config_inline_item_selector).
		st.Processor = p.processor(obj, loc, "Iterator")
	default:
		st.Processor = p.processor(obj, loc, "ItemProcessor")
	}
	_, params := obj["Parameters"]
	_, sel := obj["ItemSelector"]
	switch {
	case params && sel:
		p.errorf(CodeSchema, loc, "Only one of 'Parameters' or 'ItemSelector' can be present")
	case params:
		st.ItemSelector = p.template(obj, loc, "Parameters")
	case sel:
		st.ItemSelector = p.template(obj, loc, "ItemSelector")
	}
	st.ItemsPath = p.path(obj, loc, "ItemsPath", pathPlain)
	st.MaxConcurrency = p.intField(obj, loc, "MaxConcurrency", "MaxConcurrencyPath", 0, math.MaxInt32)
	st.ToleratedFailureCount = p.intField(obj, loc, "ToleratedFailureCount", "ToleratedFailureCountPath", 0, math.MaxInt32)
	st.ToleratedFailurePercentage = p.floatField(obj, loc, "ToleratedFailurePercentage", "ToleratedFailurePercentagePath", 0, 100)
	st.Label = p.str(obj, loc, "Label")
	if utf8.RuneCountInString(st.Label) > MaxLabelLength {
		p.errorf(CodeSchema, loc+"/Label", "The value for the field 'Label' must be at most %d characters", MaxLabelLength)
	}
}
