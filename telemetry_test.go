// telemetry_test.go tests the OpenTelemetry instrumentation with the SDK's
// in-memory readers: metrics that agree with Stats, attributes without
// secrets or event ids, and call spans linked to the Publish spans.

package sqshook_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
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

func TestTelemetryMetricsAgreeWithStats(t *testing.T) {
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
	d, _ := newTestDispatcher(t, fake, []sqshook.Hook{hookA, hookB}, sqshook.WithMeterProvider(mp))

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
	var retries uint64
	for _, h := range stats.Hooks {
		q := "q-a"
		if h.HookID == "hook-b" {
			q = "q-b"
		}
		hook := map[string]string{"sqshook.hook.id": h.HookID, "messaging.destination.name": q, "messaging.system": "aws_sqs"}
		if got := intSum(t, ms, "sqshook.copies.delivered", hook); uint64(got) != h.Delivered || got == 0 {
			t.Errorf("%s: copies.delivered = %d, Stats.Delivered = %d", h.HookID, got, h.Delivered)
		}
		for reason, want := range h.DeadLetteredBy {
			attrs := map[string]string{"sqshook.hook.id": h.HookID, "sqshook.reason": string(reason), "sqshook.code": "InvalidParameterValue"}
			if got := intSum(t, ms, "sqshook.copies.dead_lettered", attrs); uint64(got) != want {
				t.Errorf("%s: copies.dead_lettered{reason=%s} = %d, Stats = %d", h.HookID, reason, got, want)
			}
		}
		if h.DeadLettered != 1 {
			t.Errorf("%s: %d dead letters, want 1 (the fake refuses one event)", h.HookID, h.DeadLettered)
		}
		if got := intSum(t, ms, "sqshook.calls", hook); uint64(got) != h.Batches {
			t.Errorf("%s: calls = %d, Stats.Batches = %d", h.HookID, got, h.Batches)
		}
		if got := intSum(t, ms, "sqshook.retries", hook); uint64(got) != h.Retries {
			t.Errorf("%s: retries = %d, Stats.Retries = %d", h.HookID, got, h.Retries)
		}
		retries += h.Retries
		if c, _ := histCount(t, ms, "sqshook.delivery.latency", hook); c != h.Delivered {
			t.Errorf("%s: delivery.latency count = %d, want Delivered %d", h.HookID, c, h.Delivered)
		}
		if c, _ := histCount(t, ms, "messaging.client.operation.duration", hook); c != h.Batches {
			t.Errorf("%s: operation.duration count = %d, want Batches %d", h.HookID, c, h.Batches)
		}
		if c, _ := histCount(t, ms, "sqshook.call.entries", hook); c != h.Batches {
			t.Errorf("%s: call.entries count = %d, want Batches %d", h.HookID, c, h.Batches)
		}
		if got := intSum(t, ms, "sqshook.buffered.events", hook); got != 0 {
			t.Errorf("%s: buffered.events = %d after Flush", h.HookID, got)
		}
		if got := intSum(t, ms, "sqshook.inflight.limit", hook); got != int64(h.InFlightLimit) {
			t.Errorf("%s: inflight.limit = %d, Stats.InFlightLimit = %d", h.HookID, got, h.InFlightLimit)
		}
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

func TestTelemetryGaugesWhileCallsBlock(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	fake := newFake()
	fake.block = make(chan struct{})
	d, _ := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q", "message.new")},
		sqshook.WithMeterProvider(mp), sqshook.WithMaxInFlight(2))
	for i := range 25 {
		if err := d.Publish(context.Background(), event(t, "message.new", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitForCond(t, func() bool { return fake.inFlight.Load() == 2 })
	s, _ := d.Stats().Hook("h")
	ms := collectMetrics(t, reader)
	for name, want := range map[string]int64{
		"sqshook.buffered.events": int64(s.Pending),
		"sqshook.buffered.bytes":  int64(s.BufferedBytes),
		"sqshook.inflight.calls":  2,
		"sqshook.inflight.limit":  2,
	} {
		if got := intSum(t, ms, name, map[string]string{"sqshook.hook.id": "h"}); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	if s.Pending != 25 || s.BufferedBytes == 0 {
		t.Errorf("stats: pending %d, %d bytes; want 25 and some", s.Pending, s.BufferedBytes)
	}
	close(fake.block)
	flush(t, d)
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
	if got := intSum(t, ms, "sqshook.spooled.events", map[string]string{"sqshook.hook.id": "h"}); got != int64(s.Spooled) {
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

// TestTelemetryTenantAttribute: a hook's measurements carry its tenant, so
// two tenants' hooks with the same id are counted apart.
func TestTelemetryTenantAttribute(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	d, _ := newTestDispatcher(t, newFake(), nil, sqshook.WithMeterProvider(mp))
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
