package streamapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/streamapi"
)

// nopApplier accepts every list.
type nopApplier struct{}

func (nopApplier) ApplyHooks(context.Context, string, []sqshook.Hook) error { return nil }

// FuzzUpdateApp sends arbitrary PATCH /app bodies to an app with a stored
// hook: the answer is always a 200 or a Stream-shaped error, never a panic,
// and never shows the stored secret; a refused update changes nothing.
func FuzzUpdateApp(f *testing.F) {
	for _, seed := range []string{
		`{"event_hooks": []}`,
		`{"event_hooks": [{"id": "h1", "enabled": true, "hook_type": "sqs", "sqs_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/q", "sqs_region": "us-east-1", "sqs_auth_type": "keys", "sqs_key": "…MPLE", "sqs_secret": "[REDACTED]", "event_types": []}]}`,
		`{"event_hooks": [{"hook_type": "webhook", "enabled": true, "webhook_url": "https://example.com"}], "explicit_event_hooks_deletion": true}`,
		`{"event_hooks": [{"id": "h1", "hook_type": "sqs", "delete": true}], "explicit_event_hooks_deletion": true}`,
		`{"event_hooks": null}`, `[]`, `{`, `{"event_hooks": [1, "x", null]}`, `{"other": 1}`,
	} {
		f.Add(seed)
	}
	const stored = `{"id":"h1","enabled":true,"hook_type":"sqs","sqs_queue_url":"https://sqs.us-east-1.amazonaws.com/123456789012/q","sqs_region":"us-east-1","sqs_auth_type":"keys","sqs_key":"` + hookKey + `","sqs_secret":"` + hookSecret + `","event_types":[]}`
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"server": true}).SignedString([]byte(secretA))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		store := streamapi.NewMemoryStore()
		if err := store.Save(context.Background(), "tenant-a", []json.RawMessage{json.RawMessage(stored)}); err != nil {
			t.Fatal(err)
		}
		h, err := streamapi.New(streamapi.Options{Apps: testApps(), Store: store, Applier: nopApplier{}, Logger: slogTo(&syncBuffer{})})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPatch, "/app?api_key="+keyA, strings.NewReader(body))
		req.Header.Set("Authorization", token)
		req.Header.Set("stream-auth-type", "jwt")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var got map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("answer is not JSON: %v: %s", err, rec.Body)
		}
		if strings.Contains(rec.Body.String(), hookSecret) {
			t.Fatalf("answer shows the stored secret: %s", rec.Body)
		}
		after, _ := store.Load(context.Background(), "tenant-a")
		if rec.Code != http.StatusOK {
			for _, f := range []string{"code", "message", "StatusCode", "duration", "more_info"} {
				if _, ok := got[f]; !ok {
					t.Fatalf("error without %q: %s", f, rec.Body)
				}
			}
			if len(after) != 1 || string(after[0]) != stored {
				t.Fatalf("a refused update changed the store: %s", after)
			}
		}
	})
}
