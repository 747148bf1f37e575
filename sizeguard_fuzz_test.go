package sqshook_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/sqshook/sqshook"
)

// sizeFuzzSeeds are inputs for every fuzz target of the size guard.
var sizeFuzzSeeds = []string{
	`{"a":"b"}`,
	"{\"a\":\"\x01\"}",
	"{\"k\x02\":[1,\"\x1f\"]}",
	"[\"\ufffe\",\"\uffff\"]",
	"\x00",
	`"\\"`,
	"[\"a\\\\\",\"\x05\"]",
	"{\"a\":\"\\\x01\"}",
	"\xed\xa0\x80",
	"[\"\x01\xff\"]",
	`{"k":[1,2,{"x":"\u0000"}]}`,
	"1E1000",
	"1234",
	"true",
	"{\n\t\"a\": \"\t\x01\"\r\n}",
	"[\"\x01",
	"héllo 👋 \U0010ffff",
	"0123456789abcdef\x0b",
}

// FuzzRepairJSON checks RepairJSON on any input: it never panics; when it
// succeeds, the output is SQS-legal, is the input itself when that was
// legal, is valid JSON when it differs from the input, and has the input's
// value when the input was valid JSON. Valid JSON in valid UTF-8 can always
// be repaired.
func FuzzRepairJSON(f *testing.F) {
	for _, s := range sizeFuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		out, err := sqshook.RepairJSON(in)
		if !bytes.Equal(in, orig) {
			t.Fatalf("RepairJSON modified its input")
		}
		validJSON := json.Valid(in)
		if err != nil {
			var ge *sqshook.GuardError
			if !errors.As(err, &ge) || ge.Reason != sqshook.ReasonInvalidContents {
				t.Fatalf("RepairJSON(%q) error %v, want a GuardError with invalid_contents", in, err)
			}
			if validJSON && utf8.Valid(in) {
				// Illegal characters in valid JSON can only be U+FFFE and
				// U+FFFF inside strings, which can be escaped.
				t.Fatalf("RepairJSON(valid JSON %q) = %v", in, err)
			}
			if sqshook.CheckBody(in) == nil {
				t.Fatalf("RepairJSON(legal %q) = %v", in, err)
			}
			return
		}
		if err := sqshook.CheckBody(out); err != nil {
			t.Fatalf("RepairJSON(%q) = %q, still illegal: %v", in, out, err)
		}
		if sqshook.CheckBody(in) == nil {
			if len(in) > 0 && &out[0] != &in[0] || len(out) != len(in) {
				t.Fatalf("RepairJSON(legal %q) returned a copy", in)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("RepairJSON(%q) = %q, not valid JSON", in, out)
		}
		if validJSON && !sizeJSONEqual(t, in, out) {
			t.Fatalf("RepairJSON(%q) = %q changed the JSON value", in, out)
		}
	})
}

// FuzzCheckBody compares the legality scan with the rule written out rune by
// rune.
func FuzzCheckBody(f *testing.F) {
	for _, s := range sizeFuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if got, want := sizeIllegalOffset(t, in), sizeReferenceFirstIllegal(in); got != want {
			t.Fatalf("CheckBody(%q) offset = %d, want %d", in, got, want)
		}
	})
}

// FuzzDecodeBody checks that DecodeBody never panics and, when it succeeds,
// returns valid JSON within the cap.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range append(sizeFuzzSeeds, "eyJhIjoxfQ==", "H4sIAAAAAAAA/w==", "H4sIAAAAAAAA/6pWSlSyUjI0UqoFBAAA//8=", "", "====", "abcd") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		const limit = 1 << 16
		out, err := sqshook.DecodeBodyLimit(body, limit)
		if err != nil {
			if !errors.Is(err, sqshook.ErrInvalidBody) {
				t.Fatalf("DecodeBodyLimit(%q) error %v does not wrap ErrInvalidBody", body, err)
			}
			return
		}
		if !json.Valid(out) || len(out) > limit {
			t.Fatalf("DecodeBodyLimit(%q) = %d bytes %q, want JSON within %d bytes", body, len(out), out, limit)
		}
	})
}

// FuzzSizeGuardRoundTrip checks that any valid JSON event survives every
// encoding: Prepare, then DecodeBody, gives the same JSON value, and base64
// output is never mistaken for raw JSON.
func FuzzSizeGuardRoundTrip(f *testing.F) {
	for _, s := range sizeFuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) || !utf8.Valid(in) {
			return
		}
		if json.Valid([]byte(base64.StdEncoding.EncodeToString(in))) {
			t.Fatalf("base64 of JSON %q is itself valid JSON", in)
		}
		for _, e := range []sqshook.Encoding{sqshook.EncodingRaw, sqshook.EncodingBase64, sqshook.EncodingGzip} {
			sent, err := sqshook.SizeGuard{MaxMessageBytes: sqshook.MaxMessageBytesLimit, Encoding: e}.Prepare(in, nil)
			if err != nil {
				var ge *sqshook.GuardError
				if errors.As(err, &ge) && ge.Reason == sqshook.ReasonTooLarge {
					continue
				}
				t.Fatalf("%s: Prepare(%q) = %v", e, in, err)
			}
			if err := sqshook.CheckBody([]byte(sent)); err != nil {
				t.Fatalf("%s: Prepare(%q) = %q, not SQS-legal: %v", e, in, sent, err)
			}
			out, err := sqshook.DecodeBody(sent)
			if err != nil {
				t.Fatalf("%s: DecodeBody(Prepare(%q)) = %v", e, in, err)
			}
			if e != sqshook.EncodingRaw && !bytes.Equal(out, in) {
				t.Fatalf("%s: round trip of %q gave %q", e, in, out)
			}
			if !sizeJSONEqual(t, in, out) {
				t.Fatalf("%s: round trip of %q gave %q, another value", e, in, out)
			}
		}
	})
}
