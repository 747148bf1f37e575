package sqshook

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Encoding is how an event body is written into an SQS message body.
type Encoding string

// The body encodings. DecodeBody reads all three.
const (
	// EncodingRaw sends the event JSON as it is (Stream's format).
	EncodingRaw Encoding = "raw"
	// EncodingBase64 sends the event JSON in standard base64.
	EncodingBase64 Encoding = "base64"
	// EncodingGzip gzips the event JSON, then writes it in standard base64,
	// as Stream's own SQS firehose does with compression on. Chat JSON
	// shrinks by 70-90%, so events too large raw may still fit.
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

// SQS message size limits.
const (
	// DefaultMaxMessageBytes is the per-message limit sqshook applies by
	// default: 256 KiB, the size Stream tells customers to set on the queue.
	DefaultMaxMessageBytes = 256 * 1024
	// MaxMessageBytesLimit is the largest message SQS accepts (1 MiB).
	MaxMessageBytesLimit = 1024 * 1024
	// MaxMessageAttributes is the most attributes one message may carry.
	MaxMessageAttributes = 10
	// MaxFIFOFieldLen bounds MessageGroupId and MessageDeduplicationId.
	MaxFIFOFieldLen = 128
	// DefaultMaxDecodedBytes bounds what DecodeBody inflates a gzip body to.
	DefaultMaxDecodedBytes = 16 << 20
)

// SizeGuard applies SQS's message rules to event bodies: legal characters,
// encoding and the per-message size limit. The zero value means raw encoding
// and DefaultMaxMessageBytes. A SizeGuard is a read-only value, safe for
// concurrent use.
type SizeGuard struct {
	// MaxMessageBytes is the per-message limit: body plus attributes. 0
	// means DefaultMaxMessageBytes; at most MaxMessageBytesLimit.
	MaxMessageBytes int
	// Encoding is the body encoding; "" means EncodingRaw.
	Encoding Encoding
}

// Validate reports a bad field, naming it and the rule.
func (g SizeGuard) Validate() error {
	var errs []error
	if g.MaxMessageBytes < 0 || g.MaxMessageBytes > MaxMessageBytesLimit {
		errs = append(errs, fmt.Errorf("max_message_bytes: %d is outside 1..%d (the SQS limit)", g.MaxMessageBytes, MaxMessageBytesLimit))
	}
	if !g.Encoding.Valid() {
		errs = append(errs, fmt.Errorf("body_encoding: unknown encoding %q; want raw, base64 or gzip", g.Encoding))
	}
	return errors.Join(errs...)
}

// Limit returns the per-message limit in force.
func (g SizeGuard) Limit() int {
	if g.MaxMessageBytes == 0 {
		return DefaultMaxMessageBytes
	}
	return g.MaxMessageBytes
}

// Prepare turns an event body into the SQS message body to send. For raw
// encoding it escapes characters SQS refuses inside JSON strings (see
// RepairJSON); base64 and gzip output is always legal. It then checks the
// whole message (encoded body and attrs) against the limit. Failures are
// *GuardError values: ReasonTooLarge (Bytes and Max set),
// ReasonInvalidContents or ReasonInvalidField.
func (g SizeGuard) Prepare(body []byte, attrs map[string]types.MessageAttributeValue) (string, error) {
	if err := CheckAttributes(attrs); err != nil {
		return "", err
	}
	enc, err := g.encode(body)
	if err != nil {
		return "", err
	}
	if size := MessageSize(enc, attrs); size > g.Limit() {
		return "", &GuardError{Reason: ReasonTooLarge, Field: "message", Bytes: size, Max: g.Limit()}
	}
	return enc, nil
}

// encode returns the SQS body for body. A raw body that needs no repair is
// returned without copying: the string shares body's memory, so the caller
// must not modify body afterwards.
func (g SizeGuard) encode(body []byte) (string, error) {
	switch g.Encoding {
	case "", EncodingRaw:
		b, err := RepairJSON(body)
		if err != nil {
			return "", err
		}
		return bytesToString(b), nil
	case EncodingBase64:
		return base64.StdEncoding.EncodeToString(body), nil
	case EncodingGzip:
		return gzipBase64(body)
	}
	return "", &GuardError{Reason: ReasonInvalidField, Field: "encoding", Detail: fmt.Sprintf("unknown encoding %q", g.Encoding)}
}

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.DefaultCompression)
	return w
}}

