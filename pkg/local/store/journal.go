package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Files the store keeps start with an 8-byte magic naming the file and its
// format, followed by records framed as
//
//	0xD1 0x4E | uint32 length of body | uint32 CRC-32C of body |
//	uint32 CRC-32C of the 10 bytes before it | body
//
// (little endian) where body is one kind byte followed by the payload. The
// header's own checksum is the length check: a damaged length is known for
// damage, never taken for a record cut short by a crash. The magic bytes
// let a scan find the next whole record after damage.
//
// Journals written before this format (version 1) have no file magic and
// frame records as uint32 length | uint32 CRC-32C of body | body. Open
// reads them and rewrites them in this format.
const (
	headerLen    = 14
	v1HeaderLen  = 8
	recMagic0    = 0xd1
	recMagic1    = 0x4e
	maxRecordLen = 8 << 20 // a record carries at most a 1 MiB definition or a 256 KiB payload event
)

// File magics. As a version 1 record length "ODIN" would be over 1 GiB, so
// no version 1 journal starts with one.
var (
	journalMagic  = []byte("ODINJNL2")
	snapshotMagic = []byte("ODINSNP2")
	historyMagic  = []byte("ODINHST2")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record kinds.
const (
	kindStateMachine byte = 1  // JSON stateMachineRecord: create
	kindRevision     byte = 2  // JSON revisionRecord: update
	kindDeleteSM     byte = 3  // JSON {"arn"}
	kindExecution    byte = 4  // JSON executionRecord
	kindEvent        byte = 5  // uvarint execution seq | event wire JSON
	kindGeneration   byte = 6  // JSON generationRecord: the first record of a journal and a snapshot
	kindSnapshotSM   byte = 7  // JSON snapshotStateMachine, in a snapshot
	kindSummary      byte = 8  // binary summary of a finished execution, in a snapshot
	kindDetails      byte = 9  // JSON details of a finished execution, in the history file
	kindHistory      byte = 10 // uvarint-length-prefixed event wire JSONs, in the history file
)

// appendRecord frames kind+payload onto buf.
func appendRecord(buf []byte, kind byte, payload []byte) []byte {
	n := 1 + len(payload)
	var h [headerLen]byte
	h[0], h[1] = recMagic0, recMagic1
	binary.LittleEndian.PutUint32(h[2:6], uint32(n))
	crc := crc32.Update(0, castagnoli, []byte{kind})
	crc = crc32.Update(crc, castagnoli, payload)
	binary.LittleEndian.PutUint32(h[6:10], crc)
	binary.LittleEndian.PutUint32(h[10:14], crc32.Checksum(h[:10], castagnoli))
	buf = append(buf, h[:]...)
	buf = append(buf, kind)
	return append(buf, payload...)
}

// What is wrong with bytes that do not hold a whole record.
const (
	problemShortHeader = "a record header cut short"
	problemPastEnd     = "a record that runs past the end of the file"
	problemMagic       = "bytes that are not a record header"
	problemHeaderCRC   = "a record header whose checksum does not match (a damaged length)"
	problemLength      = "a record length out of range"
	problemBodyCRC     = "a record body whose checksum does not match"
)

// recordAt decodes the record at off of b: its kind, payload (aliasing b)
// and end, or what is wrong there.
func recordAt(b []byte, off int) (kind byte, payload []byte, end int, problem string) {
	if len(b)-off < headerLen {
		return 0, nil, 0, problemShortHeader
	}
	h := b[off : off+headerLen]
	if h[0] != recMagic0 || h[1] != recMagic1 {
		return 0, nil, 0, problemMagic
	}
	if crc32.Checksum(h[:10], castagnoli) != binary.LittleEndian.Uint32(h[10:14]) {
		return 0, nil, 0, problemHeaderCRC
	}
	n := int(binary.LittleEndian.Uint32(h[2:6]))
	if n == 0 || n > maxRecordLen {
		return 0, nil, 0, problemLength
	}
	end = off + headerLen + n
	if end > len(b) {
		return 0, nil, 0, problemPastEnd
	}
	body := b[off+headerLen : end]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(h[6:10]) {
		return 0, nil, 0, problemBodyCRC
	}
	return body[0], body[1:], end, ""
}

// recordAtV1 decodes a version 1 record.
func recordAtV1(b []byte, off int) (kind byte, payload []byte, end int, problem string) {
	if len(b)-off < v1HeaderLen {
		return 0, nil, 0, problemShortHeader
	}
	n := int(binary.LittleEndian.Uint32(b[off : off+4]))
	if n == 0 || n > maxRecordLen {
		return 0, nil, 0, problemLength
	}
	end = off + v1HeaderLen + n
	if end > len(b) {
		return 0, nil, 0, problemPastEnd
	}
	body := b[off+v1HeaderLen : end]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[off+4:off+8]) {
		return 0, nil, 0, problemBodyCRC
	}
	if body[0] < kindStateMachine || body[0] > kindEvent {
		return 0, nil, 0, "a record of an unknown kind"
	}
	return body[0], body[1:], end, ""
}

