// overflow.go owns what a hook may hold and what happens when it is full:
// the share (events and bytes held) that bounds a hook, a tenant and the
// whole dispatcher, a tenant's share of calls in flight (and so of
// connections), the overflow rule applied to a copy that finds no room,
// and each hook's health (ok, degraded, failing) that decides whether a
// full hook may make Publish wait and how many calls it may have out.

package sqshook

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
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

// roomLocked reserves room for a copy of size bytes at every level. It
// returns "" when the copy may be queued, else the full level ("hook",
// "tenant", "dispatcher") and the channel that signals room there; waiters
// must call done once they stop waiting. A hook holding nothing takes one
// copy whatever its size (the size guard bounds it).
func (p *pipe) roomLocked(size int, register bool) (full string, space <-chan struct{}, done func()) {
	if p.pending > 0 && (p.pending+1 > p.d.cfg.maxBufferedEvents || p.bytes+size > p.d.cfg.maxBufferedBytes) {
		if register {
			if p.space == nil {
				p.space = make(chan struct{})
			}
			space = p.space
		}
		return "hook", space, func() {}
	}
	s := p.shares.take(size)
	if s == nil {
		return "", nil, nil
	}
	if !register {
		return s.level, nil, nil
	}
	space, done = s.wait()
	// Room may have freed between the failed take and the registration.
	if p.shares.take(size) == nil {
		done()
		return "", nil, nil
	}
	return s.level, space, done
}

// overflow applies the overflow rule to a copy of ed that found no room in
// p when Publish first offered it. wait is false for TryPublish.
//
// With a spool (WithSpool) the rule is to spill: the copy, already
// recorded, stays on disk only and is read back in its order when the hook
// has room; Publish neither waits nor dead-letters it.
func (p *pipe) overflow(ctx context.Context, ed *eventData, wait bool) error {
	group, guard := p.copyOf(ed)
	maxWait := p.d.cfg.overflowWait
	wait = wait && p.d.cfg.overflow == OverflowWait
	var expired chan struct{}
	p.mu.Lock()
	for {
		if p.state != pipeActive {
			p.mu.Unlock()
			np, gone := p.successor(ed)
			switch {
			case np != nil:
				return np.overflow(ctx, ed, wait)
			case gone:
				return p.removedCopy(ed)
			case p.d.closed.Load():
				return ErrClosed
			}
			return nil
		}
		if guard != nil {
			return p.refuseLocked(ed, group, guard)
		}
		full, space, done := p.roomLocked(ed.size, wait)
		if full == "" {
			p.queueLocked(ed, group)
			p.mu.Unlock()
			return nil
		}
		if p.spillLocked(ed) {
			// With a spool the copy waits on disk, read back in its order
			// when the hook has room.
			if done != nil {
				done()
			}
			p.readBackLocked()
			p.unlockAndReport(nil)
			return nil
		}
		timedOut := false
		if expired != nil {
			select {
			case <-expired:
				timedOut = true
			default:
			}
		}
		if !wait || p.failingLocked() || ctx.Err() != nil || timedOut {
			if done != nil {
				done()
			}
			msg := full + " buffer full"
			if full == "hook" {
				msg = "hook queue full"
			}
			if p.failingLocked() {
				msg += "; hook failing: " + p.healthCauseLocked()
			}
			p.counters.matched++
			p.seq++
			dl := p.deadLetterLocked(&entry{ev: ed, seq: p.seq, group: group}, ReasonBufferFull, "", msg, false, ErrBufferFull)
			p.unlockAndReport([]DeadLetter{dl})
			if ctx.Err() != nil {
				return errors.Join(dl.Err, ctx.Err())
			}
			return dl.Err
		}
		if expired == nil {
			ch := make(chan struct{})
			expired = ch
			t := p.d.cfg.clock.AfterFunc(maxWait, func() { close(ch) })
			defer t.Stop()
		}
		p.mu.Unlock()
		select {
		case <-space:
		case <-expired:
		case <-ctx.Done():
		}
		done()
		p.mu.Lock()
	}
}

// Defaults of the health rule (WithFailingRule).
const (
	// DefaultFailingCalls is how many whole calls in a row must fail before
	// a hook is failing.
	DefaultFailingCalls = 5
	// DefaultFailingAfter is how long those failures must go on, with no
	// success, before a hook is failing.
	DefaultFailingAfter = 2 * time.Second
	// DefaultProbeInterval is how often a failing hook tries one call.
	DefaultProbeInterval = time.Second
)

