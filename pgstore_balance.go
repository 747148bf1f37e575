// pgstore_balance.go shares a fleet's hooks among its instances: each
// instance keeps a heartbeat row (schema version 2's sqshook_instance
// table), counts the live instances from it, and owns at most its fair
// share of the hooks, ceil(hooks / instances). An instance above its share
// (another one has joined) stops fetching the hooks it has too many of
// and releases each once its fetched copies are settled, so that the
// newcomer takes them over without a duplicate.

package sqshook

import (
	"context"
	"time"
)

// pgBalanceMigration brings the schema from version 2 to 3: the instances'
// heartbeat rows.
func pgBalanceMigration(n func(string) string) []string {
	return []string{
		`CREATE TABLE ` + n("sqshook_instance") + ` (id text PRIMARY KEY, until timestamptz NOT NULL)`,
	}
}

// pgBalance is the fetch loop's view of the fleet (used by that goroutine
// only).
type pgBalance struct {
	beat      time.Time // when the last successful heartbeat was sent
	instances int64     // live instances, this one included; 0 before the first heartbeat
	hooks     int64     // hooks some instance configures (their "configured" mark, pgstore_removal.go, is current)
	owned     int       // leases owned and not being shed
}

// heartbeat, at the end of each round of the fetch loop, recounts the
// leases owned and, every Lease/3, renews this
// instance's heartbeat row (it lapses after Lease) and reads the number
// of live instances and of hooks that some instance configures, in one
// round trip: rows of hooks removed, or parked, do not widen the share.
func (s *pgStore) heartbeat(ctx context.Context) error {
	owned := 0
	s.mu.Lock()
	for _, l := range s.leases {
		if !l.owned {
			l.shedding = false
		} else if !l.shedding {
			owned++
		}
	}
	known := len(s.hooks)
	s.mu.Unlock()
	s.bal.owned = owned
	if known == 0 || !s.bal.beat.IsZero() && time.Since(s.bal.beat) < s.opts.Lease/3 {
		return nil // no hook served yet, or beaten recently
	}
	n := s.opts.name
	sent := time.Now()
	var instances, hooks int64
	err := s.pool.QueryRow(ctx, `WITH me AS (
	INSERT INTO `+n("sqshook_instance")+` (id, until) VALUES ($1, now() + make_interval(secs => $2))
	ON CONFLICT (id) DO UPDATE SET until = EXCLUDED.until),
gone AS (DELETE FROM `+n("sqshook_instance")+` WHERE until < now() - interval '1 hour')
SELECT 1 + (SELECT count(*) FROM `+n("sqshook_instance")+` WHERE until > now() AND id <> $1),
	(SELECT count(*) FROM `+n("sqshook_hook")+` WHERE configured_until > now())`,
		s.opts.InstanceID, s.opts.Lease.Seconds()).Scan(&instances, &hooks)
	if err != nil {
		return err
	}
	s.bal.beat, s.bal.instances, s.bal.hooks = sent, instances, hooks
	return nil
}

// share is this instance's fair share of the hooks: ceil(hooks /
// instances), counting the hooks this instance serves when the database
// does not know them yet.
func (s *pgStore) share() int {
	inst := max(s.bal.instances, 1)
	s.mu.Lock()
	hooks := max(s.bal.hooks, int64(len(s.leases)))
	s.mu.Unlock()
	return int((hooks + inst - 1) / inst)
}

// mayTake reports whether this instance may take one more hook: while it
// owns fewer than its share (before its first heartbeat, counting itself
// alone: only lapsed leases can be taken, and those above the share are
// shed once the heartbeat has counted the others).
func (s *pgStore) mayTake() bool { return s.bal.owned < s.share() }

// shed reports whether l, owned, must not be fetched this round: it is
// above the fair share (then marked so until released) and is released,
// its lease ended at once, when none of its fetched copies is left
// unsettled.
func (s *pgStore) shed(ctx context.Context, l *pgLease) (bool, error) {
	if !l.shedding {
		if l.drainXmax != 0 || s.bal.owned <= s.share() { // a retired pipe's lease is never shed
			return false, nil
		}
		l.shedding = true
		s.bal.owned--
	}
	s.mu.Lock()
	left := len(l.taken)
	s.mu.Unlock()
	if left > 0 {
		return true, nil
	}
	if _, err := s.pool.Exec(ctx, "UPDATE "+s.opts.name("sqshook_lease")+" SET until = now() WHERE hook = $1 AND lane = 0 AND owner = $2",
		l.hook, s.opts.InstanceID); err != nil {
		return true, err
	}
	l.owned, l.shedding = false, false
	return true, nil
}

// leave deletes this instance's heartbeat row, so that the others count
// it out at once.
func (s *pgStore) leave(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, "DELETE FROM "+s.opts.name("sqshook_instance")+" WHERE id = $1", s.opts.InstanceID)
	return err
}
