package backend

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// ownBody hands net/http a private copy of each request body. aws-sdk-go-v2
// closes its request body as soon as Do returns; with Go 1.26's transport
// that races the connection's write loop, which can then close the connection
// while a large response (a 1,000-event history page) is still being read:
// "failed to decode response body ... use of closed network connection"
// (aws/aws-sdk-go-v2#1825, #2737). odin's request bodies are small (a release
// is at most 1 MiB), so the copy costs little.
type ownBody struct{ c aws.HTTPClient }

func (o ownBody) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		data, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(data))
	}
	return o.c.Do(r)
}

// httpClient is the client every SDK call of a backend goes through.
func httpClient(c aws.HTTPClient, trace io.Writer) aws.HTTPClient {
	if c == nil {
		c = awshttp.NewBuildableClient()
	}
	c = ownBody{c: c}
	if trace != nil {
		c = tracer{c: c, w: trace}
	}
	return c
}

// tracer writes one line per AWS call (--verbose): what, how it ended and
// how long it took. Never headers or bodies: they carry signatures and data.
type tracer struct {
	c aws.HTTPClient
	w io.Writer
}

func (t tracer) Do(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.c.Do(r)
	what := r.Header.Get("X-Amz-Target")
	if what == "" {
		what = r.Method + " " + r.URL.Path
	}
	took := time.Since(start).Round(time.Millisecond)
	if err != nil {
		fmt.Fprintf(t.w, "aws: %s %s: %v (%s)\n", r.URL.Host, what, err, took)
	} else {
		fmt.Fprintf(t.w, "aws: %s %s: %d (%s)\n", r.URL.Host, what, resp.StatusCode, took)
	}
	return resp, err
}
