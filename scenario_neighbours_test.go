package sqshook_test

// Noisy neighbours on the connection pool: one tenant whose 100 queues hang
// (the endpoint accepts the connection and never answers) or answer only
// much later, and other tenants on the same endpoint, all through the
// dispatcher's one HTTP transport with its per-host connection cap and the
// default call timeout. The tenant may hold only its share of calls in
// flight (WithTenantMaxInFlight), so the other tenants always find
// connections: their deliveries all complete while the tenant's calls are
// still held, and their publish-to-acknowledgement p99 stays near that of
// a run without the fault.

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

// neighbourFault is what the noisy tenant's queues do.
type neighbourFault int

const (
	neighbourHealthy neighbourFault = iota // the baseline
	neighbourHang                          // never answer (Fault.Hang)
	neighbourSlow                          // answer once released (Fault.Release)
)

func (f neighbourFault) String() string {
	return [...]string{"healthy", "hang", "slow"}[f]
}

// neighbourConfig shapes a run.
type neighbourConfig struct {
	fault    neighbourFault
	others   int           // quiet tenants, one hook each
	noisy    int           // hooks (and queues) of the noisy tenant; 0 for the baseline
	rate     int           // events/s published to the quiet tenants together
	dur      time.Duration // how long they are published
	prefill  int           // events published to the noisy tenant (each reaches all its hooks) before
	noisyBy  int           // during the run, every noisyBy-th event also goes to the noisy tenant
	held     int           // the quiet tenants publish once the endpoint holds this many noisy calls
	latency  time.Duration // the endpoint's round trip
	settings []sqshook.Option
}

// neighbourResult is what a run measured.
type neighbourResult struct {
	p99     time.Duration // quiet tenants: publish to the queue's acceptance
	events  int           // quiet tenants' events published (and all delivered)
	maxHeld int           // the most noisy calls the endpoint held at once
	heldAt  int           // noisy calls held when the quiet deliveries had all completed
}

