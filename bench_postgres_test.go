// bench_postgres_test.go measures the PostgreSQL store (WithPostgres)
// against the local spool (WithSpool) on the same machine and workload,
// counts the store's database round trips per delivered batch, and the
// caller's cost of PublishTx inside a transaction next to Publish without
// a store. It needs SQSHOOK_POSTGRES_URL: without it the benchmark fails
// in CI and is skipped, loudly, elsewhere. The comparison with Watermill's
// PostgreSQL publisher and forwarder is outbox/storecmp's
// BenchmarkWatermill (a module of its own, to keep Watermill out of this
// go.mod).

package sqshook_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/internal/pgtest"
	"github.com/sqshook/sqshook/spool"
	"github.com/sqshook/sqshook/sqstest"
)

// BenchmarkPostgres delivers the same workload, one after the other on
// the same sqstest endpoint (a simulated 2 ms round trip, 1.8 KB chat
// events, three hooks on three queues), through a dispatcher with a spool
// in group-commit mode (the embedded default) and through one with the
// PostgreSQL store: 16 goroutines publish n events (Publish, outside any
// transaction, for both), and the clock stops when the three queues hold
// all 3n copies. spool-events/s and pg-events/s are delivered copies per
// second; x-spool is their ratio (pg over spool; the target is at least
// 0.5).
//
// db-rt/batch10 is the PostgreSQL store's round trips to the database per
// 10 copies delivered (the size of a full SendMessageBatch): every query,
// batch or COPY on the dispatcher's pool, counted by a pgx tracer, except
// the one INSERT statement per Publish (checked to be exactly one per
// event), so it counts the leases, fetches and deletions of delivery.
//
// publish-us and publish-allocs are Publish's own cost without a store,
// with every sender blocked (BenchmarkPublishCost's caller-ns/event);
// publishtx-us and publishtx-allocs are PublishTx's, each call one more
// event inside one open transaction (rolled back after, so nothing is
// delivered); tx-extra-us and tx-extra-allocs their differences: what
// recording the event in the caller's transaction (one INSERT, a round
// trip to the database) adds. Allocations count every goroutine; the
// PostgreSQL dispatcher's fetch loop is idle meanwhile (a poll of an
// hour, nothing committed).
func BenchmarkPostgres(b *testing.B) {
	url := pgBenchURL(b)
	const rtt = 2 * time.Millisecond
	const publishers = 16
	n := 2000
	if pgRace {
		n = 500
	}
	env := benchNewEnv(b, benchChatBody(b, benchBodyBytes), sqstest.WithLatency(rtt), sqstest.WithoutRecording())
	defer env.close()
	var tSpool, tPG time.Duration
	var rt, batches float64
	rounds := 0
	for b.Loop() {
		tSpool += env.runHooks3(b, n, publishers, sqshook.WithSpool(b.TempDir(), spool.Options{}))
		t, r := env.runPostgres(b, url, n, publishers)
		tPG += t
		rt += float64(r)
		batches += float64(3*n) / 10
		rounds++
	}
	sp := float64(rounds*3*n) / tSpool.Seconds()
	pg := float64(rounds*3*n) / tPG.Seconds()
	b.ReportMetric(0, "ns/op") // one op is a whole round: not meaningful
	b.ReportMetric(sp, "spool-events/s")
	b.ReportMetric(pg, "pg-events/s")
	b.ReportMetric(pg/sp, "x-spool")
	b.ReportMetric(rt/batches, "db-rt/batch10")

	hooks := make([]sqshook.Hook, 3) // a fake client: nothing is sent
	for i := range hooks {
		hooks[i] = benchSQSHook(fmt.Sprintf("h%d", i), fmt.Sprintf("https://sqs.us-east-1.amazonaws.com/123456789012/q%d", i))
	}
	plain := benchCallerAllocs(b, hooks, len(hooks), func() (sqshook.Event, error) {
		return sqshook.Event{Type: "message.new", Body: env.body}, nil
	})
	tx := benchPublishTx(b, url, hooks, env.body)
	b.ReportMetric(plain.ns/1e3, "publish-us")
	b.ReportMetric(plain.allocs, "publish-allocs")
	b.ReportMetric(tx.ns/1e3, "publishtx-us")
	b.ReportMetric(tx.allocs, "publishtx-allocs")
	b.ReportMetric((tx.ns-plain.ns)/1e3, "tx-extra-us")
	b.ReportMetric(tx.allocs-plain.allocs, "tx-extra-allocs")
}

// pgBenchURL is pgTestURL for a benchmark.
func pgBenchURL(b *testing.B) string {
	b.Helper()
	return pgtest.URL(b)
}

// pgBenchSchema migrates a fresh schema, dropped at cleanup, and returns
// its options.
func pgBenchSchema(b *testing.B, url string, pool *pgxpool.Pool) sqshook.PostgresOptions {
	b.Helper()
	opts := sqshook.PostgresOptions{Schema: pgtest.Schema(b, url, "sqshook_bench_")}
	pgtest.Migrate(b, func(ctx context.Context) error { return sqshook.MigratePostgres(ctx, pool, opts) })
	return opts
}

