// store.go is durability behind one interface: the store, where a
// dispatcher keeps each event until every hook's copy of it is settled,
// and the dispatcher's side of it (the options' checks, recording an event
// before Publish queues it, settling copies, resuming them at New with a
// named tenant's parked until its SetHooks, the spool's stats). The spool
// (spoolstore.go, package spool) is its first implementation, PostgreSQL
// for a fleet (pgstore.go, WithPostgres) the second; a pipe's copies in
// the store only are backlog.go's.

package sqshook

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sqshook/sqshook/spool"
)

// store is where a dispatcher keeps its events until every hook's copy is
// settled: the pipeline calls nothing else of its implementation. Copies
// are named by their event's ref and their key (storeKeyOf: tenant and
// hook id). Errors wrap errStoreQuota (record: past the quota),
// errNotPending (settle, read: no such pending copy or event) or
// errStoreClosed.
type store interface {
	// record keeps ev with a pending copy for each key, before any copy
	// is queued; at is when.
	record(ev Event, keys []string, at time.Time) (storeRef, error)
	// settle ends a copy: delivered, or dead-lettered and reported.
	settle(ref storeRef, key string) error
	// hold says that a copy whose retry budget ran out waits in the store
	// for its pipe to read it back (the pipe keeps its place in memory).
	hold(ref storeRef, key string) error
	// read returns a recorded event with its keys, to send it again.
	read(ref storeRef) (storedEvent, error)
	// resume lists, at New, the events with pending copies, in the order
	// they were recorded (keys: the pending ones); an event it cannot
	// read comes with an error and what could be read of it.
	resume() iter.Seq2[storedEvent, error]
	// damaged lists the records found damaged when the store opened.
	damaged() []storeDamage
	// stats is the store's size and content (also after close).
	stats() storeStats
	close() error
}

// storeRef names an event in the store; 0: not in a store.
type storeRef uint64

// storedEvent is an event as the store keeps it.
type storedEvent struct {
	ref  storeRef
	ev   Event
	keys []string // its copies' keys
}

// storeDamage is a damaged record: what could be read of it, and why.
type storeDamage struct {
	ev   Event
	keys []string
	msg  string
}

// storeStats are SpoolStats's numbers of the store itself.
type storeStats struct {
	Bytes, Quota     int64
	Records, Pending int
	// WithPostgres only.
	Fetched     int
	TenantQuota int64
	OverQuota   int
}

// The errors a store's methods wrap.
var (
	errStoreQuota  = spool.ErrQuota
	errNotPending  = spool.ErrNotPending
	errStoreClosed = spool.ErrClosed
)

// SpoolStats is the state of the dispatcher's spool (see WithSpool), or
// of the PostgreSQL store (WithPostgres), where Bytes, Quota and Records
// are 0 and Pending counts the copies in the database (see Pending).
type SpoolStats struct {
	Bytes   int64 // size of the spool's files
	Quota   int64 // spool.Options.Quota; 0: none
	Records int   // events with a pending copy
	// Pending counts the pending copies, in memory and on disk. With
	// WithPostgres: the copies of the hooks this instance configures that
	// wait in the database, fleet-wide (delivered by whichever instance
	// owns each hook), as last counted: the sum of their
	// HookStats.Stored.
	Pending int
	// Fetched (WithPostgres) counts the copies this instance has taken
	// from the database for the hooks it owns and not yet deleted: in
	// memory, in flight, retrying or held.
	Fetched int
	// TenantQuota (WithPostgres) is PostgresOptions.TenantQuota in force,
	// in copies per tenant (0: none); OverQuota counts this instance's
	// tenants whose copies in the database, as last counted, have
	// reached it: their Publish waits or dead-letters buffer_full.
	TenantQuota int64
	OverQuota   int
	// Parked counts the copies New resumed for named tenants that wait for
	// their tenant's SetHooks (see WithSpool, WithResumeWait); they are
	// in Pending, and in no hook's HookStats until their hook is set.
	Parked int
	// Resumed counts the copies New found pending and queued again (or
	// parked).
	Resumed uint64
	// HookRemoved and Corrupt count the dead letters of those reasons the
	// spool produced: at New, and for parked copies. With WithPostgres,
	// HookRemoved counts the parked copies this instance's sweep
	// dead-lettered (see WithResumeWait).
	HookRemoved, Corrupt uint64
	// SettleErrors counts settlements the spool failed to write: those
	// copies may be delivered again after a restart.
	SettleErrors uint64
}

