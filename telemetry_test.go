// telemetry_test.go tests the OpenTelemetry instrumentation with the SDK's
// in-memory readers: metrics that agree with Stats, attributes without
// secrets or event ids, and call spans linked to the Publish spans.

package sqshook_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/cenkalti/backoff/v4"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/sqshook/sqshook"
)

// collectMetrics reads every metric of reader.
func collectMetrics(t *testing.T, reader *sdkmetric.ManualReader) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

// attrsOf lists the attribute sets of a metric's data points.
func attrsOf(a metricdata.Aggregation) []attribute.Set {
	var sets []attribute.Set
	switch a := a.(type) {
	case metricdata.Sum[int64]:
		for _, dp := range a.DataPoints {
			sets = append(sets, dp.Attributes)
		}
	case metricdata.Gauge[int64]:
		for _, dp := range a.DataPoints {
			sets = append(sets, dp.Attributes)
		}
	case metricdata.Histogram[float64]:
		for _, dp := range a.DataPoints {
			sets = append(sets, dp.Attributes)
		}
	case metricdata.Histogram[int64]:
		for _, dp := range a.DataPoints {
			sets = append(sets, dp.Attributes)
		}
	}
	return sets
}

// match reports whether set has every key=value of want.
func match(set attribute.Set, want map[string]string) bool {
	for k, v := range want {
		got, ok := set.Value(attribute.Key(k))
		if !ok || got.String() != v {
			return false
		}
	}
	return true
}

// intSum sums the points of an int64 counter or gauge whose attributes match.
func intSum(t *testing.T, ms map[string]metricdata.Aggregation, name string, want map[string]string) int64 {
	t.Helper()
	var n int64
	switch a := ms[name].(type) {
	case metricdata.Sum[int64]:
		for _, dp := range a.DataPoints {
			if match(dp.Attributes, want) {
				n += dp.Value
			}
		}
	case metricdata.Gauge[int64]:
		for _, dp := range a.DataPoints {
			if match(dp.Attributes, want) {
				n += dp.Value
			}
		}
	default:
		t.Fatalf("metric %s: %T, want an int64 sum or gauge", name, ms[name])
	}
	return n
}

// histCount returns the count and sum of a histogram's matching points.
func histCount(t *testing.T, ms map[string]metricdata.Aggregation, name string, want map[string]string) (count uint64, sum float64) {
	t.Helper()
	switch a := ms[name].(type) {
	case metricdata.Histogram[float64]:
		for _, dp := range a.DataPoints {
			if match(dp.Attributes, want) {
				count, sum = count+dp.Count, sum+dp.Sum
			}
		}
	case metricdata.Histogram[int64]:
		for _, dp := range a.DataPoints {
			if match(dp.Attributes, want) {
				count, sum = count+dp.Count, sum+float64(dp.Sum)
			}
		}
	default:
		t.Fatalf("metric %s: %T, want a histogram", name, ms[name])
	}
	return count, sum
}

// TestTelemetryMetricsAgreeWithStats: the counters and histograms agree
// with Stats, in the aggregate series by default (they sum every hook's)
// and in each hook's own series with WithMetricsDetail.
func TestTelemetryMetricsAgreeWithStats(t *testing.T) {
	for _, detail := range []bool{false, true} {
		t.Run(map[bool]string{false: "aggregate", true: "detail"}[detail], func(t *testing.T) { testMetricsAgreeWithStats(t, detail) })
	}
}

