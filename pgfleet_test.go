// pgfleet_test.go is pgFleet: a fleet of dispatchers on one PostgreSQL
// schema (pgEnv) that a test closes, abandons (the instance dies without a
// word: its SQS calls stop, its connections close, its leases are not
// released) and restarts while others publish; with a log of every copy
// each instance had acknowledged by SQS or dead-lettered, and a log, kept
// by a trigger in the database, of every change of a lease's owner. The
// scenarios using it are scenario_fleet_skew_test.go and
// scenario_fleet_accounting_test.go.

package sqshook_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
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
)

// pgFleet is the fleet of one test.
type pgFleet struct {
	t     *testing.T
	e     *pgEnv
	hooks []sqshook.Hook
	queue map[string]string // queue URL → hook ID

	// Publish holds pub shared, stopping an instance exclusively: no
	// Publish is under way on an instance that stops.
	pub  sync.RWMutex
	live map[string]*fleetNode // by slot
	rr   atomic.Uint64

	mu       sync.Mutex
	gen      map[string]int
	outcomes map[fleetCopy][]fleetOutcome
	failed   map[fleetCopy][]string // calls that failed, with the instance and error
	stops    []string               // "closed a-1", "abandoned b-2", in order
}

// fleetNode is one instance: a slot's generation.
type fleetNode struct {
	slot, id string
	pool     *pgxpool.Pool
	sqs      *killableSQS
	d        *sqshook.Dispatcher
	dead     atomic.Bool // abandoned: reports nothing more
}

// fleetCopy is one event's copy for one hook.
type fleetCopy struct{ hook, event string }

// fleetOutcome is what an instance did with a copy: acknowledged by SQS
// (reason "") or dead-lettered with reason.
type fleetOutcome struct {
	node   string
	reason sqshook.Reason
}

// newPGFleet prepares a fleet on e's schema delivering to hooks and
// installs the lease log: a row in fleet_lease_log for each update of a
// lease row that changes its owner, with the previous owner's expiry and
// the database's time of the change.
func newPGFleet(t *testing.T, e *pgEnv, hooks []sqshook.Hook) *pgFleet {
	t.Helper()
	f := &pgFleet{t: t, e: e, hooks: hooks, queue: map[string]string{}, live: map[string]*fleetNode{},
		gen: map[string]int{}, outcomes: map[fleetCopy][]fleetOutcome{}, failed: map[fleetCopy][]string{}}
	for _, h := range hooks {
		f.queue[h.SQSQueueURL] = h.ID
	}
	n := func(table string) string { return pgx.Identifier{e.opts.Schema, table}.Sanitize() }
	for _, q := range []string{
		`CREATE TABLE ` + n("fleet_lease_log") + ` (hook bigint, old_owner text, old_until timestamptz, new_owner text, at timestamptz)`,
		`CREATE FUNCTION ` + n("fleet_lease_log") + `() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.owner IS DISTINCT FROM OLD.owner THEN
		INSERT INTO ` + n("fleet_lease_log") + ` VALUES (OLD.hook, OLD.owner, OLD.until, NEW.owner, now());
	END IF;
	RETURN NEW;
END $$`,
		`CREATE TRIGGER fleet_lease_log BEFORE UPDATE ON ` + n("sqshook_lease") + ` FOR EACH ROW EXECUTE FUNCTION ` + n("fleet_lease_log") + `()`,
	} {
		if _, err := e.pool.Exec(context.Background(), q); err != nil {
			t.Fatalf("installing the lease log: %v", err)
		}
	}
	return f
}

