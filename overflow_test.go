package sqshook_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

// maxPublishWait is the bound the overflow tests hold every Publish to while
// one hook is down. Publish does no I/O and never waits for a full hook
// under the default rule, so it takes microseconds; the bound is generous
// for a busy machine under the race detector, and far below the wait a
// stalled Publish would show (the test's context, a minute).
const maxPublishWait = 2 * time.Second

// longRetries keeps a down hook's events for the whole test: they are
// retried every few milliseconds and never run out of budget.
var longRetries = sqshook.RetryPolicy{InitialInterval: time.Millisecond, MaxInterval: 20 * time.Millisecond, MaxElapsedTime: time.Hour, MaxAttempts: 1 << 30}

// sqstestHook is a "keys" hook on an sqstest queue.
func sqstestHook(id, url string) sqshook.Hook {
	return sqshook.Hook{
		ID: id, Enabled: true, HookType: "sqs", SQSQueueURL: url, SQSRegion: "us-east-1",
		SQSAuthType: "keys", SQSKey: "AKIASQSTESTEXAMPLE00", SQSSecret: "sqstest-secret",
	}
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached in %v", what, d)
		}
		time.Sleep(time.Millisecond) // polling with a deadline, not synchronisation
	}
}

// TestOverflowFailingHookNeverStallsPublish is the outage scenario: two
// hooks match every event, one queue answers ServiceUnavailable to every
// call, and the server publishes in a loop. Under either overflow rule no
// Publish waits longer than maxPublishWait, the healthy hook receives every
// event, the down hook's full share dead-letters as buffer_full, and the
// accounting invariant holds all along.
func TestOverflowFailingHookNeverStallsPublish(t *testing.T) {
	// Events per hook. The healthy hook must never fill: the test waits for
	// it to drain below half its share every 100 events (a starved
	// machine can hold its sender back for longer than any share covers,
	// which is not what this test is about; a healthy hook held back by
	// the failing one never drains, and fails the wait).
	const hold = 2000
	for _, tc := range []struct {
		name string
		rule sqshook.Option
	}{
		{"default", nil},
		{"wait", sqshook.WithOverflowWait(time.Hour)}, // a failing hook still never makes Publish wait
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := sqstest.NewServer()
			t.Cleanup(srv.Close)
			good, bad := srv.CreateQueue("good", nil), srv.CreateQueue("bad", nil)
			srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Queue: "bad", Code: "ServiceUnavailable"})
			dls := &deadLetters{}
			opts := []sqshook.Option{
				sqshook.WithEndpoint(srv.URL()), sqshook.WithDeadLetter(dls.add),
				sqshook.WithRetryPolicy(longRetries), sqshook.WithLinger(time.Millisecond),
				sqshook.WithMaxBuffered(hold, 0), sqshook.WithFailingRule(3, -1, 20*time.Millisecond),
			}
			if tc.rule != nil {
				opts = append(opts, tc.rule)
			}
			d := startDispatcher(t, []sqshook.Hook{sqstestHook("good", good), sqstestHook("bad", bad)}, opts...)
			samp := startSampler(t, d, sqshook.DefaultMaxBufferedBytes)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()

			// The down hook becomes failing after its first few calls.
			if err := d.Publish(ctx, event(t, "message.new", -1)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "bad hook failing", 20*time.Second, func() bool {
				h, _ := d.Stats().Hook("bad")
				return h.Health == sqshook.HealthFailing
			})
			const n = 6000
			var longest time.Duration
			full := 0
			for i := 0; i < n; i++ {
				if i%10 == 0 {
					time.Sleep(time.Millisecond) // pacing, as a server's message rate
				}
				if i%100 == 0 {
					waitFor(t, "good hook drains below half its share", 30*time.Second, func() bool {
						h, _ := d.Stats().Hook("good")
						return h.Pending < hold/2
					})
				}
				start := time.Now()
				err := d.Publish(ctx, event(t, "message.new", i))
				longest = max(longest, time.Since(start))
				if err == nil {
					continue
				}
				var de *sqshook.DeliveryError
				if !errors.As(err, &de) || de.HookID != "bad" || !errors.Is(err, sqshook.ErrBufferFull) || ctx.Err() != nil {
					t.Fatalf("Publish %d: %v; want nil or the bad hook's buffer_full", i, err)
				}
				full++
			}
			if longest > maxPublishWait {
				t.Errorf("longest Publish took %v, want at most %v", longest, maxPublishWait)
			}
			if full < n-hold {
				t.Errorf("%d of %d Publish calls reported the bad hook full, want at least %d (it holds %d)", full, n, n-hold, hold)
			}
			waitFor(t, "good hook delivers every event", 30*time.Second, func() bool {
				h, _ := d.Stats().Hook("good")
				return h.Delivered == n+1
			})
			if got := distinctIDs(srv.Received(good)); got != n+1 {
				t.Errorf("good queue holds %d distinct events, want %d", got, n+1)
			}
			samp.halt()
			s := checkAccounting(t, d, false)
			gs, _ := s.Hook("good")
			bs, _ := s.Hook("bad")
			if gs.DeadLettered != 0 || gs.Health != sqshook.HealthOK {
				t.Errorf("good hook: %d dead letters, health %q; want 0, ok", gs.DeadLettered, gs.Health)
			}
			if bs.Matched != n+1 || bs.DeadLetteredBy[sqshook.ReasonBufferFull] != uint64(full) || bs.Pending > hold {
				t.Errorf("bad hook: matched %d, buffer_full %d, pending %d; want %d, %d, at most %d", bs.Matched, bs.DeadLetteredBy[sqshook.ReasonBufferFull], bs.Pending, n+1, full, hold)
			}
			if bs.Health != sqshook.HealthFailing || !strings.Contains(bs.HealthCause, "ServiceUnavailable") {
				t.Errorf("bad hook health %q (%s), want failing naming ServiceUnavailable", bs.Health, bs.HealthCause)
			}
			for _, dl := range dls.list() {
				if dl.HookID != "bad" || dl.Reason != sqshook.ReasonBufferFull || !strings.Contains(dl.Message, "hook failing") {
					t.Fatalf("dead letter %s %s %q; want only the bad hook's buffer_full naming its failure", dl.HookID, dl.Reason, dl.Message)
				}
			}
			t.Logf("longest Publish %v; %d copies for the down hook dead-lettered", longest, full)
			// The queue comes back: the hook recovers and delivers what it held.
			srv.ClearFaults()
			flush(t, d)
			bs, _ = checkAccounting(t, d, true).Hook("bad")
			if bs.Health != sqshook.HealthOK || bs.Delivered != n+1-uint64(full) {
				t.Errorf("bad hook after recovery: health %q, delivered %d; want ok, %d", bs.Health, bs.Delivered, n+1-full)
			}
		})
	}
}

