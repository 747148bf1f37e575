package sqshook_test

// Fault scenarios against sqstest: the dispatcher, the real SDK client and
// an SQS endpoint that misbehaves on purpose (the conformance suite). Every
// scenario checks the accounting invariant (sampled all along, and pending
// = 0 at the end); that every event acknowledged to us is in the server's
// record, byte for byte; that duplicates occur only where outcomes are
// ambiguous, each with the same event id; the dead letters' reasons and
// codes; and, sampling Stats during the run, that no hook buffers more
// bytes than its bound. TestMain checks for leaked goroutines. The
// multi-hook scenarios use the fleet harness of scenario_soak_test.go.

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

// fastRetries retries within milliseconds so scenarios take no real time.
var fastRetries = sqshook.RetryPolicy{InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond, MaxElapsedTime: 30 * time.Second}

// scenarioMaxBytes is the bytes bound (WithMaxBuffered) of a scenario that
// does not pick its own; its sampler checks it all along.
const scenarioMaxBytes = 1 << 20

type scenario struct {
	t   *testing.T
	srv *sqstest.Server
	d   *sqshook.Dispatcher
	dls *deadLetters
	url string
	// sent maps a key to the body published: the event id, or for events
	// published without an id (the dispatcher assigns one) a key marked in
	// auto. Bodies are unique, so settle finds events by body.
	sent map[string]string
	auto map[string]bool
	// ambiguous marks a scenario whose faults lose acknowledgements
	// (responses slower than the call timeout, connections dropped): there,
	// and only there, an event may reach the queue more than once.
	ambiguous bool
	samp      *sampler
	maxBytes  int
}

func newScenario(t *testing.T, srvOpts []sqstest.Option, opts ...sqshook.Option) *scenario {
	t.Helper()
	return newBoundedScenario(t, scenarioMaxBytes, srvOpts, opts...)
}

// newBoundedScenario is newScenario with a bound on the message bytes the
// hook may hold, which the scenario's sampler checks.
func newBoundedScenario(t *testing.T, maxBytes int, srvOpts []sqstest.Option, opts ...sqshook.Option) *scenario {
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
		sqshook.WithOverflowWait(time.Hour), // back-pressure: the scenarios check the bound on what a hook holds
		sqshook.WithEndpoint(srv.URL()),
		sqshook.WithDeadLetter(dls.add),
		sqshook.WithRetryPolicy(fastRetries),
		sqshook.WithLinger(time.Millisecond),
		sqshook.WithMaxBuffered(0, maxBytes),
	}
	d := startDispatcher(t, []sqshook.Hook{h}, append(base, opts...)...)
	return &scenario{
		t: t, srv: srv, d: d, dls: dls, url: url, sent: map[string]string{}, auto: map[string]bool{},
		samp: startSampler(t, d, maxBytes), maxBytes: maxBytes,
	}
}

// publish publishes n chat events with unique bodies; every other one
// without an id, so that the dispatcher's own ids are checked too.
func (s *scenario) publish(n int) {
	s.t.Helper()
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("ev-%d-%d", len(s.sent), i)
		body := chatEventJSON(s.t, "message.new", key)
		ev := sqshook.Event{Type: "message.new", Body: body}
		if i%2 == 0 {
			ev.ID = key
		} else {
			s.auto[key] = true
		}
		if err := s.d.Publish(context.Background(), ev); err != nil {
			s.t.Fatalf("Publish: %v", err)
		}
		s.sent[key] = string(body)
	}
}

