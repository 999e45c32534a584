// Package asl parses and validates Amazon States Language definitions into a
// compiled form that the engine executes without parsing anything again.
package asl

import (
	"time"

	"github.com/odin-deploy/odin/pkg/local/jsonata"
	"github.com/odin-deploy/odin/pkg/local/jsonpath"
)

// State types.
const (
	TypePass     = "Pass"
	TypeTask     = "Task"
	TypeChoice   = "Choice"
	TypeWait     = "Wait"
	TypeSucceed  = "Succeed"
	TypeFail     = "Fail"
	TypeParallel = "Parallel"
	TypeMap      = "Map"
)

// DefaultTaskTimeoutSeconds is the Task timeout AWS applies when a state sets
// none (the spec says 60; AWS uses this).
const DefaultTaskTimeoutSeconds = 99999999

// StateMachine is a compiled definition.
type StateMachine struct {
	Machine
	Comment       string
	Version       string
	QueryLanguage string
	// TimeoutSeconds is the execution timeout; 0 means none.
	TimeoutSeconds int64
}

// Machine is a set of states with a start: the top level, a Parallel branch or
// a Map item processor.
type Machine struct {
	StartAt string
	States  map[string]*State
}

// Path is a compiled path field. A nil *Path means the field was absent and
// its default ("$") applies; Null means the field was given as JSON null.
type Path struct {
	Raw  string
	Null bool
	Path *jsonpath.Path
}

// Value is a field that may be given literally or through a path or an
// intrinsic (Fail's Error/ErrorPath, Cause/CausePath).
type Value struct {
	Literal  string
	Template *jsonpath.Template // evaluates to the value (jsonpath.CompileField); nil when literal
}

// IntField is an integer field that may be given literally or as a path
// (TimeoutSeconds/TimeoutSecondsPath and alike). Set says whether either was.
type IntField struct {
	Set   bool
	Value int64
	Path  *Path
}

// State is one compiled state. Only the fields of its Type are set.
type State struct {
	Query
	Name    string
	Type    string
	Comment string
	Next    string
	End     bool

	InputPath      *Path
	OutputPath     *Path
	ResultPath     *Path
	Parameters     *jsonpath.Template
	ResultSelector *jsonpath.Template

	// Pass
	Result    any
	HasResult bool

	// Task
	Resource         string
	Integration      Integration
	TimeoutSeconds   IntField
	HeartbeatSeconds IntField
	Credentials      *jsonpath.Template

	// Task, Parallel, Map
	Retry []*Retrier
	Catch []*Catcher

	// Choice
	Choices []*ChoiceRule
	Default string

	// Wait
	Seconds       IntField
	Timestamp     *time.Time
	TimestampPath *Path

	// Fail
	Error *Value
	Cause *Value

	// Parallel
	Branches []*Machine

	// Map
	Processor                  *Machine
	ItemsPath                  *Path
	ItemSelector               *jsonpath.Template
	MaxConcurrency             IntField
	ToleratedFailureCount      IntField
	ToleratedFailurePercentage FloatField
	Label                      string
}

// FloatField is a number field that may be given literally or as a path.
type FloatField struct {
	Set   bool
	Value float64
	Path  *Path
}

// Retrier is one element of a state's Retry.
type Retrier struct {
	ErrorEquals     []string
	IntervalSeconds float64
	MaxAttempts     int64
	BackoffRate     float64
	MaxDelaySeconds float64 // 0 means no cap
	JitterFull      bool
}

// Catcher is one element of a state's Catch.
type Catcher struct {
	ErrorEquals []string
	Next        string
	ResultPath  *Path
	Output      *jsonata.Template // JSONata: the state's output after the catch
	Assign      *Assign
}

// ChoiceRule is a Choice rule: a comparison, or And/Or/Not of nested rules.
// Top-level rules have Next.
type ChoiceRule struct {
	Op        string // "StringEquals", "NumericLessThanPath", "IsNull", "And", "Not", ...
	Variable  *Path
	Value     any   // the literal operand (string, json.Number, bool or time.Time)
	ValuePath *Path // the operand of a ...Path operator
	Children  []*ChoiceRule
	Next      string
	// JSONata rules: Condition is the test; Output and Assign apply when the
	// rule matches (a JSONPath top-level rule may have Assign too).
	Condition *jsonata.Template
	Output    *jsonata.Template
	Assign    *Assign
}

// IntegrationKind says how a Task's Resource is carried out.
type IntegrationKind int

const (
	// Unsupported resources fail at run time with a clear error.
	Unsupported IntegrationKind = iota
	// LambdaARN is a legacy function ARN: LambdaFunction* events.
	LambdaARN
	// LambdaInvoke is arn:aws:states:::lambda:invoke: Task* events.
	LambdaInvoke
)

// Integration is a Task's resolved Resource.
type Integration struct {
	Kind IntegrationKind
	// Function is the function name or ARN for LambdaARN (from the Resource).
	Function string
	// ResourceType and ResourceName are what Task* events show ("lambda", "invoke").
	ResourceType string
	ResourceName string
	// WaitForTaskToken is the .waitForTaskToken callback pattern.
	WaitForTaskToken bool
}
