// Package streamapi serves the part of Stream Chat's server-side REST API
// with which customers configure and test their SQS event hooks, so that
// Stream's own server SDKs (and the snippets of Stream's documentation) work
// against a chat server built on sqshook by changing only the base URL.
//
// This file owns the Handler: its options, their defaults and the routing.
//
// # Endpoints
//
//	GET   /app        the app's settings: its event_hooks,
//	                  enable_hook_payload_compression and sqs_body_encoding,
//	                  both at the top of the response (as the JavaScript SDK
//	                  reads them) and in "app" (as the Go, Python, Ruby, Java
//	                  and .NET SDKs do)
//	PATCH /app        replaces the app's event_hooks as a whole, and sets
//	                  enable_hook_payload_compression and sqs_body_encoding
//	POST  /check_sqs  checks the given SQS settings or, with an empty body,
//	                  every SQS hook of the app
//
// Each is also served under /api/v2 (/api/v2/app, /api/v2/check_sqs), where
// Stream's generated SDKs (Go, Python, Ruby, Java, PHP, .NET) send them; the
// JavaScript SDK uses the paths above.
//
// Every response carries Stream's "duration"; every error has Stream's shape
// (code, message, StatusCode, duration, more_info, exception_fields), see
// errors.go.
//
// # Authentication
//
// As Stream's server SDKs send it: the api_key query parameter names the app,
// the Authorization header holds a JWT signed with HS256 and the app's secret
// whose claims hold "server": true, and the stream-auth-type header is
// "jwt". Every refusal (unknown api key, wrong secret, user token, another
// algorithm, expired token) gets the same error. The api key decides the
// tenant: one app's credentials never read or change another app's hooks.
//
// # Hooks of every kind, SQS hooks to the dispatcher
//
// The event_hooks array holds every kind of hook (sqs, webhook, sns,
// pending_message). The handler stores and returns the other kinds unchanged
// (it only checks their hook_type and id) and hands the sqs hooks, validated
// with sqshook's rules, to the Applier.
//
// # Body encodings
//
// Each sqs hook's bodies follow Stream's SQS contract, the one the
// parseSqs helper of Stream's SDKs reads: the event JSON in base64, or
// gzipped and then in base64 while the app's
// enable_hook_payload_compression is on. The app's sqs_body_encoding
// ("stream", the default, or "raw"), or the hook's own, chooses raw JSON
// instead, for a consumer that JSON-parses the body as the example of
// Stream's SQS documentation does. One function decides each hook's
// encoding, which the Applier receives as sqshook.Hook.BodyEncoding.
// sqshook.DecodeBody reads every encoding.
//
// # Secrets
//
// GET /app never shows a credential: sqs_secret and sns_secret are shown as
// [SecretPlaceholder], sqs_key and sns_key cut to their last four characters
// ("…WXYZ", or the placeholder when they are short). Writing a hook back as
// it was read keeps its stored credentials: in PATCH /app, a credential field
// of a hook whose id names a stored hook of the same hook_type keeps its
// stored value when it holds exactly what GET showed for it. A secret is
// kept only while the hook's access key is the stored one (a new key needs
// its own secret). Any other value replaces the stored one; a field left out
// is removed. The placeholder is never accepted as a new secret.
//
// # Persistence and atomicity
//
// Hook lists are read and written through a [Store] the chat server
// implements with its own database ([MemoryStore] and [FileStore] are
// embedded defaults), and every accepted update is applied through an
// [Applier] ([Tenants] makes each app a tenant and sends each hook in its
// encoding; [TenantApplier] makes each app a tenant of one dispatcher you
// made, every hook in that dispatcher's encoding). App settings are kept
// by a Store that is also a [SettingsStore]. An update is
// validated first, then saved, then applied; when applying fails the
// previous list is saved back, so the store and the dispatcher never
// disagree: if saving fails the dispatcher is untouched.
//
// # Limits
//
// What a customer sends is bounded, each bound an [Options] field with a
// Default… constant: a request body (MaxBodyBytes), the hooks of an app
// (MaxHooks), one hook as stored (MaxHookBytes) and everything an app
// stores (MaxAppSettingsBytes: the whole event_hooks array, hooks of every
// kind and their unknown fields included). With
// explicit_event_hooks_deletion each update keeps the stored hooks, so
// MaxAppSettingsBytes, not the body limit, is what bounds what an app
// stores and what GET /app returns. A refused update stores nothing; a
// refusal for size has Stream's code 22 ([CodePayloadTooBig]) and HTTP
// 413. POST /check_sqs, which makes AWS calls for each hook it checks, is
// rate limited per app ([Options.CheckLimiter], by default an
// [AppLimiter]: HTTP 429, code 9, with Retry-After), and refused
// authentications, which anyone can cause, are logged at most once per
// [Options.AuthLogInterval].
//
// # Serving
//
// The Handler bounds what a request may hold, not how long a client may
// take to send it. Serve it with an [net/http.Server] that sets
// ReadHeaderTimeout and ReadTimeout (without them a client that announces
// a body and never sends it keeps its connection and a goroutine for ever;
// a body cut short by ReadTimeout is answered with Stream's code 23, HTTP
// 408), WriteTimeout (a client that reads its answer slowly; longer than
// the slowest check_sqs, which checks up to MaxHooks hooks,
// [CheckConcurrency] at a time, each bounded by its Checker's timeout: 50
// hooks and the default 10 s take at most about 70 s), IdleTimeout (idle
// keep-alive connections) and MaxHeaderBytes (Stream's SDKs send a few
// kilobytes; the default allows a megabyte). A proxy in front that sets
// the same bounds does as well.
package streamapi

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sqshook/sqshook"
)

