package jsonpath

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// Every evaluation (one Path.Get, Template.Eval, Intrinsic.Eval or Set) has a
// budget, checked before the memory or the time is spent, so that a hostile
// definition or input fails its execution instead of taking the server down.
// Values share structure (States.Array($, $) holds two references to one
// input), so what a value would weigh once written out can be far larger than
// the memory it holds: the budget counts the written-out size.
const (
	// MaxValueBytes is the most a value an evaluation produces may weigh as
	// JSON: AWS's payload limit.
	MaxValueBytes = 256 * 1024
	// MaxBuiltBytes is the most new text one evaluation may build (the
	// strings of States.Format, States.JsonToString and the like), counted
	// before each is built.
	MaxBuiltBytes = 4 * MaxValueBytes
	// MaxSteps is the most nodes one evaluation may visit: enough for "$..*"
	// over any input within the payload limit several times over.
	MaxSteps = 2_000_000
)

// LimitError says an evaluation was stopped before it went over its budget.
// The engine reports a size over the limit as States.DataLimitExceeded and
// too many steps as States.Runtime, as AWS does.
type LimitError struct {
	// Steps is true when the step budget ran out, false for a size.
	Steps bool
	// Expr is the path or intrinsic call being evaluated.
	Expr string
	// Limit is the budget that would have been exceeded (bytes or steps).
	Limit int
}

// Error says which budget and where.
func (e *LimitError) Error() string {
	if e.Steps {
		return fmt.Sprintf("the evaluation of '%s' took more than %d steps", e.Expr, e.Limit)
	}
	return fmt.Sprintf("the value of '%s' is larger than %d bytes", e.Expr, e.Limit)
}

// budget is what is left to one evaluation. It is not shared between
// goroutines: every public entry point makes its own.
type budget struct {
	steps int // left
	built int // bytes of new text left
	err   *LimitError
}

func newBudget() *budget { return &budget{steps: MaxSteps, built: MaxBuiltBytes} }

// step spends n steps; false once the budget is gone (the error is kept).
func (b *budget) step(n int, expr string) bool {
	if b.err != nil {
		return false
	}
	b.steps -= n
	if b.steps < 0 {
		b.err = &LimitError{Steps: true, Expr: expr, Limit: MaxSteps}
		return false
	}
	return true
}

// build spends n bytes of new text before it is built.
func (b *budget) build(n int, expr string) bool {
	if b.err != nil {
		return false
	}
	b.built -= n
	if b.built < 0 {
		b.err = &LimitError{Expr: expr, Limit: MaxBuiltBytes}
		return false
	}
	return true
}

// fits checks that v weighs at most MaxValueBytes as JSON, without writing it.
func (b *budget) fits(v any, expr string) bool {
	if b.err != nil {
		return false
	}
	if _, ok := Size(v, MaxValueBytes); !ok {
		b.err = &LimitError{Expr: expr, Limit: MaxValueBytes}
		return false
	}
	return true
}

// buildsText names the intrinsics whose result is new text or new values
// made from their arguments (not references to them). Their arguments' size
// is charged to the budget before they run; each result is at most a small
// multiple of it.
var buildsText = map[string]bool{
	"States.Format": true, "States.JsonToString": true, "States.StringToJson": true,
	"States.StringSplit": true, "States.ArrayUnique": true, "States.Base64Encode": true,
	"States.Base64Decode": true, "States.Hash": true,
}

// Size returns how many bytes v takes written as compact JSON, walking no
// further than needed to know it is over limit: ok is false when it is, and
// then n is only a lower bound. It never allocates more than a number's text.
func Size(v any, limit int) (n int, ok bool) {
	s := sizer{limit: limit}
	s.add(v)
	return s.n, s.n <= limit
}

type sizer struct {
	n, limit int
}

func (s *sizer) over() bool { return s.n > s.limit }

func (s *sizer) add(v any) {
	if s.over() {
		return
	}
	switch x := v.(type) {
	case nil:
		s.n += 4
	case bool:
		if x {
			s.n += 4
		} else {
			s.n += 5
		}
	case string:
		s.n += stringSize(x)
	case json.Number:
		s.n += len(x)
	case []any:
		s.n += 2 + max(len(x)-1, 0)
		for _, item := range x {
			if s.over() {
				return
			}
			s.add(item)
		}
	case map[string]any:
		s.n += 2 + max(len(x)-1, 0)
		for k, item := range x {
			if s.over() {
				return
			}
			s.n += stringSize(k) + 1
			s.add(item)
		}
	case float64:
		s.n += floatSize(x)
	case float32:
		s.n += floatSize(float64(x))
	case int:
		s.n += len(strconv.Itoa(x))
	case int64:
		s.n += len(strconv.FormatInt(x, 10))
	default:
		// Not a decoded JSON value (a handler's own type): weigh its text.
		b, err := json.Marshal(x)
		if err != nil {
			s.n += 4
			return
		}
		s.n += len(b)
	}
}

// stringSize is the length of s as a JSON string, as Marshal writes it
// (without HTML escaping).
func stringSize(s string) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f':
				n += 2
			case c < 0x20:
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			n += 6 // \ufffd
		case r == '\u2028' || r == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}

func floatSize(f float64) int {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return 4
	}
	var buf [32]byte
	return len(strconv.AppendFloat(buf[:0], f, 'g', -1, 64))
}
