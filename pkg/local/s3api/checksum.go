package s3api

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"net/http"
	"strings"
)

// checksumAlgorithm is one of S3's flexible checksums that the local backend
// verifies. Names are S3's, lower case as in the x-amz-checksum-<name> header.
type checksumAlgorithm struct {
	name string
	size int // digest bytes
	new  func() hash.Hash
}

// crc64NVME is CRC-64/NVME in reflected form (poly 0xad93d23594c93659), with
// the all-ones init and final xor that hash/crc64 applies.
var crc64NVME = crc64.MakeTable(0x9a6c9329ac4bc9b5)

var checksumAlgorithms = []checksumAlgorithm{
	{"crc32", 4, func() hash.Hash { return crc32.NewIEEE() }},
	{"crc32c", 4, func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) }},
	{"crc64nvme", 8, func() hash.Hash { return crc64.New(crc64NVME) }},
	{"sha1", 20, sha1.New},
	{"sha256", 32, sha256.New},
}

func algorithmByName(name string) (checksumAlgorithm, bool) {
	for _, a := range checksumAlgorithms {
		if a.name == name {
			return a, true
		}
	}
	return checksumAlgorithm{}, false
}

// wantedChecksums reads the checksums a PutObject asks us to verify: every
// x-amz-checksum-<alg> header, base64 of the right length. The SDK's
// x-amz-sdk-checksum-algorithm must name one that is present (over plain HTTP
// the SDK always sends the value as a header, never as a trailer).
func wantedChecksums(h http.Header) (map[string]string, *Error) {
	want := map[string]string{}
	for _, a := range checksumAlgorithms {
		v := h.Get("X-Amz-Checksum-" + a.name)
		if v == "" {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(raw) != a.size {
			return nil, errInvalidRequest("Value for x-amz-checksum-" + a.name + " header is invalid.")
		}
		want[a.name] = v
	}
	if alg := strings.ToLower(h.Get("X-Amz-Sdk-Checksum-Algorithm")); alg != "" {
		if _, ok := algorithmByName(alg); !ok {
			return nil, errInvalidRequest("Checksum algorithm " + alg + " is not supported by the local backend (CRC32, CRC32C, CRC64NVME, SHA1, SHA256).")
		}
		if _, ok := want[alg]; !ok && h.Get("X-Amz-Trailer") == "" {
			return nil, errInvalidRequest("x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.")
		}
	}
	if h.Get("X-Amz-Trailer") != "" {
		return nil, errNotImplemented("Trailing checksums (x-amz-trailer) are not supported by the local backend; it is served over plain HTTP, where SDKs send checksums as headers.")
	}
	return want, nil
}

// digester hashes an upload once for its ETag (MD5) and every checksum it
// carries or that we store for it.
type digester struct {
	md5    hash.Hash
	sums   map[string]hash.Hash
	writer []hash.Hash
	size   int64
}

func newDigester(algs map[string]string) *digester {
	d := &digester{md5: md5.New(), sums: map[string]hash.Hash{}}
	d.writer = append(d.writer, d.md5)
	for name := range algs {
		a, _ := algorithmByName(name)
		h := a.new()
		d.sums[name] = h
		d.writer = append(d.writer, h)
	}
	return d
}

func (d *digester) Write(p []byte) (int, error) {
	for _, h := range d.writer {
		h.Write(p)
	}
	d.size += int64(len(p))
	return len(p), nil
}

func (d *digester) checksum(name string) string {
	return base64.StdEncoding.EncodeToString(d.sums[name].Sum(nil))
}