// settle flushes, checks accounting, and compares the server's record with
// what was published: every event is in the queue with its body byte for
// byte, or dead-lettered once; every copy of an event (a duplicate, or its
// dead letter) carries the same event id; duplicates only in ambiguous
// scenarios; the hook's counters match the record. It returns how many
// events arrived and how many extra copies (duplicates) there were, and
// logs the scenario's figures.
func (s *scenario) settle() (arrived, duplicates int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.d.Flush(ctx); err != nil {
		s.t.Fatalf("Flush: %v", err)
	}
	checkAccounting(s.t, s.d, true)
	byBody := make(map[string]string, len(s.sent))
	for key, body := range s.sent {
		if other, ok := byBody[body]; ok {
			s.t.Fatalf("test bug: events %s and %s have the same body", key, other)
		}
		byBody[body] = key
	}
	ids := map[string]string{} // key → event id of the first copy seen
	checkID := func(key, id, where string) {
		s.t.Helper()
		if !s.auto[key] {
			if id != key {
				s.t.Errorf("%s: event %s carries event id %q", where, key, id)
			}
			return
		}
		if id == "" {
			s.t.Errorf("%s: event %s carries no event id", where, key)
		}
		if first, ok := ids[key]; ok && first != id {
			s.t.Errorf("%s: a copy of event %s carries event id %q, another %q", where, key, id, first)
		}
		ids[key] = id
	}
	seen := map[string]int{}
	for _, m := range s.srv.Received(s.url) {
		key, ok := byBody[m.Body]
		if !ok {
			s.t.Errorf("server holds a message (event id %q) whose body is not one we published: altered or unknown", m.Attributes[sqshook.AttrEventID].StringValue)
			continue
		}
		checkID(key, m.Attributes[sqshook.AttrEventID].StringValue, "queue")
		seen[key]++
	}
	dead := map[string]int{}
	dls := s.dls.list()
	for _, dl := range dls {
		key, ok := byBody[string(dl.Event.Body)]
		if !ok {
			s.t.Errorf("dead letter for an event we never published: %s", dl.Event.ID)
			continue
		}
		checkID(key, dl.Event.ID, "dead letter")
		dead[key]++
	}
	for key := range s.sent {
		switch {
		case dead[key] > 1:
			s.t.Errorf("event %s dead-lettered %d times", key, dead[key])
		case seen[key] == 0 && dead[key] == 0:
			s.t.Errorf("event %s neither delivered nor dead-lettered", key)
		case seen[key] > 0 && dead[key] > 0 && !s.ambiguous:
			s.t.Errorf("event %s dead-lettered, yet the queue stored it", key)
		}
		if seen[key] > 0 {
			arrived++
			duplicates += seen[key] - 1
		}
	}
	if duplicates > 0 && !s.ambiguous {
		s.t.Errorf("%d duplicates in a scenario without ambiguous outcomes", duplicates)
	}
	h := s.hookStats()
	if h.Matched != uint64(len(s.sent)) || h.DeadLettered != uint64(len(dls)) || h.Delivered != uint64(len(s.sent)-len(dls)) {
		s.t.Errorf("stats matched %d, delivered %d, dead-lettered %d; published %d with %d dead letters", h.Matched, h.Delivered, h.DeadLettered, len(s.sent), len(dls))
	}
	s.report(arrived, duplicates)
	return arrived, duplicates
}

// report logs a scenario's figures: retry amplification, memory, duplicates.
func (s *scenario) report(arrived, duplicates int) {
	s.t.Helper()
	h := s.hookStats()
	c := s.srv.Calls()
	calls := c.Calls["SendMessageBatch"]
	s.t.Logf("figures: %d events, %d arrived, %d duplicates, dead letters %v; %d SendMessageBatch calls for %d processed batches (%s calls per delivered batch), %d entry retries; peak buffered %d of %d bytes, peak pending %d (%d samples); injected %v",
		len(s.sent), arrived, duplicates, s.dls.byReason(), calls, c.Batches, perBatch(calls, c.Batches), h.Retries,
		s.samp.peakBytes.Load(), s.maxBytes, s.samp.peakPending.Load(), s.samp.samples.Load(), c.Injected)
}

func perBatch(calls, batches int) string {
	if batches == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", float64(calls)/float64(batches))
}

func (s *scenario) hookStats() sqshook.HookStats {
	h, _ := s.d.Stats().Hook(s.d.Hooks()[0].ID)
	return h
}

// sampler reads Stats in the background while a scenario runs: it checks
// the accounting invariant at every sample and the bytes each hook holds
// against the configured bound, and keeps the peaks.
type sampler struct {
	t        testing.TB
	d        *sqshook.Dispatcher
	maxBytes int

	peakBytes, peakPending, samples atomic.Int64
	badInvariant, badBytes          atomic.Bool
	stop, done                      chan struct{}
	once                            sync.Once
}

func startSampler(t testing.TB, d *sqshook.Dispatcher, maxBytes int) *sampler {
	s := &sampler{t: t, d: d, maxBytes: maxBytes, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(250 * time.Microsecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
				s.sample()
			}
		}
	}()
	t.Cleanup(s.halt)
	return s
}

