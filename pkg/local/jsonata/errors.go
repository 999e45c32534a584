package jsonata

import (
	"errors"
	"fmt"

	jsonatago "github.com/blues/jsonata-go"
)

// jsError words a library error as jsonata-js does ("T1006: Attempted to
// invoke a non-function"), since AWS quotes jsonata-js's code and message in
// its causes. Errors without a known counterpart keep the library's text.
func jsError(err error) error {
	var ee *jsonatago.EvalError
	if errors.As(err, &ee) {
		if msg := evalErrorText(ee); msg != "" {
			return errors.New(msg)
		}
		return err
	}
	var ate *jsonatago.ArgTypeError
	if errors.As(err, &ate) {
		return fmt.Errorf("T0410: Argument %d of function %q does not match function signature", ate.Which, ate.Func)
	}
	return err
}

func evalErrorText(ee *jsonatago.EvalError) string {
	switch ee.Type {
	case jsonatago.ErrNonCallable, jsonatago.ErrNonCallableApply, jsonatago.ErrNonCallablePartial:
		return "T1006: Attempted to invoke a non-function"
	case jsonatago.ErrNonNumberLHS:
		return fmt.Sprintf("T2001: The left side of the %q operator must evaluate to a number", ee.Value)
	case jsonatago.ErrNonNumberRHS:
		return fmt.Sprintf("T2002: The right side of the %q operator must evaluate to a number", ee.Value)
	case jsonatago.ErrNonIntegerLHS:
		return "T2003: The left side of the range operator (..) must evaluate to an integer"
	case jsonatago.ErrNonIntegerRHS:
		return "T2004: The right side of the range operator (..) must evaluate to an integer"
	case jsonatago.ErrNonComparableLHS, jsonatago.ErrNonComparableRHS:
		return fmt.Sprintf("T2010: The expressions either side of operator %q must evaluate to numeric or string values", ee.Value)
	case jsonatago.ErrDuplicateKey:
		return fmt.Sprintf("D1009: Multiple key definitions evaluate to same key: %q", ee.Value)
	}
	return ""
}
