// batcher.go holds the batching types, which know nothing of their
// caller: the batch rules (count, bytes, linger), a hook's entry queue,
// and for FIFO hooks the message groups whose head may be sent.

package sqshook

import (
	"time"
)

// SQS batch rules.
const (
	// MaxBatchEntries is the most entries one SendMessageBatch call may carry.
	MaxBatchEntries = 10

	// DefaultMaxBatchBytes is the default byte limit of one batch: 256 KiB,
	// which every region and emulator accepts. SQS has allowed 1 MiB per
	// batch since August 2025; WithMaxBatchBytes raises the limit, and a
	// server that still answers BatchRequestTooLong gets the batch split in
	// halves and resent, never dropped.
	DefaultMaxBatchBytes = 256 * 1024

	// MaxBatchBytesLimit is the largest batch SQS accepts (1 MiB).
	MaxBatchBytesLimit = 1024 * 1024
)

// batchRules decides when the entries waiting at the head of a hook's queue
// form a batch. It knows nothing of SQS calls and is tested on its own.
//
// A batch is ready when
//   - it has MaxBatchEntries entries, or
//   - the next waiting entry would push it past maxBytes, or
//   - the oldest entry has waited linger (0: at once), or
//   - the caller forces it (Flush, Close, or a removed hook draining).
//
// A batch never holds more than maxEntries entries nor more than maxBytes
// bytes, except that an entry larger than maxBytes on its own (which the size
// guard prevents) is sent alone rather than kept forever.
type batchRules struct {
	maxEntries int
	maxBytes   int
	linger     time.Duration
}

// next reports how many entries from the head of q (oldest first) make the
// next batch, and whether that batch should be sent now. When it should not,
// wait is how long until the oldest entry's linger runs out; wait is 0 when q
// is empty.
func (r batchRules) next(q batchSource, now time.Time, force bool) (n int, ready bool, wait time.Duration) {
	if q.len() == 0 {
		return 0, false, 0
	}
	bytes := 0
	for n < q.len() && n < r.maxEntries {
		s := q.at(n).size
		if n > 0 && bytes+s > r.maxBytes {
			return n, true, 0 // full by bytes
		}
		bytes += s
		n++
	}
	if n == r.maxEntries || force {
		return n, true, 0
	}
	age := now.Sub(q.at(0).at)
	if age >= r.linger {
		return n, true, 0
	}
	return n, false, r.linger - age
}

// batchSource is what batchRules reads: the entries that may form the next
// batch, oldest first.
type batchSource interface {
	len() int
	at(i int) *entry
}

// entryQueue is a FIFO ring buffer of entries that can also take entries
// back at its front (retries keep their place ahead of newer events). The
// zero value is an empty queue.
type entryQueue struct {
	buf  []*entry
	head int
	n    int
}

func (q *entryQueue) len() int { return q.n }

// at returns the i-th entry from the front.
func (q *entryQueue) at(i int) *entry { return q.buf[(q.head+i)%len(q.buf)] }

func (q *entryQueue) grow(extra int) {
	if q.n+extra <= len(q.buf) {
		return
	}
	size := max(16, 2*len(q.buf))
	for size < q.n+extra {
		size *= 2
	}
	buf := make([]*entry, size)
	for i := 0; i < q.n; i++ {
		buf[i] = q.at(i)
	}
	q.buf, q.head = buf, 0
}

// pushBack appends e.
func (q *entryQueue) pushBack(e *entry) {
	q.grow(1)
	q.buf[(q.head+q.n)%len(q.buf)] = e
	q.n++
}

// pushFront puts es at the front, keeping their order.
func (q *entryQueue) pushFront(es []*entry) {
	q.grow(len(es))
	for i := len(es) - 1; i >= 0; i-- {
		q.head = (q.head - 1 + len(q.buf)) % len(q.buf)
		q.buf[q.head] = es[i]
	}
	q.n += len(es)
}

// popFront removes the first n entries and appends them to dst.
func (q *entryQueue) popFront(n int, dst []*entry) []*entry {
	for i := 0; i < n; i++ {
		dst = append(dst, q.buf[q.head])
		q.buf[q.head] = nil
		q.head = (q.head + 1) % len(q.buf)
	}
	q.n -= n
	if q.n == 0 {
		q.head = 0
		if len(q.buf) > 1024 { // give a burst's memory back
			q.buf = nil
		}
	}
	return dst
}

