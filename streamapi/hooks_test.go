package streamapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/streamapi"
)

// webhookHook is a hook of another kind, with fields sqshook does not know.
func webhookHook() map[string]any {
	return map[string]any{
		"id": "wh-1", "enabled": true, "hook_type": "webhook", "product": "chat",
		"webhook_url": "https://example.com/hooks", "event_types": []any{"message.new"},
		"created_at": "2025-01-01T00:00:00Z",
	}
}

func TestReadAppendWriteBackKeepsSecrets(t *testing.T) {
	e := newEnv(t, nil)
	first := e.sqsHook(t, "first")
	wantOK(t, "first update", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{webhookHook(), first}}))

	got := e.asA(t, "GET", "/app", nil)
	wantOK(t, "GET /app", got)
	for _, s := range []string{hookSecret, hookKey} {
		if strings.Contains(got.raw, s) {
			t.Fatalf("GET /app shows the credential %q: %s", s, got.raw)
		}
	}
	hooks := hooksOf(t, got)
	if len(hooks) != 2 {
		t.Fatalf("got %d hooks, want 2: %s", len(hooks), got.raw)
	}
	// The other kind comes back exactly as sent, with an id.
	if want := webhookHook(); !reflect.DeepEqual(hooks[0], normalise(t, want)) {
		t.Errorf("webhook hook came back as %v, want %v", hooks[0], normalise(t, want))
	}
	if s := hooks[1]["sqs_secret"]; s != streamapi.SecretPlaceholder {
		t.Errorf("sqs_secret shown as %v, want %q", s, streamapi.SecretPlaceholder)
	}
	if k := hooks[1]["sqs_key"]; k != "…"+hookKey[len(hookKey)-4:] {
		t.Errorf("sqs_key shown as %v, want its last four characters", k)
	}
	firstID, _ := hooks[1]["id"].(string)
	if !uuidRE.MatchString(firstID) {
		t.Errorf("sqs hook id %q, want a generated UUID, as Stream gives", firstID)
	}

	// The documentation's flow: read, append, write the whole array back.
	second := e.sqsHook(t, "second", "message.*")
	second["sqs_secret"] = "second-hook-secret-abcdefghijklmnopqrstuv"
	all := append(asAny(hooks), second)
	wantOK(t, "write back", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": all}))

	after := hooksOf(t, e.asA(t, "GET", "/app", nil))
	if len(after) != 3 || after[1]["id"] != firstID {
		t.Fatalf("after write-back: %v, want the webhook, the first hook (id %s) and the new one", after, firstID)
	}
	// Storage and the dispatcher hold the real credentials of both hooks.
	applied := e.ds.Hooks("tenant-a")
	if len(applied) != 2 {
		t.Fatalf("dispatcher has %d hooks, want the 2 sqs hooks", len(applied))
	}
	for i, want := range []string{hookSecret, "second-hook-secret-abcdefghijklmnopqrstuv"} {
		if applied[i].SQSSecret != want || applied[i].SQSKey != hookKey {
			t.Errorf("dispatcher hook %d lost its credentials (secret kept: %v, key kept: %v)", i, applied[i].SQSSecret == want, applied[i].SQSKey == hookKey)
		}
	}
	stored, err := e.store.Load(context.Background(), "tenant-a")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fmt.Sprint(stored), "") || !strings.Contains(string(stored[1]), hookSecret) {
		t.Errorf("stored first hook lost its secret: %s", stored[1])
	}

	// Both hooks deliver with their credentials.
	e.publish(t, "tenant-a", "message.new", 3)
	e.flush(t)
	for _, q := range []string{"first", "second"} {
		if n := e.sqs.Count(e.sqs.QueueURL(q)); n != 3 {
			t.Errorf("queue %s got %d messages, want 3", q, n)
		}
	}

	// A changed secret replaces the stored one.
	after[1]["sqs_secret"] = "rotated-secret-0000000000000000000000000"
	wantOK(t, "rotate", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": asAny(after)}))
	if s := e.ds.Hooks("tenant-a")[0].SQSSecret; s != "rotated-secret-0000000000000000000000000" {
		t.Errorf("rotated secret not applied")
	}
	if strings.Contains(e.logs.String(), hookSecret) || strings.Contains(e.logs.String(), "rotated-secret") {
		t.Errorf("a secret was logged:\n%s", e.logs.String())
	}
}

