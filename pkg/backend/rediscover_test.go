package backend

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/odin-deploy/odin/pkg/config"
	"github.com/odin-deploy/odin/pkg/local/access"
	"github.com/odin-deploy/odin/pkg/local/server"
)

// TestLocalServerMoves: the local server a backend was opened on stops, and
// another serves the same data dir on another port. The backend's next S3,
// Step Functions and STS calls find it (endpoint.json, as a CLI's StartLocal
// does) and succeed; a watching CLI polled the old port forever. When no
// server runs any more, the next call starts one, as the first did.
func TestLocalServerMoves(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	serve := func() *server.Server {
		t.Helper()
		srv, err := server.New(ctx, server.Options{DataDir: dir, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	var current atomic.Pointer[server.Server]
	var finds, starts atomic.Int32
	startLocal := func(ctx context.Context) (access.Endpoint, error) {
		finds.Add(1)
		ep, err := server.Ensure(ctx, dir, func(context.Context) error {
			starts.Add(1)
			current.Store(serve())
			return nil
		})
		return access.Endpoint(ep), err
	}
	first := serve()
	current.Store(first)
	b, err := Open(ctx, Options{Settings: &config.Settings{Backend: Local, StateMachine: "odin-deployer"}, StartLocal: startLocal})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { current.Load().Close() }()
	if _, err := b.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("moves")}); err != nil {
		t.Fatal(err)
	}
	calls := func(when string) {
		t.Helper()
		if _, err := b.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("moves")}); err != nil {
			t.Fatalf("%s: S3: %v", when, err)
		}
		if _, err := b.SFN.ListStateMachines(ctx, &sfn.ListStateMachinesInput{}); err != nil {
			t.Fatalf("%s: Step Functions: %v", when, err)
		}
		if _, err := b.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
			t.Fatalf("%s: STS: %v", when, err)
		}
	}

	// Moved by someone else: stopped, and started again on another port.
	oldURL := first.Endpoint().URL
	first.Close()
	moved := serve()
	for moved.Endpoint().URL == oldURL {
		moved.Close()
		moved = serve()
	}
	current.Store(moved)
	calls("after the server moved")
	if b.local.endpoint().URL != moved.Endpoint().URL || starts.Load() != 0 {
		t.Fatalf("the backend uses %s (%d starts), want the moved server at %s", b.local.endpoint().URL, starts.Load(), moved.Endpoint().URL)
	}
	found := finds.Load()
	calls("again")
	if finds.Load() != found {
		t.Errorf("a call to a server that answers looked for it again (%d, then %d)", found, finds.Load())
	}

	// Gone: the next call starts one, as the CLI's first call did.
	moved.Close()
	calls("after the server stopped")
	if starts.Load() != 1 || !strings.HasPrefix(b.local.endpoint().URL, "http://127.0.0.1:") {
		t.Fatalf("%d servers started, endpoint %s", starts.Load(), b.local.endpoint().URL)
	}
}
