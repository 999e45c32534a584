// Package s3api serves the local backend's S3 API (path-style buckets and
// objects, checksums, conditional writes) from a persistent directory.
package s3api

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/odin-deploy/odin/pkg/local/sigv4"
)

// We serve objects up to S3's single-PUT limit.
const maxObjectSize = 5 << 30

// Options configures the API.
type Options struct {
	// Dir holds the buckets and objects (created 0700 if missing).
	Dir string
	// Now stamps LastModified and bucket creation. Defaults to time.Now.
	Now func() time.Time
	// Region is reported by GetBucketLocation and x-amz-bucket-region.
	Region string
	// Owner is the account id shown as the owner of buckets and objects.
	Owner  string
	Logger *slog.Logger
}

// API is the S3 API as an http.Handler. Requests reach it already
// authenticated (see package sigv4).
type API struct {
	st     *store
	now    func() time.Time
	region string
	owner  string
	log    *slog.Logger
}

// Open opens (creating if needed) the S3 data under opts.Dir.
func Open(opts Options) (*API, error) {
	if opts.Dir == "" {
		return nil, errors.New("s3api: no directory")
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("s3api: %w", err)
	}
	st, err := openStore(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("s3api: %w", err)
	}
	a := &API{st: st, now: opts.Now, region: opts.Region, owner: opts.Owner, log: opts.Logger}
	if a.now == nil {
		a.now = time.Now
	}
	if a.region == "" {
		a.region = "us-east-1"
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	return a, nil
}

// Close releases the store; in-flight requests must have finished.
func (a *API) Close() error { return a.st.close() }

// CreateBucket creates a bucket (for a server's bootstrap); an existing one is not an error.
func (a *API) CreateBucket(name string) error {
	if e := checkBucketName(name); e != nil {
		return e
	}
	err := a.st.createBucket(name, a.now())
	if e, ok := asS3Error(err); ok && e.Code == "BucketAlreadyOwnedByYou" {
		return nil
	}
	return err
}

// ServeHTTP dispatches on the path (/bucket/key) and the sub-resource query.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	q := r.URL.Query()
	var err error
	switch {
	case bucket == "":
		if r.Method != http.MethodGet {
			err = errMethod(r)
			break
		}
		err = a.listBuckets(w)
	case key == "":
		if e := checkBucketName(bucket); e != nil && !(r.Method == http.MethodGet || r.Method == http.MethodHead) {
			err = e
			break
		}
		err = a.bucketOp(w, r, bucket, q)
	default:
		if e := checkKey(key); e != nil {
			err = e
			break
		}
		err = a.objectOp(w, r, bucket, key, q)
	}
	if err != nil {
		a.fail(w, r, err)
	}
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	if e, ok := asS3Error(err); ok {
		WriteError(w, r, e)
		return
	}
	var se *sigv4.Error
	if errors.As(err, &se) {
		WriteError(w, r, &Error{Status: se.Status, Code: se.Code, Message: se.Message})
		return
	}
	a.log.Error("s3 request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	WriteError(w, r, errInternal())
}

func errMethod(r *http.Request) *Error {
	return &Error{Status: 405, Code: "MethodNotAllowed", Message: "The specified method is not allowed against this resource: " + r.Method}
}

// unsupported lists sub-resources we know and refuse, so a client gets
// NotImplemented rather than a wrong answer from a plain GET or PUT.
var unsupported = []string{"acl", "policy", "tagging", "versioning", "versions", "cors", "lifecycle", "website",
	"logging", "notification", "replication", "encryption", "object-lock", "retention", "legal-hold", "uploads",
	"uploadId", "torrent", "restore", "select", "attributes", "accelerate", "requestPayment", "inventory",
	"analytics", "metrics", "ownershipControls", "publicAccessBlock", "intelligent-tiering", "policyStatus"}

func unsupportedSubresource(q url.Values) string {
	for _, s := range unsupported {
		if q.Has(s) {
			return s
		}
	}
	return ""
}

func (a *API) bucketOp(w http.ResponseWriter, r *http.Request, bucket string, q url.Values) error {
	if r.Method == http.MethodGet {
		if ok, err := a.bucketConfig(w, bucket, q); ok {
			return err
		}
	}
	if s := unsupportedSubresource(q); s != "" {
		return errNotImplemented("The local backend does not implement the ?" + s + " sub-resource.")
	}
	switch r.Method {
	case http.MethodPut:
		// The body may carry a CreateBucketConfiguration; the local backend
		// has one region, so it is read and ignored.
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<16))
		if err := a.st.createBucket(bucket, a.now()); err != nil {
			return err
		}
		w.Header().Set("Location", "/"+bucket)
		w.WriteHeader(http.StatusOK)
		return nil
	case http.MethodHead:
		ok, err := a.st.bucketExists(bucket)
		if err != nil {
			return err
		}
		if !ok {
			return errNoSuchBucket(bucket)
		}
		w.Header().Set("x-amz-bucket-region", a.region)
		w.WriteHeader(http.StatusOK)
		return nil
	case http.MethodDelete:
		if err := a.st.deleteBucket(bucket); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	case http.MethodPost:
		if q.Has("delete") {
			return a.deleteObjects(w, r, bucket)
		}
		return errMethod(r)
	case http.MethodGet:
		if q.Has("location") {
			ok, err := a.st.bucketExists(bucket)
			if err != nil {
				return err
			}
			if !ok {
				return errNoSuchBucket(bucket)
			}
			lc := a.region
			if lc == "us-east-1" {
				lc = "" // as S3 answers for us-east-1
			}
			writeXML(w, http.StatusOK, locationConstraint{NS: xmlNS, Value: lc})
			return nil
		}
		return a.listObjects(w, r, bucket, q)
	}
	return errMethod(r)
}

