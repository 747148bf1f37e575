// sizeguard.go applies SQS's message rules before an event is queued: body
// encoding and size, characters SQS refuses, attributes and FIFO fields; and
// DecodeBody for consumers.

package sqshook

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Encoding is how an event body is written into an SQS message body. The
// zero value ("") means EncodingRaw.
type Encoding string

// The body encodings. DecodeBody reads all three.
const (
	// EncodingRaw sends the event JSON as it is, after escaping characters
	// SQS refuses inside JSON strings (see RepairJSON). It is the default.
	EncodingRaw Encoding = "raw"
	// EncodingBase64 sends the event JSON in standard base64 (RFC 4648,
	// padded). The body grows by a third.
	EncodingBase64 Encoding = "base64"
	// EncodingGzip gzips the event JSON, then writes it in standard base64.
	// Chat JSON usually shrinks by 70-90%, so events too large raw may fit.
	EncodingGzip Encoding = "gzip"
)

// Valid reports whether e is a known encoding; "" counts as raw.
func (e Encoding) Valid() bool {
	switch e {
	case "", EncodingRaw, EncodingBase64, EncodingGzip:
		return true
	}
	return false
}

// SQS message limits, and the cap DecodeBody applies.
const (
	// DefaultMaxMessageBytes is the per-message limit sqshook applies by
	// default: 256 KiB, the historical SQS maximum and a common queue
	// setting for MaximumMessageSize.
	DefaultMaxMessageBytes = 256 * 1024
	// MaxMessageBytesLimit is the largest message SQS accepts (1 MiB).
	MaxMessageBytesLimit = 1024 * 1024
	// MaxMessageAttributes is the most message attributes SQS allows on one
	// message.
	MaxMessageAttributes = 10
	// MaxFIFOFieldLen is the longest MessageGroupId or
	// MessageDeduplicationId SQS accepts, in characters.
	MaxFIFOFieldLen = 128
	// DefaultMaxDecodedBytes is the largest event DecodeBody returns: it
	// bounds what a gzip body may inflate to (16 MiB).
	DefaultMaxDecodedBytes = 16 << 20
)

// maxAttributeNameLen bounds attribute names and data types.
const maxAttributeNameLen = 256

// SizeGuard holds a hook's message rules: the body encoding and the
// per-message size limit. The zero value means raw encoding and
// DefaultMaxMessageBytes. A SizeGuard is a read-only value: its methods are
// safe for concurrent use.
type SizeGuard struct {
	// MaxMessageBytes is the per-message limit, counting the encoded body
	// and the message attributes. 0 means DefaultMaxMessageBytes; at most
	// MaxMessageBytesLimit.
	MaxMessageBytes int
	// Encoding is the body encoding; "" means EncodingRaw.
	Encoding Encoding
}

// Validate reports every bad field of g, naming the field and the rule, as
// in "max_message_bytes: 2000000 exceeds the SQS limit of 1048576".
func (g SizeGuard) Validate() error {
	var errs []error
	switch {
	case g.MaxMessageBytes < 0:
		errs = append(errs, fmt.Errorf("max_message_bytes: %d is negative; want 1..%d, or 0 for the default %d", g.MaxMessageBytes, MaxMessageBytesLimit, DefaultMaxMessageBytes))
	case g.MaxMessageBytes > MaxMessageBytesLimit:
		errs = append(errs, fmt.Errorf("max_message_bytes: %d exceeds the SQS limit of %d", g.MaxMessageBytes, MaxMessageBytesLimit))
	}
	if !g.Encoding.Valid() {
		errs = append(errs, fmt.Errorf("body_encoding: unknown encoding %q; want raw, base64 or gzip", g.Encoding))
	}
	return errors.Join(errs...)
}

// Limit returns the per-message limit in force: MaxMessageBytes, or
// DefaultMaxMessageBytes when it is 0.
func (g SizeGuard) Limit() int {
	if g.MaxMessageBytes == 0 {
		return DefaultMaxMessageBytes
	}
	return g.MaxMessageBytes
}

