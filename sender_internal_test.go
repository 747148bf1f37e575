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

// senders counts the sender goroutines alive, and those of them waiting
// for a call (in the select of sender, not in a call).
func senders() (n, waiting int) {
	buf := make([]byte, 1<<20)
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if !strings.Contains(g, "sqshook.(*Dispatcher).sender(") {
			continue
		}
		n++
		if strings.Contains(g, " [select") && !strings.Contains(g, "sqshook.(*pipe).send(") {
			waiting++
		}
	}
	return n, waiting
}

// TestSenderReused: calls made one after another run on one sender
// goroutine, which ends once it has waited senderIdle for another call.
func TestSenderReused(t *testing.T) {
	fake := &goroutineSQS{}
	d, publish := fakeSQSDispatcher(t, fake)
	for round := 1; round <= 5; round++ {
		publish(MaxBatchEntries)
		waitFor(t, func() bool { return d.Stats().Hooks[0].Delivered == uint64(round*MaxBatchEntries) })
		// The call is settled before its sender waits for the next one:
		// the next round's call goes to it only once it waits.
		waitFor(t, func() bool { n, waiting := senders(); return n == 1 && waiting == 1 })
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
	for n, _ := senders(); n > 0; n, _ = senders() {
		if time.Now().After(deadline) {
			t.Fatalf("%d sender goroutines still alive a minute after senderIdle", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
