// pgstore_publishtx_test.go tests that PublishTx needs no second
// connection of the pool: the hook rows are made when SetHooks configures
// the hooks, or found in the caller's own transaction, so that callers
// whose transactions hold every connection of the pool do not wait for
// one.

package sqshook_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sqshook/sqshook"
)

// TestPostgresPublishTxPoolHeld: a hook's row is made when SetHooks
// configures it (the fetch loop, which polls once an hour here, is woken);
// then a pool of n connections, n transactions open on it, each calling
// PublishTx for hooks just configured, one whose row this instance made
// at SetHooks, one whose row another instance made: every call completes
// (none waits for a connection the others hold), and once they commit
// the queues receive every event.
func TestPostgresPublishTxPoolHeld(t *testing.T) {
	e := newPGEnv(t, time.Second)
	const n = 3
	cfg, err := pgxpool.ParseConfig(e.url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = n
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	urlA, urlB := e.srv.CreateQueue("held-a", nil), e.srv.CreateQueue("held-b", nil)
	hookA, hookB := pgHook("a", urlA), pgHook("b", urlB)

	opts := e.opts
	opts.InstanceID = "held"
	opts.Poll = time.Hour // nothing but SetHooks (and a settlement) wakes its fetch loop
	client := e.srv.Client()
	hookZ := pgHook("z", e.srv.CreateQueue("held-z", nil))
	d := startDispatcher(t, []sqshook.Hook{hookZ}, sqshook.WithPostgres(pool, opts), sqshook.WithEndpoint(e.srv.URL()),
		sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) { return client, nil }),
		sqshook.WithLinger(time.Millisecond), sqshook.WithRetryPolicy(fastRetries))
	hookRow := func(id string) bool {
		var k int
		err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{e.opts.Schema, "sqshook_hook"}.Sanitize()+
			" WHERE hook_id = $1", id).Scan(&k)
		if err != nil {
			t.Fatalf("reading the hook rows: %v", err)
		}
		return k == 1
	}
	waitRow := func(id string) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for !hookRow(id) {
			if time.Now().After(deadline) {
				t.Fatalf("hook %s: no row a minute after it was configured", id)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// The fetch loop's first round has made z's row; then a is
	// configured here: the loop makes its row at once, not at its poll.
	waitRow("z")
	if err := d.SetHooks([]sqshook.Hook{hookZ, hookA}); err != nil {
		t.Fatal(err)
	}
	waitRow("a")
	// Hook b configured first by another instance, which made its row
	// (it configures a too, and delivers both once this instance's lease
	// of a lapses: this one's loop polls once an hour).
	e.node(t, "other", []sqshook.Hook{hookA, hookB})
	waitRow("b")

	// The caller's transactions hold every connection of the pool; then b
	// is configured here too, and each transaction publishes to a and b.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	txs := make([]pgx.Tx, n)
	for i := range txs {
		if txs[i], err = pool.Begin(ctx); err != nil {
			t.Fatalf("Begin: %v", err)
		}
		tx := txs[i]
		t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	}
	if err := d.SetHooks([]sqshook.Hook{hookZ, hookA, hookB}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, tx := range txs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.PublishTx(ctx, tx, sqshook.Event{ID: fmt.Sprintf("held-%d", i), Type: "message.new", Body: []byte(`{"i":1}`)})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("PublishTx %d with the pool held by the caller's transactions: %v after %v", i, err, time.Since(start))
		}
	}
	t.Logf("%d PublishTx with every connection held: %v", n, time.Since(start))
	for _, tx := range txs {
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	}
	waitPG(t, "both queues receive every event", func() bool {
		return len(e.srv.Received(urlA)) >= n && len(e.srv.Received(urlB)) >= n
	})
}

// TestPostgresPublishTxEndedTx: a transaction already committed or
// rolled back is the caller's mistake, said as such (pgx.ErrTxClosed),
// not a database that did not answer; and Replay after Close returns
// ErrClosed, as every other call does.
func TestPostgresPublishTxEndedTx(t *testing.T) {
	e := newPGEnv(t, 2*time.Second)
	hooks := []sqshook.Hook{pgHook("h", e.srv.CreateQueue("q", nil))}
	n := e.node(t, "a", hooks)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, end := range []string{"commit", "rollback"} {
		tx, err := e.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if end == "commit" {
			err = tx.Commit(ctx)
		} else {
			err = tx.Rollback(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		err = n.d.PublishTx(ctx, tx, sqshook.Event{ID: "e-" + end, Type: "message.new", Body: []byte(`{}`)})
		if !errors.Is(err, pgx.ErrTxClosed) || errors.Is(err, sqshook.ErrStoreUnavailable) || !strings.Contains(err.Error(), "already been committed or rolled back") {
			t.Errorf("PublishTx after %s: %v; want pgx.ErrTxClosed, said plainly", end, err)
		}
	}
	if got := e.count(t, "sqshook_event"); got != 0 {
		t.Errorf("%d events recorded, want 0", got)
	}
	if err := n.d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := n.d.Replay(ctx, "h", time.Now().Add(-time.Hour)); !errors.Is(err, sqshook.ErrClosed) {
		t.Errorf("Replay after Close: %v, want ErrClosed", err)
	}
}
