// telemetry.go is the dispatcher's OpenTelemetry instrumentation: the
// metrics (counters, histograms and observable gauges, in the dispatcher's
// aggregate series and, for the hooks of the tenants WithMetricsDetail
// names, up to a bound, in series of each hook's own) and the span of each
// SendMessageBatch call, linked to the spans of the Publish calls whose
// events it carries. It uses only the OpenTelemetry APIs; the embedding
// server brings the SDK and its exporters. With no provider set every hook
// point is a nil check.

package sqshook

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// instrumentationName is the name of sqshook's meter and tracer.
const instrumentationName = "github.com/sqshook/sqshook"

// Attribute keys. The messaging ones follow OpenTelemetry's messaging
// semantic conventions.
const (
	attrMessagingSystem      = attribute.Key("messaging.system")
	attrDestinationName      = attribute.Key("messaging.destination.name")
	attrOperationName        = attribute.Key("messaging.operation.name")
	attrOperationType        = attribute.Key("messaging.operation.type")
	attrBatchMessageCount    = attribute.Key("messaging.batch.message_count")
	attrErrorType            = attribute.Key("error.type")
	attrHookID               = attribute.Key("sqshook.hook.id")
	attrTenant               = attribute.Key("sqshook.tenant")
	attrReason               = attribute.Key("sqshook.reason")
	attrCode                 = attribute.Key("sqshook.code")
	attrOutcome              = attribute.Key("sqshook.call.outcome")
	attrHealth               = attribute.Key("sqshook.health")
	messagingSystemSQS       = "aws_sqs"
	operationSend            = "send"
	maxTelemetryCodeLen      = 64
	telemetryOtherErrorValue = "_OTHER"
)

// Call outcomes, the values of sqshook.call.outcome.
const (
	outcomeOK        = "ok"        // every entry accepted
	outcomePartial   = "partial"   // some entries failed
	outcomeTransient = "transient" // the call failed and its entries are retried
	outcomeRejected  = "rejected"  // the call failed for good
	outcomeTooLong   = "too_long"  // BatchRequestTooLong: the batch is split
	outcomeShutdown  = "shutdown"  // canceled by Close
)

// outcomeOf names the outcome of a failed call.
var outcomeOf = [...]string{failTransient: outcomeTransient, failPermanent: outcomeRejected,
	failTooLong: outcomeTooLong, failShutdown: outcomeShutdown}

// telemetry holds the dispatcher's instruments; nil when neither a meter
// provider nor a tracer provider was given.
type telemetry struct {
	d         *Dispatcher
	tracer    trace.Tracer // nil: no traces
	propagate bool         // WithTracePropagation
	maxSize   int          // the message size limit

	metrics      bool                    // false: no meter provider
	pg           atomic.Pointer[pgStore] // the store's backlog for the stored gauge (WithPostgres), once opened
	published    metric.Int64Counter
	delivered    metric.Int64Counter
	deadLettered metric.Int64Counter
	calls        metric.Int64Counter
	retries      metric.Int64Counter
	latency      metric.Float64Histogram
	callDuration metric.Float64Histogram
	callEntries  metric.Int64Histogram
	callBytes    metric.Int64Histogram
	registration metric.Registration

	publishedOpt metric.MeasurementOption
	healthOpts   [len(gaugeHealths)]metric.MeasurementOption

	// agg is the view of every hook that has no series of its own and no
	// spans: one for all of them.
	agg *hookTelemetry

	detailMu   sync.Mutex
	detail     map[hookIdentity]*series // the hooks given series of their own, never more than the limit
	detailFull bool                     // the limit was reached (logged once)
}

// series is where a hook's measurements go: the dispatcher's aggregate
// series, or series of the hook's own.
type series struct {
	attrs   []attribute.KeyValue     // messaging.system; the hook's own add its queue, tenant and id
	opt     metric.MeasurementOption // attrs
	okOpt   metric.MeasurementOption // calls with outcome ok
	partOpt metric.MeasurementOption // calls with outcome partial
	own     bool                     // a hook's own series
}

// hookIdentity names a hook's own series: its attributes.
type hookIdentity struct{ tenant, id, queue string }

// hookTelemetry is a pipeline's view of the instruments; nil when telemetry
// is off. Pipelines without spans or series of their own share one.
type hookTelemetry struct {
	t         *telemetry
	s         *series
	spanName  string               // with a tracer
	spanAttrs []attribute.KeyValue // with a tracer: the hook's attributes
}

