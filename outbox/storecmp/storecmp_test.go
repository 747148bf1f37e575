// This file owns the comparison: the publish and delivery phases, the
// storage measurements, the pinned-xmin phases, the tests that every
// layout delivers each committed copy (and no rolled-back one) in order,
// the lease failover test, and BenchmarkStores, which prints the table.
package storecmp

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func designs() []design { return []design{inline, split, cursor, newRiver()} }

// result is one layout's numbers.
type result struct {
	name                      string
	events                    int
	pubPerSec, pubUs, allocs  float64 // publish: events/s, µs per publish statement, allocations per event
	pubRT                     float64 // round trips per published event (BEGIN, statement, COMMIT)
	copiesPerSec, fill, rtPer float64 // delivery: copies/s, copies per batch, round trips per batch
	inversions, dups          int
	rowsPerEvent              float64 // tuples inserted per event
	afterDrain, afterSweep    tableStats
	afterVacuum               int64
	pinRead, pinWrite         string // delivery while a transaction pins xmin
}

const publishers = 8

// publishAll publishes n events from serial publishers, each event in its
// own transaction; if rollback, each publisher also rolls one back first.
func publishAll(tb testing.TB, d *db, ds design, n, base int, rollback bool, res *result) {
	tb.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var stmt time.Duration
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	rt0 := d.rt.n.Load()
	start := time.Now()
	errs := make(chan error, publishers)
	for p := range publishers {
		wg.Go(func() {
			var local time.Duration
			if rollback {
				tx, err := d.pool.Begin(ctx)
				if err != nil {
					errs <- err
					return
				}
				if err := ds.publish(ctx, tx, makeEvent(p, -1)); err != nil {
					errs <- err
					return
				}
				_ = tx.Rollback(ctx)
			}
			for s := p; s < n; s += publishers {
				tx, err := d.pool.Begin(ctx)
				if err != nil {
					errs <- err
					return
				}
				ev := makeEvent(p, base+s/publishers)
				t0 := time.Now()
				if err := ds.publish(ctx, tx, ev); err != nil {
					errs <- err
					return
				}
				local += time.Since(t0)
				if err := tx.Commit(ctx); err != nil {
					errs <- err
					return
				}
			}
			mu.Lock()
			stmt += local
			mu.Unlock()
		})
	}
	wg.Wait()
	el := time.Since(start)
	runtime.ReadMemStats(&ms1)
	close(errs)
	for err := range errs {
		tb.Fatalf("%s: publish: %v", ds.name(), err)
	}
	if res != nil {
		res.pubPerSec = float64(n) / el.Seconds()
		res.pubUs = float64(stmt.Microseconds()) / float64(n)
		res.allocs = float64(ms1.Mallocs-ms0.Mallocs) / float64(n)
		res.pubRT = float64(d.rt.n.Load()-rt0) / float64(n)
	}
}

// drain delivers until rec has every copy or limit passes; it reports the
// copies delivered and the time taken.
func drain(tb testing.TB, d *db, ds design, rec *recorder, limit time.Duration) (int, time.Duration) {
	tb.Helper()
	p := d.newPool(tb, 8)
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	before := rec.distinct()
	start := time.Now()
	wait := ds.deliver(ctx, p, "instance-1", rec.send)
	tm := time.NewTimer(limit)
	select {
	case <-rec.doneC():
	case <-tm.C:
	}
	tm.Stop()
	el := time.Since(start)
	cancel()
	if err := wait(); err != nil {
		tb.Fatalf("%s: deliver: %v", ds.name(), err)
	}
	return rec.distinct() - before, el
}

// events is the workload's size: SQSHOOK_STORECMP_EVENTS, default def.
func events(tb testing.TB, def int) int {
	if s := os.Getenv("SQSHOOK_STORECMP_EVENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < publishers {
			tb.Fatalf("SQSHOOK_STORECMP_EVENTS=%q: want a count ≥ %d", s, publishers)
		}
		return n
	}
	return def
}

