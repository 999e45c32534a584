package sigv4

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
)

// spooledBody is a request body read to its end and hashed: the first
// memBody bytes in memory, the rest in a spool file that Close removes.
type spooledBody struct {
	io.Reader
	file *os.File
}

func (b *spooledBody) Close() error {
	if b.file == nil {
		return nil
	}
	f := b.file
	b.file = nil
	return errors.Join(f.Close(), os.Remove(f.Name()))
}

// spool reads body to its end, at most limit bytes, and returns it with its
// hex SHA-256. Errors are *Error: a body over limit, a read that failed (a
// chunk signature, a client gone) or a spool file that could not be written.
func (v *Verifier) spool(body io.Reader, limit int64) (_ *spooledBody, sum string, err error) {
	h := sha256.New()
	src := io.TeeReader(io.LimitReader(body, limit+1), h)
	mem := make([]byte, 0, 4096)
	buf := bytes.NewBuffer(mem)
	n, err := io.Copy(buf, io.LimitReader(src, memBody))
	if err != nil {
		return nil, "", readFailure(err)
	}
	out := &spooledBody{Reader: bytes.NewReader(buf.Bytes())}
	if n == memBody {
		f, err := os.CreateTemp(v.SpoolDir, "body-*")
		if err != nil {
			return nil, "", fail(http.StatusInternalServerError, CodeInternal, "spool the request body: %v", err)
		}
		out.file = f
		defer func() {
			if err != nil {
				out.Close()
			}
		}()
		m, err := io.Copy(f, src)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				return nil, "", fail(http.StatusInternalServerError, CodeInternal, "spool the request body: %v", err)
			}
			return nil, "", readFailure(err)
		}
		n += m
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, "", fail(http.StatusInternalServerError, CodeInternal, "spool the request body: %v", err)
		}
		out.Reader = io.MultiReader(bytes.NewReader(buf.Bytes()), f)
	}
	if n > limit {
		err = fail(http.StatusRequestEntityTooLarge, CodeEntityTooLarge, "the request body is larger than %d bytes", limit)
		return nil, "", err
	}
	return out, hex.EncodeToString(h.Sum(nil)), nil
}

// readFailure keeps a verification error from the body (a chunk's
// signature) and calls anything else an incomplete body.
func readFailure(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return fail(http.StatusBadRequest, "IncompleteBody", "reading the request body: %v", err)
}
