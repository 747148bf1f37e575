// pipe.go is a hook's pipeline: its state and all of its accounting
// (every copy enters through acceptLocked and leaves through
// settleLocked), admission of a copy (offer, the overflow rule, the hook's
// successor), the pump that forms batches and starts calls, Flush and the
// report tickets, and its lifecycle: created per hook, retired when its
// hook is removed or changed, purged, and aborted when Close gives up.

package sqshook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/cenkalti/backoff/v4"
)

// entry is one hook's copy of an event.
type entry struct {
	ev      *eventData
	size    int
	at      time.Time  // when it was queued; zero for a retry (ready at once)
	epoch   uint64     // Flush generation
	attempt int        // SendMessageBatch attempts made
	seq     uint64     // order of acceptance by the hook
	group   string     // FIFO hooks: MessageGroupId
	grp     *fifoGroup // FIFO hooks: the entry's group while it is out
	bo      backoff.BackOff
	code    string // last failure
	message string
	state   copyState // moved only along copyTransitions
	alt     *encoded  // the body in the hook's own encoding; nil: ev.body
}

// body is the copy's message body.
func (e *entry) body() *string {
	if e.alt != nil {
		return &e.alt.body
	}
	return &e.ev.body
}

// pipe states.
const (
	pipeActive   = iota
	pipeDraining // retired or closing: no lingering, finishes when empty
	pipeDone     // drained or aborted: takes nothing more
)

// pipe is one hook's pipeline: bounded queue, batcher and senders. It
// owns no goroutine: its calls in flight run on the dispatcher's sender
// goroutines (which end 2 s after their last call), and its timer
// callbacks for linger and retries run only while it has work.
type pipe struct {
	d          *Dispatcher
	tenant     *tenant
	externalID string // the tenant's, for "role" hooks
	hook       Hook
	filter     Filter
	client     SQSAPI
	release    func() // gives client back to the pool; nil with WithClientFunc
	queueURL   *string
	fifo       bool
	// ownEncoding is the hook's body encoding when it is not the
	// dispatcher's (Hook.BodyEncoding); "": the event's body as prepared.
	ownEncoding Encoding

	mu         sync.Mutex
	state      int
	aborted    bool       // Close gave up: nothing is sent or retried any more
	purging    bool       // RemoveTenant with WithPurge: nothing more is sent
	q          entryQueue // standard queues
	fq         fifoQueue  // FIFO queues
	seq        uint64     // entries accepted
	inflight   int        // calls in flight
	lim        inflightLimit
	inflightN  int // entries in those calls
	retrying   int // entries waiting for a retry timer
	pending    int // every entry held: queued, in flight, retrying
	bytes      int // message bytes held
	maxBatch   int // batch byte limit, lowered on BatchRequestTooLong
	sinceSplit int // successful calls since maxBatch was lowered or raised
	lingerSet  bool
	linger     stopper
	retryWaits map[*retryWait]struct{}
	space      chan struct{} // closed when room frees; nil when nobody waits

	epoch        uint64
	epochPending map[uint64]int
	flushes      []*flushWaiter
	flushed      []*flushWaiter // satisfied; released after dead letters are reported
	reportSeq    uint64         // the next report ticket
	reports      []uint64       // tickets of the reports under way
	forcing      int            // flushes waiting

	counters hookCounters
	backlog  storeBacklog // copies in the store only (WithSpool)
	shares   shares       // the tenant's and the dispatcher's
	health   health

	retryLog, failLog logLimiter     // rate limits of the failure log lines (sender.go)
	tel               *hookTelemetry // nil: no metrics or traces
}

type flushWaiter struct {
	epoch  uint64
	done   chan struct{}
	ticket uint64 // once satisfied: reports with a smaller ticket must end first
}

