package deployer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/odin-deploy/odin/pkg/contract"
)

// memStorage serves one release and no lock or halt, so any payload can get
// as far as the handler lets it.
type memStorage struct {
	release  []byte
	checksum string // the stored ChecksumSHA256 GetObject reports, if any
}

var errNoSuchKey = &smithy.GenericAPIError{Code: "NoSuchKey", Message: "not found"}

func (m memStorage) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if bytes.HasSuffix([]byte(*in.Key), []byte("/release")) {
		out := &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(m.release))}
		if m.checksum != "" {
			out.ChecksumSHA256 = &m.checksum
		}
		return out, nil
	}
	return nil, errNoSuchKey
}
func (memStorage) PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return &s3.PutObjectOutput{}, nil
}
func (memStorage) HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return nil, errNoSuchKey
}
func (memStorage) DeleteObject(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	return &s3.DeleteObjectOutput{}, nil
}

// FuzzInvoke feeds arbitrary task payloads to the handler: it must answer
// with a state or a typed error, never panic.
func FuzzInvoke(f *testing.F) {
	rel := []byte("project_name: hello\nconfig_name: test\ntarget: local\nservices:\n  web:\n    command: [x]\n    listen: 9999\n")
	in := contract.Input{ReleaseID: "r-1", ProjectName: "hello", ConfigName: "test", Target: "local", AWSAccountID: "123456789012",
		AWSRegion: "us-east-1", Bucket: "b", ReleaseKey: "123456789012/hello/test/r-1/release", ReleaseSHA256: "00",
		DeployedBy: "me", CreatedAt: time.Now().UTC().Format(time.RFC3339), ReleaseDir: "/tmp"}
	state, _ := json.Marshal(in)
	for _, task := range []string{"Validate", "Lock", "ValidateResources", "Deploy", "CheckHealthy", "CleanUpSuccess", "CleanUpFailure", "ReleaseLock"} {
		p, _ := json.Marshal(map[string]any{"Task": task, "Input": json.RawMessage(state), "Execution": "x", "StartTime": "2026-01-01T00:00:00Z"})
		f.Add(p)
	}
	f.Add([]byte(`{"Task":"Validate","Input":{"health":{"services":{"web":null}},"healthy":true}}`))
	f.Add([]byte(`{"Task":"CheckHealthy","Input":{"deadline":"x","started_at":"9999-99-99"}}`))
	f.Add([]byte(`null`))
	p := &fakeProvider{health: &contract.Health{Services: map[string]*contract.ServiceHealth{"web": nil}}}
	h := &Handler{Storage: memStorage{release: rel}, Providers: map[string]Provider{"local": p}, Account: "123456789012", Region: "us-east-1"}
	f.Fuzz(func(t *testing.T, payload []byte) {
		out, err := h.Invoke(context.Background(), payload)
		if err != nil {
			if _, ok := err.(interface{ ErrorType() string }); !ok {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid output %q", out)
		}
	})
}

// BenchmarkValidate measures the Validate task's own work (decode, digest,
// parse and check the release) with storage in memory.
func BenchmarkValidate(b *testing.B) {
	rel := []byte("project_name: hello\nconfig_name: test\ntarget: local\nservices:\n  web:\n    command: [x]\n    listen: 9999\n")
	sum := sha256.Sum256(rel)
	sha := hex.EncodeToString(sum[:])
	id := "r-" + sha[:16]
	in := contract.Input{ReleaseID: id, ProjectName: "hello", ConfigName: "test", Target: "local", AWSAccountID: "123456789012",
		AWSRegion: "us-east-1", Bucket: "b", ReleaseKey: "123456789012/hello/test/" + id + "/release", ReleaseSHA256: sha,
		DeployedBy: "me", CreatedAt: time.Now().UTC().Format(time.RFC3339), ReleaseDir: "/tmp"}
	state, _ := json.Marshal(in)
	payload, _ := json.Marshal(map[string]any{"Task": "Validate", "Input": json.RawMessage(state), "Execution": "x"})
	h := &Handler{Storage: memStorage{release: rel}, Providers: map[string]Provider{"local": &fakeProvider{}}, Account: "123456789012", Region: "us-east-1"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Invoke(context.Background(), payload); err != nil {
			b.Fatal(err)
		}
	}
}
