// pgstore_test.go tests the PostgreSQL store (pgstore.go, WithPostgres)
// against a real server: the versioned migration, transactional publish
// (delivered if and only if committed), a fleet of two dispatchers on one
// database (every event delivered, FIFO order kept, a dead instance's
// hooks taken over after its lease) and an unreachable database. They need
// SQSHOOK_POSTGRES_URL (scripts/test.sh sets it); without it they fail in
// CI and are skipped, loudly, elsewhere.

package sqshook_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/internal/pgtest"
	"github.com/sqshook/sqshook/sqstest"
)

// pgTestURL returns the test database's URL: failing in CI, skipping
// (loudly) elsewhere when there is none.
func pgTestURL(t *testing.T) string {
	t.Helper()
	return pgtest.URL(t)
}

// pgTestSchema names a schema of the test's own, dropped at cleanup
// (MigratePostgres creates it).
func pgTestSchema(t *testing.T, url string) string {
	t.Helper()
	return pgtest.Schema(t, url, "sqshook_store_test_")
}

func pgTestPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	return pgtest.Pool(t, url)
}

// pgEnv is a migrated schema and an SQS server that a test's dispatchers
// share.
type pgEnv struct {
	url  string
	opts sqshook.PostgresOptions
	pool *pgxpool.Pool // the test's own, for looking at the tables
	srv  *sqstest.Server
}

func newPGEnv(t *testing.T, lease time.Duration) *pgEnv {
	t.Helper()
	url := pgTestURL(t)
	e := &pgEnv{url: url, srv: sqstest.NewServer()}
	t.Cleanup(e.srv.Close)
	e.opts = sqshook.PostgresOptions{Schema: pgTestSchema(t, url), Lease: lease, Poll: 5 * time.Millisecond}
	e.pool = pgTestPool(t, url)
	pgtest.Migrate(t, func(ctx context.Context) error { return sqshook.MigratePostgres(ctx, e.pool, e.opts) })
	return e
}

func (e *pgEnv) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{e.opts.Schema, table}.Sanitize()).Scan(&n); err != nil {
		t.Fatalf("counting %s: %v", table, err)
	}
	return n
}

// owned counts the lease rows owned, unexpired, by instance.
func (e *pgEnv) owned(t *testing.T, instance string) int {
	t.Helper()
	var n int
	err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{e.opts.Schema, "sqshook_lease"}.Sanitize()+
		" WHERE owner = $1 AND until > now()", instance).Scan(&n)
	if err != nil {
		t.Fatalf("counting leases: %v", err)
	}
	return n
}

// killableSQS is an SQS client that an instance's death stops: from kill
// on, its calls wait until their context ends, as a dead process's would
// never answer.
type killableSQS struct {
	*sqs.Client
	dead chan struct{}
	once sync.Once
}

func (k *killableSQS) kill() { k.once.Do(func() { close(k.dead) }) }

func (k *killableSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	select {
	case <-k.dead:
		<-ctx.Done()
		return nil, ctx.Err()
	default:
	}
	return k.Client.SendMessageBatch(ctx, in, opts...)
}

// pgNode is one instance of the fleet: its own pool, SQS client and
// dispatcher.
type pgNode struct {
	id   string
	pool *pgxpool.Pool
	sqs  *killableSQS
	d    *sqshook.Dispatcher
}

func (e *pgEnv) node(t *testing.T, id string, hooks []sqshook.Hook, opts ...sqshook.Option) *pgNode {
	t.Helper()
	n := &pgNode{id: id, pool: pgTestPool(t, e.url), sqs: &killableSQS{Client: e.srv.Client(), dead: make(chan struct{})}}
	po := e.opts
	po.InstanceID = id
	base := []sqshook.Option{
		sqshook.WithPostgres(n.pool, po),
		sqshook.WithEndpoint(e.srv.URL()),
		sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) { return n.sqs, nil }),
		sqshook.WithLinger(time.Millisecond),
		sqshook.WithRetryPolicy(fastRetries),
	}
	n.d = startDispatcher(t, hooks, append(base, opts...)...)
	return n
}

