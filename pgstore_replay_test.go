// pgstore_replay_test.go tests replay and retention in the PostgreSQL
// store (pgstore_replay.go) against a real server: a window re-delivered
// exactly, marked, in each FIFO group's order; no replay across tenants;
// the sweep deleting the expired events only, one instance at a time; the
// event table's size bounded over cycles of a retention's worth of
// events. The expiry is the database's clock passed by moving created_at
// back, never by waiting.

package sqshook_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/jackc/pgx/v5"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/internal/pgtest"
	"github.com/sqshook/sqshook/sqstest"
)

// dbNow is the database's clock.
func (e *pgEnv) dbNow(t *testing.T) time.Time {
	t.Helper()
	var now time.Time
	if err := e.pool.QueryRow(context.Background(), "SELECT clock_timestamp()").Scan(&now); err != nil {
		t.Fatal(err)
	}
	return now
}

func (e *pgEnv) table(name string) string { return pgx.Identifier{e.opts.Schema, name}.Sanitize() }

// replayed splits a queue's messages into the ids of the unmarked and of
// the marked (AttrReplay = "1") ones, failing on any other mark.
func replayed(t *testing.T, msgs []sqstest.Message) (orig, marked []string) {
	t.Helper()
	for _, m := range msgs {
		id := m.Attributes[sqshook.AttrEventID].StringValue
		a, ok := m.Attributes[sqshook.AttrReplay]
		switch {
		case !ok:
			orig = append(orig, id)
		case a.StringValue == "1" && a.DataType == "String":
			marked = append(marked, id)
		default:
			t.Fatalf("message %s: replay attribute %+v", id, a)
		}
	}
	return orig, marked
}

