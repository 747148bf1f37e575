// stats_internal_test.go tests that reading stats and collecting metrics
// never hold up another tenant's SetHooks or Publish: neither takes the
// dispatcher's lock, and a read stuck on one hook stops nobody else.

package sqshook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// releasedSQS holds every call until release is closed, then acknowledges
// every entry.
type releasedSQS struct {
	SQSAPI
	release chan struct{}
}

func (f *releasedSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	select {
	case <-f.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("m")})
	}
	return out, nil
}

// statsHook is a hook of the tests below.
func statsHook(id, queue string) Hook {
	return Hook{ID: id, Enabled: true, HookType: HookTypeSQS, SQSAuthType: AuthResource, SQSRegion: "us-east-1",
		SQSQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/" + queue, EventTypes: []string{"message.new"}}
}

// within runs fn in a goroutine and reports whether it returned within a
// generous bound; when it did not, release lets it go on and the
// goroutine is waited for, so that none is left behind.
func within(t *testing.T, what string, fn func(), release func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		release()
		<-done
		t.Fatalf("%s waited on another tenant's lock", what)
	}
}

// TestStatsAndMetricsWithoutDispatcherLock: Tenant.Stats, Dispatcher.Stats,
// a metrics collection and the health handler complete while the
// dispatcher's lock is held
// (as every tenant's SetHooks holds it to swap its hooks), and report the
// tenant's draining hook; and while they are stuck on one tenant's hook,
// another tenant's SetHooks and Publish complete.
func TestStatsAndMetricsWithoutDispatcherLock(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	fake := &releasedSQS{release: make(chan struct{})}
	d, err := New(nil, WithClientFunc(func(context.Context, Hook) (SQSAPI, error) { return fake, nil }),
		WithResourceAuthForTenants(), WithMeterProvider(mp), WithDeadLetter(func(DeadLetter) {}), WithLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	defer close(fake.release)
	for _, id := range []string{"a", "b"} {
		if err := d.Tenant(id).SetHooks([]Hook{statsHook("h1", id+"-1"), statsHook("h2", id+"-2")}); err != nil {
			t.Fatal(err)
		}
	}
	ev, err := NewEvent("message.new", map[string]string{"text": "hi"})
	if err != nil {
		t.Fatal(err)
	}
	// Tenant a's hook h2 holds a copy in a call that hangs, then is
	// removed: it drains.
	if err := d.Tenant("a").Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if err := d.Tenant("a").SetHooks([]Hook{statsHook("h1", "a-1")}); err != nil {
		t.Fatal(err)
	}

	var ts, ds Stats
	var rm metricdata.ResourceMetrics
	d.mu.Lock()
	within(t, "Tenant.Stats", func() { ts = d.Tenant("a").Stats() }, d.mu.Unlock)
	within(t, "Dispatcher.Stats", func() { ds = d.Stats() }, d.mu.Unlock)
	within(t, "a metrics collection", func() { _ = reader.Collect(context.Background(), &rm) }, d.mu.Unlock)
	health := httptest.NewRecorder()
	within(t, "the health handler", func() { d.HealthHandler().ServeHTTP(health, httptest.NewRequest(http.MethodGet, "/", nil)) }, d.mu.Unlock)
	d.mu.Unlock()
	if health.Code != http.StatusOK {
		t.Errorf("health handler: %d", health.Code)
	}
	if h, ok := ts.TenantHook("a", "h2"); len(ts.Hooks) != 2 || !ok || !h.Draining || h.Pending != 1 {
		t.Errorf("Tenant(a).Stats: %+v; want h1 active and h2 draining with its copy", ts.Hooks)
	}
	if len(ds.Hooks) != 4 {
		t.Errorf("Stats: %d hooks, want 4 (a: h1, h2 draining; b: h1, h2)", len(ds.Hooks))
	}
	if len(rm.ScopeMetrics) == 0 {
		t.Error("the collection returned no metrics")
	}

	// Stuck on tenant a's hook h1: a Stats read and a collection wait;
	// tenant b changes its hooks and publishes meanwhile.
	pa := d.lookupTenant("a").snap.Load().pipes[0]
	pa.mu.Lock()
	stuck := make(chan struct{}, 2)
	go func() { d.Tenant("a").Stats(); stuck <- struct{}{} }()
	go func() { _ = reader.Collect(context.Background(), &metricdata.ResourceMetrics{}); stuck <- struct{}{} }()
	within(t, "Tenant(b).SetHooks", func() {
		if err := d.Tenant("b").SetHooks([]Hook{statsHook("h1", "b-1"), statsHook("h3", "b-3")}); err != nil {
			t.Error(err)
		}
	}, pa.mu.Unlock)
	within(t, "Tenant(b).Publish", func() {
		if err := d.Tenant("b").Publish(context.Background(), ev); err != nil {
			t.Error(err)
		}
	}, pa.mu.Unlock)
	pa.mu.Unlock()
	<-stuck
	<-stuck
}
