package sqshook_test

// The soak, and the fleet harness it shares with the multi-hook fault
// scenarios (SetHooks under load, many publishers with Flush): a
// dispatcher with several hooks, each on its own queue of one sqstest
// server, and a ledger of every event published and of the hook
// configuration that was in force throughout its Publish. At the end every
// copy a hook had to take is in that hook's queue, byte for byte, or
// dead-lettered by that hook; nothing else is anywhere.
//
// The soak runs a fixed number of events in normal runs (two rounds; a few
// seconds) and for a duration when SQSHOOK_SOAK is set (SQSHOOK_SOAK=5m).
// Its seed is random unless SQSHOOK_SOAK_SEED fixes it, and printed in the
// log of a failing run.

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

// fleet is a dispatcher with several hooks on one sqstest server, and the
// ledger of what was published to it.
type fleet struct {
	t        *testing.T
	srv      *sqstest.Server
	d        *sqshook.Dispatcher
	dls      *deadLetters
	samp     *sampler
	maxBytes int
	queues   map[string]string // hook id → queue URL; written before start only

	setMu   sync.Mutex    // serializes setHooks
	gen     atomic.Uint64 // 2 × the index of the configuration in force; odd while SetHooks runs
	cfgMu   sync.Mutex
	configs []fleetConfig

	lmu    sync.Mutex
	ledger map[[32]byte]*fleetEvent // by SHA-256 of the body; bodies are unique
}

// fleetConfig is one hook list given to the dispatcher: its enabled hooks.
type fleetConfig []fleetHook

type fleetHook struct {
	id     string
	filter sqshook.Filter
}

type fleetEvent struct {
	id    string // the id published; "" when the dispatcher assigned one
	typ   string
	cfg   int    // the configuration in force throughout Publish, or -1
	gotID string // the id the copies carry, learned from the first one
}

func newFleet(t *testing.T, srvOpts ...sqstest.Option) *fleet {
	srv := sqstest.NewServer(srvOpts...)
	t.Cleanup(srv.Close)
	return &fleet{t: t, srv: srv, dls: &deadLetters{}, queues: map[string]string{}, ledger: map[[32]byte]*fleetEvent{}}
}

// queue creates the queue of hook id (FIFO when fifo).
func (f *fleet) queue(id string, fifo bool) {
	name := id
	if fifo {
		name += ".fifo"
	}
	f.queues[id] = f.srv.CreateQueue(name, nil)
}

// hook returns hook id on its queue; the secret tells configurations of the
// same hook apart (a changed secret makes SetHooks build a new pipeline).
func (f *fleet) hook(id, secret string, types ...string) sqshook.Hook {
	url, ok := f.queues[id]
	if !ok {
		f.t.Fatalf("test bug: no queue for hook %s", id)
	}
	return sqshook.Hook{
		ID: id, Enabled: true, HookType: "sqs", SQSQueueURL: url, SQSRegion: "us-east-1",
		SQSAuthType: "keys", SQSKey: "AKIASQSTESTEXAMPLE00", SQSSecret: secret, EventTypes: types,
	}
}

// start creates the dispatcher: fast retries, 1 ms linger, each hook bounded
// to maxEvents (0: default) and maxBytes, which the sampler checks.
func (f *fleet) start(hooks []sqshook.Hook, maxEvents, maxBytes int, opts ...sqshook.Option) {
	f.t.Helper()
	base := []sqshook.Option{
		sqshook.WithOverflowWait(time.Hour), // back-pressure: the fleet checks the bound on what a hook holds
		sqshook.WithEndpoint(f.srv.URL()),
		sqshook.WithDeadLetter(f.dls.add),
		sqshook.WithRetryPolicy(fastRetries),
		sqshook.WithLinger(time.Millisecond),
		sqshook.WithMaxBuffered(maxEvents, maxBytes),
	}
	d, err := sqshook.New(hooks, append(base, opts...)...)
	if err != nil {
		f.t.Fatalf("New: %v", err)
	}
	f.d, f.maxBytes = d, maxBytes
	f.configs = []fleetConfig{f.config(hooks)}
	f.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = d.Close(ctx)
	})
	f.samp = startSampler(f.t, d, maxBytes)
}