// gaugeHealths are the values of sqshook.health on the sqshook.hooks gauge.
var gaugeHealths = [...]Health{HealthOK, HealthDegraded, HealthFailing}

// spanOpts are the options of every call's span.
var spanOpts = []trace.SpanStartOption{trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindProducer)}

// eventTelemetry is what a published event carries for telemetry; nil when
// telemetry is off.
type eventTelemetry struct {
	published   time.Time         // zero: no latency to record
	span        trace.SpanContext // the Publish call's span, when valid
	traceparent string            // the attribute WithTracePropagation adds; "" for none
}

// AttrTraceParent is the message attribute that WithTracePropagation adds:
// the W3C trace context (traceparent header format) of the Publish call.
const AttrTraceParent = "traceparent"

// traceParentSize is what the traceparent attribute counts toward the
// message size: its name, its data type and its 55-byte value.
const traceParentSize = len(AttrTraceParent) + len("String") + 55

// newTelemetry creates the instruments of d, or returns nil when no
// provider was given. Errors creating instruments are logged: providers
// still return a usable instrument with them.
func newTelemetry(d *Dispatcher) *telemetry {
	mp, tp := d.cfg.meterProvider, d.cfg.tracerProvider
	if mp == nil && tp == nil && !d.cfg.tracePropagation {
		return nil
	}
	t := &telemetry{d: d, propagate: d.cfg.tracePropagation, maxSize: d.cfg.guard.Limit()}
	t.agg = &hookTelemetry{t: t, s: newSeries([]attribute.KeyValue{attrMessagingSystem.String(messagingSystemSQS)}, false)}
	if _, noop := tp.(tracenoop.TracerProvider); tp != nil && !noop {
		// The API's no-op provider makes spans that record nothing: it
		// costs nothing to leave them out.
		t.tracer = tp.Tracer(instrumentationName)
	}
	if mp == nil {
		return t
	}
	m := mp.Meter(instrumentationName)
	var err error
	var errs []error
	t.metrics = true
	t.publishedOpt = metric.WithAttributeSet(attribute.NewSet(attrMessagingSystem.String(messagingSystemSQS)))
	t.published, err = m.Int64Counter("sqshook.events.published",
		metric.WithDescription("Events published to at least one hook (refused ones included: their copies are dead-lettered)."), metric.WithUnit("{event}"))
	errs = append(errs, err)
	t.delivered, err = m.Int64Counter("sqshook.copies.delivered",
		metric.WithDescription("Copies of events acknowledged by SQS."), metric.WithUnit("{message}"))
	errs = append(errs, err)
	t.deadLettered, err = m.Int64Counter("sqshook.copies.dead_lettered",
		metric.WithDescription("Copies of events given up on, per reason and error code."), metric.WithUnit("{message}"))
	errs = append(errs, err)
	t.calls, err = m.Int64Counter("sqshook.calls",
		metric.WithDescription("SendMessageBatch calls, per outcome."), metric.WithUnit("{call}"))
	errs = append(errs, err)
	t.retries, err = m.Int64Counter("sqshook.retries",
		metric.WithDescription("Entries scheduled for another attempt."), metric.WithUnit("{message}"))
	errs = append(errs, err)
	t.latency, err = m.Float64Histogram("sqshook.delivery.latency",
		metric.WithDescription("Time from Publish to SQS's acknowledgement of a copy."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
	errs = append(errs, err)
	t.callDuration, err = m.Float64Histogram("messaging.client.operation.duration",
		metric.WithDescription("Duration of SendMessageBatch calls."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20))
	errs = append(errs, err)
	t.callEntries, err = m.Int64Histogram("sqshook.call.entries",
		metric.WithDescription("Entries per SendMessageBatch call."), metric.WithUnit("{message}"),
		metric.WithExplicitBucketBoundaries(1, 2, 3, 4, 5, 6, 7, 8, 9, 10))
	errs = append(errs, err)
	t.callBytes, err = m.Int64Histogram("sqshook.call.bytes",
		metric.WithDescription("Message bytes per SendMessageBatch call."), metric.WithUnit("By"),
		metric.WithExplicitBucketBoundaries(1<<10, 4<<10, 16<<10, 64<<10, 128<<10, 256<<10, 512<<10, 1<<20))
	errs = append(errs, err)
	buffered, err := m.Int64ObservableGauge("sqshook.buffered.events",
		metric.WithDescription("Copies held: queued, in flight and waiting to be retried."), metric.WithUnit("{message}"))
	errs = append(errs, err)
	bufferedBytes, err := m.Int64ObservableGauge("sqshook.buffered.bytes",
		metric.WithDescription("Message bytes held."), metric.WithUnit("By"))
	errs = append(errs, err)
	inflight, err := m.Int64ObservableGauge("sqshook.inflight.calls",
		metric.WithDescription("SendMessageBatch calls in flight."), metric.WithUnit("{call}"))
	errs = append(errs, err)
	limit, err := m.Int64ObservableGauge("sqshook.inflight.limit",
		metric.WithDescription("The limits on concurrent calls of the hooks that hold copies."), metric.WithUnit("{call}"))
	errs = append(errs, err)
	spooled, err := m.Int64ObservableGauge("sqshook.spooled.events",
		metric.WithDescription("Copies on disk only (WithSpool): waiting for room in memory, held after their retry budget, or kept by Close."), metric.WithUnit("{message}"))
	errs = append(errs, err)
	stored, err := m.Int64ObservableGauge("sqshook.stored.events",
		metric.WithDescription("Copies waiting in the database (WithPostgres) of the hooks this instance owns, as last counted: summed over a fleet's instances, the fleet's backlog."), metric.WithUnit("{message}"))
	errs = append(errs, err)
	hooks, err := m.Int64ObservableGauge("sqshook.hooks",
		metric.WithDescription("Active hooks, per delivery health."), metric.WithUnit("{hook}"))
	errs = append(errs, err)
	for i, h := range gaugeHealths {
		t.healthOpts[i] = metric.WithAttributeSet(attribute.NewSet(attrMessagingSystem.String(messagingSystemSQS), attrHealth.String(string(h))))
	}
	pg := d.cfg.postgres != nil
	t.registration, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		g := d.gauges()
		observe := func(s *series, v gaugeValues) {
			o.ObserveInt64(buffered, v.pending, s.opt)
			o.ObserveInt64(bufferedBytes, v.bytes, s.opt)
			o.ObserveInt64(inflight, v.inflight, s.opt)
			o.ObserveInt64(limit, v.limit, s.opt)
			o.ObserveInt64(spooled, v.spooled, s.opt)
			if pg {
				o.ObserveInt64(stored, v.stored, s.opt)
			}
		}
		observe(t.agg.s, g.agg)
		for s, v := range g.own {
			if v.busy() { // an idle hook has no series
				observe(s, *v)
			}
		}
		for i, n := range g.health {
			o.ObserveInt64(hooks, n, t.healthOpts[i])
		}
		return nil
	}, buffered, bufferedBytes, inflight, limit, spooled, stored, hooks)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		d.cfg.logger.Warn("sqshook: the meter provider refused instruments; their measurements may be lost", slog.Any("error", err))
	}
	return t
}