// Span is a range of bytes in a file.
type Span struct {
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
	Reason string `json:"reason"`
}

func (s Span) String() string {
	return fmt.Sprintf("%d bytes at offset %d (%s)", s.Length, s.Offset, s.Reason)
}

// scanResult is what a scan found besides the whole records.
type scanResult struct {
	// Damaged are spans that hold no whole record: damage, each followed by
	// whole records or not shaped like a write cut short.
	Damaged []Span
	// Torn is the end of the file holding the start of a record that a
	// crash cut short (Length 0: none).
	Torn Span
	// End is just past the last whole record.
	End int64
}

// scan calls fn for every whole record of b from start on. After bytes that
// hold no record it looks for the next whole record and goes on from
// there, so damage loses only the records it touches. fn's error marks its
// record as damaged too (a record that decodes to nonsense).
func scan(b []byte, start int, v1 bool, fn func(off int, kind byte, payload []byte) error) scanResult {
	at := recordAt
	if v1 {
		at = recordAtV1
	}
	var r scanResult
	r.End = int64(start)
	off := start
	for off < len(b) {
		kind, payload, end, problem := at(b, off)
		if problem == "" {
			if err := fn(off, kind, payload); err != nil {
				r.Damaged = append(r.Damaged, Span{int64(off), int64(end - off), "a record that does not decode: " + err.Error()})
			}
			off = end
			r.End = int64(end)
			continue
		}
		next := resync(b, off+1, v1)
		if next < 0 {
			tail := Span{int64(off), int64(len(b) - off), problem}
			// A crash mid-append leaves a short header, a record whose
			// (checked) length runs past the end, or zeros a file system
			// allocated but never wrote.
			if problem == problemShortHeader || problem == problemPastEnd || allZero(b[off:]) || (!v1 && tornPrefix(b[off:])) {
				r.Torn = tail
			} else {
				r.Damaged = append(r.Damaged, tail)
			}
			return r
		}
		r.Damaged = append(r.Damaged, Span{int64(off), int64(next - off), problem})
		off = next
	}
	return r
}

// resync returns the offset of the first whole record at or after from, or -1.
func resync(b []byte, from int, v1 bool) int {
	if v1 {
		for p := from; p+v1HeaderLen < len(b); p++ {
			if _, _, _, problem := recordAtV1(b, p); problem == "" {
				return p
			}
		}
		return -1
	}
	for p := from; p+headerLen < len(b); {
		i := bytes.IndexByte(b[p:len(b)-headerLen], recMagic0)
		if i < 0 {
			return -1
		}
		p += i
		if _, _, _, problem := recordAt(b, p); problem == "" {
			return p
		}
		p++
	}
	return -1
}

// tornPrefix reports whether b, but for zeros at its end, is the start of
// one record: a header cut short, or a header whose (checked) length covers
// the rest. That is what an append cut short leaves when the file system
// had already grown the file.
func tornPrefix(b []byte) bool {
	n := len(b)
	for n > 0 && b[n-1] == 0 {
		n--
	}
	if n < headerLen {
		return n < 2 || (b[0] == recMagic0 && b[1] == recMagic1)
	}
	h := b[:headerLen]
	if h[0] != recMagic0 || h[1] != recMagic1 || crc32.Checksum(h[:10], castagnoli) != binary.LittleEndian.Uint32(h[10:14]) {
		return false
	}
	// A whole-length record whose checksum fails is damage, not a cut.
	return n < headerLen+int(binary.LittleEndian.Uint32(h[2:6]))
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
