package sqshook_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/cenkalti/backoff/v4"
	"go.uber.org/goleak"

	"github.com/sqshook/sqshook"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestPublishFansOutByFilter(t *testing.T) {
	fake := newFake()
	hooks := []sqshook.Hook{
		hookFor("all", "all"),
		hookFor("messages", "messages", "message.*"),
		hookFor("moderation", "moderation", "user.banned", "message.flagged"),
		func() sqshook.Hook { h := hookFor("off", "off"); h.Enabled = false; return h }(),
	}
	d, dls := newTestDispatcher(t, fake, hooks)
	typesCycle := []string{"message.new", "reaction.new", "user.banned", "message.flagged", "typing.start", "channel.updated"}
	want := map[string][]string{}
	for i := 0; i < 600; i++ {
		typ := typesCycle[i%len(typesCycle)]
		ev := event(t, typ, i)
		ev.ID = fmt.Sprintf("ev-%d", i)
		if err := d.Publish(context.Background(), ev); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		want["all"] = append(want["all"], ev.ID)
		if strings.HasPrefix(typ, "message.") {
			want["messages"] = append(want["messages"], ev.ID)
		}
		if typ == "user.banned" || typ == "message.flagged" {
			want["moderation"] = append(want["moderation"], ev.ID)
		}
	}
	flush(t, d)
	for _, q := range []string{"all", "messages", "moderation", "off"} {
		got := fake.ackedIDs("https://sqs.us-east-1.amazonaws.com/123456789012/" + q)
		slices.Sort(got)
		w := slices.Clone(want[q])
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("queue %s: got %d events, want %d", q, len(got), len(w))
		}
	}
	s := checkAccounting(t, d, true)
	if len(s.Hooks) != 3 {
		t.Errorf("stats list %d hooks, want 3 enabled", len(s.Hooks))
	}
	if h, _ := s.Hook("all"); h.Delivered != 600 || h.Batches < 60 {
		t.Errorf("hook all: delivered %d in %d batches; want 600 in >= 60", h.Delivered, h.Batches)
	}
	if n := len(dls.list()); n != 0 {
		t.Errorf("%d dead letters, want 0", n)
	}
}

func TestMessagesCarryEventIDAndType(t *testing.T) {
	fake := newFake()
	d, _ := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")})
	ev, err := sqshook.NewEvent("message.new", map[string]string{"text": "hi"})
	if err != nil {
		t.Fatal(err)
	}
	ev.Attributes = map[string]types.MessageAttributeValue{"tenant": {DataType: aws.String("String"), StringValue: aws.String("acme")}}
	if err := d.Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	flush(t, d)
	fake.mu.Lock()
	defer fake.mu.Unlock()
	got := fake.acked["https://sqs.us-east-1.amazonaws.com/123456789012/q"]
	if len(got) != 1 {
		t.Fatalf("acked %d messages, want 1", len(got))
	}
	e := got[0]
	if b := aws.ToString(e.MessageBody); b != `{"text":"hi"}` {
		t.Errorf("body = %s, want {\"text\":\"hi\"}", b)
	}
	if id := aws.ToString(e.MessageAttributes[sqshook.AttrEventID].StringValue); id == "" {
		t.Errorf("event_id attribute missing")
	}
	if typ := aws.ToString(e.MessageAttributes[sqshook.AttrEventType].StringValue); typ != "message.new" {
		t.Errorf("event_type attribute = %q, want message.new", typ)
	}
	if v := aws.ToString(e.MessageAttributes["tenant"].StringValue); v != "acme" {
		t.Errorf("tenant attribute = %q, want acme", v)
	}
}

func TestEventIDsStableAcrossRetries(t *testing.T) {
	fake := newFake()
	var seen sync.Map // event id → attempts
	fake.respond = func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		for _, e := range in.Entries {
			id := aws.ToString(e.MessageAttributes[sqshook.AttrEventID].StringValue)
			v, _ := seen.LoadOrStore(id, new(atomic.Int32))
			v.(*atomic.Int32).Add(1)
		}
		if call <= 2 {
			return nil, apiError("RequestThrottled", 400)
		}
		return okAll(in), nil
	}
	d, _ := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")}, sqshook.WithLinger(time.Hour))
	for i := 0; i < 5; i++ {
		if err := d.Publish(context.Background(), event(t, "message.new", i)); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, d)
	n := 0
	seen.Range(func(k, v any) bool {
		n++
		if v.(*atomic.Int32).Load() < 2 {
			// the first calls were throttled: each event was sent at least twice
			t.Errorf("event %v sent %d times, want >= 2 with the same id", k, v.(*atomic.Int32).Load())
		}
		return true
	})
	if n != 5 {
		t.Errorf("%d distinct event ids over all attempts, want 5", n)
	}
	checkAccounting(t, d, true)
}