func distinctIDs(msgs []sqstest.Message) int {
	seen := map[string]bool{}
	for _, m := range msgs {
		seen[m.Attributes[sqshook.AttrEventID].StringValue] = true
	}
	return len(seen)
}

// TestOverflowRecoveryKeepsFIFOOrder: a FIFO hook whose queue is down turns
// failing; when the queue comes back, the first successful probe returns it
// to ok, and it delivers everything it held, each group in order.
func TestOverflowRecoveryKeepsFIFOOrder(t *testing.T) {
	srv := sqstest.NewServer()
	t.Cleanup(srv.Close)
	url := srv.CreateQueue("down.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"})
	remove := srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Queue: "down.fifo", Code: "ServiceUnavailable"})
	dls := &deadLetters{}
	d := startDispatcher(t, []sqshook.Hook{sqstestHook("fifo", url)},
		sqshook.WithEndpoint(srv.URL()), sqshook.WithDeadLetter(dls.add),
		sqshook.WithRetryPolicy(longRetries), sqshook.WithLinger(time.Millisecond),
		sqshook.WithFailingRule(3, -1, 10*time.Millisecond))
	const groups, per = 5, 40
	ctx := context.Background()
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			for g := 0; g < groups; g++ {
				ev := sqshook.Event{Type: "message.new", GroupID: "g" + strconv.Itoa(g),
					Body: []byte(fmt.Sprintf(`{"cid":"g%d","seq":%d}`, g, i))}
				if err := d.Publish(ctx, ev); err != nil {
					t.Fatalf("Publish: %v", err)
				}
			}
		}
	}
	publish(0, per/2)
	waitFor(t, "hook failing", 20*time.Second, func() bool {
		h, _ := d.Stats().Hook("fifo")
		return h.Health == sqshook.HealthFailing
	})
	publish(per/2, per) // a failing hook with room still takes copies
	remove()
	flush(t, d)
	s := checkAccounting(t, d, true)
	h, _ := s.Hook("fifo")
	if h.Health != sqshook.HealthOK || h.Delivered != groups*per || h.DeadLettered != 0 {
		t.Fatalf("after recovery: health %q, delivered %d, dead-lettered %d; want ok, %d, 0", h.Health, h.Delivered, h.DeadLettered, groups*per)
	}
	next := map[string]int{}
	for _, m := range srv.Received(url) {
		var g string
		var seq int
		if _, err := fmt.Sscanf(m.Body, `{"cid":"%2s","seq":%d}`, &g, &seq); err != nil {
			t.Fatalf("body %q: %v", m.Body, err)
		}
		if seq != next[g] {
			t.Fatalf("group %s: got seq %d, want %d", g, seq, next[g])
		}
		next[g]++
	}
	for g := 0; g < groups; g++ {
		if got := next["g"+strconv.Itoa(g)]; got != per {
			t.Errorf("group g%d: %d messages, want %d", g, got, per)
		}
	}
}

