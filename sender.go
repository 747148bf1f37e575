// sender.go makes the SendMessageBatch calls and settles their outcome
// through pipe.go's settleLocked: each entry is delivered, retried with
// back-off, split off when the batch was too large, held in the store, or
// dead-lettered with a reason; and the hook's health those calls make.

package sqshook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/cenkalti/backoff/v4"
)

// senderIdle is how long a sender goroutine waits for another call
// before it ends.
const senderIdle = 2 * time.Second

// sendJob is one call for a sender goroutine: p.send(batch, limited).
type sendJob struct {
	p       *pipe
	batch   []*entry
	limited bool
}

// startSend makes j's call on a sender goroutine: one that waits for work
// if there is one, else a new one. A sender lives on for senderIdle after
// its call, or until Close begins, waiting for the next: a call on a new
// goroutine pays for the goroutine and, as its stack grows through the
// HTTP client, for copying that stack twice or three times, about as much
// CPU as the SigV4 signature. Called with j.p.mu held (it never blocks);
// the caller has counted the call in d.wg.
func (d *Dispatcher) startSend(j sendJob) {
	select {
	case d.sendJobs <- j:
	default:
		d.wg.Add(1)
		go d.sender(j)
	}
}

// sender makes j's call, then the calls startSend hands it, until it has
// waited senderIdle for one or Close begins.
func (d *Dispatcher) sender(j sendJob) {
	defer d.wg.Done()
	var idle *time.Timer
	for {
		j.p.send(j.batch, j.limited)
		j = sendJob{}
		if idle == nil {
			idle = time.NewTimer(senderIdle)
		} else {
			idle.Reset(senderIdle)
		}
		select {
		case j = <-d.sendJobs:
		case <-idle.C:
			return
		case <-d.closing:
			idle.Stop()
			return
		}
	}
}

type retryWait struct {
	timer   stopper
	entries []*entry
}

func reasonOf(err error) Reason {
	var ge *GuardError
	if errors.As(err, &ge) {
		return ge.Reason
	}
	return ReasonInvalidField
}

// send makes one SendMessageBatch call and settles its entries. limited
// says that the call took the last free slot.
func (p *pipe) send(batch []*entry, limited bool) {
	defer p.d.wg.Done()
	lean, _ := p.client.(*leanClient)
	var le *leanEntries // the lean path's: the bodies' digests, the attributes without a map, the input
	var in *sqs.SendMessageBatchInput
	if lean != nil && len(batch) <= MaxBatchEntries {
		le = getLeanEntries(len(batch))
		defer le.release()
		in = &le.in
		in.QueueUrl, in.Entries = p.queueURL, le.entries[:len(batch)]
	} else {
		in = &sqs.SendMessageBatchInput{QueueUrl: p.queueURL, Entries: make([]types.SendMessageBatchRequestEntry, len(batch))}
	}
	for i, e := range batch {
		e.attempt++
		re := types.SendMessageBatchRequestEntry{
			Id:          &batchIDs[i], // read only, as every request member
			MessageBody: e.body(),
		}
		var viewed bool
		if le != nil {
			le.digests[i] = e.digest()
			le.attrs[i], viewed = e.ev.attrViews(le.store[i][:0], p.tel.traceparent(e.ev))
			if !viewed {
				le.attrs[i] = nil
			}
		}
		if !viewed { // the SDK's map (a list value sends the batch through the SDK client)
			re.MessageAttributes = e.ev.attributes()
			p.tel.inject(e.ev, re.MessageAttributes)
		}
		if p.fifo {
			re.MessageGroupId = &e.group
			re.MessageDeduplicationId = aws.String(dedupID(e.ev))
		}
		in.Entries[i] = re
	}
	ctx, cancel := context.WithTimeout(p.d.sendCtx, p.d.cfg.callTimeout)
	started := p.d.cfg.clock.Now()
	ctx, span := p.tel.startCall(ctx, batch, started)
	var out *sqs.SendMessageBatchOutput
	var res *leanResult // what out's strings point into, until settled
	var err error
	if le != nil {
		out, res, err = lean.sendBatch(ctx, in, le, true)
	} else {
		out, err = p.client.SendMessageBatch(ctx, in)
	}
	// A call that ran out of time was not answered: the endpoint may hang.
	timedOut := err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && p.d.sendCtx.Err() == nil
	cancel()
	p.tel.endCall(span, batch, out, err, p.d.cfg.clock, p.classify)
	p.settle(batch, out, err, call{started: started, limited: limited, timedOut: timedOut})
	res.release()
}

