package s3api

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

type copyObjectResult struct {
	XMLName      xml.Name `xml:"CopyObjectResult"`
	NS           string   `xml:"xmlns,attr"`
	ETag         string   `xml:"ETag"`
	LastModified string   `xml:"LastModified"`
}

// copyObject serves CopyObject (aws s3 cp/mv between S3 locations): the
// source's bytes become a new blob committed under the destination's write
// conditions; metadata is copied unless x-amz-metadata-directive is REPLACE.
func (a *API) copyObject(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	src := r.Header.Get("X-Amz-Copy-Source")
	if i := strings.Index(src, "?"); i >= 0 {
		if strings.Contains(src[i:], "versionId=") {
			return errNotImplemented("The local backend keeps no object versions.")
		}
		src = src[:i]
	}
	if dec, err := url.PathUnescape(src); err == nil {
		src = dec
	}
	srcBucket, srcKey, ok := strings.Cut(strings.TrimPrefix(src, "/"), "/")
	if !ok || srcBucket == "" || srcKey == "" {
		return errInvalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	cond, e := parseConditions(r.Header, false)
	if e != nil {
		return e
	}
	directive := r.Header.Get("X-Amz-Metadata-Directive")
	if directive != "" && directive != "COPY" && directive != "REPLACE" {
		return errInvalidArgument("Unknown metadata directive.")
	}
	meta, f, err := a.st.openObject(srcBucket, srcKey)
	if err != nil {
		return err
	}
	defer f.Close()
	if v := r.Header.Get("X-Amz-Copy-Source-If-Match"); v != "" && strings.Trim(v, `" `) != meta.ETag {
		return errPrecondition("x-amz-copy-source-If-Match")
	}
	if v := r.Header.Get("X-Amz-Copy-Source-If-None-Match"); v != "" && strings.Trim(v, `" `) == meta.ETag {
		return errPrecondition("x-amz-copy-source-If-None-Match")
	}
	if srcBucket == bucket && srcKey == key && directive != "REPLACE" {
		return errInvalidRequest("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	if directive == "REPLACE" {
		repl, e := requestMeta(r.Header)
		if e != nil {
			return e
		}
		meta.Headers, meta.Metadata = repl.Headers, repl.Metadata
	}
	tmp, err := a.st.tempFile()
	if err != nil {
		return err
	}
	defer func() { tmp.Close(); os.Remove(tmp.Name()) }()
	if _, err := io.Copy(tmp, f); err != nil {
		return fmt.Errorf("copy object data: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	meta.Blob = newBlobID()
	meta.LastModified = a.now().UTC()
	old, err := a.st.commitPut(bucket, key, tmp.Name(), *meta, cond)
	if err != nil {
		return err
	}
	if old != "" {
		_ = os.Remove(a.st.blobPath(old))
	}
	writeXML(w, http.StatusOK, copyObjectResult{NS: xmlNS, ETag: `"` + meta.ETag + `"`, LastModified: s3Time(meta.LastModified)})
	return nil
}
