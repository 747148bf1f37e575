// durable_test.go tests the dispatcher with a spool (durable.go): Close that
// runs out of time keeps copies for the next New, hooks removed between
// runs, disk errors on Publish, and the crash test (a child process killed
// with SIGKILL at random moments).

package sqshook_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/spool"
)

// expired is a context that has already ended.
func expired() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// stuckFake is a fake whose calls wait until their context ends.
func stuckFake() *fakeSQS {
	f := newFake()
	f.block = make(chan struct{})
	return f
}

func spoolDispatcher(t *testing.T, fake sqshook.SQSAPI, dir string, hooks []sqshook.Hook, opts ...sqshook.Option) (*sqshook.Dispatcher, *deadLetters) {
	t.Helper()
	dls := &deadLetters{}
	base := []sqshook.Option{
		sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) { return fake, nil }),
		sqshook.WithDeadLetter(dls.add),
		sqshook.WithLinger(time.Millisecond),
		sqshook.WithSpool(dir, spool.Options{}),
	}
	d, err := sqshook.New(hooks, append(base, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d, dls
}

func spoolAccounting(t *testing.T, s sqshook.Stats) {
	t.Helper()
	for _, h := range s.Hooks {
		if h.Matched != h.Delivered+h.DeadLettered+h.Pending+h.Spooled {
			t.Errorf("hook %s: matched %d != delivered %d + dead-lettered %d + pending %d + spooled %d",
				h.HookID, h.Matched, h.Delivered, h.DeadLettered, h.Pending, h.Spooled)
		}
	}
}

func TestSpoolCloseKeepsCopiesForNextNew(t *testing.T) {
	dir := t.TempDir()
	hooks := []sqshook.Hook{hookFor("a", "qa"), hookFor("b", "qb.fifo")}
	stuck := stuckFake()
	d, dls := spoolDispatcher(t, stuck, dir, hooks)
	var ids []string
	for i := range 30 {
		ev := event(t, "message.new", i)
		ev.ID = "ev-" + strconv.Itoa(i)
		if err := d.Publish(context.Background(), ev); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
		ids = append(ids, ev.ID)
	}
	if err := d.Close(expired()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close: %v, want context.Canceled", err)
	}
	if n := len(dls.list()); n != 0 {
		t.Fatalf("%d dead letters (%v), want none: Close keeps the copies in the spool", n, dls.byReason())
	}
	s := d.Stats()
	spoolAccounting(t, s)
	for _, h := range s.Hooks {
		if h.Spooled != 30 || h.DeadLetteredBy[sqshook.ReasonShutdown] != 0 {
			t.Errorf("hook %s: spooled %d, shutdown dead letters %d; want 30 and 0", h.HookID, h.Spooled, h.DeadLetteredBy[sqshook.ReasonShutdown])
		}
	}
	if s.Spool == nil || s.Spool.Pending != 60 {
		t.Fatalf("Stats.Spool = %+v, want 60 pending copies", s.Spool)
	}

	good := newFake()
	d2, dls2 := spoolDispatcher(t, good, dir, hooks)
	// A new event goes behind the resumed ones.
	late := event(t, "message.new", 99)
	late.ID = "ev-late"
	if err := d2.Publish(context.Background(), late); err != nil {
		t.Fatal(err)
	}
	if err := d2.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// The FIFO hook keeps the order (one group: the event type); the
	// standard one sends batches concurrently, so only the set counts.
	want := append(slices.Clone(ids), "ev-late")
	if got := good.ackedIDs(hooks[1].SQSQueueURL); !slices.Equal(got, want) {
		t.Errorf("FIFO hook got %v, want %v", got, want)
	}
	got := good.ackedIDs(hooks[0].SQSQueueURL)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("standard hook got %v, want %v", got, want)
	}
	if n := len(dls2.list()); n != 0 {
		t.Errorf("%d dead letters after resume: %v", n, dls2.byReason())
	}
	s2 := d2.Stats()
	spoolAccounting(t, s2)
	if s2.Spool.Resumed != 60 || s2.Spool.Pending != 0 {
		t.Errorf("Stats.Spool = %+v, want 60 resumed, 0 pending", s2.Spool)
	}
	sp, err := spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if st := sp.Stats(); st.Pending != 0 {
		t.Errorf("spool still holds %d pending copies after delivery", st.Pending)
	}
}

func TestSpoolHookRemovedBetweenRuns(t *testing.T) {
	dir := t.TempDir()
	hooks := []sqshook.Hook{hookFor("a", "qa"), hookFor("b", "qb")}
	d, _ := spoolDispatcher(t, stuckFake(), dir, hooks)
	for i := range 5 {
		if err := d.Publish(context.Background(), event(t, "message.new", i)); err != nil {
			t.Fatal(err)
		}
	}
	d.Close(expired())

	good := newFake()
	d2, dls := spoolDispatcher(t, good, dir, hooks[:1])
	if err := d2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(good.ackedIDs("https://sqs.us-east-1.amazonaws.com/123456789012/qa")); n != 5 {
		t.Errorf("hook a: %d delivered, want 5", n)
	}
	got := dls.list()
	if len(got) != 5 {
		t.Fatalf("%d dead letters, want 5 (hook b's copies): %v", len(got), dls.byReason())
	}
	for _, dl := range got {
		if dl.HookID != "b" || dl.Reason != sqshook.ReasonHookRemoved || dl.Event.ID == "" || len(dl.Event.Body) == 0 {
			t.Errorf("dead letter %+v: want hook b, reason hook_removed, with the event", dl)
		}
	}
	if s := d2.Stats().Spool; s.HookRemoved != 5 {
		t.Errorf("Stats.Spool.HookRemoved = %d, want 5", s.HookRemoved)
	}
	// Settled: a third run finds nothing.
	d3, dls3 := spoolDispatcher(t, good, dir, hooks)
	d3.Close(context.Background())
	if n := len(dls3.list()); n != 0 || d3.Stats().Spool.Resumed != 0 {
		t.Errorf("third run: %d dead letters, %d resumed; want none", n, d3.Stats().Spool.Resumed)
	}
}

