package sigv4

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testKey    = "LKIAEXAMPLEEXAMPLE01"
	testSecret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNl"
)

var signTime = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

func hashHex(b string) string { s := sha256.Sum256([]byte(b)); return hex.EncodeToString(s[:]) }

// signed builds a request the way the server sees it and signs it with the
// AWS SDK's own signer, an implementation we did not write.
func signed(t *testing.T, method, target, body, service, secret string, at time.Time, header http.Header, sendContentSHA bool) *http.Request {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Host = "127.0.0.1:4599"
	for k, vs := range header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	ph := hashHex(body)
	if v := r.Header.Get("X-Amz-Content-Sha256"); v != "" {
		ph = v
	} else if sendContentSHA {
		r.Header.Set("X-Amz-Content-Sha256", ph)
	}
	s := v4.NewSigner(func(o *v4.SignerOptions) {
		o.DisableURIPathEscaping = service == "s3"
	})
	err := s.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKey, SecretAccessKey: secret}, r, ph, service, "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func verifier() *Verifier {
	return &Verifier{AccessKeyID: testKey, SecretAccessKey: testSecret, Now: func() time.Time { return signTime.Add(time.Minute) }}
}

func TestVerify(t *testing.T) {
	type tc struct {
		name    string
		req     func(t *testing.T) *http.Request
		code    string // "" when the request must pass
		service string
	}
	cases := []tc{
		{name: "s3 get with query", service: "s3", req: func(t *testing.T) *http.Request {
			return signed(t, "GET", "/odin-releases?list-type=2&prefix=a%2Fb&max-keys=10", "", "s3", testSecret, signTime, nil, true)
		}},
		{name: "s3 put of an odd key", service: "s3", req: func(t *testing.T) *http.Request {
			return signed(t, "PUT", "/bkt/dir/a%20b%2Bc%3D~.txt", "hello", "s3", testSecret, signTime, http.Header{"Content-Type": {"text/plain"}}, true)
		}},
		{name: "s3 unsigned payload", service: "s3", req: func(t *testing.T) *http.Request {
			return signed(t, "PUT", "/bkt/k", "body", "s3", testSecret, signTime, http.Header{"X-Amz-Content-Sha256": {UnsignedPayload}}, false)
		}},
		{name: "states without content sha header", service: "states", req: func(t *testing.T) *http.Request {
			return signed(t, "POST", "/", `{"maxResults":10}`, "states", testSecret, signTime,
				http.Header{"X-Amz-Target": {"AWSStepFunctions.ListStateMachines"}, "Content-Type": {"application/x-amz-json-1.0"}}, false)
		}},
		{name: "unsigned", code: CodeMissingAuth, req: func(t *testing.T) *http.Request {
			return httptest.NewRequest("GET", "/", nil)
		}},
		{name: "wrong secret", code: CodeSignatureDoesNotMatch, req: func(t *testing.T) *http.Request {
			return signed(t, "GET", "/", "", "s3", "not-the-secret", signTime, nil, true)
		}},
		{name: "unknown access key", code: CodeInvalidAccessKeyID, req: func(t *testing.T) *http.Request {
			r := signed(t, "GET", "/", "", "s3", testSecret, signTime, nil, true)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), testKey, "AKIAOTHERKEY00000000", 1))
			return r
		}},
		{name: "expired date", code: CodeRequestTimeTooSkewed, req: func(t *testing.T) *http.Request {
			return signed(t, "GET", "/", "", "s3", testSecret, signTime.Add(-20*time.Minute), nil, true)
		}},
		{name: "date in the future", code: CodeRequestTimeTooSkewed, req: func(t *testing.T) *http.Request {
			return signed(t, "GET", "/", "", "s3", testSecret, signTime.Add(20*time.Minute), nil, true)
		}},
		{name: "header changed after signing", code: CodeSignatureDoesNotMatch, req: func(t *testing.T) *http.Request {
			r := signed(t, "POST", "/", `{}`, "states", testSecret, signTime, http.Header{"X-Amz-Target": {"AWSStepFunctions.ListStateMachines"}}, false)
			r.Header.Set("X-Amz-Target", "AWSStepFunctions.DeleteStateMachine")
			return r
		}},
		{name: "body changed after signing (states)", code: CodeSignatureDoesNotMatch, req: func(t *testing.T) *http.Request {
			r := signed(t, "POST", "/", `{"a":1}`, "states", testSecret, signTime, nil, false)
			r.Body = io.NopCloser(strings.NewReader(`{"a":2}`))
			return r
		}},
		{name: "query changed after signing", code: CodeSignatureDoesNotMatch, req: func(t *testing.T) *http.Request {
			r := signed(t, "GET", "/b?prefix=a", "", "s3", testSecret, signTime, nil, true)
			r.URL.RawQuery = "prefix=b"
			return r
		}},
		{name: "other service", code: CodeSignatureDoesNotMatch, req: func(t *testing.T) *http.Request {
			return signed(t, "GET", "/", "", "sqs", testSecret, signTime, nil, true)
		}},
		{name: "s3 without content sha", code: CodeMissingContentSHA256, req: func(t *testing.T) *http.Request {
			return signed(t, "GET", "/", "", "s3", testSecret, signTime, nil, false)
		}},
		{name: "malformed header", code: CodeMalformed, req: func(t *testing.T) *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x")
			return r
		}},
		{name: "sigv2", code: CodeMalformed, req: func(t *testing.T) *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Authorization", "AWS "+testKey+":c2ln")
			return r
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.req(t)
			got, err := verifier().Verify(r)
			if c.code == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if got.Service != c.service || got.Region != "us-east-1" {
					t.Errorf("scope = %s/%s, want %s/us-east-1", got.Service, got.Region, c.service)
				}
				if _, err := io.ReadAll(r.Body); err != nil {
					t.Errorf("reading the verified body: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != c.code {
				t.Fatalf("Verify error = %v, want code %s", err, c.code)
			}
			if e.Status != http.StatusForbidden && e.Status != http.StatusBadRequest {
				t.Errorf("status %d", e.Status)
			}
			if strings.Contains(e.Message, testSecret) {
				t.Errorf("message leaks the secret: %s", e.Message)
			}
		})
	}
}

