// overflow_internal_test.go tests overflow.go on a fake clock: a failing
// hook's probing; the shares of calls in flight (a hook whose endpoint
// does not answer stops calling, a tenant's share of calls and its line of
// waiting hooks); the defaults and checks of WithTenantMaxInFlight and
// WithSlowCall.

package sqshook

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
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

// heldSQS holds every SendMessageBatch call until the test answers it, and
// records the calls in the order they started.
type heldSQS struct {
	SQSAPI
	mu    sync.Mutex
	calls []*heldCall
	open  map[string]int // calls not yet answered, by queue-name prefix ("a-", "b-")
	peak  map[string]int
}

type heldCall struct {
	queue  string // the queue's name
	answer chan error
	done   bool
}

func newHeldSQS() *heldSQS {
	return &heldSQS{open: map[string]int{}, peak: map[string]int{}}
}

func prefixOf(queue string) string { return queue[:strings.IndexByte(queue, '-')+1] }

func (f *heldSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	url := aws.ToString(in.QueueUrl)
	c := &heldCall{queue: url[strings.LastIndexByte(url, '/')+1:], answer: make(chan error, 1)}
	pre := prefixOf(c.queue)
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.open[pre]++
	f.peak[pre] = max(f.peak[pre], f.open[pre])
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.open[pre]--
		f.mu.Unlock()
	}()
	select {
	case err := <-c.answer:
		if err != nil {
			return nil, err
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("m")})
	}
	return out, nil
}

// started returns the calls started so far, in order.
func (f *heldSQS) started() []*heldCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*heldCall(nil), f.calls...)
}

// answer answers the i-th call (nil: success).
func (f *heldSQS) answer(i int, err error) {
	f.mu.Lock()
	c := f.calls[i]
	if c.done {
		f.mu.Unlock()
		panic("call answered twice")
	}
	c.done = true
	f.mu.Unlock()
	c.answer <- err
}

// answerOpen answers every call not yet answered.
func (f *heldSQS) answerOpen(err error) {
	for i, c := range f.started() {
		f.mu.Lock()
		done := c.done
		f.mu.Unlock()
		if !done {
			f.answer(i, err)
		}
	}
}

func (f *heldSQS) openFor(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.open[prefix]
}

func (f *heldSQS) peakFor(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.peak[prefix]
}

// errUnavailable is the SDK's error for a 503 answer.
var errUnavailable = &smithy.OperationError{ServiceID: "SQS", OperationName: "SendMessageBatch",
	Err: &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 503}},
		Err:      &smithy.GenericAPIError{Code: "ServiceUnavailable", Message: "down", Fault: smithy.FaultServer},
	}}}

func heldHook(id, queue string, types ...string) Hook {
	return Hook{ID: id, Enabled: true, HookType: "sqs", SQSQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/" + queue,
		SQSRegion: "us-east-1", SQSAuthType: "resource", EventTypes: types}
}