// drain removes and returns every entry.
func (q *entryQueue) drain() []*entry {
	return q.popFront(q.n, make([]*entry, 0, q.n))
}

// fifoGroup is one message group of a FIFO hook: its queued entries, oldest
// first, and how many of its entries are out (in a call in flight, or
// waiting for a retry). A group with entries out sends nothing more, so it
// never has two batches in flight and a failed entry holds back the rest.
type fifoGroup struct {
	id    string
	q     entryQueue
	out   int
	ready bool // in fifoQueue.ready
}

// fifoQueue is a FIFO hook's queue: one queue per message group, and the
// groups that may send, in the order they became ready. Batches take
// entries from the ready groups in that order (several from one group when
// it has them: SQS keeps the order of a group's entries within one batch).
// A group is forgotten when it holds nothing.
type fifoQueue struct {
	groups map[string]*fifoGroup
	ready  []*fifoGroup
	n      int // queued entries, all groups
	view   fifoView
}

// fifoView holds the candidates of the next batch, for batchRules.
type fifoView struct {
	c [MaxBatchEntries]*entry
	n int
}

func (v *fifoView) len() int { return v.n }

func (v *fifoView) at(i int) *entry { return v.c[i] }

func (q *fifoQueue) len() int { return q.n }

func (q *fifoQueue) groupCount() int { return len(q.groups) }

func (g *fifoGroup) sendable() bool { return g.out == 0 && g.q.len() > 0 }

func (q *fifoQueue) markReady(g *fifoGroup) {
	if !g.ready && g.sendable() {
		g.ready = true
		q.ready = append(q.ready, g)
	}
}

// group returns the group with the given id, creating it.
func (q *fifoQueue) group(id string) *fifoGroup {
	g := q.groups[id]
	if g == nil {
		if q.groups == nil {
			q.groups = make(map[string]*fifoGroup)
		}
		g = &fifoGroup{id: id}
		q.groups[id] = g
	}
	return g
}

// push queues e at the back of its group.
func (q *fifoQueue) push(e *entry) {
	e.grp.q.pushBack(e)
	q.n++
	q.markReady(e.grp)
}

// candidates fills the view with up to MaxBatchEntries entries of the ready
// groups, in order.
func (q *fifoQueue) candidates() *fifoView {
	v := &q.view
	v.n = 0
	for _, g := range q.ready {
		for i := 0; i < g.q.len() && v.n < MaxBatchEntries; i++ {
			v.c[v.n] = g.q.at(i)
			v.n++
		}
		if v.n == MaxBatchEntries {
			break
		}
	}
	return v
}

// pop takes the first n candidates out of their groups; those groups stop
// being ready until their entries are settled.
func (q *fifoQueue) pop(n int) []*entry {
	batch := make([]*entry, 0, n)
	used := 0
	for len(batch) < n {
		g := q.ready[used]
		used++
		k := min(g.q.len(), n-len(batch))
		batch = g.q.popFront(k, batch)
		g.out += k
		g.ready = false
	}
	clear(q.ready[:used])
	q.ready = q.ready[used:]
	if len(q.ready) == 0 {
		q.ready = nil
	}
	q.n -= n
	return batch
}

// requeue puts entries that were out back at the front of their groups,
// keeping their order (a split batch, or retries whose back-off ended).
func (q *fifoQueue) requeue(es []*entry) {
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		e.grp.q.pushFront(es[i : i+1])
		e.grp.out--
	}
	q.n += len(es)
	for _, e := range es {
		q.markReady(e.grp)
	}
}

// settled records that an entry that was out is delivered or dead-lettered.
func (q *fifoQueue) settled(e *entry) {
	g := e.grp
	e.grp = nil
	g.out--
	if g.out > 0 {
		return
	}
	if g.q.len() > 0 {
		q.markReady(g)
	} else if q.groups[g.id] == g {
		delete(q.groups, g.id)
	}
}

// drain removes every queued entry (not those out), group by group.
func (q *fifoQueue) drain() []*entry {
	out := make([]*entry, 0, q.n)
	for id, g := range q.groups {
		out = g.q.popFront(g.q.len(), out)
		if g.out == 0 {
			delete(q.groups, id)
		}
	}
	for _, e := range out {
		e.grp = nil
	}
	q.ready, q.n = nil, 0
	return out
}
