// durable_internal_test.go tests the disk-only backlog of durable.go the
// way a full memory share uses it (spillLocked leaves a copy on disk, and
// the copies come back into memory, in order, as room frees), the spool's
// keys, and WithResumeWait's bound on parked copies with a fake clock.

package sqshook

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sqshook/sqshook/spool"
)

// gateSQS acknowledges every entry once open is closed, recording event ids.
type gateSQS struct {
	open chan struct{}
	mu   sync.Mutex
	ids  []string
}

func (g *gateSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	select {
	case <-g.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	out := &sqs.SendMessageBatchOutput{}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, e := range in.Entries {
		g.ids = append(g.ids, aws.ToString(e.MessageAttributes[AttrEventID].StringValue))
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: e.Id})
	}
	return out, nil
}

func (g *gateSQS) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return nil, fmt.Errorf("not used")
}

func (g *gateSQS) GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return &sqs.GetQueueAttributesOutput{}, nil
}

func TestSpillReadsBackInOrder(t *testing.T) {
	gate := &gateSQS{open: make(chan struct{})}
	h := Hook{ID: "f", Enabled: true, HookType: HookTypeSQS, SQSRegion: "us-east-1", SQSAuthType: AuthResource,
		SQSQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/q.fifo"}
	d, err := New([]Hook{h},
		WithClientFunc(func(context.Context, Hook) (SQSAPI, error) { return gate, nil }),
		WithSpool(t.TempDir(), spool.Options{}), WithMaxBuffered(4, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	p := d.def.snap.Load().pipes[0]
	var want []string
	for i := range 40 {
		ev := Event{ID: fmt.Sprintf("ev-%02d", i), Type: "message.new", Body: []byte(`{"cid":"c"}`), GroupID: "g"}
		want = append(want, ev.ID)
		// The first 4 fill the share in memory; with a spool the
		// overflow rule leaves the others on disk, and TryPublish
		// neither waits nor dead-letters them.
		if err := d.TryPublish(ev); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if i >= 4 {
			p.mu.Lock()
			room := p.memRoomLocked()
			p.mu.Unlock()
			if room > 0 {
				t.Errorf("event %d: room %d in a full share", i, room)
			}
		}
	}
	hs, _ := d.Stats().Hook("f")
	if hs.Pending != 4 || hs.Spooled != 36 || hs.Matched != 40 {
		t.Fatalf("stats %+v: want 4 pending in memory, 36 spooled, 40 matched", hs)
	}
	close(gate.open)
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gate.ids, want) {
		t.Fatalf("delivered %v, want %v", gate.ids, want)
	}
	hs, _ = d.Stats().Hook("f")
	if hs.Delivered != 40 || hs.Spooled != 0 || d.Stats().Spool.Pending != 0 {
		t.Fatalf("after Close: %+v, spool %+v; want 40 delivered, nothing spooled", hs, d.Stats().Spool)
	}
}

func TestSpoolKeys(t *testing.T) {
	seen := map[string][2]string{}
	for _, c := range [][2]string{
		{"", "h"}, {"", "1"}, {"t", "h"}, {"t", "1h"}, {"t1", "h"}, {"1/t", "h"}, {"t/1", "h"}, {"é", "h"}, {"a", "b:c"},
	} {
		key := spoolKeyOf(c[0], c[1])
		if prev, dup := seen[key]; dup {
			t.Errorf("key %q for %q and %q", key, prev, c)
		}
		seen[key] = c
		tenant, hook, ok := parseSpoolKey(key)
		if !ok || tenant != c[0] || hook != c[1] {
			t.Errorf("parseSpoolKey(%q) = %q, %q, %v; want %q, %q", key, tenant, hook, ok, c[0], c[1])
		}
	}
	if spoolKeyOf("", "h") != "h" {
		t.Errorf("the default tenant's key is %q, want the hook id (as spools written before tenants)", spoolKeyOf("", "h"))
	}
	for _, bad := range []string{"x/th", "9/th", "0/h", "-1/h"} {
		if _, _, ok := parseSpoolKey(bad); ok {
			t.Errorf("parseSpoolKey(%q) accepted", bad)
		}
	}
}

// seedParked leaves 3 events of each tenant's hook "h" in the spool in dir
// (published while SQS does not answer, then a Close that gives up) and
// returns their event ids per tenant.
func seedParked(t *testing.T, dir string, tenants ...string) map[string][]string {
	t.Helper()
	stuck := &gateSQS{open: make(chan struct{})}
	d, err := New(nil, WithResourceAuthForTenants(), WithDeadLetter(func(DeadLetter) { t.Error("dead letter while seeding") }),
		WithClientFunc(func(context.Context, Hook) (SQSAPI, error) { return stuck, nil }), WithSpool(dir, spool.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string][]string{}
	for _, tn := range tenants {
		if err := d.Tenant(tn).SetHooks([]Hook{parkHook(tn)}); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			ev := Event{ID: fmt.Sprintf("%s#%d", tn, i), Type: "message.new", Body: []byte(`{"cid":"c"}`)}
			if err := d.Tenant(tn).Publish(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			ids[tn] = append(ids[tn], ev.ID)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d.Close(ctx)
	return ids
}

func parkHook(tenant string) Hook {
	return Hook{ID: "h", Enabled: true, HookType: HookTypeSQS, SQSRegion: "us-east-1", SQSAuthType: AuthResource,
		SQSQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/" + tenant}
}

// TestResumeWaitDeadLettersParkedCopies: with the dispatcher's clock, a
// tenant that has not configured its hook WithResumeWait after New has its
// parked copies dead-lettered as hook_removed, not a moment before; a
// tenant that came back in time is delivered; the default bound is
// DefaultResumeWait; 0 waits without bound; Close stops the timer.
func TestResumeWaitDeadLettersParkedCopies(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		wait time.Duration // 0: no bound
	}{
		{"option", []Option{WithResumeWait(time.Hour)}, time.Hour},
		{"default", nil, DefaultResumeWait},
		{"unbounded", []Option{WithResumeWait(0)}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ids := seedParked(t, dir, "acme", "globex")
			clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
			open := &gateSQS{open: make(chan struct{})}
			close(open.open)
			var mu sync.Mutex
			var dls []DeadLetter
			d, err := New(nil, append([]Option{withClock(clk), WithResourceAuthForTenants(), WithLinger(0),
				WithDeadLetter(func(dl DeadLetter) { mu.Lock(); dls = append(dls, dl); mu.Unlock() }),
				WithClientFunc(func(context.Context, Hook) (SQSAPI, error) { return open, nil }),
				WithSpool(dir, spool.Options{})}, tc.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			dead := func() []DeadLetter { mu.Lock(); defer mu.Unlock(); return slices.Clone(dls) }
			if err := d.Tenant("globex").SetHooks([]Hook{parkHook("globex")}); err != nil {
				t.Fatal(err)
			}
			step := tc.wait
			if step == 0 {
				step = 1000 * time.Hour
			}
			clk.advance(step - time.Nanosecond)
			if n := len(dead()); n != 0 || d.Stats().Spool.Parked != 3 {
				t.Fatalf("just before the bound: %d dead letters, spool %+v; want none, acme's 3 parked", n, d.Stats().Spool)
			}
			clk.advance(time.Nanosecond) // the timer runs its callback here, synchronously
			got := dead()
			if tc.wait == 0 {
				if len(got) != 0 || d.Stats().Spool.Parked != 3 {
					t.Fatalf("without a bound: %d dead letters, spool %+v; want acme's 3 still parked", len(got), d.Stats().Spool)
				}
			} else {
				if len(got) != 3 {
					t.Fatalf("at the bound: %d dead letters, want acme's 3", len(got))
				}
				for i, dl := range got {
					if dl.Tenant != "acme" || dl.HookID != "h" || dl.Reason != ReasonHookRemoved || dl.Event.ID != ids["acme"][i] ||
						!strings.Contains(dl.Message, "WithResumeWait") || !strings.Contains(dl.Message, tc.wait.String()) {
						t.Errorf("dead letter %d: %+v; want acme's %s, hook_removed, naming WithResumeWait and %v", i, dl, ids["acme"][i], tc.wait)
					}
				}
				if s := d.Stats().Spool; s.Parked != 0 || s.HookRemoved != 3 {
					t.Errorf("spool %+v, want nothing parked, 3 hook_removed", s)
				}
				// Too late: acme's SetHooks finds nothing to adopt.
				if err := d.Tenant("acme").SetHooks([]Hook{parkHook("acme")}); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			open.mu.Lock()
			sent := slices.Clone(open.ids)
			open.mu.Unlock()
			if !slices.Equal(sent, ids["globex"]) {
				t.Errorf("delivered %v, want globex's %v only", sent, ids["globex"])
			}
			wantPending := 0
			if tc.wait == 0 {
				wantPending = 3 // kept by Close for the next New
			}
			if s := d.Stats().Spool; s.Pending != wantPending {
				t.Errorf("spool %+v after Close, want %d pending", s, wantPending)
			}
			clk.mu.Lock()
			for _, tm := range clk.timers {
				if !tm.fired && !tm.stopped {
					t.Errorf("a timer due at %v is still set after Close", tm.at)
				}
			}
			clk.mu.Unlock()
		})
	}
}

// TestResumeWaitStopsAtClose: Close before the bound stops its timer
// (Close would otherwise wait for it) and keeps the parked copies in the
// spool; the bound passing later reports nothing.
func TestResumeWaitStopsAtClose(t *testing.T) {
	dir := t.TempDir()
	seedParked(t, dir, "acme")
	clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	d, err := New(nil, withClock(clk), WithResourceAuthForTenants(), WithResumeWait(time.Hour),
		WithDeadLetter(func(dl DeadLetter) { t.Errorf("dead letter %+v", dl) }),
		WithClientFunc(func(context.Context, Hook) (SQSAPI, error) { return &gateSQS{}, nil }),
		WithSpool(dir, spool.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(30 * time.Minute)
	done := make(chan error, 1)
	go func() { done <- d.Close(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close still waits after 30 s: the resume timer was not stopped")
	}
	clk.mu.Lock()
	var set int
	for _, tm := range clk.timers {
		if !tm.fired && !tm.stopped {
			set++
		}
	}
	clk.mu.Unlock()
	if set != 0 {
		t.Errorf("%d timers still set after Close", set)
	}
	clk.advance(time.Hour)
	if s := d.Stats().Spool; s.Parked != 3 || s.Pending != 3 || s.HookRemoved != 0 {
		t.Errorf("spool %+v after Close, want acme's 3 copies parked and pending, none removed", s)
	}
	sp, err := spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if st := sp.Stats(); st.Pending != 3 {
		t.Errorf("the spool holds %d pending copies, want 3 for the next New", st.Pending)
	}
}
