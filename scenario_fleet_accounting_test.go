// scenario_fleet_accounting_test.go accounts for every copy across a
// fleet on one PostgreSQL schema whose instances are closed and
// abandoned mid-traffic, on an SQS that refuses some entries for good and
// fails some calls for a while.

package sqshook_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

// TestPostgresFleetAccounting runs three dispatchers on one schema with
// two standard hooks and a FIFO one while six serial publishers publish
// through them; SQS refuses one entry in 40 to the standard queues as the
// sender's fault (the copy is dead-lettered; at random, not by the
// message, so it is not refused to the FIFO queue: an abandoned owner's
// dead-lettered copy that the next owner sends again would land after
// its group's later events) and fails one call in 20 with InternalError
// (retried), each call taking 3 ms. Every cycle (SQSHOOK_ACCOUNTING_CYCLES,
// default 6) an instance holding 10 copies or more (in memory, in flight
// or waiting to be retried) is closed or abandoned and a new one started. Afterwards every published event's copy for every hook was
// either acknowledged by SQS to some instance or dead-lettered by one with
// ReasonRejected, none missing, none of an event not published; the
// queues hold exactly the acknowledged events, FIFO groups in order; a
// copy with two outcomes (a duplicate) had them from two instances, at
// most FetchAhead per stop; and each surviving instance's Stats add up.
func TestPostgresFleetAccounting(t *testing.T) {
	cycles := pgEnvInt(t, "SQSHOOK_ACCOUNTING_CYCLES", 6)
	e := newPGEnv(t, time.Second)
	std1 := e.srv.CreateQueue("acct-1", nil)
	std2 := e.srv.CreateQueue("acct-2", nil)
	fifo := e.srv.CreateQueue("acct.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "false"})
	e.srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Code: "InternalError", Probability: 0.05})
	for _, q := range []string{"acct-1", "acct-2"} {
		e.srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Queue: q, Latency: 3 * time.Millisecond, FailEntries: func(int, string) *sqstest.EntryFailure {
			if rand.IntN(40) == 0 {
				return &sqstest.EntryFailure{Code: "InvalidParameterValue", Message: "refused by the test", SenderFault: true}
			}
			return nil
		}})
	}
	e.srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Latency: 3 * time.Millisecond})
	f := newPGFleet(t, e, []sqshook.Hook{pgHook("std1", std1), pgHook("std2", std2), pgHook("fifo", fifo)})
	slots := []string{"a", "b", "c"}
	for _, s := range slots {
		f.start(s)
	}
	every := 3 * time.Millisecond
	if pgRace {
		every = 8 * time.Millisecond
	}
	stop := f.traffic(6, every, func(id string) []byte { return chatEventJSON(t, "message.new", id) })
	kinds := map[bool]int{}
	for c := range cycles {
		f.progress(fmt.Sprintf("cycle %d: every hook delivering", c), 100)
		// Alternate closing and abandoning an instance that holds
		// copies (taken from the database, not yet settled).
		abandon := c%2 == 1
		f.stop(f.holding(10), abandon)
		kinds[abandon]++
		for _, s := range slots {
			if f.live[s] == nil {
				f.start(s)
			}
		}
	}
	f.progress("every hook delivering after the last restart", 100)
	published := stop()
	waitPG(t, "every copy delivered or dead-lettered", func() bool { return e.count(t, "sqshook_copy") == 0 })
	f.closeAll()

	r := f.checkOutcomes(published, sqshook.ReasonRejected)
	if r.deadLettered == 0 {
		t.Errorf("no dead letters: SQS refused nothing the test can account for")
	}
	t.Logf("%d events × %d hooks = %d copies; %d received (%d of them by a call that failed), %d dead-lettered %v, %d duplicates; %d closed, %d abandoned: %v; acknowledged by slot %v; injected %v",
		len(published), len(f.hooks), r.copies, r.received, r.ambiguous, r.deadLettered, r.reasons, r.dups, kinds[false], kinds[true], f.stops, r.sentBy, e.srv.Calls().Injected)
}