// TestPostgresReplayWindow publishes events before and after a point in
// time into a FIFO hook, then replays from that point: exactly the later
// events come again, each once, marked, in each group's order (SQS's
// deduplication of the FIFO queue does not swallow them).
func TestPostgresReplayWindow(t *testing.T) {
	e := newPGEnv(t, 2*time.Second)
	fifo := e.srv.CreateQueue("replay.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "false"})
	node := e.node(t, "a", []sqshook.Hook{pgHook("h", fifo)})
	ctx := context.Background()
	publish := func(prefix string, n int) []string {
		var ids []string
		for i := range n {
			id := fmt.Sprintf("%s-%03d", prefix, i)
			ev := sqshook.Event{ID: id, Type: "message.new", Body: chatEventJSON(t, "message.new", id), GroupID: fmt.Sprintf("g%d", i%3)}
			if err := node.d.Publish(ctx, ev); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			ids = append(ids, id)
		}
		return ids
	}
	before := publish("before", 12)
	waitPG(t, "the first events delivered", func() bool { return e.srv.Count(fifo) == len(before) })
	since := e.dbNow(t)
	window := publish("window", 30)
	total := len(before) + len(window)
	waitPG(t, "every event delivered and settled", func() bool {
		return e.srv.Count(fifo) == total && e.count(t, "sqshook_copy") == 0
	})

	n, err := node.d.Replay(ctx, "h", since)
	if err != nil || n != len(window) {
		t.Fatalf("Replay: %d, %v; want %d", n, err, len(window))
	}
	waitPG(t, "the replay delivered and settled", func() bool {
		return e.srv.Count(fifo) >= total+len(window) && e.count(t, "sqshook_copy") == 0
	})
	msgs := e.srv.Received(fifo)
	orig, marked := replayed(t, msgs)
	if len(orig) != total || len(marked) != len(window) {
		t.Fatalf("%d unmarked and %d marked messages, want %d and %d", len(orig), len(marked), total, len(window))
	}
	// The window exactly, each once.
	got := slices.Sorted(slices.Values(marked))
	if !slices.Equal(got, window) {
		t.Fatalf("replayed %v\nwant %v", got, window)
	}
	// Each group in its order: the window's ids are in publish order.
	byGroup := map[string][]string{}
	for _, m := range msgs {
		if _, ok := m.Attributes[sqshook.AttrReplay]; ok {
			byGroup[m.GroupID] = append(byGroup[m.GroupID], m.Attributes[sqshook.AttrEventID].StringValue)
		}
	}
	for g, ids := range byGroup {
		if !slices.IsSorted(ids) {
			t.Errorf("group %s replayed out of order: %v", g, ids)
		}
	}
	if len(byGroup) != 3 {
		t.Errorf("%d groups replayed, want 3", len(byGroup))
	}
	// The replay's deduplication ids are their own.
	for _, m := range msgs {
		if _, ok := m.Attributes[sqshook.AttrReplay]; ok && m.DedupID != "replay-"+m.Attributes[sqshook.AttrEventID].StringValue {
			t.Errorf("replayed %s: deduplication id %q", m.Attributes[sqshook.AttrEventID].StringValue, m.DedupID)
		}
	}
}

// TestPostgresReplayTenantIsolation gives two tenants a hook of the same
// id: a tenant's replay re-delivers its own events into its own queue
// only, and a hook only the other tenant has is unknown to it.
func TestPostgresReplayTenantIsolation(t *testing.T) {
	e := newPGEnv(t, 2*time.Second)
	qa := e.srv.CreateQueue("acme", nil)
	qb := e.srv.CreateQueue("umbrella", nil)
	qb2 := e.srv.CreateQueue("umbrella-2", nil)
	node := e.node(t, "a", nil, sqshook.WithResourceAuthForTenants())
	ta, tb := node.d.Tenant("acme"), node.d.Tenant("umbrella")
	if err := ta.SetHooks([]sqshook.Hook{pgHook("h", qa)}); err != nil {
		t.Fatal(err)
	}
	if err := tb.SetHooks([]sqshook.Hook{pgHook("h", qb), pgHook("only-b", qb2)}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var want []string
	for i := range 5 {
		for _, tn := range []*sqshook.Tenant{ta, tb} {
			id := fmt.Sprintf("%s-%d", tn.ID(), i)
			if err := tn.Publish(ctx, sqshook.Event{ID: id, Type: "message.new", Body: chatEventJSON(t, "message.new", id)}); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			if tn == ta {
				want = append(want, id)
			}
		}
	}
	waitPG(t, "every event delivered and settled", func() bool {
		return e.srv.Count(qa) == 5 && e.srv.Count(qb) == 5 && e.srv.Count(qb2) == 5 && e.count(t, "sqshook_copy") == 0
	})
	if n, err := ta.Replay(ctx, "only-b", time.Time{}); !errors.Is(err, sqshook.ErrUnknownHook) || n != 0 {
		t.Fatalf("Replay of another tenant's hook: %d, %v; want ErrUnknownHook", n, err)
	}
	if c := e.count(t, "sqshook_copy"); c != 0 {
		t.Fatalf("%d copies after a refused replay", c)
	}
	n, err := ta.Replay(ctx, "h", time.Time{})
	if err != nil || n != 5 {
		t.Fatalf("Replay: %d, %v; want 5", n, err)
	}
	// The copies of one replay are inserted together: once none is left,
	// all of them were delivered.
	waitPG(t, "the replay delivered and settled", func() bool {
		return e.srv.Count(qa) >= 10 && e.count(t, "sqshook_copy") == 0
	})
	_, marked := replayed(t, e.srv.Received(qa))
	if !slices.Equal(slices.Sorted(slices.Values(marked)), want) {
		t.Fatalf("acme replayed %v, want %v", marked, want)
	}
	for _, q := range []string{qb, qb2} {
		if orig, marked := replayed(t, e.srv.Received(q)); len(marked) != 0 || len(orig) != 5 {
			t.Fatalf("umbrella's queue got %d replayed and %d original messages, want 0 and 5", len(marked), len(orig))
		}
	}
}

// TestPostgresReplayAttributes refuses a replay whose events have no
// room for the mark, inserting nothing; Replay without WithPostgres and a
// negative retention are refused too.
func TestPostgresReplayAttributes(t *testing.T) {
	e := newPGEnv(t, 2*time.Second)
	q := e.srv.CreateQueue("attrs", nil)
	node := e.node(t, "a", []sqshook.Hook{pgHook("h", q)})
	ctx := context.Background()
	ev := sqshook.Event{ID: "full", Type: "message.new", Body: chatEventJSON(t, "message.new", "full"), Attributes: replayTestAttrs(8)}
	if err := node.d.Publish(ctx, ev); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	waitPG(t, "delivered", func() bool { return e.srv.Count(q) == 1 && e.count(t, "sqshook_copy") == 0 })
	if n, err := node.d.Replay(ctx, "h", time.Time{}); !errors.Is(err, sqshook.ErrReplayAttributes) || n != 0 {
		t.Fatalf("Replay of an event with 8 attributes: %d, %v; want ErrReplayAttributes", n, err)
	}
	if c := e.count(t, "sqshook_copy"); c != 0 {
		t.Fatalf("%d copies after a refused replay", c)
	}
	// Replay needs the PostgreSQL store; a negative retention is refused.
	plain := startDispatcher(t, []sqshook.Hook{pgHook("h", "https://sqs.us-east-1.amazonaws.com/123456789012/q")}, sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) { return newFake(), nil }))
	if _, err := plain.Replay(ctx, "h", time.Time{}); !errors.Is(err, sqshook.ErrNoPostgres) {
		t.Fatalf("Replay without WithPostgres: %v", err)
	}
	bad := e.opts
	bad.Retention = -time.Hour
	if d, err := sqshook.New(nil, sqshook.WithPostgres(e.pool, bad)); err == nil {
		_ = d.Close(ctx)
		t.Fatal("New with a negative retention: no error")
	}
}