// Prepare turns an event body into the SQS message body to send. It checks
// attrs (see CheckAttributes), encodes body — for raw encoding, escaping
// characters SQS refuses inside JSON strings (see RepairJSON); base64 and
// gzip output is always legal — and checks the whole message, encoded body
// plus attributes (see MessageSize), against the limit.
//
// Failures are *GuardError values: ReasonTooLarge with Field "message" and
// Bytes and Max set; ReasonInvalidContents with Field "body"; or
// ReasonInvalidField with Field "MessageAttributes[name]" (or
// "MessageAttributes" for too many attributes). If g itself is invalid (see
// Validate) the error is that of Validate.
//
// For raw encoding, a body that needs no repair is not copied: the returned
// string shares body's memory, so body must not be modified while the string
// is in use (Event.Body has the same rule). Prepare does not check that the
// body is valid JSON unless it has to repair it.
func (g SizeGuard) Prepare(body []byte, attrs map[string]types.MessageAttributeValue) (string, error) {
	if g.MaxMessageBytes < 0 || g.MaxMessageBytes > MaxMessageBytesLimit || !g.Encoding.Valid() {
		return "", g.Validate()
	}
	if err := CheckAttributes(attrs); err != nil {
		return "", err
	}
	enc, err := g.encode(body, MessageSize("", attrs))
	if err != nil {
		return "", err
	}
	if size, limit := MessageSize(enc, attrs), g.Limit(); size > limit {
		return "", &GuardError{Reason: ReasonTooLarge, Field: "message", Bytes: size, Max: limit}
	}
	return enc, nil
}

// raw reports whether the guard sends bodies as they are (repaired).
func (g SizeGuard) raw() bool { return g.Encoding == "" || g.Encoding == EncodingRaw }

// maxDeflateRatio bounds how far deflate can shrink its input: one
// 258-byte match costs at least one bit, so no input shrinks below 1/2064
// of its size (the ratio zlib documents is 1032:1; this bound is safer).
const maxDeflateRatio = 2064

// gzipOverhead is the fixed part of a gzip stream: a 10-byte header and an
// 8-byte trailer.
const gzipOverhead = 18

// minEncodedLen returns a lower bound of the length of a body of n bytes
// once encoded, computed without looking at it: raw repair only ever adds
// escapes (a body grows at most sixfold, never shrinks), base64 writes 4
// bytes for every 3, and gzip output is at least n/maxDeflateRatio bytes
// plus its header and trailer, then in base64.
func (g SizeGuard) minEncodedLen(n int) int {
	switch g.Encoding {
	case EncodingBase64:
		return base64.StdEncoding.EncodedLen(n)
	case EncodingGzip:
		return base64.StdEncoding.EncodedLen(n/maxDeflateRatio + gzipOverhead)
	}
	return n
}

// encode returns the SQS body for body in g's encoding; attrBytes is what
// the message's attributes count toward its size. A body that cannot fit
// whatever its contents is refused (ReasonTooLarge, Bytes the lower bound
// of the message size) before it is encoded, and gzip stops compressing
// once its output is past the limit, so an oversized event costs neither
// the memory nor the time of its encoding. The size of a body that is
// encoded is checked by the caller. A raw body that needs no repair is
// returned without copying.
func (g SizeGuard) encode(body []byte, attrBytes int) (string, error) {
	limit := g.Limit()
	if min := g.minEncodedLen(len(body)) + attrBytes; min > limit {
		return "", &GuardError{Reason: ReasonTooLarge, Field: "message", Bytes: min, Max: limit}
	}
	switch g.Encoding {
	case "", EncodingRaw:
		b, err := RepairJSON(body)
		if err != nil {
			return "", err
		}
		return bytesToString(b), nil
	case EncodingBase64:
		return base64String(body), nil
	case EncodingGzip:
		// Compressed bytes beyond maxOut make a base64 body past the limit.
		maxOut := (limit-attrBytes)/4*3 + 3
		out, n, err := gzipBase64(body, maxOut)
		if err == errGzipTooLarge {
			return "", &GuardError{Reason: ReasonTooLarge, Field: "message", Bytes: base64.StdEncoding.EncodedLen(n) + attrBytes, Max: limit}
		}
		return out, err
	}
	return "", &GuardError{Reason: ReasonInvalidField, Field: "body_encoding", Detail: fmt.Sprintf("unknown encoding %q", g.Encoding)}
}

