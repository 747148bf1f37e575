package sqshook_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sqshook/sqshook"
)

func strAttr(v string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

func guardReason(t *testing.T, err error) sqshook.Reason {
	t.Helper()
	if err == nil {
		return ""
	}
	var ge *sqshook.GuardError
	if !errors.As(err, &ge) {
		t.Fatalf("error %v is not a *GuardError", err)
	}
	return ge.Reason
}

func TestMessageSize(t *testing.T) {
	attrs := map[string]types.MessageAttributeValue{
		"s": strAttr("abc"),                                                          // 1 + 6 + 3
		"n": {DataType: aws.String("Number"), StringValue: aws.String("42")},         // 1 + 6 + 2
		"b": {DataType: aws.String("Binary"), BinaryValue: []byte{1, 2, 3, 4, 5}},    // 1 + 6 + 5
		"c": {DataType: aws.String("String.custom"), StringValue: aws.String("xyz")}, // 1 + 13 + 3
	}
	if got, want := sqshook.MessageSize("0123456789", attrs), 10+10+9+12+17; got != want {
		t.Errorf("MessageSize = %d, want %d", got, want)
	}
	if got := sqshook.MessageSize("héllo", nil); got != 6 {
		t.Errorf("MessageSize(héllo) = %d, want 6 (bytes, not runes)", got)
	}
}

func TestSizeGuardLimits(t *testing.T) {
	g := sqshook.SizeGuard{MaxMessageBytes: 1000}
	attrs := map[string]types.MessageAttributeValue{"k": strAttr("vv")} // 1 + 6 + 2 = 9
	body := func(n int) []byte { return []byte(`"` + strings.Repeat("a", n-2) + `"`) }
	if _, err := g.Prepare(body(991), attrs); err != nil {
		t.Errorf("exactly at the limit: %v, want nil", err)
	}
	_, err := g.Prepare(body(992), attrs)
	var ge *sqshook.GuardError
	if !errors.As(err, &ge) || ge.Reason != sqshook.ReasonTooLarge || ge.Bytes != 1001 || ge.Max != 1000 {
		t.Fatalf("one byte over: %v, want too_large bytes=1001 max=1000", err)
	}
	if !strings.Contains(err.Error(), "bytes=1001 max=1000") {
		t.Errorf("error %q does not give the numbers", err)
	}
	// Measured after encoding: base64 grows by 4/3.
	b64 := sqshook.SizeGuard{MaxMessageBytes: 1000, Encoding: sqshook.EncodingBase64}
	if _, err := b64.Prepare(body(800), nil); guardReason(t, err) != sqshook.ReasonTooLarge {
		t.Errorf("800 bytes base64-encoded (1068) under a 1000 limit: %v, want too_large", err)
	}
	// Chat JSON too large raw fits gzipped.
	big := []byte(`{"text":"` + strings.Repeat("the same chat words again ", 20000) + `"}`)
	if _, err := (sqshook.SizeGuard{}).Prepare(big, nil); guardReason(t, err) != sqshook.ReasonTooLarge {
		t.Errorf("%d bytes raw: %v, want too_large", len(big), err)
	}
	gz, err := (sqshook.SizeGuard{Encoding: sqshook.EncodingGzip}).Prepare(big, nil)
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	if len(gz) > len(big)/10 {
		t.Errorf("gzip body is %d bytes for %d of repetitive JSON, want < 10%%", len(gz), len(big))
	}
	// Deterministic output.
	gz2, _ := (sqshook.SizeGuard{Encoding: sqshook.EncodingGzip}).Prepare(big, nil)
	if gz != gz2 {
		t.Errorf("gzip output differs between two runs")
	}
}

func TestSizeGuardValidate(t *testing.T) {
	tests := []struct {
		g    sqshook.SizeGuard
		want string
	}{
		{sqshook.SizeGuard{}, ""},
		{sqshook.SizeGuard{MaxMessageBytes: sqshook.MaxMessageBytesLimit, Encoding: sqshook.EncodingGzip}, ""},
		{sqshook.SizeGuard{MaxMessageBytes: 2_000_000}, "max_message_bytes: 2000000 is outside"},
		{sqshook.SizeGuard{MaxMessageBytes: -1}, "max_message_bytes"},
		{sqshook.SizeGuard{Encoding: "zstd"}, `body_encoding: unknown encoding "zstd"`},
	}
	for _, tt := range tests {
		err := tt.g.Validate()
		if (tt.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v.Validate() = %v, want %q", tt.g, err, tt.want)
		}
	}
}

func TestLegalCharacters(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		legal bool
	}{
		{"0x08", "a\x08b", false},
		{"tab", "a\tb", true},
		{"LF", "a\nb", true},
		{"CR", "a\rb", true},
		{"0x1F", "a\x1fb", false},
		{"space", "a b", true},
		{"DEL", "a\x7fb", true},
		{"U+D7FF", "a\ud7ffb", true},
		{"U+E000", "a\ue000b", true},
		{"U+FFFD", "a\ufffdb", true},
		{"U+FFFE", "a\ufffeb", false},
		{"U+FFFF", "a\uffffb", false},
		{"U+10000", "a\U00010000b", true},
		{"U+10FFFF", "a\U0010ffffb", true},
		{"invalid UTF-8", "a\xffb", false},
		{"truncated UTF-8", "a\xe2\x82", false},
		{"encoded surrogate", "a\xed\xa0\x80b", false},
		{"NUL", "a\x00b", false},
	}
	for _, tt := range tests {
		err := sqshook.CheckBody([]byte(tt.body))
		if (err == nil) != tt.legal {
			t.Errorf("%s: CheckBody = %v, want legal=%v", tt.name, err, tt.legal)
		}
		if err != nil && guardReason(t, err) != sqshook.ReasonInvalidContents {
			t.Errorf("%s: reason %v, want invalid_contents", tt.name, guardReason(t, err))
		}
	}
}

func TestRepairJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // "" = error
	}{
		{"legal", `{"a":"b"}`, `{"a":"b"}`},
		{"control in value", "{\"a\":\"x\x01y\"}", `{"a":"x\u0001y"}`},
		{"control in key", "{\"k\x02\":1}", `{"k\u0002":1}`},
		{"U+FFFE in string", "{\"a\":\"\ufffe\"}", `{"a":"\ufffe"}`},
		{"U+FFFF in string", "[\"\uffff\"]", `["\uffff"]`},
		{"after escaped quote", "{\"a\":\"q\\\"\x03\"}", `{"a":"q\"\u0003"}`},
		{"after escaped backslash", "{\"a\":\"q\\\\\",\"b\":\"\x04\"}", `{"a":"q\\","b":"\u0004"}`},
		{"control outside string", "{\"a\":1}\x01", ""},
		{"U+FFFE outside string", "[1,\ufffe]", ""},
		{"invalid UTF-8 in string", "{\"a\":\"\xff\"}", ""},
		{"not JSON", "not json \x01", ""},
	}
	for _, tt := range tests {
		got, err := sqshook.RepairJSON([]byte(tt.in))
		if tt.want == "" {
			if err == nil || guardReason(t, err) != sqshook.ReasonInvalidContents {
				t.Errorf("%s: RepairJSON = %q, %v; want invalid_contents", tt.name, got, err)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: RepairJSON = %q, %v; want %q", tt.name, got, err, tt.want)
			continue
		}
		if err := sqshook.CheckBody(got); err != nil {
			t.Errorf("%s: repaired body still illegal: %v", tt.name, err)
		}
		if json.Valid([]byte(tt.in)) && !sizeJSONEqual(t, []byte(tt.in), got) {
			t.Errorf("%s: repair changed the JSON value", tt.name)
		}
	}
	legal := []byte(`{"text":"héllo 👋"}`)
	out, err := sqshook.RepairJSON(legal)
	if err != nil || &out[0] != &legal[0] {
		t.Errorf("legal body was copied or refused: %v", err)
	}
}

func sizeJSONEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	decode := func(b []byte) (any, error) {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber() // numbers compare as text: 1E1000 is a valid JSON number
		var v any
		err := dec.Decode(&v)
		return v, err
	}
	va, errA := decode(a)
	vb, errB := decode(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

func TestEncodingsRoundTrip(t *testing.T) {
	body := chatEventJSON(t, "message.new", "round trip ✓")
	for _, enc := range []sqshook.Encoding{"", sqshook.EncodingRaw, sqshook.EncodingBase64, sqshook.EncodingGzip} {
		sent, err := (sqshook.SizeGuard{Encoding: enc}).Prepare(body, nil)
		if err != nil {
			t.Fatalf("%q: %v", enc, err)
		}
		if err := sqshook.CheckBody([]byte(sent)); err != nil {
			t.Errorf("%q: encoded body is not SQS-legal: %v", enc, err)
		}
		got, err := sqshook.DecodeBody(sent)
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("%q: DecodeBody = %d bytes, %v; want the event back", enc, len(got), err)
		}
	}
	// A JSON body that is also valid base64 is taken as JSON.
	if got, err := sqshook.DecodeBody("1234"); err != nil || string(got) != "1234" {
		t.Errorf("DecodeBody(1234) = %q, %v; want the JSON number as is", got, err)
	}
	if _, err := sqshook.DecodeBody("not json, not base64!"); err == nil {
		t.Errorf("DecodeBody(garbage) = nil error")
	}
	corrupt := base64.StdEncoding.EncodeToString([]byte{0x1f, 0x8b, 8, 0, 0, 0})
	if _, err := sqshook.DecodeBody(corrupt); err == nil {
		t.Errorf("DecodeBody(corrupt gzip) = nil error")
	}
	// A decompression bomb is capped.
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(bytes.Repeat([]byte("0"), 5<<20))
	zw.Close()
	bomb := base64.StdEncoding.EncodeToString(buf.Bytes())
	if _, err := sqshook.DecodeBodyLimit(bomb, 1<<20); err == nil || !strings.Contains(err.Error(), "inflates past") {
		t.Errorf("DecodeBodyLimit(5 MiB bomb, 1 MiB) = %v, want a size error", err)
	}
	if out, err := sqshook.DecodeBodyLimit(bomb, 6<<20); err != nil || len(out) != 5<<20 {
		t.Errorf("DecodeBodyLimit(5 MiB, 6 MiB) = %d bytes, %v", len(out), err)
	}
}