func (s *sampler) sample() {
	s.samples.Add(1)
	for _, h := range s.d.Stats().Hooks {
		if (h.Matched != h.Delivered+h.DeadLettered+h.Pending || h.Pending != uint64(h.Queued+h.InFlight+h.Retrying)) && s.badInvariant.CompareAndSwap(false, true) {
			s.t.Errorf("sampled hook %s: matched %d, delivered %d, dead-lettered %d, pending %d (queued %d, in flight %d, retrying %d): accounting broken",
				h.HookID, h.Matched, h.Delivered, h.DeadLettered, h.Pending, h.Queued, h.InFlight, h.Retrying)
		}
		if h.BufferedBytes > s.maxBytes && s.badBytes.CompareAndSwap(false, true) {
			s.t.Errorf("sampled hook %s: %d bytes buffered, bound %d", h.HookID, h.BufferedBytes, s.maxBytes)
		}
		storeMax(&s.peakBytes, int64(h.BufferedBytes))
		storeMax(&s.peakPending, int64(h.Pending))
	}
}

// halt stops sampling; it takes a last sample.
func (s *sampler) halt() {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		s.sample()
	})
}

func storeMax(a *atomic.Int64, v int64) {
	for m := a.Load(); v > m && !a.CompareAndSwap(m, v); m = a.Load() {
	}
}

func TestFaultSteadyLoad(t *testing.T) {
	s := newScenario(t, nil)
	s.publish(500)
	if arrived, dup := s.settle(); arrived != 500 || dup != 0 || len(s.dls.list()) != 0 {
		t.Errorf("arrived %d, duplicates %d, dead letters %d; want 500, 0, 0", arrived, dup, len(s.dls.list()))
	}
	// Without faults every call is a delivered batch: no retry at all.
	if c, h := s.srv.Calls(), s.hookStats(); c.Calls["SendMessageBatch"] != c.Batches || h.Retries != 0 {
		t.Errorf("%d calls for %d batches, %d retries without any fault; want one call per batch, 0 retries", c.Calls["SendMessageBatch"], c.Batches, h.Retries)
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
	// Only the slow case shortens the call timeout, and its fault waits far
	// longer than that timeout (the wait ends when the client gives up): on
	// a busy machine an ordinary call may take longer than a short timeout,
	// and a timed-out call that the server went on to process is a duplicate.
	// The drop cases keep the default timeout, so no ordinary call times out
	// and a drop before processing can only ever be resent once.
	for _, tt := range []struct {
		name    string
		fault   sqstest.Fault
		timeout time.Duration
	}{
		{"slower than the call timeout", sqstest.Fault{Op: "SendMessageBatch", Latency: 10 * time.Minute, Times: 2}, time.Second},
		{"connection reset before processing", sqstest.Fault{Op: "SendMessageBatch", Drop: sqstest.DropBeforeProcessing, Times: 3}, 0},
		{"connection reset after processing", sqstest.Fault{Op: "SendMessageBatch", Drop: sqstest.DropAfterProcessing, Times: 3}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var opts []sqshook.Option
			if tt.timeout > 0 {
				opts = append(opts, sqshook.WithCallTimeout(tt.timeout))
			}
			s := newScenario(t, nil, opts...)
			s.ambiguous = true
			s.srv.AddFault(tt.fault)
			s.publish(100)
			arrived, dup := s.settle()
			if inj := s.srv.Calls().Injected; inj["Latency"]+inj["DropBeforeProcessing"]+inj["DropAfterProcessing"] != tt.fault.Times {
				t.Errorf("faults injected %v; want all %d to have fired", inj, tt.fault.Times)
			}
			t.Logf("arrived %d, duplicates %d (ambiguous outcomes resent with the same event id)", arrived, dup)
			if arrived != 100 || len(s.dls.list()) != 0 {
				t.Errorf("arrived %d, dead %d; want 100, 0 (never lost)", arrived, len(s.dls.list()))
			}
			if tt.fault.Drop == sqstest.DropBeforeProcessing && dup != 0 {
				t.Errorf("%d duplicates after drops before processing; want 0", dup)
			}
			if tt.fault.Drop == sqstest.DropAfterProcessing && dup == 0 {
				t.Errorf("no duplicates after drops after processing; want the dropped batches resent")
			}
		})
	}
}