func (f *fleet) config(hooks []sqshook.Hook) fleetConfig {
	var c fleetConfig
	for _, h := range hooks {
		if !h.Enabled {
			continue
		}
		flt, err := sqshook.CompileFilter(h.EventTypes)
		if err != nil {
			f.t.Fatalf("test bug: filter %v: %v", h.EventTypes, err)
		}
		c = append(c, fleetHook{id: h.ID, filter: flt})
	}
	return c
}

// setHooks gives the dispatcher a new hook list and records it.
func (f *fleet) setHooks(hooks []sqshook.Hook) error {
	f.setMu.Lock()
	defer f.setMu.Unlock()
	c := f.config(hooks)
	f.cfgMu.Lock()
	f.configs = append(f.configs, c)
	idx := len(f.configs) - 1
	f.cfgMu.Unlock()
	f.gen.Add(1) // odd: a Publish overlapping this call has no stable configuration
	err := f.d.SetHooks(hooks)
	if err != nil { // nothing changed
		f.cfgMu.Lock()
		f.configs[idx] = f.configs[idx-1]
		f.cfgMu.Unlock()
	}
	f.gen.Add(1) // == 2*idx
	return err
}

// publish publishes ev (TryPublish when try) and records it in the ledger,
// with the configuration that was in force throughout the call, if one was.
func (f *fleet) publish(ctx context.Context, ev sqshook.Event, try bool) error {
	g1 := f.gen.Load()
	var err error
	if try {
		err = f.d.TryPublish(ev)
	} else {
		err = f.d.Publish(ctx, ev)
	}
	g2 := f.gen.Load()
	cfg := -1
	if g1 == g2 && g1%2 == 0 && !errors.Is(err, sqshook.ErrClosed) {
		cfg = int(g1 / 2)
	}
	sum := sha256.Sum256(ev.Body)
	f.lmu.Lock()
	defer f.lmu.Unlock()
	if _, dup := f.ledger[sum]; dup {
		f.t.Errorf("test bug: two events with the body %s", ev.Body)
	}
	f.ledger[sum] = &fleetEvent{id: ev.ID, typ: ev.Type, cfg: cfg}
	return err
}

// flush waits for everything published to be delivered or dead-lettered,
// and checks that nothing is pending.
func (f *fleet) flush() {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := f.d.Flush(ctx); err != nil {
		f.t.Fatalf("Flush: %v (stats %+v)", err, f.d.Stats())
	}
	checkAccounting(f.t, f.d, true)
}

// fleetReport is what verify found.
type fleetReport struct {
	events      int // published
	stable      int // published under one configuration throughout
	required    int // copies the hooks had to take (of the stable events)
	arrived     int // distinct (event, hook) copies in the queues
	duplicates  int // extra copies in the queues
	deadLetters int
	unaccounted int
	byReason    map[sqshook.Reason]int
}

func (r fleetReport) String() string {
	return fmt.Sprintf("%d events (%d under a stable configuration, %d copies required), %d copies arrived, %d duplicates, %d dead letters %v, %d unaccounted",
		r.events, r.stable, r.required, r.arrived, r.duplicates, r.deadLetters, r.byReason, r.unaccounted)
}