// digest is the MD5 of the copy's message body, shared by every copy and
// attempt that sends that body.
func (e *entry) digest() *bodyDigest {
	if e.alt != nil {
		return &e.alt.md5
	}
	return &e.ev.md5
}

// batchIDs are the entry ids of a request: unique within it.
var batchIDs = [MaxBatchEntries]string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// failure kinds of a whole call.
type failureKind int

const (
	failTransient failureKind = iota // retry the entries
	failPermanent                    // dead-letter as rejected
	failTooLong                      // split the batch
	failShutdown                     // Close gave up
)

// Error codes sqshook knows, beyond HTTP status.
var (
	transientCodes = map[string]bool{
		"RequestThrottled": true, "ThrottlingException": true, "Throttling": true,
		"KMS.ThrottlingException": true, "KmsThrottled": true, "TooManyRequestsException": true,
		"ServiceUnavailable": true, "InternalError": true, "InternalFailure": true,
		"RequestTimeout": true, "RequestTimeoutException": true, "SlowDown": true,
		"ExpiredToken": true, "ExpiredTokenException": true, "RequestExpired": true,
		"AWS.SimpleQueueService.InternalError": true, "AWS.SimpleQueueService.ServiceUnavailable": true,
	}
	tooLongCodes = map[string]bool{
		"BatchRequestTooLong": true, "AWS.SimpleQueueService.BatchRequestTooLong": true,
	}
)

// classify sorts a whole-call error. Throttling, 5xx, 429, network errors and
// timeouts are transient (the call may or may not have reached SQS);
// BatchRequestTooLong splits; every other error with an AWS error code
// (access denied, bad credentials, missing queue, invalid parameter, KMS
// access) is permanent, so a misconfigured queue gets no retry storm.
func (p *pipe) classify(err error) (kind failureKind, code, msg string) {
	kind, code, msg = p.classifyCall(err)
	if kind != failShutdown && p.hook.SQSAuthType == AuthRole && fromSTS(err) {
		msg = fmt.Sprintf("assuming role %s failed: %s", p.hook.SQSRoleARN, msg)
		if kind == failPermanent {
			msg += " (" + trustHint(p.externalID) + ")"
		}
	}
	return kind, code, msg
}

// fromSTS reports whether err comes from an STS call, such as the
// AssumeRole that retrieves a "role" hook's credentials.
func fromSTS(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if oe, ok := e.(*smithy.OperationError); ok && oe.ServiceID == "STS" {
			return true
		}
	}
	return false
}

