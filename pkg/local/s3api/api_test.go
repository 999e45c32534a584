package s3api

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// newTestAPI serves an API over real HTTP; auth is the server package's job,
// so requests here are signed but not checked.
func newTestAPI(t *testing.T, dir string) (*API, *s3.Client) {
	t.Helper()
	a, err := Open(Options{Dir: dir, Owner: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(func() { srv.Close(); a.Close() })
	c := s3.New(s3.Options{
		BaseEndpoint:     aws.String(srv.URL),
		UsePathStyle:     true,
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("k", "s", ""),
		RetryMaxAttempts: 1,
	})
	return a, c
}

// apiCode is the S3 error code of err, "" for no error, and the error text
// for any other failure, so a transport error never passes for success.
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return "not an S3 error: " + err.Error()
	}
	return ""
}

func sha256b64(b []byte) string {
	s := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

func TestObjectRoundTripWithChecksums(t *testing.T) {
	ctx := context.Background()
	_, c := newTestAPI(t, t.TempDir())
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("odin-releases")}); err != nil {
		t.Fatal(err)
	}
	body := []byte("release: v1\n")
	put, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("odin-releases"), Key: aws.String("acct/p/c/r1/release"),
		Body: bytes.NewReader(body), ChecksumSHA256: aws.String(sha256b64(body)),
		ContentType: aws.String("application/yaml"), Metadata: map[string]string{"sha256": "x"},
	})
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	if aws.ToString(put.ChecksumSHA256) != sha256b64(body) {
		t.Errorf("PutObject checksum = %q", aws.ToString(put.ChecksumSHA256))
	}
	m := md5.Sum(body)
	if want := fmt.Sprintf(`"%x"`, m); aws.ToString(put.ETag) != want {
		t.Errorf("ETag = %s, want %s", aws.ToString(put.ETag), want)
	}

	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("odin-releases"), Key: aws.String("acct/p/c/r1/release"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	got, _ := io.ReadAll(get.Body)
	get.Body.Close()
	if !bytes.Equal(got, body) {
		t.Errorf("body = %q", got)
	}
	if aws.ToString(get.ChecksumSHA256) != sha256b64(body) || aws.ToString(get.ContentType) != "application/yaml" || get.Metadata["sha256"] != "x" {
		t.Errorf("GetObject: checksum %q content type %q metadata %v", aws.ToString(get.ChecksumSHA256), aws.ToString(get.ContentType), get.Metadata)
	}

	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("odin-releases"), Key: aws.String("acct/p/c/r1/release"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	if aws.ToString(head.ChecksumSHA256) != sha256b64(body) || aws.ToInt64(head.ContentLength) != int64(len(body)) {
		t.Errorf("HeadObject: checksum %q length %d", aws.ToString(head.ChecksumSHA256), aws.ToInt64(head.ContentLength))
	}
	head, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("odin-releases"), Key: aws.String("acct/p/c/r1/release")})
	if err != nil {
		t.Fatal(err)
	}
	if head.ChecksumSHA256 != nil {
		t.Errorf("checksum returned without x-amz-checksum-mode")
	}
}

func TestPutIntegrity(t *testing.T) {
	ctx := context.Background()
	_, c := newTestAPI(t, t.TempDir())
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt")}); err != nil {
		t.Fatal(err)
	}
	body := []byte("payload")
	other := []byte("other")
	cases := []struct {
		name string
		in   s3.PutObjectInput
		opt  func(*s3.Options)
		code string
	}{
		{name: "sdk default crc32", in: s3.PutObjectInput{}},
		{name: "right sha256", in: s3.PutObjectInput{ChecksumSHA256: aws.String(sha256b64(body))}},
		{name: "wrong sha256", in: s3.PutObjectInput{ChecksumSHA256: aws.String(sha256b64(other))}, code: "BadDigest"},
		{name: "crc32c", in: s3.PutObjectInput{ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c}},
		{name: "sha1", in: s3.PutObjectInput{ChecksumAlgorithm: types.ChecksumAlgorithmSha1}},
		{name: "crc64nvme", in: s3.PutObjectInput{ChecksumAlgorithm: types.ChecksumAlgorithmCrc64nvme}},
		{name: "malformed sha256", in: s3.PutObjectInput{ChecksumSHA256: aws.String("bm90LWEtZGlnZXN0")}, code: "InvalidRequest"},
		{name: "right content-md5", in: s3.PutObjectInput{ContentMD5: aws.String(md5b64(body))}},
		{name: "wrong content-md5", in: s3.PutObjectInput{ContentMD5: aws.String(md5b64(other))}, code: "BadDigest"},
		{name: "checksums off", in: s3.PutObjectInput{}, opt: func(o *s3.Options) {
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			key := fmt.Sprintf("k%d", i)
			in.Bucket, in.Key, in.Body = aws.String("bkt"), aws.String(key), bytes.NewReader(body)
			var opts []func(*s3.Options)
			if tc.opt != nil {
				opts = append(opts, tc.opt)
			}
			_, err := c.PutObject(ctx, &in, opts...)
			if got := apiCode(err); got != tc.code {
				t.Fatalf("PutObject error %v, want code %q", err, tc.code)
			}
			_, herr := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key)})
			if stored := herr == nil; stored != (tc.code == "") {
				t.Errorf("object stored = %v after a put with error %q", stored, tc.code)
			}
		})
	}
}