func pgHook(id, url string) sqshook.Hook {
	return sqshook.Hook{ID: id, Enabled: true, HookType: "sqs", SQSQueueURL: url, SQSRegion: "us-east-1", SQSAuthType: "resource"}
}

// eventIDs lists the event ids a queue received, in its order.
func eventIDs(srv *sqstest.Server, url string) []string {
	var ids []string
	for _, m := range srv.Received(url) {
		ids = append(ids, m.Attributes[sqshook.AttrEventID].StringValue)
	}
	return ids
}

// pgEnvInt is the positive number in the variable name, def when it is
// unset.
func pgEnvInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		t.Fatalf("%s=%q: not a positive number", name, s)
	}
	return v
}

// waitPG polls cond until it holds, failing after a generous minute.
func waitPG(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached in 2 minutes", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestPostgresMigrate(t *testing.T) {
	url := pgTestURL(t)
	schema := pgTestSchema(t, url)
	pool := pgTestPool(t, url)
	opts := sqshook.PostgresOptions{Schema: schema}
	ctx := context.Background()
	hooks := []sqshook.Hook{pgHook("h", "https://sqs.us-east-1.amazonaws.com/123456789012/q")}
	newD := func() (*sqshook.Dispatcher, error) {
		return sqshook.New(hooks, sqshook.WithPostgres(pool, opts),
			sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) { return newFake(), nil }))
	}
	// New never creates the schema.
	if d, err := newD(); err == nil {
		_ = d.Close(ctx)
		t.Fatal("New before MigratePostgres: no error")
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema).Scan(&n); err != nil || n != 0 {
		t.Fatalf("New created the schema (%d, %v)", n, err)
	}
	// Migrating twice, even at once, gives one version row.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { errs[i] = sqshook.MigratePostgres(ctx, pool, opts) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("MigratePostgres: %v", err)
		}
	}
	var versions []int
	rows, _ := pool.Query(ctx, "SELECT version FROM "+schema+".sqshook_schema")
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil || len(versions) != 1 || versions[0] != sqshook.PostgresSchemaVersion {
		t.Fatalf("versions %v (%v), want [%d]", versions, err, sqshook.PostgresSchemaVersion)
	}
	d, err := newD()
	if err != nil {
		t.Fatalf("New after MigratePostgres: %v", err)
	}
	if err := d.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// A newer schema is refused by both, unchanged.
	if _, err := pool.Exec(ctx, "UPDATE "+schema+".sqshook_schema SET version = 99"); err != nil {
		t.Fatal(err)
	}
	if err := sqshook.MigratePostgres(ctx, pool, opts); !errors.Is(err, sqshook.ErrSchemaVersion) {
		t.Fatalf("MigratePostgres on version 99: %v, want ErrSchemaVersion", err)
	}
	if d, err := newD(); !errors.Is(err, sqshook.ErrSchemaVersion) {
		if d != nil {
			_ = d.Close(ctx)
		}
		t.Fatalf("New on version 99: %v, want ErrSchemaVersion", err)
	}
	// PublishTx without WithPostgres.
	plain := startDispatcher(t, hooks, sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) { return newFake(), nil }))
	if err := plain.PublishTx(ctx, nil, event(t, "message.new", 1)); !errors.Is(err, sqshook.ErrNoPostgres) {
		t.Fatalf("PublishTx without WithPostgres: %v", err)
	}
}

