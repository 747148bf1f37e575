// options.go holds every option of New, its default and its validation,
// and the options of RemoveTenant.

package sqshook

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/sqshook/sqshook/spool"
)

// Defaults of the dispatcher's options. Each is what an option left out
// means.
const (
	// DefaultLinger is how long a partial batch waits for more events.
	DefaultLinger = 10 * time.Millisecond
	// DefaultMaxInFlight is the most concurrent SendMessageBatch calls per
	// hook. By default the limit adapts between 1 and this maximum, starting
	// at DefaultInitialInFlight (see WithAdaptiveInFlight).
	DefaultMaxInFlight = 64
	// DefaultMaxBufferedEvents bounds the events a hook holds (queued, in
	// flight and waiting to be retried).
	DefaultMaxBufferedEvents = 10_000
	// DefaultMaxBufferedBytes bounds the message bytes a hook holds.
	DefaultMaxBufferedBytes = 32 << 20
	// DefaultMaxHooksPerTenant caps the hooks of one tenant.
	DefaultMaxHooksPerTenant = 1000
	// DefaultTenantBufferedEvents bounds the events all hooks of one tenant
	// hold together.
	DefaultTenantBufferedEvents = 100_000
	// DefaultTenantBufferedBytes bounds the message bytes all hooks of one
	// tenant hold together.
	DefaultTenantBufferedBytes = 256 << 20
	// DefaultDispatcherBufferedEvents bounds the events the whole
	// dispatcher holds, all hooks together.
	DefaultDispatcherBufferedEvents = 1_000_000
	// DefaultDispatcherBufferedBytes bounds the message bytes the whole
	// dispatcher holds: the process-wide memory bound of queued events.
	DefaultDispatcherBufferedBytes = 1 << 30
	// DefaultOverflowWait is the longest Publish waits for room in a full
	// hook under OverflowWait.
	DefaultOverflowWait = time.Second
	// DefaultCallTimeout bounds one SendMessageBatch call; a call that runs
	// out is retried as an ambiguous outcome.
	DefaultCallTimeout = 20 * time.Second
	// DefaultMetricsDetailLimit is the most hooks that get metric series
	// of their own under WithMetricsDetail, over a dispatcher's life (see
	// WithMetricsDetailLimit).
	DefaultMetricsDetailLimit = 100
	// DefaultTenantMaxInFlight bounds the SendMessageBatch calls all hooks
	// of one tenant have in flight together: a quarter of
	// DefaultMaxConnsPerHost, so that no tenant's hanging queues can hold
	// more than a quarter of the connections to an endpoint. When the
	// client pool has another bound (ClientOptions.MaxConnsPerHost, or
	// MaxIdleConnsPerHost or WithMaxInFlight above 256), the default is a
	// quarter of that (at least 1).
	DefaultTenantMaxInFlight = DefaultMaxConnsPerHost / 4
	// DefaultSlowCall is how long a hook's calls in flight may go without
	// an answer before the hook counts as failing (see WithSlowCall).
	DefaultSlowCall = time.Second
)

// RetryPolicy shapes the exponential back-off between attempts to deliver
// an event after transient failures (throttling, 5xx, network errors, failed
// entries that are not the sender's fault). Each event gets a fresh policy
// at its first failure; its next attempt waits the policy's next interval,
// with jitter. The zero value means the defaults listed per field.
type RetryPolicy struct {
	// InitialInterval is the first wait. 0 means 100 ms.
	InitialInterval time.Duration
	// MaxInterval caps a single wait. 0 means 10 s.
	MaxInterval time.Duration
	// Multiplier grows the wait after each attempt. 0 means 2.
	Multiplier float64
	// RandomizationFactor is the jitter: each wait is drawn from
	// [w·(1-f), w·(1+f)]. 0 means 0.5; a negative value means no jitter.
	RandomizationFactor float64
	// MaxElapsedTime is the retry budget, counted from an event's first
	// failure; past it the event is dead-lettered as retries_exhausted
	// (with WithSpool it goes back to disk to be tried again instead).
	// 0 means 5 minutes.
	MaxElapsedTime time.Duration
	// MaxAttempts caps the attempts per event (the first one included).
	// 0 means 100.
	MaxAttempts int
}