var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// gzipBase64 compresses body (deterministically: no name, no time) and
// returns it in standard base64.
func gzipBase64(body []byte) (string, error) {
	buf := bufferPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufferPool.Put(buf)
	w := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(w)
	w.Reset(buf)
	if _, err := w.Write(body); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// MessageSize returns the size SQS counts for a message: the body's bytes
// plus, for each attribute, its name, data type and value.
func MessageSize(body string, attrs map[string]types.MessageAttributeValue) int {
	n := len(body)
	for name, v := range attrs {
		n += len(name) + len(deref(v.DataType))
		if v.StringValue != nil {
			n += len(*v.StringValue)
		}
		n += len(v.BinaryValue)
	}
	return n
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// legalRune reports whether SQS accepts r in a message body: #x9 #xA #xD
// #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF.
func legalRune(r rune) bool {
	switch {
	case r == 0x9 || r == 0xA || r == 0xD:
		return true
	case r >= 0x20 && r <= 0xD7FF:
		return true
	case r >= 0xE000 && r <= 0xFFFD:
		return true
	case r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// firstIllegal returns the offset of the first byte sequence SQS refuses
// (an illegal character or invalid UTF-8), or -1. ASCII is checked in a
// tight loop; only other bytes are decoded.
func firstIllegal(b []byte) int {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != 0x9 && c != 0xA && c != 0xD {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 || !legalRune(r) {
			return i
		}
		i += size
	}
	return -1
}

// CheckBody applies SQS's legal-character rule to a raw body. The error is a
// *GuardError with ReasonInvalidContents and the byte offset.
func CheckBody(body []byte) error {
	if i := firstIllegal(body); i >= 0 {
		return &GuardError{Reason: ReasonInvalidContents, Field: "body", Detail: fmt.Sprintf("character SQS does not accept at byte %d", i)}
	}
	return nil
}

// RepairJSON makes a JSON body legal for SQS without changing its value:
// characters SQS refuses inside JSON strings (control characters, U+FFFE,
// U+FFFF) are written as \uXXXX escapes. An already legal body is returned
// as is (the same slice); otherwise a repaired copy. Invalid UTF-8 anywhere
// and illegal characters outside strings cannot be repaired: the error is a
// *GuardError with ReasonInvalidContents. When a repair happened the result
// is checked to be valid JSON. Safe for concurrent use.
func RepairJSON(body []byte) ([]byte, error) {
	first := firstIllegal(body)
	if first < 0 {
		return body, nil
	}
	out := make([]byte, 0, len(body)+16)
	inString, escaped := false, false
	for i := 0; i < len(body); {
		c := body[i]
		if c < utf8.RuneSelf {
			wasEscaped := escaped
			switch {
			case inString && escaped:
				escaped = false
			case inString && c == '\\':
				escaped = true
			case c == '"':
				inString = !inString
			}
			if c < 0x20 && c != 0x9 && c != 0xA && c != 0xD {
				if !inString || wasEscaped {
					return nil, &GuardError{Reason: ReasonInvalidContents, Field: "body", Detail: fmt.Sprintf("control character U+%04X outside a JSON string at byte %d", c, i)}
				}
				out = fmt.Appendf(out, `\u%04x`, c)
				i++
				continue
			}
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(body[i:])
		if r == utf8.RuneError && size <= 1 {
			return nil, &GuardError{Reason: ReasonInvalidContents, Field: "body", Detail: fmt.Sprintf("invalid UTF-8 at byte %d", i)}
		}
		escaped = false
		if !legalRune(r) {
			if !inString {
				return nil, &GuardError{Reason: ReasonInvalidContents, Field: "body", Detail: fmt.Sprintf("character U+%04X outside a JSON string at byte %d", r, i)}
			}
			out = fmt.Appendf(out, `\u%04x`, r) // only U+FFFE and U+FFFF reach here
		} else {
			out = append(out, body[i:i+size]...)
		}
		i += size
	}
	if !json.Valid(out) {
		return nil, &GuardError{Reason: ReasonInvalidContents, Field: "body", Detail: fmt.Sprintf("character SQS does not accept at byte %d, and the body is not valid JSON, so it cannot be escaped", first)}
	}
	return out, nil
}

// CheckAttributes applies SQS's rules to message attributes: at most ten;
// names of 1-256 characters of A-Z a-z 0-9 _ - . that do not start with
// "AWS." or "Amazon.", start or end with a period, or hold two periods in a
// row; a data type of String, Number or Binary (optionally followed by
// ".custom"); a value; legal characters in string values.
func CheckAttributes(attrs map[string]types.MessageAttributeValue) error {
	if len(attrs) > MaxMessageAttributes {
		return &GuardError{Reason: ReasonInvalidField, Field: "MessageAttributes", Detail: fmt.Sprintf("%d attributes; SQS allows %d", len(attrs), MaxMessageAttributes)}
	}
	for name, v := range attrs {
		field := "MessageAttributes[" + name + "]"
		if problem := attributeNameProblem(name); problem != "" {
			return &GuardError{Reason: ReasonInvalidField, Field: field, Detail: problem}
		}
		dt := deref(v.DataType)
		base, _, _ := strings.Cut(dt, ".")
		switch base {
		case "String", "Number":
			if v.StringValue == nil || *v.StringValue == "" {
				return &GuardError{Reason: ReasonInvalidField, Field: field, Detail: "a " + base + " attribute needs a non-empty StringValue"}
			}
			if i := firstIllegal([]byte(*v.StringValue)); i >= 0 {
				return &GuardError{Reason: ReasonInvalidField, Field: field, Detail: fmt.Sprintf("value has a character SQS does not accept at byte %d", i)}
			}
		case "Binary":
			if len(v.BinaryValue) == 0 {
				return &GuardError{Reason: ReasonInvalidField, Field: field, Detail: "a Binary attribute needs a non-empty BinaryValue"}
			}
		default:
			return &GuardError{Reason: ReasonInvalidField, Field: field, Detail: fmt.Sprintf("data type %q; want String, Number or Binary, optionally with a .suffix", dt)}
		}
	}
	return nil
}

func attributeNameProblem(name string) string {
	switch {
	case name == "" || len(name) > 256:
		return "name must be 1-256 characters"
	case strings.HasPrefix(strings.ToLower(name), "aws.") || strings.HasPrefix(strings.ToLower(name), "amazon."):
		return `name must not start with "AWS." or "Amazon."`
	case name[0] == '.' || name[len(name)-1] == '.' || strings.Contains(name, ".."):
		return "name must not start or end with a period or hold two in a row"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Sprintf("name has %q; allowed are A-Z a-z 0-9 _ - .", c)
		}
	}
	return ""
}

// CheckGroupID applies SQS's rule to a FIFO MessageGroupId: 1-128 characters
// of letters, digits and punctuation (!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~).
func CheckGroupID(id string) error { return checkFIFOField("MessageGroupId", id) }

// CheckDeduplicationID applies SQS's rule to a FIFO MessageDeduplicationId,
// the same as CheckGroupID's.
func CheckDeduplicationID(id string) error { return checkFIFOField("MessageDeduplicationId", id) }

func checkFIFOField(field, v string) error {
	if v == "" || len(v) > MaxFIFOFieldLen {
		return &GuardError{Reason: ReasonInvalidField, Field: field, Detail: fmt.Sprintf("length %d; must be 1-%d characters", len(v), MaxFIFOFieldLen)}
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7F {
			return &GuardError{Reason: ReasonInvalidField, Field: field, Detail: fmt.Sprintf("character %q at %d; allowed are letters, digits and punctuation", c, i)}
		}
	}
	return nil
}

// DecodeBody is the consumer's half of the contract: it returns the event
// JSON of a message body whatever the hook's encoding was. A body that is
// valid JSON is returned as is (raw encoding). Otherwise it must be standard
// base64; its decoded bytes are returned, after gunzipping them when they
// start with gzip's magic bytes (1f 8b). Inflated output is capped at
// DefaultMaxDecodedBytes; see DecodeBodyLimit.
func DecodeBody(body string) ([]byte, error) {
	return DecodeBodyLimit(body, DefaultMaxDecodedBytes)
}

// DecodeBodyLimit is DecodeBody with a cap on the decoded size, a guard
// against decompression bombs.
func DecodeBodyLimit(body string, maxBytes int) ([]byte, error) {
	// JSON first: base64 of a JSON object or array ("ey…", "W…") or of gzip
	// data ("H4sI…") is never valid JSON, so the order is unambiguous for
	// every body sqshook writes.
	if json.Valid([]byte(body)) {
		return []byte(body), nil
	}
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("sqshook: message body is neither JSON nor base64: %w", err)
	}
	if len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
		if len(raw) > maxBytes {
			return nil, fmt.Errorf("sqshook: decoded body is larger than %d bytes", maxBytes)
		}
		return raw, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("sqshook: message body: gzip: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(maxBytes)+1))
	if err != nil {
		return nil, fmt.Errorf("sqshook: message body: gzip: %w", err)
	}
	if len(out) > maxBytes {
		return nil, fmt.Errorf("sqshook: message body inflates past %d bytes", maxBytes)
	}
	return out, nil
}

// bytesToString returns a string that shares b's memory. b must not be
// modified afterwards.
func bytesToString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
