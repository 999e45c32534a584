package s3api

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Multipart uploads exist because the AWS CLI's `s3 cp` switches to them for
// files of 8 MiB and more. Parts are blobs like objects; completing an upload
// concatenates them into one new blob and commits it like a PutObject (with
// its conditions), removing the upload record in the same transaction.

var uploadsKey = []byte("uploads") // upload id -> upload

const minPartSize = 5 << 20 // S3's minimum for every part but the last

type upload struct {
	Bucket    string           `json:"bucket"`
	Key       string           `json:"key"`
	Initiated time.Time        `json:"initiated"`
	Meta      objectMeta       `json:"meta"` // headers and metadata given at creation
	Parts     map[int]partMeta `json:"parts,omitempty"`
}

type partMeta struct {
	Blob string `json:"blob"`
	ETag string `json:"etag"`
	Size int64  `json:"size"`
}

type initiateResult struct {
	XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
	NS       string   `xml:"xmlns,attr"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	UploadID string   `xml:"UploadId"`
}

type completeRequest struct {
	XMLName xml.Name `xml:"CompleteMultipartUpload"`
	Parts   []struct {
		PartNumber int    `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
	} `xml:"Part"`
}

type completeResult struct {
	XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
	NS       string   `xml:"xmlns,attr"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

func errNoSuchUpload() *Error {
	return &Error{Status: 404, Code: "NoSuchUpload", Message: "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."}
}

func getUpload(tx *bolt.Tx, id string) (*upload, error) {
	v := tx.Bucket(uploadsKey).Get([]byte(id))
	if v == nil {
		return nil, errAbort{errNoSuchUpload()}
	}
	var u upload
	if err := json.Unmarshal(v, &u); err != nil {
		return nil, fmt.Errorf("upload %s has a corrupt record: %w", id, err)
	}
	return &u, nil
}

func putUpload(tx *bolt.Tx, id string, u *upload) error {
	v, err := json.Marshal(u)
	if err != nil {
		return err
	}
	return tx.Bucket(uploadsKey).Put([]byte(id), v)
}

func (a *API) createUpload(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	meta, e := requestMeta(r.Header)
	if e != nil {
		return e
	}
	id := newBlobID()
	err := a.st.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketsKey).Get([]byte(bucket)) == nil {
			return errAbort{errNoSuchBucket(bucket)}
		}
		return putUpload(tx, id, &upload{Bucket: bucket, Key: key, Initiated: a.now().UTC(), Meta: meta})
	})
	if err != nil {
		return err
	}
	writeXML(w, http.StatusOK, initiateResult{NS: xmlNS, Bucket: bucket, Key: key, UploadID: id})
	return nil
}

func (a *API) uploadPart(w http.ResponseWriter, r *http.Request, bucket, key, id string) error {
	n, err := strconv.Atoi(r.URL.Query().Get("partNumber"))
	if err != nil || n < 1 || n > 10000 {
		return errInvalidArgument("Part number must be an integer between 1 and 10000, inclusive")
	}
	body, e := a.receive(r, key)
	if e != nil {
		return e
	}
	defer body.discard()
	var old string
	err = a.st.db.Update(func(tx *bolt.Tx) error {
		u, err := getUpload(tx, id)
		if err != nil {
			return err
		}
		if u.Bucket != bucket || u.Key != key {
			return errAbort{errNoSuchUpload()}
		}
		if u.Parts == nil {
			u.Parts = map[int]partMeta{}
		}
		blob := newBlobID()
		if err := body.link(a.st, blob); err != nil {
			return err
		}
		old = u.Parts[n].Blob
		u.Parts[n] = partMeta{Blob: blob, ETag: body.etag, Size: body.size}
		return putUpload(tx, id, u)
	})
	if err != nil {
		body.unlink(a.st)
		return err
	}
	if old != "" {
		_ = os.Remove(a.st.blobPath(old))
	}
	w.Header().Set("ETag", `"`+body.etag+`"`)
	for alg, v := range body.checksums {
		w.Header().Set("x-amz-checksum-"+alg, v)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// errPartsChanged says an UploadPart replaced a part while a completion
// assembled it; the completion starts again from the new record.
var errPartsChanged = errors.New("a part was uploaded again during the completion")

// completeAttempts bounds how often a completion starts again because parts
// keep being replaced under it.
const completeAttempts = 8

func (a *API) completeUpload(w http.ResponseWriter, r *http.Request, bucket, key, id string) error {
	cond, e := parseConditions(r.Header, false)
	if e != nil {
		return e
	}
	var req completeRequest
	if err := xml.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&req); err != nil || len(req.Parts) == 0 {
		return &Error{Status: 400, Code: "MalformedXML", Message: "The XML you provided was not well-formed or did not validate against our published schema."}
	}
	for i := 1; i < len(req.Parts); i++ {
		if req.Parts[i].PartNumber <= req.Parts[i-1].PartNumber {
			return &Error{Status: 400, Code: "InvalidPartOrder", Message: "The list of parts was not in ascending order. The parts list must be specified in order by part number."}
		}
	}
	// An UploadPart of the same upload may replace a part (and remove its
	// blob) at any moment; the completion then starts again, and commits
	// only if every part it assembled is still the one on record.
	for range completeAttempts {
		meta, err := a.completeOnce(bucket, key, id, &req, cond)
		if errors.Is(err, errPartsChanged) {
			continue
		}
		if err != nil {
			return err
		}
		writeXML(w, http.StatusOK, completeResult{NS: xmlNS, Location: "/" + bucket + "/" + key, Bucket: bucket, Key: key, ETag: `"` + meta.ETag + `"`})
		return nil
	}
	return &Error{Status: http.StatusConflict, Code: "OperationAborted",
		Message: "A conflicting conditional operation is currently in progress against this resource: its parts keep being uploaded again. Please try again."}
}

// completeOnce assembles the parts req names from the upload's record and
// commits the object, or answers errPartsChanged when a part's blob went
// away under it or its ETag changed before the commit.
func (a *API) completeOnce(bucket, key, id string, req *completeRequest, cond conditions) (*objectMeta, error) {
	var u *upload
	err := a.st.db.View(func(tx *bolt.Tx) error {
		var err error
		u, err = getUpload(tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if u.Bucket != bucket || u.Key != key {
		return nil, errNoSuchUpload()
	}
	tmp, err := a.st.tempFile()
	if err != nil {
		return nil, err
	}
	defer func() { tmp.Close(); os.Remove(tmp.Name()) }()
	etags := md5.New()
	var size int64
	used := map[int]string{} // part number -> ETag assembled
	for i, p := range req.Parts {
		part, ok := u.Parts[p.PartNumber]
		if !ok || strings.Trim(p.ETag, `"`) != part.ETag {
			return nil, &Error{Status: 400, Code: "InvalidPart", Message: fmt.Sprintf("One or more of the specified parts could not be found (part %d). The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.", p.PartNumber)}
		}
		if i < len(req.Parts)-1 && part.Size < minPartSize {
			return nil, &Error{Status: 400, Code: "EntityTooSmall", Message: fmt.Sprintf("Your proposed upload is smaller than the minimum allowed object size: part %d has %d bytes, every part but the last needs 5 MiB.", p.PartNumber, part.Size)}
		}
		raw, _ := hex.DecodeString(part.ETag)
		etags.Write(raw)
		f, err := os.Open(a.st.blobPath(part.Blob))
		if errors.Is(err, os.ErrNotExist) {
			return nil, errPartsChanged // replaced (or aborted) since the record was read
		}
		if err != nil {
			return nil, fmt.Errorf("open part %d: %w", p.PartNumber, err)
		}
		n, err := io.Copy(tmp, f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("assemble part %d: %w", p.PartNumber, err)
		}
		if n != part.Size {
			return nil, errPartsChanged
		}
		size += n
		used[p.PartNumber] = part.ETag
	}
	if err := tmp.Sync(); err != nil {
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	meta := u.Meta
	meta.Blob = newBlobID()
	meta.Size = size
	meta.ETag = fmt.Sprintf("%s-%d", hex.EncodeToString(etags.Sum(nil)), len(req.Parts))
	meta.LastModified = a.now().UTC()
	meta.Checksums = nil // a multipart object's checksums are composite; not kept
	var final *upload
	old, err := a.st.commitPutWith(bucket, key, tmp.Name(), meta, cond, func(tx *bolt.Tx) error {
		cur, err := getUpload(tx, id) // completed or aborted meanwhile: NoSuchUpload
		if err != nil {
			return err
		}
		// A part uploaded again with the same bytes (the same ETag) is
		// still the part the client named; with other bytes it is not.
		for n, etag := range used {
			if cur.Parts[n].ETag != etag {
				return errPartsChanged
			}
		}
		final = cur
		return tx.Bucket(uploadsKey).Delete([]byte(id))
	})
	if err != nil {
		return nil, err
	}
	if old != "" {
		_ = os.Remove(a.st.blobPath(old))
	}
	// Every part on record at the commit, those the completion left out too.
	for _, p := range final.Parts {
		_ = os.Remove(a.st.blobPath(p.Blob))
	}
	return &meta, nil
}

func (a *API) abortUpload(w http.ResponseWriter, bucket, key, id string) error {
	var u *upload
	err := a.st.db.Update(func(tx *bolt.Tx) error {
		var err error
		if u, err = getUpload(tx, id); err != nil {
			return err
		}
		if u.Bucket != bucket || u.Key != key {
			return errAbort{errNoSuchUpload()}
		}
		return tx.Bucket(uploadsKey).Delete([]byte(id))
	})
	if err != nil {
		return err
	}
	for _, p := range u.Parts {
		_ = os.Remove(a.st.blobPath(p.Blob))
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
