package sqshook

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	smithyjson "github.com/aws/smithy-go/encoding/json"
)

// TestJSONScannerAVX2 checks the AVX2 scanner against a byte-at-a-time
// reference: every length to 200, every byte value at every place.
func TestJSONScannerAVX2(t *testing.T) {
	if !jsonAVX2 {
		t.Log("no AVX2 on this CPU: the scanner is not used here; nothing to check")
		return
	}
	special := func(c byte) bool { return c == '"' || c == '\\' || c < 0x20 }
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
		if got, want := indexJSONSpecialAVX2(b), ref(b, special); got != want {
			t.Fatalf("indexJSONSpecialAVX2(%q) = %d, want %d", b, got, want)
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

// TestEscapeJSONKernels checks the AVX-512 and AVX2 escapers against a
// byte-at-a-time reference: every length to 200, every byte value at
// every place, quotes and backslashes at random among them, and every
// room in dst around each one's limit.
func TestEscapeJSONKernels(t *testing.T) {
	for _, k := range []struct {
		name        string
		ok          bool
		fn          func(dst, src []byte) (int, int)
		chunk, room int // bytes read at a time; room in dst needed for one chunk
	}{
		{"avx512", jsonAVX512, escapeJSONAVX512, 32, 64},
		{"avx2", jsonEscAVX2, escapeJSONAVX2, 16, 32},
	} {
		t.Run(k.name, func(t *testing.T) {
			if !k.ok {
				t.Logf("this CPU cannot run the %s escaper: it is not used here; nothing to check", k.name)
				return
			}
			checkEscapeKernel(t, k.fn, k.chunk, k.room)
		})
	}
}

// checkEscapeKernel checks fn, an escaper reading chunk bytes at a time
// while dst has room bytes of room, against a byte-at-a-time reference.
func checkEscapeKernel(t *testing.T, fn func(dst, src []byte) (int, int), chunk, roomNeeded int) {
	hard := func(c byte) bool { return c < 0x20 || c >= 0x80 }
	// ref returns what the escaper should read of src with room bytes
	// of dst, and write.
	ref := func(src []byte, room int) (int, []byte) {
		var out []byte
		read := 0
		for read+chunk <= len(src) && room-len(out) >= roomNeeded {
			c := src[read : read+chunk]
			for i, b := range c {
				if hard(b) {
					return read + i, append(out, escapeRef(c[:i])...)
				}
			}
			out = append(out, escapeRef(c)...)
			read += chunk
		}
		return read, out
	}
	r := rand.New(rand.NewPCG(9, 10))
	gen := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			switch r.IntN(8) {
			case 0:
				b[i] = '"'
			case 1:
				b[i] = '\\'
			default:
				b[i] = byte(0x20 + r.IntN(0x7f-0x20))
			}
		}
		return b
	}
	check := func(src []byte, room int) {
		t.Helper()
		// dst is room long, and what lies beyond it must stay as it is.
		buf := bytes.Repeat([]byte{0xa5}, room+128)
		dst := buf[:room]
		read, written := fn(dst, src)
		wantRead, want := ref(src, room)
		if read != wantRead || !bytes.Equal(dst[:written], want) {
			t.Fatalf("room %d, %q: read %d and wrote %q, want %d and %q", room, src, read, dst[:written], wantRead, want)
		}
		if i := slices.IndexFunc(buf[room:], func(c byte) bool { return c != 0xa5 }); i >= 0 {
			t.Fatalf("room %d, %q: wrote past dst, at %d", room, src, room+i)
		}
	}
	for n := range 201 {
		b := gen(n)
		check(b, 2*n+roomNeeded)
		for i := range n {
			for _, c := range []byte{'"', '\\', 0, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xe2, 0xff, 'a'} {
				old := b[i]
				b[i] = c
				check(b, 2*n+roomNeeded)
				b[i] = old
			}
		}
		for room := range 200 {
			check(b, room)
		}
	}
}

