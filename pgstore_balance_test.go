// pgstore_balance_test.go tests that a fleet shares its hooks
// (pgstore_balance.go): an instance joining a fleet whose one instance
// owns every hook gets its fair share, and both deliver.

package sqshook_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sqshook/sqshook"
)

// countingSQS counts the messages an instance sent.
type countingSQS struct {
	*sqs.Client
	sent atomic.Int64
}

func (c *countingSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	out, err := c.Client.SendMessageBatch(ctx, in, opts...)
	if err == nil {
		c.sent.Add(int64(len(out.Successful)))
	}
	return out, err
}

// TestPostgresLeaseBalance starts one instance with seven hooks, which
// takes them all, then a second: the first sheds down to its fair share
// (ceil(7/2) = 4), the second takes the other three, every event is
// delivered once to every hook, and both instances deliver. When the
// second leaves, the first takes every hook back.
func TestPostgresLeaseBalance(t *testing.T) {
	e := newPGEnv(t, 2*time.Second)
	const nHooks, events = 7, 60
	hooks := make([]sqshook.Hook, nHooks)
	for i := range hooks {
		hooks[i] = pgHook(fmt.Sprintf("h%d", i), e.srv.CreateQueue(fmt.Sprintf("q%d", i), nil))
	}
	clients := map[string]*countingSQS{}
	node := func(id string) *pgNode {
		c := &countingSQS{Client: e.srv.Client()}
		clients[id] = c
		return e.node(t, id, hooks, sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) { return c, nil }))
	}
	a := node("a")
	waitPG(t, "a owns every hook", func() bool { return e.owned(t, "a") == nHooks })
	b := node("b")
	waitPG(t, "the hooks shared 4 and 3", func() bool { return e.owned(t, "a") == 4 && e.owned(t, "b") == 3 })
	ctx := context.Background()
	for i := range events {
		pub := a
		if i%2 == 1 {
			pub = b
		}
		if err := pub.d.Publish(ctx, event(t, "message.new", i)); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	waitPG(t, "every copy delivered", func() bool {
		for _, h := range hooks {
			if e.srv.Count(h.SQSQueueURL) < events {
				return false
			}
		}
		return e.count(t, "sqshook_copy") == 0
	})
	for _, h := range hooks {
		if got := e.srv.Count(h.SQSQueueURL); got != events {
			t.Errorf("%s: %d messages, want %d", h.ID, got, events)
		}
	}
	sa, sb := clients["a"].sent.Load(), clients["b"].sent.Load()
	if sa != 4*events || sb != 3*events {
		t.Errorf("a sent %d and b %d messages, want %d and %d", sa, sb, 4*events, 3*events)
	}
	if err := b.d.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitPG(t, "a owns every hook again", func() bool { return e.owned(t, "a") == nHooks })
}

// TestPostgresLeaseBalanceIgnoresStaleHooks: rows of hooks no instance
// configures (removed long ago, or parked) do not count in the fair
// share. With 20 such rows and 4 live hooks, two instances share the live
// ones 2 and 2; counting the stale rows would give each a share of 12,
// and the first would keep all four.
func TestPostgresLeaseBalanceIgnoresStaleHooks(t *testing.T) {
	e := newPGEnv(t, 2*time.Second)
	ctx := context.Background()
	if _, err := e.pool.Exec(ctx, `WITH h AS (
	INSERT INTO `+e.table("sqshook_hook")+` (tenant, hook_id, configured_until)
	SELECT 'gone', 'old-' || i, now() - interval '1 day' FROM generate_series(1, 20) AS i RETURNING id)
INSERT INTO `+e.table("sqshook_lease")+` (hook) SELECT id FROM h`); err != nil {
		t.Fatal(err)
	}
	const nHooks = 4
	hooks := make([]sqshook.Hook, nHooks)
	for i := range hooks {
		hooks[i] = pgHook(fmt.Sprintf("h%d", i), e.srv.CreateQueue(fmt.Sprintf("q%d", i), nil))
	}
	e.node(t, "a", hooks)
	waitPG(t, "a owns every live hook", func() bool { return e.owned(t, "a") == nHooks })
	e.node(t, "b", hooks)
	waitPG(t, "the live hooks shared 2 and 2", func() bool { return e.owned(t, "a") == 2 && e.owned(t, "b") == 2 })
}
