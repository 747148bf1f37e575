package sqshook_test

// Fault scenarios against sqstest: the dispatcher, the real SDK client and
// an SQS endpoint that misbehaves on purpose. Every scenario checks the
// accounting invariant and that every event acknowledged to us is in the
// server's record, byte for byte.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

// fastRetries retries within milliseconds so scenarios take no real time.
var fastRetries = sqshook.RetryPolicy{InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond, MaxElapsedTime: 30 * time.Second}

type scenario struct {
	t    *testing.T
	srv  *sqstest.Server
	d    *sqshook.Dispatcher
	dls  *deadLetters
	url  string
	sent map[string]string // event id → body
}

func newScenario(t *testing.T, srvOpts []sqstest.Option, opts ...sqshook.Option) *scenario {
	t.Helper()
	srv := sqstest.NewServer(srvOpts...)
	t.Cleanup(srv.Close)
	url := srv.CreateQueue("events", nil)
	h := sqshook.Hook{
		Enabled: true, HookType: "sqs", SQSQueueURL: url, SQSRegion: "us-east-1",
		SQSAuthType: "keys", SQSKey: "AKIASQSTESTEXAMPLE00", SQSSecret: "sqstest-secret",
	}
	dls := &deadLetters{}
	base := []sqshook.Option{
		sqshook.WithEndpoint(srv.URL()),
		sqshook.WithDeadLetter(dls.add),
		sqshook.WithRetryPolicy(fastRetries),
		sqshook.WithLinger(time.Millisecond),
	}
	d, err := sqshook.New([]sqshook.Hook{h}, append(base, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = d.Close(ctx)
	})
	return &scenario{t: t, srv: srv, d: d, dls: dls, url: url, sent: map[string]string{}}
}

func (s *scenario) publish(n int) {
	s.t.Helper()
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("ev-%d-%d", len(s.sent), i)
		body := chatEventJSON(s.t, "message.new", id)
		if err := s.d.Publish(context.Background(), sqshook.Event{ID: id, Type: "message.new", Body: body}); err != nil {
			s.t.Fatalf("Publish: %v", err)
		}
		s.sent[id] = string(body)
	}
}

// settle flushes, checks accounting, and compares the server's record with
// what was published: returns how many events arrived and how many extra
// copies (duplicates) there were.
func (s *scenario) settle() (arrived, duplicates int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.d.Flush(ctx); err != nil {
		s.t.Fatalf("Flush: %v", err)
	}
	checkAccounting(s.t, s.d, true)
	seen := map[string]int{}
	for _, m := range s.srv.Received(s.url) {
		id := m.Attributes[sqshook.AttrEventID].StringValue
		want, ok := s.sent[id]
		if !ok {
			s.t.Errorf("server holds an event we never published: %q", id)
			continue
		}
		if m.Body != want {
			s.t.Errorf("event %s: body differs from what was published", id)
		}
		seen[id]++
	}
	dead := map[string]bool{}
	for _, dl := range s.dls.list() {
		dead[dl.Event.ID] = true
	}
	for id := range s.sent {
		switch {
		case seen[id] > 0:
			arrived++
			duplicates += seen[id] - 1
		case !dead[id]:
			s.t.Errorf("event %s neither delivered nor dead-lettered", id)
		}
	}
	h, _ := s.d.Stats().Hook(s.d.Hooks()[0].ID)
	if int(h.Delivered) > arrived+duplicates || int(h.Delivered) < arrived-duplicates {
		s.t.Errorf("stats delivered %d, server has %d events (+%d duplicates)", h.Delivered, arrived, duplicates)
	}
	return arrived, duplicates
}

func (s *scenario) hookStats() sqshook.HookStats {
	h, _ := s.d.Stats().Hook(s.d.Hooks()[0].ID)
	return h
}

func TestFaultSteadyLoad(t *testing.T) {
	s := newScenario(t, nil)
	s.publish(500)
	if arrived, dup := s.settle(); arrived != 500 || dup != 0 || len(s.dls.list()) != 0 {
		t.Errorf("arrived %d, duplicates %d, dead letters %d; want 500, 0, 0", arrived, dup, len(s.dls.list()))
	}
}

func TestFaultThrottlingStorm(t *testing.T) {
	s := newScenario(t, []sqstest.Option{sqstest.WithSeed(3)})
	s.srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Code: "RequestThrottled", Probability: 0.5})
	s.publish(400)
	arrived, dup := s.settle()
	if arrived != 400 || dup != 0 {
		t.Errorf("arrived %d, duplicates %d; want 400, 0", arrived, dup)
	}
	h := s.hookStats()
	calls := s.srv.Calls().Calls["SendMessageBatch"]
	accepted := s.srv.Calls().Batches
	amplification := float64(calls) / float64(accepted)
	t.Logf("throttling 50%%: %d calls for %d accepted batches (%.2f calls per delivered batch), %d entry retries", calls, accepted, amplification, h.Retries)
	// With half the calls throttled, the expected number of calls per
	// delivered batch is 2; the SDK adds none of its own.
	if amplification > 3 {
		t.Errorf("%.2f calls per delivered batch; want <= 3 (no retry multiplication)", amplification)
	}
}

