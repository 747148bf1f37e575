package streamapi_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/internal/streamclient"
)

// TestDecodeBodyAgreesWithParseSqs gives the same SQS message bodies to
// sqshook.DecodeBody and to the parseSqs of Stream's clients (stream-chat
// and @stream-io/node-sdk): every body one of them reads the other reads
// to the same event, and every body parseSqs refuses DecodeBody refuses,
// except raw JSON, which DecodeBody reads for consumers of hooks that chose
// raw bodies.
func TestDecodeBodyAgreesWithParseSqs(t *testing.T) {
	node := streamClient(t)
	gz := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		_, _ = w.Write([]byte(s))
		_ = w.Close()
		return b.Bytes()
	}
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	event := `{"type":"message.new","cid":"messaging:general","message":{"text":"héllo ☃ \ud83d\ude00"}}`
	long := `{"type":"message.new","text":"` + strings.Repeat("chat ", 3000) + `"}`
	enc := b64([]byte(event))
	encGz := b64(gz(event))
	twoMembers := b64(append(gz(`{"type":"a",`), gz(`"n":1}`)...))
	sent, err := sqshook.SizeGuard{Encoding: sqshook.EncodingGzip}.Prepare([]byte(long), nil)
	if err != nil {
		t.Fatal(err)
	}
	sentB64, err := sqshook.SizeGuard{Encoding: sqshook.EncodingBase64}.Prepare([]byte(event), nil)
	if err != nil {
		t.Fatal(err)
	}
	bodies := []string{
		enc, encGz, sent, sentB64, twoMembers,
		b64([]byte(`[1,2,3]`)), b64([]byte(`"text"`)), b64([]byte(` {"a":1} `)),
		enc[:40] + "\n" + enc[40:],      // a line break: Go's decoder skips it
		enc[:40] + "\r\n" + enc[40:],    // so does Go's
		strings.TrimRight(enc+"A", "="), // unpadded length
		strings.TrimRight(enc, "="),     // padding left off
		" " + enc,                       // a leading space
		enc + " ",                       // a trailing space
		strings.NewReplacer("+", "-", "/", "_").Replace(b64([]byte(`{"k":"???>>>"}`))), // URL-safe alphabet
		b64([]byte(`not json`)), b64(gz(`not json`)), b64(gz(event)[:20]), // not JSON, gzip cut short
		b64([]byte("\xef\xbb\xbf" + event)),       // a byte order mark
		b64([]byte(`{"a":"` + "\xff\xfe" + `"}`)), // invalid UTF-8 in a string
		"", "====", "1234", "true",
		event, // raw JSON: DecodeBody only
	}
	parsed := streamclient.Parse(t, node, clientDir, "http://127.0.0.1:1", keyA, secretA, bodies)
	for i, body := range bodies {
		p := parsed[i]
		got, err := sqshook.DecodeBody(body)
		var fromGo any
		if err == nil {
			if jerr := json.Unmarshal(got, &fromGo); jerr != nil {
				t.Errorf("body %d: DecodeBody returned what is not JSON: %v", i, jerr)
			}
		}
		if (p.Chat.Error == "") != (p.SDK.Error == "") {
			t.Errorf("body %d: stream-chat and node-sdk disagree: %v / %v", i, p.Chat, p.SDK)
		}
		raw := json.Valid([]byte(body))
		switch {
		case p.Chat.Error == "" && err != nil:
			t.Errorf("body %d %q: parseSqs reads it, DecodeBody refuses it: %v", i, short(body), err)
		case p.Chat.Error != "" && err == nil && !raw:
			t.Errorf("body %d %q: parseSqs refuses it (%s), DecodeBody reads it", i, short(body), p.Chat.Error)
		case p.Chat.Error == "" && !reflect.DeepEqual(p.Chat.Event, fromGo):
			t.Errorf("body %d %q: parseSqs read %.200v, DecodeBody %.200v", i, short(body), p.Chat.Event, fromGo)
		case raw && err != nil:
			t.Errorf("body %d %q: raw JSON refused by DecodeBody: %v", i, short(body), err)
		}
	}
}

func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