// A body other than the signed one is refused by Verify itself, before any
// handler reads a byte: in memory, spooled past the memory threshold, and for
// the JSON APIs that sign the body's own hash. A handler that stops reading
// early (an XML decoder at its closing tag) can no longer act on it.
func TestVerifyRefusesAnotherBodyBeforeTheHandler(t *testing.T) {
	big := strings.Repeat("x", memBody+10)
	cases := []struct {
		name, service, signed, sent string
		header                      http.Header
		code                        string
	}{
		{"s3 small", "s3", "<Delete><Object><Key>a</Key></Object></Delete>", "<Delete><Object><Key>b</Key></Object></Delete>", nil, CodeContentSHA256Mismatch},
		{"s3 prefix then more", "s3", "<Delete/>", "<Delete/>trailing", nil, CodeContentSHA256Mismatch},
		{"s3 spooled", "s3", big, big[:len(big)-1] + "y", nil, CodeContentSHA256Mismatch},
		{"states", "states", `{"name":"a"}`, `{"name":"b"}`, nil, CodeSignatureDoesNotMatch},
		{"states with a false header", "states", `{"name":"a"}`, `{"name":"b"}`, http.Header{"X-Amz-Content-Sha256": {hashHex(`{"name":"a"}`)}}, CodeContentSHA256Mismatch},
		{"states unsigned payload", "states", `{"name":"a"}`, `{"name":"b"}`, http.Header{"X-Amz-Content-Sha256": {UnsignedPayload}}, CodeContentSHA256Mismatch},
		{"sts", "sts", "Action=GetCallerIdentity&Version=2011-06-15", "Action=AssumeRole&Version=2011-06-15", nil, CodeSignatureDoesNotMatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spool := t.TempDir()
			r := signed(t, "POST", "/bkt?delete", c.signed, c.service, testSecret, signTime, c.header, c.service == "s3")
			r.Body = io.NopCloser(strings.NewReader(c.sent))
			v := verifier()
			v.SpoolDir = spool
			_, err := v.Verify(r)
			var e *Error
			if !errors.As(err, &e) || e.Code != c.code {
				t.Fatalf("Verify = %v, want %s", err, c.code)
			}
			if left, _ := os.ReadDir(spool); len(left) != 0 {
				t.Errorf("spool files left after a refusal: %v", left)
			}
		})
	}
}