func md5b64(b []byte) string { s := md5.Sum(b); return base64.StdEncoding.EncodeToString(s[:]) }

func TestCRC64NVMEVector(t *testing.T) {
	// The check value of CRC-64/NVME (the CRC catalogue) for "123456789".
	a, _ := algorithmByName("crc64nvme")
	h := a.new()
	h.Write([]byte("123456789"))
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != "ae8b14860a799888" {
		t.Fatalf("crc64nvme(123456789) = %s", got)
	}
}

func TestConditionalWritesAndDeletes(t *testing.T) {
	ctx := context.Background()
	_, c := newTestAPI(t, t.TempDir())
	b := aws.String("locks")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	put := func(key, body string, mod func(*s3.PutObjectInput)) (*s3.PutObjectOutput, error) {
		in := &s3.PutObjectInput{Bucket: b, Key: aws.String(key), Body: strings.NewReader(body)}
		if mod != nil {
			mod(in)
		}
		return c.PutObject(ctx, in)
	}
	first, err := put("lock", "owner-a", func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") })
	if err != nil {
		t.Fatalf("create-only put of a new key: %v", err)
	}
	steps := []struct {
		name string
		do   func() error
		code string
	}{
		{"if-none-match on existing key", func() error {
			_, err := put("lock", "owner-b", func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") })
			return err
		}, "PreconditionFailed"},
		{"if-match wrong etag", func() error {
			_, err := put("lock", "owner-b", func(in *s3.PutObjectInput) { in.IfMatch = aws.String(`"0123"`) })
			return err
		}, "PreconditionFailed"},
		{"if-match missing key", func() error {
			_, err := put("nothing", "x", func(in *s3.PutObjectInput) { in.IfMatch = first.ETag })
			return err
		}, "NoSuchKey"},
		{"if-none-match other than *", func() error {
			_, err := put("lock", "x", func(in *s3.PutObjectInput) { in.IfNoneMatch = first.ETag })
			return err
		}, "NotImplemented"},
		{"delete if-match wrong etag", func() error {
			_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("lock"), IfMatch: aws.String(`"0123"`)})
			return err
		}, "PreconditionFailed"},
		{"delete if-match missing key", func() error {
			_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("nothing"), IfMatch: first.ETag})
			return err
		}, "NoSuchKey"},
		{"delete without condition of missing key", func() error {
			_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("nothing")})
			return err
		}, ""},
	}
	for _, s := range steps {
		if got := apiCode(s.do()); got != s.code {
			t.Errorf("%s: code %q, want %q", s.name, got, s.code)
		}
	}
	// The lock is still owner-a's; steal it with compare-and-swap, then
	// the old owner's release must fail and the new owner's succeed.
	second, err := put("lock", "owner-b", func(in *s3.PutObjectInput) { in.IfMatch = first.ETag })
	if err != nil {
		t.Fatalf("if-match with the current etag: %v", err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("lock"), IfMatch: first.ETag}); apiCode(err) != "PreconditionFailed" {
		t.Fatalf("release with a stale etag: %v", err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("lock"), IfMatch: second.ETag}); err != nil {
		t.Fatalf("release with the current etag: %v", err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("lock")}); apiCode(err) != "NotFound" {
		t.Fatalf("after release HeadObject = %v, want NotFound", err)
	}
}

