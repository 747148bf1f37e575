package streamapi_test

// Tests of PostgresStore and Fleet: several handlers (each its own pool,
// dispatcher and Fleet, as separate servers would have) on one PostgreSQL
// schema. They need SQSHOOK_POSTGRES_URL (scripts/test.sh sets it); without
// it they fail in CI and are skipped, loudly, elsewhere.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/internal/pgtest"
	"github.com/sqshook/sqshook/sqstest"
	"github.com/sqshook/sqshook/streamapi"
)

// pgEnv is a database schema the nodes of a test share.
type pgEnv struct {
	url  string
	opts streamapi.PostgresOptions
	sqs  *sqstest.Server
}

func newPGEnv(t *testing.T) *pgEnv {
	t.Helper()
	url := pgtest.URL(t)
	schema := pgtest.CreateSchema(t, url, "sqshook_test_")
	e := &pgEnv{url: url, opts: streamapi.PostgresOptions{Schema: schema, Channel: schema}, sqs: sqstest.NewServer()}
	t.Cleanup(e.sqs.Close)
	pool := pgtest.Pool(t, url)
	pgtest.Migrate(t, func(ctx context.Context) error { return streamapi.MigratePostgres(ctx, pool, e.opts) })
	return e
}

// node is one server of the fleet: its pool, store, dispatchers, Fleet and
// handler.
type node struct {
	*env
	pool  *pgxpool.Pool
	pg    *streamapi.PostgresStore
	fleet *streamapi.Fleet

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan error
}