// base64String returns body in standard base64 with a single allocation.
func base64String(body []byte) string {
	out := make([]byte, base64.StdEncoding.EncodedLen(len(body)))
	base64.StdEncoding.Encode(out, body)
	return bytesToString(out)
}

// gzipLevel is the compression level of EncodingGzip: the flate default,
// a good ratio on JSON at a moderate cost.
const gzipLevel = gzip.DefaultCompression

// maxPooledBuffer bounds the buffers kept for reuse, so that one huge body
// does not pin its buffer.
const maxPooledBuffer = MaxMessageBytesLimit + 64<<10

var (
	gzipWriters = sync.Pool{New: func() any {
		w, err := gzip.NewWriterLevel(io.Discard, gzipLevel)
		if err != nil {
			panic(err) // gzipLevel is a valid constant
		}
		return w
	}}
	gzipBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

// errGzipTooLarge stops gzipBase64 when its output passes its cap.
var errGzipTooLarge = errors.New("sqshook: compressed body past the limit")

// gzipChunk is how much of a body gzipBase64 compresses between looks at
// the size of its output.
const gzipChunk = 64 << 10

// gzipBase64 compresses body and returns it in standard base64. The output
// depends only on body: the gzip header carries no name, comment or time.
// When the compressed output passes maxOut bytes (checked after every
// gzipChunk of input), it stops with errGzipTooLarge and n, the compressed
// bytes so far; maxOut <= 0 means no cap.
func gzipBase64(body []byte, maxOut int) (out string, n int, err error) {
	buf := gzipBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	w := gzipWriters.Get().(*gzip.Writer)
	w.Reset(buf) // also clears the header: no name, no modification time
	for rest := body; len(rest) > 0 && err == nil; {
		c := rest[:min(len(rest), gzipChunk)]
		rest = rest[len(c):]
		_, err = w.Write(c)
		if maxOut > 0 && buf.Len() > maxOut {
			err = errGzipTooLarge
		}
	}
	if cerr := w.Close(); err == nil {
		err = cerr
		if maxOut > 0 && buf.Len() > maxOut {
			err = errGzipTooLarge
		}
	}
	n = buf.Len()
	if err == nil {
		out = base64String(buf.Bytes())
	}
	if buf.Cap() <= maxPooledBuffer {
		gzipBuffers.Put(buf)
	} else {
		// Let the large buffer go. Resetting a writer clears its hash
		// tables, which costs as much as compressing a small body, so it is
		// otherwise left pointing at the buffer until its next use.
		w.Reset(io.Discard)
	}
	gzipWriters.Put(w)
	return out, n, err
}

// MessageSize returns the size SQS counts for a message: the body's bytes
// plus, for each attribute, the bytes of its name, its data type and its
// value (StringValue and BinaryValue). It is safe for concurrent use.
func MessageSize(body string, attrs map[string]types.MessageAttributeValue) int {
	n := len(body)
	for name, v := range attrs {
		n += len(name) + len(derefString(v.DataType)) + len(v.BinaryValue)
		if v.StringValue != nil {
			n += len(*v.StringValue)
		}
	}
	return n
}

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Masks for the eight-bytes-at-a-time ASCII scan.
const (
	highBits  = 0x8080808080808080 // the top bit of each byte
	spaceByte = 0x2020202020202020 // 0x20 in each byte
)

// firstIllegal returns the offset of the first byte sequence SQS refuses in
// a message body — a character outside #x9 #xA #xD #x20-#xD7FF
// #xE000-#xFFFD #x10000-#x10FFFF, or invalid UTF-8 — or -1 if there is none.
//
// It checks eight bytes at a time while they are printable ASCII, and
// validates other bytes with a table-free UTF-8 decoder that also refuses
// surrogates and U+FFFE/U+FFFF.
func firstIllegal(b []byte) int {
	n := len(b)
	i := 0
	for i < n {
		for ; i <= n-8; i += 8 {
			w := binary.LittleEndian.Uint64(b[i : i+8])
			// A byte has its top bit set, or is below 0x20 (the subtraction
			// borrows into the top bit of such a byte only).
			if (w|(w-spaceByte)&^w)&highBits != 0 {
				break
			}
		}
		if i >= n {
			break
		}
		c := b[i]
		switch {
		case c < utf8.RuneSelf:
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return i
			}
			i++
		case 0xC2 <= c && c < 0xE0 && i+1 < n && b[i+1]&0xC0 == 0x80:
			i += 2 // U+0080-U+07FF, all legal
		case 0xE0 < c && c < 0xED && i+2 < n && b[i+1]&0xC0 == 0x80 && b[i+2]&0xC0 == 0x80:
			i += 3 // U+1000-U+CFFF, all legal
		default:
			size := legalSeqLen(b[i:])
			if size == 0 {
				return i
			}
			i += size
		}
	}
	return -1
}

