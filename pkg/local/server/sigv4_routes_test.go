package server

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/odin-deploy/odin/pkg/local/access"
)

// capture is a request signed by the holder of the credentials, with the
// body and headers it was signed for; an attacker who sees it on its way
// may send it with another body or more headers.
type capture struct {
	method, path, service, body string
	header                      http.Header
}

func sha256Hex(b string) string { s := sha256.Sum256([]byte(b)); return hex.EncodeToString(s[:]) }

// send signs c with the SDK's signer and sends it with body instead of the
// signed one and with extra headers set after signing.
func (c capture) send(t *testing.T, ep access.Endpoint, body string, extra http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(c.method, ep.URL+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range c.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	ph := sha256Hex(c.body)
	if c.service == "s3" && req.Header.Get("X-Amz-Content-Sha256") == "" {
		req.Header.Set("X-Amz-Content-Sha256", ph)
	}
	if v := req.Header.Get("X-Amz-Content-Sha256"); v != "" {
		ph = v
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = c.service == "s3" })
	if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: ep.AccessKeyID, SecretAccessKey: ep.SecretAccessKey},
		req, ph, c.service, ep.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	req.Body = io.NopCloser(strings.NewReader(body))
	req.ContentLength = int64(len(body))
	for k, vs := range extra {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func deleteXML(keys ...string) string {
	var b strings.Builder
	b.WriteString("<Delete>")
	for _, k := range keys {
		b.WriteString("<Object><Key>" + k + "</Key></Object>")
	}
	b.WriteString("</Delete>")
	return b.String()
}

// TestSigV4RegressionsOnEveryRoute replays the SigV4 defects of issue 12 on
// each route family (S3 object, bucket, multipart and DeleteObjects, Step
// Functions JSON, STS query) through a real server:
//   - a body other than the signed one, of the same length (so only the
//     payload hash can tell) and with bytes after the signed XML's closing
//     tag (which an XML handler never reads), is refused and changes nothing;
//   - an x-amz-* header set after signing is refused with S3's AccessDenied
//     naming it (InvalidSignatureException on Step Functions) and is never
//     obeyed;
//   - a chunked upload with a forged chunk stores nothing.
//
// Each refusal is followed by the signed request as it was, which must
// succeed: the refusals come from the tampering, not from the setup.
func TestSigV4RegressionsOnEveryRoute(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, Options{})
	ep := s.Endpoint()
	c3 := s3Client(ep, ep.SecretAccessKey)
	csf := sfnClient(ep, ep.SecretAccessKey)
	if _, err := c3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt")}); err != nil {
		t.Fatal(err)
	}
	put := func(t *testing.T, key, body string) {
		t.Helper()
		if _, err := c3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	object := func(t *testing.T, key string) string {
		t.Helper()
		out, err := c3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key)})
		if errCode(err) == "NoSuchKey" {
			return "<none>"
		}
		if err != nil {
			t.Fatal(err)
		}
		defer out.Body.Close()
		b, _ := io.ReadAll(out.Body)
		return string(b)
	}
	bucketExists := func(t *testing.T, name string) bool {
		_, err := c3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(name)})
		return err == nil
	}
	machines := func(t *testing.T) string {
		out, err := csf.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range out.StateMachines {
			names = append(names, aws.ToString(m.Name))
		}
		return strings.Join(names, ",")
	}
	startUpload := func(t *testing.T, key string) string {
		t.Helper()
		out, err := c3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.UploadId)
	}
	refused := func(t *testing.T, status int, body string, codes ...string) {
		t.Helper()
		if status < 400 || status >= 500 {
			t.Fatalf("tampered request answered %d: %s", status, body)
		}
		for _, code := range codes {
			if strings.Contains(body, code) {
				return
			}
		}
		t.Fatalf("tampered request answered %d %s, want one of %v", status, body, codes)
	}
	const sfnJSON = "application/x-amz-json-1.0"
	definition := `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`
	createMachine := func(name string) string {
		b := fmt.Sprintf(`{"name":%q,"definition":%q,"roleArn":"arn:aws:iam::000000000000:role/r"}`, name, definition)
		return b
	}
	states := func(target, body string) capture {
		return capture{method: "POST", path: "/", service: "states", body: body,
			header: http.Header{"X-Amz-Target": {"AWSStepFunctions." + target}, "Content-Type": {sfnJSON}}}
	}

	t.Run("s3 object: another body", func(t *testing.T) {
		c := capture{method: "PUT", path: "/bkt/obj", service: "s3", body: "signed-1"}
		status, body := c.send(t, ep, "forged-1", nil)
		refused(t, status, body, "XAmzContentSHA256Mismatch")
		if got := object(t, "obj"); got != "<none>" {
			t.Fatalf("the forged PUT stored %q", got)
		}
		if status, body := c.send(t, ep, c.body, nil); status != 200 {
			t.Fatalf("the signed PUT: %d %s", status, body)
		}
		if got := object(t, "obj"); got != "signed-1" {
			t.Fatalf("object = %q", got)
		}
	})
	t.Run("s3 object: unsigned x-amz-copy-source", func(t *testing.T) {
		put(t, "secret", "the secret object")
		c := capture{method: "PUT", path: "/bkt/copy", service: "s3", body: ""}
		status, body := c.send(t, ep, "", http.Header{"X-Amz-Copy-Source": {"/bkt/secret"}})
		refused(t, status, body, "<Code>AccessDenied</Code>")
		if !strings.Contains(body, "<HeadersNotSigned>x-amz-copy-source</HeadersNotSigned>") {
			t.Errorf("the refusal does not name the header: %s", body)
		}
		if got := object(t, "copy"); got != "<none>" {
			t.Fatalf("the unsigned copy source was obeyed: copy = %q", got)
		}
	})
	t.Run("s3 object: forged chunk", func(t *testing.T) {
		status, body := chunkedPut(t, ep, "/bkt/chunked", []string{"first chunk ", "second chunk"}, 1)
		refused(t, status, body, "SignatureDoesNotMatch")
		if got := object(t, "chunked"); got != "<none>" {
			t.Fatalf("a chunked body with a forged chunk stored %q", got)
		}
		if status, body := chunkedPut(t, ep, "/bkt/chunked", []string{"first chunk ", "second chunk"}, -1); status != 200 {
			t.Fatalf("the signed chunked PUT: %d %s", status, body)
		}
		if got := object(t, "chunked"); got != "first chunk second chunk" {
			t.Fatalf("object = %q", got)
		}
	})
	t.Run("s3 bucket: another body", func(t *testing.T) {
		signed := `<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>`
		c := capture{method: "PUT", path: "/made-here", service: "s3", body: signed}
		status, body := c.send(t, ep, strings.Replace(signed, "us-east-1", "eu-west-1", 1), nil)
		refused(t, status, body, "XAmzContentSHA256Mismatch")
		if bucketExists(t, "made-here") {
			t.Fatal("the forged CreateBucket created the bucket")
		}
		status, body = c.send(t, ep, signed, http.Header{"X-Amz-Acl": {"public-read"}})
		refused(t, status, body, "<HeadersNotSigned>x-amz-acl</HeadersNotSigned>")
		if bucketExists(t, "made-here") {
			t.Fatal("CreateBucket with an unsigned header created the bucket")
		}
		if status, body := c.send(t, ep, signed, nil); status != 200 {
			t.Fatalf("the signed CreateBucket: %d %s", status, body)
		}
	})
	t.Run("s3 DeleteObjects: another body", func(t *testing.T) {
		put(t, "a", "A")
		put(t, "z", "Z")
		c := capture{method: "POST", path: "/bkt?delete", service: "s3", body: deleteXML("a"),
			header: http.Header{"Content-Type": {"application/xml"}}}
		// Same length, other key: only the payload hash tells them apart.
		status, body := c.send(t, ep, deleteXML("z"), nil)
		refused(t, status, body, "XAmzContentSHA256Mismatch")
		// The signed XML, then bytes an XML decoder stops before.
		status, body = c.send(t, ep, deleteXML("a")+"<!-- more -->", nil)
		refused(t, status, body, "XAmzContentSHA256Mismatch", "SignatureDoesNotMatch")
		status, body = c.send(t, ep, deleteXML("a"), http.Header{"X-Amz-Bypass-Governance-Retention": {"true"}})
		refused(t, status, body, "<HeadersNotSigned>x-amz-bypass-governance-retention</HeadersNotSigned>")
		if object(t, "a") != "A" || object(t, "z") != "Z" {
			t.Fatalf("a refused DeleteObjects deleted: a=%q z=%q", object(t, "a"), object(t, "z"))
		}
		if status, body := c.send(t, ep, c.body, nil); status != 200 {
			t.Fatalf("the signed DeleteObjects: %d %s", status, body)
		}
		if object(t, "a") != "<none>" || object(t, "z") != "Z" {
			t.Fatalf("after the signed DeleteObjects: a=%q z=%q", object(t, "a"), object(t, "z"))
		}
	})
	t.Run("s3 multipart: UploadPart and Complete", func(t *testing.T) {
		upload := startUpload(t, "mp")
		part := capture{method: "PUT", path: "/bkt/mp?partNumber=1&uploadId=" + upload, service: "s3", body: "part-one"}
		status, body := part.send(t, ep, "part-two", nil)
		refused(t, status, body, "XAmzContentSHA256Mismatch")
		status, body = part.send(t, ep, part.body, http.Header{"X-Amz-Checksum-Sha256": {"AAAA"}})
		refused(t, status, body, "<HeadersNotSigned>x-amz-checksum-sha256</HeadersNotSigned>")
		// Neither refused UploadPart stored a part: completing with the
		// forged part's ETag finds none.
		_, err := c3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("mp"), UploadId: aws.String(upload),
			MultipartUpload: &s3types.CompletedMultipartUpload{Parts: []s3types.CompletedPart{{PartNumber: aws.Int32(1), ETag: aws.String(fmt.Sprintf("%q", fmt.Sprintf("%x", md5Sum("part-two"))))}}}})
		if errCode(err) != "InvalidPart" {
			t.Fatalf("Complete with the forged part: %v, want InvalidPart", err)
		}
		status, body = part.send(t, ep, part.body, nil)
		if status != 200 {
			t.Fatalf("the signed UploadPart: %d %s", status, body)
		}
		etag := fmt.Sprintf("%q", fmt.Sprintf("%x", md5Sum("part-one")))
		complete := func(etag string) string {
			return "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" + etag + "</ETag></Part></CompleteMultipartUpload>"
		}
		done := capture{method: "POST", path: "/bkt/mp?uploadId=" + upload, service: "s3", body: complete(etag)}
		forged := complete(strings.Repeat("0", len(etag)))
		status, body = done.send(t, ep, forged, nil)
		refused(t, status, body, "XAmzContentSHA256Mismatch")
		if got := object(t, "mp"); got != "<none>" {
			t.Fatalf("a forged Complete made the object %q", got)
		}
		if status, body := done.send(t, ep, done.body, nil); status != 200 {
			t.Fatalf("the signed Complete: %d %s", status, body)
		}
		if got := object(t, "mp"); got != "part-one" {
			t.Fatalf("object = %q", got)
		}
	})
	t.Run("states JSON", func(t *testing.T) {
		c := states("CreateStateMachine", createMachine("signed-one"))
		status, body := c.send(t, ep, createMachine("forged-one"), nil)
		refused(t, status, body, "InvalidSignatureException")
		// An x-amz-content-sha256 the client never signed, claiming the
		// forged body's hash or that the payload is unsigned.
		for _, claim := range []string{sha256Hex(createMachine("forged-one")), "UNSIGNED-PAYLOAD"} {
			status, body = c.send(t, ep, createMachine("forged-one"), http.Header{"X-Amz-Content-Sha256": {claim}})
			refused(t, status, body, "InvalidSignatureException")
		}
		if got := machines(t); got != "" {
			t.Fatalf("refused CreateStateMachines created %q", got)
		}
		if status, body := c.send(t, ep, c.body, nil); status != 200 {
			t.Fatalf("the signed CreateStateMachine: %d %s", status, body)
		}
		if got := machines(t); got != "signed-one" {
			t.Fatalf("state machines = %q", got)
		}
	})
	t.Run("sts query", func(t *testing.T) {
		c := capture{method: "POST", path: "/", service: "sts", body: "Action=GetCallerIdentity&Version=2011-06-15",
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}}
		status, body := c.send(t, ep, "Action=GetCallerIdentitX&Version=2011-06-15", nil)
		refused(t, status, body, "SignatureDoesNotMatch")
		status, body = c.send(t, ep, c.body, http.Header{"X-Amz-Security-Token": {"forged"}})
		refused(t, status, body, "<Code>AccessDenied</Code>")
		if !strings.Contains(body, "<ErrorResponse") || !strings.Contains(body, "x-amz-security-token") {
			t.Errorf("STS's refusal is not STS's ErrorResponse naming the header: %s", body)
		}
		status, body = c.send(t, ep, c.body, nil)
		var out struct {
			Account string `xml:"GetCallerIdentityResult>Account"`
		}
		if status != 200 || xml.Unmarshal([]byte(body), &out) != nil || out.Account != ep.Account {
			t.Fatalf("the signed GetCallerIdentity: %d %s", status, body)
		}
	})
}