// TestCreateOnlyIsAtomic: of many concurrent create-only writers exactly one wins.
func TestCreateOnlyIsAtomic(t *testing.T) {
	ctx := context.Background()
	_, c := newTestAPI(t, t.TempDir())
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("race")}); err != nil {
		t.Fatal(err)
	}
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("race"), Key: aws.String("lock"),
				Body: strings.NewReader(fmt.Sprint("owner-", i)), IfNoneMatch: aws.String("*")})
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch apiCode(err) {
		case "":
			wins++
		case "PreconditionFailed":
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d writers won, want exactly 1", wins)
	}
}

func TestBucketsAndErrors(t *testing.T) {
	ctx := context.Background()
	_, c := newTestAPI(t, t.TempDir())
	for _, name := range []string{"alpha", "beta.b-1"} {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		do   func() error
		code string
	}{
		{"create twice", func() error {
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alpha")})
			return err
		}, "BucketAlreadyOwnedByYou"},
		{"bad name", func() error {
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("b1")})
			return err
		}, "InvalidBucketName"},
		{"head missing bucket", func() error {
			_, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("gamma")})
			return err
		}, "NotFound"},
		{"head bucket", func() error {
			_, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("alpha")})
			return err
		}, ""},
		{"get missing key", func() error {
			_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("alpha"), Key: aws.String("no/such")})
			return err
		}, "NoSuchKey"},
		{"put to missing bucket", func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("gamma"), Key: aws.String("k"), Body: strings.NewReader("x")})
			return err
		}, "NoSuchBucket"},
		{"list missing bucket", func() error {
			_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("gamma")})
			return err
		}, "NoSuchBucket"},
		{"bad continuation token", func() error {
			_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("alpha"), ContinuationToken: aws.String("!!")})
			return err
		}, "InvalidArgument"},
	}
	for _, tc := range cases {
		if got := apiCode(tc.do()); got != tc.code {
			t.Errorf("%s: code %q, want %q", tc.name, got, tc.code)
		}
	}
	out, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range out.Buckets {
		names = append(names, aws.ToString(b.Name))
	}
	if strings.Join(names, ",") != "alpha,beta.b-1" {
		t.Errorf("ListBuckets = %v", names)
	}
}

