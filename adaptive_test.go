package sqshook

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sqshook/sqshook/sqstest"
)

func TestInflightLimitAIMD(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	rtt := 20 * time.Millisecond
	l := newInflightLimit(64, true)
	if l.slots() != DefaultInitialInFlight {
		t.Fatalf("starts at %d, want %d", l.slots(), DefaultInitialInFlight)
	}
	// Calls that found free slots do not grow the limit.
	for i := 0; i < 100; i++ {
		l.succeeded(t0, rtt, false)
	}
	if l.slots() != DefaultInitialInFlight {
		t.Fatalf("grew to %d without being limited", l.slots())
	}
	// Slow start: one more slot per limited success, up to the maximum.
	for i := 0; i < 10; i++ {
		l.succeeded(t0, rtt, true)
	}
	if l.slots() != DefaultInitialInFlight+10 {
		t.Fatalf("slow start: %d, want %d", l.slots(), DefaultInitialInFlight+10)
	}
	for i := 0; i < 100; i++ {
		l.succeeded(t0, rtt, true)
	}
	if l.slots() != 64 {
		t.Fatalf("capped at %d, want 64", l.slots())
	}
	// Throttling halves the limit once per round trip.
	now := t0.Add(time.Second)
	l.congested(now.Add(-rtt), now)
	if l.slots() != 32 {
		t.Fatalf("after throttling: %d, want 32", l.slots())
	}
	l.congested(now.Add(-rtt/2), now.Add(rtt/2)) // started before the cut
	if l.slots() != 32 {
		t.Fatalf("a second signal from the same round trip cut again: %d", l.slots())
	}
	later := now.Add(time.Millisecond)
	l.congested(later, later.Add(rtt))
	if l.slots() != 16 {
		t.Fatalf("after a later throttling: %d, want 16", l.slots())
	}
	// Congestion avoidance: about one slot per round trip (a limit of 16
	// successes, and a little more as the limit grows).
	for i := 0; i < 17; i++ {
		l.succeeded(later.Add(time.Second), rtt, true)
	}
	if l.slots() != 17 {
		t.Fatalf("additive increase: %d, want 17", l.slots())
	}
	// It never drops below one slot.
	for i := 0; i < 20; i++ {
		at := later.Add(time.Duration(i+2) * time.Second)
		l.congested(at, at.Add(rtt))
	}
	if l.slots() != 1 {
		t.Fatalf("floor: %d, want 1", l.slots())
	}
}

func TestInflightLimitLatency(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	l := newInflightLimit(64, true)
	for i := 0; i < 100; i++ {
		l.succeeded(t0.Add(time.Duration(i)*time.Millisecond), 5*time.Millisecond, true)
	}
	grown := l.slots()
	if grown != 64 {
		t.Fatalf("limit %d after 100 fast limited calls, want 64", grown)
	}
	// Round trips grow to 10× the smallest: the limit is trimmed.
	at := t0.Add(time.Second)
	for i := 0; i < 50; i++ {
		at = at.Add(60 * time.Millisecond)
		l.succeeded(at, 50*time.Millisecond, true)
	}
	if l.slots() >= grown/2 {
		t.Fatalf("limit %d with round trips 10× the minimum, want well below %d", l.slots(), grown)
	}
	// Sub-millisecond round trips (an in-process endpoint) are noise, not
	// a queue.
	fast := newInflightLimit(64, true)
	for i := 0; i < 200; i++ {
		rtt := 50 * time.Microsecond
		if i%2 == 1 {
			rtt = 900 * time.Microsecond
		}
		fast.succeeded(t0.Add(time.Duration(i)*time.Millisecond), rtt, true)
	}
	if fast.slots() != 64 {
		t.Fatalf("limit %d with sub-millisecond jitter, want 64", fast.slots())
	}
}

func TestInflightLimitFixed(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	l := newInflightLimit(7, false)
	for i := 0; i < 50; i++ {
		l.succeeded(t0, time.Second, true)
		l.congested(t0.Add(time.Duration(i)*time.Second), t0.Add(time.Duration(i+1)*time.Second))
	}
	if l.slots() != 7 {
		t.Fatalf("fixed limit moved to %d", l.slots())
	}
}