// escapeRef escapes the quotes and backslashes of b, all of its bytes
// being ASCII other than control characters.
func escapeRef(b []byte) []byte {
	var out []byte
	for _, c := range b {
		if c == '"' || c == '\\' {
			out = append(out, '\\')
		}
		out = append(out, c)
	}
	return out
}

// TestJSONScanBothWays runs the grammar check and the encoder without
// vector code, with the AVX2 scanner and escaper, and with the AVX-512
// escaper, over long strings with specials at every place, against
// encoding/json and the SDK's encoder.
func TestJSONScanBothWays(t *testing.T) {
	defer func(v, w, e bool) { jsonAVX2, jsonAVX512, jsonEscAVX2 = v, w, e }(jsonAVX2, jsonAVX512, jsonEscAVX2)
	text := strings.Repeat("Welcome to the \"Community\"! ", 12)
	hasAVX2, hasAVX512, hasEscAVX2 := jsonAVX2, jsonAVX512, jsonEscAVX2
	for _, way := range []struct{ avx2, avx512 bool }{{false, false}, {true, false}, {true, true}} {
		if (way.avx2 && !(hasAVX2 && hasEscAVX2)) || (way.avx512 && !hasAVX512) {
			t.Logf("this CPU lacks what %+v needs: not checked", way)
			continue
		}
		jsonAVX2, jsonEscAVX2, jsonAVX512 = way.avx2, way.avx2, way.avx512
		avx := way
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

// BenchmarkAppendJSONString escapes a 1.5 KB Stream-shaped event, as the
// lean path writes each body into its request, with no vector code, with
// the AVX2 escaper and with the AVX-512 one, and reports each way's time
// as a ratio to the first's.
func BenchmarkAppendJSONString(b *testing.B) {
	body := string(benchEventJSON(b))
	hasAVX2, hasAVX512, hasEscAVX2 := jsonAVX2, jsonAVX512, jsonEscAVX2
	defer func() { jsonAVX2, jsonAVX512, jsonEscAVX2 = hasAVX2, hasAVX512, hasEscAVX2 }()
	var base float64
	buf := make([]byte, 0, 4*len(body))
	for _, way := range []struct {
		name         string
		avx2, avx512 bool
	}{{"words", false, false}, {"avx2", true, false}, {"avx512", true, true}} {
		if (way.avx2 && !(hasAVX2 && hasEscAVX2)) || (way.avx512 && !hasAVX512) {
			continue
		}
		b.Run(way.name, func(b *testing.B) {
			jsonAVX2, jsonEscAVX2, jsonAVX512 = way.avx2, way.avx2, way.avx512
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				buf = appendJSONString(buf[:0], body)
			}
			ns := float64(b.Elapsed()) / float64(b.N)
			if base == 0 {
				base = ns
			}
			b.ReportMetric(ns/base, "x-words")
		})
	}
}

// benchEventJSON returns a 1.5 KB message.new event shaped as Stream's:
// nested objects, short keys and values, and a paragraph of text.
func benchEventJSON(tb testing.TB) []byte {
	user := map[string]any{"id": "tommaso", "role": "user", "name": "Tommaso Barbugli", "image": "https://example.com/a.png",
		"banned": false, "online": true, "created_at": "2026-11-02T10:11:12.123456Z", "teams": []string{"blue", "green"}}
	event := map[string]any{"type": "message.new", "cid": "messaging:fun-d5f396e3", "channel_type": "messaging",
		"channel_id": "fun-d5f396e3", "created_at": "2026-12-07T10:11:12.123456Z", "user": user, "watcher_count": 3,
		"message": map[string]any{"id": "8bffc454-4d4a-4a9e-9a9e-1d2c3b4a5f6e", "type": "regular", "user": user,
			"text": strings.Repeat("Welcome to the community, glad you are here! ", 16), "attachments": []any{},
			"latest_reactions": []any{}, "mentioned_users": []any{}, "reaction_counts": map[string]int{"like": 2},
			"created_at": "2026-12-07T10:11:12.123456Z", "updated_at": "2026-12-07T10:11:12.123456Z", "silent": false}}
	doc, err := json.Marshal(event)
	if err != nil {
		tb.Fatal(err)
	}
	return doc
}