// dispatcherStore is the dispatcher's side of the spool.
type dispatcherStore struct {
	st store
	pg *pgStore // st with WithPostgres: Publish records only, the hooks' owners fetch

	resumed, removed, corrupt, settleErrs atomic.Uint64

	closeOnce sync.Once

	parkMu    sync.Mutex
	parked    map[string]map[string][]storeRef // a named tenant's resumed copies, by tenant and hook id, until its SetHooks
	parkedN   int                              // copies in parked
	waitTimer stopper                          // WithResumeWait's timer; nil when none runs

	roomMu sync.Mutex
	room   chan struct{} // closed at the next settlement; nil when nobody waits
}

// validateSpool reports WithSpool's problems with the other options.
func (c *settings) validateSpool(v *validator) {
	if c.resumeWait < 0 {
		v.add("resume_wait", fmt.Sprintf("WithResumeWait(%v) is negative; 0 means no bound", c.resumeWait))
	}
	if c.spool == nil {
		return
	}
	if c.spool.dir == "" {
		v.add("spool", "dir: required (a directory on local disk)")
	}
	if q := c.spool.opts.Quota; q < 0 {
		v.add("spool", fmt.Sprintf("quota %d is negative; 0 means no limit", q))
	}
}

// openSpool opens the spool, reports damaged records and resumes pending
// copies; called by New after the hooks are set, before New returns.
func (d *Dispatcher) openSpool() error {
	if d.cfg.postgres != nil {
		return d.openPostgres()
	}
	c := d.cfg.spool
	if c == nil {
		return nil
	}
	sp, err := spool.Open(c.dir, c.opts)
	if err != nil {
		return fmt.Errorf("sqshook: spool: %w", err)
	}
	d.store = &dispatcherStore{st: spoolStore{sp}}
	d.reportDamage(d.store.st.damaged())
	if err := d.resume(); err != nil {
		d.store.close()
		d.store = nil
		return fmt.Errorf("sqshook: spool: resume: %w", err)
	}
	d.startResumeWait()
	return nil
}

// reportDamage dead-letters what damaged records held, one dead letter per
// hook copy that could be read (one without a hook otherwise).
func (d *Dispatcher) reportDamage(damaged []storeDamage) {
	var dls []DeadLetter
	for _, dm := range damaged {
		ev, msg := dm.ev, dm.msg
		hooks := dm.keys
		if len(hooks) == 0 {
			hooks = []string{""}
		}
		for _, h := range hooks {
			d.store.corrupt.Add(1)
			dls = append(dls, d.spoolDeadLetter(h, ev, ReasonCorrupt, msg))
		}
	}
	d.dispatchDeadLetters(dls)
}

// spoolDeadLetter is the dead letter of a copy known only by its spool
// key.
func (d *Dispatcher) spoolDeadLetter(key string, ev Event, reason Reason, msg string) DeadLetter {
	tenant, hookID, _ := parseStoreKey(key)
	de := &DeliveryError{Tenant: tenant, HookID: hookID, EventID: ev.ID, EventType: ev.Type, Reason: reason, Message: msg}
	return DeadLetter{Tenant: tenant, HookID: hookID, Event: ev, Reason: reason, Message: msg, Err: de, GroupID: ev.GroupID}
}

// park keeps a resumed copy of a named tenant's hook until the tenant's
// SetHooks configures that hook (adopt) or drops it (takeParked), or
// WithResumeWait ends.
func (ds *dispatcherStore) park(tenant, hookID string, seq storeRef) {
	ds.parkMu.Lock()
	if ds.parked == nil {
		ds.parked = map[string]map[string][]storeRef{}
	}
	byHook := ds.parked[tenant]
	if byHook == nil {
		byHook = map[string][]storeRef{}
		ds.parked[tenant] = byHook
	}
	byHook[hookID] = append(byHook[hookID], seq)
	ds.parkedN++
	ds.parkMu.Unlock()
	ds.resumed.Add(1)
}

