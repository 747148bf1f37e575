package sqshook_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.uber.org/goleak"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

const reviewQueuePrefix = "https://sqs.us-east-1.amazonaws.com/123456789012/"

// ackedOrder returns the event ids a queue acknowledged, in the order the
// fake acknowledged them.
func ackedOrder(f *fakeSQS, queue string) []string {
	return f.ackedIDs(reviewQueuePrefix + queue)
}

// A Publish waiting for room in a hook's pipeline must not stay blocked
// behind that pipeline once SetHooks has replaced it (the copy belongs to
// the new pipeline) or once Close has begun (Publish returns ErrClosed).
func TestReviewPublishWaitingForRoomIsReleased(t *testing.T) {
	setup := func(t *testing.T) (*sqshook.Dispatcher, *fakeSQS, chan error) {
		fake := newFake()
		block := make(chan struct{})
		fake.block = block // every call hangs (until canceled) while set
		d, _ := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "old")},
			sqshook.WithMaxBuffered(1, 0), sqshook.WithLinger(0))
		t.Cleanup(func() { close(block) })
		if err := d.Publish(context.Background(), event(t, "message.new", 0)); err != nil {
			t.Fatal(err)
		}
		waitForCond(t, func() bool { h, _ := d.Stats().Hook("h"); return h.InFlight == 1 })
		done := make(chan error, 1)
		go func() { done <- d.Publish(context.Background(), event(t, "message.new", 1)) }()
		time.Sleep(50 * time.Millisecond) // the second Publish waits for room
		select {
		case err := <-done:
			t.Fatalf("Publish into a full hook returned %v, want it to wait", err)
		default:
		}
		return d, fake, done
	}
	t.Run("SetHooks", func(t *testing.T) {
		d, _, done := setup(t)
		if err := d.SetHooks([]sqshook.Hook{hookFor("h", "new")}); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Publish = %v, want nil (redirected to the new pipeline)", err)
			}
		case <-time.After(time.Second):
			t.Errorf("Publish still blocked on the retired pipeline 1s after SetHooks replaced the hook")
		}
	})
	t.Run("Close", func(t *testing.T) {
		d, _, done := setup(t)
		closed := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			closed <- d.Close(ctx)
		}()
		select {
		case err := <-done:
			if !errors.Is(err, sqshook.ErrClosed) {
				t.Errorf("Publish = %v, want ErrClosed", err)
			}
		case <-time.After(time.Second):
			t.Errorf("Publish still blocked 1s after Close began")
		}
		<-closed
	})
}

// Close with an expired context on a dispatcher that holds nothing has
// nothing to give up on: it should report success, not ctx's error.
func TestReviewCloseIdleWithExpiredContext(t *testing.T) {
	fake := newFake()
	d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")})
	if err := d.Publish(context.Background(), event(t, "message.new", 0)); err != nil {
		t.Fatal(err)
	}
	flush(t, d)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Close(ctx); err != nil {
		t.Errorf("Close(expired ctx) on an idle dispatcher = %v, want nil (nothing was held)", err)
	}
	checkAccounting(t, d, true)
	if len(dls.list()) != 0 {
		t.Errorf("dead letters: %v", dls.list())
	}
}

