package conformance

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/odin-deploy/odin/pkg/local/access"
	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/local/server"
	"github.com/odin-deploy/odin/pkg/testpeer/moto"
)

// lambdaQueue stands in for moto's: each call returns the next queued result, and once the
// queue is empty it echoes its input, as moto's stand-in Lambda does.
type lambdaQueue struct {
	mu      sync.Mutex
	results []json.RawMessage
}

func (q *lambdaQueue) invoke(_ context.Context, input json.RawMessage) (json.RawMessage, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.results) == 0 {
		return input, nil
	}
	r := q.results[0]
	q.results = q.results[1:]
	return r, nil
}

// localBackend starts the local backend (the whole server: SigV4, the Step Functions API,
// the engine) with one Lambda function per corpus machine, named after it, that returns the
// machine's queued results. Every machine has its own function, so they run concurrently.
// A nil clock is the real one.
func localBackend(t *testing.T, corpus []machine, clock engine.Clock) *backend {
	t.Helper()
	queues := map[string]*lambdaQueue{}
	for _, m := range corpus {
		queues[m.Name] = &lambdaQueue{results: m.Lambda}
	}
	srv, err := server.New(context.Background(), server.Options{
		DataDir: t.TempDir(),
		Clock:   clock, // nil: the real clock
		Region:  moto.Region,
		Account: moto.Account,
		Functions: func(access.Endpoint) (*engine.Functions, error) {
			fns := engine.NewFunctions()
			for name, q := range queues {
				fns.Register(name, q.invoke)
			}
			return fns, nil
		},
	})
	if err != nil {
		t.Fatalf("start the local backend: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close the local backend: %v", err)
		}
	})
	ep := srv.Endpoint()
	client := sfn.New(sfn.Options{
		Region:       ep.Region,
		BaseEndpoint: aws.String(ep.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(ep.AccessKeyID, ep.SecretAccessKey, ""),
	})
	return &backend{
		name:    "local",
		client:  client,
		prepare: func(machine) (func(), error) { return func() {}, nil },
	}
}
