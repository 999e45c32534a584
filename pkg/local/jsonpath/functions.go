package jsonpath

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits AWS documents for the intrinsics.
const (
	maxRangeItems   = 1000
	maxEncodedChars = 10000
)

// functions is every intrinsic of the States Language (JSONPath mode), by
// the name after "States.". It is read-only after package initialisation.
var functions = map[string]*function{}

func init() {
	for _, f := range []*function{
		{name: "States.Format", min: 1, max: -1, eval: evalFormat},
		{name: "States.StringToJson", min: 1, max: 1, eval: evalStringToJSON},
		{name: "States.JsonToString", min: 1, max: 1, eval: evalJSONToString},
		{name: "States.Array", min: 0, max: -1, eval: evalArray},
		{name: "States.ArrayPartition", min: 2, max: 2, eval: evalArrayPartition},
		{name: "States.ArrayContains", min: 2, max: 2, eval: evalArrayContains},
		{name: "States.ArrayRange", min: 3, max: 3, eval: evalArrayRange},
		{name: "States.ArrayGetItem", min: 2, max: 2, eval: evalArrayGetItem},
		{name: "States.ArrayLength", min: 1, max: 1, eval: evalArrayLength},
		{name: "States.ArrayUnique", min: 1, max: 1, eval: evalArrayUnique},
		{name: "States.Base64Encode", min: 1, max: 1, eval: evalBase64Encode},
		{name: "States.Base64Decode", min: 1, max: 1, eval: evalBase64Decode},
		{name: "States.Hash", min: 2, max: 2, eval: evalHash},
		{name: "States.JsonMerge", min: 3, max: 3, eval: evalJSONMerge},
		{name: "States.MathRandom", min: 2, max: 3, eval: evalMathRandom},
		{name: "States.MathAdd", min: 2, max: 2, eval: evalMathAdd},
		{name: "States.StringSplit", min: 2, max: 2, eval: evalStringSplit},
		{name: "States.UUID", min: 0, max: 0, eval: evalUUID},
	} {
		functions[strings.TrimPrefix(f.name, "States.")] = f
	}
}

// argError says which argument was wrong and how.
func argError(n int, want string, got any) error {
	return fmt.Errorf("argument %d must be %s but was %s", n, want, describe(got))
}

// describe shows a value in an error: its type and a bounded rendering.
func describe(v any) string {
	if v == nil {
		return "null"
	}
	s := compactString(v)
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return typeName(v) + " " + s
}

func stringArg(args []any, n int) (string, error) {
	s, ok := args[n-1].(string)
	if !ok {
		return "", argError(n, "a string", args[n-1])
	}
	return s, nil
}

func arrayArg(args []any, n int) ([]any, error) {
	a, ok := args[n-1].([]any)
	if !ok {
		return nil, argError(n, "an array", args[n-1])
	}
	return a, nil
}

func objectArg(args []any, n int) (map[string]any, error) {
	m, ok := args[n-1].(map[string]any)
	if !ok {
		return nil, argError(n, "an object", args[n-1])
	}
	return m, nil
}

func intArg(args []any, n int) (int64, error) {
	i, ok := integer(args[n-1])
	if !ok {
		return 0, argError(n, "an integer", args[n-1])
	}
	return i, nil
}

// roundedIntArg rounds a number half up, as Java's Math.round does: AWS
// documents that MathAdd and MathRandom round non-integer arguments.
func roundedIntArg(args []any, n int) (int64, error) {
	if i, ok := integer(args[n-1]); ok {
		return i, nil
	}
	f, ok := number(args[n-1])
	if !ok || math.IsNaN(f) {
		return 0, argError(n, "a number", args[n-1])
	}
	r := math.Floor(f + 0.5)
	if r < -(1<<63) || r >= 1<<63 {
		return 0, fmt.Errorf("argument %d is out of range: %s", n, compactString(args[n-1]))
	}
	return int64(r), nil
}

func jsonInt(i int64) json.Number { return json.Number(strconv.FormatInt(i, 10)) }

func evalFormat(in *Intrinsic, args []any) (any, error) {
	var parts []string
	if first := in.args[0]; first.kind == argLiteral && first.parts != nil {
		parts = first.parts
	} else {
		s, err := stringArg(args, 1)
		if err != nil {
			return nil, err
		}
		parts = strings.Split(s, "{}")
	}
	if len(parts)-1 != len(args)-1 {
		return nil, fmt.Errorf("the format string has %d placeholder(s) but %d value(s) follow it", len(parts)-1, len(args)-1)
	}
	var b strings.Builder
	b.WriteString(parts[0])
	for j, part := range parts[1:] {
		formatValue(&b, args[j+1])
		b.WriteString(part)
	}
	return b.String(), nil
}

