// Package tmpfs mounts small size-limited tmpfs file systems for the tests
// of a full or read-only disk (Linux only; mounting needs root).
package tmpfs

import (
	"os"
	"syscall"
	"testing"
)

// Mount mounts a tmpfs of the given size (such as "256k") on a new
// temporary directory, unmounted when the test ends, and returns the
// directory. Without root, or where mounting is refused, it skips the test
// saying why; covered names the test that covers the same path without a
// mount.
func Mount(t testing.TB, size, covered string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("%s mounts a tmpfs and needs root (CI runs as root); %s covers the same path", t.Name(), covered)
	}
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("mount tmpfs: %v (no mount permission here); %s covers the same path", err, covered)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	return mnt
}

// Remount changes a tmpfs Mount made: a new size, read-only or not.
func Remount(t testing.TB, mnt, size string, readOnly bool) {
	t.Helper()
	flags := uintptr(syscall.MS_REMOUNT)
	if readOnly {
		flags |= syscall.MS_RDONLY
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", flags, "size="+size); err != nil {
		t.Fatalf("remount tmpfs %s: %v", mnt, err)
	}
}
