package backend

import (
	"bytes"
	"io"
	"net/http"

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
func httpClient(c aws.HTTPClient) aws.HTTPClient {
	if c == nil {
		c = awshttp.NewBuildableClient()
	}
	return ownBody{c: c}
}