// A verified body reads back exactly, from memory or from the spool, and
// Close removes the spool file.
func TestVerifySpoolsLargeBodies(t *testing.T) {
	for _, size := range []int{0, 10, memBody - 1, memBody, memBody + 1, 3*memBody + 7} {
		body := strings.Repeat("ab", size/2+1)[:size]
		spool := t.TempDir()
		r := signed(t, "PUT", "/bkt/k", body, "s3", testSecret, signTime, nil, true)
		v := verifier()
		v.SpoolDir = spool
		if _, err := v.Verify(r); err != nil {
			t.Fatalf("%d bytes: Verify: %v", size, err)
		}
		got, err := io.ReadAll(r.Body)
		if err != nil || string(got) != body {
			t.Fatalf("%d bytes: read %d bytes, %v", size, len(got), err)
		}
		if err := r.Body.Close(); err != nil {
			t.Fatal(err)
		}
		if left, _ := os.ReadDir(spool); len(left) != 0 {
			t.Errorf("%d bytes: spool files left after Close: %v", size, left)
		}
	}
}

// An x-amz-* header outside the signature is refused with S3's error, naming
// it, whether the request is signed in its header or presigned: obeyed, an
// unsigned x-amz-copy-source turned a signed PUT into a copy.
func TestVerifyRefusesUnsignedAmzHeaders(t *testing.T) {
	for _, service := range []string{"s3", "states", "sts"} {
		t.Run(service, func(t *testing.T) {
			r := signed(t, "PUT", "/bkt/k", "body", service, testSecret, signTime, nil, service == "s3")
			if _, err := verifier().Verify(r); err != nil {
				t.Fatalf("the signed request: %v", err)
			}
			r = signed(t, "PUT", "/bkt/k", "body", service, testSecret, signTime, nil, service == "s3")
			r.Header.Set("X-Amz-Copy-Source", "/bkt/secret")
			r.Header.Set("x-amz-meta-b", "1")
			_, err := verifier().Verify(r)
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeHeadersNotSigned || e.Status != http.StatusForbidden || e.HeadersNotSigned != "x-amz-copy-source,x-amz-meta-b" {
				t.Fatalf("Verify = %#v, want %s naming both headers", err, CodeHeadersNotSigned)
			}
		})
	}
	r := httptest.NewRequest("GET", "/b/k", nil)
	r.Host = "127.0.0.1:4599"
	q := r.URL.Query()
	q.Set("X-Amz-Expires", "60")
	r.URL.RawQuery = q.Encode()
	u, _, err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).PresignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}, r, UnsignedPayload, "s3", "us-east-1", signTime)
	if err != nil {
		t.Fatal(err)
	}
	pr := httptest.NewRequest("GET", u[strings.Index(u, "/b/"):], nil)
	pr.Host = r.Host
	pr.Header.Set("X-Amz-Copy-Source", "/b/other")
	_, err = verifier().Verify(pr)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeHeadersNotSigned {
		t.Fatalf("presigned with an unsigned header: Verify = %v, want %s", err, CodeHeadersNotSigned)
	}
}

