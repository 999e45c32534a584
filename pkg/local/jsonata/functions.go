package jsonata

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math"
	"math/rand/v2"

	jsonatago "github.com/blues/jsonata-go"
	"github.com/blues/jsonata-go/jtypes"
)

// maxRangeItems is the most items $range makes (States.ArrayRange's limit).
const maxRangeItems = 1000

// awsFunctions are the functions Step Functions adds to JSONata, bound to
// env's random source.
func awsFunctions(env *Env) map[string]jsonatago.Extension {
	random := env.Random
	if random == nil {
		random = rand.Float64
	}
	return map[string]jsonatago.Extension{
		"partition": {Func: partition},
		"range":     {Func: rangeOf},
		"hash":      {Func: hashOf},
		"random": {Func: func(seed jtypes.OptionalFloat64) float64 {
			if seed.IsSet() {
				s := math.Float64bits(seed.Float64)
				return rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15)).Float64()
			}
			return random()
		}},
		"uuid":  {Func: func() string { return uuid(random) }},
		"parse": {Func: parse},
		// jsonata-js 2.0.6 has $assert and AWS runs it; the library does not.
		"assert": {Func: assert},
	}
}

// assert is jsonata-js's $assert(condition[, message]): undefined when the
// condition holds, error D3141 with the message (or jsonata-js's default)
// when it does not.
func assert(condition bool, message jtypes.OptionalString) (any, error) {
	if condition {
		return nil, jtypes.ErrUndefined
	}
	msg := "$assert() statement failed"
	if message.IsSet() {
		msg = message.String
	}
	return nil, errors.New("D3141: " + msg)
}

func partition(arr []any, size float64) ([]any, error) {
	if size != math.Trunc(size) || size < 1 {
		return nil, fmt.Errorf("the chunk size of $partition must be a positive integer, not %v", size)
	}
	n := int(size)
	out := []any{}
	for i := 0; i < len(arr); i += n {
		out = append(out, append([]any(nil), arr[i:min(i+n, len(arr))]...))
	}
	return out, nil
}

// rangeOf builds $range's items. AWS returns them as a JSONata sequence, so
// one item comes out as itself (recorded: $range(1, 9, 9) is 1) and none as
// undefined.
func rangeOf(start, end, step float64) (any, error) {
	for _, v := range []float64{start, end, step} {
		if v != math.Trunc(v) {
			return nil, errors.New("the arguments of $range must be integers")
		}
	}
	if step == 0 {
		return nil, errors.New("the step of $range must not be 0")
	}
	out := []any{}
	for v := start; (step > 0 && v <= end) || (step < 0 && v >= end); v += step {
		if len(out) == maxRangeItems {
			return nil, fmt.Errorf("$range makes at most %d items", maxRangeItems)
		}
		out = append(out, v)
	}
	switch len(out) {
	case 0:
		return nil, jtypes.ErrUndefined
	case 1:
		return out[0], nil
	}
	return out, nil
}

func hashOf(data, algorithm string) (string, error) {
	var h hash.Hash
	switch algorithm {
	case "MD5":
		h = md5.New()
	case "SHA-1":
		h = sha1.New()
	case "SHA-256":
		h = sha256.New()
	case "SHA-384":
		h = sha512.New384()
	case "SHA-512":
		h = sha512.New()
	default:
		return "", fmt.Errorf("the algorithm of $hash must be one of MD5, SHA-1, SHA-256, SHA-384, SHA-512, not %q", algorithm)
	}
	h.Write([]byte(data))
	return hex.EncodeToString(h.Sum(nil)), nil
}

func parse(s string) (any, error) {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("$parse: the string is not JSON: %v", err)
	}
	if v == nil {
		return nil, nil
	}
	return v, nil
}

// uuid makes a version 4 UUID from the random source.
func uuid(random func() float64) string {
	var b [16]byte
	for i := 0; i < 16; i += 4 {
		binary.BigEndian.PutUint32(b[i:], uint32(random()*(1<<32)))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
