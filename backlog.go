// backlog.go is a pipe's side of the store (WithSpool): the copies it
// keeps in the store only (spilled behind a full share, held when their
// retry budget ran out, adopted from the parked), read back into memory
// in the hook's order as room frees, and kept there by Close; and, with
// WithPostgres, a retired pipe's wait for its hook's copies still in the
// database (fetched by pgstore_removal.go).

package sqshook

import (
	"cmp"
	"errors"
	"math/bits"
	"slices"
)

// storeBacklog is a pipe's disk-only backlog; guarded by the pipe's mu.
//
// Every copy in memory is older (in the hook's order) than every copy on
// disk: copies spill only behind a backlog, and read-backs take the oldest.
// held holds the copies that went back from memory (holdLocked), so they
// too are older than every copy of disk, and are read back first.
type storeBacklog struct {
	held    []diskCopy // copies back from memory, oldest first
	disk    []diskCopy // copies on disk only, oldest first
	reading int        // copies taken from disk by a read-back under way
	holds   uint64     // holdLocked calls so far: a read-back sees if one came meanwhile
	kept    uint64     // copies left in the spool by Close
	// remote: the pipe is retired, its hook removed, and the fleet's
	// database (WithPostgres) may still hold copies of the hook recorded
	// before: the pipe is not done, and its flushes wait, until the fetch
	// loop has found none left (storeDrained).
	remote bool
}

// diskCopy is a copy of a spooled event that waits on disk.
type diskCopy struct {
	seq     storeRef
	epoch   uint64    // the Flush generation it was accepted in
	hookSeq uint64    // its place in the hook's acceptance order
	state   copyState // copySpilled or copyHeld
}

// adopt puts the parked copies of p's hook on p's disk backlog, in their
// order, and starts reading them back; p is new and not yet in its
// tenant's snapshot.
func (p *pipe) adopt() {
	dur := p.d.store
	if dur == nil {
		return
	}
	dur.parkMu.Lock()
	seqs := dur.parked[p.tenant.id][p.hook.ID]
	if seqs != nil {
		delete(dur.parked[p.tenant.id], p.hook.ID)
		if len(dur.parked[p.tenant.id]) == 0 {
			delete(dur.parked, p.tenant.id)
		}
		dur.parkedN -= len(seqs)
	}
	dur.parkMu.Unlock()
	if len(seqs) == 0 {
		return
	}
	p.mu.Lock()
	for _, seq := range seqs {
		p.acceptLocked(&entry{ev: &eventData{ref: seq}}, copySpilled)
	}
	p.readBackLocked()
	p.mu.Unlock()
}

// refuse dead-letters a copy that was never queued.
func (p *pipe) refuse(ed *eventData, reason Reason, msg string, err error) error {
	p.mu.Lock()
	return p.rejectLocked(ed, "", reason, msg, err).Err
}

// settleSpoolLocked settles a delivered copy in the spool.
func (p *pipe) settleSpoolLocked(e *entry) {
	if p.d.store != nil && e.ev.ref != 0 {
		p.d.store.settle(e.ev.ref, p.storeKey(), p.d.cfg.logger)
	}
}

// keepableLocked reports whether a copy that Close gave up on can stay in
// the spool instead of being dead-lettered: the next New delivers it.
func (p *pipe) keepableLocked(e *entry) bool {
	return p.d.store != nil && e.ev.ref != 0
}

// keepDiskLocked leaves the disk backlog in the spool when Close gives up.
func (p *pipe) keepDiskLocked() {
	for _, c := range p.backlog.held {
		p.settleLocked(c.entry(), copyKept, "")
	}
	for _, c := range p.backlog.disk {
		p.settleLocked(c.entry(), copyKept, "")
	}
	p.backlog.held, p.backlog.disk = nil, nil
}

// entry is the stored copy c as an entry to settle; its event is known by
// its record in the store only.
func (c diskCopy) entry() *entry {
	return &entry{ev: &eventData{ref: c.seq}, epoch: c.epoch, seq: c.hookSeq, state: c.state}
}

// spilling reports whether the hook has a disk backlog: its new copies
// must then wait on disk behind it, to keep their order.
func (p *pipe) spillingLocked() bool {
	return len(p.backlog.held) > 0 || len(p.backlog.disk) > 0 || p.backlog.reading > 0
}

// holdableLocked reports whether a copy whose retry budget ran out can go
// back to the disk backlog instead of being dead-lettered: with a spool
// that holds it, while the pipe is not aborted.
func (p *pipe) holdableLocked(e *entry) bool {
	return p.d.store != nil && e.ev.ref != 0 && !p.aborted
}

