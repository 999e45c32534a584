package watch

import (
	"encoding/json"
	"strings"
)

// Cause is a failure's cause, unwrapped. Lambda (and odin's local backend)
// put a JSON object in the cause: {"errorMessage","errorType","stackTrace"};
// errorMessage may itself be such an object, or other JSON.
type Cause struct {
	Message    string   `json:"message"`
	Type       string   `json:"type,omitempty"`
	StackTrace []string `json:"stack_trace,omitempty"`
	// Nested is the cause inside Message when Message was JSON itself.
	Nested *Cause `json:"nested,omitempty"`
	// Raw is the cause as recorded.
	Raw string `json:"-"`
}

// UnwrapCause reads a cause string. Plain text comes back as Message.
func UnwrapCause(cause string) Cause {
	return unwrap(cause, 0)
}

func unwrap(cause string, depth int) Cause {
	c := Cause{Message: cause, Raw: cause}
	s := strings.TrimSpace(cause)
	if depth > 8 || !strings.HasPrefix(s, "{") {
		return c
	}
	var l struct {
		ErrorMessage *json.RawMessage `json:"errorMessage"`
		ErrorType    string           `json:"errorType"`
		StackTrace   json.RawMessage  `json:"stackTrace"`
		// A caught error written by ResultPath: {"Error","Cause"}.
		Error string  `json:"Error"`
		Cause *string `json:"Cause"`
	}
	if json.Unmarshal([]byte(s), &l) != nil {
		return c
	}
	switch {
	case l.ErrorMessage != nil:
		var msg string
		if json.Unmarshal(*l.ErrorMessage, &msg) != nil {
			msg = string(*l.ErrorMessage)
		}
		c.Message, c.Type = msg, l.ErrorType
		c.StackTrace = stackTrace(l.StackTrace)
	case l.Cause != nil:
		c.Message, c.Type = *l.Cause, l.Error
	default:
		return c
	}
	if inner := strings.TrimSpace(c.Message); strings.HasPrefix(inner, "{") {
		if n := unwrap(inner, depth+1); n.Message != inner {
			c.Nested = &n
		}
	}
	return c
}

// stackTrace accepts the shapes seen in the wild: a list of strings (Node,
// Go), or a list of objects/lists (Python's frames), flattened to lines.
func stackTrace(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var strs []string
	if json.Unmarshal(raw, &strs) == nil {
		return strs
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil
	}
	var lines []string
	for _, a := range items {
		var s string
		if json.Unmarshal(a, &s) == nil {
			lines = append(lines, s)
			continue
		}
		lines = append(lines, string(a))
	}
	return lines
}

// Innermost is the deepest nested cause: the message a person wants first.
func (c Cause) Innermost() Cause {
	for c.Nested != nil {
		c = *c.Nested
	}
	return c
}

// Summary is the innermost message on one line.
func (c Cause) Summary() string {
	m := c.Innermost().Message
	if i := strings.IndexByte(m, '\n'); i >= 0 {
		m = m[:i] + " …"
	}
	return m
}
