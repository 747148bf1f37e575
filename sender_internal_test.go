package sqshook

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// goroutineID returns the calling goroutine's id, from its stack's
// header ("goroutine 42 [running]:").
func goroutineID() string {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b, _ = bytes.CutPrefix(b, []byte("goroutine "))
	id, _, _ := bytes.Cut(b, []byte(" "))
	return string(id)
}

// goroutineSQS acknowledges every call and records the goroutine each was
// made on.
type goroutineSQS struct {
	countingSQS
	mu  sync.Mutex
	ids []string
}

func (g *goroutineSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, o ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	g.mu.Lock()
	g.ids = append(g.ids, goroutineID())
	g.mu.Unlock()
	return g.countingSQS.SendMessageBatch(ctx, in, o...)
}

// senders counts the sender goroutines alive.
func senders() int {
	buf := make([]byte, 1<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "sqshook.(*Dispatcher).sender(")
}

// TestSenderReused: calls made one after another run on one sender
// goroutine, which ends once it has waited senderIdle for another call.
func TestSenderReused(t *testing.T) {
	fake := &goroutineSQS{}
	hook := Hook{ID: "h", Enabled: true, HookType: "sqs", SQSQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/q", SQSRegion: "us-east-1", SQSAuthType: "resource"}
	d, err := New([]Hook{hook}, WithClientFunc(func(context.Context, Hook) (SQSAPI, error) { return fake, nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	for round := 1; round <= 5; round++ {
		for range MaxBatchEntries {
			if err := d.Publish(context.Background(), Event{Type: "message.new", Body: []byte(`{"i":1}`)}); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, func() bool { return d.Stats().Hooks[0].Delivered == uint64(round*MaxBatchEntries) })
		// The sender counts the call settled before it waits for the next.
		waitFor(t, func() bool { return senders() == 1 })
	}
	fake.mu.Lock()
	ids := fake.ids
	fake.mu.Unlock()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("calls made on goroutines %v, want one", ids)
		}
	}
	if len(ids) != 5 {
		t.Fatalf("%d calls, want 5", len(ids))
	}
	deadline := time.Now().Add(senderIdle + time.Minute)
	for senders() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sender goroutines still alive a minute after senderIdle", senders())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