// TestPostgresRetentionSweep ages half of the delivered events past the
// retention: the sweep deletes those, except one a copy still waits
// for, keeps the others, and does nothing while another instance sweeps;
// a replay then finds exactly the kept events.
func TestPostgresRetentionSweep(t *testing.T) {
	e := newPGEnv(t, 2*time.Second)
	e.opts.Retention = time.Hour
	e.opts.Sweep = -1 // the test sweeps
	q := e.srv.CreateQueue("retention", nil)
	node := e.node(t, "a", []sqshook.Hook{pgHook("h", q)})
	ctx := context.Background()
	for i := range 20 {
		id := fmt.Sprintf("ev-%02d", i)
		if err := node.d.Publish(ctx, sqshook.Event{ID: id, Type: "message.new", Body: chatEventJSON(t, "message.new", id)}); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	waitPG(t, "delivered and settled", func() bool { return e.srv.Count(q) == 20 && e.count(t, "sqshook_copy") == 0 })
	if e.count(t, "sqshook_event") != 20 {
		t.Fatalf("%d event rows after delivery, want the 20 kept", e.count(t, "sqshook_event"))
	}
	ev, cp := e.table("sqshook_event"), e.table("sqshook_copy")
	// ev-00 … ev-09 were recorded two hours ago by the database's clock;
	// a copy of its hook that no fetch takes (state 1) still waits for
	// ev-03.
	if _, err := e.pool.Exec(ctx, "UPDATE "+ev+" SET created_at = created_at - interval '2 hours' WHERE event_id < 'ev-10'"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, "INSERT INTO "+cp+" (hook, event, state) SELECT hooks[1], id, 1 FROM "+ev+" WHERE event_id = 'ev-03'"); err != nil {
		t.Fatal(err)
	}
	// Another instance sweeping: this one does nothing.
	other, err := e.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Release) // released below too; a failure must not leave it held
	if _, err := other.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", "sqshook_sweep:"+e.opts.Schema); err != nil {
		t.Fatal(err)
	}
	if n, err := sqshook.SweepPostgres(ctx, e.pool, e.opts); err != nil || n != 0 {
		t.Fatalf("SweepPostgres while another sweeps: %d, %v; want 0", n, err)
	}
	if _, err := other.Exec(ctx, "SELECT pg_advisory_unlock(hashtext($1))", "sqshook_sweep:"+e.opts.Schema); err != nil {
		t.Fatal(err)
	}
	other.Release()
	if c := e.count(t, "sqshook_event"); c != 20 {
		t.Fatalf("%d event rows after a sweep that was not its turn", c)
	}

	n, err := sqshook.SweepPostgres(ctx, e.pool, e.opts)
	if err != nil || n != 9 {
		t.Fatalf("SweepPostgres: %d, %v; want 9", n, err)
	}
	rows, _ := e.pool.Query(ctx, "SELECT event_id FROM "+ev+" ORDER BY event_id")
	kept, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ev-03"}
	for i := 10; i < 20; i++ {
		want = append(want, fmt.Sprintf("ev-%02d", i))
	}
	if !slices.Equal(kept, want) {
		t.Fatalf("kept %v\nwant %v", kept, want)
	}
	if _, err := e.pool.Exec(ctx, "DELETE FROM "+cp+" WHERE state = 1"); err != nil {
		t.Fatal(err)
	}
	// A replay waits for a batch of the sweep under way: it cannot add a
	// copy of an event the batch deletes.
	batch, err := e.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(batch.Release) // released below too; a failure must not leave it held
	if _, err := batch.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", "sqshook_sweep_batch:"+e.opts.Schema); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	rn, err := node.d.Replay(short, "h", time.Time{})
	cancel()
	if err == nil || rn != 0 || e.count(t, "sqshook_copy") != 0 {
		t.Fatalf("Replay during a batch of the sweep: %d, %v; want it to wait", rn, err)
	}
	if _, err := batch.Exec(ctx, "SELECT pg_advisory_unlock(hashtext($1))", "sqshook_sweep_batch:"+e.opts.Schema); err != nil {
		t.Fatal(err)
	}
	batch.Release()
	if n, err := node.d.Replay(ctx, "h", time.Time{}); err != nil || n != len(want) {
		t.Fatalf("Replay after the sweep: %d, %v; want %d", n, err, len(want))
	}
	waitPG(t, "the replay delivered", func() bool { return e.srv.Count(q) >= 20+len(want) && e.count(t, "sqshook_copy") == 0 })
	if _, marked := replayed(t, e.srv.Received(q)); !slices.Equal(slices.Sorted(slices.Values(marked)), want) {
		t.Fatalf("replayed %v, want %v", marked, want)
	}
}

