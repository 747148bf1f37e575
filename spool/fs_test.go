// This file tests the spool on bad disks: a full disk (injected, and a real
// size-limited tmpfs when the test may mount one), a read-only directory and
// failing fsyncs. Nothing accepted before the failure may be lost.

package spool

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
)

// checkPending reopens dir and checks that exactly want is pending.
func checkPending(t *testing.T, dir string, want []Seq) {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	r := s.Recovery()
	if r.TornBytes != 0 || len(r.Damaged) != 0 {
		t.Errorf("reopen: Recovery got %+v, want no torn bytes, no damage", r)
	}
	m, order := pendingMap(t, s)
	slices.Sort(want)
	if !slices.Equal(order, want) {
		t.Fatalf("reopen: pending got %v, want %v", order, want)
	}
	for _, e := range m {
		if err := checkRecord(e.Record, 1000); err != nil {
			t.Error(err)
		}
	}
}

func TestDiskFull(t *testing.T) {
	for _, mode := range []SyncMode{SyncGroup, SyncAlways, SyncOS} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			ffs := newFaultFS()
			ffs.space = 12 << 10
			s := mustOpen(t, dir, Options{Sync: mode, SegmentSize: 5 << 10, fs: ffs})
			var acked []Seq
			var err error
			for i := 0; i < 100; i++ {
				var seq Seq
				seq, err = s.Append(testRecord(fmt.Sprintf("d%d", i), 1000, "t/a"))
				if err != nil {
					break
				}
				acked = append(acked, seq)
			}
			if !errors.Is(err, ErrDiskFull) || !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Append on a full disk: got %v, want ErrDiskFull wrapping ENOSPC", err)
			}
			if len(acked) < 5 {
				t.Fatalf("accepted %d records before the disk filled, want ≥ 5", len(acked))
			}
			if st := s.Stats(); st.Records != len(acked) {
				t.Errorf("Stats after disk full: got %+v, want %d records", st, len(acked))
			}
			for _, seq := range acked {
				if _, err := s.Get(seq); err != nil {
					t.Errorf("Get(%d) after disk full: %v", seq, err)
				}
			}
			// Space freed: the spool works again.
			ffs.set(func(f *faultFS) { f.space = -1 })
			seq, err := s.Append(testRecord("again", 1000, "t/a"))
			if err != nil {
				t.Fatalf("Append after space freed: %v", err)
			}
			acked = append(acked, seq)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			checkPending(t, dir, acked)
		})
	}
}

func TestFsyncFailure(t *testing.T) {
	for _, mode := range []SyncMode{SyncGroup, SyncAlways} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			ffs := newFaultFS()
			s := mustOpen(t, dir, Options{Sync: mode, fs: ffs})
			var acked []Seq
			for i := range 10 {
				seq, err := s.Append(testRecord(fmt.Sprintf("f%d", i), 1000, "t/a"))
				if err != nil {
					t.Fatal(err)
				}
				acked = append(acked, seq)
			}
			ffs.set(func(f *faultFS) { f.syncErr = syscall.EIO })
			var wg sync.WaitGroup
			errs := make([]error, 8)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = s.Append(testRecord(fmt.Sprintf("g%d", i), 1000, "t/a"))
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if !errors.Is(err, syscall.EIO) {
					t.Errorf("Append %d with failing fsync: got %v, want EIO", i, err)
				}
			}
			if st := s.Stats(); st.Records != len(acked) {
				t.Errorf("Stats after failed fsyncs: got %+v, want the %d accepted records only", st, len(acked))
			}
			ffs.set(func(f *faultFS) { f.syncErr = nil })
			seq, err := s.Append(testRecord("after", 1000, "t/a"))
			if err != nil {
				t.Fatalf("Append after fsync recovers: %v", err)
			}
			acked = append(acked, seq)
			s.Close()
			checkPending(t, dir, acked)
		})
	}
}

func TestReadOnlyDirectory(t *testing.T) {
	dir := t.TempDir()
	ffs := newFaultFS()
	s := mustOpen(t, dir, Options{Sync: SyncGroup, fs: ffs})
	var acked []Seq
	for i := range 10 {
		seq, err := s.Append(testRecord(fmt.Sprintf("r%d", i), 1000, "t/a", "t/b"))
		if err != nil {
			t.Fatal(err)
		}
		acked = append(acked, seq)
	}
	if err := s.Settle(acked[0], "t/a"); err != nil {
		t.Fatal(err)
	}
	ffs.set(func(f *faultFS) { f.readOnly = true })
	for i := range 2 {
		_, err := s.Append(testRecord("ro", 1000, "t/a"))
		if !errors.Is(err, ErrReadOnly) || !errors.Is(err, syscall.EROFS) {
			t.Fatalf("Append %d on a read-only directory: got %v, want ErrReadOnly wrapping EROFS", i, err)
		}
	}
	if err := s.Settle(acked[1], "t/a"); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Settle on a read-only directory: got %v, want ErrReadOnly", err)
	}
	s.Close()
	// Read-only from the start: the first Append cannot create a segment.
	s2 := mustOpen(t, t.TempDir(), Options{fs: ffs})
	if _, err := s2.Append(testRecord("ro", 1000, "t/a")); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Append into a read-only directory: got %v, want ErrReadOnly", err)
	}
	checkPending(t, dir, acked) // acked[1]'s settlement was refused: still pending
}