// TestPostgresTransactions publishes events inside transactions, 30% of
// them rolled back: the delivered set equals the committed set exactly.
// 10,000 events; 2,000 under the race detector.
func TestPostgresTransactions(t *testing.T) {
	e := newPGEnv(t, 2*time.Second)
	url := e.srv.CreateQueue("tx", nil)
	n := 10000
	if pgRace {
		n = 2000
	}
	node := e.node(t, "a", []sqshook.Hook{pgHook("h", url)})
	tenant := node.d.Tenant("")
	const publishers = 8
	var committed sync.Map
	var commits, rollbacks atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := range publishers {
		wg.Go(func() {
			ctx := context.Background()
			for i := w; i < n; i += publishers {
				id := fmt.Sprintf("ev-%05d", i)
				ev := sqshook.Event{ID: id, Type: "message.new", Body: chatEventJSON(t, "message.new", id)}
				tx, err := node.pool.Begin(ctx)
				if err != nil {
					t.Errorf("Begin: %v", err)
					return
				}
				if err := tenant.PublishTx(ctx, tx, ev); err != nil {
					t.Errorf("PublishTx: %v", err)
					_ = tx.Rollback(ctx)
					return
				}
				if i%10 < 3 {
					if err := tx.Rollback(ctx); err != nil {
						t.Errorf("Rollback: %v", err)
					}
					rollbacks.Add(1)
					continue
				}
				if err := tx.Commit(ctx); err != nil {
					t.Errorf("Commit: %v", err)
					return
				}
				committed.Store(id, true)
				commits.Add(1)
			}
		})
	}
	wg.Wait()
	published := time.Since(start)
	if t.Failed() {
		return
	}
	want := int(commits.Load())
	waitPG(t, "every committed event delivered and settled", func() bool {
		return e.srv.Count(url) >= want && e.count(t, "sqshook_copy") == 0
	})
	drained := time.Since(start)
	got := map[string]int{}
	for _, id := range eventIDs(e.srv, url) {
		got[id]++
	}
	for id, c := range got {
		if _, ok := committed.Load(id); !ok {
			t.Errorf("event %s delivered but rolled back", id)
		}
		if c != 1 {
			t.Errorf("event %s delivered %d times", id, c)
		}
	}
	committed.Range(func(k, _ any) bool {
		if got[k.(string)] == 0 {
			t.Errorf("event %s committed but not delivered", k)
		}
		return true
	})
	if len(got) != want || rollbacks.Load() == 0 {
		t.Errorf("%d delivered, %d committed, %d rolled back", len(got), want, rollbacks.Load())
	}
	st := node.d.Stats().Hooks[0]
	t.Logf("%d events in transactions (%d committed, %d rolled back): published in %v (%.0f tx/s), all delivered after %v (%.0f copies/s); %d calls, %.2f entries per call",
		n, want, rollbacks.Load(), published.Round(time.Millisecond), float64(n)/published.Seconds(),
		drained.Round(time.Millisecond), float64(want)/drained.Seconds(), st.Batches, float64(st.Delivered)/float64(max(st.Batches, 1)))
}

