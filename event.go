// event.go is what is published: Event, NewEvent, and the one-time
// preparation of an event (id, size guard, attributes, the body's MD5)
// shared by every hook that receives it.

package sqshook

import (
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Event is one chat event to deliver.
type Event struct {
	// ID identifies the event across retries and hooks; it travels as the
	// "event_id" message attribute and is the deduplication id on FIFO
	// queues when DedupID is empty. Empty: Publish assigns a unique one.
	// At most MaxEventIDLen bytes of characters SQS accepts in an attribute
	// value, else the event is dead-lettered (ReasonInvalidField).
	ID string
	// Type is the event type, such as "message.new"; hooks filter on it.
	// Required. It travels as the "event_type" message attribute: at most
	// MaxEventTypeLen bytes of characters SQS accepts in an attribute
	// value, else the event is dead-lettered (ReasonInvalidField).
	Type string
	// Body is the event as a JSON document. Required. Publish takes it over:
	// it is shared by every hook's copy without copying, so the caller must
	// not modify it after Publish.
	Body []byte
	// GroupID is the FIFO message group id. Empty: the dispatcher's group
	// strategy picks one (GroupByChannel by default: the body's "cid",
	// else the event type). Ignored by standard queues.
	GroupID string
	// DedupID is the FIFO deduplication id. Empty: the event id.
	DedupID string
	// Attributes are extra SQS message attributes (at most eight: sqshook
	// adds "event_id" and "event_type").
	Attributes map[string]types.MessageAttributeValue

	// valid is the body NewEvent made or checked: Publish need not check
	// that it is JSON again, as long as Body is still that slice.
	valid []byte
}

// bodyValidated reports whether Body is the JSON body NewEvent made.
func (ev *Event) bodyValidated() bool {
	return len(ev.Body) > 0 && len(ev.valid) == len(ev.Body) && unsafe.SliceData(ev.valid) == unsafe.SliceData(ev.Body)
}

// NewEvent marshals payload to JSON and returns an event of the given type.
// A payload that is already JSON ([]byte or json.RawMessage) is checked and
// used as is. Publish checks that the body of every event is JSON, except
// for the bodies NewEvent made (while Event.Body is not replaced), so an
// event built once and published many times pays for the check once.
func NewEvent(eventType string, payload any) (Event, error) {
	body, err := marshalPayload(payload)
	if err != nil {
		return Event{}, fmt.Errorf("sqshook: event %q: body: %w", eventType, err)
	}
	return Event{Type: eventType, Body: body, valid: body}, nil
}

// Message attribute names sqshook adds to every message.
const (
	AttrEventID   = "event_id"
	AttrEventType = "event_type"
)

// eventData is one published event, shared read-only by every hook's copy.
type eventData struct {
	ev    Event
	id    string
	body  string // the SQS message body: encoded and repaired
	size  int    // SQS message size, attributes included
	guard error  // non-nil: the size guard refused the event

	ref storeRef // its record in the spool; 0: not spooled

	// One allocation serves the common case of one matching hook: the
	// generated id's bytes and the first hook's entry live here. firstUsed
	// sits in idBuf's padding, which keeps eventData in its size class.
	idBuf        [eventIDBufLen]byte
	firstUsed    bool
	attrsChecked bool // the attributes passed: guard, if set, is the body's
	first        entry

	tel *eventTelemetry // nil: no metrics or traces

	md5 bodyDigest // body's

	// The body in the encodings of hooks with their own (Hook.BodyEncoding),
	// written on first use.
	altMu sync.Mutex
	alts  []*encoded
}

// newEntry returns an entry for one hook's copy of the event. Copies are
// made one after the other by the publishing goroutine.
func (ed *eventData) newEntry() *entry {
	if !ed.firstUsed {
		ed.firstUsed = true
		return &ed.first
	}
	return new(entry)
}

func (d *Dispatcher) prepare(ev Event) (*eventData, error) {
	var problems []string
	if ev.Type == "" {
		problems = append(problems, "type: required")
	}
	if len(ev.Body) == 0 {
		problems = append(problems, "body: required (a JSON document)")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalidEvent, strings.Join(problems, "; "))
	}
	ed := &eventData{ev: ev}
	if ev.ID == "" {
		ed.id = d.newEventID(&ed.idBuf)
		ed.ev.ID = ed.id
	} else {
		ed.id = ev.ID
	}
	if len(ev.Attributes) > 0 {
		for _, name := range []string{AttrEventID, AttrEventType} {
			if _, ok := ev.Attributes[name]; ok {
				ed.guard = &GuardError{Reason: ReasonInvalidField, Field: "MessageAttributes[" + name + "]", Detail: "reserved for sqshook"}
			}
		}
		if len(ev.Attributes) > 8 {
			ed.guard = &GuardError{Reason: ReasonInvalidField, Field: "MessageAttributes", Detail: "at most 8 attributes (sqshook adds 2, SQS allows 10)"}
		}
		if ed.guard == nil {
			ed.guard = CheckAttributes(ev.Attributes)
		}
	}
	if ed.guard == nil {
		ed.guard = checkOwnAttributes(ed.id, ev.Type)
	}
	if ed.guard == nil {
		ed.attrsChecked = true
		ed.body, ed.size, ed.guard = ed.encodeWith(d.cfg.guard)
	}
	return ed, nil
}

