package streamapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/streamapi"
)

// paddedHook returns a hook of a kind the handler only stores, carrying
// about pad bytes of fields it does not know.
func paddedHook(id, kind string, pad int) map[string]any {
	h := map[string]any{"id": id, "hook_type": kind, "enabled": true, "webhook_url": "https://example.com/hooks"}
	for i := 0; pad > 0; i++ {
		n := min(pad, 32<<10)
		h[fmt.Sprintf("x_unknown_%03d", i)] = strings.Repeat("a", n)
		pad -= n
	}
	return h
}

// storedBytes is the size of tenant's stored event_hooks array.
func storedBytes(t *testing.T, s streamapi.Store, tenant string) (int, string) {
	t.Helper()
	l, err := s.Load(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	return len(b), string(b)
}

// With explicit_event_hooks_deletion every update keeps the stored hooks:
// updates each under the body limit and each adding a hook of another kind
// full of unknown fields must not make the app store (and GET /app return)
// more than MaxAppSettingsBytes.
func TestAppSettingsBoundUnderExplicitDeletion(t *testing.T) {
	const bound = streamapi.DefaultMaxAppSettingsBytes
	kinds := []string{"webhook", "sns", "pending_message"}
	cases := []struct {
		name     string
		requests int
		maxHook  int  // Options.MaxHookBytes; 0: the default
		pad      int  // unknown-field bytes per hook
		fillsApp bool // hooks fit until the app's bound is reached
	}{
		// Each is refused by the hook bound: 10 show it as well as 50.
		{"bodies of almost 1 MiB", 10, 0, streamapi.DefaultMaxBodyBytes - 4<<10, false},
		{"100 KiB hooks without a hook bound", 50, 4 << 20, 100 << 10, true},
		{"12 KiB hooks", 50, 0, 12 << 10, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, func(o *streamapi.Options) { o.MaxHookBytes = c.maxHook })
			wantOK(t, "setup", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{webhookHook()}}))
			accepted, refused := 0, 0
			var hookBytes int
			for i := range c.requests {
				hook := paddedHook(fmt.Sprintf("big-%02d", i), kinds[i%len(kinds)], c.pad)
				hb, _ := json.Marshal(hook)
				hookBytes = len(hb)
				body, _ := json.Marshal(map[string]any{"explicit_event_hooks_deletion": true, "event_hooks": []any{hook}})
				if len(body) >= streamapi.DefaultMaxBodyBytes {
					t.Fatalf("request %d has %d bytes, not under the body limit", i, len(body))
				}
				_, before := storedBytes(t, e.store, "tenant-a")
				r := e.asA(t, "PATCH", "/app", body)
				if r.status == http.StatusOK {
					if refused > 0 {
						t.Fatalf("request %d accepted after %d were refused for size", i, refused)
					}
					accepted++
					continue
				}
				refused++
				msg := wantError(t, fmt.Sprintf("request %d", i), r, http.StatusRequestEntityTooLarge, streamapi.CodePayloadTooBig)
				if !strings.Contains(msg, "limit of") {
					t.Errorf("request %d: message %q does not name the limit", i, msg)
				}
				if _, after := storedBytes(t, e.store, "tenant-a"); after != before {
					t.Fatalf("request %d was refused but changed the stored hooks", i)
				}
			}
			stored, _ := storedBytes(t, e.store, "tenant-a")
			if refused == 0 {
				t.Fatalf("all %d updates accepted: the app stores %d bytes, more than the bound of %d", c.requests, stored, bound)
			}
			if stored > bound {
				t.Errorf("the app stores %d bytes, more than the bound of %d", stored, bound)
			}
			if c.fillsApp {
				if accepted == 0 {
					t.Errorf("no hook of %d bytes accepted, want hooks up to the bound of %d", hookBytes, bound)
				}
				if stored+1+hookBytes <= bound {
					t.Errorf("refused at %d bytes stored although a hook of %d bytes fits the bound of %d", stored, hookBytes, bound)
				}
			}

			r := e.asA(t, "GET", "/app", nil)
			wantOK(t, "GET /app", r)
			hooks := hooksOf(t, r)
			if len(hooks) != 1+accepted {
				t.Errorf("GET /app shows %d hooks, want %d", len(hooks), 1+accepted)
			}
			shown, _ := json.Marshal(hooks)
			if len(shown) > bound {
				t.Errorf("GET /app shows %d bytes of event_hooks, more than the bound of %d", len(shown), bound)
			}
			if len(r.raw) > 2*bound+4096 {
				t.Errorf("GET /app answers %d bytes, more than twice the bound of %d", len(r.raw), bound)
			}
		})
	}
}