func (r RetryPolicy) withDefaults() RetryPolicy {
	if r.InitialInterval <= 0 {
		r.InitialInterval = 100 * time.Millisecond
	}
	if r.MaxInterval <= 0 {
		r.MaxInterval = 10 * time.Second
	}
	if r.Multiplier <= 0 {
		r.Multiplier = 2
	}
	switch {
	case r.RandomizationFactor == 0:
		r.RandomizationFactor = 0.5
	case r.RandomizationFactor < 0:
		r.RandomizationFactor = 0
	}
	if r.MaxElapsedTime <= 0 {
		r.MaxElapsedTime = 5 * time.Minute
	}
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = 100
	}
	return r
}

// newBackOff returns a fresh exponential back-off for one event.
func (r RetryPolicy) newBackOff() backoff.BackOff {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(r.InitialInterval),
		backoff.WithMaxInterval(r.MaxInterval),
		backoff.WithMultiplier(r.Multiplier),
		backoff.WithRandomizationFactor(r.RandomizationFactor),
		backoff.WithMaxElapsedTime(r.MaxElapsedTime),
	)
	return b
}

// Option configures a Dispatcher; pass options to New.
type Option func(*settings)

type settings struct {
	linger             time.Duration
	maxInFlight        int
	adaptiveInFlight   bool
	maxBufferedEvents  int
	maxBufferedBytes   int
	maxBatchBytes      int
	callTimeout        time.Duration
	guard              SizeGuard
	retry              RetryPolicy
	newBackOff         func() backoff.BackOff
	deadLetter         func(DeadLetter)
	logger             *slog.Logger
	endpoint           string
	clientFor          func(context.Context, Hook) (SQSAPI, error)
	clientOptions      ClientOptions
	clock              clock
	groupStrategy      GroupStrategy
	externalID         string
	tenantExternalID   func(tenant string) string
	roleAuthOnly       bool
	insecureEndpoint   bool
	multiTenant        bool
	resourceForTenants bool
	maxHooksPerTenant  int
	maxTenantEvents    int
	maxTenantBytes     int
	overflow           OverflowRule
	overflowWait       time.Duration
	maxTotalEvents     int
	maxTotalBytes      int
	failingCalls       int
	failingAfter       time.Duration
	probeInterval      time.Duration
	tenantMaxInFlight  int // 0 until validate resolves the default
	slowCall           time.Duration
	spool              *spoolConfig    // WithSpool; nil: none
	postgres           *postgresConfig // WithPostgres; nil: none
	resumeWait         time.Duration
	telemetrySettings
}

func defaultConfig() settings {
	return settings{
		linger:            DefaultLinger,
		maxInFlight:       DefaultMaxInFlight,
		adaptiveInFlight:  true,
		maxBufferedEvents: DefaultMaxBufferedEvents,
		maxBufferedBytes:  DefaultMaxBufferedBytes,
		maxBatchBytes:     DefaultMaxBatchBytes,
		callTimeout:       DefaultCallTimeout,
		clock:             realClock{},
		groupStrategy:     GroupByChannel,
		overflowWait:      DefaultOverflowWait,
		maxHooksPerTenant: DefaultMaxHooksPerTenant,
		maxTenantEvents:   DefaultTenantBufferedEvents,
		maxTenantBytes:    DefaultTenantBufferedBytes,
		maxTotalEvents:    DefaultDispatcherBufferedEvents,
		maxTotalBytes:     DefaultDispatcherBufferedBytes,
		failingCalls:      DefaultFailingCalls,
		failingAfter:      DefaultFailingAfter,
		probeInterval:     DefaultProbeInterval,
		slowCall:          DefaultSlowCall,
		resumeWait:        DefaultResumeWait,
		telemetrySettings: telemetrySettings{metricsDetailLimit: DefaultMetricsDetailLimit},
	}
}

