// fs_linux_test.go tests the spool on a real size-limited tmpfs, which
// needs Linux's mount(2) (and root; the test says so when it cannot mount).

package spool

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/sqshook/sqshook/internal/tmpfs"
)

// TestTmpfsFull fills a real 256 KiB tmpfs, then remounts it read-only. It
// mounts, so it needs root (CI runs as root); TestDiskFull and
// TestReadOnlyDirectory cover the same paths without.
func TestTmpfsFull(t *testing.T) {
	mnt := tmpfs.Mount(t, "256k", "TestDiskFull")
	dir := filepath.Join(mnt, "spool")
	s, err := Open(dir, Options{Sync: SyncGroup, SegmentSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var acked []Seq
	for i := 0; i < 1000; i++ {
		var seq Seq
		seq, err = s.Append(testRecord(fmt.Sprintf("m%d", i), 1000, "t/a"))
		if err != nil {
			break
		}
		acked = append(acked, seq)
	}
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("Append on a full tmpfs: got %v, want ErrDiskFull", err)
	}
	t.Logf("tmpfs full after %d records: %v", len(acked), err)
	if err := s.Close(); err != nil {
		t.Fatalf("Close on a full disk: %v", err)
	}
	checkPending(t, dir, acked)

	tmpfs.Remount(t, mnt, "256k", true)
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Open on a read-only file system: got %v, want ErrReadOnly", err)
	}
}