// chunkedPut sends an aws-chunked PUT of chunks, each signed in the chain
// AWS documents (computed here from the S3 API reference, not by package
// sigv4); the chunk at index forge gets a wrong signature (-1: none).
func chunkedPut(t *testing.T, ep access.Endpoint, path string, chunks []string, forge int) (int, string) {
	t.Helper()
	total := 0
	for _, c := range chunks {
		total += len(c)
	}
	now := time.Now().UTC()
	amzDate, day := now.Format("20060102T150405Z"), now.Format("20060102")
	scope := day + "/" + ep.Region + "/s3/aws4_request"
	var framed strings.Builder
	frame := func(data, sig string) {
		fmt.Fprintf(&framed, "%x;chunk-signature=%s\r\n%s\r\n", len(data), sig, data)
	}
	// The framed length must be known before signing the headers; build it
	// with placeholder signatures of the right length first.
	for _, c := range append(append([]string{}, chunks...), "") {
		frame(c, strings.Repeat("0", 64))
	}
	req, err := http.NewRequest("PUT", ep.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(framed.Len())
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(total))
	req.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
	creds := aws.Credentials{AccessKeyID: ep.AccessKeyID, SecretAccessKey: ep.SecretAccessKey}
	if err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(), creds, req,
		"STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "s3", ep.Region, now); err != nil {
		t.Fatal(err)
	}
	auth := req.Header.Get("Authorization")
	prev := auth[strings.Index(auth, "Signature=")+len("Signature="):]
	mac := func(key []byte, s string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		return m.Sum(nil)
	}
	key := mac(mac(mac(mac([]byte("AWS4"+ep.SecretAccessKey), day), ep.Region), "s3"), "aws4_request")
	framed.Reset()
	for i, c := range append(append([]string{}, chunks...), "") {
		sig := hex.EncodeToString(mac(key, "AWS4-HMAC-SHA256-PAYLOAD\n"+amzDate+"\n"+scope+"\n"+prev+"\n"+sha256Hex("")+"\n"+sha256Hex(c)))
		prev = sig
		if i == forge {
			sig = strings.Repeat("f", 64)
		}
		frame(c, sig)
	}
	req.Body = io.NopCloser(strings.NewReader(framed.String()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func md5Sum(s string) []byte { m := md5.Sum([]byte(s)); return m[:] }