func testMetricsAgreeWithStats(t *testing.T, detail bool) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })

	fake := newFake()
	var mu sync.Mutex
	failedOnce := false
	fake.respond = func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		mu.Lock()
		defer mu.Unlock()
		if strings.HasSuffix(aws.ToString(in.QueueUrl), "/q-a") && !failedOnce {
			failedOnce = true // one whole call fails and is retried
			return nil, apiError("ServiceUnavailable", 503)
		}
		out := &sqs.SendMessageBatchOutput{}
		for _, e := range in.Entries {
			// Events whose body says "message 3" are refused by the queue.
			if strings.Contains(aws.ToString(e.MessageBody), `message 3"`) {
				out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InvalidParameterValue"), SenderFault: true, Message: aws.String("bad " + leakSecret)})
				continue
			}
			out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("m")})
		}
		return out, nil
	}
	hookA := leakHook("hook-a", "https://sqs.us-east-1.amazonaws.com/123456789012/q-a")
	hookB := leakHook("hook-b", "https://sqs.us-east-1.amazonaws.com/123456789012/q-b")
	hookB.EventTypes = []string{"message.new"}
	opts := []sqshook.Option{sqshook.WithMeterProvider(mp)}
	if detail {
		opts = append(opts, sqshook.WithMetricsDetail(func(string) bool { return true }))
	}
	d, _ := newTestDispatcher(t, fake, []sqshook.Hook{hookA, hookB}, opts...)

	const n = 40
	var ids []string
	for i := range n {
		typ := "message.new"
		if i%4 == 0 {
			typ = "message.updated" // hook-a only
		}
		ev := event(t, typ, i)
		ev.ID = fmt.Sprintf("ev-%d", i)
		ids = append(ids, ev.ID)
		if err := d.Publish(context.Background(), ev); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	// An event no hook takes is not published.
	if err := d.Publish(context.Background(), event(t, "reaction.new", 0)); err != nil {
		t.Fatal(err)
	}
	flush(t, d)
	stats := checkAccounting(t, d, true)
	ms := collectMetrics(t, reader)

	if got := intSum(t, ms, "sqshook.events.published", nil); got != n {
		t.Errorf("sqshook.events.published = %d, want %d", got, n)
	}
	// Each subject is a hook (with detail) or the aggregate series, with
	// what Stats says of it.
	type subject struct {
		name   string
		filter map[string]string
		stats  sqshook.HookStats
	}
	var subjects []subject
	total := sqshook.HookStats{DeadLetteredBy: map[sqshook.Reason]uint64{}}
	for _, h := range stats.Hooks {
		q := "q-a"
		if h.HookID == "hook-b" {
			q = "q-b"
		}
		subjects = append(subjects, subject{h.HookID, map[string]string{"sqshook.hook.id": h.HookID, "messaging.destination.name": q, "messaging.system": "aws_sqs"}, h})
		if h.DeadLettered != 1 {
			t.Errorf("%s: %d dead letters, want 1 (the fake refuses one event)", h.HookID, h.DeadLettered)
		}
		total.Delivered += h.Delivered
		total.Batches += h.Batches
		total.Retries += h.Retries
		total.DeadLettered += h.DeadLettered
		for r, k := range h.DeadLetteredBy {
			total.DeadLetteredBy[r] += k
		}
	}
	if !detail {
		subjects = []subject{{"aggregate", map[string]string{"messaging.system": "aws_sqs"}, total}}
		for name, a := range ms {
			for _, set := range attrsOf(a) {
				if set.HasValue("sqshook.hook.id") || set.HasValue("sqshook.tenant") || set.HasValue("messaging.destination.name") {
					t.Errorf("%s: series %v names a hook without WithMetricsDetail", name, set.ToSlice())
				}
			}
		}
	}
	retries := total.Retries
	for _, sub := range subjects {
		h, hook := sub.stats, sub.filter
		if got := intSum(t, ms, "sqshook.copies.delivered", hook); uint64(got) != h.Delivered || got == 0 {
			t.Errorf("%s: copies.delivered = %d, Stats.Delivered = %d", sub.name, got, h.Delivered)
		}
		for reason, want := range h.DeadLetteredBy {
			attrs := maps.Clone(hook)
			attrs["sqshook.reason"], attrs["sqshook.code"] = string(reason), "InvalidParameterValue"
			if got := intSum(t, ms, "sqshook.copies.dead_lettered", attrs); uint64(got) != want {
				t.Errorf("%s: copies.dead_lettered{reason=%s} = %d, Stats = %d", sub.name, reason, got, want)
			}
		}
		if got := intSum(t, ms, "sqshook.calls", hook); uint64(got) != h.Batches {
			t.Errorf("%s: calls = %d, Stats.Batches = %d", sub.name, got, h.Batches)
		}
		if got := intSum(t, ms, "sqshook.retries", hook); uint64(got) != h.Retries {
			t.Errorf("%s: retries = %d, Stats.Retries = %d", sub.name, got, h.Retries)
		}
		if c, _ := histCount(t, ms, "sqshook.delivery.latency", hook); c != h.Delivered {
			t.Errorf("%s: delivery.latency count = %d, want Delivered %d", sub.name, c, h.Delivered)
		}
		if c, _ := histCount(t, ms, "messaging.client.operation.duration", hook); c != h.Batches {
			t.Errorf("%s: operation.duration count = %d, want Batches %d", sub.name, c, h.Batches)
		}
		if c, _ := histCount(t, ms, "sqshook.call.entries", hook); c != h.Batches {
			t.Errorf("%s: call.entries count = %d, want Batches %d", sub.name, c, h.Batches)
		}
		// Idle after Flush: the aggregate gauges say 0, a hook has no
		// gauge series.
		for _, g := range []string{"sqshook.buffered.events", "sqshook.buffered.bytes", "sqshook.inflight.calls", "sqshook.inflight.limit"} {
			if got := intSum(t, ms, g, hook); got != 0 {
				t.Errorf("%s: %s = %d after Flush", sub.name, g, got)
			}
			n := 0
			for _, set := range attrsOf(ms[g]) {
				if match(set, hook) {
					n++
				}
			}
			if want := map[bool]int{false: 1, true: 0}[detail]; n != want {
				t.Errorf("%s: %d series of %s after Flush, want %d", sub.name, n, g, want)
			}
		}
	}
	if got := intSum(t, ms, "sqshook.hooks", map[string]string{"sqshook.health": "ok"}); got != 2 {
		t.Errorf("sqshook.hooks{health=ok} = %d, want 2", got)
	}
	if retries == 0 {
		t.Error("no retry counted; the fake fails one call")
	}
	// Every entry sent is in the entries histogram.
	_, entries := histCount(t, ms, "sqshook.call.entries", nil)
	fake.mu.Lock()
	sent := fake.entries
	fake.mu.Unlock()
	if int(entries) != sent {
		t.Errorf("call.entries sum = %v, the fake received %d entries", entries, sent)
	}
	for _, outcome := range []string{"transient", "partial"} {
		if intSum(t, ms, "sqshook.calls", map[string]string{"sqshook.call.outcome": outcome}) == 0 {
			t.Errorf("no call with outcome %q", outcome)
		}
	}
	if got := intSum(t, ms, "sqshook.calls", map[string]string{"sqshook.call.outcome": "transient", "error.type": "ServiceUnavailable"}); got != 1 {
		t.Errorf("transient calls with error.type=ServiceUnavailable: %d, want 1", got)
	}
	// No attribute shows a secret, the key id or an event id.
	for name, a := range ms {
		for _, set := range attrsOf(a) {
			for _, kv := range set.ToSlice() {
				v := kv.Value.String()
				if found := leakFinds(v); len(found) > 0 || slices.Contains(ids, v) {
					t.Errorf("%s: attribute %s=%q shows %v or an event id", name, kv.Key, v, found)
				}
			}
		}
	}
}