func (d *Dispatcher) newPipe(t *tenant, h Hook) (*pipe, error) {
	f, err := CompileFilter(h.EventTypes)
	if err != nil {
		return nil, err
	}
	ext := d.externalIDOf(t.id)
	var client SQSAPI
	var release func()
	if d.cfg.clientFor != nil {
		client, err = d.cfg.clientFor(context.Background(), h)
	} else {
		var c SQSAPI
		if c, release, err = d.pool.acquire(context.Background(), h, ext); err == nil {
			client = c
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sqshook: hook %q: client: %w", h.ID, err)
	}
	return &pipe{
		d:            d,
		tenant:       t,
		externalID:   ext,
		hook:         h,
		filter:       f,
		client:       client,
		release:      release,
		queueURL:     aws.String(h.SQSQueueURL),
		fifo:         strings.HasSuffix(h.SQSQueueURL, ".fifo"),
		ownEncoding:  ownEncoding(h.BodyEncoding, d.cfg.guard.Encoding),
		maxBatch:     d.rules.maxBytes,
		lim:          newInflightLimit(d.cfg.maxInFlight, d.cfg.adaptiveInFlight),
		epochPending: make(map[uint64]int),
		counters:     hookCounters{deadLettered: make(map[Reason]uint64)},
		shares:       shares{t.share, d.share},
		tel:          d.tel.forHook(t.id, h),
	}, nil
}

// The accounting of a hook's copies: every copy the hook is given enters
// it once, through acceptLocked, and leaves it once, through settleLocked,
// so that at every moment
//
//	Matched = Delivered + DeadLettered + kept + Pending + (in the store only)
//
// and every Flush generation counts the copies it still waits for.

// acceptLocked counts a copy the hook takes as matched, gives it its place
// in the hook's order and the current Flush generation, and puts it where
// to says: copyQueued (in memory; roomLocked reserved its room),
// copySpilled (in the store only, read back as room frees) or copyNew
// (nowhere: the caller dead-letters it at once with deadLetterLocked).
func (p *pipe) acceptLocked(e *entry, to copyState) {
	p.counters.matched++
	p.seq++
	e.seq, e.epoch = p.seq, p.epoch
	if to != copyNew {
		p.epochPending[e.epoch]++ // until settleLocked
	}
	switch to {
	case copyQueued:
		e.at = p.d.cfg.clock.Now()
		p.enqueueLocked(e)
	case copySpilled:
		p.backlog.disk = append(p.backlog.disk, diskCopy{seq: e.ev.ref, epoch: e.epoch, hookSeq: e.seq, state: copySpilled})
	}
}

// enqueueLocked puts a copy in memory at the back of its queue (or its
// FIFO group's): a new copy from acceptLocked, or one read back from the
// store. Its room in the shares is already taken.
func (p *pipe) enqueueLocked(e *entry) {
	e.move(copyQueued)
	p.pending++
	p.bytes += e.size
	if p.fifo {
		e.grp = p.fq.group(e.group)
		p.fq.push(e)
	} else {
		p.q.pushBack(e)
	}
}

// settleLocked ends a copy's life in the hook: delivered (settled in the
// store), dead-lettered with reason (settled in the store once reported),
// kept in the store by Close, or gone (settled in the store meanwhile). It
// counts the outcome and gives back what the copy held: its room in
// memory, and its place in its Flush generation.
func (p *pipe) settleLocked(e *entry, to copyState, reason Reason) {
	from := e.state
	e.move(to)
	switch to {
	case copyDelivered:
		p.counters.delivered++
		p.settleSpoolLocked(e)
		p.tel.delivered(e, p.d.cfg.clock)
	case copyDeadLettered:
		p.counters.deadLettered[reason]++
	case copyKept:
		p.backlog.kept++
	}
	switch {
	case from.inMemory():
		p.freeLocked(e)
		p.epochDoneLocked(e.epoch)
	case from.inStore():
		p.epochDoneLocked(e.epoch)
	}
}

// freeLocked gives back the room of a copy that leaves memory (settled,
// or held in the store), and reads the store's backlog back into it.
func (p *pipe) freeLocked(e *entry) {
	if e.grp != nil {
		p.fq.settled(e)
	}
	p.pending--
	p.bytes -= e.size
	p.shares.give(e.size)
	if p.space != nil {
		close(p.space)
		p.space = nil
	}
	p.readBackLocked()
}

// releaseClient gives the pipe's client back to the pool once the pipe is
// done, or was never used: the pool drops a client no pipeline uses.
func (p *pipe) releaseClient() {
	if p.release != nil {
		p.release()
	}
}

// logArgs are the attributes that name the hook in a log record, then args.
func (p *pipe) logArgs(args ...any) []any {
	if p.tenant.id != "" {
		return append([]any{tenantAttr(p.tenant.id), slog.String("hook_id", p.hook.ID)}, args...)
	}
	return append([]any{slog.String("hook_id", p.hook.ID)}, args...)
}

func (p *pipe) oldestEpochLocked() (uint64, bool) {
	first, ok := uint64(0), false
	for ep := range p.epochPending {
		if !ok || ep < first {
			first, ok = ep, true
		}
	}
	return first, ok
}

func (p *pipe) checkFlushesLocked() {
	if len(p.flushes) == 0 || p.backlog.remote && !p.aborted {
		return // a removed hook's copies still in the database come first
	}
	oldest, some := p.oldestEpochLocked()
	kept := p.flushes[:0]
	for _, w := range p.flushes {
		if !some || oldest > w.epoch {
			w.ticket = p.reportSeq
			p.flushed = append(p.flushed, w)
			p.forcing--
			continue
		}
		kept = append(kept, w)
	}
	p.flushes = kept
}

// beginReportLocked takes a ticket for a dead-letter report (or a
// settlement that may produce one); endReportLocked returns it. A satisfied
// Flush waits for the reports whose tickets were taken before it was
// satisfied, and for no later one: reports that keep overlapping cannot
// starve it.
func (p *pipe) beginReportLocked() uint64 {
	t := p.reportSeq
	p.reportSeq++
	p.reports = append(p.reports, t)
	return t
}

func (p *pipe) endReportLocked(t uint64) {
	for i, x := range p.reports {
		if x == t {
			p.reports = append(p.reports[:i], p.reports[i+1:]...)
			return
		}
	}
}

// unlockAndReport unlocks p, reports dead letters, then releases the
// flushes whose reports have ended: Flush returns only after the
// dead-letter callback has seen every event Flush waited for.
func (p *pipe) unlockAndReport(dls []DeadLetter) {
	if len(dls) > 0 {
		t := p.beginReportLocked()
		p.mu.Unlock()
		p.d.dispatchDeadLetters(dls)
		p.mu.Lock()
		p.endReportLocked(t)
	}
	p.unlockAndRelease()
}

// unlockAndRelease unlocks p and releases the satisfied flushes whose
// earlier reports have all ended.
func (p *pipe) unlockAndRelease() {
	oldest, busy := uint64(0), len(p.reports) > 0
	for i, t := range p.reports {
		if i == 0 || t < oldest {
			oldest = t
		}
	}
	var release []*flushWaiter
	kept := p.flushed[:0]
	for _, w := range p.flushed {
		if !busy || oldest >= w.ticket {
			release = append(release, w)
		} else {
			kept = append(kept, w)
		}
	}
	clear(p.flushed[len(kept):])
	p.flushed = kept
	p.mu.Unlock()
	for _, w := range release {
		close(w.done)
	}
}

// flush returns a waiter whose done channel closes once every entry queued
// so far is settled.
func (p *pipe) flush() *flushWaiter {
	p.mu.Lock()
	w := &flushWaiter{epoch: p.epoch, done: make(chan struct{})}
	p.epoch++
	p.flushes = append(p.flushes, w)
	p.forcing++
	p.checkFlushesLocked()
	p.pumpLocked()
	p.unlockAndReport(nil)
	return w
}

func (p *pipe) cancelFlush(w *flushWaiter) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.flushes {
		if x == w {
			p.flushes = append(p.flushes[:i], p.flushes[i+1:]...)
			p.forcing--
			return
		}
	}
}