// Defaults of Options.
const (
	// DefaultMaxBodyBytes is the largest request body accepted (1 MiB).
	DefaultMaxBodyBytes = 1 << 20
	// DefaultMaxHooks is the most hooks one app may have.
	DefaultMaxHooks = 50
	// DefaultLeeway is the clock skew allowed when a token has exp, nbf or
	// iat claims.
	DefaultLeeway = 30 * time.Second
	// DefaultMaxHookBytes is the largest one hook may be as stored (its
	// compact JSON, unknown fields included): 16 KiB. An sqs hook with
	// every field sqshook reads and a list of a hundred event types takes
	// under 4 KiB.
	DefaultMaxHookBytes = 16 << 10
	// DefaultMaxAppSettingsBytes is the most one app may store: 256 KiB of
	// event_hooks JSON, hooks of every kind and their unknown fields
	// included. That is DefaultMaxHooks hooks of about 5 KiB each (more
	// than any hook needs, see DefaultMaxHookBytes); a quarter of
	// DefaultMaxBodyBytes, so that the whole list read with GET /app and
	// written back in one PATCH /app fits the body limit; and GET /app,
	// which shows the list twice, answers at most about 512 KiB.
	DefaultMaxAppSettingsBytes = 256 << 10
)

// App is what the chat server knows about an app (a tenant): its id, which
// names its hooks in the Store and the Applier, and its API secret. Every
// way of showing an App (String, the fmt verbs, slog) hides the secret.
type App struct {
	// Tenant identifies the app; never empty.
	Tenant string
	// Secret is the app's API secret, with which its server tokens are
	// signed (HS256). An empty secret refuses every request.
	Secret []byte
}

// String shows the app without its secret.
func (a App) String() string {
	return fmt.Sprintf("{Tenant:%s Secret:%s}", a.Tenant, redactedSecret(a.Secret))
}

// GoString shows the app in Go syntax, without its secret.
func (a App) GoString() string {
	return fmt.Sprintf("streamapi.App{Tenant:%q, Secret:%s}", a.Tenant, redactedSecret(a.Secret))
}

// Format implements fmt.Formatter so that every verb hides the secret.
func (a App) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, a.GoString())
		return
	}
	fmt.Fprint(f, a.String())
}

// LogValue implements slog.LogValuer: apps are logged without their secret.
func (a App) LogValue() slog.Value {
	return slog.GroupValue(slog.String("tenant", a.Tenant), slog.String("secret", redactedSecret(a.Secret)))
}

func redactedSecret(s []byte) string {
	if len(s) == 0 {
		return "(none)"
	}
	return SecretPlaceholder
}

// Apps looks up an app by its API key. The chat server implements it with
// its own records. Lookup must be safe for concurrent use.
type Apps interface {
	Lookup(ctx context.Context, apiKey string) (App, bool)
}

// AppMap is an Apps held in memory: API key → App.
type AppMap map[string]App

// Lookup implements Apps.
func (m AppMap) Lookup(_ context.Context, apiKey string) (App, bool) {
	a, ok := m[apiKey]
	return a, ok
}