// close stops the observable gauges' callback.
func (t *telemetry) close() {
	if t != nil && t.registration != nil {
		_ = t.registration.Unregister()
	}
}

// forHook returns the instruments of the pipeline of a tenant's hook h: the
// aggregate series, or the hook's own when WithMetricsDetail names its
// tenant and the limit allows.
func (t *telemetry) forHook(tenant string, h Hook) *hookTelemetry {
	if t == nil {
		return nil
	}
	s := t.agg.s
	if t.metrics && t.wantDetail(tenant) {
		s = t.ownSeries(tenant, h)
	}
	if t.tracer == nil {
		if s == t.agg.s {
			return t.agg
		}
		return &hookTelemetry{t: t, s: s}
	}
	return &hookTelemetry{t: t, s: s, spanName: operationSend + " " + queueName(h.SQSQueueURL), spanAttrs: hookAttributes(tenant, h)}
}

// wantDetail asks WithMetricsDetail's function about a tenant; a panic in
// it is recovered, counted and logged, and means no.
func (t *telemetry) wantDetail(tenant string) (yes bool) {
	fn := t.d.cfg.metricsDetail
	if fn == nil || t.d.cfg.metricsDetailLimit == 0 {
		return false
	}
	defer func() {
		if r := recover(); r != nil {
			yes = false
			t.d.countPanic()
			t.d.cfg.logger.Error("sqshook: the metrics detail function panicked", tenantAttr(tenant), slog.Any("panic", r))
		}
	}()
	return fn(tenant)
}