func (a *API) objectOp(w http.ResponseWriter, r *http.Request, bucket, key string, q url.Values) error {
	if id := q.Get("uploadId"); id != "" {
		switch r.Method {
		case http.MethodPut:
			if r.Header.Get("X-Amz-Copy-Source") != "" {
				return errNotImplemented("UploadPartCopy is not implemented by the local backend.")
			}
			return a.uploadPart(w, r, bucket, key, id)
		case http.MethodPost:
			return a.completeUpload(w, r, bucket, key, id)
		case http.MethodDelete:
			return a.abortUpload(w, bucket, key, id)
		}
		return errNotImplemented("ListParts is not implemented by the local backend.")
	}
	if q.Has("uploads") && r.Method == http.MethodPost {
		return a.createUpload(w, r, bucket, key)
	}
	if r.Method == http.MethodGet {
		if ok, err := a.objectConfig(w, bucket, key, q); ok {
			return err
		}
	}
	if s := unsupportedSubresource(q); s != "" {
		return errNotImplemented("The local backend does not implement the ?" + s + " sub-resource.")
	}
	switch r.Method {
	case http.MethodPut:
		if r.Header.Get("X-Amz-Copy-Source") != "" {
			return a.copyObject(w, r, bucket, key)
		}
		return a.putObject(w, r, bucket, key)
	case http.MethodGet, http.MethodHead:
		return a.getObject(w, r, bucket, key)
	case http.MethodDelete:
		return a.deleteObject(w, r, bucket, key)
	}
	return errMethod(r)
}

func (a *API) listBuckets(w http.ResponseWriter) error {
	bs, err := a.st.listBuckets()
	if err != nil {
		return err
	}
	writeXML(w, http.StatusOK, listAllMyBucketsResult{NS: xmlNS, Owner: owner{ID: a.owner, DisplayName: "odin-local"}, Buckets: bs})
	return nil
}

// storedHeaders are the request headers S3 keeps with an object and returns on GET.
var storedHeaders = []string{"Content-Type", "Content-Encoding", "Content-Disposition", "Content-Language", "Cache-Control", "Expires"}

func parseConditions(h http.Header, forDelete bool) (conditions, *Error) {
	var c conditions
	if v := h.Get("If-None-Match"); v != "" {
		if forDelete {
			return c, errNotImplemented("DeleteObject does not support If-None-Match.")
		}
		if strings.TrimSpace(v) != "*" {
			return c, errNotImplemented("A header you provided implies functionality that is not implemented: If-None-Match accepts only '*'.")
		}
		c.ifNoneMatchAny = true
	}
	if v := strings.TrimSpace(h.Get("If-Match")); v != "" {
		c.ifMatch = strings.Trim(strings.TrimPrefix(v, "W/"), `"`)
	}
	if v := h.Get("X-Amz-If-Match-Size"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return c, errInvalidArgument("x-amz-if-match-size must be an integer, got " + strconv.Quote(v))
		}
		c.ifMatchSize = &n
	}
	if v := h.Get("X-Amz-If-Match-Last-Modified-Time"); v != "" {
		t, err := http.ParseTime(v)
		if err != nil {
			return c, errInvalidArgument("x-amz-if-match-last-modified-time must be an HTTP date, got " + strconv.Quote(v))
		}
		c.ifMatchLMT = &t
	}
	return c, nil
}

