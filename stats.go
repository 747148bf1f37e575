// stats.go is the dispatcher's counters: Stats and HookStats, and how they
// (and the metrics' gauges) find the pipelines to read without the
// dispatcher's lock: active pipelines from the tenants' snapshots,
// draining ones from an index per tenant.

package sqshook

import (
	"slices"
	"strings"
	"sync"
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
	// Stored (WithPostgres) counts the hook's copies waiting in the
	// database, fleet-wide: recorded and not yet settled, whichever
	// instance owns the hook and whether fetched or not (so Stored is not
	// in the sum above). The owner counts them every Lease/3 (see
	// PostgresOptions), up to a bound (the tenant quota, at least
	// 100,000, plus one: a figure at the bound means at least that many),
	// and every instance reads the counts every Lease/3 and adds what it
	// recorded and deleted itself since: the figure is at most about
	// 2·Lease/3 old (4 s by default) for what other instances did. 0
	// without WithPostgres, and until the first count is read.
	Stored uint64

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
	// (counted in Spooled while it waits there). With WithPostgres alike:
	// the copy stays in the database (it is deleted only when settled)
	// and its owner reads it back first; if the owner stops, the hook's
	// next owner delivers it.
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

// pipeSet is one tenant's pipelines that SetHooks retired (removed or
// changed hooks) and that still drain.
type pipeSet struct {
	mu    sync.Mutex
	pipes map[*pipe]struct{}
}

// trackDraining records p, just retired by its tenant's SetHooks, until it
// is done; d.mu is held (so that trackDraining and untrackDraining of a
// tenant never run at once).
func (d *Dispatcher) trackDraining(p *pipe) {
	v, ok := d.draining.Load(p.tenant.id)
	if !ok {
		v = &pipeSet{pipes: make(map[*pipe]struct{})}
		d.draining.Store(p.tenant.id, v)
	}
	set := v.(*pipeSet)
	set.mu.Lock()
	set.pipes[p] = struct{}{}
	set.mu.Unlock()
}

// untrackDraining forgets p, done; d.mu is held.
func (d *Dispatcher) untrackDraining(p *pipe) {
	v, ok := d.draining.Load(p.tenant.id)
	if !ok {
		return
	}
	set := v.(*pipeSet)
	set.mu.Lock()
	delete(set.pipes, p)
	empty := len(set.pipes) == 0
	set.mu.Unlock()
	if empty {
		d.draining.CompareAndDelete(p.tenant.id, set)
	}
}

// drainingOf lists a tenant's draining pipelines by hook id.
func (d *Dispatcher) drainingOf(tenant string) []*pipe {
	v, ok := d.draining.Load(tenant)
	if !ok {
		return nil
	}
	set := v.(*pipeSet)
	set.mu.Lock()
	pipes := make([]*pipe, 0, len(set.pipes))
	for p := range set.pipes {
		pipes = append(pipes, p)
	}
	set.mu.Unlock()
	slices.SortFunc(pipes, func(a, b *pipe) int { return strings.Compare(a.hook.ID, b.hook.ID) })
	return pipes
}

// allDraining lists every tenant's draining pipelines, by tenant and hook
// id.
func (d *Dispatcher) allDraining() []*pipe {
	var pipes []*pipe
	d.draining.Range(func(_, v any) bool {
		set := v.(*pipeSet)
		set.mu.Lock()
		for p := range set.pipes {
			pipes = append(pipes, p)
		}
		set.mu.Unlock()
		return true
	})
	slices.SortFunc(pipes, func(a, b *pipe) int {
		if c := strings.Compare(a.tenant.id, b.tenant.id); c != 0 {
			return c
		}
		return strings.Compare(a.hook.ID, b.hook.ID)
	})
	return pipes
}

// withoutDraining returns the pipelines of an active list that are not in
// draining (a pipeline retired while the lists were read is listed as
// draining only). It returns active itself when nothing drains.
func withoutDraining(active []*pipe, draining map[*pipe]bool) []*pipe {
	if len(draining) == 0 {
		return active
	}
	out := make([]*pipe, 0, len(active))
	for _, p := range active {
		if !draining[p] {
			out = append(out, p)
		}
	}
	return out
}

// setOf returns pipes as a set; nil for none.
func setOf(pipes []*pipe) map[*pipe]bool {
	if len(pipes) == 0 {
		return nil
	}
	set := make(map[*pipe]bool, len(pipes))
	for _, p := range pipes {
		set[p] = true
	}
	return set
}

// statsOrder lists active pipelines, the default tenant's first and then by
// tenant id, each tenant's in configuration order; then the draining ones
// by tenant and hook id. It takes no lock of the dispatcher's: each
// tenant's list is its snapshot, read atomically, and the draining ones are
// read one tenant at a time.
func (d *Dispatcher) statsOrder() []*pipe {
	draining := d.allDraining()
	var named []*tenant
	d.tenants.Range(func(_, v any) bool {
		named = append(named, v.(*tenant))
		return true
	})
	slices.SortFunc(named, func(a, b *tenant) int { return strings.Compare(a.id, b.id) })
	skip := setOf(draining)
	pipes := slices.Clone(withoutDraining(d.def.snap.Load().pipes, skip))
	for _, t := range named {
		pipes = append(pipes, withoutDraining(t.snap.Load().pipes, skip)...)
	}
	return append(pipes, draining...)
}

// statsPipes lists the pipelines Stats reports: those of statsOrder, or
// after Close those it left.
func (d *Dispatcher) statsPipes() []*pipe {
	if d.closed.Load() {
		return d.final // set before closed, never changed after
	}
	return d.statsOrder()
}

// eachPipe calls fn for every pipeline, active and draining (after Close,
// those Close left), without the dispatcher's lock.
func (d *Dispatcher) eachPipe(fn func(p *pipe)) {
	if d.closed.Load() {
		for _, p := range d.final {
			fn(p)
		}
		return
	}
	draining := d.allDraining()
	skip := setOf(draining)
	d.eachTenant(func(t *tenant) {
		for _, p := range withoutDraining(t.snap.Load().pipes, skip) {
			fn(p)
		}
	})
	for _, p := range draining {
		fn(p)
	}
}

// stats reads the counters of pipes.
func (d *Dispatcher) stats(pipes []*pipe) Stats {
	s := Stats{CallbackPanics: d.panics.Load()}
	if len(pipes) > 0 {
		s.Hooks = make([]HookStats, 0, len(pipes))
	}
	for _, p := range pipes {
		h := p.stats()
		if d.store != nil && d.store.pg != nil {
			h.Stored, _ = d.store.pg.storedOf(p.storeKey())
		}
		s.Hooks = append(s.Hooks, h)
	}
	return s
}

// tenantStats is Tenant.Stats: it reads the tenant's own snapshot and
// draining pipelines, and waits on no other tenant.
func (d *Dispatcher) tenantStats(id string) Stats {
	var pipes []*pipe
	if d.closed.Load() {
		for _, p := range d.final {
			if p.tenant.id == id {
				pipes = append(pipes, p)
			}
		}
		return d.stats(pipes)
	}
	draining := d.drainingOf(id)
	if t := d.lookupTenant(id); t != nil {
		pipes = slices.Clone(withoutDraining(t.snap.Load().pipes, setOf(draining)))
	}
	return d.stats(append(pipes, draining...))
}