// validate reports every bad option at once.
func (c *settings) validate() error {
	var v validator
	if c.linger < 0 {
		v.add("linger", "must not be negative")
	}
	if c.maxInFlight < 1 {
		v.add("max_in_flight", "must be at least 1")
	}
	if c.maxBufferedEvents < 1 {
		v.add("max_buffered_events", "must be at least 1")
	}
	if c.maxBatchBytes < 1 || c.maxBatchBytes > MaxBatchBytesLimit {
		v.add("max_batch_bytes", fmt.Sprintf("%d is outside 1..%d", c.maxBatchBytes, MaxBatchBytesLimit))
	}
	if c.callTimeout <= 0 {
		v.add("call_timeout", "must be positive")
	}
	if c.overflow != OverflowDeadLetter && c.overflow != OverflowWait {
		v.add("overflow", fmt.Sprintf("unknown rule %d", int(c.overflow)))
	}
	if c.overflowWait <= 0 {
		v.add("overflow_wait", "must be positive")
	}
	if c.maxHooksPerTenant < 1 {
		v.add("max_hooks_per_tenant", "must be at least 1")
	}
	if c.maxTenantEvents < 1 {
		v.add("tenant_buffered_events", "must be at least 1")
	}
	if c.maxTotalEvents < 1 {
		v.add("dispatcher_buffered_events", "must be at least 1")
	}
	if c.failingCalls < 1 {
		v.add("failing_calls", "must be at least 1")
	}
	if c.probeInterval <= 0 {
		v.add("probe_interval", "must be positive")
	}
	if c.slowCall <= 0 {
		v.add("slow_call", "must be positive")
	}
	c.resolveTenantMaxInFlight(&v)
	if err := c.guard.Validate(); err != nil {
		v.add("size_guard", err.Error())
	}
	maxMsg := c.guard.Limit()
	if c.maxBufferedBytes < maxMsg {
		v.add("max_buffered_bytes", fmt.Sprintf("%d is below the message size limit %d", c.maxBufferedBytes, maxMsg))
	}
	if c.maxTenantBytes < maxMsg {
		v.add("tenant_buffered_bytes", fmt.Sprintf("%d is below the message size limit %d", c.maxTenantBytes, maxMsg))
	}
	if c.maxTotalBytes < maxMsg {
		v.add("dispatcher_buffered_bytes", fmt.Sprintf("%d is below the message size limit %d", c.maxTotalBytes, maxMsg))
	}
	if c.metricsDetailLimit < 0 {
		v.add("metrics_detail_limit", "must not be negative")
	}
	c.validateSpool(&v)
	c.validatePostgres(&v)
	return v.err()
}

// WithLinger sets how long a partial batch waits for more events before it
// is sent. 0 sends as soon as a sender is free. Default DefaultLinger.
func WithLinger(d time.Duration) Option { return func(c *settings) { c.linger = d } }

// WithGroupStrategy sets how FIFO hooks group events whose GroupID is
// empty. Default GroupByChannel. nil means no strategy: such events are
// dead-lettered with ReasonInvalidField (and the settings check warns about
// FIFO hooks), for servers that always set Event.GroupID.
func WithGroupStrategy(s GroupStrategy) Option {
	return func(c *settings) { c.groupStrategy = s }
}

// WithExternalID sets the ExternalId with which the default tenant's
// (Dispatcher.SetHooks) "role" hooks assume their role: the id this server
// assigned to the customer whose hooks the dispatcher serves, such as the
// app id. The customer's role trust policy requires it (TrustPolicy), which
// is what stops one customer from registering another customer's role: the
// other role trusts only the other customer's ExternalId. It must never
// come from the hook configuration, which the customer writes; ParseHooks
// refuses hooks that carry one. Without an ExternalId, the default
// tenant's "role" hooks are invalid. Default none.
//
// Other tenants (Dispatcher.Tenant) get theirs from WithTenantExternalID.
func WithExternalID(id string) Option {
	return func(c *settings) { c.externalID = id }
}

// WithTenantExternalID sets how a tenant's ExternalId is found: fn returns
// the ExternalId this server assigned to the tenant, from the server's own
// records (for example a UUID stored with the app). It receives only the
// tenant id under which the server authenticated the app (Dispatcher.Tenant),
// never anything from hook JSON, so a tenant that registers another tenant's
// hook id, role and queue still assumes that role with its own ExternalId
// and is refused by the role's trust policy. It must be fast and
// deterministic; an empty result makes that tenant's "role" hooks invalid.
//
// Default: the tenant id itself. AWS asks that an ExternalId be unique per
// customer and chosen by the provider, not by the customer; it is not a
// secret. A tenant id the server assigned meets that as long as ids are
// never reused for another customer; a server that may reuse ids should
// store a random ExternalId per tenant and return it here. The default
// tenant "" uses WithExternalID.
func WithTenantExternalID(fn func(tenant string) string) Option {
	return func(c *settings) { c.tenantExternalID = fn }
}

// WithMultiTenant declares that the default tenant's hooks belong to
// different customers (a server that does not use Dispatcher.Tenant). The
// settings check (Dispatcher.Check) then warns about "resource" hooks:
// every customer's queue policy allows the same server principal, so a
// customer can register another customer's queue URL. Default off.
func WithMultiTenant() Option { return func(c *settings) { c.multiTenant = true } }