// TestHangingHookStopsCalling: a hook whose calls go unanswered for the
// slow-call bound (DefaultSlowCall) is failing at once, not after five
// failed calls over two seconds, and starts no further call while those
// are out, though it has room under its in-flight limit; once they end it
// probes one call at a time, one per probe interval, and the first success
// brings it back to ok and its full limit. Before this, a freed slot went
// to a new call at once, to hang in turn, and the hook kept 4 calls out.
func TestHangingHookStopsCalling(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	fake := newHeldSQS()
	d, err := New([]Hook{heldHook("h", "a-q")}, withClock(clk), WithLinger(time.Millisecond), WithMaxInFlight(4),
		WithLogger(slog.New(slog.DiscardHandler)),
		WithBackOff(func() backoff.BackOff { return &backoff.ZeroBackOff{} }),
		WithRetryPolicy(RetryPolicy{MaxAttempts: 1 << 30}),
		WithClientFunc(func(context.Context, Hook) (SQSAPI, error) { return fake, nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		fake.answerOpen(nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = d.Close(ctx)
	}()
	for i := 0; i < 100; i++ {
		if err := d.Publish(context.Background(), Event{Type: "message.new", Body: []byte(`{"i":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	stats := func() HookStats { return d.Stats().Hooks[0] }
	waitFor(t, func() bool { return len(fake.started()) == 4 })
	clk.advance(DefaultSlowCall - time.Millisecond)
	if h := stats(); h.Health == HealthFailing {
		t.Fatalf("failing before the slow-call bound: %s", h.HealthCause)
	}
	clk.advance(time.Millisecond)
	if h := stats(); h.Health != HealthFailing || !strings.Contains(h.HealthCause, "no answer for 1s; calls in flight: 4") {
		t.Fatalf("after %v without an answer: health %q (%q), want failing, no answer", DefaultSlowCall, h.Health, h.HealthCause)
	}
	// One call answers (503): its slot is not refilled while the others
	// hang.
	fake.answer(0, errUnavailable)
	waitFor(t, func() bool { return stats().InFlight == 30 })
	if n := len(fake.started()); n != 4 {
		t.Fatalf("%d calls started after one of 4 hanging calls ended, want 4 (no new call)", n)
	}
	for i := 1; i < 4; i++ {
		fake.answer(i, errUnavailable)
	}
	waitFor(t, func() bool { return stats().InFlight == 0 })
	clk.advance(0) // the failed entries' retry timers
	if n := len(fake.started()); n != 4 {
		t.Fatalf("%d calls started before the probe interval, want 4", n)
	}
	// One probe per interval, one at a time.
	for probe := 0; probe < 2; probe++ {
		clk.advance(DefaultProbeInterval)
		waitFor(t, func() bool { return len(fake.started()) == 5+probe })
		if h := stats(); h.InFlight != 10 || h.Health != HealthFailing {
			t.Fatalf("probe %d: %d entries in flight, health %q; want 10 (one call), failing", probe, h.InFlight, h.Health)
		}
		if probe == 0 {
			fake.answer(4, errUnavailable)
			waitFor(t, func() bool { return stats().InFlight == 0 })
		}
	}
	// The probe succeeds: ok again, with its full limit.
	fake.answer(5, nil)
	waitFor(t, func() bool { return stats().Health == HealthOK && fake.openFor("a-") == 4 })
	for stats().Delivered != 100 {
		fake.answerOpen(nil)
		clk.advance(0)
		time.Sleep(time.Millisecond) // polling
	}
}

// TestTenantCallShare: a tenant's hooks together have at most its share of
// calls in flight (WithTenantMaxInFlight), however many hooks have batches
// ready; another tenant's calls go out meanwhile. The hooks that wait get
// the calls that end, first come first served: a busy hook whose call
// ends does not take its place again ahead of them.
func TestTenantCallShare(t *testing.T) {
	fake := newHeldSQS()
	d, err := New(nil, WithLinger(0), WithTenantMaxInFlight(5), WithResourceAuthForTenants(),
		WithLogger(slog.New(slog.DiscardHandler)),
		WithClientFunc(func(context.Context, Hook) (SQSAPI, error) { return fake, nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		fake.answerOpen(nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = d.Close(ctx)
	}()
	hooks := []Hook{heldHook("h0", "a-h0", "message.*")}
	for i := 1; i < 10; i++ {
		id := "h" + string(rune('0'+i))
		hooks = append(hooks, heldHook(id, "a-"+id, "reaction.*"))
	}
	a, b := d.Tenant("a"), d.Tenant("b")
	if err := a.SetHooks(hooks); err != nil {
		t.Fatal(err)
	}
	if err := b.SetHooks([]Hook{heldHook("h", "b-q")}); err != nil {
		t.Fatal(err)
	}
	publish := func(tn *Tenant, typ string, n int) {
		for i := 0; i < n; i++ {
			if err := tn.Publish(context.Background(), Event{Type: typ, Body: []byte(`{"i":1}`)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// h0 has 80 events and a limit of 16: it takes the whole share and
	// waits for more.
	publish(a, "message.new", 80)
	waitFor(t, func() bool { return fake.openFor("a-") == 5 })
	// h1…h9 have a batch each and wait behind h0; tenant b does not wait.
	publish(a, "reaction.new", 1)
	publish(b, "message.new", 1)
	waitFor(t, func() bool { return fake.openFor("b-") == 1 })
	if n := fake.openFor("a-"); n != 5 {
		t.Fatalf("tenant a has %d calls out, want its share 5", n)
	}
	// Each call of h0 that ends goes to the next waiting hook in turn: h0
	// first (it waited first), then h1, h2, … while h0 waits at the end
	// of the line.
	for i := 0; i < 5; i++ {
		fake.answer(i, nil)
		waitFor(t, func() bool { return len(fake.started()) == 7+i })
		if got, want := fake.started()[6+i].queue, "a-h"+string(rune('0'+i)); got != want {
			t.Fatalf("call %d after h0's answer went to %s, want %s (first come first served)", i, got, want)
		}
	}
	// Everything is delivered, never more than 5 of a's calls at once.
	delivered := func() (n uint64) {
		for _, tn := range []*Tenant{a, b} {
			for _, h := range tn.Stats().Hooks {
				n += h.Delivered
			}
		}
		return n
	}
	deadline := time.Now().Add(time.Minute)
	for delivered() != 90 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 90 delivered", delivered())
		}
		fake.answerOpen(nil)
		time.Sleep(time.Millisecond) // polling
	}
	if p := fake.peakFor("a-"); p != 5 {
		t.Errorf("tenant a had up to %d calls out at once, want its share 5", p)
	}
}

// TestTenantMaxInFlightOption: the share's default is a quarter of the
// pool's connections per host, and a share that is not below them is
// refused.
func TestTenantMaxInFlightOption(t *testing.T) {
	fake := func(context.Context, Hook) (SQSAPI, error) { return newHeldSQS(), nil }
	for _, tc := range []struct {
		name string
		opts []Option
		want int    // the share
		err  string // or the problem
	}{
		{"default", nil, DefaultTenantMaxInFlight, ""},
		{"pool of 16", []Option{WithClientOptions(ClientOptions{MaxConnsPerHost: 16})}, 4, ""},
		{"pool of 2", []Option{WithClientOptions(ClientOptions{MaxConnsPerHost: 2})}, 1, ""},
		{"pool of 1000", []Option{WithClientOptions(ClientOptions{MaxConnsPerHost: 1000})}, 250, ""},
		{"hooks of 400 calls", []Option{WithMaxInFlight(400)}, 100, ""},
		{"unbounded pool", []Option{WithClientOptions(ClientOptions{MaxConnsPerHost: -1}), WithTenantMaxInFlight(5000)}, 5000, ""},
		{"own HTTP client", []Option{WithClientOptions(ClientOptions{HTTPClient: http.DefaultClient}), WithTenantMaxInFlight(5000)}, 5000, ""},
		{"own clients", []Option{WithClientFunc(fake), WithTenantMaxInFlight(5000)}, 5000, ""},
		{"below the pool", []Option{WithTenantMaxInFlight(DefaultMaxConnsPerHost - 1)}, DefaultMaxConnsPerHost - 1, ""},
		{"the whole pool", []Option{WithTenantMaxInFlight(DefaultMaxConnsPerHost)}, 0, "tenant_max_in_flight: 256 is not below the client pool's 256 connections per host"},
		{"larger idle pool", []Option{WithMaxInFlight(300), WithTenantMaxInFlight(299)}, 299, ""},
		{"negative", []Option{WithTenantMaxInFlight(-1)}, 0, "tenant_max_in_flight: must be at least 1"},
		{"slow call", []Option{WithSlowCall(0)}, 0, "slow_call: must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := New(nil, append([]Option{WithLogger(slog.New(slog.DiscardHandler))}, tc.opts...)...)
			if tc.err != "" {
				var ve *ValidationError
				if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("New: %v, want a validation error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close(context.Background())
			if got := d.cfg.tenantMaxInFlight; got != tc.want {
				t.Errorf("share %d, want %d", got, tc.want)
			}
			if d.pool != nil && d.pool.transport != nil {
				if m := d.pool.transport.MaxConnsPerHost; m != 0 && d.cfg.tenantMaxInFlight >= m {
					t.Errorf("share %d not below the transport's %d connections per host", d.cfg.tenantMaxInFlight, m)
				}
			}
		})
	}
}

// TestConnsPerHost: the bound the pool's transport gets is the one
// connsPerHost reports.
func TestConnsPerHost(t *testing.T) {
	for _, o := range []ClientOptions{
		{}, {MaxConnsPerHost: 16}, {MaxConnsPerHost: -1}, {MaxIdleConnsPerHost: 500}, {MaxIdleConnsPerHost: 8, MaxConnsPerHost: 4},
	} {
		p := NewClientPool(o)
		if got, want := p.transport.MaxConnsPerHost, o.connsPerHost(); got != want {
			t.Errorf("%+v: transport bound %d, connsPerHost %d", o, got, want)
		}
	}
	if n := (ClientOptions{}).connsPerHost(); n != DefaultMaxConnsPerHost {
		t.Errorf("default %d, want %d", n, DefaultMaxConnsPerHost)
	}
	if n := (ClientOptions{HTTPClient: http.DefaultClient}).connsPerHost(); n != 0 {
		t.Errorf("with an HTTPClient: %d, want 0 (unknown)", n)
	}
}

// TestSlowCallBound: the slow-call bound is WithSlowCall's, or 8 smoothed
// round trips when longer (a queue that always answers slowly is not
// hanging), capped by the call timeout; a fixed in-flight limit keeps the
// round trip too.
func TestSlowCallBound(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	p := &pipe{d: &Dispatcher{cfg: settings{slowCall: time.Second, callTimeout: 20 * time.Second}}, lim: newInflightLimit(4, false)}
	if got := p.slowCallLocked(); got != time.Second {
		t.Errorf("no round trip yet: %v, want 1s", got)
	}
	p.lim.succeeded(t0, 500*time.Millisecond, true)
	if got := p.slowCallLocked(); got != 4*time.Second {
		t.Errorf("500ms round trips (fixed limit): %v, want 4s", got)
	}
	if p.lim.slots() != 4 {
		t.Errorf("a fixed limit moved to %d", p.lim.slots())
	}
	p.lim.srtt = 10 * time.Second
	if got := p.slowCallLocked(); got != 20*time.Second {
		t.Errorf("10s round trips: %v, want the call timeout 20s", got)
	}
}
