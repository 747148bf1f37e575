package sqshook

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	smithyjson "github.com/aws/smithy-go/encoding/json"
)

// TestJSONScannersAVX2 checks the AVX2 scanners against a byte-at-a-time
// reference: every length to 200, every byte value at every place.
func TestJSONScannersAVX2(t *testing.T) {
	if !jsonAVX2 {
		t.Log("no AVX2 on this CPU: the scanners are not used here; checking the fallback only")
	}
	special := func(c byte) bool { return c == '"' || c == '\\' || c < 0x20 }
	notPlain := func(c byte) bool { return !jsonPlain[c] }
	ref := func(b []byte, stop func(byte) bool) int {
		whole := len(b) &^ 31
		for i := range whole {
			if stop(b[i]) {
				return i
			}
		}
		return whole
	}
	r := rand.New(rand.NewPCG(7, 8))
	plain := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(0x20 + r.IntN(0x7f-0x20))
			for b[i] == '"' || b[i] == '\\' {
				b[i] = 'a'
			}
		}
		return b
	}
	check := func(b []byte) {
		t.Helper()
		if !jsonAVX2 {
			return
		}
		if got, want := indexJSONSpecialAVX2(b), ref(b, special); got != want {
			t.Fatalf("indexJSONSpecialAVX2(%q) = %d, want %d", b, got, want)
		}
		if got, want := indexNotPlainJSONAVX2(b), ref(b, notPlain); got != want {
			t.Fatalf("indexNotPlainJSONAVX2(%q) = %d, want %d", b, got, want)
		}
	}
	for n := range 201 {
		b := plain(n)
		check(b)
		for i := range n {
			for _, c := range []byte{'"', '\\', 0, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xff, 'a'} {
				old := b[i]
				b[i] = c
				check(b)
				b[i] = old
			}
		}
	}
}

// TestJSONScanBothWays runs the grammar check and the encoder with and
// without the AVX2 scanners over long strings with specials at every
// place, against encoding/json and the SDK's encoder.
func TestJSONScanBothWays(t *testing.T) {
	defer func(v bool) { jsonAVX2 = v }(jsonAVX2)
	text := strings.Repeat("Welcome to the Community! ", 12)
	for _, avx := range []bool{false, true} {
		jsonAVX2 = avx
		for i := range len(text) {
			for _, ins := range []string{`"`, `\`, `\"`, `\\`, `\n`, `\u003c`, `\u12G4`, "\n", "\x00", "é", "\u2028", "\xff", "😀"} {
				s := text[:i] + ins + text[i:]
				doc := []byte(`{"text":"` + s + `","n":1}`)
				if got, want := validJSON(doc), json.Valid(doc); got != want {
					t.Fatalf("avx %v: validJSON(%q) = %v, json.Valid says %v", avx, doc, got, want)
				}
				enc := smithyjson.NewEncoder()
				enc.Value.String(s)
				if got := appendJSONString(nil, s); !bytes.Equal(got, enc.Bytes()) {
					t.Fatalf("avx %v: appendJSONString(%q) = %q, the SDK writes %q", avx, s, got, enc.Bytes())
				}
			}
		}
	}
}
