package s3api

import (
	"encoding/xml"
	"net/http"
	"time"
)

const xmlNS = "http://s3.amazonaws.com/doc/2006-03-01/"

// Error is an S3 error response: HTTP status, AWS's code and message, and
// the extra elements some codes carry (Key, BucketName, Condition).
type Error struct {
	Status    int
	Code      string
	Message   string
	Key       string
	Bucket    string
	Condition string
	// HeadersNotSigned names the x-amz-* headers a signature left out.
	HeadersNotSigned string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

type errorBody struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Key       string   `xml:"Key,omitempty"`
	Bucket    string   `xml:"BucketName,omitempty"`
	Condition string   `xml:"Condition,omitempty"`
	// HeadersNotSigned is S3's element for AccessDenied on unsigned headers.
	HeadersNotSigned string `xml:"HeadersNotSigned,omitempty"`
	Resource         string `xml:"Resource,omitempty"`
	RequestID        string `xml:"RequestId"`
}

// WriteError writes e as S3 does: an XML body except for HEAD, whose
// responses have none (clients then read the code from the status alone).
func WriteError(w http.ResponseWriter, r *http.Request, e *Error) {
	w.Header().Del("Content-Length")
	w.Header().Del("ETag")
	w.Header().Set("Content-Type", "application/xml")
	if r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	w.WriteHeader(e.Status)
	body := errorBody{Code: e.Code, Message: e.Message, Key: e.Key, Bucket: e.Bucket, Condition: e.Condition,
		HeadersNotSigned: e.HeadersNotSigned, Resource: r.URL.Path, RequestID: w.Header().Get("x-amz-request-id")}
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(body)
}

func writeXML(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(v)
}

func errNoSuchBucket(b string) *Error {
	return &Error{Status: 404, Code: "NoSuchBucket", Message: "The specified bucket does not exist", Bucket: b}
}

func errNoSuchKey(b, k string) *Error {
	return &Error{Status: 404, Code: "NoSuchKey", Message: "The specified key does not exist.", Key: k, Bucket: b}
}

func errPrecondition(cond string) *Error {
	return &Error{Status: 412, Code: "PreconditionFailed", Message: "At least one of the pre-conditions you specified did not hold", Condition: cond}
}

func errInvalidRequest(msg string) *Error {
	return &Error{Status: 400, Code: "InvalidRequest", Message: msg}
}

func errInvalidArgument(msg string) *Error {
	return &Error{Status: 400, Code: "InvalidArgument", Message: msg}
}

func errNotImplemented(msg string) *Error {
	return &Error{Status: 501, Code: "NotImplemented", Message: msg}
}

func errInternal() *Error {
	return &Error{Status: 500, Code: "InternalError", Message: "We encountered an internal error. Please try again."}
}

// s3Time formats times as S3's XML does (ISO 8601 with milliseconds, UTC).
func s3Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

type owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

type listAllMyBucketsResult struct {
	XMLName xml.Name     `xml:"ListAllMyBucketsResult"`
	NS      string       `xml:"xmlns,attr"`
	Owner   owner        `xml:"Owner"`
	Buckets []bucketInfo `xml:"Buckets>Bucket"`
}

type bucketInfo struct {
	Name         string `xml:"Name"`
	CreationDate string `xml:"CreationDate"`
}

type listBucketV2Result struct {
	XMLName               xml.Name       `xml:"ListBucketResult"`
	NS                    string         `xml:"xmlns,attr"`
	Name                  string         `xml:"Name"`
	Prefix                string         `xml:"Prefix"`
	Delimiter             string         `xml:"Delimiter,omitempty"`
	StartAfter            string         `xml:"StartAfter,omitempty"`
	ContinuationToken     string         `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
	KeyCount              int            `xml:"KeyCount"`
	MaxKeys               int            `xml:"MaxKeys"`
	EncodingType          string         `xml:"EncodingType,omitempty"`
	IsTruncated           bool           `xml:"IsTruncated"`
	Contents              []objectInfo   `xml:"Contents"`
	CommonPrefixes        []commonPrefix `xml:"CommonPrefixes"`
}

type listBucketV1Result struct {
	XMLName        xml.Name       `xml:"ListBucketResult"`
	NS             string         `xml:"xmlns,attr"`
	Name           string         `xml:"Name"`
	Prefix         string         `xml:"Prefix"`
	Marker         string         `xml:"Marker"`
	NextMarker     string         `xml:"NextMarker,omitempty"`
	Delimiter      string         `xml:"Delimiter,omitempty"`
	MaxKeys        int            `xml:"MaxKeys"`
	EncodingType   string         `xml:"EncodingType,omitempty"`
	IsTruncated    bool           `xml:"IsTruncated"`
	Contents       []objectInfo   `xml:"Contents"`
	CommonPrefixes []commonPrefix `xml:"CommonPrefixes"`
}

type objectInfo struct {
	Key               string   `xml:"Key"`
	LastModified      string   `xml:"LastModified"`
	ETag              string   `xml:"ETag"`
	ChecksumAlgorithm []string `xml:"ChecksumAlgorithm,omitempty"`
	ChecksumType      string   `xml:"ChecksumType,omitempty"`
	Size              int64    `xml:"Size"`
	StorageClass      string   `xml:"StorageClass"`
	Owner             *owner   `xml:"Owner,omitempty"`
}

type commonPrefix struct {
	Prefix string `xml:"Prefix"`
}

type locationConstraint struct {
	XMLName xml.Name `xml:"LocationConstraint"`
	NS      string   `xml:"xmlns,attr"`
	Value   string   `xml:",chardata"`
}

type deleteRequest struct {
	XMLName xml.Name `xml:"Delete"`
	Quiet   bool     `xml:"Quiet"`
	Objects []struct {
		Key  string `xml:"Key"`
		ETag string `xml:"ETag"`
	} `xml:"Object"`
}

type deleteResult struct {
	XMLName xml.Name        `xml:"DeleteResult"`
	NS      string          `xml:"xmlns,attr"`
	Deleted []deletedObject `xml:"Deleted"`
	Errors  []deleteError   `xml:"Error"`
}

type deletedObject struct {
	Key string `xml:"Key"`
}

type deleteError struct {
	Key     string `xml:"Key"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}
