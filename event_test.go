// event_test.go tests the one-time preparation of events: the attributes
// sqshook adds and the size bound checked before encoding.

package sqshook_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sqshook/sqshook"
)

// TestPublishChecksOwnAttributes: the event type and the event id travel as
// String attributes; values SQS would refuse or mangle (invalid UTF-8, NUL,
// U+FFFF, other control characters) and values past their cap are
// dead-lettered as invalid_field naming the attribute, and nothing is sent.
func TestPublishChecksOwnAttributes(t *testing.T) {
	fake := newFake()
	d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")})
	body := []byte(`{"type":"x"}`)
	bad := []struct {
		name, typ, id, attr string
	}{
		{"type invalid UTF-8", "message.\xff", "", sqshook.AttrEventType},
		{"type NUL", "message.\x00new", "", sqshook.AttrEventType},
		{"type U+FFFF", "message.\uffffnew", "", sqshook.AttrEventType},
		{"type escape", "message.\x1bnew", "", sqshook.AttrEventType},
		{"type too long", "message." + strings.Repeat("n", sqshook.MaxEventTypeLen), "", sqshook.AttrEventType},
		{"id invalid UTF-8", "message.new", "id-\xc3", sqshook.AttrEventID},
		{"id NUL", "message.new", "id-\x00", sqshook.AttrEventID},
		{"id U+FFFE", "message.new", "id-\ufffe", sqshook.AttrEventID},
		{"id too long", "message.new", strings.Repeat("i", sqshook.MaxEventIDLen+1), sqshook.AttrEventID},
	}
	for _, b := range bad {
		if err := d.Publish(context.Background(), sqshook.Event{ID: b.id, Type: b.typ, Body: body}); err == nil {
			t.Errorf("%s: Publish returned no error for a copy dead-lettered at once", b.name)
		}
	}
	// Values at the limits and of every accepted kind go through.
	good := []sqshook.Event{
		{Type: "message." + strings.Repeat("n", sqshook.MaxEventTypeLen-len("message.")), Body: body},
		{ID: strings.Repeat("i", sqshook.MaxEventIDLen), Type: "message.new", Body: body},
		{ID: "ok-\t\u00e9\U0001F600", Type: "message.\ud7ff\ue000\ufffd", Body: body},
	}
	for _, ev := range good {
		if err := d.Publish(context.Background(), ev); err != nil {
			t.Errorf("Publish(%q, %q): %v; want it accepted", ev.ID, ev.Type, err)
		}
	}
	flush(t, d)
	got := dls.list()
	if len(got) != len(bad) {
		t.Fatalf("%d dead letters, want %d: %+v", len(got), len(bad), got)
	}
	for i, dl := range got {
		want := "MessageAttributes[" + bad[i].attr + "]"
		if dl.Reason != sqshook.ReasonInvalidField || !strings.Contains(dl.Message, want) {
			t.Errorf("%s: dead letter %q: %q; want %q naming %s", bad[i].name, dl.Reason, dl.Message, sqshook.ReasonInvalidField, want)
		}
	}
	if n := len(fake.ackedIDs(hookFor("h", "q").SQSQueueURL)); n != len(good) {
		t.Errorf("%d messages sent, want %d (only the good events)", n, len(good))
	}
}

// TestPublishRefusesOversizedBeforeEncoding: Publish of an event that
// cannot fit dead-letters it as too_large without encoding it (the raw
// repair of control characters would allocate six times the body).
func TestPublishRefusesOversizedBeforeEncoding(t *testing.T) {
	fake := newFake()
	d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")})
	body := append(append([]byte(`{"t":"`), bytes.Repeat([]byte{1}, 8<<20)...), `"}`...)
	var err error
	n := allocated(func() { err = d.Publish(context.Background(), sqshook.Event{Type: "message.new", Body: body}) })
	if err == nil {
		t.Error("Publish returned no error for a copy dead-lettered at once")
	}
	if limit := uint64(len(body) / 4); n > limit {
		t.Errorf("Publish of a %d-byte event allocated %d bytes; want at most %d (refused before encoding)", len(body), n, limit)
	}
	flush(t, d)
	if got := dls.byReason(); got[sqshook.ReasonTooLarge] != 1 || len(dls.list()) != 1 {
		t.Errorf("dead letters by reason: %v; want one too_large", got)
	}
}

// TestPublishAllocatesOncePerEvent checks the caller's side of Publish for
// an event NewEvent built: one allocation (the event's shared data, which
// holds the first hook's entry), whatever checks prepare runs. The senders
// are blocked so that only the publishing goroutine allocates.
func TestPublishAllocatesOncePerEvent(t *testing.T) {
	block := make(chan struct{})
	client := &blockingSQS{block: block}
	d, err := sqshook.New([]sqshook.Hook{hookFor("h", "q", "message.new")},
		sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) { return client, nil }),
		sqshook.WithMaxInFlight(1), sqshook.WithLinger(time.Hour),
		sqshook.WithDeadLetter(func(sqshook.DeadLetter) {}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		close(block)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	ev, err := sqshook.NewEvent("message.new", map[string]string{"text": "hi"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Warm up: the first batch goes out (and blocks), the queue's ring
	// grows to its working size.
	for range 2000 {
		if err := d.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if err := d.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("Publish allocated %.0f times per event, want 1", allocs)
	}
}

// blockingSQS holds every call until block is closed, then acknowledges it.
type blockingSQS struct {
	sqshook.SQSAPI
	block chan struct{}
}

func (b *blockingSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	select {
	case <-b.block:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("m")})
	}
	return out, nil
}