// runNeighbours runs one scenario on a server and dispatcher of its own.
// For the hang and slow faults it checks that the quiet tenants' deliveries
// all complete while the noisy calls are still held (for slow, before they
// are released), then lets the noisy tenant end: slow queues are released
// and deliver every event; hanging calls are ended by Close.
func runNeighbours(tb testing.TB, cfg neighbourConfig) neighbourResult {
	tb.Helper()
	acks := newAckLog()
	srv := sqstest.NewServer(sqstest.WithLatency(cfg.latency), sqstest.WithoutRecording(), sqstest.WithOnAccept(acks.add))
	defer srv.Close()

	release := make(chan struct{})
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	noisy := make([]sqshook.Hook, cfg.noisy)
	for i := range noisy {
		name := "noisy" + strconv.Itoa(i)
		noisy[i] = sqstestHook("h"+strconv.Itoa(i), srv.CreateQueue(name, nil))
		switch cfg.fault {
		case neighbourHang:
			srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Queue: name, Hang: true})
		case neighbourSlow:
			srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Queue: name, Release: release})
		}
	}
	dls := &deadLetters{}
	opts := append([]sqshook.Option{
		sqshook.WithLogger(slog.New(slog.DiscardHandler)),
		sqshook.WithEndpoint(srv.URL()),
		sqshook.WithDeadLetter(dls.add),
		sqshook.WithRetryPolicy(sqshook.RetryPolicy{MaxElapsedTime: time.Hour, MaxAttempts: 1 << 30}),
	}, cfg.settings...)
	d, err := sqshook.New(nil, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = d.Close(ctx)
		}
	}()
	if err := d.Tenant("noisy").SetHooks(noisy); err != nil {
		tb.Fatal(err)
	}
	quiet := make([]*sqshook.Tenant, cfg.others)
	for i := range quiet {
		id := "quiet" + strconv.Itoa(i)
		quiet[i] = d.Tenant(id)
		if err := quiet[i].SetHooks([]sqshook.Hook{sqstestHook("h", srv.CreateQueue(id, nil))}); err != nil {
			tb.Fatal(err)
		}
	}
	body := chatEventJSON(tb, "message.new", "hello")
	noisyEvents := 0
	publishNoisy := func() {
		ev := sqshook.Event{ID: "n-" + strconv.Itoa(noisyEvents), Type: "message.new", Body: body}
		noisyEvents++
		if err := d.Tenant("noisy").Publish(context.Background(), ev); err != nil {
			tb.Fatalf("noisy Publish: %v", err)
		}
	}
	for range cfg.prefill {
		publishNoisy()
	}
	if cfg.fault != neighbourHealthy {
		// The noisy tenant's calls are out and held before the quiet
		// tenants publish: its share of them, or (before the share) more.
		waitUntil(tb, "noisy calls held", time.Minute, func() bool { return srv.Held() >= cfg.held })
	}

	n := int(float64(cfg.rate) * cfg.dur.Seconds())
	sentAt := make([]time.Time, n)
	start := time.Now()
	for i := 0; i < n; {
		if want := int(time.Since(start).Seconds() * float64(cfg.rate)); i >= want {
			time.Sleep(time.Millisecond) // pacing
			continue
		}
		sentAt[i] = time.Now()
		ev := sqshook.Event{ID: "e-" + strconv.Itoa(i), Type: "message.new", Body: body}
		if err := quiet[i%len(quiet)].Publish(context.Background(), ev); err != nil {
			tb.Fatalf("quiet Publish: %v", err)
		}
		if cfg.noisyBy > 0 && i%cfg.noisyBy == 0 {
			publishNoisy()
		}
		i++
	}
	// Every quiet event is delivered; the bound is far above any healthy
	// run and leaves room for today's 20 s call timeout to show.
	waitUntil(tb, "quiet deliveries", 2*time.Minute, func() bool { return acks.count("e-") >= n })
	res := neighbourResult{events: n, heldAt: srv.Held(), maxHeld: srv.Calls().MaxHeld}
	res.p99 = acks.p99("e-", sentAt)
	if got := acks.count("e-"); got != n {
		tb.Errorf("quiet tenants: %d deliveries of %d events (duplicates?)", got, n)
	}

	switch cfg.fault {
	case neighbourSlow:
		// Released, the slow queues deliver every event of theirs.
		close(release)
		released = true
		want := noisyEvents * cfg.noisy
		waitUntil(tb, "noisy deliveries after the release", 2*time.Minute, func() bool { return acks.count("n-") >= want })
	case neighbourHang:
		// Close gives up on the hanging calls: their events are
		// dead-lettered as shutdown, none lost without a word.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = d.Close(ctx)
		closed = true
		dead := 0
		for _, dl := range dls.list() {
			if !strings.HasPrefix(dl.Event.ID, "n-") {
				tb.Errorf("a quiet tenant's event was dead-lettered: %s %s", dl.Reason, dl.Message)
			}
			dead++
		}
		if want := noisyEvents * cfg.noisy; dead != want {
			tb.Errorf("after Close: %d noisy copies dead-lettered, want %d", dead, want)
		}
	}
	if cfg.fault != neighbourHang {
		for _, dl := range dls.list() {
			tb.Errorf("dead letter: %s %s %s", dl.Event.ID, dl.Reason, dl.Message)
		}
	}
	return res
}

// ackLog records, by event id, when the server accepted each message.
type ackLog struct {
	mu sync.Mutex
	at map[string][]time.Time
}

func newAckLog() *ackLog { return &ackLog{at: map[string][]time.Time{}} }

func (a *ackLog) add(_ string, m sqstest.Message) {
	id := m.Attributes[sqshook.AttrEventID].StringValue
	a.mu.Lock()
	a.at[id] = append(a.at[id], m.ReceivedAt)
	a.mu.Unlock()
}

// count is how many messages with an id of the prefix were accepted.
func (a *ackLog) count(prefix string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for id, ts := range a.at {
		if strings.HasPrefix(id, prefix) {
			n += len(ts)
		}
	}
	return n
}

// p99 is the 99th percentile of publish (sentAt[i] for id prefix+i) to
// the first acceptance.
func (a *ackLog) p99(prefix string, sentAt []time.Time) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	ds := make([]time.Duration, 0, len(sentAt))
	for i, s := range sentAt {
		if ts := a.at[prefix+strconv.Itoa(i)]; len(ts) > 0 {
			ds = append(ds, ts[0].Sub(s))
		}
	}
	return benchP99(ds)
}

