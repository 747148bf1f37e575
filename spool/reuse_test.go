// This file tests the reuse of settled segment files and the sequence rule
// that makes it safe: a spare file is named above every record it holds, a
// segment written over it starts at or above that name, so recovery tells
// the records of the file's previous use (seq below the segment's first)
// from its own. Each way a spare is made, a roll out of a reused file, the
// failures of reusing one and the choice among spares found at Open.

package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const reuseSegSize = 16 << 10

// framesIn returns the seq of every valid version-1 frame found anywhere in
// b, whatever its alignment: what a recovery scan could take for a record.
func framesIn(b []byte) []Seq {
	var marker [4]byte
	binary.LittleEndian.PutUint32(marker[:], frameMarker)
	var seqs []Seq
	for off := 0; off < len(b); {
		i := bytes.Index(b[off:], marker[:])
		if i < 0 {
			break
		}
		if payload, _, st := parseFrame(b[off+i:]); st == frameOK && len(payload) >= 9 && payload[0] == payloadVersion {
			seqs = append(seqs, staleSeq(payload))
		}
		off += i + 1
	}
	return seqs
}

// checkSpares checks the sequence rule on every spare file in dir: each
// record left in it has a seq below the file's name. It returns the names'
// seqs.
func checkSpares(t *testing.T, dir string) []Seq {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(dir, "*"+spareExt))
	var names []Seq
	for _, p := range paths {
		n, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(p), spareExt), 10, 64)
		if err != nil {
			t.Fatalf("spare %s: bad name", p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		seqs := framesIn(b)
		if len(seqs) == 0 {
			t.Fatalf("spare %s holds no record; the test wants one written over", filepath.Base(p))
		}
		for _, q := range seqs {
			if q >= Seq(n) {
				t.Errorf("spare %s holds seq %d, not below its name: a segment written over it could take that record for its own",
					filepath.Base(p), q)
			}
		}
		names = append(names, Seq(n))
	}
	return names
}

// diskBytes is the size of the spool's regular files in dir (segments,
// settlement files, spares).
func diskBytes(t *testing.T, dir string) int64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range ents {
		switch filepath.Ext(e.Name()) {
		case segExt, ackExt, spareExt:
			info, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().IsRegular() {
				n += info.Size()
			}
		}
	}
	return n
}

// appendUntilRoll appends records of bodyLen bytes until one starts a new
// segment, and returns their seqs: the last is the new segment's first.
func appendUntilRoll(t *testing.T, s *Spool, prefix string, bodyLen int) []Seq {
	t.Helper()
	var seqs []Seq
	n := s.Stats().Segments
	for i := 0; ; i++ {
		seq, err := s.Append(testRecord(fmt.Sprintf("%s%03d", prefix, i), bodyLen, "t/a"))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
		if i > 0 && s.Stats().Segments > n {
			return seqs
		}
		if i == 0 {
			n = s.Stats().Segments
		}
	}
}