// Publishers, Flush, Stats and SetHooks (the same hook id, its queue
// changed back and forth) run together against a faulty endpoint. Every
// event a Publish accepted must end acknowledged by one of the two queues
// or dead-lettered; the invariant holds at every sample; Close leaves
// nothing pending and no goroutine behind.
func TestReviewSetHooksChurnLosesNothing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	fake := newFake()
	fake.respond = func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		switch call % 5 {
		case 1:
			return nil, apiError("RequestThrottled", 400)
		case 3:
			out := okAll(in)
			out.Failed = []types.BatchResultErrorEntry{{Id: out.Successful[0].Id, Code: aws.String("InternalError")}}
			out.Successful = out.Successful[1:]
			return out, nil
		}
		return okAll(in), nil
	}
	d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q1")}, sqshook.WithMaxBuffered(50, 0), sqshook.WithMaxInFlight(4))
	var published sync.Map // event id → true
	var stop atomic.Bool
	var bg sync.WaitGroup
	bg.Add(2)
	go func() {
		defer bg.Done()
		for i := 0; !stop.Load(); i++ {
			q := "q1"
			if i%2 == 1 {
				q = "q2"
			}
			if err := d.SetHooks([]sqshook.Hook{hookFor("h", q)}); err != nil {
				t.Errorf("SetHooks: %v", err)
				return
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	go func() {
		defer bg.Done()
		for !stop.Load() {
			checkAccounting(t, d, false)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
			_ = d.Flush(ctx)
			cancel()
		}
	}()
	var pubs sync.WaitGroup
	for g := 0; g < 6; g++ {
		pubs.Add(1)
		go func(g int) {
			defer pubs.Done()
			for i := 0; i < 300; i++ {
				id := fmt.Sprintf("p%d-%d", g, i)
				ev := sqshook.Event{ID: id, Type: "message.new", Body: []byte(`{"x":1}`)}
				var err error
				if i%3 == 0 {
					err = d.TryPublish(ev)
				} else {
					err = d.Publish(context.Background(), ev)
				}
				if err == nil || errors.Is(err, sqshook.ErrBufferFull) {
					published.Store(id, true)
				} else {
					t.Errorf("Publish %s: %v", id, err)
				}
			}
		}(g)
	}
	pubs.Wait()
	stop.Store(true)
	bg.Wait()
	flush(t, d)
	checkAccounting(t, d, true)
	if err := d.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkAccounting(t, d, true)
	got := map[string]bool{}
	for _, id := range ackedOrder(fake, "q1") {
		got[id] = true
	}
	for _, id := range ackedOrder(fake, "q2") {
		got[id] = true
	}
	for _, dl := range dls.list() {
		got[dl.Event.ID] = true
	}
	published.Range(func(k, _ any) bool {
		if !got[k.(string)] {
			t.Errorf("event %s neither acknowledged nor dead-lettered", k)
		}
		return true
	})
}

// Close gives up during a hanging outage while publishers, Flush and
// SetHooks race with it: every accepted event is acknowledged or
// dead-lettered, pending is 0, Publish afterwards gets ErrClosed, and no
// goroutine is left.
func TestReviewCloseAbortRacesEverything(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for round := 0; round < 5; round++ {
		fake := newFake()
		block := make(chan struct{})
		fake.respond = func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
			switch call % 4 {
			case 0:
				return nil, apiError("BatchRequestTooLong", 400)
			case 1:
				return nil, apiError("ServiceUnavailable", 503)
			}
			return okAll(in), nil
		}
		d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("a", "a"), hookFor("b", "b")},
			sqshook.WithMaxBuffered(40, 0), sqshook.WithMaxInFlight(3))
		var accepted sync.Map
		var pubs sync.WaitGroup
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		for g := 0; g < 4; g++ {
			pubs.Add(1)
			go func(g int) {
				defer pubs.Done()
				for i := 0; ; i++ {
					id := fmt.Sprintf("r%d-%d-%d", round, g, i)
					err := d.Publish(ctx, sqshook.Event{ID: id, Type: "message.new", Body: []byte(`{"y":2}`)})
					if errors.Is(err, sqshook.ErrClosed) {
						return
					}
					accepted.Store(id, true)
					if i%7 == 0 {
						_ = d.SetHooks([]sqshook.Hook{hookFor("a", "a"), hookFor("b", fmt.Sprintf("b%d", i%2))})
					}
					if i%11 == 0 {
						go func() { _ = d.Flush(ctx) }()
					}
				}
			}(g)
		}
		time.Sleep(20 * time.Millisecond)
		fake.mu.Lock()
		fake.block = block // from now on calls hang until canceled
		fake.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		err := d.Close(cctx)
		ccancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Close = %v", err)
		}
		pubs.Wait()
		cancel()
		close(block)
		checkAccounting(t, d, true)
		got := map[string]int{}
		for _, q := range []string{"a", "b", "b0", "b1"} {
			for _, id := range ackedOrder(fake, q) {
				got[id]++
			}
		}
		for _, dl := range dls.list() {
			got[dl.Event.ID]++
		}
		accepted.Range(func(k, _ any) bool {
			if got[k.(string)] == 0 {
				t.Errorf("event %s neither acknowledged nor dead-lettered", k)
			}
			return true
		})
	}
}

