//go:build unix

// This file tests recovery from files that are not what their names say:
// segment and settlement files far larger than a spool writes (sparse, so
// they cost no disk), and symbolic links, named pipes and directories under
// a segment's or a settlement file's name. Open must report them as damage,
// read none of them whole, follow no link, and open the spool.

package spool

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"
)

// hugeFile is the size of the sparse files: larger than the 4 GiB a
// segment's offsets can address, as a damaged inode or a crafted file can be.
const hugeFile = 5 << 30

// sparse makes path a file of size bytes that takes no disk, or extends
// the file there to size.
func sparse(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// openMeasured opens dir and returns the spool and the bytes allocated
// while Open ran.
func openMeasured(t *testing.T, dir string, opts Options) (*Spool, uint64) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, err := Open(dir, opts)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("Open with a %d-byte file in the directory: %v", int64(hugeFile), err)
	}
	t.Cleanup(func() { s.Close() })
	return s, after.TotalAlloc - before.TotalAlloc
}

// oneDamage checks that Open reported exactly one damaged file, name,
// whose error wraps target.
func oneDamage(t *testing.T, s *Spool, name string, size int64, target error) {
	t.Helper()
	d := s.Recovery().Damaged
	if len(d) != 1 || d[0].Segment != name || d[0].Size != size || !errors.Is(d[0].Err, target) || d[0].Seq != 0 {
		t.Fatalf("Recovery().Damaged: got %+v; want one for %s, %d bytes, wrapping %q", d, name, size, target)
	}
	t.Logf("reported: %v", d[0].Err)
}

// TestOversizedSegment puts a sparse 5 GiB file under a segment's name,
// as the newest segment and between two segments. Open reports it as
// damage without reading it (the memory it allocates is a small fraction
// of the file), keeps every record of the real segments and removes it.
func TestOversizedSegment(t *testing.T) {
	for _, where := range []string{"newest", "middle"} {
		t.Run(where, func(t *testing.T) {
			dir, seqs, segs := buildSpool(t, 40, 4<<10)
			if len(segs) < 3 {
				t.Fatalf("%d segments, want ≥ 3", len(segs))
			}
			first := seqs[len(seqs)-1] + 1
			if where == "middle" {
				// A name inside the first segment's records: the scan of
				// that segment must still stop at the real next one.
				first = seqs[1]
			}
			name := segName(first) + segExt
			sparse(t, filepath.Join(dir, name), hugeFile)

			s, grew := openMeasured(t, dir, Options{Sync: SyncOS, SegmentSize: 4 << 10})
			t.Logf("Open allocated %d bytes for a %d-byte segment file", grew, int64(hugeFile))
			if grew > hugeFile/64 {
				t.Errorf("Open allocated %d bytes, more than 1/64 of the %d-byte file: it read it", grew, int64(hugeFile))
			}
			oneDamage(t, s, name, hugeFile, errOversized)
			if _, order := pendingMap(t, s); !slices.Equal(order, seqs) {
				t.Fatalf("pending after Open: got %v, want %v", order, seqs)
			}
			if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the oversized file after Open: %v; want it removed", err)
			}
			seq, err := s.Append(testRecord("after", 300, "t/a"))
			if err != nil || seq <= seqs[len(seqs)-1] || seq <= first {
				t.Fatalf("Append after Open: seq %d, %v; want a seq after %d and %d", seq, err, seqs[len(seqs)-1], first)
			}
			s.Close()
			s2 := mustOpen(t, dir, Options{Sync: SyncOS, SegmentSize: 4 << 10})
			if d := s2.Recovery().Damaged; len(d) != 0 {
				t.Errorf("second Open: damage %+v, want none", d)
			}
			if _, order := pendingMap(t, s2); !slices.Equal(order, append(slices.Clone(seqs), seq)) {
				t.Fatalf("pending after the second Open: got %v, want %v and %d", order, seqs, seq)
			}
		})
	}
}