// retire stops lingering and lets the pipe finish once it is empty (with
// WithPostgres, for a removed hook, once the database holds none of the
// copies recorded before; not at Close).
func (p *pipe) retire() {
	p.mu.Lock()
	if p.state == pipeActive {
		p.state = pipeDraining
		p.backlog.remote = p.remoteOnRetireLocked()
	} else if p.d.closed.Load() {
		p.backlog.remote = false
	}
	if p.lingerSet && p.linger.Stop() {
		p.lingerSet = false
		p.d.wg.Done()
	}
	p.wakeWaitersLocked()
	p.checkFlushesLocked()
	p.pumpLocked()
	p.unlockAndRelease()
}

// wakeWaitersLocked releases Publish calls waiting for room, so they see
// the pipe's new state (redirect to the hook's new pipeline, or ErrClosed).
func (p *pipe) wakeWaitersLocked() {
	if p.space != nil {
		close(p.space)
		p.space = nil
	}
}

// maybeDoneLocked marks a draining pipe done when it holds nothing, and
// tells the dispatcher.
func (p *pipe) maybeDoneLocked() {
	if p.state == pipeDraining && p.pending == 0 && p.inflight == 0 && !p.diskBusyLocked() {
		p.state = pipeDone
		if p.lingerSet && p.linger.Stop() {
			p.lingerSet = false
			p.d.wg.Done()
		}
		if p.space != nil {
			close(p.space)
			p.space = nil
		}
		p.d.wg.Add(1)
		go func() { // outside p.mu: the dispatcher's lock comes first
			defer p.d.wg.Done()
			p.d.pipeDone(p)
		}()
	}
}

