// Package sigv4 verifies AWS Signature Version 4 on requests that reach the
// local backend, so that only holders of its generated secret can use it.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm the local backend accepts.
const Algorithm = "AWS4-HMAC-SHA256"

// Payload hash values a client may put in x-amz-content-sha256 instead of a hex digest.
const (
	UnsignedPayload  = "UNSIGNED-PAYLOAD"
	StreamingPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
)

const (
	amzDateFormat = "20060102T150405Z"
	// MaxSkew is how far X-Amz-Date may be from the server's clock, as AWS allows.
	MaxSkew = 15 * time.Minute
	// maxBufferedBody bounds the body of a request to the JSON and query
	// APIs (Step Functions, STS): Step Functions' largest request, a 1 MiB
	// definition, fits with room.
	maxBufferedBody = 8 << 20
	// MaxS3Body bounds an S3 request's body: S3's largest single PUT, 5 GiB.
	MaxS3Body = 5 << 30
	// memBody is how much of a body is held in memory while it is verified;
	// the rest goes to a spool file (Verifier.SpoolDir).
	memBody = 1 << 20
)

// Error codes, as S3 names them; the server maps them to each API's shape.
const (
	CodeMissingAuth            = "AccessDenied" // no Authorization header at all
	CodeMalformed              = "AuthorizationHeaderMalformed"
	CodeInvalidAccessKeyID     = "InvalidAccessKeyId"
	CodeSignatureDoesNotMatch  = "SignatureDoesNotMatch"
	CodeRequestTimeTooSkewed   = "RequestTimeTooSkewed"
	CodeContentSHA256Mismatch  = "XAmzContentSHA256Mismatch"
	CodeMissingContentSHA256   = "InvalidRequest"
	CodeUnsupportedPayloadHash = "NotImplemented"
	// CodeHeadersNotSigned is S3's answer to a request carrying x-amz-*
	// headers its signature does not cover (Error.HeadersNotSigned names them).
	CodeHeadersNotSigned = "AccessDenied"
	CodeEntityTooLarge   = "EntityTooLarge"
	CodeInternal         = "InternalError"
)

// Error is a refused request. Status is the HTTP status AWS answers with.
type Error struct {
	Code    string
	Message string
	Status  int
	// HeadersNotSigned lists, comma-separated, the x-amz-* headers a request
	// carried outside its signature (CodeHeadersNotSigned).
	HeadersNotSigned string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func fail(status int, code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Status: status}
}

// Verifier checks requests against one access key.
type Verifier struct {
	AccessKeyID     string
	SecretAccessKey string
	// Now is the wall clock X-Amz-Date is compared with. It is not the
	// engine's clock: tests that fast-forward Wait states still sign with
	// the real time.
	Now func() time.Time
	// SpoolDir holds, while it is verified, the part of a request body
	// beyond what is kept in memory; "" is the system's temporary directory.
	SpoolDir string
}

// Request is what a verified request was signed for.
type Request struct {
	Service string // credential scope service, e.g. "s3" or "states"
	Region  string
	Date    time.Time
	// PayloadHash is the x-amz-content-sha256 value, or the computed hex
	// digest of the body when the header was absent.
	PayloadHash string
}

// Scope returns the credential scope service and region of r's Authorization
// header without verifying anything, or empty strings when it has none. The
// server uses it to choose the error shape for a refused request.
func Scope(r *http.Request) (service, region string) {
	a, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return "", ""
	}
	return a.service, a.region
}

type authorization struct {
	accessKey     string
	date          string
	region        string
	service       string
	signedHeaders []string
	signature     string
}

func parseAuthorization(h string) (authorization, error) {
	var a authorization
	rest, ok := strings.CutPrefix(h, Algorithm+" ")
	if !ok {
		return a, fmt.Errorf("the authorization header must start with %s", Algorithm)
	}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Errorf("the authorization header has a component without '=': %q", part)
		}
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return a, fmt.Errorf("the credential %q is not ACCESS_KEY/DATE/REGION/SERVICE/aws4_request", redactCredential(v))
			}
			a.accessKey, a.date, a.region, a.service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	if a.accessKey == "" || len(a.signedHeaders) == 0 || a.signature == "" {
		return a, fmt.Errorf("the authorization header needs Credential, SignedHeaders and Signature")
	}
	return a, nil
}

