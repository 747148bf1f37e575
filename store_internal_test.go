// durable_internal_test.go tests the disk-only backlog of durable.go the
// way a full memory share uses it (spillLocked leaves a copy on disk, and
// the copies come back into memory, in order, as room frees), the spool's
// keys, WithResumeWait's bound on parked copies with a fake clock, and a
// long outage on a fake clock, whose backlog costs disk, not memory.

package sqshook

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/metrics"
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

	"github.com/sqshook/sqshook/spool"
	"github.com/sqshook/sqshook/sqstest"
)

// gateSQS acknowledges every entry once open is closed, recording event ids.
type gateSQS struct {
	open chan struct{}
	mu   sync.Mutex
	ids  []string
}

func (g *gateSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	select {
	case <-g.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	out := &sqs.SendMessageBatchOutput{}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, e := range in.Entries {
		g.ids = append(g.ids, aws.ToString(e.MessageAttributes[AttrEventID].StringValue))
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: e.Id})
	}
	return out, nil
}

func (g *gateSQS) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return nil, fmt.Errorf("not used")
}

func (g *gateSQS) GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return &sqs.GetQueueAttributesOutput{}, nil
}

func TestSpillReadsBackInOrder(t *testing.T) {
	gate := &gateSQS{open: make(chan struct{})}
	h := Hook{ID: "f", Enabled: true, HookType: HookTypeSQS, SQSRegion: "us-east-1", SQSAuthType: AuthResource,
		SQSQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/q.fifo"}
	d, err := New([]Hook{h},
		WithClientFunc(func(context.Context, Hook) (SQSAPI, error) { return gate, nil }),
		WithSpool(t.TempDir(), spool.Options{}), WithMaxBuffered(4, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	p := d.def.snap.Load().pipes[0]
	var want []string
	for i := range 40 {
		ev := Event{ID: fmt.Sprintf("ev-%02d", i), Type: "message.new", Body: []byte(`{"cid":"c"}`), GroupID: "g"}
		want = append(want, ev.ID)
		// The first 4 fill the share in memory; with a spool the
		// overflow rule leaves the others on disk, and TryPublish
		// neither waits nor dead-letters them.
		if err := d.TryPublish(ev); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if i >= 4 {
			p.mu.Lock()
			room := p.memRoomLocked()
			p.mu.Unlock()
			if room > 0 {
				t.Errorf("event %d: room %d in a full share", i, room)
			}
		}
	}
	hs, _ := d.Stats().Hook("f")
	if hs.Pending != 4 || hs.Spooled != 36 || hs.Matched != 40 {
		t.Fatalf("stats %+v: want 4 pending in memory, 36 spooled, 40 matched", hs)
	}
	close(gate.open)
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gate.ids, want) {
		t.Fatalf("delivered %v, want %v", gate.ids, want)
	}
	hs, _ = d.Stats().Hook("f")
	if hs.Delivered != 40 || hs.Spooled != 0 || d.Stats().Spool.Pending != 0 {
		t.Fatalf("after Close: %+v, spool %+v; want 40 delivered, nothing spooled", hs, d.Stats().Spool)
	}
}

func TestSpoolKeys(t *testing.T) {
	seen := map[string][2]string{}
	for _, c := range [][2]string{
		{"", "h"}, {"", "1"}, {"t", "h"}, {"t", "1h"}, {"t1", "h"}, {"1/t", "h"}, {"t/1", "h"}, {"é", "h"}, {"a", "b:c"},
	} {
		key := storeKeyOf(c[0], c[1])
		if prev, dup := seen[key]; dup {
			t.Errorf("key %q for %q and %q", key, prev, c)
		}
		seen[key] = c
		tenant, hook, ok := parseStoreKey(key)
		if !ok || tenant != c[0] || hook != c[1] {
			t.Errorf("parseStoreKey(%q) = %q, %q, %v; want %q, %q", key, tenant, hook, ok, c[0], c[1])
		}
	}
	if storeKeyOf("", "h") != "h" {
		t.Errorf("the default tenant's key is %q, want the hook id (as spools written before tenants)", storeKeyOf("", "h"))
	}
	for _, bad := range []string{"x/th", "9/th", "0/h", "-1/h"} {
		if _, _, ok := parseStoreKey(bad); ok {
			t.Errorf("parseStoreKey(%q) accepted", bad)
		}
	}
}

// outageBytesEnv sizes TestSpoolLongOutage: the bytes of event bodies
// published during the outage (default defaultOutageBytes, small enough
// for the race detector; CI also runs it with 1 GiB).
const (
	outageBytesEnv     = "SQSHOOK_OUTAGE_BYTES"
	defaultOutageBytes = 32 << 20
)

// TestSpoolLongOutage publishes SQSHOOK_OUTAGE_BYTES of 1.8 KB chat events
// to two hooks on sqstest (a standard queue that takes every event, a FIFO
// queue that takes one event in 16) during a 10-minute outage of every
// queue, then ends the outage and flushes. Time is a fake clock: it moves
// one probe interval at a time, and only once the dispatcher waits for
// nothing but its timers, so the 10 minutes cost no real time and every
// retry, probe and back-off budget runs on it.
//
// With a spool the backlog costs disk, not memory: the live heap stays
// under a bound computed from the memory share and the spool's index, and
// after the outage every event arrives (duplicates counted), the FIFO
// queue in publish order per channel, with no dead letter although the
// outage is twice the default retry budget.
func TestSpoolLongOutage(t *testing.T) {
	target := int64(defaultOutageBytes)
	if v := os.Getenv(outageBytesEnv); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			t.Fatalf("%s=%q: want a positive number of bytes", outageBytesEnv, v)
		}
		target = n
	}
	const (
		outage      = 10 * time.Minute
		step        = DefaultProbeInterval // a failing hook makes one call per step
		bodySize    = 1800
		publishers  = 4  // each publishes its own channel, in order
		fifoEvery   = 16 // the FIFO hook takes one event in fifoEvery
		shareEvents = 1000
		shareBytes  = 4 << 20
		inFlight    = 8
	)
	n := int((target + bodySize - 1) / bodySize)
	isFIFO := func(i int) bool { return (i/publishers)%fifoEvery == 0 }
	nFIFO := 0
	for i := range n {
		if isFIFO(i) {
			nFIFO++
		}
	}

	arr := newArrivals(n, publishers)
	srv := sqstest.NewServer(sqstest.WithoutRecording(), sqstest.WithOnAccept(arr.accept))
	defer srv.Close()
	hook := func(id, queue string, types ...string) Hook {
		return Hook{ID: id, Enabled: true, HookType: HookTypeSQS, SQSQueueURL: srv.CreateQueue(queue, nil),
			SQSRegion: sqstest.Region, SQSAuthType: AuthKeys, SQSKey: "AKIASQSTESTEXAMPLE00", SQSSecret: "sqstest-secret",
			EventTypes: types}
	}
	hooks := []Hook{hook("all", "outage"), hook("ordered", "outage.fifo", "message.updated")}

	var dlMu sync.Mutex
	dlBy := map[Reason]int{}
	var firstDL *DeadLetter
	clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	// Quota: well above what the outage writes (1.08 × the bodies, see
	// spool/DESIGN.md), so the test is about memory, not the quota.
	quota := 2*target + 64<<20
	// SyncOS: the test is about memory and delivery, not power loss; group
	// commit would make publishing 1 GiB wait for thousands of fsyncs
	// (measured by the spool's benchmarks) and test nothing more here.
	d, err := New(hooks,
		withClock(clk),
		WithBackOff(backOffOn(RetryPolicy{}, clk)), // the default policy, its budget on the fake clock
		WithEndpoint(srv.URL()),
		WithSpool(t.TempDir(), spool.Options{Sync: spool.SyncOS, Quota: quota}),
		WithMaxBuffered(shareEvents, shareBytes),
		WithMaxInFlight(inFlight),
		WithLogger(slog.New(slog.DiscardHandler)),
		WithDeadLetter(func(dl DeadLetter) {
			dlMu.Lock()
			defer dlMu.Unlock()
			dlBy[dl.Reason]++
			if firstDL == nil {
				firstDL = &dl
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()

	// The bound on the live heap the dispatcher may add, from its
	// configuration:
	//  - the memory share: each hook holds at most shareEvents copies; a
	//    held event costs its body twice (as published or read back, and
	//    encoded for SQS) plus 1 KiB of bookkeeping; and a call in flight
	//    holds its request and response, at most 256 KiB (10 entries);
	//  - the spool's index, 64 bytes per pending record (52 measured by
	//    spool's BenchmarkIndexMemory), and a hook's disk backlog, 24 bytes
	//    per copy in a slice that may have twice the room;
	//  - the test's own sqstest server: the FIFO queue remembers every
	//    deduplication id for five minutes, at most 256 bytes each;
	//  - a fixed slack for the runtime, the SDK and HTTP clients, the
	//    server's buffers and the spool's files.
	const slack = 16 << 20
	share := int64(len(hooks)) * (shareEvents*(2*bodySize+1024) + inFlight*256<<10)
	index := int64(n)*64 + int64(n+nFIFO)*48
	harness := int64(nFIFO) * 256
	bound := share + index + harness + slack

	heap := startHeapSampler()
	defer heap.stop()

	srv.SetOutage(true)
	started := time.Now()
	steps := int(outage / step)
	published := 0
	for s := range steps {
		end := n * (s + 1) / steps
		publishOutage(t, d, published, end, publishers, bodySize, isFIFO)
		published = end
		waitQuiet(t, d)
		if s%60 == 59 {
			heap.sample(true)
		}
		clk.advance(step)
	}
	if t.Failed() {
		return
	}
	waitQuiet(t, d)
	heap.sample(true)
	st := d.Stats()
	all, _ := st.Hook("all")
	ordered, _ := st.Hook("ordered")
	spooledBytes := st.Spool.Bytes
	t.Logf("outage: %d events (%d MiB of bodies) published in %v of fake time (%v real); on disk: %d MiB, %d+%d copies spooled, %d+%d in memory",
		n, int64(n)*bodySize>>20, outage, time.Since(started).Round(time.Millisecond), spooledBytes>>20,
		all.Spooled, ordered.Spooled, all.Pending, ordered.Pending)
	if got := arr.total.Load(); got != 0 {
		t.Fatalf("%d messages arrived during the outage, want none", got)
	}
	if all.Spooled+all.Pending+all.DeadLettered != uint64(n) || all.Pending > shareEvents || int(all.Spooled+all.DeadLettered) < n-shareEvents {
		t.Errorf("after the outage, hook all: %d spooled, %d in memory, %d dead letters; want the %d events on disk but at most %d in memory",
			all.Spooled, all.Pending, all.DeadLettered, n, shareEvents)
	}

	recovery := time.Now()
	srv.SetOutage(false)
	flushed := make(chan error, 1)
	go func() { flushed <- d.Flush(context.Background()) }()
	// Time moves while the dispatcher has copies to deliver and waits for
	// its timers only; then Flush must return without more time.
	var fake time.Duration
	for waitQuiet(t, d); !idle(d); waitQuiet(t, d) {
		if fake > time.Hour {
			t.Fatalf("copies left an hour of fake time after the outage: %+v", d.Stats())
		}
		clk.advance(step)
		fake += step
	}
	select {
	case err := <-flushed:
		if err != nil {
			t.Fatalf("Flush: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("Flush did not return a minute after the last copy was settled: %+v", d.Stats())
	}
	heap.sample(true)
	heap.stop()
	t.Logf("recovery: flushed in %v of fake time, %v real", fake, time.Since(recovery).Round(time.Millisecond))

	st = d.Stats()
	all, _ = st.Hook("all")
	ordered, _ = st.Hook("ordered")
	dlMu.Lock()
	if len(dlBy) > 0 {
		t.Errorf("dead letters %v, want none (first: %v)", dlBy, firstDL.Err)
	}
	dlMu.Unlock()
	for _, h := range []struct {
		hs   HookStats
		want int
	}{{all, n}, {ordered, nFIFO}} {
		hs := h.hs
		if hs.Matched != uint64(h.want) || hs.Delivered != uint64(h.want) || hs.Pending != 0 || hs.Spooled != 0 {
			t.Errorf("hook %s: matched %d, delivered %d, pending %d, spooled %d; want %d matched and delivered, nothing left",
				hs.HookID, hs.Matched, hs.Delivered, hs.Pending, hs.Spooled, h.want)
		}
	}
	t.Logf("held: %d and %d copies went back to disk after their retry budget (standard, FIFO)", all.Held, ordered.Held)
	if all.Held == 0 || ordered.Held == 0 {
		t.Errorf("held copies: %d and %d, want some on each hook: the outage is twice the retry budget", all.Held, ordered.Held)
	}
	if sp := st.Spool; sp.Records != 0 || sp.Pending != 0 {
		t.Errorf("spool after the flush: %+v, want no record pending", sp)
	}
	missing, dups, fifoMissing, fifoDups, stray, outOfOrder := arr.check(isFIFO)
	if missing != 0 || fifoMissing != 0 || stray != 0 || outOfOrder != 0 {
		t.Errorf("standard queue: %d events missing; FIFO queue: %d missing, %d it should not have, %d out of their channel's order",
			missing, fifoMissing, stray, outOfOrder)
	}
	t.Logf("arrived: %d events, %d duplicates on the standard queue; %d events, %d duplicates on the FIFO queue (and %d dropped by its deduplication)",
		n-missing, dups, nFIFO-fifoMissing, fifoDups, srv.Calls().Deduplicated)

	peak := heap.peak()
	grown := int64(peak.live) - int64(peak.base)
	t.Logf("live heap: grew by %d MiB (from %d to %d MiB; HeapInuse peak %d MiB) for %d MiB spooled (%.3f B per byte); bound %d MiB (share %d, index %d, harness %d, slack %d MiB)",
		grown>>20, peak.base>>20, peak.live>>20, peak.inuse>>20, spooledBytes>>20, float64(grown)/float64(spooledBytes),
		bound>>20, share>>20, index>>20, harness>>20, slack>>20)
	if grown > bound {
		t.Errorf("the live heap grew by %d MiB, more than the bound of %d MiB", grown>>20, bound>>20)
	}
}

// backOffOn is RetryPolicy r's back-off measuring its budget
// (MaxElapsedTime) on clk rather than on the wall clock.
func backOffOn(r RetryPolicy, clk backoff.Clock) func() backoff.BackOff {
	r = r.withDefaults()
	return func() backoff.BackOff {
		return backoff.NewExponentialBackOff(
			backoff.WithInitialInterval(r.InitialInterval),
			backoff.WithMaxInterval(r.MaxInterval),
			backoff.WithMultiplier(r.Multiplier),
			backoff.WithRandomizationFactor(r.RandomizationFactor),
			backoff.WithMaxElapsedTime(r.MaxElapsedTime),
			backoff.WithClockProvider(clk),
		)
	}
}

// publishOutage publishes events from up to end: event i by publisher
// i%publishers, each publisher in order and in its own channel.
func publishOutage(t *testing.T, d *Dispatcher, from, end, publishers, size int, isFIFO func(int) bool) {
	var wg sync.WaitGroup
	for w := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := from + (w-from%publishers+publishers)%publishers
			for i := first; i < end; i += publishers {
				typ := "message.new"
				if isFIFO(i) {
					typ = "message.updated"
				}
				ev := Event{ID: "o-" + strconv.Itoa(i), Type: typ, Body: outageBody(typ, i, w, size)}
				if err := d.Publish(context.Background(), ev); err != nil {
					t.Errorf("Publish %s: %v", ev.ID, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// outageBody is a chat-like event body of size bytes in channel
// "messaging:c<channel>".
func outageBody(typ string, i, channel, size int) []byte {
	b := make([]byte, 0, size)
	b = fmt.Appendf(b, `{"type":%q,"cid":"messaging:c%d","channel_type":"messaging","channel_id":"c%d",`+
		`"message":{"id":"o-%d","user":{"id":"user-%d","role":"user"},"text":"`, typ, channel, channel, i, i%97)
	const tail = `"},"created_at":"2026-01-02T03:04:05.000000Z"}`
	const words = "the quick brown fox jumps over the lazy dog; "
	for len(b) < size-len(tail) {
		b = append(b, words[:min(len(words), size-len(tail)-len(b))]...)
	}
	return append(b, tail...)
}

// waitQuiet waits until no pipe has a call in flight or a read-back under
// way: the dispatcher then waits for its timers only (or for nothing). It
// fails the test when nothing moves for two minutes.
func waitQuiet(t *testing.T, d *Dispatcher) {
	t.Helper()
	last, since := uint64(0), time.Now()
	for {
		busy, moved := false, uint64(0)
		for _, p := range d.def.snap.Load().pipes {
			p.mu.Lock()
			busy = busy || p.inflight > 0 || p.backlog.reading > 0
			moved += p.counters.batches + p.counters.delivered
			p.mu.Unlock()
		}
		if !busy {
			return
		}
		if moved != last {
			last, since = moved, time.Now()
		} else if time.Since(since) > 2*time.Minute {
			t.Fatalf("dispatcher busy without progress for two minutes: %+v", d.Stats())
		}
		time.Sleep(time.Millisecond) // polling; the deadline above is on progress
	}
}

// idle reports whether no pipe holds a copy, in memory or on disk.
func idle(d *Dispatcher) bool {
	for _, p := range d.def.snap.Load().pipes {
		p.mu.Lock()
		busy := p.pending > 0 || p.spillingLocked()
		p.mu.Unlock()
		if busy {
			return false
		}
	}
	return true
}

// arrivals counts what the two queues of TestSpoolLongOutage accept, per
// event, without keeping the messages.
type arrivals struct {
	total atomic.Int64

	mu         sync.Mutex
	std, fifo  []uint8 // times event i arrived (saturating)
	last       []int   // per channel: the latest event the FIFO queue accepted
	outOfOrder int
	unknown    int
}

func newArrivals(n, channels int) *arrivals {
	a := &arrivals{std: make([]uint8, n), fifo: make([]uint8, n), last: make([]int, channels)}
	for i := range a.last {
		a.last[i] = -1
	}
	return a
}

// accept is the server's WithOnAccept function.
func (a *arrivals) accept(queue string, m sqstest.Message) {
	a.total.Add(1)
	i, err := strconv.Atoi(strings.TrimPrefix(m.Attributes[AttrEventID].StringValue, "o-"))
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil || i < 0 || i >= len(a.std) {
		a.unknown++
		return
	}
	counts := a.std
	if strings.HasSuffix(queue, ".fifo") {
		counts = a.fifo
		ch := i % len(a.last)
		if counts[i] == 0 && i < a.last[ch] {
			a.outOfOrder++
		}
		a.last[ch] = max(a.last[ch], i)
	}
	if counts[i] < 255 {
		counts[i]++
	}
}

// check counts the events missing from each queue and the extra copies;
// stray counts events on the FIFO queue that its filter excludes, and
// messages whose event id is not one of the test's.
func (a *arrivals) check(isFIFO func(int) bool) (missing, dups, fifoMissing, fifoDups, stray, outOfOrder int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, c := range a.std {
		if c == 0 {
			missing++
		} else {
			dups += int(c) - 1
		}
		f := int(a.fifo[i])
		switch {
		case !isFIFO(i):
			stray += f
		case f == 0:
			fifoMissing++
		default:
			fifoDups += f - 1
		}
	}
	return missing, dups, fifoMissing, fifoDups, stray + a.unknown, a.outOfOrder
}

// heapSampler follows the live heap (the heap a garbage collection left
// marked: the runtime's /gc/heap/live:bytes, HeapAlloc just after a
// collection) and HeapInuse, every 20 ms and when asked.
type heapSampler struct {
	mu             sync.Mutex
	base, live     uint64
	inuse          uint64
	done, finished chan struct{}
	once           sync.Once
}

type heapPeak struct{ base, live, inuse uint64 }

func startHeapSampler() *heapSampler {
	h := &heapSampler{done: make(chan struct{}), finished: make(chan struct{})}
	runtime.GC()
	h.base = readLiveHeap()
	h.live = h.base
	go func() {
		defer close(h.finished)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-tick.C:
				h.sample(false)
			}
		}
	}()
	return h
}

// sample records the heap now; collect runs a garbage collection first, so
// that the live heap is up to date.
func (h *heapSampler) sample(collect bool) {
	if collect {
		runtime.GC()
	}
	live := readLiveHeap()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h.mu.Lock()
	h.live = max(h.live, live)
	h.inuse = max(h.inuse, ms.HeapInuse)
	h.mu.Unlock()
}

func (h *heapSampler) stop() {
	h.once.Do(func() { close(h.done) })
	<-h.finished
}

func (h *heapSampler) peak() heapPeak {
	h.mu.Lock()
	defer h.mu.Unlock()
	return heapPeak{base: h.base, live: h.live, inuse: h.inuse}
}

func readLiveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// seedParked leaves 3 events of each tenant's hook "h" in the spool in dir
// (published while SQS does not answer, then a Close that gives up) and
// returns their event ids per tenant.
func seedParked(t *testing.T, dir string, tenants ...string) map[string][]string {
	t.Helper()
	stuck := &gateSQS{open: make(chan struct{})}
	d, err := New(nil, WithResourceAuthForTenants(), WithDeadLetter(func(DeadLetter) { t.Error("dead letter while seeding") }),
		WithClientFunc(func(context.Context, Hook) (SQSAPI, error) { return stuck, nil }), WithSpool(dir, spool.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string][]string{}
	for _, tn := range tenants {
		if err := d.Tenant(tn).SetHooks([]Hook{parkHook(tn)}); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			ev := Event{ID: fmt.Sprintf("%s#%d", tn, i), Type: "message.new", Body: []byte(`{"cid":"c"}`)}
			if err := d.Tenant(tn).Publish(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			ids[tn] = append(ids[tn], ev.ID)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d.Close(ctx)
	return ids
}

func parkHook(tenant string) Hook {
	return Hook{ID: "h", Enabled: true, HookType: HookTypeSQS, SQSRegion: "us-east-1", SQSAuthType: AuthResource,
		SQSQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/" + tenant}
}

// TestResumeWaitDeadLettersParkedCopies: with the dispatcher's clock, a
// tenant that has not configured its hook WithResumeWait after New has its
// parked copies dead-lettered as hook_removed, not a moment before; a
// tenant that came back in time is delivered; the default bound is
// DefaultResumeWait; 0 waits without bound; Close stops the timer.
func TestResumeWaitDeadLettersParkedCopies(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		wait time.Duration // 0: no bound
	}{
		{"option", []Option{WithResumeWait(time.Hour)}, time.Hour},
		{"default", nil, DefaultResumeWait},
		{"unbounded", []Option{WithResumeWait(0)}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ids := seedParked(t, dir, "acme", "globex")
			clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
			open := &gateSQS{open: make(chan struct{})}
			close(open.open)
			var mu sync.Mutex
			var dls []DeadLetter
			d, err := New(nil, append([]Option{withClock(clk), WithResourceAuthForTenants(), WithLinger(0),
				WithDeadLetter(func(dl DeadLetter) { mu.Lock(); dls = append(dls, dl); mu.Unlock() }),
				WithClientFunc(func(context.Context, Hook) (SQSAPI, error) { return open, nil }),
				WithSpool(dir, spool.Options{})}, tc.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			dead := func() []DeadLetter { mu.Lock(); defer mu.Unlock(); return slices.Clone(dls) }
			if err := d.Tenant("globex").SetHooks([]Hook{parkHook("globex")}); err != nil {
				t.Fatal(err)
			}
			step := tc.wait
			if step == 0 {
				step = 1000 * time.Hour
			}
			clk.advance(step - time.Nanosecond)
			if n := len(dead()); n != 0 || d.Stats().Spool.Parked != 3 {
				t.Fatalf("just before the bound: %d dead letters, spool %+v; want none, acme's 3 parked", n, d.Stats().Spool)
			}
			clk.advance(time.Nanosecond) // the timer runs its callback here, synchronously
			got := dead()
			if tc.wait == 0 {
				if len(got) != 0 || d.Stats().Spool.Parked != 3 {
					t.Fatalf("without a bound: %d dead letters, spool %+v; want acme's 3 still parked", len(got), d.Stats().Spool)
				}
			} else {
				if len(got) != 3 {
					t.Fatalf("at the bound: %d dead letters, want acme's 3", len(got))
				}
				for i, dl := range got {
					if dl.Tenant != "acme" || dl.HookID != "h" || dl.Reason != ReasonHookRemoved || dl.Event.ID != ids["acme"][i] ||
						!strings.Contains(dl.Message, "WithResumeWait") || !strings.Contains(dl.Message, tc.wait.String()) {
						t.Errorf("dead letter %d: %+v; want acme's %s, hook_removed, naming WithResumeWait and %v", i, dl, ids["acme"][i], tc.wait)
					}
				}
				if s := d.Stats().Spool; s.Parked != 0 || s.HookRemoved != 3 {
					t.Errorf("spool %+v, want nothing parked, 3 hook_removed", s)
				}
				// Too late: acme's SetHooks finds nothing to adopt.
				if err := d.Tenant("acme").SetHooks([]Hook{parkHook("acme")}); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			open.mu.Lock()
			sent := slices.Clone(open.ids)
			open.mu.Unlock()
			if !slices.Equal(sent, ids["globex"]) {
				t.Errorf("delivered %v, want globex's %v only", sent, ids["globex"])
			}
			wantPending := 0
			if tc.wait == 0 {
				wantPending = 3 // kept by Close for the next New
			}
			if s := d.Stats().Spool; s.Pending != wantPending {
				t.Errorf("spool %+v after Close, want %d pending", s, wantPending)
			}
			clk.mu.Lock()
			for _, tm := range clk.timers {
				if !tm.fired && !tm.stopped {
					t.Errorf("a timer due at %v is still set after Close", tm.at)
				}
			}
			clk.mu.Unlock()
		})
	}
}

// TestResumeWaitStopsAtClose: Close before the bound stops its timer
// (Close would otherwise wait for it) and keeps the parked copies in the
// spool; the bound passing later reports nothing.
func TestResumeWaitStopsAtClose(t *testing.T) {
	dir := t.TempDir()
	seedParked(t, dir, "acme")
	clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	d, err := New(nil, withClock(clk), WithResourceAuthForTenants(), WithResumeWait(time.Hour),
		WithDeadLetter(func(dl DeadLetter) { t.Errorf("dead letter %+v", dl) }),
		WithClientFunc(func(context.Context, Hook) (SQSAPI, error) { return &gateSQS{}, nil }),
		WithSpool(dir, spool.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(30 * time.Minute)
	done := make(chan error, 1)
	go func() { done <- d.Close(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close still waits after 30 s: the resume timer was not stopped")
	}
	clk.mu.Lock()
	var set int
	for _, tm := range clk.timers {
		if !tm.fired && !tm.stopped {
			set++
		}
	}
	clk.mu.Unlock()
	if set != 0 {
		t.Errorf("%d timers still set after Close", set)
	}
	clk.advance(time.Hour)
	if s := d.Stats().Spool; s.Parked != 3 || s.Pending != 3 || s.HookRemoved != 0 {
		t.Errorf("spool %+v after Close, want acme's 3 copies parked and pending, none removed", s)
	}
	sp, err := spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if st := sp.Stats(); st.Pending != 3 {
		t.Errorf("the spool holds %d pending copies, want 3 for the next New", st.Pending)
	}
}
