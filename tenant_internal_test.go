// tenant_internal_test.go tests, step by step, the window between
// Publish's load of its tenant's hooks and its offers to them: a removal
// (of the tenant, or of one hook) that falls in it.

package sqshook

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// raceHook is a "resource" hook on its own queue, for every event type.
func raceHook(id string) Hook {
	return Hook{
		ID: id, Enabled: true, HookType: "sqs", SQSRegion: "us-east-1", SQSAuthType: AuthResource,
		SQSQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/" + id,
	}
}

// raceDispatcher is a dispatcher whose calls all succeed at once, with a
// dead-letter collector.
func raceDispatcher(t *testing.T) (*Dispatcher, *gateSQS, func() []DeadLetter) {
	t.Helper()
	open := make(chan struct{})
	close(open)
	gate := &gateSQS{open: open}
	var mu sync.Mutex
	var dls []DeadLetter
	d, err := New(nil, WithClientFunc(func(context.Context, Hook) (SQSAPI, error) { return gate, nil }),
		WithDeadLetter(func(dl DeadLetter) { mu.Lock(); dls = append(dls, dl); mu.Unlock() }),
		WithResourceAuthForTenants(), WithLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = d.Close(ctx)
	})
	return d, gate, func() []DeadLetter { mu.Lock(); defer mu.Unlock(); return slices.Clone(dls) }
}

// TestPublishRacingRemoveTenantIsAccounted: a Publish that loaded its
// tenant's hooks before RemoveTenant and offers its copies after it gets
// every copy dead-lettered with ReasonHookRemoved, counted, and an error
// wrapping ErrTenantRemoved; before the fix the copies vanished and
// Publish returned nil. A tenant configured again meanwhile is a new
// tenant: the copies do not cross to it.
func TestPublishRacingRemoveTenantIsAccounted(t *testing.T) {
	for _, back := range []bool{false, true} {
		name := "removed"
		if back {
			name = "removed and configured again"
		}
		t.Run(name, func(t *testing.T) {
			d, gate, deadLetters := raceDispatcher(t)
			acme := d.Tenant("acme")
			if err := acme.SetHooks([]Hook{raceHook("a"), raceHook("b")}); err != nil {
				t.Fatal(err)
			}
			snap := acme.snapshot() // Publish's first step: the tenant's hooks
			if err := d.RemoveTenant(context.Background(), "acme"); err != nil {
				t.Fatal(err)
			}
			if back {
				if err := acme.SetHooks([]Hook{raceHook("a"), raceHook("b")}); err != nil {
					t.Fatal(err)
				}
			}
			// Publish's second step, after the removal.
			err := d.publish(context.Background(), snap, Event{ID: "e1", Type: "message.new", Body: []byte(`{}`)}, true)
			if !errors.Is(err, ErrTenantRemoved) {
				t.Fatalf("Publish racing RemoveTenant = %v, want an error wrapping ErrTenantRemoved", err)
			}
			var de *DeliveryError
			if !errors.As(err, &de) || de.Reason != ReasonHookRemoved || de.Tenant != "acme" || de.EventID != "e1" {
				t.Errorf("Publish's error %v, want a *DeliveryError of tenant acme, event e1, hook_removed", err)
			}
			flush := func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := d.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
			flush()
			var hooks []string
			for _, dl := range deadLetters() {
				if dl.Tenant != "acme" || dl.Event.ID != "e1" || dl.Reason != ReasonHookRemoved || !errors.Is(dl.Err, ErrTenantRemoved) {
					t.Errorf("dead letter %+v, want acme's e1, hook_removed, wrapping ErrTenantRemoved", dl)
				}
				hooks = append(hooks, dl.HookID)
			}
			slices.Sort(hooks)
			if !slices.Equal(hooks, []string{"a", "b"}) {
				t.Errorf("dead letters of hooks %v, want one for each of a and b", hooks)
			}
			gate.mu.Lock()
			delivered := len(gate.ids)
			gate.mu.Unlock()
			if delivered != 0 {
				t.Errorf("%d copies delivered, want 0 (to the new tenant's hooks neither)", delivered)
			}
			// The retired hooks counted the copies (matched and
			// dead-lettered); the new tenant's hooks saw nothing.
			for _, p := range snap.pipes {
				s := p.stats()
				if s.Matched != 1 || s.DeadLettered != 1 || s.Pending != 0 {
					t.Errorf("retired hook %s: matched %d, dead-lettered %d, pending %d; want 1, 1, 0", s.HookID, s.Matched, s.DeadLettered, s.Pending)
				}
			}
			for _, h := range acme.Stats().Hooks {
				if h.Matched != 0 {
					t.Errorf("new hook %s matched %d copies routed to the removed tenant", h.HookID, h.Matched)
				}
			}
		})
	}
}