func waitUntil(tb testing.TB, what string, d time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not reached in %v", what, d)
		}
		time.Sleep(time.Millisecond) // polling with a deadline, not synchronisation
	}
}

// tenantCallShare is the noisy tenant's share of calls in flight.
const tenantCallShare = sqshook.DefaultTenantMaxInFlight

// TestHangingTenantHoldsItsShare: one tenant's 100 queues hang. The
// tenant holds at most its share of calls (the endpoint never holds more
// of its calls at once), the other tenants' deliveries all complete while
// its calls are still held, long before the default call timeout, and
// their p99 stays within a generous factor of a run without the fault.
func TestHangingTenantHoldsItsShare(t *testing.T) { testNoisyTenant(t, neighbourHang) }

// TestSlowTenantHoldsItsShare is TestHangingTenantHoldsItsShare with
// queues that answer only when the test releases them (a queue answering
// after 10 s, without the wait); once released they deliver every event.
func TestSlowTenantHoldsItsShare(t *testing.T) { testNoisyTenant(t, neighbourSlow) }

func testNoisyTenant(t *testing.T, fault neighbourFault) {
	noLeaks(t)
	base := runNeighbours(t, neighbourConfig{others: 20, rate: 400, dur: time.Second, latency: 2 * time.Millisecond})
	cfg := neighbourConfig{fault: fault, others: 20, noisy: 100, rate: 400, dur: time.Second, prefill: 40, noisyBy: 20, held: tenantCallShare, latency: 2 * time.Millisecond}
	out := runNeighbours(t, cfg)
	ratio := float64(out.p99) / float64(max(base.p99, time.Microsecond))
	t.Logf("%d quiet tenants, %d events/s: p99 %v without the fault, %v with %d %s queues in one tenant: %.2fx (target 1.3x); its calls held at most %d at once (share %d), %d when the quiet deliveries completed",
		cfg.others, cfg.rate, base.p99, out.p99, cfg.noisy, fault, ratio, out.maxHeld, tenantCallShare, out.heldAt)
	if out.maxHeld > tenantCallShare {
		t.Errorf("the endpoint held %d of the noisy tenant's calls at once, more than its share %d", out.maxHeld, tenantCallShare)
	}
	if out.heldAt == 0 {
		t.Errorf("no noisy call was held when the quiet deliveries completed: the fault was not in effect")
	}
	// The target is 1.3x (BenchmarkNoisyTenantConnections measures it);
	// on a busy machine under the race detector a p99 of a thousand
	// events swings by several times from run to run, so this bound is
	// generous: it catches quiet calls waiting for a connection (they
	// wait up to the call timeout, 20 s), not noise.
	if limit := 10*base.p99 + time.Second; out.p99 > limit {
		t.Errorf("quiet tenants' p99 %v with the fault, over 10x the %v without it (+1s)", out.p99, base.p99)
	}
}

// BenchmarkNoisyTenantConnections reports the quiet tenants' p99 publish
// to acknowledgement while one tenant's 100 queues hang, and while they
// answer only after the run, as ratios to a run without the fault in the
// same process (target 1.3x each), with the default call timeout:
// go test -run '^$' -bench NoisyTenantConnections -benchtime 1x -args -outage.for 5s
func BenchmarkNoisyTenantConnections(b *testing.B) {
	cfg := neighbourConfig{others: 50, rate: 1000, dur: *outageFor, latency: 5 * time.Millisecond}
	for b.Loop() {
		base := runNeighbours(b, cfg)
		for _, f := range []neighbourFault{neighbourHang, neighbourSlow} {
			c := cfg
			c.fault, c.noisy, c.prefill, c.noisyBy, c.held = f, 100, 40, 10, tenantCallShare
			out := runNeighbours(b, c)
			b.ReportMetric(float64(out.p99)/float64(max(base.p99, time.Microsecond)), "p99-ratio-"+f.String())
			b.ReportMetric(float64(out.maxHeld), "max-held-"+f.String())
			b.Logf("%s: quiet p99 %v (without the fault %v), noisy calls held at most %d", f, out.p99, base.p99, out.maxHeld)
		}
		b.ReportMetric(float64(base.p99.Microseconds())/1000, "base-p99-ms")
	}
}
