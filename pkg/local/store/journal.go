package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// A journal record is framed as
//
//	uint32 length of body (little endian) | uint32 CRC-32C of body | body
//
// where body is one kind byte followed by the payload. The checksum lets Open
// tell a record torn by a crash (short or corrupt) from a whole one.
const (
	headerLen    = 8
	maxRecordLen = 8 << 20 // a record carries at most a 1 MiB definition or a 256 KiB payload event
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record kinds.
const (
	kindStateMachine byte = 1 // JSON stateMachineRecord: create
	kindRevision     byte = 2 // JSON revisionRecord: update
	kindDeleteSM     byte = 3 // JSON {"arn"}
	kindExecution    byte = 4 // JSON executionRecord
	kindEvent        byte = 5 // uvarint execution seq | event wire JSON
)

// appendRecord frames kind+payload onto buf.
func appendRecord(buf []byte, kind byte, payload []byte) []byte {
	n := 1 + len(payload)
	var h [headerLen]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(n))
	crc := crc32.Update(0, castagnoli, []byte{kind})
	crc = crc32.Update(crc, castagnoli, payload)
	binary.LittleEndian.PutUint32(h[4:8], crc)
	buf = append(buf, h[:]...)
	buf = append(buf, kind)
	return append(buf, payload...)
}

// ErrCorrupt says a record in the middle of the journal is damaged: not a
// crash's torn tail, which Open drops, but damage Open won't paper over by
// dropping the whole records after it.
var ErrCorrupt = errors.New("journal is corrupt")

// readRecords calls fn for every whole record of f (size bytes) from the
// start and returns the offset just past the last whole one. A damaged
// record that reaches the end of the file, or is followed only by zeros, is
// what a crash mid-write leaves: the scan ends there without error. A damaged
// record followed by data is ErrCorrupt. (A torn record whose zero-filled
// rest hides its length is told from damage by the zeros after it.)
func readRecords(f *os.File, size int64, fn func(kind byte, payload []byte) error) (int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	var h [headerLen]byte
	var body []byte
	// damaged decides about a bad record at off: torn when it reaches the
	// end of the file or only zeros follow zerosFrom.
	damaged := func(end, zerosFromOff int64, what string) (int64, error) {
		if end >= size {
			return off, nil
		}
		if zero, err := zerosFrom(f, zerosFromOff, size); err != nil || zero {
			return off, err
		}
		return off, fmt.Errorf("%w: %s at offset %d, with %d bytes after it", ErrCorrupt, what, off, size-end)
	}
	for {
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return off, nil // clean end, or a torn header
		}
		n := binary.LittleEndian.Uint32(h[0:4])
		end := off + headerLen + int64(n)
		if n == 0 || n > maxRecordLen {
			return damaged(end, off, fmt.Sprintf("record length %d", n))
		}
		if cap(body) < int(n) {
			body = make([]byte, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(r, body); err != nil {
			return off, nil // torn: the file ends inside the record
		}
		if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(h[4:8]) {
			return damaged(end, end, "checksum mismatch")
		}
		// fn may keep payload: give it its own copy.
		payload := append([]byte(nil), body[1:]...)
		if err := fn(body[0], payload); err != nil {
			return off, fmt.Errorf("record at offset %d: %w", off, err)
		}
		off = end
	}
}

// zerosFrom reports whether f holds only zero bytes from off to size, as a
// file system can leave past the last write after a power loss.
func zerosFrom(f *os.File, off, size int64) (bool, error) {
	buf := make([]byte, 64<<10)
	for off < size {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		for _, b := range buf[:n] {
			if b != 0 {
				return false, nil
			}
		}
		off += int64(n)
		if err != nil && off < size {
			return false, err
		}
	}
	return true, nil
}