// TestOversizedSettlements extends a segment's settlement file to a sparse
// 5 GiB, its real entries first. Open reports it as damage without
// reading it, keeps every copy of the segment pending (delivered again,
// never lost) and removes it; settling again works.
func TestOversizedSettlements(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{Sync: SyncOS})
	var seqs []Seq
	for i := range 5 {
		seq, err := s.Append(testRecord(fmt.Sprintf("a%d", i), 100, "t/a", "t/b"))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
		if err := s.Settle(seq, "t/a"); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	name := segName(seqs[0]) + ackExt
	ack := filepath.Join(dir, name)
	if fi, err := os.Stat(ack); err != nil || fi.Size() != 5*ackEntry {
		t.Fatalf("settlement file: %v, %v; want %d bytes", fi, err, 5*ackEntry)
	}
	sparse(t, ack, hugeFile)

	s2, grew := openMeasured(t, dir, Options{Sync: SyncOS})
	t.Logf("Open allocated %d bytes for a %d-byte settlement file", grew, int64(hugeFile))
	if grew > hugeFile/64 {
		t.Errorf("Open allocated %d bytes, more than 1/64 of the %d-byte file: it read it", grew, int64(hugeFile))
	}
	oneDamage(t, s2, name, hugeFile, errOversized)
	got, _ := pendingMap(t, s2)
	for _, seq := range seqs {
		if !slices.Equal(got[seq].Record.Hooks, []string{"t/a", "t/b"}) {
			t.Errorf("seq %d: pending %v; want both copies (its settlement ignored)", seq, got[seq].Record.Hooks)
		}
	}
	if _, err := os.Lstat(ack); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the oversized settlement file after Open: %v; want it removed", err)
	}
	if err := s2.Settle(seqs[0], "t/a"); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	s3 := mustOpen(t, dir, Options{Sync: SyncOS})
	if d := s3.Recovery().Damaged; len(d) != 0 {
		t.Errorf("Open after the settlement file was replaced: damage %+v, want none", d)
	}
	if e, err := s3.Get(seqs[0]); err != nil || !slices.Equal(e.Record.Hooks, []string{"t/b"}) {
		t.Errorf("Get(%d) after settling again: %v, %v; want hooks [t/b]", seqs[0], e.Record.Hooks, err)
	}
}

