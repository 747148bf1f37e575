// pgstore_removal.go owns what the PostgreSQL store (pgstore.go) does
// for hooks that are no longer configured: the "configured" marker
// (sqshook_hook.configured_until, renewed by every instance with an
// active pipe for the hook), the draining of a removed hook's copies
// from the database by its retired pipe (and their purge, with
// RemoveTenant's WithPurge, through the pipe's own purge), and the sweep
// of parked copies, those of hooks no instance has configured for
// WithResumeWait, which are dead-lettered with ReasonHookRemoved.

package sqshook

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgConfiguredLeases is how many leases past its last renewal a hook
// counts as configured: an instance renews configured_until to now() +
// this many leases, by the database's clock, when less than one lease of
// it is left beyond the next, so a hook is written about once a lease
// whatever the number of instances that configure it.
const pgConfiguredLeases = 3

// pgParkedBatch is the most parked copies one batch of the sweep reads,
// dead-letters and deletes.
const pgParkedBatch = 500

// pgDrain is a retired pipe's watermark: the snapshot of the database
// taken once the fetch loop first saw the pipe retired. The copies of its
// hook recorded before that (by transactions below xmax) are the pipe's to
// deliver; the pipe is done once none is left and none of the
// transactions in progress then (xip) still runs, or at least a lease has
// passed since: the snapshot's transactions are the whole cluster's, and
// an unrelated one left open must not hold the removal (a Publish that
// raced it commits within a lease; a transaction that commits copies
// later leaves them parked).
type pgDrain struct {
	xmax int64
	xip  []int64
	at   time.Time // when the snapshot was taken (monotonic)
}

// pgRenewal is what the fetch loop last wrote of configured_until (used by
// that goroutine only).
type pgRenewal struct {
	ids  []int64   // the hook rows marked, sorted
	sent time.Time // when the statement was sent (monotonic)
}

// activePipes are those of pipes that serve their hook now (not retired,
// not aborted). Each pipe's lock is taken in turn, with no store lock
// held.
func activePipes(pipes []*pipe) []*pipe {
	var active []*pipe
	for _, p := range pipes {
		p.mu.Lock()
		if p.state == pipeActive && !p.aborted {
			active = append(active, p)
		}
		p.mu.Unlock()
	}
	return active
}

// sortPipes splits the dispatcher's pipes into the active ones and the
// retired ones whose hook's copies the database may still hold (see
// pipe.storeDraining). A retired pipe whose hook an active pipe of this
// instance serves again (its tenant removed and configured again) is done
// with the database: the active pipe delivers those copies.
func (s *pgStore) sortPipes(pipes []*pipe) (active, retired []*pipe) {
	keys := map[string]bool{}
	active = activePipes(pipes)
	for _, p := range active {
		keys[p.storeKey()] = true
	}
	for _, p := range pipes {
		if !p.storeDraining() {
			continue
		}
		if keys[p.storeKey()] {
			delete(s.drains, p)
			p.storeDrained()
			continue
		}
		retired = append(retired, p)
	}
	for p := range s.drains { // pipes done, or aborted, meanwhile
		if !slices.Contains(retired, p) {
			delete(s.drains, p)
		}
	}
	return active, retired
}

// drainMode sets the fetch bound of l, the lease p is served under: a
// retired pipe's lease fetches only the copies recorded before its
// watermark, whatever this instance's share of the hooks (it is never
// shed). It reports whether p is retired. Changing the bound starts the
// hook's reading again from its first copy, since the rounds read under
// the old bound may have passed copies over.
func (s *pgStore) drainMode(p *pipe, l *pgLease) bool {
	var bound int64
	if dr := s.drains[p]; dr != nil {
		bound = dr.xmax
	}
	if l.drainXmax != bound {
		l.drainXmax = bound
		l.inRound = false
		l.hint, l.xip, l.xmax = 0, nil, 0
	}
	return bound != 0
}

