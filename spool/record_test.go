// This file tests the record codec: round trips, validation messages, and
// the fuzz targets of the frame parser and payload decoder.

package spool

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRecordRoundTrip(t *testing.T) {
	cases := []Record{
		testRecord("a1", 1800, "t1/h1", "t2/h2"),
		{Hooks: []string{"x"}},
		{Type: "user.banned", Body: []byte("{}"), Hooks: []string{"t/h"}, Enqueued: time.Unix(0, 1)},
	}
	for i, want := range cases {
		frame := appendFrame(nil, Seq(i+7), &want)
		payload, n, st := parseFrame(frame)
		if st != frameOK || n != len(frame) {
			t.Fatalf("case %d: parseFrame: got status %d size %d, want ok %d", i, st, n, len(frame))
		}
		seq, got, err := decodePayload(payload)
		if err != nil {
			t.Fatalf("case %d: decode: %v", i, err)
		}
		if seq != Seq(i+7) {
			t.Errorf("case %d: seq: got %d, want %d", i, seq, i+7)
		}
		if !got.Enqueued.Equal(want.Enqueued) {
			t.Errorf("case %d: Enqueued: got %v, want %v", i, got.Enqueued, want.Enqueued)
		}
		got.Enqueued, want.Enqueued = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("case %d: got %+v, want %+v", i, got, want)
		}
		for cut := 0; cut < len(frame); cut++ {
			if _, _, st := parseFrame(frame[:cut]); st == frameOK {
				t.Fatalf("case %d: frame cut at %d of %d: got ok, want short or damaged", i, cut, len(frame))
			}
		}
	}
}

func TestRecordValidate(t *testing.T) {
	cases := []struct {
		rec  Record
		want string
	}{
		{Record{}, "Record.Hooks is empty"},
		{Record{Hooks: []string{"a", ""}}, "Record.Hooks[1] is empty"},
		{Record{Hooks: []string{"a", "b", "a"}}, `Record.Hooks[2] "a" is repeated`},
		{Record{Hooks: []string{"a"}, Body: make([]byte, 200)}, "exceeds Options.MaxRecordSize 100"},
	}
	for _, c := range cases {
		err := c.rec.validate(100)
		if err == nil || !strings.Contains(err.Error(), c.want) || !isAny(err, ErrInvalidRecord) {
			t.Errorf("validate(%+v): got %v, want ErrInvalidRecord saying %q", c.rec, err, c.want)
		}
	}
	ok := testRecord("ok", 10, "a", "b")
	if err := ok.validate(DefaultMaxRecordSize); err != nil {
		t.Errorf("validate(valid record): got %v, want nil", err)
	}
}

// FuzzDecodePayload checks that decoding arbitrary bytes never panics, and
// that whatever decodes strictly encodes back to the same record.
func FuzzDecodePayload(f *testing.F) {
	for i, r := range []Record{testRecord("f1", 40, "t/h"), {Hooks: []string{"a", "b"}}} {
		frame := appendFrame(nil, Seq(i+1), &r)
		f.Add(frame[frameHeader:])
		f.Add(frame)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeLenient(b)
		parseFrame(b)
		seq, rec, err := decodePayload(b)
		iseq, ihooks, ierr := decodeIndex(b)
		if (err == nil) != (ierr == nil) || (err == nil && (iseq != seq || !reflect.DeepEqual(ihooks, rec.Hooks))) {
			t.Fatalf("decodeIndex: got %d %v %v, decodePayload %d %v %v", iseq, ihooks, ierr, seq, rec.Hooks, err)
		}
		if err != nil {
			return
		}
		frame := appendFrame(nil, seq, &rec)
		payload, _, st := parseFrame(frame)
		if st != frameOK {
			t.Fatalf("re-encoded frame: status %d", st)
		}
		seq2, rec2, err := decodePayload(payload)
		if err != nil || seq2 != seq {
			t.Fatalf("re-decode: seq %d err %v, want seq %d", seq2, err, seq)
		}
		if len(rec.Body) == 0 && len(rec2.Body) == 0 {
			rec.Body, rec2.Body = nil, nil
		}
		if !rec.Enqueued.Equal(rec2.Enqueued) {
			t.Fatalf("re-decode Enqueued: got %v, want %v", rec2.Enqueued, rec.Enqueued)
		}
		rec.Enqueued, rec2.Enqueued = time.Time{}, time.Time{}
		if !reflect.DeepEqual(rec, rec2) {
			t.Fatalf("re-decode: got %+v, want %+v", rec2, rec)
		}
	})
}
