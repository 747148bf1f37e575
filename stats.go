// stats.go is the dispatcher's counters: Stats and HookStats.

package sqshook

import (
	"maps"
	"time"
)

// Stats is a snapshot of the dispatcher's counters.
type Stats struct {
	// Hooks lists active hooks in configuration order, then hooks that were
	// removed or changed and are still draining.
	Hooks []HookStats
	// CallbackPanics counts panics recovered in user code that the
	// dispatcher calls: the dead-letter callback, the FIFO group strategy
	// and the logger's handler.
	CallbackPanics uint64
	// Spool is the state of the spool (WithSpool); nil without one.
	Spool *SpoolStats
}

// Hook returns the stats of the default tenant's hook with the given id:
// its active pipeline, or else (after it was removed, or after Close) the
// first draining one.
func (s Stats) Hook(id string) (HookStats, bool) { return s.TenantHook("", id) }

// TenantHook is Hook for a hook of the given tenant.
func (s Stats) TenantHook(tenant, id string) (HookStats, bool) {
	var found *HookStats
	for i, h := range s.Hooks {
		if h.HookID != id || h.Tenant != tenant {
			continue
		}
		if !h.Draining {
			return h, true
		}
		if found == nil {
			found = &s.Hooks[i]
		}
	}
	if found != nil {
		return *found, true
	}
	return HookStats{}, false
}

// HookStats are one hook pipeline's counters, read at one instant, so that
// Matched == Delivered + DeadLettered + Pending always holds.
type HookStats struct {
	// Tenant is the hook's tenant: "" for the default tenant.
	Tenant   string
	HookID   string
	Draining bool // removed or changed by SetHooks, or closing

	// Health is the hook's delivery health; HealthCause says why it is not
	// HealthOK: the last error code and the category of the failure (see
	// PublicError), or what it waits for.
	Health      Health
	HealthCause string

	Matched      uint64 // copies accepted or dead-lettered at once
	Delivered    uint64 // acknowledged by SQS
	DeadLettered uint64 // sum of DeadLetteredBy
	// DeadLetteredBy counts dead letters per reason.
	DeadLetteredBy map[Reason]uint64
	Pending        uint64 // Queued + InFlight + Retrying
	// Spooled counts copies held on disk only (WithSpool): waiting for
	// room in memory, or left in the spool by a Close that ran out of time
	// for the next New to deliver. Matched == Delivered + DeadLettered +
	// Pending + Spooled.
	Spooled uint64

	Queued   int // waiting for a batch
	InFlight int // in SendMessageBatch calls
	// InFlightLimit is the hook's current limit on concurrent calls (see
	// WithAdaptiveInFlight).
	InFlightLimit int
	Retrying      int // waiting for their back-off to end

	BufferedBytes int    // message bytes held
	Batches       uint64 // SendMessageBatch calls made
	Retries       uint64 // entries scheduled for another attempt

	// Groups is the number of FIFO message groups holding events.
	Groups int
	// OutOfOrder counts FIFO entries that failed (not by the sender's
	// fault) while SQS accepted a later entry of their group in the same
	// batch: their retry reaches the queue after that later entry. SQS
	// normally fails a group's later entries too; this stays 0 then.
	OutOfOrder uint64
	// Held counts copies whose retry budget ran out while a spool was on
	// (WithSpool): instead of a retries_exhausted dead letter each went
	// back to the hook's disk backlog, in its order, to be tried again
	// (counted in Spooled while it waits there).
	Held uint64

	// LastErrorCode is the SQS error code of the hook's last failure (or
	// CodeCredentials, CodeEndpoint; "" for a network failure or timeout).
	LastErrorCode string
	// LastErrorMessage is the category of the last failure (see
	// PublicError), with what the customer must change for a denied call
	// ("access denied by the queue policy: the policy must allow
	// sqs:SendMessage for the server's principal"); an error code without
	// a category keeps its message, redacted (RedactPublic). Like the
	// health handler that shows it, it never holds AWS's message (which
	// names IAM identities, ARNs and account ids), the server's network
	// details or credential setup: those go to the log (WithLogger), and
	// DeadLetter.Message keeps them for the dead-letter callback.
	LastErrorMessage string
	LastErrorTime    time.Time
}

type hookCounters struct {
	matched, delivered uint64
	deadLettered       map[Reason]uint64
	batches, retries   uint64
	outOfOrder         uint64
	held               uint64
	lastError          *lastError
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
