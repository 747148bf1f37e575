package sqshook

import "time"

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

func (q *entryQueue) grow(min int) {
	if q.n+min <= len(q.buf) {
		return
	}
	size := max(16, 2*len(q.buf))
	for size < q.n+min {
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