// stepClock is a clock whose Now moves on by a nanosecond per reading (so
// it still orders calls, which the once-per-round-trip cut relies on) and
// whose timers are real. Round trips measured with it are far below a
// millisecond, so the limit's latency rule stays out of the way: on a busy
// machine the client's own CPU makes real round trips swing by more than
// the rule's factor, and the rule would rightly trim the limit.
type stepClock struct{ n atomic.Int64 }

func (c *stepClock) Now() time.Time {
	return time.Unix(1_700_000_000, c.n.Add(1))
}

func (c *stepClock) AfterFunc(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) }

// Under a throttling storm (half of the calls throttled) the adaptive limit
// collapses, so the retries do not pile load onto the throttled queue, and
// it grows back once the storm ends. Every event is delivered.
//
// The limit is sampled once the storm has been felt (a number of throttled
// calls), not after a fixed time, and round trips come from stepClock: the
// outcome depends on the answers SQS gives, not on the machine's speed. It
// fails if throttling does not cut the limit (it stays at 16) or if the
// limit does not grow back afterwards.
func TestAdaptiveInFlightThrottlingStorm(t *testing.T) {
	srv := sqstest.NewServer(sqstest.WithLatency(10*time.Millisecond), sqstest.WithSeed(5))
	defer srv.Close()
	url := srv.CreateQueue("storm", nil)
	stop := srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Code: "RequestThrottled", Probability: 0.5})
	var dead atomic.Int64
	d, err := New([]Hook{{
		ID: "h", Enabled: true, HookType: "sqs", SQSQueueURL: url, SQSRegion: "us-east-1",
		SQSAuthType: "keys", SQSKey: "AKIASQSTESTEXAMPLE00", SQSSecret: "secret",
	}}, WithEndpoint(srv.URL()), WithLinger(0), withClock(&stepClock{}),
		WithRetryPolicy(RetryPolicy{InitialInterval: time.Millisecond, MaxInterval: 20 * time.Millisecond, MaxElapsedTime: time.Hour, MaxAttempts: 1000}),
		WithDeadLetter(func(DeadLetter) { dead.Add(1) }))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	ctx := context.Background()
	publish := func(n int) {
		for i := 0; i < n; i++ {
			if err := d.Publish(ctx, Event{Type: "message.new", Body: []byte(`{"text":"storm"}`)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// During the storm: once a few round trips have been throttled, sample
	// the limit while the hook is busy.
	const storm, felt = 2000, 10
	publish(storm)
	deadline := time.Now().Add(2 * time.Minute)
	for srv.Calls().Injected["RequestThrottled"] < felt {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls throttled after 2 minutes, want %d", srv.Calls().Injected["RequestThrottled"], felt)
		}
		time.Sleep(time.Millisecond)
	}
	peak, samples := 0, 0
	for {
		st, _ := d.Stats().Hook("h")
		if st.Pending == 0 {
			break
		}
		peak = max(peak, st.InFlightLimit)
		samples++
		time.Sleep(time.Millisecond) // sampling cadence
	}
	if err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	calls := srv.Calls()
	t.Logf("storm: peak limit %d over %d samples after %d throttled calls; %d calls for %d accepted batches (%.2f calls per delivered batch)",
		peak, samples, felt, calls.Calls["SendMessageBatch"], calls.Batches, float64(calls.Calls["SendMessageBatch"])/float64(calls.Batches))
	if samples == 0 {
		t.Fatalf("the hook was idle once %d calls had been throttled: nothing sampled", felt)
	}
	// Halved from 16, the limit may grow by one (a round trip's worth of
	// successes in congestion avoidance) before the next throttled call
	// halves it again: the sawtooth peaks at 9.
	if limit := DefaultInitialInFlight/2 + 1; peak > limit {
		t.Errorf("limit reached %d during a 50%% throttling storm, want at most %d", peak, limit)
	}
	// After the storm: the limit grows back while the hook is busy.
	stop()
	publish(10000)
	if err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	after, _ := d.Stats().Hook("h")
	t.Logf("after the storm: limit %d", after.InFlightLimit)
	if after.InFlightLimit < max(8, 2*peak) {
		t.Errorf("limit %d after 10,000 events without throttling, want at least %d", after.InFlightLimit, max(8, 2*peak))
	}
	if n := dead.Load(); n != 0 || srv.Count(url) != storm+10000 {
		t.Errorf("%d dead letters, %d of %d delivered", n, srv.Count(url), storm+10000)
	}
}
