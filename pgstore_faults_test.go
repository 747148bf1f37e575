// pgstore_faults_test.go tests the PostgreSQL store's fleet under faults:
// an owner dying during an SQS outage, and an instance whose database
// connections drop again and again, mid-claim and mid-delete. (The fleet
// crash test and the database restart test are scenario files.)

package sqshook_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/internal/faultnet"
	"github.com/sqshook/sqshook/internal/pgtest"
	"github.com/sqshook/sqshook/sqstest"
)

// pgCheckDelivered checks that every event the schema holds, and nothing
// else, is in each queue, and each FIFO group's acknowledged events in
// order (ids sort in publishing order within a group); it returns each
// queue's duplicates and how many events were committed though their
// Publish failed.
func (e *pgEnv) pgCheckDelivered(t *testing.T, queues map[string]string, acked []string) (dups map[string]int, unacked int) {
	t.Helper()
	return pgCheckDelivered(t, e.pool, e.opts.Schema, e.srv, queues, acked)
}

// pgCheckDelivered is pgEnv.pgCheckDelivered on any schema and SQS server.
func pgCheckDelivered(t *testing.T, pool *pgxpool.Pool, schema string, srv *sqstest.Server, queues map[string]string, acked []string) (dups map[string]int, unacked int) {
	t.Helper()
	rows, err := pool.Query(context.Background(), "SELECT event_id FROM "+pgx.Identifier{schema, "sqshook_event"}.Sanitize())
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	committed := map[string]bool{}
	for _, id := range ids {
		committed[id] = true
	}
	for _, id := range acked {
		if !committed[id] {
			t.Errorf("Publish of %s returned nil, the event is not in the database", id)
		}
	}
	isAcked := map[string]bool{}
	for _, id := range acked {
		isAcked[id] = true
	}
	unacked = len(committed) - len(isAcked)
	dups = map[string]int{}
	for name, q := range queues {
		got := map[string]int{}
		last := map[string]string{}
		for _, m := range srv.Received(q) {
			id := m.Attributes[sqshook.AttrEventID].StringValue
			got[id]++
			// The order holds among the events whose Publish returned
			// nil: one that failed with the connection may commit
			// after its caller went on.
			if m.GroupID != "" && isAcked[id] {
				if prev, ok := last[m.GroupID]; ok && id <= prev {
					t.Errorf("%s: group %s: %s after %s", name, m.GroupID, id, prev)
				}
				last[m.GroupID] = id
			}
		}
		lost := 0
		for id := range committed {
			if got[id] == 0 {
				if lost++; lost <= 5 {
					t.Errorf("%s: event %s committed, not delivered", name, id)
				}
			}
		}
		if lost > 0 {
			t.Errorf("%s: %d of %d committed events lost", name, lost, len(committed))
		}
		for id, n := range got {
			if !committed[id] {
				t.Errorf("%s: event %s delivered, not committed", name, id)
			}
			dups[name] += n - 1
		}
	}
	return dups, unacked
}

