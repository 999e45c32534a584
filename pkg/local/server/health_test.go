package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/odin-deploy/odin/pkg/local/access"
)

func getHealth(t *testing.T, ep access.Endpoint, secret string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ep.URL+access.HealthPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" {
		req.Header.Set("X-Amz-Content-Sha256", access.EmptySHA256)
		creds := aws.Credentials{AccessKeyID: ep.AccessKeyID, SecretAccessKey: secret}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, access.EmptySHA256, "s3", ep.Region, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("health answer %q: %v", b, err)
	}
	return resp.StatusCode, out
}

// Anyone on the machine can ask the health path: it says the server is up
// and its version, and nothing about the machine (pid, data dir) or the
// instance that proves which server it is. A signed request learns the
// instance, which is how odin checks the server behind endpoint.json.
func TestHealthSaysLittleWithoutASignature(t *testing.T) {
	s := newServer(t, Options{Version: "v1.2.3"})
	ep := s.Endpoint()

	code, h := getHealth(t, ep, "")
	if code != http.StatusOK || len(h) != 2 || h["status"] != "ok" || h["version"] != "v1.2.3" {
		t.Errorf("unsigned: %d %v, want 200 with status and version only", code, h)
	}

	info, err := readRunInfo(s.DataDir())
	if err != nil {
		t.Fatal(err)
	}
	code, h = getHealth(t, ep, ep.SecretAccessKey)
	if code != http.StatusOK || h["instance"] != info.Instance || info.Instance == "" {
		t.Errorf("signed: %d %v, want the instance %q", code, h, info.Instance)
	}
	for k := range h {
		if k != "status" && k != "version" && k != "instance" {
			t.Errorf("signed answer has %q", k)
		}
	}

	if code, h = getHealth(t, ep, "not-the-secret"); code != http.StatusForbidden || h["instance"] != nil {
		t.Errorf("wrong secret: %d %v, want 403 without the instance", code, h)
	}

	// odin local status still finds the server, its pid and endpoint.
	st, err := Probe(context.Background(), s.DataDir())
	if err != nil || !st.Running || st.Pid != os.Getpid() || st.Endpoint.URL != ep.URL || !filepath.IsAbs(st.DataDir) {
		t.Errorf("probe: %+v %v", st, err)
	}
}
