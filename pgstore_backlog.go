// pgstore_backlog.go owns the PostgreSQL store's view of the backlog in
// the database (pgstore.go): the owner of a hook's lease counts the
// hook's copies (bounded) every Lease/3 and writes the figure to
// sqshook_hook.backlog; every instance reads, in the same round trip, the
// figures of the hooks it configures. From them come HookStats.Stored,
// SpoolStats with WithPostgres, the sqshook.stored.events gauge and the
// per-tenant quota (PostgresOptions.TenantQuota) that Publish checks
// without a round trip of its own.

package sqshook

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// DefaultPostgresTenantQuota is PostgresOptions.TenantQuota's default: the
// most copies of one tenant's hooks that may wait in the database before
// Publish applies the overflow rule. Counting that many copies of a hook
// takes its owner 10–100 ms (an index-only scan), every Lease/3.
const DefaultPostgresTenantQuota = 100_000

// pgBacklogCountMin is the least a hook's count goes up to: a hook with
// more copies than the bound in force is shown at the bound plus one.
const pgBacklogCountMin = 100_000

// pgBacklogCountBatch is the most hooks one round trip counts, those
// counted longest ago first: an owner of many hooks that are all at the
// bound (a wide SQS outage) counts each less often rather than running
// a statement longer than its timeout.
const pgBacklogCountBatch = 16

func (o PostgresOptions) quotaDefaults() PostgresOptions {
	if o.TenantQuota == 0 {
		o.TenantQuota = DefaultPostgresTenantQuota
	}
	return o
}

func validateTenantQuota(o PostgresOptions, v *validator) {
	if q := o.TenantQuota; q < -1 {
		v.add("postgres", fmt.Sprintf("tenant_quota %d: want a number of copies, 0 for the default or -1 for none", q))
	}
}

// countCap is the most copies of one hook a count reads: past the quota,
// so that a tenant's sum tells whether it is past it.
func (o PostgresOptions) countCap() int64 {
	return max(o.TenantQuota, pgBacklogCountMin) + 1
}

// pgBacklog is what this instance knows of the copies waiting in the
// database for the hooks it configures; its own mutex, taken under a
// pipe's or the store's lock and never the other way round.
type pgBacklog struct {
	last    time.Time           // when the last round trip was sent (fetch loop only)
	counted map[int64]time.Time // hook row id → when its last count was sent (fetch loop only)

	mu       sync.Mutex
	byKey    map[string]int64 // store key → copies, as last counted, plus local publishes, less local deletes
	owned    map[string]bool  // the hooks whose lease this instance owns (it counts them)
	byTenant map[string]int64 // the sum of byKey per tenant
	// since counts the copies recorded since the last round trip was sent:
	// its counts may not see them, so they are added to its figures (a
	// copy it did see is then counted twice until the next round: the
	// quota errs on the safe side).
	since map[string]int64
}

// backlogRound, once per Lease/3 at the end of a round of the fetch loop,
// counts the copies of the hooks this instance owns (each up to countCap;
// up to pgBacklogCountBatch hooks, those counted longest ago first),
// writes the counts that changed to sqshook_hook.backlog, and reads the
// figures of every hook it configures: one round trip. Then a Publish
// waiting for room under the quota looks again. It has a Lease/3 of its
// own: the counts never take the round's time from the renewals; a
// failed round is tried again Lease/3 later.
func (s *pgStore) backlogRound(ctx context.Context, d *Dispatcher) error {
	if !s.bl.last.IsZero() && time.Since(s.bl.last) < s.opts.Lease/3 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Lease/3)
	defer cancel()
	d.mu.Lock()
	pipes := d.pipeListLocked()
	d.mu.Unlock()
	var ids, own []int64
	keyOf := map[int64]string{}
	ownSet := map[int64]bool{}
	active := activePipes(pipes) // before the store's lock: see pgStore.mu
	s.mu.Lock()
	for _, p := range active {
		k := p.storeKey()
		id, ok := s.hooks[k]
		if !ok {
			continue
		}
		if _, dup := keyOf[id]; dup {
			continue
		}
		keyOf[id] = k
		ids = append(ids, id)
		if l := s.leases[k]; l != nil && l.owned && l.hook == id && time.Since(l.renewed) < s.opts.Lease*4/5 {
			own = append(own, id)
			ownSet[id] = true
		}
	}
	s.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	if s.bl.counted == nil {
		s.bl.counted = map[int64]time.Time{}
	}
	for id := range s.bl.counted {
		if !ownSet[id] {
			delete(s.bl.counted, id)
		}
	}
	if len(own) > pgBacklogCountBatch {
		slices.SortFunc(own, func(a, b int64) int { return s.bl.counted[a].Compare(s.bl.counted[b]) })
		own = own[:pgBacklogCountBatch]
	}
	n := s.opts.name
	sent := time.Now()
	s.bl.last = sent
	for _, id := range own {
		s.bl.counted[id] = sent
	}
	s.bl.mu.Lock()
	s.bl.since = map[string]int64{}
	s.bl.mu.Unlock()
	rows, err := s.pool.Query(ctx, `WITH c AS (
	SELECT h.id, (SELECT count(*) FROM (SELECT 1 FROM `+n("sqshook_copy")+` WHERE hook = h.id ORDER BY hook, lane, event LIMIT $2) x) AS n
	FROM unnest($1::bigint[]) AS h(id)),
u AS (UPDATE `+n("sqshook_hook")+` AS k SET backlog = c.n FROM c WHERE k.id = c.id AND k.backlog <> c.n)
SELECT k.id, coalesce(c.n, k.backlog) FROM `+n("sqshook_hook")+` AS k LEFT JOIN c ON c.id = k.id
WHERE k.id = ANY($3)`, own, s.opts.countCap(), ids)
	if err != nil {
		return err
	}
	byKey := make(map[string]int64, len(ids))
	owned := map[string]bool{}
	for rows.Next() {
		var id, count int64
		if err := rows.Scan(&id, &count); err != nil {
			rows.Close()
			return err
		}
		k := keyOf[id]
		byKey[k] = count
		owned[k] = ownSet[id]
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	s.bl.mu.Lock()
	for k, c := range s.bl.since {
		if _, ok := byKey[k]; ok {
			byKey[k] += c
		}
	}
	byTenant := map[string]int64{}
	for k, c := range byKey {
		tenant, _, _ := parseStoreKey(k)
		byTenant[tenant] += c
	}
	s.bl.byKey, s.bl.owned, s.bl.byTenant, s.bl.since = byKey, owned, byTenant, nil
	s.bl.mu.Unlock()
	if s.roomFreed != nil {
		s.roomFreed()
	}
	return nil
}