// TestTelemetryGaugesWhileCallsBlock: while calls hang, the gauges agree
// with Stats: in the aggregate series, and in the hook's own with
// WithMetricsDetail (then the aggregate series say 0).
func TestTelemetryGaugesWhileCallsBlock(t *testing.T) {
	for _, detail := range []bool{false, true} {
		t.Run(map[bool]string{false: "aggregate", true: "detail"}[detail], func(t *testing.T) {
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
			fake := newFake()
			fake.block = make(chan struct{})
			opts := []sqshook.Option{sqshook.WithMeterProvider(mp), sqshook.WithMaxInFlight(2)}
			if detail {
				opts = append(opts, sqshook.WithMetricsDetail(func(tenant string) bool { return tenant == "" }))
			}
			// A second hook that takes nothing adds nothing to the gauges.
			d, _ := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q", "message.new"), hookFor("idle", "q2", "reaction.new")}, opts...)
			for i := range 25 {
				if err := d.Publish(context.Background(), event(t, "message.new", i)); err != nil {
					t.Fatal(err)
				}
			}
			waitForCond(t, func() bool { return fake.inFlight.Load() == 2 })
			s, _ := d.Stats().Hook("h")
			ms := collectMetrics(t, reader)
			own := map[string]string{"sqshook.hook.id": "h", "messaging.destination.name": "q"}
			agg := map[string]string{"messaging.system": "aws_sqs"}
			for name, want := range map[string]int64{
				"sqshook.buffered.events": int64(s.Pending),
				"sqshook.buffered.bytes":  int64(s.BufferedBytes),
				"sqshook.inflight.calls":  2,
				"sqshook.inflight.limit":  2,
			} {
				if got := intSum(t, ms, name, nil); got != want {
					t.Errorf("%s = %d over every series, want %d", name, got, want)
				}
				wantOwn, wantSeries := int64(0), 1
				if detail {
					wantOwn, wantSeries = want, 2 // the aggregate's and h's; none for the idle hook
				}
				if got := intSum(t, ms, name, own); got != wantOwn {
					t.Errorf("%s{hook h} = %d, want %d", name, got, wantOwn)
				}
				if got := intSum(t, ms, name, agg) - intSum(t, ms, name, own); got != want-wantOwn {
					t.Errorf("%s in the aggregate series = %d, want %d", name, got, want-wantOwn)
				}
				if n := len(attrsOf(ms[name])); n != wantSeries {
					t.Errorf("%s: %d series, want %d", name, n, wantSeries)
				}
			}
			if s.Pending != 25 || s.BufferedBytes == 0 {
				t.Errorf("stats: pending %d, %d bytes; want 25 and some", s.Pending, s.BufferedBytes)
			}
			close(fake.block)
			flush(t, d)
		})
	}
}

// TestTelemetrySpooledGauge: with a spool, the copies a hook has on disk
// only are the sqshook.spooled.events gauge, equal to HookStats.Spooled.
func TestTelemetrySpooledGauge(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	fake := stuckFake()
	d, _ := spoolDispatcher(t, fake, t.TempDir(), []sqshook.Hook{hookFor("h", "q", "message.new")},
		sqshook.WithMeterProvider(mp), sqshook.WithMaxInFlight(1), sqshook.WithMaxBuffered(10, 1<<20))
	defer d.Close(expired())
	for i := range 40 {
		if err := d.Publish(context.Background(), event(t, "message.new", i)); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := d.Stats().Hook("h")
	if s.Spooled != 30 {
		t.Fatalf("Spooled = %d, want 30 (40 published, room for 10 in memory)", s.Spooled)
	}
	ms := collectMetrics(t, reader)
	if got := intSum(t, ms, "sqshook.spooled.events", nil); got != int64(s.Spooled) {
		t.Errorf("sqshook.spooled.events = %d, HookStats.Spooled = %d", got, s.Spooled)
	}
}

func TestTelemetrySpansLinkPublishSpans(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	fake := newFake()
	d, _ := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "orders-queue", "message.new")},
		sqshook.WithTracerProvider(tp), sqshook.WithLinger(sqshook.DefaultLinger))

	var want []trace.SpanContext
	for i := range 3 {
		ctx, span := tp.Tracer("test").Start(context.Background(), "handle request")
		if err := d.Publish(ctx, event(t, "message.new", i)); err != nil {
			t.Fatal(err)
		}
		want = append(want, span.SpanContext())
		span.End()
	}
	// An event published without a span brings no link.
	if err := d.Publish(context.Background(), event(t, "message.new", 3)); err != nil {
		t.Fatal(err)
	}
	flush(t, d)

	var sends []sdktrace.ReadOnlySpan
	for _, s := range sr.Ended() {
		if s.Name() == "send orders-queue" {
			sends = append(sends, s)
		}
	}
	if len(sends) == 0 {
		t.Fatal("no send span")
	}
	var got []trace.SpanContext
	entries := 0
	for _, s := range sends {
		if s.SpanKind() != trace.SpanKindProducer {
			t.Errorf("span kind %v, want producer", s.SpanKind())
		}
		attrs := attribute.NewSet(s.Attributes()...)
		if !match(attrs, map[string]string{
			"messaging.system": "aws_sqs", "messaging.destination.name": "orders-queue",
			"messaging.operation.name": "send", "messaging.operation.type": "send", "sqshook.hook.id": "h",
		}) {
			t.Errorf("send span attributes: %v", s.Attributes())
		}
		if v, ok := attrs.Value("messaging.batch.message_count"); ok {
			entries += int(v.AsInt64())
		}
		for _, l := range s.Links() {
			got = append(got, l.SpanContext)
		}
		if s.Parent().IsValid() {
			t.Errorf("send span has parent %v; want a root linked to the Publish spans", s.Parent())
		}
	}
	if entries != 4 {
		t.Errorf("messaging.batch.message_count sums to %d, want 4", entries)
	}
	if len(got) != len(want) {
		t.Fatalf("links %v, want %v", got, want)
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, w.Equal) {
			t.Errorf("no link to Publish span %v", w)
		}
	}
}

