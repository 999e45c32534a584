package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := handler("web", "r-0123456789abcdef", "v2")
	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/", 200, "hello from web release r-0123456789abcdef version v2\n"},
		{"GET", "/healthz", 200, "ok\n"},
		{"GET", "/nope", 404, "404 page not found\n"},
		{"POST", "/", 405, "Method Not Allowed\n"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.status || rec.Body.String() != tt.body {
			t.Errorf("%s %s = %d %q, want %d %q", tt.method, tt.path, rec.Code, rec.Body.String(), tt.status, tt.body)
		}
	}
}

func TestCrash(t *testing.T) {
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"--crash"}, func(string) string { return "" }, &stderr)
	if code != 3 || !strings.Contains(stderr.String(), "cannot start") {
		t.Fatalf("run --crash = %d, stderr %q; want 3 and the reason", code, stderr.String())
	}
}

func TestNoPort(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(context.Background(), nil, func(string) string { return "" }, &stderr); code != 2 {
		t.Fatalf("run without PORT = %d, want 2", code)
	}
}

// TestServeStopsCleanly serves on a real socket, then cancels as SIGTERM does.
func TestServeStopsCleanly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, handler("web", "r-1", "v1")) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello from web release r-1 version v1\n" {
		t.Fatalf("body = %q", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve after cancel = %v, want nil", err)
	}
}
