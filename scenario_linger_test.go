package sqshook

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// fakeClock fires timers only when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	made   int // timers AfterFunc made
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
	fired   bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) stopper {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	c.made++
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.fired || t.stopped {
		return false
	}
	t.stopped = true
	return true
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	pending := !t.fired && !t.stopped
	if !slices.Contains(c.timers, t) { // advance dropped it
		c.timers = append(c.timers, t)
	}
	t.at, t.fired, t.stopped = c.now.Add(d), false, false
	return pending
}

// advance moves time forward and runs the timers that are due.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	live := c.timers[:0] // fired and stopped timers are dropped: long runs make many
	for _, t := range c.timers {
		switch {
		case t.fired || t.stopped:
		case !t.at.After(c.now):
			t.fired = true
			due = append(due, t)
		default:
			live = append(live, t)
		}
	}
	clear(c.timers[len(live):])
	c.timers = live
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

// pending counts the timers neither fired nor stopped.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.fired && !t.stopped {
			n++
		}
	}
	return n
}

type countingSQS struct {
	SQSAPI
	mu      sync.Mutex
	batches []int
}

func (c *countingSQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	c.mu.Lock()
	c.batches = append(c.batches, len(in.Entries))
	c.mu.Unlock()
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("m")})
	}
	return out, nil
}

func (c *countingSQS) sent() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.batches...)
}

// fakeSQSDispatcher returns a dispatcher of one standard hook whose calls
// go to fake, closed when t ends, and a function that publishes n events.
func fakeSQSDispatcher(t *testing.T, fake SQSAPI, opts ...Option) (*Dispatcher, func(n int)) {
	t.Helper()
	hook := Hook{ID: "h", Enabled: true, HookType: "sqs", SQSQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/q", SQSRegion: "us-east-1", SQSAuthType: "resource"}
	opts = append(opts, WithClientFunc(func(context.Context, Hook) (SQSAPI, error) { return fake, nil }))
	d, err := New([]Hook{hook}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d, func(n int) {
		t.Helper()
		for range n {
			if err := d.Publish(context.Background(), Event{Type: "message.new", Body: []byte(`{"i":1}`)}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestLingerWaitsForTheClock(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	fake := &countingSQS{}
	d, publish := fakeSQSDispatcher(t, fake, withClock(clk), WithLinger(50*time.Millisecond))
	publish(3)
	clk.advance(49 * time.Millisecond)
	if got := d.Stats().Hooks[0]; got.Queued != 3 || len(fake.sent()) != 0 {
		t.Fatalf("before linger ends: queued %d, batches %v; want 3 queued, none sent", got.Queued, fake.sent())
	}
	clk.advance(time.Millisecond)
	waitFor(t, func() bool { return d.Stats().Hooks[0].Delivered == 3 })
	// A full batch goes at once, without waiting for the clock.
	publish(10)
	waitFor(t, func() bool { return d.Stats().Hooks[0].Delivered == 13 })
	if got := fake.sent(); len(got) != 2 || got[0] != 3 || got[1] != 10 {
		t.Errorf("batches %v, want [3 10]", got)
	}
}

// TestLingerStoppedByFullBatch: the linger timer a batch's first event
// arms is stopped when the batch goes out full and nothing is left queued
// (else every batch would wake a thread once more for nothing), and stays
// armed for what is left.
func TestLingerStoppedByFullBatch(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	fake := &countingSQS{}
	d, publish := fakeSQSDispatcher(t, fake, withClock(clk), WithLinger(50*time.Millisecond))
	publish(10)
	waitFor(t, func() bool { return d.Stats().Hooks[0].Delivered == 10 })
	if n := clk.pending(); n != 0 {
		t.Fatalf("%d timers armed after a full batch went out with nothing queued, want 0", n)
	}
	publish(13)
	waitFor(t, func() bool { return d.Stats().Hooks[0].Delivered == 20 })
	if n := clk.pending(); n != 1 {
		t.Fatalf("%d timers armed with 3 events queued, want the linger timer", n)
	}
	clk.advance(50 * time.Millisecond)
	waitFor(t, func() bool { return d.Stats().Hooks[0].Delivered == 23 })
	if got := fake.sent(); !slices.Equal(got, []int{10, 10, 3}) {
		t.Errorf("batches %v, want [10 10 3]", got)
	}
}

// TestLingerTimerReused: a pipe arms one linger timer again and again,
// after it fired and after a full batch stopped it, rather than making a
// timer per batch.
func TestLingerTimerReused(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	fake := &countingSQS{}
	d, publish := fakeSQSDispatcher(t, fake, withClock(clk), WithLinger(50*time.Millisecond))
	var want uint64
	for round := range 5 {
		publish(3) // lingers: fired by the clock
		want += 3
		if n := clk.pending(); n != 1 {
			t.Fatalf("round %d: %d timers armed with 3 events queued, want 1", round, n)
		}
		clk.advance(50 * time.Millisecond)
		waitFor(t, func() bool { return d.Stats().Hooks[0].Delivered == want })
		publish(12) // a full batch stops the timer armed by the first event
		want += 12
		waitFor(t, func() bool { return d.Stats().Hooks[0].Delivered == want-2 })
		clk.advance(50 * time.Millisecond)
		waitFor(t, func() bool { return d.Stats().Hooks[0].Delivered == want })
	}
	clk.mu.Lock()
	made := clk.made
	clk.mu.Unlock()
	if made != 1 {
		t.Errorf("%d linger timers made for 15 lingering batches, want 1 re-armed", made)
	}
	if got := fake.sent(); len(got) != 15 {
		t.Errorf("batches %v, want 15", got)
	}
}

// waitFor polls cond until until it holds or a deadline passes.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