// WithResourceAuthForTenants allows "resource" hooks in a dispatcher that
// serves several tenants (Dispatcher.Tenant with an id other than ""),
// which is refused by default: every customer's queue policy allows this
// same server principal, so one tenant who registers another tenant's queue
// URL has this server send its events there, and SQS accepts them. Opt in
// only when every tenant's hooks are vetted by the operator. Default off.
func WithResourceAuthForTenants() Option {
	return func(c *settings) { c.resourceForTenants = true }
}

// WithMaxHooksPerTenant caps the hooks of one tenant (the default tenant
// included): a longer list makes that tenant's SetHooks fail, naming the
// limit. Default DefaultMaxHooksPerTenant.
func WithMaxHooksPerTenant(n int) Option { return func(c *settings) { c.maxHooksPerTenant = n } }

// WithTenantLimits bounds what all hooks of one tenant hold together, in
// events and in message bytes; a copy that would pass it meets the overflow
// rule (WithOverflowWait) like a copy for a full hook, so one tenant's outage
// cannot take the room of the others. Defaults
// DefaultTenantBufferedEvents and DefaultTenantBufferedBytes; 0 keeps a
// default.
func WithTenantLimits(events, bytes int) Option {
	return func(c *settings) {
		if events != 0 {
			c.maxTenantEvents = events
		}
		if bytes != 0 {
			c.maxTenantBytes = bytes
		}
	}
}

// WithTenantMaxInFlight bounds the SendMessageBatch calls that all hooks
// of one tenant (the default tenant included) have in flight together.
// Each call holds an HTTP connection until it is answered or times out,
// and every tenant's calls to one regional endpoint share the client
// pool's connections to it (ClientOptions.MaxConnsPerHost): with this
// bound below that one, a tenant whose queues hang or answer slowly holds
// at most its share of the connections, and the other tenants' calls
// never wait for one. A hook past the bound waits for a call of its
// tenant to end, in turn with the tenant's other waiting hooks. n must be
// at least 1 and, when the dispatcher builds its own client pool, below
// its connections per host. Default DefaultTenantMaxInFlight: a quarter of
// the pool's connections per host; 0 keeps the default.
func WithTenantMaxInFlight(n int) Option {
	return func(c *settings) { c.tenantMaxInFlight = n }
}

// WithSlowCall sets how long a hook's calls in flight may go without any
// answer before the hook counts as failing (HealthFailing): its endpoint
// accepts calls and does not answer (a black-holed endpoint, a firewall),
// and each further call would hold a connection until the call timeout.
// The hook then starts no call until one of those in flight ends, and
// probes with one call at a time until a call succeeds. A queue that
// always answers slowly is given slowCallRTTs (8) of its smoothed round
// trips when that is longer; the call timeout (WithCallTimeout) caps the
// bound. Default DefaultSlowCall.
func WithSlowCall(d time.Duration) Option { return func(c *settings) { c.slowCall = d } }

// resolveTenantMaxInFlight checks WithTenantMaxInFlight against the
// connections per host of the client pool New builds, and resolves its
// default.
func (c *settings) resolveTenantMaxInFlight(v *validator) {
	conns := 0 // the pool's connections per host; 0: unknown or unbounded
	if c.clientFor == nil {
		co := c.clientOptions
		if co.MaxIdleConnsPerHost == 0 { // as New sizes the pool
			co.MaxIdleConnsPerHost = max(DefaultMaxIdleConnsPerHost, c.maxInFlight)
		}
		conns = co.connsPerHost()
	}
	switch n := c.tenantMaxInFlight; {
	case n < 0:
		v.add("tenant_max_in_flight", "must be at least 1")
	case n == 0 && conns > 0:
		c.tenantMaxInFlight = max(1, conns/4)
	case n == 0:
		c.tenantMaxInFlight = DefaultTenantMaxInFlight
	case conns > 0 && n >= conns:
		v.add("tenant_max_in_flight", fmt.Sprintf("%d is not below the client pool's %d connections per host: one tenant's hanging queues could hold them all", n, conns))
	}
}

// WithRoleAuthOnly refuses "resource" hooks (validation fails), for
// operators who want only the cross-tenant-safe "role" (and "keys") auth.
func WithRoleAuthOnly() Option { return func(c *settings) { c.roleAuthOnly = true } }

