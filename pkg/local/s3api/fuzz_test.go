package s3api

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzServeHTTP: no request, however odd, panics the API or gets a 5xx
// other than NotImplemented.
func FuzzServeHTTP(f *testing.F) {
	f.Add("PUT", "/bkt/key", "", "", "body")
	f.Add("GET", "/bkt", "list-type=2&continuation-token=cHg&delimiter=/&max-keys=1", "", "")
	f.Add("POST", "/bkt", "delete", "", "<Delete><Object><Key>k</Key></Object></Delete>")
	f.Add("POST", "/bkt/k", "uploadId=x", "", "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>")
	f.Add("PUT", "/bkt/k", "partNumber=0&uploadId=x", "If-None-Match", "*")
	f.Add("DELETE", "/bkt/k", "", "If-Match", `"abc"`)
	f.Add("PUT", "/bkt/k", "", "X-Amz-Checksum-Sha256", "AAAA")
	a, err := Open(Options{Dir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	defer a.Close()
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest("PUT", "/bkt", nil))
	f.Fuzz(func(t *testing.T, method, path, query, header, body string) {
		u := &url.URL{Path: path, RawQuery: query}
		if !strings.HasPrefix(path, "/") {
			u.Path = "/" + path
		}
		r, err := http.NewRequest(method, "http://x"+u.EscapedPath(), strings.NewReader(body))
		if err != nil {
			return
		}
		r.URL.RawQuery = query
		if header != "" && !strings.ContainsAny(header, ":\r\n ") {
			r.Header.Set(header, body)
		}
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, r)
		if rec.Code >= 500 && rec.Code != http.StatusNotImplemented {
			t.Fatalf("%s %s?%s: %d %s", method, path, query, rec.Code, rec.Body)
		}
	})
}