// verify compares the ledger with the queues and the dead letters; call it
// when nothing is pending. Every message in a queue is an event published,
// byte for byte, with its event id and type; all copies of an event (in
// any queue, or dead letters) carry the same event id; every copy a hook
// had to take is in its queue or dead-lettered by it; a hook whose filter
// did not match holds no copy; an event reaches a queue more than once or
// is both stored and dead-lettered only when ambiguous; allow judges each
// dead letter ("" = acceptable).
func (f *fleet) verify(ambiguous bool, allow func(sqshook.DeadLetter) string) fleetReport {
	t := f.t
	t.Helper()
	errs := 0
	fail := func(format string, args ...any) {
		t.Helper()
		errs++
		switch {
		case errs <= 20:
			t.Errorf(format, args...)
		case errs == 21:
			t.Errorf("… and more")
		}
	}
	type copyKey struct {
		sum  [32]byte
		hook string
	}
	count := map[copyKey]int{}
	dead := map[copyKey]int{}
	rep := fleetReport{byReason: map[sqshook.Reason]int{}}
	f.lmu.Lock()
	defer f.lmu.Unlock()
	f.cfgMu.Lock()
	configs := slices.Clone(f.configs)
	f.cfgMu.Unlock()
	rep.events = len(f.ledger)
	checkID := func(ev *fleetEvent, id, where string) {
		t.Helper()
		if ev.id != "" {
			if id != ev.id {
				fail("%s: event %s carries event id %q", where, ev.id, id)
			}
			return
		}
		switch {
		case id == "":
			fail("%s: a copy carries no event id", where)
		case ev.gotID == "":
			ev.gotID = id
		case ev.gotID != id:
			fail("%s: copies of one event carry the event ids %q and %q", where, ev.gotID, id)
		}
	}
	for hook, url := range f.queues {
		for _, m := range f.srv.Received(url) {
			sum := sha256.Sum256([]byte(m.Body))
			ev := f.ledger[sum]
			if ev == nil {
				fail("queue of hook %s holds a message (event id %q) whose body is not one we published: altered or unknown", hook, m.Attributes[sqshook.AttrEventID].StringValue)
				continue
			}
			checkID(ev, m.Attributes[sqshook.AttrEventID].StringValue, "queue of hook "+hook)
			if typ := m.Attributes[sqshook.AttrEventType].StringValue; typ != ev.typ {
				fail("queue of hook %s: event of type %s carries event_type %q", hook, ev.typ, typ)
			}
			count[copyKey{sum, hook}]++
		}
	}
	for _, dl := range f.dls.list() {
		rep.deadLetters++
		rep.byReason[dl.Reason]++
		sum := sha256.Sum256(dl.Event.Body)
		ev := f.ledger[sum]
		if ev == nil {
			fail("dead letter (hook %s, %s) for an event we never published", dl.HookID, dl.Reason)
			continue
		}
		checkID(ev, dl.Event.ID, "dead letter of hook "+dl.HookID)
		dead[copyKey{sum, dl.HookID}]++
		if allow == nil {
			fail("unexpected dead letter: hook %s, event %s: %s %s %s", dl.HookID, dl.Event.ID, dl.Reason, dl.Code, dl.Message)
		} else if why := allow(dl); why != "" {
			fail("dead letter of hook %s, event %s (%s, code %q, sender fault %t, %d attempts): %s", dl.HookID, dl.Event.ID, dl.Reason, dl.Code, dl.SenderFault, dl.Attempts, why)
		}
	}
	for sum, ev := range f.ledger {
		if ev.cfg < 0 {
			continue
		}
		rep.stable++
		matched := map[string]bool{}
		for _, h := range configs[ev.cfg] {
			if h.filter.Match(ev.typ) {
				matched[h.id] = true
			}
		}
		for hook := range f.queues {
			k := copyKey{sum, hook}
			switch {
			case matched[hook]:
				rep.required++
				if count[k]+dead[k] == 0 {
					rep.unaccounted++
					fail("event %q (%s) for hook %s: neither delivered nor dead-lettered", cmp.Or(ev.id, ev.gotID, "with a dispatcher-assigned id"), ev.typ, hook)
				}
			case count[k]+dead[k] > 0:
				fail("event %q (%s) reached hook %s (%d copies, %d dead letters), which did not match it", cmp.Or(ev.id, ev.gotID), ev.typ, hook, count[k], dead[k])
			}
		}
	}
	for k, n := range count {
		rep.arrived++
		rep.duplicates += n - 1
		if !ambiguous && n+dead[k] > 1 {
			fail("an event reached hook %s's queue %d times and was dead-lettered %d times, without ambiguous outcomes", k.hook, n, dead[k])
		}
	}
	for k, n := range dead {
		if n > 1 {
			fail("an event was dead-lettered %d times by hook %s", n, k.hook)
		}
	}
	return rep
}

// reset forgets the ledger, the dead letters and the server's record and
// statistics (ending faults), between rounds; nothing may be pending.
func (f *fleet) reset() {
	f.lmu.Lock()
	f.ledger = map[[32]byte]*fleetEvent{}
	f.lmu.Unlock()
	f.dls.mu.Lock()
	f.dls.all = nil
	f.dls.mu.Unlock()
	f.srv.Reset()
}

// fleetBody is a chat-like event body, unique by token, padded to about
// pad bytes, with some non-ASCII text.
func fleetBody(typ, token string, room, pad int) []byte {
	return []byte(fmt.Sprintf(`{"type":%q,"cid":"messaging:room-%d","token":%q,"text":"héllo wörld 🎉 %s"}`, typ, room, token, strings.Repeat("x", pad)))
}

var soakTypes = []string{"message.new", "message.new", "message.new", "message.updated", "reaction.new", "channel.updated", "user.banned", "message.flagged", "typing.start"}