// WithMaxInFlight fixes the number of concurrent SendMessageBatch calls per
// hook at n, turning the adaptive limit off. A tenant's hooks together
// stay within WithTenantMaxInFlight.
func WithMaxInFlight(n int) Option {
	return func(c *settings) { c.maxInFlight, c.adaptiveInFlight = n, false }
}

// WithAdaptiveInFlight lets each hook's limit on concurrent
// SendMessageBatch calls adapt between 1 and most, like TCP congestion
// control: it grows while calls succeed and every slot is busy, halves on
// throttling, 5xx answers and network errors (at most once per round trip),
// and shrinks when round trips grow well above the smallest seen. This is
// the default, with most DefaultMaxInFlight.
func WithAdaptiveInFlight(most int) Option {
	return func(c *settings) { c.maxInFlight, c.adaptiveInFlight = most, true }
}

// WithMaxBuffered bounds what each hook holds — events queued, in flight and
// waiting to be retried — in events and in message bytes. When a hook is
// full, Publish applies the overflow rule (WithOverflowWait) and TryPublish
// dead-letters its copy with ReasonBufferFull. Defaults
// DefaultMaxBufferedEvents and DefaultMaxBufferedBytes; 0 keeps a default.
func WithMaxBuffered(events, bytes int) Option {
	return func(c *settings) {
		if events != 0 {
			c.maxBufferedEvents = events
		}
		if bytes != 0 {
			c.maxBufferedBytes = bytes
		}
	}
}

// WithDispatcherLimits bounds what the whole dispatcher holds, all hooks
// of all tenants together, in events and in message bytes: the process-wide
// memory bound. A copy that would pass it is handled by the overflow rule
// like a copy for a full hook. Defaults DefaultDispatcherBufferedEvents and
// DefaultDispatcherBufferedBytes; 0 keeps a default.
func WithDispatcherLimits(events, bytes int) Option {
	return func(c *settings) {
		if events != 0 {
			c.maxTotalEvents = events
		}
		if bytes != 0 {
			c.maxTotalBytes = bytes
		}
	}
}

// WithOverflowWait is the one way to choose the overflow rule OverflowWait
// (what Publish does with a copy for a hook that is full), with limit as
// the longest Publish waits for room in one full hook before
// dead-lettering its copy with ReasonBufferFull. Default rule
// OverflowDeadLetter (dead-letter at once); DefaultOverflowWait is the
// bound to pass for the usual wait. With a spool (WithSpool) the rule is
// ignored for a full hook (such a copy spills to the spool) and applies
// past the spool's quota; with WithPostgres it applies past the tenant's
// quota (PostgresOptions.TenantQuota).
func WithOverflowWait(limit time.Duration) Option {
	return func(c *settings) { c.overflow, c.overflowWait = OverflowWait, limit }
}

// WithFailingRule sets when a hook counts as failing (see HealthFailing):
// after calls whole calls in a row failed over at least after, with no
// success; it then tries one call per probe. Defaults DefaultFailingCalls,
// DefaultFailingAfter and DefaultProbeInterval; 0 keeps a default, and a
// negative after means no minimum duration.
func WithFailingRule(calls int, after, probe time.Duration) Option {
	return func(c *settings) {
		if calls != 0 {
			c.failingCalls = calls
		}
		if after != 0 {
			c.failingAfter = max(after, 0)
		}
		if probe != 0 {
			c.probeInterval = probe
		}
	}
}

// WithMaxBatchBytes sets the byte limit of one SendMessageBatch call, at most
// MaxBatchBytesLimit. Default DefaultMaxBatchBytes.
func WithMaxBatchBytes(n int) Option { return func(c *settings) { c.maxBatchBytes = n } }

// WithMaxMessageBytes sets the per-message limit (default
// DefaultMaxMessageBytes, at most MaxMessageBytesLimit). Match it to the
// queue's MaximumMessageSize: SQS rejects larger messages.
func WithMaxMessageBytes(n int) Option { return func(c *settings) { c.guard.MaxMessageBytes = n } }

// WithBodyEncoding sets how event bodies are written to SQS: EncodingRaw (the
// default), EncodingBase64 or EncodingGzip. DecodeBody reads any of them.
func WithBodyEncoding(e Encoding) Option { return func(c *settings) { c.guard.Encoding = e } }

