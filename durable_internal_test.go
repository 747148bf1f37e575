// durable_internal_test.go tests the disk-only backlog of durable.go the
// way a full memory share uses it: spillLocked leaves a copy on disk, and
// the copies come back into memory, in order, as room frees.

package sqshook

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

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