// TestStreamingExample checks the chunked upload against the worked example in
// AWS's S3 API reference ("Signature Calculations for the Authorization
// Header: Transferring Payload in Multiple Chunks"): 66560 bytes of 'a' in a
// 65536-byte chunk, a 1024-byte chunk and the empty final chunk.
func TestStreamingExample(t *testing.T) {
	const (
		secret  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
		seed    = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
		sig1    = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
		sig2    = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
		sigLast = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
	)
	build := func(lastSig string) *http.Request {
		var body strings.Builder
		body.WriteString("10000;chunk-signature=" + sig1 + "\r\n" + strings.Repeat("a", 65536) + "\r\n")
		body.WriteString("400;chunk-signature=" + sig2 + "\r\n" + strings.Repeat("a", 1024) + "\r\n")
		body.WriteString("0;chunk-signature=" + lastSig + "\r\n\r\n")
		r := httptest.NewRequest("PUT", "/examplebucket/chunkObject.txt", strings.NewReader(body.String()))
		r.Host = "s3.amazonaws.com"
		r.Header.Set("X-Amz-Date", "20130524T000000Z")
		r.Header.Set("X-Amz-Storage-Class", "REDUCED_REDUNDANCY")
		r.Header.Set("X-Amz-Content-Sha256", StreamingPayload)
		r.Header.Set("Content-Encoding", "aws-chunked")
		r.Header.Set("X-Amz-Decoded-Content-Length", "66560")
		r.Header.Set("Content-Length", "66824")
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"+
			"SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,"+
			"Signature="+seed)
		return r
	}
	v := &Verifier{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: secret,
		Now: func() time.Time { return time.Date(2013, 5, 24, 0, 1, 0, 0, time.UTC) }}

	r := build(sigLast)
	if _, err := v.Verify(r); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	got, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(got) != strings.Repeat("a", 66560) {
		t.Fatalf("decoded %d bytes, want 66560 'a's", len(got))
	}
	if r.Header.Get("Content-Encoding") != "" || r.ContentLength != 66560 {
		t.Errorf("after decoding: Content-Encoding %q, ContentLength %d", r.Header.Get("Content-Encoding"), r.ContentLength)
	}

	// A wrong signature on any chunk, the last included, is refused by
	// Verify before the handler sees the chunks before it.
	r = build(strings.Repeat("0", 64))
	_, err = v.Verify(r)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeSignatureDoesNotMatch {
		t.Fatalf("a wrong final chunk signature: Verify = %v, want %s", err, CodeSignatureDoesNotMatch)
	}
}

