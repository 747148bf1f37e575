// spoolstore.go is the store (store.go) kept in a local segment-log spool
// (package spool, WithSpool): the first implementation of the store
// interface, and the spool's record format of an event.

package sqshook

import (
	"fmt"
	"iter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sqshook/sqshook/spool"
)

// spoolStore is the store in a spool.
type spoolStore struct{ sp *spool.Spool }

func (s spoolStore) record(ev Event, keys []string, at time.Time) (storeRef, error) {
	seq, err := s.sp.Append(recordOf(ev, keys, at))
	return storeRef(seq), err
}

func (s spoolStore) settle(ref storeRef, key string) error {
	return s.sp.Settle(spool.Seq(ref), key)
}

// hold has nothing to write: a held copy stays pending in the spool, and
// the pipe that holds it reads it back.
func (s spoolStore) hold(storeRef, string) error { return nil }

func (s spoolStore) read(ref storeRef) (storedEvent, error) {
	ent, err := s.sp.Get(spool.Seq(ref))
	return storedEventOf(ent), err
}

func (s spoolStore) resume() iter.Seq2[storedEvent, error] {
	return func(yield func(storedEvent, error) bool) {
		for e, err := range s.sp.Pending(0) {
			if !yield(storedEventOf(e), err) {
				return
			}
		}
	}
}

func (s spoolStore) damaged() []storeDamage {
	var out []storeDamage
	for _, dm := range s.sp.Recovery().Damaged {
		out = append(out, storeDamage{
			ev: eventOf(dm.Partial), keys: dm.Partial.Hooks,
			msg: fmt.Sprintf("spool record damaged (segment %s, offset %d, %d bytes): %v", dm.Segment, dm.Offset, dm.Size, dm.Err),
		})
	}
	return out
}

func (s spoolStore) stats() storeStats {
	st := s.sp.Stats()
	return storeStats{Bytes: st.Bytes, Quota: st.Quota, Records: st.Records, Pending: st.Pending}
}

func (s spoolStore) close() error { return s.sp.Close() }

func storedEventOf(e spool.Entry) storedEvent {
	return storedEvent{ref: storeRef(e.Seq), ev: eventOf(e.Record), keys: e.Record.Hooks}
}

// recordOf is the spool's record of an event.
func recordOf(ev Event, keys []string, now time.Time) spool.Record {
	r := spool.Record{
		Type: ev.Type, Body: ev.Body, GroupID: ev.GroupID, DedupID: ev.DedupID,
		EventID: ev.ID, Hooks: keys, Enqueued: now,
	}
	if len(ev.Attributes) > 0 {
		r.Attributes = make(map[string]string, len(ev.Attributes))
		for k, v := range ev.Attributes {
			r.Attributes[k] = encodeAttr(v)
		}
	}
	return r
}

// Attributes are stored as their data type, a NUL byte, then the string
// value, or the binary value for types that start with "Binary".
func encodeAttr(v types.MessageAttributeValue) string {
	dt := ""
	if v.DataType != nil {
		dt = *v.DataType
	}
	if v.StringValue != nil {
		return dt + "\x00" + *v.StringValue
	}
	return dt + "\x00" + string(v.BinaryValue)
}

func decodeAttr(s string) types.MessageAttributeValue {
	dt, val := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			dt, val = s[:i], s[i+1:]
			break
		}
	}
	v := types.MessageAttributeValue{DataType: &dt}
	if len(dt) >= 6 && dt[:6] == "Binary" {
		v.BinaryValue = []byte(val)
	} else {
		v.StringValue = &val
	}
	return v
}

// eventOf is the event a spool record holds.
func eventOf(r spool.Record) Event {
	ev := Event{ID: r.EventID, Type: r.Type, Body: r.Body, GroupID: r.GroupID, DedupID: r.DedupID}
	if len(r.Attributes) > 0 {
		ev.Attributes = make(map[string]types.MessageAttributeValue, len(r.Attributes))
		for k, v := range r.Attributes {
			ev.Attributes[k] = decodeAttr(v)
		}
	}
	return ev
}