// redactCredential keeps a credential's shape for an error message; the
// access key id is not a secret, but nothing else from the header is echoed.
func redactCredential(v string) string {
	if len(v) > 80 {
		return v[:80] + "…"
	}
	return v
}

// Verify checks r's signature and then its whole payload, before any handler
// sees a byte of it: on success r.Body is the verified payload (a signed
// chunked body decoded), and the caller must Close it, which removes any spool
// file. A body whose SHA-256 is not the signed one, a chunk whose signature
// does not match and an x-amz-* header outside the signature are all refused
// here, so no handler can act on a prefix or on an unsigned header.
//
// The one payload not verified is S3's UNSIGNED-PAYLOAD, which a client
// chooses to send unsigned, as on AWS.
func (v *Verifier) Verify(r *http.Request) (_ *Request, err error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		if r.URL.Query().Has("X-Amz-Signature") {
			return v.verifyPresigned(r)
		}
		return nil, fail(http.StatusForbidden, CodeMissingAuth, "request is missing an AWS Signature Version 4 Authorization header")
	}
	a, err := parseAuthorization(h)
	if err != nil {
		return nil, fail(http.StatusBadRequest, CodeMalformed, "%v", err)
	}
	if !hmac.Equal([]byte(a.accessKey), []byte(v.AccessKeyID)) {
		return nil, fail(http.StatusForbidden, CodeInvalidAccessKeyID, "the access key id %q is not this local backend's (see `odin local env`)", a.accessKey)
	}
	if a.service != "s3" && a.service != "states" && a.service != "sts" {
		return nil, fail(http.StatusForbidden, CodeSignatureDoesNotMatch, "credential scope service %q is not served here (s3, states, sts)", a.service)
	}
	rawDate := r.Header.Get("X-Amz-Date")
	if rawDate == "" {
		return nil, fail(http.StatusForbidden, CodeMissingAuth, "request is missing the X-Amz-Date header")
	}
	date, err := time.Parse(amzDateFormat, rawDate)
	if err != nil {
		return nil, fail(http.StatusForbidden, CodeMissingAuth, "X-Amz-Date %q is not in the form 20060102T150405Z", rawDate)
	}
	if a.date != rawDate[:8] {
		return nil, fail(http.StatusForbidden, CodeSignatureDoesNotMatch, "the credential scope date %s is not the date of X-Amz-Date %s", a.date, rawDate)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	if skew := now().Sub(date); skew > MaxSkew || skew < -MaxSkew {
		return nil, fail(http.StatusForbidden, CodeRequestTimeTooSkewed,
			"signature expired: the request time %s is more than 15 minutes from the server time %s", rawDate, now().UTC().Format(amzDateFormat))
	}
	if !contains(a.signedHeaders, "host") {
		return nil, fail(http.StatusForbidden, CodeSignatureDoesNotMatch, "the signed headers must include host")
	}
	if err := checkSignedAmzHeaders(r.Header, a.signedHeaders); err != nil {
		return nil, err
	}

	// S3 signs the payload hash it sends in x-amz-content-sha256; the JSON
	// and query APIs sign the hash of the body itself, whatever such a
	// header says, so their body is read (bounded) before the signature.
	payload := r.Header.Get("X-Amz-Content-Sha256")
	var body *spooledBody
	defer func() {
		if body != nil && err != nil {
			body.Close()
		}
	}()
	if a.service == "s3" {
		switch {
		case payload == "":
			return nil, fail(http.StatusBadRequest, CodeMissingContentSHA256, "missing required header for this request: x-amz-content-sha256")
		case payload == UnsignedPayload, payload == StreamingPayload, isHexSHA256(payload):
		default:
			return nil, fail(http.StatusNotImplemented, CodeUnsupportedPayloadHash,
				"x-amz-content-sha256 %q is not supported by the local backend (use a hex SHA-256, UNSIGNED-PAYLOAD or %s over plain HTTP)", payload, StreamingPayload)
		}
	} else {
		var sum string
		body, sum, err = v.spool(r.Body, maxBufferedBody)
		if err != nil {
			return nil, err
		}
		if payload != "" && !hashEqual(payload, sum) {
			err = fail(http.StatusBadRequest, CodeContentSHA256Mismatch,
				"the provided x-amz-content-sha256 header does not match what was computed (computed %s); %s signs the body itself", sum, a.service)
			return nil, err
		}
		payload = sum
	}

	key := signingKey(v.SecretAccessKey, a.date, a.region, a.service)
	scope := strings.Join([]string{a.date, a.region, a.service, "aws4_request"}, "/")
	matched := false
	for _, uri := range canonicalURIs(r, a.service) {
		creq := canonicalRequest(r, uri, a.signedHeaders, payload)
		sts := stringToSign(rawDate, scope, creq)
		if hashEqual(hex.EncodeToString(hmacSHA256(key, sts)), a.signature) {
			matched = true
			break
		}
	}
	if !matched {
		err = fail(http.StatusForbidden, CodeSignatureDoesNotMatch,
			"the request signature we calculated does not match the signature you provided; check your secret access key and signing method (`odin local env`)")
		return nil, err
	}

	switch {
	case body != nil: // read and hashed above
	case payload == StreamingPayload:
		if err = v.decodeStreaming(r, key, rawDate, scope, a.signature); err != nil {
			return nil, err
		}
		if body, _, err = v.spool(r.Body, MaxS3Body); err != nil {
			return nil, err
		}
	case isHexSHA256(payload):
		var sum string
		if body, sum, err = v.spool(r.Body, MaxS3Body); err != nil {
			return nil, err
		}
		if !hashEqual(sum, payload) {
			err = fail(http.StatusBadRequest, CodeContentSHA256Mismatch,
				"the provided x-amz-content-sha256 header does not match what was computed (computed %s)", sum)
			return nil, err
		}
	}
	if body != nil {
		r.Body = body
	}
	return &Request{Service: a.service, Region: a.region, Date: date, PayloadHash: payload}, nil
}

