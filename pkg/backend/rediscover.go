package backend

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
	"github.com/odin-deploy/odin/pkg/local/access"
)

// localServer is where the local backend serves now. The server may move
// while a CLI runs (stopped and started again on another port, because the
// default one was taken): every call resolves the endpoint and credentials
// from here, and a call that cannot connect asks again (endpoint.json, or a
// new server when none runs) so that the SDK's retry reaches the new one.
// A watching CLI polled the old port forever.
type localServer struct {
	find func(ctx context.Context) (access.Endpoint, error)

	mu sync.Mutex
	ep access.Endpoint
}

func (l *localServer) endpoint() access.Endpoint {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ep
}

// rediscover asks where the server is after a call to host could not
// connect; calls failing together ask once.
func (l *localServer) rediscover(ctx context.Context, host string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if u, err := url.Parse(l.ep.URL); err != nil || u.Host != host {
		return // another call already found it elsewhere
	}
	ep, err := l.find(ctx)
	if err != nil {
		return // the retry fails as the call did, with its own error
	}
	l.ep = ep
}

// Retrieve gives the SDK the server's credentials (aws.CredentialsProvider).
func (l *localServer) Retrieve(context.Context) (aws.Credentials, error) {
	ep := l.endpoint()
	return aws.Credentials{AccessKeyID: ep.AccessKeyID, SecretAccessKey: ep.SecretAccessKey, Source: "odin local backend"}, nil
}

// client wraps c: a call that cannot connect to the server makes it
// rediscover the server before the SDK retries.
func (l *localServer) client(c aws.HTTPClient) aws.HTTPClient { return rediscovering{c: c, l: l} }

type rediscovering struct {
	c aws.HTTPClient
	l *localServer
}

func (r rediscovering) Do(req *http.Request) (*http.Response, error) {
	resp, err := r.c.Do(req)
	var op *net.OpError
	if err != nil && errors.As(err, &op) && op.Op == "dial" && req.Context().Err() == nil {
		r.l.rediscover(req.Context(), req.URL.Host)
	}
	return resp, err
}

// resolverFor makes an SDK client's endpoint resolver use the server's
// current URL, keeping the client's own rules for everything else.
func resolverFor[P any](l *localServer, next interface {
	ResolveEndpoint(context.Context, P) (smithyendpoints.Endpoint, error)
}, set func(*P, *string)) *endpointResolver[P] {
	return &endpointResolver[P]{l: l, next: next, set: set}
}

type endpointResolver[P any] struct {
	l    *localServer
	next interface {
		ResolveEndpoint(context.Context, P) (smithyendpoints.Endpoint, error)
	}
	set func(*P, *string)
}

func (r *endpointResolver[P]) ResolveEndpoint(ctx context.Context, p P) (smithyendpoints.Endpoint, error) {
	r.set(&p, aws.String(r.l.endpoint().URL))
	return r.next.ResolveEndpoint(ctx, p)
}