// holdLocked puts copies whose retry budget ran out (transient failures
// only: throttling, server errors, timeouts, a queue that does not
// answer) back on the disk backlog, in their order, instead of
// dead-lettering them as retries_exhausted. They leave memory and are read
// back first, with a fresh retry budget, as room frees; meanwhile a
// failing hook only probes (see Health), so an outage of any length costs
// disk up to the spool's quota, not memory and not dead letters. On a FIFO
// hook the rest of each held copy's group goes back with it, so the group
// keeps its order.
func (p *pipe) holdLocked(es, outFollowers []*entry) {
	back := make([]diskCopy, 0, len(es)+len(outFollowers))
	out := append(slices.Clip(es), outFollowers...) // out of the queue: settled in their groups
	var queued []*entry                             // their groups' queued copies
	for _, e := range out {
		back = append(back, diskCopy{seq: e.ev.ref, epoch: e.epoch, hookSeq: e.seq, state: copyHeld})
		if g := e.grp; g != nil && g.q.len() > 0 {
			n := g.q.len()
			before := len(queued)
			queued = g.q.popFront(n, queued)
			p.fq.n -= n
			for _, f := range queued[before:] {
				f.grp = nil // queued, not out: nothing to settle in the group
				back = append(back, diskCopy{seq: f.ev.ref, epoch: f.epoch, hookSeq: f.seq, state: copyHeld})
			}
		}
	}
	// The copies stay pending in their Flush generations: they only move
	// from memory to the store.
	for _, c := range back {
		_ = p.d.store.st.hold(c.seq, p.storeKey()) // the spool's writes nothing
	}
	p.backlog.held = mergeCopies(p.backlog.held, back)
	p.backlog.holds++
	before := p.counters.held
	p.counters.held += uint64(len(es))
	for _, e := range out {
		e.move(copyHeld)
		p.freeLocked(e)
	}
	for _, f := range queued {
		f.move(copyHeld)
		p.freeLocked(f)
	}
	// Logged at the first held copy and as the count doubles, not per call:
	// a long outage holds the same copies again and again.
	if bits.Len64(before) != bits.Len64(p.counters.held) {
		p.d.cfg.logger.Warn("sqshook: retry budget spent; copies kept in the spool to be tried again",
			p.logArgs("held", p.counters.held, "code", es[0].code)...)
	}
}