// soakSettings reads SQSHOOK_SOAK and SQSHOOK_SOAK_SEED.
func soakSettings(t *testing.T) (long time.Duration, seed uint64) {
	if v := os.Getenv("SQSHOOK_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("SQSHOOK_SOAK=%q: want a duration such as 5m", v)
		}
		long = d
	}
	if v := os.Getenv("SQSHOOK_SOAK_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("SQSHOOK_SOAK_SEED=%q: want an unsigned integer", v)
		}
		return long, s
	}
	return long, uint64(time.Now().UnixNano())
}

const (
	soakFastRounds       = 3
	soakFastRoundEvents  = 2000 // events per round in normal runs
	soakLongRound        = 30 * time.Second
	soakMaxBytes         = 1 << 20 // per hook
	soakMaxEvents        = 400
	soakCallTimeout      = 2 * time.Second
	soakServerBatchBytes = 40 << 10 // below the dispatcher's 256 KiB: large batches get BatchRequestTooLong
	soakHeapSlack        = 4 << 20  // heap after GC may exceed its baseline by this much
)

// soakRetries gives up only after 20 s of failures: fault windows are
// short, so a retries_exhausted dead letter means an event was stuck.
var soakRetries = sqshook.RetryPolicy{InitialInterval: time.Millisecond, MaxInterval: 20 * time.Millisecond, MaxElapsedTime: 20 * time.Second, MaxAttempts: 1000}

// soakPermanentCodes are the codes of the permanent failures the soak
// injects; a rejected dead letter must carry one of them.
var soakPermanentCodes = map[string]bool{
	"InvalidParameterValue":                   true, // failed entries, sender's fault
	"AWS.SimpleQueueService.NonExistentQueue": true, // queue deleted
	"QueueDoesNotExist":                       true,
	"AccessDenied":                            true, // credentials revoked
	"InvalidClientTokenId":                    true,
}

func soakAllow(dl sqshook.DeadLetter) string {
	switch dl.Reason {
	case sqshook.ReasonRejected:
		if !soakPermanentCodes[dl.Code] {
			return "rejected with a code the soak never injected permanently"
		}
		if dl.Code == "InvalidParameterValue" && !dl.SenderFault {
			return "InvalidParameterValue entries were injected as the sender's fault"
		}
	case sqshook.ReasonBufferFull:
		// TryPublish on a full hook, or a Publish whose context ended.
	default:
		return "reason not expected in the soak"
	}
	var de *sqshook.DeliveryError
	if !errors.As(dl.Err, &de) || de.Reason != dl.Reason || de.Code != dl.Code || de.HookID != dl.HookID {
		return fmt.Sprintf("Err %v does not match the dead letter", dl.Err)
	}
	return ""
}

// soak is one run of TestSoak.
type soak struct {
	t    *testing.T
	f    *fleet
	seed uint64
	rng  *rand.Rand // the driver's; publishers and faults have their own

	hooks   map[string]sqshook.Hook // the current configuration, by id
	secrets int

	published atomic.Int64 // this round
	pubSeq    atomic.Int64 // publisher numbers
	actions   map[string]int
}

var soakFilters = [][]string{nil, {"*"}, {"message.*"}, {"message.new"}, {"reaction.*", "channel.updated"}, {"user.banned", "message.flagged"}, {"message.*", "user.*"}}

func (s *soak) hookList() []sqshook.Hook {
	ids := make([]string, 0, len(s.hooks))
	for id := range s.hooks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out []sqshook.Hook
	for _, id := range ids {
		out = append(out, s.hooks[id])
	}
	return out
}

// mutateHooks adds, removes or changes (filter or credentials) a hook; the
// "all" hook stays, with every event, so that every event has a copy that
// must be accounted for.
func (s *soak) mutateHooks() string {
	pool := []string{"messages", "moderation", "reactions", "everything", "spare"}
	id := pool[s.rng.IntN(len(pool))]
	h, present := s.hooks[id]
	switch op := s.rng.IntN(4); {
	case !present:
		s.hooks[id] = s.f.hook(id, "secret-0", soakFilters[s.rng.IntN(len(soakFilters))]...)
		return "add hook"
	case op == 0:
		delete(s.hooks, id)
		return "remove hook"
	case op == 1:
		s.secrets++
		h.SQSSecret = fmt.Sprintf("secret-%d", s.secrets%3)
		s.hooks[id] = h
		return "replace hook (credentials)"
	default:
		h.EventTypes = soakFilters[s.rng.IntN(len(soakFilters))]
		s.hooks[id] = h
		return "replace hook (filter)"
	}
}