// legalSeqLen returns the length of the UTF-8 sequence at the start of b,
// whose first byte is not ASCII, if it encodes a character SQS accepts, or 0
// if it is invalid UTF-8 (including encoded surrogates) or U+FFFE/U+FFFF.
func legalSeqLen(b []byte) int {
	c0 := b[0]
	switch {
	case c0 < 0xC2: // continuation byte or overlong two-byte form
		return 0
	case c0 < 0xE0: // U+0080-U+07FF
		if len(b) < 2 || b[1]&0xC0 != 0x80 {
			return 0
		}
		return 2
	case c0 < 0xF0: // U+0800-U+FFFF
		if len(b) < 3 {
			return 0
		}
		c1, c2 := b[1], b[2]
		lo, hi := byte(0x80), byte(0xBF)
		switch c0 {
		case 0xE0:
			lo = 0xA0 // no overlong forms
		case 0xED:
			hi = 0x9F // no surrogates
		}
		if c1 < lo || c1 > hi || c2&0xC0 != 0x80 {
			return 0
		}
		if c0 == 0xEF && c1 == 0xBF && c2 >= 0xBE { // U+FFFE, U+FFFF
			return 0
		}
		return 3
	case c0 < 0xF5: // U+10000-U+10FFFF
		if len(b) < 4 {
			return 0
		}
		c1 := b[1]
		lo, hi := byte(0x80), byte(0xBF)
		switch c0 {
		case 0xF0:
			lo = 0x90 // no overlong forms
		case 0xF4:
			hi = 0x8F // nothing past U+10FFFF
		}
		if c1 < lo || c1 > hi || b[2]&0xC0 != 0x80 || b[3]&0xC0 != 0x80 {
			return 0
		}
		return 4
	}
	return 0
}

// CheckBody applies SQS's legal-character rule to a raw message body: only
// #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF, in valid UTF-8.
// The error is a *GuardError with ReasonInvalidContents, Field "body" and
// the byte offset of the first offending byte in Detail. It is safe for
// concurrent use.
func CheckBody(body []byte) error {
	i := firstIllegal(body)
	if i < 0 {
		return nil
	}
	return &GuardError{Reason: ReasonInvalidContents, Field: "body", Detail: illegalDetail(body, i, "")}
}

// illegalDetail describes the illegal sequence at body[i].
func illegalDetail(body []byte, i int, where string) string {
	r, size := utf8.DecodeRune(body[i:])
	if r == utf8.RuneError && size <= 1 {
		return fmt.Sprintf("invalid UTF-8 (byte 0x%02X) at byte %d%s", body[i], i, where)
	}
	return fmt.Sprintf("character %U that SQS does not accept at byte %d%s", r, i, where)
}