// pgRoundTrips is a pgx tracer counting round trips: a query, a batch
// (however many statements it holds) or a COPY is one. Those that record
// an event (Publish's INSERT) are counted apart.
type pgRoundTrips struct {
	n, records atomic.Int64
}

type pgInBatch struct{}

func (c *pgRoundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if ctx.Value(pgInBatch{}) != nil {
		return ctx
	}
	if strings.HasPrefix(d.SQL, "WITH e AS (\n\tINSERT INTO") {
		c.records.Add(1)
	} else {
		c.n.Add(1)
	}
	return ctx
}

func (c *pgRoundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *pgRoundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.n.Add(1)
	return context.WithValue(ctx, pgInBatch{}, true)
}

func (c *pgRoundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (c *pgRoundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

func (c *pgRoundTrips) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceCopyFromStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *pgRoundTrips) TraceCopyFromEnd(context.Context, *pgx.Conn, pgx.TraceCopyFromEndData) {}

// benchHooks3 is three hooks on three fresh queues of env's server.
func benchHooks3(env *benchEnv) []sqshook.Hook {
	hooks := make([]sqshook.Hook, 3)
	for i := range hooks {
		hooks[i] = benchSQSHook(fmt.Sprintf("h%d", i), env.newQueue("three"))
	}
	return hooks
}

// runHooks3 publishes n events to a dispatcher with three hooks and the
// given store option from the given number of goroutines, and returns the
// time until all 3n copies arrived.
func (e *benchEnv) runHooks3(b *testing.B, n, publishers int, opts ...sqshook.Option) time.Duration {
	b.Helper()
	hooks := benchHooks3(e)
	var dead atomic.Int64
	base := []sqshook.Option{
		sqshook.WithEndpoint(e.srv.URL()),
		sqshook.WithMaxInFlight(benchConcurrency),
		sqshook.WithDeadLetter(func(sqshook.DeadLetter) { dead.Add(1) }),
	}
	d, err := sqshook.New(hooks, append(base, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	defer benchClose(b, d)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	err = benchWorkers(publishers, n, func(int) error {
		return d.Publish(ctx, sqshook.Event{Type: "message.new", Body: e.body})
	})
	if err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for _, h := range hooks {
		for e.srv.Count(h.SQSQueueURL) < n {
			if time.Now().After(deadline) {
				b.Fatalf("%s: %d of %d copies arrived in 5 minutes", h.ID, e.srv.Count(h.SQSQueueURL), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	elapsed := time.Since(start)
	for _, h := range hooks {
		e.checkCount(b, h.SQSQueueURL, n)
	}
	if k := dead.Load(); k > 0 {
		b.Fatalf("%d copies dead-lettered", k)
	}
	return elapsed
}

// runPostgres is runHooks3 with the PostgreSQL store on a fresh schema;
// it also returns the round trips of delivery.
func (e *benchEnv) runPostgres(b *testing.B, url string, n, publishers int) (time.Duration, int64) {
	b.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		b.Fatal(err)
	}
	rt := &pgRoundTrips{}
	cfg.ConnConfig.Tracer = rt
	cfg.MaxConns = int32(publishers) + 4 // a connection per publisher, and the fetch loop's
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	opts := pgBenchSchema(b, url, pool)
	rt.n.Store(0)
	elapsed := e.runHooks3(b, n, publishers, sqshook.WithPostgres(pool, opts))
	if got := rt.records.Load(); got != int64(n) {
		b.Fatalf("%d statements recorded events, want one per Publish (%d): the round-trip count would be wrong", got, n)
	}
	return elapsed, rt.n.Load()
}

// benchPublishTx returns PublishTx's cost per call, inside one open
// transaction, on a dispatcher whose fetch loop stays idle.
func benchPublishTx(b *testing.B, url string, hooks []sqshook.Hook, body []byte) benchCaller {
	b.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	opts := pgBenchSchema(b, url, pool)
	opts.Poll = time.Hour
	d := benchFakeDispatcher(b, &benchSQS{}, hooks, sqshook.WithPostgres(pool, opts))
	defer benchClose(b, d)
	tx, err := pool.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	publish := func(k int) {
		for range k {
			if err := d.PublishTx(ctx, tx, sqshook.Event{Type: "message.new", Body: body}); err != nil {
				b.Fatal(err)
			}
		}
	}
	publish(200) // warm up: the hooks' rows, the prepared statement
	const k = 2000
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start := time.Now()
	publish(k)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&m1)
	return benchCaller{
		allocs: float64(m1.Mallocs-m0.Mallocs) / k,
		bytes:  float64(m1.TotalAlloc-m0.TotalAlloc) / k,
		ns:     float64(elapsed.Nanoseconds()) / k,
	}
}
