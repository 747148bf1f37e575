package sqshook_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sqshook/sqshook"
)

func sizeStrAttr(v string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

// sizeGuardErr returns err as a *GuardError, failing the test if it is
// something else. A nil err gives nil.
func sizeGuardErr(t *testing.T, err error) *sqshook.GuardError {
	t.Helper()
	if err == nil {
		return nil
	}
	var ge *sqshook.GuardError
	if !errors.As(err, &ge) {
		t.Fatalf("error %v (%T) is not a *GuardError", err, err)
	}
	return ge
}

func sizeReason(t *testing.T, err error) sqshook.Reason {
	t.Helper()
	if ge := sizeGuardErr(t, err); ge != nil {
		return ge.Reason
	}
	return ""
}

// sizeChatBody returns a chat-like event of about n bytes of compact JSON,
// modelled on a message.new event.
func sizeChatBody(tb testing.TB, n int) []byte {
	tb.Helper()
	user := map[string]any{
		"id": "tommaso-52ec3a5f-e916-469f-bf54-b53b5247a4b0", "role": "user", "banned": false, "online": true,
		"created_at": "2020-03-30T07:54:46.207332Z", "updated_at": "2020-03-30T07:54:46.207719Z",
	}
	event := map[string]any{
		"type":         "message.new",
		"cid":          "messaging:fun-d5f396e3-fbaf-469c-9b45-8837b4f75baa",
		"channel_type": "messaging",
		"channel_id":   "fun-d5f396e3-fbaf-469c-9b45-8837b4f75baa",
		"created_at":   "2020-03-30T07:54:46.295138Z",
		"user":         user,
		"message": map[string]any{
			"id": "8bffc454-e1da-4d91-8b88-a87853dfb41c", "type": "regular", "user": user,
			"attachments": []any{}, "latest_reactions": []any{}, "own_reactions": []any{},
			"reaction_counts": map[string]int{"like": 3}, "reaction_scores": map[string]int{"like": 3},
			"reply_count": 0, "mentioned_users": []any{},
			"created_at": "2020-03-30T07:54:46.277381Z", "updated_at": "2020-03-30T07:54:46.277382Z",
		},
	}
	b, err := json.Marshal(event)
	if err != nil {
		tb.Fatal(err)
	}
	words := []string{"hey", "team,", "the", "release", "is", "out", "—", "see", "the", "notes", "in", "#general", "🎉"}
	var text strings.Builder
	for i := 0; len(b)+2*text.Len()+40 < n; i++ {
		text.WriteString(words[i%len(words)])
		text.WriteByte(' ')
	}
	msg := event["message"].(map[string]any)
	msg["text"] = text.String()
	msg["html"] = "<p>" + text.String() + "</p>\n"
	if b, err = json.Marshal(event); err != nil {
		tb.Fatal(err)
	}
	return b
}

// sizeDecodeJSON decodes JSON keeping numbers as text, so that numbers
// float64 cannot hold (1E1000) still compare.
func sizeDecodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return v, nil
}

// sizeJSONEqual reports whether a and b are valid JSON with equal values.
func sizeJSONEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	va, errA := sizeDecodeJSON(a)
	vb, errB := sizeDecodeJSON(b)
	if errA != nil || errB != nil {
		t.Logf("decode: %v; %v", errA, errB)
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// sizeLegalRune is SQS's rule written out from the documentation, as a
// reference for the scanner.
func sizeLegalRune(r rune) bool {
	return r == 0x9 || r == 0xA || r == 0xD ||
		0x20 <= r && r <= 0xD7FF ||
		0xE000 <= r && r <= 0xFFFD ||
		0x10000 <= r && r <= 0x10FFFF
}

// sizeReferenceFirstIllegal is the obvious, slow implementation of the
// legal-character scan: the offset of the first illegal byte, or -1.
func sizeReferenceFirstIllegal(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 || !sizeLegalRune(r) {
			return i
		}
		i += n
	}
	return -1
}

// sizeIllegalOffset returns the offset CheckBody reports, or -1.
func sizeIllegalOffset(t testing.TB, body []byte) int {
	t.Helper()
	err := sqshook.CheckBody(body)
	if err == nil {
		return -1
	}
	var ge *sqshook.GuardError
	if !errors.As(err, &ge) || ge.Reason != sqshook.ReasonInvalidContents || ge.Field != "body" {
		t.Fatalf("CheckBody(%q) = %v, want a *GuardError with invalid_contents on body", body, err)
	}
	i := strings.LastIndex(ge.Detail, " at byte ")
	var off int
	if i < 0 {
		t.Fatalf("CheckBody(%q) detail %q gives no offset", body, ge.Detail)
	}
	if _, err := fmt.Sscanf(ge.Detail[i:], " at byte %d", &off); err != nil {
		t.Fatalf("CheckBody(%q) detail %q: %v", body, ge.Detail, err)
	}
	return off
}

func sizeGzipB64(t testing.TB, data []byte) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func TestEncodingValid(t *testing.T) {
	tests := []struct {
		e    sqshook.Encoding
		want bool
	}{
		{"", true},
		{sqshook.EncodingRaw, true},
		{sqshook.EncodingBase64, true},
		{sqshook.EncodingGzip, true},
		{"Raw", false},
		{"zstd", false},
		{"gzip ", false},
	}
	for _, tt := range tests {
		if got := tt.e.Valid(); got != tt.want {
			t.Errorf("Encoding(%q).Valid() = %v, want %v", tt.e, got, tt.want)
		}
	}
}

func TestSizeGuardValidate(t *testing.T) {
	tests := []struct {
		name string
		g    sqshook.SizeGuard
		want []string // substrings of the error; nil = no error
	}{
		{"zero value", sqshook.SizeGuard{}, nil},
		{"at the SQS limit", sqshook.SizeGuard{MaxMessageBytes: sqshook.MaxMessageBytesLimit, Encoding: sqshook.EncodingGzip}, nil},
		{"small", sqshook.SizeGuard{MaxMessageBytes: 1, Encoding: sqshook.EncodingBase64}, nil},
		{"over the SQS limit", sqshook.SizeGuard{MaxMessageBytes: 2000000}, []string{"max_message_bytes: 2000000 exceeds the SQS limit of 1048576"}},
		{"one over", sqshook.SizeGuard{MaxMessageBytes: sqshook.MaxMessageBytesLimit + 1}, []string{"max_message_bytes: 1048577 exceeds"}},
		{"negative", sqshook.SizeGuard{MaxMessageBytes: -1}, []string{"max_message_bytes: -1 is negative"}},
		{"unknown encoding", sqshook.SizeGuard{Encoding: "zstd"}, []string{`body_encoding: unknown encoding "zstd"`}},
		{"both", sqshook.SizeGuard{MaxMessageBytes: 2000000, Encoding: "zstd"}, []string{"max_message_bytes", "body_encoding"}},
	}
	for _, tt := range tests {
		err := tt.g.Validate()
		if tt.want == nil {
			if err != nil {
				t.Errorf("%s: Validate() = %v, want nil", tt.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: Validate() = nil, want an error with %q", tt.name, tt.want)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: Validate() = %q, want it to contain %q", tt.name, err, w)
			}
		}
	}
}

