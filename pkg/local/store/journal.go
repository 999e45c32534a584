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

// errTorn marks the end of the usable journal: what follows is a torn or
// corrupt record and is dropped.
var errTorn = errors.New("torn record")

// readRecords calls fn for every whole record of f from the start and returns
// the offset just past the last whole one. A torn or corrupt record ends the
// scan without error: it is what a crash mid-write leaves.
func readRecords(f *os.File, fn func(kind byte, payload []byte) error) (int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	var h [headerLen]byte
	var body []byte
	for {
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return off, nil // clean end, or a torn header
		}
		n := binary.LittleEndian.Uint32(h[0:4])
		if n == 0 || n > maxRecordLen {
			return off, nil
		}
		if cap(body) < int(n) {
			body = make([]byte, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(r, body); err != nil {
			return off, nil
		}
		if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(h[4:8]) {
			return off, nil
		}
		// fn may keep payload: give it its own copy.
		payload := append([]byte(nil), body[1:]...)
		if err := fn(body[0], payload); err != nil {
			return off, fmt.Errorf("record at offset %d: %w", off, err)
		}
		off += headerLen + int64(n)
	}
}