func TestTelemetryFailedCallSpan(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	fake := newFake()
	fake.respond = func(int, *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		return nil, apiError("AccessDenied", 403)
	}
	d, dls := newTestDispatcher(t, fake, []sqshook.Hook{leakHook("h", "https://sqs.us-east-1.amazonaws.com/123456789012/q")},
		sqshook.WithTracerProvider(tp))
	_ = d.Publish(context.Background(), event(t, "message.new", 0))
	flush(t, d)
	if len(dls.list()) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dls.list()))
	}
	spans := sr.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Status().Code.String() != "Error" {
		t.Errorf("status %v, want Error", s.Status())
	}
	set := attribute.NewSet(s.Attributes()...)
	if v, _ := set.Value("error.type"); v.AsString() != "AccessDenied" {
		t.Errorf("error.type = %q, want AccessDenied", v.AsString())
	}
	for _, kv := range s.Attributes() {
		if found := leakFinds(kv.Value.String()); len(found) > 0 {
			t.Errorf("attribute %s shows %v", kv.Key, found)
		}
	}
}

func TestTracePropagation(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(context.Background(), "handle request")
	defer span.End()
	sc := span.SpanContext()
	want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"

	eightAttrs := map[string]types.MessageAttributeValue{}
	for i := range 8 {
		eightAttrs[fmt.Sprintf("a%d", i)] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String("v")}
	}
	for _, c := range []struct {
		name string
		opts []sqshook.Option
		ctx  context.Context
		ev   func(sqshook.Event) sqshook.Event
		want string
	}{
		{"on", []sqshook.Option{sqshook.WithTracePropagation()}, ctx, nil, want},
		{"off by default", nil, ctx, nil, ""},
		{"no span in the context", []sqshook.Option{sqshook.WithTracePropagation()}, context.Background(), nil, ""},
		{"eight attributes already", []sqshook.Option{sqshook.WithTracePropagation()}, ctx,
			func(ev sqshook.Event) sqshook.Event { ev.Attributes = eightAttrs; return ev }, ""},
		{"the event's own traceparent", []sqshook.Option{sqshook.WithTracePropagation()}, ctx,
			func(ev sqshook.Event) sqshook.Event {
				ev.Attributes = map[string]types.MessageAttributeValue{"traceparent": {DataType: aws.String("String"), StringValue: aws.String("mine")}}
				return ev
			}, "mine"},
		{"too large with it", []sqshook.Option{sqshook.WithTracePropagation(), sqshook.WithMaxMessageBytes(1024)}, ctx,
			func(ev sqshook.Event) sqshook.Event {
				ev.Body = []byte(`{"pad":"` + strings.Repeat("x", 1024-10-40-len(sqshook.AttrEventType)-len(sqshook.AttrEventID)-12-len("message.new")) + `"}`)
				ev.ID = "e"
				return ev
			}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := newFake()
			d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q", "message.new")}, c.opts...)
			ev := event(t, "message.new", 0)
			if c.ev != nil {
				ev = c.ev(ev)
			}
			if err := d.Publish(c.ctx, ev); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			flush(t, d)
			acked := fake.acked["https://sqs.us-east-1.amazonaws.com/123456789012/q"]
			if len(acked) != 1 || len(dls.list()) != 0 {
				t.Fatalf("%d acknowledged, dead letters %v; want the event delivered", len(acked), dls.list())
			}
			got := aws.ToString(acked[0].MessageAttributes["traceparent"].StringValue)
			if got != c.want {
				t.Errorf("traceparent %q, want %q", got, c.want)
			}
			if n := len(acked[0].MessageAttributes); n > 10 {
				t.Errorf("%d attributes", n)
			}
		})
	}
}

// TestTelemetryTenantAttribute: with WithMetricsDetail, a hook's
// measurements carry its tenant, so two tenants' hooks with the same id are
// counted apart.
func TestTelemetryTenantAttribute(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	d, _ := newTestDispatcher(t, newFake(), nil, sqshook.WithMeterProvider(mp), sqshook.WithMetricsDetail(func(string) bool { return true }))
	for tenant, n := range map[string]int{"acme": 3, "globex": 5} {
		if err := d.Tenant(tenant).SetHooks([]sqshook.Hook{leakHook("h", "https://sqs.us-east-1.amazonaws.com/123456789012/q-"+tenant)}); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := d.Tenant(tenant).Publish(context.Background(), event(t, "message.new", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	flush(t, d)
	ms := collectMetrics(t, reader)
	for tenant, want := range map[string]int64{"acme": 3, "globex": 5, "": 0} {
		got := intSum(t, ms, "sqshook.copies.delivered", map[string]string{"sqshook.tenant": tenant, "sqshook.hook.id": "h"})
		if got != want {
			t.Errorf("copies.delivered{tenant=%q} = %d, want %d", tenant, got, want)
		}
	}
}

// scaleTenants configures n tenants of d ("t0" … "t<n-1>"), each with two
// hooks on queues of their own: "all" takes every message event, "new"
// only message.new.
func scaleTenants(t testing.TB, d *sqshook.Dispatcher, n int) {
	t.Helper()
	for i := range n {
		id := "t" + strconv.Itoa(i)
		if err := d.Tenant(id).SetHooks(scaleHooks(id)); err != nil {
			t.Fatalf("tenant %s: %v", id, err)
		}
	}
}

// scaleHooks are the two hooks of a tenant of scaleTenants.
func scaleHooks(tenant string) []sqshook.Hook {
	return []sqshook.Hook{hookFor("all", tenant+"-all", "message.*"), hookFor("new", tenant+"-new", "message.new")}
}

// seriesCount counts the data points of every metric of rm: one per
// series (attribute set) of each instrument.
func seriesCount(rm *metricdata.ResourceMetrics) int {
	n := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			n += len(attrsOf(m.Data))
		}
	}
	return n
}

// collectAll reads every metric of reader, whole.
func collectAll(t testing.TB, reader *sdkmetric.ManualReader) *metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	return &rm
}