// TestOverflowWaitIsBounded: under OverflowWait a full hook that is not
// failing makes Publish wait, at most the configured bound, and then
// dead-letters the copy as buffer_full; copies for hooks with room are
// queued before Publish waits.
func TestOverflowWaitIsBounded(t *testing.T) {
	fake := newFake()
	block := make(chan struct{})
	fake.block = block
	other := newFake()
	d, dls := newTestDispatcher(t, nil, []sqshook.Hook{hookFor("stuck", "stuck"), hookFor("ok", "ok")},
		sqshook.WithClientFunc(func(_ context.Context, h sqshook.Hook) (sqshook.SQSAPI, error) {
			if h.ID == "stuck" {
				return fake, nil
			}
			return other, nil
		}),
		sqshook.WithMaxBuffered(1, 0), sqshook.WithLinger(0), sqshook.WithOverflowWait(50*time.Millisecond))
	t.Cleanup(func() { close(block) }) // before the dispatcher's Close
	if err := d.Publish(context.Background(), event(t, "message.new", 0)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stuck hook's call", 5*time.Second, func() bool { h, _ := d.Stats().Hook("stuck"); return h.InFlight == 1 })
	start := time.Now()
	err := d.Publish(context.Background(), event(t, "message.new", 1))
	waited := time.Since(start)
	if !errors.Is(err, sqshook.ErrBufferFull) {
		t.Fatalf("Publish to a full hook: %v, want ErrBufferFull", err)
	}
	if waited < 50*time.Millisecond {
		t.Errorf("Publish returned after %v, want it to wait the 50ms bound", waited)
	}
	if got := dls.byReason()[sqshook.ReasonBufferFull]; got != 1 {
		t.Errorf("buffer_full dead letters = %d, want 1", got)
	}
	// The ok hook's copy was queued before the wait began, and delivered.
	waitFor(t, "ok hook delivers both", 5*time.Second, func() bool { return len(other.ackedIDs(fakeQueuePrefix+"ok")) == 2 })
	// The default rule never waits: TryPublish and a zero-wait rule agree.
	if err := d.TryPublish(event(t, "message.new", 2)); !errors.Is(err, sqshook.ErrBufferFull) {
		t.Fatalf("TryPublish: %v, want ErrBufferFull", err)
	}
}

// TestOverflowDefaultDeadLettersAtOnce: with the default rule a full hook's
// copy is dead-lettered while Publish returns, even with a context that
// never ends.
func TestOverflowDefaultDeadLettersAtOnce(t *testing.T) {
	fake := newFake()
	block := make(chan struct{})
	fake.block = block
	d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")}, sqshook.WithMaxBuffered(1, 0), sqshook.WithLinger(0))
	t.Cleanup(func() { close(block) }) // before the dispatcher's Close
	if err := d.Publish(context.Background(), event(t, "message.new", 0)); err != nil {
		t.Fatal(err)
	}
	err := d.Publish(context.Background(), event(t, "message.new", 1))
	var de *sqshook.DeliveryError
	if !errors.As(err, &de) || de.Reason != sqshook.ReasonBufferFull || de.Message != "hook queue full" {
		t.Fatalf("Publish to a full hook: %v, want a buffer_full DeliveryError", err)
	}
	if got := len(dls.list()); got != 1 {
		t.Fatalf("dead letters = %d, want 1", got)
	}
}

// TestOverflowDispatcherShare: the dispatcher's share bounds all hooks
// together; a copy that would pass it is dead-lettered naming the level,
// and room given back by delivery is taken again.
func TestOverflowDispatcherShare(t *testing.T) {
	fake := newFake()
	block := make(chan struct{})
	fake.block = block
	d, _ := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("a", "a"), hookFor("b", "b")},
		sqshook.WithDispatcherLimits(3, 0), sqshook.WithLinger(time.Hour))
	// Each event gives a copy to both hooks: the second event's second
	// copy finds the dispatcher full.
	if err := d.Publish(context.Background(), event(t, "message.new", 0)); err != nil {
		t.Fatal(err)
	}
	err := d.Publish(context.Background(), event(t, "message.new", 1))
	var de *sqshook.DeliveryError
	if !errors.As(err, &de) || de.HookID != "b" || de.Message != "dispatcher buffer full" {
		t.Fatalf("second Publish: %v, want hook b's copy refused: dispatcher buffer full", err)
	}
	close(block)
	flush(t, d)
	if err := d.Publish(context.Background(), event(t, "message.new", 2)); err != nil {
		t.Fatalf("after the dispatcher drained: %v", err)
	}
	flush(t, d)
	s := checkAccounting(t, d, true)
	a, _ := s.Hook("a")
	b, _ := s.Hook("b")
	if a.Delivered != 3 || b.Delivered != 2 || b.DeadLetteredBy[sqshook.ReasonBufferFull] != 1 {
		t.Errorf("delivered a=%d b=%d, b buffer_full=%d; want 3, 2, 1", a.Delivered, b.Delivered, b.DeadLetteredBy[sqshook.ReasonBufferFull])
	}
}