func TestHookBound(t *testing.T) {
	e := newEnv(t, func(o *streamapi.Options) { o.MaxHookBytes = 8 << 10 })
	wantOK(t, "setup", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{webhookHook()}}))
	_, before := storedBytes(t, e.store, "tenant-a")
	small := paddedHook("small", "sns", 1<<10)
	r := e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{small, paddedHook("fat", "webhook", 9<<10)}})
	msg := wantError(t, "a hook over the bound", r, http.StatusRequestEntityTooLarge, streamapi.CodePayloadTooBig)
	fields, _ := r.body["exception_fields"].(map[string]any)
	if rule, _ := fields["event_hooks[1]"].(string); !strings.Contains(rule, "limit of 8192 bytes per hook") || len(fields) != 1 {
		t.Errorf("exception_fields %v, want event_hooks[1] over the limit of 8192 bytes per hook (message %q)", fields, msg)
	}
	if _, after := storedBytes(t, e.store, "tenant-a"); after != before {
		t.Errorf("a refused update changed the stored hooks")
	}
	wantOK(t, "hooks under the bound", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{small, paddedHook("thin", "webhook", 6<<10)}}))
}

// An app that stores more than the bound (stored before the bound was
// lowered) is not shown, nor added to; replacing its list mends it.
func TestStoredSettingsOverTheBound(t *testing.T) {
	const bound = 32 << 10
	e := newEnv(t, func(o *streamapi.Options) { o.MaxAppSettingsBytes = bound })
	var old []json.RawMessage
	for i := range 8 {
		raw, _ := json.Marshal(paddedHook(fmt.Sprintf("old-%d", i), "webhook", 8<<10))
		old = append(old, raw)
	}
	if err := e.store.Save(context.Background(), "tenant-a", old); err != nil {
		t.Fatal(err)
	}
	r := e.asA(t, "GET", "/app", nil)
	if r.status == http.StatusOK {
		t.Fatalf("GET /app over the bound answered 200 with %d bytes, want 413", len(r.raw))
	}
	msg := wantError(t, "GET /app over the bound", r, http.StatusRequestEntityTooLarge, streamapi.CodePayloadTooBig)
	if !strings.Contains(msg, fmt.Sprintf("limit of %d bytes", bound)) || len(r.raw) > 2048 {
		t.Errorf("GET /app over the bound: %d bytes, message %q; want a short answer naming the limit", len(r.raw), msg)
	}
	r = e.asA(t, "PATCH", "/app", map[string]any{"explicit_event_hooks_deletion": true, "event_hooks": []any{webhookHook()}})
	wantError(t, "adding to a list over the bound", r, http.StatusRequestEntityTooLarge, streamapi.CodePayloadTooBig)
	wantOK(t, "replacing the list", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{webhookHook()}}))
	r = e.asA(t, "GET", "/app", nil)
	wantOK(t, "GET /app after the list was replaced", r)
	if hooks := hooksOf(t, r); len(hooks) != 1 || hooks[0]["id"] != "wh-1" {
		t.Errorf("GET /app: %v, want the one hook written", hooks)
	}
}

// checkCounter is a Checker that counts the checks of each tenant.
type checkCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *checkCounter) check(_ context.Context, tenant string, _ sqshook.Hook) sqshook.CheckResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[tenant]++
	return sqshook.CheckResult{Status: sqshook.CheckOK}
}

func (c *checkCounter) count(tenant string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[tenant]
}

// checkBody asks check_sqs to check given settings (the Checker is called
// once per request).
func checkBody() map[string]any {
	return map[string]any{"sqs_url": "https://sqs.us-east-1.amazonaws.com/123456789012/q", "sqs_key": hookKey, "sqs_secret": hookSecret}
}