// TestSpoolResumeReadsBackWithinMemoryShare resumes more copies than a
// hook's memory share holds: they are read back from disk as room frees,
// all delivered in order.
func TestSpoolResumeReadsBackWithinMemoryShare(t *testing.T) {
	dir := t.TempDir()
	hooks := []sqshook.Hook{hookFor("f", "qf.fifo")}
	d, _ := spoolDispatcher(t, stuckFake(), dir, hooks)
	var want []string
	for i := range 200 {
		ev := event(t, "message.new", i)
		ev.ID = fmt.Sprintf("ev-%03d", i)
		if err := d.Publish(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		want = append(want, ev.ID)
	}
	d.Close(expired())

	good := newFake()
	var maxPending atomic.Int64
	d2, dls := spoolDispatcher(t, good, dir, hooks, sqshook.WithMaxBuffered(8, 1<<20))
	good.mu.Lock()
	good.respond = func(_ int, in *sqsInput) (*sqsOutput, error) {
		if h, ok := d2.Stats().Hook("f"); ok {
			if n := int64(h.Pending); n > maxPending.Load() {
				maxPending.Store(n)
			}
		}
		return okAll(in), nil
	}
	good.mu.Unlock()
	if err := d2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := good.ackedIDs(hooks[0].SQSQueueURL); !slices.Equal(got, want) || len(dls.list()) != 0 {
		t.Fatalf("delivered %v (%d dead letters), want %v", got, len(dls.list()), want)
	}
	if m := maxPending.Load(); m > 8 || m == 0 {
		t.Errorf("up to %d copies held in memory; want 1 to 8, the hook's share", m)
	}
}

// TestSpoolCorruptRecord damages one record on disk: New dead-letters its
// copies as corrupt, with what could be read of the event, and delivers
// the others.
func TestSpoolCorruptRecord(t *testing.T) {
	dir := t.TempDir()
	hooks := []sqshook.Hook{hookFor("a", "qa"), hookFor("b", "qb")}
	d, _ := spoolDispatcher(t, stuckFake(), dir, hooks)
	for i := range 9 {
		ev := event(t, "message.new", i)
		ev.ID = "ev-" + strconv.Itoa(i)
		if err := d.Publish(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	d.Close(expired())
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("segments %v, want one", segs)
	}
	b, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff // inside the 5th record of 9
	if err := os.WriteFile(segs[0], b, 0o644); err != nil {
		t.Fatal(err)
	}

	good := newFake()
	d2, dls := spoolDispatcher(t, good, dir, hooks)
	if err := d2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := dls.list()
	if len(got) != 2 {
		t.Fatalf("%d dead letters (%v), want the damaged record's 2 copies", len(got), dls.byReason())
	}
	for _, dl := range got {
		if dl.Reason != sqshook.ReasonCorrupt || dl.Event.ID == "" || (dl.HookID != "a" && dl.HookID != "b") {
			t.Errorf("dead letter %+v: want reason corrupt, a hook id and the event id", dl)
		}
	}
	for _, h := range hooks {
		acked := good.ackedIDs(h.SQSQueueURL)
		if len(acked) != 8 || slices.Contains(acked, got[0].Event.ID) {
			t.Errorf("hook %s: delivered %v; want the 8 undamaged events", h.ID, acked)
		}
	}
	if s := d2.Stats().Spool; s.Corrupt != 2 {
		t.Errorf("Stats.Spool.Corrupt = %d, want 2", s.Corrupt)
	}
}

// TestSpoolQuota fills the spool's quota while SQS does not answer:
// TryPublish dead-letters the copies as buffer_full, Publish waits, and
// returns nil once deliveries free whole segments.
func TestSpoolQuota(t *testing.T) {
	dir := t.TempDir()
	hooks := []sqshook.Hook{hookFor("a", "qa")}
	stuck := stuckFake()
	const quota = 48 << 10
	d, dls := spoolDispatcher(t, stuck, dir, hooks[:1], sqshook.WithSpool(dir, spool.Options{Quota: quota, SegmentSize: 8 << 10}),
		sqshook.WithOverflowWait(time.Hour))
	defer d.Close(context.Background())
	var accepted []string
	var err error
	for i := 0; i < 1000; i++ {
		ev := event(t, "message.new", i)
		ev.ID = fmt.Sprintf("ev-%03d", i)
		if err = d.TryPublish(ev); err != nil {
			break
		}
		accepted = append(accepted, ev.ID)
	}
	if !errors.Is(err, sqshook.ErrBufferFull) || !errors.Is(err, spool.ErrQuota) {
		t.Fatalf("TryPublish past the quota: %v; want ErrBufferFull and spool.ErrQuota", err)
	}
	if r := dls.byReason(); r[sqshook.ReasonBufferFull] != 1 {
		t.Fatalf("dead letters %v, want one buffer_full", r)
	}
	if s := d.Stats().Spool; s.Quota != quota || s.Bytes > quota {
		t.Fatalf("Stats.Spool = %+v; want quota %d, bytes within it", s, quota)
	}
	// Publish whose context ends first gives up like TryPublish.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Publish(ctx, event(t, "message.new", 2000)); !errors.Is(err, sqshook.ErrBufferFull) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish with an ended context past the quota: %v; want ErrBufferFull and context.Canceled", err)
	}
	done := make(chan error, 1)
	go func() {
		ev := event(t, "message.new", 1000)
		ev.ID = "ev-waited"
		done <- d.Publish(context.Background(), ev)
	}()
	close(stuck.block) // SQS answers: settlements free segments
	if err := <-done; err != nil {
		t.Fatalf("Publish waiting for the quota: %v", err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := stuck.ackedIDs(hooks[0].SQSQueueURL)
	want := append(accepted, "ev-waited")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %d events, want the %d accepted", len(got), len(want))
	}
}

// TestSpoolQuotaFollowsOverflowRule: past the spool's quota the overflow
// rule of the memory buffer applies. With the default, OverflowDeadLetter,
// Publish does not wait (even with a context that never ends): the copies
// are dead-lettered as buffer_full at once. With OverflowWait, Publish
// waits at most WithOverflowWait's bound.
func TestSpoolQuotaFollowsOverflowRule(t *testing.T) {
	for _, wait := range []bool{false, true} {
		t.Run(fmt.Sprintf("wait=%v", wait), func(t *testing.T) {
			dir := t.TempDir()
			hooks := []sqshook.Hook{hookFor("a", "qa"), hookFor("b", "qb")}
			stuck := stuckFake()
			opts := []sqshook.Option{sqshook.WithSpool(dir, spool.Options{Quota: 16 << 10, SegmentSize: 4 << 10})}
			if wait {
				opts = append(opts, sqshook.WithOverflowWait(20*time.Millisecond))
			}
			d, dls := spoolDispatcher(t, stuck, dir, hooks, opts...)
			defer d.Close(expired())
			var err error
			accepted := 0
			for i := 0; i < 1000 && err == nil; i++ {
				if err = d.Publish(context.Background(), event(t, "message.new", i)); err == nil {
					accepted++
				}
			}
			if !errors.Is(err, sqshook.ErrBufferFull) || !errors.Is(err, spool.ErrQuota) {
				t.Fatalf("Publish past the quota: %v; want ErrBufferFull and spool.ErrQuota", err)
			}
			if !strings.Contains(err.Error(), "spool quota reached (16384 bytes)") {
				t.Errorf("error %q does not say the quota", err)
			}
			if r := dls.byReason(); r[sqshook.ReasonBufferFull] != 2 || len(r) != 1 {
				t.Fatalf("dead letters %v, want one buffer_full per hook", r)
			}
			s := d.Stats()
			spoolAccounting(t, s)
			if s.Spool.Records != accepted {
				t.Errorf("spool holds %d records, %d accepted", s.Spool.Records, accepted)
			}
		})
	}
}

func TestSpoolOptionErrors(t *testing.T) {
	_, err := sqshook.New(nil, sqshook.WithSpool("", spool.Options{}))
	var ve *sqshook.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "spool") || !strings.Contains(err.Error(), "dir: required") {
		t.Errorf("WithSpool(\"\"): %v; want a *ValidationError naming spool's dir", err)
	}
	_, err = sqshook.New(nil, sqshook.WithSpool(t.TempDir(), spool.Options{}), sqshook.WithResumeWait(-time.Second))
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "resume_wait") || !strings.Contains(err.Error(), "WithResumeWait(-1s) is negative") {
		t.Errorf("WithResumeWait(-1s): %v; want a *ValidationError naming resume_wait and the option", err)
	}
	dir := t.TempDir()
	d, _ := spoolDispatcher(t, newFake(), dir, nil)
	defer d.Close(context.Background())
	if _, err := sqshook.New(nil, sqshook.WithSpool(dir, spool.Options{})); !errors.Is(err, spool.ErrLocked) {
		t.Errorf("a second dispatcher on the same spool: %v; want spool.ErrLocked", err)
	}
}