// TestFaultHangingEndpoint: the endpoint accepts calls and never answers
// them (a black-holed VPC endpoint, a firewall). Once the hook's calls have
// gone unanswered for its slow-call bound, long before their call timeout,
// the hook is failing and starts no further call though events keep coming
// and its in-flight limit has room: each call would hold one more
// connection until it times out. The hanging calls time out and are
// retried (nothing was stored: no duplicates), and once the endpoint
// answers again a probe succeeds and every event arrives.
func TestFaultHangingEndpoint(t *testing.T) {
	s := newScenario(t, nil, sqshook.WithSlowCall(20*time.Millisecond), sqshook.WithCallTimeout(3*time.Second),
		sqshook.WithFailingRule(0, 0, 20*time.Millisecond))
	stop := s.srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Hang: true})
	s.publish(10) // at most 10 calls: the limit (16) has room
	waitFor(t, "the hook failing", time.Minute, func() bool { return s.hookStats().Health == sqshook.HealthFailing })
	h := s.hookStats()
	held := s.srv.Calls().Injected["Hang"]
	t.Logf("failing with %d calls held (%d entries in flight): %s", held, h.InFlight, h.HealthCause)
	if !strings.Contains(h.HealthCause, "no answer") {
		t.Errorf("health cause %q, want the calls without an answer", h.HealthCause)
	}
	s.publish(40)
	if h2 := s.hookStats(); h2.InFlight > h.InFlight {
		t.Errorf("a hook whose calls hang started more: %d entries in flight, then %d", h.InFlight, h2.InFlight)
	}
	stop()
	arrived, dup := s.settle()
	if arrived != 50 || dup != 0 || len(s.dls.list()) != 0 {
		t.Errorf("arrived %d, duplicates %d, dead %d; want 50, 0, 0", arrived, dup, len(s.dls.list()))
	}
	if m := s.srv.Calls().MaxHeld; m > held {
		t.Errorf("%d calls held at once, more than the %d out when the hook became failing", m, held)
	}
	if h := s.hookStats(); h.Health != sqshook.HealthOK {
		t.Errorf("after delivery: health %q, want ok", h.Health)
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
	// Bounded in events (60) and in bytes (48 KiB, about 47 events of this
	// size); the sampler checks the bytes all along.
	s := newBoundedScenario(t, 48<<10, nil,
		sqshook.WithRetryPolicy(sqshook.RetryPolicy{InitialInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond, MaxElapsedTime: 50 * time.Millisecond}),
		sqshook.WithMaxBuffered(60, 0), sqshook.WithMaxMessageBytes(16<<10))
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
			t.Logf("%d calls for 50 events against a broken queue (%s), %d entry retries", calls, tt.code, s.hookStats().Retries)
			if calls > 10 || s.hookStats().Retries != 0 {
				t.Errorf("%d calls, %d retries for 50 events against a broken queue; want no retries (<= 10 calls)", calls, s.hookStats().Retries)
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
	if got := s.dls.byReason(); got[sqshook.ReasonShutdown] != 80 || len(s.dls.list()) != 80 {
		t.Errorf("dead letters %v; want 80 shutdown", got)
	}
	if n := s.srv.Count(s.url); n != 0 {
		t.Errorf("%d messages stored during the outage", n)
	}
	t.Logf("Close gave up after %v; peak buffered %d of %d bytes", time.Since(start), s.samp.peakBytes.Load(), s.maxBytes)
	if err := s.d.Publish(context.Background(), event(t, "message.new", 1)); err != sqshook.ErrClosed {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
}

// Every entry of some batches fails by the sender's fault: those events are
// dead-lettered at once (rejected, with SQS's code, never retried); the
// others are delivered.
func TestFaultSenderFaultEntries(t *testing.T) {
	s := newScenario(t, nil)
	s.srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Times: 3, FailEntries: func(int, string) *sqstest.EntryFailure {
		return &sqstest.EntryFailure{Code: "InvalidParameterValue", Message: "Value for parameter MessageBody is invalid.", SenderFault: true}
	}})
	s.publish(100)
	arrived, _ := s.settle()
	failed := s.srv.Calls().EntriesFailed
	got := s.dls.list()
	if failed == 0 || len(got) != failed || arrived != 100-failed {
		t.Fatalf("%d entries failed, %d dead letters, %d arrived; want every failed entry dead-lettered and the other %d arrived", failed, len(got), arrived, 100-failed)
	}
	for _, dl := range got {
		var de *sqshook.DeliveryError
		if dl.Reason != sqshook.ReasonRejected || dl.Code != "InvalidParameterValue" || !dl.SenderFault || dl.Attempts != 1 ||
			!strings.Contains(dl.Message, "MessageBody is invalid") || !errors.As(dl.Err, &de) || de.Reason != sqshook.ReasonRejected || de.Code != dl.Code {
			t.Fatalf("dead letter %s %q sender fault %t after %d attempts (%q, %v); want rejected InvalidParameterValue, sender fault, after 1 attempt, with SQS's message",
				dl.Reason, dl.Code, dl.SenderFault, dl.Attempts, dl.Message, dl.Err)
		}
	}
	if h := s.hookStats(); h.Retries != 0 {
		t.Errorf("%d retries; entries failed by the sender's fault are not retried", h.Retries)
	}
}