func (p *pipe) classifyCall(err error) (kind failureKind, code, msg string) {
	if p.d.sendCtx.Err() != nil {
		return failShutdown, "", "dispatcher closed: " + err.Error()
	}
	if code := configErrorCode(err); code != "" {
		return failPermanent, code, err.Error()
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code, msg = apiErr.ErrorCode(), apiErr.ErrorMessage()
		var re *awshttp.ResponseError
		status := 0
		if errors.As(err, &re) {
			status = re.HTTPStatusCode()
		}
		switch {
		case tooLongCodes[code]:
			return failTooLong, code, msg
		case transientCodes[code], status == http.StatusTooManyRequests, status >= 500:
			return failTransient, code, msg
		case status == 0 && apiErr.ErrorFault() == smithy.FaultServer:
			return failTransient, code, msg
		}
		return failPermanent, code, msg
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && (re.HTTPStatusCode() >= 500 || re.HTTPStatusCode() == http.StatusTooManyRequests) {
		return failTransient, http.StatusText(re.HTTPStatusCode()), err.Error()
	}
	// Transport errors, timeouts, checksum mismatches: ambiguous, retried
	// with the same event ids.
	return failTransient, "", err.Error()
}

// configErrorCode returns CodeCredentials or CodeEndpoint when err says
// that the call could not be made as configured: the SDK found no usable
// credentials ("get identity" failed without an AWS error code and without
// a network error or timeout, which may pass), or the endpoint could not be
// resolved (endpoint resolution failed, or DNS says the host does not
// exist, as for an unknown region). Otherwise "". Errors with an AWS error
// code (invalid credentials among them) are classified by their code.
func configErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return ""
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return CodeEndpoint
	}
	var oe *smithy.OperationError
	if !errors.As(err, &oe) || oe.Err == nil {
		return ""
	}
	text := oe.Err.Error()
	switch {
	case strings.HasPrefix(text, "failed to resolve service endpoint"):
		return CodeEndpoint
	case strings.HasPrefix(text, "get identity: "):
		var netErr net.Error
		if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return "" // the credential source did not answer: may pass
		}
		return CodeCredentials
	}
	return ""
}

// logEvery is the least time between two log lines of one kind for one
// hook: retries and permanent failures are logged, but a hook whose every
// call fails does not flood the log.
const logEvery = 10 * time.Second

// logLimiter lets one line through per logEvery and counts the others.
// It is guarded by the pipe's mutex.
type logLimiter struct {
	next       time.Time
	suppressed int
}

// allow reports whether a line may be logged now, and how many were held
// back since the last one.
func (l *logLimiter) allow(now time.Time) (ok bool, suppressed int) {
	if now.Before(l.next) {
		l.suppressed++
		return false, 0
	}
	l.next = now.Add(logEvery)
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}

// logFailureLocked logs a failed call: at debug level when its entries are
// retried, at warn level when they are dead-lettered for good. Both are
// rate-limited per hook; each line says how many were held back.
func (p *pipe) logFailureLocked(kind failureKind, code, msg string, entries int) {
	lim, level, text := &p.retryLog, slog.LevelDebug, "sqshook: call failed; retrying"
	if kind == failPermanent {
		lim, level, text = &p.failLog, slog.LevelWarn, "sqshook: call failed permanently; not retrying"
	}
	if !p.d.cfg.logger.Enabled(context.Background(), level) {
		return
	}
	ok, suppressed := lim.allow(p.d.cfg.clock.Now())
	if !ok {
		return
	}
	p.d.cfg.logger.Log(context.Background(), level, text,
		slog.String("hook_id", p.hook.ID),
		slog.String("code", code),
		slog.String("message", msg),
		slog.Int("entries", entries),
		slog.Int("suppressed", suppressed))
}

// call describes a SendMessageBatch call, for the in-flight limit.
type call struct {
	started  time.Time
	limited  bool // it took the last free slot
	timedOut bool // it ran out of its call timeout without an answer
}