// purge makes a retired pipe dead-letter, with ReasonHookRemoved, every
// copy it holds that is not in a call in flight, and from then on every
// copy that comes back from one to be retried or split, and its disk
// backlog as it is read back; calls in flight settle as they do.
func (p *pipe) purge() {
	p.mu.Lock()
	p.purging = true
	p.pumpLocked()
	p.mu.Unlock()
}

// purgeLocked dead-letters what a purging pipe holds outside calls in
// flight: its queue and the copies waiting for a retry. Their report runs
// in its own goroutine, under a report ticket taken now, so that a Flush
// (and RemoveTenant, which waits like one) returns only after it.
func (p *pipe) purgeLocked() {
	const msg = "tenant removed (RemoveTenant with WithPurge) before delivery"
	// The ticket comes before any copy is settled: a Flush satisfied by
	// these copies waits for their report.
	ticket := p.beginReportLocked()
	dls := p.dropUnsentLocked(func(e *entry, _ bool) DeadLetter {
		return p.deadLetterLocked(e, ReasonHookRemoved, "", msg, false, ErrTenantRemoved)
	})
	if len(dls) == 0 {
		p.endReportLocked(ticket)
		return
	}
	p.d.wg.Add(1)
	go func() {
		defer p.d.wg.Done()
		p.d.dispatchDeadLetters(dls)
		p.mu.Lock()
		p.endReportLocked(ticket)
		p.unlockAndRelease()
	}()
}

// dropUnsentLocked takes every copy p holds outside calls in flight (its
// queue, then the copies waiting for a retry, their timers stopped) and
// returns the dead letter dl makes of each.
func (p *pipe) dropUnsentLocked(dl func(e *entry, retrying bool) DeadLetter) []DeadLetter {
	var dls []DeadLetter
	queued := p.q.drain()
	if p.fifo {
		queued = p.fq.drain()
	}
	for _, e := range queued {
		dls = append(dls, dl(e, false))
	}
	for rw := range p.retryWaits {
		if rw.timer.Stop() {
			p.d.wg.Done()
		}
		delete(p.retryWaits, rw)
		p.retrying -= len(rw.entries)
		for _, e := range rw.entries {
			dls = append(dls, dl(e, true))
		}
	}
	return dls
}

// abort dead-letters everything the pipe holds that is not in flight (calls
// in flight are canceled by the dispatcher and settle as shutdown).
func (p *pipe) abort() {
	p.mu.Lock()
	ticket := p.beginReportLocked()
	p.aborted = true
	p.wakeWaitersLocked()
	dls := p.dropUnsentLocked(func(e *entry, retrying bool) DeadLetter {
		msg := "dispatcher closed before delivery"
		if retrying {
			msg = "dispatcher closed while waiting to retry"
		}
		return p.deadLetterLocked(e, ReasonShutdown, e.code, msg, false, nil)
	})
	p.keepDiskLocked()
	if p.state == pipeActive {
		p.state = pipeDraining
	}
	p.maybeDoneLocked()
	p.mu.Unlock()
	p.d.dispatchDeadLetters(dls)
	p.mu.Lock()
	p.endReportLocked(ticket)
	p.unlockAndRelease()
}