// A 100% outage of two real seconds while events keep coming: the hook
// fills to its byte bound, Publish waits for room, and once SQS is back
// everything is delivered, once; nothing is stored during the outage and
// nothing is dead-lettered.
func TestFaultOutageSeconds(t *testing.T) {
	const outage = 2 * time.Second
	s := newBoundedScenario(t, 64<<10, nil, sqshook.WithMaxMessageBytes(16<<10),
		sqshook.WithRetryPolicy(sqshook.RetryPolicy{InitialInterval: 5 * time.Millisecond, MaxInterval: 100 * time.Millisecond, MaxElapsedTime: 30 * time.Second}))
	start := time.Now()
	s.srv.Outage(outage)
	s.publish(300) // about 300 KB: more than the hook may hold
	published := time.Since(start)
	arrived, dup := s.settle()
	if arrived != 300 || dup != 0 || len(s.dls.list()) != 0 {
		t.Errorf("after recovery: arrived %d, duplicates %d, dead letters %v; want 300, 0, none", arrived, dup, s.dls.byReason())
	}
	for _, m := range s.srv.Received(s.url) {
		if m.ReceivedAt.Before(start.Add(outage)) {
			t.Fatalf("message stored %v into a %v outage", m.ReceivedAt.Sub(start), outage)
		}
	}
	if s.srv.Calls().Injected["Outage"] == 0 {
		t.Errorf("no call met the outage")
	}
	if s.samp.peakBytes.Load() == 0 {
		t.Errorf("the sampler saw nothing buffered")
	}
	t.Logf("outage %v: publishing 300 events took %v (waiting for room), all delivered %v after the start", outage, published.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// SetHooks replaces (new filter, new credentials), adds and removes hooks
// while publishers run against sqstest with some throttling. Every copy a
// hook had to take under a configuration in force throughout its Publish
// is in that hook's queue, byte for byte, exactly once; nothing reaches a
// hook that did not match; nothing is dead-lettered.
func TestFaultSetHooksUnderLoad(t *testing.T) {
	f := newFleet(t, sqstest.WithSeed(11))
	for _, id := range []string{"all", "messages", "reactions", "extra"} {
		f.queue(id, false)
	}
	f.queue("moderation", true)
	all := f.hook("all", "s1")
	msgs := f.hook("messages", "s1", "message.*")
	msgs2 := f.hook("messages", "s1", "message.*", "channel.*")
	msgs3 := f.hook("messages", "s2", "message.*", "channel.*")
	reactions := f.hook("reactions", "s1", "reaction.*")
	extra := f.hook("extra", "s1", "user.*", "message.new")
	moderation := f.hook("moderation", "s1", "user.banned", "message.flagged")
	configs := [][]sqshook.Hook{
		{all, msgs, reactions},                     // the start
		{all, msgs2, reactions},                    // replace: new filter
		{all, msgs2, reactions, extra},             // add
		{all, msgs2, extra},                        // remove
		{all, msgs3, extra, reactions},             // replace: new credentials; add back
		{all, msgs3, extra, reactions, moderation}, // add a FIFO hook
		{all, moderation},                          // remove three
	}
	f.start(configs[0], 0, 256<<10)
	f.srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Code: "RequestThrottled", Probability: 0.1})
	types := []string{"message.new", "reaction.new", "channel.updated", "user.banned", "message.flagged"}
	var pubs sync.WaitGroup
	var done atomic.Bool // the changer went through every configuration twice
	for p := 0; p < 4; p++ {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			for i := 0; i < 300 || !done.Load(); i++ {
				typ := types[(p+i)%len(types)]
				ev := sqshook.Event{Type: typ, Body: fleetBody(typ, fmt.Sprintf("p%d-%d", p, i), i%7, 100)}
				if i%2 == 0 {
					ev.ID = fmt.Sprintf("sh-%d-%d", p, i)
				}
				if err := f.publish(context.Background(), ev, false); err != nil {
					t.Errorf("Publish: %v", err)
				}
			}
		}()
	}
	changes := 0
	for i := 1; i <= 2*len(configs); i++ {
		if err := f.setHooks(configs[i%len(configs)]); err != nil {
			t.Fatalf("SetHooks: %v", err)
		}
		changes++
		time.Sleep(10 * time.Millisecond)
	}
	done.Store(true)
	pubs.Wait()
	f.flush()
	rep := f.verify(false, nil)
	c := f.srv.Calls()
	t.Logf("%d SetHooks calls under load: %v; %d SendMessageBatch calls for %d processed batches (%s calls per delivered batch); peak buffered %d of %d bytes",
		changes, rep, c.Calls["SendMessageBatch"], c.Batches, perBatch(c.Calls["SendMessageBatch"], c.Batches), f.samp.peakBytes.Load(), f.maxBytes)
	if rep.stable == 0 || rep.required <= rep.stable {
		t.Errorf("%d SetHooks calls, %d of %d events under a stable configuration, %d copies required: the scenario did not exercise the changes", changes, rep.stable, rep.events, rep.required)
	}
}