// normalise turns v into what a JSON round trip gives.
func normalise(t *testing.T, v any) map[string]any {
	t.Helper()
	data, _ := json.Marshal(v)
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func asAny(hooks []map[string]any) []any {
	out := make([]any, len(hooks))
	for i, h := range hooks {
		out[i] = h
	}
	return out
}

func TestPlaceholderStandsOnlyForItsOwnHook(t *testing.T) {
	e := newEnv(t, nil)
	wantOK(t, "setup", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{e.sqsHook(t, "q1")}}))
	shown := hooksOf(t, e.asA(t, "GET", "/app", nil))[0]

	newHook := e.sqsHook(t, "q2")
	newHook["sqs_secret"] = streamapi.SecretPlaceholder
	otherKey := normalise(t, shown)
	otherKey["sqs_key"] = "AKIAANOTHERKEYEXAMPLE"
	otherApp := normalise(t, shown)

	cases := []struct {
		name  string
		as    func(*testing.T, string, string, any) response
		hooks []any
		field string
	}{
		{"placeholder on a new hook", e.asA, []any{shown, newHook}, "event_hooks[1].sqs_secret"},
		{"placeholder with another key", e.asA, []any{otherKey}, "event_hooks[0].sqs_secret"},
		{"masked key on a new hook", e.asA, []any{map[string]any{"enabled": true, "hook_type": "sqs", "sqs_queue_url": newHook["sqs_queue_url"],
			"sqs_region": "us-east-1", "sqs_auth_type": "keys", "sqs_key": shown["sqs_key"], "sqs_secret": "x-secret-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}, "event_hooks[0].sqs_key"},
		// App B writes back A's hook as A's GET showed it: B has no such
		// stored hook, so the placeholder stands for nothing.
		{"another app's hook", e.asB, []any{otherApp}, "event_hooks[0].sqs_secret"},
	}
	for _, c := range cases {
		r := c.as(t, "PATCH", "/app", map[string]any{"event_hooks": c.hooks})
		msg := wantError(t, c.name, r, http.StatusBadRequest, streamapi.CodeInput)
		fields, _ := r.body["exception_fields"].(map[string]any)
		if _, ok := fields[c.field]; !ok || !strings.Contains(msg, c.field) {
			t.Errorf("%s: error does not name %s: %s", c.name, c.field, r.raw)
		}
	}
	if got := e.ds.Hooks("tenant-a"); len(got) != 1 || got[0].SQSSecret != hookSecret {
		t.Errorf("A's hooks changed after refused updates")
	}
	if len(e.ds.Hooks("tenant-b")) != 0 {
		t.Errorf("B got hooks from a refused update")
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	e := newEnv(t, func(o *streamapi.Options) { o.MaxHooks = 5 })
	wantOK(t, "setup", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{webhookHook(), e.sqsHook(t, "kept")}}))
	before, _ := e.store.Load(context.Background(), "tenant-a")
	beforeHooks := e.ds.Hooks("tenant-a")

	valid := e.sqsHook(t, "valid")
	tooMany := make([]any, 6)
	for i := range tooMany {
		tooMany[i] = e.sqsHook(t, fmt.Sprintf("many-%d", i))
	}
	noRegion := e.sqsHook(t, "no-region")
	delete(noRegion, "sqs_region")
	noSecret := e.sqsHook(t, "no-secret")
	delete(noSecret, "sqs_secret")
	badAuth := e.sqsHook(t, "bad-auth")
	badAuth["sqs_auth_type"] = "password"
	noEnabled := e.sqsHook(t, "no-enabled")
	delete(noEnabled, "enabled")
	external := e.sqsHook(t, "external")
	external["sqs_external_id"] = "mine"
	dupA, dupB := e.sqsHook(t, "dup"), e.sqsHook(t, "dup")
	docKey := e.sqsHook(t, "doc-key")
	docKey["sqs_key"] = "yourkey"
	big := `{"event_hooks": [{"hook_type": "webhook", "enabled": true, "webhook_url": "https://example.com/` + strings.Repeat("a", 10<<20) + `"}]}`

	cases := []struct {
		name   string
		body   any
		status int
		want   []string // in the message
	}{
		{"malformed JSON", `{"event_hooks": [`, 400, []string{"JSON"}},
		{"not an object", `[1, 2]`, 400, []string{"JSON object"}},
		{"event_hooks not an array", `{"event_hooks": {"a": 1}}`, 400, []string{"event_hooks", "array"}},
		{"hook not an object", `{"event_hooks": [42]}`, 400, []string{"event_hooks[0]", "JSON object"}},
		{"10 MB body", big, 413, []string{"larger than the limit of 1048576 bytes"}},
		{"too many hooks", map[string]any{"event_hooks": tooMany}, 400, []string{"6 hooks", "limit of 5"}},
		{"no region", map[string]any{"event_hooks": []any{valid, noRegion}}, 400, []string{"event_hooks[1].sqs_region", "required"}},
		{"keys without secret", map[string]any{"event_hooks": []any{noSecret}}, 400, []string{"event_hooks[0].sqs_secret"}},
		{"unknown auth type", map[string]any{"event_hooks": []any{badAuth}}, 400, []string{"event_hooks[0].sqs_auth_type", "password"}},
		{"enabled missing", map[string]any{"event_hooks": []any{noEnabled}}, 400, []string{"event_hooks[0].enabled"}},
		{"external id", map[string]any{"event_hooks": []any{external}}, 400, []string{"event_hooks[0].sqs_external_id"}},
		{"unknown hook type", map[string]any{"event_hooks": []any{map[string]any{"hook_type": "carrier-pigeon", "enabled": true}}}, 400, []string{"event_hooks[0].hook_type", "carrier-pigeon"}},
		{"no hook type", map[string]any{"event_hooks": []any{map[string]any{"enabled": true}}}, 400, []string{"event_hooks[0].hook_type", "required"}},
		{"the documentation's placeholder key", map[string]any{"event_hooks": []any{docKey}}, 400, []string{"event_hooks[0].sqs_key"}},
		{"duplicate hooks", map[string]any{"event_hooks": []any{dupA, dupB}}, 400, []string{"event_hooks[1]", "settings of event_hooks[0]", "twice"}},
		{"duplicate ids across kinds", map[string]any{"event_hooks": []any{webhookHook(), map[string]any{"id": "wh-1", "hook_type": "sns", "enabled": true}}}, 400, []string{"event_hooks[1].id", "duplicate"}},
		{"unsupported setting", map[string]any{"event_hooks": []any{valid}, "webhook_url": "https://example.com"}, 400, []string{"webhook_url", "not supported"}},
	}
	for _, c := range cases {
		r := e.asA(t, "PATCH", "/app", c.body)
		code := streamapi.CodeInput
		if c.status == http.StatusRequestEntityTooLarge {
			code = streamapi.CodePayloadTooBig
		}
		msg := wantError(t, c.name, r, c.status, code)
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: message %q does not say %q", c.name, msg, w)
			}
		}
		if strings.Contains(r.raw, hookSecret) {
			t.Errorf("%s: the error shows a secret: %s", c.name, r.raw)
		}
	}
	// Nothing applied, nothing stored, nothing lost.
	after, _ := e.store.Load(context.Background(), "tenant-a")
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("store changed by refused updates:\n%s\nwant\n%s", after, before)
	}
	if got := e.ds.Hooks("tenant-a"); !reflect.DeepEqual(got, beforeHooks) {
		t.Errorf("dispatcher hooks changed by refused updates: %v, want %v", got, beforeHooks)
	}
	e.publish(t, "tenant-a", "message.new", 2)
	e.flush(t)
	if n := e.sqs.Count(e.sqs.QueueURL("kept")); n != 2 {
		t.Errorf("the kept hook's queue got %d messages, want 2", n)
	}
}