// checkSignedAmzHeaders refuses x-amz-* headers that the signature does not
// cover, as S3 does: obeying one (x-amz-copy-source, x-amz-tagging, ...)
// would let anyone who sees a signed request turn it into another.
func checkSignedAmzHeaders(h http.Header, signed []string) error {
	var unsigned []string
	for name := range h {
		lower := strings.ToLower(name)
		if strings.HasPrefix(lower, "x-amz-") && !contains(signed, lower) {
			unsigned = append(unsigned, lower)
		}
	}
	if len(unsigned) == 0 {
		return nil
	}
	sort.Strings(unsigned)
	e := fail(http.StatusForbidden, CodeHeadersNotSigned, "There were headers present in the request which were not signed: %s", strings.Join(unsigned, ", "))
	e.HeadersNotSigned = strings.Join(unsigned, ",")
	return e
}

// hashEqual compares two hex digests or signatures in constant time, case
// insensitively as AWS does.
func hashEqual(a, b string) bool {
	return hmac.Equal([]byte(strings.ToLower(a)), []byte(strings.ToLower(b)))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// canonicalURIs lists the canonical URIs a client may have signed. S3 signs
// the path as it sent it; the other services encode each segment once more.
// The re-encoded form is tried too, because clients differ in which bytes
// they escape on the wire.
func canonicalURIs(r *http.Request, service string) []string {
	wire := r.URL.EscapedPath()
	if i := strings.IndexByte(r.RequestURI, '?'); i >= 0 {
		wire = r.RequestURI[:i]
	} else if r.RequestURI != "" && strings.HasPrefix(r.RequestURI, "/") {
		wire = r.RequestURI
	}
	if wire == "" {
		wire = "/"
	}
	encoded := encodePath(r.URL.Path)
	if service != "s3" {
		wire, encoded = encodePath(wire), encodePath(encoded)
	}
	if wire == encoded {
		return []string{wire}
	}
	return []string{wire, encoded}
}

func encodePath(p string) string {
	if p == "" {
		return "/"
	}
	return uriEncode(p, false)
}

// uriEncode escapes every byte but the unreserved ones, as SigV4 requires
// (RFC 3986, upper-case hex); '/' is kept when encodeSlash is false.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

func canonicalQuery(raw string) string {
	type pair struct{ k, v string }
	var pairs []pair
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		if k == "X-Amz-Signature" {
			continue
		}
		pairs = append(pairs, pair{uriEncode(k, true), uriEncode(v, true)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p.k + "=" + p.v
	}
	return strings.Join(parts, "&")
}

func canonicalHeaderValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	case "content-length":
		vals = r.Header.Values("Content-Length")
		if len(vals) == 0 && r.ContentLength >= 0 {
			vals = []string{fmt.Sprint(r.ContentLength)}
		}
	case "transfer-encoding":
		vals = r.TransferEncoding
	default:
		vals = r.Header.Values(name)
	}
	for i, v := range vals {
		vals[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vals, ",")
}

func canonicalRequest(r *http.Request, uri string, signed []string, payload string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(uri)
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery))
	b.WriteByte('\n')
	for _, h := range signed {
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(canonicalHeaderValue(r, h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payload)
	return b.String()
}

func stringToSign(amzDate, scope, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return Algorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

// maxPresignExpiry is S3's limit on X-Amz-Expires (7 days).
const maxPresignExpiry = 7 * 24 * time.Hour

// verifyPresigned checks an S3 presigned URL (query-string authentication):
// the same signature over the canonical request, the payload unsigned, valid
// from X-Amz-Date for X-Amz-Expires seconds.
func (v *Verifier) verifyPresigned(r *http.Request) (*Request, error) {
	q := r.URL.Query()
	if q.Get("X-Amz-Algorithm") != Algorithm {
		return nil, fail(http.StatusBadRequest, CodeMalformed, "X-Amz-Algorithm must be %s", Algorithm)
	}
	cred := strings.Split(q.Get("X-Amz-Credential"), "/")
	if len(cred) != 5 || cred[4] != "aws4_request" {
		return nil, fail(http.StatusBadRequest, CodeMalformed, "X-Amz-Credential is not ACCESS_KEY/DATE/REGION/SERVICE/aws4_request")
	}
	a := authorization{accessKey: cred[0], date: cred[1], region: cred[2], service: cred[3],
		signedHeaders: strings.Split(q.Get("X-Amz-SignedHeaders"), ";"), signature: q.Get("X-Amz-Signature")}
	if !hmac.Equal([]byte(a.accessKey), []byte(v.AccessKeyID)) {
		return nil, fail(http.StatusForbidden, CodeInvalidAccessKeyID, "the access key id %q is not this local backend's (see `odin local env`)", a.accessKey)
	}
	if a.service != "s3" {
		return nil, fail(http.StatusForbidden, CodeSignatureDoesNotMatch, "presigned URLs are served for s3 only, not %q", a.service)
	}
	rawDate := q.Get("X-Amz-Date")
	date, err := time.Parse(amzDateFormat, rawDate)
	if err != nil || a.date != rawDate[:8] {
		return nil, fail(http.StatusForbidden, CodeMissingAuth, "X-Amz-Date %q is not the credential's date in the form 20060102T150405Z", rawDate)
	}
	secs, err := strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
	if err != nil || secs < 1 || time.Duration(secs)*time.Second > maxPresignExpiry {
		return nil, fail(http.StatusBadRequest, CodeMalformed, "X-Amz-Expires must be a number of seconds from 1 to 604800")
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	switch t := now(); {
	case t.Before(date.Add(-MaxSkew)):
		return nil, fail(http.StatusForbidden, CodeMissingAuth, "request is not valid yet")
	case t.After(date.Add(time.Duration(secs) * time.Second)):
		return nil, fail(http.StatusForbidden, CodeMissingAuth, "request has expired")
	}
	if !contains(a.signedHeaders, "host") {
		return nil, fail(http.StatusForbidden, CodeSignatureDoesNotMatch, "the signed headers must include host")
	}
	if err := checkSignedAmzHeaders(r.Header, a.signedHeaders); err != nil {
		return nil, err
	}
	key := signingKey(v.SecretAccessKey, a.date, a.region, a.service)
	scope := strings.Join([]string{a.date, a.region, a.service, "aws4_request"}, "/")
	for _, uri := range canonicalURIs(r, a.service) {
		sts := stringToSign(rawDate, scope, canonicalRequest(r, uri, a.signedHeaders, UnsignedPayload))
		if hashEqual(hex.EncodeToString(hmacSHA256(key, sts)), a.signature) {
			return &Request{Service: a.service, Region: a.region, Date: date, PayloadHash: UnsignedPayload}, nil
		}
	}
	return nil, fail(http.StatusForbidden, CodeSignatureDoesNotMatch,
		"the request signature we calculated does not match the signature you provided; check your secret access key and signing method (`odin local env`)")
}