// TestPublishRacingHookRemovalSkipsTheHook: the same window when SetHooks
// removes one hook of a tenant that stays: that hook never took the copy
// (as if Publish had come after SetHooks), Publish returns nil, nothing is
// dead-lettered, and the other hook's copy is delivered. Only a removed
// tenant makes Publish report its copies.
func TestPublishRacingHookRemovalSkipsTheHook(t *testing.T) {
	d, gate, deadLetters := raceDispatcher(t)
	if err := d.SetHooks([]Hook{raceHook("a"), raceHook("b")}); err != nil {
		t.Fatal(err)
	}
	snap := d.def.snap.Load()
	if err := d.SetHooks([]Hook{raceHook("a")}); err != nil {
		t.Fatal(err)
	}
	if err := d.publish(context.Background(), snap, Event{ID: "e1", Type: "message.new", Body: []byte(`{}`)}, true); err != nil {
		t.Fatalf("Publish racing the removal of hook b = %v, want nil", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if dls := deadLetters(); len(dls) != 0 {
		t.Errorf("dead letters %+v, want none", dls)
	}
	gate.mu.Lock()
	defer gate.mu.Unlock()
	if !slices.Equal(gate.ids, []string{"e1"}) {
		t.Errorf("delivered %v, want e1 once (hook a)", gate.ids)
	}
}

// TestPublishWaitingForRoomInRemovedTenant: a Publish that waits for room
// (OverflowWait) in a hook of a tenant that RemoveTenant removes returns
// at once with its copy dead-lettered hook_removed and an error wrapping
// ErrTenantRemoved, not nil with the copy gone.
func TestPublishWaitingForRoomInRemovedTenant(t *testing.T) {
	gate := &gateSQS{open: make(chan struct{})}
	var mu sync.Mutex
	var dls []DeadLetter
	d, err := New(nil, WithClientFunc(func(context.Context, Hook) (SQSAPI, error) { return gate, nil }),
		WithDeadLetter(func(dl DeadLetter) { mu.Lock(); dls = append(dls, dl); mu.Unlock() }),
		WithResourceAuthForTenants(), WithLinger(0),
		WithMaxBuffered(1, 0), WithOverflowWait(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var openOnce sync.Once
	open := func() { openOnce.Do(func() { close(gate.open) }) }
	t.Cleanup(func() {
		open()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = d.Close(ctx)
	})
	acme := d.Tenant("acme")
	if err := acme.SetHooks([]Hook{raceHook("h")}); err != nil {
		t.Fatal(err)
	}
	if err := acme.Publish(context.Background(), Event{ID: "first", Type: "message.new", Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	p := acme.snapshot().pipes[0]
	waiting := make(chan error, 1)
	go func() {
		waiting <- acme.Publish(context.Background(), Event{ID: "waiting", Type: "message.new", Body: []byte(`{}`)})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for { // until the second Publish waits for room
		p.mu.Lock()
		w := p.space != nil
		p.mu.Unlock()
		if w {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second Publish does not wait for room")
		}
		time.Sleep(time.Millisecond)
	}
	removed := make(chan error, 1)
	go func() { removed <- d.RemoveTenant(context.Background(), "acme") }()
	err = <-waiting
	var de *DeliveryError
	if !errors.Is(err, ErrTenantRemoved) || !errors.As(err, &de) || de.Reason != ReasonHookRemoved || de.EventID != "waiting" {
		t.Errorf("waiting Publish = %v, want its copy's hook_removed *DeliveryError wrapping ErrTenantRemoved", err)
	}
	open()
	if err := <-removed; err != nil {
		t.Fatal(err)
	}
	gate.mu.Lock()
	delivered := slices.Clone(gate.ids)
	gate.mu.Unlock()
	if !slices.Equal(delivered, []string{"first"}) {
		t.Errorf("delivered %v, want [first]", delivered)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dls) != 1 || dls[0].Event.ID != "waiting" || dls[0].Reason != ReasonHookRemoved {
		t.Errorf("dead letters %+v, want the waiting copy's hook_removed", dls)
	}
}
