package cmd

import (
	"context"
	"testing"
	"time"

	"github.com/odin-deploy/odin/pkg/iostreams"
)

// The work odin does after package initialisation for its quickest
// commands: building the command tree, resolving settings, running. The
// whole process (with init) is timed by .ci/bench-startup.
func BenchmarkRunVersion(b *testing.B) { benchmarkRun(b, "version") }

func BenchmarkRunValidate(b *testing.B) {
	benchmarkRun(b, "validate", "../examples/aws/release.yml")
}

func benchmarkRun(b *testing.B, args ...string) {
	dir := b.TempDir()
	b.ReportAllocs()
	for b.Loop() {
		io, _, _, _ := iostreams.Test()
		f := &Factory{IO: io, Env: configEnv(dir), Now: time.Now}
		if code := Run(context.Background(), f, args); code != 0 {
			b.Fatalf("odin %v: exit %d", args, code)
		}
	}
}
