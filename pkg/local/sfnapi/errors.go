package sfnapi

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error namespaces as AWS sends them in __type.
const (
	nsModel      = "com.amazonaws.swf.service.v2.model"
	nsValidate   = "com.amazon.coral.validate"
	nsService    = "com.amazon.coral.service"
	nsThrottling = "com.amazon.coral.availability"
)

// apiError is an error the API answers with: HTTP status, AWS's error name
// (the part after '#' in __type) and message.
type apiError struct {
	status    int
	namespace string
	name      string
	message   string
}

func (e *apiError) Error() string { return e.name + ": " + e.message }

// modelErr is one of the Step Functions model's errors.
func modelErr(name, format string, args ...any) *apiError {
	return &apiError{status: 400, namespace: nsModel, name: name, message: fmt.Sprintf(format, args...)}
}

func serializationErr(format string, args ...any) *apiError {
	return &apiError{status: 400, namespace: nsService, name: "SerializationException", message: fmt.Sprintf(format, args...)}
}

func throttlingErr() *apiError {
	return &apiError{status: 400, namespace: nsThrottling, name: "ThrottlingException", message: "Rate exceeded"}
}

func internalErr(err error) *apiError {
	return &apiError{status: 500, namespace: nsService, name: "InternalFailure", message: err.Error()}
}

func invalidArn(reason string) *apiError { return modelErr("InvalidArn", "Invalid Arn: '%s'", reason) }

func executionDoesNotExist(arn string) *apiError {
	return modelErr("ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", arn)
}

func stateMachineDoesNotExist(arn string) *apiError {
	return modelErr("StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", arn)
}

func invalidToken(reason string) *apiError {
	return modelErr("InvalidToken", "Invalid Token: '%s'", reason)
}

// violations collects constraint violations and reports them the way AWS's
// request validation does:
//
//	2 validation errors detected: Value '1001' at 'maxResults' failed to satisfy
//	constraint: Member must have value less than or equal to 1000; Value ...
type violations []string

func (v *violations) add(value *string, member, constraint string) {
	val := "null"
	if value != nil {
		val = "'" + *value + "'"
	}
	*v = append(*v, "Value "+val+" at '"+member+"' failed to satisfy constraint: "+constraint)
}

// addSensitive reports a violation without the value, as AWS does for
// members that may carry secrets (input, definition, cause).
func (v *violations) addSensitive(member, constraint string) {
	*v = append(*v, "Value at '"+member+"' failed to satisfy constraint: "+constraint)
}

func (v *violations) required(member string, value *string) bool {
	if value == nil {
		v.add(nil, member, "Member must not be null")
		return false
	}
	return true
}

// length checks a string's length in characters (AWS counts UTF-16 units;
// runes are close enough for the names and ARNs checked here).
func (v *violations) length(member string, value *string, lo, hi int, sensitive bool) {
	if value == nil {
		return
	}
	n := utf8.RuneCountInString(*value)
	var c string
	switch {
	case n < lo:
		c = "Member must have length greater than or equal to " + strconv.Itoa(lo)
	case hi > 0 && n > hi:
		c = "Member must have length less than or equal to " + strconv.Itoa(hi)
	default:
		return
	}
	if sensitive {
		v.addSensitive(member, c)
	} else {
		v.add(value, member, c)
	}
}

func (v *violations) intRange(member string, value *int64, lo, hi int64) {
	if value == nil {
		return
	}
	s := strconv.FormatInt(*value, 10)
	switch {
	case *value < lo:
		v.add(&s, member, "Member must have value greater than or equal to "+strconv.FormatInt(lo, 10))
	case *value > hi:
		v.add(&s, member, "Member must have value less than or equal to "+strconv.FormatInt(hi, 10))
	}
}

func (v *violations) enum(member string, value *string, set ...string) {
	if value == nil {
		return
	}
	for _, s := range set {
		if *value == s {
			return
		}
	}
	v.add(value, member, "Member must satisfy enum value set: ["+strings.Join(set, ", ")+"]")
}

func (v violations) err() error {
	switch len(v) {
	case 0:
		return nil
	case 1:
		return &apiError{status: 400, namespace: nsValidate, name: "ValidationException",
			message: "1 validation error detected: " + v[0]}
	}
	return &apiError{status: 400, namespace: nsValidate, name: "ValidationException",
		message: strconv.Itoa(len(v)) + " validation errors detected: " + strings.Join(v, "; ")}
}

func validationErr(format string, args ...any) *apiError {
	return &apiError{status: 400, namespace: nsValidate, name: "ValidationException", message: fmt.Sprintf(format, args...)}
}
