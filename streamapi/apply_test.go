package streamapi_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
	"github.com/sqshook/sqshook/streamapi"
)

// TestTenantApplier: two apps configure their hooks through the API; each
// becomes a tenant of one dispatcher, an app's events reach only its own
// queue, check_sqs checks with the dispatcher's clients, and an empty list
// removes the tenant's hooks.
func TestTenantApplier(t *testing.T) {
	sq := sqstest.NewServer()
	t.Cleanup(sq.Close)
	logs := &syncBuffer{}
	d, err := sqshook.New(nil, sqshook.WithEndpoint(sq.URL()), sqshook.WithLinger(time.Millisecond),
		sqshook.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	h, err := streamapi.New(streamapi.Options{
		Apps: testApps(), Applier: streamapi.TenantApplier(d), Check: streamapi.TenantChecker(d),
		Endpoint: sq.URL(), Logger: slogTo(logs),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &env{sqs: sq, h: h, srv: srv, logs: logs}

	hookA, hookB := e.sqsHook(t, "app-a"), e.sqsHook(t, "app-b")
	wantOK(t, "PATCH A", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{hookA}}))
	wantOK(t, "PATCH B", e.asB(t, "PATCH", "/app", map[string]any{"event_hooks": []any{hookB}}))
	if n := len(d.Tenant("tenant-a").Hooks()); n != 1 {
		t.Fatalf("tenant-a has %d hooks, want 1", n)
	}
	if n := len(d.Hooks()); n != 0 {
		t.Fatalf("the default tenant has %d hooks, want none", n)
	}

	for i := range 5 {
		ev, err := sqshook.NewEvent("message.new", map[string]any{"seq": i})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Tenant("tenant-a").Publish(context.Background(), ev); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if a, b := sq.Count(hookA["sqs_queue_url"].(string)), sq.Count(hookB["sqs_queue_url"].(string)); a != 5 || b != 0 {
		t.Fatalf("queue of app A has %d messages, of app B %d; want 5 and 0", a, b)
	}

	r := e.asA(t, "POST", "/check_sqs", "")
	wantOK(t, "check_sqs", r)
	if r.body["status"] != "ok" {
		t.Fatalf("check_sqs: %v, want status ok", r.body)
	}

	wantOK(t, "PATCH A empty", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{}}))
	if n := len(d.Tenant("tenant-a").Hooks()); n != 0 {
		t.Fatalf("tenant-a has %d hooks after an empty list, want none", n)
	}
	if n := len(d.Tenant("tenant-b").Hooks()); n != 1 {
		t.Fatalf("tenant-b has %d hooks, want 1 (untouched)", n)
	}
}

// Each app's role hooks assume their role with the app's own ExternalId
// (sqshook.WithTenantExternalID): a role hook is valid for the app that has
// one, and refused for the one that has none, whatever its encoding.
func TestTenantsGiveEachAppItsExternalID(t *testing.T) {
	srv := sqstest.NewServer()
	defer srv.Close()
	var mu sync.Mutex
	asked := map[string]bool{}
	ds := newTenants(t, sqshook.WithEndpoint(srv.URL()), sqshook.WithTenantExternalID(func(tenant string) string {
		mu.Lock()
		asked[tenant] = true
		mu.Unlock()
		if tenant == "tenant-a" {
			return "external-id-of-a"
		}
		return ""
	}))
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := ds.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	role := sqshook.Hook{
		Enabled: true, HookType: sqshook.HookTypeSQS, SQSQueueURL: srv.CreateQueue("roles", nil), SQSRegion: sqstest.Region,
		SQSAuthType: sqshook.AuthRole, SQSRoleARN: "arn:aws:iam::" + sqstest.AccountID + ":role/sender",
	}
	ctx := context.Background()
	for _, enc := range []sqshook.Encoding{sqshook.EncodingRaw, sqshook.EncodingGzip} {
		role.BodyEncoding = enc
		if err := ds.ApplyHooks(ctx, "tenant-a", []sqshook.Hook{role}); err != nil {
			t.Fatalf("%s role hook of the app with an ExternalId: %v", enc, err)
		}
		if got, ok := ds.Encoding("tenant-a", ds.Hooks("tenant-a")[0].ID); !ok || got != enc || len(ds.Hooks("tenant-a")) != 1 {
			t.Fatalf("tenant-a holds %d hooks, encoding %q; want one, %q", len(ds.Hooks("tenant-a")), got, enc)
		}
		if err := ds.ApplyHooks(ctx, "tenant-b", []sqshook.Hook{role}); err == nil {
			t.Fatalf("%s role hook of the app without an ExternalId was accepted: it got another app's", enc)
		}
	}
	if err := ds.ApplyHooks(ctx, "tenant-a", nil); err != nil {
		t.Fatal(err)
	}
	if n := len(ds.Hooks("tenant-a")); n != 0 {
		t.Errorf("tenant-a has %d hooks after an empty list, want none", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if !asked["tenant-a"] || !asked["tenant-b"] {
		t.Errorf("ExternalIds asked for %v, want both apps'", asked)
	}
}