func (p *pgEnv) node(t *testing.T, popts streamapi.PostgresOptions, fopts streamapi.FleetOptions) *node {
	t.Helper()
	n := &node{env: &env{sqs: p.sqs, logs: &syncBuffer{}}}
	ds, err := streamapi.NewTenants(sqshook.WithEndpoint(p.sqs.URL()), sqshook.WithLinger(time.Millisecond),
		sqshook.WithLogger(slog.New(slog.NewTextHandler(n.logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	n.ds = ds
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := n.ds.Close(ctx); err != nil {
			t.Errorf("Tenants.Close: %v", err)
		}
	})
	n.pool = pgtest.Pool(t, p.url)
	n.pg = streamapi.NewPostgresStore(n.pool, popts)
	fopts.Logger = slog.New(slog.NewTextHandler(n.logs, nil))
	n.fleet = streamapi.NewFleet(n.pg, n.ds, fopts)
	n.store = n.pg
	h, err := streamapi.New(streamapi.Options{
		Apps: testApps(), Store: n.pg, Applier: n.fleet, Endpoint: p.sqs.URL(),
		Logger: slog.New(slog.NewTextHandler(n.logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	n.h = h
	n.srv = httptest.NewServer(h)
	t.Cleanup(n.srv.Close)
	t.Cleanup(n.stop) // before the pool closes
	return n
}

// start runs the node's Fleet; wait for its first reconcile with ready.
func (n *node) start() {
	n.mu.Lock()
	defer n.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan error, 1)
	go func() { n.done <- n.fleet.Run(ctx) }()
}

func (n *node) ready(t *testing.T) {
	t.Helper()
	select {
	case <-n.fleet.Ready():
	case <-time.After(30 * time.Second):
		t.Fatalf("the Fleet did not become ready in 30 s; logs:\n%s", n.logs)
	}
}

// stop ends Run and waits for it to return.
func (n *node) stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cancel == nil {
		return
	}
	n.cancel()
	<-n.done
	n.cancel = nil
}

// queues returns the SQS queue URLs of tenant's hooks in the node's
// dispatcher, sorted.
func (n *node) queues(tenant string) []string {
	var out []string
	for _, h := range n.ds.Hooks(tenant) {
		out = append(out, h.SQSQueueURL)
	}
	slices.Sort(out)
	return out
}

// waitFor polls cond until it holds or 20 s pass, returning how long it
// took.
func waitFor(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 20 s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

// listedQueues returns the sqs_queue_url of each hook GET /app lists.
func listedQueues(t *testing.T, e *env, keyOf func(*testing.T, string, string, any) response) []string {
	t.Helper()
	r := keyOf(t, "GET", "/app", nil)
	wantOK(t, "GET /app", r)
	var out []string
	for _, h := range hooksOf(t, r) {
		out = append(out, h["sqs_queue_url"].(string))
	}
	slices.Sort(out)
	return out
}

// publishMarked publishes one event for tenant whose body holds marker.
func publishMarked(t *testing.T, ds *streamapi.Tenants, tenant, marker string) {
	t.Helper()
	ev, err := sqshook.NewEvent("message.new", map[string]any{"type": "message.new", "marker": marker})
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Publish(context.Background(), tenant, ev); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

func received(s *sqstest.Server, queueURL, marker string) bool {
	for _, m := range s.Received(queueURL) {
		// streamapi's hooks deliver in Stream's encoding (base64).
		if body, err := sqshook.DecodeBody(m.Body); err == nil && strings.Contains(string(body), marker) {
			return true
		}
	}
	return false
}

// A hook added through one server is listed by another and put into effect
// in its dispatcher by the notification alone (the periodic reconcile is
// an hour away), and events published by either server reach it.
func TestFleetPostgresHookAddedThroughAReachesB(t *testing.T) {
	p := newPGEnv(t)
	fopts := streamapi.FleetOptions{ReconcileInterval: time.Hour}
	a, b := p.node(t, p.opts, fopts), p.node(t, p.opts, fopts)
	a.start()
	b.start()
	a.ready(t)
	b.ready(t)

	hook := a.sqsHook(t, "fleet-q")
	url := hook["sqs_queue_url"].(string)
	sent := time.Now()
	wantOK(t, "PATCH /app through A", a.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{hook}}))
	waitFor(t, "B's dispatcher has the hook added through A", func() bool { return len(b.queues("tenant-a")) == 1 })
	t.Logf("a hook added through A was in effect in B's dispatcher %v after A was sent the PATCH", time.Since(sent))
	if got := listedQueues(t, b.env, b.asA); len(got) != 1 || got[0] != url {
		t.Fatalf("GET /app through B lists %q, want [%q]", got, url)
	}
	if got := b.queues("tenant-a"); got[0] != url {
		t.Fatalf("B's dispatcher sends to %q, want %q", got, url)
	}
	// The other app is untouched everywhere.
	if got := b.queues("tenant-b"); got != nil {
		t.Fatalf("B's dispatcher has hooks %q for tenant-b, which nobody changed", got)
	}

	for _, n := range []struct {
		name string
		n    *node
	}{{"A", a}, {"B", b}} {
		marker := "published-by-" + n.name
		start := time.Now()
		publishMarked(t, n.n.ds, "tenant-a", marker)
		waitFor(t, "the event published by "+n.name, func() bool { return received(p.sqs, url, marker) })
		t.Logf("an event published by %s reached the queue in %v", n.name, time.Since(start))
	}

	// An app setting changed through A reaches B too: with compression on,
	// B sends the hook's bodies gzipped.
	id := hooksOf(t, a.asA(t, "GET", "/app", nil))[0]["id"].(string)
	if enc, _ := b.ds.Encoding("tenant-a", id); enc != sqshook.EncodingBase64 {
		t.Fatalf("B sends the hook in %q before compression is on, want base64", enc)
	}
	wantOK(t, "PATCH /app compression through A", a.asA(t, "PATCH", "/app", map[string]any{"enable_hook_payload_compression": true}))
	waitFor(t, "B's dispatcher sends the hook gzipped", func() bool {
		enc, _ := b.ds.Encoding("tenant-a", id)
		return enc == sqshook.EncodingGzip
	})

	// A change through B reaches A the same way: removing the hook.
	sent = time.Now()
	wantOK(t, "PATCH /app through B", b.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{}}))
	waitFor(t, "A's dispatcher drops the hook removed through B", func() bool { return len(a.queues("tenant-a")) == 0 })
	t.Logf("a hook removed through B was out of A's dispatcher %v after B was sent the PATCH", time.Since(sent))
}

// Concurrent updates of one app through two servers: with
// explicit_event_hooks_deletion each adds its hook to the list as stored,
// so every hook is kept; whole-list replacements end with the last
// writer's list, the same on both servers and in both dispatchers.
func TestFleetPostgresConcurrentPatches(t *testing.T) {
	p := newPGEnv(t)
	fopts := streamapi.FleetOptions{ReconcileInterval: time.Hour}
	a, b := p.node(t, p.opts, fopts), p.node(t, p.opts, fopts)
	a.start()
	b.start()
	a.ready(t)
	b.ready(t)

	const rounds = 8
	var want []string
	hooks := map[*node][]map[string]any{}
	for _, n := range []*node{a, b} {
		for i := range rounds {
			h := n.sqsHook(t, fmt.Sprintf("merge-%p-%d", n, i))
			hooks[n] = append(hooks[n], h)
			want = append(want, h["sqs_queue_url"].(string))
		}
	}
	slices.Sort(want)
	var wg sync.WaitGroup
	errs := make(chan string, 2*rounds)
	for _, n := range []*node{a, b} {
		wg.Go(func() {
			for _, h := range hooks[n] {
				r := n.call(t, "PATCH", "/app", keyA, serverToken(t, secretA),
					map[string]any{"event_hooks": []any{h}, "explicit_event_hooks_deletion": true})
				if r.status != 200 {
					errs <- r.raw
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("a concurrent PATCH failed: %s", e)
	}
	for _, n := range []*node{a, b} {
		if got := listedQueues(t, n.env, n.asA); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("after concurrent merging PATCHes GET /app lists %d hooks, want all %d:\n got %q\nwant %q", len(got), len(want), got, want)
		}
		waitFor(t, "every dispatcher holds every merged hook", func() bool { return strings.Join(n.queues("tenant-a"), " ") == strings.Join(want, " ") })
	}

	// Whole-list replacements: one list wins, everywhere.
	lists := map[*node][]any{}
	for _, n := range []*node{a, b} {
		lists[n] = []any{n.sqsHook(t, fmt.Sprintf("whole-%p", n))}
	}
	for range 5 {
		for _, n := range []*node{a, b} {
			wg.Go(func() {
				wantOK(t, "whole-list PATCH", n.asA(t, "PATCH", "/app", map[string]any{"event_hooks": lists[n]}))
			})
		}
		wg.Wait()
	}
	la, lb := listedQueues(t, a.env, a.asA), listedQueues(t, b.env, b.asA)
	if len(la) != 1 || strings.Join(la, " ") != strings.Join(lb, " ") {
		t.Fatalf("after concurrent whole-list PATCHes A lists %q and B %q, want one and the same list", la, lb)
	}
	for _, n := range []*node{a, b} {
		waitFor(t, "both dispatchers hold the winning list", func() bool { return strings.Join(n.queues("tenant-a"), " ") == la[0] })
	}
}

// A server that missed notifications catches up: when its Fleet is
// restarted (its first reconcile), and by the periodic reconcile when it
// never hears a notification at all.
func TestFleetPostgresMissedNotificationsConverge(t *testing.T) {
	p := newPGEnv(t)
	a := p.node(t, p.opts, streamapi.FleetOptions{ReconcileInterval: time.Hour})
	b := p.node(t, p.opts, streamapi.FleetOptions{ReconcileInterval: time.Hour})
	// c listens on another channel: only its periodic reconcile tells it.
	deaf := p.opts
	deaf.Channel = p.opts.Channel + "_elsewhere"
	c := p.node(t, deaf, streamapi.FleetOptions{ReconcileInterval: 50 * time.Millisecond})
	for _, n := range []*node{a, b, c} {
		n.start()
		n.ready(t)
	}

	b.stop()
	h1, h2 := a.sqsHook(t, "missed-a"), a.sqsHook(t, "missed-b")
	wantOK(t, "PATCH tenant-a", a.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{h1}}))
	wantOK(t, "PATCH tenant-b", a.asB(t, "PATCH", "/app", map[string]any{"event_hooks": []any{h2}}))
	// c: the periodic reconcile.
	waitFor(t, "the deaf server's reconcile applies tenant-a", func() bool { return len(c.queues("tenant-a")) == 1 })
	waitFor(t, "the deaf server's reconcile applies tenant-b", func() bool { return len(c.queues("tenant-b")) == 1 })
	if got := b.queues("tenant-a"); got != nil {
		t.Fatalf("B, stopped, applied %q", got)
	}
	// b: its restart.
	b.start()
	waitFor(t, "the restarted server applies both apps", func() bool {
		return len(b.queues("tenant-a")) == 1 && len(b.queues("tenant-b")) == 1
	})
	if got, want := b.queues("tenant-a")[0], h1["sqs_queue_url"]; got != want {
		t.Fatalf("B sends tenant-a's events to %q, want %q", got, want)
	}
}

// When the listening connection is cut, the Fleet reconnects and
// reconciles: a change saved meanwhile reaches it with no periodic
// reconcile to help.
func TestFleetPostgresReconnects(t *testing.T) {
	p := newPGEnv(t)
	fopts := streamapi.FleetOptions{ReconcileInterval: time.Hour, MaxReconnectDelay: 200 * time.Millisecond}
	a, b := p.node(t, p.opts, fopts), p.node(t, p.opts, fopts)
	a.start()
	b.start()
	a.ready(t)
	b.ready(t)

	admin := pgtest.Pool(t, p.url)
	pid := streamapi.ListenPID(b.fleet)
	var ok bool
	if err := admin.QueryRow(context.Background(), "SELECT pg_terminate_backend($1)", int32(pid)).Scan(&ok); err != nil || !ok {
		t.Fatalf("terminating B's listening connection %d: %v %v", pid, ok, err)
	}
	wantOK(t, "PATCH through A", a.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{a.sqsHook(t, "reconnect")}}))
	waitFor(t, "B, reconnected, applies the hook", func() bool { return len(b.queues("tenant-a")) == 1 })
	if streamapi.ListenPID(b.fleet) == pid {
		t.Fatalf("B still reports the terminated connection %d", pid)
	}
	if !strings.Contains(b.logs.String(), "reconnecting") {
		t.Errorf("B logged no lost connection:\n%s", b.logs)
	}
}

// The store itself: versions, last writer wins for plain saves, the lock
// waits across pools, and a locked save refuses a list changed since its
// load.
func TestPostgresStore(t *testing.T) {
	p := newPGEnv(t)
	ctx := context.Background()
	s1 := streamapi.NewPostgresStore(pgtest.Pool(t, p.url), p.opts)
	s2 := streamapi.NewPostgresStore(pgtest.Pool(t, p.url), p.opts)

	got, err := s1.Load(ctx, "nobody")
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Load of an unknown app = %v, %v; want an empty list", got, err)
	}
	one := []json.RawMessage{json.RawMessage(`{"id":"1","hook_type":"webhook","x":"\u0000 kept"}`)}
	if err := s1.Save(ctx, "t", one); err != nil {
		t.Fatal(err)
	}
	got, err = s2.Load(ctx, "t")
	if err != nil || len(got) != 1 {
		t.Fatalf("Load through another pool = %s, %v", got, err)
	}
	var o map[string]string
	if err := json.Unmarshal(got[0], &o); err != nil || o["x"] != "\x00 kept" || o["id"] != "1" {
		t.Fatalf("stored hook came back as %s (%v)", got[0], err)
	}

	locked, unlock, err := s1.LockTenant(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unlock) // when the test fails before unlocking: before the pool closes
	if _, err := locked.Load(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	// Another pool waits for the lock.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, _, err = s2.LockTenant(short, "t")
	cancel()
	if err == nil {
		t.Fatal("a second LockTenant of the same app succeeded while the first held it")
	}
	// Another app is not locked.
	_, unlockU, err := s2.LockTenant(ctx, "u")
	if err != nil {
		t.Fatalf("LockTenant of another app: %v", err)
	}
	unlockU()
	unlockU() // a second call does nothing
	// A writer that ignores the lock makes the locked save fail.
	if err := s2.Save(ctx, "t", nil); err != nil {
		t.Fatal(err)
	}
	if err := locked.Save(ctx, "t", one); !errors.Is(err, streamapi.ErrConcurrentUpdate) {
		t.Fatalf("locked Save after another writer's save = %v, want ErrConcurrentUpdate", err)
	}
	unlock()
	if got, _ := s1.Load(ctx, "t"); len(got) != 0 {
		t.Fatalf("the refused locked Save stored %s", got)
	}
	// The lock is free again.
	l2, unlock2, err := s2.LockTenant(ctx, "t")
	if err != nil {
		t.Fatalf("LockTenant after unlock: %v", err)
	}
	t.Cleanup(unlock2)
	if _, err := l2.Load(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if err := l2.Save(ctx, "t", one); err != nil {
		t.Fatalf("locked Save with nobody else writing: %v", err)
	}
	unlock2()
}