// TestPostgresFailoverDuringOutage: the owner of both hooks dies while SQS
// is out (every send failing), and the other instance takes the hooks over
// while the outage lasts. When SQS returns every event is delivered once:
// the dead owner's copies never reached SQS, so none is duplicated.
func TestPostgresFailoverDuringOutage(t *testing.T) {
	const lease = 500 * time.Millisecond
	e := newPGEnv(t, lease)
	std := e.srv.CreateQueue("outage", nil)
	fifo := e.srv.CreateQueue("outage.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "false"})
	hooks := []sqshook.Hook{pgHook("std", std), pgHook("fifo", fifo)}
	a := e.node(t, "a", hooks)
	ctx := context.Background()
	pub := func(n *pgNode, id, group string) {
		if err := n.d.Publish(ctx, sqshook.Event{ID: id, Type: "message.new", GroupID: group, Body: chatEventJSON(t, "message.new", id)}); err != nil {
			t.Fatalf("Publish on %s: %v", n.id, err)
		}
	}
	pub(a, "a-first", "g0")
	waitPG(t, "A owns both hooks", func() bool { return e.owned(t, "a") == 2 && e.srv.Count(fifo) == 1 })
	b := e.node(t, "b", hooks)

	e.srv.SetOutage(true)
	var acked []string
	for i := range 400 {
		n := []*pgNode{a, b}[i%2]
		id := fmt.Sprintf("g%d-%04d", i%4, i)
		pub(n, id, fmt.Sprintf("g%d", i%4))
		acked = append(acked, id)
	}
	waitPG(t, "A's sends failing in the outage", func() bool {
		return e.srv.Calls().Injected["Outage"] >= 4 && a.d.Stats().Hooks[0].InFlight+a.d.Stats().Hooks[0].Retrying > 0
	})
	a.sqs.kill()
	killed := time.Now()
	a.pool.Close()
	waitPG(t, "B owns both hooks", func() bool { return e.owned(t, "b") == 2 })
	takeover := time.Since(killed)
	// B's sends fail too before the outage ends.
	failing := e.srv.Calls().Injected["Outage"]
	waitPG(t, "B's sends failing in the outage", func() bool { return e.srv.Calls().Injected["Outage"] > failing })
	e.srv.SetOutage(false)
	waitPG(t, "every copy delivered", func() bool { return e.count(t, "sqshook_copy") == 0 })
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_ = a.d.Close(cctx)

	dups, _ := e.pgCheckDelivered(t, map[string]string{"std": std, "fifo": fifo}, append(acked, "a-first"))
	if dups["std"] != 0 {
		t.Errorf("std: %d duplicates; the dead owner sent nothing during the outage", dups["std"])
	}
	if n := e.srv.Count(std); n != len(acked)+1 {
		t.Errorf("std: %d messages, want %d", n, len(acked)+1)
	}
	t.Logf("takeover during the outage after %v (lease %v); %d events delivered once each", takeover.Round(time.Millisecond), lease, len(acked)+1)
}

// TestPostgresConnectionDrops: two instances reach the database each
// through its own proxy, which drops every connection every 20–150 ms
// (one drop in four lasting two leases, so that the other instance takes
// the hooks over), while both publish to a standard and a FIFO hook:
// claims, fetches, renewals and deletes fail midway and leases move back
// and forth. Every committed event is delivered, nothing else; each FIFO
// group in order; duplicates bounded by the copies an owner holds
// (FetchAhead) per drop.
func TestPostgresConnectionDrops(t *testing.T) {
	const lease = 300 * time.Millisecond
	e := newPGEnv(t, lease)
	e.opts.FetchAhead = 100
	std := e.srv.CreateQueue("drops", nil)
	fifo := e.srv.CreateQueue("drops.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "false"})
	hooks := []sqshook.Hook{pgHook("std", std), pgHook("fifo", fifo)}

	type flakyNode struct {
		name string
		px   *faultnet.Proxy
		d    *sqshook.Dispatcher
		cuts atomic.Int64
	}
	mk := func(name string) *flakyNode {
		pool, px := pgtest.ProxiedPool(t, e.url)
		po := e.opts
		po.InstanceID = name
		d := startDispatcher(t, hooks, sqshook.WithPostgres(pool, po), sqshook.WithEndpoint(e.srv.URL()),
			sqshook.WithLinger(time.Millisecond), sqshook.WithRetryPolicy(fastRetries),
			sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) { return e.srv.Client(), nil }))
		return &flakyNode{name: name, px: px, d: d}
	}
	nodes := []*flakyNode{mk("a"), mk("b")}

	const groups = 4
	minCuts := int64(30)
	if pgRace {
		minCuts = 20
	}
	var (
		mu     sync.Mutex
		acked  []string
		failed atomic.Int64
		moves  atomic.Int64
	)
	stop := make(chan struct{})
	var cutters sync.WaitGroup
	for k, n := range nodes {
		cutters.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(k)))
			for {
				timer := time.NewTimer(20*time.Millisecond + time.Duration(rng.Int64N(int64(130*time.Millisecond))))
				select {
				case <-stop:
					timer.Stop()
					return
				case <-timer.C:
				}
				n.px.Cut()
				if rng.IntN(4) == 0 { // long enough for the lease to lapse and the other node to notice, on a busy machine too
					timer := time.NewTimer(4 * lease)
					select {
					case <-stop:
					case <-timer.C:
					}
					timer.Stop()
				}
				n.px.Restore()
				n.cuts.Add(1)
			}
		})
	}
	// Who owns the standard hook, sampled: the lease must move.
	ownerQ := "SELECT l.owner FROM " + pgx.Identifier{e.opts.Schema, "sqshook_lease"}.Sanitize() + " l JOIN " +
		pgx.Identifier{e.opts.Schema, "sqshook_hook"}.Sanitize() + " h ON h.id = l.hook WHERE h.hook_id = 'std' AND l.until > now()"
	var watcher sync.WaitGroup
	watcher.Go(func() {
		prev := ""
		for {
			select {
			case <-stop:
				return
			default:
			}
			var owner string
			if err := e.pool.QueryRow(context.Background(), ownerQ).Scan(&owner); err == nil && owner != prev {
				if prev != "" {
					moves.Add(1)
				}
				prev = owner
			}
			time.Sleep(10 * time.Millisecond) // sampling the lease table
		}
	})
	var wg sync.WaitGroup
	for g := range groups {
		wg.Go(func() {
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				n := nodes[i%2]
				id := fmt.Sprintf("g%d-%05d", g, i)
				ev := sqshook.Event{ID: id, Type: "message.new", GroupID: fmt.Sprintf("g%d", g), Body: chatEventJSON(t, "message.new", id)}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := n.d.Publish(ctx, ev)
				cancel()
				switch {
				case err == nil:
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				case errors.Is(err, sqshook.ErrStoreUnavailable):
					failed.Add(1)
				default:
					t.Errorf("Publish %s on %s: %v", id, n.name, err)
				}
			}
		})
	}
	waitPG(t, "drops on both connections and leases moving", func() bool {
		return nodes[0].cuts.Load() >= minCuts && nodes[1].cuts.Load() >= minCuts && moves.Load() >= 2
	})
	close(stop)
	wg.Wait()
	cutters.Wait()
	watcher.Wait()
	waitPG(t, "every copy delivered", func() bool { return e.count(t, "sqshook_copy") == 0 })
	mu.Lock()
	defer mu.Unlock()
	dups, unacked := e.pgCheckDelivered(t, map[string]string{"std": std, "fifo": fifo}, acked)
	cuts := nodes[0].cuts.Load() + nodes[1].cuts.Load()
	if bound := int(cuts) * e.opts.FetchAhead; dups["std"] > bound {
		t.Errorf("std: %d duplicates, more than %d drops × %d copies held", dups["std"], cuts, e.opts.FetchAhead)
	}
	var delivered [2]uint64
	for k, n := range nodes {
		for _, h := range n.d.Stats().Hooks {
			delivered[k] += h.Delivered
		}
	}
	t.Logf("%d connection drops, the standard hook's lease moved %d times; %d events acknowledged, %d Publish calls failed with ErrStoreUnavailable (%d of those events committed nonetheless, delivered); delivered by a %d, by b %d; std duplicates %d",
		cuts, moves.Load(), len(acked), failed.Load(), unacked, delivered[0], delivered[1], dups["std"])
}
