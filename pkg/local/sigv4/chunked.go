package sigv4

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// maxChunk bounds one chunk of a signed streaming body, so a forged size
// cannot make the server allocate without limit.
const maxChunk = 16 << 20

var emptySHA256 = func() string { s := sha256.Sum256(nil); return hex.EncodeToString(s[:]) }()

// decodeStreaming replaces r.Body with the decoded payload of a
// STREAMING-AWS4-HMAC-SHA256-PAYLOAD body, verifying each chunk's signature
// (each chains on the previous one, starting from the header's).
func (v *Verifier) decodeStreaming(r *http.Request, key []byte, amzDate, scope, seed string) error {
	decoded := r.Header.Get("X-Amz-Decoded-Content-Length")
	n, err := strconv.ParseInt(decoded, 10, 64)
	if err != nil || n < 0 {
		return fail(http.StatusBadRequest, "MissingContentLength", "a streaming signed body needs x-amz-decoded-content-length, got %q", decoded)
	}
	r.Body = &chunkedBody{
		src: bufio.NewReader(r.Body), closer: r.Body,
		key: key, amzDate: amzDate, scope: scope, prev: strings.ToLower(seed), remaining: n,
	}
	r.ContentLength = n
	r.Header.Set("Content-Length", strconv.FormatInt(n, 10))
	// aws-chunked describes the wire framing we just removed; any other
	// content coding stays.
	var enc []string
	for _, e := range strings.Split(r.Header.Get("Content-Encoding"), ",") {
		if e = strings.TrimSpace(e); e != "" && e != "aws-chunked" {
			enc = append(enc, e)
		}
	}
	if len(enc) == 0 {
		r.Header.Del("Content-Encoding")
	} else {
		r.Header.Set("Content-Encoding", strings.Join(enc, ","))
	}
	return nil
}

type chunkedBody struct {
	src       *bufio.Reader
	closer    io.Closer
	key       []byte
	amzDate   string
	scope     string
	prev      string
	chunk     []byte // verified data not yet read
	remaining int64  // decoded bytes still expected
	eof       bool
	err       error
}

func (c *chunkedBody) Read(p []byte) (int, error) {
	for len(c.chunk) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		if c.eof {
			return 0, io.EOF
		}
		c.err = c.next()
	}
	n := copy(p, c.chunk)
	c.chunk = c.chunk[n:]
	return n, nil
}

func (c *chunkedBody) Close() error { return c.closer.Close() }

func malformedChunk(format string, args ...any) error {
	return fail(http.StatusBadRequest, "IncompleteBody", "streaming body: "+format, args...)
}

func (c *chunkedBody) next() error {
	line, err := c.src.ReadString('\n')
	if err != nil {
		return malformedChunk("reading a chunk header: %v", err)
	}
	line = strings.TrimRight(line, "\r\n")
	sizeHex, ext, ok := strings.Cut(line, ";")
	sig, ok2 := strings.CutPrefix(ext, "chunk-signature=")
	if !ok || !ok2 || len(sig) != 64 {
		return malformedChunk("chunk header %q is not SIZE;chunk-signature=SIG", truncate(line))
	}
	size, err := strconv.ParseInt(sizeHex, 16, 64)
	if err != nil || size < 0 || size > maxChunk {
		return malformedChunk("chunk size %q is not a hex number up to %d", truncate(sizeHex), maxChunk)
	}
	if size > c.remaining {
		return malformedChunk("chunks carry more than x-amz-decoded-content-length bytes")
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(c.src, data); err != nil {
		return malformedChunk("reading %d bytes of chunk data: %v", size, err)
	}
	crlf := make([]byte, 2)
	if _, err := io.ReadFull(c.src, crlf); err != nil || string(crlf) != "\r\n" {
		return malformedChunk("chunk data is not followed by CRLF")
	}
	sum := sha256.Sum256(data)
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + c.amzDate + "\n" + c.scope + "\n" + c.prev + "\n" + emptySHA256 + "\n" + hex.EncodeToString(sum[:])
	want := hex.EncodeToString(hmacSHA256(c.key, sts))
	if !hashEqual(want, sig) {
		return fail(http.StatusForbidden, CodeSignatureDoesNotMatch, "a chunk signature of the streaming body does not match")
	}
	c.prev = want
	c.remaining -= size
	if size == 0 {
		if c.remaining != 0 {
			return malformedChunk("the body ended %d bytes short of x-amz-decoded-content-length", c.remaining)
		}
		c.eof = true
		return nil
	}
	c.chunk = data
	return nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// String keeps a verifier's secret out of logs and %v.
func (v *Verifier) String() string {
	return fmt.Sprintf("sigv4.Verifier{AccessKeyID: %s}", v.AccessKeyID)
}
