// This file owns the on-disk form of one record: the frame (marker, length,
// CRC32C) and the payload codec, strict for recovery and lenient for
// reporting what a damaged record still holds.

package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"time"
)

// Record is one event as the spool keeps it: the event once, and the hook
// copies of it that are still pending.
type Record struct {
	// Type is the event type (for example "message.new").
	Type string
	// Body is the event's JSON body, stored byte for byte.
	Body []byte
	// GroupID is the FIFO message group id; empty for standard queues.
	GroupID string
	// DedupID is the FIFO deduplication id; empty when none.
	DedupID string
	// EventID is the event's unique id, kept so a copy sent again after a
	// crash carries the same id.
	EventID string
	// Attributes are the event's message attributes.
	Attributes map[string]string
	// Enqueued is when the event was accepted. Stored with nanosecond
	// precision; the zero time round-trips as the zero time.
	Enqueued time.Time
	// Hooks lists the hook copies (tenant and hook id, as one string each).
	// On Append it is every copy to deliver: non-empty, no empty or repeated
	// id. Records read back hold only the copies still pending.
	Hooks []string
}

// Entry is a record read back from the spool with its sequence number.
type Entry struct {
	Seq    Seq
	Record Record
}

// Seq is a record's sequence number: assigned by Append, increasing in append
// order, never reused while the directory holds a record. Once every record
// is settled and the spool reopened, numbering may start again at 1.
type Seq uint64

// frameMarker opens every frame so recovery can find the next record after
// a damaged one.
const frameMarker uint32 = 0x4c4f5053 // "SPOL" little endian

const (
	frameHeader    = 12 // marker, payload length, CRC32C
	payloadVersion = 1
	// maxFrame bounds the payload length a frame may claim; larger is damage.
	maxFrame = 1 << 28
	// maxHooks bounds the hook copies of one record.
	maxHooks = 1 << 16
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errDecode is wrapped by every payload decoding error.
var errDecode = errors.New("spool: malformed record")

// validate reports the first rule a record to append breaks.
func (r *Record) validate(maxSize int) error {
	if len(r.Hooks) == 0 {
		return fmt.Errorf("%w: Record.Hooks is empty; a record needs at least one pending hook copy", ErrInvalidRecord)
	}
	if len(r.Hooks) > maxHooks {
		return fmt.Errorf("%w: Record.Hooks has %d ids; the most is %d", ErrInvalidRecord, len(r.Hooks), maxHooks)
	}
	var seen map[string]struct{} // only for many hooks; few are compared pairwise
	if len(r.Hooks) > 16 {
		seen = make(map[string]struct{}, len(r.Hooks))
	}
	for i, h := range r.Hooks {
		if h == "" {
			return fmt.Errorf("%w: Record.Hooks[%d] is empty", ErrInvalidRecord, i)
		}
		dup := false
		if seen != nil {
			_, dup = seen[h]
			seen[h] = struct{}{}
		} else {
			dup = slices.Contains(r.Hooks[:i], h)
		}
		if dup {
			return fmt.Errorf("%w: Record.Hooks[%d] %q is repeated", ErrInvalidRecord, i, h)
		}
	}
	if n := r.payloadSize(); n > maxSize {
		return fmt.Errorf("%w: record of %d bytes exceeds Options.MaxRecordSize %d", ErrInvalidRecord, n, maxSize)
	}
	return nil
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

func strLen(s string) int { return uvarintLen(uint64(len(s))) + len(s) }

// payloadSize is the encoded payload's length.
func (r *Record) payloadSize() int {
	n := 1 + 8 + binary.MaxVarintLen64
	n += strLen(r.Type) + strLen(r.GroupID) + strLen(r.DedupID) + strLen(r.EventID)
	n += uvarintLen(uint64(len(r.Attributes)))
	for k, v := range r.Attributes {
		n += strLen(k) + strLen(v)
	}
	n += uvarintLen(uint64(len(r.Hooks)))
	for _, h := range r.Hooks {
		n += strLen(h)
	}
	n += uvarintLen(uint64(len(r.Body))) + len(r.Body)
	return n
}

// appendFrame appends the framed record to dst.
//
// Payload layout: version byte, seq (8 bytes LE), enqueue time (varint Unix
// nanoseconds, 0 for the zero time), type, group id, dedup id, event id
// (uvarint length + bytes each), attribute count and sorted key/value pairs,
// hook count and hook ids, body (uvarint length + bytes).
func appendFrame(dst []byte, seq Seq, r *Record) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, frameMarker)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0) // length and CRC, filled below
	p := len(dst)
	dst = append(dst, payloadVersion)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(seq))
	var ns int64
	if !r.Enqueued.IsZero() {
		ns = r.Enqueued.UnixNano()
	}
	dst = binary.AppendVarint(dst, ns)
	for _, s := range [...]string{r.Type, r.GroupID, r.DedupID, r.EventID} {
		dst = appendString(dst, s)
	}
	dst = binary.AppendUvarint(dst, uint64(len(r.Attributes)))
	keys := make([]string, 0, len(r.Attributes))
	for k := range r.Attributes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		dst = appendString(dst, k)
		dst = appendString(dst, r.Attributes[k])
	}
	dst = binary.AppendUvarint(dst, uint64(len(r.Hooks)))
	for _, h := range r.Hooks {
		dst = appendString(dst, h)
	}
	dst = binary.AppendUvarint(dst, uint64(len(r.Body)))
	dst = append(dst, r.Body...)
	binary.LittleEndian.PutUint32(dst[start+4:], uint32(len(dst)-p))
	binary.LittleEndian.PutUint32(dst[start+8:], frameCRC(dst[start+4:start+8], dst[p:]))
	return dst
}