// RepairJSON makes a JSON body legal for SQS without changing its value.
//
// An already legal body is returned as is: the same slice, not a copy, after
// a single scan, and without checking that it is valid JSON. Otherwise
// RepairJSON returns a repaired copy in which the characters SQS refuses
// inside JSON strings (object keys included) — C0 control characters, U+FFFE
// and U+FFFF — are written as escapes (\u0001, \ufffe, …). While repairing,
// raw tabs, line feeds and carriage returns inside strings are escaped too
// (\t, \n, \r), so that the copy is strict JSON; the copy is then checked
// with json.Valid.
//
// String boundaries are found with a small state machine (quotes and
// backslash escapes), so the body need not be parsed beforehand. Invalid
// UTF-8 anywhere, an illegal character outside a string or right after a
// backslash, or a body that is not valid JSON once repaired, cannot be
// repaired: the error is then a *GuardError with ReasonInvalidContents,
// Field "body" and the byte offset in Detail. Invalid UTF-8 is never
// replaced, since that would change the value.
//
// RepairJSON is safe for concurrent use; it never modifies body.
func RepairJSON(body []byte) ([]byte, error) {
	first := firstIllegal(body)
	if first < 0 {
		return body, nil
	}
	return repairJSON(body, first)
}

// repairJSON is RepairJSON's slow path; first is the offset of the first
// illegal byte.
func repairJSON(body []byte, first int) ([]byte, error) {
	invalid := func(i int, where string) error {
		return &GuardError{Reason: ReasonInvalidContents, Field: "body", Detail: illegalDetail(body, i, where)}
	}
	out := make([]byte, 0, len(body)+len(body)/16+8)
	inString, escaped := false, false
	done := 0 // body[:done] has been written to out
	for i := 0; i < len(body); {
		c := body[i]
		if c >= 0x20 && c < utf8.RuneSelf {
			switch {
			case !inString:
				inString = c == '"'
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			i++
			continue
		}
		var r rune
		size := 1
		if c < utf8.RuneSelf { // a C0 control character
			if !inString && (c == '\t' || c == '\n' || c == '\r') {
				i++ // JSON whitespace
				continue
			}
			r = rune(c)
		} else {
			if n := legalSeqLen(body[i:]); n > 0 {
				escaped = false
				i += n
				continue
			}
			r, size = utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && size <= 1 {
				return nil, invalid(i, "")
			}
			// r is U+FFFE or U+FFFF: surrogates do not decode.
		}
		switch {
		case !inString:
			return nil, invalid(i, ", outside a JSON string")
		case escaped:
			return nil, invalid(i, ", after a backslash in a JSON string")
		}
		out = append(out, body[done:i]...)
		out = appendJSONEscape(out, r)
		i += size
		done = i
	}
	out = append(out, body[done:]...)
	if !json.Valid(out) {
		return nil, &GuardError{Reason: ReasonInvalidContents, Field: "body", Detail: illegalDetail(body, first, ", and the body is not valid JSON, so it cannot be escaped")}
	}
	return out, nil
}

// appendJSONEscape appends the JSON escape of r, a character below U+10000.
func appendJSONEscape(out []byte, r rune) []byte {
	switch r {
	case '\t':
		return append(out, `\t`...)
	case '\n':
		return append(out, `\n`...)
	case '\r':
		return append(out, `\r`...)
	}
	const hex = "0123456789abcdef"
	return append(out, '\\', 'u', hex[r>>12&0xF], hex[r>>8&0xF], hex[r>>4&0xF], hex[r&0xF])
}

// CheckAttributes applies SQS's rules to message attributes:
//
//   - at most MaxMessageAttributes (10) attributes;
//   - names of 1-256 characters of A-Z a-z 0-9 _ - . that do not start with
//     "AWS." or "Amazon." (in any case), do not start or end with a period
//     and hold no two periods in a row;
//   - a data type of String, Number or Binary, optionally followed by a
//     ".label" custom type, at most 256 bytes of legal characters;
//   - a non-empty value: StringValue for String and Number (legal
//     characters, as in a message body), BinaryValue for Binary.
//
// The error is a *GuardError with ReasonInvalidField and Field
// "MessageAttributes[name]" ("MessageAttributes" for too many attributes).
// When several attributes are bad, the error names the first in name order,
// so the result does not depend on map iteration order. Number values are
// not range-checked: SQS does that. It is safe for concurrent use.
func CheckAttributes(attrs map[string]types.MessageAttributeValue) error {
	if len(attrs) > MaxMessageAttributes {
		return &GuardError{Reason: ReasonInvalidField, Field: "MessageAttributes", Detail: fmt.Sprintf("%d attributes; SQS allows at most %d", len(attrs), MaxMessageAttributes)}
	}
	badName, detail := "", ""
	for name, v := range attrs {
		if detail != "" && name >= badName {
			continue
		}
		if d := attributeProblem(name, v); d != "" {
			badName, detail = name, d
		}
	}
	if detail == "" {
		return nil
	}
	return &GuardError{Reason: ReasonInvalidField, Field: "MessageAttributes[" + badName + "]", Detail: detail}
}

// attributeProblem returns the rule one attribute breaks, or "".
func attributeProblem(name string, v types.MessageAttributeValue) string {
	if d := attributeNameProblem(name); d != "" {
		return d
	}
	dt := derefString(v.DataType)
	if dt == "" {
		return "data type is required (String, Number or Binary)"
	}
	if len(dt) > maxAttributeNameLen {
		return fmt.Sprintf("data type is %d bytes; at most %d", len(dt), maxAttributeNameLen)
	}
	if i := firstIllegal(stringBytes(dt)); i >= 0 {
		return fmt.Sprintf("data type has a character SQS does not accept at byte %d", i)
	}
	base, label, custom := strings.Cut(dt, ".")
	if custom && label == "" {
		return fmt.Sprintf("data type %q has an empty custom type after the period", dt)
	}
	switch base {
	case "String", "Number":
		if v.StringValue == nil || *v.StringValue == "" {
			return "a " + base + " attribute needs a non-empty StringValue"
		}
		if i := firstIllegal(stringBytes(*v.StringValue)); i >= 0 {
			return fmt.Sprintf("StringValue has a character SQS does not accept at byte %d", i)
		}
	case "Binary":
		if len(v.BinaryValue) == 0 {
			return "a Binary attribute needs a non-empty BinaryValue"
		}
	default:
		return fmt.Sprintf("data type %q; want String, Number or Binary, optionally followed by .label", dt)
	}
	return ""
}

// attributeNameProblem returns the rule an attribute name breaks, or "".
func attributeNameProblem(name string) string {
	if name == "" || len(name) > maxAttributeNameLen {
		return fmt.Sprintf("name is %d characters; want 1-%d", len(name), maxAttributeNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Sprintf("name has %s at byte %d; allowed are A-Z a-z 0-9 _ - .", strconv.QuoteRune(rune(c)), i)
		}
	}
	switch {
	case hasPrefixFold(name, "aws.") || hasPrefixFold(name, "amazon."):
		return `name must not start with "AWS." or "Amazon."`
	case name[0] == '.' || name[len(name)-1] == '.':
		return "name must not start or end with a period"
	case strings.Contains(name, ".."):
		return "name must not hold two periods in a row"
	}
	return ""
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// CheckGroupID applies SQS's rule to a FIFO MessageGroupId: 1-128
// characters, each a letter, a digit or one of
// !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~ (printable ASCII other than space). The
// error is a *GuardError with ReasonInvalidField and Field "MessageGroupId".
// It is safe for concurrent use.
func CheckGroupID(id string) error { return checkFIFOField("MessageGroupId", id) }

// CheckDeduplicationID applies SQS's rule to a FIFO MessageDeduplicationId,
// which is the same as CheckGroupID's. The error is a *GuardError with
// ReasonInvalidField and Field "MessageDeduplicationId". It is safe for
// concurrent use.
func CheckDeduplicationID(id string) error { return checkFIFOField("MessageDeduplicationId", id) }

func checkFIFOField(field, v string) error {
	if v == "" {
		return &GuardError{Reason: ReasonInvalidField, Field: field, Detail: fmt.Sprintf("empty; want 1-%d characters", MaxFIFOFieldLen)}
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7F {
			return &GuardError{Reason: ReasonInvalidField, Field: field, Detail: fmt.Sprintf("byte 0x%02X at %d; allowed are letters, digits and ASCII punctuation", c, i)}
		}
	}
	if len(v) > MaxFIFOFieldLen {
		return &GuardError{Reason: ReasonInvalidField, Field: field, Detail: fmt.Sprintf("%d characters; at most %d", len(v), MaxFIFOFieldLen)}
	}
	return nil
}

// DecodeBody is the consumer's half of the contract: given a message body
// read from the queue, it returns the event JSON whatever the hook's
// encoding was. It reads base64 and gzip bodies as the parseSqs helper of
// Stream's SDKs does (stream-chat-js, the Go, Python and other SDKs), and
// raw JSON bodies besides. It is DecodeBodyLimit with
// DefaultMaxDecodedBytes, and is safe for concurrent use.
func DecodeBody(body string) ([]byte, error) {
	return DecodeBodyLimit(body, DefaultMaxDecodedBytes)
}

// DecodeBodyLimit is DecodeBody with a cap on the size of the event, a guard
// against decompression bombs; maxBytes <= 0 means DefaultMaxDecodedBytes.
//
// The body is tried in this order:
//
//  1. valid JSON (json.Valid): raw encoding; a copy is returned as is;
//  2. standard base64 (RFC 4648, padded, nothing outside its alphabet: no
//     line breaks or spaces) whose bytes start with gzip's magic (1f 8b):
//     gzip encoding; the data is inflated, reading at most maxBytes+1
//     bytes;
//  3. such base64 whose bytes are valid JSON: base64 encoding.
//
// Steps 2 and 3 are Stream's SQS contract, as parseSqs reads it: a body
// parseSqs reads DecodeBody reads to the same JSON, and a body parseSqs
// refuses DecodeBody refuses unless it is raw JSON. The order is without
// ambiguity: the base64 text of any JSON document or of gzip data starts
// with a character no JSON document starts with, so it is never valid
// JSON itself, and the few JSON documents that are valid base64 (numbers
// such as 1234, true, null) decode to bytes that are neither JSON nor
// gzip. The result is always valid JSON and at most maxBytes long.
// Anything else — including an inflated body that is not JSON, corrupt
// gzip data or an event past the cap — is an error wrapping
// ErrInvalidBody. It is safe for concurrent use.
func DecodeBodyLimit(body string, maxBytes int) ([]byte, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxDecodedBytes
	}
	if json.Valid(stringBytes(body)) {
		if len(body) > maxBytes {
			return nil, fmt.Errorf("%w: the JSON body is %d bytes, more than %d", ErrInvalidBody, len(body), maxBytes)
		}
		return []byte(body), nil
	}
	// Go's decoder skips line breaks; Stream's contract (and parseSqs)
	// does not allow them.
	if i := strings.IndexAny(body, "\r\n"); i >= 0 {
		return nil, fmt.Errorf("%w: neither JSON nor standard base64: a line break at byte %d", ErrInvalidBody, i)
	}
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("%w: neither JSON nor standard base64: %v", ErrInvalidBody, err)
	}
	if len(raw) >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
		return gunzipJSON(raw, maxBytes)
	}
	if !json.Valid(raw) {
		return nil, fmt.Errorf("%w: base64 of neither JSON nor gzip data", ErrInvalidBody)
	}
	if len(raw) > maxBytes {
		return nil, fmt.Errorf("%w: the decoded body is %d bytes, more than %d", ErrInvalidBody, len(raw), maxBytes)
	}
	return raw, nil
}

// gunzipJSON inflates gzip data, reading at most maxBytes+1 bytes of output,
// and checks that the result is JSON.
func gunzipJSON(data []byte, maxBytes int) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: gzip: %v", ErrInvalidBody, err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(maxBytes)+1))
	if err != nil {
		return nil, fmt.Errorf("%w: gzip: %v", ErrInvalidBody, err)
	}
	if len(out) > maxBytes {
		return nil, fmt.Errorf("%w: the gzip body inflates past %d bytes", ErrInvalidBody, maxBytes)
	}
	if !json.Valid(out) {
		return nil, fmt.Errorf("%w: the gzip body does not hold JSON", ErrInvalidBody)
	}
	return out, nil
}

// bytesToString returns a string sharing b's memory; b must not be modified
// afterwards.
func bytesToString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// stringBytes returns a read-only view of s's bytes; it must not be
// modified.
func stringBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
