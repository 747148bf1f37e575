package sqshook_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"go.uber.org/goleak"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

// noLeaks checks, after the test's dispatchers and servers are closed (its
// cleanups run before this one), that the test leaked no goroutine.
func noLeaks(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// tenantHooks returns the same hook list for every tenant (same ids, same
// filters), each on the tenant's own queues. They use "resource" auth, so
// the dispatcher needs WithResourceAuthForTenants.
func tenantHooks(tenant string) []sqshook.Hook {
	return []sqshook.Hook{
		hookFor("all", tenant+"-all"),
		hookFor("messages", tenant+"-messages", "message.*"),
	}
}

// tenantEvent is an event whose body names its tenant.
func tenantEvent(tenant, typ string, i int) sqshook.Event {
	return sqshook.Event{Type: typ, Body: []byte(fmt.Sprintf(`{"tenant":%q,"i":%d}`, tenant, i))}
}

// TestTenantIsolation: tenants with identical hook ids and filters receive
// only their own events, interleaved; stats and dead letters carry the
// tenant; the default tenant is one more tenant.
func TestTenantIsolation(t *testing.T) {
	noLeaks(t)
	fake := newFake()
	d, dls := newTestDispatcher(t, fake, nil, sqshook.WithResourceAuthForTenants())
	tenants := []string{"", "acme", "globex", "initech"}
	for _, id := range tenants {
		if err := d.Tenant(id).SetHooks(tenantHooks("q" + id)); err != nil {
			t.Fatalf("tenant %q SetHooks: %v", id, err)
		}
	}
	const n = 50
	types := []string{"message.new", "reaction.new"}
	for i := 0; i < n; i++ {
		for _, id := range tenants {
			if err := d.Tenant(id).Publish(context.Background(), tenantEvent(id, types[i%2], i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A tenant without hooks publishes to nobody, and nobody else.
	if err := d.Tenant("nobody").Publish(context.Background(), tenantEvent("nobody", "message.new", 0)); err != nil {
		t.Fatal(err)
	}
	flush(t, d)
	for _, id := range tenants {
		for _, q := range []struct {
			name string
			want int
		}{{"q" + id + "-all", n}, {"q" + id + "-messages", n / 2}} {
			fake.mu.Lock()
			acked := fake.acked[fakeQueuePrefix+q.name]
			fake.mu.Unlock()
			if len(acked) != q.want {
				t.Errorf("queue %s: %d messages, want %d", q.name, len(acked), q.want)
			}
			for _, e := range acked {
				if !strings.Contains(aws.ToString(e.MessageBody), fmt.Sprintf(`"tenant":%q`, id)) {
					t.Fatalf("queue %s of tenant %q holds %s: another tenant's event", q.name, id, aws.ToString(e.MessageBody))
				}
			}
		}
	}
	s := checkAccounting(t, d, true)
	if len(s.Hooks) != 2*len(tenants) {
		t.Fatalf("stats list %d hooks, want %d", len(s.Hooks), 2*len(tenants))
	}
	for i, h := range s.Hooks { // default tenant first, then by tenant id
		if want := tenants[i/2]; h.Tenant != want {
			t.Errorf("stats[%d] tenant %q, want %q", i, h.Tenant, want)
		}
	}
	if h, ok := s.TenantHook("globex", "messages"); !ok || h.Matched != n/2 {
		t.Errorf("TenantHook(globex, messages) = %+v, %v; want %d matched", h, ok, n/2)
	}
	ts := d.Tenant("acme").Stats()
	if len(ts.Hooks) != 2 || ts.Hooks[0].Tenant != "acme" {
		t.Errorf("Tenant(acme).Stats() = %+v, want acme's two hooks", ts.Hooks)
	}
	if got := d.Tenant("acme").Hooks(); len(got) != 2 || got[1].SQSQueueURL != fakeQueuePrefix+"qacme-messages" {
		t.Errorf("Tenant(acme).Hooks() = %+v", got)
	}
	// A dead letter and the error of Publish name the tenant.
	err := d.Tenant("acme").Publish(context.Background(), sqshook.Event{Type: "message.new", Body: []byte(`{"big":"` + strings.Repeat("x", 300<<10) + `"}`)})
	var de *sqshook.DeliveryError
	if !errors.As(err, &de) || de.Tenant != "acme" || !strings.Contains(err.Error(), `tenant "acme"`) {
		t.Fatalf("Publish of a too large event: %v, want a DeliveryError naming tenant acme", err)
	}
	for _, dl := range dls.list() {
		if dl.Tenant != "acme" {
			t.Errorf("dead letter of tenant %q, want acme", dl.Tenant)
		}
	}
	if len(dls.list()) != 2 {
		t.Errorf("%d dead letters, want 2 (acme's two hooks)", len(dls.list()))
	}
}

// TestTenantSetHooksFailsOnlyItsOwn: a tenant's invalid or duplicate hooks
// fail only its own update, naming tenant, hook and field; other tenants'
// updates at the same time succeed, and the failing tenant keeps its hooks.
func TestTenantSetHooksFailsOnlyItsOwn(t *testing.T) {
	d, _ := newTestDispatcher(t, newFake(), nil, sqshook.WithResourceAuthForTenants())
	if err := d.Tenant("a").SetHooks(tenantHooks("a")); err != nil {
		t.Fatal(err)
	}
	dup := append(tenantHooks("a2"), hookFor("all", "a2-other"))
	bad := tenantHooks("a3")
	bad[1].SQSRegion = "mars-1"
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch i {
			case 0:
				errs[i] = d.Tenant("a").SetHooks(dup)
			case 1:
				errs[i] = d.Tenant("a").SetHooks(bad)
			default:
				id := fmt.Sprintf("t%02d", i)
				errs[i] = d.Tenant(id).SetHooks(tenantHooks(id))
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i < 2 {
			var ve *sqshook.ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), `tenants["a"].hooks[`) {
				t.Errorf("tenant a's bad update %d: %v; want a ValidationError naming tenant a", i, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("tenant t%02d: %v", i, err)
		}
	}
	if msg := errs[0].Error(); !strings.Contains(msg, `tenants["a"].hooks[2] (id "all").id`) {
		t.Errorf("duplicate id error %q does not name tenant, hook and field", msg)
	}
	if msg := errs[1].Error(); !strings.Contains(msg, `tenants["a"].hooks[1] (id "messages").sqs_region`) {
		t.Errorf("bad region error %q does not name tenant, hook and field", msg)
	}
	if got := d.Tenant("a").Hooks(); len(got) != 2 || got[0].SQSQueueURL != fakeQueuePrefix+"a-all" {
		t.Errorf("tenant a's hooks changed by a failed update: %+v", got)
	}
	if n := len(d.Stats().Hooks); n != 2+18*2 {
		t.Errorf("%d hooks in all, want %d", n, 2+18*2)
	}
}

// TestTenantRemoveDrains: RemoveTenant drains the tenant's hooks (what
// they hold is delivered) and returns only then: when it returns, every
// copy is delivered and nothing of the tenant is left to deliver. It frees
// the tenant's state and leaves the others alone; a ctx that ends first
// returns its error while the hooks go on draining.
func TestTenantRemoveDrains(t *testing.T) {
	noLeaks(t)
	fake := newFake()
	block := make(chan struct{})
	fake.mu.Lock()
	fake.block = block
	fake.mu.Unlock()
	d, dls := newTestDispatcher(t, fake, nil, sqshook.WithLinger(0), sqshook.WithResourceAuthForTenants())
	for _, id := range []string{"gone", "stays"} {
		if err := d.Tenant(id).SetHooks(tenantHooks(id)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		for _, id := range []string{"gone", "stays"} {
			if err := d.Tenant(id).Publish(context.Background(), tenantEvent(id, "message.new", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A ctx that ends first: the error, and the tenant is removed all the same.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.RemoveTenant(ctx, "gone"); !errors.Is(err, context.Canceled) {
		t.Fatalf("RemoveTenant with a canceled ctx while its calls hang = %v, want context.Canceled", err)
	}
	if got := d.Tenant("gone").Hooks(); len(got) != 0 {
		t.Errorf("removed tenant still lists hooks %+v", got)
	}
	removed := make(chan error, 1)
	go func() { removed <- d.RemoveTenant(context.Background(), "gone") }()
	// Still draining: its hooks hold events in calls that hang, and
	// RemoveTenant waits for them.
	if s := d.Tenant("gone").Stats(); len(s.Hooks) != 2 || !s.Hooks[0].Draining {
		t.Fatalf("removed tenant's stats %+v, want two draining hooks", s.Hooks)
	}
	if err := d.Tenant("gone").Publish(context.Background(), tenantEvent("gone", "message.new", 99)); err != nil {
		t.Fatalf("Publish to a removed tenant: %v, want nil (no hook matches)", err)
	}
	select {
	case err := <-removed:
		t.Fatalf("RemoveTenant returned %v while its hooks' calls hang", err)
	default:
	}
	fake.mu.Lock()
	fake.block = nil
	fake.mu.Unlock()
	close(block)
	if err := <-removed; err != nil {
		t.Fatalf("RemoveTenant: %v", err)
	}
	// At its return, everything is delivered and nothing is left.
	for _, q := range []string{"gone-all", "gone-messages"} {
		if got := len(fake.ackedIDs(fakeQueuePrefix + q)); got != 5 {
			t.Errorf("when RemoveTenant returned, removed tenant's queue %s had %d, want the 5 it held", q, got)
		}
	}
	if s := d.Tenant("gone").Stats(); len(s.Hooks) != 0 {
		t.Errorf("removed tenant's hooks still listed after RemoveTenant returned: %+v", s.Hooks)
	}
	flush(t, d)
	if got := len(fake.ackedIDs(fakeQueuePrefix + "stays-messages")); got != 5 {
		t.Errorf("other tenant's queue received %d, want 5", got)
	}
	if len(dls.list()) != 0 {
		t.Errorf("dead letters %v, want none", dls.byReason())
	}
	// The tenant can come back.
	if err := d.Tenant("gone").SetHooks(tenantHooks("back")); err != nil {
		t.Fatal(err)
	}
	if got := d.Tenant("gone").Hooks(); len(got) != 2 {
		t.Errorf("tenant back with %d hooks, want 2", len(got))
	}
}

// TestTenantRemovePurge: RemoveTenant with WithPurge dead-letters, with
// ReasonHookRemoved, what the tenant's hook holds outside the call in
// flight, waits for that call, and returns; nothing more reaches the
// tenant's queue afterwards. A call in flight that fails does not bring
// its copies back for a retry: they are dead-lettered too. The other
// tenant is untouched.
func TestTenantRemovePurge(t *testing.T) {
	for _, callFails := range []bool{false, true} {
		name := "call in flight succeeds"
		if callFails {
			name = "call in flight fails"
		}
		t.Run(name, func(t *testing.T) {
			noLeaks(t)
			const n = 25
			fake := newFake()
			block := make(chan struct{})
			fake.block = block
			var releaseOnce sync.Once
			release := func() { releaseOnce.Do(func() { close(block) }) }
			t.Cleanup(release) // before the dispatcher's Close
			if callFails {
				fake.respond = func(_ int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
					if strings.HasSuffix(aws.ToString(in.QueueUrl), "/gone-q") {
						return nil, apiError("ServiceUnavailable", 503)
					}
					return okAll(in), nil
				}
			}
			d, dls := newTestDispatcher(t, fake, nil, sqshook.WithLinger(0), sqshook.WithMaxInFlight(1), sqshook.WithResourceAuthForTenants())
			if err := d.Tenant("gone").SetHooks([]sqshook.Hook{hookFor("h", "gone-q")}); err != nil {
				t.Fatal(err)
			}
			if err := d.Tenant("stays").SetHooks([]sqshook.Hook{hookFor("h", "stays-q")}); err != nil {
				t.Fatal(err)
			}
			published := map[string]bool{}
			for i := 0; i < n; i++ {
				ev := tenantEvent("gone", "message.new", i)
				ev.ID = fmt.Sprintf("gone-%02d", i)
				if err := d.Tenant("gone").Publish(context.Background(), ev); err != nil {
					t.Fatal(err)
				}
				published[ev.ID] = true
			}
			var inFlight int
			waitForCond(t, func() bool {
				h, _ := d.Tenant("gone").Stats().TenantHook("gone", "h")
				inFlight = h.InFlight
				return h.InFlight > 0 && h.Queued == n-h.InFlight
			})
			removed := make(chan error, 1)
			go func() { removed <- d.RemoveTenant(context.Background(), "gone", sqshook.WithPurge()) }()
			// The queued copies are dead-lettered at once...
			waitForCond(t, func() bool { return len(dls.list()) == n-inFlight })
			// ...but RemoveTenant waits for the call in flight.
			select {
			case err := <-removed:
				t.Fatalf("RemoveTenant with WithPurge returned %v while a call was in flight", err)
			default:
			}
			fake.mu.Lock()
			fake.block = nil
			fake.mu.Unlock()
			release()
			if err := <-removed; err != nil {
				t.Fatalf("RemoveTenant with WithPurge: %v", err)
			}
			// At its return, every copy is accounted: delivered or
			// dead-lettered hook_removed, once.
			delivered := fake.ackedIDs(fakeQueuePrefix + "gone-q")
			wantDelivered := inFlight
			if callFails {
				wantDelivered = 0
			}
			if len(delivered) != wantDelivered {
				t.Errorf("%d copies delivered, want the %d of the call in flight", len(delivered), wantDelivered)
			}
			seen := map[string]int{}
			for _, id := range delivered {
				seen[id]++
			}
			got := dls.list()
			if len(got) != n-wantDelivered {
				t.Errorf("%d dead letters when RemoveTenant returned, want %d", len(got), n-wantDelivered)
			}
			for _, dl := range got {
				seen[dl.Event.ID]++
				if dl.Tenant != "gone" || dl.Reason != sqshook.ReasonHookRemoved || !errors.Is(dl.Err, sqshook.ErrTenantRemoved) {
					t.Errorf("dead letter %s of tenant %q: %s %v, want hook_removed wrapping ErrTenantRemoved", dl.Event.ID, dl.Tenant, dl.Reason, dl.Err)
				}
			}
			for id := range published {
				if seen[id] != 1 {
					t.Errorf("event %s accounted %d times, want once", id, seen[id])
				}
			}
			// Nothing more reaches the removed tenant's queue.
			for i := 0; i < 5; i++ {
				if err := d.Tenant("stays").Publish(context.Background(), tenantEvent("stays", "message.new", i)); err != nil {
					t.Fatal(err)
				}
			}
			flush(t, d)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := d.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if after := fake.ackedIDs(fakeQueuePrefix + "gone-q"); len(after) != len(delivered) {
				t.Errorf("%d copies reached the removed tenant's queue after RemoveTenant returned", len(after)-len(delivered))
			}
			if got := len(fake.ackedIDs(fakeQueuePrefix + "stays-q")); got != 5 {
				t.Errorf("other tenant's queue received %d, want 5", got)
			}
			if got := len(dls.list()); got != n-wantDelivered {
				t.Errorf("%d dead letters in the end, want %d", got, n-wantDelivered)
			}
		})
	}
}

// TestTenantRemoveRacingPublish: publishers hammer a tenant with eight
// hooks while RemoveTenant removes it, round after round. Every event is
// accounted on every hook or on none: a Publish that returned nil had all
// its copies delivered (or found no hook), one that raced the removal
// returned an error wrapping ErrTenantRemoved and had each copy delivered
// or dead-lettered hook_removed. Nothing reaches the tenant's queues after
// RemoveTenant returned.
func TestTenantRemoveRacingPublish(t *testing.T) {
	noLeaks(t)
	fake := newFake()
	d, dls := newTestDispatcher(t, fake, nil, sqshook.WithResourceAuthForTenants())
	const hooks, rounds, publishers, perRound = 8, 60, 2, 40
	var list []sqshook.Hook
	for h := 0; h < hooks; h++ {
		list = append(list, hookFor(fmt.Sprintf("h%d", h), fmt.Sprintf("race-%d", h)))
	}
	acked := func() int {
		n := 0
		for h := 0; h < hooks; h++ {
			n += len(fake.ackedIDs(fakeQueuePrefix + fmt.Sprintf("race-%d", h)))
		}
		return n
	}
	var mu sync.Mutex
	results := map[string]error{}
	acme := d.Tenant("acme")
	for r := 0; r < rounds; r++ {
		if err := acme.SetHooks(list); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		started := make(chan struct{}, publishers)
		for g := 0; g < publishers; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perRound; i++ {
					id := fmt.Sprintf("r%d-g%d-%d", r, g, i)
					err := acme.Publish(context.Background(), sqshook.Event{ID: id, Type: "message.new", Body: []byte(`{}`)})
					mu.Lock()
					results[id] = err
					mu.Unlock()
					if i == 2 {
						started <- struct{}{}
					}
				}
			}()
		}
		<-started
		if err := d.RemoveTenant(context.Background(), "acme"); err != nil {
			t.Fatal(err)
		}
		atReturn := acked()
		wg.Wait()
		if got := acked(); got != atReturn {
			t.Fatalf("round %d: %d copies reached the removed tenant's queues after RemoveTenant returned", r, got-atReturn)
		}
		checkAccounting(t, d, false)
	}
	flush(t, d)
	outcomes := map[string]int{}
	for h := 0; h < hooks; h++ {
		for _, id := range fake.ackedIDs(fakeQueuePrefix + fmt.Sprintf("race-%d", h)) {
			outcomes[id]++
		}
	}
	for _, dl := range dls.list() {
		outcomes[dl.Event.ID]++
		if dl.Reason != sqshook.ReasonHookRemoved || !errors.Is(dl.Err, sqshook.ErrTenantRemoved) {
			t.Errorf("dead letter %s: %s %v, want hook_removed wrapping ErrTenantRemoved", dl.Event.ID, dl.Reason, dl.Err)
		}
	}
	bad, raced := 0, 0
	for id, err := range results {
		n := outcomes[id]
		ok := err == nil && (n == 0 || n == hooks) || errors.Is(err, sqshook.ErrTenantRemoved) && n == hooks
		if err != nil {
			raced++
		}
		if !ok {
			if bad++; bad <= 5 {
				t.Errorf("event %s: Publish returned %v; %d of %d copies delivered or dead-lettered", id, err, n, hooks)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d events not accounted on every hook or none", bad, len(results))
	}
	t.Logf("%d events in %d rounds; %d Publish calls raced the removal and reported ErrTenantRemoved", len(results), rounds, raced)
}

// TestTenantLimits: every limit's error names the limit, and a tenant's
// full share dead-letters its own copies only.
func TestTenantLimits(t *testing.T) {
	fake := newFake()
	block := make(chan struct{})
	fake.block = block
	d, dls := newTestDispatcher(t, fake, nil, sqshook.WithMaxHooksPerTenant(3), sqshook.WithTenantLimits(4, 0), sqshook.WithLinger(time.Hour), sqshook.WithResourceAuthForTenants())
	t.Cleanup(func() { close(block) }) // before the dispatcher's Close
	four := append(tenantHooks("x"), hookFor("c", "x-c"), hookFor("d", "x-d"))
	if err := d.Tenant("x").SetHooks(four); err == nil || !strings.Contains(err.Error(), "limit of 3 hooks per tenant (WithMaxHooksPerTenant)") {
		t.Errorf("4 hooks with a limit of 3: %v", err)
	}
	many := make([]string, sqshook.MaxEventTypes+1)
	for i := range many {
		many[i] = fmt.Sprintf("type%d.*", i)
	}
	if err := d.Tenant("x").SetHooks([]sqshook.Hook{hookFor("h", "x-h", many...)}); err == nil || !strings.Contains(err.Error(), `tenants["x"].hooks[0] (id "h").event_types`) {
		t.Errorf("%d patterns: %v, want an error naming tenants[x].hooks[0].event_types", len(many), err)
	}
	million := make([]string, 1_000_000)
	for i := range million {
		million[i] = fmt.Sprintf("t%d.*", i)
	}
	if err := d.Tenant("x").SetHooks([]sqshook.Hook{hookFor("h", "x-h", million...)}); err == nil || !strings.Contains(err.Error(), "event_types") {
		t.Errorf("1,000,000 patterns: %v, want refused", err)
	}
	// Tenant shares: 4 events per tenant, whichever hooks hold them.
	for _, id := range []string{"x", "y"} {
		if err := d.Tenant(id).SetHooks(tenantHooks(id)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ {
		if err := d.Tenant("x").Publish(context.Background(), tenantEvent("x", "message.new", i)); err != nil {
			t.Fatal(err)
		}
	}
	err := d.Tenant("x").Publish(context.Background(), tenantEvent("x", "message.new", 2))
	var de *sqshook.DeliveryError
	if !errors.As(err, &de) || de.Tenant != "x" || de.Reason != sqshook.ReasonBufferFull || de.Message != "tenant buffer full" {
		t.Fatalf("fifth copy for tenant x: %v, want buffer_full: tenant buffer full", err)
	}
	if err := d.Tenant("y").Publish(context.Background(), tenantEvent("y", "message.new", 0)); err != nil {
		t.Fatalf("tenant y while x is full: %v", err)
	}
	if got := dls.byReason()[sqshook.ReasonBufferFull]; got != 2 {
		t.Errorf("buffer_full dead letters %d, want 2 (both of x's copies)", got)
	}
	// Options out of range are refused naming the option.
	_, err = sqshook.New(nil, sqshook.WithMaxHooksPerTenant(-1), sqshook.WithTenantLimits(-1, 1))
	for _, want := range []string{"max_hooks_per_tenant", "tenant_buffered_events", "tenant_buffered_bytes"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad tenant limits: %v, want it to name %s", err, want)
		}
	}
}

// TestTenantResourceAuthRefused: "resource" hooks are refused in a
// dispatcher with several tenants, with the risk stated, unless the
// operator opts in.
func TestTenantResourceAuthRefused(t *testing.T) {
	res := hookFor("r", "r") // hookFor's hooks use "resource" auth
	d, _ := newTestDispatcher(t, newFake(), []sqshook.Hook{res})
	err := d.Tenant("acme").SetHooks([]sqshook.Hook{res})
	if err == nil || !strings.Contains(err.Error(), `tenants["acme"].hooks[0] (id "r").sqs_auth_type`) ||
		!strings.Contains(err.Error(), "another tenant's queue URL") || !strings.Contains(err.Error(), "WithResourceAuthForTenants") {
		t.Fatalf("resource hook of a named tenant: %v", err)
	}
	role := sqshook.Hook{ID: "role", Enabled: true, HookType: "sqs", SQSQueueURL: fakeQueuePrefix + "role", SQSRegion: "us-east-1", SQSAuthType: sqshook.AuthRole, SQSRoleARN: "arn:aws:iam::123456789012:role/r"}
	if err := d.Tenant("acme").SetHooks([]sqshook.Hook{role}); err != nil {
		t.Fatalf("role hook of a named tenant (ExternalId: the tenant id): %v", err)
	}
	// Now that there are several tenants, the default one is refused too.
	if err := d.SetHooks([]sqshook.Hook{res, hookFor("r2", "r2")}); err == nil || !strings.Contains(err.Error(), "hooks[1].sqs_auth_type") {
		t.Errorf("resource hook of the default tenant beside others: %v", err)
	}
	opted, _ := newTestDispatcher(t, newFake(), nil, sqshook.WithResourceAuthForTenants())
	if err := opted.Tenant("acme").SetHooks([]sqshook.Hook{res}); err != nil {
		t.Errorf("with WithResourceAuthForTenants: %v", err)
	}
}

// TestTenantConfusedDeputy: tenant A submits tenant B's hook id, role ARN
// and queue. The server assumes B's role with A's ExternalId, which B's
// trust policy refuses: nothing reaches B's queue, and A's events are
// dead-lettered as rejected, naming the trust policy. B's own hook works.
func TestTenantConfusedDeputy(t *testing.T) {
	noLeaks(t)
	srv := sqstest.NewServer()
	t.Cleanup(srv.Close)
	srv.AddIdentity(serverKey, serverPrincipal)
	roleB := "arn:aws:iam::" + sqstest.AccountID + ":role/tenant-b-sender"
	extB := "ext-b-2f9d41"
	srv.AddRole(sqstest.Role{ARN: roleB, TrustedPrincipals: []string{serverPrincipal}, ExternalID: extB})
	queueB := srv.CreateQueue("tenant-b-events", nil)
	hookB := sqshook.Hook{ID: "hook-b", Enabled: true, HookType: "sqs", SQSQueueURL: queueB, SQSRegion: "us-east-1", SQSAuthType: sqshook.AuthRole, SQSRoleARN: roleB}
	records := map[string]string{"a": "ext-a-77c0e1", "b": extB} // the server's record of each tenant
	dls := &deadLetters{}
	d := startDispatcher(t, nil,
		sqshook.WithEndpoint(srv.URL()),
		sqshook.WithClientOptions(sqshook.ClientOptions{
			STSEndpoint: srv.URL(),
			LoadDefaultConfig: func(context.Context) (aws.Config, error) {
				return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(serverKey, "server-secret", "")}, nil
			},
		}),
		sqshook.WithTenantExternalID(func(tenant string) string { return records[tenant] }),
		sqshook.WithDeadLetter(dls.add), sqshook.WithRetryPolicy(fastRetries), sqshook.WithLinger(time.Millisecond))
	a, b := d.Tenant("a"), d.Tenant("b")
	if err := a.SetHooks([]sqshook.Hook{hookB}); err != nil { // the attacker's copy
		t.Fatal(err)
	}
	if err := b.SetHooks([]sqshook.Hook{hookB}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := a.Publish(context.Background(), tenantEvent("a", "message.new", i)); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, d)
	if got := srv.Count(queueB); got != 0 {
		t.Fatalf("B's queue received %d of A's events, want 0", got)
	}
	if got := len(dls.list()); got != 5 {
		t.Fatalf("%d dead letters, want A's 5", got)
	}
	for _, dl := range dls.list() {
		if dl.Tenant != "a" || dl.Reason != sqshook.ReasonRejected || !strings.Contains(dl.Message, "trust policy") || !strings.Contains(dl.Message, records["a"]) {
			t.Fatalf("dead letter %q %s %q, want tenant a rejected naming the trust policy and A's ExternalId", dl.Tenant, dl.Reason, dl.Message)
		}
	}
	for _, c := range srv.AssumeRoleCalls() {
		if c.ExternalID != records["a"] && c.ExternalID != extB {
			t.Errorf("AssumeRole with ExternalId %q", c.ExternalID)
		}
	}
	// The check of A's hook runs with A's ExternalId and names the step.
	res, err := a.Check(context.Background(), "hook-b", sqshook.CheckOptions{Timeout: 10 * time.Second})
	if err != nil || res.Step != sqshook.StepAssumeRole || !strings.Contains(res.Error, records["a"]) {
		t.Errorf("Check of A's copy: %v %+v", err, res)
	}
	// B's own hook delivers with B's ExternalId.
	if err := b.Publish(context.Background(), tenantEvent("b", "message.new", 0)); err != nil {
		t.Fatal(err)
	}
	flush(t, d)
	if got := srv.Count(queueB); got != 1 {
		t.Errorf("B's queue received %d of B's events, want 1", got)
	}
}

// TestTenantConnectionsShared: 2,000 tenants with hooks on one endpoint,
// each with its own access key (one SDK client per tenant), share the
// dispatcher's connection pool: the endpoint sees at most the pool's size
// in connections, not one per tenant.
func TestTenantConnectionsShared(t *testing.T) {
	noLeaks(t)
	srv := sqstest.NewServer()
	t.Cleanup(srv.Close)
	const tenants, poolSize = 2000, 16
	d := startDispatcher(t, nil, sqshook.WithEndpoint(srv.URL()), sqshook.WithLinger(0),
		sqshook.WithClientOptions(sqshook.ClientOptions{MaxIdleConnsPerHost: poolSize, MaxConnsPerHost: poolSize}),
		sqshook.WithMaxInFlight(1), sqshook.WithDeadLetter(func(dl sqshook.DeadLetter) { t.Errorf("dead letter %s %s", dl.Reason, dl.Message) }))
	url := srv.CreateQueue("shared", nil)
	for i := 0; i < tenants; i++ {
		h := sqstestHook("h", url)
		h.SQSKey = fmt.Sprintf("AKIATENANT%010d", i)
		if err := d.Tenant(fmt.Sprintf("t%d", i)).SetHooks([]sqshook.Hook{h}); err != nil {
			t.Fatal(err)
		}
	}
	// Publishers in waves of poolSize, as a server with poolSize workers.
	var wg sync.WaitGroup
	for w := 0; w < poolSize; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < tenants; i += poolSize {
				id := fmt.Sprintf("t%d", i)
				if err := d.Tenant(id).Publish(context.Background(), tenantEvent(id, "message.new", i)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	flush(t, d)
	if got := srv.Count(url); got != tenants {
		t.Fatalf("%d events arrived, want %d", got, tenants)
	}
	// The client holds at most poolSize; a connection it has just closed
	// may still count at the server while its replacement opens.
	if got := srv.PeakConnections(); got > poolSize+4 {
		t.Errorf("%d connections open at once for %d tenants, want at most the pool's %d (+4 closing)", got, tenants, poolSize)
	}
	t.Logf("%d tenants: at most %d connections open at once, %d accepted in all", tenants, srv.PeakConnections(), srv.ConnectionsAccepted())
}

// TestTenantCheckHook: a tenant's CheckHook uses its ExternalId.
func TestTenantCheckHook(t *testing.T) {
	e := newRoleEnv(t)
	d := e.dispatcher(t, nil, sqshook.WithTenantExternalID(func(tenant string) string {
		if tenant == "a" {
			return tenantID
		}
		return "other-" + tenant
	}))
	h := e.roleHook("x", "check-q")
	for _, tc := range []struct {
		tenant string
		ok     bool
	}{{"a", true}, {"b", false}} {
		res := d.Tenant(tc.tenant).CheckHook(context.Background(), h, sqshook.CheckOptions{Timeout: 10 * time.Second, ExternalID: tenantID})
		if ok := res.Status == sqshook.CheckOK; ok != tc.ok {
			t.Errorf("tenant %s: check %+v, want ok=%v", tc.tenant, res, tc.ok)
		}
	}
}

// TestEmulatorTenantIsolation: on the real emulator, 50 tenants with the
// same hook ids and filters and interleaved events; every queue holds
// exactly its tenant's events, none lost.
func TestEmulatorTenantIsolation(t *testing.T) {
	noLeaks(t)
	const tenants, perTenant = 50, 20
	ep := emulator(t)
	var client *sqs.Client
	hooks := make([]sqshook.Hook, tenants)
	for i := range hooks {
		h, c, _ := emulatorQueue(t, fmt.Sprintf("tenant%d", i), nil)
		h.ID, h.EventTypes = "events", []string{"message.*"}
		hooks[i], client = h, c
	}
	dls := &deadLetters{}
	d := startDispatcher(t, nil, sqshook.WithEndpoint(ep), sqshook.WithDeadLetter(dls.add), sqshook.WithRetryPolicy(fastRetries))
	for i, h := range hooks {
		if err := d.Tenant(fmt.Sprintf("t%d", i)).SetHooks([]sqshook.Hook{h}); err != nil {
			t.Fatal(err)
		}
	}
	for j := 0; j < perTenant; j++ {
		for i := range hooks {
			id := fmt.Sprintf("t%d", i)
			for _, typ := range []string{"message.new", "reaction.new"} { // the second matches no hook
				if err := d.Tenant(id).Publish(context.Background(), tenantEvent(id, typ, j)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	flush(t, d)
	checkAccounting(t, d, true)
	if len(dls.list()) != 0 {
		t.Fatalf("dead letters: %v", dls.byReason())
	}
	for i, h := range hooks {
		bodies := drainQueue(t, client, h.SQSQueueURL, perTenant)
		seen := map[string]bool{}
		for _, b := range bodies {
			if !strings.Contains(b, fmt.Sprintf(`"tenant":"t%d"`, i)) {
				t.Fatalf("tenant t%d's queue holds %s", i, b)
			}
			seen[b] = true
		}
		if len(seen) != perTenant {
			t.Errorf("tenant t%d's queue: %d distinct events, want %d", i, len(seen), perTenant)
		}
	}
}

// TestTenantFailedFirstListLeavesNothing: a new tenant whose first list
// fails past validation (its client cannot be built) is not kept: the
// dispatcher still counts one tenant, so the default tenant may keep its
// "resource" hooks.
func TestTenantFailedFirstListLeavesNothing(t *testing.T) {
	fake := newFake()
	d, _ := newTestDispatcher(t, nil, nil, sqshook.WithClientFunc(func(_ context.Context, h sqshook.Hook) (sqshook.SQSAPI, error) {
		if h.ID == "broken" {
			return nil, errors.New("no client")
		}
		return fake, nil
	}))
	role := sqshook.Hook{ID: "broken", Enabled: true, HookType: "sqs", SQSQueueURL: fakeQueuePrefix + "b", SQSRegion: "us-east-1", SQSAuthType: sqshook.AuthRole, SQSRoleARN: "arn:aws:iam::123456789012:role/r"}
	err := d.Tenant("new").SetHooks([]sqshook.Hook{role})
	if err == nil || !strings.Contains(err.Error(), `tenant "new"`) || !strings.Contains(err.Error(), "no client") {
		t.Fatalf("SetHooks with a client that fails: %v, want an error naming the tenant", err)
	}
	if err := d.SetHooks([]sqshook.Hook{hookFor("r", "r")}); err != nil {
		t.Errorf("default tenant's resource hook after the failed tenant: %v", err)
	}
	if s := d.Tenant("new").Stats(); len(s.Hooks) != 0 {
		t.Errorf("failed tenant has stats %+v", s.Hooks)
	}
}

// TestTenantIDRule: ids that break the rule (1-128 bytes of ASCII letters,
// digits and _+=,.@:/-) are refused wherever they enter, with an error
// wrapping ErrInvalidTenantID that quotes a short escaped prefix at most;
// a refused id configures nothing. Typical ids (names, Stream app ids and
// API keys, the ids of the demo) are accepted.
func TestTenantIDRule(t *testing.T) {
	long := strings.Repeat("a", 1300)
	refused := map[string]string{
		"NUL":            "acme\x00evil",
		"invalid UTF-8":  "acme\xff\xfe",
		"1,300 bytes":    long,
		"129 bytes":      strings.Repeat("b", sqshook.MaxTenantIDLen+1),
		"space":          "acme corp",
		"newline":        "acme\nINFO forged log line",
		"non-ASCII":      "café",
		"lookalike":      "аcme", // Cyrillic а
		"quote":          `acme"`,
		"percent":        "acme%00",
		"backslash":      `acme\x00`,
		"control at end": "acme\x7f",
	}
	accepted := []string{
		"acme", "tenant-b", "tenant:b", "tenant/b", "t50050", "1234567", "mmhfdzb5evj2",
		"org:acme/app@eu.west_1", "a+b=c,d", "x", strings.Repeat("z", sqshook.MaxTenantIDLen),
	}
	fake := newFake()
	d, _ := newTestDispatcher(t, fake, nil, sqshook.WithResourceAuthForTenants())
	ctx := context.Background()
	for name, id := range refused {
		t.Run(name, func(t *testing.T) {
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, sqshook.ErrInvalidTenantID) {
					t.Errorf("%s = %v, want an error wrapping ErrInvalidTenantID", what, err)
					return
				}
				msg := err.Error()
				if len(msg) > 300 || !utf8.ValidString(msg) || strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
					t.Errorf("%s: error %q is long (%d bytes) or holds raw control or invalid bytes", what, msg, len(msg))
				}
				if len(id) > 64 && strings.Contains(msg, id[:64]) {
					t.Errorf("%s: error echoes the long id", what)
				}
			}
			check("ValidateTenantID", sqshook.ValidateTenantID(id))
			tn := d.Tenant(id)
			check("Tenant.Err", tn.Err())
			check("SetHooks", tn.SetHooks([]sqshook.Hook{hookFor("h", "refused")}))
			check("Publish", tn.Publish(ctx, tenantEvent("x", "message.new", 0)))
			check("TryPublish", tn.TryPublish(tenantEvent("x", "message.new", 0)))
			_, err := tn.Check(ctx, "h", sqshook.CheckOptions{})
			check("Check", err)
			if res := tn.CheckHook(ctx, hookFor("h", "refused"), sqshook.CheckOptions{}); res.Status != sqshook.CheckError || !strings.Contains(res.Error, "invalid tenant id") {
				t.Errorf("CheckHook = %+v, want an error result naming the invalid tenant id", res)
			}
			check("RemoveTenant", d.RemoveTenant(ctx, id))
			if len(tn.Hooks()) != 0 || len(tn.Stats().Hooks) != 0 {
				t.Errorf("refused tenant lists hooks %v / stats %v", tn.Hooks(), tn.Stats().Hooks)
			}
		})
	}
	if len(d.Stats().Hooks) != 0 {
		t.Fatalf("refused ids configured hooks: %+v", d.Stats().Hooks)
	}
	// "" is not a tenant's name, but Dispatcher.Tenant("") is the default tenant.
	if err := sqshook.ValidateTenantID(""); !errors.Is(err, sqshook.ErrInvalidTenantID) {
		t.Errorf(`ValidateTenantID("") = %v, want ErrInvalidTenantID`, err)
	}
	if err := d.Tenant("").Err(); err != nil {
		t.Errorf(`Tenant("").Err() = %v, want nil: the default tenant`, err)
	}
	if err := sqshook.ValidateTenantID(long); err == nil || !strings.Contains(err.Error(), "1300 bytes") || !strings.Contains(err.Error(), "128") {
		t.Errorf("error for a 1,300-byte id %v does not give its length and the limit", err)
	}
	if err := sqshook.ValidateTenantID("acme\x00evil"); err == nil || !strings.Contains(err.Error(), `"acme\x00evil"`) || !strings.Contains(err.Error(), "byte 4") {
		t.Errorf("error for an id with NUL %v does not quote it escaped and name the byte", err)
	}
	for i, id := range accepted {
		if err := sqshook.ValidateTenantID(id); err != nil {
			t.Errorf("ValidateTenantID(%q) = %v, want nil", id, err)
		}
		tn := d.Tenant(id)
		if err := tn.SetHooks([]sqshook.Hook{hookFor("h", fmt.Sprintf("ok-%d", i))}); err != nil {
			t.Errorf("tenant %q SetHooks: %v", id, err)
		}
		if err := tn.Publish(ctx, tenantEvent(id, "message.new", 0)); err != nil {
			t.Errorf("tenant %q Publish: %v", id, err)
		}
	}
	flush(t, d)
	if got := len(d.Stats().Hooks); got != len(accepted) {
		t.Errorf("%d hooks configured, want one per accepted id (%d)", got, len(accepted))
	}
	for _, id := range accepted {
		if err := d.RemoveTenant(ctx, id); err != nil {
			t.Errorf("RemoveTenant(%q): %v", id, err)
		}
	}
}

// TestTenantRoleSessionNames: the role session name tells apart the
// ExternalIds (by default the tenant ids) that its character set or its
// length would confuse, keeps a readable prefix, and is always a valid
// session name (2-64 characters of [\w+=,.@-]).
func TestTenantRoleSessionNames(t *testing.T) {
	valid := regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	base := strings.Repeat("t", 99)
	ids := []string{
		"tenant:b", "tenant/b", "tenant-b", "tenant_b", "tenant.b",
		base + "1", base + "2", // 100 characters, differing at the end
		"Tenant-b", "x", "", strings.Repeat("é", 40), "a\x00b", "a b",
	}
	seen := map[string]string{}
	for _, id := range ids {
		name := sqshook.RoleSessionName(id)
		if !valid.MatchString(name) {
			t.Errorf("RoleSessionName(%q) = %q: not a valid session name", id, name)
		}
		if prev, ok := seen[name]; ok {
			t.Errorf("RoleSessionName(%q) = RoleSessionName(%q) = %q", id, prev, name)
		}
		seen[name] = id
		if sqshook.RoleSessionName(id) != name {
			t.Errorf("RoleSessionName(%q) is not stable", id)
		}
	}
	for id, prefix := range map[string]string{
		"tenant:b": "sqshook-tenant-b-", "tenant-b": "sqshook-tenant-b-",
		base + "1": "sqshook-" + base[:45] + "-",
	} {
		if name := sqshook.RoleSessionName(id); !strings.HasPrefix(name, prefix) || len(name) != len(prefix)+10 {
			t.Errorf("RoleSessionName(%q) = %q, want %q and 10 hex digits", id, name, prefix)
		}
	}
}

// TestTenantRemovePurgeSpool: with a spool, RemoveTenant with WithPurge
// dead-letters the copies waiting on the hook's disk backlog too, and
// settles them: the spool holds nothing of the tenant afterwards, and
// nothing more reaches its queue.
func TestTenantRemovePurgeSpool(t *testing.T) {
	noLeaks(t)
	const n = 30
	fake := newFake()
	block := make(chan struct{})
	fake.block = block
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(block) }) }
	d, dls := spoolDispatcher(t, fake, t.TempDir(), nil, sqshook.WithResourceAuthForTenants(),
		sqshook.WithMaxBuffered(3, 0), sqshook.WithMaxInFlight(1), sqshook.WithLinger(0))
	t.Cleanup(func() {
		release()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = d.Close(ctx)
	})
	if err := d.Tenant("gone").SetHooks([]sqshook.Hook{hookFor("h", "gone-q")}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		ev := tenantEvent("gone", "message.new", i)
		ev.ID = fmt.Sprintf("gone-%02d", i)
		if err := d.Tenant("gone").Publish(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	var inFlight int
	waitForCond(t, func() bool {
		h, _ := d.Tenant("gone").Stats().TenantHook("gone", "h")
		inFlight = h.InFlight
		return h.InFlight > 0
	})
	if h, _ := d.Tenant("gone").Stats().TenantHook("gone", "h"); h.Spooled == 0 {
		t.Fatalf("hook stats %+v, want copies on the disk backlog", h)
	}
	removed := make(chan error, 1)
	go func() { removed <- d.RemoveTenant(context.Background(), "gone", sqshook.WithPurge()) }()
	waitForCond(t, func() bool { return len(dls.list()) == n-inFlight })
	fake.mu.Lock()
	fake.block = nil
	fake.mu.Unlock()
	release()
	if err := <-removed; err != nil {
		t.Fatalf("RemoveTenant with WithPurge: %v", err)
	}
	delivered := fake.ackedIDs(fakeQueuePrefix + "gone-q")
	if len(delivered) != inFlight {
		t.Errorf("%d delivered, want the %d of the call in flight", len(delivered), inFlight)
	}
	seen := map[string]int{}
	for _, id := range delivered {
		seen[id]++
	}
	for _, dl := range dls.list() {
		seen[dl.Event.ID]++
		if dl.Reason != sqshook.ReasonHookRemoved || len(dl.Event.Body) == 0 {
			t.Errorf("dead letter %s: %s, body %d bytes; want hook_removed with the event", dl.Event.ID, dl.Reason, len(dl.Event.Body))
		}
	}
	for i := 0; i < n; i++ {
		if id := fmt.Sprintf("gone-%02d", i); seen[id] != 1 {
			t.Errorf("event %s accounted %d times, want once", id, seen[id])
		}
	}
	if s := d.Stats().Spool; s.Pending != 0 {
		t.Errorf("spool %+v after RemoveTenant with WithPurge, want nothing pending", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if after := fake.ackedIDs(fakeQueuePrefix + "gone-q"); len(after) != len(delivered) {
		t.Errorf("%d copies reached the removed tenant's queue after RemoveTenant returned", len(after)-len(delivered))
	}
}