// WithCallTimeout bounds each SendMessageBatch call. Default
// DefaultCallTimeout.
func WithCallTimeout(d time.Duration) Option { return func(c *settings) { c.callTimeout = d } }

// WithRetryPolicy sets the back-off between attempts. Zero fields keep their
// defaults (see RetryPolicy).
func WithRetryPolicy(p RetryPolicy) Option { return func(c *settings) { c.retry = p } }

// WithBackOff replaces the back-off policy: newBackOff is called once per
// event at its first failure, and its NextBackOff decides each wait
// (backoff.Stop dead-letters the event as retries_exhausted). RetryPolicy's
// MaxAttempts still applies. Tests use it to retry without waiting, for
// example with backoff.ZeroBackOff.
func WithBackOff(newBackOff func() backoff.BackOff) Option {
	return func(c *settings) { c.newBackOff = newBackOff }
}

// WithDeadLetter sets the function that receives every event the dispatcher
// could not deliver. It is called from the dispatcher's goroutines (and from
// Publish), possibly concurrently, and must return quickly. By default dead
// letters are logged at warning level through the logger (hook id, event
// type and id, reason, code — never the body).
func WithDeadLetter(fn func(DeadLetter)) Option { return func(c *settings) { c.deadLetter = fn } }

// WithLogger sets the logger. Default slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *settings) { c.logger = l } }

// WithEndpoint sends every SQS call to endpoint instead of AWS (an emulator,
// a proxy, a VPC endpoint). Default: AWS_ENDPOINT_URL_SQS or
// AWS_ENDPOINT_URL when set, else AWS's own endpoints. A loopback endpoint
// also lets hooks use http queue URLs on it.
func WithEndpoint(endpoint string) Option { return func(c *settings) { c.endpoint = endpoint } }

// WithInsecureCleartextEndpoint allows an http:// endpoint (WithEndpoint,
// AWS_ENDPOINT_URL_SQS, ClientOptions.STSEndpoint) on a host that is not a
// loopback address. Requests are signed, not encrypted: anyone on the path
// sees the events and can replay requests for minutes. Without it such an
// endpoint is refused, and only https or loopback http endpoints are used.
func WithInsecureCleartextEndpoint() Option {
	return func(c *settings) { c.insecureEndpoint = true }
}

// WithClientOptions configures the shared client pool (HTTP client, idle
// connections, how the server's own AWS configuration is loaded).
func WithClientOptions(o ClientOptions) Option { return func(c *settings) { c.clientOptions = o } }

// WithClientFunc replaces how a hook's SQS client is made; the default uses
// a ClientPool. fn is called when a hook is added or changed, concurrently
// for different hooks when SetHooks or New adds several.
func WithClientFunc(fn func(ctx context.Context, h Hook) (SQSAPI, error)) Option {
	return func(c *settings) { c.clientFor = fn }
}

// WithMeterProvider sets the provider of the dispatcher's metrics (see
// docs/observability.md), such as otel.GetMeterProvider() or an
// SDK provider. Default nil: no metrics, at the cost of a nil check.
//
// Measurements go to the dispatcher's aggregate series, whose attributes
// are messaging.system and the measurement's outcome, reason or code, never
// a tenant or a hook: their number does not grow with tenants and hooks (a
// few dozen), and a hook costs no more memory than without metrics. Only
// the hooks of the tenants WithMetricsDetail names get series of their own.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *settings) { c.meterProvider = mp }
}

// WithMetricsDetail gives the hooks of the tenants for which detail returns
// true metric series of their own: their measurements carry the hook's
// tenant (sqshook.tenant), id (sqshook.hook.id) and queue name
// (messaging.destination.name) instead of going to the aggregate series
// (the sum over an instrument's series stays the dispatcher's total). A
// hook's gauges have series only while it holds something, so they end
// when its tenant is removed; its counters' and histograms' series stay in
// the SDK (cumulative temporality) for the provider's life. detail is
// called, from any goroutine, when New or SetHooks builds a hook's
// pipeline (a new or changed hook); "" is the default tenant; a panic in it
// means false. WithMetricsDetailLimit bounds the hooks that get series of
// their own. Default nil: no hook has series of its own.
func WithMetricsDetail(detail func(tenant string) bool) Option {
	return func(c *settings) { c.metricsDetail = detail }
}

