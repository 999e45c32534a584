package asl

import (
	"strings"
)

// Diagnostic severities and the codes ValidateStateMachineDefinition uses.
const (
	SeverityError   = "ERROR"
	SeverityWarning = "WARNING"

	CodeSchema          = "SCHEMA_VALIDATION_FAILED"
	CodeInvalidJSON     = "INVALID_JSON_DESCRIPTION"
	CodeMissingTarget   = "MISSING_TRANSITION_TARGET"
	CodeDuplicateName   = "DUPLICATE_STATE_NAME"
	CodeInvalidResource = "INVALID_RESOURCE"
)

// Diagnostic is one problem in a definition, shaped like an element of
// ValidateStateMachineDefinition's diagnostics.
type Diagnostic struct {
	Severity string `json:"severity"`
	Code     string `json:"code"`
	Message  string `json:"message"`
	Location string `json:"location,omitempty"`
}

// String formats the diagnostic as AWS's messages do: "CODE: message at /loc".
func (d Diagnostic) String() string {
	s := d.Code + ": " + d.Message
	if d.Location != "" {
		s += " at " + d.Location
	}
	return s
}

// DefinitionError is returned by Parse for a definition with at least one
// ERROR diagnostic. Its message is AWS's InvalidDefinition message.
type DefinitionError struct {
	Diagnostics []Diagnostic // errors only
}

// Error is AWS's InvalidDefinition message for the diagnostics.
func (e *DefinitionError) Error() string { return InvalidDefinitionMessage(e.Diagnostics) }

// InvalidDefinitionMessage formats diagnostics as AWS's InvalidDefinition
// exception message: Invalid State Machine Definition: 'CODE: message at /loc, ...'.
// Warnings are left out.
func InvalidDefinitionMessage(diags []Diagnostic) string {
	var parts []string
	for _, d := range diags {
		if d.Severity == SeverityWarning {
			continue
		}
		parts = append(parts, d.String())
	}
	return "Invalid State Machine Definition: '" + strings.Join(parts, ", ") + "'"
}

// HasErrors reports whether any diagnostic is an ERROR.
func HasErrors(diags []Diagnostic) bool {
	for _, d := range diags {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}