func TestCheckSQSRateLimit(t *testing.T) {
	clock := newFakeClock()
	checks := &checkCounter{}
	e := newEnv(t, func(o *streamapi.Options) { o.Now = clock.Now; o.Check = checks.check })

	for i := range streamapi.DefaultCheckBurst {
		wantOK(t, fmt.Sprintf("check %d of the burst", i), e.asA(t, "POST", "/check_sqs", checkBody()))
	}
	r := e.asA(t, "POST", "/check_sqs", checkBody())
	msg := wantError(t, "check after the burst", r, http.StatusTooManyRequests, streamapi.CodeRateLimit)
	wantRetry := strconv.Itoa(int(streamapi.DefaultCheckEvery / time.Second))
	if got := r.header.Get("Retry-After"); got != wantRetry || !strings.Contains(msg, "try again in "+wantRetry+"s") {
		t.Errorf("refused check: Retry-After %q, message %q; want %s seconds", got, msg, wantRetry)
	}
	// An empty body (every hook of the app) is refused too.
	wantError(t, "check of every hook after the burst", e.asA(t, "POST", "/api/v2/check_sqs", ""), http.StatusTooManyRequests, streamapi.CodeRateLimit)
	if n := checks.count("tenant-a"); n != streamapi.DefaultCheckBurst {
		t.Errorf("%d checks ran for app A, want %d (refused requests check nothing)", n, streamapi.DefaultCheckBurst)
	}

	// The other app has its own bucket.
	wantOK(t, "app B", e.asB(t, "POST", "/check_sqs", checkBody()))
	if n := checks.count("tenant-b"); n != 1 {
		t.Errorf("%d checks ran for app B, want 1", n)
	}

	// One more check each DefaultCheckEvery.
	clock.Advance(streamapi.DefaultCheckEvery)
	wantOK(t, "check after DefaultCheckEvery", e.asA(t, "POST", "/check_sqs", checkBody()))
	wantError(t, "second check after DefaultCheckEvery", e.asA(t, "POST", "/check_sqs", checkBody()), http.StatusTooManyRequests, streamapi.CodeRateLimit)
}

func TestCheckLimiterOption(t *testing.T) {
	t.Run("unlimited", func(t *testing.T) {
		e := newEnv(t, func(o *streamapi.Options) { o.Check = (&checkCounter{}).check; o.CheckLimiter = streamapi.Unlimited() })
		for i := range 3 * streamapi.DefaultCheckBurst {
			wantOK(t, fmt.Sprintf("check %d", i), e.asA(t, "POST", "/check_sqs", checkBody()))
		}
	})
	t.Run("own rate", func(t *testing.T) {
		clock := newFakeClock()
		e := newEnv(t, func(o *streamapi.Options) {
			o.Check = (&checkCounter{}).check
			o.CheckLimiter = streamapi.NewAppLimiter(streamapi.Rate{Every: time.Minute, Burst: 2}, 0, clock.Now)
		})
		wantOK(t, "check 1", e.asA(t, "POST", "/check_sqs", checkBody()))
		wantOK(t, "check 2", e.asA(t, "POST", "/check_sqs", checkBody()))
		r := e.asA(t, "POST", "/check_sqs", checkBody())
		wantError(t, "check 3", r, http.StatusTooManyRequests, streamapi.CodeRateLimit)
		if got := r.header.Get("Retry-After"); got != "60" {
			t.Errorf("Retry-After %q, want 60", got)
		}
		clock.Advance(30 * time.Second)
		if r := e.asA(t, "POST", "/check_sqs", checkBody()); r.header.Get("Retry-After") != "30" {
			t.Errorf("half a minute later: %d, Retry-After %q, want 429 and 30", r.status, r.header.Get("Retry-After"))
		}
	})
}

