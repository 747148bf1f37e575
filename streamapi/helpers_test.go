package streamapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
	"github.com/sqshook/sqshook/streamapi"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Two apps; their secrets are long enough to be scrubbed and searched for.
const (
	keyA    = "app-a-key"
	secretA = "app-a-secret-0123456789abcdefghijklmnop"
	keyB    = "app-b-key"
	secretB = "app-b-secret-zyxwvutsrqponmlkjihgfedcba"

	hookKey     = "AKIAEMULATOREXAMPLE"
	hookSecret  = "stored-hook-secret-0123456789ABCDEFGHIJ"
	hookSecret2 = "second-stored-secret-9876543210ZYXWVUTS"
)

func testApps() streamapi.AppMap {
	return streamapi.AppMap{
		keyA: {Tenant: "tenant-a", Secret: []byte(secretA)},
		keyB: {Tenant: "tenant-b", Secret: []byte(secretB)},
	}
}

// env is a settings API over an in-process SQS endpoint.
type env struct {
	sqs   *sqstest.Server
	ds    *streamapi.Tenants
	store streamapi.Store
	h     *streamapi.Handler
	srv   *httptest.Server
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newEnv starts a handler; change adjusts its options (Store, Applier…).
func newEnv(t *testing.T, change func(*streamapi.Options)) *env {
	t.Helper()
	e := &env{sqs: sqstest.NewServer(), logs: &syncBuffer{}}
	t.Cleanup(e.sqs.Close)
	e.ds = newTenants(t, sqshook.WithEndpoint(e.sqs.URL()), sqshook.WithLinger(time.Millisecond),
		sqshook.WithLogger(slog.New(slog.NewTextHandler(e.logs, nil))))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := e.ds.Close(ctx); err != nil {
			t.Errorf("Tenants.Close: %v", err)
		}
	})
	opts := streamapi.Options{
		Apps: testApps(), Applier: e.ds, Endpoint: e.sqs.URL(),
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if change != nil {
		change(&opts)
	}
	if opts.Store == nil {
		opts.Store = streamapi.NewMemoryStore()
	}
	e.store = opts.Store
	h, err := streamapi.New(opts)
	if err != nil {
		t.Fatalf("streamapi.New: %v", err)
	}
	e.h = h
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

// uuidRE matches a version 4 UUID, the form of Stream's hook ids.
var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// newTenants returns a streamapi.Tenants made with opts.
func newTenants(t *testing.T, opts ...sqshook.Option) *streamapi.Tenants {
	t.Helper()
	ts, err := streamapi.NewTenants(opts...)
	if err != nil {
		t.Fatalf("NewTenants: %v", err)
	}
	return ts
}

// serverToken is what Stream's server SDKs send: {"server": true}, HS256.
func serverToken(t *testing.T, secret string) string {
	t.Helper()
	return signToken(t, secret, jwt.MapClaims{"server": true})
}

func signToken(t *testing.T, secret string, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatalf("signing: %v", err)
	}
	return s
}

// response is a decoded answer with its raw body.
type response struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

// call sends a request as app key with the given token.
func (e *env) call(t *testing.T, method, path, key, token string, body any) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.srv.URL+path+"?api_key="+key, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", token)
	req.Header.Set("stream-auth-type", "jwt")
	req.Header.Set("Content-Type", "application/json")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: res.StatusCode, header: res.Header, raw: string(data)}
	if err := json.Unmarshal(data, &r.body); err != nil {
		t.Fatalf("%s %s: response is not a JSON object: %v: %s", method, path, err, data)
	}
	return r
}

// as calls as app A or B with a valid server token.
func (e *env) asA(t *testing.T, method, path string, body any) response {
	t.Helper()
	return e.call(t, method, path, keyA, serverToken(t, secretA), body)
}

func (e *env) asB(t *testing.T, method, path string, body any) response {
	t.Helper()
	return e.call(t, method, path, keyB, serverToken(t, secretB), body)
}

// wantOK fails unless r is a 200 with a duration.
func wantOK(t *testing.T, what string, r response) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("%s: status %d, want 200: %s", what, r.status, r.raw)
	}
	if d, _ := r.body["duration"].(string); !strings.HasSuffix(d, "ms") {
		t.Fatalf("%s: duration %q, want Stream's \"<n>ms\": %s", what, d, r.raw)
	}
}

