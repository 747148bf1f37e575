// health_test.go tests HealthHandler: its JSON agrees with Stats (the
// spool's state included), rates come from the dispatcher's clock, the
// status follows the spool's quota, no credential shows, and errors show
// their code and category, never AWS's message or the network's detail.

package sqshook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/sqshook/sqshook/internal/faultnet"
	"github.com/sqshook/sqshook/spool"
	"github.com/sqshook/sqshook/sqstest"
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
	if le := rep.Hooks[1].LastError; le == nil || le.Code != "AccessDenied" || !strings.Contains(le.Message, "access denied") || strings.Contains(le.Message, "denied for") {
		t.Errorf("h-bad last_error = %+v, want AccessDenied with its category, not AWS's message", le)
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

// TestHealthHandlerSpool: with a spool the report has the spool's state
// (agreeing with Stats.Spool) and each hook's spooled copies; the status
// is ok below 90% of the spool's quota and degraded from there, saying
// why; neither the spool's directory nor a credential shows.
func TestHealthHandlerSpool(t *testing.T) {
	dir := t.TempDir()
	stuck := &gateSQS{open: make(chan struct{})}
	hook := Hook{ID: "h", Enabled: true, HookType: "sqs", SQSQueueURL: "https://sqs.us-east-1.amazonaws.com/210987654321/orders",
		SQSRegion: "us-east-1", SQSAuthType: AuthKeys, SQSKey: healthKeyID, SQSSecret: healthSecret}
	const quota = 48 << 10
	d, err := New([]Hook{hook}, WithDeadLetter(func(DeadLetter) {}), WithMaxBuffered(2, 1<<20),
		WithClientFunc(func(context.Context, Hook) (SQSAPI, error) { return stuck, nil }),
		WithSpool(dir, spool.Options{Quota: quota, SegmentSize: 8 << 10}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		close(stuck.open)
		d.Close(context.Background())
	}()
	handler := d.HealthHandler()
	publish := func(i int) error {
		return d.TryPublish(Event{ID: fmt.Sprintf("ev-%04d", i), Type: "message.new", Body: []byte(`{"cid":"c","text":"hello"}`)})
	}
	for i := range 10 {
		if err := publish(i); err != nil {
			t.Fatal(err)
		}
	}
	check := func(rep healthReport) {
		t.Helper()
		st := d.Stats()
		s, hs := st.Spool, st.Hooks[0]
		sp := rep.Spool
		if sp == nil {
			t.Fatal("the report has no spool")
		}
		if sp.Bytes != s.Bytes || sp.Quota != quota || sp.Records != s.Records || sp.Pending != s.Pending || sp.Parked != s.Parked ||
			sp.Resumed != s.Resumed || sp.HookRemoved != s.HookRemoved || sp.Corrupt != s.Corrupt || sp.SettleErrors != s.SettleErrors {
			t.Errorf("spool %+v disagrees with Stats.Spool %+v", *sp, *s)
		}
		if sp.QuotaUsed == nil || *sp.QuotaUsed != float64(s.Bytes)/quota {
			t.Errorf("quota_used %v, want %v", sp.QuotaUsed, float64(s.Bytes)/quota)
		}
		if h := rep.Hooks[0]; h.Spooled != hs.Spooled || h.Pending != hs.Pending || h.Matched != hs.Matched {
			t.Errorf("hook %+v disagrees with Stats %+v", h, hs)
		}
	}
	rep, body := getHealth(t, handler)
	check(rep)
	if rep.Hooks[0].Spooled != 8 || rep.Spool.Pending != 10 {
		t.Errorf("hook spooled %d, spool pending %d; want 8 on disk only (2 in memory), 10 pending", rep.Hooks[0].Spooled, rep.Spool.Pending)
	}
	if rep.Status != HealthOK || rep.StatusCause != "" || rep.Spool.Health != HealthOK || *rep.Spool.QuotaUsed >= 0.9 {
		t.Errorf("below the quota: status %q (%q), spool %q at %v; want ok", rep.Status, rep.StatusCause, rep.Spool.Health, *rep.Spool.QuotaUsed)
	}
	for _, key := range []string{`"spooled": 8`, `"spool": {`, `"parked": 0`, `"settle_errors": 0`, `"status": "ok"`} {
		if !strings.Contains(body, key) {
			t.Errorf("the report has no %s:\n%s", key, body)
		}
	}

	// Fill the spool up to its quota.
	for i := 10; ; i++ {
		if err := publish(i); err != nil {
			if !errors.Is(err, spool.ErrQuota) {
				t.Fatalf("TryPublish %d: %v, want spool.ErrQuota", i, err)
			}
			break
		}
		if i > 10_000 {
			t.Fatal("the quota never refused an event")
		}
	}
	if s := d.Stats().Spool; float64(s.Bytes) < 0.9*quota {
		t.Fatalf("spool %+v refused an event below 90%% of its quota", s)
	}
	rep, body = getHealth(t, handler)
	check(rep)
	if rep.Status != HealthDegraded || rep.Spool.Health != HealthDegraded || !strings.Contains(rep.StatusCause, "quota") ||
		rep.StatusCause != rep.Spool.HealthCause {
		t.Errorf("at the quota: status %q (%q), spool %q (%q); want degraded, naming the quota", rep.Status, rep.StatusCause, rep.Spool.Health, rep.Spool.HealthCause)
	}
	for _, secret := range []string{healthSecret, healthKeyID, "210987654321", dir} {
		if strings.Contains(body, secret) {
			t.Errorf("the report shows %q:\n%s", secret, body)
		}
	}
}

// TestHealthHandlerWithoutSpool: without a spool the report has no spool
// and its status is ok whatever the hooks' health.
func TestHealthHandlerWithoutSpool(t *testing.T) {
	bad := Hook{ID: "h-bad", Enabled: true, HookType: "sqs", SQSQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/denied",
		SQSRegion: "us-east-1", SQSAuthType: "resource"}
	d, err := New([]Hook{bad}, WithDeadLetter(func(DeadLetter) {}),
		WithClientFunc(func(context.Context, Hook) (SQSAPI, error) { return deniedSQS{}, nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	for range 10 {
		_ = d.Publish(context.Background(), Event{Type: "message.new", Body: []byte(`{"i":1}`)})
	}
	waitFor(t, func() bool { return d.Stats().Hooks[0].DeadLettered == 10 })
	rep, body := getHealth(t, d.HealthHandler())
	if rep.Spool != nil || strings.Contains(body, `"spool"`) {
		t.Errorf("a report without a spool shows one:\n%s", body)
	}
	if rep.Status != HealthOK || rep.Hooks[0].Health == HealthOK || !strings.Contains(body, `"spooled": 0`) {
		t.Errorf("status %q, hook health %q; want the dispatcher ok, the hook not, and spooled 0:\n%s", rep.Status, rep.Hooks[0].Health, body)
	}
}

// TestHealthHandlerParked: copies resumed for a tenant that has not set
// its hooks yet show as parked, and are gone once its SetHooks adopts them.
func TestHealthHandlerParked(t *testing.T) {
	dir := t.TempDir()
	seedParked(t, dir, "acme")
	d, err := New(nil, WithResourceAuthForTenants(), WithDeadLetter(func(DeadLetter) {}),
		WithClientFunc(func(context.Context, Hook) (SQSAPI, error) { return &countingSQS{}, nil }),
		WithSpool(dir, spool.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	handler := d.HealthHandler()
	rep, _ := getHealth(t, handler)
	if rep.Spool == nil || rep.Spool.Parked != 3 || rep.Spool.Resumed != 3 || rep.Spool.Quota != 0 || rep.Spool.QuotaUsed != nil || rep.Status != HealthOK {
		t.Fatalf("spool %+v, status %q; want 3 parked and resumed, no quota, ok", rep.Spool, rep.Status)
	}
	if err := d.Tenant("acme").SetHooks([]Hook{parkHook("acme")}); err != nil {
		t.Fatal(err)
	}
	if rep, _ := getHealth(t, handler); rep.Spool.Parked != 0 || len(rep.Hooks) != 1 || rep.Hooks[0].Matched != 3 {
		t.Errorf("after SetHooks: spool %+v, hooks %+v; want nothing parked, the hook holding the 3 copies", rep.Spool, rep.Hooks)
	}
}

// TestHealthHookReportsHeld: a hook's copies held back on disk after their
// retry budget are in its entry of the report, and left out when none are.
func TestHealthHookReportsHeld(t *testing.T) {
	b, err := json.Marshal(hookHealthOf(HookStats{HookID: "h", Spooled: 5, Held: 3}, "q"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"held":3`) || !strings.Contains(string(b), `"spooled":5`) {
		t.Errorf("hook entry %s: want held 3 and spooled 5", b)
	}
	b, _ = json.Marshal(hookHealthOf(HookStats{HookID: "h"}, "q"))
	if strings.Contains(string(b), `"held"`) {
		t.Errorf("hook entry %s shows held without any", b)
	}
}

// healthDeniedMessage is AWS's message for a refused call: the caller's
// IAM identity and the queue's ARN, each with its account id.
const healthDeniedMessage = "User: arn:aws:sts::111122223333:assumed-role/chat-server/i-0abc is not authorized to perform: sqs:sendmessage on resource: arn:aws:sqs:us-east-1:444455556666:customer-queue because no resource-based policy allows the sqs:sendmessage action"

// syncLog is a log's text, written by any goroutine.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// healthOf returns the report's entry for the hook id; it fails the test
// if there is none.
func healthOf(t *testing.T, rep healthReport, id string) hookHealth {
	t.Helper()
	for _, h := range rep.Hooks {
		if h.ID == id && !h.Draining {
			return h
		}
	}
	t.Fatalf("no hook %q in the report %+v", id, rep.Hooks)
	return hookHealth{}
}

// wantCause checks a hook's last error and health cause: the code, and
// the category as the message.
func wantCause(t *testing.T, h hookHealth, code, message string) {
	t.Helper()
	if le := h.LastError; le == nil || le.Code != code || le.Message != message {
		t.Errorf("hook %s: last_error %+v, want code %q, message %q", h.ID, le, code, message)
	}
	cause := message
	if code != "" {
		cause = code + ": " + message
	}
	if h.Health == HealthOK || h.HealthCause != cause {
		t.Errorf("hook %s: health %q, cause %q; want not ok, caused by %q", h.ID, h.Health, h.HealthCause, cause)
	}
}

// TestHealthHandlerHidesAWSDetail: AWS's messages name IAM identities and
// ARNs with their account ids, the network's name the server's proxy. The
// health view and Stats show the error code and its category only; the
// server's log gets the detail.
func TestHealthHandlerHidesAWSDetail(t *testing.T) {
	forbidden := []string{"111122223333", "444455556666", "185583345998", "arn:", "assumed-role", "chat-server", "i-0abc",
		"customer-queue", "sqshook-sender", "proxyconnect", "dial tcp", "127.0.0.1", "wrong-external-id"}
	check := func(t *testing.T, what, s string) {
		t.Helper()
		for _, f := range forbidden {
			if strings.Contains(s, f) {
				t.Errorf("%s shows %q:\n%s", what, f, s)
			}
		}
	}
	retries := RetryPolicy{InitialInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond, MaxAttempts: 2, MaxElapsedTime: 20 * time.Second}

	t.Run("sqs", func(t *testing.T) {
		srv := sqstest.NewServer()
		defer srv.Close()
		proxy := faultnet.RefusedAddr(t)
		var logs syncLog
		keys := func(id, url string) Hook {
			return Hook{ID: id, Enabled: true, HookType: HookTypeSQS, SQSQueueURL: url, SQSRegion: "us-east-1",
				SQSAuthType: AuthKeys, SQSKey: healthKeyID, SQSSecret: healthSecret}
		}
		hooks := []Hook{
			keys("denied", srv.CreateQueue("denied", nil)),
			keys("kms", srv.CreateQueue("kms", nil)),
			keys("proxied", "https://sqs.us-east-1.amazonaws.com/123456789012/proxied"),
		}
		srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Queue: "denied", Code: "AccessDenied", Message: healthDeniedMessage})
		srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Queue: "kms", FailEntries: func(int, string) *sqstest.EntryFailure {
			return &sqstest.EntryFailure{Code: "KMS.AccessDeniedException",
				Message: "User: arn:aws:sts::111122223333:assumed-role/chat-server/i-0abc is not authorized to perform: kms:GenerateDataKey on resource: arn:aws:kms:us-east-1:444455556666:key/1234abcd"}
		}})
		proxied := sqs.New(sqs.Options{
			Region: "us-east-1", BaseEndpoint: aws.String("https://nosuchhost.invalid"), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(healthKeyID, healthSecret, ""),
			HTTPClient:  faultnet.HTTPClient(t, proxy),
		})
		d, err := New(hooks, WithEndpoint(srv.URL()), WithLinger(0), WithRetryPolicy(retries), WithDeadLetter(func(DeadLetter) {}),
			WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
			WithClientFunc(func(_ context.Context, h Hook) (SQSAPI, error) {
				if h.ID == "proxied" {
					return proxied, nil
				}
				return srv.Client(), nil
			}))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close(context.Background())
		if err := d.Publish(context.Background(), Event{Type: "message.new", Body: []byte(`{"i":1}`)}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := d.Flush(ctx); err != nil {
			t.Fatal(err)
		}

		rep, body := getHealth(t, d.HealthHandler())
		wantCause(t, healthOf(t, rep, "denied"), "AccessDenied",
			"access denied: the IAM policy of the hook's access key and the queue policy must allow sqs:SendMessage")
		wantCause(t, healthOf(t, rep, "kms"), "KMS.AccessDeniedException", "the queue's KMS key refused the call")
		wantCause(t, healthOf(t, rep, "proxied"), "", "network: connection refused")
		check(t, "the health report", body)
		check(t, "Stats", fmt.Sprintf("%+v", d.Stats()))

		// The detail is in the server's log.
		log := logs.String()
		for _, want := range []string{"arn:aws:sts::111122223333:assumed-role/chat-server/i-0abc", "arn:aws:kms:us-east-1:444455556666:key/1234abcd", "proxyconnect", proxy} {
			if !strings.Contains(log, want) {
				t.Errorf("the log does not show %q:\n%s", want, log)
			}
		}
		if strings.Contains(log, healthSecret) {
			t.Errorf("the log shows the hook's secret:\n%s", log)
		}
	})

	t.Run("role", func(t *testing.T) {
		srv := sqstest.NewServer()
		defer srv.Close()
		const server, role = "arn:aws:iam::185583345998:role/chat-server", "arn:aws:iam::444455556666:role/sqshook-sender"
		srv.AddIdentity("AKIASERVERIDENTITY01", server)
		srv.AddRole(sqstest.Role{ARN: role, TrustedPrincipals: []string{server}, ExternalID: "tenant-a"})
		var logs syncLog
		h := Hook{ID: "role", Enabled: true, HookType: HookTypeSQS, SQSQueueURL: srv.CreateQueue("role", nil), SQSRegion: "us-east-1",
			SQSAuthType: AuthRole, SQSRoleARN: role}
		d, err := New([]Hook{h}, WithEndpoint(srv.URL()), WithLinger(0), WithRetryPolicy(retries), WithDeadLetter(func(DeadLetter) {}),
			WithExternalID("wrong-external-id"),
			WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
			WithClientOptions(ClientOptions{STSEndpoint: srv.URL(), LoadDefaultConfig: func(context.Context) (aws.Config, error) {
				return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIASERVERIDENTITY01", "server-secret", "")}, nil
			}}))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close(context.Background())
		if err := d.Publish(context.Background(), Event{Type: "message.new", Body: []byte(`{"i":1}`)}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := d.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		rep, body := getHealth(t, d.HealthHandler())
		wantCause(t, healthOf(t, rep, "role"), "AccessDenied",
			"assuming the hook's role failed: the role's trust policy must allow this server's principal sts:AssumeRole with the customer's ExternalId")
		check(t, "the health report", body)
		check(t, "Stats", fmt.Sprintf("%+v", d.Stats()))
		if log := logs.String(); !strings.Contains(log, server) || !strings.Contains(log, "wrong-external-id") {
			t.Errorf("the log does not show STS's message and the ExternalId:\n%s", log)
		}
	})
}