// encodeWith writes the event's body in g's encoding and measures the
// message: its body, SQS size and the guard's verdict (the size is set,
// with the verdict, when the message is too large).
func (ed *eventData) encodeWith(g SizeGuard) (body string, size int, err error) {
	ev := ed.ev
	body, err = g.encode(ev.Body, MessageSize("", ev.Attributes)+ownAttributesSize(ed.id, ev.Type))
	// A raw body that needed repair was checked as JSON by RepairJSON.
	repaired := g.raw() && unsafe.StringData(body) != unsafe.SliceData(ev.Body)
	if err == nil && !repaired && !ev.bodyValidated() && !validJSON(ev.Body) {
		err = &GuardError{Reason: ReasonInvalidContents, Field: "body", Detail: "not a JSON document"}
	}
	if err != nil {
		return "", 0, err
	}
	size = MessageSize(body, ev.Attributes) + ownAttributesSize(ed.id, ev.Type)
	if limit := g.Limit(); size > limit {
		return body, size, &GuardError{Reason: ReasonTooLarge, Field: "message", Bytes: size, Max: limit}
	}
	return body, size, nil
}

// encoded is an event's body in an encoding other than the dispatcher's,
// for a hook with its own (Hook.BodyEncoding).
type encoded struct {
	enc   Encoding
	body  string
	size  int   // SQS message size, attributes included
	guard error // non-nil: the size guard refused the body in enc
	md5   bodyDigest
}

// bodyDigest is the MD5 of a message body, written by the first lean
// SendMessageBatch call that sends the body (see leanClient) and read by
// every later one, of any hook and any attempt; the SDK send path never
// writes it. Until then it costs the event one pointer.
type bodyDigest struct {
	p atomic.Pointer[[md5.Size]byte]
}

// sum returns the MD5 of body, which must be the body d belongs to.
func (d *bodyDigest) sum(body string) *[md5.Size]byte {
	if p := d.p.Load(); p != nil {
		return p
	}
	p := new([md5.Size]byte)
	*p = md5.Sum(stringBytes(body))
	if d.p.CompareAndSwap(nil, p) {
		return p
	}
	return d.p.Load()
}

// set records *sum, the MD5 of d's body computed elsewhere, unless d
// holds it already; sum must not change after (the digests of a batch
// share one array, kept alive by the events that point into it).
func (d *bodyDigest) set(sum *[md5.Size]byte) { d.p.CompareAndSwap(nil, sum) }

// in returns the event's body in enc, written on first use and shared by
// every hook with that encoding; g is the dispatcher's guard.
func (ed *eventData) in(enc Encoding, g SizeGuard) *encoded {
	ed.altMu.Lock()
	defer ed.altMu.Unlock()
	for _, a := range ed.alts {
		if a.enc == enc {
			return a
		}
	}
	a := &encoded{enc: enc, guard: ed.guard}
	if ed.attrsChecked { // else the attributes' verdict stands, whatever the body
		g.Encoding = enc
		a.body, a.size, a.guard = ed.encodeWith(g)
		if a.guard == nil && ed.tel != nil && ed.tel.traceparent != "" {
			a.size += traceParentSize
			if limit := g.Limit(); a.size > limit {
				a.guard = &GuardError{Reason: ReasonTooLarge, Field: "message", Bytes: a.size, Max: limit}
			}
		}
	}
	ed.alts = append(ed.alts, a)
	return a
}

// MaxEventIDLen and MaxEventTypeLen cap the event id and the event type in
// bytes: both travel as String message attributes (AttrEventID,
// AttrEventType).
const (
	MaxEventIDLen   = 256
	MaxEventTypeLen = maxEventTypeLen
)

