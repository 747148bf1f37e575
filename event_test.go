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

// TestHookBodyEncoding: each hook's copies are written in its own
// BodyEncoding, or the dispatcher's when it has none; the size guard judges
// each copy in its encoding, so a body that fits raw but not in base64 is
// delivered raw and dead-lettered too_large where base64 is the rule; and
// a hook whose encoding changes gets a new pipeline.
func TestHookBodyEncoding(t *testing.T) {
	fake := newFake()
	hooks := []sqshook.Hook{hookFor("plain", "q-plain"), hookFor("b64", "q-b64"), hookFor("gz", "q-gz"), hookFor("raw", "q-raw")}
	hooks[1].BodyEncoding = sqshook.EncodingBase64
	hooks[2].BodyEncoding = sqshook.EncodingGzip
	hooks[3].BodyEncoding = sqshook.EncodingRaw
	const limit = 4096
	d, dls := newTestDispatcher(t, fake, hooks, sqshook.WithMaxMessageBytes(limit))
	small := event(t, "message.new", 1)
	// Fits raw; its base64 (4/3) does not; gzip shrinks the repetition.
	big := sqshook.Event{Type: "message.new", Body: []byte(`{"text":"` + strings.Repeat("a", 3600) + `"}`)}
	if err := d.Publish(context.Background(), small); err != nil {
		t.Fatal(err)
	}
	// Publish reports the copy it dead-lettered at once.
	if err := d.Publish(context.Background(), big); err == nil {
		t.Error("Publish of the big event returned nil, want the base64 copy's dead letter")
	}
	flush(t, d)
	queue := func(name string) string { return "https://sqs.us-east-1.amazonaws.com/123456789012/" + name }
	bodies := func(name string) []string {
		fake.mu.Lock()
		defer fake.mu.Unlock()
		var out []string
		for _, e := range fake.acked[queue(name)] {
			out = append(out, aws.ToString(e.MessageBody))
		}
		return out
	}
	want := map[string]int{"q-plain": 2, "q-b64": 1, "q-gz": 2, "q-raw": 2}
	for q, n := range want {
		got := bodies(q)
		if len(got) != n {
			t.Fatalf("%s: %d messages, want %d", q, len(got), n)
		}
		for _, b := range got {
			decoded, err := sqshook.DecodeBody(b)
			if err != nil {
				t.Fatalf("%s: DecodeBody: %v", q, err)
			}
			if !bytes.Equal(decoded, small.Body) && !bytes.Equal(decoded, big.Body) {
				t.Errorf("%s: decoded body %.40q is neither event's", q, decoded)
			}
			raw := strings.HasPrefix(b, "{")
			gz := strings.HasPrefix(b, "H4sI") // base64 of gzip's magic
			switch q {
			case "q-plain", "q-raw":
				if !raw {
					t.Errorf("%s: body %.20q, want raw JSON", q, b)
				}
			case "q-b64":
				if raw || gz {
					t.Errorf("%s: body %.20q, want base64 of the JSON", q, b)
				}
			case "q-gz":
				if !gz {
					t.Errorf("%s: body %.20q, want base64 of gzip", q, b)
				}
			}
		}
	}
	got := dls.list()
	if len(got) != 1 || got[0].HookID != "b64" || got[0].Reason != sqshook.ReasonTooLarge {
		t.Fatalf("dead letters %v, want one too_large for hook b64", got)
	}
	checkAccounting(t, d, true)

	// Changing only the encoding rebuilds the hook's pipeline.
	hooks[0].BodyEncoding = sqshook.EncodingGzip
	if err := d.SetHooks(hooks); err != nil {
		t.Fatal(err)
	}
	if err := d.Publish(context.Background(), small); err != nil {
		t.Fatal(err)
	}
	flush(t, d)
	if got := bodies("q-plain"); len(got) != 3 || !strings.HasPrefix(got[2], "H4sI") {
		t.Errorf("after SetHooks with gzip, q-plain's last body is %.20q, want base64 of gzip", got[len(got)-1])
	}

	bad := hookFor("bad", "q-bad")
	bad.BodyEncoding = "zstd"
	if _, err := sqshook.ValidateHooks([]sqshook.Hook{bad}, sqshook.ValidateOptions{}); err == nil || !strings.Contains(err.Error(), "zstd") {
		t.Errorf("ValidateHooks of an unknown encoding: %v, want an error naming it", err)
	}
}
