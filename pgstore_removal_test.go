// pgstore_removal_test.go tests hook removal and parked copies in the
// PostgreSQL store (pgstore_removal.go) against a real server: a removed
// hook's copies in the database drained before RemoveTenant returns, or
// purged (dead-lettered once each); the copies of a hook no instance
// configures dead-lettered by one instance of the fleet once
// WithResumeWait has passed, while a hook configured again in time gets
// its own delivered; and a removal on one instance while another still
// configures the hook losing nothing.

package sqshook_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sqshook/sqshook"
)

// dlRecorder keeps the dead letters an instance reports, and when each
// came.
type dlRecorder struct {
	mu  sync.Mutex
	dls []sqshook.DeadLetter
	at  []time.Time
}

func (r *dlRecorder) add(dl sqshook.DeadLetter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dls = append(r.dls, dl)
	r.at = append(r.at, time.Now())
}

func (r *dlRecorder) list() ([]sqshook.DeadLetter, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sqshook.DeadLetter(nil), r.dls...), append([]time.Time(nil), r.at...)
}

func (r *dlRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.dls)
}

// pgPublishN publishes n events with ids prefix-000… through tenant.
func pgPublishN(t *testing.T, tn *sqshook.Tenant, prefix string, n int) []string {
	t.Helper()
	ids := make([]string, 0, n)
	for i := range n {
		id := fmt.Sprintf("%s-%03d", prefix, i)
		if err := tn.Publish(context.Background(), sqshook.Event{ID: id, Type: "message.new", Body: chatEventJSON(t, "message.new", id)}); err != nil {
			t.Fatalf("Publish %s: %v", id, err)
		}
		ids = append(ids, id)
	}
	return ids
}

// copiesOf counts the copies in the database of the events with these
// event ids.
func (e *pgEnv) copiesOf(t *testing.T, ids []string) int {
	t.Helper()
	var n int
	err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+e.table("sqshook_copy")+" c JOIN "+e.table("sqshook_event")+
		" ev ON ev.id = c.event WHERE ev.event_id = ANY($1)", ids).Scan(&n)
	if err != nil {
		t.Fatalf("counting copies: %v", err)
	}
	return n
}

// checkOnce fails unless queue q received each of ids exactly once and
// nothing else.
func checkOnce(t *testing.T, e *pgEnv, q string, ids []string) {
	t.Helper()
	got := map[string]int{}
	for _, id := range eventIDs(e.srv, q) {
		got[id]++
	}
	bad := 0
	for _, id := range ids {
		if got[id] != 1 {
			if bad++; bad <= 5 {
				t.Errorf("%s: event %s delivered %d times, want once", q, id, got[id])
			}
		}
		delete(got, id)
	}
	if bad > 5 {
		t.Errorf("%s: %d of %d events not delivered exactly once", q, bad, len(ids))
	}
	for id, n := range got {
		t.Errorf("%s: event %s delivered %d times, never published to it", q, id, n)
	}
}

// waitOutageHit waits until the SQS outage has failed more calls than
// before.
func waitOutageHit(t *testing.T, e *pgEnv, before int) int {
	t.Helper()
	waitPG(t, "sends failing in the outage", func() bool { return e.srv.Calls().Injected["Outage"] > before })
	return e.srv.Calls().Injected["Outage"]
}