func TestWholeCallErrorClassification(t *testing.T) {
	tests := []struct {
		code      string
		status    int
		delivered bool // after one failure, the retry succeeds
		reason    sqshook.Reason
	}{
		{"RequestThrottled", 400, true, ""},
		{"ThrottlingException", 400, true, ""},
		{"KMS.ThrottlingException", 400, true, ""},
		{"KmsThrottled", 400, true, ""},
		{"SomethingNew", 429, true, ""},
		{"InternalError", 500, true, ""},
		{"ServiceUnavailable", 503, true, ""},
		{"AccessDenied", 403, false, sqshook.ReasonRejected},
		{"InvalidClientTokenId", 403, false, sqshook.ReasonRejected},
		{"QueueDoesNotExist", 400, false, sqshook.ReasonRejected},
		{"AWS.SimpleQueueService.NonExistentQueue", 400, false, sqshook.ReasonRejected},
		{"InvalidParameterValue", 400, false, sqshook.ReasonRejected},
		{"KMS.AccessDeniedException", 400, false, sqshook.ReasonRejected},
		{"KmsAccessDenied", 400, false, sqshook.ReasonRejected},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			fake := newFake()
			fake.respond = func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
				if call == 1 {
					return nil, apiError(tt.code, tt.status)
				}
				return okAll(in), nil
			}
			// One batch of three: only Flush sends it.
			d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")}, sqshook.WithLinger(time.Hour))
			for i := 0; i < 3; i++ {
				if err := d.Publish(context.Background(), event(t, "message.new", i)); err != nil {
					t.Fatal(err)
				}
			}
			flush(t, d)
			s := checkAccounting(t, d, true)
			h, _ := s.Hook("h")
			if tt.delivered {
				if h.Delivered != 3 || len(dls.list()) != 0 || h.Retries == 0 {
					t.Errorf("delivered %d, dead letters %d, retries %d; want 3, 0, > 0", h.Delivered, len(dls.list()), h.Retries)
				}
				return
			}
			got := dls.list()
			if len(got) != 3 || fake.callCount() != 1 {
				t.Fatalf("%d dead letters after %d calls, want 3 after 1 (no retry storm)", len(got), fake.callCount())
			}
			for _, dl := range got {
				var de *sqshook.DeliveryError
				if dl.Reason != tt.reason || dl.Code != tt.code || !errors.As(dl.Err, &de) || de.Code != tt.code {
					t.Errorf("dead letter reason %q code %q err %v; want %q %q", dl.Reason, dl.Code, dl.Err, tt.reason, tt.code)
				}
				if dl.HookID != "h" || dl.Event.Type != "message.new" || len(dl.Event.Body) == 0 || dl.Event.ID == "" {
					t.Errorf("dead letter does not carry the event: %+v", dl)
				}
			}
		})
	}
}

func TestTransportErrorsAreRetried(t *testing.T) {
	fake := newFake()
	fake.respond = func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		if call == 1 {
			return nil, &smithy.OperationError{ServiceID: "SQS", OperationName: "SendMessageBatch", Err: errors.New("read tcp: connection reset by peer")}
		}
		return okAll(in), nil
	}
	d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")})
	if err := d.Publish(context.Background(), event(t, "message.new", 1)); err != nil {
		t.Fatal(err)
	}
	flush(t, d)
	if h, _ := d.Stats().Hook("h"); h.Delivered != 1 || len(dls.list()) != 0 {
		t.Errorf("delivered %d, dead letters %d; want 1, 0", h.Delivered, len(dls.list()))
	}
}

func TestPartialBatchFailures(t *testing.T) {
	fake := newFake()
	// Entry 0 of every first attempt: throttled (retried). Entry 1: a sender
	// fault (dead letter). Entry 2: missing from the response (resent).
	attempts := map[string]int{}
	var mu sync.Mutex
	fake.respond = func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		mu.Lock()
		defer mu.Unlock()
		out := &sqs.SendMessageBatchOutput{}
		for _, e := range in.Entries {
			body := aws.ToString(e.MessageBody)
			attempts[body]++
			switch {
			case strings.Contains(body, `"message 0"`) && attempts[body] == 1:
				out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("RequestThrottled"), Message: aws.String("slow down"), SenderFault: false})
			case strings.Contains(body, `"message 1"`):
				out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InvalidMessageContents"), Message: aws.String("bad"), SenderFault: true})
			case strings.Contains(body, `"message 2"`) && attempts[body] == 1:
				// left out of the response
			default:
				out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("m")})
			}
		}
		return out, nil
	}
	d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")}, sqshook.WithLinger(time.Second))
	for i := 0; i < 10; i++ {
		if err := d.Publish(context.Background(), event(t, "message.new", i)); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, d)
	s := checkAccounting(t, d, true)
	h, _ := s.Hook("h")
	if h.Delivered != 9 || h.DeadLetteredBy[sqshook.ReasonRejected] != 1 {
		t.Errorf("delivered %d, rejected %d; want 9, 1", h.Delivered, h.DeadLetteredBy[sqshook.ReasonRejected])
	}
	got := dls.list()
	if len(got) != 1 || got[0].Code != "InvalidMessageContents" || !got[0].SenderFault || got[0].Attempts != 1 {
		t.Errorf("dead letters = %+v; want one InvalidMessageContents sender fault after 1 attempt", got)
	}
}