func TestFaultServerErrorBursts(t *testing.T) {
	s := newScenario(t, nil)
	s.srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Code: "InternalError", Times: 5})
	s.srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Code: "ServiceUnavailable", Times: 5})
	s.publish(200)
	if arrived, dup := s.settle(); arrived != 200 || dup != 0 || len(s.dls.list()) != 0 {
		t.Errorf("arrived %d, duplicates %d, dead %d; want 200, 0, 0", arrived, dup, len(s.dls.list()))
	}
	if h := s.hookStats(); h.Retries == 0 || h.LastErrorCode == "" {
		t.Errorf("retries %d, last error %q; want the bursts to show", h.Retries, h.LastErrorCode)
	}
}

func TestFaultEveryEntryFailsThenSucceeds(t *testing.T) {
	s := newScenario(t, nil)
	s.srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Times: 4, FailEntries: func(int, string) *sqstest.EntryFailure {
		return &sqstest.EntryFailure{Code: "InternalError", Message: "try later", SenderFault: false}
	}})
	s.publish(100)
	if arrived, _ := s.settle(); arrived != 100 || len(s.dls.list()) != 0 {
		t.Errorf("arrived %d, dead %d; want 100, 0", arrived, len(s.dls.list()))
	}
}

func TestFaultSenderFaultsAndMixedCodes(t *testing.T) {
	s := newScenario(t, nil, sqshook.WithLinger(time.Hour))
	s.srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Times: 1, FailEntries: func(i int, _ string) *sqstest.EntryFailure {
		switch i {
		case 0:
			return &sqstest.EntryFailure{Code: "InvalidParameterValue", Message: "bad", SenderFault: true}
		case 1:
			return &sqstest.EntryFailure{Code: "KMS.ThrottlingException", Message: "slow", SenderFault: false}
		case 2:
			return &sqstest.EntryFailure{Code: "ServiceUnavailable", Message: "later", SenderFault: false}
		}
		return nil
	}})
	s.publish(10) // one batch: Flush sends it
	arrived, _ := s.settle()
	got := s.dls.list()
	if arrived != 9 || len(got) != 1 {
		t.Fatalf("arrived %d, dead letters %d; want 9, 1", arrived, len(got))
	}
	if dl := got[0]; dl.Reason != sqshook.ReasonRejected || dl.Code != "InvalidParameterValue" || !dl.SenderFault {
		t.Errorf("dead letter %+v; want rejected InvalidParameterValue sender fault", dl)
	}
}

func TestFaultSlowResponsesAndDrops(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault sqstest.Fault
	}{
		{"slower than the call timeout", sqstest.Fault{Op: "SendMessageBatch", Latency: 300 * time.Millisecond, Times: 2}},
		{"connection reset before processing", sqstest.Fault{Op: "SendMessageBatch", Drop: sqstest.DropBeforeProcessing, Times: 3}},
		{"connection reset after processing", sqstest.Fault{Op: "SendMessageBatch", Drop: sqstest.DropAfterProcessing, Times: 3}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newScenario(t, nil, sqshook.WithCallTimeout(100*time.Millisecond))
			s.srv.AddFault(tt.fault)
			s.publish(100)
			arrived, dup := s.settle()
			t.Logf("arrived %d, duplicates %d (ambiguous outcomes resent with the same event id)", arrived, dup)
			if arrived != 100 || len(s.dls.list()) != 0 {
				t.Errorf("arrived %d, dead %d; want 100, 0 (never lost)", arrived, len(s.dls.list()))
			}
			if tt.fault.Drop == sqstest.DropBeforeProcessing && dup != 0 {
				t.Errorf("%d duplicates after drops before processing; want 0", dup)
			}
		})
	}
}

func TestFaultSmallerServerBatchLimit(t *testing.T) {
	s := newScenario(t, []sqstest.Option{sqstest.WithMaxBatchBytes(8 * 1024)}, sqshook.WithMaxBatchBytes(sqshook.MaxBatchBytesLimit), sqshook.WithLinger(20*time.Millisecond))
	s.publish(200) // ~1.8 KB each: ten per batch is ~18 KB, over the server's 8 KiB
	arrived, dup := s.settle()
	if arrived != 200 || dup != 0 || len(s.dls.list()) != 0 {
		t.Errorf("arrived %d, duplicates %d, dead %d; want 200, 0, 0", arrived, dup, len(s.dls.list()))
	}
	if tooLong := s.hookStats().LastErrorCode; tooLong != "AWS.SimpleQueueService.BatchRequestTooLong" {
		t.Errorf("last error %q; want BatchRequestTooLong to have happened", tooLong)
	}
}