// FuzzVerify holds the verifier to what it promises, whatever the input:
//   - a request made up by the fuzzer (no one here knows the secret) is never
//     accepted, and its refusal is an *Error with a 4xx/5xx status that does
//     not echo the secret;
//   - a request signed with the secret and then changed (another body, an
//     extra header, another query or method) is accepted only if the change
//     touched nothing signed: the body a handler then reads is the signed one
//     byte for byte, and no x-amz-* header is outside the signature;
//   - a chunked body under a key the chunks were not signed with never reads
//     to a clean end.
func FuzzVerify(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential="+testKey+"/20261125/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=00", "20261125T200000Z", StreamingPayload, "5;chunk-signature=00\r\nhello\r\n", "x=%zz&y", uint8(0), "", "")
	f.Add("", "", "", "", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="+testKey+"%2F20261125%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261125T200000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00", uint8(1), "X-Amz-Copy-Source", "/b/k")
	f.Add("", "", "", "", "X-Amz-Signature=&X-Amz-Date=2026", uint8(2), "Content-Type", "text/plain")
	f.Add("", "", "", "<Delete/>", "", uint8(3), "", "")
	f.Add("", "", "", `{"a":1}`, "", uint8(4), "X-Amz-Target", "AWSStepFunctions.DeleteStateMachine")
	f.Fuzz(func(t *testing.T, auth, date, payload, body, query string, mode uint8, header, value string) {
		v := verifier()
		v.SpoolDir = t.TempDir()
		refused := func(err error) {
			t.Helper()
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("refusal %v (%T) is not an *Error", err, err)
			}
			if e.Status < 400 || e.Status > 599 || e.Code == "" {
				t.Fatalf("refusal %+v has no 4xx/5xx status and code", e)
			}
			if strings.Contains(e.Message, testSecret) {
				t.Fatalf("refusal leaks the secret: %s", e.Message)
			}
		}

		// Made up: never accepted.
		r := httptest.NewRequest("PUT", "/b/k", strings.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Amz-Date", date)
		r.Header.Set("X-Amz-Content-Sha256", payload)
		r.Header.Set("X-Amz-Decoded-Content-Length", "5")
		if _, err := v.Verify(r); err == nil {
			t.Fatalf("a request nobody signed was accepted: auth %q query %q", auth, query)
		} else {
			refused(err)
		}

		// Signed, then changed.
		service := [...]string{"s3", "states", "sts"}[int(mode)%3]
		const signedBody = "<Delete><Object><Key>a</Key></Object></Delete>"
		r = signed(t, "POST", "/b?delete", signedBody, service, testSecret, signTime, nil, service == "s3")
		changed := false
		switch mode % 4 {
		case 0:
			r.Body = io.NopCloser(strings.NewReader(body))
			changed = body != signedBody
		case 1:
			if name := http.CanonicalHeaderKey(header); httpguts(name) {
				changed = r.Header.Get(name) != value
				r.Header.Set(name, value)
			}
		case 2:
			changed = query != "delete" && query != "delete="
			r.URL.RawQuery = query
		case 3:
			r.Method = "PUT"
			changed = true
		}
		_, err := v.Verify(r)
		if err != nil {
			refused(err)
			return
		}
		got, rerr := io.ReadAll(r.Body)
		r.Body.Close()
		if rerr != nil || string(got) != signedBody {
			t.Fatalf("accepted, but the handler reads %q (%v), not the signed body", got, rerr)
		}
		if changed && mode%4 != 1 {
			t.Fatalf("accepted after a signed part changed (mode %d, body %q, query %q)", mode%4, body, query)
		}
		signedWith := r.Header.Get("Authorization")
		for name := range r.Header {
			if l := strings.ToLower(name); strings.HasPrefix(l, "x-amz-") && !strings.Contains(signedWith, l) {
				t.Fatalf("accepted with the unsigned header %s", l)
			}
		}

		// Chunks signed with nothing we know never read to a clean end.
		r = httptest.NewRequest("PUT", "/b/k", strings.NewReader(body))
		r.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(len(body)))
		if err := v.decodeStreaming(r, []byte("k"), date, "s", "p"); err == nil {
			if _, err := io.ReadAll(r.Body); err == nil {
				t.Fatalf("a chunked body with forged signatures read to the end: %q", body)
			}
		}
	})
}

// httpguts reports whether name may be sent as a header: the fuzzer's other
// names are refused by net/http before a server ever sees them.
func httpguts(name string) bool {
	if name == "" || name == "Host" || name == "Authorization" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

func TestPresigned(t *testing.T) {
	presign := func(t *testing.T, method, target, secret string, at time.Time, expires time.Duration) *http.Request {
		t.Helper()
		r := httptest.NewRequest(method, target, nil)
		r.Host = "127.0.0.1:4599"
		q := r.URL.Query()
		q.Set("X-Amz-Expires", fmt.Sprint(int(expires.Seconds())))
		r.URL.RawQuery = q.Encode()
		u, _, err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).PresignHTTP(context.Background(),
			aws.Credentials{AccessKeyID: testKey, SecretAccessKey: secret}, r, UnsignedPayload, "s3", "us-east-1", at)
		if err != nil {
			t.Fatal(err)
		}
		out := httptest.NewRequest(method, u[strings.Index(u, "/b/"):], nil)
		out.Host = r.Host
		return out
	}
	cases := []struct {
		name string
		req  *http.Request
		code string
	}{
		{"get", presign(t, "GET", "/b/dir/a%20b", testSecret, signTime, time.Hour), ""},
		{"put", presign(t, "PUT", "/b/k", testSecret, signTime, time.Hour), ""},
		{"expired", presign(t, "GET", "/b/k", testSecret, signTime, 30*time.Second), CodeMissingAuth},
		{"wrong secret", presign(t, "GET", "/b/k", "nope", signTime, time.Hour), CodeSignatureDoesNotMatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verifier().Verify(tc.req)
			var e *Error
			if tc.code == "" && err != nil || tc.code != "" && (!errors.As(err, &e) || e.Code != tc.code) {
				t.Fatalf("Verify = %v, want code %q", err, tc.code)
			}
		})
	}
}