// frameSeqOffset is where a frame holds its record's seq: after the frame
// header and the payload's version byte.
const frameSeqOffset = frameHeader + 1

// setFrameSeq sets the seq of a frame made by appendFrame and updates its
// CRC, so a record can be encoded before its seq is known.
func setFrameSeq(frame []byte, seq Seq) {
	binary.LittleEndian.PutUint64(frame[frameSeqOffset:], uint64(seq))
	binary.LittleEndian.PutUint32(frame[8:], frameCRC(frame[4:8], frame[frameHeader:]))
}

func frameCRC(length, payload []byte) uint32 {
	return crc32.Update(crc32.Checksum(length, castagnoli), castagnoli, payload)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// frameStatus is what parseFrame found at an offset.
type frameStatus int

const (
	frameOK      frameStatus = iota
	frameShort               // the buffer ends inside the frame
	frameDamaged             // wrong marker, absurd length or CRC mismatch
)

// parseFrame checks the frame at the start of b and returns its payload and
// total length.
func parseFrame(b []byte) (payload []byte, size int, st frameStatus) {
	if len(b) < frameHeader {
		if len(b) >= 4 && binary.LittleEndian.Uint32(b) != frameMarker {
			return nil, 0, frameDamaged
		}
		return nil, 0, frameShort
	}
	if binary.LittleEndian.Uint32(b) != frameMarker {
		return nil, 0, frameDamaged
	}
	n := binary.LittleEndian.Uint32(b[4:])
	if n == 0 || n > maxFrame {
		return nil, 0, frameDamaged
	}
	if uint64(len(b)) < frameHeader+uint64(n) {
		return nil, 0, frameShort
	}
	payload = b[frameHeader : frameHeader+n]
	if frameCRC(b[4:8], payload) != binary.LittleEndian.Uint32(b[8:]) {
		return nil, 0, frameDamaged
	}
	return payload, frameHeader + int(n), frameOK
}

// decodePayload decodes a payload strictly: every field present, nothing
// left over. The record's strings and body do not alias p.
func decodePayload(p []byte) (Seq, Record, error) {
	d := decoder{b: p}
	seq, r := d.record()
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d bytes after the body", len(d.b))
	}
	return seq, r, d.err
}

// decodeIndex decodes what the index needs of a payload (seq and hooks),
// checking every field but copying neither the body nor the other strings.
func decodeIndex(p []byte) (Seq, []string, error) {
	d := decoder{b: p, skip: true}
	seq, r := d.record()
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d bytes after the body", len(d.b))
	}
	return seq, r.Hooks, d.err
}

// decodeLenient decodes as many leading fields of a damaged payload as it
// can; fields after the first bad one stay empty.
func decodeLenient(p []byte) (Seq, Record) {
	d := decoder{b: p}
	return d.record()
}

type decoder struct {
	b    []byte
	err  error
	skip bool // check but do not copy the body and the strings other than hooks
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errDecode, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) record() (Seq, Record) {
	var r Record
	if v := d.byte(); d.err == nil && v != payloadVersion {
		d.fail("version %d, want %d", v, payloadVersion)
	}
	seq := Seq(d.u64())
	if ns := d.varint("enqueue time"); ns != 0 {
		r.Enqueued = time.Unix(0, ns)
	}
	r.Type = d.str("type")
	r.GroupID = d.str("group id")
	r.DedupID = d.str("dedup id")
	r.EventID = d.str("event id")
	if n := d.count("attribute count", 2); n > 0 {
		if !d.skip {
			r.Attributes = make(map[string]string, n)
		}
		for range n {
			k := d.str("attribute name")
			v := d.str("attribute value")
			if d.err != nil || d.skip {
				continue
			}
			r.Attributes[k] = v
		}
	}
	if n := d.count("hook count", 1); n > 0 {
		r.Hooks = make([]string, 0, n)
		skip := d.skip
		d.skip = false
		for range n {
			h := d.str("hook id")
			if d.err != nil {
				break
			}
			r.Hooks = append(r.Hooks, h)
		}
		d.skip = skip
	}
	if n := d.count("body length", 1); d.err == nil {
		if !d.skip {
			r.Body = append([]byte(nil), d.b[:n]...)
		}
		d.b = d.b[n:]
	}
	return seq, r
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail("truncated before version")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) u64() uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail("truncated in seq")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) varint(field string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad %s", field)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length that must leave at least unit bytes per item.
func (d *decoder) count(field string, unit int) int {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad %s", field)
		return 0
	}
	d.b = d.b[n:]
	if v > uint64(len(d.b)/unit) {
		d.fail("%s %d exceeds the %d bytes left", field, v, len(d.b))
		return 0
	}
	return int(v)
}

func (d *decoder) str(field string) string {
	n := d.count(field+" length", 1)
	if d.err != nil {
		return ""
	}
	var s string
	if !d.skip {
		s = string(d.b[:n])
	}
	d.b = d.b[n:]
	return s
}