// ownSeries returns the series of a hook's own, shared by its pipelines
// (the active one and those still draining), or the aggregate series when
// the limit of hooks with series of their own is reached.
func (t *telemetry) ownSeries(tenant string, h Hook) *series {
	id := hookIdentity{tenant: tenant, id: h.ID, queue: queueName(h.SQSQueueURL)}
	t.detailMu.Lock()
	defer t.detailMu.Unlock()
	if s, ok := t.detail[id]; ok {
		return s
	}
	if len(t.detail) >= t.d.cfg.metricsDetailLimit {
		if !t.detailFull {
			t.detailFull = true
			t.d.cfg.logger.Warn("sqshook: metrics: the limit of hooks with series of their own is reached; the measurements of further hooks go to the aggregate series (WithMetricsDetailLimit)",
				slog.Int("limit", t.d.cfg.metricsDetailLimit))
		}
		return t.agg.s
	}
	if t.detail == nil {
		t.detail = make(map[hookIdentity]*series)
	}
	s := newSeries(hookAttributes(tenant, h), true)
	t.detail[id] = s
	return s
}

// newSeries computes the attribute sets of a series once.
func newSeries(attrs []attribute.KeyValue, own bool) *series {
	outcome := func(o string) metric.MeasurementOption {
		return metric.WithAttributeSet(attribute.NewSet(append(attrs[:len(attrs):len(attrs)],
			attrOperationName.String(operationSend), attrOperationType.String(operationSend), attrOutcome.String(o))...))
	}
	return &series{attrs: attrs, opt: metric.WithAttributeSet(attribute.NewSet(attrs...)),
		okOpt: outcome(outcomeOK), partOpt: outcome(outcomePartial), own: own}
}

// hookAttributes are the attributes of a hook's own series and of its
// spans: the messaging system, the queue's name, the hook's tenant ("" for
// the default tenant) and the hook's id. Never the queue's account, the
// credentials or anything of an event.
func hookAttributes(tenant string, h Hook) []attribute.KeyValue {
	return []attribute.KeyValue{
		attrMessagingSystem.String(messagingSystemSQS),
		attrDestinationName.String(queueName(h.SQSQueueURL)),
		attrTenant.String(tenant),
		attrHookID.String(h.ID),
	}
}

// queueName is the last path segment of a queue URL.
func queueName(queueURL string) string {
	if u, err := url.Parse(queueURL); err == nil && u.Path != "" {
		return path.Base(u.Path)
	}
	return ""
}

// publish records a published event and what its copies carry: the time,
// when the latency histogram takes measurements, and the Publish call's
// span, when there is one and spans are made.
func (t *telemetry) publish(ctx context.Context, ed *eventData, clk clock) {
	if t != nil { // inlined: free when off
		t.publishEvent(ctx, ed, clk)
	}
}

func (t *telemetry) publishEvent(ctx context.Context, ed *eventData, clk clock) {
	var at time.Time
	var sc trace.SpanContext
	if t.metrics {
		if t.published.Enabled(ctx) {
			t.published.Add(ctx, 1, t.publishedOpt)
		}
		if t.latency.Enabled(ctx) {
			at = clk.Now()
		}
	}
	if t.tracer != nil || t.propagate {
		sc = trace.SpanContextFromContext(ctx)
	}
	if !at.IsZero() || sc.IsValid() {
		ed.tel = &eventTelemetry{published: at, span: sc}
		if t.propagate && sc.IsValid() && ed.guard == nil && len(ed.ev.Attributes) < MaxMessageAttributes-2 &&
			ed.size+traceParentSize <= t.maxSize {
			if _, own := ed.ev.Attributes[AttrTraceParent]; !own {
				ed.tel.traceparent = traceParent(sc)
				ed.size += traceParentSize
			}
		}
	}
}

// traceParent formats sc as a W3C traceparent header.
func traceParent(sc trace.SpanContext) string {
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}

// inject adds the traceparent attribute of ed's Publish call to attrs, the
// attributes of one of its messages, when WithTracePropagation made one.
func (h *hookTelemetry) inject(ed *eventData, attrs map[string]types.MessageAttributeValue) {
	if tp := h.traceparent(ed); tp != "" {
		attrs[AttrTraceParent] = types.MessageAttributeValue{DataType: &stringDataType, StringValue: &ed.tel.traceparent}
	}
}

