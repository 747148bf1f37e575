// overflow.go owns what a hook may hold above itself: the share (events
// and bytes held) that bounds a tenant and the whole dispatcher, a
// tenant's share of calls in flight (and so of connections), the overflow
// rule applied to a copy that finds no room, and the Health states.

package sqshook

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// OverflowRule says what Publish does with a hook's copy of an event when
// the hook, its tenant or the dispatcher holds all it may (see
// WithMaxBuffered, WithTenantLimits, WithDispatcherLimits).
// With a spool (WithSpool) neither rule applies: the copy, already recorded
// on disk, stays there and is read back in its order when the hook has
// room, and Publish neither waits nor dead-letters it.
type OverflowRule int

const (
	// OverflowDeadLetter dead-letters the copy at once with
	// ReasonBufferFull; Publish does not wait. This is the default:
	// Publish is on the chat server's message path, and one customer's
	// queue being down must not slow every message; the dead-letter
	// callback can persist the copy for a later replay.
	OverflowDeadLetter OverflowRule = iota
	// OverflowWait makes Publish wait for room, up to the bound given to
	// WithOverflowWait (or until its context ends), and then dead-letters
	// the copy with ReasonBufferFull. A hook that is failing (see Health)
	// never makes Publish wait. Copies for hooks with room are queued
	// before Publish waits for any full one.
	OverflowWait
)

// String returns the rule's name.
func (r OverflowRule) String() string {
	switch r {
	case OverflowDeadLetter:
		return "dead_letter"
	case OverflowWait:
		return "wait"
	}
	return fmt.Sprintf("OverflowRule(%d)", int(r))
}

// Health is a hook's delivery health, in HookStats.
type Health string

// The health states of a hook.
const (
	// HealthOK: the last call succeeded and nothing waits for a retry.
	HealthOK Health = "ok"
	// HealthDegraded: calls fail or are throttled now and then, or entries
	// wait for a retry, but the hook is not failing.
	HealthDegraded Health = "degraded"
	// HealthFailing: every call for a while has failed (see
	// WithFailingRule), or the hook's calls in flight have had no answer
	// for its slow-call bound (see WithSlowCall: the endpoint hangs). The
	// hook sends at most one probe call at a time, at most one per probe
	// interval, and never makes Publish wait: a copy it has no room for is
	// dead-lettered at once. The first successful call returns it to
	// HealthOK.
	HealthFailing Health = "failing"
)

// share is a budget of events and message bytes held, taken by the copies
// queued under it: one per tenant and one for the dispatcher (a hook's own
// budget is its pipe's pending and bytes, under the pipe's lock). A copy is
// admitted only when every level has room; it gives its room back when it
// is delivered or dead-lettered.
//
// A tenant's share also bounds the SendMessageBatch calls its hooks have in
// flight together (WithTenantMaxInFlight; a hook's own bound is its
// in-flight limit). Every call holds an HTTP connection until it is
// answered or times out, and every tenant's calls to one regional endpoint
// share the transport's per-host connections (ClientOptions.MaxConnsPerHost):
// a tenant whose queues hang holds at most its share of them, and the
// other tenants keep the rest. Pipes that find the share taken wait in
// line and are woken, first come first served, as calls end.
type share struct {
	level     string // "tenant" or "dispatcher", for messages
	maxEvents int64
	maxBytes  int64

	events  atomic.Int64
	bytes   atomic.Int64
	waiting atomic.Int32 // Publish calls waiting for room

	mu    sync.Mutex
	space chan struct{} // closed when room frees; nil when nobody waits

	calls callShare // the tenant's calls in flight (unused by the dispatcher's share)
}

// callShare counts the calls in flight of a tenant's hooks and the pipes
// waiting for one. Its mutex comes after any pipe's: pipes take and give
// calls under their own lock, and the waker locks a pipe only after
// letting go of the share.
type callShare struct {
	mu     sync.Mutex
	n      int     // calls in flight
	line   []*pipe // pipes waiting for a call, first come first served
	inLine map[*pipe]bool
	turn   *pipe // the pipe being woken: it may take one call ahead of the line
	waking bool  // a waker runs; it goes on while calls are free and pipes wait
}