func TestInvalidHookErrorNamesHookAndField(t *testing.T) {
	e := newEnv(t, nil)
	h := e.sqsHook(t, "named")
	h["id"] = "orders-queue"
	h["sqs_region"] = "eu-west-1x"
	r := e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{webhookHook(), h}})
	wantError(t, "invalid region", r, 400, streamapi.CodeInput)
	info, _ := r.body["more_info"].(string)
	if !strings.Contains(info, `event_hooks[1] (id "orders-queue")`) || !strings.Contains(info, "sqs_region") {
		t.Errorf("more_info %q does not name the hook and the field", info)
	}
}

func TestUpdateIsAtomic(t *testing.T) {
	t.Run("save fails: dispatcher unchanged", func(t *testing.T) {
		var fs *failingStore
		e := newEnv(t, func(o *streamapi.Options) {
			fs = &failingStore{Store: streamapi.NewMemoryStore()}
			o.Store = fs
		})
		wantOK(t, "setup", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{e.sqsHook(t, "a1")}}))
		before := e.ds.Hooks("tenant-a")
		fs.failSave = 1
		r := e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{e.sqsHook(t, "a2")}})
		wantError(t, "failed save", r, 500, streamapi.CodeInternal)
		if got := e.ds.Hooks("tenant-a"); !reflect.DeepEqual(got, before) {
			t.Errorf("dispatcher changed although saving failed: %v", got)
		}
		if hooks := hooksOf(t, e.asA(t, "GET", "/app", nil)); len(hooks) != 1 || !strings.HasSuffix(hooks[0]["sqs_queue_url"].(string), "/a1") {
			t.Errorf("store changed although saving failed: %v", hooks)
		}
		if strings.Contains(e.logs.String(), secretA) {
			t.Errorf("the storage error's secret was logged")
		}
	})
	t.Run("apply fails: store rolled back", func(t *testing.T) {
		var fa *failingApplier
		e := newEnv(t, func(o *streamapi.Options) {
			fa = &failingApplier{Applier: o.Applier}
			o.Applier = fa
		})
		wantOK(t, "setup", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{e.sqsHook(t, "b1")}}))
		before, _ := e.store.Load(context.Background(), "tenant-a")
		fa.fail = true
		r := e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{e.sqsHook(t, "b2")}})
		wantError(t, "failed apply", r, 500, streamapi.CodeInternal)
		after, _ := e.store.Load(context.Background(), "tenant-a")
		if fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("store not rolled back:\n%s\nwant\n%s", after, before)
		}
		if fa.calls != 2 {
			t.Errorf("ApplyHooks called %d times, want 2", fa.calls)
		}
	})
}