// WithMetricsDetailLimit bounds the hooks that get metric series of their
// own under WithMetricsDetail, over the dispatcher's life: a hook is its
// tenant, id and queue name; once n hooks have had series of their own,
// the measurements of any further hook go to the aggregate series, and a
// warning is logged once. A hook keeps its place while the dispatcher
// lives, since the SDK keeps its counters' series: hook ids that a tenant
// keeps changing use up places but never make the SDK's series
// unbounded. 0 gives no hook series of its own. Default
// DefaultMetricsDetailLimit (100).
func WithMetricsDetailLimit(n int) Option {
	return func(c *settings) { c.metricsDetailLimit = n }
}

// WithTracerProvider sets the provider of the dispatcher's spans: one per
// SendMessageBatch call, linked to the spans of the Publish calls whose
// events it carries. Default nil: no spans.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *settings) { c.tracerProvider = tp }
}

// WithTracePropagation adds the W3C trace context of each Publish call
// whose context holds a span to its messages, as the "traceparent" message
// attribute (AttrTraceParent), so that consumers continue the trace. It
// takes one of the user's eight attributes: an event that already has
// eight, or its own "traceparent", or whose message would pass the size
// limit with it, goes without. Default off.
func WithTracePropagation() Option {
	return func(c *settings) { c.tracePropagation = true }
}

// telemetrySettings are the options of telemetry.go.
type telemetrySettings struct {
	meterProvider      metric.MeterProvider
	tracerProvider     trace.TracerProvider
	tracePropagation   bool
	metricsDetail      func(tenant string) bool
	metricsDetailLimit int
}

// clock is the time source of linger and retry timers; tests replace it.
type clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) stopper
}

// stopper is a timer AfterFunc armed: Stop disarms it, Reset arms it again
// with its function (as time.Timer's, after it was stopped or fired).
type stopper interface {
	Stop() bool
	Reset(d time.Duration) bool
}

type realClock struct{}

func (realClock) Now() time.Time                              { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) }

// withClock is for tests.
func withClock(c clock) Option { return func(cfg *settings) { cfg.clock = c } }

// RemoveOption is an option of Dispatcher.RemoveTenant.
type RemoveOption func(*removeConfig)

// removeConfig is RemoveTenant's options.
type removeConfig struct {
	purge bool
}

// WithPurge makes RemoveTenant dead-letter, with ReasonHookRemoved, the
// copies the tenant's hooks have not sent yet (queued, waiting to be
// retried, on the spool's disk backlog, in the fleet's database with
// WithPostgres, and those that come back from a call in flight to be
// retried) instead of delivering them; RemoveTenant
// then waits only for the calls in flight. Default off: RemoveTenant waits
// until the hooks have delivered or dead-lettered everything they hold.
func WithPurge() RemoveOption { return func(c *removeConfig) { c.purge = true } }

// WithSpool records every published event in a write-ahead spool in dir
// (created if needed; see package spool) before Publish returns, so that
// events survive a crash of the process, a Close that runs out of time and
// outages longer than the retry budget allows in memory. opts.Sync picks the
// durability (default spool.SyncGroup: Publish waits for a group fsync).
//
// With a spool, Publish returns nil only after the event is recorded once,
// with the hooks whose copy is pending; a copy is settled when SQS
// acknowledges it or once it is reported as a dead letter. New resumes every
// pending copy before new events of the same hook; copies for hooks that no
// longer exist are dead-lettered with ReasonHookRemoved, records found
// damaged with ReasonCorrupt. Close keeps what it could not deliver in the
// spool (HookStats.Spooled) instead of dead-lettering it as
// ReasonShutdown. A copy that finds its hook, tenant or dispatcher share
// full spills: it stays on disk only and is read back in its order when
// the hook has room (the overflow rule, WithOverflowWait, does not apply). A
// copy whose retry budget runs out goes back to disk the same way instead
// of being dead-lettered as ReasonRetriesExhausted (HookStats.Held), with
// the rest of its FIFO group, so an outage of any length costs disk up to
// the quota. Past the quota (spool.Options.Quota; default none) the
// overflow rule applies as to a full memory share: buffer_full dead
// letters at once, or with OverflowWait a bounded wait first.
// Copies are kept per tenant and hook. A named tenant's copies resumed by
// New are parked (SpoolStats.Parked) until the tenant's SetHooks: the
// copies of the hooks it configures (enabled) are queued before its new
// events; the others are dead-lettered with ReasonHookRemoved, as are all
// of them when RemoveTenant removes the tenant, or when the tenant has not
// configured their hook within WithResumeWait of New. Close leaves parked
// copies in the spool for the next New. A copy in flight at a crash may be
// delivered twice, with the same event id. Default: no spool, everything
// is held in memory.
func WithSpool(dir string, opts spool.Options) Option {
	return func(c *settings) { c.spool = &spoolConfig{dir: dir, opts: opts} }
}

