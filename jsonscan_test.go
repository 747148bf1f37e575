package sqshook

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestValidJSONAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range []string{
		`{}`, `[]`, ` {"a" : [1, -2.5e+3, true, false, null, "x\"y\\u00e9\n"]} `, `"plain"`, `0`, `-0.0E-0`,
		`{"a":1,}`, `[1,]`, `{"a"}`, `{"a":}`, `[01]`, `[1.]`, `[.5]`, `[1e]`, `[-]`, `["\x"]`, `["\u12G4"]`,
		"[\"tab\there\"]", `[tru]`, `nul`, `{"a":1}{}`, `{"a":1} x`, ``, ` `, `"unterminated`, `{"a":"b"`, `[1 2]`,
		`{"k":"` + strings.Repeat("long string with \"escapes\" and é ", 40) + `"}`,
		strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth),
		strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1),
		"\"\xff\xfe\"", `["a\/b"]`, `1e5`, `-`, `+1`, `[1,2`, `{"a":[{"b":{}}]}`,
	} {
		if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("validJSON(%.60q) = %v, json.Valid says %v", s, got, want)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	f.Add([]byte(`{"type":"message.new","cid":"messaging:x","n":[1,2.5e3,true,null],"t":"\u00e9\n"}`))
	f.Add([]byte(`[1,]`))
	f.Add([]byte(`{"text":"` + strings.Repeat("a long run of chat text ", 6) + `\u003c\"` + strings.Repeat("more text ", 8) + `"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Errorf("validJSON(%q) = %v, json.Valid says %v", b, got, want)
		}
	})
}

// BenchmarkValidJSON checks two events: one that is mostly a long text,
// and one shaped as Stream's, mostly short keys and values.
func BenchmarkValidJSON(b *testing.B) {
	text := []byte(`{"type":"message.new","cid":"messaging:fun-d5f396e3","message":{"id":"8bffc454","type":"regular","user":{"id":"tommaso","role":"user","banned":false,"online":false},"text":"` + strings.Repeat("welcome to the community ", 60) + `"},"channel_type":"messaging","channel_id":"fun-d5f396e3"}`)
	for _, c := range []struct {
		name string
		fn   func([]byte) bool
		body []byte
	}{
		{"text/sqshook", validJSON, text}, {"text/encoding-json", json.Valid, text},
		{"event/sqshook", validJSON, benchEventJSON(b)}, {"event/encoding-json", json.Valid, benchEventJSON(b)},
	} {
		body := c.body
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if !c.fn(body) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