func TestAppsSeeOnlyTheirOwnHooks(t *testing.T) {
	e := newEnv(t, nil)
	wantOK(t, "A", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{e.sqsHook(t, "only-a")}}))
	wantOK(t, "B", e.asB(t, "PATCH", "/app", map[string]any{"event_hooks": []any{e.sqsHook(t, "only-b")}}))
	for _, c := range []struct {
		name  string
		as    func(*testing.T, string, string, any) response
		queue string
	}{{"A", e.asA, "/only-a"}, {"B", e.asB, "/only-b"}} {
		hooks := hooksOf(t, c.as(t, "GET", "/app", nil))
		if len(hooks) != 1 || !strings.HasSuffix(hooks[0]["sqs_queue_url"].(string), c.queue) {
			t.Errorf("%s sees %v, want only its own hook", c.name, hooks)
		}
	}
	e.publish(t, "tenant-a", "message.new", 4)
	e.publish(t, "tenant-b", "message.new", 1)
	e.flush(t)
	if a, b := e.sqs.Count(e.sqs.QueueURL("only-a")), e.sqs.Count(e.sqs.QueueURL("only-b")); a != 4 || b != 1 {
		t.Errorf("A's queue got %d, B's %d; want 4 and 1", a, b)
	}
	// B clearing its hooks leaves A's alone.
	wantOK(t, "B clears", e.asB(t, "PATCH", "/app", map[string]any{"event_hooks": []any{}}))
	if got := len(e.ds.Hooks("tenant-a")); got != 1 {
		t.Errorf("A has %d hooks after B cleared its own, want 1", got)
	}
}

