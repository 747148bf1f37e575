// This file tests recovery from damaged files: a torn write at the end of the
// last segment cut at many offsets, flipped bytes in the middle of a
// segment, torn settlement files, and a fuzz target for the segment scan.

package spool

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// buildSpool writes n records (one hook each except every 7th, which has
// two) into a fresh directory with the given segment size, and returns the
// directory, the seqs in order and the segment files in order.
func buildSpool(t *testing.T, n int, segSize int64) (string, []Seq, []string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, Options{Sync: SyncOS, SegmentSize: segSize})
	if err != nil {
		t.Fatal(err)
	}
	var seqs []Seq
	for i := range n {
		hooks := []string{"t/a"}
		if i%7 == 0 {
			hooks = append(hooks, "t/b")
		}
		seq, err := s.Append(testRecord(fmt.Sprintf("e%03d", i), 300, hooks...))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*"+segExt))
	slices.Sort(segs)
	return dir, seqs, segs
}

// recordOffsets returns the offsets of the frames in a segment file.
func recordOffsets(t *testing.T, path string) []int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res := scanSegment("x", b, 0, 0, true, func(h []string) *[]string { return &h })
	if len(res.damaged) != 0 {
		t.Fatalf("%s: clean segment scans with damage %+v", path, res.damaged)
	}
	var offs []int64
	for _, r := range res.recs {
		offs = append(offs, int64(r.off))
	}
	return offs
}

// copyDir copies the spool files of src into a new directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestTornTail(t *testing.T) {
	dir, seqs, segs := buildSpool(t, 40, 8<<10)
	if len(segs) < 2 {
		t.Fatalf("segments: got %d, want ≥ 2", len(segs))
	}
	last := segs[len(segs)-1]
	offs := recordOffsets(t, last)
	info, _ := os.Stat(last)
	start, end := offs[len(offs)-1], info.Size()
	if end-start < 200 {
		t.Fatalf("last record is %d bytes, want ≥ 200 offsets to cut at", end-start)
	}
	want := seqs[:len(seqs)-1]
	for cut := start; cut < end; cut++ {
		d := copyDir(t, dir)
		if err := os.Truncate(filepath.Join(d, filepath.Base(last)), cut); err != nil {
			t.Fatal(err)
		}
		s, err := Open(d, Options{Sync: SyncOS})
		if err != nil {
			t.Fatalf("cut at %d: Open: %v", cut, err)
		}
		r := s.Recovery()
		if r.TornBytes != cut-start || len(r.Damaged) != 0 {
			t.Fatalf("cut at %d: Recovery got torn %d, damaged %d, want torn %d, no damage", cut, r.TornBytes, len(r.Damaged), cut-start)
		}
		_, order := pendingMap(t, s)
		if !slices.Equal(order, want) {
			t.Fatalf("cut at %d: pending got %d seqs, want the %d before the torn record", cut, len(order), len(want))
		}
		seq, err := s.Append(testRecord("new", 300, "t/a"))
		if err != nil || seq <= want[len(want)-1] {
			t.Fatalf("cut at %d: Append after recovery: seq %d, %v, want a seq after %d", cut, seq, err, want[len(want)-1])
		}
		s.Close()
		// A second recovery finds a clean spool.
		s, err = Open(d, Options{Sync: SyncOS})
		if err != nil {
			t.Fatal(err)
		}
		if r := s.Recovery(); r.TornBytes != 0 || len(r.Damaged) != 0 || r.Records != len(want)+1 {
			t.Fatalf("cut at %d: second Recovery: got %+v, want %d records, clean", cut, r, len(want)+1)
		}
		s.Close()
		os.RemoveAll(d)
	}
	t.Logf("cut the last record at %d offsets", end-start)
}