// TestPostgresFleetFailover runs two dispatchers on one database: A owns
// both hooks (a standard and a FIFO one) until B joins and takes its
// share, then A dies abruptly (its SQS calls
// never answer, its pool closes, its leases are not released), and B
// takes over once A's lease lapses. Every event is delivered, duplicates
// only of copies A held at its death, and each FIFO group in order.
func TestPostgresFleetFailover(t *testing.T) {
	const lease = 500 * time.Millisecond
	e := newPGEnv(t, lease)
	std := e.srv.CreateQueue("fleet", nil)
	fifo := e.srv.CreateQueue("fleet.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "false"})
	hooks := []sqshook.Hook{pgHook("std", std), pgHook("fifo", fifo)}
	a := e.node(t, "a", hooks)
	// A takes both leases before B starts.
	if err := a.d.Publish(context.Background(), sqshook.Event{ID: "first", Type: "message.new", Body: chatEventJSON(t, "message.new", "first"), GroupID: "g0"}); err != nil {
		t.Fatal(err)
	}
	waitPG(t, "A owns both hooks", func() bool { return e.owned(t, "a") == 2 })
	b := e.node(t, "b", hooks)

	const groups = 4
	perGroup := 500
	if pgRace {
		perGroup = 150
	}
	published := []string{"first"}
	var pubMu sync.Mutex
	publishPhase := func(from, to int, nodes ...*pgNode) {
		var wg sync.WaitGroup
		for g := range groups {
			wg.Go(func() {
				for i := from; i < to; i++ {
					id := fmt.Sprintf("g%d-%04d", g, i)
					n := nodes[i%len(nodes)]
					ev := sqshook.Event{ID: id, Type: "message.new", Body: chatEventJSON(t, "message.new", id), GroupID: fmt.Sprintf("g%d", g)}
					if err := n.d.Publish(context.Background(), ev); err != nil {
						t.Errorf("Publish on %s: %v", n.id, err)
						return
					}
					pubMu.Lock()
					published = append(published, id)
					pubMu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	publishPhase(0, perGroup/2, a, b)
	// Some of it delivered by A, then A dies.
	waitPG(t, "A delivers", func() bool { return e.srv.Count(std) > perGroup/4 })
	if e.owned(t, "a") == 0 { // B has taken its fair share (pgstore_balance.go), not more
		t.Fatalf("A owns no lease while alive (B owns %d)", e.owned(t, "b"))
	}
	a.sqs.kill()
	killed := time.Now()
	a.pool.Close()
	waitPG(t, "B owns both hooks", func() bool { return e.owned(t, "b") == 2 })
	takeover := time.Since(killed)
	publishPhase(perGroup/2, perGroup, b)
	waitPG(t, "every event delivered and settled", func() bool {
		return e.count(t, "sqshook_copy") == 0
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = a.d.Close(ctx) // gives up on what it held: nothing reaches SQS

	for _, q := range []string{std, fifo} {
		got := map[string]int{}
		for _, id := range eventIDs(e.srv, q) {
			got[id]++
		}
		dups := 0
		for _, id := range published {
			if got[id] == 0 {
				t.Errorf("%s: event %s not delivered", q, id)
			}
			dups += max(got[id]-1, 0)
		}
		if len(got) != len(published) {
			t.Errorf("%s: %d distinct events delivered, %d published", q, len(got), len(published))
		}
		if dups > 2*sqshook.DefaultPostgresFetchAhead {
			t.Errorf("%s: %d duplicates, more than A could hold", q, dups)
		}
		t.Logf("%s: %d events, %d duplicates", q, len(published), dups)
	}
	// Each group's order in the FIFO queue (a FIFO queue drops the
	// duplicates of a deduplication id, so each event is there once).
	last := map[string]string{}
	for _, m := range e.srv.Received(fifo) {
		id := m.Attributes[sqshook.AttrEventID].StringValue
		if prev, ok := last[m.GroupID]; ok && id < prev && id != "first" {
			t.Errorf("group %s: %s after %s", m.GroupID, id, prev)
		}
		last[m.GroupID] = id
	}
	if takeover > 20*lease {
		t.Errorf("B took over %v after A died; lease %v", takeover, lease)
	}
	t.Logf("takeover %v after A died (lease %v, poll %v)", takeover.Round(time.Millisecond), lease, e.opts.Poll)
}

// TestPostgresUnreachable: with the database unreachable, Publish fails
// within its context with ErrStoreUnavailable and records nothing;
// delivery resumes when it returns, nothing lost.
func TestPostgresUnreachable(t *testing.T) {
	e := newPGEnv(t, time.Second)
	url := e.srv.CreateQueue("down", nil)
	pool, px := pgtest.ProxiedPool(t, e.url)
	po := e.opts
	d := startDispatcher(t, []sqshook.Hook{pgHook("h", url)},
		sqshook.WithPostgres(pool, po), sqshook.WithEndpoint(e.srv.URL()), sqshook.WithLinger(time.Millisecond),
		sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) { return e.srv.Client(), nil }))
	pub := func(ctx context.Context, id string) error {
		return d.Publish(ctx, sqshook.Event{ID: id, Type: "message.new", Body: chatEventJSON(t, "message.new", id)})
	}
	if err := pub(context.Background(), "before"); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	waitPG(t, "first event delivered", func() bool { return e.srv.Count(url) == 1 })

	px.Cut()
	const bound = 3 * time.Second
	for i := range 3 { // a pooled connection, then new ones
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		start := time.Now()
		err := pub(ctx, fmt.Sprintf("down-%d", i))
		took := time.Since(start)
		cancel()
		if !errors.Is(err, sqshook.ErrStoreUnavailable) {
			t.Fatalf("Publish with the database unreachable: %v, want ErrStoreUnavailable", err)
		}
		if took > bound+time.Second {
			t.Errorf("Publish took %v, past its context's %v", took, bound)
		}
		t.Logf("Publish %d failed after %v: %v", i, took.Round(time.Microsecond), err)
	}
	if n := e.count(t, "sqshook_event"); n != 1 {
		t.Fatalf("%d events recorded, want only the first", n)
	}
	px.Restore()
	waitPG(t, "Publish succeeds again", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		return pub(ctx, "after") == nil
	})
	waitPG(t, "every recorded event delivered", func() bool { return e.count(t, "sqshook_copy") == 0 })
	got := map[string]bool{}
	for _, id := range eventIDs(e.srv, url) {
		got[id] = true
	}
	for _, id := range []string{"before", "after"} {
		if !got[id] {
			t.Errorf("event %s not delivered (got %v)", id, got)
		}
	}
	for id := range got {
		if id != "before" && id != "after" {
			t.Errorf("event %s delivered, never recorded", id)
		}
	}
}

// TestPostgresLateCommit: an event whose transaction took its id before
// a later event's but commits after that one was delivered is delivered
// too (the owner reads past its position the transactions in progress at
// its previous read).
func TestPostgresLateCommit(t *testing.T) {
	e := newPGEnv(t, 2*time.Second)
	url := e.srv.CreateQueue("late", nil)
	node := e.node(t, "a", []sqshook.Hook{pgHook("h", url)})
	ctx := context.Background()
	ev := func(id string) sqshook.Event {
		return sqshook.Event{ID: id, Type: "message.new", Body: chatEventJSON(t, "message.new", id)}
	}
	tx, err := node.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := node.d.PublishTx(ctx, tx, ev("early-id")); err != nil {
		t.Fatalf("PublishTx: %v", err)
	}
	for i := range 3 {
		if err := node.d.Publish(ctx, ev(fmt.Sprintf("later-%d", i))); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	waitPG(t, "the later events delivered", func() bool { return e.srv.Count(url) == 3 })
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	waitPG(t, "the late commit delivered", func() bool { return e.count(t, "sqshook_copy") == 0 })
	ids := eventIDs(e.srv, url)
	if len(ids) != 4 || ids[3] != "early-id" {
		t.Fatalf("delivered %v, want the three later events then early-id", ids)
	}
}

// TestPostgresLateCommitAcrossPages: a round of the fetch that pages (the
// owner's room, FetchAhead 2, smaller than the backlog) must not send a
// FIFO group's event committed after the round began before the group's
// earlier event, recorded in a transaction that committed late, below the
// round's position. Page by page, each with its own snapshot, the second
// page saw the later event and the next round the earlier one.
func TestPostgresLateCommitAcrossPages(t *testing.T) {
	e := newPGEnv(t, 2*time.Second)
	e.opts.FetchAhead = 2
	url := e.srv.CreateQueue("pages.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "false"})
	release := make(chan struct{})
	e.srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Release: release})
	node := e.node(t, "a", []sqshook.Hook{pgHook("h", url)})
	ctx := context.Background()
	ev := func(id, group string) sqshook.Event {
		return sqshook.Event{ID: id, Type: "message.new", GroupID: group, Body: chatEventJSON(t, "message.new", id)}
	}
	tx, err := node.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := node.d.PublishTx(ctx, tx, ev("g-1", "g")); err != nil {
		t.Fatalf("PublishTx: %v", err)
	}
	for _, id := range []string{"a", "b", "c"} {
		if err := node.d.Publish(ctx, ev(id, id)); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	// The owner has taken two copies (its room), both past g-1, and their
	// calls are held: the round that read them is under way.
	waitPG(t, "two copies fetched and their calls held", func() bool {
		return node.d.Stats().Spool.Fetched == 2 && e.srv.Held() >= 1
	})
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := node.d.Publish(ctx, ev("g-2", "g")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	close(release)
	waitPG(t, "every copy delivered", func() bool { return e.count(t, "sqshook_copy") == 0 })
	var g []string
	for _, id := range eventIDs(e.srv, url) {
		if strings.HasPrefix(id, "g-") {
			g = append(g, id)
		}
	}
	if !slices.Equal(g, []string{"g-1", "g-2"}) {
		t.Fatalf("group g received %v, want [g-1 g-2]", g)
	}
}

// TestPostgresOptionsRefused: names PostgreSQL would cut or cannot hold,
// an instance id that is no name, a poll too short, and, for the sweep
// run by hand, a nil pool or a negative retention (which would delete
// every delivered event) are refused before the database is touched.
func TestPostgresOptionsRefused(t *testing.T) {
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	long := strings.Repeat("s", 64)
	for _, c := range []struct {
		name string
		opts sqshook.PostgresOptions
		want string
	}{
		{"schema of 64 bytes", sqshook.PostgresOptions{Schema: long}, "at most 63"},
		{"schema with a NUL", sqshook.PostgresOptions{Schema: "a\x00b"}, "schema"},
		{"instance id with a NUL", sqshook.PostgresOptions{InstanceID: "a\x00b"}, "instance_id"},
		{"instance id of 129 bytes", sqshook.PostgresOptions{InstanceID: strings.Repeat("i", 129)}, "instance_id"},
		{"poll of 1ns", sqshook.PostgresOptions{Poll: time.Nanosecond}, "poll"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := sqshook.New(nil, sqshook.WithPostgres(pool, c.opts))
			if err == nil {
				d.Close(context.Background())
				t.Fatal("New accepted it")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New: %v; want it to say %q", err, c.want)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := sqshook.MigratePostgres(ctx, pool, sqshook.PostgresOptions{Schema: long}); err == nil || !strings.Contains(err.Error(), "at most 63") {
		t.Errorf("MigratePostgres with a 64-byte schema: %v", err)
	}
	if _, err := sqshook.SweepPostgres(ctx, nil, sqshook.PostgresOptions{}); err == nil || !strings.Contains(err.Error(), "nil pool") {
		t.Errorf("SweepPostgres with a nil pool: %v", err)
	}
	if _, err := sqshook.SweepPostgres(ctx, pool, sqshook.PostgresOptions{Retention: -1}); err == nil || !strings.Contains(err.Error(), "retention") {
		t.Errorf("SweepPostgres with a negative retention: %v", err)
	}
	if _, err := sqshook.ReplayPostgres(ctx, pool, sqshook.PostgresOptions{Schema: long}, "", "h", time.Time{}); err == nil || !strings.Contains(err.Error(), "at most 63") {
		t.Errorf("ReplayPostgres with a 64-byte schema: %v", err)
	}
	// A database that does not answer is unavailable, not unmigrated.
	if _, err := sqshook.ReplayPostgres(ctx, pool, sqshook.PostgresOptions{}, "", "h", time.Time{}); !errors.Is(err, sqshook.ErrStoreUnavailable) || strings.Contains(err.Error(), "migrate") {
		t.Errorf("ReplayPostgres with no database: %v; want ErrStoreUnavailable, no advice to migrate", err)
	}
}

// TestPostgresPoolTooSmall: New refuses a pool of one connection before
// touching the database: the sweep holds a connection for its lock while
// it uses another, and would wait for ever.
func TestPostgresPoolTooSmall(t *testing.T) {
	cfg, err := pgxpool.ParseConfig("postgres://postgres@127.0.0.1:1/none?pool_max_conns=1&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	d, err := sqshook.New(nil, sqshook.WithPostgres(pool, sqshook.PostgresOptions{}))
	if err == nil {
		d.Close(context.Background())
		t.Fatal("New accepted a pool of one connection")
	}
	if !strings.Contains(err.Error(), "at least 2") {
		t.Fatalf("New: %v; want the pool's size named", err)
	}
}

// TestPostgresNotMigrated: New, Replay and the sweep on a schema never
// migrated refuse with ErrSchemaVersion, saying what to run, rather than
// a database error about a missing table.
func TestPostgresNotMigrated(t *testing.T) {
	url := pgTestURL(t)
	pool := pgTestPool(t, url)
	opts := sqshook.PostgresOptions{Schema: pgTestSchema(t, url)}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, sqshook.ErrSchemaVersion) || !strings.Contains(err.Error(), "sqshook migrate") {
			t.Errorf("%s: %v; want ErrSchemaVersion naming the migration", what, err)
		}
	}
	d, err := sqshook.New(nil, sqshook.WithPostgres(pool, opts))
	if err == nil {
		d.Close(ctx)
	}
	check("New", err)
	_, err = sqshook.ReplayPostgres(ctx, pool, opts, "", "h", time.Now().Add(-time.Hour))
	check("ReplayPostgres", err)
	_, err = sqshook.SweepPostgres(ctx, pool, opts)
	check("SweepPostgres", err)
}