func TestRemovedHookStopsDelivery(t *testing.T) {
	e := newEnv(t, nil)
	wantOK(t, "two hooks", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{e.sqsHook(t, "stay"), e.sqsHook(t, "go")}}))
	e.publish(t, "tenant-a", "message.new", 2)
	e.flush(t)
	hooks := hooksOf(t, e.asA(t, "GET", "/app", nil))
	wantOK(t, "remove one", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{hooks[0]}}))
	e.publish(t, "tenant-a", "message.new", 3)
	e.flush(t)
	if stay, gone := e.sqs.Count(e.sqs.QueueURL("stay")), e.sqs.Count(e.sqs.QueueURL("go")); stay != 5 || gone != 2 {
		t.Errorf("kept queue got %d (want 5), removed queue %d (want 2)", stay, gone)
	}
}

func TestExplicitDeletion(t *testing.T) {
	e := newEnv(t, nil)
	wantOK(t, "setup", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{webhookHook(), e.sqsHook(t, "x1")}}))
	added := e.sqsHook(t, "x2")
	r := e.asA(t, "PATCH", "/app", map[string]any{"explicit_event_hooks_deletion": true,
		"event_hooks": []any{added, map[string]any{"id": "wh-1", "hook_type": "webhook", "delete": true}}})
	wantOK(t, "explicit", r)
	hooks := hooksOf(t, e.asA(t, "GET", "/app", nil))
	if len(hooks) != 2 || hooks[0]["hook_type"] != "sqs" || hooks[1]["hook_type"] != "sqs" {
		t.Fatalf("after explicit deletion: %v, want the two sqs hooks", hooks)
	}
	if got := len(e.ds.Hooks("tenant-a")); got != 2 {
		t.Errorf("dispatcher has %d hooks, want 2", got)
	}
	r = e.asA(t, "PATCH", "/app", map[string]any{"explicit_event_hooks_deletion": true,
		"event_hooks": []any{map[string]any{"id": "no-such", "hook_type": "sqs", "delete": true}}})
	wantError(t, "delete unknown", r, 400, streamapi.CodeInput)
}

func TestUpdateWithoutEventHooksChangesNothing(t *testing.T) {
	e := newEnv(t, nil)
	wantOK(t, "setup", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{e.sqsHook(t, "n1")}}))
	wantOK(t, "empty update", e.asA(t, "PATCH", "/app", map[string]any{}))
	wantOK(t, "null hooks", e.asA(t, "PATCH", "/app", `{"event_hooks": null}`))
	if got := len(hooksOf(t, e.asA(t, "GET", "/app", nil))); got != 1 {
		t.Errorf("%d hooks after updates without event_hooks, want 1", got)
	}
}

func TestRoutes(t *testing.T) {
	e := newEnv(t, nil)
	wantError(t, "unknown path", e.asA(t, "GET", "/channels", nil), 404, streamapi.CodeNotFound)
	wantError(t, "DELETE /app", e.asA(t, "DELETE", "/app", nil), 405, streamapi.CodeInput)
	wantError(t, "GET /check_sqs", e.asA(t, "GET", "/check_sqs", nil), 405, streamapi.CodeInput)
	// An unknown path answers 404 without authentication; a known path
	// asks for it first.
	wantError(t, "unauthenticated DELETE", e.call(t, "DELETE", "/app", "nobody", "x", nil), 401, streamapi.CodeAuth)

	// Stream's generated SDKs call the same endpoints under /api/v2.
	wantOK(t, "PATCH /api/v2/app", e.asA(t, "PATCH", "/api/v2/app", map[string]any{"event_hooks": []any{e.sqsHook(t, "v2")}}))
	if hooks := hooksOf(t, e.asA(t, "GET", "/api/v2/app", nil)); len(hooks) != 1 {
		t.Errorf("GET /api/v2/app: %d hooks, want 1", len(hooks))
	}
	if r := e.asA(t, "POST", "/api/v2/check_sqs", nil); r.body["status"] != "ok" {
		t.Errorf("POST /api/v2/check_sqs: %s", r.raw)
	}
	wantError(t, "/api/v2/other", e.asA(t, "GET", "/api/v2/channels", nil), 404, streamapi.CodeNotFound)
}