func TestRetriesExhausted(t *testing.T) {
	fake := newFake()
	fake.respond = func(int, *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		return nil, apiError("ServiceUnavailable", 503)
	}
	d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")}, sqshook.WithRetryPolicy(sqshook.RetryPolicy{MaxAttempts: 4}))
	for i := 0; i < 3; i++ {
		if err := d.Publish(context.Background(), event(t, "message.new", i)); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, d)
	checkAccounting(t, d, true)
	got := dls.list()
	if len(got) != 3 {
		t.Fatalf("%d dead letters, want 3", len(got))
	}
	for _, dl := range got {
		if dl.Reason != sqshook.ReasonRetriesExhausted || dl.Attempts != 4 || dl.Code != "ServiceUnavailable" {
			t.Errorf("dead letter reason %s attempts %d code %s; want retries_exhausted, 4, ServiceUnavailable", dl.Reason, dl.Attempts, dl.Code)
		}
	}
}

func TestBatchRequestTooLongSplits(t *testing.T) {
	fake := newFake()
	const serverLimit = 8 * 1024
	fake.respond = func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		total := 0
		for _, e := range in.Entries {
			total += len(aws.ToString(e.MessageBody))
		}
		if total > serverLimit {
			return nil, apiError("BatchRequestTooLong", 400)
		}
		return okAll(in), nil
	}
	d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")}, sqshook.WithLinger(time.Second))
	for i := 0; i < 50; i++ {
		ev := sqshook.Event{Type: "message.new", Body: []byte(fmt.Sprintf(`{"i":%d,"text":%q}`, i, strings.Repeat("x", 1500)))}
		if err := d.Publish(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, d)
	checkAccounting(t, d, true)
	h, _ := d.Stats().Hook("h")
	if h.Delivered != 50 || len(dls.list()) != 0 {
		t.Errorf("delivered %d with %d dead letters; want 50, 0", h.Delivered, len(dls.list()))
	}
}

func TestSizeGuardDeadLetters(t *testing.T) {
	fake := newFake()
	d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("a", "a"), hookFor("b", "b", "message.*"), hookFor("c", "c", "user.*")},
		sqshook.WithMaxMessageBytes(1024))
	big := sqshook.Event{Type: "message.new", Body: []byte(`{"text":"` + strings.Repeat("x", 2000) + `"}`)}
	err := d.Publish(context.Background(), big)
	var de *sqshook.DeliveryError
	if !errors.As(err, &de) || de.Reason != sqshook.ReasonTooLarge {
		t.Fatalf("Publish(too large) = %v, want a *DeliveryError with reason too_large", err)
	}
	var ge *sqshook.GuardError
	if !errors.As(err, &ge) || ge.Max != 1024 || ge.Bytes <= 2000 {
		t.Errorf("guard error = %v, want bytes > 2000 and max 1024", ge)
	}
	bad := sqshook.Event{Type: "message.new", Body: []byte("{\"text\":\"ok\"}\x01")}
	if err := d.Publish(context.Background(), bad); !errors.As(err, &de) || de.Reason != sqshook.ReasonInvalidContents {
		t.Errorf("Publish(illegal character outside a string) = %v, want invalid_contents", err)
	}
	flush(t, d)
	checkAccounting(t, d, true)
	if got := dls.byReason(); got[sqshook.ReasonTooLarge] != 2 || got[sqshook.ReasonInvalidContents] != 2 {
		t.Errorf("dead letters by reason = %v; want 2 too_large (hooks a, b) and 2 invalid_contents", got)
	}
	if fake.callCount() != 0 {
		t.Errorf("%d calls to SQS, want 0", fake.callCount())
	}
}

func TestInvalidEvents(t *testing.T) {
	d, _ := newTestDispatcher(t, newFake(), []sqshook.Hook{hookFor("h", "q")})
	for _, ev := range []sqshook.Event{{Body: []byte(`{}`)}, {Type: "message.new"}, {}} {
		if err := d.Publish(context.Background(), ev); !errors.Is(err, sqshook.ErrInvalidEvent) {
			t.Errorf("Publish(%+v) = %v, want ErrInvalidEvent", ev, err)
		}
	}
	if _, err := sqshook.NewEvent("message.new", func() {}); err == nil {
		t.Errorf("NewEvent(func) = nil error, want a marshalling error")
	}
	if _, err := sqshook.NewEvent("message.new", []byte("{bad")); err == nil {
		t.Errorf("NewEvent(invalid JSON bytes) = nil error")
	}
	if h, _ := d.Stats().Hook("h"); h.Matched != 0 {
		t.Errorf("matched = %d, want 0", h.Matched)
	}
}