func TestErrorIsAWSShapedXML(t *testing.T) {
	a, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/nobucket/k", nil)
	rec.Header().Set("x-amz-request-id", "REQ1")
	a.ServeHTTP(rec, r)
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>nobucket</BucketName><Resource>/nobucket/k</Resource><RequestId>REQ1</RequestId></Error>`
	if rec.Code != 404 || strings.TrimSpace(rec.Body.String()) != want || rec.Header().Get("Content-Type") != "application/xml" {
		t.Fatalf("got %d %s\n%s", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}
}

func TestListObjectsV2(t *testing.T) {
	ctx := context.Background()
	_, c := newTestAPI(t, t.TempDir())
	b := aws.String("list")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	keys := []string{"a/1", "a/2", "a/b/3", "c", "d/4", "d/5", "e f+g", "z"}
	for _, k := range keys {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatal(err)
		}
	}
	type page struct{ keys, prefixes string }
	cases := []struct {
		name          string
		prefix, delim string
		startAfter    string
		max           int32
		want          []page
	}{
		{name: "all", max: 1000, want: []page{{"a/1,a/2,a/b/3,c,d/4,d/5,e f+g,z", ""}}},
		{name: "pages of 3", max: 3, want: []page{{"a/1,a/2,a/b/3", ""}, {"c,d/4,d/5", ""}, {"e f+g,z", ""}}},
		{name: "delimiter", delim: "/", max: 1000, want: []page{{"c,e f+g,z", "a/,d/"}}},
		{name: "delimiter paged", delim: "/", max: 2, want: []page{{"c", "a/"}, {"e f+g", "d/"}, {"z", ""}}},
		{name: "prefix and delimiter", prefix: "a/", delim: "/", max: 1000, want: []page{{"a/1,a/2", "a/b/"}}},
		{name: "start after", startAfter: "c", max: 1000, want: []page{{"d/4,d/5,e f+g,z", ""}}},
		{name: "prefix no match", prefix: "q", max: 1000, want: []page{{"", ""}}},
	}
	zero, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, MaxKeys: aws.Int32(0)})
	if err != nil || len(zero.Contents) != 0 || aws.ToBool(zero.IsTruncated) {
		t.Errorf("max-keys=0: %v, %d keys, truncated %v", err, len(zero.Contents), aws.ToBool(zero.IsTruncated))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []page
			p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: b, Prefix: aws.String(tc.prefix),
				Delimiter: aws.String(tc.delim), StartAfter: aws.String(tc.startAfter), MaxKeys: aws.Int32(tc.max)})
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var ks, ps []string
				for _, o := range out.Contents {
					ks = append(ks, aws.ToString(o.Key))
				}
				for _, cp := range out.CommonPrefixes {
					ps = append(ps, aws.ToString(cp.Prefix))
				}
				if int(aws.ToInt32(out.KeyCount)) != len(ks)+len(ps) {
					t.Errorf("KeyCount %d for %d entries", aws.ToInt32(out.KeyCount), len(ks)+len(ps))
				}
				got = append(got, page{strings.Join(ks, ","), strings.Join(ps, ",")})
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("pages = %v\nwant    %v", got, tc.want)
			}
		})
	}
}

// TestPersistsAcrossRestartAndSweeps: objects survive a reopen, and data a
// crashed upload left behind is removed.
func TestPersistsAcrossRestartAndSweeps(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, c := newTestAPI(t, dir)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("keep")}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // overwrites leave exactly one blob
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("keep"), Key: aws.String("k"), Body: strings.NewReader(fmt.Sprint("v", i))}); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	orphan := filepath.Join(dir, "blobs", ".tmp-crashed")
	if err := os.WriteFile(orphan, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, c = newTestAPI(t, dir)
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphan upload not swept: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "blobs"))
	if len(entries) != 1 {
		t.Errorf("%d blobs for one object", len(entries))
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("keep"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(out.Body)
	if string(got) != "v2" {
		t.Fatalf("after restart: %q", got)
	}
}

func TestRangeAndConditionalGet(t *testing.T) {
	ctx := context.Background()
	_, c := newTestAPI(t, t.TempDir())
	b := aws.String("rng")
	c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b})
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("k"), Body: strings.NewReader("0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("k"), Range: aws.String("bytes=2-4")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(out.Body)
	if string(got) != "234" {
		t.Errorf("range = %q", got)
	}
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("k"), IfMatch: aws.String(`"nope"`)}); apiCode(err) != "PreconditionFailed" {
		t.Errorf("GET If-Match mismatch: %v", err)
	}
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("k"), IfNoneMatch: put.ETag}); !isStatus(err, http.StatusNotModified) {
		t.Errorf("GET If-None-Match current etag: %v", err)
	}
}

func isStatus(err error, status int) bool {
	var re interface{ HTTPStatusCode() int }
	return errors.As(err, &re) && re.HTTPStatusCode() == status
}

func TestDeleteObjectsAndBucket(t *testing.T) {
	ctx := context.Background()
	_, c := newTestAPI(t, t.TempDir())
	b := aws.String("gone")
	c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b})
	for _, k := range []string{"x", "y"} {
		c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String(k), Body: strings.NewReader(k)})
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b}); apiCode(err) != "BucketNotEmpty" {
		t.Fatalf("DeleteBucket non-empty: %v", err)
	}
	out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("x")}, {Key: aws.String("y")}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Deleted) != 2 {
		t.Errorf("deleted %d", len(out.Deleted))
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b}); err != nil {
		t.Fatalf("DeleteBucket empty: %v", err)
	}
}

func TestMultipartUpload(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, c := newTestAPI(t, dir)
	b, k := aws.String("multi"), aws.String("big/object")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	part1 := bytes.Repeat([]byte("a"), 5<<20)
	part2 := []byte("tail")
	upload := func() (string, []types.CompletedPart) {
		t.Helper()
		cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: k, ContentType: aws.String("text/plain")})
		if err != nil {
			t.Fatal(err)
		}
		var parts []types.CompletedPart
		for i, p := range [][]byte{part1, part2} {
			out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: k, UploadId: cr.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
			if err != nil {
				t.Fatalf("UploadPart %d: %v", i+1, err)
			}
			parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
		}
		return aws.ToString(cr.UploadId), parts
	}

	id, parts := upload()
	bad := []types.CompletedPart{parts[0], {PartNumber: parts[1].PartNumber, ETag: aws.String(`"00"`)}}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: k, UploadId: &id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: bad}}); apiCode(err) != "InvalidPart" {
		t.Fatalf("complete with a wrong part etag: %v", err)
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: k, UploadId: &id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{parts[1], parts[0]}}}); apiCode(err) != "InvalidPartOrder" {
		t.Fatalf("complete out of order: %v", err)
	}
	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: k, UploadId: &id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	if !strings.HasSuffix(aws.ToString(done.ETag), `-2"`) {
		t.Errorf("multipart ETag %s", aws.ToString(done.ETag))
	}
	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: k})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(get.Body)
	if !bytes.Equal(got, append(append([]byte{}, part1...), part2...)) || aws.ToString(get.ContentType) != "text/plain" {
		t.Fatalf("assembled object: %d bytes, type %q", len(got), aws.ToString(get.ContentType))
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: k, UploadId: &id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); apiCode(err) != "NoSuchUpload" {
		t.Fatalf("complete twice: %v", err)
	}

	// A small first part is refused; an aborted upload leaves no data.
	cr, _ := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("small")})
	var small []types.CompletedPart
	for i := range 2 {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: aws.String("small"), UploadId: cr.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: strings.NewReader("x")})
		if err != nil {
			t.Fatal(err)
		}
		small = append(small, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("small"), UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: small}}); apiCode(err) != "EntityTooSmall" {
		t.Fatalf("small first part: %v", err)
	}
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: b, Key: aws.String("small"), UploadId: cr.UploadId}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "blobs"))
	if len(entries) != 1 {
		t.Errorf("%d blobs left for one object", len(entries))
	}
}