// TestAckLimit checks the settlement file bound against the densest
// segment Append can write: records with empty fields and 256 one-byte
// hook ids, every copy settled but one record's. The file must fit
// ackLimit of its segment's size, so a real one is never refused.
func TestAckLimit(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{Sync: SyncOS})
	var hooks []string
	for c := 0; c < 256; c++ {
		hooks = append(hooks, string([]byte{byte(c)}))
	}
	var seqs []Seq
	for range 20 {
		seq, err := s.Append(Record{Hooks: hooks})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	s.mu.Lock()
	segSize := s.segs[0].size
	s.mu.Unlock()
	for _, seq := range seqs[:19] {
		for _, h := range hooks {
			if err := s.Settle(seq, h); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.Close()
	fi, err := os.Stat(filepath.Join(dir, segName(seqs[0])+ackExt))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("segment %d bytes, settlement file %d bytes, limit %d", segSize, fi.Size(), ackLimit(segSize))
	if fi.Size() > ackLimit(segSize) {
		t.Fatalf("settlement file %d bytes for a %d-byte segment: more than its limit %d", fi.Size(), segSize, ackLimit(segSize))
	}
	s2 := mustOpen(t, dir, Options{Sync: SyncOS})
	if d := s2.Recovery().Damaged; len(d) != 0 {
		t.Fatalf("reopen: damage %+v, want none", d)
	}
	if st := s2.Stats(); st.Pending != 256 {
		t.Fatalf("reopen: %d copies pending, want 256", st.Pending)
	}
}

// notAFile makes path something else than a regular file: a symbolic link
// to target, a named pipe or a directory.
func notAFile(t *testing.T, kind, path, target string) {
	t.Helper()
	var err error
	switch kind {
	case "symlink":
		err = os.Symlink(target, path)
	case "dangling":
		err = os.Symlink(target+".missing", path)
	case "fifo":
		err = syscall.Mkfifo(path, 0o600)
	case "directory":
		err = os.Mkdir(path, 0o700)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// openNoHang opens dir, failing the test if Open has not returned within a
// generous deadline (the code this replaced waited forever on a named
// pipe); on that failure a writer opens and closes the pipe at fifo, if
// any, to end the wait.
func openNoHang(t *testing.T, dir, fifo string) (*Spool, error) {
	t.Helper()
	type result struct {
		s   *Spool
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := Open(dir, Options{Sync: SyncOS})
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		return r.s, r.err
	case <-time.After(time.Minute):
		if fifo != "" {
			if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
		}
		r := <-done
		if r.s != nil {
			r.s.Close()
		}
		t.Fatalf("Open did not return within a minute (a named pipe read?)")
		return nil, nil
	}
}

// TestSegmentNameNotAFile puts a symbolic link (to a file holding a
// segment header and what would be a torn tail, which recovery cuts), a
// dangling link, a named pipe and a directory under the newest segment's
// name. Open reports it as damage, does not follow it (the link's target
// keeps its bytes and mode), removes it and keeps every record.
func TestSegmentNameNotAFile(t *testing.T) {
	for _, kind := range []string{"symlink", "dangling", "fifo", "directory"} {
		t.Run(kind, func(t *testing.T) {
			dir, seqs, _ := buildSpool(t, 10, 0)
			target := filepath.Join(t.TempDir(), "precious")
			content := []byte(segMagic + "precious data, not a record")
			if err := os.WriteFile(target, content, 0o644); err != nil {
				t.Fatal(err)
			}
			name := segName(seqs[len(seqs)-1]+1) + segExt
			path := filepath.Join(dir, name)
			notAFile(t, kind, path, target)
			fifo := ""
			if kind == "fifo" {
				fifo = path
			}

			s, err := openNoHang(t, dir, fifo)
			if err != nil {
				t.Fatalf("Open with a %s named %s: %v", kind, name, err)
			}
			defer s.Close()
			if b, err := os.ReadFile(target); err != nil || !bytes.Equal(b, content) {
				t.Errorf("link target after Open: %q, %v; want %q unchanged", b, err, content)
			}
			oneDamage(t, s, name, 0, errNotRegular)
			if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != 0o644 {
				t.Errorf("link target's mode after Open: %v, %v; want 0644 unchanged", fi, err)
			}
			if _, err := os.Stat(target + ".missing"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("dangling link's target after Open: %v; want it not created", err)
			}
			if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s after Open: %v; want it removed", name, err)
			}
			if _, order := pendingMap(t, s); !slices.Equal(order, seqs) {
				t.Fatalf("pending after Open: got %v, want %v", order, seqs)
			}
			if _, err := s.Append(testRecord("after", 300, "t/a")); err != nil {
				t.Fatalf("Append after Open: %v", err)
			}
		})
	}
}

// TestSettlementNameNotAFile puts a symbolic link to a file (which the
// code this replaced cut as a torn settlement, and appended to), a named
// pipe and a directory under a segment's settlement file name. Open
// reports it as damage, keeps the segment's copies pending, does not
// follow the link, and a settlement after Open goes to a regular file of
// the spool's own.
func TestSettlementNameNotAFile(t *testing.T) {
	for _, kind := range []string{"symlink", "fifo", "directory"} {
		t.Run(kind, func(t *testing.T) {
			dir, seqs, _ := buildSpool(t, 10, 0)
			target := filepath.Join(t.TempDir(), "precious")
			content := []byte("precious data\n")
			if err := os.WriteFile(target, content, 0o644); err != nil {
				t.Fatal(err)
			}
			name := segName(seqs[0]) + ackExt
			path := filepath.Join(dir, name)
			notAFile(t, kind, path, target)
			fifo := ""
			if kind == "fifo" {
				fifo = path
			}

			s, err := openNoHang(t, dir, fifo)
			if err != nil {
				t.Fatalf("Open with a %s named %s: %v", kind, name, err)
			}
			defer s.Close()
			if err := s.Settle(seqs[0], "t/a"); err != nil {
				t.Errorf("Settle after Open: %v", err)
			}
			if b, err := os.ReadFile(target); err != nil || !bytes.Equal(b, content) {
				t.Errorf("link target after Open and Settle: %q, %v; want %q unchanged", b, err, content)
			}
			if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() || fi.Size() != ackEntry {
				t.Errorf("%s after Settle: %v, %v; want a regular file of one entry", name, fi, err)
			}
			oneDamage(t, s, name, 0, errNotRegular)
			got, order := pendingMap(t, s)
			if !slices.Equal(order, seqs) || !slices.Equal(got[seqs[0]].Record.Hooks, []string{"t/b"}) {
				t.Fatalf("pending after Open and Settle: %v, first %v; want %v, the first with t/b only", order, got[seqs[0]].Record.Hooks, seqs)
			}
		})
	}
}
