package sfnapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// tokenTTL is how long a nextToken is good for, as on AWS.
const tokenTTL = 24 * time.Hour

// tokens makes and checks the opaque nextTokens of the paged operations. A
// token carries the position to go on from, when it was issued and a hash of
// the call's other arguments, and is signed with a key kept in the data
// directory, so tokens outlive a restart but can't be forged or reused with
// other arguments.
type tokens struct {
	key []byte
	now func() time.Time
}

const tokenVersion = 1

// loadTokenKey reads the signing key, creating it (0600) on first use.
func loadTokenKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, "token.key")
	key, err := os.ReadFile(path)
	if err == nil && len(key) == 32 {
		// It signs tokens: private whatever mode it was left with.
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("restrict the token key to mode 0600: %w", err)
		}
		return key, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read token key: %w", err)
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	_ = os.Remove(tmp) // a leftover would keep its mode
	if err := os.WriteFile(tmp, key, 0o600); err != nil {
		return nil, fmt.Errorf("write token key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("write token key: %w", err)
	}
	return key, nil
}

// argsHash identifies the arguments a token belongs to.
func argsHash(args ...string) uint64 {
	h := fnv.New64a()
	for _, a := range args {
		h.Write([]byte(a))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

func (t *tokens) mac(b []byte) []byte {
	m := hmac.New(sha256.New, t.key)
	m.Write(b)
	return m.Sum(nil)[:16]
}

// encode makes a token for position pos of the call with args.
func (t *tokens) encode(pos int64, args ...string) string {
	b := make([]byte, 0, 25+16)
	b = append(b, tokenVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(t.now().Unix()))
	b = binary.BigEndian.AppendUint64(b, uint64(pos))
	b = binary.BigEndian.AppendUint64(b, argsHash(args...))
	b = append(b, t.mac(b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decode returns a token's position, or InvalidToken when it is malformed,
// forged, expired or was issued for other arguments.
func (t *tokens) decode(tok string, args ...string) (int64, *apiError) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != 25+16 || b[0] != tokenVersion {
		return 0, invalidToken("Invalid token")
	}
	if !hmac.Equal(t.mac(b[:25]), b[25:]) {
		return 0, invalidToken("Invalid token")
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b[1:9])), 0)
	if t.now().Sub(issued) > tokenTTL {
		return 0, invalidToken("Invalid token: the token has expired")
	}
	if binary.BigEndian.Uint64(b[17:25]) != argsHash(args...) {
		return 0, invalidToken("Invalid token: the arguments changed since the token was issued")
	}
	return int64(binary.BigEndian.Uint64(b[9:17])), nil
}