// TestPostgresRemovalDrains: events recorded while the queues fail stay
// in the database (the instance holds only FetchAhead of each hook); one
// hook is removed by SetHooks, then the tenant by RemoveTenant. When the
// queues recover, every copy is delivered exactly once, and RemoveTenant
// returns only once the database holds none of them; an unrelated
// transaction left open meanwhile does not hold it.
func TestPostgresRemovalDrains(t *testing.T) {
	e := newPGEnv(t, time.Second)
	e.opts.FetchAhead = 20
	q1 := e.srv.CreateQueue("drain-1", nil)
	q2 := e.srv.CreateQueue("drain-2", nil)
	dl := &dlRecorder{}
	node := e.node(t, "a", nil, sqshook.WithResourceAuthForTenants(), sqshook.WithDeadLetter(dl.add))
	acme := node.d.Tenant("acme")
	h1, h2 := pgHook("h1", q1), pgHook("h2", q2)
	if err := acme.SetHooks([]sqshook.Hook{h1, h2}); err != nil {
		t.Fatal(err)
	}
	e.srv.SetOutage(true)
	const n = 300
	ids := pgPublishN(t, acme, "ev", n)
	hits := waitOutageHit(t, e, 0)
	if c := e.count(t, "sqshook_copy"); c <= 2*e.opts.FetchAhead {
		t.Fatalf("%d copies in the database; the test needs more than the instance holds", c)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pin, err := e.pool.Begin(ctx) // open, with an xid, until the end
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pin.Rollback(context.Background()) }()
	if _, err := pin.Exec(ctx, "SELECT pg_current_xact_id()"); err != nil {
		t.Fatal(err)
	}
	if err := acme.SetHooks([]sqshook.Hook{h2}); err != nil { // h1 removed
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- node.d.RemoveTenant(ctx, "acme") }()
	waitOutageHit(t, e, hits)
	select {
	case err := <-done:
		t.Fatalf("RemoveTenant returned (%v) while the queues fail and %d copies wait", err, e.count(t, "sqshook_copy"))
	default:
	}
	e.srv.SetOutage(false)
	if err := <-done; err != nil {
		t.Fatalf("RemoveTenant: %v", err)
	}
	// RemoveTenant has returned: everything is delivered and settled.
	if c := e.count(t, "sqshook_copy"); c != 0 {
		t.Errorf("%d copies left in the database when RemoveTenant returned", c)
	}
	if a, b := e.srv.Count(q1), e.srv.Count(q2); a != n || b != n {
		t.Errorf("when RemoveTenant returned: %d and %d messages delivered, want %d each", a, b, n)
	}
	checkOnce(t, e, q1, ids)
	checkOnce(t, e, q2, ids)
	if c := dl.count(); c != 0 {
		t.Errorf("%d dead letters, want none", c)
	}
	if hs := node.d.Tenant("acme").Stats().Hooks; len(hs) != 0 {
		t.Errorf("the removed tenant still lists %d hooks", len(hs))
	}
}

