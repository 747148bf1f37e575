// This file owns the workload: events fanned out to three hooks, FIFO
// groups published in order by serial publishers, and the recorder that
// checks what the no-op send receives (every copy, per-group order, batch
// fill).
package storecmp

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// body is the event's size, as in spool/storecmp.
const body = 1800

var hookIDs = []int32{1, 2, 3}

// event is one published event: its FIFO group and body, whose first 12
// bytes say its publisher and its place in the publisher's order.
type event struct {
	group   string
	payload []byte
}

func makeEvent(pub, seq int) *event {
	b := make([]byte, body)
	for j := range b {
		b[j] = byte(seq*31 + j*7 + pub)
	}
	binary.BigEndian.PutUint32(b, uint32(pub))
	binary.BigEndian.PutUint64(b[4:], uint64(seq))
	return &event{group: fmt.Sprintf("g%d-%d", pub, seq%4), payload: b}
}

// msg is a delivered copy.
type msg struct {
	id       int64
	group    string
	pub, seq int
}

func decode(id int64, group string, b []byte) msg {
	return msg{id: id, group: group, pub: int(binary.BigEndian.Uint32(b)), seq: int(binary.BigEndian.Uint64(b[4:]))}
}

type sendFunc func(hook int32, b []msg)

// design is a candidate layout.
type design interface {
	name() string
	setup(d *db) error
	// publish records ev in the caller's transaction.
	publish(ctx context.Context, tx pgx.Tx, ev *event) error
	// deliver starts owner's delivery of every hook on p until ctx ends;
	// wait waits for it to stop.
	deliver(ctx context.Context, p *pgxpool.Pool, owner string, send sendFunc) (wait func() error)
	// cleanup removes what delivery left (retention 0).
	cleanup(ctx context.Context, d *db) error
}

type copyKey struct {
	hook     int32
	pub, seq int
}

type groupKey struct {
	hook  int32
	group string
}

// recorder is the no-op send: it records what arrives.
type recorder struct {
	mu         sync.Mutex
	want       int
	seen       map[copyKey]int
	last       map[groupKey]int
	inversions int // a copy older than one already sent in its hook's group
	dups       int
	batches    int
	copies     int
	done       chan struct{}
}

func newRecorder(want int) *recorder {
	return &recorder{want: want, seen: map[copyKey]int{}, last: map[groupKey]int{}, done: make(chan struct{})}
}

// expect raises the number of distinct copies awaited and renews done.
func (r *recorder) expect(more int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.want += more
	r.done = make(chan struct{})
}

func (r *recorder) doneC() chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done
}

func (r *recorder) send(hook int32, b []msg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches++
	r.copies += len(b)
	for _, m := range b {
		k := copyKey{hook, m.pub, m.seq}
		r.seen[k]++
		if r.seen[k] > 1 {
			r.dups++
		}
		g := groupKey{hook, m.group}
		if l, ok := r.last[g]; ok && m.seq < l {
			r.inversions++
		} else {
			r.last[g] = m.seq
		}
	}
	if len(r.seen) >= r.want {
		select {
		case <-r.done:
		default:
			close(r.done)
		}
	}
}

func (r *recorder) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func splitSQL(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ";\n") {
		if strings.TrimSpace(p) != "" {
			out = append(out, p)
		}
	}
	return out
}