// parkedCopy is a parked copy taken out to be dead-lettered.
type parkedCopy struct {
	tenant, hookID string
	seq            storeRef
}

// unparkLocked takes the parked copies of one tenant (all tenants when
// all is set) in the spool's order; ds.parkMu is held.
func (ds *dispatcherStore) unparkLocked(tenant string, all bool) []parkedCopy {
	var out []parkedCopy
	take := func(tenant string, byHook map[string][]storeRef) {
		for hookID, seqs := range byHook {
			for _, seq := range seqs {
				out = append(out, parkedCopy{tenant: tenant, hookID: hookID, seq: seq})
			}
		}
		delete(ds.parked, tenant)
	}
	if all {
		for tn, byHook := range ds.parked {
			take(tn, byHook)
		}
	} else if byHook, ok := ds.parked[tenant]; ok {
		take(tenant, byHook)
	}
	ds.parkedN -= len(out)
	slices.SortFunc(out, func(a, b parkedCopy) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

// takeParked takes the copies still parked for a tenant whose SetHooks
// (or RemoveTenant) has just installed its hook list: the list's enabled
// hooks have adopted theirs, so these are for hooks it does not configure.
// The caller holds the tenant's setMu and passes them to dropParked. After
// Close it takes nothing: the copies stay in the spool for the next New.
// The copies taken are counted in d.wg until dropParked has reported
// them, so Close does not close the spool under it.
func (d *Dispatcher) takeParked(tenant string) []parkedCopy {
	if d.store == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed.Load() {
		return nil
	}
	d.store.parkMu.Lock()
	cs := d.store.unparkLocked(tenant, false)
	d.store.parkMu.Unlock()
	if len(cs) > 0 {
		d.wg.Add(1)
	}
	return cs
}

// dropParked dead-letters copies takeParked took, with ReasonHookRemoved
// and the message why gives for their hook, and ends takeParked's count.
func (d *Dispatcher) dropParked(cs []parkedCopy, why func(hookID string) string) {
	if len(cs) == 0 {
		return
	}
	defer d.wg.Done()
	d.deadLetterParked(cs, why)
}

// deadLetterParked reports parked copies as dead letters, settled in the
// spool once reported. A copy settled meanwhile is skipped; one the spool
// can no longer read is reported as ReasonCorrupt.
func (d *Dispatcher) deadLetterParked(cs []parkedCopy, why func(hookID string) string) {
	var dls []DeadLetter
	for _, c := range cs {
		key := storeKeyOf(c.tenant, c.hookID)
		ent, err := d.store.st.read(c.seq)
		var dl DeadLetter
		switch {
		case errors.Is(err, errNotPending), errors.Is(err, errStoreClosed):
			continue
		case err != nil:
			d.store.corrupt.Add(1)
			dl = d.spoolDeadLetter(key, ent.ev, ReasonCorrupt, "spool record unreadable: "+err.Error())
		default:
			d.store.removed.Add(1)
			dl = d.spoolDeadLetter(key, ent.ev, ReasonHookRemoved, why(c.hookID))
		}
		dl.ref = c.seq
		dls = append(dls, dl)
	}
	d.dispatchDeadLetters(dls)
}

// parkedWhy is the message of a tenant's parked copies that its new hook
// list (valid, as SetHooks installed it) does not take.
func parkedWhy(tenant string, valid []Hook) func(hookID string) string {
	return func(hookID string) string {
		if len(valid) == 0 {
			return fmt.Sprintf("tenant %q removed (RemoveTenant, or SetHooks with no hooks) before its hook %q was configured again", tenant, hookID)
		}
		for _, h := range valid {
			if h.ID == hookID {
				return fmt.Sprintf("hook %q is not enabled in tenant %q's hook list (SetHooks)", hookID, tenant)
			}
		}
		return fmt.Sprintf("hook %q is not in tenant %q's hook list (SetHooks)", hookID, tenant)
	}
}

// startResumeWait starts WithResumeWait's timer when New has parked
// copies; counted in d.wg until it fires or Close stops it.
func (d *Dispatcher) startResumeWait() {
	ds, wait := d.store, d.cfg.resumeWait
	ds.parkMu.Lock()
	defer ds.parkMu.Unlock()
	if wait <= 0 || ds.parkedN == 0 {
		return
	}
	d.wg.Add(1)
	ds.waitTimer = d.cfg.clock.AfterFunc(wait, d.resumeWaitEnded)
}

// resumeWaitEnded dead-letters every copy still parked when
// WithResumeWait's bound ends.
func (d *Dispatcher) resumeWaitEnded() {
	defer d.wg.Done()
	ds := d.store
	ds.parkMu.Lock()
	ds.waitTimer = nil
	cs := ds.unparkLocked("", true)
	ds.parkMu.Unlock()
	wait := d.cfg.resumeWait
	d.deadLetterParked(cs, func(hookID string) string {
		return fmt.Sprintf("hook %q not configured by its tenant's SetHooks within %v of New (WithResumeWait)", hookID, wait)
	})
}

// stopResumeWait stops WithResumeWait's timer at Close: the parked copies
// stay in the spool for the next New.
func (d *Dispatcher) stopResumeWait() {
	ds := d.store
	if ds == nil {
		return
	}
	ds.parkMu.Lock()
	t := ds.waitTimer
	ds.waitTimer = nil
	ds.parkMu.Unlock()
	if t != nil && t.Stop() {
		d.wg.Done()
	}
}

// resume puts every pending copy of the spool on its hook's disk backlog,
// in append order, and dead-letters the copies of hooks that are gone. The
// backlogs are read back into memory as room allows; new events of a hook
// wait behind its backlog, so every FIFO group keeps its order.
func (d *Dispatcher) resume() error {
	byID := map[string]*pipe{}
	for _, p := range d.def.snap.Load().pipes {
		byID[p.storeKey()] = p
	}
	for e, err := range d.store.st.resume() {
		if err != nil {
			if errors.Is(err, errStoreClosed) {
				return err
			}
			// The record's bytes could not be read back: its copies are
			// reported as corrupt with what the spool still knows.
			d.deadLetterUnreadable(e, err)
			continue
		}
		for _, h := range e.keys {
			p := byID[h]
			if tenant, hookID, ok := parseStoreKey(h); p == nil && ok && tenant != "" {
				// A named tenant's hooks are set after New: its copies
				// wait until its SetHooks configures their hook.
				d.store.park(tenant, hookID, e.ref)
				continue
			}
			if p == nil {
				d.store.removed.Add(1)
				dl := d.spoolDeadLetter(h, e.ev, ReasonHookRemoved, "hook no longer configured or not enabled")
				dl.ref = e.ref
				d.dispatchDeadLetters([]DeadLetter{dl})
				continue
			}
			p.mu.Lock()
			p.acceptLocked(&entry{ev: &eventData{ref: e.ref}}, copySpilled)
			p.mu.Unlock()
			d.store.resumed.Add(1)
		}
	}
	for _, p := range byID {
		p.mu.Lock()
		p.readBackLocked()
		p.mu.Unlock()
	}
	return nil
}

func (d *Dispatcher) deadLetterUnreadable(e storedEvent, err error) {
	hooks := e.keys
	if ent, gerr := d.store.st.read(e.ref); gerr == nil || len(ent.keys) > 0 {
		hooks = ent.keys
	}
	ev := e.ev
	var dls []DeadLetter
	for _, h := range hooks {
		d.store.corrupt.Add(1)
		dl := d.spoolDeadLetter(h, ev, ReasonCorrupt, "spool record unreadable: "+err.Error())
		dl.ref = e.ref
		dls = append(dls, dl)
	}
	d.dispatchDeadLetters(dls)
}

// storeKeyOf names a hook's copies in the spool: the hook id for the
// default tenant (as before tenants existed), else the tenant id's length,
// a slash, the tenant id and the hook id. Hook ids never hold a slash, so
// the two forms cannot be confused, and the length keeps any tenant id
// apart from the hook id that follows it.
func storeKeyOf(tenant, hookID string) string {
	if tenant == "" {
		return hookID
	}
	return strconv.Itoa(len(tenant)) + "/" + tenant + hookID
}

// parseStoreKey splits a spool key into tenant and hook id; ok is false
// for a key storeKeyOf cannot have made.
func parseStoreKey(key string) (tenant, hookID string, ok bool) {
	i := strings.IndexByte(key, '/')
	if i < 0 {
		return "", key, true
	}
	n, err := strconv.Atoi(key[:i])
	if err != nil || n <= 0 || len(key)-i-1 < n {
		return "", key, false
	}
	return key[i+1 : i+1+n], key[i+1+n:], true
}

// record is Publish's spool step: the event is recorded once, with the
// copies of the matched pipes pending, before any of them is queued; a
// copy the size guard refuses is not recorded. Past the store's quota
// (the spool's, or with WithPostgres the tenant's) the overflow rule
// applies, as to a full memory share: OverflowDeadLetter (and TryPublish)
// dead-letters the copies as buffer_full at once and returns their
// errors; OverflowWait makes Publish wait for settlements (and, with
// WithPostgres, new counts of the database's backlog) up to
// WithOverflowWait's bound or until ctx ends, then does the same.
// PublishTx past the quota returns an error wrapping ErrBufferFull.
func (ds *dispatcherStore) record(ctx context.Context, d *Dispatcher, snap *snapshot, ed *eventData, wait bool) error {
	if ed.guard != nil { // refused copies are dead-lettered at once, not spooled
		return nil
	}
	var keys []string
	for _, p := range snap.pipes {
		if p.filter.Match(ed.ev.Type) {
			keys = append(keys, p.storeKey())
		}
	}
	ev := ed.ev
	ev.ID = ed.id
	at := d.cfg.clock.Now()
	rec := func() (storeRef, error) { return ds.st.record(ev, keys, at) }
	var tx pgx.Tx
	if ds.pg != nil { // a fleet's store: in the caller's transaction, if any
		tx, _ = ctx.Value(pgTxKey{}).(pgx.Tx)
		rec = func() (storeRef, error) { return ds.pg.recordCtx(ctx, tx, ev, keys) }
	}
	ref, err := rec()
	// PublishTx does not wait: the caller's transaction stays open meanwhile.
	if wait && tx == nil && d.cfg.overflow == OverflowWait && errors.Is(err, errStoreQuota) {
		expired := make(chan struct{})
		t := d.cfg.clock.AfterFunc(d.cfg.overflowWait, func() { close(expired) })
		for errors.Is(err, errStoreQuota) && ds.waitRoom(ctx, d.closing, expired) {
			ref, err = rec()
		}
		t.Stop()
	}
	switch {
	case errors.Is(err, errStoreClosed):
		return ErrClosed
	case errors.Is(err, errStoreQuota) && tx != nil:
		// Nothing recorded, no statement sent: the caller's transaction
		// goes on, and the caller decides.
		return fmt.Errorf("sqshook: event %s not recorded: %w", ed.id, errors.Join(ErrBufferFull, err))
	case errors.Is(err, errStoreQuota):
		// As with a full memory share: the copies are dead-lettered.
		var errs []error
		msg := ds.quotaMessage(d)
		for _, p := range snap.pipes {
			if p.filter.Match(ed.ev.Type) {
				errs = append(errs, p.refuse(ed, ReasonBufferFull, msg, errors.Join(ErrBufferFull, err)))
			}
		}
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
		}
		return errors.Join(errs...)
	case errors.Is(err, pgx.ErrTxClosed):
		// The caller's transaction had ended: nothing was sent.
		return fmt.Errorf("sqshook: event %s not recorded: the transaction given to PublishTx has already been committed or rolled back: %w", ed.id, pgx.ErrTxClosed)
	case err != nil && ds.pg != nil:
		return fmt.Errorf("sqshook: event %s not recorded, or its commit not confirmed: %w", ed.id, err)
	case err != nil:
		return fmt.Errorf("sqshook: event %s not accepted: %w", ed.id, err)
	}
	ed.ref = ref
	return nil
}

// quotaMessage is the dead letters' message past the store's quota.
func (ds *dispatcherStore) quotaMessage(d *Dispatcher) string {
	if ds.pg != nil {
		return ds.pg.quotaMessage()
	}
	return fmt.Sprintf("spool quota reached (%d bytes)", d.cfg.spool.opts.Quota)
}

// recordsOnly reports whether Publish is done once ed is recorded: with
// WithPostgres, the copies are not queued by the publishing instance but
// fetched by each hook's owner.
func (ds *dispatcherStore) recordsOnly(ed *eventData) bool {
	return ds.pg != nil && ed.ref != 0
}

// waitRoom waits for the next settlement, which may bring the spool back
// under its quota; false when ctx ends, expired is closed or the
// dispatcher closes first.
func (ds *dispatcherStore) waitRoom(ctx context.Context, closing, expired <-chan struct{}) bool {
	ds.roomMu.Lock()
	if ds.room == nil {
		ds.room = make(chan struct{})
	}
	room := ds.room
	ds.roomMu.Unlock()
	select {
	case <-room:
		return true
	case <-ctx.Done():
	case <-closing:
	case <-expired:
	}
	return false
}

// roomFreed wakes the Publish calls waiting for room under the quota
// (waitRoom): a settlement, or new counts of the database's backlog.
func (ds *dispatcherStore) roomFreed() {
	ds.roomMu.Lock()
	if ds.room != nil {
		close(ds.room)
		ds.room = nil
	}
	ds.roomMu.Unlock()
}

// settleDeadLetter settles a dead-lettered copy once it has been reported.
func (d *Dispatcher) settleDeadLetter(dl DeadLetter) {
	if d.store != nil && dl.ref != 0 {
		d.store.settle(dl.ref, storeKeyOf(dl.Tenant, dl.HookID), d.cfg.logger)
	}
}

// droppedCopy settles a spooled copy that no pipeline took: its hook was
// removed, or changed to a filter that no longer matches, while Publish was
// under way.
func (d *Dispatcher) droppedCopy(ed *eventData, key string) {
	if d.store != nil && ed.ref != 0 {
		d.store.settle(ed.ref, key, d.cfg.logger)
	}
}

func (ds *dispatcherStore) settle(seq storeRef, key string, log *slog.Logger) {
	err := ds.st.settle(seq, key)
	ds.roomFreed()
	if err == nil || errors.Is(err, errNotPending) || errors.Is(err, errStoreClosed) {
		return
	}
	if ds.settleErrs.Add(1) == 1 {
		log.Warn("sqshook: "+ds.kind()+": settlement not written; the copy may be delivered again after a restart",
			slog.String("hook_id", key), slog.Uint64("seq", uint64(seq)), slog.String("error", err.Error()))
	}
}

// spoolStats is Stats.Spool; nil without a spool.
func (d *Dispatcher) spoolStats() *SpoolStats {
	ds := d.store
	if ds == nil {
		return nil
	}
	st := ds.st.stats() // also after Close: what it left
	ds.parkMu.Lock()
	parked := ds.parkedN
	ds.parkMu.Unlock()
	return &SpoolStats{
		Parked: parked,
		Bytes:  st.Bytes, Quota: st.Quota, Records: st.Records, Pending: st.Pending,
		Fetched: st.Fetched, TenantQuota: st.TenantQuota, OverQuota: st.OverQuota,
		Resumed: ds.resumed.Load(), HookRemoved: ds.removed.Load(), Corrupt: ds.corrupt.Load(),
		SettleErrors: ds.settleErrs.Load(),
	}
}

// closeSpool closes the spool once every goroutine has ended.
func (d *Dispatcher) closeSpool() error {
	if d.store == nil {
		return nil
	}
	return d.store.close()
}

// kind names the store in errors and logs.
func (ds *dispatcherStore) kind() string {
	if ds.pg != nil {
		return "postgres"
	}
	return "spool"
}

func (ds *dispatcherStore) close() error {
	var err error
	ds.closeOnce.Do(func() {
		if e := ds.st.close(); e != nil {
			err = fmt.Errorf("sqshook: %s: %w", ds.kind(), e)
		}
	})
	return err
}