// copyOf computes a copy's FIFO group and the rule it breaks, if any.
func (p *pipe) copyOf(ed *eventData) (group string, guard error) {
	_, _, guard = p.encodedOf(ed)
	if p.fifo {
		var err error
		group, err = p.groupOf(ed.ev)
		if guard == nil {
			guard = err
		}
		if guard == nil {
			guard = checkFIFO(group, dedupID(ed))
		}
	}
	return group, guard
}

// ownEncoding returns the hook's encoding when it differs from the
// dispatcher's, else "".
func ownEncoding(hook, dispatcher Encoding) Encoding {
	norm := func(e Encoding) Encoding {
		if e == "" {
			return EncodingRaw
		}
		return e
	}
	if hook == "" || norm(hook) == norm(dispatcher) {
		return ""
	}
	return hook
}

// encodedOf returns p's copy of ed as it is sent: the body in the hook's
// own encoding (nil: the event's body), the message size and the size
// guard's verdict.
func (p *pipe) encodedOf(ed *eventData) (alt *encoded, size int, guard error) {
	if p.ownEncoding == "" {
		return nil, ed.size, ed.guard
	}
	a := ed.in(p.ownEncoding, p.d.cfg.guard)
	return a, a.size, a.guard
}

// sizeOf is the message size of p's copy of ed.
func (p *pipe) sizeOf(ed *eventData) int {
	_, size, _ := p.encodedOf(ed)
	return size
}

// offer queues one copy of ed if the hook, its tenant and the dispatcher
// have room, without waiting. It returns a *DeliveryError (joined with the
// guard error) when the copy was dead-lettered at once, and the pipe that
// had no room (p, or the pipe p redirected to) when the copy is left for
// the overflow rule.
func (p *pipe) offer(ed *eventData) (full *pipe, err error) {
	group, guard := p.copyOf(ed)
	p.mu.Lock()
	if p.state != pipeActive {
		// The hook was changed, removed or closed while this Publish was
		// under way: the copy goes to the hook's current pipeline, if any.
		p.mu.Unlock()
		np, gone := p.successor(ed)
		switch {
		case np != nil:
			return np.offer(ed)
		case gone:
			return nil, p.removedCopy(ed)
		case p.d.closed.Load():
			return nil, ErrClosed
		}
		return nil, nil
	}
	if guard != nil {
		return nil, p.rejectLocked(ed, group, reasonOf(guard), guard.Error(), guard).Err
	}
	if p.behindBacklogLocked(ed) { // a disk backlog goes first (WithSpool)
		p.unlockAndReport(nil)
		return nil, nil
	}
	if f, _, _ := p.roomLocked(p.sizeOf(ed), false); f != "" {
		p.mu.Unlock()
		return p, nil
	}
	p.queueLocked(ed, group)
	p.mu.Unlock()
	return nil, nil
}

// rejectLocked accepts a copy that goes nowhere (it breaks an SQS rule,
// finds no room, or its tenant is gone), dead-letters it at once, unlocks
// p and reports it.
func (p *pipe) rejectLocked(ed *eventData, group string, reason Reason, msg string, err error) DeadLetter {
	e := &entry{ev: ed, group: group}
	p.acceptLocked(e, copyNew)
	dl := p.deadLetterLocked(e, reason, "", msg, false, err)
	p.unlockAndReport([]DeadLetter{dl})
	return dl
}

// queueLocked queues a copy whose room roomLocked reserved.
func (p *pipe) queueLocked(ed *eventData, group string) {
	e := ed.newEntry()
	alt, size, _ := p.encodedOf(ed)
	*e = entry{ev: ed, size: size, group: group, alt: alt}
	p.acceptLocked(e, copyQueued)
	p.pumpLocked()
}