// traceparent is the traceparent attribute inject adds to ed's messages,
// or "".
func (h *hookTelemetry) traceparent(ed *eventData) string {
	if h == nil || ed.tel == nil {
		return ""
	}
	return ed.tel.traceparent
}

// delivered records a copy acknowledged now.
func (h *hookTelemetry) delivered(e *entry, clk clock) {
	if h != nil && h.t.metrics {
		h.deliveredCopy(e, clk)
	}
}

func (h *hookTelemetry) deliveredCopy(e *entry, clk clock) {
	ctx := context.Background()
	if h.t.delivered.Enabled(ctx) {
		h.t.delivered.Add(ctx, 1, h.s.opt)
	}
	if et := e.ev.tel; et != nil && !et.published.IsZero() {
		h.t.latency.Record(ctx, clk.Now().Sub(et.published).Seconds(), h.s.opt)
	}
}

// deadLettered records a copy given up on.
func (h *hookTelemetry) deadLettered(reason Reason, code string) {
	if h != nil && h.t.metrics {
		h.deadLetteredCopy(reason, code)
	}
}

func (h *hookTelemetry) deadLetteredCopy(reason Reason, code string) {
	if !h.t.deadLettered.Enabled(context.Background()) {
		return
	}
	attrs := append(h.s.attrs[:len(h.s.attrs):len(h.s.attrs)], attrReason.String(string(reason)), attrCode.String(boundedCode(code)))
	h.t.deadLettered.Add(context.Background(), 1, metric.WithAttributes(attrs...))
}

// retried records n entries scheduled for another attempt.
func (h *hookTelemetry) retried(n int) {
	if h != nil && h.t.metrics {
		h.t.retries.Add(context.Background(), int64(n), h.s.opt)
	}
}

// boundedCode keeps an error code usable as an attribute: codes are AWS's
// short identifiers; anything longer is not one.
func boundedCode(code string) string {
	if len(code) > maxTelemetryCodeLen || strings.ContainsAny(code, " \n\t") {
		return telemetryOtherErrorValue
	}
	return code
}

// callSpan is one SendMessageBatch call under way.
type callSpan struct {
	span  trace.Span
	start time.Time
}

// startCall starts the span of a call carrying batch; ctx is the call's
// context, returned with the span in it.
func (h *hookTelemetry) startCall(ctx context.Context, batch []*entry, now time.Time) (context.Context, callSpan) {
	if h == nil || h.t.tracer == nil {
		return ctx, callSpan{start: now}
	}
	return h.startSpan(ctx, batch, now)
}

func (h *hookTelemetry) startSpan(ctx context.Context, batch []*entry, now time.Time) (context.Context, callSpan) {
	c := callSpan{start: now}
	// The call belongs to no Publish in particular: a new trace, linked to
	// every Publish it carries.
	ctx, c.span = h.t.tracer.Start(ctx, h.spanName, spanOpts...)
	if !c.span.IsRecording() {
		return ctx, c
	}
	c.span.SetAttributes(h.spanAttrs...)
	c.span.SetAttributes(attrOperationName.String(operationSend), attrOperationType.String(operationSend),
		attrBatchMessageCount.Int(len(batch)))
	var links []trace.SpanContext
	for _, e := range batch {
		if et := e.ev.tel; et != nil && et.span.IsValid() && !slices.ContainsFunc(links, et.span.Equal) {
			links = append(links, et.span)
			c.span.AddLink(trace.Link{SpanContext: et.span})
		}
	}
	return ctx, c
}

// endCall records a call's outcome, duration and size and ends its span;
// classify sorts a failed call's error (the sender's).
func (h *hookTelemetry) endCall(c callSpan, batch []*entry, out *sqs.SendMessageBatchOutput, err error, clk clock, classify func(error) (failureKind, string, string)) {
	if h != nil {
		h.recordCall(c, batch, out, err, clk, classify)
	}
}