// drain serves the retired pipes: each keeps competing for its hook's
// lease and fetching the hook's copies recorded before its watermark
// (a purging pipe dead-letters them as it reads them back), until the
// database holds none of them; then the pipe may be done (RemoveTenant's
// wait ends) and this instance lets the lease go.
func (s *pgStore) drain(ctx context.Context, retired []*pipe) (more bool, err error) {
	served := map[string]bool{}
	left := map[string]int{} // retired pipes of each hook not yet drained
	for _, p := range retired {
		left[p.storeKey()]++
	}
	for _, p := range retired {
		key := p.storeKey()
		dr := s.drains[p]
		if dr == nil {
			dr = &pgDrain{at: time.Now()}
			if err := s.pool.QueryRow(ctx, "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint, ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(pg_current_snapshot()) AS x)").
				Scan(&dr.xmax, &dr.xip); err != nil {
				return more, err
			}
			s.drains[p] = dr
		}
		if !served[key] { // one pipe per hook competes for it
			served[key] = true
			m, err := s.serve(ctx, p)
			if err != nil {
				return more, err
			}
			more = more || m
		}
		s.mu.Lock()
		l, hook := s.leases[key], s.hooks[key]
		held := l != nil && len(l.taken) > 0
		s.mu.Unlock()
		if held || hook == 0 {
			continue // this instance holds some of them: settled first
		}
		xip := dr.xip
		if time.Since(dr.at) >= s.opts.Lease {
			xip = nil
		}
		var empty bool
		err := s.pool.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM `+s.opts.name("sqshook_copy")+` WHERE hook = $1 AND lane = 0 AND xid < $2)
	AND NOT EXISTS (SELECT 1 FROM unnest($3::bigint[]) AS x WHERE NOT pg_visible_in_snapshot(x::text::xid8, pg_current_snapshot()))`,
			hook, dr.xmax, xip).Scan(&empty)
		if err != nil {
			return more, err
		}
		if !empty {
			continue
		}
		delete(s.drains, p)
		p.storeDrained()
		if left[key]--; left[key] == 0 {
			if err := s.letGo(ctx, key); err != nil {
				return more, err
			}
		}
	}
	return more, nil
}

// letGo forgets the lease of a hook no pipe of this instance serves any
// more, ending it at once if this instance owns it, so that an instance
// that configures the hook takes it without waiting for it to lapse.
func (s *pgStore) letGo(ctx context.Context, key string) error {
	s.mu.Lock()
	l := s.leases[key]
	s.mu.Unlock()
	if l == nil {
		return nil
	}
	if l.owned {
		if _, err := s.pool.Exec(ctx, "UPDATE "+s.opts.name("sqshook_lease")+" SET until = now() WHERE hook = $1 AND lane = 0 AND owner = $2",
			l.hook, s.opts.InstanceID); err != nil {
			return err
		}
	}
	s.mu.Lock()
	if len(l.taken) == 0 {
		delete(s.leases, key)
	}
	s.mu.Unlock()
	return nil
}

// renewConfigured marks the hooks of the active pipes as configured, in
// one statement for all of them: every Lease/3, and at once when the set
// changes. A row already marked far enough ahead (by another instance) is
// not written.
func (s *pgStore) renewConfigured(ctx context.Context, active []*pipe) error {
	ids := make([]int64, 0, len(active))
	s.mu.Lock()
	for _, p := range active {
		if id, ok := s.hooks[p.storeKey()]; ok {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	slices.Sort(ids)
	ids = slices.Compact(ids)
	r := &s.renewal
	if len(ids) == 0 || slices.Equal(ids, r.ids) && time.Since(r.sent) < s.opts.Lease/3 {
		return nil
	}
	L := s.opts.Lease.Seconds()
	sent := time.Now()
	_, err := s.pool.Exec(ctx, "UPDATE "+s.opts.name("sqshook_hook")+
		" SET configured_until = now() + make_interval(secs => $2) WHERE id = ANY($1) AND (configured_until IS NULL OR configured_until < now() + make_interval(secs => $3))",
		ids, pgConfiguredLeases*L, (pgConfiguredLeases-1)*L)
	if err != nil {
		return err
	}
	r.ids, r.sent = ids, sent
	return nil
}

// pgParkedHook is a hook row whose copies are parked.
type pgParkedHook struct {
	id             int64
	tenant, hookID string
}

// sweepParked dead-letters, with ReasonHookRemoved, the copies of the
// hooks whose configured_until passed more than d's WithResumeWait ago
// (none with 0) and whose lease nobody holds, in batches, and counts
// them in d's SpoolStats.HookRemoved; it returns how many. It runs in the
// sweep, one instance of the fleet at a time. A hook row never marked
// (configured_until NULL) is marked now, which starts its wait.
func (s *pgStore) sweepParked(ctx context.Context, d *Dispatcher) (int, error) {
	wait := d.cfg.resumeWait
	if wait <= 0 {
		return 0, nil
	}
	n := s.opts.name
	if _, err := s.pool.Exec(ctx, "UPDATE "+n("sqshook_hook")+" SET configured_until = now() WHERE configured_until IS NULL"); err != nil {
		return 0, err
	}
	rows, err := s.pool.Query(ctx, `SELECT h.id, h.tenant, h.hook_id FROM `+n("sqshook_hook")+` h
WHERE h.configured_until < now() - make_interval(secs => $1)
	AND EXISTS (SELECT 1 FROM `+n("sqshook_copy")+` c WHERE c.hook = h.id)
ORDER BY h.id`, wait.Seconds())
	if err != nil {
		return 0, err
	}
	hooks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pgParkedHook, error) {
		var h pgParkedHook
		err := r.Scan(&h.id, &h.tenant, &h.hookID)
		return h, err
	})
	if err != nil {
		return 0, err
	}
	total := 0
	for _, h := range hooks {
		k, err := s.dropParked(ctx, d, h, wait)
		total += k
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// dropParked dead-letters the parked copies of one hook in batches, under
// the hook's lease, which the sweep takes (as "<instance>/sweep") only
// while the hook is still unconfigured and nobody holds it, and renews
// before each batch: an instance that configures the hook again meanwhile
// renews configured_until, the sweep stops at its next batch and lets the
// lease go, and that instance delivers the rest. Each batch is reported
// before it is deleted (a crash in between reports it again).
func (s *pgStore) dropParked(ctx context.Context, d *Dispatcher, h pgParkedHook, wait time.Duration) (int, error) {
	n := s.opts.name
	me := s.opts.InstanceID + "/sweep"
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), s.opts.Lease)
		defer cancel()
		_, _ = s.pool.Exec(rctx, "UPDATE "+n("sqshook_lease")+" SET until = now() WHERE hook = $1 AND lane = 0 AND owner = $2", h.id, me)
	}()
	key := storeKeyOf(h.tenant, h.hookID)
	why := fmt.Sprintf("hook %q not configured by any instance of the fleet for %v (WithResumeWait)", h.hookID, wait)
	total := 0
	for {
		tag, err := s.pool.Exec(ctx, `UPDATE `+n("sqshook_lease")+` l SET owner = $2, until = now() + make_interval(secs => $3)
FROM `+n("sqshook_hook")+` h
WHERE l.hook = $1 AND l.lane = 0 AND h.id = l.hook AND (l.owner = $2 OR l.until < now())
	AND h.configured_until < now() - make_interval(secs => $4)`,
			h.id, me, s.opts.Lease.Seconds(), wait.Seconds())
		if err != nil || tag.RowsAffected() == 0 {
			return total, err // configured again, or held by an instance
		}
		rows, err := s.pool.Query(ctx, `SELECT c.event, c.replay, e.type, e.group_id, e.dedup_id, e.event_id, e.attributes, e.body
FROM `+n("sqshook_copy")+` c JOIN `+n("sqshook_event")+` e ON e.id = c.event
WHERE c.hook = $1 AND c.lane = 0 ORDER BY c.event LIMIT $2`, h.id, pgParkedBatch)
		if err != nil {
			return total, err
		}
		var events []int64
		var dls []DeadLetter
		for rows.Next() {
			var id int64
			var replay bool
			var ev Event
			var attrs []byte
			if err := rows.Scan(&id, &replay, &ev.Type, &ev.GroupID, &ev.DedupID, &ev.ID, &attrs, &ev.Body); err != nil {
				rows.Close()
				return total, err
			}
			decodeAttrs(&ev, attrs)
			if replay {
				markReplay(&ev)
			}
			events = append(events, id)
			dls = append(dls, d.spoolDeadLetter(key, ev, ReasonHookRemoved, why))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return total, err
		}
		if len(dls) == 0 {
			return total, nil
		}
		d.store.removed.Add(uint64(len(dls)))
		d.dispatchDeadLetters(dls) // no ref: deleted below, not settled one by one
		total += len(dls)
		tag, err = s.pool.Exec(ctx, `DELETE FROM `+n("sqshook_copy")+` WHERE hook = $1 AND lane = 0 AND event = ANY($2)
	AND EXISTS (SELECT 1 FROM `+n("sqshook_lease")+` WHERE hook = $1 AND lane = 0 AND owner = $3)`, h.id, events, me)
		if err != nil || tag.RowsAffected() == 0 {
			return total, err // the lease lapsed and was taken: its new owner has them
		}
		if len(dls) < pgParkedBatch {
			return total, nil
		}
	}
}
