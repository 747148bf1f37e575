// event_test.go tests the one-time preparation of events: the attributes
// sqshook adds and the size bound checked before encoding.

package sqshook_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

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