// TestEmulatorHealthyQueueThroughFault: on the real emulator, one hook's
// queue is deleted while events are published; the other hook's queue
// receives every event and no Publish waits.
func TestEmulatorHealthyQueueThroughFault(t *testing.T) {
	good, client, _ := emulatorQueue(t, "healthy", nil)
	bad, _, _ := emulatorQueue(t, "deleted", nil)
	good.ID, bad.ID = "good", "bad"
	if _, err := client.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(bad.SQSQueueURL)}); err != nil {
		t.Fatalf("DeleteQueue: %v", err)
	}
	dls := &deadLetters{}
	d := startDispatcher(t, []sqshook.Hook{good, bad}, sqshook.WithEndpoint(emulator(t)),
		sqshook.WithDeadLetter(dls.add), sqshook.WithRetryPolicy(fastRetries),
		sqshook.WithFailingRule(3, -1, 50*time.Millisecond))
	const n = 300
	var longest time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		err := d.Publish(context.Background(), event(t, "message.new", i))
		longest = max(longest, time.Since(start))
		var de *sqshook.DeliveryError
		if err != nil && (!errors.As(err, &de) || de.HookID != "bad") {
			t.Fatalf("Publish %d: %v", i, err)
		}
	}
	if longest > maxPublishWait {
		t.Errorf("longest Publish %v, want at most %v", longest, maxPublishWait)
	}
	got := map[string]bool{}
	for _, b := range drainQueue(t, client, good.SQSQueueURL, n) {
		got[b] = true
	}
	if len(got) != n {
		t.Fatalf("healthy queue received %d distinct events, want %d", len(got), n)
	}
	flush(t, d)
	s := checkAccounting(t, d, true)
	gs, _ := s.Hook("good")
	bs, _ := s.Hook("bad")
	if gs.Delivered != n || bs.Delivered != 0 || bs.DeadLettered != n {
		t.Errorf("good delivered %d, bad delivered %d dead-lettered %d; want %d, 0, %d", gs.Delivered, bs.Delivered, bs.DeadLettered, n, n)
	}
	if gs.Health != sqshook.HealthOK || bs.Health != sqshook.HealthFailing {
		t.Errorf("health good %q, bad %q (%s); want ok, failing", gs.Health, bs.Health, bs.HealthCause)
	}
	t.Logf("deleted queue: %s; dead letters %v", bs.HealthCause, bs.DeadLetteredBy)
	for _, dl := range dls.list() {
		if dl.HookID != "bad" {
			t.Fatalf("dead letter for %s: %s %s", dl.HookID, dl.Reason, dl.Message)
		}
	}
}