// start starts the slot's next instance with opts added to the fleet's.
func (f *pgFleet) start(slot string, opts ...sqshook.Option) *fleetNode {
	f.t.Helper()
	f.mu.Lock()
	f.gen[slot]++
	n := &fleetNode{slot: slot, id: fmt.Sprintf("%s-%d", slot, f.gen[slot])}
	f.mu.Unlock()
	n.pool = pgtest.Pool(f.t, f.e.url)
	n.sqs = &killableSQS{Client: f.e.srv.Client(), dead: make(chan struct{})}
	client := &fleetSQS{killableSQS: n.sqs, f: f, node: n}
	po := f.e.opts
	po.InstanceID = n.id
	base := []sqshook.Option{
		sqshook.WithPostgres(n.pool, po),
		sqshook.WithEndpoint(f.e.srv.URL()),
		sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) { return client, nil }),
		sqshook.WithLinger(time.Millisecond),
		sqshook.WithRetryPolicy(fastRetries),
		sqshook.WithDeadLetter(func(dl sqshook.DeadLetter) {
			if !n.dead.Load() {
				f.record(fleetCopy{dl.HookID, dl.Event.ID}, fleetOutcome{n.id, dl.Reason})
			}
		}),
	}
	n.d = startDispatcher(f.t, f.hooks, append(base, opts...)...)
	f.pub.Lock()
	f.live[slot] = n
	f.pub.Unlock()
	return n
}

// stop takes the slot's instance out of the fleet: closed (Close delivers
// what it holds and releases its leases) or abandoned.
func (f *pgFleet) stop(slot string, abandon bool) {
	f.t.Helper()
	f.pub.Lock()
	n := f.live[slot]
	delete(f.live, slot)
	f.pub.Unlock()
	if n == nil {
		f.t.Fatalf("no instance in slot %s", slot)
	}
	what := "closed"
	if abandon {
		what = "abandoned"
		n.dead.Store(true)
		n.sqs.kill()
		n.pool.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = n.d.Close(ctx) // gives up on what it held: nothing more reaches SQS
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := n.d.Close(ctx)
		cancel()
		if err != nil {
			f.t.Errorf("Close of %s: %v", n.id, err)
		}
	}
	f.mu.Lock()
	f.stops = append(f.stops, what+" "+n.id)
	f.mu.Unlock()
}

// holding waits until a live instance holds at least n copies (queued,
// in flight or waiting to be retried) and returns its slot: the one
// holding most.
func (f *pgFleet) holding(n int) (slot string) {
	f.t.Helper()
	waitPG(f.t, fmt.Sprintf("an instance holding %d copies", n), func() bool {
		f.pub.RLock()
		defer f.pub.RUnlock()
		most := -1
		for s, node := range f.live {
			held := 0
			for _, h := range node.d.Stats().Hooks {
				held += h.Queued + h.InFlight + h.Retrying
			}
			if held > most {
				slot, most = s, held
			}
		}
		return most >= n
	})
	return slot
}

// publish publishes ev on one of the live instances, in turn.
func (f *pgFleet) publish(ev sqshook.Event) error {
	f.pub.RLock()
	defer f.pub.RUnlock()
	slots := slices.Sorted(maps.Keys(f.live))
	if len(slots) == 0 {
		return fmt.Errorf("no live instance")
	}
	n := f.live[slots[int(f.rr.Add(1))%len(slots)]]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return n.d.Publish(ctx, ev)
}

func (f *pgFleet) record(c fleetCopy, o fleetOutcome) {
	f.mu.Lock()
	f.outcomes[c] = append(f.outcomes[c], o)
	f.mu.Unlock()
}

// fleetSQS logs the entries SQS acknowledged, by instance.
type fleetSQS struct {
	*killableSQS
	f    *pgFleet
	node *fleetNode
}

func (c *fleetSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	out, err := c.killableSQS.SendMessageBatch(ctx, in, opts...)
	hook := c.f.queue[*in.QueueUrl]
	byID := map[string]string{}
	for _, en := range in.Entries {
		byID[*en.Id] = *en.MessageAttributes[sqshook.AttrEventID].StringValue
	}
	if err != nil {
		c.f.mu.Lock()
		for _, id := range byID {
			c.f.failed[fleetCopy{hook, id}] = append(c.f.failed[fleetCopy{hook, id}], c.node.id+": "+err.Error())
		}
		c.f.mu.Unlock()
		return out, err
	}
	for _, ok := range out.Successful {
		c.f.record(fleetCopy{hook, byID[*ok.Id]}, fleetOutcome{node: c.node.id})
	}
	return out, err
}