// TestSpoolTenants: copies are kept per tenant and hook, so two tenants
// with the same hook id (and a tenant id holding a slash) never receive
// each other's copies; after a restart a named tenant's copies wait in the
// spool until its SetHooks, then go before its new events.
func TestSpoolTenants(t *testing.T) {
	dir := t.TempDir()
	tenants := []string{"", "t", "t/1", "1/t"}
	queue := func(tenant string) string {
		return "q-" + strconv.Itoa(len(tenant)) + "-" + strings.ReplaceAll(tenant, "/", "_") + ".fifo"
	}
	hookOf := func(tenant string) sqshook.Hook { return hookFor("h", queue(tenant)) }
	setAll := func(d *sqshook.Dispatcher) {
		for _, tn := range tenants[1:] {
			if err := d.Tenant(tn).SetHooks([]sqshook.Hook{hookOf(tn)}); err != nil {
				t.Fatalf("tenant %q: SetHooks: %v", tn, err)
			}
		}
	}
	d, _ := spoolDispatcher(t, stuckFake(), dir, []sqshook.Hook{hookOf("")}, sqshook.WithResourceAuthForTenants())
	setAll(d)
	want := map[string][]string{}
	for _, tn := range tenants {
		for i := range 5 {
			ev := event(t, "message.new", i)
			ev.ID = fmt.Sprintf("%s#%d", tn, i)
			if err := d.Tenant(tn).Publish(context.Background(), ev); err != nil {
				t.Fatalf("tenant %q: Publish: %v", tn, err)
			}
			want[tn] = append(want[tn], ev.ID)
		}
	}
	d.Close(expired())
	if s := d.Stats().Spool; s.Pending != 20 {
		t.Fatalf("spool %+v after Close, want 20 pending copies", s)
	}

	good := newFake()
	d2, dls := spoolDispatcher(t, good, dir, []sqshook.Hook{hookOf("")}, sqshook.WithResourceAuthForTenants())
	flush(t, d2)
	if s := d2.Stats().Spool; s.Pending != 15 {
		t.Fatalf("spool %+v before the tenants' SetHooks, want their 15 copies still pending", s)
	}
	setAll(d2)
	for _, tn := range tenants {
		late := event(t, "message.new", 99)
		late.ID = tn + "#late"
		if err := d2.Tenant(tn).Publish(context.Background(), late); err != nil {
			t.Fatal(err)
		}
		want[tn] = append(want[tn], late.ID)
	}
	if err := d2.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := len(dls.list()); n != 0 {
		t.Fatalf("%d dead letters: %v", n, dls.byReason())
	}
	for _, tn := range tenants {
		got := good.ackedIDs(hookOf(tn).SQSQueueURL)
		if !slices.Equal(got, want[tn]) {
			t.Errorf("tenant %q's queue got %v, want %v", tn, got, want[tn])
		}
		spoolAccounting(t, d2.Tenant(tn).Stats())
	}
	if s := d2.Stats().Spool; s.Pending != 0 || s.Resumed != 20 || s.HookRemoved != 0 {
		t.Errorf("spool %+v, want 20 resumed, none pending or removed", s)
	}
}

// TestSpoolSpillsWhenTenantShareFull: with a spool a copy that finds its
// tenant's share full is neither dead-lettered nor waited for: it spills to
// disk, and every hook still delivers everything in order once its queue
// answers, even while the other hook holds the tenant's share.
func TestSpoolSpillsWhenTenantShareFull(t *testing.T) {
	f := newFake()
	f.block = make(chan struct{})
	d, dls := spoolDispatcher(t, f, t.TempDir(), nil, sqshook.WithResourceAuthForTenants(), sqshook.WithTenantLimits(4, 0))
	hooks := []sqshook.Hook{hookFor("a", "qa.fifo"), hookFor("b", "qb.fifo")}
	acme := d.Tenant("acme")
	if err := acme.SetHooks(hooks); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 30 {
		ev := event(t, "message.new", i)
		ev.ID = "ev-" + strconv.Itoa(i)
		if err := acme.TryPublish(ev); err != nil {
			t.Fatalf("TryPublish %d: %v", i, err)
		}
		want = append(want, ev.ID)
	}
	s := acme.Stats()
	spoolAccounting(t, s)
	var pending, spooled uint64
	for _, h := range s.Hooks {
		pending += h.Pending
		spooled += h.Spooled
	}
	if pending > 4 || spooled < 56 {
		t.Fatalf("%d copies in memory, %d spooled; want at most the tenant's 4 in memory, the rest on disk", pending, spooled)
	}
	close(f.block)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := len(dls.list()); n != 0 {
		t.Fatalf("%d dead letters: %v", n, dls.byReason())
	}
	for _, h := range hooks {
		if got := f.ackedIDs(h.SQSQueueURL); !slices.Equal(got, want) {
			t.Errorf("hook %s got %v, want %v", h.ID, got, want)
		}
	}
	spoolAccounting(t, acme.Stats())
}