// fault installs one fault drawn from the conformance list for a short
// window; the returned function removes it.
func (s *soak) fault(frng *rand.Rand, fmu *sync.Mutex) (string, func()) {
	srv := s.f.srv
	op := "SendMessageBatch"
	entries := func(sender bool, share float64, code string) func(int, string) *sqstest.EntryFailure {
		return func(int, string) *sqstest.EntryFailure {
			fmu.Lock()
			defer fmu.Unlock()
			if frng.Float64() >= share {
				return nil
			}
			return &sqstest.EntryFailure{Code: code, Message: "injected by the soak", SenderFault: sender}
		}
	}
	hookIDs := []string{"all", "messages", "moderation", "reactions", "everything", "spare"}
	queueOf := func() string {
		id := hookIDs[s.rng.IntN(len(hookIDs))]
		u := s.f.queues[id]
		return u[strings.LastIndexByte(u, '/')+1:]
	}
	switch k := s.rng.IntN(12); k {
	case 0:
		return "throttling 50%", srv.AddFault(sqstest.Fault{Op: op, Code: "RequestThrottled", Probability: 0.5})
	case 1:
		code := []string{"InternalError", "ServiceUnavailable"}[s.rng.IntN(2)]
		return "5xx burst", srv.AddFault(sqstest.Fault{Op: op, Code: code, Probability: 0.6})
	case 2:
		return "every entry fails, not sender's fault", srv.AddFault(sqstest.Fault{Op: op, Probability: 0.4, FailEntries: entries(false, 1, "InternalError")})
	case 3:
		return "entries fail, sender's fault", srv.AddFault(sqstest.Fault{Op: op, Probability: 0.2, FailEntries: entries(true, 0.3, "InvalidParameterValue")})
	case 4:
		return "mixed entry codes", srv.AddFault(sqstest.Fault{Op: op, Probability: 0.4, FailEntries: func(i int, _ string) *sqstest.EntryFailure {
			switch i % 4 {
			case 0:
				return &sqstest.EntryFailure{Code: "InvalidParameterValue", Message: "injected by the soak", SenderFault: true}
			case 1:
				return &sqstest.EntryFailure{Code: "KMS.ThrottlingException", Message: "injected by the soak"}
			case 2:
				return &sqstest.EntryFailure{Code: "ServiceUnavailable", Message: "injected by the soak"}
			}
			return nil
		}})
	case 5:
		return "slower than the call timeout", srv.AddFault(sqstest.Fault{Op: op, Latency: 2 * soakCallTimeout, Probability: 0.2})
	case 6:
		return "connection reset before processing", srv.AddFault(sqstest.Fault{Op: op, Drop: sqstest.DropBeforeProcessing, Probability: 0.3})
	case 7:
		return "connection reset after processing", srv.AddFault(sqstest.Fault{Op: op, Drop: sqstest.DropAfterProcessing, Probability: 0.3})
	case 8:
		srv.Outage(time.Duration(20+s.rng.IntN(230)) * time.Millisecond)
		return "outage", func() {}
	case 9:
		return "queue deleted", srv.AddFault(sqstest.Fault{Op: op, Queue: queueOf(), Code: "QueueDoesNotExist"})
	case 10:
		code := []string{"AccessDenied", "InvalidClientTokenId"}[s.rng.IntN(2)]
		return "credentials revoked", srv.AddFault(sqstest.Fault{Op: op, Queue: queueOf(), Code: code})
	default:
		return "latency", srv.AddFault(sqstest.Fault{Op: op, Latency: time.Duration(1+s.rng.IntN(20)) * time.Millisecond, Probability: 0.5})
	}
}

