package jsonpath

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Decode parses exactly one JSON value, keeping numbers as json.Number so that
// large integers and decimal text survive a round trip unchanged.
func Decode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("decode JSON: empty input")
		}
		return nil, fmt.Errorf("decode JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("decode JSON: unexpected data after the value at offset %d", dec.InputOffset())
	}
	return v, nil
}

// Marshal writes v as compact JSON without HTML escaping, as Step Functions
// writes payloads (it leaves <, > and & as they are). Object keys come out
// sorted: Go maps keep no insertion order.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return b[:len(b)-1], nil // Encode appends a newline
}

// compactString is Marshal for messages: it never fails, because a value that
// cannot be encoded is still worth naming in an error.
func compactString(v any) string {
	b, err := Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// number reads v as a float64 when it is a JSON number (or a Go number a
// handler put there).
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, false
		}
		return f, true
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

// integer reads v as an int64 when it is a JSON number with an integral value
// in range; 3.0 counts as 3, as it does in Java's JSON libraries.
func integer(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return i, true
		}
	case int:
		return int64(n), true
	case int64:
		return n, true
	}
	f, ok := number(v)
	if !ok || f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// isNumber reports whether v is a JSON number.
func isNumber(v any) bool {
	_, ok := number(v)
	return ok
}

// equal is JSON equality: numbers compare by value (1 equals 1.0), objects
// by their members whatever the order.
func equal(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equal(xv, yv) {
				return false
			}
		}
		return true
	}
	if xn, ok := a.(json.Number); ok {
		if yn, ok := b.(json.Number); ok && xn == yn {
			return true
		}
	}
	return numbersEqual(a, b)
}

func numbersEqual(a, b any) bool {
	x, ok1 := bigNumber(a)
	y, ok2 := bigNumber(b)
	return ok1 && ok2 && x.Cmp(y) == 0
}

// bigNumber parses exactly, so 9007199254740993 and 9007199254740992 differ.
func bigNumber(v any) (*big.Float, bool) {
	var s string
	switch n := v.(type) {
	case json.Number:
		s = string(n)
	default:
		f, ok := number(v)
		if !ok {
			return nil, false
		}
		return new(big.Float).SetFloat64(f), true
	}
	f, _, err := big.ParseFloat(s, 10, 256, big.ToNearestEven)
	if err != nil {
		return nil, false
	}
	return f, true
}

// typeName names a value's JSON type for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	if isNumber(v) {
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// quoteKey writes a member name in the bracket notation Jayway JsonPath (the
// library AWS uses) prints in its messages: $['a']['b'].
func quoteKey(b *strings.Builder, name string) {
	b.WriteString("['")
	b.WriteString(strings.ReplaceAll(name, "'", "\\'"))
	b.WriteString("']")
}