// TestPostgresRemovalPurge: RemoveTenant with WithPurge dead-letters
// every copy of the tenant's hook in the database exactly once, with
// ReasonHookRemoved and the event as published, deletes them all before it
// returns, and nothing is delivered after that.
func TestPostgresRemovalPurge(t *testing.T) {
	e := newPGEnv(t, time.Second)
	e.opts.FetchAhead = 20
	q := e.srv.CreateQueue("purge", nil)
	dl := &dlRecorder{}
	node := e.node(t, "a", nil, sqshook.WithResourceAuthForTenants(), sqshook.WithDeadLetter(dl.add))
	acme := node.d.Tenant("acme")
	if err := acme.SetHooks([]sqshook.Hook{pgHook("h", q)}); err != nil {
		t.Fatal(err)
	}
	e.srv.SetOutage(true)
	const n = 300
	ids := pgPublishN(t, acme, "ev", n)
	waitOutageHit(t, e, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := node.d.RemoveTenant(ctx, "acme", sqshook.WithPurge()); err != nil {
		t.Fatalf("RemoveTenant with WithPurge: %v", err)
	}
	left := e.count(t, "sqshook_copy")
	delivered := e.srv.Count(q)
	dls, _ := dl.list()
	e.srv.SetOutage(false)
	cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
	defer ccancel()
	if err := node.d.Close(cctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if left != 0 {
		t.Errorf("%d copies left in the database when RemoveTenant returned", left)
	}
	if after := e.srv.Count(q); after != delivered {
		t.Errorf("%d messages delivered after RemoveTenant returned", after-delivered)
	}
	sent := map[string]bool{}
	for _, id := range eventIDs(e.srv, q) {
		sent[id] = true
	}
	got := map[string]int{}
	for _, d := range dls {
		if d.Reason != sqshook.ReasonHookRemoved || d.Tenant != "acme" || d.HookID != "h" {
			t.Errorf("dead letter %s: reason %q, tenant %q, hook %q", d.Event.ID, d.Reason, d.Tenant, d.HookID)
		}
		if want := string(chatEventJSON(t, "message.new", d.Event.ID)); string(d.Event.Body) != want || d.Event.Type != "message.new" {
			t.Errorf("dead letter %s: event %q %q, not as published", d.Event.ID, d.Event.Type, d.Event.Body)
		}
		got[d.Event.ID]++
	}
	bad := 0
	for _, id := range ids {
		if sent[id] && got[id] > 0 || !sent[id] && got[id] != 1 {
			if bad++; bad <= 5 {
				t.Errorf("event %s: delivered %t, dead-lettered %d times; want one of them once", id, sent[id], got[id])
			}
		}
	}
	if len(dls) != n-len(sent) {
		t.Errorf("%d dead letters and %d delivered, %d published", len(dls), len(sent), n)
	}
	if r := node.d.Stats().Spool.HookRemoved; r != 0 {
		t.Errorf("SpoolStats.HookRemoved %d: a purge is the hook's own dead letters, not parked copies", r)
	}
	t.Logf("%d copies purged, %d delivered before the purge", len(dls), len(sent))
}

// TestPostgresParkedExpiry: an instance records copies for two hooks of a
// tenant and dies before delivering any. Of the two instances left,
// neither configures the first hook: once its configured_until has passed
// by WithResumeWait, its copies are dead-lettered, once each, all by one
// of them (counted in that one's SpoolStats.HookRemoved). The second hook
// is configured again in time on one of them: its copies are delivered.
func TestPostgresParkedExpiry(t *testing.T) {
	const lease = 500 * time.Millisecond
	const wait = 3 * time.Second
	e := newPGEnv(t, lease)
	e.opts.Sweep = 50 * time.Millisecond
	q1 := e.srv.CreateQueue("abandoned", nil)
	q2 := e.srv.CreateQueue("back", nil)
	h1, h2 := pgHook("h1", q1), pgHook("h2", q2)

	p := e.node(t, "p", nil, sqshook.WithResourceAuthForTenants())
	p.sqs.kill() // its calls never answer
	if err := p.d.Tenant("acme").SetHooks([]sqshook.Hook{h1, h2}); err != nil {
		t.Fatal(err)
	}
	const n = 50
	ids := pgPublishN(t, p.d.Tenant("acme"), "ev", n)
	waitPG(t, "the dying instance owns both hooks and marked them configured", func() bool {
		var marked int
		if err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+e.table("sqshook_hook")+" WHERE configured_until > now()").Scan(&marked); err != nil {
			t.Fatal(err)
		}
		return e.owned(t, "p") == 2 && marked == 2
	})
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	_ = p.d.Close(cctx) // gives up: the copies stay in the database
	if c := e.count(t, "sqshook_copy"); c != 2*n {
		t.Fatalf("%d copies in the database after the instance died, want %d", c, 2*n)
	}
	var until time.Time
	if err := e.pool.QueryRow(context.Background(), "SELECT max(configured_until) FROM "+e.table("sqshook_hook")).Scan(&until); err != nil {
		t.Fatalf("reading configured_until: %v", err)
	}

	dlA, dlB := &dlRecorder{}, &dlRecorder{}
	a := e.node(t, "a", nil, sqshook.WithResourceAuthForTenants(), sqshook.WithResumeWait(wait), sqshook.WithDeadLetter(dlA.add))
	b := e.node(t, "b", nil, sqshook.WithResourceAuthForTenants(), sqshook.WithResumeWait(wait), sqshook.WithDeadLetter(dlB.add))
	if err := b.d.Tenant("acme").SetHooks([]sqshook.Hook{h2}); err != nil {
		t.Fatal(err)
	}
	if now := e.dbNow(t); !now.Before(until.Add(wait)) {
		t.Fatalf("h2 configured again %v after its copies' wait ended: the machine is too slow for this test", now.Sub(until.Add(wait)))
	}
	waitPG(t, "h1's copies dead-lettered, h2's delivered", func() bool {
		return dlA.count()+dlB.count() >= n && e.srv.Count(q2) >= n && e.count(t, "sqshook_copy") == 0
	})
	// Once more of the sweep on both: nothing more comes.
	sa, sb := a.d.Stats().Spool.HookRemoved, b.d.Stats().Spool.HookRemoved
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, nd := range []*pgNode{a, b} {
		if err := nd.d.Close(ctx); err != nil {
			t.Fatalf("Close %s: %v", nd.id, err)
		}
	}
	la, ta := dlA.list()
	lb, tb := dlB.list()
	one, times, stat := la, ta, sa
	if len(lb) > 0 {
		one, times, stat = lb, tb, sb
	}
	if len(la) > 0 && len(lb) > 0 {
		t.Errorf("both instances dead-lettered parked copies (%d and %d)", len(la), len(lb))
	}
	got := map[string]int{}
	for i, d := range one {
		if d.Reason != sqshook.ReasonHookRemoved || d.Tenant != "acme" || d.HookID != "h1" {
			t.Errorf("dead letter %s: reason %q, tenant %q, hook %q; want hook_removed of acme's h1", d.Event.ID, d.Reason, d.Tenant, d.HookID)
		}
		if string(d.Event.Body) != string(chatEventJSON(t, "message.new", d.Event.ID)) {
			t.Errorf("dead letter %s: body not as published", d.Event.ID)
		}
		if times[i].Before(until.Add(wait - 100*time.Millisecond)) {
			t.Errorf("dead letter %s came %v before the wait ended", d.Event.ID, until.Add(wait).Sub(times[i]))
		}
		got[d.Event.ID]++
	}
	bad := 0
	for _, id := range ids {
		if got[id] != 1 {
			if bad++; bad <= 5 {
				t.Errorf("h1: event %s dead-lettered %d times, want once", id, got[id])
			}
		}
	}
	if len(one) != n || stat != uint64(n) {
		t.Errorf("%d dead letters, SpoolStats.HookRemoved %d; want %d", len(one), stat, n)
	}
	if other := sa + sb - stat; other != 0 {
		t.Errorf("the other instance counts %d parked copies removed", other)
	}
	if c := e.srv.Count(q1); c != 0 {
		t.Errorf("%d messages in the abandoned hook's queue", c)
	}
	checkOnce(t, e, q2, ids)
	t.Logf("first parked dead letter %v after the wait ended", times[0].Sub(until.Add(wait)).Round(time.Millisecond))
}

// TestPostgresRemovalWhileAnotherConfigures: two instances configure the
// same tenant's hook; B owns its lease and holds FetchAhead copies while
// the queue fails. B removes the tenant while A keeps it and publishes
// more: B's RemoveTenant returns once none of the copies recorded before
// the removal is left in the database, and every event, before and after,
// is delivered exactly once.
func TestPostgresRemovalWhileAnotherConfigures(t *testing.T) {
	e := newPGEnv(t, time.Second)
	e.opts.FetchAhead = 20
	q := e.srv.CreateQueue("shared", nil)
	h := pgHook("h", q)
	b := e.node(t, "b", nil, sqshook.WithResourceAuthForTenants())
	if err := b.d.Tenant("acme").SetHooks([]sqshook.Hook{h}); err != nil {
		t.Fatal(err)
	}
	before := pgPublishN(t, b.d.Tenant("acme"), "first", 1)
	waitPG(t, "B owns the hook", func() bool { return e.owned(t, "b") == 1 && e.srv.Count(q) == 1 })
	a := e.node(t, "a", nil, sqshook.WithResourceAuthForTenants())
	if err := a.d.Tenant("acme").SetHooks([]sqshook.Hook{h}); err != nil {
		t.Fatal(err)
	}
	e.srv.SetOutage(true)
	before = append(before, pgPublishN(t, a.d.Tenant("acme"), "a", 150)...)
	before = append(before, pgPublishN(t, b.d.Tenant("acme"), "b", 150)...)
	hits := waitOutageHit(t, e, 0)
	if e.owned(t, "b") != 1 {
		t.Fatalf("B does not own the hook (A owns %d)", e.owned(t, "a"))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.d.RemoveTenant(ctx, "acme") }()
	after := pgPublishN(t, a.d.Tenant("acme"), "after", 50)
	waitOutageHit(t, e, hits)
	e.srv.SetOutage(false)
	if err := <-done; err != nil {
		t.Fatalf("RemoveTenant on B: %v", err)
	}
	if c := e.copiesOf(t, before); c != 0 {
		t.Errorf("%d copies of events recorded before the removal left in the database when RemoveTenant returned", c)
	}
	waitPG(t, "every event delivered", func() bool { return e.count(t, "sqshook_copy") == 0 })
	checkOnce(t, e, q, append(before, after...))
	if hs := a.d.Stats().Hooks; len(hs) != 1 || hs[0].Draining {
		t.Errorf("A's hooks: %+v, want its hook active", hs)
	}
}