// TestSpoolHoldsCopiesPastRetryBudget: with a spool, an outage longer than
// the retry budget costs no dead letters. Copies whose budget runs out go
// back to disk in their order (HookStats.Held) and are delivered once the
// queue answers, each FIFO group in its order; without a spool the same
// outage dead-letters them as retries_exhausted.
func TestSpoolHoldsCopiesPastRetryBudget(t *testing.T) {
	// The share (100) is more than one read-back takes (64), so held
	// copies are read back in several reads.
	const n, groups, share = 300, 3, 100
	run := func(t *testing.T, spooled bool) (*fakeSQS, *sqshook.Dispatcher, *deadLetters, []sqshook.Hook, []string) {
		var down atomic.Bool
		down.Store(true)
		f := newFake()
		f.respond = func(_ int, in *sqsInput) (*sqsOutput, error) {
			if down.Load() {
				return nil, apiError("InternalError", 500)
			}
			return okAll(in), nil
		}
		hooks := []sqshook.Hook{hookFor("std", "q-std"), hookFor("fifo", "q.fifo")}
		opts := []sqshook.Option{
			sqshook.WithLogger(slog.New(slog.DiscardHandler)),
			// A budget of three quick attempts: the outage outlasts it many
			// times over.
			sqshook.WithRetryPolicy(sqshook.RetryPolicy{InitialInterval: time.Millisecond, MaxInterval: time.Millisecond, RandomizationFactor: -1, MaxAttempts: 3}),
			sqshook.WithFailingRule(3, -1, time.Millisecond),
			sqshook.WithMaxBuffered(share, 1<<20), // most copies spill to disk
			sqshook.WithOverflowWait(time.Minute),
		}
		var d *sqshook.Dispatcher
		var dls *deadLetters
		if spooled {
			d, dls = spoolDispatcher(t, f, t.TempDir(), hooks, opts...)
			t.Cleanup(func() { d.Close(context.Background()) })
		} else {
			dls = &deadLetters{}
			d = startDispatcher(t, hooks, append(opts,
				sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) { return f, nil }),
				sqshook.WithDeadLetter(dls.add), sqshook.WithLinger(time.Millisecond))...)
		}
		var ids []string
		for i := range n {
			ev := event(t, "message.new", i)
			ev.ID = fmt.Sprintf("ev-%03d", i)
			ev.GroupID = fmt.Sprintf("g%d", i%groups)
			// Without a spool a failing hook refuses what its share cannot
			// hold (buffer_full); with one nothing is refused.
			if err := d.Publish(context.Background(), ev); err != nil && spooled {
				t.Fatalf("Publish %d: %v", i, err)
			}
			ids = append(ids, ev.ID)
		}
		// The outage lasts until every hook has held copies twice over (or,
		// without a spool, dead-lettered some as retries_exhausted).
		waitForCond(t, func() bool {
			s := d.Stats()
			for _, h := range s.Hooks {
				if spooled && h.Held < 2*share || !spooled && h.DeadLetteredBy[sqshook.ReasonRetriesExhausted] == 0 {
					return false
				}
			}
			return true
		})
		down.Store(false)
		return f, d, dls, hooks, ids
	}

	t.Run("without spool", func(t *testing.T) {
		_, d, dls, _, _ := run(t, false)
		flush(t, d)
		if dls.byReason()[sqshook.ReasonRetriesExhausted] == 0 {
			t.Fatalf("dead letters %v: want retries_exhausted ones without a spool", dls.byReason())
		}
	})
	t.Run("with spool", func(t *testing.T) {
		f, d, dls, hooks, ids := run(t, true)
		flush(t, d)
		if got := dls.byReason(); len(got) != 0 {
			t.Fatalf("dead letters %v, want none", got)
		}
		s := d.Stats()
		spoolAccounting(t, s)
		for _, h := range s.Hooks {
			if h.Delivered != n || h.Spooled != 0 || h.Pending != 0 {
				t.Errorf("hook %s: delivered %d, spooled %d, pending %d; want %d, 0, 0", h.HookID, h.Delivered, h.Spooled, h.Pending, n)
			}
		}
		if s.Spool.Pending != 0 {
			t.Errorf("spool still holds %d pending copies", s.Spool.Pending)
		}
		got := f.ackedIDs(hooks[0].SQSQueueURL)
		slices.Sort(got)
		if !slices.Equal(got, ids) {
			t.Errorf("standard queue got %v, want %v", got, ids)
		}
		// The FIFO queue: every id once, each group in publish order.
		fifo := f.ackedIDs(hooks[1].SQSQueueURL)
		if len(fifo) != n {
			t.Fatalf("FIFO queue got %d messages, want %d: %v", len(fifo), n, fifo)
		}
		last := map[int]int{}
		for _, id := range fifo {
			var i int
			fmt.Sscanf(id, "ev-%d", &i)
			if prev, ok := last[i%groups]; ok && i <= prev {
				t.Fatalf("FIFO group g%d out of order: %s after ev-%03d in %v", i%groups, id, prev, fifo)
			}
			last[i%groups] = i
		}
	})
}

// seedTenantSpool leaves n events of each tenant in the spool in dir: it
// publishes them through the tenant's hooks while SQS does not answer and
// closes at once. It returns the event ids per tenant.
func seedTenantSpool(t *testing.T, dir string, tenants map[string][]sqshook.Hook, n int) map[string][]string {
	t.Helper()
	d, dls := spoolDispatcher(t, stuckFake(), dir, nil, sqshook.WithResourceAuthForTenants())
	ids := map[string][]string{}
	for tn, hooks := range tenants {
		if err := d.Tenant(tn).SetHooks(hooks); err != nil {
			t.Fatalf("tenant %q: SetHooks: %v", tn, err)
		}
		for i := range n {
			ev := event(t, "message.new", i)
			ev.ID = fmt.Sprintf("%s#%d", tn, i)
			if err := d.Tenant(tn).Publish(context.Background(), ev); err != nil {
				t.Fatalf("tenant %q: Publish: %v", tn, err)
			}
			ids[tn] = append(ids[tn], ev.ID)
		}
	}
	d.Close(expired())
	if n := len(dls.list()); n != 0 {
		t.Fatalf("seeding the spool: %d dead letters %v", n, dls.byReason())
	}
	return ids
}