// requestMeta reads the headers and user metadata S3 stores with an object.
func requestMeta(h http.Header) (objectMeta, *Error) {
	meta := objectMeta{Headers: map[string]string{}, Metadata: map[string]string{}}
	for _, name := range storedHeaders {
		if v := h.Get(name); v != "" {
			meta.Headers[name] = v
		}
	}
	if meta.Headers["Content-Type"] == "" {
		meta.Headers["Content-Type"] = "binary/octet-stream" // S3's default
	}
	size := 0
	for k, vs := range h {
		if name, ok := strings.CutPrefix(strings.ToLower(k), "x-amz-meta-"); ok {
			meta.Metadata[name] = strings.Join(vs, ",")
			size += len(name) + len(meta.Metadata[name])
		}
	}
	if size > 2048 {
		return meta, &Error{Status: 400, Code: "MetadataTooLarge", Message: "Your metadata headers exceed the maximum allowed metadata size (2 KB)."}
	}
	return meta, nil
}

// received is a request body stored in a temporary file and verified
// against every digest the request carried.
type received struct {
	tmp       string
	size      int64
	etag      string            // hex MD5
	checksums map[string]string // verified, algorithm -> base64
	linked    string            // blob id once linked
}

// link renames the upload to blob (inside the caller's transaction) and
// makes the rename durable before the index that names it commits.
func (b *received) link(st *store, blob string) error {
	if err := os.Rename(b.tmp, st.blobPath(blob)); err != nil {
		return fmt.Errorf("link uploaded data: %w", err)
	}
	b.linked = blob
	if err := syncDir(st.blobs); err != nil {
		return fmt.Errorf("sync %s: %w", st.blobs, err)
	}
	return nil
}

// unlink undoes link after a transaction failed.
func (b *received) unlink(st *store) {
	if b.linked != "" {
		_ = os.Remove(st.blobPath(b.linked))
		b.linked = ""
	}
}

func (b *received) discard() { _ = os.Remove(b.tmp) }

