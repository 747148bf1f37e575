// Package storecmp measures candidate PostgreSQL layouts for the fleet
// backend on its workload: publish an event with its hook copies inside the
// caller's transaction, deliver each hook's copies in batches of up to 10
// with one owner per hook (per FIFO group order kept), settle, and reclaim
// the space; and sqshook's PostgreSQL store against Watermill's publisher
// and forwarder (watermill_test.go). It is a module of its own so River
// and Watermill stay out of sqshook's go.mod. See docs/fleet-design.md for
// the numbers and the decision.
//
// This file owns the database plumbing: the URL, a fresh schema per run, a
// pool that counts round trips, and the table statistics.
package storecmp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// envURL names the variable holding the database URL, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const envURL = "SQSHOOK_POSTGRES_URL"

// dbURL returns the database URL; without it the test is skipped loudly,
// and fails under CI (CI=true), where a skip would hide the comparison.
func dbURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(envURL)
	if u == "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is not set: CI must run the PostgreSQL comparison", envURL)
		}
		tb.Skipf("SKIPPED: %s is not set; set it to a PostgreSQL URL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the comparison", envURL)
	}
	return u
}

// counter is a pgx tracer counting round trips: a query, a batch (however
// many statements it holds) or a COPY is one.
type counter struct{ n atomic.Int64 }

func (c *counter) TraceQueryStart(ctx context.Context, conn *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	if ctx.Value(inBatch{}) == nil {
		c.n.Add(1)
	}
	return ctx
}
func (c *counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *counter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.n.Add(1)
	return context.WithValue(ctx, inBatch{}, true)
}
func (c *counter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c *counter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}
func (c *counter) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceCopyFromStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *counter) TraceCopyFromEnd(context.Context, *pgx.Conn, pgx.TraceCopyFromEndData) {}

type inBatch struct{}

// db is one run's fresh schema and its pool.
type db struct {
	url    string
	schema string
	pool   *pgxpool.Pool
	rt     *counter
}

// openDB creates a fresh schema and a pool whose search_path is it; the
// schema is dropped at cleanup.
func openDB(tb testing.TB, prefix string) *db {
	tb.Helper()
	url := dbURL(tb)
	ctx := context.Background()
	var rb [4]byte
	_, _ = rand.Read(rb[:])
	schema := "storecmp_" + prefix + "_" + hex.EncodeToString(rb[:])
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	_ = admin.Close(ctx)
	d := &db{url: url, schema: schema, rt: &counter{}}
	d.pool = d.newPool(tb, 16)
	tb.Cleanup(func() {
		d.pool.Close()
		c, err := pgx.Connect(context.Background(), url)
		if err != nil {
			tb.Errorf("connect for cleanup: %v", err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return d
}

// newPool opens another pool on the run's schema (an "instance").
func (d *db) newPool(tb testing.TB, max int32) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(d.url)
	if err != nil {
		tb.Fatalf("parse url: %v", err)
	}
	cfg.MaxConns = max
	cfg.ConnConfig.RuntimeParams["search_path"] = d.schema
	cfg.ConnConfig.Tracer = d.rt
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("pool: %v", err)
	}
	return p
}

// tableStats is the storage state of the run's tables, summed.
type tableStats struct {
	ins        int64 // n_tup_ins
	live, dead int64 // n_live_tup, n_dead_tup
	bytes      int64 // pg_total_relation_size: heap, indexes, TOAST
}

// stats reads pg_stat_user_tables for the schema from a new connection.
// Backends report their counts when they end or go idle, so the caller
// closes its pools first; stats waits (generous deadline) until the
// inserted-tuple count reaches minIns and two readings a second apart
// agree.
func (d *db) stats(tb testing.TB, minIns int64) tableStats {
	tb.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, d.url)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	defer c.Close(ctx)
	var st, prev tableStats
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, _ = c.Exec(ctx, "SELECT pg_stat_clear_snapshot()")
		err := c.QueryRow(ctx, `SELECT coalesce(sum(n_tup_ins),0)::bigint, coalesce(sum(n_live_tup),0)::bigint, coalesce(sum(n_dead_tup),0)::bigint,
			coalesce(sum(pg_total_relation_size(relid)),0)::bigint FROM pg_stat_user_tables WHERE schemaname = $1`, d.schema).
			Scan(&st.ins, &st.live, &st.dead, &st.bytes)
		if err != nil {
			tb.Fatalf("stats: %v", err)
		}
		stable := st == prev
		prev = st
		if (st.ins >= minIns && stable) || time.Now().After(deadline) {
			if st.ins < minIns {
				tb.Logf("stats: only %d of %d inserts reported after 60s", st.ins, minIns)
			}
			return st
		}
		time.Sleep(time.Second)
	}
}

// vacuum runs a plain VACUUM on each table of the schema.
func (d *db) vacuum(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, d.url)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = $1", d.schema)
	if err != nil {
		tb.Fatalf("tables: %v", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tb.Fatalf("tables: %v", err)
	}
	for _, n := range names {
		if _, err := c.Exec(ctx, fmt.Sprintf("VACUUM %s.%s", d.schema, n)); err != nil {
			tb.Fatalf("vacuum %s: %v", n, err)
		}
	}
}

// pin opens a connection holding a transaction open, as a long report or a
// forgotten session would: "read" is a REPEATABLE READ snapshot without a
// transaction id (pins the vacuum horizon only), "write" also takes a
// transaction id (holds back every snapshot's xmin). release ends it.
func (d *db) pin(tb testing.TB, kind string) (release func()) {
	tb.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, d.url)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	q := "SELECT 1"
	if kind == "write" {
		q = "SELECT pg_current_xact_id()"
	}
	if _, err := c.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ"); err != nil {
		tb.Fatalf("pin: %v", err)
	}
	if _, err := c.Exec(ctx, q); err != nil {
		tb.Fatalf("pin: %v", err)
	}
	return func() {
		_, _ = c.Exec(ctx, "ROLLBACK")
		_ = c.Close(ctx)
	}
}