// TestSpoolSetHooksDropsUnconfiguredParkedCopies: after a restart, the
// tenant's first SetHooks delivers the parked copies of the hooks it
// configures and dead-letters, as hook_removed with the event and a
// message saying why, those of a hook it disables and of a hook it leaves
// out; nothing stays parked or pending.
func TestSpoolSetHooksDropsUnconfiguredParkedCopies(t *testing.T) {
	dir := t.TempDir()
	hooks := []sqshook.Hook{hookFor("keep", "acme-keep"), hookFor("off", "acme-off"), hookFor("gone", "acme-gone")}
	ids := seedTenantSpool(t, dir, map[string][]sqshook.Hook{"acme": hooks}, 4)

	good := newFake()
	d, dls := spoolDispatcher(t, good, dir, nil, sqshook.WithResourceAuthForTenants())
	if s := d.Stats().Spool; s.Parked != 12 || s.Pending != 12 || s.Resumed != 12 {
		t.Fatalf("spool %+v after New, want 12 parked (3 hooks × 4 events), pending and resumed", s)
	}
	off := hooks[1]
	off.Enabled = false
	if err := d.Tenant("acme").SetHooks([]sqshook.Hook{hooks[0], off}); err != nil {
		t.Fatal(err)
	}
	// Reported before SetHooks returns.
	got := dls.list()
	if len(got) != 8 {
		t.Fatalf("%d dead letters after SetHooks (%v), want 8: the disabled and the left-out hook's", len(got), dls.byReason())
	}
	byHook := map[string][]string{}
	for _, dl := range got {
		if dl.Tenant != "acme" || dl.Reason != sqshook.ReasonHookRemoved || len(dl.Event.Body) == 0 {
			t.Errorf("dead letter %+v: want tenant acme, reason hook_removed, with the event", dl)
		}
		var de *sqshook.DeliveryError
		if !errors.As(dl.Err, &de) || de.Tenant != "acme" || de.HookID != dl.HookID {
			t.Errorf("dead letter %s: Err %v, want a *DeliveryError naming tenant and hook", dl.HookID, dl.Err)
		}
		want := map[string]string{"off": "not enabled", "gone": "not in"}[dl.HookID]
		if want == "" || !strings.Contains(dl.Message, want) || !strings.Contains(dl.Message, `"acme"`) {
			t.Errorf("hook %q: message %q, want it to say %q and name the tenant", dl.HookID, dl.Message, want)
		}
		byHook[dl.HookID] = append(byHook[dl.HookID], dl.Event.ID)
	}
	for _, h := range []string{"off", "gone"} {
		if !slices.Equal(byHook[h], ids["acme"]) {
			t.Errorf("hook %s: dead letters for %v, want %v in order", h, byHook[h], ids["acme"])
		}
	}
	if s := d.Stats().Spool; s.Parked != 0 || s.HookRemoved != 8 {
		t.Errorf("spool %+v, want nothing parked, 8 hook_removed", s)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if acked := good.ackedIDs(hooks[0].SQSQueueURL); !slices.Equal(acked, ids["acme"]) {
		t.Errorf("hook keep delivered %v, want %v", acked, ids["acme"])
	}
	if s := d.Stats().Spool; s.Pending != 0 {
		t.Errorf("spool %+v after Close, want nothing pending: the dead letters are settled", s)
	}
	spoolAccounting(t, d.Tenant("acme").Stats())
}

// TestSpoolRemoveTenantDropsParkedCopies: RemoveTenant of a tenant that
// has not come back since New dead-letters its parked copies, and only
// its own; another tenant's still wait and are delivered at its SetHooks.
func TestSpoolRemoveTenantDropsParkedCopies(t *testing.T) {
	dir := t.TempDir()
	tenants := map[string][]sqshook.Hook{
		"acme":   {hookFor("h", "acme-h")},
		"globex": {hookFor("h", "globex-h")},
	}
	ids := seedTenantSpool(t, dir, tenants, 3)

	good := newFake()
	d, dls := spoolDispatcher(t, good, dir, nil, sqshook.WithResourceAuthForTenants())
	if err := d.RemoveTenant(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	got := dls.list()
	if len(got) != 3 {
		t.Fatalf("%d dead letters after RemoveTenant (%v), want acme's 3", len(got), dls.byReason())
	}
	for i, dl := range got {
		if dl.Tenant != "acme" || dl.HookID != "h" || dl.Reason != sqshook.ReasonHookRemoved ||
			dl.Event.ID != ids["acme"][i] || !strings.Contains(dl.Message, "removed") {
			t.Errorf("dead letter %d: %+v; want acme's hook h, hook_removed, event %s, a message saying the tenant was removed", i, dl, ids["acme"][i])
		}
	}
	if s := d.Stats().Spool; s.Parked != 3 || s.HookRemoved != 3 {
		t.Fatalf("spool %+v, want globex's 3 copies still parked, 3 hook_removed", s)
	}
	if err := d.Tenant("globex").SetHooks(tenants["globex"]); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if acked := good.ackedIDs(tenants["globex"][0].SQSQueueURL); !slices.Equal(acked, ids["globex"]) {
		t.Errorf("globex delivered %v, want %v", acked, ids["globex"])
	}
	if n := len(good.ackedIDs(tenants["acme"][0].SQSQueueURL)); n != 0 || len(dls.list()) != 3 {
		t.Errorf("acme: %d delivered, %d dead letters in all; want 0 and 3", n, len(dls.list()))
	}
	if s := d.Stats().Spool; s.Pending != 0 || s.Parked != 0 {
		t.Errorf("spool %+v after Close, want nothing pending or parked", s)
	}
}

// TestSpoolCloseKeepsParkedCopies: Close leaves copies still waiting for
// their tenant in the spool, for the next New.
func TestSpoolCloseKeepsParkedCopies(t *testing.T) {
	dir := t.TempDir()
	tenants := map[string][]sqshook.Hook{"acme": {hookFor("h", "acme-h")}}
	ids := seedTenantSpool(t, dir, tenants, 3)
	d, dls := spoolDispatcher(t, newFake(), dir, nil, sqshook.WithResourceAuthForTenants())
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(dls.list()); n != 0 {
		t.Fatalf("Close: %d dead letters %v, want none", n, dls.byReason())
	}
	if s := d.Stats().Spool; s.Parked != 3 || s.Pending != 3 {
		t.Fatalf("spool %+v after Close, want the 3 copies parked and pending", s)
	}
	good := newFake()
	d2, _ := spoolDispatcher(t, good, dir, nil, sqshook.WithResourceAuthForTenants())
	if err := d2.Tenant("acme").SetHooks(tenants["acme"]); err != nil {
		t.Fatal(err)
	}
	if err := d2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if acked := good.ackedIDs(tenants["acme"][0].SQSQueueURL); !slices.Equal(acked, ids["acme"]) {
		t.Errorf("the next New delivered %v, want %v", acked, ids["acme"])
	}
}

// TestSpoolParkedDeadLetterCallbackMaySetHooks: the dead letters of parked
// copies are reported after SetHooks has released the tenant, so the
// callback may read and set that tenant's hooks.
func TestSpoolParkedDeadLetterCallbackMaySetHooks(t *testing.T) {
	dir := t.TempDir()
	hooks := []sqshook.Hook{hookFor("a", "acme-a"), hookFor("b", "acme-b")}
	seedTenantSpool(t, dir, map[string][]sqshook.Hook{"acme": hooks}, 2)
	var d *sqshook.Dispatcher
	var calls atomic.Int32
	d, err := sqshook.New(nil, sqshook.WithResourceAuthForTenants(), sqshook.WithSpool(dir, spool.Options{}),
		sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) { return newFake(), nil }),
		sqshook.WithDeadLetter(func(dl sqshook.DeadLetter) {
			if calls.Add(1) == 1 {
				if err := d.Tenant("acme").SetHooks(append(d.Tenant("acme").Hooks(), hooks[1])); err != nil {
					t.Errorf("SetHooks from the callback: %v", err)
				}
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Tenant("acme").SetHooks(hooks[:1]) }()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(30 * time.Second):
		// Not closed: Close would wait for the blocked SetHooks too.
		t.Fatal("SetHooks still runs after 30 s: the callback is blocked on it")
	}
	defer d.Close(context.Background())
	if n := calls.Load(); n != 2 {
		t.Errorf("%d dead letters, want hook b's 2 (dropped before the callback set it again)", n)
	}
	if got := len(d.Tenant("acme").Hooks()); got != 2 {
		t.Errorf("tenant acme has %d hooks, want 2", got)
	}
}

// heldOpts are the options of the held-copies tests: a budget of two quick
// attempts, so copies are held often, and a small memory share.
func heldOpts(share int) []sqshook.Option {
	return []sqshook.Option{
		sqshook.WithLogger(slog.New(slog.DiscardHandler)),
		sqshook.WithRetryPolicy(sqshook.RetryPolicy{InitialInterval: time.Millisecond, MaxInterval: time.Millisecond, RandomizationFactor: -1, MaxAttempts: 2}),
		sqshook.WithFailingRule(3, -1, time.Millisecond),
		sqshook.WithMaxBuffered(share, 1<<20),
		sqshook.WithOverflowWait(time.Minute),
	}
}

// heldHook sums the Held counters of every hook.
func heldTotal(d *sqshook.Dispatcher) uint64 {
	var n uint64
	for _, h := range d.Stats().Hooks {
		n += h.Held
	}
	return n
}

// checkGroups checks that got holds every id of want exactly once and that
// each group (groupOf) keeps the order of want.
func checkGroups(t *testing.T, queue string, got, want []string, groupOf func(id string) string) {
	t.Helper()
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	for _, id := range want {
		if seen[id] != 1 {
			t.Errorf("%s: event %s delivered %d times, want once", queue, id, seen[id])
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d messages, want %d", queue, len(got), len(want))
	}
	pos := map[string]int{}
	for i, id := range want {
		pos[id] = i
	}
	last := map[string]int{}
	for _, id := range got {
		g := groupOf(id)
		if prev, ok := last[g]; ok && pos[id] < prev {
			t.Fatalf("%s: group %s out of order: %s after %s", queue, g, id, want[prev])
		}
		last[g] = pos[id]
	}
}

// TestSpoolHeldPartialBatchFailuresKeepGroupOrder fails some entries of
// FIFO batches (transient, not the sender's fault) while the others
// succeed, with a budget of two attempts, so copies and their groups are
// held again and again while read-backs run and publishers keep adding:
// every copy arrives once, each group in order, none dead-lettered.
func TestSpoolHeldPartialBatchFailuresKeepGroupOrder(t *testing.T) {
	const publishers, perPublisher, groups = 4, 150, 7
	var failing atomic.Bool
	failing.Store(true)
	f := newFake()
	var tick atomic.Uint64
	f.respond = func(_ int, in *sqsInput) (*sqsOutput, error) {
		out := &sqsOutput{}
		failed := map[string]bool{} // a group whose entry failed fails its later ones too
		for _, e := range in.Entries {
			g := aws.ToString(e.MessageGroupId)
			if failing.Load() && (failed[g] || tick.Add(1)%3 == 0) {
				failed[g] = true
				out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("try again"), SenderFault: false})
				continue
			}
			out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("m")})
		}
		return out, nil
	}
	hooks := []sqshook.Hook{hookFor("fifo", "held.fifo")}
	d, dls := spoolDispatcher(t, f, t.TempDir(), hooks, heldOpts(8)...)
	t.Cleanup(func() { d.Close(context.Background()) })

	groupOf := func(id string) string {
		var p, i int
		fmt.Sscanf(id, "p%d-%d", &p, &i)
		return fmt.Sprintf("p%d-g%d", p, i%groups)
	}
	ids := make([][]string, publishers)
	errs := make(chan error, publishers)
	for p := range publishers {
		go func() {
			for i := range perPublisher {
				ev := event(t, "message.new", i)
				ev.ID = fmt.Sprintf("p%d-%03d", p, i)
				ev.GroupID = groupOf(ev.ID)
				if err := d.Publish(context.Background(), ev); err != nil {
					errs <- fmt.Errorf("publisher %d, event %d: %w", p, i, err)
					return
				}
				ids[p] = append(ids[p], ev.ID)
			}
			errs <- nil
		}()
	}
	for range publishers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	waitLong(t, func() bool { return heldTotal(d) >= 50 })
	failing.Store(false)
	flush(t, d)
	if got := dls.byReason(); len(got) != 0 {
		t.Fatalf("dead letters %v, want none", got)
	}
	s := d.Stats()
	spoolAccounting(t, s)
	h := s.Hooks[0]
	if h.Delivered != publishers*perPublisher || h.Pending != 0 || h.Spooled != 0 {
		t.Errorf("delivered %d, pending %d, spooled %d; want %d, 0, 0", h.Delivered, h.Pending, h.Spooled, publishers*perPublisher)
	}
	if s.Spool.Pending != 0 {
		t.Errorf("spool still holds %d pending copies", s.Spool.Pending)
	}
	var want []string
	for _, p := range ids {
		want = append(want, p...)
	}
	checkGroups(t, "FIFO queue", f.ackedIDs(hooks[0].SQSQueueURL), want, groupOf)
}