// The batch split on BatchRequestTooLong terminates and loses nothing
// against the real SDK client, with a server whose batch limit is a little
// above one message, and with events of uneven size.
func TestReviewSplitTerminatesAgainstSmallServerLimit(t *testing.T) {
	s := newScenario(t, []sqstest.Option{sqstest.WithMaxBatchBytes(3000)})
	for i := 0; i < 60; i++ {
		id := fmt.Sprintf("s-%d", i)
		body := fmt.Sprintf(`{"i":%d,"pad":%q}`, i, fmt.Sprintf("%0*d", 200+(i*97)%2300, 0))
		if err := s.d.Publish(context.Background(), sqshook.Event{ID: id, Type: "message.new", Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
		s.sent[id] = body
	}
	arrived, _ := s.settle()
	if arrived != 60 {
		t.Errorf("arrived %d of 60; dead letters %v", arrived, s.dls.byReason())
	}
}

// Whole-call errors as the real SDK reports them from an SQS JSON endpoint:
// throttling (including KMS throttling) and 5xx are retried, the rest
// dead-lettered as rejected with the SQS code.
func TestReviewClassificationThroughSDK(t *testing.T) {
	for _, tc := range []struct {
		code      string
		transient bool
	}{
		{"RequestThrottled", true},
		{"ThrottlingException", true},
		{"KmsThrottled", true},
		{"InternalError", true},
		{"ServiceUnavailable", true},
		{"QueueDoesNotExist", false},
		{"AccessDenied", false},
		{"InvalidClientTokenId", false},
		{"InvalidParameterValue", false},
	} {
		t.Run(tc.code, func(t *testing.T) {
			s := newScenario(t, nil)
			s.srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Code: tc.code, Times: 1})
			s.publish(1)
			arrived, _ := s.settle()
			if tc.transient && arrived != 1 {
				t.Errorf("%s: not retried (dead letters %v)", tc.code, s.dls.byReason())
			}
			if !tc.transient {
				dl := s.dls.list()
				if arrived != 0 || len(dl) != 1 || dl[0].Reason != sqshook.ReasonRejected {
					t.Errorf("%s: arrived %d, dead letters %v; want rejected", tc.code, arrived, dl)
				}
			}
		})
	}
}

func waitForCond(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// What a hook holds is bounded (WithMaxBuffered), but dead letters waiting
// for a slow sink are not: a settled call frees its in-flight slot and its
// buffer room before it reports, so while the queue rejects everything the
// hook keeps starting calls and the goroutines blocked in the sink, each
// holding its batch's events, pile up without limit.
func TestReviewDeadLetterReportsAreBounded(t *testing.T) {
	fake := newFake()
	fake.respond = func(int, *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		return nil, apiError("AccessDenied", 403)
	}
	var inSink, maxInSink atomic.Int64
	slowSink := func(sqshook.DeadLetter) {
		n := inSink.Add(1)
		for m := maxInSink.Load(); n > m && !maxInSink.CompareAndSwap(m, n); m = maxInSink.Load() {
		}
		time.Sleep(5 * time.Millisecond)
		inSink.Add(-1)
	}
	const maxInFlight, buffered = 2, 20
	d, _ := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")},
		sqshook.WithDeadLetter(slowSink), sqshook.WithLinger(0),
		sqshook.WithMaxInFlight(maxInFlight), sqshook.WithMaxBuffered(buffered, 0))
	var stop atomic.Bool
	var pubs sync.WaitGroup
	for g := 0; g < 4; g++ {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			for !stop.Load() {
				_ = d.Publish(context.Background(), sqshook.Event{Type: "message.new", Body: []byte(`{"z":3}`)})
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	stop.Store(true)
	pubs.Wait()
	// Reports run on the calls' goroutines and on Publish's: a bound of the
	// order of the in-flight limit plus the publishers is expected.
	if m := maxInSink.Load(); m > 4*(maxInFlight+4) {
		t.Errorf("%d dead-letter reports ran at once with MaxInFlight %d, MaxBuffered %d and 4 publishers: reports are not bounded", m, maxInFlight, buffered)
	}
}