func TestSizeGuardLimit(t *testing.T) {
	tests := []struct {
		g    sqshook.SizeGuard
		want int
	}{
		{sqshook.SizeGuard{}, sqshook.DefaultMaxMessageBytes},
		{sqshook.SizeGuard{MaxMessageBytes: 1000}, 1000},
		{sqshook.SizeGuard{MaxMessageBytes: sqshook.MaxMessageBytesLimit}, 1 << 20},
	}
	for _, tt := range tests {
		if got := tt.g.Limit(); got != tt.want {
			t.Errorf("%+v.Limit() = %d, want %d", tt.g, got, tt.want)
		}
	}
	if sqshook.DefaultMaxMessageBytes != 262144 || sqshook.MaxMessageBytesLimit != 1048576 {
		t.Errorf("limits = %d, %d; want 262144, 1048576", sqshook.DefaultMaxMessageBytes, sqshook.MaxMessageBytesLimit)
	}
}

func TestMessageSize(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		attrs map[string]types.MessageAttributeValue
		want  int
	}{
		{"empty", "", nil, 0},
		{"body only", "0123456789", nil, 10},
		{"bytes, not runes", "héllo👋", nil, 10},
		{"String", "ab", map[string]types.MessageAttributeValue{"s": sizeStrAttr("abc")}, 2 + 1 + 6 + 3},
		{"Number", "ab", map[string]types.MessageAttributeValue{"num": {DataType: aws.String("Number"), StringValue: aws.String("42")}}, 2 + 3 + 6 + 2},
		{"Binary", "ab", map[string]types.MessageAttributeValue{"bin": {DataType: aws.String("Binary"), BinaryValue: []byte{1, 2, 3, 4, 5}}}, 2 + 3 + 6 + 5},
		{"custom type", "", map[string]types.MessageAttributeValue{"c": {DataType: aws.String("String.custom"), StringValue: aws.String("xyz")}}, 1 + 13 + 3},
		{"multibyte value", "", map[string]types.MessageAttributeValue{"u": sizeStrAttr("é")}, 1 + 6 + 2},
		{"all kinds", "0123456789", map[string]types.MessageAttributeValue{
			"s": sizeStrAttr("abc"),
			"n": {DataType: aws.String("Number"), StringValue: aws.String("42")},
			"b": {DataType: aws.String("Binary"), BinaryValue: []byte{1, 2, 3, 4, 5}},
		}, 10 + 10 + 9 + 12},
	}
	for _, tt := range tests {
		if got := sqshook.MessageSize(tt.body, tt.attrs); got != tt.want {
			t.Errorf("%s: MessageSize = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestSizeGuardPrepareLimit(t *testing.T) {
	const limit = 1000
	attrs := map[string]types.MessageAttributeValue{
		"k":   sizeStrAttr("vv"),                                                   // 1 + 6 + 2 = 9
		"n":   {DataType: aws.String("Number"), StringValue: aws.String("7")},      // 1 + 6 + 1 = 8
		"bin": {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2, 255}}, // 3 + 6 + 4 = 13
	}
	const attrSize = 9 + 8 + 13
	// jsonString returns a JSON string of exactly n bytes.
	jsonString := func(n int) []byte { return []byte(`"` + strings.Repeat("a", n-2) + `"`) }
	// encodedLen is the body size each encoding produces for body.
	encodedLen := func(t *testing.T, e sqshook.Encoding, body []byte) int {
		s, err := sqshook.SizeGuard{MaxMessageBytes: sqshook.MaxMessageBytesLimit, Encoding: e}.Prepare(body, nil)
		if err != nil {
			t.Fatalf("%s: Prepare: %v", e, err)
		}
		return len(s)
	}
	for _, e := range []sqshook.Encoding{sqshook.EncodingRaw, sqshook.EncodingBase64, sqshook.EncodingGzip} {
		t.Run(string(e), func(t *testing.T) {
			body := jsonString(600)
			size := encodedLen(t, e, body) + attrSize
			switch e {
			case sqshook.EncodingRaw:
				if size != 600+attrSize {
					t.Fatalf("raw size = %d, want %d", size, 600+attrSize)
				}
			case sqshook.EncodingBase64:
				if want := 800 + attrSize; size != want {
					t.Fatalf("base64 size = %d, want %d (measured after encoding)", size, want)
				}
			}
			at := sqshook.SizeGuard{MaxMessageBytes: size, Encoding: e}
			if _, err := at.Prepare(body, attrs); err != nil {
				t.Errorf("exactly at the limit (%d): %v, want nil", size, err)
			}
			over := sqshook.SizeGuard{MaxMessageBytes: size - 1, Encoding: e}
			_, err := over.Prepare(body, attrs)
			ge := sizeGuardErr(t, err)
			if ge == nil {
				t.Fatalf("one byte over: got nil, want too_large")
			}
			if ge.Reason != sqshook.ReasonTooLarge || ge.Field != "message" || ge.Bytes != size || ge.Max != size-1 {
				t.Errorf("one byte over: got %+v, want too_large on message with bytes=%d max=%d", ge, size, size-1)
			}
			if want := fmt.Sprintf("bytes=%d max=%d", size, size-1); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		})
	}
	t.Run("raw limit", func(t *testing.T) {
		g := sqshook.SizeGuard{MaxMessageBytes: limit}
		if _, err := g.Prepare(jsonString(limit-attrSize), attrs); err != nil {
			t.Errorf("exactly at %d: got %v, want nil", limit, err)
		}
		_, err := g.Prepare(jsonString(limit-attrSize+1), attrs)
		if ge := sizeGuardErr(t, err); ge == nil || ge.Bytes != limit+1 || ge.Max != limit {
			t.Errorf("one over %d: got %v, want bytes=%d max=%d", limit, err, limit+1, limit)
		}
	})
	t.Run("base64 measured after encoding", func(t *testing.T) {
		// 750 bytes fit raw, but their base64 (1000 bytes) plus attributes
		// do not.
		g := sqshook.SizeGuard{MaxMessageBytes: limit, Encoding: sqshook.EncodingBase64}
		_, err := g.Prepare(jsonString(750), attrs)
		if ge := sizeGuardErr(t, err); ge == nil || ge.Reason != sqshook.ReasonTooLarge || ge.Bytes != 1000+attrSize {
			t.Errorf("got %v, want too_large with bytes=%d", err, 1000+attrSize)
		}
	})
	t.Run("repair counts", func(t *testing.T) {
		// Escaping U+0001 turns one byte into six.
		body := []byte("\"" + strings.Repeat("a", 97) + "\x01\"") // 100 bytes
		g := sqshook.SizeGuard{MaxMessageBytes: 104}
		_, err := g.Prepare(body, nil)
		if ge := sizeGuardErr(t, err); ge == nil || ge.Reason != sqshook.ReasonTooLarge || ge.Bytes != 105 {
			t.Errorf("got %v, want too_large with bytes=105 (after repair)", err)
		}
		g.MaxMessageBytes = 105
		if _, err := g.Prepare(body, nil); err != nil {
			t.Errorf("at the limit after repair: got %v, want nil", err)
		}
	})
}

func TestSizeGuardGzip(t *testing.T) {
	big := sizeChatBody(t, 400<<10)
	if len(big) <= sqshook.DefaultMaxMessageBytes {
		t.Fatalf("test body is %d bytes, want more than the default limit", len(big))
	}
	_, err := sqshook.SizeGuard{}.Prepare(big, nil)
	if ge := sizeGuardErr(t, err); ge == nil || ge.Reason != sqshook.ReasonTooLarge || ge.Bytes != len(big) || ge.Max != sqshook.DefaultMaxMessageBytes {
		t.Fatalf("raw %d bytes: got %v, want too_large bytes=%d max=%d", len(big), err, len(big), sqshook.DefaultMaxMessageBytes)
	}
	_, err = sqshook.SizeGuard{Encoding: sqshook.EncodingBase64}.Prepare(big, nil)
	if got := sizeReason(t, err); got != sqshook.ReasonTooLarge {
		t.Fatalf("base64 %d bytes: got %v, want too_large", len(big), err)
	}
	g := sqshook.SizeGuard{Encoding: sqshook.EncodingGzip}
	gz, err := g.Prepare(big, nil)
	if err != nil {
		t.Fatalf("gzip %d bytes: got %v, want nil", len(big), err)
	}
	if len(gz) > len(big)/10 {
		t.Errorf("gzip body is %d bytes for %d of chat JSON, want under 10%%", len(gz), len(big))
	}
	if err := sqshook.CheckBody([]byte(gz)); err != nil {
		t.Errorf("gzip body is not SQS-legal: %v", err)
	}
	// The gzip header is fixed: no name, no modification time.
	raw, err := base64.StdEncoding.DecodeString(gz)
	if err != nil {
		t.Fatalf("gzip body is not standard base64: %v", err)
	}
	if len(raw) < 10 || raw[0] != 0x1f || raw[1] != 0x8b || raw[2] != 8 || raw[3] != 0 || !bytes.Equal(raw[4:8], []byte{0, 0, 0, 0}) {
		t.Errorf("gzip header = % x, want 1f 8b 08 00 00 00 00 00 (no flags, no mtime)", raw[:min(len(raw), 10)])
	}
	// Deterministic, also with the pooled writers and buffers reused
	// concurrently for other bodies.
	small := sizeChatBody(t, 2048)
	wantSmall, err := g.Prepare(small, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 5 {
				body, want := small, wantSmall
				if i%2 == 0 {
					body, want = big, gz
				}
				got, err := g.Prepare(body, nil)
				if err != nil || got != want {
					t.Errorf("gzip output differs between runs (%d vs %d bytes), err %v", len(got), len(want), err)
					return
				}
			}
		})
	}
	wg.Wait()
	back, err := sqshook.DecodeBody(gz)
	if err != nil || !bytes.Equal(back, big) {
		t.Errorf("DecodeBody(gzip) = %d bytes, %v; want the %d-byte event back", len(back), err, len(big))
	}
	// Incompressible data is refused once its compressed output passes the
	// limit (Bytes is then what was measured so far, past Max), and the
	// large buffer it needed does not disturb later bodies.
	noise := make([]byte, 1200<<10)
	rand.NewChaCha8([32]byte{1}).Read(noise)
	_, err = sqshook.SizeGuard{MaxMessageBytes: sqshook.MaxMessageBytesLimit, Encoding: sqshook.EncodingGzip}.Prepare(noise, nil)
	if ge := sizeGuardErr(t, err); ge == nil || ge.Reason != sqshook.ReasonTooLarge || ge.Bytes <= ge.Max {
		t.Errorf("gzip of %d random bytes: got %v, want too_large with Bytes past Max", len(noise), err)
	}
	if got, err := g.Prepare(small, nil); err != nil || got != wantSmall {
		t.Errorf("gzip after a large body: output differs (%d vs %d bytes), err %v", len(got), len(wantSmall), err)
	}
}

