package jsonpath

import (
	"strconv"
	"strings"
)

// Error names of the States Language: the first two are raised here (as
// *Error); the engine raises the others for this package's other errors.
const (
	ErrParameterPathFailure   = "States.ParameterPathFailure"
	ErrIntrinsicFailure       = "States.IntrinsicFailure"
	ErrResultPathMatchFailure = "States.ResultPathMatchFailure"
	ErrRuntime                = "States.Runtime"
)

// Error is a States Language error raised while evaluating a template or an
// intrinsic: Name is the error name a Retry or Catch matches, Cause the text
// the history shows.
type Error struct {
	Name  string
	Cause string
}

// Error returns "Name: Cause".
func (e *Error) Error() string { return e.Name + ": " + e.Cause }

// NotFoundError says a definite path matched nothing, with what the engine
// needs to word the cause the way AWS does.
type NotFoundError struct {
	// Path is the expression as written, for example "$.a.b".
	Path string
	// Normalized is the whole path in bracket form, for example "$['a']['b']".
	Normalized string
	// At is the bracket form up to the step that failed, for example "$['a']".
	At string
	// Missing is true when a step before the last one was absent (Jayway's
	// "Missing property in path"), false when the last step found nothing.
	Missing bool
}

// Detail words the failure as Jayway JsonPath does:
// "No results for path: $['a']['b']" or "Missing property in path $['a']".
func (e *NotFoundError) Detail() string {
	if e.Missing {
		return "Missing property in path " + e.At
	}
	return "No results for path: " + e.Normalized
}

// Error gives the InputPath/OutputPath wording:
// "Invalid path '$.X' : No results for path: $['X']".
func (e *NotFoundError) Error() string {
	return "Invalid path '" + e.Path + "' : " + e.Detail()
}

// SyntaxError is a compile-time error in a path or an intrinsic call.
type SyntaxError struct {
	Expr   string // the whole expression
	Offset int    // byte offset of the problem in Expr
	Msg    string
}

// Error names the expression, the problem and where it is.
func (e *SyntaxError) Error() string {
	var b strings.Builder
	b.WriteString("invalid expression ")
	b.WriteString(quoteExpr(e.Expr))
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Offset >= 0 {
		b.WriteString(" at offset ")
		b.WriteString(strconv.Itoa(e.Offset))
	}
	return b.String()
}

func quoteExpr(s string) string { return "'" + s + "'" }