// TestPostgresRetentionBounded records cycles of events (SQL-inserted,
// as Publish records them) already past the retention, sweeps and
// vacuums after each: the table's size stays that of one cycle, where
// without the sweep it would grow with every cycle. It runs in a
// database of its own, so that no transaction of another test holds back
// VACUUM. SQSHOOK_SWEEP_EVENTS sets the events per cycle (default
// 20,000).
func TestPostgresRetentionBounded(t *testing.T) {
	url := pgTestURL(t)
	perCycle := pgEnvInt(t, "SQSHOOK_SWEEP_EVENTS", 20000)
	pool := pgtest.Pool(t, pgtest.Database(t, url, "sqshook_sweep_test_"))
	ctx := context.Background()
	opts := sqshook.PostgresOptions{Retention: time.Hour}
	if err := sqshook.MigratePostgres(ctx, pool, opts); err != nil {
		t.Fatal(err)
	}
	size := func() (total, dead int64) {
		if err := pool.QueryRow(ctx, "SELECT pg_total_relation_size('sqshook_event_default')").Scan(&total); err != nil {
			t.Fatal(err)
		}
		_, _ = pool.Exec(ctx, "SELECT pg_stat_force_next_flush()")
		if err := pool.QueryRow(ctx, "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'sqshook_event_default'").Scan(&dead); err != nil {
			t.Fatal(err)
		}
		return total, dead
	}
	const cycles = 4
	const insert = `INSERT INTO sqshook_event (tenant, type, event_id, body, created_at, hooks)
SELECT '', 'message.new', 'ev-' || g, convert_to(repeat('x', 300), 'UTF8'), now() - interval '2 hours', ARRAY[1::bigint]
FROM generate_series(1, $1) AS g`
	var first, last int64
	for c := range cycles {
		start := time.Now()
		if _, err := pool.Exec(ctx, insert, perCycle); err != nil {
			t.Fatal(err)
		}
		inserted := time.Since(start)
		full, _ := size()
		start = time.Now()
		n, err := sqshook.SweepPostgres(ctx, pool, opts)
		if err != nil || n != int64(perCycle) {
			t.Fatalf("cycle %d: SweepPostgres: %d, %v; want %d", c, n, err, perCycle)
		}
		swept := time.Since(start)
		_, dead := size()
		if _, err := pool.Exec(ctx, "VACUUM sqshook_event_default"); err != nil {
			t.Fatal(err)
		}
		after, deadAfter := size()
		t.Logf("cycle %d: %d events inserted in %v: %.1f MB; swept in %v: %d dead tuples; after VACUUM: %.1f MB, %d dead tuples",
			c, perCycle, inserted.Round(time.Millisecond), float64(full)/1e6, swept.Round(time.Millisecond), dead, float64(after)/1e6, deadAfter)
		if c == 0 {
			first = full
		}
		last = full
	}
	var left int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM sqshook_event").Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d event rows left (%v)", left, err)
	}
	// Each cycle refills the space the last one freed: the size with a
	// cycle's events stays that of the first (a quarter more allowed for
	// the indexes' pages).
	if last > first*5/4 {
		t.Fatalf("the table grew from %.1f MB to %.1f MB over %d cycles of %d events", float64(first)/1e6, float64(last)/1e6, cycles, perCycle)
	}
	// The control: two more cycles without the sweep grow the table.
	for range 2 {
		if _, err := pool.Exec(ctx, insert, perCycle); err != nil {
			t.Fatal(err)
		}
	}
	if grown, _ := size(); grown < first*3/2 {
		t.Fatalf("two cycles without the sweep: %.1f MB, not more than one cycle's %.1f MB: the bound measures nothing", float64(grown)/1e6, float64(first)/1e6)
	} else {
		t.Logf("without the sweep, two more cycles: %.1f MB", float64(grown)/1e6)
	}
}

// replayTestAttrs is n string attributes.
func replayTestAttrs(n int) map[string]types.MessageAttributeValue {
	m := map[string]types.MessageAttributeValue{}
	for i := range n {
		m[fmt.Sprintf("a%d", i)] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String("v")}
	}
	return m
}
