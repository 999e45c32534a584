// Package stsapi answers the one STS call odin makes, GetCallerIdentity, so
// that the CLI resolves who deploys with the same SDK call against the local
// backend as against AWS.
package stsapi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
)

// API answers STS's query protocol (form-encoded POST, XML answers).
type API struct {
	// Account is the local backend's account; User names the person the
	// backend runs for (the local backend has one user: its owner).
	Account, User string
}

const maxBody = 64 << 10

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeError(w, http.StatusBadRequest, "InvalidRequest", "the request body is unreadable or too large")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeError(w, http.StatusBadRequest, "MalformedQueryString", err.Error())
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, http.StatusBadRequest, "InvalidAction", "the local backend answers STS over POST only")
		return
	}
	switch action := form.Get("Action"); action {
	case "GetCallerIdentity":
		writeXML(w, http.StatusOK, getCallerIdentityResponse{
			Xmlns: ns,
			Result: callerIdentity{
				Arn:     "arn:aws:iam::" + a.Account + ":user/" + a.User,
				UserID:  "AIDALOCAL" + hex.EncodeToString([]byte(a.User)),
				Account: a.Account,
			},
			RequestID: requestID(),
		})
	default:
		writeError(w, http.StatusBadRequest, "InvalidAction", "the local backend answers only STS GetCallerIdentity, not "+action)
	}
}

const ns = "https://sts.amazonaws.com/doc/2011-06-15/"

type getCallerIdentityResponse struct {
	XMLName   xml.Name       `xml:"GetCallerIdentityResponse"`
	Xmlns     string         `xml:"xmlns,attr"`
	Result    callerIdentity `xml:"GetCallerIdentityResult"`
	RequestID string         `xml:"ResponseMetadata>RequestId"`
}

type callerIdentity struct {
	Arn     string `xml:"Arn"`
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
}

type errorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

// WriteError answers as STS's query protocol does: an ErrorResponse the
// SDKs decode (the server uses it for requests it refuses before routing).
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	writeError(w, status, code, msg)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeXML(w, status, errorResponse{Xmlns: ns, Type: "Sender", Code: code, Message: msg, RequestID: requestID()})
}

func writeXML(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, xml.Header)
	_ = xml.NewEncoder(w).Encode(v)
}

func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