// TestMetricsSeriesAtTenantScale: 10,000 tenants of two hooks each, a
// tenth of them delivering an event, make a bounded number of series by
// default (at most 1,000; the SDK's own limit of 2,000 per instrument is
// raised here so that it cannot hide the count): no series names a tenant
// or a hook, idle hooks add none, and the aggregate counters still count
// every copy.
func TestMetricsSeriesAtTenantScale(t *testing.T) {
	const tenants = 10_000
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithCardinalityLimit(1<<20))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	d, _ := newTestDispatcher(t, newFake(), nil, sqshook.WithMeterProvider(mp), sqshook.WithResourceAuthForTenants())
	scaleTenants(t, d, tenants)
	published := 0
	for i := 0; i < tenants; i += 10 {
		if err := d.Tenant("t"+strconv.Itoa(i)).Publish(context.Background(), event(t, "message.new", i)); err != nil {
			t.Fatal(err)
		}
		published++
	}
	flush(t, d)
	rm := collectAll(t, reader)
	n := seriesCount(rm)
	t.Logf("%d tenants × 2 hooks: %d series", tenants, n)
	if n > 1000 {
		t.Errorf("%d series at %d tenants × 2 hooks, want at most 1,000", n, tenants)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			for _, set := range attrsOf(m.Data) {
				if set.HasValue("sqshook.tenant") || set.HasValue("sqshook.hook.id") || set.HasValue("messaging.destination.name") {
					t.Fatalf("%s: series %v names a tenant, hook or queue by default", m.Name, set.ToSlice())
				}
			}
		}
	}
	ms := collectMetrics(t, reader)
	if got := intSum(t, ms, "sqshook.copies.delivered", nil); got != int64(2*published) {
		t.Errorf("sqshook.copies.delivered = %d, want %d (two hooks per event)", got, 2*published)
	}
	if got := intSum(t, ms, "sqshook.buffered.events", nil); got != 0 {
		t.Errorf("sqshook.buffered.events = %d after Flush", got)
	}
}

// TestMetricsMemoryPerHook: a hook costs about the same memory with
// metrics on as with them off (live heap after New and the tenants'
// SetHooks, per hook; ratio at most 1.2). Both are measured in this test,
// twice each in turn, the smaller of each kept.
func TestMetricsMemoryPerHook(t *testing.T) {
	const tenants = 2_000
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	fake := newFake()
	measure := func(opts ...sqshook.Option) float64 {
		before := benchLiveHeap()
		d, err := sqshook.New(nil, append([]sqshook.Option{
			sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) { return fake, nil }),
			sqshook.WithResourceAuthForTenants(),
		}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		scaleTenants(t, d, tenants)
		after := benchLiveHeap()
		if err := d.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		return (float64(after) - float64(before)) / (2 * tenants)
	}
	off, on := math.Inf(1), math.Inf(1)
	for range 2 {
		off = min(off, measure())
		on = min(on, measure(sqshook.WithMeterProvider(mp)))
	}
	t.Logf("per hook: %.0f B with metrics off, %.0f B with metrics on (%.2f×)", off, on, on/off)
	if on > 1.2*off {
		t.Errorf("a hook costs %.0f B with metrics on, %.0f B without: %.2f×, want at most 1.2×", on, off, on/off)
	}
}