func TestFullQueueTryPublishAndPublish(t *testing.T) {
	fake := newFake()
	fake.block = make(chan struct{})
	d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")},
		sqshook.WithMaxBuffered(5, 0), sqshook.WithLinger(0), sqshook.WithMaxInFlight(1), sqshook.WithOverflowWait(time.Hour))
	for i := 0; i < 5; i++ {
		if err := d.TryPublish(event(t, "message.new", i)); err != nil {
			t.Fatalf("TryPublish %d: %v", i, err)
		}
	}
	// Full: TryPublish fails at once.
	err := d.TryPublish(event(t, "message.new", 5))
	if !errors.Is(err, sqshook.ErrBufferFull) {
		t.Fatalf("TryPublish on a full hook = %v, want ErrBufferFull", err)
	}
	// Publish gives up when its context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	err = d.Publish(ctx, event(t, "message.new", 6))
	cancel()
	if !errors.Is(err, sqshook.ErrBufferFull) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Publish on a full hook with expiring ctx = %v, want ErrBufferFull and DeadlineExceeded", err)
	}
	// Publish waits for room.
	done := make(chan error, 1)
	go func() { done <- d.Publish(context.Background(), event(t, "message.new", 7)) }()
	select {
	case err := <-done:
		t.Fatalf("Publish returned %v while the hook was full", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(fake.block)
	if err := <-done; err != nil {
		t.Fatalf("Publish after room freed: %v", err)
	}
	flush(t, d)
	s := checkAccounting(t, d, true)
	h, _ := s.Hook("h")
	if h.Delivered != 6 || h.DeadLetteredBy[sqshook.ReasonBufferFull] != 2 || len(dls.list()) != 2 {
		t.Errorf("delivered %d, buffer_full %d; want 6, 2", h.Delivered, h.DeadLetteredBy[sqshook.ReasonBufferFull])
	}
}

func TestBufferedBytesBound(t *testing.T) {
	fake := newFake()
	fake.block = make(chan struct{})
	body := chatEventJSON(t, "message.new", strings.Repeat("y", 300))
	limit := 4 * (len(body) + 200)
	d, _ := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")},
		sqshook.WithMaxBuffered(1000, limit), sqshook.WithMaxMessageBytes(2048))
	accepted := 0
	for i := 0; i < 20; i++ {
		if err := d.TryPublish(sqshook.Event{Type: "message.new", Body: body}); err == nil {
			accepted++
		}
		if h, _ := d.Stats().Hook("h"); h.BufferedBytes > limit {
			t.Fatalf("buffered %d bytes, limit %d", h.BufferedBytes, limit)
		}
	}
	if accepted < 3 || accepted > 4 {
		t.Errorf("accepted %d events of %d bytes under a %d-byte bound; want 3-4", accepted, len(body), limit)
	}
	close(fake.block)
	flush(t, d)
	checkAccounting(t, d, true)
}

func TestMaxInFlightRespected(t *testing.T) {
	fake := newFake()
	fake.respond = func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		time.Sleep(2 * time.Millisecond) // a round trip
		return okAll(in), nil
	}
	d, _ := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")}, sqshook.WithMaxInFlight(3), sqshook.WithLinger(0))
	var wg sync.WaitGroup
	for p := 0; p < 8; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				_ = d.Publish(context.Background(), event(t, "message.new", i))
			}
		}()
	}
	wg.Wait()
	flush(t, d)
	checkAccounting(t, d, true)
	if m := fake.maxSeen.Load(); m > 3 || m < 2 {
		t.Errorf("max concurrent calls = %d, want 2..3 with MaxInFlight 3", m)
	}
}

func TestConcurrentPublishersAccounting(t *testing.T) {
	fake := newFake()
	fake.respond = func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		switch call % 7 {
		case 3:
			return nil, apiError("RequestThrottled", 400)
		case 5:
			out := okAll(in)
			out.Failed = []types.BatchResultErrorEntry{{Id: out.Successful[0].Id, Code: aws.String("InternalError"), SenderFault: false}}
			out.Successful = out.Successful[1:]
			return out, nil
		}
		return okAll(in), nil
	}
	d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("a", "a"), hookFor("b", "b", "message.*")}, sqshook.WithMaxBuffered(200, 0), sqshook.WithOverflowWait(time.Hour))
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() { // sample the invariant while events flow
		defer sampler.Done()
		for {
			select {
			case <-stop:
				return
			default:
				checkAccounting(t, d, false)
			}
		}
	}()
	var wg sync.WaitGroup
	const publishers, each = 8, 250
	for p := 0; p < publishers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				typ := "message.new"
				if i%2 == 1 {
					typ = "reaction.new"
				}
				if err := d.Publish(context.Background(), event(t, typ, p*each+i)); err != nil {
					t.Errorf("Publish: %v", err)
				}
				if i%50 == 0 {
					go func() { _ = d.Flush(context.Background()) }()
				}
			}
		}(p)
	}
	wg.Wait()
	flush(t, d)
	close(stop)
	sampler.Wait()
	s := checkAccounting(t, d, true)
	a, _ := s.Hook("a")
	b, _ := s.Hook("b")
	if a.Delivered != publishers*each || b.Delivered != publishers*each/2 || len(dls.list()) != 0 {
		t.Errorf("delivered a=%d b=%d dead=%d; want %d, %d, 0", a.Delivered, b.Delivered, len(dls.list()), publishers*each, publishers*each/2)
	}
	if ids := fake.ackedIDs("https://sqs.us-east-1.amazonaws.com/123456789012/a"); len(ids) != publishers*each {
		t.Errorf("queue a acknowledged %d entries, want %d", len(ids), publishers*each)
	}
}