// settle records the outcome of a call.
func (p *pipe) settle(batch []*entry, out *sqs.SendMessageBatchOutput, err error, c call) {
	var dls []DeadLetter
	p.mu.Lock()
	// The ticket comes before any entry is settled: a Flush satisfied by
	// these entries waits for their dead letters' report.
	ticket := p.beginReportLocked()
	p.inflightN -= len(batch)
	p.counters.batches++
	if err == nil && out == nil {
		err = errors.New("SendMessageBatch returned neither a result nor an error")
	}
	if c.timedOut {
		// No answer within the call timeout: the endpoint hangs, and
		// further calls would each hold a connection as long.
		p.hangingLocked("no answer within the call timeout (" + p.d.cfg.callTimeout.String() + ")")
	} else {
		p.heardLocked(p.d.cfg.clock.Now())
	}
	if err != nil {
		kind, code, msg := p.classify(err)
		msg, err = p.hook.scrub(msg), p.hook.scrubError(err)
		// Stats and the health view get the category; the log the detail.
		public := publicCause(p.hook, kind, err)
		p.counters.lastError = &lastError{Code: code, Message: public, Time: time.Now()}
		if kind == failPermanent || kind == failTransient {
			p.logFailureLocked(kind, code, msg, len(batch))
		}
		if kind != failShutdown && kind != failTooLong {
			p.callFailedLocked(code, public)
		}
		for _, e := range batch {
			e.code, e.message = code, msg // this attempt's error, for the dead letter
		}
		switch kind {
		case failShutdown:
			for _, e := range batch {
				dls = append(dls, p.deadLetterLocked(e, ReasonShutdown, code, msg, false, err))
			}
		case failPermanent:
			for _, e := range batch {
				dls = append(dls, p.deadLetterLocked(e, ReasonRejected, code, msg, false, err))
			}
		case failTooLong:
			dls = p.splitLocked(batch, code, msg, err)
		default:
			p.lim.congested(c.started, p.d.cfg.clock.Now())
			dls = p.retryLocked(batch, err)
		}
	} else {
		p.regrowBatchLocked()
		now := p.d.cfg.clock.Now()
		throttled := throttledEntries(out)
		if throttled {
			p.lim.congested(c.started, now)
		} else {
			p.lim.succeeded(c.started, now.Sub(c.started), c.limited)
		}
		if len(out.Successful) > 0 || len(out.Failed) == 0 {
			p.callSucceededLocked(throttled)
		} else if f := out.Failed[0]; !f.SenderFault {
			p.callFailedLocked(aws.ToString(f.Code), publicEntryCause(p.hook, aws.ToString(f.Code), aws.ToString(f.Message)))
		}
		dls = p.settleEntriesLocked(batch, out)
	}
	if len(dls) > 0 {
		// Report before giving the call's slot back: a hook whose every
		// call is rejected cannot pile up callbacks beyond MaxInFlight.
		p.mu.Unlock()
		p.d.dispatchDeadLetters(dls)
		p.mu.Lock()
	}
	p.endReportLocked(ticket)
	p.inflight--
	wake := p.tenant.share.calls.give()
	p.pumpLocked()
	p.unlockAndRelease()
	if wake {
		// The call's place in the tenant's share goes to the hooks that
		// wait for one, first come first served.
		p.tenant.share.calls.wake(p.d.cfg.tenantMaxInFlight)
	}
}

// throttledEntries reports whether SQS failed entries for throttling or
// its own trouble: a congestion signal like a throttled call.
func throttledEntries(out *sqs.SendMessageBatchOutput) bool {
	for _, f := range out.Failed {
		if !f.SenderFault && transientCodes[aws.ToString(f.Code)] {
			return true
		}
	}
	return false
}

func (p *pipe) settleEntriesLocked(batch []*entry, out *sqs.SendMessageBatchOutput) []DeadLetter {
	var dls []DeadLetter
	settled := make([]bool, len(batch))
	index := func(id *string) int {
		for i := range batch {
			if batchIDs[i] == aws.ToString(id) && !settled[i] {
				return i
			}
		}
		return -1
	}
	var delivered []bool
	if p.fifo {
		delivered = make([]bool, len(batch))
	}
	for _, s := range out.Successful {
		if i := index(s.Id); i >= 0 {
			settled[i] = true
			if delivered != nil {
				delivered[i] = true
			}
			p.settleLocked(batch[i], copyDelivered, "")
		}
	}
	again := make([]bool, len(batch))
	for _, f := range out.Failed {
		i := index(f.Id)
		if i < 0 {
			continue
		}
		settled[i] = true
		e := batch[i]
		code, msg := aws.ToString(f.Code), p.hook.scrub(aws.ToString(f.Message))
		p.counters.lastError = &lastError{Code: code, Message: publicEntryCause(p.hook, code, aws.ToString(f.Message)), Time: time.Now()}
		e.code, e.message = code, msg
		if f.SenderFault {
			p.logFailureLocked(failPermanent, code, msg, 1)
			dls = append(dls, p.deadLetterLocked(e, ReasonRejected, code, msg, true, nil))
			continue
		}
		p.logFailureLocked(failTransient, code, msg, 1)
		again[i] = true
	}
	// Retries keep the batch's order, whatever the order of the response:
	// a FIFO group's entries go back in their order.
	var retry []*entry
	for i, e := range batch {
		if !settled[i] { // neither successful nor failed: ambiguous, resend
			e.code, e.message = "", "missing from the SendMessageBatch response"
			again[i] = true
		}
		if again[i] {
			retry = append(retry, e)
		}
	}
	if len(retry) > 0 {
		if delivered != nil {
			p.countOutOfOrderLocked(batch, delivered, retry)
		}
		dls = append(dls, p.retryLocked(retry, nil)...)
	}
	return dls
}