// BenchmarkStatsContention measures what reading one tenant's stats and
// collecting metrics costs the other tenants. With 10,000 tenants of two
// hooks and metrics on (the SDK's default limits), it takes the p99 of 400
// SetHooks calls of one tenant (changing one hook each time) while nothing
// else runs, then while a goroutine reads another tenant's Tenant.Stats
// a hundred times and collects the metrics once, in a loop (one core for
// the reader, one for SetHooks), and reports both (SetHooks-p99-idle-us,
// SetHooks-p99-polled-us), polled/idle (p99-ratio; target ≤ 2) and the same
// for the mean times (mean-ratio, less noisy; the reader's allocations and
// CPU weigh on it even without a shared lock); and collect-ms, the time of
// one collection (the best of three). Each figure is the best of three
// rounds, idle and polled in turn.
func BenchmarkStatsContention(b *testing.B) {
	const tenants = 10_000
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	d := benchFakeDispatcher(b, &benchSQS{}, nil, sqshook.WithMeterProvider(mp), sqshook.WithResourceAuthForTenants())
	defer benchClose(b, d)
	scaleTenants(b, d, tenants)
	a, c := scaleHooks("t1"), scaleHooks("t1")
	c[1].EventTypes = []string{"message.new", "message.updated"}
	lists := [2][]sqshook.Hook{c, a}
	// p99 runs SetHooks at least 400 times, and until more() is false,
	// and returns the p99 and the mean of their times.
	p99 := func(more func() bool) (p, mean time.Duration) {
		var lat []time.Duration
		var sum time.Duration
		for i := 0; i < 400 || more(); i++ {
			start := time.Now()
			if err := d.Tenant("t1").SetHooks(lists[i%2]); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
			sum += lat[i]
		}
		slices.Sort(lat)
		return lat[len(lat)*99/100], sum / time.Duration(len(lat))
	}
	// polled is p99 while a goroutine reads one tenant's stats and
	// collects the metrics, at least 5 times.
	polled := func() (p, mean time.Duration, polls int64) {
		stop, done := make(chan struct{}), make(chan struct{})
		var n atomic.Int64
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				for range 100 {
					d.Tenant("t2").Stats()
				}
				var rm metricdata.ResourceMetrics
				_ = reader.Collect(context.Background(), &rm)
				n.Add(1)
			}
		}()
		p, mean = p99(func() bool { return n.Load() < 5 })
		close(stop)
		<-done
		return p, mean, n.Load()
	}
	for b.Loop() {
		// Interleaved, the best of three each: the machine's noise hits
		// both.
		var idle, busy, idleMean, busyMean time.Duration
		var polls int64
		best := func(d *time.Duration, t time.Duration) {
			if *d == 0 || t < *d {
				*d = t
			}
		}
		for range 3 {
			p, mean := p99(func() bool { return false })
			best(&idle, p)
			best(&idleMean, mean)
			p, mean, n := polled()
			best(&busy, p)
			best(&busyMean, mean)
			polls += n
		}
		b.ReportMetric(float64(idle.Microseconds()), "SetHooks-p99-idle-us")
		b.ReportMetric(float64(busy.Microseconds()), "SetHooks-p99-polled-us")
		b.ReportMetric(float64(busy)/float64(idle), "p99-ratio")
		b.ReportMetric(float64(busyMean)/float64(idleMean), "mean-ratio")
		b.ReportMetric(float64(polls), "polls")
		var collect time.Duration
		for range 3 {
			start := time.Now()
			var rm metricdata.ResourceMetrics
			_ = reader.Collect(context.Background(), &rm)
			if took := time.Since(start); collect == 0 || took < collect {
				collect = took
			}
		}
		b.ReportMetric(float64(collect.Microseconds())/1000, "collect-ms")
	}
}

// ownHooks lists the hooks (tenant/id) that have series of their own in
// any metric.
func ownHooks(rm *metricdata.ResourceMetrics) map[string]bool {
	out := map[string]bool{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			for _, set := range attrsOf(m.Data) {
				if id, ok := set.Value("sqshook.hook.id"); ok {
					tenant, _ := set.Value("sqshook.tenant")
					out[tenant.AsString()+"/"+id.AsString()] = true
				}
			}
		}
	}
	return out
}