// Checker checks one SQS hook of tenant, as Stream's check_sqs does.
type Checker func(ctx context.Context, tenant string, h sqshook.Hook) sqshook.CheckResult

// Options configures a Handler. Apps and Applier are required; every other
// zero field takes the default its comment names.
type Options struct {
	// Apps maps API keys to apps. Required.
	Apps Apps
	// Store holds every app's hook list and, when it is a SettingsStore,
	// its settings. Default: a new MemoryStore.
	Store Store
	// Applier receives every app's validated SQS hooks, each with its
	// BodyEncoding, after each accepted update. Required (TenantApplier,
	// or Tenants, which bundles a dispatcher with it).
	Applier Applier
	// Endpoint is the SQS endpoint override (an emulator), used by the
	// default Validation and Check. Empty: AWS's own endpoints.
	Endpoint string
	// Validation returns the rules with which tenant's SQS hooks are
	// validated. Default: sqshook.ValidateOptions{Endpoint: Endpoint}. It
	// should agree with what the Applier accepts.
	Validation func(tenant string) sqshook.ValidateOptions
	// Check checks a hook for POST /check_sqs. Default: sqshook.CheckHook
	// with CheckOptions{Endpoint: Endpoint, MultiTenant: true, Logger: Logger}.
	// It is called for up to CheckConcurrency hooks of one request at once.
	Check Checker
	// MaxBodyBytes bounds request bodies. Default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxHooks bounds the hooks of one app. Default DefaultMaxHooks.
	MaxHooks int
	// MaxHookBytes bounds one hook as stored (compact JSON, unknown fields
	// included). Default DefaultMaxHookBytes.
	MaxHookBytes int
	// MaxAppSettingsBytes bounds what one app stores: its event_hooks array
	// as stored (compact JSON, hooks of every kind and unknown fields
	// included). An update that would exceed it is refused; GET /app of an
	// app that holds more (stored before the bound was lowered) is refused
	// too, until an update without explicit_event_hooks_deletion replaces
	// the list. Keep it below MaxBodyBytes, so that the list read can be
	// written back. Default DefaultMaxAppSettingsBytes.
	MaxAppSettingsBytes int
	// CheckLimiter limits how often an app may call POST /check_sqs.
	// Default: NewAppLimiter(Rate{DefaultCheckEvery, DefaultCheckBurst},
	// DefaultLimiterApps, Now). Unlimited() turns the limit off.
	CheckLimiter Limiter
	// AuthLogInterval is how often a refused authentication is logged at
	// most: each line's unlogged_refusals counts the refusals not logged
	// since the previous line. Default DefaultAuthLogInterval; negative
	// logs every refusal.
	AuthLogInterval time.Duration
	// Leeway is the clock skew allowed for exp, nbf and iat. Default
	// DefaultLeeway; negative means none.
	Leeway time.Duration
	// Logger receives one line per refused or failed request (refused
	// authentications: see AuthLogInterval) and per applied update; never
	// a body, a token or a secret. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock for token expiry, the default CheckLimiter and
	// AuthLogInterval. Default time.Now.
	Now func() time.Time
}

// Handler serves the settings API; see the package documentation. It is
// safe for concurrent use; updates of one app are serialised. It bounds
// what requests hold, not how long clients take: serve it with an
// http.Server whose timeouts are set (see "Serving" in the package
// documentation).
type Handler struct {
	opts Options
	// dummySecret verifies tokens of unknown api keys, so that an unknown
	// key costs what a wrong signature costs.
	dummySecret []byte
	refusals    *refusalLog

	mu    sync.Mutex
	locks map[string]*sync.Mutex // per tenant: PATCH is read-modify-write
}

