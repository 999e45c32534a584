package stsapi

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestActions(t *testing.T) {
	api := &API{Account: "000000000000", User: "ada"}
	cases := []struct {
		method, body string
		status       int
		want         string
	}{
		{"POST", "Action=GetCallerIdentity&Version=2011-06-15", 200, "<Arn>arn:aws:iam::000000000000:user/ada</Arn>"},
		{"POST", "Action=GetCallerIdentity&Version=2011-06-15", 200, "<Account>000000000000</Account>"},
		{"POST", "Action=AssumeRole&RoleArn=x", 400, "<Code>InvalidAction</Code>"},
		{"POST", "Action=%zz", 400, "<Code>MalformedQueryString</Code>"},
		{"GET", "", 400, "POST only"},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, httptest.NewRequest(c.method, "/", strings.NewReader(c.body)))
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("%s %q: %d %s; want %d with %q", c.method, c.body, rec.Code, rec.Body, c.status, c.want)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "text/xml" {
			t.Errorf("content type %q", ct)
		}
	}
}