// successor returns the pipe that now serves p's hook, when it takes ed's
// type. It returns nil after Close, and nil when the tenant's new list
// removed the hook or changed it to a filter that no longer matches ed's
// type: the hook never accepted the copy, as if Publish had come after
// SetHooks. gone reports that the tenant itself was removed (RemoveTenant,
// or SetHooks with no hooks): the caller dead-letters the copy
// (removedCopy), so that Publish reports it. A tenant removed and
// configured again is a new tenant: copies routed to the old one do not
// cross to it.
func (p *pipe) successor(ed *eventData) (np *pipe, gone bool) {
	if p.d.closed.Load() {
		return nil, false
	}
	t := p.d.lookupTenant(p.tenant.id)
	if t != p.tenant {
		return nil, true
	}
	for _, np := range t.snap.Load().pipes {
		if np.hook.ID == p.hook.ID && np != p {
			if !np.filter.Match(ed.ev.Type) {
				p.d.droppedCopy(ed, p.storeKey())
				return nil, false
			}
			return np, false
		}
	}
	p.d.droppedCopy(ed, p.storeKey())
	return nil, false
}

// removedCopy dead-letters, with ReasonHookRemoved, a copy that Publish
// routed to p before p's tenant was removed and that reached p after:
// counted as matched and dead-lettered by p, reported, and settled in the
// spool. The error is the copy's *DeliveryError, wrapping
// ErrTenantRemoved.
func (p *pipe) removedCopy(ed *eventData) error {
	group, _ := p.copyOf(ed)
	p.mu.Lock()
	return p.rejectLocked(ed, group, ReasonHookRemoved, "tenant removed while the event was published", ErrTenantRemoved).Err
}

func checkFIFO(group, dedup string) error {
	if err := CheckGroupID(group); err != nil {
		return err
	}
	return CheckDeduplicationID(dedup)
}

func dedupID(ed *eventData) string {
	if ed.ev.DedupID != "" {
		return ed.ev.DedupID
	}
	return ed.id
}

// force reports whether partial batches go out without lingering.
func (p *pipe) forceLocked() bool { return p.state != pipeActive || p.forcing > 0 }

// pumpLocked starts as many calls as the in-flight limit and the tenant's
// share of calls allow and arms the linger timer for a partial batch.
func (p *pipe) pumpLocked() {
	if p.state == pipeDone || p.aborted {
		p.maybeDoneLocked()
		return
	}
	if p.purging {
		p.purgeLocked() // nothing queued is sent
	}
	for p.inflight < p.slotsLocked() {
		if w := p.probeWaitLocked(); w > 0 {
			// A failing hook probes with one call per probe interval.
			if !p.lingerSet {
				p.armLingerLocked(w)
			}
			break
		}
		rules := p.d.rules
		rules.maxBytes = p.maxBatch
		var src batchSource = &p.q
		if p.fifo {
			src = p.fq.candidates()
		}
		n, ready, wait := rules.next(src, p.d.cfg.clock.Now(), p.forceLocked())
		if !ready {
			if n > 0 && !p.lingerSet {
				p.armLingerLocked(wait)
			}
			break
		}
		if !p.tenant.share.calls.take(p, p.d.cfg.tenantMaxInFlight) {
			break // the tenant's share of calls is out: pumped again when one ends
		}
		if p.inflight == 0 {
			p.heardLocked(p.d.cfg.clock.Now())
		}
		var batch []*entry
		if p.fifo {
			batch = p.fq.pop(n)
		} else {
			batch = p.q.popFront(n, make([]*entry, 0, n))
		}
		for _, e := range batch {
			e.move(copyInFlight)
		}
		p.inflight++
		p.inflightN += n
		p.d.wg.Add(1)
		p.d.startSend(sendJob{p: p, batch: batch, limited: p.inflight >= p.slotsLocked()})
	}
	p.stopIdleLingerLocked()
	p.maybeDoneLocked()
}

