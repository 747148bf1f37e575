// This file owns an app's delivery settings (Stream's
// enable_hook_payload_compression and this server's sqs_body_encoding),
// where they are kept (SettingsStore), how PATCH /app reads them, and the
// one rule that gives each SQS hook its body encoding (hookEncoding).

package streamapi

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sqshook/sqshook"
)

// The values of sqs_body_encoding, on an app and on an sqs hook.
const (
	// BodyEncodingStream follows Stream's SQS contract, which Stream's SDK
	// helpers (parseSqs in stream-chat-js, the Go, Python and other SDKs)
	// read: the event JSON in standard base64, gzipped first when the app's
	// enable_hook_payload_compression is on. It is the default.
	BodyEncodingStream = "stream"
	// BodyEncodingRaw sends the event JSON itself, for a consumer that
	// JSON-parses the message body as the example in Stream's SQS
	// documentation does. Compression does not apply.
	BodyEncodingRaw = "raw"
)

// bodyEncodings are the values sqs_body_encoding takes.
var bodyEncodings = []string{BodyEncodingStream, BodyEncodingRaw}

// AppSettings are an app's settings besides its hooks. The zero value is
// Stream's default: no compression, Stream's encoding.
type AppSettings struct {
	// EnableHookPayloadCompression is Stream's
	// enable_hook_payload_compression: the bodies of hooks with Stream's
	// encoding are gzipped, then written in base64. Default false.
	EnableHookPayloadCompression bool `json:"enable_hook_payload_compression,omitempty"`
	// SQSBodyEncoding is the app's sqs_body_encoding: BodyEncodingStream
	// or BodyEncodingRaw, the encoding of every sqs hook that does not name
	// its own. "" means BodyEncodingStream.
	SQSBodyEncoding string `json:"sqs_body_encoding,omitempty"`
}

// SettingsStore keeps each app's AppSettings. A Store that also implements
// it (MemoryStore and FileStore do) lets apps change them with PATCH /app;
// with a Store that does not, every app has the zero AppSettings and
// PATCH /app refuses to change them. LoadSettings returns the zero value
// for an app it does not know. The Handler serialises the calls for one
// app, as for Store.
type SettingsStore interface {
	LoadSettings(ctx context.Context, tenant string) (AppSettings, error)
	SaveSettings(ctx context.Context, tenant string, s AppSettings) error
}

// hookEncoding is the body encoding of one sqs hook as stored: the hook's
// own sqs_body_encoding, else the app's, else Stream's; Stream's is base64,
// or gzip (then base64) when the app's compression is on. Every hook's
// encoding is decided here and nowhere else.
func hookEncoding(app AppSettings, o hookObject) sqshook.Encoding {
	mode, _ := o.str("sqs_body_encoding")
	if mode == "" {
		mode = app.SQSBodyEncoding
	}
	switch {
	case mode == BodyEncodingRaw:
		return sqshook.EncodingRaw
	case app.EnableHookPayloadCompression:
		return sqshook.EncodingGzip
	default:
		return sqshook.EncodingBase64
	}
}

// checkBodyEncoding reports what is wrong with an sqs_body_encoding value
// ("" when it is one of bodyEncodings).
func checkBodyEncoding(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return fmt.Sprintf("must be a string, one of %q", bodyEncodings)
	}
	for _, v := range bodyEncodings {
		if s == v {
			return ""
		}
	}
	return fmt.Sprintf("unknown body encoding %q; one of %q", s, bodyEncodings)
}

// loadSettings returns the app's settings, or the zero value when the
// Store keeps none.
func (h *Handler) loadSettings(ctx context.Context, tenant string) (AppSettings, error) {
	ss, ok := h.opts.Store.(SettingsStore)
	if !ok {
		return AppSettings{}, nil
	}
	return ss.LoadSettings(ctx, tenant)
}