// countOutOfOrderLocked counts the FIFO entries to be retried while SQS
// accepted a later entry of their group from the same batch: their group's
// order at the queue is already broken and the retry cannot mend it.
func (p *pipe) countOutOfOrderLocked(batch []*entry, delivered []bool, retry []*entry) {
	for _, e := range retry {
		after := false
		for j, x := range batch {
			if x == e {
				after = true
				continue
			}
			if after && delivered[j] && x.group == e.group {
				p.counters.outOfOrder++
				p.d.cfg.logger.Warn("sqshook: FIFO entry failed after SQS accepted a later entry of its group; its retry arrives out of order",
					slog.String("hook_id", p.hook.ID),
					slog.String("event_id", e.ev.id),
					slog.String("group_id", e.group),
					slog.String("code", e.code))
				break
			}
		}
	}
}

// splitLocked handles BatchRequestTooLong: the server's batch limit is below
// ours, so lower this hook's limit to half the refused batch and requeue the
// entries at the front; the batcher then forms smaller batches.
func (p *pipe) splitLocked(batch []*entry, code, msg string, err error) []DeadLetter {
	if len(batch) == 1 {
		return []DeadLetter{p.deadLetterLocked(batch[0], ReasonRejected, code, msg, false, err)}
	}
	total, largest := 0, 0
	for _, e := range batch {
		e.attempt-- // not the entries' fault
		e.at = time.Time{}
		total += e.size
		largest = max(largest, e.size)
	}
	p.maxBatch = max(largest, min(p.maxBatch, total/2))
	p.sinceSplit = 0
	p.requeueLocked(batch)
	return nil
}

// regrowAfter is how many calls succeed at a lowered batch limit before
// the limit is doubled again (a server's limit may have been raised; a
// refusal costs one call and halves it again).
const regrowAfter = 64

// regrowBatchLocked counts a successful call and raises a lowered batch
// limit back toward the configured one after regrowAfter of them.
func (p *pipe) regrowBatchLocked() {
	if p.maxBatch >= p.d.rules.maxBytes {
		return
	}
	if p.sinceSplit++; p.sinceSplit >= regrowAfter {
		p.maxBatch = min(p.d.rules.maxBytes, 2*p.maxBatch)
		p.sinceSplit = 0
	}
}