// armLingerLocked arms the linger timer to fire after d. The pipe keeps
// one timer and re-arms it: it is neither pending nor firing while
// lingerSet is false (Stop took it back, or lingerFired cleared the flag
// under the lock).
func (p *pipe) armLingerLocked(d time.Duration) {
	p.lingerSet = true
	p.d.wg.Add(1)
	if p.linger != nil {
		p.linger.Reset(d)
		return
	}
	p.linger = p.d.cfg.clock.AfterFunc(d, p.lingerFired)
}

// stopIdleLingerLocked stops the linger timer once nothing is queued (the
// batch it waited for went out full): a timer left to fire would only wake
// a thread to find nothing to send.
func (p *pipe) stopIdleLingerLocked() {
	queued := p.q.len()
	if p.fifo {
		queued = p.fq.len()
	}
	if queued == 0 && p.lingerSet && p.linger.Stop() {
		p.lingerSet = false
		p.d.wg.Done()
	}
}

// slotsLocked is the in-flight limit: one probe at a time while failing
// (calls that went unanswered for the slow-call bound make it failing).
func (p *pipe) slotsLocked() int {
	if p.failingLocked() {
		return 1
	}
	return p.lim.slots()
}

func (p *pipe) lingerFired() {
	defer p.d.wg.Done()
	p.mu.Lock()
	p.lingerSet = false
	p.pumpLocked()
	p.mu.Unlock()
}

// groupOf returns the FIFO group of an event for p's hook, or an error for
// a missing strategy or a strategy that panicked.
func (p *pipe) groupOf(ev Event) (g string, err error) {
	if ev.GroupID != "" {
		return ev.GroupID, nil
	}
	strategy := p.d.cfg.groupStrategy
	if strategy == nil {
		return "", &GuardError{Reason: ReasonInvalidField, Field: "MessageGroupId", Detail: "empty: the event has no GroupID and the dispatcher has no group strategy"}
	}
	defer func() {
		if r := recover(); r != nil {
			p.d.countPanic()
			g, err = "", &GuardError{Reason: ReasonInvalidField, Field: "MessageGroupId", Detail: fmt.Sprintf("the group strategy panicked: %v", r)}
		}
	}()
	return strategy(p.hook, ev), nil
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
			return p.rejectLocked(ed, group, reasonOf(guard), guard.Error(), guard).Err
		}
		full, space, done := p.roomLocked(p.sizeOf(ed), wait)
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
			dl := p.rejectLocked(ed, group, ReasonBufferFull, msg, ErrBufferFull)
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

func (p *pipe) stats() HookStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := HookStats{
		Tenant:         p.tenant.id,
		HookID:         p.hook.ID,
		Draining:       p.state != pipeActive,
		Matched:        p.counters.matched,
		Delivered:      p.counters.delivered,
		DeadLetteredBy: maps.Clone(p.counters.deadLettered),
		Pending:        uint64(p.pending),
		Spooled:        p.spooledLocked(),
		Queued:         p.q.len() + p.fq.len(),
		Groups:         p.fq.groupCount(),
		OutOfOrder:     p.counters.outOfOrder,
		Held:           p.counters.held,
		InFlight:       p.inflightN,
		InFlightLimit:  p.lim.slots(),
		Retrying:       p.retrying,
		BufferedBytes:  p.bytes,
		Batches:        p.counters.batches,
		Retries:        p.counters.retries,
	}
	s.Health, s.HealthCause = p.healthLocked()
	for _, n := range s.DeadLetteredBy {
		s.DeadLettered += n
	}
	if le := p.counters.lastError; le != nil {
		s.LastErrorCode, s.LastErrorMessage, s.LastErrorTime = le.Code, le.Message, le.Time
	}
	return s
}

// storeKey is the name of a pipe's copies in the spool (see storeKeyOf).
func (p *pipe) storeKey() string { return storeKeyOf(p.tenant.id, p.hook.ID) }

// epochDoneLocked counts a copy of epoch as settled for Flush.
func (p *pipe) epochDoneLocked(epoch uint64) {
	if n := p.epochPending[epoch] - 1; n > 0 {
		p.epochPending[epoch] = n
	} else {
		delete(p.epochPending, epoch)
		p.checkFlushesLocked()
	}
}