// TestSpoolHeldCloseKeepsThemForNextNew closes out of time while copies are
// held: none is dead-lettered, Spooled counts them all, and the next New on
// the same directory delivers each once, FIFO groups in order.
func TestSpoolHeldCloseKeepsThemForNextNew(t *testing.T) {
	const n, groups = 120, 5
	dir := t.TempDir()
	down := newFake()
	down.respond = func(int, *sqsInput) (*sqsOutput, error) { return nil, apiError("ServiceUnavailable", 503) }
	hooks := []sqshook.Hook{hookFor("std", "held-std"), hookFor("fifo", "held.fifo")}
	d, dls := spoolDispatcher(t, down, dir, hooks, heldOpts(8)...)
	var ids []string
	for i := range n {
		ev := event(t, "message.new", i)
		ev.ID = fmt.Sprintf("ev-%03d", i)
		ev.GroupID = fmt.Sprintf("g%d", i%groups)
		if err := d.Publish(context.Background(), ev); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
		ids = append(ids, ev.ID)
	}
	waitLong(t, func() bool {
		for _, h := range d.Stats().Hooks {
			if h.Held < 16 {
				return false
			}
		}
		return true
	})
	if err := d.Close(expired()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close: %v, want context.Canceled", err)
	}
	if got := dls.byReason(); len(got) != 0 {
		t.Fatalf("dead letters %v, want none: Close keeps held copies in the spool", got)
	}
	s := d.Stats()
	spoolAccounting(t, s)
	for _, h := range s.Hooks {
		if h.Spooled != n || h.Delivered != 0 || h.Pending != 0 {
			t.Errorf("hook %s: spooled %d, delivered %d, pending %d; want %d, 0, 0", h.HookID, h.Spooled, h.Delivered, h.Pending, n)
		}
	}
	if s.Spool.Pending != 2*n {
		t.Errorf("spool holds %d pending copies, want %d", s.Spool.Pending, 2*n)
	}

	good := newFake()
	d2, dls2 := spoolDispatcher(t, good, dir, hooks, heldOpts(8)...)
	if err := d2.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := dls2.byReason(); len(got) != 0 {
		t.Fatalf("dead letters after resume %v, want none", got)
	}
	s2 := d2.Stats()
	spoolAccounting(t, s2)
	if s2.Spool.Resumed != 2*n || s2.Spool.Pending != 0 {
		t.Errorf("Stats.Spool = %+v, want %d resumed, 0 pending", s2.Spool, 2*n)
	}
	groupOf := func(id string) string {
		var i int
		fmt.Sscanf(id, "ev-%d", &i)
		return strconv.Itoa(i % groups)
	}
	checkGroups(t, "FIFO queue", good.ackedIDs(hooks[1].SQSQueueURL), ids, groupOf)
	std := good.ackedIDs(hooks[0].SQSQueueURL)
	checkGroups(t, "standard queue", std, ids, func(id string) string { return id })
}