// health is a hook's record of recent calls.
type health struct {
	streak    int       // whole calls failed in a row
	since     time.Time // when the streak began
	failing   bool
	throttled bool // the last successful call had throttled entries
	cause     string
	probeAt   time.Time // a failing hook's next call may start then
	// heard is when the hook last heard from its endpoint: the last
	// answer, or the start of a call made while none was in flight. With
	// calls in flight and nothing heard for the slow-call bound, the
	// endpoint hangs and the hook is failing (checkAnswersLocked).
	heard time.Time
}

// slowCallRTTs is how many of a hook's smoothed round trips a call may
// take before it counts as slow, when that is longer than WithSlowCall's
// bound: a queue that always answers slowly (far away, or behind a slow
// proxy) is slow, not hanging.
const slowCallRTTs = 8

// slowCallLocked is how long the hook's calls in flight may go without an
// answer before the hook is failing: WithSlowCall's bound or slowCallRTTs
// smoothed round trips, whichever is longer, and never beyond the call
// timeout.
func (p *pipe) slowCallLocked() time.Duration {
	return min(max(p.d.cfg.slowCall, slowCallRTTs*p.lim.srtt), p.d.cfg.callTimeout)
}

// checkAnswersLocked makes the hook failing when it has calls in flight and
// has heard nothing from its endpoint for its slow-call bound: the endpoint
// accepts calls and does not answer (a black-holed endpoint, a firewall),
// and every further call would hold one more connection until the call
// timeout. It then makes no call until one of those in flight ends, and
// probes with one call at a time, as for any failing hook, until a call
// succeeds. It is checked whenever the hook's calls or health are looked
// at, so it needs no timer.
func (p *pipe) checkAnswersLocked() {
	h := &p.health
	if h.failing || p.inflight == 0 {
		return
	}
	now := p.d.cfg.clock.Now()
	wait := p.slowCallLocked()
	if now.Sub(h.heard) < wait {
		return
	}
	p.hangingLocked(fmt.Sprintf("no answer for %v; calls in flight: %d", wait, p.inflight))
}

// hangingLocked makes the hook failing because its endpoint does not
// answer.
func (p *pipe) hangingLocked(cause string) {
	h := &p.health
	if h.failing {
		return
	}
	h.failing, h.cause = true, cause
	p.d.cfg.logger.Warn("sqshook: hook failing: its endpoint does not answer; one call at a time",
		p.logArgs("calls_in_flight", p.inflight, "cause", h.cause)...)
}

// heardLocked records an answer from the endpoint, or a call started
// while none was in flight.
func (p *pipe) heardLocked(now time.Time) { p.health.heard = now }

// callFailedLocked records a call that delivered nothing.
func (p *pipe) callFailedLocked(code, msg string) {
	h := &p.health
	now := p.d.cfg.clock.Now()
	if h.streak == 0 {
		h.since = now
	}
	h.streak++
	h.cause = code
	if msg != "" {
		if h.cause != "" {
			h.cause += ": "
		}
		h.cause += msg
	}
	cfg := &p.d.cfg
	if !h.failing && h.streak >= cfg.failingCalls && now.Sub(h.since) >= cfg.failingAfter {
		h.failing = true
		p.d.cfg.logger.Warn("sqshook: hook failing; probing at a low rate",
			p.logArgs("calls", h.streak, "cause", h.cause)...)
	}
	if h.failing {
		h.probeAt = now.Add(cfg.probeInterval)
	}
}

// callSucceededLocked records a call that delivered at least one entry.
func (p *pipe) callSucceededLocked(throttled bool) {
	h := &p.health
	if h.failing {
		p.d.cfg.logger.Info("sqshook: hook recovered", p.logArgs()...)
	}
	*h = health{throttled: throttled, heard: h.heard}
}

func (p *pipe) failingLocked() bool {
	p.checkAnswersLocked()
	return p.health.failing
}

func (p *pipe) healthCauseLocked() string { return p.health.cause }

func (p *pipe) healthLocked() (Health, string) {
	p.checkAnswersLocked()
	h := &p.health
	switch {
	case h.failing:
		return HealthFailing, h.cause
	case h.streak > 0:
		return HealthDegraded, h.cause
	case h.throttled:
		return HealthDegraded, "throttled entries"
	case p.retrying > 0:
		return HealthDegraded, "entries waiting to be retried"
	}
	return HealthOK, ""
}

// probeWaitLocked reports how long a failing hook must wait before its next
// call; 0 when it may call now.
func (p *pipe) probeWaitLocked() time.Duration {
	if !p.health.failing || p.aborted {
		return 0
	}
	if w := p.health.probeAt.Sub(p.d.cfg.clock.Now()); w > 0 {
		return w
	}
	return 0
}