func TestFIFOFieldRules(t *testing.T) {
	tests := []struct {
		v  string
		ok bool
	}{
		{"messaging:general", true},
		{`!"#$%&'()*+,-./:;<=>?@[\]^_` + "`{|}~", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"", false},
		{"has space", false},
		{"tab\t", false},
		{"é", false},
	}
	for _, tt := range tests {
		for name, check := range map[string]func(string) error{"MessageGroupId": sqshook.CheckGroupID, "MessageDeduplicationId": sqshook.CheckDeduplicationID} {
			err := check(tt.v)
			if (err == nil) != tt.ok {
				t.Errorf("%s(%q) = %v, want ok=%v", name, tt.v, err, tt.ok)
			}
			var ge *sqshook.GuardError
			if err != nil && (!errors.As(err, &ge) || ge.Field != name || ge.Reason != sqshook.ReasonInvalidField) {
				t.Errorf("%s(%q) error %v does not name the field with invalid_field", name, tt.v, err)
			}
		}
	}
}

func TestAttributeRules(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string]types.MessageAttributeValue
		ok    bool
	}{
		{"plain", map[string]types.MessageAttributeValue{"tenant_id": strAttr("a"), "x.y-z": strAttr("b")}, true},
		{"binary", map[string]types.MessageAttributeValue{"b": {DataType: aws.String("Binary"), BinaryValue: []byte{0}}}, true},
		{"custom type", map[string]types.MessageAttributeValue{"n": {DataType: aws.String("Number.int"), StringValue: aws.String("1")}}, true},
		{"reserved AWS.", map[string]types.MessageAttributeValue{"AWS.x": strAttr("a")}, false},
		{"reserved amazon.", map[string]types.MessageAttributeValue{"amazon.x": strAttr("a")}, false},
		{"leading period", map[string]types.MessageAttributeValue{".x": strAttr("a")}, false},
		{"double period", map[string]types.MessageAttributeValue{"a..b": strAttr("a")}, false},
		{"bad character", map[string]types.MessageAttributeValue{"a b": strAttr("a")}, false},
		{"bad type", map[string]types.MessageAttributeValue{"a": {DataType: aws.String("Text"), StringValue: aws.String("a")}}, false},
		{"empty value", map[string]types.MessageAttributeValue{"a": strAttr("")}, false},
		{"illegal value", map[string]types.MessageAttributeValue{"a": strAttr("\x01")}, false},
		{"eleven", func() map[string]types.MessageAttributeValue {
			m := map[string]types.MessageAttributeValue{}
			for i := 0; i < 11; i++ {
				m[string(rune('a'+i))] = strAttr("v")
			}
			return m
		}(), false},
	}
	for _, tt := range tests {
		err := sqshook.CheckAttributes(tt.attrs)
		if (err == nil) != tt.ok {
			t.Errorf("%s: CheckAttributes = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && guardReason(t, err) != sqshook.ReasonInvalidField {
			t.Errorf("%s: reason %s, want invalid_field", tt.name, guardReason(t, err))
		}
	}
}

func FuzzRepairJSON(f *testing.F) {
	for _, s := range []string{`{"a":"b"}`, "{\"a\":\"\x01\"}", "[\"\ufffe\"]", "\x00", `"\\"`, "{\"a\":\"\\\x01\"}", "\xed\xa0\x80", `{"k":[1,2,{"x":"\u0000"}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := sqshook.RepairJSON(in)
		if err != nil {
			if json.Valid(in) && utf8.Valid(in) && sqshook.CheckBody(in) != nil {
				// Valid JSON with illegal characters: those can only be inside
				// strings, so repair must have worked.
				t.Fatalf("RepairJSON(valid JSON %q) = %v", in, err)
			}
			return
		}
		if err := sqshook.CheckBody(out); err != nil {
			t.Fatalf("RepairJSON(%q) = %q, still illegal: %v", in, out, err)
		}
		if json.Valid(in) && !sizeJSONEqual(t, in, out) {
			t.Fatalf("RepairJSON(%q) = %q changed the JSON value", in, out)
		}
	})
}

func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{`{"a":1}`, "eyJhIjoxfQ==", "H4sIAAAAAAAA/w==", "", "====", "1234"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		_, _ = sqshook.DecodeBodyLimit(body, 1<<16)
	})
}