// TestSpoolHeldHookChangedOrRemoved changes a hook's queue, removes a hook
// and removes a tenant while each holds copies: the old pipelines drain to
// their old queues once these answer, every copy is delivered once there
// (FIFO groups in order), and nothing stays in the spool.
func TestSpoolHeldHookChangedOrRemoved(t *testing.T) {
	const n, groups = 60, 3
	var down atomic.Bool
	down.Store(true)
	f := newFake()
	f.respond = func(_ int, in *sqsInput) (*sqsOutput, error) {
		if down.Load() {
			return nil, apiError("InternalError", 500)
		}
		return okAll(in), nil
	}
	changed := hookFor("changed", "old.fifo")
	removed := hookFor("removed", "removed.fifo")
	tenantHook := hookFor("th", "tenant.fifo")
	d, dls := spoolDispatcher(t, f, t.TempDir(), []sqshook.Hook{changed, removed}, append(heldOpts(8), sqshook.WithResourceAuthForTenants())...)
	t.Cleanup(func() { d.Close(context.Background()) })
	tn := d.Tenant("acme")
	if err := tn.SetHooks([]sqshook.Hook{tenantHook}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range n {
		ev := event(t, "message.new", i)
		ev.ID = fmt.Sprintf("ev-%03d", i)
		ev.GroupID = fmt.Sprintf("g%d", i%groups)
		if err := d.Publish(context.Background(), ev); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
		if err := tn.Publish(context.Background(), ev); err != nil {
			t.Fatalf("tenant Publish %d: %v", i, err)
		}
		ids = append(ids, ev.ID)
	}
	waitLong(t, func() bool {
		s := d.Stats()
		if len(s.Hooks) != 3 {
			return false
		}
		for _, h := range s.Hooks {
			if h.Held < 16 {
				return false
			}
		}
		return true
	})
	moved := changed
	moved.SQSQueueURL = fakeQueuePrefix + "new.fifo"
	if err := d.SetHooks([]sqshook.Hook{moved}); err != nil {
		t.Fatal(err)
	}
	if err := tn.SetHooks(nil); err != nil { // removes the tenant without waiting for its hooks to drain
		t.Fatal(err)
	}
	// Still down: the old pipelines keep their held copies.
	waitLong(t, func() bool { return heldTotal(d) >= 200 })
	down.Store(false)
	flush(t, d)
	if got := dls.byReason(); len(got) != 0 {
		t.Fatalf("dead letters %v, want none", got)
	}
	s := d.Stats()
	spoolAccounting(t, s)
	for _, h := range s.Hooks {
		if h.Pending != 0 || h.Spooled != 0 {
			t.Errorf("hook %s/%s: pending %d, spooled %d; want 0, 0", h.Tenant, h.HookID, h.Pending, h.Spooled)
		}
	}
	if s.Spool.Pending != 0 {
		t.Errorf("spool still holds %d pending copies", s.Spool.Pending)
	}
	groupOf := func(id string) string {
		var i int
		fmt.Sscanf(id, "ev-%d", &i)
		return strconv.Itoa(i % groups)
	}
	for _, q := range []string{"old.fifo", "removed.fifo", "tenant.fifo"} {
		checkGroups(t, q, ackedOrder(f, q), ids, groupOf)
	}
	if got := ackedOrder(f, "new.fifo"); len(got) != 0 {
		t.Errorf("new queue got %v, want nothing: every event went before the change", got)
	}
}

// TestSpoolHeldOutageToggles switches an outage on and off several times
// while publishers add events to many groups and a share of 8 copies makes
// read-backs and holds interleave: every copy arrives once, each FIFO group
// in order, none dead-lettered, nothing left in the spool.
func TestSpoolHeldOutageToggles(t *testing.T) {
	const publishers, perPublisher, groups, toggles = 3, 400, 16, 4
	var down atomic.Bool
	down.Store(true)
	f := newFake()
	f.respond = func(call int, in *sqsInput) (*sqsOutput, error) {
		if down.Load() {
			if call%2 == 0 {
				return nil, apiError("ThrottlingException", 400)
			}
			return nil, apiError("InternalError", 500)
		}
		return okAll(in), nil
	}
	hooks := []sqshook.Hook{hookFor("std", "t-std"), hookFor("fifo", "t.fifo")}
	d, dls := spoolDispatcher(t, f, t.TempDir(), hooks, heldOpts(8)...)
	t.Cleanup(func() { d.Close(context.Background()) })

	groupOf := func(id string) string {
		var p, i int
		fmt.Sscanf(id, "p%d-%d", &p, &i)
		return fmt.Sprintf("%d-%d", p, i%groups) // a group has one publisher, so one order
	}
	ids := make([][]string, publishers)
	errs := make(chan error, publishers)
	for p := range publishers {
		go func() {
			for i := range perPublisher {
				ev := event(t, "message.new", i)
				ev.ID = fmt.Sprintf("p%d-%03d", p, i)
				ev.GroupID = "g" + groupOf(ev.ID)
				if err := d.Publish(context.Background(), ev); err != nil {
					errs <- fmt.Errorf("publisher %d, event %d: %w", p, i, err)
					return
				}
				ids[p] = append(ids[p], ev.ID)
			}
			errs <- nil
		}()
	}
	delivered := func() uint64 {
		var n uint64
		for _, h := range d.Stats().Hooks {
			n += h.Delivered
		}
		return n
	}
	for range toggles {
		held := heldTotal(d)
		waitLong(t, func() bool { return heldTotal(d) >= held+8 })
		down.Store(false)
		got := delivered()
		waitLong(t, func() bool { return delivered() >= got+8 || delivered() == 2*publishers*perPublisher })
		down.Store(true)
	}
	for range publishers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	down.Store(false)
	flush(t, d)
	if got := dls.byReason(); len(got) != 0 {
		t.Fatalf("dead letters %v, want none", got)
	}
	s := d.Stats()
	spoolAccounting(t, s)
	for _, h := range s.Hooks {
		if h.Delivered != publishers*perPublisher || h.Pending != 0 || h.Spooled != 0 {
			t.Errorf("hook %s: delivered %d, pending %d, spooled %d; want %d, 0, 0", h.HookID, h.Delivered, h.Pending, h.Spooled, publishers*perPublisher)
		}
	}
	if s.Spool.Pending != 0 {
		t.Errorf("spool still holds %d pending copies", s.Spool.Pending)
	}
	var want []string
	for _, p := range ids {
		want = append(want, p...)
	}
	checkGroups(t, "FIFO queue", ackedOrder(f, "t.fifo"), want, groupOf)
	checkGroups(t, "standard queue", ackedOrder(f, "t-std"), want, func(id string) string { return id })
}

// TestSpoolHeldHookRemovedWhileDown removes a hook that holds copies while
// its queue stays down, then closes out of time: its copies stay in the
// spool, and the next New, where the hook is gone, dead-letters each once
// as hook_removed.
func TestSpoolHeldHookRemovedWhileDown(t *testing.T) {
	const n = 40
	dir := t.TempDir()
	down := newFake()
	down.respond = func(int, *sqsInput) (*sqsOutput, error) { return nil, apiError("InternalError", 500) }
	keep, gone := hookFor("keep", "keep.fifo"), hookFor("gone", "gone.fifo")
	d, dls := spoolDispatcher(t, down, dir, []sqshook.Hook{keep, gone}, heldOpts(8)...)
	for i := range n {
		ev := event(t, "message.new", i)
		ev.ID = fmt.Sprintf("ev-%03d", i)
		ev.GroupID = fmt.Sprintf("g%d", i%3)
		if err := d.Publish(context.Background(), ev); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
	}
	waitLong(t, func() bool { return heldTotal(d) >= 32 })
	if err := d.SetHooks([]sqshook.Hook{keep}); err != nil {
		t.Fatal(err)
	}
	held := heldTotal(d)
	waitLong(t, func() bool { return heldTotal(d) >= held+16 })
	if err := d.Close(expired()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close: %v, want context.Canceled", err)
	}
	if got := dls.byReason(); len(got) != 0 {
		t.Fatalf("dead letters %v, want none", got)
	}
	s := d.Stats()
	spoolAccounting(t, s)
	if s.Spool.Pending != 2*n {
		t.Fatalf("spool holds %d pending copies, want %d", s.Spool.Pending, 2*n)
	}

	good := newFake()
	d2, dls2 := spoolDispatcher(t, good, dir, []sqshook.Hook{keep}, heldOpts(8)...)
	if err := d2.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	byID := map[string]int{}
	for _, dl := range dls2.list() {
		if dl.Reason != sqshook.ReasonHookRemoved || dl.HookID != "gone" {
			t.Errorf("dead letter %s/%s: %s, want hook gone, hook_removed", dl.HookID, dl.Event.ID, dl.Reason)
		}
		byID[dl.Event.ID]++
	}
	if len(byID) != n {
		t.Errorf("%d distinct copies dead-lettered, want %d", len(byID), n)
	}
	for id, c := range byID {
		if c != 1 {
			t.Errorf("%s dead-lettered %d times", id, c)
		}
	}
	if got := len(good.ackedIDs(keep.SQSQueueURL)); got != n {
		t.Errorf("kept hook got %d messages, want %d", got, n)
	}
	if s2 := d2.Stats(); s2.Spool.Pending != 0 {
		t.Errorf("spool still holds %d pending copies", s2.Spool.Pending)
	}
}