// TestConditionalDeleteIsAtomic: of many releases of one lock with its ETag,
// exactly one deletes it; the others find no key.
func TestConditionalDeleteIsAtomic(t *testing.T) {
	ctx := context.Background()
	_, c := newTestAPI(t, t.TempDir())
	c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("race")})
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("race"), Key: aws.String("lock"), Body: strings.NewReader("me")})
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	codes := make([]string, n)
	for i := range n {
		wg.Go(func() {
			_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("race"), Key: aws.String("lock"), IfMatch: put.ETag})
			codes[i] = apiCode(err)
			if err == nil {
				codes[i] = "deleted"
			}
		})
	}
	wg.Wait()
	deleted := 0
	for _, code := range codes {
		switch code {
		case "deleted":
			deleted++
		case "NoSuchKey":
		default:
			t.Errorf("unexpected outcome %q", code)
		}
	}
	if deleted != 1 {
		t.Fatalf("%d conditional deletes succeeded, want 1 (%v)", deleted, codes)
	}
}

func TestCopyObject(t *testing.T) {
	ctx := context.Background()
	_, c := newTestAPI(t, t.TempDir())
	for _, b := range []string{"src-b", "dst-b"} {
		c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)})
	}
	body := []byte("copy me")
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("src-b"), Key: aws.String("dir/a b+c"), Body: bytes.NewReader(body),
		ChecksumSHA256: aws.String(sha256b64(body)), Metadata: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	out, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst-b"), Key: aws.String("copied"),
		CopySource: aws.String("src-b/" + strings.ReplaceAll(url.PathEscape("dir/a b+c"), "%2F", "/"))})
	if err != nil {
		t.Fatalf("CopyObject: %v", err)
	}
	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("dst-b"), Key: aws.String("copied"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(get.Body)
	if !bytes.Equal(got, body) || get.Metadata["k"] != "v" || aws.ToString(get.ChecksumSHA256) != sha256b64(body) ||
		aws.ToString(get.ETag) != aws.ToString(out.CopyObjectResult.ETag) {
		t.Fatalf("copy: %q, metadata %v, checksum %q", got, get.Metadata, aws.ToString(get.ChecksumSHA256))
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst-b"), Key: aws.String("copied"),
		CopySource: aws.String("src-b/dir/a%20b%2Bc"), IfNoneMatch: aws.String("*")}); apiCode(err) != "PreconditionFailed" {
		t.Fatalf("create-only copy onto an existing key: %v", err)
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst-b"), Key: aws.String("x"),
		CopySource: aws.String("src-b/missing")}); apiCode(err) != "NoSuchKey" {
		t.Fatalf("copy of a missing key: %v", err)
	}
}