func TestCloseDrainsAndRejectsAfterwards(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	fake := newFake()
	d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")}, sqshook.WithLinger(time.Hour))
	for i := 0; i < 25; i++ {
		if err := d.Publish(context.Background(), event(t, "message.new", i)); err != nil {
			t.Fatal(err)
		}
	}
	// With an hour of linger, only Close's drain sends the last partial batch.
	if err := d.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := len(fake.ackedIDs("https://sqs.us-east-1.amazonaws.com/123456789012/q")); got != 25 || len(dls.list()) != 0 {
		t.Errorf("after Close: %d delivered, %d dead letters; want 25, 0", got, len(dls.list()))
	}
	checkAccounting(t, d, true)
	ev := event(t, "message.new", 99)
	for name, err := range map[string]error{
		"Publish":    d.Publish(context.Background(), ev),
		"TryPublish": d.TryPublish(ev),
		"Flush":      d.Flush(context.Background()),
		"SetHooks":   d.SetHooks(nil),
		"Consume":    d.Consume(context.Background(), make(chan sqshook.Event)),
	} {
		if !errors.Is(err, sqshook.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	if err := d.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

func TestCloseDeadlineDuringOutage(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	fake := newFake()
	fake.respond = func(int, *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		return nil, apiError("ServiceUnavailable", 503)
	}
	d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")},
		sqshook.WithBackOff(func() backoff.BackOff { return backoff.NewConstantBackOff(5 * time.Millisecond) }))
	for i := 0; i < 40; i++ {
		if err := d.Publish(context.Background(), event(t, "message.new", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Also a call blocked in flight, canceled by Close.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := d.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close during an outage = %v, want DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Close took %v after its deadline, want prompt", el)
	}
	checkAccounting(t, d, true)
	got := dls.byReason()
	if got[sqshook.ReasonShutdown] != 40 {
		t.Errorf("dead letters = %v, want 40 shutdown", got)
	}
}

func TestCloseCancelsCallsInFlight(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	fake := newFake()
	fake.block = make(chan struct{}) // never released: calls hang until canceled
	d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")}, sqshook.WithLinger(0))
	for i := 0; i < 15; i++ {
		if err := d.Publish(context.Background(), event(t, "message.new", i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := d.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want DeadlineExceeded", err)
	}
	checkAccounting(t, d, true)
	if got := dls.byReason(); got[sqshook.ReasonShutdown] != 15 {
		t.Errorf("dead letters = %v, want 15 shutdown", got)
	}
}

func TestSetHooksLive(t *testing.T) {
	fake := newFake()
	a, b, c := hookFor("a", "a"), hookFor("b", "b"), hookFor("c", "c")
	d, dls := newTestDispatcher(t, fake, []sqshook.Hook{a, b, c}, sqshook.WithLinger(time.Hour))
	for i := 0; i < 5; i++ {
		if err := d.Publish(context.Background(), event(t, "message.new", i)); err != nil {
			t.Fatal(err)
		}
	}
	// An invalid list changes nothing.
	bad := b
	bad.SQSRegion = ""
	if err := d.SetHooks([]sqshook.Hook{a, bad}); !errors.Is(err, sqshook.ErrInvalidHook) {
		t.Fatalf("SetHooks(invalid) = %v, want ErrInvalidHook", err)
	}
	if got := len(d.Hooks()); got != 3 {
		t.Fatalf("after a refused SetHooks: %d hooks, want 3", got)
	}
	// Keep a unchanged, change b (filter), remove c, add e.
	b2 := b
	b2.EventTypes = []string{"reaction.*"}
	e := hookFor("e", "e")
	if err := d.SetHooks([]sqshook.Hook{a, b2, e}); err != nil {
		t.Fatal(err)
	}
	s := checkAccounting(t, d, false)
	if ha, _ := s.Hook("a"); ha.Matched != 5 || ha.Pending != 5 {
		t.Errorf("unchanged hook a: matched %d pending %d, want its pipeline untouched (5, 5)", ha.Matched, ha.Pending)
	}
	if hb, _ := s.Hook("b"); hb.Matched != 0 {
		t.Errorf("changed hook b: new pipeline matched %d, want 0", hb.Matched)
	}
	for i := 5; i < 8; i++ {
		if err := d.Publish(context.Background(), event(t, "message.new", i)); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, d)
	q := func(n string) int { return len(fake.ackedIDs("https://sqs.us-east-1.amazonaws.com/123456789012/" + n)) }
	// Removed and changed pipelines drained what they held.
	if q("a") != 8 || q("b") != 5 || q("c") != 5 || q("e") != 3 {
		t.Errorf("delivered a=%d b=%d c=%d e=%d; want 8, 5 (old filter), 5 (drained), 3", q("a"), q("b"), q("c"), q("e"))
	}
	if len(dls.list()) != 0 {
		t.Errorf("dead letters: %v", dls.list())
	}
	// Hooks returns a copy.
	hs := d.Hooks()
	hs[0].EventTypes = append(hs[0].EventTypes, "x")
	hs[0].ID = "changed"
	if d.Hooks()[0].ID != "a" {
		t.Errorf("Hooks() result aliases the dispatcher's list")
	}
	// Read, append, write back (Stream's pattern).
	all := append(d.Hooks(), hookFor("f", "f"))
	if err := d.SetHooks(all); err != nil {
		t.Fatal(err)
	}
	if got := len(d.Hooks()); got != 4 {
		t.Errorf("after append: %d hooks, want 4", got)
	}
}

func TestConsume(t *testing.T) {
	fake := newFake()
	d, _ := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")})
	ch := make(chan sqshook.Event)
	done := make(chan error, 1)
	go func() { done <- d.Consume(context.Background(), ch) }()
	for i := 0; i < 30; i++ {
		ch <- event(t, "message.new", i)
	}
	close(ch)
	if err := <-done; err != nil {
		t.Fatalf("Consume = %v, want nil after the channel closed", err)
	}
	flush(t, d)
	if h, _ := d.Stats().Hook("h"); h.Delivered != 30 {
		t.Errorf("delivered %d, want 30", h.Delivered)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Consume(ctx, make(chan sqshook.Event)); !errors.Is(err, context.Canceled) {
		t.Errorf("Consume(canceled ctx) = %v, want context.Canceled", err)
	}
}

func TestAnyCallOrderNeverPanics(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	fake := newFake()
	d, _ := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")})
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ops := []func(){
		func() { _ = d.Publish(ctx, event(t, "message.new", 1)) },
		func() { _ = d.TryPublish(event(t, "message.new", 2)) },
		func() { _ = d.Flush(ctx) },
		func() { _ = d.SetHooks([]sqshook.Hook{hookFor("h", "q"), hookFor("x", "x")}) },
		func() { _ = d.SetHooks([]sqshook.Hook{hookFor("h", "q")}) },
		func() { _ = d.Stats() },
		func() { _ = d.Hooks() },
		func() { _ = d.Close(ctx) },
	}
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				ops[(g+i)%len(ops)]()
			}
		}(g)
	}
	wg.Wait()
	if err := d.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkAccounting(t, d, true)
}

func TestNewRejectsBadOptions(t *testing.T) {
	_, err := sqshook.New(nil, sqshook.WithMaxInFlight(0), sqshook.WithLinger(-1), sqshook.WithMaxBatchBytes(2<<20), sqshook.WithMaxMessageBytes(4<<20))
	var ve *sqshook.ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) < 4 {
		t.Fatalf("New(bad options) = %v, want a ValidationError naming 4 problems", err)
	}
	for _, field := range []string{"max_in_flight", "linger", "max_batch_bytes", "size_guard"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
}

func TestDefaultDeadLetterLogHidesBodyAndSecrets(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, nil))
	fake := newFake()
	fake.respond = func(int, *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		return nil, apiError("AccessDenied", 403)
	}
	h := hookFor("secret-hook", "q")
	h.SQSAuthType, h.SQSKey, h.SQSSecret = "keys", testKeyID, testSecret
	d, err := sqshook.New([]sqshook.Hook{h}, sqshook.WithLogger(logger), sqshook.WithLinger(0),
		sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) { return fake, nil }))
	if err != nil {
		t.Fatal(err)
	}
	body := `{"text":"private chat content"}`
	if err := d.Publish(context.Background(), sqshook.Event{Type: "message.new", Body: []byte(body)}); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	for _, want := range []string{`"hook_id":"secret-hook"`, `"reason":"rejected"`, `"code":"AccessDenied"`, `"event_type":"message.new"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s: %s", want, out)
		}
	}
	for _, secret := range []string{"private chat content", testSecret, testKeyID} {
		if strings.Contains(out, secret) {
			t.Errorf("log shows %q: %s", secret, out)
		}
	}
	st, _ := d.Stats().Hook("secret-hook")
	if s := fmt.Sprintf("%+v", st); strings.Contains(s, testSecret) {
		t.Errorf("stats show the secret: %s", s)
	}
}

// Flush returns once what was published before it is settled, even while
// dead letters of later events are reported without a pause: overlapping
// reports must not starve it.
func TestFlushNotStarvedByOverlappingDeadLetters(t *testing.T) {
	fake := newFake()
	fake.respond = func(int, *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		return nil, apiError("AccessDenied", 403)
	}
	var reported atomic.Int64
	d, err := sqshook.New([]sqshook.Hook{hookFor("h", "q")},
		sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) { return fake, nil }),
		sqshook.WithLinger(0), sqshook.WithMaxInFlight(8), sqshook.WithMaxBuffered(200, 1<<20),
		sqshook.WithDeadLetter(func(sqshook.DeadLetter) {
			reported.Add(1)
			time.Sleep(200 * time.Microsecond) // a callback that takes a little time
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				_ = d.Publish(ctx, sqshook.Event{Type: "message.new", Body: []byte(`{}`)})
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	for i := 0; i < 5; i++ {
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		start := time.Now()
		err := d.Flush(fctx)
		cancel()
		if err != nil {
			t.Fatalf("Flush %d under continuous dead letters: %v after %v (%d reported)", i, err, time.Since(start), reported.Load())
		}
	}
	stop()
	wg.Wait()
}

// After BatchRequestTooLong lowered a hook's batch limit, the limit grows
// back once the server accepts larger batches again.
func TestBatchLimitGrowsBackAfterSplits(t *testing.T) {
	fake := newFake()
	var mu sync.Mutex
	serverLimit := 8 * 1024
	var sizes []int // entries per accepted call
	fake.respond = func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		total := 0
		for _, e := range in.Entries {
			total += len(aws.ToString(e.MessageBody))
		}
		mu.Lock()
		defer mu.Unlock()
		if total > serverLimit {
			return nil, apiError("BatchRequestTooLong", 400)
		}
		sizes = append(sizes, len(in.Entries))
		return okAll(in), nil
	}
	d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")}, sqshook.WithLinger(time.Second), sqshook.WithMaxInFlight(1))
	publish := func(n int) {
		for i := 0; i < n; i++ {
			ev := sqshook.Event{Type: "message.new", Body: []byte(fmt.Sprintf(`{"i":%d,"text":%q}`, i, strings.Repeat("x", 1500)))}
			if err := d.Publish(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
		}
		flush(t, d)
	}
	publish(100) // the server takes 5 entries of 1.5 KB: batches shrink
	mu.Lock()
	serverLimit = 1 << 20 // the server's limit is raised
	sizes = nil
	mu.Unlock()
	publish(2000)
	mu.Lock()
	defer mu.Unlock()
	if top := slices.Max(sizes[len(sizes)-10:]); top != sqshook.MaxBatchEntries {
		t.Errorf("the last batches carry at most %d entries, want %d again (sizes %v)", top, sqshook.MaxBatchEntries, sizes[len(sizes)-10:])
	}
	checkAccounting(t, d, true)
	if n := len(dls.list()); n != 0 {
		t.Errorf("%d dead letters", n)
	}
}

// A slow client factory (such as loading the server's AWS configuration)
// does not hold the dispatcher's lock: Stats and Hooks answer meanwhile.
func TestSetHooksBuildsClientsOutsideTheLock(t *testing.T) {
	fake := newFake()
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	d, _ := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("a", "a")},
		sqshook.WithClientFunc(func(_ context.Context, h sqshook.Hook) (sqshook.SQSAPI, error) {
			if h.ID == "slow" {
				entered <- struct{}{}
				<-release
			}
			return fake, nil
		}))
	done := make(chan error, 1)
	go func() { done <- d.SetHooks([]sqshook.Hook{hookFor("a", "a"), hookFor("slow", "slow")}) }()
	<-entered
	statsDone := make(chan struct{})
	go func() {
		d.Stats()
		d.Hooks()
		close(statsDone)
	}()
	select {
	case <-statsDone:
	case <-time.After(2 * time.Second):
		t.Error("Stats and Hooks blocked while SetHooks built a client")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := len(d.Hooks()); got != 2 {
		t.Errorf("%d hooks after SetHooks, want 2", got)
	}
	<-statsDone
}

// A Publish waiting for room in a hook's pipeline must not stay blocked
// behind that pipeline once SetHooks has replaced it (the copy belongs to
// the new pipeline) or once Close has begun (Publish returns ErrClosed).
func TestPublishWaitingForRoomIsReleased(t *testing.T) {
	setup := func(t *testing.T) (*sqshook.Dispatcher, *fakeSQS, chan error) {
		fake := newFake()
		block := make(chan struct{})
		fake.block = block // every call hangs (until canceled) while set
		d, _ := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "old")},
			sqshook.WithMaxBuffered(1, 0), sqshook.WithLinger(0), sqshook.WithOverflowWait(time.Hour))
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
func TestCloseIdleWithExpiredContext(t *testing.T) {
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
func TestSetHooksChurnLosesNothing(t *testing.T) {
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
func TestCloseAbortRacesEverything(t *testing.T) {
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

// A "role" hook whose sqs_role_arn changes (same id) must get a new
// pipeline and client: otherwise it keeps sending with the old role's
// credentials.
func TestSetHooksRoleARNChangeRebuildsClient(t *testing.T) {
	fakes := map[string]*fakeSQS{}
	var mu sync.Mutex
	fakeFor := func(arn string) *fakeSQS {
		mu.Lock()
		defer mu.Unlock()
		if fakes[arn] == nil {
			fakes[arn] = newFake()
		}
		return fakes[arn]
	}
	const roleA = "arn:aws:iam::123456789012:role/sender-a"
	const roleB = "arn:aws:iam::123456789012:role/sender-b"
	hook := func(arn string) sqshook.Hook {
		h := hookFor("h", "q")
		h.SQSAuthType, h.SQSRoleARN = sqshook.AuthRole, arn
		return h
	}
	d, _ := newTestDispatcher(t, nil, []sqshook.Hook{hook(roleA)},
		sqshook.WithExternalID("tenant-1"),
		sqshook.WithClientFunc(func(_ context.Context, h sqshook.Hook) (sqshook.SQSAPI, error) {
			return fakeFor(h.SQSRoleARN), nil
		}))
	if err := d.SetHooks([]sqshook.Hook{hook(roleB)}); err != nil {
		t.Fatal(err)
	}
	if got := d.Hooks()[0].SQSRoleARN; got != roleB {
		t.Fatalf("Hooks() role = %s, want %s", got, roleB)
	}
	if err := d.Publish(context.Background(), event(t, "message.new", 1)); err != nil {
		t.Fatal(err)
	}
	flush(t, d)
	if n := fakeFor(roleA).callCount(); n != 0 {
		t.Errorf("%d calls sent with the old role %s after SetHooks changed it to %s", n, roleA, roleB)
	}
	if n := fakeFor(roleB).callCount(); n != 1 {
		t.Errorf("%d calls sent with the new role, want 1", n)
	}
}

// panicHandler is a slog handler that panics on every record.
type panicHandler struct{}

func (panicHandler) Enabled(context.Context, slog.Level) bool { return true }

func (panicHandler) Handle(context.Context, slog.Record) error { panic("handler exploded") }

func (h panicHandler) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h panicHandler) WithGroup(string) slog.Handler { return h }

// User code that panics — the dead-letter callback, the logger — neither
// takes the dispatcher down nor loses an event's accounting.
func TestCallbackPanicsAreRecovered(t *testing.T) {
	for _, c := range []struct {
		name string
		opt  sqshook.Option
	}{
		{"dead-letter callback", sqshook.WithDeadLetter(func(sqshook.DeadLetter) { panic("callback exploded") })},
		{"logger", sqshook.WithLogger(slog.New(panicHandler{}))},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := newFake()
			fake.respond = func(int, *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
				return nil, apiError("AccessDenied", 403)
			}
			d, err := sqshook.New([]sqshook.Hook{hookFor("h", "q")},
				sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) { return fake, nil }),
				sqshook.WithLinger(0), c.opt)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for i := 0; i < 25; i++ {
				if err := d.Publish(ctx, sqshook.Event{Type: "message.new", Body: []byte(`{}`)}); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			st := checkAccounting(t, d, true)
			if h, _ := st.Hook("h"); h.DeadLettered != 25 || st.CallbackPanics < 25 {
				t.Errorf("dead-lettered %d, callback panics %d; want 25 and at least 25", h.DeadLettered, st.CallbackPanics)
			}
			if err := d.Close(ctx); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

// SetHooks builds the clients of new hooks concurrently, and a failure is
// reported for the first failing hook in list order, whichever call fails
// first; the dispatcher keeps its previous hooks.
func TestSetHooksBuildsClientsConcurrently(t *testing.T) {
	fake := newFake()
	lastCalled := make(chan struct{})
	d, err := sqshook.New(nil, sqshook.WithClientFunc(func(_ context.Context, h sqshook.Hook) (sqshook.SQSAPI, error) {
		switch h.ID {
		case "b":
			<-lastCalled // returns only once "d" is being built: the builds overlap
			return nil, errors.New("b refused")
		case "d":
			close(lastCalled)
			return nil, errors.New("d refused")
		}
		return fake, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	err = d.SetHooks([]sqshook.Hook{hookFor("a", "qa"), hookFor("b", "qb"), hookFor("c", "qc"), hookFor("d", "qd")})
	if err == nil || !strings.Contains(err.Error(), `hook "b"`) || !strings.Contains(err.Error(), "b refused") {
		t.Fatalf("SetHooks error = %v, want the error of hook \"b\" (the first failing hook in list order)", err)
	}
	if got := len(d.Hooks()); got != 0 {
		t.Errorf("after a failed SetHooks the dispatcher has %d hooks, want 0", got)
	}
}