// New returns a Handler, or an error naming a missing required option.
func New(opts Options) (*Handler, error) {
	var missing []error
	if opts.Apps == nil {
		missing = append(missing, errors.New("streamapi: Options.Apps is required"))
	}
	if opts.Applier == nil {
		missing = append(missing, errors.New("streamapi: Options.Applier is required"))
	}
	if err := errors.Join(missing...); err != nil {
		return nil, err
	}
	if opts.Store == nil {
		opts.Store = NewMemoryStore()
	}
	if opts.Validation == nil {
		endpoint := opts.Endpoint
		opts.Validation = func(string) sqshook.ValidateOptions { return sqshook.ValidateOptions{Endpoint: endpoint} }
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Check == nil {
		endpoint, logger := opts.Endpoint, opts.Logger
		opts.Check = func(ctx context.Context, _ string, h sqshook.Hook) sqshook.CheckResult {
			return sqshook.CheckHook(ctx, h, sqshook.CheckOptions{Endpoint: endpoint, MultiTenant: true, Logger: logger})
		}
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxHooks <= 0 {
		opts.MaxHooks = DefaultMaxHooks
	}
	switch {
	case opts.Leeway == 0:
		opts.Leeway = DefaultLeeway
	case opts.Leeway < 0:
		opts.Leeway = 0
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxHookBytes <= 0 {
		opts.MaxHookBytes = DefaultMaxHookBytes
	}
	if opts.MaxAppSettingsBytes <= 0 {
		opts.MaxAppSettingsBytes = DefaultMaxAppSettingsBytes
	}
	if opts.CheckLimiter == nil {
		opts.CheckLimiter = NewAppLimiter(Rate{}, DefaultLimiterApps, opts.Now)
	}
	switch {
	case opts.AuthLogInterval == 0:
		opts.AuthLogInterval = DefaultAuthLogInterval
	case opts.AuthLogInterval < 0:
		opts.AuthLogInterval = 0
	}
	h := &Handler{opts: opts, dummySecret: make([]byte, 32), locks: make(map[string]*sync.Mutex),
		refusals: &refusalLog{interval: opts.AuthLogInterval}}
	if _, err := rand.Read(h.dummySecret); err != nil {
		return nil, err
	}
	return h, nil
}

// ServeHTTP implements http.Handler. Mount it where Stream's base URL
// points (with http.StripPrefix when it lives under a path).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rq := &request{h: h, w: w, r: r, start: time.Now()}
	// The JavaScript SDK (stream-chat) calls /app; Stream's generated SDKs
	// (Go, Python, Ruby, Java, PHP, .NET) call /api/v2/app.
	path := r.URL.Path
	if rest, ok := strings.CutPrefix(path, "/api/v2/"); ok {
		path = "/" + rest
	}
	var allowed string
	switch path {
	case "/app":
		allowed = "GET, PATCH"
	case "/check_sqs":
		allowed = "POST"
	default:
		rq.fail(errNotFound(r.URL.Path))
		return
	}
	app, ok := h.authenticate(r)
	if !ok {
		h.logRefusal(r)
		rq.fail(errAuth())
		return
	}
	rq.app = app
	rq.secrets = []string{string(app.Secret)}
	switch {
	case path == "/app" && r.Method == http.MethodGet:
		h.getApp(rq)
	case path == "/app" && r.Method == http.MethodPatch:
		h.updateApp(rq)
	case path == "/check_sqs" && r.Method == http.MethodPost:
		if h.allowCheck(rq) {
			h.checkSQS(rq)
		}
	default:
		w.Header().Set("Allow", allowed)
		rq.fail(errMethod(r.Method, r.URL.Path, allowed))
	}
}

// tenantLock returns the mutex that serialises updates of tenant.
func (h *Handler) tenantLock(tenant string) *sync.Mutex {
	h.mu.Lock()
	defer h.mu.Unlock()
	m, ok := h.locks[tenant]
	if !ok {
		m = new(sync.Mutex)
		h.locks[tenant] = m
	}
	return m
}

// lockStore returns the Store through which an update of tenant loads and
// saves: Options.Store, or the view of it LockTenant returns when it is a
// TenantLocker (then unlock must be called). The caller holds tenantLock.
func (h *Handler) lockStore(ctx context.Context, tenant string) (Store, func(), error) {
	if lk, ok := h.opts.Store.(TenantLocker); ok {
		return lk.LockTenant(ctx, tenant)
	}
	return h.opts.Store, func() {}, nil
}

// Restore applies tenant's stored SQS hooks through the Applier, as a chat
// server does for each app when it starts.
func (h *Handler) Restore(ctx context.Context, tenant string) error {
	l := h.tenantLock(tenant)
	l.Lock()
	defer l.Unlock()
	stored, err := h.opts.Store.Load(ctx, tenant)
	if err != nil {
		return err
	}
	settings, err := h.loadSettings(ctx, tenant)
	if err != nil {
		return err
	}
	hooks, err := sqsHooks(stored, settings)
	if err != nil {
		return err
	}
	return h.opts.Applier.ApplyHooks(ctx, tenant, hooks)
}