// receive streams r's body to a temporary file, checking Content-Length,
// Content-MD5, x-amz-checksum-* and (through the sigv4 reader) the signed
// payload hash. Nothing is visible to readers until the caller links it.
func (a *API) receive(r *http.Request, key string) (_ *received, err error) {
	wantSums, e := wantedChecksums(r.Header)
	if e != nil {
		return nil, e
	}
	var wantMD5 []byte
	if v := r.Header.Get("Content-MD5"); v != "" {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(b) != 16 {
			return nil, &Error{Status: 400, Code: "InvalidDigest", Message: "The Content-MD5 you specified was invalid.", Key: key}
		}
		wantMD5 = b
	}
	tooLarge := &Error{Status: 400, Code: "EntityTooLarge", Message: "Your proposed upload exceeds the maximum allowed size (5 GiB)."}
	if r.ContentLength > maxObjectSize {
		return nil, tooLarge
	}
	tmp, err := a.st.tempFile()
	if err != nil {
		return nil, err
	}
	defer func() {
		tmp.Close()
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	d := newDigester(wantSums)
	n, err := io.Copy(io.MultiWriter(tmp, d), io.LimitReader(r.Body, maxObjectSize+1))
	if err != nil {
		return nil, err
	}
	if n > maxObjectSize {
		return nil, tooLarge
	}
	if r.ContentLength >= 0 && n != r.ContentLength {
		return nil, &Error{Status: 400, Code: "IncompleteBody", Message: "You did not provide the number of bytes specified by the Content-Length HTTP header."}
	}
	md5sum := d.md5.Sum(nil)
	if wantMD5 != nil && string(wantMD5) != string(md5sum) {
		return nil, &Error{Status: 400, Code: "BadDigest", Message: "The Content-MD5 you specified did not match what we received.", Key: key}
	}
	sums := map[string]string{}
	for alg, want := range wantSums {
		got := d.checksum(alg)
		if got != want {
			return nil, &Error{Status: 400, Code: "BadDigest", Message: "The " + strings.ToUpper(alg) + " you specified did not match the calculated checksum.", Key: key}
		}
		sums[alg] = got
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("sync upload: %w", err)
	}
	return &received{tmp: tmp.Name(), size: n, etag: hex.EncodeToString(md5sum), checksums: sums}, nil
}

func (a *API) putObject(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	cond, e := parseConditions(r.Header, false)
	if e != nil {
		return e
	}
	meta, e := requestMeta(r.Header)
	if e != nil {
		return e
	}
	if ok, err := a.st.bucketExists(bucket); err != nil {
		return err
	} else if !ok {
		return errNoSuchBucket(bucket)
	}
	body, err := a.receive(r, key)
	if err != nil {
		return err
	}
	defer body.discard()
	meta.Blob = newBlobID()
	meta.Size = body.size
	meta.ETag = body.etag
	meta.Checksums = body.checksums
	meta.LastModified = a.now().UTC()
	old, err := a.st.commitPut(bucket, key, body.tmp, meta, cond)
	if err != nil {
		return err
	}
	if old != "" {
		if err := os.Remove(a.st.blobPath(old)); err != nil {
			a.log.Warn("remove replaced object data", "err", err)
		}
	}
	w.Header().Set("ETag", `"`+meta.ETag+`"`)
	w.Header().Set("x-amz-server-side-encryption", "AES256")
	for alg, v := range meta.Checksums {
		w.Header().Set("x-amz-checksum-"+alg, v)
	}
	if len(meta.Checksums) > 0 {
		w.Header().Set("x-amz-checksum-type", "FULL_OBJECT")
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (a *API) getObject(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	meta, f, err := a.st.openObject(bucket, key)
	if err != nil {
		return err
	}
	defer f.Close()
	etag := `"` + meta.ETag + `"`
	// S3 answers a failed If-Match or If-Unmodified-Since with 412 and an
	// XML body; ServeContent would send plain text, so decide here.
	if v := r.Header.Get("If-Match"); v != "" && v != "*" && strings.Trim(v, `" `) != meta.ETag {
		return errPrecondition("If-Match")
	}
	if v := r.Header.Get("If-Unmodified-Since"); v != "" && r.Header.Get("If-Match") == "" {
		if t, err := http.ParseTime(v); err == nil && meta.LastModified.Truncate(time.Second).After(t) {
			return errPrecondition("If-Unmodified-Since")
		}
	}
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Accept-Ranges", "bytes")
	h.Set("x-amz-server-side-encryption", "AES256")
	for k, v := range meta.Headers {
		h.Set(k, v)
	}
	for k, v := range meta.Metadata {
		h["X-Amz-Meta-"+k] = []string{v}
	}
	if strings.EqualFold(r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") && r.Header.Get("Range") == "" && len(meta.Checksums) > 0 {
		for alg, v := range meta.Checksums {
			h.Set("x-amz-checksum-"+alg, v)
		}
		h.Set("x-amz-checksum-type", "FULL_OBJECT")
	}
	http.ServeContent(w, r, "", meta.LastModified, f)
	return nil
}

func (a *API) deleteObject(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	cond, e := parseConditions(r.Header, true)
	if e != nil {
		return e
	}
	old, err := a.st.deleteObject(bucket, key, cond)
	if err != nil {
		return err
	}
	if old != "" {
		if err := os.Remove(a.st.blobPath(old)); err != nil {
			a.log.Warn("remove deleted object data", "err", err)
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) deleteObjects(w http.ResponseWriter, r *http.Request, bucket string) error {
	var req deleteRequest
	if err := xml.NewDecoder(io.LimitReader(r.Body, 2<<20)).Decode(&req); err != nil {
		return &Error{Status: 400, Code: "MalformedXML", Message: "The XML you provided was not well-formed or did not validate against our published schema."}
	}
	if len(req.Objects) > 1000 {
		return &Error{Status: 400, Code: "MalformedXML", Message: "A DeleteObjects request may name at most 1000 keys."}
	}
	res := deleteResult{NS: xmlNS}
	for _, o := range req.Objects {
		cond := conditions{ifMatch: strings.Trim(o.ETag, `"`)}
		old, err := a.st.deleteObject(bucket, o.Key, cond)
		if err != nil {
			e, ok := asS3Error(err)
			if !ok {
				return err
			}
			if e.Code == "NoSuchBucket" {
				return e
			}
			res.Errors = append(res.Errors, deleteError{Key: o.Key, Code: e.Code, Message: e.Message})
			continue
		}
		if old != "" {
			_ = os.Remove(a.st.blobPath(old))
		}
		if !req.Quiet {
			res.Deleted = append(res.Deleted, deletedObject{Key: o.Key})
		}
	}
	writeXML(w, http.StatusOK, res)
	return nil
}

// listToken is the opaque continuation token: where the next page starts.
func encodeListToken(next string, isCP bool) string {
	kind := "k"
	if isCP {
		kind = "p"
	}
	return base64.RawURLEncoding.EncodeToString([]byte(kind + next))
}

func decodeListToken(tok string) (string, bool, *Error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) == 0 || (b[0] != 'k' && b[0] != 'p') || !utf8.Valid(b[1:]) {
		return "", false, errInvalidArgument("The continuation token provided is incorrect")
	}
	return string(b[1:]), b[0] == 'p', nil
}

func (a *API) listObjects(w http.ResponseWriter, r *http.Request, bucket string, q url.Values) error {
	v2 := q.Get("list-type") == "2"
	if lt := q.Get("list-type"); lt != "" && lt != "2" {
		return errInvalidArgument("Invalid List Type specified: " + lt)
	}
	maxKeys := 1000
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errInvalidArgument("Provided max-keys not an integer or within integer range")
		}
		maxKeys = min(n, 1000)
	}
	enc := q.Get("encoding-type")
	if enc != "" && enc != "url" {
		return errInvalidArgument("Invalid Encoding Method specified in Request")
	}
	encode := func(s string) string {
		if enc == "url" {
			return s3URLEncode(s)
		}
		return s
	}
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	var after string
	var afterIsCP bool
	if v2 {
		after = q.Get("start-after")
		if tok := q.Get("continuation-token"); tok != "" {
			var e *Error
			if after, afterIsCP, e = decodeListToken(tok); e != nil {
				return e
			}
		}
	} else {
		after = q.Get("marker")
		// A V1 marker that is a common prefix skips the keys under it.
		afterIsCP = delim != "" && strings.HasSuffix(after, delim)
	}
	page, err := a.st.list(bucket, prefix, delim, after, afterIsCP, maxKeys)
	if err != nil {
		return err
	}
	contents := make([]objectInfo, 0, len(page.objects))
	fetchOwner := !v2 || q.Get("fetch-owner") == "true"
	for _, o := range page.objects {
		oi := objectInfo{Key: encode(o.key), LastModified: s3Time(o.meta.LastModified), ETag: `"` + o.meta.ETag + `"`,
			Size: o.meta.Size, StorageClass: "STANDARD"}
		if len(o.meta.Checksums) > 0 {
			algs := make([]string, 0, len(o.meta.Checksums))
			for alg := range o.meta.Checksums {
				algs = append(algs, strings.ToUpper(alg))
			}
			sort.Strings(algs)
			oi.ChecksumAlgorithm, oi.ChecksumType = algs, "FULL_OBJECT"
		}
		if fetchOwner {
			oi.Owner = &owner{ID: a.owner, DisplayName: "odin-local"}
		}
		contents = append(contents, oi)
	}
	cps := make([]commonPrefix, len(page.prefixes))
	for i, p := range page.prefixes {
		cps[i] = commonPrefix{Prefix: encode(p)}
	}
	if v2 {
		res := listBucketV2Result{NS: xmlNS, Name: bucket, Prefix: encode(prefix), Delimiter: encode(delim),
			StartAfter: encode(q.Get("start-after")), ContinuationToken: q.Get("continuation-token"),
			KeyCount: len(contents) + len(cps), MaxKeys: maxKeys, EncodingType: enc, IsTruncated: page.truncated,
			Contents: contents, CommonPrefixes: cps}
		if page.truncated {
			res.NextContinuationToken = encodeListToken(page.next, page.nextIsCP)
		}
		writeXML(w, http.StatusOK, res)
		return nil
	}
	res := listBucketV1Result{NS: xmlNS, Name: bucket, Prefix: encode(prefix), Marker: encode(q.Get("marker")),
		Delimiter: encode(delim), MaxKeys: maxKeys, EncodingType: enc, IsTruncated: page.truncated,
		Contents: contents, CommonPrefixes: cps}
	if page.truncated && delim != "" {
		res.NextMarker = encode(page.next)
	}
	writeXML(w, http.StatusOK, res)
	return nil
}

// s3URLEncode encodes a key for encoding-type=url as S3 does: like a query
// value, spaces as '+', '/' kept.
func s3URLEncode(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/")
}

func checkKey(key string) *Error {
	if len(key) > 1024 {
		return &Error{Status: 400, Code: "KeyTooLongError", Message: "Your key is too long", Key: key[:64] + "…"}
	}
	if !utf8.ValidString(key) {
		return errInvalidArgument("Object keys must be valid UTF-8.")
	}
	return nil
}

// checkBucketName applies S3's naming rules for new buckets.
func checkBucketName(name string) *Error {
	bad := &Error{Status: 400, Code: "InvalidBucketName", Message: "The specified bucket is not valid.", Bucket: name}
	if len(name) < 3 || len(name) > 63 {
		return bad
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return bad
		}
	}
	first, last := name[0], name[len(name)-1]
	if first == '-' || first == '.' || last == '-' || last == '.' || strings.Contains(name, "..") {
		return bad
	}
	if net.ParseIP(name) != nil {
		return bad
	}
	return nil
}