func TestDamagedMiddle(t *testing.T) {
	dir, seqs, segs := buildSpool(t, 40, 8<<10)
	seg := segs[0] // not the last segment
	offs := recordOffsets(t, seg)
	if len(offs) < 6 {
		t.Fatalf("first segment holds %d records, want ≥ 6", len(offs))
	}
	const target = 3 // records 3 of the first segment is damaged
	rec := testRecord(fmt.Sprintf("e%03d", target), 300, "t/a")
	cases := []struct {
		name     string
		at       int64 // offset from the frame start
		wantSeq  bool  // the damaged record's seq is still readable
		wantBody bool
	}{
		{"marker", 1, true, true},
		{"length", 5, true, false},
		{"crc", 9, true, true},
		{"seq", frameHeader + 3, false, true},
		{"attributes", frameHeader + 55, true, true},
		{"body", offs[target+1] - offs[target] - 10, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := copyDir(t, dir)
			path := filepath.Join(d, filepath.Base(seg))
			b, _ := os.ReadFile(path)
			b[offs[target]+c.at] ^= 0x5a
			os.WriteFile(path, b, 0o644)
			var reported []Damage
			s, err := Open(d, Options{Sync: SyncOS, OnDamage: func(dm Damage) { reported = append(reported, dm) }})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			if len(reported) != 1 || len(s.Recovery().Damaged) != 1 {
				t.Fatalf("damage reports: got %+v, want 1", reported)
			}
			dm := reported[0]
			if dm.Offset != offs[target] || dm.Segment != filepath.Base(seg) || dm.Err == nil {
				t.Errorf("Damage: got %+v, want offset %d in %s with an error", dm, offs[target], filepath.Base(seg))
			}
			if c.wantSeq && dm.Seq != seqs[target] {
				t.Errorf("Damage.Seq: got %d, want %d", dm.Seq, seqs[target])
			}
			if c.wantSeq && (dm.Partial.EventID != rec.EventID || !slices.Equal(dm.Partial.Hooks, []string{"t/a", "t/b"}[:1+btoi(target%7 == 0)])) {
				t.Errorf("Damage.Partial: got id %q hooks %v, want %q and the record's hooks", dm.Partial.EventID, dm.Partial.Hooks, rec.EventID)
			}
			_, order := pendingMap(t, s)
			want := slices.Delete(slices.Clone(seqs), target, target+1)
			if !slices.Equal(order, want) {
				t.Fatalf("pending: got %v, want every seq but %d", order, seqs[target])
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestRandomFlips flips one byte at 200 seeded random places of the first
// segment: the record holding it is reported, every other record is kept.
func TestRandomFlips(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	dir, seqs, segs := buildSpool(t, 40, 8<<10)
	seg := segs[0]
	offs := recordOffsets(t, seg)
	orig, _ := os.ReadFile(seg)
	d := copyDir(t, dir)
	path := filepath.Join(d, filepath.Base(seg))
	for range 200 {
		at := int64(segHeader) + rng.Int64N(int64(len(orig)-segHeader))
		k, _ := slices.BinarySearch(offs, at+1)
		victim := seqs[k-1]
		b := slices.Clone(orig)
		b[at] ^= byte(1 + rng.IntN(255))
		os.WriteFile(path, b, 0o644)
		os.Remove(filepath.Join(d, segName(seqs[0])+ackExt))
		s, err := Open(d, Options{Sync: SyncOS})
		if err != nil {
			t.Fatalf("flip at %d: Open: %v", at, err)
		}
		r := s.Recovery()
		_, order := pendingMap(t, s)
		s.Close()
		if len(r.Damaged) != 1 || r.Damaged[0].Offset != offs[k-1] {
			t.Fatalf("flip at %d (record at %d, seq %d): damage got %+v, want one at %d", at, offs[k-1], victim, r.Damaged, offs[k-1])
		}
		want := slices.DeleteFunc(slices.Clone(seqs), func(q Seq) bool { return q == victim })
		if !slices.Equal(order, want) {
			t.Fatalf("flip at %d: pending got %v, want every seq but %d", at, order, victim)
		}
		// Open deletes nothing here (the segment still holds pending
		// records), so the next flip starts from the original bytes.
	}
}

func TestTornSettlements(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{Sync: SyncOS})
	var seqs []Seq
	for i := range 5 {
		seq, err := s.Append(testRecord(fmt.Sprintf("a%d", i), 100, "t/a", "t/b"))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	for _, seq := range seqs {
		if err := s.Settle(seq, "t/a"); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	ack := filepath.Join(dir, segName(seqs[0])+ackExt)
	b, _ := os.ReadFile(ack)
	if len(b) != 5*ackEntry {
		t.Fatalf("settlement file: got %d bytes, want %d", len(b), 5*ackEntry)
	}
	b[ackEntry+3] ^= 1                              // damage the second entry
	os.WriteFile(ack, b[:len(b)-ackEntry/2], 0o644) // tear the last
	s2 := mustOpen(t, dir, Options{Sync: SyncOS})
	got, _ := pendingMap(t, s2)
	for i, seq := range seqs {
		want := []string{"t/b"}
		if i == 1 || i == 4 {
			want = []string{"t/a", "t/b"} // its settlement is lost: delivered again, never lost
		}
		if !slices.Equal(got[seq].Record.Hooks, want) {
			t.Errorf("seq %d: hooks got %v, want %v", seq, got[seq].Record.Hooks, want)
		}
	}
	// Settling after recovery appends whole entries after the torn one.
	if err := s2.Settle(seqs[4], "t/a"); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	s3 := mustOpen(t, dir, Options{Sync: SyncOS})
	if e, err := s3.Get(seqs[4]); err != nil || !slices.Equal(e.Record.Hooks, []string{"t/b"}) {
		t.Errorf("Get(%d) after settling again: got %v, %v, want hooks [t/b]", seqs[4], e.Record.Hooks, err)
	}
}

// FuzzScanSegment checks that scanning arbitrary segment bytes never panics
// and indexes only frames that lie inside the data.
func FuzzScanSegment(f *testing.F) {
	var seg []byte
	seg = append(seg, segMagic...)
	for i := range 3 {
		r := testRecord(fmt.Sprintf("z%d", i), 30, "t/a")
		seg = appendFrame(seg, Seq(i+1), &r)
	}
	f.Add(seg, true)
	f.Add(seg[:len(seg)-5], false)
	f.Fuzz(func(t *testing.T, b []byte, last bool) {
		res := scanSegment("f", b, 1, 0, last, func(h []string) *[]string { return &h })
		for _, r := range res.recs {
			if int64(r.off) < int64(segHeader) || int64(r.off)+int64(r.size) > int64(len(b)) || r.size == 0 {
				t.Fatalf("record at %d size %d outside %d bytes", r.off, r.size, len(b))
			}
		}
		if res.end > int64(len(b)) {
			t.Fatalf("end %d past %d bytes", res.end, len(b))
		}
	})
}

// reusedSpool builds, in SyncOS mode with 16 KiB segments, a spool whose
// active segment is a reused file: a first segment is filled and settled
// (its file becomes the spare), then the next roll writes three records over
// it, which leaves the older records after them. It returns the open spool,
// its directory, the pending seqs in order and the reused segment's path.
func reusedSpool(t *testing.T) (*Spool, string, []Seq, string) {
	t.Helper()
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{Sync: SyncOS, SegmentSize: 16 << 10})
	appendUntilRoll := func(prefix string) []Seq {
		var seqs []Seq
		n := 0
		for i := 0; ; i++ {
			seq, err := s.Append(testRecord(fmt.Sprintf("%s%03d", prefix, i), 1000, "t/a"))
			if err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, seq)
			if i == 0 {
				n = s.Stats().Segments
			} else if s.Stats().Segments > n {
				return seqs
			}
		}
	}
	old := appendUntilRoll("a") // the last one starts the second segment
	for _, q := range old {
		if err := s.Settle(q, "t/a"); err != nil {
			t.Fatal(err)
		}
	}
	spares, _ := filepath.Glob(filepath.Join(dir, "*"+spareExt))
	if len(spares) != 1 {
		t.Fatalf("after settling the first segment: spare files %v, want one", spares)
	}
	pending := appendUntilRoll("b") // fills the second segment, starts the third in the spare
	for i := range 2 {
		seq, err := s.Append(testRecord(fmt.Sprintf("c%03d", i), 1000, "t/a"))
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, seq)
	}
	if spares, _ := filepath.Glob(filepath.Join(dir, "*"+spareExt)); len(spares) != 0 {
		t.Fatalf("after the roll: spare files %v, want none (reused)", spares)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*"+segExt))
	slices.Sort(segs)
	reused := segs[len(segs)-1]
	if want := filepath.Join(dir, segName(pending[len(pending)-3])+segExt); reused != want {
		t.Fatalf("newest segment %s, want %s", reused, want)
	}
	info, err := os.Stat(reused)
	if err != nil {
		t.Fatal(err)
	}
	if data := int64(segHeader) + 3*1100; info.Size() < 2*data {
		t.Fatalf("reused segment is %d bytes, want the older records after its ~%d bytes of data", info.Size(), data)
	}
	return s, dir, pending, reused
}

// scanReused scans a reused segment file whose first seq is first.
func scanReused(t *testing.T, path string, first Seq) ([]byte, scanResult) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res := scanSegment("x", b, first, 0, true, func(h []string) *[]string { return &h })
	if len(res.damaged) != 0 || res.stale < res.end {
		t.Fatalf("%s: scan found damage %v, data ending at %d, older records at %d; want no damage, older records after the data",
			path, len(res.damaged), res.end, res.stale)
	}
	return b, res
}

// openCopy opens a copy of dir, as after a crash, and returns the spool and
// its pending seqs.
func openCopy(t *testing.T, dir string, edit func(d string)) (*Spool, []Seq) {
	t.Helper()
	d := copyDir(t, dir)
	if edit != nil {
		edit(d)
	}
	s := mustOpen(t, d, Options{Sync: SyncOS, SegmentSize: 16 << 10})
	_, order := pendingMap(t, s)
	return s, order
}

// TestReusedSegmentRecovery recovers a spool whose newest segment was
// written over an older one's file: the older records after the data are
// neither records nor damage, and they are cut.
func TestReusedSegmentRecovery(t *testing.T) {
	_, dir, want, reused := reusedSpool(t)
	s, got := openCopy(t, dir, nil)
	if r := s.Recovery(); r.TornBytes != 0 || len(r.Damaged) != 0 || !slices.Equal(got, want) {
		t.Fatalf("Recovery %+v, pending %v; want clean, pending %v", r, got, want)
	}
	info, err := os.Stat(filepath.Join(s.dir, filepath.Base(reused)))
	if err != nil {
		t.Fatal(err)
	}
	if g := s.segs[len(s.segs)-1]; len(g.recs) != 3 || info.Size() != g.size {
		t.Fatalf("reused segment after recovery: %d records, %d bytes of %d; want 3 records and the older ones cut", len(g.recs), g.size, info.Size())
	}
	seq, err := s.Append(testRecord("after", 100, "t/a"))
	if err != nil || seq <= want[len(want)-1] {
		t.Fatalf("Append after recovery: seq %d, %v; want a seq after %d", seq, err, want[len(want)-1])
	}
}

// TestReusedSegmentTornWrite tears the last record written over older data:
// it is cut as a torn write, the records before it are kept, and no record
// of the file's previous use comes back.
func TestReusedSegmentTornWrite(t *testing.T) {
	_, dir, want, reused := reusedSpool(t)
	b, res := scanReused(t, reused, want[len(want)-3])
	lastOff, end := int64(res.recs[len(res.recs)-1].off), res.end
	for _, at := range []int64{lastOff, lastOff + 5, lastOff + 11, lastOff + 100, end - 1} {
		s, got := openCopy(t, dir, func(d string) {
			p := filepath.Join(d, filepath.Base(reused))
			c := slices.Clone(b)
			c[at] ^= 0x5a
			if err := os.WriteFile(p, c, 0o644); err != nil {
				t.Fatal(err)
			}
		})
		r := s.Recovery()
		if r.TornBytes != res.stale-lastOff || len(r.Damaged) != 0 || !slices.Equal(got, want[:len(want)-1]) {
			t.Fatalf("byte %d flipped: Recovery torn %d, damaged %v, pending %v; want torn %d, no damage, pending %v",
				at, r.TornBytes, r.Damaged, got, res.stale-lastOff, want[:len(want)-1])
		}
	}
}

// TestReusedSegmentDamage flips a byte of the middle record of the reused
// segment: it is reported as damage, and the record after it is kept.
func TestReusedSegmentDamage(t *testing.T) {
	_, dir, want, reused := reusedSpool(t)
	_, res := scanReused(t, reused, want[len(want)-3])
	s, got := openCopy(t, dir, func(d string) {
		p := filepath.Join(d, filepath.Base(reused))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[res.recs[1].off+200] ^= 0xff
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	mid := want[len(want)-2]
	r := s.Recovery()
	if len(r.Damaged) != 1 || r.Damaged[0].Seq != mid || r.TornBytes != 0 {
		t.Fatalf("Recovery %+v; want one damaged record, seq %d, nothing torn", r, mid)
	}
	if w := slices.DeleteFunc(slices.Clone(want), func(q Seq) bool { return q == mid }); !slices.Equal(got, w) {
		t.Fatalf("pending %v, want %v", got, w)
	}
}

// TestReusedSegmentNotLast recovers a reused segment that a newer one
// follows, as a crash just after a roll leaves it (before the older records
// after its data are cut): they are not damage, the newer segment's record
// is found, and the older records are cut.
func TestReusedSegmentNotLast(t *testing.T) {
	_, dir, want, reused := reusedSpool(t)
	next := want[len(want)-1] + 1
	s, got := openCopy(t, dir, func(d string) {
		seg := append([]byte(segMagic), appendFrame(nil, next, ptr(testRecord("d000", 300, "t/a")))...)
		if err := os.WriteFile(filepath.Join(d, segName(next)+segExt), seg, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	if r := s.Recovery(); r.TornBytes != 0 || len(r.Damaged) != 0 || !slices.Equal(got, append(slices.Clone(want), next)) {
		t.Fatalf("Recovery %+v, pending %v; want clean, pending %v and %d", r, got, want, next)
	}
	info, err := os.Stat(filepath.Join(s.dir, filepath.Base(reused)))
	g := s.segs[len(s.segs)-2]
	if err != nil || len(g.recs) != 3 {
		t.Fatalf("reused segment after recovery: %v, %d records; want 3", err, len(g.recs))
	}
	if end := int64(g.recs[2].off) + int64(g.recs[2].size); info.Size() != end || g.size != end {
		t.Fatalf("reused segment after recovery: %d bytes on disk, %d in the index; want %d, the older records cut", info.Size(), g.size, end)
	}
}

// TestReusedSegmentHole puts an older segment's record where the middle
// one of the reused segment was, as a power loss can leave it when a later
// record reached the disk and that one did not: it is damage, reported
// without the older record's content, and the record after it is kept.
func TestReusedSegmentHole(t *testing.T) {
	_, dir, want, reused := reusedSpool(t)
	_, res := scanReused(t, reused, want[len(want)-3])
	mid := res.recs[1]
	older := appendFrame(nil, 2, ptr(testRecord("z999", 1000, "t/x")))
	if len(older) != int(mid.size) {
		t.Fatalf("older frame is %d bytes, want %d like the one it replaces", len(older), mid.size)
	}
	s, got := openCopy(t, dir, func(d string) {
		p := filepath.Join(d, filepath.Base(reused))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		copy(b[mid.off:], older)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	r := s.Recovery()
	if len(r.Damaged) != 1 || r.Damaged[0].Offset != int64(mid.off) || r.Damaged[0].Seq != 0 ||
		r.Damaged[0].Partial.EventID != "" || len(r.Damaged[0].Partial.Hooks) != 0 || r.TornBytes != 0 {
		t.Fatalf("Recovery %+v; want one damage at %d with nothing of the older record, nothing torn", r, mid.off)
	}
	if w := slices.DeleteFunc(slices.Clone(want), func(q Seq) bool { return q == mid.seq }); !slices.Equal(got, w) {
		t.Fatalf("pending %v, want %v", got, w)
	}
}

func ptr[T any](v T) *T { return &v }