func TestRestoreAppliesStoredHooks(t *testing.T) {
	e := newEnv(t, nil)
	wantOK(t, "setup", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{webhookHook(), e.sqsHook(t, "r1")}}))
	// A second server over the same store starts with the stored hooks.
	ds := newTenants(t, sqshook.WithEndpoint(e.sqs.URL()))
	defer ds.Close(context.Background())
	h, err := streamapi.New(streamapi.Options{Apps: testApps(), Applier: ds, Store: e.store, Endpoint: e.sqs.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Restore(context.Background(), "tenant-a"); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	got := ds.Hooks("tenant-a")
	if len(got) != 1 || got[0].SQSSecret != hookSecret {
		t.Errorf("restored %d hooks (want 1 with its secret)", len(got))
	}
}

func TestConcurrentUpdatesKeepStoreAndDispatcherInStep(t *testing.T) {
	e := newEnv(t, nil)
	queues := make([]map[string]any, 4)
	for i := range queues {
		queues[i] = e.sqsHook(t, fmt.Sprintf("c%d", i))
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 8; i++ {
				hooks := []any{queues[(w+i)%4]}
				if i%2 == 0 {
					hooks = append(hooks, queues[(w+i+1)%4])
				}
				as := e.asA
				if w%2 == 1 {
					as = e.asB
				}
				if r := as(t, "PATCH", "/app", map[string]any{"event_hooks": hooks}); r.status != 200 {
					t.Errorf("PATCH: %s", r.raw)
					return
				}
				as(t, "GET", "/app", nil)
			}
		}()
	}
	wg.Wait()
	for _, tenant := range []string{"tenant-a", "tenant-b"} {
		stored, err := e.store.Load(context.Background(), tenant)
		if err != nil {
			t.Fatal(err)
		}
		applied := e.ds.Hooks(tenant)
		if len(stored) != len(applied) {
			t.Fatalf("%s: store has %d hooks, dispatcher %d", tenant, len(stored), len(applied))
		}
		for i, raw := range stored {
			var h sqshook.Hook
			if err := json.Unmarshal(raw, &h); err != nil {
				t.Fatal(err)
			}
			if h.ID != applied[i].ID || h.SQSQueueURL != applied[i].SQSQueueURL {
				t.Errorf("%s hook %d: store %s, dispatcher %s", tenant, i, h.ID, applied[i].ID)
			}
		}
	}
}

// encoding/json matches field names without regard to case (and folds ſ to
// s and the Kelvin sign to k), so a credential under another spelling was
// delivered with and then shown in clear by GET /app.
func TestCredentialFieldNamesInAnotherCase(t *testing.T) {
	e := newEnv(t, nil)
	for _, name := range []string{"SQS_SECRET", "Sqs_Secret", "ſqs_secret", "sqs_\u212Aey", "Sns_Secret", "Hook_Type", "ID"} {
		h := e.sqsHook(t, "q1")
		h[name] = hookSecret2
		r := e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{h}})
		wantError(t, name, r, http.StatusBadRequest, streamapi.CodeInput)
		if fields, _ := r.body["exception_fields"].(map[string]any); fields["event_hooks[0]."+name] == nil {
			t.Errorf("%s: exception_fields %v, want event_hooks[0].%s named", name, fields, name)
		}
		if strings.Contains(r.raw, hookSecret2) {
			t.Errorf("%s: the refusal shows the secret: %s", name, r.raw)
		}
	}
	if len(e.ds.Hooks("tenant-a")) > 0 {
		t.Errorf("a refused hook was applied")
	}

	// A list stored before (or by another writer) is still shown without
	// the credential, whatever the spelling.
	stored, _ := json.Marshal(map[string]any{"id": "legacy", "hook_type": "webhook", "SQS_SECRET": hookSecret2, "Sns_Key": "AKIALEGACYKEY0000000"})
	if err := e.store.Save(context.Background(), "tenant-a", []json.RawMessage{stored}); err != nil {
		t.Fatal(err)
	}
	got := e.asA(t, "GET", "/app", nil)
	wantOK(t, "GET /app", got)
	if strings.Contains(got.raw, hookSecret2) || strings.Contains(got.raw, "AKIALEGACYKEY") {
		t.Errorf("GET /app shows a credential stored under another spelling: %s", got.raw)
	}
}

