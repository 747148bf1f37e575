package sqshook

import (
	"fmt"
)

// GroupStrategy picks the FIFO message group of an event whose GroupID is
// empty, for one hook. Events of one group reach the queue in the order
// Publish accepted them and consumers process them one at a time; different
// groups proceed in parallel. It must be safe for concurrent use, fast (it
// runs in Publish), and return 1-128 characters of SQS's alphanumeric and
// punctuation set: an empty or illegal group dead-letters the event with
// ReasonInvalidField.
//
// It is called only for hooks whose queue is FIFO.
type GroupStrategy func(h Hook, ev Event) string

// GroupByChannel groups an event by the "cid" member of its JSON body (the
// channel id chat events carry, such as "messaging:general"), so each
// channel keeps its order and channels proceed in parallel. Events without a
// non-empty string "cid" at the top level of the body are grouped by event
// type. It is the default strategy.
func GroupByChannel(_ Hook, ev Event) string {
	if cid, ok := topLevelString(ev.Body, "cid"); ok && cid != "" {
		return cid
	}
	return ev.Type
}

// GroupByType groups events by event type: all events of one type form one
// ordered group.
func GroupByType(_ Hook, ev Event) string { return ev.Type }

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

func (v *fifoView) len() int         { return v.n }
func (v *fifoView) at(i int) *entry  { return v.c[i] }
func (q *fifoQueue) len() int        { return q.n }
func (q *fifoQueue) groupCount() int { return len(q.groups) }
func (g *fifoGroup) sendable() bool  { return g.out == 0 && g.q.len() > 0 }
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