// Many publishers and Flush calls at once (run it with -race): every Flush
// returns nil once the events published before it are settled, which the
// publisher then finds in the queue; at the end everything is accounted.
func TestFaultManyPublishersAndFlush(t *testing.T) {
	f := newFleet(t, sqstest.WithSeed(12))
	f.queue("all", false)
	f.queue("messages", false)
	f.start([]sqshook.Hook{f.hook("all", "s1"), f.hook("messages", "s1", "message.*")}, 200, 256<<10)
	f.srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Code: "RequestThrottled", Probability: 0.1})
	f.srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Code: "InternalError", Probability: 0.05})
	const publishers, each = 8, 200
	var pubs, flushes sync.WaitGroup
	var flushCalls atomic.Int64
	for p := 0; p < publishers; p++ {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			var mine [][32]byte
			for i := 0; i < each; i++ {
				typ := []string{"message.new", "reaction.new"}[i%2]
				ev := sqshook.Event{Type: typ, Body: fleetBody(typ, fmt.Sprintf("p%d-%d", p, i), p, 50)}
				if i%3 != 0 {
					ev.ID = fmt.Sprintf("mp-%d-%d", p, i)
				}
				// Every fifth with TryPublish, which dead-letters a copy
				// for a full hook (buffer_full) instead of waiting.
				err := f.publish(context.Background(), ev, i%5 == 0)
				switch {
				case err == nil:
					mine = append(mine, sha256.Sum256(ev.Body))
				case i%5 != 0 || !errors.Is(err, sqshook.ErrBufferFull):
					t.Errorf("Publish: %v", err)
				}
				if i%25 == 0 {
					flushes.Add(1)
					flushCalls.Add(1)
					go func() {
						defer flushes.Done()
						ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
						defer cancel()
						if err := f.d.Flush(ctx); err != nil {
							t.Errorf("concurrent Flush: %v", err)
						}
					}()
				}
				if i == each/2 {
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					err := f.d.Flush(ctx)
					cancel()
					flushCalls.Add(1)
					if err != nil {
						t.Errorf("Flush: %v", err)
						continue
					}
					stored := map[[32]byte]bool{}
					for _, m := range f.srv.Received(f.queues["all"]) {
						stored[sha256.Sum256([]byte(m.Body))] = true
					}
					missing := 0
					for _, sum := range mine {
						if !stored[sum] {
							missing++
						}
					}
					if missing > 0 {
						t.Errorf("publisher %d: Flush returned, yet %d of the %d events it published before are not in the queue", p, missing, len(mine))
					}
				}
			}
		}()
	}
	pubs.Wait()
	flushes.Wait()
	f.flush()
	rep := f.verify(false, func(dl sqshook.DeadLetter) string {
		if dl.Reason == sqshook.ReasonBufferFull && dl.Code == "" {
			return "" // TryPublish on a full hook
		}
		return "only buffer_full is expected"
	})
	c := f.srv.Calls()
	t.Logf("%d publishers, %d Flush calls: %v; %d SendMessageBatch calls for %d processed batches (%s calls per delivered batch); peak buffered %d of %d bytes, peak pending %d of 200",
		publishers, flushCalls.Load(), rep, c.Calls["SendMessageBatch"], c.Batches, perBatch(c.Calls["SendMessageBatch"], c.Batches), f.samp.peakBytes.Load(), f.maxBytes, f.samp.peakPending.Load())
	if rep.events != publishers*each || rep.required != publishers*each*3/2 {
		t.Errorf("%d events, %d copies required; want %d and %d", rep.events, rep.required, publishers*each, publishers*each*3/2)
	}
	if p := f.samp.peakPending.Load(); p > 200 {
		t.Errorf("a hook held %d events; bound 200", p)
	}
}