// DefaultResumeWait is how long, after New, a named tenant's copies
// resumed from the spool wait for its SetHooks to configure their hook
// (see WithResumeWait). A day leaves room for a server that configures
// its tenants lazily (a quiet tenant's first request may come hours after
// a restart) and for an operator to repair a failed load of the tenants'
// settings; it still bounds what an abandoned tenant keeps: its copies
// stay pending in the spool, count against the quota and keep their
// segments from being reclaimed.
const DefaultResumeWait = 24 * time.Hour

// WithResumeWait bounds how long a named tenant's copies resumed by New
// wait for the tenant's SetHooks (with WithSpool): those whose hook is
// still not configured d after New are dead-lettered with
// ReasonHookRemoved. The wait is measured from each New, with the
// dispatcher's clock; 0 means no bound (they wait until the tenant's
// SetHooks or RemoveTenant, across restarts). Close before the wait ends
// keeps them in the spool for the next New. Default DefaultResumeWait;
// a negative d is refused by New.
//
// With WithPostgres, the copies in the database of a hook (of any tenant,
// the default one too) that no instance of the fleet configures are
// parked: every instance keeps the hooks it configures (enabled) marked
// as configured in the database, three leases (PostgresOptions.Lease)
// ahead by the database's clock. Once a hook's mark has been out of date
// for d (counted from its end) and no instance holds its lease, the
// instance that runs the fleet's sweep (PostgresOptions.Sweep, one at a
// time) dead-letters its copies with ReasonHookRemoved, in batches,
// reported to its own dead-letter callback and counted in its
// SpoolStats.HookRemoved; a hook configured again before that delivers
// them. 0 keeps them in the database until their hook is configured
// again. Close leaves them in the database.
func WithResumeWait(d time.Duration) Option {
	return func(c *settings) { c.resumeWait = d }
}

// WithPostgres keeps every published event in PostgreSQL, in the tables
// MigratePostgres made in pool's database, shared by a fleet of
// processes that each run a Dispatcher with the same hooks (and tenants):
// Publish records the event with a pending copy per matching hook and
// returns once it is committed (PublishTx: in the caller's transaction,
// delivered if and only if it commits); it queues nothing in memory.
// Every instance delivers: each hook is owned by one instance at a time
// through a lease renewed by its owner (PostgresOptions.Lease), which
// reads the hook's copies back from the database into its pipeline in
// event order and deletes each once settled. An instance that stops
// renewing (dead, or cut off from the database) loses its hooks within
// the lease plus PostgresOptions.Poll, and another instance carries on
// where it stopped; copies it had in flight may be delivered twice, with
// the same event id. A hook that SetHooks (or RemoveTenant) removes keeps
// its pipeline until the copies recorded before the removal are out of
// the database, delivered by it or by another instance that still
// configures the hook (RemoveTenant waits for that, or with WithPurge
// dead-letters them, fleet-wide); the copies of a hook that no instance
// configures are parked, and dead-lettered after WithResumeWait. New
// refuses a database whose schema version is not PostgresSchemaVersion
// (ErrSchemaVersion) and never changes the schema; it starts the fetch
// loop, one goroutine, which Close ends, releasing the leases. pool is
// the server's and stays open; it must allow at least 2 connections.
// Exclusive with
// WithSpool. Default: no PostgreSQL store.
func WithPostgres(pool *pgxpool.Pool, opts PostgresOptions) Option {
	return func(c *settings) { c.postgres = &postgresConfig{pool: pool, opts: opts} }
}

// spoolConfig is WithSpool's arguments.
type spoolConfig struct {
	dir  string
	opts spool.Options
}

// Defaults of the health rule (WithFailingRule).
const (
	// DefaultFailingCalls is how many whole calls in a row must fail before
	// a hook is failing.
	DefaultFailingCalls = 5
	// DefaultFailingAfter is how long those failures must go on, with no
	// success, before a hook is failing.
	DefaultFailingAfter = 2 * time.Second
	// DefaultProbeInterval is how often a failing hook tries one call.
	DefaultProbeInterval = time.Second
)
