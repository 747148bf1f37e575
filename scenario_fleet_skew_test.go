// scenario_fleet_skew_test.go runs a fleet whose instances' wall clocks
// disagree by 20 minutes on one PostgreSQL schema, stopping and
// restarting them during traffic: leases are the database's clock and
// renewals the monotonic clock, so the skew must change nothing.

package sqshook_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sqshook/sqshook"
)

// TestPostgresFleetClockSkew runs three dispatchers on one schema, one
// with a wall clock 10 minutes ahead, one 10 minutes behind and one
// right (the dispatcher's clock, which the pipeline's linger, retries,
// ages and rate limits read), delivering to two standard hooks and a FIFO
// one while six serial publishers (six FIFO groups) publish through them.
// Every cycle (SQSHOOK_SKEW_CYCLES, default 9: each instance closed
// and abandoned at least once) one instance is closed or abandoned and
// a new one with the same clock started. Every event reaches every hook,
// nothing else does, each FIFO group in order; a copy is sent twice
// only by two instances (one that stopped and the one that took over)
// and at most FetchAhead times per stop; and the database's log of lease
// changes shows no lease taken from an owner whose lease had not expired,
// and the skewed instances owning leases.
func TestPostgresFleetClockSkew(t *testing.T) {
	cycles := pgEnvInt(t, "SQSHOOK_SKEW_CYCLES", 9)
	const lease = time.Second
	e := newPGEnv(t, lease)
	std1 := e.srv.CreateQueue("skew-1", nil)
	std2 := e.srv.CreateQueue("skew-2", nil)
	fifo := e.srv.CreateQueue("skew.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "false"})
	f := newPGFleet(t, e, []sqshook.Hook{pgHook("std1", std1), pgHook("std2", std2), pgHook("fifo", fifo)})
	offsets := map[string]time.Duration{"ahead": 10 * time.Minute, "behind": -10 * time.Minute, "exact": 0}
	slots := []string{"ahead", "behind", "exact"}
	start := func(slot string) { f.start(slot, sqshook.WithClockOffset(offsets[slot])) }
	for _, s := range slots {
		start(s)
	}
	every := 3 * time.Millisecond
	if pgRace {
		every = 8 * time.Millisecond
	}
	stop := f.traffic(6, every, func(id string) []byte { return chatEventJSON(t, "message.new", id) })
	for c := range cycles {
		// Every hook delivering since the last stop, then the next one.
		f.progress(fmt.Sprintf("cycle %d: every hook delivering", c), 100)
		slot := slots[c%len(slots)]
		f.stop(slot, (c/len(slots))%2 == 1)
		start(slot)
	}
	f.progress("every hook delivering after the last restart", 100)
	published := stop()
	waitPG(t, "every copy delivered", func() bool { return e.count(t, "sqshook_copy") == 0 })
	f.closeAll()

	r := f.checkOutcomes(published)
	changes := f.leaseChanges()
	takenBy := map[string]int{} // lease takeovers by slot
	for owner, n := range changes {
		slot, _, _ := strings.Cut(owner, "-")
		takenBy[slot] += n
	}
	t.Logf("%d events × 3 hooks, %d stops (%v); %d acknowledged, %d duplicates; acknowledged by slot %v; lease owners %v",
		len(published), len(f.stops), f.stops, r.received, r.dups, r.sentBy, changes)
	for _, s := range slots {
		if r.sentBy[s] == 0 || takenBy[s] == 0 {
			t.Errorf("the instances of slot %s (clock %v) took %d leases and delivered %d copies; want some of each", s, offsets[s], takenBy[s], r.sentBy[s])
		}
	}
	if r.deadLettered != 0 {
		t.Errorf("%d dead letters %v, want none", r.deadLettered, r.reasons)
	}
	if len(changes) < 2 {
		t.Errorf("lease owners %v: the leases never moved", changes)
	}
}