// checkOwnAttributes checks the values of the attributes sqshook adds
// against SQS's rules for attribute values (valid UTF-8 of the characters
// SQS accepts: tab, line feed, carriage return, U+0020 to U+D7FF, U+E000 to
// U+FFFD and U+10000 to U+10FFFF) and against their length caps, as
// CheckAttributes checks the caller's own.
func checkOwnAttributes(id, eventType string) error {
	for _, a := range [...]struct {
		name, value string
		max         int
	}{{AttrEventID, id, MaxEventIDLen}, {AttrEventType, eventType, MaxEventTypeLen}} {
		// The field name is built only for an error: Publish allocates
		// nothing here for a good event.
		if len(a.value) > a.max {
			return &GuardError{Reason: ReasonInvalidField, Field: "MessageAttributes[" + a.name + "]", Detail: fmt.Sprintf("%d bytes; at most %d", len(a.value), a.max)}
		}
		if i := firstIllegal(stringBytes(a.value)); i >= 0 {
			return &GuardError{Reason: ReasonInvalidField, Field: "MessageAttributes[" + a.name + "]", Detail: fmt.Sprintf("has a character SQS does not accept in an attribute value at byte %d", i)}
		}
	}
	return nil
}

// ownAttributesSize is what the attributes sqshook adds count toward the
// message size.
func ownAttributesSize(id, eventType string) int {
	return len(AttrEventID) + len("String") + len(id) + len(AttrEventType) + len("String") + len(eventType)
}

// attributes returns the event's message attributes, its own and sqshook's,
// for one call. The map is not kept with the event: it is larger than a
// chat event's body, and events wait in memory through outages. Its values
// point into the event's data (the SDK only reads them).
func (ed *eventData) attributes() map[string]types.MessageAttributeValue {
	m := make(map[string]types.MessageAttributeValue, len(ed.ev.Attributes)+2)
	for k, v := range ed.ev.Attributes {
		m[k] = v
	}
	m[AttrEventID] = types.MessageAttributeValue{DataType: &stringDataType, StringValue: &ed.id}
	m[AttrEventType] = types.MessageAttributeValue{DataType: &stringDataType, StringValue: &ed.ev.Type}
	return m
}

// attrViews appends to dst the event's message attributes in name order
// (its own, sqshook's, and the traceparent when not ""), as attributes
// does without a map: the lean path's (see leanEntries). They point into
// the event's data. ok is false, and dst unchanged, for an attribute with
// a list value, which views do not hold (the SDK client sends it).
func (ed *eventData) attrViews(dst []attrView, traceparent string) (_ []attrView, ok bool) {
	for _, v := range ed.ev.Attributes {
		if v.StringListValues != nil || v.BinaryListValues != nil {
			return dst, false
		}
	}
	for k, v := range ed.ev.Attributes {
		dst = append(dst, attrView{name: k, dataType: v.DataType, value: v.StringValue, binary: v.BinaryValue})
	}
	dst = append(dst,
		attrView{name: AttrEventID, dataType: &stringDataType, value: &ed.id},
		attrView{name: AttrEventType, dataType: &stringDataType, value: &ed.ev.Type})
	if traceparent != "" {
		dst = append(dst, attrView{name: AttrTraceParent, dataType: &stringDataType, value: &ed.tel.traceparent})
	}
	sortAttrViews(dst)
	return dst, true
}

// stringDataType is the DataType of sqshook's attributes; the SDK only
// reads it.
var stringDataType = "String"

// newEventID makes a unique event id in buf, which must not change
// afterwards: the id is the prefix of this dispatcher, '-' and a sequence
// number in base 36. It allocates nothing.
func (d *Dispatcher) newEventID(buf *[eventIDBufLen]byte) string {
	b := append(buf[:0], d.idPrefix...)
	b = append(b, '-')
	b = strconv.AppendUint(b, d.idSeq.Add(1), 36)
	return unsafe.String(&buf[0], len(b))
}

// eventIDBufLen holds a 16-digit prefix, '-' and a 64-bit number in base 36.
const eventIDBufLen = 16 + 1 + 13

// marshalPayload returns the JSON body of a payload.
func marshalPayload(payload any) ([]byte, error) {
	switch v := payload.(type) {
	case json.RawMessage:
		if !json.Valid(v) {
			return nil, errors.New("not valid JSON")
		}
		return v, nil
	case []byte:
		if !json.Valid(v) {
			return nil, errors.New("not valid JSON")
		}
		return v, nil
	}
	return json.Marshal(payload)
}
