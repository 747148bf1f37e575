package sqshook

import (
	"testing"
	"time"
)

func queueOf(t0 time.Time, sizes ...int) *entryQueue {
	var q entryQueue
	for i, s := range sizes {
		q.pushBack(&entry{size: s, at: t0.Add(time.Duration(i) * time.Millisecond)})
	}
	return &q
}

func TestBatchRules(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	rules := batchRules{maxEntries: 10, maxBytes: 1000, linger: 10 * time.Millisecond}
	ten := make([]int, 12)
	for i := range ten {
		ten[i] = 10
	}
	tests := []struct {
		name      string
		sizes     []int
		now       time.Time
		force     bool
		rules     batchRules
		wantN     int
		wantReady bool
		wantWait  time.Duration
	}{
		{"empty", nil, t0, false, rules, 0, false, 0},
		{"one young entry lingers", []int{10}, t0.Add(4 * time.Millisecond), false, rules, 1, false, 6 * time.Millisecond},
		{"one entry past linger", []int{10}, t0.Add(10 * time.Millisecond), false, rules, 1, true, 0},
		{"forced partial batch", []int{10, 10}, t0, true, rules, 2, true, 0},
		{"full by count", ten, t0, false, rules, 10, true, 0},
		{"full by bytes", []int{400, 400, 400}, t0, false, rules, 2, true, 0},
		{"exactly at the byte limit waits", []int{500, 500}, t0, false, rules, 2, false, 10 * time.Millisecond},
		{"oversized single entry goes alone", []int{1500, 10}, t0, false, rules, 1, true, 0},
		{"linger zero sends at once", []int{10}, t0, false, batchRules{maxEntries: 10, maxBytes: 1000}, 1, true, 0},
		{"retry entry (zero time) is ready", []int{10}, t0, false, rules, 1, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := queueOf(t0, tt.sizes...)
			if tt.name == "retry entry (zero time) is ready" {
				q.at(0).at = time.Time{}
			}
			n, ready, wait := tt.rules.next(q, tt.now, tt.force)
			if n != tt.wantN || ready != tt.wantReady || wait != tt.wantWait {
				t.Errorf("got n=%d ready=%v wait=%v, want n=%d ready=%v wait=%v", n, ready, wait, tt.wantN, tt.wantReady, tt.wantWait)
			}
		})
	}
}

func TestEntryQueue(t *testing.T) {
	var q entryQueue
	mk := func(n int) *entry { return &entry{size: n} }
	for i := 1; i <= 40; i++ { // forces growth across the wrap point
		q.pushBack(mk(i))
		if i%3 == 0 {
			got := q.popFront(1, nil)
			q.pushFront(got)
			_ = q.popFront(1, nil)
		}
	}
	// 40 pushed, 13 popped: 14..40 remain in order.
	if q.len() != 27 {
		t.Fatalf("len = %d, want 27", q.len())
	}
	front := []*entry{mk(-2), mk(-1)}
	q.pushFront(front)
	out := q.drain()
	want := append([]int{-2, -1}, seq(14, 40)...)
	if len(out) != len(want) {
		t.Fatalf("drained %d, want %d", len(out), len(want))
	}
	for i, e := range out {
		if e.size != want[i] {
			t.Fatalf("entry %d = %d, want %d", i, e.size, want[i])
		}
	}
	if q.len() != 0 {
		t.Errorf("len after drain = %d, want 0", q.len())
	}
}

func seq(a, b int) []int {
	var s []int
	for i := a; i <= b; i++ {
		s = append(s, i)
	}
	return s
}