// overQuota returns an error wrapping errStoreQuota when tenant's copies
// in the database, as last known, have reached the quota.
func (s *pgStore) overQuota(tenant string) error {
	q := s.opts.TenantQuota
	if q < 0 {
		return nil
	}
	s.bl.mu.Lock()
	n := s.bl.byTenant[tenant]
	s.bl.mu.Unlock()
	if n < q {
		return nil
	}
	return fmt.Errorf("%w: %s", errStoreQuota, s.quotaMessage())
}

// quotaMessage says why a copy was refused past the quota.
func (s *pgStore) quotaMessage() string {
	return fmt.Sprintf("the tenant's copies waiting in the database reached its quota of %d (PostgresOptions.TenantQuota)", s.opts.TenantQuota)
}

// backlogAdded counts copies just recorded (committed, or in a caller's
// transaction that may yet roll back: the next count corrects it).
func (s *pgStore) backlogAdded(keys []string) {
	s.bl.mu.Lock()
	defer s.bl.mu.Unlock()
	if s.bl.byKey == nil {
		s.bl.byKey, s.bl.byTenant = map[string]int64{}, map[string]int64{}
	}
	for _, k := range keys {
		tenant, _, _ := parseStoreKey(k)
		s.bl.byKey[k]++
		s.bl.byTenant[tenant]++
		if s.bl.since != nil {
			s.bl.since[k]++
		}
	}
}

// backlogDeleted counts copies just deleted (settled) by this instance;
// s.mu is held (for s.keys).
func (s *pgStore) backlogDeletedLocked(dels map[int64][]int64) {
	s.bl.mu.Lock()
	defer s.bl.mu.Unlock()
	for h, evs := range dels {
		k, ok := s.keys[h]
		c, known := s.bl.byKey[k]
		if !ok || !known {
			continue
		}
		d := min(c, int64(len(evs)))
		tenant, _, _ := parseStoreKey(k)
		s.bl.byKey[k] = c - d
		s.bl.byTenant[tenant] -= d
	}
}

// storedOf is HookStats.Stored of the hook with store key k; owned
// reports whether this instance owns its lease (and so counts it).
func (s *pgStore) storedOf(k string) (n uint64, owned bool) {
	s.bl.mu.Lock()
	defer s.bl.mu.Unlock()
	return uint64(max(s.bl.byKey[k], 0)), s.bl.owned[k]
}

// backlogStats fills SpoolStats's numbers with WithPostgres.
func (s *pgStore) backlogStats(st *storeStats) {
	s.bl.mu.Lock()
	defer s.bl.mu.Unlock()
	for _, n := range s.bl.byKey {
		st.Pending += int(max(n, 0))
	}
	if q := s.opts.TenantQuota; q > 0 {
		st.TenantQuota = q
		for _, n := range s.bl.byTenant {
			if n >= q {
				st.OverQuota++
			}
		}
	}
}

// flush is Flush's wait on the database: until no copy, of the hooks of
// the active pipes, of an event this instance recorded before the call
// (the largest id then) is left in the database, delivered or
// dead-lettered by whichever instance owns the hook. Copies held past
// their retry budget are waited for, as the spool's are; replays are not
// (Replay is not a publish), nor are the hooks of retired pipes (a pipe
// draining a removed hook waits for its copies itself, and what is left
// after it is parked). It looks every Poll (at least every 10 ms) and
// returns ctx's error when ctx ends first, and nil when closing is closed
// (Close leaves the copies in the database: Flush then waits for the
// pipes, as without a database); a round trip the database does not
// answer is tried again.
func (s *pgStore) flush(ctx context.Context, pipes []*pipe, closing <-chan struct{}) error {
	upto := s.lastEvent.Load()
	if upto == 0 {
		return nil
	}
	var ids []int64
	active := activePipes(pipes)
	s.mu.Lock()
	for _, p := range active {
		if id, ok := s.hooks[p.storeKey()]; ok && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	q := `SELECT EXISTS (SELECT 1 FROM ` + s.opts.name("sqshook_copy") + ` WHERE hook = ANY($1) AND lane = 0 AND event <= $2 AND NOT replay)`
	every := max(s.opts.Poll, 10*time.Millisecond)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-closing:
			return nil
		case <-t.C:
		}
		var left bool
		if err := s.pool.QueryRow(ctx, q, ids, upto).Scan(&left); err == nil && !left {
			return nil
		}
		t.Reset(every)
	}
}
