// pgstore_backlog_test.go tests the PostgreSQL store's view of the
// database's backlog (pgstore_backlog.go): the owner's counts seen on
// another instance, in Stats, the health handler and the stored gauge;
// the per-tenant quota with Publish's overflow rule and PublishTx; and
// copies held after their retry budget, delivered by the next owner.

package sqshook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"path"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

// tenantCopies counts a tenant's copies in the database.
func (e *pgEnv) tenantCopies(t *testing.T, tenant string) int {
	t.Helper()
	var n int
	err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+e.table("sqshook_copy")+" c JOIN "+e.table("sqshook_hook")+
		" h ON h.id = c.hook WHERE h.tenant = $1", tenant).Scan(&n)
	if err != nil {
		t.Fatalf("counting copies: %v", err)
	}
	return n
}

// storedGauge sums the sqshook.stored.events gauge's data points.
func storedGauge(t *testing.T, reader *sdkmetric.ManualReader) (int64, bool) {
	t.Helper()
	m, ok := collectMetrics(t, reader)["sqshook.stored.events"].(metricdata.Gauge[int64])
	if !ok {
		return 0, false
	}
	var n int64
	for _, dp := range m.DataPoints {
		n += dp.Value
	}
	return n, true
}

// TestPostgresBacklogVisible: instance A owns a hook whose queue is out;
// instance B, configured with the same hook but not owning it, shows the
// copies waiting in the database in HookStats.Stored, Stats.Spool.Pending
// and its health handler within a few leases, equal to the table's
// count; the stored gauges of A and B add up to it (A's, the owner's,
// holds it all unless the lease moved).
func TestPostgresBacklogVisible(t *testing.T) {
	const lease = 3 * time.Second // the owner keeps its lease on a busy machine
	e := newPGEnv(t, lease)
	q := e.srv.CreateQueue("backlog", nil)
	hooks := []sqshook.Hook{pgHook("h", q)}
	readerA, readerB := sdkmetric.NewManualReader(), sdkmetric.NewManualReader()
	mpA, mpB := sdkmetric.NewMeterProvider(sdkmetric.WithReader(readerA)), sdkmetric.NewMeterProvider(sdkmetric.WithReader(readerB))
	t.Cleanup(func() { _ = mpA.Shutdown(context.Background()); _ = mpB.Shutdown(context.Background()) })
	a := e.node(t, "a", hooks, sqshook.WithMeterProvider(mpA))
	ctx := context.Background()
	if err := a.d.Publish(ctx, sqshook.Event{ID: "first", Type: "message.new", Body: chatEventJSON(t, "message.new", "first")}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	waitPG(t, "A owns the hook and delivered", func() bool { return e.owned(t, "a") == 1 && e.srv.Count(q) == 1 })
	b := e.node(t, "b", hooks, sqshook.WithMeterProvider(mpB))

	e.srv.SetOutage(true)
	const n = 250
	for i := range n {
		id := fmt.Sprintf("ev-%03d", i)
		node := []*pgNode{a, b}[i%2]
		if err := node.d.Publish(ctx, sqshook.Event{ID: id, Type: "message.new", Body: chatEventJSON(t, "message.new", id)}); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	if got := e.count(t, "sqshook_copy"); got != n {
		t.Fatalf("%d copies in the database, want %d (the queue is out)", got, n)
	}
	// A count is at most Lease/3 old when written and read at most Lease/3
	// later; ten leases is a generous bound on a busy machine.
	start := time.Now()
	for {
		if h, _ := b.d.Stats().Hook("h"); h.Stored == n {
			break
		}
		if time.Since(start) > 10*lease {
			h, _ := b.d.Stats().Hook("h")
			t.Fatalf("B shows %d copies stored %v after they were recorded, want %d", h.Stored, time.Since(start), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	seen := time.Since(start)
	if sp := b.d.Stats().Spool; sp == nil || sp.Pending != n || sp.TenantQuota != sqshook.DefaultPostgresTenantQuota {
		t.Errorf("B's Stats().Spool = %+v; want Pending %d, TenantQuota %d", sp, n, sqshook.DefaultPostgresTenantQuota)
	}
	rec := httptest.NewRecorder()
	b.d.HealthHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	var rep struct {
		Spool struct {
			Pending     int   `json:"pending"`
			TenantQuota int64 `json:"tenant_quota"`
		} `json:"spool"`
		Hooks []struct {
			ID     string `json:"id"`
			Stored uint64 `json:"stored"`
		} `json:"hooks"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatalf("health report: %v", err)
	}
	if rep.Spool.Pending != n || len(rep.Hooks) != 1 || rep.Hooks[0].Stored != n {
		t.Errorf("B's health report: spool pending %d, hooks %+v; want %d stored", rep.Spool.Pending, rep.Hooks, n)
	}
	waitPG(t, "the stored gauges add up to the backlog", func() bool {
		va, _ := storedGauge(t, readerA)
		vb, _ := storedGauge(t, readerB)
		return va+vb == n
	})

	e.srv.SetOutage(false)
	waitPG(t, "delivered", func() bool { return e.count(t, "sqshook_copy") == 0 })
	waitPG(t, "B shows the backlog gone", func() bool {
		h, _ := b.d.Stats().Hook("h")
		return h.Stored == 0
	})
	t.Logf("B showed the %d copies %v after they were recorded (lease %v)", n, seen.Round(time.Millisecond), lease)
}

// TestPostgresTenantQuota: tenant A, past its quota of copies in the
// database (its queue is out), gets buffer_full dead letters from Publish
// and ErrBufferFull from PublishTx, whose transaction still commits its
// other work; tenant B, on the same instance, publishes meanwhile.
func TestPostgresTenantQuota(t *testing.T) {
	const quota = 20
	e := newPGEnv(t, 300*time.Millisecond)
	e.opts.TenantQuota = quota
	qa, qb := e.srv.CreateQueue("quota-a", nil), e.srv.CreateQueue("quota-b", nil)
	dls := &deadLetters{}
	n := e.node(t, "a", nil, sqshook.WithResourceAuthForTenants(), sqshook.WithDeadLetter(dls.add))
	ta, tb := n.d.Tenant("a"), n.d.Tenant("b")
	if err := ta.SetHooks([]sqshook.Hook{pgHook("h", qa)}); err != nil {
		t.Fatal(err)
	}
	if err := tb.SetHooks([]sqshook.Hook{pgHook("h", qb)}); err != nil {
		t.Fatal(err)
	}
	restore := e.srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Queue: path.Base(qa), Code: "ServiceUnavailable"})
	ctx := context.Background()
	ev := func(id string) sqshook.Event {
		return sqshook.Event{ID: id, Type: "message.new", Body: chatEventJSON(t, "message.new", id)}
	}
	// Publish until the first refusal. One instance never lets a tenant
	// past its quota; a count under way may make it refuse a few copies
	// early (those recorded during the count's round trip may be counted
	// twice until the next count).
	accepted := 0
	var err error
	for i := range quota + 1 {
		if err = ta.Publish(ctx, ev(fmt.Sprintf("a-%02d", i))); err != nil {
			break
		}
		accepted++
	}
	if !errors.Is(err, sqshook.ErrBufferFull) {
		t.Fatalf("tenant a's Publish after %d accepted: %v, want ErrBufferFull", accepted, err)
	}
	if accepted > quota || accepted < quota/2 {
		t.Errorf("tenant a: %d copies accepted before the first refusal, want up to its quota %d", accepted, quota)
	}
	if got := dls.byReason()[sqshook.ReasonBufferFull]; got != 1 {
		t.Errorf("%d buffer_full dead letters, want 1", got)
	}
	if got := e.tenantCopies(t, "a"); got != accepted {
		t.Errorf("tenant a has %d copies in the database, want the %d accepted", got, accepted)
	}
	// Up to the quota exactly, as the next counts correct the figure; from
	// there every Publish is refused.
	waitPG(t, "tenant a at its quota", func() bool {
		if accepted < quota && ta.Publish(ctx, ev(fmt.Sprintf("a-fill-%02d", accepted))) == nil {
			accepted++
		}
		return accepted == quota
	})
	refused := len(dls.list())
	if err := ta.Publish(ctx, ev("a-over")); !errors.Is(err, sqshook.ErrBufferFull) {
		t.Errorf("tenant a's Publish at its quota: %v, want ErrBufferFull", err)
	}
	if got := len(dls.list()) - refused; got != 1 {
		t.Errorf("%d dead letters from a Publish at the quota, want 1", got)
	}
	if got := e.tenantCopies(t, "a"); got != quota {
		t.Errorf("tenant a has %d copies in the database, want its quota %d", got, quota)
	}
	refused = len(dls.list())

	// PublishTx past the quota: nothing recorded, the transaction goes on.
	if _, err := e.pool.Exec(ctx, "CREATE TABLE "+e.table("app")+" (v text)"); err != nil {
		t.Fatal(err)
	}
	err = pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO "+e.table("app")+" VALUES ('kept')"); err != nil {
			return err
		}
		perr := ta.PublishTx(ctx, tx, ev("a-tx"))
		if !errors.Is(perr, sqshook.ErrBufferFull) {
			t.Errorf("PublishTx past the quota: %v, want ErrBufferFull", perr)
		}
		return nil // commit
	})
	if err != nil {
		t.Fatalf("the transaction after PublishTx past the quota did not commit: %v", err)
	}
	if got := e.count(t, "app"); got != 1 {
		t.Errorf("the transaction's own row: %d, want 1", got)
	}
	if got := e.tenantCopies(t, "a"); got != quota {
		t.Errorf("tenant a has %d copies after PublishTx past the quota, want %d", got, quota)
	}
	if got := len(dls.list()) - refused; got != 0 {
		t.Errorf("PublishTx past the quota dead-lettered %d copies, want none", got)
	}

	// Tenant b is not held up by a.
	for i := range quota / 2 {
		if err := tb.Publish(ctx, ev(fmt.Sprintf("b-%02d", i))); err != nil {
			t.Fatalf("tenant b's Publish while a is past its quota: %v", err)
		}
	}
	waitPG(t, "tenant b delivered", func() bool { return e.srv.Count(qb) == quota/2 })
	if sp := n.d.Stats().Spool; sp.OverQuota != 1 {
		t.Errorf("Stats().Spool.OverQuota = %d, want 1", sp.OverQuota)
	}

	// Once a's queue is back and its copies delivered, a publishes again.
	restore()
	waitPG(t, "a's copies delivered", func() bool { return e.tenantCopies(t, "a") == 0 })
	waitPG(t, "a under its quota again", func() bool { return ta.Publish(ctx, ev("a-after")) == nil })
	waitPG(t, "a-after delivered", func() bool { return e.srv.Count(qa) == quota+1 })
}

// TestPostgresTenantQuotaWait: with WithOverflowWait, tenant A's Publish
// past its quota waits, and succeeds once A's queue is back and its
// copies are delivered and counted; tenant B publishes meanwhile.
func TestPostgresTenantQuotaWait(t *testing.T) {
	const quota = 10
	e := newPGEnv(t, 300*time.Millisecond)
	e.opts.TenantQuota = quota
	qa, qb := e.srv.CreateQueue("wait-a", nil), e.srv.CreateQueue("wait-b", nil)
	dls := &deadLetters{}
	n := e.node(t, "a", nil, sqshook.WithResourceAuthForTenants(), sqshook.WithDeadLetter(dls.add), sqshook.WithOverflowWait(2*time.Minute))
	ta, tb := n.d.Tenant("a"), n.d.Tenant("b")
	if err := ta.SetHooks([]sqshook.Hook{pgHook("h", qa)}); err != nil {
		t.Fatal(err)
	}
	if err := tb.SetHooks([]sqshook.Hook{pgHook("h", qb)}); err != nil {
		t.Fatal(err)
	}
	restore := e.srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Queue: path.Base(qa), Code: "ServiceUnavailable"})
	ctx := context.Background()
	ev := func(id string) sqshook.Event {
		return sqshook.Event{ID: id, Type: "message.new", Body: chatEventJSON(t, "message.new", id)}
	}
	for i := range quota {
		if err := ta.Publish(ctx, ev(fmt.Sprintf("a-%02d", i))); err != nil {
			t.Fatalf("tenant a's Publish %d: %v", i, err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- ta.Publish(ctx, ev("a-waits")) }()
	if err := tb.Publish(ctx, ev("b-0")); err != nil {
		t.Fatalf("tenant b's Publish while a waits: %v", err)
	}
	waitPG(t, "tenant b delivered while a waits", func() bool { return e.srv.Count(qb) == 1 })
	select {
	case err := <-done:
		t.Fatalf("tenant a's Publish past its quota returned %v before any room", err)
	default:
	}
	restore()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("tenant a's Publish after room appeared: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("tenant a's Publish still waits 2 minutes after its queue came back")
	}
	waitPG(t, "everything delivered", func() bool { return e.srv.Count(qa) == quota+1 })
	if got := len(dls.list()); got != 0 {
		t.Errorf("%d dead letters, want none", got)
	}
}

// TestPostgresHeldFailover: instance A's copies spend their retry budget
// while the queue is out; they are held, not dead-lettered. A then stops:
// Close; abandoned (its SQS calls hang and its database connections are
// gone, as a dead process's); or cut off from the database only (its
// calls still failing, so it reads its held copies back from a database
// it cannot reach). Instance B, once the queue is back, delivers every one
// of them, and A dead-letters none.
func TestPostgresHeldFailover(t *testing.T) {
	for _, mode := range []string{"close", "abandon", "dbcut"} {
		t.Run(mode, func(t *testing.T) {
			const lease = 300 * time.Millisecond
			e := newPGEnv(t, lease)
			q := e.srv.CreateQueue("held-"+mode, nil)
			hooks := []sqshook.Hook{pgHook("h", q)}
			dls := &deadLetters{}
			short := sqshook.RetryPolicy{InitialInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond, MaxAttempts: 2}
			a := e.node(t, "a", hooks, sqshook.WithDeadLetter(dls.add), sqshook.WithRetryPolicy(short))
			ctx := context.Background()
			e.srv.SetOutage(true)
			const n = 30
			for i := range n {
				id := fmt.Sprintf("held-%02d", i)
				if err := a.d.Publish(ctx, sqshook.Event{ID: id, Type: "message.new", Body: chatEventJSON(t, "message.new", id)}); err != nil {
					t.Fatalf("Publish: %v", err)
				}
			}
			waitPG(t, "A holds every copy after its retry budget", func() bool {
				h, _ := a.d.Stats().Hook("h")
				return h.Held >= n
			})
			b := e.node(t, "b", hooks, sqshook.WithDeadLetter(dls.add))
			switch mode {
			case "close":
				cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				_ = a.d.Close(cctx)
				cancel()
			case "abandon":
				a.sqs.kill()
				a.pool.Close()
			case "dbcut":
				a.pool.Close()
			}
			if got := e.count(t, "sqshook_copy"); got != n {
				t.Fatalf("%d copies in the database after A stopped, want %d", got, n)
			}
			waitPG(t, "B owns the hook", func() bool { return e.owned(t, "b") == 1 })
			e.srv.SetOutage(false)
			waitPG(t, "B delivered every held copy", func() bool { return e.count(t, "sqshook_copy") == 0 })
			got := map[string]bool{}
			for _, id := range eventIDs(e.srv, q) {
				got[id] = true
			}
			for i := range n {
				if id := fmt.Sprintf("held-%02d", i); !got[id] {
					t.Errorf("%s not delivered", id)
				}
			}
			if h, _ := b.d.Stats().Hook("h"); h.Delivered < n {
				t.Errorf("B delivered %d, want %d", h.Delivered, n)
			}
			if got := len(dls.list()); got != 0 {
				t.Errorf("%d dead letters (%v), want none", got, dls.byReason())
			}
			cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			_ = a.d.Close(cctx) // A, cut off, keeps what it held
			if got := len(dls.list()); got != 0 {
				t.Errorf("%d dead letters after A's Close (%v), want none", got, dls.byReason())
			}
		})
	}
}

// TestPostgresBacklogManyHooks: an owner of more hooks than one round
// trip counts (16) writes every hook's count to sqshook_hook.backlog
// within a few rounds, those counted longest ago first.
func TestPostgresBacklogManyHooks(t *testing.T) {
	const lease = 600 * time.Millisecond
	const hooks = 45
	e := newPGEnv(t, lease)
	var hs []sqshook.Hook
	for i := range hooks {
		h := pgHook(fmt.Sprintf("h%02d", i), e.srv.CreateQueue(fmt.Sprintf("many-%02d", i), nil))
		h.EventTypes = []string{fmt.Sprintf("type.%02d", i)}
		hs = append(hs, h)
	}
	a := e.node(t, "a", hs)
	e.srv.SetOutage(true)
	ctx := context.Background()
	for i := range hooks {
		for j := range i%3 + 1 {
			id := fmt.Sprintf("ev-%02d-%d", i, j)
			if err := a.d.Publish(ctx, sqshook.Event{ID: id, Type: fmt.Sprintf("type.%02d", i), Body: chatEventJSON(t, "message.new", id)}); err != nil {
				t.Fatalf("Publish: %v", err)
			}
		}
	}
	waitPG(t, "A owns every hook", func() bool { return e.owned(t, "a") == hooks })
	start := time.Now()
	waitPG(t, "every hook's count written", func() bool {
		var wrong int
		err := e.pool.QueryRow(ctx, "SELECT count(*) FROM "+e.table("sqshook_hook")+" h WHERE h.backlog <> (SELECT count(*) FROM "+
			e.table("sqshook_copy")+" c WHERE c.hook = h.id)").Scan(&wrong)
		if err != nil {
			t.Fatal(err)
		}
		return wrong == 0
	})
	t.Logf("%d hooks' counts written %v after A owned them all (lease %v)", hooks, time.Since(start).Round(time.Millisecond), lease)
	e.srv.SetOutage(false)
}

// TestPostgresFlushWaitsForTheDatabase: Flush after 4,000 Publish calls
// returns only once every event is in each of the four queues. Publish
// queues nothing in the publishing instance (the owner fetches the copies
// from the database), so a Flush that waited only for its pipes returned
// with a few events per hook not yet fetched. Meanwhile the owner counts
// its hooks' copies every Lease/3 (20 ms) while they are settled as fast
// as the queues answer: the count once took a pipe's lock under the
// store's while a settlement held the pipe's and waited for the store's,
// and delivery stopped for good (seen rarely; this is where it would
// show, as Flush running out of time).
func TestPostgresFlushWaitsForTheDatabase(t *testing.T) {
	e := newPGEnv(t, 60*time.Millisecond)
	hooks := make([]sqshook.Hook, 4)
	for i := range hooks {
		hooks[i] = pgHook(fmt.Sprintf("h%d", i), e.srv.CreateQueue(fmt.Sprintf("q%d", i), nil))
	}
	n := e.node(t, "a", hooks)
	ctx := context.Background()
	const events = 4000
	for i := range events {
		if err := n.d.Publish(ctx, sqshook.Event{ID: fmt.Sprintf("ev-%d", i), Type: "message.new", Body: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := n.d.Flush(fctx); err != nil {
		var delivered uint64
		for _, h := range n.d.Stats().Hooks {
			delivered += h.Delivered
		}
		t.Fatalf("Flush: %v (delivered %d of %d copies: the store and a pipe wait for each other)", err, delivered, events*len(hooks))
	}
	for _, h := range hooks {
		if got := len(e.srv.Received(h.SQSQueueURL)); got < events {
			t.Errorf("%s: %d of %d events received", h.ID, got, events)
		}
	}
}

// TestPostgresFlushEndsAtClose: a Flush waiting for copies in the
// database returns once Close has given up on them (they stay in the
// database for the fleet), as a Flush without a database returns when
// the pipes finish; it used to wait for its context, here for ever.
func TestPostgresFlushEndsAtClose(t *testing.T) {
	e := newPGEnv(t, 2*time.Second)
	n := e.node(t, "a", []sqshook.Hook{pgHook("h", e.srv.CreateQueue("q", nil))})
	n.sqs.kill() // calls never answer
	if err := n.d.Publish(context.Background(), sqshook.Event{ID: "e-1", Type: "message.new", Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	flushed := make(chan error, 1)
	go func() { flushed <- n.d.Flush(context.Background()) }()
	time.Sleep(200 * time.Millisecond) // Flush polls the database
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_ = n.d.Close(ctx) // gives up: the copy stays in the database
	select {
	case <-flushed:
	case <-time.After(time.Minute):
		t.Fatal("Flush still waiting a minute after Close returned")
	}
	if got := e.count(t, "sqshook_copy"); got != 1 {
		t.Errorf("%d copies left in the database, want the 1 Close gave up on", got)
	}
}
