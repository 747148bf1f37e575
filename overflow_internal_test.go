// overflow_internal_test.go tests a failing hook's probing on a fake clock.

package sqshook

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/cenkalti/backoff/v4"
)

// downSQS answers ServiceUnavailable to every call until up is set, and
// records the most calls it saw at once since the last reset.
type downSQS struct {
	SQSAPI
	up              atomic.Bool
	calls, inflight atomic.Int64
	mu              sync.Mutex
	maxInflight     int64
}

func (f *downSQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.calls.Add(1)
	n := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	f.mu.Lock()
	f.maxInflight = max(f.maxInflight, n)
	f.mu.Unlock()
	if !f.up.Load() {
		return nil, &smithy.OperationError{ServiceID: "SQS", OperationName: "SendMessageBatch",
			Err: &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
				Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 503}},
				Err:      &smithy.GenericAPIError{Code: "ServiceUnavailable", Message: "down", Fault: smithy.FaultServer},
			}}}
	}
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("m")})
	}
	return out, nil
}

func (f *downSQS) resetMax() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.maxInflight
	f.maxInflight = f.inflight.Load()
	return m
}

// TestFailingHookProbesOneCallPerInterval: once failing, a hook makes no
// call until its probe interval has passed on the clock, then exactly one
// at a time; the first successful probe returns it to ok and it delivers
// everything it held.
func TestFailingHookProbesOneCallPerInterval(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	fake := &downSQS{}
	hook := Hook{ID: "h", Enabled: true, HookType: "sqs", SQSQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/q", SQSRegion: "us-east-1", SQSAuthType: "resource"}
	d, err := New([]Hook{hook}, withClock(clk), WithLinger(0), WithMaxInFlight(4),
		WithFailingRule(3, time.Second, time.Minute),
		WithBackOff(func() backoff.BackOff { return &backoff.ZeroBackOff{} }),
		WithRetryPolicy(RetryPolicy{MaxAttempts: 1 << 30}),
		WithClientFunc(func(context.Context, Hook) (SQSAPI, error) { return fake, nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = d.Close(ctx)
	}()
	publish := func(n int) {
		for i := 0; i < n; i++ {
			if err := d.Publish(context.Background(), Event{Type: "message.new", Body: []byte(`{"i":1}`)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	stats := func() HookStats { return d.Stats().Hooks[0] }
	publish(5)
	// Failures within the first second leave the hook degraded, not failing.
	waitFor(t, func() bool { return fake.calls.Load() >= 3 && stats().InFlight == 0 })
	if h := stats(); h.Health != HealthDegraded {
		t.Fatalf("after failures within 1s: health %q, want degraded", h.Health)
	}
	// Retries go on as the clock moves; past one second the hook is failing.
	for stats().Health != HealthFailing {
		clk.advance(100 * time.Millisecond)
		waitFor(t, func() bool { return stats().InFlight == 0 })
	}
	if h := stats(); h.HealthCause != "ServiceUnavailable: SQS unavailable" {
		t.Errorf("cause %q, want ServiceUnavailable: SQS unavailable (the code and its category, not AWS's message)", h.HealthCause)
	}
	// No call starts before the probe interval has passed.
	calls := fake.calls.Load()
	publish(20)
	clk.advance(59 * time.Second)
	if h := stats(); h.InFlight != 0 || fake.calls.Load() != calls {
		t.Fatalf("failing hook before its probe: %d in flight, %d calls; want 0, %d", h.InFlight, fake.calls.Load(), calls)
	}
	fake.resetMax()
	for i := 0; i < 3; i++ { // three probe intervals: three probes, one at a time
		clk.advance(time.Minute)
		want := calls + int64(i) + 1
		waitFor(t, func() bool { return fake.calls.Load() == want && stats().InFlight == 0 })
	}
	if m := fake.resetMax(); m != 1 {
		t.Errorf("calls at once while failing: %d, want 1", m)
	}
	fake.up.Store(true)
	clk.advance(time.Minute)
	waitFor(t, func() bool {
		clk.advance(0) // retry timers of entries that failed before the probe
		return stats().Delivered == 25
	})
	if h := stats(); h.Health != HealthOK || h.DeadLettered != 0 {
		t.Errorf("after a successful probe: health %q, %d dead letters; want ok, 0", h.Health, h.DeadLettered)
	}
}