// retryLocked schedules entries for another attempt after their back-off, or
// dead-letters those whose budget is spent; with a spool, those go back to
// the disk backlog instead (holdLocked).
func (p *pipe) retryLocked(es []*entry, err error) []DeadLetter {
	var dls []DeadLetter
	var again, held []*entry
	var delays []time.Duration
	for _, e := range es {
		if e.bo == nil {
			e.bo = p.d.cfg.newBackOff()
		}
		next := e.bo.NextBackOff()
		if next == backoff.Stop || e.attempt >= p.d.cfg.retry.MaxAttempts || p.aborted {
			if p.holdableLocked(e) {
				held = append(held, e)
				continue
			}
			reason := ReasonRetriesExhausted
			if p.aborted {
				reason = ReasonShutdown
			}
			dls = append(dls, p.deadLetterLocked(e, reason, e.code, e.message, false, err))
			continue
		}
		again = append(again, e)
		delays = append(delays, next)
	}
	var followers []*entry
	if len(held) > 0 && p.fifo {
		// The rest of a held copy's group goes back with it, even where its
		// own budget is not spent, so the group keeps its order.
		groups := make(map[*fifoGroup]bool, len(held))
		for _, e := range held {
			groups[e.grp] = true
		}
		k := 0
		for i, e := range again {
			if groups[e.grp] {
				followers = append(followers, e)
				continue
			}
			again[k], delays[k] = e, delays[i]
			k++
		}
		again, delays = again[:k], delays[:k]
	}
	if len(held) > 0 {
		p.holdLocked(held, followers)
	}
	if len(again) == 0 {
		return dls
	}
	for _, e := range again {
		e.move(copyRetrying)
	}
	p.counters.retries += uint64(len(again))
	p.tel.retried(len(again))
	delay := slices.Max(delays)
	p.retrying += len(again)
	rw := &retryWait{entries: again}
	if p.retryWaits == nil {
		p.retryWaits = make(map[*retryWait]struct{})
	}
	p.retryWaits[rw] = struct{}{}
	p.d.wg.Add(1)
	rw.timer = p.d.cfg.clock.AfterFunc(delay, func() { p.retryFired(rw) })
	return dls
}

func (p *pipe) retryFired(rw *retryWait) {
	defer p.d.wg.Done()
	p.mu.Lock()
	if _, ok := p.retryWaits[rw]; !ok { // aborted meanwhile
		p.mu.Unlock()
		return
	}
	delete(p.retryWaits, rw)
	p.retrying -= len(rw.entries)
	for _, e := range rw.entries {
		e.at = time.Time{}
	}
	p.requeueLocked(rw.entries)
	p.pumpLocked()
	p.mu.Unlock()
}

// requeueLocked puts entries that were out back at the front of the queue.
func (p *pipe) requeueLocked(es []*entry) {
	for _, e := range es {
		e.move(copyQueued)
	}
	if p.fifo {
		p.fq.requeue(es)
	} else {
		p.q.pushFront(es)
	}
}

// deadLetterLocked settles e as a dead letter with reason (or, for
// ReasonShutdown with a store that has it, keeps it there for the next
// New) and builds the dead letter; the caller reports it after
// unlocking. e may be a copy accepted but never placed (copyNew).
//
// Whatever the reason, the dead letter carries the entry's last attempt's
// error: its code when code is empty, and its message after msg when msg
// does not already say it.
func (p *pipe) deadLetterLocked(e *entry, reason Reason, code, msg string, senderFault bool, err error) DeadLetter {
	if reason == ReasonShutdown && p.keepableLocked(e) {
		p.settleLocked(e, copyKept, "")
		return DeadLetter{} // kept in the spool for the next New
	}
	if code == "" {
		code = e.code
	}
	if e.message != "" && !strings.Contains(msg, e.message) {
		msg += "; last attempt: " + e.message
	}
	p.tel.deadLettered(reason, code)
	de := &DeliveryError{
		Tenant: p.tenant.id, HookID: p.hook.ID, EventID: e.ev.id, EventType: e.ev.ev.Type,
		Reason: reason, Code: code, Message: msg, SenderFault: senderFault, Err: err,
	}
	dl := DeadLetter{
		Tenant: p.tenant.id, HookID: p.hook.ID, Event: e.ev.ev, Reason: reason, Code: code, Message: msg,
		SenderFault: senderFault, Attempts: e.attempt, Err: de, Seq: e.seq, ref: e.ev.ref,
	}
	if p.fifo {
		dl.GroupID = e.group
	}
	p.settleLocked(e, copyDeadLettered, reason)
	return dl
}

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
