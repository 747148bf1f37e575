// pipe.go is a hook's pipeline and its lifecycle: the pipe that the batcher
// fills and the sender empties, created per hook, flushed, retired when its
// hook is removed or changed, purged when RemoveTenant says so, and aborted
// when Close gives up.

package sqshook

import (
	"context"
	"fmt"
	"log/slog"
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
}

// pipe states.
const (
	pipeActive   = iota
	pipeDraining // retired or closing: no lingering, finishes when empty
	pipeDone     // drained or aborted: takes nothing more
)

// pipe is one hook's pipeline: bounded queue, batcher and senders. Its
// goroutines exist only while it has work: one per call in flight, plus
// timer callbacks for linger and retries.
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
	dur      pipeSpool // disk-only copies (WithSpool)
	shares   shares    // the tenant's and the dispatcher's
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
		maxBatch:     d.rules.maxBytes,
		lim:          newInflightLimit(d.cfg.maxInFlight, d.cfg.adaptiveInFlight),
		epochPending: make(map[uint64]int),
		counters:     hookCounters{deadLettered: make(map[Reason]uint64)},
		shares:       shares{t.share, d.share},
		tel:          d.tel.forHook(t.id, h),
	}, nil
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
	if len(p.flushes) == 0 {
		return
	}
	oldest, any := p.oldestEpochLocked()
	kept := p.flushes[:0]
	for _, w := range p.flushes {
		if !any || oldest > w.epoch {
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

// retire stops lingering and lets the pipe finish once it is empty.
func (p *pipe) retire() {
	p.mu.Lock()
	if p.state == pipeActive {
		p.state = pipeDraining
	}
	if p.lingerSet && p.linger.Stop() {
		p.lingerSet = false
		p.d.wg.Done()
	}
	p.wakeWaitersLocked()
	p.pumpLocked()
	p.mu.Unlock()
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
	var dls []DeadLetter
	queued := p.q.drain()
	if p.fifo {
		queued = p.fq.drain()
	}
	for _, e := range queued {
		dls = append(dls, p.deadLetterLocked(e, ReasonHookRemoved, "", msg, false, ErrTenantRemoved))
	}
	for rw := range p.retryWaits {
		if rw.timer.Stop() {
			p.d.wg.Done()
		}
		delete(p.retryWaits, rw)
		p.retrying -= len(rw.entries)
		for _, e := range rw.entries {
			dls = append(dls, p.deadLetterLocked(e, ReasonHookRemoved, "", msg, false, ErrTenantRemoved))
		}
	}
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

// abort dead-letters everything the pipe holds that is not in flight (calls
// in flight are canceled by the dispatcher and settle as shutdown).
func (p *pipe) abort() {
	p.mu.Lock()
	ticket := p.beginReportLocked()
	p.aborted = true
	p.wakeWaitersLocked()
	var dls []DeadLetter
	queued := p.q.drain()
	if p.fifo {
		queued = p.fq.drain()
	}
	for _, e := range queued {
		dls = append(dls, p.deadLetterLocked(e, ReasonShutdown, e.code, "dispatcher closed before delivery", false, nil))
	}
	for rw := range p.retryWaits {
		if rw.timer.Stop() {
			p.d.wg.Done()
		}
		delete(p.retryWaits, rw)
		p.retrying -= len(rw.entries)
		for _, e := range rw.entries {
			dls = append(dls, p.deadLetterLocked(e, ReasonShutdown, e.code, "dispatcher closed while waiting to retry", false, nil))
		}
	}
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