// appendUntilFull appends records of bodyLen bytes while the next one still
// fits the active segment: the next Append of the same size rolls.
func appendUntilFull(t *testing.T, s *Spool, prefix string, bodyLen int) []Seq {
	t.Helper()
	rec := testRecord(prefix+"000", bodyLen, "t/a")
	n := int64(len(appendFrame(nil, 0, &rec)))
	var seqs []Seq
	for i := 0; ; i++ {
		s.mu.Lock()
		full := s.active != nil && s.active.size+n > s.opts.SegmentSize
		s.mu.Unlock()
		if full {
			return seqs
		}
		seq, err := s.Append(testRecord(fmt.Sprintf("%s%03d", prefix, i), bodyLen, "t/a"))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
}

func settleAll(t *testing.T, s *Spool, seqs []Seq) {
	t.Helper()
	for _, q := range seqs {
		if err := s.Settle(q, "t/a"); err != nil {
			t.Fatalf("Settle(%d): %v", q, err)
		}
	}
}

// spareOf returns the path of the one spare file in dir.
func spareOf(t *testing.T, dir string) string {
	t.Helper()
	spares, _ := filepath.Glob(filepath.Join(dir, "*"+spareExt))
	if len(spares) != 1 {
		t.Fatalf("spare files %v, want one", spares)
	}
	return spares[0]
}

// TestSpareRuleEachOrigin makes a spare each way one is made: a settled
// segment other than the active one (Settle), the active one with nothing
// pending at Close, the segment left with nothing pending at a roll, and a
// settled segment found at Open. In each the spare is named above every
// record it holds; after a reopen the numbering goes on above the name, the
// next segment is written over the spare, and a copy of the directory taken
// then, as after a crash, recovers exactly the new record: none of the
// file's previous use, no damage.
func TestSpareRuleEachOrigin(t *testing.T) {
	opts := Options{Sync: SyncGroup, SegmentSize: reuseSegSize}
	origins := []struct {
		name string
		make func(t *testing.T, dir string) // leaves dir closed, with a spare
	}{
		{"settle", func(t *testing.T, dir string) {
			s := mustOpen(t, dir, opts)
			a := appendUntilRoll(t, s, "a", 1000)
			settleAll(t, s, a[:len(a)-1]) // the first segment: not the active one
			checkSpares(t, dir)
			settleAll(t, s, a[len(a)-1:])
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}},
		{"close", func(t *testing.T, dir string) {
			s := mustOpen(t, dir, opts)
			settleAll(t, s, appendUntilFull(t, s, "a", 1000))
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}},
		{"roll", func(t *testing.T, dir string) {
			s := mustOpen(t, dir, opts)
			settleAll(t, s, appendUntilFull(t, s, "a", 1000))
			// The active segment has nothing pending when this one rolls.
			seq, err := s.Append(testRecord("b000", 1000, "t/a"))
			if err != nil {
				t.Fatal(err)
			}
			if st := s.Stats(); st.Segments != 1 {
				t.Fatalf("after the roll: %d segments, want the settled one gone", st.Segments)
			}
			if names := checkSpares(t, dir); len(names) != 1 || names[0] != seq {
				t.Fatalf("after the roll: spares %v, want one named %d", names, seq)
			}
			settleAll(t, s, []Seq{seq})
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}},
		{"open", func(t *testing.T, dir string) {
			src := t.TempDir()
			s := mustOpen(t, src, opts)
			settleAll(t, s, appendUntilFull(t, s, "a", 1000))
			// A crash now: the segment is on disk with every copy settled.
			if err := os.Remove(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(copyDir(t, src), dir); err != nil {
				t.Fatal(err)
			}
			c := mustOpen(t, dir, opts)
			if st := c.Stats(); st.Segments != 0 {
				t.Fatalf("Open of a settled segment: %d segments, want none", st.Segments)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, o := range origins {
		t.Run(o.name, func(t *testing.T) {
			dir := t.TempDir()
			o.make(t, dir)
			spare := spareOf(t, dir)
			names := checkSpares(t, dir)
			b, err := os.ReadFile(spare)
			if err != nil {
				t.Fatal(err)
			}
			held := slices.Max(framesIn(b))

			s := mustOpen(t, dir, opts)
			seq, err := s.Append(testRecord("n000", 100, "t/a"))
			if err != nil {
				t.Fatal(err)
			}
			if seq < names[0] || seq <= held {
				t.Fatalf("first Append after reopen got seq %d; want at least the spare's name %d, above the %d it holds", seq, names[0], held)
			}
			if spares, _ := filepath.Glob(filepath.Join(dir, "*"+spareExt)); len(spares) != 0 {
				t.Fatalf("after Append: spares %v, want the spare written over", spares)
			}
			c, got := openCopy(t, dir, nil)
			if r := c.Recovery(); len(r.Damaged) != 0 || !slices.Equal(got, []Seq{seq}) {
				t.Fatalf("crash copy: Recovery %+v, pending %v; want no damage, only %d pending", r, got, seq)
			}
			// Close cuts the older records after the data: a clean
			// restart finds nothing torn.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			rec := testRecord("n000", 100, "t/a")
			if info, err := os.Stat(filepath.Join(dir, segName(seq)+segExt)); err != nil ||
				info.Size() != int64(segHeader+len(appendFrame(nil, 0, &rec))) {
				t.Errorf("segment after Close: %v, %v; want it cut to its one record", info, err)
			}
			s2 := mustOpen(t, dir, opts)
			if _, got := pendingMap(t, s2); s2.Recovery().TornBytes != 0 || len(s2.Recovery().Damaged) != 0 || !slices.Equal(got, []Seq{seq}) {
				t.Fatalf("reopen after Close: Recovery %+v, pending %v; want clean, only %d pending", s2.Recovery(), got, seq)
			}
		})
	}
}

// TestRollCutsReusedFile rolls out of a segment written over a spare before
// its data reached the end of the older records: the roll cuts the file to
// its data. The sizes are picked so that what would be left after the data
// is the tail of one older record, no whole one: not cut, a later Open would
// report it as damage in a segment that is not the last.
func TestRollCutsReusedFile(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{Sync: SyncGroup, SegmentSize: reuseSegSize})
	a := appendUntilRoll(t, s, "a", 1000)
	settleAll(t, s, a[:len(a)-1])
	info, err := os.Stat(spareOf(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	alloc := info.Size()
	rec := testRecord("a000", 1000, "t/a")
	f1 := int64(len(appendFrame(nil, 0, &rec)))
	if (alloc-int64(segHeader))%f1 != 0 {
		t.Fatalf("spare of %d bytes is not whole records of %d", alloc, f1)
	}

	b := appendUntilRoll(t, s, "b", 1000) // the last is the first record written over the spare
	reused := filepath.Join(dir, segName(b[len(b)-1])+segExt)
	if spares, _ := filepath.Glob(filepath.Join(dir, "*"+spareExt)); len(spares) != 0 {
		t.Fatalf("spares %v, want the spare reused", spares)
	}
	// Pick the body of the records that fill the reused segment so that it
	// rolls with its data ending inside the last older record.
	s0 := int64(segHeader) + f1
	body, end := 0, int64(0)
	for L := 50; L < 4000 && body == 0; L++ {
		r := testRecord("c000", L, "t/a")
		f2 := int64(len(appendFrame(nil, 0, &r)))
		if e := s0 + (reuseSegSize-s0)/f2*f2; e > alloc-f1 && e < alloc {
			body, end = L, e
		}
	}
	if body == 0 {
		t.Fatal("no body length ends the reused segment's data inside its last older record")
	}
	c := appendUntilFull(t, s, "c", body)
	d, err := s.Append(testRecord("d000", body, "t/a")) // rolls
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(reused); err != nil || st.Size() != end {
		t.Errorf("reused segment after the roll: %v bytes (%v); want %d, cut to its data (the older records ended at %d)",
			st.Size(), err, end, alloc)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := slices.Concat(a[len(a)-1:], b, c, []Seq{d})
	s2 := mustOpen(t, dir, Options{SegmentSize: reuseSegSize})
	_, got := pendingMap(t, s2)
	if r := s2.Recovery(); len(r.Damaged) != 0 || r.TornBytes != 0 || !slices.Equal(got, want) {
		t.Fatalf("reopen: damage %v, torn %d, pending %v; want no damage, nothing torn, pending %v", r.Damaged, r.TornBytes, got, want)
	}
}

// TestRollFailures fails each step of starting a segment (the header write,
// its fsync, the directory's fsync), in a new file and in a spare: the
// Append fails with the cause, leaves no segment file of that name, the
// spare is gone (written over, so no longer safe to keep), Stats.Bytes is
// what is on disk, and the spool works again once the fault is gone.
func TestRollFailures(t *testing.T) {
	faults := []struct {
		name   string
		set    func(f *faultFS, on bool)
		target error
	}{
		{"header", func(f *faultFS, on bool) {
			f.space = -1
			if on {
				f.space = 3 // the header's 8 bytes do not fit
			}
		}, ErrDiskFull},
		{"fsync", func(f *faultFS, on bool) {
			f.syncErr = nil
			if on {
				f.syncErr = syscall.EIO
			}
		}, syscall.EIO},
		{"dirsync", func(f *faultFS, on bool) {
			f.syncDirErr = nil
			if on {
				f.syncDirErr = syscall.EIO
			}
		}, syscall.EIO},
	}
	for _, fault := range faults {
		for _, withSpare := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/spare=%v", fault.name, withSpare), func(t *testing.T) {
				dir := t.TempDir()
				ffs := newFaultFS()
				s := mustOpen(t, dir, Options{Sync: SyncAlways, SegmentSize: reuseSegSize, fs: ffs})
				var pending []Seq
				if withSpare {
					a := appendUntilRoll(t, s, "a", 1000)
					settleAll(t, s, a[:len(a)-1])
					spareOf(t, dir)
					pending = a[len(a)-1:]
				}
				pending = append(pending, appendUntilFull(t, s, "b", 1000)...)
				ffs.set(func(f *faultFS) { fault.set(f, true) })
				_, err := s.Append(testRecord("c000", 1000, "t/a"))
				ffs.set(func(f *faultFS) { fault.set(f, false) })
				if !errors.Is(err, fault.target) {
					t.Fatalf("Append whose roll fails: %v, want an error wrapping %v", err, fault.target)
				}
				s.mu.Lock()
				next := s.next
				s.mu.Unlock()
				if _, err := os.Stat(filepath.Join(dir, segName(next)+segExt)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("segment of the failed roll: %v; want it removed", err)
				}
				if spares, _ := filepath.Glob(filepath.Join(dir, "*"+spareExt)); len(spares) != 0 {
					t.Errorf("spares %v after a failed roll; want none", spares)
				}
				if st := s.Stats(); st.Bytes != diskBytes(t, dir) {
					t.Errorf("Stats.Bytes %d, files on disk %d", st.Bytes, diskBytes(t, dir))
				}
				seq, err := s.Append(testRecord("c000", 1000, "t/a"))
				if err != nil {
					t.Fatalf("Append once the fault is gone: %v", err)
				}
				pending = append(pending, seq)
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				checkPending(t, dir, pending)
			})
		}
	}
}

// TestReuseSpareFailures fails the renames and the open that reuse and keep
// a spare: a spare that cannot be renamed to the new segment's name or
// opened there is deleted and the segment made new; a settled segment that
// cannot be renamed to a spare is deleted. Appends go on, Stats.Bytes is
// what is on disk, and a copy taken then, as after a crash, recovers every
// pending record and no settled one.
func TestReuseSpareFailures(t *testing.T) {
	injected := errors.New("injected")
	cases := []struct {
		name  string
		fault func(f *faultFS)
		spare bool // whether a spare is left to reuse
	}{
		{"rename", func(f *faultFS) {
			f.renameErr = func(old, _ string) error {
				if strings.HasSuffix(old, spareExt) {
					return injected
				}
				return nil
			}
		}, true},
		{"open", func(f *faultFS) {
			f.openErr = func(name string, flag int) error {
				if strings.HasSuffix(name, segExt) && flag&os.O_CREATE == 0 {
					return injected
				}
				return nil
			}
		}, true},
		{"keep", func(f *faultFS) {
			f.renameErr = func(_, new string) error {
				if strings.HasSuffix(new, spareExt) {
					return injected
				}
				return nil
			}
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ffs := newFaultFS()
			s := mustOpen(t, dir, Options{Sync: SyncOS, SegmentSize: reuseSegSize, fs: ffs})
			if !tc.spare {
				ffs.set(tc.fault)
			}
			a := appendUntilRoll(t, s, "a", 1000)
			settleAll(t, s, a[:len(a)-1])
			if spares, _ := filepath.Glob(filepath.Join(dir, "*"+spareExt)); len(spares) != btoi(tc.spare) {
				t.Fatalf("after settling the first segment: spares %v, want %d", spares, btoi(tc.spare))
			}
			ffs.set(tc.fault)
			b := appendUntilRoll(t, s, "b", 1000)
			first := b[len(b)-1]
			if spares, _ := filepath.Glob(filepath.Join(dir, "*"+spareExt)); len(spares) != 0 {
				t.Errorf("spares %v after the roll; want none", spares)
			}
			rec := testRecord("b000", 1000, "t/a")
			if info, err := os.Stat(filepath.Join(dir, segName(first)+segExt)); err != nil ||
				info.Size() != int64(segHeader+len(appendFrame(nil, 0, &rec))) {
				t.Errorf("the new segment: %v, %v; want a new file holding one record", info, err)
			}
			if st := s.Stats(); st.Bytes != diskBytes(t, dir) {
				t.Errorf("Stats.Bytes %d, files on disk %d", st.Bytes, diskBytes(t, dir))
			}
			want := slices.Concat(a[len(a)-1:], b)
			c, got := openCopy(t, dir, nil)
			if r := c.Recovery(); len(r.Damaged) != 0 || r.TornBytes != 0 || !slices.Equal(got, want) {
				t.Fatalf("crash copy: Recovery %+v, pending %v; want clean, pending %v", r, got, want)
			}
		})
	}
}

// TestRecoverSpareChoice leaves Open several files named as spares: of the
// valid ones the highest is kept and the others removed; a name that is not
// a seq, or a directory, is left alone; an oversized one is removed. The
// numbering goes on above the kept spare's name when no segment is above
// it, and above the segments when they are.
func TestRecoverSpareChoice(t *testing.T) {
	opts := Options{SegmentSize: reuseSegSize}
	src := t.TempDir()
	s := mustOpen(t, src, opts)
	settleAll(t, s, appendUntilFull(t, s, "a", 1000))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	spare := spareOf(t, src)
	name := checkSpares(t, src)[0]
	b, err := os.ReadFile(spare)
	if err != nil {
		t.Fatal(err)
	}

	for _, segAbove := range []bool{false, true} {
		t.Run(fmt.Sprintf("segment-above=%v", segAbove), func(t *testing.T) {
			dir := t.TempDir()
			write := func(n string, data []byte) {
				if err := os.WriteFile(filepath.Join(dir, n), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			low, high := segName(name)+spareExt, segName(name+100)+spareExt
			write(low, b)
			write(high, b)
			write("0000000000000000000x"+spareExt, b)
			if err := os.Mkdir(filepath.Join(dir, segName(name+200)+spareExt), 0o700); err != nil {
				t.Fatal(err)
			}
			write(segName(name+300)+spareExt, make([]byte, reuseSegSize+DefaultMaxRecordSize+1<<10))
			above := name + 1000
			if segAbove {
				write(segName(above)+segExt, append([]byte(segMagic), appendFrame(nil, above, ptr(testRecord("s000", 100, "t/a")))...))
			}
			s := mustOpen(t, dir, opts)
			var left []string
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if strings.HasSuffix(e.Name(), spareExt) {
					left = append(left, e.Name())
				}
			}
			slices.Sort(left)
			want := []string{"0000000000000000000x" + spareExt, high, segName(name+200) + spareExt}
			slices.Sort(want)
			if !slices.Equal(left, want) {
				t.Fatalf("spare names after Open: %v, want %v", left, want)
			}
			// On disk besides what the spool counts: the file whose name is
			// not a seq.
			if st := s.Stats(); st.Bytes != diskBytes(t, dir)-int64(len(b)) {
				t.Errorf("Stats.Bytes %d, want the kept spare and the segments: %d", st.Bytes, diskBytes(t, dir)-int64(len(b)))
			}
			seq, err := s.Append(testRecord("n000", 100, "t/a"))
			if err != nil {
				t.Fatal(err)
			}
			wantSeq := name + 100
			if segAbove {
				wantSeq = above + 1
			}
			if seq != wantSeq {
				t.Fatalf("first Append: seq %d, want %d", seq, wantSeq)
			}
			if _, err := os.Stat(filepath.Join(dir, high)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("kept spare %s: %v; want it written over by the new segment", high, err)
			}
		})
	}
}

// TestStaleNeedsRecord puts, after a segment's last record, a frame whose
// checks pass but whose payload is not a version-1 record (another
// version, or too short to hold a seq): it is damage, reported, not taken
// for a record of an older segment and cut unreported, and not a panic.
func TestStaleNeedsRecord(t *testing.T) {
	const first = 100
	frame := func(payload []byte) []byte {
		f := binary.LittleEndian.AppendUint32(nil, frameMarker)
		f = binary.LittleEndian.AppendUint32(f, uint32(len(payload)))
		f = binary.LittleEndian.AppendUint32(f, frameCRC(f[4:8], payload))
		return append(f, payload...)
	}
	older := appendFrame(nil, 5, ptr(testRecord("z000", 100, "t/a")))
	other := slices.Clone(older[frameHeader:])
	other[0] = payloadVersion + 1 // seq 5 follows, below first
	for _, tc := range []struct {
		name    string
		payload []byte
	}{
		{"version", other},
		{"short", []byte{payloadVersion, 5, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			seg := append([]byte(segMagic), appendFrame(nil, first, ptr(testRecord("r000", 100, "t/a")))...)
			off := int64(len(seg))
			seg = append(seg, frame(tc.payload)...)
			if err := os.WriteFile(filepath.Join(dir, segName(first)+segExt), seg, 0o600); err != nil {
				t.Fatal(err)
			}
			s := mustOpen(t, dir, Options{})
			_, got := pendingMap(t, s)
			r := s.Recovery()
			if len(r.Damaged) != 1 || r.Damaged[0].Offset != off || r.TornBytes != 0 || !slices.Equal(got, []Seq{first}) {
				t.Fatalf("Recovery %+v, pending %v; want one damage at %d, nothing torn, pending [%d]", r, got, off, first)
			}
		})
	}
}

// TestSpareWithinQuota opens, with a quota smaller than it, a directory
// whose segment has every copy settled: the file is deleted rather than
// kept as a spare past the quota.
func TestSpareWithinQuota(t *testing.T) {
	src := t.TempDir()
	s := mustOpen(t, src, Options{SegmentSize: reuseSegSize})
	settleAll(t, s, appendUntilFull(t, s, "a", 1000))
	dir := copyDir(t, src) // as after a crash: the settled segment is still there
	quota := int64(reuseSegSize / 2)
	c := mustOpen(t, dir, Options{SegmentSize: reuseSegSize, Quota: quota})
	if spares, _ := filepath.Glob(filepath.Join(dir, "*"+spareExt)); len(spares) != 0 {
		t.Errorf("spares %v kept past a quota of %d bytes; want none", spares, quota)
	}
	if st := c.Stats(); st.Bytes > quota || st.Bytes != diskBytes(t, dir) {
		t.Errorf("Stats %+v, files on disk %d; want at most the quota %d, as on disk", st, diskBytes(t, dir), quota)
	}
}