// leaseChanges reads the lease log: every change of owner, failing the
// test for one made while the previous owner's lease had not expired
// (two owners at once). It returns the changes by new owner.
func (f *pgFleet) leaseChanges() map[string]int {
	f.t.Helper()
	rows, err := f.e.pool.Query(context.Background(), `SELECT l.hook, l.old_owner, l.new_owner, l.old_until > l.at, CASE WHEN l.old_until > l.at THEN extract(epoch from l.old_until - l.at) ELSE 0 END
FROM `+pgx.Identifier{f.e.opts.Schema, "fleet_lease_log"}.Sanitize()+` l ORDER BY l.at`)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	by := map[string]int{}
	for rows.Next() {
		var hook int64
		var from, to string
		var live bool
		var left float64
		if err := rows.Scan(&hook, &from, &to, &live, &left); err != nil {
			f.t.Fatal(err)
		}
		if live && from != "" {
			f.t.Errorf("hook row %d: %s took the lease from %s, whose lease had %.3fs left: two owners at once", hook, to, from, left)
		}
		by[to]++
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	return by
}

// fleetOutcomes is what checkOutcomes found.
type fleetOutcomes struct {
	copies, received, deadLettered, dups int
	ambiguous                            int // in the queue, the call that sent it failed
	reasons                              map[sqshook.Reason]int
	sentBy                               map[string]int // acknowledged copies by slot
}

// checkOutcomes accounts for every copy of every event in published
// (event ids) to every hook: each was acknowledged by SQS to some
// instance or dead-lettered by one with a reason the test allows, none
// missing and none of an event not published; each queue holds exactly
// the acknowledged events; each FIFO group's events are in the order
// published (ids sort in publishing order within a group). A copy with
// more than one outcome is a duplicate: it must have outcomes from two
// instances at least (one instance never sends a copy twice here), and the
// duplicates of a hook are at most FetchAhead per instance stopped.
func (f *pgFleet) checkOutcomes(published []string, allowed ...sqshook.Reason) fleetOutcomes {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	r := fleetOutcomes{reasons: map[sqshook.Reason]int{}, sentBy: map[string]int{}}
	isPub := map[string]bool{}
	for _, id := range published {
		isPub[id] = true
	}
	for c := range f.outcomes {
		if !isPub[c.event] {
			f.t.Errorf("hook %s: event %q had an outcome, never published", c.hook, c.event)
		}
	}
	fetchAhead := f.e.opts.FetchAhead
	if fetchAhead == 0 {
		fetchAhead = sqshook.DefaultPostgresFetchAhead
	}
	for _, h := range f.hooks {
		// A message in the queue that no instance saw acknowledged was
		// sent by a call that failed after SQS had taken it (an
		// abandoned instance's call, cancelled): it counts as received.
		msgs := f.e.srv.Received(h.SQSQueueURL)
		for _, m := range msgs {
			id := m.Attributes[sqshook.AttrEventID].StringValue
			c := fleetCopy{h.ID, id}
			if slices.ContainsFunc(f.outcomes[c], func(o fleetOutcome) bool { return o.reason == "" }) {
				continue
			}
			if len(f.failed[c]) == 0 {
				f.t.Errorf("hook %s: queue holds %s, no instance sent it", h.ID, id)
				continue
			}
			f.outcomes[c] = append(f.outcomes[c], fleetOutcome{node: "ambiguous"})
			r.ambiguous++
		}
		acked := map[string]bool{}
		missing, dups := 0, 0
		for _, id := range published {
			r.copies++
			outs := f.outcomes[fleetCopy{h.ID, id}]
			if len(outs) == 0 {
				if missing++; missing <= 5 {
					f.t.Errorf("hook %s: event %s neither received nor dead-lettered", h.ID, id)
				}
				continue
			}
			nodes := map[string]bool{}
			for _, o := range outs {
				nodes[o.node] = true
				if o.reason == "" {
					acked[id] = true
					r.received++
					r.sentBy[strings.SplitN(o.node, "-", 2)[0]]++
					continue
				}
				r.deadLettered++
				r.reasons[o.reason]++
				if !slices.Contains(allowed, o.reason) {
					f.t.Errorf("hook %s: event %s dead-lettered by %s with reason %q", h.ID, id, o.node, o.reason)
				}
			}
			if len(outs) > 1 && len(nodes) < 2 {
				f.t.Errorf("hook %s: event %s: %d outcomes, all by %v: one instance sent a copy twice", h.ID, id, len(outs), slices.Collect(maps.Keys(nodes)))
			}
			dups += len(outs) - 1
		}
		if missing > 0 {
			f.t.Errorf("hook %s: %d of %d copies missing", h.ID, missing, len(published))
		}
		if bound := len(f.stops) * fetchAhead; dups > bound {
			f.t.Errorf("hook %s: %d duplicates, more than %d stops × %d copies an owner holds", h.ID, dups, len(f.stops), fetchAhead)
		}
		r.dups += dups
		// The queue holds what SQS acknowledged, nothing else.
		got := map[string]bool{}
		last := map[string]string{}
		for _, m := range msgs {
			id := m.Attributes[sqshook.AttrEventID].StringValue
			got[id] = true
			if m.GroupID != "" {
				if prev, ok := last[m.GroupID]; ok && id <= prev {
					f.t.Errorf("hook %s: group %s: %s after %s", h.ID, m.GroupID, id, prev)
				}
				last[m.GroupID] = id
			}
		}
		if len(got) != len(acked) {
			f.t.Errorf("hook %s: queue holds %d events, %d acknowledged", h.ID, len(got), len(acked))
		}
	}
	return r
}

// closeAll closes the live instances and checks each one's accounting.
func (f *pgFleet) closeAll() {
	f.t.Helper()
	for _, slot := range slices.Sorted(maps.Keys(f.live)) {
		n := f.live[slot]
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := n.d.Close(ctx); err != nil {
			f.t.Errorf("Close of %s: %v", n.id, err)
		}
		cancel()
		checkAccounting(f.t, n.d, true)
	}
}

// traffic starts groups serial publishers, each publishing the events of
// its FIFO group (ids gN-000000 up) every interval on the live
// instances in turn; the returned stop ends them and returns the ids
// published (each Publish returned nil: a failing one fails the test).
func (f *pgFleet) traffic(groups int, every time.Duration, body func(id string) []byte) (stop func() []string) {
	var (
		mu   sync.Mutex
		ids  []string
		wg   sync.WaitGroup
		done = make(chan struct{})
	)
	for g := range groups {
		wg.Go(func() {
			tick := time.NewTicker(every)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				case <-tick.C:
				}
				id := fmt.Sprintf("g%d-%06d", g, i)
				ev := sqshook.Event{ID: id, Type: "message.new", GroupID: fmt.Sprintf("g%d", g), Body: body(id)}
				if err := f.publish(ev); err != nil {
					f.t.Errorf("Publish %s: %v", id, err)
					return
				}
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}
		})
	}
	var once sync.Once
	end := func() { once.Do(func() { close(done); wg.Wait() }) }
	f.t.Cleanup(end) // before the instances close, when the test ends early
	return func() []string {
		end()
		mu.Lock()
		defer mu.Unlock()
		return ids
	}
}

// acked counts the copies SQS acknowledged so far, by hook.
func (f *pgFleet) acked() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := map[string]int{}
	for c, outs := range f.outcomes {
		for _, o := range outs {
			if o.reason == "" {
				n[c.hook]++
			}
		}
	}
	return n
}

// progress waits until SQS acknowledged at least n more copies of every
// hook than it had when progress was called.
func (f *pgFleet) progress(what string, n int) {
	f.t.Helper()
	before := f.acked()
	waitPG(f.t, what, func() bool {
		now := f.acked()
		for _, h := range f.hooks {
			if now[h.ID] < before[h.ID]+n {
				return false
			}
		}
		return true
	})
}