func (h *hookTelemetry) recordCall(c callSpan, batch []*entry, out *sqs.SendMessageBatchOutput, err error, clk clock, classify func(error) (failureKind, string, string)) {
	outcome, code := outcomeOK, ""
	switch {
	case err != nil:
		var kind failureKind
		kind, code, _ = classify(err)
		outcome = outcomeOf[kind]
		if code == "" {
			code = telemetryOtherErrorValue
		}
	case out == nil:
		outcome, code = outcomeTransient, telemetryOtherErrorValue
	case len(out.Failed) > 0:
		outcome = outcomePartial
	}
	if c.span != nil && c.span.IsRecording() {
		if out != nil && len(out.Failed) > 0 {
			c.span.SetAttributes(attribute.Int("sqshook.call.failed_entries", len(out.Failed)))
		}
		if err != nil {
			c.span.SetAttributes(attrErrorType.String(boundedCode(code)))
			c.span.SetStatus(codes.Error, outcome)
		}
		c.span.End()
	}
	ctx := context.Background()
	if !h.t.metrics || !h.t.calls.Enabled(ctx) && !h.t.callDuration.Enabled(ctx) {
		return
	}
	bytes := 0
	for _, e := range batch {
		bytes += e.size
	}
	set := h.s.okOpt
	switch {
	case outcome == outcomePartial:
		set = h.s.partOpt
	case outcome != outcomeOK:
		attrs := append(h.s.attrs[:len(h.s.attrs):len(h.s.attrs)], attrOperationName.String(operationSend),
			attrOperationType.String(operationSend), attrOutcome.String(outcome), attrErrorType.String(boundedCode(code)))
		set = metric.WithAttributeSet(attribute.NewSet(attrs...))
	}
	h.t.calls.Add(ctx, 1, set)
	h.t.callDuration.Record(ctx, clk.Now().Sub(c.start).Seconds(), set)
	h.t.callEntries.Record(ctx, int64(len(batch)), h.s.opt)
	h.t.callBytes.Record(ctx, int64(bytes), h.s.opt)
}

// gaugeValues are what the observable gauges report for a series.
type gaugeValues struct {
	pending, bytes, inflight, spooled int64
	stored                            int64 // in the database, of the hooks this instance owns (WithPostgres)
	limit                             int64 // the in-flight limits of the hooks that hold something
}

// busy reports whether the values are those of a hook that holds
// something: an idle hook has no series of its own.
func (v *gaugeValues) busy() bool {
	return v.pending != 0 || v.bytes != 0 || v.inflight != 0 || v.spooled != 0 || v.stored != 0
}

// gaugeReading is one reading of every pipeline for the gauges.
type gaugeReading struct {
	agg    gaugeValues
	own    map[*series]*gaugeValues
	health [len(gaugeHealths)]int64 // active hooks per health
}

// gauges reads every pipeline's state without the dispatcher's lock (see
// eachPipe): the hooks without series of their own summed into the
// aggregate series, the others summed per series (a hook's active pipeline
// and those still draining), and the active hooks counted per health.
func (d *Dispatcher) gauges() gaugeReading {
	var g gaugeReading
	var pg *pgStore
	if d.tel != nil {
		pg = d.tel.pg.Load()
	}
	d.eachPipe(func(p *pipe) {
		if p.tel == nil {
			return
		}
		p.mu.Lock()
		v := gaugeValues{pending: int64(p.pending), bytes: int64(p.bytes), inflight: int64(p.inflight),
			spooled: int64(p.spooledLocked()), limit: int64(p.lim.slots())}
		active := p.state == pipeActive
		health := HealthOK
		if active {
			health, _ = p.healthLocked()
		}
		p.mu.Unlock()
		if active && pg != nil {
			if n, own := pg.storedOf(p.storeKey()); own {
				v.stored = int64(n)
			}
		}
		if i := slices.Index(gaugeHealths[:], health); active && i >= 0 {
			g.health[i]++
		}
		if !v.busy() {
			v.limit = 0
		}
		if !p.tel.s.own {
			g.agg.pending += v.pending
			g.agg.bytes += v.bytes
			g.agg.inflight += v.inflight
			g.agg.spooled += v.spooled
			g.agg.stored += v.stored
			g.agg.limit += v.limit
			return
		}
		if g.own == nil {
			g.own = make(map[*series]*gaugeValues)
		}
		o, ok := g.own[p.tel.s]
		if !ok {
			g.own[p.tel.s] = &v
			return
		}
		o.pending += v.pending
		o.bytes += v.bytes
		o.inflight += v.inflight
		o.spooled += v.spooled
		o.stored += v.stored
		o.limit = max(o.limit, v.limit)
	})
	return g
}