func TestFaultOutageThenRecovery(t *testing.T) {
	s := newScenario(t, nil)
	s.srv.SetOutage(true)
	s.publish(150)
	// Wait until the outage has been felt (retries scheduled), then recover.
	deadline := time.Now().Add(10 * time.Second)
	for s.hookStats().Retries < 50 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := s.srv.Count(s.url); got != 0 {
		t.Fatalf("%d messages stored during the outage", got)
	}
	s.srv.SetOutage(false)
	if arrived, dup := s.settle(); arrived != 150 || dup != 0 || len(s.dls.list()) != 0 {
		t.Errorf("after recovery: arrived %d, duplicates %d, dead %d; want 150, 0, 0", arrived, dup, len(s.dls.list()))
	}
}

func TestFaultOutageLongerThanRetryBudget(t *testing.T) {
	s := newScenario(t, nil,
		sqshook.WithRetryPolicy(sqshook.RetryPolicy{InitialInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond, MaxElapsedTime: 50 * time.Millisecond}),
		sqshook.WithMaxBuffered(60, 0))
	s.srv.SetOutage(true)
	maxHeld := 0
	for i := 0; i < 120; i++ {
		s.publish(1) // blocks while the hook holds 60: memory stays bounded
		if h := s.hookStats(); int(h.Pending) > maxHeld {
			maxHeld = int(h.Pending)
		}
	}
	arrived, _ := s.settle()
	if arrived != 0 {
		t.Errorf("%d events arrived during a total outage", arrived)
	}
	if got := s.dls.byReason(); got[sqshook.ReasonRetriesExhausted] != 120 {
		t.Errorf("dead letters %v; want 120 retries_exhausted", got)
	}
	if maxHeld > 60 {
		t.Errorf("held up to %d events; bound is 60", maxHeld)
	}
	for _, dl := range s.dls.list() {
		if dl.Code != "ServiceUnavailable" || dl.Attempts < 2 {
			t.Fatalf("dead letter code %q after %d attempts; want ServiceUnavailable after several", dl.Code, dl.Attempts)
		}
	}
}

func TestFaultQueueDeletedAndCredentialsRevoked(t *testing.T) {
	for _, tt := range []struct {
		name, code string
		setup      func(s *scenario)
	}{
		{"queue deleted", "AWS.SimpleQueueService.NonExistentQueue", func(s *scenario) { s.srv.DeleteQueue(s.url) }},
		{"access denied", "AccessDenied", func(s *scenario) { s.srv.AddFault(sqstest.Fault{Code: "AccessDenied"}) }},
		{"invalid token", "InvalidClientTokenId", func(s *scenario) { s.srv.AddFault(sqstest.Fault{Code: "InvalidClientTokenId"}) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newScenario(t, nil)
			s.publish(20)
			s.settle()
			tt.setup(s)
			before := s.srv.Calls().Calls["SendMessageBatch"]
			s.publish(50)
			flush(t, s.d)
			checkAccounting(t, s.d, true)
			calls := s.srv.Calls().Calls["SendMessageBatch"] - before
			got := s.dls.list()
			if len(got) != 50 {
				t.Fatalf("%d dead letters, want 50", len(got))
			}
			for _, dl := range got {
				if dl.Reason != sqshook.ReasonRejected || dl.Code != tt.code || dl.Attempts != 1 {
					t.Fatalf("dead letter reason %s code %s attempts %d; want rejected %s after 1", dl.Reason, dl.Code, dl.Attempts, tt.code)
				}
			}
			if calls > 10 {
				t.Errorf("%d calls for 50 events against a broken queue; want no retries (<= 10)", calls)
			}
		})
	}
}

func TestFaultCloseDuringOutage(t *testing.T) {
	s := newScenario(t, nil, sqshook.WithRetryPolicy(sqshook.RetryPolicy{InitialInterval: 5 * time.Millisecond, MaxInterval: 10 * time.Millisecond}))
	s.srv.SetOutage(true)
	s.publish(80)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.d.Close(ctx)
	if err == nil {
		t.Fatalf("Close during an outage returned nil; want the context's error")
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("Close took %v", el)
	}
	checkAccounting(t, s.d, true)
	if got := s.dls.byReason(); got[sqshook.ReasonShutdown] != 80 {
		t.Errorf("dead letters %v; want 80 shutdown", got)
	}
	if err := s.d.Publish(context.Background(), event(t, "message.new", 1)); err != sqshook.ErrClosed {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
}