// measure runs the whole comparison for one layout.
func measure(b *testing.B, ds design, n int) result {
	d := openDB(b, ds.name())
	if err := ds.setup(d); err != nil {
		b.Fatalf("%s: setup: %v", ds.name(), err)
	}
	res := result{name: ds.name(), events: n}
	publishAll(b, d, ds, n, 0, false, &res)
	rec := newRecorder(n * len(hookIDs))
	rt0 := d.rt.n.Load()
	got, el := drain(b, d, ds, rec, 10*time.Minute)
	if got != n*len(hookIDs) {
		b.Fatalf("%s: delivered %d of %d copies", ds.name(), got, n*len(hookIDs))
	}
	res.copiesPerSec = float64(got) / el.Seconds()
	res.fill = float64(rec.copies) / float64(rec.batches)
	res.rtPer = float64(d.rt.n.Load()-rt0) / float64(rec.batches)
	res.inversions, res.dups = rec.inversions, rec.dups

	d.pool.Close() // backends report their counts as they end
	res.afterDrain = d.stats(b, int64(n))
	res.rowsPerEvent = float64(res.afterDrain.ins) / float64(n)
	d.pool = d.newPool(b, 16)
	if err := ds.cleanup(context.Background(), d); err != nil {
		b.Fatalf("%s: cleanup: %v", ds.name(), err)
	}
	d.pool.Close()
	res.afterSweep = d.stats(b, int64(n))
	d.vacuum(b)
	res.afterVacuum = d.stats(b, int64(n)).bytes
	d.pool = d.newPool(b, 16)

	// Pinned xmin: publish and deliver a quarter of the workload each
	// while a transaction stays open elsewhere.
	base := n
	for _, kind := range []string{"read", "write"} {
		release := d.pin(b, kind)
		m := max(n/4, publishers)
		publishAll(b, d, ds, m, base, false, nil)
		base += m
		rec.expect(m * len(hookIDs))
		got, el := drain(b, d, ds, rec, 20*time.Second+time.Duration(m)*time.Millisecond)
		s := fmt.Sprintf("%.0f/s", float64(got)/el.Seconds())
		if got < m*len(hookIDs) {
			s = fmt.Sprintf("stalled: %d of %d in %.0fs", got, m*len(hookIDs), el.Seconds())
		}
		release()
		if got < m*len(hookIDs) {
			if got2, _ := drain(b, d, ds, rec, 2*time.Minute); got+got2 < m*len(hookIDs) {
				b.Fatalf("%s: %d copies still undelivered after the pin ended", ds.name(), m*len(hookIDs)-got-got2)
			}
			s += ", resumed when released"
		}
		if kind == "read" {
			res.pinRead = s
		} else {
			res.pinWrite = s
		}
	}
	if rec.dups != res.dups || rec.inversions != res.inversions {
		res.pinRead += fmt.Sprintf(" (+%d dups, +%d inversions)", rec.dups-res.dups, rec.inversions-res.inversions)
	}
	return res
}

// BenchmarkStores runs the comparison once per op and prints the table of
// docs/fleet-design.md. Size: SQSHOOK_STORECMP_EVENTS (default 20,000).
func BenchmarkStores(b *testing.B) {
	dbURL(b)
	n := events(b, 20000)
	var rows []result
	for _, ds := range designs() {
		b.Run(ds.name(), func(b *testing.B) {
			for range b.N {
				r := measure(b, ds, n)
				rows = append(rows, r)
				b.ReportMetric(r.copiesPerSec, "copies/s")
				b.ReportMetric(r.fill, "fill")
				b.ReportMetric(r.pubUs, "pub-µs")
			}
		})
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n%d events × %d hooks, %d B bodies, %d serial publishers\n", n, len(hookIDs), body, publishers)
	sb.WriteString("| layout | publish ev/s | µs/publish stmt | allocs/ev | RT/publish | copies/s | fill | RT/batch | order inv. | dups | rows/ev | dead after drain | MB after drain | dead after sweep | MB after sweep | MB after VACUUM | pinned (read) | pinned (write) |\n")
	sb.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&sb, "| %s | %.0f | %.0f | %.0f | %.1f | %.0f | %.2f | %.2f | %d | %d | %.2f | %d | %.1f | %d | %.1f | %.1f | %s | %s |\n",
			r.name, r.pubPerSec, r.pubUs, r.allocs, r.pubRT, r.copiesPerSec, r.fill, r.rtPer, r.inversions, r.dups, r.rowsPerEvent,
			r.afterDrain.dead, mb(r.afterDrain.bytes), r.afterSweep.dead, mb(r.afterSweep.bytes), mb(r.afterVacuum), r.pinRead, r.pinWrite)
	}
	fmt.Print(sb.String())
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