// TestUnsetBucketConfiguration: reads of configuration nobody set answer as
// S3 does for a fresh bucket; writes are refused.
func TestUnsetBucketConfiguration(t *testing.T) {
	ctx := context.Background()
	_, c := newTestAPI(t, t.TempDir())
	b := aws.String("conf")
	c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b})
	c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("k"), Body: strings.NewReader("x")})
	cases := []struct {
		name string
		do   func() error
		code string
	}{
		{"versioning", func() error {
			_, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b})
			return err
		}, ""},
		{"acl", func() error {
			out, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: b})
			if err == nil && (len(out.Grants) != 1 || out.Grants[0].Permission != types.PermissionFullControl) {
				return fmt.Errorf("grants %+v", out.Grants)
			}
			return err
		}, ""},
		{"encryption", func() error {
			out, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: b})
			if err == nil && out.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != types.ServerSideEncryptionAes256 {
				return fmt.Errorf("encryption %+v", out.ServerSideEncryptionConfiguration)
			}
			return err
		}, ""},
		{"cors", func() error { _, err := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: b}); return err }, "NoSuchCORSConfiguration"},
		{"policy", func() error { _, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: b}); return err }, "NoSuchBucketPolicy"},
		{"tagging", func() error { _, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b}); return err }, "NoSuchTagSet"},
		{"lifecycle", func() error {
			_, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
			return err
		}, "NoSuchLifecycleConfiguration"},
		{"object tagging", func() error {
			_, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String("k")})
			return err
		}, ""},
		{"missing bucket", func() error {
			_, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("nope")})
			return err
		}, "NoSuchBucket"},
		{"put versioning refused", func() error {
			_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b,
				VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
			return err
		}, "NotImplemented"},
	}
	for _, tc := range cases {
		err := tc.do()
		if tc.code == "" && err != nil || tc.code != "" && apiCode(err) != tc.code {
			t.Errorf("%s: %v, want code %q", tc.name, err, tc.code)
		}
	}
}

// TestCompleteRacingUploadPart completes uploads while one of their parts
// is being uploaded again, many rounds over: with the same bytes (the same
// ETag in a new blob that replaces, and removes, the one the completion is
// about to read) and with other bytes. The completion reads a 5 MiB first
// part before it reaches the raced second one, so the race lands. It never
// answers 500: it succeeds with the bytes it named, or refuses with S3's
// error when the part it named was replaced by other bytes; no blob is left
// behind.
func TestCompleteRacingUploadPart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, c := newTestAPI(t, dir)
	b, k := aws.String("race"), aws.String("obj")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	head := bytes.Repeat([]byte("h"), minPartSize)
	named := bytes.Repeat([]byte("n"), 64<<10)
	other := bytes.Repeat([]byte("o"), 64<<10)
	rounds := 60
	if testing.Short() {
		rounds = 6 // CI's -race pass: each round is slow under the race detector
	}
	outcomes := map[string]int{}
	for round := range rounds {
		cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: k})
		if err != nil {
			t.Fatal(err)
		}
		var parts []types.CompletedPart
		for i, body := range [][]byte{head, named} {
			out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: k, UploadId: cr.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(body)})
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
		}
		again := named
		if round%2 == 1 {
			again = other
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		uploadErrs := make(chan error, 3)
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					_, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: k, UploadId: cr.UploadId, PartNumber: aws.Int32(2), Body: bytes.NewReader(again)})
					if code := apiCode(err); code != "" && code != "NoSuchUpload" {
						uploadErrs <- fmt.Errorf("UploadPart racing a completion: %v", err)
						return
					}
				}
			}()
		}
		_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: k, UploadId: cr.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
		close(stop)
		wg.Wait()
		close(uploadErrs)
		for err := range uploadErrs {
			t.Fatalf("round %d: %v", round, err)
		}
		code := apiCode(err)
		outcomes[code]++
		switch {
		case code == "":
			get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: k})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(get.Body)
			get.Body.Close()
			if !bytes.Equal(got, append(append([]byte{}, head...), named...)) {
				t.Fatalf("round %d: the completed object is not the parts it named (%d bytes)", round, len(got))
			}
		case code == "InvalidPart" && round%2 == 1, code == "OperationAborted":
			// Replaced by other bytes first; or replaced again and again
			// until the completion gave up, telling the client to try
			// again (how often depends on the machine's load, so only the
			// answer is checked, not a share). The upload is still there.
			if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: b, Key: k, UploadId: cr.UploadId}); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("round %d: CompleteMultipartUpload racing UploadPart: %v (a 500: %v)", round, err, isStatus(err, 500))
		}
	}
	t.Logf("outcomes over %d rounds: %v", rounds, outcomes)
	if outcomes[""] == 0 {
		t.Fatalf("none of the %d rounds completed", rounds)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "blobs"))
	if len(entries) != 1 {
		t.Errorf("%d blobs left for one object", len(entries))
	}
}