// TestMetricsDetailTenants: with WithMetricsDetail naming 3 tenants of 10,000
// (2 hooks each), those tenants' hooks have series of their own that agree
// with their Stats; every other hook's measurements are in the aggregate
// series, so the number of series stays bounded and the sums are the
// totals.
func TestMetricsDetailTenants(t *testing.T) {
	const tenants = 10_000
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithCardinalityLimit(1<<20))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	chosen := map[string]bool{"t3": true, "t500": true, "t9999": true}
	d, _ := newTestDispatcher(t, newFake(), nil, sqshook.WithMeterProvider(mp), sqshook.WithResourceAuthForTenants(),
		sqshook.WithMetricsDetail(func(tenant string) bool { return chosen[tenant] }))
	scaleTenants(t, d, tenants)
	for _, id := range []string{"t3", "t500", "t9999", "t0", "t1", "t7777"} {
		for i := range 3 {
			if err := d.Tenant(id).Publish(context.Background(), event(t, "message.new", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	flush(t, d)
	rm := collectAll(t, reader)
	if n := seriesCount(rm); n > 1000 {
		t.Errorf("%d series, want at most 1,000", n)
	}
	got := ownHooks(rm)
	want := map[string]bool{}
	for id := range chosen {
		want[id+"/all"], want[id+"/new"] = true, true
	}
	if !maps.Equal(got, want) {
		t.Errorf("hooks with series of their own: %v, want %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	ms := collectMetrics(t, reader)
	for id := range chosen {
		for _, h := range d.Tenant(id).Stats().Hooks {
			if got := intSum(t, ms, "sqshook.copies.delivered", map[string]string{"sqshook.tenant": id, "sqshook.hook.id": h.HookID}); uint64(got) != h.Delivered || got != 3 {
				t.Errorf("%s/%s: copies.delivered = %d, Stats %d, want 3", id, h.HookID, got, h.Delivered)
			}
		}
	}
	if got := intSum(t, ms, "sqshook.copies.delivered", nil); got != 6*3*2 {
		t.Errorf("copies.delivered over every series = %d, want %d", got, 6*3*2)
	}
	var aggregate int64
	for _, dp := range ms["sqshook.copies.delivered"].(metricdata.Sum[int64]).DataPoints {
		if !dp.Attributes.HasValue("sqshook.tenant") {
			aggregate += dp.Value
		}
	}
	if aggregate != 3*3*2 {
		t.Errorf("copies.delivered in the aggregate series = %d, want %d (tenants t0, t1, t7777)", aggregate, 3*3*2)
	}
}

// TestMetricsDetailLimit: at most WithMetricsDetailLimit hooks ever get
// series of their own, however many tenants are named and however often a
// named tenant changes its hook ids; the others are counted in the
// aggregate series. A negative limit is refused; 0 gives none.
func TestMetricsDetailLimit(t *testing.T) {
	if _, err := sqshook.New(nil, sqshook.WithMetricsDetailLimit(-1)); err == nil || !strings.Contains(err.Error(), "metrics_detail_limit") {
		t.Errorf("WithMetricsDetailLimit(-1): %v, want a validation error", err)
	}
	for _, limit := range []int{0, 3} {
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
			var logs strings.Builder
			var logMu sync.Mutex
			d, _ := newTestDispatcher(t, newFake(), nil, sqshook.WithMeterProvider(mp), sqshook.WithResourceAuthForTenants(),
				sqshook.WithMetricsDetail(func(string) bool { return true }), sqshook.WithMetricsDetailLimit(limit),
				sqshook.WithLogger(slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil))))
			scaleTenants(t, d, 5)
			published := 0
			for i := range 5 { // every hook measures something
				if err := d.Tenant("t"+strconv.Itoa(i)).Publish(context.Background(), event(t, "message.new", i)); err != nil {
					t.Fatal(err)
				}
				published += 2
			}
			// Tenant t0 keeps changing its hook ids.
			for round := range 20 {
				hooks := []sqshook.Hook{hookFor(fmt.Sprintf("churn-%d", round), "t0-churn", "message.new")}
				if err := d.Tenant("t0").SetHooks(hooks); err != nil {
					t.Fatal(err)
				}
				for _, id := range []string{"t0", "t1", "t4"} {
					if err := d.Tenant(id).Publish(context.Background(), event(t, "message.new", round)); err != nil {
						t.Fatal(err)
					}
				}
				published += 1 + 2 + 2
			}
			flush(t, d)
			rm := collectAll(t, reader)
			if got := ownHooks(rm); len(got) != limit {
				t.Errorf("%d hooks with series of their own (%v), want %d", len(got), slices.Sorted(maps.Keys(got)), limit)
			}
			if got := intSum(t, collectMetrics(t, reader), "sqshook.copies.delivered", nil); got != int64(published) {
				t.Errorf("copies.delivered over every series = %d, want %d", got, published)
			}
			logMu.Lock()
			warned := strings.Count(logs.String(), "WithMetricsDetailLimit")
			logMu.Unlock()
			if want := map[bool]int{true: 1, false: 0}[limit > 0]; warned != want {
				t.Errorf("the limit was logged %d times, want %d:\n%s", warned, want, logs.String())
			}
		})
	}
}

// TestMetricsRemovedTenantSeries: once a removed tenant's hooks have
// drained, no gauge series names it (with WithMetricsDetail, while its
// hooks held copies, they had some); a tenant without detail never had a
// series of its own, before or after; the aggregate counters keep counting
// what both delivered. The counters' series of the tenant with detail stay
// in the SDK (cumulative), as documented.
func TestMetricsRemovedTenantSeries(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	fake := newFake()
	fake.block = make(chan struct{})
	d, _ := newTestDispatcher(t, fake, nil, sqshook.WithMeterProvider(mp), sqshook.WithResourceAuthForTenants(),
		sqshook.WithMetricsDetail(func(tenant string) bool { return tenant == "detailed" }))
	for _, id := range []string{"detailed", "plain", "stays"} {
		if err := d.Tenant(id).SetHooks(scaleHooks(id)); err != nil {
			t.Fatal(err)
		}
		if id == "stays" {
			continue
		}
		if err := d.Tenant(id).Publish(context.Background(), event(t, "message.new", 0)); err != nil {
			t.Fatal(err)
		}
	}
	waitForCond(t, func() bool { return fake.inFlight.Load() == 4 })
	names := func(rm *metricdata.ResourceMetrics, tenant string, gaugesOnly bool) []string {
		var out []string
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if _, gauge := m.Data.(metricdata.Gauge[int64]); gaugesOnly && !gauge {
					continue
				}
				for _, set := range attrsOf(m.Data) {
					if v, ok := set.Value("sqshook.tenant"); ok && v.AsString() == tenant {
						out = append(out, m.Name)
					}
				}
			}
		}
		return out
	}
	rm := collectAll(t, reader)
	if got := names(rm, "detailed", true); len(got) != 2*5 {
		t.Errorf("while its hooks hold copies, tenant detailed has gauge series %v, want 5 per hook", got)
	}
	if got := names(rm, "plain", false); len(got) != 0 {
		t.Errorf("tenant plain has series %v without detail", got)
	}
	// RemoveTenant waits for the removed hooks' copies, which the fake holds
	// until block is closed.
	removed := make(chan error, 2)
	for _, id := range []string{"detailed", "plain"} {
		go func() { removed <- d.RemoveTenant(context.Background(), id) }()
	}
	close(fake.block)
	for range 2 {
		if err := <-removed; err != nil {
			t.Fatal(err)
		}
	}
	flush(t, d)
	waitForCond(t, func() bool { return len(d.Stats().Hooks) == 2 }) // the removed hooks are done
	rm = collectAll(t, reader)
	if got := names(rm, "detailed", true); len(got) != 0 {
		t.Errorf("removed tenant detailed still has gauge series %v", got)
	}
	if got := names(rm, "plain", false); len(got) != 0 {
		t.Errorf("removed tenant plain has series %v", got)
	}
	if got := names(rm, "detailed", false); !slices.Contains(got, "sqshook.copies.delivered") {
		t.Errorf("tenant detailed's counter series %v: want its copies.delivered kept (cumulative)", got)
	}
	ms := collectMetrics(t, reader)
	if got := intSum(t, ms, "sqshook.copies.delivered", nil); got != 4 {
		t.Errorf("copies.delivered over every series = %d, want 4", got)
	}
	if got := intSum(t, ms, "sqshook.hooks", nil); got != 2 {
		t.Errorf("sqshook.hooks = %d, want 2 (tenant stays)", got)
	}
}