func TestSizeGuardPrepareErrors(t *testing.T) {
	tests := []struct {
		name   string
		g      sqshook.SizeGuard
		body   string
		attrs  map[string]types.MessageAttributeValue
		reason sqshook.Reason
		field  string
	}{
		{"illegal outside a string", sqshook.SizeGuard{}, "{\"a\":1}\x01", nil, sqshook.ReasonInvalidContents, "body"},
		{"invalid UTF-8", sqshook.SizeGuard{}, "{\"a\":\"\xff\"}", nil, sqshook.ReasonInvalidContents, "body"},
		{"bad attribute name", sqshook.SizeGuard{}, `{}`, map[string]types.MessageAttributeValue{"AWS.trace": sizeStrAttr("x")}, sqshook.ReasonInvalidField, "MessageAttributes[AWS.trace]"},
		{"bad attribute checked before size", sqshook.SizeGuard{MaxMessageBytes: 1}, `{}`, map[string]types.MessageAttributeValue{"a": sizeStrAttr("")}, sqshook.ReasonInvalidField, "MessageAttributes[a]"},
		{"too large", sqshook.SizeGuard{MaxMessageBytes: 3}, `{"a":1}`, nil, sqshook.ReasonTooLarge, "message"},
	}
	for _, tt := range tests {
		got, err := tt.g.Prepare([]byte(tt.body), tt.attrs)
		ge := sizeGuardErr(t, err)
		if ge == nil {
			t.Errorf("%s: Prepare = %q, nil; want %s on %s", tt.name, got, tt.reason, tt.field)
			continue
		}
		if ge.Reason != tt.reason || ge.Field != tt.field {
			t.Errorf("%s: got %s on %s, want %s on %s", tt.name, ge.Reason, ge.Field, tt.reason, tt.field)
		}
	}
	// base64 and gzip output is always legal, whatever the body holds.
	for _, e := range []sqshook.Encoding{sqshook.EncodingBase64, sqshook.EncodingGzip} {
		got, err := sqshook.SizeGuard{Encoding: e}.Prepare([]byte("{\"a\":\"\x01\xff\"}"), nil)
		if err != nil || sqshook.CheckBody([]byte(got)) != nil {
			t.Errorf("%s with illegal bytes: Prepare = %q, %v; want a legal body", e, got, err)
		}
	}
	// An invalid guard is refused rather than used.
	for _, g := range []sqshook.SizeGuard{{MaxMessageBytes: 2 << 20}, {Encoding: "zstd"}, {MaxMessageBytes: -5}} {
		if _, err := g.Prepare([]byte(`{}`), nil); err == nil || err.Error() != g.Validate().Error() {
			t.Errorf("%+v.Prepare: got %v, want the Validate error %v", g, err, g.Validate())
		}
	}
}