// TestDeliverAll checks each layout end to end on a small workload: every
// committed copy arrives, no rolled-back one does, and (for the
// purpose-built layouts) each hook's FIFO groups keep their order.
func TestDeliverAll(t *testing.T) {
	dbURL(t)
	for _, ds := range designs() {
		t.Run(ds.name(), func(t *testing.T) {
			d := openDB(t, ds.name())
			if err := ds.setup(d); err != nil {
				t.Fatal(err)
			}
			const n = 400
			publishAll(t, d, ds, n, 0, true, nil)
			rec := newRecorder(n * len(hookIDs))
			if got, _ := drain(t, d, ds, rec, 2*time.Minute); got != n*len(hookIDs) {
				t.Fatalf("delivered %d of %d copies", got, n*len(hookIDs))
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			for k := range rec.seen {
				if k.seq < 0 {
					t.Errorf("copy of a rolled-back event delivered: %+v", k)
				}
			}
			if ds.name() == "river" {
				t.Logf("river: %d order inversions, fill %.2f (no per-group order in River OSS)", rec.inversions, float64(rec.copies)/float64(rec.batches))
				return
			}
			if rec.inversions != 0 {
				t.Errorf("%d copies delivered before an older copy of their group", rec.inversions)
			}
		})
	}
}

// TestLeaseFailover checks the hook lease: a second instance cannot take a
// held lease, takes it once it lapses by the database's clock, and then
// delivers the copies the first instance fetched but never settled.
func TestLeaseFailover(t *testing.T) {
	d := openDB(t, "lease")
	if err := inline.setup(d); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	publishAll(t, d, inline, 16, 0, false, nil)
	ok, _, _, err := acquire(ctx, d.pool, 1, "a", time.Hour)
	if err != nil || !ok {
		t.Fatalf("a: acquire: %v %v", ok, err)
	}
	if ok, _, _, err := acquire(ctx, d.pool, 1, "b", time.Hour); err != nil || ok {
		t.Fatalf("b took a lease held for an hour: %v %v", ok, err)
	}
	// a renews for 300ms, fetches a batch and dies.
	if ok, _, _, err := acquire(ctx, d.pool, 1, "a", 300*time.Millisecond); err != nil || !ok {
		t.Fatalf("a: renew: %v %v", ok, err)
	}
	var aUntil time.Time
	if err := d.pool.QueryRow(ctx, `SELECT until FROM lease WHERE hook_id = 1`).Scan(&aUntil); err != nil {
		t.Fatal(err)
	}
	var fetched int
	if err := d.pool.QueryRow(ctx, `SELECT count(*) FROM (`+inline.fetch+`) f WHERE id IS NOT NULL`, int32(1), int64(0), []int64{}, int64(0)).Scan(&fetched); err != nil || fetched != 10 {
		t.Fatalf("a: fetch: %d %v", fetched, err)
	}
	var granted time.Time
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, _, _, err := acquire(ctx, d.pool, 1, "b", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("b never took the lapsed lease")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := d.pool.QueryRow(ctx, `SELECT until - interval '1 hour' FROM lease WHERE hook_id = 1`).Scan(&granted); err != nil {
		t.Fatal(err)
	}
	if granted.Before(aUntil) {
		t.Errorf("b was granted the lease at %v, before a's lapsed at %v (database clock)", granted, aUntil)
	}
	rec := newRecorder(16)
	lctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- inline.loop(lctx, d.pool, 1, "b", time.Hour, rec.send) }()
	select {
	case <-rec.doneC():
	case <-time.After(time.Minute):
		t.Error("b did not deliver the hook's 16 copies")
	}
	cancel()
	if err := <-errc; err != nil && lctx.Err() == nil {
		t.Fatal(err)
	}
	if rec.inversions != 0 {
		t.Errorf("%d inversions after failover", rec.inversions)
	}
}