// ctxStore fails, as a database driver does, when the context is done.
type ctxStore struct{ streamapi.Store }

func (s ctxStore) Save(ctx context.Context, tenant string, hooks []json.RawMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.Store.Save(ctx, tenant, hooks)
}

// cancellingApplier fails as an Applier that honours its context does when
// the client hangs up while the hooks are applied.
type cancellingApplier struct {
	streamapi.Applier
	cancel context.CancelFunc
}

func (a *cancellingApplier) ApplyHooks(ctx context.Context, tenant string, hooks []sqshook.Hook) error {
	if a.cancel == nil {
		return a.Applier.ApplyHooks(ctx, tenant, hooks)
	}
	a.cancel()
	return ctx.Err()
}

// The rollback after a failed apply must not depend on the request's
// context: a client that hung up would otherwise leave the new list stored
// and the old one delivering.
func TestRollbackSurvivesCancelledRequest(t *testing.T) {
	ca := &cancellingApplier{}
	e := newEnv(t, func(o *streamapi.Options) {
		o.Store = ctxStore{streamapi.NewMemoryStore()}
		ca.Applier = o.Applier
		o.Applier = ca
	})
	wantOK(t, "setup", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{e.sqsHook(t, "c1")}}))
	before, _ := e.store.Load(context.Background(), "tenant-a")

	body, _ := json.Marshal(map[string]any{"event_hooks": []any{e.sqsHook(t, "c2")}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ca.cancel = cancel
	req := httptest.NewRequestWithContext(ctx, "PATCH", "/app?api_key="+keyA, bytes.NewReader(body))
	req.Header.Set("Authorization", serverToken(t, secretA))
	req.Header.Set("stream-auth-type", "jwt")
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500: %s", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "storage holds the new settings") {
		t.Errorf("the rollback failed with the request's context: %s", rec.Body)
	}
	after, _ := e.store.Load(context.Background(), "tenant-a")
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("store holds the list that was never applied:\n%s\nwant\n%s", after, before)
	}
}

// Hooks of other kinds are not validated by sqshook, but their credentials
// are still credentials: one that is not a string is refused, and one
// stored that way is not shown.
func TestCredentialThatIsNotAString(t *testing.T) {
	e := newEnv(t, nil)
	sns := map[string]any{"hook_type": "sns", "sns_topic_arn": "arn:aws:sns:us-east-1:123456789012:t",
		"sns_key": hookKey, "sns_secret": map[string]any{"value": hookSecret2}}
	r := e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{sns}})
	wantError(t, "object secret", r, http.StatusBadRequest, streamapi.CodeInput)
	if fields, _ := r.body["exception_fields"].(map[string]any); fields["event_hooks[0].sns_secret"] == nil {
		t.Errorf("exception_fields %v, want event_hooks[0].sns_secret", fields)
	}
	stored, _ := json.Marshal(map[string]any{"id": "legacy", "hook_type": "sns", "sns_secret": []any{hookSecret2}, "sqs_key": 1234567890123})
	if err := e.store.Save(context.Background(), "tenant-a", []json.RawMessage{stored}); err != nil {
		t.Fatal(err)
	}
	got := e.asA(t, "GET", "/app", nil)
	wantOK(t, "GET /app", got)
	if strings.Contains(got.raw, hookSecret2) || strings.Contains(got.raw, "1234567890123") {
		t.Errorf("GET /app shows a credential that is not a string: %s", got.raw)
	}
}