// TestMetricsHooksByHealth: sqshook.hooks counts the active hooks per
// health, whatever their series.
func TestMetricsHooksByHealth(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	fake := newFake()
	fake.respond = func(_ int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		if strings.HasSuffix(aws.ToString(in.QueueUrl), "/down") {
			return nil, apiError("ServiceUnavailable", 503)
		}
		return okAll(in), nil
	}
	d, _ := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("up", "up"), hookFor("down", "down"), hookFor("idle", "idle", "reaction.new")},
		sqshook.WithMeterProvider(mp), sqshook.WithBackOff(func() backoff.BackOff { return backoff.NewConstantBackOff(time.Hour) }))
	if err := d.Publish(context.Background(), event(t, "message.new", 0)); err != nil {
		t.Fatal(err)
	}
	waitForCond(t, func() bool { s, _ := d.Stats().Hook("down"); return s.Retrying == 1 })
	ms := collectMetrics(t, reader)
	for health, want := range map[string]int64{"ok": 2, "degraded": 1, "failing": 0} {
		if got := intSum(t, ms, "sqshook.hooks", map[string]string{"sqshook.health": health}); got != want {
			t.Errorf("sqshook.hooks{health=%s} = %d, want %d", health, got, want)
		}
	}
	_ = d.Close(expired()) // the retry waits an hour: give up on it
}

// TestMetricsDetailPanic: a WithMetricsDetail function that panics gives
// the hook no series of its own and is counted in CallbackPanics.
func TestMetricsDetailPanic(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	d, _ := newTestDispatcher(t, newFake(), []sqshook.Hook{hookFor("h", "q", "message.new")}, sqshook.WithMeterProvider(mp),
		sqshook.WithMetricsDetail(func(string) bool { panic("detail") }), sqshook.WithLogger(slog.New(slog.DiscardHandler)))
	if err := d.Publish(context.Background(), event(t, "message.new", 0)); err != nil {
		t.Fatal(err)
	}
	flush(t, d)
	if got := ownHooks(collectAll(t, reader)); len(got) != 0 {
		t.Errorf("hooks with series of their own: %v", got)
	}
	if got := intSum(t, collectMetrics(t, reader), "sqshook.copies.delivered", nil); got != 1 {
		t.Errorf("copies.delivered = %d, want 1", got)
	}
	if p := d.Stats().CallbackPanics; p != 1 {
		t.Errorf("CallbackPanics = %d, want 1", p)
	}
}

// acceptAll is an SQS client that acknowledges every entry: a stand-in
// for SQS in the example below.
type acceptAll struct{ sqshook.SQSAPI }

func (acceptAll) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	return okAll(in), nil
}

// Per-hook series for two chosen tenants, and a View that keeps of them the
// tenant only: one series per chosen tenant, the other tenants in the
// aggregate series.
func ExampleWithMetricsDetail() {
	reader := sdkmetric.NewManualReader()
	perTenant := sdkmetric.NewView(
		sdkmetric.Instrument{Name: "sqshook.*"},
		sdkmetric.Stream{AttributeFilter: attribute.NewDenyKeysFilter("sqshook.hook.id", "messaging.destination.name")},
	)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithView(perTenant))
	defer mp.Shutdown(context.Background())

	chosen := map[string]bool{"acme": true, "globex": true}
	d, err := sqshook.New(nil,
		sqshook.WithMeterProvider(mp),
		sqshook.WithMetricsDetail(func(tenant string) bool { return chosen[tenant] }),
		sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) { return acceptAll{}, nil }),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close(context.Background())
	for i, tenant := range []string{"acme", "globex", "initech", "umbrella"} {
		hooks := []sqshook.Hook{{
			ID: "events", Enabled: true, HookType: sqshook.HookTypeSQS, SQSAuthType: sqshook.AuthRole,
			SQSQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/" + tenant, SQSRegion: "us-east-1",
			SQSRoleARN: "arn:aws:iam::123456789012:role/stream-events",
		}}
		if err := d.Tenant(tenant).SetHooks(hooks); err != nil {
			log.Fatal(err)
		}
		for range i + 1 {
			ev, _ := sqshook.NewEvent("message.new", map[string]string{"text": "hi"})
			if err := d.Tenant(tenant).Publish(context.Background(), ev); err != nil {
				log.Fatal(err)
			}
		}
	}
	if err := d.Flush(context.Background()); err != nil {
		log.Fatal(err)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "sqshook.copies.delivered" {
				continue
			}
			var lines []string
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				lines = append(lines, fmt.Sprintf("%s{%s} %d", m.Name, dp.Attributes.Encoded(attribute.DefaultEncoder()), dp.Value))
			}
			slices.Sort(lines)
			fmt.Println(strings.Join(lines, "\n"))
		}
	}
	// Output:
	// sqshook.copies.delivered{messaging.system=aws_sqs,sqshook.tenant=acme} 1
	// sqshook.copies.delivered{messaging.system=aws_sqs,sqshook.tenant=globex} 2
	// sqshook.copies.delivered{messaging.system=aws_sqs} 7
}