func TestSizeGuardPrepareNoCopy(t *testing.T) {
	body := sizeChatBody(t, 2048)
	for _, e := range []sqshook.Encoding{"", sqshook.EncodingRaw} {
		got, err := sqshook.SizeGuard{Encoding: e}.Prepare(body, nil)
		if err != nil {
			t.Fatalf("%q: Prepare: %v", e, err)
		}
		if unsafe.StringData(got) != &body[0] || len(got) != len(body) {
			t.Errorf("%q: a legal raw body was copied, want the same memory", e)
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := (sqshook.SizeGuard{}).Prepare(body, nil); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Prepare of a legal raw body: got %v allocations, want 0", allocs)
	}
	// A repaired body is a new string; the caller's bytes are untouched.
	bad := []byte("{\"a\":\"x\x01\"}")
	orig := string(bad)
	got, err := sqshook.SizeGuard{}.Prepare(bad, nil)
	if err != nil || got != `{"a":"x\u0001"}` || string(bad) != orig {
		t.Errorf("repair: got %q, %v, body now %q; want the escape in a copy", got, err, bad)
	}
}

func TestCheckBody(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		offset int // -1 = legal
	}{
		{"empty", "", -1},
		{"ASCII", `{"text":"hello"}`, -1},
		{"NUL", "a\x00b", 1},
		{"0x08", "a\x08b", 1},
		{"tab 0x09", "a\tb", -1},
		{"LF 0x0A", "a\nb", -1},
		{"0x0B", "a\x0bb", 1},
		{"0x0C", "a\x0cb", 1},
		{"CR 0x0D", "a\rb", -1},
		{"0x1F", "a\x1fb", 1},
		{"space 0x20", "a b", -1},
		{"DEL 0x7F", "a\x7fb", -1},
		{"U+0080", "a\u0080b", -1},
		{"U+D7FF", "a\ud7ffb", -1},
		{"U+E000", "a\ue000b", -1},
		{"U+FFFD", "a\ufffdb", -1},
		{"U+FFFE", "a\ufffeb", 1},
		{"U+FFFF", "a\uffffb", 1},
		{"U+10000", "a\U00010000b", -1},
		{"U+10FFFF", "a\U0010ffffb", -1},
		{"emoji", "👋🏽", -1},
		{"encoded surrogate U+D800", "ab\xed\xa0\x80", 2},
		{"encoded surrogate U+DFFF", "\xed\xbf\xbf", 0},
		{"past U+10FFFF", "\xf4\x90\x80\x80", 0},
		{"overlong NUL", "a\xc0\x80", 1},
		{"overlong slash", "\xe0\x80\xaf", 0},
		{"lone continuation", "ab\x80", 2},
		{"0xFF", "a\xffb", 1},
		{"truncated 3-byte", "a\xe2\x82", 1},
		{"truncated 4-byte", "abc\xf0\x9f\x91", 3},
		{"bad continuation", "\xc3\x28", 0},
		{"two-byte lead at the end", "abc\xc3", 3},
		{"three-byte lead at the end", "abc\xe1\x80", 3},
		{"three-byte bad second byte", "\xe1\x28\x80", 0},
		{"three-byte bad third byte", "\xe1\x80\x28", 0},
		{"offset past 8 bytes", "0123456789abcdef\x01", 16},
		{"first of two", "0123456789\x02\x03", 10},
		{"after non-ASCII", "ééééé\x1f", 10},
	}
	for _, tt := range tests {
		got := sizeIllegalOffset(t, []byte(tt.body))
		if got != tt.offset {
			t.Errorf("%s: CheckBody(%q) offset = %d, want %d", tt.name, tt.body, got, tt.offset)
		}
		if ref := sizeReferenceFirstIllegal([]byte(tt.body)); ref != tt.offset {
			t.Errorf("%s: reference offset = %d, want %d", tt.name, ref, tt.offset)
		}
	}
}

// TestCheckBodyEveryPosition moves each kind of illegal sequence through a
// 40-byte body, across the eight-byte blocks the scanner reads at once.
func TestCheckBodyEveryPosition(t *testing.T) {
	bad := []string{"\x00", "\x01", "\x08", "\x0b", "\x1f", "\xff", "\x80", "\xed\xa0\x80", "\xef\xbf\xbe", "\xef\xbf\xbf", "\xe2\x82"}
	fillers := []string{"a", "é", "\t", "\n", "中"}
	for _, filler := range fillers {
		for _, b := range bad {
			for pos := range 40 {
				body := []byte(strings.Repeat("x", pos) + b + strings.Repeat(filler, 8))
				if got := sizeIllegalOffset(t, body); got != pos {
					t.Errorf("CheckBody(%q) offset = %d, want %d", body, got, pos)
				}
			}
		}
		legal := []byte(strings.Repeat(filler+"x", 33))
		if err := sqshook.CheckBody(legal); err != nil {
			t.Errorf("CheckBody(%q) = %v, want nil", legal, err)
		}
	}
}

func TestCheckBodyDetail(t *testing.T) {
	tests := []struct{ body, want string }{
		{"ab\x01", "character U+0001 that SQS does not accept at byte 2"},
		{"ab\uffff", "character U+FFFF that SQS does not accept at byte 2"},
		{"a\xff", "invalid UTF-8 (byte 0xFF) at byte 1"},
	}
	for _, tt := range tests {
		ge := sizeGuardErr(t, sqshook.CheckBody([]byte(tt.body)))
		if ge == nil || ge.Detail != tt.want {
			t.Errorf("CheckBody(%q) = %v, want detail %q", tt.body, ge, tt.want)
		}
	}
}

