// Package jsonpath implements JSONPath, payload templates and intrinsic
// functions of the Amazon States Language.
//
// Values are what encoding/json decodes into with UseNumber: nil, bool,
// json.Number, string, []any and map[string]any. Expressions are compiled once
// (when a state machine is created) and evaluated many times, so evaluation
// never re-parses and never mutates its inputs: results may share structure
// with the documents they came from, and callers treat every value as
// immutable (Set copies what it changes).
package jsonpath