// publisher publishes up to n events, then goes away.
func (s *soak) publisher(round, num int, n int, stop *atomic.Bool, limit int64) {
	rng := rand.New(rand.NewPCG(s.seed, uint64(round)<<32|uint64(num)))
	for i := 0; i < n && !stop.Load(); i++ {
		try := rng.IntN(10) == 0 // TryPublish: a full hook dead-letters (buffer_full)
		if limit > 0 && s.published.Add(1) > limit {
			return
		} else if limit == 0 {
			s.published.Add(1)
		}
		typ := soakTypes[rng.IntN(len(soakTypes))]
		pad := rng.IntN(1500)
		if rng.IntN(40) == 0 {
			pad = 8000 + rng.IntN(12000) // a few large events: batches over the server's limit
		}
		token := fmt.Sprintf("r%d-p%d-%d", round, num, i)
		ev := sqshook.Event{Type: typ, Body: fleetBody(typ, token, rng.IntN(50), pad)}
		if rng.IntN(2) == 0 {
			ev.ID = "soak-" + token
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := s.f.publish(ctx, ev, try)
		cancel()
		if err != nil && !errors.Is(err, sqshook.ErrBufferFull) {
			s.t.Errorf("Publish %s: %v", token, err)
		}
	}
}

// round runs publishers, faults, SetHooks and Flush calls until limit events
// were published (limit > 0) or for dur, then lets the faults end,
// flushes and verifies.
func (s *soak) round(r int, limit int64, dur time.Duration) fleetReport {
	s.published.Store(0)
	start := time.Now()
	var stop atomic.Bool
	var wg sync.WaitGroup
	frng := rand.New(rand.NewPCG(s.seed, 1<<40|uint64(r)))
	var fmu sync.Mutex
	active := atomic.Int64{}
	want := 1 + s.rng.IntN(6)
	done := func() bool {
		if limit > 0 {
			return s.published.Load() >= limit
		}
		return time.Since(start) >= dur
	}
	for !done() && !s.t.Failed() {
		// Publishers come and go: keep about want of them running.
		for active.Load() < int64(want) {
			active.Add(1)
			wg.Add(1)
			num := int(s.pubSeq.Add(1))
			n := 50 + s.rng.IntN(300)
			go func() {
				defer wg.Done()
				defer active.Add(-1)
				s.publisher(r, num, n, &stop, limit)
			}()
		}
		switch a := s.rng.IntN(20); {
		case a < 9:
			name, remove := s.fault(frng, &fmu)
			s.actions[name]++
			window := time.Duration(10+s.rng.IntN(200)) * time.Millisecond
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(window)
				remove()
			}()
		case a < 13:
			name := s.mutateHooks()
			s.actions[name]++
			if err := s.f.setHooks(s.hookList()); err != nil {
				s.t.Errorf("SetHooks: %v", err)
			}
		case a < 16:
			s.actions["flush"]++
			timeout := time.Duration(1+s.rng.IntN(50)) * time.Millisecond
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				defer cancel()
				if err := s.f.d.Flush(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
					s.t.Errorf("Flush: %v", err)
				}
			}()
		default:
			want = 1 + s.rng.IntN(6)
			s.actions["publishers changed"]++
		}
		time.Sleep(time.Duration(2+s.rng.IntN(15)) * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	s.f.srv.ClearFaults() // ends the outage too: what is retrying now gets through
	calls := s.f.srv.Calls()
	s.f.flush()
	rep := s.f.verify(true, soakAllow)
	sendCalls := calls.Calls["SendMessageBatch"]
	s.t.Logf("round %d: %v in %v; %d SendMessageBatch calls for %d processed batches (%s calls per delivered batch); injected %v",
		r, rep, time.Since(start).Round(time.Millisecond), sendCalls, calls.Batches, perBatch(sendCalls, calls.Batches), calls.Injected)
	if rep.required == 0 || rep.stable < rep.events/4 {
		s.t.Errorf("round %d: only %d of %d events under a stable configuration: the check proves little", r, rep.stable, rep.events)
	}
	return rep
}

func heapAfterGC() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestSoak runs publishers that come and go against several hooks on a
// faulty sqstest server, with SetHooks now and then; at the end of each
// round nothing is unaccounted, and at the end of the run the heap and
// the goroutines are back near their baseline.
func TestSoak(t *testing.T) {
	long, seed := soakSettings(t)
	t.Logf("soak seed %d (replay with SQSHOOK_SOAK_SEED=%d)", seed, seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("soak FAILED with seed %d: replay with SQSHOOK_SOAK_SEED=%d go test -race -run 'TestSoak$' .", seed, seed)
		}
	})
	began := time.Now()
	leakOpt := goleak.IgnoreCurrent()
	goroutines0 := runtime.NumGoroutine()
	heap0 := heapAfterGC()

	f := newFleet(t, sqstest.WithSeed(int64(seed&(1<<62-1))), sqstest.WithMaxBatchBytes(soakServerBatchBytes))
	for _, id := range []string{"all", "messages", "reactions", "everything", "spare"} {
		f.queue(id, false)
	}
	f.queue("moderation", true)
	s := &soak{t: t, f: f, seed: seed, rng: rand.New(rand.NewPCG(seed, 0)), hooks: map[string]sqshook.Hook{}, actions: map[string]int{}}
	s.hooks["all"] = f.hook("all", "secret-0")
	s.hooks["messages"] = f.hook("messages", "secret-0", "message.*")
	s.hooks["moderation"] = f.hook("moderation", "secret-0", "user.banned", "message.flagged", "message.new")
	f.start(s.hookList(), soakMaxEvents, soakMaxBytes,
		sqshook.WithRetryPolicy(soakRetries), sqshook.WithCallTimeout(soakCallTimeout), sqshook.WithMaxInFlight(8))

	total := fleetReport{byReason: map[sqshook.Reason]int{}}
	var heapPeak uint64
	rounds := 0
	for r := 0; ; r++ {
		rounds++
		var rep fleetReport
		if long > 0 {
			rep = s.round(r, 0, min(soakLongRound, long-time.Since(began)))
		} else {
			rep = s.round(r, soakFastRoundEvents, 0)
		}
		total.events += rep.events
		total.required += rep.required
		total.arrived += rep.arrived
		total.duplicates += rep.duplicates
		total.deadLetters += rep.deadLetters
		total.unaccounted += rep.unaccounted
		for k, v := range rep.byReason {
			total.byReason[k] += v
		}
		f.reset()
		// Between rounds nothing is held: the heap is back near its
		// baseline, whatever the length of the run.
		if h := heapAfterGC(); h > heapPeak {
			heapPeak = h
			if h > heap0+soakHeapSlack {
				t.Errorf("after round %d: heap after GC %d KiB, %d KiB at the start: more than %d KiB kept (seed %d)", r, h>>10, heap0>>10, soakHeapSlack>>10, seed)
			}
		}
		if t.Failed() || long == 0 && r+1 >= soakFastRounds || long > 0 && time.Since(began) >= long {
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	err := f.d.Close(ctx)
	cancel()
	if err != nil {
		t.Errorf("Close: %v", err)
	}
	checkAccounting(t, f.d, true)
	f.samp.halt()
	t.Logf("soak: %d rounds in %v: %d events, %d copies required, %d arrived, %d duplicates, %d dead letters %v, %d unaccounted; actions %v",
		rounds, time.Since(began).Round(time.Millisecond), total.events, total.required, total.arrived, total.duplicates, total.deadLetters, total.byReason, total.unaccounted, s.actions)
	t.Logf("soak: peak buffered %d of %d bytes per hook, peak pending %d of %d, %d samples; %d hook configurations",
		f.samp.peakBytes.Load(), soakMaxBytes, f.samp.peakPending.Load(), soakMaxEvents, f.samp.samples.Load(), len(f.configs))
	if p := f.samp.peakPending.Load(); p > soakMaxEvents {
		t.Errorf("a hook held %d events; bound %d (seed %d)", p, soakMaxEvents, seed)
	}
	if total.unaccounted != 0 {
		t.Errorf("%d copies unaccounted for (seed %d)", total.unaccounted, seed)
	}

	// Back to the baseline: the server's record and the ledger are gone;
	// the dispatcher, closed, is still referenced, so what it keeps counts.
	d := f.d
	f.srv.Close()
	f.ledger, f.dls.all = nil, nil
	heap1 := heapAfterGC()
	t.Logf("heap after GC: %d KiB at the start, %d KiB at the end (peak between rounds %d KiB); goroutines %d at the start",
		heap0>>10, heap1>>10, heapPeak>>10, goroutines0)
	if heap1 > heap0+soakHeapSlack {
		t.Errorf("heap after GC is %d KiB at the end, %d KiB at the start: more than %d KiB kept (seed %d)", heap1>>10, heap0>>10, soakHeapSlack>>10, seed)
	}
	runtime.KeepAlive(d)
	if err := goleak.Find(leakOpt); err != nil {
		t.Errorf("goroutines not back to the baseline of %d (now %d), seed %d: %v", goroutines0, runtime.NumGoroutine(), seed, err)
	}
}