func TestAppLimiter(t *testing.T) {
	clock := newFakeClock()
	l := streamapi.NewAppLimiter(streamapi.Rate{Every: time.Second, Burst: 2}, 3, clock.Now)
	allow := func(tenant string, want bool) {
		t.Helper()
		if ok, _ := l.Allow(tenant); ok != want {
			t.Fatalf("Allow(%q) = %v, want %v", tenant, ok, want)
		}
	}
	allow("a", true)
	allow("a", true)
	allow("a", false)
	if ok, retry := l.Allow("a"); ok || retry != time.Second {
		t.Errorf("Allow of a spent bucket: %v, retry %v; want false, 1s", ok, retry)
	}

	// At most 3 apps, the least recently seen forgotten first: a (spent)
	// is seen again, so b goes and a stays spent.
	allow("b", true)
	allow("c", true)
	allow("a", false)
	allow("d", true)
	if n := l.Len(); n != 3 {
		t.Errorf("Len = %d, want 3 (the bound)", n)
	}
	allow("a", false)
	for i := range 100 {
		allow(fmt.Sprintf("app-%d", i), true)
	}
	if n := l.Len(); n != 3 {
		t.Errorf("after 100 more apps, Len = %d, want 3", n)
	}

	// Full buckets are forgotten: Burst × Every after its last request an
	// app is as new.
	clock.Advance(2 * time.Second)
	allow("e", true)
	if n := l.Len(); n != 1 {
		t.Errorf("after every other bucket filled up, Len = %d, want 1", n)
	}
	allow("a", true)
	allow("a", true)
	allow("a", false)
}

func TestRefusedAuthenticationLogIsBounded(t *testing.T) {
	const msg = "streamapi: authentication refused"
	refuse := func(t *testing.T, e *env, n int) {
		t.Helper()
		for range n {
			if r := e.call(t, "GET", "/app", keyA, "not-a-token", nil); r.status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", r.status)
			}
		}
	}
	t.Run("default", func(t *testing.T) {
		clock := newFakeClock()
		rec := &recordHandler{}
		e := newEnv(t, func(o *streamapi.Options) { o.Now = clock.Now; o.Logger = slog.New(rec) })
		const n = 200
		refuse(t, e, n)
		if got := len(rec.withMessage(msg)); got != 1 {
			t.Fatalf("%d refusals within DefaultAuthLogInterval logged %d lines, want 1", n, got)
		}
		clock.Advance(streamapi.DefaultAuthLogInterval - time.Millisecond)
		refuse(t, e, 1)
		clock.Advance(time.Millisecond)
		refuse(t, e, 1)
		lines := rec.withMessage(msg)
		if len(lines) != 2 {
			t.Fatalf("%d lines after DefaultAuthLogInterval, want 2", len(lines))
		}
		if got := attr(lines[1], "unlogged_refusals"); got != int64(n) {
			t.Errorf("second line: unlogged_refusals %v, want %d", got, n)
		}
		if got := attr(lines[1], "path"); got != "/app" {
			t.Errorf("second line: path %v, want /app", got)
		}
	})
	t.Run("every refusal", func(t *testing.T) {
		rec := &recordHandler{}
		e := newEnv(t, func(o *streamapi.Options) { o.AuthLogInterval = -1; o.Logger = slog.New(rec) })
		refuse(t, e, 5)
		if got := len(rec.withMessage(msg)); got != 5 {
			t.Errorf("AuthLogInterval < 0: %d lines for 5 refusals, want 5", got)
		}
	})
}

// A body that does not arrive before the server's ReadTimeout is answered
// with Stream's request timeout, which names no address.
func TestBodyTimeout(t *testing.T) {
	e := newEnv(t, nil)
	srv := httptest.NewUnstartedServer(e.h)
	srv.Config.ReadTimeout = 200 * time.Millisecond
	srv.Start()
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "PATCH /app?api_key=%s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nStream-Auth-Type: jwt\r\n"+
		"Content-Length: 1000\r\n\r\n{\"event_hooks\": [", keyA, addr, serverToken(t, secretA))
	if err := c.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a body that never came: %v", err)
	}
	r := decode(t, res)
	wantError(t, "a body that never came", r, http.StatusRequestTimeout, streamapi.CodeTimeout)
	for _, a := range []string{addr, c.LocalAddr().String()} {
		host, port, _ := net.SplitHostPort(a)
		if strings.Contains(r.raw, host) || strings.Contains(r.raw, ":"+port) {
			t.Errorf("the answer names the address %s: %s", a, r.raw)
		}
	}
}