// formatValue renders a value the way Step Functions' Format does: strings
// as they are, objects as {key=value, ...}, arrays as [a, b].
func formatValue(b *strings.Builder, v any) {
	switch x := v.(type) {
	case string:
		b.WriteString(x)
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case []any:
		b.WriteByte('[')
		for i, item := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			formatValue(b, item)
		}
		b.WriteByte(']')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k)
			b.WriteByte('=')
			formatValue(b, x[k])
		}
		b.WriteByte('}')
	default:
		b.WriteString(formatNumber(v))
	}
}

// formatNumber writes integers as they are and other numbers as Java's
// Double.toString does (1.5, 2.0, 1.0E10), since AWS evaluates in Java.
func formatNumber(v any) string {
	if n, ok := v.(json.Number); ok {
		if _, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return string(n)
		}
	}
	f, ok := number(v)
	if !ok {
		return compactString(v)
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return compactString(v)
	}
	abs := math.Abs(f)
	if f == 0 || (abs >= 1e-3 && abs < 1e7) {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'E', -1, 64) // 1E+10
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	exp = strings.TrimPrefix(exp, "+")
	neg := strings.HasPrefix(exp, "-")
	exp = strings.TrimLeft(strings.TrimPrefix(exp, "-"), "0")
	if neg {
		exp = "-" + exp
	}
	return mant + "E" + exp
}

func evalStringToJSON(_ *Intrinsic, args []any) (any, error) {
	s, err := stringArg(args, 1)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	v, err := Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("argument 1 is not valid JSON: %w", err)
	}
	return v, nil
}

func evalJSONToString(_ *Intrinsic, args []any) (any, error) {
	b, err := Marshal(args[0])
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func evalArray(_ *Intrinsic, args []any) (any, error) {
	return args, nil
}

func evalArrayPartition(_ *Intrinsic, args []any) (any, error) {
	a, err := arrayArg(args, 1)
	if err != nil {
		return nil, err
	}
	size, err := intArg(args, 2)
	if err != nil {
		return nil, err
	}
	if size <= 0 {
		return nil, fmt.Errorf("the chunk size must be a positive integer but was %d", size)
	}
	step := int(min(size, int64(len(a)))) // a chunk never outgrows the array
	chunks := make([]any, 0, len(a)/max(step, 1)+1)
	for start := 0; start < len(a); start += step {
		end := min(start+step, len(a))
		chunks = append(chunks, a[start:end:end])
	}
	return chunks, nil
}

func evalArrayContains(_ *Intrinsic, args []any) (any, error) {
	a, err := arrayArg(args, 1)
	if err != nil {
		return nil, err
	}
	for _, v := range a {
		if equal(v, args[1]) {
			return true, nil
		}
	}
	return false, nil
}

func evalArrayRange(_ *Intrinsic, args []any) (any, error) {
	var n [3]int64
	for j := range n {
		var err error
		if n[j], err = intArg(args, j+1); err != nil {
			return nil, err
		}
	}
	first, last, step := n[0], n[1], n[2]
	if step == 0 {
		return nil, errors.New("the step must not be 0")
	}
	// Unsigned arithmetic: the distance between two int64s can exceed MaxInt64.
	var count uint64
	switch {
	case step > 0 && first <= last:
		count = (uint64(last) - uint64(first)) / uint64(step)
	case step < 0 && first >= last:
		count = (uint64(first) - uint64(last)) / (-uint64(step))
	default:
		return []any{}, nil
	}
	if count >= maxRangeItems {
		return nil, fmt.Errorf("the range has more than %d items", maxRangeItems)
	}
	count++
	out := make([]any, count)
	for j := range out {
		out[j] = jsonInt(first + int64(j)*step)
	}
	return out, nil
}

func evalArrayGetItem(_ *Intrinsic, args []any) (any, error) {
	a, err := arrayArg(args, 1)
	if err != nil {
		return nil, err
	}
	idx, err := intArg(args, 2)
	if err != nil {
		return nil, err
	}
	if idx < 0 || idx >= int64(len(a)) {
		return nil, fmt.Errorf("index %d is out of bounds for an array of length %d", idx, len(a))
	}
	return a[idx], nil
}

func evalArrayLength(_ *Intrinsic, args []any) (any, error) {
	a, err := arrayArg(args, 1)
	if err != nil {
		return nil, err
	}
	return jsonInt(int64(len(a))), nil
}

func evalArrayUnique(_ *Intrinsic, args []any) (any, error) {
	a, err := arrayArg(args, 1)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]struct{}, len(a))
	out := make([]any, 0, len(a))
	var b strings.Builder
	for _, v := range a {
		b.Reset()
		canonical(&b, v)
		if _, dup := seen[b.String()]; dup {
			continue
		}
		seen[b.String()] = struct{}{}
		out = append(out, v)
	}
	return out, nil
}