// wantError checks Stream's error shape and returns the message.
func wantError(t *testing.T, what string, r response, status, code int) string {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.status, status, r.raw)
	}
	for _, f := range []string{"code", "message", "StatusCode", "duration", "more_info"} {
		if _, ok := r.body[f]; !ok {
			t.Fatalf("%s: error has no %q: %s", what, f, r.raw)
		}
	}
	if got := int(r.body["code"].(float64)); got != code {
		t.Fatalf("%s: code %d, want %d: %s", what, got, code, r.raw)
	}
	if got := int(r.body["StatusCode"].(float64)); got != status {
		t.Fatalf("%s: StatusCode %d, want %d", what, got, status)
	}
	return r.body["message"].(string)
}

// hooksOf returns the event_hooks of a GET /app answer, checking that the
// top-level and app.event_hooks agree.
func hooksOf(t *testing.T, r response) []map[string]any {
	t.Helper()
	top, ok := r.body["event_hooks"].([]any)
	if !ok {
		t.Fatalf("GET /app: no event_hooks array at the top: %s", r.raw)
	}
	app, _ := r.body["app"].(map[string]any)
	inner, ok := app["event_hooks"].([]any)
	if !ok {
		t.Fatalf("GET /app: no app.event_hooks array: %s", r.raw)
	}
	a, _ := json.Marshal(top)
	b, _ := json.Marshal(inner)
	if !bytes.Equal(a, b) {
		t.Fatalf("GET /app: event_hooks %s and app.event_hooks %s differ", a, b)
	}
	out := make([]map[string]any, len(top))
	for i, h := range top {
		out[i] = h.(map[string]any)
	}
	return out
}

// sqsHook returns a valid keys hook for a new queue of e's endpoint.
func (e *env) sqsHook(t *testing.T, queue string, eventTypes ...string) map[string]any {
	t.Helper()
	if eventTypes == nil {
		eventTypes = []string{}
	}
	return map[string]any{
		"enabled": true, "hook_type": "sqs",
		"sqs_queue_url": e.sqs.CreateQueue(queue, nil), "sqs_region": "us-east-1",
		"sqs_auth_type": "keys", "sqs_key": hookKey, "sqs_secret": hookSecret,
		"event_types": eventTypes,
	}
}

// flush waits until every dispatcher has delivered what it holds.
func (e *env) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.ds.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// publish publishes n events of type typ for tenant.
func (e *env) publish(t *testing.T, tenant, typ string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		ev, err := sqshook.NewEvent(typ, map[string]any{"type": typ, "seq": i, "tenant": tenant})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.ds.Publish(context.Background(), tenant, ev); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
}

// failingStore fails Save (or Load) on demand.
type failingStore struct {
	streamapi.Store
	mu       sync.Mutex
	failSave int // fail the next failSave saves
	saves    int
}

var errStorage = errors.New("storage unavailable (" + secretA + " must not be logged)")

func (s *failingStore) Save(ctx context.Context, tenant string, hooks []json.RawMessage) error {
	s.mu.Lock()
	s.saves++
	fail := s.failSave > 0
	if fail {
		s.failSave--
	}
	s.mu.Unlock()
	if fail {
		return errStorage
	}
	return s.Store.Save(ctx, tenant, hooks)
}

// failingApplier fails ApplyHooks on demand and records what it applied.
type failingApplier struct {
	streamapi.Applier
	mu    sync.Mutex
	fail  bool
	calls int
}

func (a *failingApplier) ApplyHooks(ctx context.Context, tenant string, hooks []sqshook.Hook) error {
	a.mu.Lock()
	a.calls++
	fail := a.fail
	a.mu.Unlock()
	if fail {
		return errors.New("dispatcher refused the hooks")
	}
	return a.Applier.ApplyHooks(ctx, tenant, hooks)
}

// decode reads an answer.
func decode(t *testing.T, res *http.Response) response {
	t.Helper()
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: res.StatusCode, header: res.Header, raw: string(data)}
	if err := json.Unmarshal(data, &r.body); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, data)
	}
	return r
}

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// fakeClock is a clock the test moves (Options.Now).
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// recordHandler is a slog.Handler that keeps every record.
type recordHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}

func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

// withMessage returns the records whose message is msg.
func (h *recordHandler) withMessage(msg string) []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []slog.Record
	for _, r := range h.records {
		if r.Message == msg {
			out = append(out, r)
		}
	}
	return out
}

// attr returns the value of r's attribute key, or nil.
func attr(r slog.Record, key string) any {
	var v any
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.Any()
			return false
		}
		return true
	})
	return v
}
