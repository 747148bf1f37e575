package streamapi_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/streamapi"
)

// TestBodyEncodings: every sqs hook's encoding follows the app's settings
// (Stream's base64 by default, gzip with enable_hook_payload_compression)
// unless the app or the hook chooses raw bodies; GET /app shows the
// settings; settings alone re-apply the stored hooks.
func TestBodyEncodings(t *testing.T) {
	e := newEnv(t, nil)
	enc := func(id string) sqshook.Encoding {
		t.Helper()
		got, ok := e.ds.Encoding("tenant-a", id)
		if !ok {
			t.Fatalf("no applied hook %s", id)
		}
		return got
	}
	plain, raw := e.sqsHook(t, "plain"), e.sqsHook(t, "raw", "message.new")
	raw["sqs_body_encoding"] = "raw"
	wantOK(t, "hooks", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{plain, raw}}))
	hooks := hooksOf(t, e.asA(t, "GET", "/app", nil))
	idPlain, idRaw := hooks[0]["id"].(string), hooks[1]["id"].(string)
	if hooks[1]["sqs_body_encoding"] != "raw" {
		t.Errorf("the hook's sqs_body_encoding is not shown: %v", hooks[1])
	}
	settings := func() map[string]any {
		t.Helper()
		r := e.asA(t, "GET", "/app", nil)
		app, _ := r.body["app"].(map[string]any)
		if app["enable_hook_payload_compression"] != r.body["enable_hook_payload_compression"] {
			t.Errorf("settings differ between app and the top of GET /app: %s", r.raw)
		}
		return app
	}
	if s := settings(); s["enable_hook_payload_compression"] != false || s["sqs_body_encoding"] != "stream" {
		t.Errorf("default settings %v, want no compression, stream", s)
	}
	steps := []struct {
		patch     map[string]any
		wantPlain sqshook.Encoding
	}{
		{nil, sqshook.EncodingBase64},
		{map[string]any{"enable_hook_payload_compression": true}, sqshook.EncodingGzip},
		{map[string]any{"sqs_body_encoding": "raw"}, sqshook.EncodingRaw},
		{map[string]any{"sqs_body_encoding": "stream", "enable_hook_payload_compression": false}, sqshook.EncodingBase64},
	}
	for _, s := range steps {
		if s.patch != nil {
			wantOK(t, "settings", e.asA(t, "PATCH", "/app", s.patch))
		}
		if got := enc(idPlain); got != s.wantPlain {
			t.Errorf("after %v: the plain hook's encoding %q, want %q", s.patch, got, s.wantPlain)
		}
		if got := enc(idRaw); got != sqshook.EncodingRaw {
			t.Errorf("after %v: the raw hook's encoding %q, want raw", s.patch, got)
		}
	}
	// The bodies as they arrive.
	wantOK(t, "compress", e.asA(t, "PATCH", "/app", map[string]any{"enable_hook_payload_compression": true}))
	if s := settings(); s["enable_hook_payload_compression"] != true {
		t.Errorf("GET /app after turning compression on: %v", s)
	}
	e.publish(t, "tenant-a", "message.new", 2)
	e.flush(t)
	for _, c := range []struct {
		hook map[string]any
		ok   func(string) bool
	}{
		{plain, func(b string) bool { return strings.HasPrefix(b, "H4sI") }},
		{raw, func(b string) bool { return json.Valid([]byte(b)) }},
	} {
		msgs := e.sqs.Received(c.hook["sqs_queue_url"].(string))
		if len(msgs) != 2 {
			t.Fatalf("%d messages, want 2", len(msgs))
		}
		for _, m := range msgs {
			b := m.Body
			if !c.ok(b) {
				t.Errorf("body %.40s… is not in the hook's encoding", b)
			}
			if _, err := sqshook.DecodeBody(b); err != nil {
				t.Errorf("DecodeBody: %v", err)
			}
		}
	}
	// Bad values change nothing.
	for _, body := range []map[string]any{
		{"enable_hook_payload_compression": "yes"},
		{"sqs_body_encoding": "gzip"},
		{"event_hooks": []any{func() map[string]any { h := e.sqsHook(t, "bad"); h["sqs_body_encoding"] = "zip"; return h }()}},
		{"event_hooks": []any{map[string]any{"hook_type": "webhook", "enabled": true, "webhook_url": "https://example.com", "sqs_body_encoding": "raw"}}},
	} {
		wantError(t, "bad setting", e.asA(t, "PATCH", "/app", body), 400, streamapi.CodeInput)
	}
	if enc(idPlain) != sqshook.EncodingGzip || len(e.ds.Hooks("tenant-a")) != 2 {
		t.Errorf("a refused update changed the hooks")
	}
	// App B's hooks and settings are its own.
	if s := e.asB(t, "GET", "/app", nil).body["enable_hook_payload_compression"]; s != false {
		t.Errorf("app B's compression: %v, want its own default", s)
	}
}

