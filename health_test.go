// health_test.go tests HealthHandler: its JSON agrees with Stats, rates come
// from the dispatcher's clock, and no credential shows.

package sqshook

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
)

const (
	healthKeyID  = "AKIASQSHOOKHEALTHT01"
	healthSecret = "sqshook-health-secret-0a1b2c3d-DO-NOT-SHOW"
)

// deniedSQS refuses every call with a message that repeats the hook's
// credentials.
type deniedSQS struct{ SQSAPI }

func (deniedSQS) SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "denied for " + healthKeyID + " with " + healthSecret, Fault: smithy.FaultClient}
}

func getHealth(t *testing.T, h http.Handler) (healthReport, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/sqshook", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET: %d %q: %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	var rep healthReport
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatalf("GET: %v: %s", err, rec.Body)
	}
	return rep, rec.Body.String()
}

func TestHealthHandler(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	ok := Hook{ID: "h-ok", Enabled: true, HookType: "sqs", SQSQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/orders",
		SQSRegion: "us-east-1", SQSAuthType: "resource"}
	bad := Hook{ID: "h-bad", Enabled: true, HookType: "sqs", SQSQueueURL: "https://sqs.us-east-1.amazonaws.com/210987654321/denied",
		SQSRegion: "us-east-1", SQSAuthType: AuthKeys, SQSKey: healthKeyID, SQSSecret: healthSecret}
	good := &countingSQS{}
	d, err := New([]Hook{ok, bad}, withClock(clk), WithDeadLetter(func(DeadLetter) {}),
		WithClientFunc(func(_ context.Context, h Hook) (SQSAPI, error) {
			if h.ID == "h-bad" {
				return deniedSQS{}, nil
			}
			return good, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	handler := d.HealthHandler()

	rep, _ := getHealth(t, handler)
	if len(rep.Hooks) != 2 || rep.Hooks[0].ID != "h-ok" || rep.Hooks[0].Queue != "orders" || rep.Hooks[1].Queue != "denied" {
		t.Fatalf("hooks %+v, want h-ok on orders and h-bad on denied", rep.Hooks)
	}
	if rep.RateWindow != 0 || rep.Hooks[0].DeliveredRate != nil {
		t.Errorf("first report has rates: window %v, %v", rep.RateWindow, rep.Hooks[0].DeliveredRate)
	}

	for range 10 { // one full batch per hook: sent without waiting for the clock
		_ = d.Publish(context.Background(), Event{Type: "message.new", Body: []byte(`{"i":1}`)})
	}
	waitFor(t, func() bool {
		s := d.Stats()
		return s.Hooks[0].Delivered == 10 && s.Hooks[1].DeadLettered == 10
	})
	clk.advance(2 * time.Second)
	rep, body := getHealth(t, handler)
	stats := d.Stats()
	for i, h := range rep.Hooks {
		s := stats.Hooks[i]
		if h.ID != s.HookID || h.Matched != s.Matched || h.Delivered != s.Delivered || h.DeadLettered != s.DeadLettered ||
			h.Pending != s.Pending || h.InFlightLimit != s.InFlightLimit || h.Batches != s.Batches || h.Retries != s.Retries {
			t.Errorf("hook %d: report %+v disagrees with Stats %+v", i, h, s)
		}
	}
	if rep.RateWindow != 2 {
		t.Errorf("rate_window_seconds = %v, want 2", rep.RateWindow)
	}
	rate := func(p *float64) float64 {
		if p == nil {
			return -1
		}
		return *p
	}
	if got := rate(rep.Hooks[0].DeliveredRate); got != 5 {
		t.Errorf("h-ok delivered_per_second = %v, want 5 (10 in 2 s)", got)
	}
	if got := rate(rep.Hooks[1].DeadLetteredRate); got != 5 {
		t.Errorf("h-bad dead_lettered_per_second = %v, want 5", got)
	}
	if le := rep.Hooks[1].LastError; le == nil || le.Code != "AccessDenied" || !strings.Contains(le.Message, "denied for") {
		t.Errorf("h-bad last_error = %+v, want AccessDenied", le)
	}
	if rep.Hooks[0].LastError != nil {
		t.Errorf("h-ok last_error = %+v, want none", rep.Hooks[0].LastError)
	}
	if h := rep.Hooks[0]; h.Health != HealthOK || h.HealthCause != "" || h.Tenant != "" {
		t.Errorf("h-ok health %q (%q), tenant %q; want ok, the default tenant", h.Health, h.HealthCause, h.Tenant)
	}
	if h, s := rep.Hooks[1], stats.Hooks[1]; h.Health != s.Health || h.HealthCause != s.HealthCause || h.Health == HealthOK || !strings.Contains(h.HealthCause, "AccessDenied") {
		t.Errorf("h-bad health %q (%q), Stats %q (%q); want not ok, caused by AccessDenied", h.Health, h.HealthCause, s.Health, s.HealthCause)
	}
	if !strings.Contains(body, `"health": "`) {
		t.Errorf("the report has no health field:\n%s", body)
	}
	for _, secret := range []string{healthSecret, healthKeyID, "210987654321", "123456789012"} {
		if strings.Contains(body, secret) {
			t.Errorf("the report shows %q:\n%s", secret, body)
		}
	}

	// Requests less than a second apart repeat the last rates.
	clk.advance(500 * time.Millisecond)
	if rep, _ := getHealth(t, handler); rate(rep.Hooks[0].DeliveredRate) != 5 || rep.RateWindow != 2 {
		t.Errorf("half a second later: rate %v over %v s, want 5 over 2", rate(rep.Hooks[0].DeliveredRate), rep.RateWindow)
	}
	// Nothing more happens: the rate falls to 0 over the next window.
	clk.advance(time.Second)
	if rep, _ := getHealth(t, handler); rate(rep.Hooks[0].DeliveredRate) != 0 || rep.RateWindow != 1.5 {
		t.Errorf("idle: rate %v over %v s, want 0 over 1.5", rate(rep.Hooks[0].DeliveredRate), rep.RateWindow)
	}

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/debug/sqshook", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d, Allow %q; want 405 and GET, HEAD", rec.Code, rec.Header().Get("Allow"))
	}
}

func TestHealthHandlerAfterClose(t *testing.T) {
	hook := Hook{ID: "h", Enabled: true, HookType: "sqs", SQSQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/q",
		SQSRegion: "us-east-1", SQSAuthType: "resource"}
	d, err := New([]Hook{hook}, WithClientFunc(func(context.Context, Hook) (SQSAPI, error) { return &countingSQS{}, nil }))
	if err != nil {
		t.Fatal(err)
	}
	_ = d.Publish(context.Background(), Event{Type: "message.new", Body: []byte(`{"i":1}`)})
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep, _ := getHealth(t, d.HealthHandler())
	if !rep.Closed || len(rep.Hooks) != 1 || !rep.Hooks[0].Draining || rep.Hooks[0].Delivered != 1 || rep.Hooks[0].Queue != "q" {
		t.Errorf("after Close: %+v", rep)
	}
}

// TestHealthHandlerTenants: each hook is reported with its tenant and its
// own queue, also when two tenants use the same hook id.
func TestHealthHandlerTenants(t *testing.T) {
	hook := func(queue string) Hook {
		return Hook{ID: "h", Enabled: true, HookType: "sqs", SQSQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/" + queue,
			SQSRegion: "us-east-1", SQSAuthType: "resource"}
	}
	d, err := New(nil, WithResourceAuthForTenants(), WithDeadLetter(func(DeadLetter) {}),
		WithClientFunc(func(context.Context, Hook) (SQSAPI, error) { return &countingSQS{}, nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	for _, tenant := range []string{"acme", "globex"} {
		if err := d.Tenant(tenant).SetHooks([]Hook{hook("q-" + tenant)}); err != nil {
			t.Fatal(err)
		}
	}
	rep, _ := getHealth(t, d.HealthHandler())
	got := map[string]string{}
	for _, h := range rep.Hooks {
		if h.ID != "h" || h.Health != HealthOK {
			t.Errorf("hook %+v: want id h, health ok", h)
		}
		got[h.Tenant] = h.Queue
	}
	if len(got) != 2 || got["acme"] != "q-acme" || got["globex"] != "q-globex" {
		t.Errorf("tenants and queues %v, want acme on q-acme and globex on q-globex", got)
	}
}