func TestRepairJSON(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  string // "" = an invalid_contents error
		value any    // the decoded value of want, for repaired bodies
	}{
		{"legal", `{"a":"b"}`, `{"a":"b"}`, nil},
		{"legal non-JSON is not parsed", `not json`, `not json`, nil},
		{"control in a value", "{\"a\":\"x\x01y\"}", `{"a":"x\u0001y"}`, map[string]any{"a": "x\x01y"}},
		{"NUL and 0x1F", "[\"\x00\x1f\"]", `["\u0000\u001f"]`, []any{"\x00\x1f"}},
		{"control in a key", "{\"k\x02\":1}", `{"k\u0002":1}`, map[string]any{"k\x02": 1.0}},
		{"control in a nested key", "{\"a\":[{\"\x1e\":\"\x1b\"}]}", `{"a":[{"\u001e":"\u001b"}]}`, map[string]any{"a": []any{map[string]any{"\x1e": "\x1b"}}}},
		{"U+FFFE in a string", "{\"a\":\"\ufffe\"}", `{"a":"\ufffe"}`, map[string]any{"a": "\ufffe"}},
		{"U+FFFF in a key", "{\"\uffff\":0}", `{"\uffff":0}`, map[string]any{"\uffff": 0.0}},
		{"tab, LF, CR in a string are escaped too", "{\"a\":\"\t\x01\n\r\"}", `{"a":"\t\u0001\n\r"}`, map[string]any{"a": "\t\x01\n\r"}},
		{"whitespace outside strings stays", "{\n\t\"a\" :\r\n \"\x01\"\n}", "{\n\t\"a\" :\r\n \"\\u0001\"\n}", map[string]any{"a": "\x01"}},
		{"after an escaped quote", "{\"a\":\"q\\\"\x03\"}", `{"a":"q\"\u0003"}`, map[string]any{"a": "q\"\x03"}},
		{"after an escaped backslash", "{\"a\":\"q\\\\\",\"b\":\"\x04\"}", `{"a":"q\\","b":"\u0004"}`, map[string]any{"a": `q\`, "b": "\x04"}},
		{"escaped backslash then more", "[\"a\\\\\",\"\x05\",\"\\\\\\\"\x06\"]", `["a\\","\u0005","\\\"\u0006"]`, []any{`a\`, "\x05", `\"` + "\x06"}},
		{"after a \\u escape", "[\"\\u0041\x06\"]", `["\u0041\u0006"]`, []any{"A\x06"}},
		{"non-ASCII around", "{\"é\x07\":\"👋\ufffe中\"}", `{"é\u0007":"👋\ufffe中"}`, map[string]any{"é\x07": "👋\ufffe中"}},
		{"control outside a string", "{\"a\":1}\x01", "", nil},
		{"control between tokens", "{\"a\":\x01\"b\"}", "", nil},
		{"U+FFFE outside a string", "[1,\ufffe]", "", nil},
		{"control after a backslash", "[\"\\\x01\"]", "", nil},
		{"U+FFFF after a backslash", "[\"\\\uffff\"]", "", nil},
		{"invalid UTF-8 in a string", "{\"a\":\"\xff\x01\"}", "", nil},
		{"invalid UTF-8 after the repair point", "{\"a\":\"\x01\xc3\"}", "", nil},
		{"encoded surrogate", "[\"\x01\xed\xa0\x80\"]", "", nil},
		{"not JSON", "not json \"\x01\"", "", nil},
		{"unterminated string", "[\"\x01", "", nil},
		{"invalid escape", "[\"\\q\x01\"]", "", nil},
	}
	for _, tt := range tests {
		got, err := sqshook.RepairJSON([]byte(tt.in))
		if tt.want == "" {
			ge := sizeGuardErr(t, err)
			if ge == nil || ge.Reason != sqshook.ReasonInvalidContents || ge.Field != "body" {
				t.Errorf("%s: RepairJSON(%q) = %q, %v; want invalid_contents on body", tt.name, tt.in, got, err)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: RepairJSON(%q) = %q, %v; want %q", tt.name, tt.in, got, err, tt.want)
			continue
		}
		if err := sqshook.CheckBody(got); err != nil {
			t.Errorf("%s: repaired body is still illegal: %v", tt.name, err)
		}
		if json.Valid([]byte(tt.in)) && !sizeJSONEqual(t, []byte(tt.in), got) {
			t.Errorf("%s: RepairJSON(%q) = %q changed the JSON value", tt.name, tt.in, got)
		}
		if tt.value == nil {
			continue
		}
		// Raw control characters make the input invalid JSON, so its value
		// is written out in the table.
		var v any
		if err := json.Unmarshal(got, &v); err != nil {
			t.Errorf("%s: repaired body %q is not valid JSON: %v", tt.name, got, err)
		} else if !reflect.DeepEqual(v, tt.value) {
			t.Errorf("%s: repaired value = %#v, want %#v", tt.name, v, tt.value)
		}
	}
}

func TestRepairJSONValidJSONValue(t *testing.T) {
	// Valid JSON may hold U+FFFE and U+FFFF in strings: the repair keeps the
	// decoded value.
	ins := []string{
		"{\"\ufffe\":[\"\uffff\",1E1000,true,null],\"b\":{\"c\":\"x\\\"\ufffe\\\\\"}}",
		"\"\uffff\"",
		"[\"a\\u0000\ufffe\"]",
	}
	for _, in := range ins {
		if !json.Valid([]byte(in)) {
			t.Fatalf("test input %q is not valid JSON", in)
		}
		out, err := sqshook.RepairJSON([]byte(in))
		if err != nil {
			t.Errorf("RepairJSON(%q) = %v, want a repair", in, err)
			continue
		}
		if !sizeJSONEqual(t, []byte(in), out) {
			t.Errorf("RepairJSON(%q) = %q changed the JSON value", in, out)
		}
		if err := sqshook.CheckBody(out); err != nil {
			t.Errorf("RepairJSON(%q) = %q still illegal: %v", in, out, err)
		}
	}
}

func TestRepairJSONSameSlice(t *testing.T) {
	for _, in := range []string{`{"text":"héllo 👋","n":[1,2.5e3,null]}`, "{\n\t\"a\": \"b\"\r\n}", "x"} {
		body := []byte(in)
		out, err := sqshook.RepairJSON(body)
		if err != nil {
			t.Fatalf("RepairJSON(%q) = %v", in, err)
		}
		if len(out) != len(body) || &out[0] != &body[0] {
			t.Errorf("RepairJSON(%q) returned a copy, want the same slice", in)
		}
	}
	if out, err := sqshook.RepairJSON(nil); out != nil || err != nil {
		t.Errorf("RepairJSON(nil) = %q, %v; want nil, nil", out, err)
	}
	// The input is never modified by a repair.
	body := []byte("[\"\x01\"]")
	if _, err := sqshook.RepairJSON(body); err != nil || string(body) != "[\"\x01\"]" {
		t.Errorf("RepairJSON modified its input to %q (err %v)", body, err)
	}
}

func TestDecodeBodyRoundTrip(t *testing.T) {
	bodies := map[string][]byte{
		"chat":     sizeChatBody(t, 2048),
		"number":   []byte("1234"),
		"string":   []byte(`"héllo"`),
		"array":    []byte(" [1, 2] "),
		"with BOM": []byte(`{"a":"` + "\ufeff" + `"}`),
	}
	for name, body := range bodies {
		for _, e := range []sqshook.Encoding{"", sqshook.EncodingRaw, sqshook.EncodingBase64, sqshook.EncodingGzip} {
			sent, err := sqshook.SizeGuard{Encoding: e}.Prepare(body, nil)
			if err != nil {
				t.Fatalf("%s/%q: Prepare: %v", name, e, err)
			}
			if err := sqshook.CheckBody([]byte(sent)); err != nil {
				t.Errorf("%s/%q: encoded body is not SQS-legal: %v", name, e, err)
			}
			got, err := sqshook.DecodeBody(sent)
			if err != nil || !bytes.Equal(got, body) {
				t.Errorf("%s/%q: DecodeBody = %q, %v; want %q", name, e, got, err, body)
			}
		}
	}
	// A repaired raw body decodes to the repaired JSON: the same value.
	bad := []byte("{\"a\":\"x\x01\"}")
	sent, err := sqshook.SizeGuard{}.Prepare(bad, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := sqshook.DecodeBody(sent); err != nil || string(got) != `{"a":"x\u0001"}` {
		t.Errorf("DecodeBody(repaired) = %q, %v", got, err)
	}
}

func TestDecodeBody(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"a":1}`))
	zw.Close()
	gzBytes := gz.Bytes()
	tests := []struct {
		name string
		body string
		want string // "" = error
	}{
		// Valid JSON comes first, even when it is also valid base64.
		{"JSON number that is valid base64", "1234", "1234"},
		{"JSON true that is valid base64", "true", "true"},
		{"JSON null that is valid base64", "null", "null"},
		{"raw object", `{"a":1}`, `{"a":1}`},
		{"base64 object", b64(`{"a":1}`), `{"a":1}`},
		{"base64 array", b64(`[1]`), `[1]`},
		{"base64 number", b64(`12`), `12`},
		{"base64 with line breaks, which parseSqs refuses", "eyJh\r\nIjoxfQ==", ""},
		{"base64 with a line feed", "eyJh\nIjoxfQ==", ""},
		{"gzip", sizeGzipB64(t, []byte(`{"a":1}`)), `{"a":1}`},
		{"gzip of two JSON documents", base64.StdEncoding.EncodeToString(append(append([]byte{}, gzBytes...), gzBytes...)), ""},
		{"empty", "", ""},
		{"garbage", "not json, not base64!", ""},
		{"base64 of non-JSON", b64("hello"), ""},
		{"valid base64, not JSON", "abcd", ""},
		{"unpadded base64", "eyJhIjoxfQ", ""},
		{"URL-safe base64", base64.URLEncoding.EncodeToString([]byte(`{"a":"??>"}`)), ""},
		{"corrupt gzip header", base64.StdEncoding.EncodeToString([]byte{0x1f, 0x8b, 8, 0, 0, 0}), ""},
		{"truncated gzip", base64.StdEncoding.EncodeToString(gzBytes[:len(gzBytes)-5]), ""},
		{"gzip with a bad checksum", base64.StdEncoding.EncodeToString(append(append([]byte{}, gzBytes[:len(gzBytes)-8]...), 0, 0, 0, 0, 7, 0, 0, 0)), ""},
		{"gzip of non-JSON", sizeGzipB64(t, []byte("hello")), ""},
		{"raw JSON with a raw tab in a string", "{\"a\":\"\t\"}", ""},
	}
	for _, tt := range tests {
		got, err := sqshook.DecodeBody(tt.body)
		if tt.want == "" {
			if err == nil || !errors.Is(err, sqshook.ErrInvalidBody) {
				t.Errorf("%s: DecodeBody(%q) = %q, %v; want an error wrapping ErrInvalidBody", tt.name, tt.body, got, err)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: DecodeBody(%q) = %q, %v; want %q", tt.name, tt.body, got, err, tt.want)
		}
	}
}

func TestDecodeBodyLimit(t *testing.T) {
	// A decompression bomb: 17 MiB of spaces around a JSON value inflate from
	// a few KiB.
	bombJSON := append(append(bytes.Repeat([]byte(" "), 17<<20), '1'), ' ')
	bomb := sizeGzipB64(t, bombJSON)
	if len(bomb) > 100<<10 {
		t.Fatalf("bomb is %d bytes, want a small body", len(bomb))
	}
	tests := []struct {
		name     string
		body     string
		max      int
		wantLen  int // 0 = error
		contains string
	}{
		{"bomb with the default cap", bomb, 0, 0, "inflates past 16777216 bytes"},
		{"bomb under a small cap", bomb, 1 << 20, 0, "inflates past 1048576 bytes"},
		{"bomb under a larger cap", bomb, 18 << 20, len(bombJSON), ""},
		{"gzip exactly at the cap", sizeGzipB64(t, []byte(`[1]`)), 3, 3, ""},
		{"gzip one over the cap", sizeGzipB64(t, []byte(`[1]`)), 2, 0, "inflates past 2 bytes"},
		{"raw over the cap", `[1,2]`, 4, 0, "more than 4"},
		{"raw at the cap", `[1,2]`, 5, 5, ""},
		{"base64 over the cap", base64.StdEncoding.EncodeToString([]byte(`[1,2]`)), 4, 0, "more than 4"},
		{"base64 at the cap", base64.StdEncoding.EncodeToString([]byte(`[1,2]`)), 5, 5, ""},
	}
	for _, tt := range tests {
		var got []byte
		var err error
		if tt.max == 0 {
			got, err = sqshook.DecodeBody(tt.body)
		} else {
			got, err = sqshook.DecodeBodyLimit(tt.body, tt.max)
		}
		if tt.wantLen == 0 {
			if err == nil || !errors.Is(err, sqshook.ErrInvalidBody) || !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("%s: got %d bytes, %v; want an error with %q", tt.name, len(got), err, tt.contains)
			}
			continue
		}
		if err != nil || len(got) != tt.wantLen {
			t.Errorf("%s: got %d bytes, %v; want %d bytes", tt.name, len(got), err, tt.wantLen)
		}
	}
	if got, err := sqshook.DecodeBodyLimit(`{"a":1}`, -1); err != nil || string(got) != `{"a":1}` {
		t.Errorf("DecodeBodyLimit(max -1) = %q, %v; want the default cap", got, err)
	}
}

func TestCheckFIFOFields(t *testing.T) {
	tests := []struct {
		name string
		v    string
		ok   bool
	}{
		{"typical", "messaging:general", true},
		{"all punctuation", `!"#$%&'()*+,-./:;<=>?@[\]^_` + "`{|}~", true},
		{"alphanumerics", "ABCXYZabcxyz0189", true},
		{"one character", "a", true},
		{"128 characters", strings.Repeat("a", 128), true},
		{"129 characters", strings.Repeat("a", 129), false},
		{"empty", "", false},
		{"space", "has space", false},
		{"tab", "tab\t", false},
		{"DEL", "a\x7f", false},
		{"NUL", "a\x00", false},
		{"non-ASCII letter", "é", false},
		{"emoji", "👋", false},
		{"long non-ASCII", strings.Repeat("é", 100), false},
	}
	checks := []struct {
		field string
		check func(string) error
	}{
		{"MessageGroupId", sqshook.CheckGroupID},
		{"MessageDeduplicationId", sqshook.CheckDeduplicationID},
	}
	for _, tt := range tests {
		for _, c := range checks {
			err := c.check(tt.v)
			if (err == nil) != tt.ok {
				t.Errorf("%s: %s(%q) = %v, want ok=%v", tt.name, c.field, tt.v, err, tt.ok)
			}
			if ge := sizeGuardErr(t, err); ge != nil && (ge.Field != c.field || ge.Reason != sqshook.ReasonInvalidField || ge.Detail == "") {
				t.Errorf("%s: %s(%q) = %+v, want invalid_field on %s with a detail", tt.name, c.field, tt.v, ge, c.field)
			}
		}
	}
}

func TestCheckAttributes(t *testing.T) {
	one := func(name string, v types.MessageAttributeValue) map[string]types.MessageAttributeValue {
		return map[string]types.MessageAttributeValue{name: v}
	}
	typed := func(dt, v string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String(dt), StringValue: aws.String(v)}
	}
	binary := func(dt string, v []byte) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String(dt), BinaryValue: v}
	}
	many := func(n int) map[string]types.MessageAttributeValue {
		m := map[string]types.MessageAttributeValue{}
		for i := range n {
			m[fmt.Sprintf("a%d", i)] = sizeStrAttr("v")
		}
		return m
	}
	tests := []struct {
		name  string
		attrs map[string]types.MessageAttributeValue
		field string // "" = valid
	}{
		{"nil", nil, ""},
		{"plain", map[string]types.MessageAttributeValue{"tenant_id": sizeStrAttr("a"), "x.y-z": sizeStrAttr("b"), "A9": sizeStrAttr("c")}, ""},
		{"ten", many(10), ""},
		{"eleven", many(11), "MessageAttributes"},
		{"256-character name", one(strings.Repeat("n", 256), sizeStrAttr("a")), ""},
		{"257-character name", one(strings.Repeat("n", 257), sizeStrAttr("a")), "MessageAttributes[" + strings.Repeat("n", 257) + "]"},
		{"empty name", one("", sizeStrAttr("a")), "MessageAttributes[]"},
		{"AWS. prefix", one("AWS.trace", sizeStrAttr("a")), "MessageAttributes[AWS.trace]"},
		{"aws. prefix in lower case", one("aws.trace", sizeStrAttr("a")), "MessageAttributes[aws.trace]"},
		{"Amazon. prefix", one("Amazon.x", sizeStrAttr("a")), "MessageAttributes[Amazon.x]"},
		{"AMAZON. prefix", one("AMAZON.x", sizeStrAttr("a")), "MessageAttributes[AMAZON.x]"},
		{"AWS without a period", one("AWSome", sizeStrAttr("a")), ""},
		{"amazonian", one("amazonian.x", sizeStrAttr("a")), ""},
		{"leading period", one(".x", sizeStrAttr("a")), "MessageAttributes[.x]"},
		{"trailing period", one("x.", sizeStrAttr("a")), "MessageAttributes[x.]"},
		{"two periods", one("a..b", sizeStrAttr("a")), "MessageAttributes[a..b]"},
		{"space", one("a b", sizeStrAttr("a")), "MessageAttributes[a b]"},
		{"non-ASCII", one("é", sizeStrAttr("a")), "MessageAttributes[é]"},
		{"Number", one("n", typed("Number", "-1.5e3")), ""},
		{"Number custom type", one("n", typed("Number.int", "1")), ""},
		{"String custom type", one("s", typed("String.uuid", "x")), ""},
		{"Binary", one("b", binary("Binary", []byte{0, 0xff})), ""},
		{"Binary custom type", one("b", binary("Binary.png", []byte{1})), ""},
		{"nil data type", one("a", types.MessageAttributeValue{StringValue: aws.String("a")}), "MessageAttributes[a]"},
		{"lower-case type", one("a", typed("string", "a")), "MessageAttributes[a]"},
		{"unknown type", one("a", typed("Text", "a")), "MessageAttributes[a]"},
		{"empty custom type", one("a", typed("String.", "a")), "MessageAttributes[a]"},
		{"type prefix only", one("a", typed("Str", "a")), "MessageAttributes[a]"},
		{"long custom type", one("a", typed("String."+strings.Repeat("t", 250), "a")), "MessageAttributes[a]"},
		{"illegal custom type", one("a", typed("String.\x01", "a")), "MessageAttributes[a]"},
		{"empty String", one("a", sizeStrAttr("")), "MessageAttributes[a]"},
		{"nil String", one("a", types.MessageAttributeValue{DataType: aws.String("String")}), "MessageAttributes[a]"},
		{"empty Number", one("a", typed("Number", "")), "MessageAttributes[a]"},
		{"Number in BinaryValue", one("a", binary("Number", []byte("1"))), "MessageAttributes[a]"},
		{"empty Binary", one("a", binary("Binary", nil)), "MessageAttributes[a]"},
		{"Binary in StringValue", one("a", typed("Binary", "x")), "MessageAttributes[a]"},
		{"illegal control in String", one("a", sizeStrAttr("x\x01")), "MessageAttributes[a]"},
		{"U+FFFF in String", one("a", sizeStrAttr("\uffff")), "MessageAttributes[a]"},
		{"invalid UTF-8 in String", one("a", sizeStrAttr("\xff")), "MessageAttributes[a]"},
		{"legal unicode String", one("a", sizeStrAttr("héllo 👋\t\n")), ""},
		{"first bad name in order", map[string]types.MessageAttributeValue{"z": sizeStrAttr(""), "m": sizeStrAttr(""), "ok": sizeStrAttr("a"), "b..": sizeStrAttr("a")}, "MessageAttributes[b..]"},
	}
	for _, tt := range tests {
		for range 3 { // map order varies between runs
			err := sqshook.CheckAttributes(tt.attrs)
			if tt.field == "" {
				if err != nil {
					t.Errorf("%s: CheckAttributes = %v, want nil", tt.name, err)
				}
				break
			}
			ge := sizeGuardErr(t, err)
			if ge == nil || ge.Reason != sqshook.ReasonInvalidField || ge.Field != tt.field || ge.Detail == "" {
				t.Errorf("%s: CheckAttributes = %v, want invalid_field on %s", tt.name, err, tt.field)
				break
			}
		}
	}
}

// BenchmarkSizeGuardPrepare measures Prepare on a 2 KB chat event. The raw
// case with a legal body must not allocate.
func BenchmarkSizeGuardPrepare(b *testing.B) {
	body := sizeChatBody(b, 2048)
	repair := bytes.Replace(body, []byte("release"), []byte("rel\x01ase"), 1)
	if bytes.Equal(repair, body) {
		b.Fatal("no repair point in the body")
	}
	cases := []struct {
		name string
		e    sqshook.Encoding
		body []byte
	}{
		{"raw", sqshook.EncodingRaw, body},
		{"raw-repair", sqshook.EncodingRaw, repair},
		{"base64", sqshook.EncodingBase64, body},
		{"gzip", sqshook.EncodingGzip, body},
	}
	attrs := map[string]types.MessageAttributeValue{"tenant": sizeStrAttr("acme")}
	for _, c := range cases {
		g := sqshook.SizeGuard{Encoding: c.e}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				if _, err := g.Prepare(c.body, attrs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSizeGuardCheckBody compares the legality scan with a plain
// utf8.DecodeRune loop on a chat event (mostly ASCII) and on multilingual
// text.
func BenchmarkSizeGuardCheckBody(b *testing.B) {
	chat := sizeChatBody(b, 2048)
	multi := []byte(strings.Repeat(`{"text":"Привет, как дела? 你好，今天开会吗？ 👋🎉 ok"}`, 30))
	for _, in := range []struct {
		name string
		body []byte
	}{{"chat", chat}, {"multilingual", multi}} {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.body)))
			for b.Loop() {
				if err := sqshook.CheckBody(in.body); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(in.name+"-reference", func(b *testing.B) {
			b.SetBytes(int64(len(in.body)))
			for b.Loop() {
				if sizeReferenceFirstIllegal(in.body) >= 0 {
					b.Fatal("illegal")
				}
			}
		})
	}
}

// BenchmarkSizeGuardDecodeBody measures the consumer side on a 2 KB event.
func BenchmarkSizeGuardDecodeBody(b *testing.B) {
	body := sizeChatBody(b, 2048)
	for _, e := range []sqshook.Encoding{sqshook.EncodingRaw, sqshook.EncodingBase64, sqshook.EncodingGzip} {
		sent, err := sqshook.SizeGuard{Encoding: e}.Prepare(body, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(string(e), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := sqshook.DecodeBody(sent); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// allocated returns the bytes f allocates (every goroutine counts, so the
// caller keeps the others idle).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// oversizedBodies are bodies far past the default limit: control
// characters that raw repair writes six times longer, and letters that
// gzip cannot shrink much.
func oversizedBodies() (control, letters []byte) {
	const n = 8 << 20
	control = append(append([]byte(`{"t":"`), bytes.Repeat([]byte{1}, n)...), `"}`...)
	rng := rand.New(rand.NewPCG(1, 2))
	letters = make([]byte, n)
	for i := range letters {
		letters[i] = byte('a' + rng.IntN(26))
	}
	letters = append(append([]byte(`{"t":"`), letters...), `"}`...)
	return control, letters
}

// TestPrepareRefusesOversizedBeforeEncoding: a body that cannot fit is
// refused as too_large without being encoded: the refusal allocates a
// small part of the body's size (encoding it would allocate 1.3 to 7
// times its size), and gzip stops once its output is past the limit.
func TestPrepareRefusesOversizedBeforeEncoding(t *testing.T) {
	control, letters := oversizedBodies()
	cases := []struct {
		name string
		g    sqshook.SizeGuard
		body []byte
	}{
		{"raw control characters", sqshook.SizeGuard{}, control},
		{"base64", sqshook.SizeGuard{Encoding: sqshook.EncodingBase64}, letters},
		{"gzip of letters", sqshook.SizeGuard{Encoding: sqshook.EncodingGzip}, letters},
	}
	for _, c := range cases {
		var err error
		n := allocated(func() { _, err = c.g.Prepare(c.body, nil) })
		var ge *sqshook.GuardError
		if !errors.As(err, &ge) || ge.Reason != sqshook.ReasonTooLarge || ge.Bytes <= ge.Max {
			t.Errorf("%s: Prepare error %v; want too_large with Bytes > Max", c.name, err)
		}
		if limit := uint64(len(c.body) / 4); n > limit {
			t.Errorf("%s: refusing a %d-byte body allocated %d bytes; want at most %d (refused before encoding)", c.name, len(c.body), n, limit)
		}
	}
	// Bodies that fit are still encoded and measured exactly.
	for _, g := range []sqshook.SizeGuard{{}, {Encoding: sqshook.EncodingBase64}, {Encoding: sqshook.EncodingGzip}} {
		body := []byte(`{"t":"` + strings.Repeat("x", 1000) + `"}`)
		if _, err := g.Prepare(body, nil); err != nil {
			t.Errorf("%q: Prepare of a small body: %v", g.Encoding, err)
		}
	}
	// A gzip body that compresses to fit is sent, however large it is
	// (up to the deflate bound).
	big := append(append([]byte(`{"t":"`), bytes.Repeat([]byte("a"), 4<<20)...), `"}`...)
	if _, err := (sqshook.SizeGuard{Encoding: sqshook.EncodingGzip}).Prepare(big, nil); err != nil {
		t.Errorf("gzip of 4 MiB of one letter: %v; want it accepted (it compresses to a few KiB)", err)
	}
}