// mergeCopies merges two lists of copies each in the hook's order.
func mergeCopies(a, b []diskCopy) []diskCopy {
	slices.SortFunc(b, func(x, y diskCopy) int { return cmp.Compare(x.hookSeq, y.hookSeq) })
	out := make([]diskCopy, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i].hookSeq <= b[j].hookSeq {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// diskBusyLocked reports whether the disk backlog, or the fleet's
// database, holds copies the pipe must still deliver.
func (p *pipe) diskBusyLocked() bool { return (p.spillingLocked() || p.backlog.remote) && !p.aborted }

// remoteOnRetireLocked reports whether a pipe being retired must wait for
// its hook's copies in the fleet's database: with WithPostgres, when its
// hook is removed (not changed: no other pipe of its tenant serves it),
// unless the dispatcher is closing, which leaves them in the database.
func (p *pipe) remoteOnRetireLocked() bool {
	if p.d.store == nil || p.d.store.pg == nil || p.d.closed.Load() || p.aborted {
		return false
	}
	for _, np := range p.tenant.snap.Load().pipes {
		if np != p && np.hook.ID == p.hook.ID {
			return false
		}
	}
	return true
}

// storeDraining reports whether p is retired and waits for its hook's
// copies in the fleet's database.
func (p *pipe) storeDraining() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.backlog.remote && !p.aborted && p.state == pipeDraining
}

// storeDrained ends that wait: the database holds none of the copies p
// was to deliver (or a new pipe of its hook delivers them). p finishes
// once it holds nothing, and its flushes are released.
func (p *pipe) storeDrained() {
	p.mu.Lock()
	p.backlog.remote = false
	p.checkFlushesLocked()
	p.pumpLocked()
	p.unlockAndRelease()
}

// spillLocked leaves a spooled copy on disk only, to be read back when the
// hook has room; it reports false (and does nothing) without a spool or
// for a copy that is not in it. The caller has checked that the pipe is
// active and the copy passed the guard.
func (p *pipe) spillLocked(ed *eventData) bool {
	if p.d.store == nil || ed.ref == 0 || p.aborted {
		return false
	}
	p.acceptLocked(&entry{ev: ed}, copySpilled)
	return true
}

// behindBacklogLocked spills a new copy when the hook has a disk backlog.
func (p *pipe) behindBacklogLocked(ed *eventData) bool {
	return p.spillingLocked() && p.spillLocked(ed)
}

// readBackBatch is the most copies one read-back takes from disk at once.
const readBackBatch = 64

// memRoomLocked is how many more copies a read-back may bring into
// memory: the room in the hook's share and in its tenant's and the
// dispatcher's. A hook holding nothing takes one copy whatever the others
// hold, so that its backlog always moves.
func (p *pipe) memRoomLocked() int {
	if p.bytes >= p.d.cfg.maxBufferedBytes {
		return 0
	}
	n := min(p.d.cfg.maxBufferedEvents-p.pending, p.shares.room())
	if n <= 0 && p.pending == 0 {
		n = 1
	}
	return n
}

// readBackLocked starts reading the disk backlog back into memory if there
// is one, there is room, and no read-back runs. Held copies come first.
func (p *pipe) readBackLocked() {
	src := &p.backlog.held
	if len(*src) == 0 {
		src = &p.backlog.disk
	}
	if len(*src) == 0 || p.backlog.reading > 0 || p.aborted || p.state == pipeDone {
		return
	}
	// The room is read once: the shares change under other pipes, and a
	// read-back of nothing would clear the count of one under way.
	n := min(len(*src), p.memRoomLocked(), readBackBatch)
	if n <= 0 {
		return
	}
	batch := (*src)[:n:n]
	*src = (*src)[n:]
	if len(*src) == 0 {
		*src = nil
	}
	p.backlog.reading = n
	p.d.wg.Add(1)
	go p.readBack(batch, p.backlog.holds)
}

// readBack reads copies from disk and queues them in their order.
// holds is p.backlog.holds when the read began.
func (p *pipe) readBack(batch []diskCopy, holds uint64) {
	defer p.d.wg.Done()
	type got struct {
		ed  *eventData
		err error
	}
	read := make([]got, len(batch))
	for i, c := range batch {
		ent, err := p.d.store.st.read(c.seq)
		if err != nil {
			read[i].err = err
			continue
		}
		read[i].ed, read[i].err = p.d.prepare(ent.ev)
		if read[i].ed != nil {
			read[i].ed.ref = c.seq
		}
	}
	var dls []DeadLetter
	p.mu.Lock()
	p.backlog.reading = 0
	if p.backlog.holds != holds && !p.aborted {
		// Copies went back from memory while this batch was read: they may
		// be older than it, so the batch waits behind them on disk.
		p.backlog.held = mergeCopies(p.backlog.held, batch)
		p.readBackLocked()
		p.maybeDoneLocked()
		p.mu.Unlock()
		return
	}
	for i, c := range batch {
		ed, err := read[i].ed, read[i].err
		switch {
		case p.aborted, errors.Is(err, errStoreClosed):
			// Close gave up (a read the database did not answer ends then):
			// the copy stays in the store.
			p.settleLocked(c.entry(), copyKept, "")
			continue
		case errors.Is(err, errNotPending):
			p.settleLocked(c.entry(), copyGone, "") // settled meanwhile
			continue
		case err != nil:
			// Unreadable after it was accepted: nothing to send.
			dls = append(dls, p.deadLetterLocked(c.entry(), ReasonCorrupt, "", "spool record unreadable: "+err.Error(), false, err))
			continue
		}
		group, guard := p.copyOf(ed)
		if guard != nil {
			e := c.entry()
			e.ev, e.group = ed, group
			dls = append(dls, p.deadLetterLocked(e, reasonOf(guard), "", guard.Error(), false, guard))
			continue
		}
		e := ed.newEntry()
		alt, size, _ := p.encodedOf(ed)
		*e = entry{ev: ed, size: size, alt: alt, at: p.d.cfg.clock.Now(), epoch: c.epoch, seq: c.hookSeq, group: group, state: c.state}
		p.shares.force(e.size) // memRoomLocked left room for it
		p.enqueueLocked(e)
	}
	p.pumpLocked()
	p.readBackLocked()
	p.maybeDoneLocked()
	p.unlockAndReport(dls)
}

// spooledLocked is HookStats.Spooled: copies on disk only or kept by Close.
func (p *pipe) spooledLocked() uint64 {
	return uint64(len(p.backlog.held)+len(p.backlog.disk)+p.backlog.reading) + p.backlog.kept
}