// take reserves a call for p if fewer than limit are in flight and no
// pipe waits ahead of p (or it is p's turn, for one call); otherwise it
// puts p in line (once) and reports false: p is pumped again when a call
// ends.
func (c *callShare) take(p *pipe, limit int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n < limit && (len(c.line) == 0 || c.turn == p) {
		if c.turn == p {
			c.turn = nil // one call per turn: the next in line gets the next
		}
		c.n++
		return true
	}
	if !c.inLine[p] {
		if c.inLine == nil {
			c.inLine = make(map[*pipe]bool)
		}
		c.inLine[p] = true
		c.line = append(c.line, p)
	}
	return false
}

// give returns a call. It reports whether the caller must wake the pipes
// in line (wake), after letting go of its pipe's lock.
func (c *callShare) give() (wake bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n--
	if len(c.line) > 0 && !c.waking {
		c.waking = true
		return true
	}
	return false
}

// wake pumps the pipes in line, first come first served, while calls are
// free: each may take one call ahead of the line during its turn, and goes
// to the end of the line for more. A pipe that takes none (it has nothing
// ready any more) leaves the line. It is called with no pipe locked, from
// a goroutine counted in the dispatcher's wait group.
func (c *callShare) wake(limit int) {
	for {
		c.mu.Lock()
		c.turn = nil
		if c.n >= limit || len(c.line) == 0 {
			c.waking = false
			c.mu.Unlock()
			return
		}
		p := c.line[0]
		c.line[0] = nil
		c.line = c.line[1:]
		if len(c.line) == 0 {
			c.line = nil
		}
		delete(c.inLine, p)
		c.turn = p
		c.mu.Unlock()
		p.mu.Lock()
		p.pumpLocked()
		p.unlockAndRelease()
	}
}

func newShare(level string, events, bytes int) *share {
	return &share{level: level, maxEvents: int64(events), maxBytes: int64(bytes)}
}

// take reserves one event of size bytes, or reports that there is no room.
func (s *share) take(size int64) bool {
	e := s.events.Add(1)
	b := s.bytes.Add(size)
	if e > s.maxEvents || b > s.maxBytes {
		s.events.Add(-1)
		s.bytes.Add(-size)
		s.wake() // a concurrent take may have failed on our transient excess
		return false
	}
	return true
}

// give returns the room of one event of size bytes.
func (s *share) give(size int64) {
	s.events.Add(-1)
	s.bytes.Add(-size)
	s.wake()
}

func (s *share) wake() {
	if s.waiting.Load() == 0 {
		return
	}
	s.mu.Lock()
	if s.space != nil {
		close(s.space)
		s.space = nil
	}
	s.mu.Unlock()
}

// wait registers a waiter and returns the channel that closes when room
// frees; the caller retries take after registering, then calls done.
func (s *share) wait() (space <-chan struct{}, done func()) {
	s.waiting.Add(1)
	s.mu.Lock()
	if s.space == nil {
		s.space = make(chan struct{})
	}
	ch := s.space
	s.mu.Unlock()
	return ch, func() { s.waiting.Add(-1) }
}

// shares are the levels above a hook that a copy must find room in: its
// tenant's share, then the dispatcher's.
type shares []*share

// take reserves size bytes and one event in every level, all or nothing.
// It returns the level that had no room, or nil.
func (ss shares) take(size int) *share {
	for i, s := range ss {
		if !s.take(int64(size)) {
			for _, r := range ss[:i] {
				r.give(int64(size))
			}
			return s
		}
	}
	return nil
}

// room is how many more events every level takes (0 when one is out of
// events or bytes).
func (ss shares) room() int {
	n := int64(1<<31 - 1)
	for _, s := range ss {
		if s.bytes.Load() >= s.maxBytes {
			return 0
		}
		n = min(n, s.maxEvents-s.events.Load())
	}
	return int(max(n, 0))
}

// force takes room for one event of size bytes at every level whatever
// they hold: for copies read back from the spool, which memRoomLocked
// admitted.
func (ss shares) force(size int) {
	for _, s := range ss {
		s.events.Add(1)
		s.bytes.Add(int64(size))
	}
}

func (ss shares) give(size int) {
	for _, s := range ss {
		s.give(int64(size))
	}
}
