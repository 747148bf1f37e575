package sqshook

import (
	"context"
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

func TestLingerWaitsForTheClock(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	fake := &countingSQS{}
	hook := Hook{ID: "h", Enabled: true, HookType: "sqs", SQSQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/q", SQSRegion: "us-east-1", SQSAuthType: "resource"}
	d, err := New([]Hook{hook}, withClock(clk), WithLinger(50*time.Millisecond),
		WithClientFunc(func(context.Context, Hook) (SQSAPI, error) { return fake, nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	publish := func(n int) {
		for i := 0; i < n; i++ {
			if err := d.Publish(context.Background(), Event{Type: "message.new", Body: []byte(`{"i":1}`)}); err != nil {
				t.Fatal(err)
			}
		}
	}
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

// waitFor polls cond until it holds or a deadline passes.
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
