package release

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func BenchmarkParseAWSExample(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "examples/aws/release.yml"))
	if err != nil {
		b.Fatal(err)
	}
	benchParse(b, data)
}

func BenchmarkParseHelloExample(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "examples/hello/release.yml"))
	if err != nil {
		b.Fatal(err)
	}
	benchParse(b, data)
}

func BenchmarkParse500Services(b *testing.B) {
	benchParse(b, manyServices(500))
}

func BenchmarkParseBrokenExample(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "examples/broken/release.yml"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("r.yml", data); err == nil {
			b.Fatal("broken example validated")
		}
	}
}

func benchParse(b *testing.B, data []byte) {
	if _, err := Parse("r.yml", data); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("r.yml", data); err != nil {
			b.Fatal(err)
		}
	}
}

// manyServices is a valid local release with n services, each using most
// local fields.
func manyServices(n int) []byte {
	var sb strings.Builder
	sb.WriteString("project_name: big\nconfig_name: load\ntarget: local\ntimeout: 3600\nservices:\n")
	for i := range n {
		fmt.Fprintf(&sb, `  svc-%d:
    command: ["./bin/svc", "--id", "%d"]
    working_dir: ./svc
    env:
      VERSION: v1
      SHARD: "%d"
    instances: 2
    listen: %d
    health_check:
      path: /healthz
      interval: 2
      grace_period: 60
`, i, i, i, 10000+i)
	}
	return []byte(sb.String())
}

func TestManyServicesValidates(t *testing.T) {
	f, err := Parse("r.yml", manyServices(500))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Release.Services) != 500 {
		t.Fatalf("%d services", len(f.Release.Services))
	}
}

// BenchmarkCompileSchema is the one-time cost the first Parse of a process
// pays (odin validate as a whole process pays it once).
func BenchmarkCompileSchema(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := compileSchema(); err != nil {
			b.Fatal(err)
		}
	}
}