// canonical writes a key under which JSON-equal values (1 and 1.0, objects
// in any member order) coincide.
func canonical(b *strings.Builder, v any) {
	switch x := v.(type) {
	case []any:
		b.WriteByte('[')
		for _, item := range x {
			canonical(b, item)
			b.WriteByte(',')
		}
		b.WriteByte(']')
	case map[string]any:
		b.WriteByte('{')
		for _, k := range sortedKeys(x) {
			b.WriteString(strconv.Quote(k))
			b.WriteByte(':')
			canonical(b, x[k])
			b.WriteByte(',')
		}
		b.WriteByte('}')
	default:
		if f, ok := bigNumber(v); ok {
			b.WriteString("n")
			b.WriteString(f.Text('g', -1))
			return
		}
		b.WriteString(compactString(v))
	}
}

func checkLength(s string, n int) error {
	if c := utf8.RuneCountInString(s); c > maxEncodedChars {
		return fmt.Errorf("argument %d has %d characters but at most %d are allowed", n, c, maxEncodedChars)
	}
	return nil
}

func evalBase64Encode(_ *Intrinsic, args []any) (any, error) {
	s, err := stringArg(args, 1)
	if err != nil {
		return nil, err
	}
	if err := checkLength(s, 1); err != nil {
		return nil, err
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

func evalBase64Decode(_ *Intrinsic, args []any) (any, error) {
	s, err := stringArg(args, 1)
	if err != nil {
		return nil, err
	}
	if err := checkLength(s, 1); err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("argument 1 is not valid base64: %w", err)
	}
	if !utf8.Valid(b) {
		return nil, errors.New("argument 1 does not decode to UTF-8 text")
	}
	return string(b), nil
}

var hashes = map[string]func() hash.Hash{
	"MD5":     md5.New,
	"SHA-1":   sha1.New,
	"SHA-256": sha256.New,
	"SHA-384": sha512.New384,
	"SHA-512": sha512.New,
}

func evalHash(_ *Intrinsic, args []any) (any, error) {
	s, err := stringArg(args, 1)
	if err != nil {
		return nil, err
	}
	if err := checkLength(s, 1); err != nil {
		return nil, err
	}
	alg, err := stringArg(args, 2)
	if err != nil {
		return nil, err
	}
	newHash, ok := hashes[alg]
	if !ok {
		return nil, fmt.Errorf("unknown hash algorithm %q: use MD5, SHA-1, SHA-256, SHA-384 or SHA-512", alg)
	}
	h := newHash()
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil)), nil
}

func evalJSONMerge(_ *Intrinsic, args []any) (any, error) {
	a, err := objectArg(args, 1)
	if err != nil {
		return nil, err
	}
	b, err := objectArg(args, 2)
	if err != nil {
		return nil, err
	}
	deep, ok := args[2].(bool)
	if !ok {
		return nil, argError(3, "a boolean", args[2])
	}
	if deep {
		return nil, errors.New("only shallow merging is supported: argument 3 must be false")
	}
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out, nil
}

func evalMathRandom(in *Intrinsic, args []any) (any, error) {
	start, err := roundedIntArg(args, 1)
	if err != nil {
		return nil, err
	}
	end, err := roundedIntArg(args, 2)
	if err != nil {
		return nil, err
	}
	if start > end {
		return nil, fmt.Errorf("the start %d is greater than the end %d", start, end)
	}
	var src rand.Source = in.opts.random
	if len(args) == 3 {
		seed, err := roundedIntArg(args, 3)
		if err != nil {
			return nil, err
		}
		src = rand.NewPCG(uint64(seed), 0)
	}
	// Both ends are included, as in the test peer (moto); the span is
	// computed unsigned so that extreme bounds do not overflow.
	span := uint64(end-start) + 1
	var off uint64
	if span == 0 { // the whole int64 range
		off = src.Uint64()
	} else {
		off = rand.New(src).Uint64N(span)
	}
	return jsonInt(start + int64(off)), nil
}

func evalMathAdd(_ *Intrinsic, args []any) (any, error) {
	a, err := roundedIntArg(args, 1)
	if err != nil {
		return nil, err
	}
	b, err := roundedIntArg(args, 2)
	if err != nil {
		return nil, err
	}
	sum := a + b
	if (b > 0 && sum < a) || (b < 0 && sum > a) {
		return nil, fmt.Errorf("the sum of %d and %d overflows a 64-bit integer", a, b)
	}
	return jsonInt(sum), nil
}

func evalStringSplit(_ *Intrinsic, args []any) (any, error) {
	s, err := stringArg(args, 1)
	if err != nil {
		return nil, err
	}
	delims, err := stringArg(args, 2)
	if err != nil {
		return nil, err
	}
	fields := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(delims, r) })
	out := make([]any, len(fields))
	for j, f := range fields {
		out[j] = f
	}
	return out, nil
}

func evalUUID(in *Intrinsic, _ []any) (any, error) {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], in.opts.random.Uint64())
	binary.LittleEndian.PutUint64(b[8:], in.opts.random.Uint64())
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}