// TestSettingsNeedASettingsStore: a Store that keeps no settings refuses a
// change of them, and serves Stream's defaults.
func TestSettingsNeedASettingsStore(t *testing.T) {
	e := newEnv(t, func(o *streamapi.Options) { o.Store = hooksOnly{streamapi.NewMemoryStore()} })
	msg := wantError(t, "compression", e.asA(t, "PATCH", "/app", map[string]any{"enable_hook_payload_compression": true}), 400, streamapi.CodeInput)
	if !strings.Contains(msg, "does not keep app settings") {
		t.Errorf("refusal %q does not say why", msg)
	}
	wantOK(t, "hooks", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{e.sqsHook(t, "h")}}))
	if got, _ := e.ds.Encoding("tenant-a", e.ds.Hooks("tenant-a")[0].ID); got != sqshook.EncodingBase64 {
		t.Errorf("encoding %q, want Stream's base64", got)
	}
}

type hooksOnly struct{ s *streamapi.MemoryStore }

func (h hooksOnly) Load(ctx context.Context, tenant string) ([]json.RawMessage, error) {
	return h.s.Load(ctx, tenant)
}

func (h hooksOnly) Save(ctx context.Context, tenant string, hooks []json.RawMessage) error {
	return h.s.Save(ctx, tenant, hooks)
}

// TestDeleteByIDAlone: with explicit_event_hooks_deletion, {id, delete:
// true} deletes a hook without its hook_type (every field of the SDKs'
// EventHook is optional); without an id it is refused.
func TestDeleteByIDAlone(t *testing.T) {
	e := newEnv(t, nil)
	wantOK(t, "setup", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{e.sqsHook(t, "a"), e.sqsHook(t, "b")}}))
	hooks := hooksOf(t, e.asA(t, "GET", "/app", nil))
	wantOK(t, "delete", e.asA(t, "PATCH", "/app", map[string]any{"explicit_event_hooks_deletion": true,
		"event_hooks": []any{map[string]any{"id": hooks[0]["id"], "delete": true}}}))
	left := hooksOf(t, e.asA(t, "GET", "/app", nil))
	if len(left) != 1 || left[0]["id"] != hooks[1]["id"] || len(e.ds.Hooks("tenant-a")) != 1 {
		t.Fatalf("after deleting %v: %v", hooks[0]["id"], left)
	}
	msg := wantError(t, "no id", e.asA(t, "PATCH", "/app", map[string]any{"explicit_event_hooks_deletion": true,
		"event_hooks": []any{map[string]any{"delete": true}}}), 400, streamapi.CodeInput)
	if !strings.Contains(msg, "event_hooks[0].id") {
		t.Errorf("refusal %q does not name the id", msg)
	}
}

// TestFileStoreSettings: a FileStore keeps settings next to the hooks and
// reads files written before it kept settings.
func TestFileStoreSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hooks.json")
	if err := os.WriteFile(path, []byte(`{"t1":[{"id":"a"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fs := streamapi.NewFileStore(path)
	if s, err := fs.LoadSettings(ctx, "t1"); err != nil || s != (streamapi.AppSettings{}) {
		t.Fatalf("settings of an old file: %v, %v", s, err)
	}
	want := streamapi.AppSettings{EnableHookPayloadCompression: true, SQSBodyEncoding: "raw"}
	if err := fs.SaveSettings(ctx, "t1", want); err != nil {
		t.Fatal(err)
	}
	again := streamapi.NewFileStore(path)
	if s, _ := again.LoadSettings(ctx, "t1"); s != want {
		t.Errorf("settings read back %v, want %v", s, want)
	}
	if l, err := again.Load(ctx, "t1"); err != nil || len(l) != 1 || string(l[0]) != `{"id":"a"}` {
		t.Errorf("hooks after saving settings: %s, %v", l, err)
	}
}