// Bad events are refused with a clear error, or dead-lettered with the
// right reason, hook by hook; the good events around them, sent in the same
// batch, are delivered untouched, and no batch entry fails at SQS.
func TestFaultBadEvents(t *testing.T) {
	const limit = 8 << 10
	for _, tc := range []struct {
		name string
		ev   sqshook.Event
		// invalid: Publish refuses the event (ErrInvalidEvent) and no hook
		// takes it. Otherwise reasons gives each hook's fate: the reason its
		// copy is dead-lettered with, "" for delivered.
		invalid bool
		reasons map[string]sqshook.Reason
		field   string // the *GuardError's field
		// orInvalid: refusing the event (invalid) is right too.
		orInvalid bool
	}{
		{name: "empty type", ev: sqshook.Event{Body: []byte(`{"type":"","cid":"messaging:bad"}`)}, invalid: true, field: "type"},
		{name: "empty body", ev: sqshook.Event{Type: "message.new"}, invalid: true, field: "body"},
		{name: "invalid JSON body", ev: sqshook.Event{Type: "message.new", Body: []byte(`{"cid":"messaging:bad","text":"unterminated`)},
			reasons: map[string]sqshook.Reason{"std": sqshook.ReasonInvalidContents, "fifo": sqshook.ReasonInvalidContents}, field: "body", orInvalid: true},
		{name: "invalid UTF-8", ev: sqshook.Event{Type: "message.new", Body: []byte("{\"cid\":\"messaging:bad\",\"text\":\"caf\xe9 \xff\"}")},
			reasons: map[string]sqshook.Reason{"std": sqshook.ReasonInvalidContents, "fifo": sqshook.ReasonInvalidContents}, field: "body"},
		{name: "body over the limit", ev: sqshook.Event{Type: "message.new", Body: []byte(`{"cid":"messaging:bad","text":"` + strings.Repeat("a", limit) + `"}`)},
			reasons: map[string]sqshook.Reason{"std": sqshook.ReasonTooLarge, "fifo": sqshook.ReasonTooLarge}, field: "message"},
		{name: "FIFO group id with a space", ev: sqshook.Event{Type: "message.new", Body: []byte(`{"cid":"messaging:bad","n":1}`), GroupID: "room 1"},
			reasons: map[string]sqshook.Reason{"std": "", "fifo": sqshook.ReasonInvalidField}, field: "MessageGroupId"},
		{name: "FIFO group id too long", ev: sqshook.Event{Type: "message.new", Body: []byte(`{"cid":"messaging:bad","n":2}`), GroupID: strings.Repeat("g", 129)},
			reasons: map[string]sqshook.Reason{"std": "", "fifo": sqshook.ReasonInvalidField}, field: "MessageGroupId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFleet(t)
			f.queue("std", false)
			f.queue("fifo", true)
			// An hour of linger: the good events and the bad one would
			// share a batch, sent by Flush.
			f.start([]sqshook.Hook{f.hook("std", "s1"), f.hook("fifo", "s1")}, 0, 64<<10,
				sqshook.WithLinger(time.Hour), sqshook.WithMaxMessageBytes(limit))
			good := func(i int) {
				t.Helper()
				ev := sqshook.Event{ID: fmt.Sprintf("good-%d", i), Type: "message.new", Body: fleetBody("message.new", fmt.Sprintf("good-%d", i), 1, 20)}
				if err := f.publish(context.Background(), ev, false); err != nil {
					t.Fatalf("Publish(good %d): %v", i, err)
				}
			}
			for i := 0; i < 4; i++ {
				good(i)
			}
			err := f.publish(context.Background(), tc.ev, false)
			refused := errors.Is(err, sqshook.ErrInvalidEvent)
			if refused { // it went nowhere: out of the ledger
				f.lmu.Lock()
				delete(f.ledger, sha256.Sum256(tc.ev.Body))
				f.lmu.Unlock()
			}
			for i := 4; i < 9; i++ {
				good(i)
			}
			f.flush()
			t.Logf("Publish(%s) = %v", tc.name, err)

			dls := f.dls.list()
			switch {
			case tc.invalid || tc.orInvalid && refused:
				if !refused || !strings.Contains(err.Error(), tc.field) {
					t.Errorf("Publish = %v; want ErrInvalidEvent naming %q", err, tc.field)
				}
				if len(dls) != 0 {
					t.Errorf("%d dead letters for an event Publish refused", len(dls))
				}
			case err == nil:
				t.Errorf("Publish(%s) = nil with %d dead letters: the event was taken as a good one; want ErrInvalidEvent, or each hook's copy dead-lettered (%v) on %s",
					tc.name, len(dls), tc.reasons, tc.field)
			default:
				want := 0
				for hook, reason := range tc.reasons {
					if reason == "" {
						continue
					}
					want++
					if !strings.Contains(err.Error(), fmt.Sprintf("hook %q", hook)) || !strings.Contains(err.Error(), string(reason)) {
						t.Errorf("Publish = %v; want an error naming hook %s and %s", err, hook, reason)
					}
					var ge *sqshook.GuardError
					if !errors.As(err, &ge) || ge.Reason != reason || ge.Field != tc.field {
						t.Errorf("Publish error %v; want a *GuardError %s on %s", err, reason, tc.field)
					}
					n := 0
					for _, dl := range dls {
						if dl.HookID != hook {
							continue
						}
						n++
						var de *sqshook.DeliveryError
						if dl.Reason != reason || dl.Attempts != 0 || dl.Event.ID == "" || string(dl.Event.Body) != string(tc.ev.Body) ||
							!errors.As(dl.Err, &de) || de.Reason != reason || !strings.Contains(dl.Message, tc.field) {
							t.Errorf("dead letter of hook %s: %s after %d attempts, id %q, message %q, err %v; want %s about %s, never sent",
								hook, dl.Reason, dl.Attempts, dl.Event.ID, dl.Message, dl.Err, reason, tc.field)
						}
					}
					if n != 1 {
						t.Errorf("hook %s: %d dead letters, want 1", hook, n)
					}
				}
				if len(dls) != want {
					t.Errorf("%d dead letters, want %d", len(dls), want)
				}
			}
			// The good events: each in both queues, once, byte for byte;
			// the bad one only where it is legal.
			rep := f.verify(false, func(dl sqshook.DeadLetter) string { return "" }) // checked above
			wantEvents, wantArrived := 9, 18
			if !refused {
				wantEvents++
				for _, reason := range tc.reasons {
					if reason == "" {
						wantArrived++
					}
				}
			}
			if rep.events != wantEvents || rep.required != 2*wantEvents || rep.arrived != wantArrived || rep.duplicates != 0 || rep.unaccounted != 0 {
				t.Errorf("%v; want %d events, %d copies arrived, once", rep, wantEvents, wantArrived)
			}
			for hook, url := range f.queues {
				for _, m := range f.srv.Received(url) {
					if m.Body != string(tc.ev.Body) {
						continue
					}
					if tc.invalid || tc.reasons[hook] != "" {
						t.Errorf("hook %s's queue holds the bad event", hook)
					}
				}
			}
			if c := f.srv.Calls(); c.EntriesFailed != 0 || c.Calls["SendMessageBatch"] != 2 {
				t.Errorf("%d SendMessageBatch calls, %d entries failed; want one batch per hook, none failed", c.Calls["SendMessageBatch"], c.EntriesFailed)
			}
			for _, h := range f.d.Stats().Hooks {
				wantMatched := uint64(9)
				if !tc.invalid && !(tc.orInvalid && refused) {
					wantMatched = 10
				}
				if h.Matched != wantMatched {
					t.Errorf("hook %s matched %d, want %d", h.HookID, h.Matched, wantMatched)
				}
			}
		})
	}
}
