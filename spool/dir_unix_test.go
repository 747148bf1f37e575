//go:build unix

// This file tests what Open asks of the spool's directory where files have
// owners and modes: the modes of what it creates (Options.Perm), the
// narrowing of wider files an earlier version left, the refusal of a
// directory another user owns or may write, and of a lock file that is a
// link or not a regular file.

package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// modeOf returns the permission bits of path, not following a link.
func modeOf(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// spoolFiles returns the files of a spool directory, lock file included.
func spoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, filepath.Join(dir, e.Name()))
	}
	return out
}

// fillSpool appends two records with two copies each and settles one copy
// of the first, so the directory holds a lock file, a segment and a
// settlement file; it returns the seqs.
func fillSpool(t *testing.T, s *Spool) []Seq {
	t.Helper()
	var seqs []Seq
	for i := range 2 {
		seq, err := s.Append(testRecord(fmt.Sprintf("m%d", i), 200, "t/a", "t/b"))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	if err := s.Settle(seqs[0], "t/a"); err != nil {
		t.Fatal(err)
	}
	return seqs
}

// checkModes checks that dir has mode dirWant and each of its files, of
// which there must be a lock file, a segment and a settlement file, mode
// fileWant. An umask narrows what Open asks for; the wanted modes are
// what remains of them under the usual umasks (022, 027, 077).
func checkModes(t *testing.T, dir string, dirWant, fileWant func(fs.FileMode) bool) {
	t.Helper()
	if m := modeOf(t, dir); !dirWant(m) {
		t.Errorf("directory %s: mode %04o", dir, m)
	}
	var exts []string
	for _, p := range spoolFiles(t, dir) {
		exts = append(exts, filepath.Ext(p))
		if m := modeOf(t, p); !fileWant(m) {
			t.Errorf("%s: mode %04o", filepath.Base(p), m)
		}
	}
	for _, ext := range []string{"", segExt, ackExt} {
		if !slices.Contains(exts, ext) {
			t.Errorf("files %v: none with extension %q", exts, ext)
		}
	}
}

// TestFileModes opens a spool in a directory that does not exist yet (nor
// do its parents): the directory is made 0700, its files 0600, whatever
// the umask lets through beyond that.
func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "spool")
	s := mustOpen(t, dir, Options{})
	fillSpool(t, s)
	checkModes(t, dir,
		func(m fs.FileMode) bool { return m == 0o700 },
		func(m fs.FileMode) bool { return m == 0o600 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkModes(t, dir,
		func(m fs.FileMode) bool { return m == 0o700 },
		func(m fs.FileMode) bool { return m == 0o600 })
}

// TestPerm widens the modes with Options.Perm 0640 (a group may read) and
// checks that modes giving anyone else write, exec bits, or the owner less
// than read and write are refused before anything is created.
func TestPerm(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	s := mustOpen(t, dir, Options{Perm: 0o640})
	fillSpool(t, s)
	// Under umask 022 or 027 exactly 0750/0640; under 077, 0700/0600.
	checkModes(t, dir,
		func(m fs.FileMode) bool { return m == 0o750 || m == 0o700 },
		func(m fs.FileMode) bool { return m == 0o640 || m == 0o600 })

	for _, p := range []fs.FileMode{0o666, 0o660, 0o602, 0o700, 0o400, 0o200, 0o1600, fs.ModeDir | 0o600} {
		d := filepath.Join(t.TempDir(), "spool")
		_, err := Open(d, Options{Perm: p})
		if err == nil || !strings.Contains(err.Error(), "Options.Perm") {
			t.Errorf("Open with Perm %v: %v; want an error naming Options.Perm", p, err)
		}
		if _, err := os.Lstat(d); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open with Perm %v created the directory (%v); want nothing created", p, err)
		}
	}
}

// TestNarrowExistingFiles reopens spools whose files an earlier version
// made 0644: the segment, settlement and lock files are narrowed to 0600,
// and a spare file, which would carry its mode into the next segment
// written over it, is not adopted.
func TestNarrowExistingFiles(t *testing.T) {
	t.Run("segment", func(t *testing.T) {
		dir := t.TempDir()
		s := mustOpen(t, dir, Options{})
		seqs := fillSpool(t, s)
		s.Close()
		for _, p := range spoolFiles(t, dir) {
			if err := os.Chmod(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		dirMode := modeOf(t, dir)
		s2 := mustOpen(t, dir, Options{})
		checkModes(t, dir,
			func(m fs.FileMode) bool { return m == dirMode }, // an existing directory keeps its mode
			func(m fs.FileMode) bool { return m == 0o600 })
		if _, order := pendingMap(t, s2); !slices.Equal(order, seqs) {
			t.Fatalf("pending: got %v, want %v", order, seqs)
		}
	})
	t.Run("spare", func(t *testing.T) {
		s, dir, pending, _ := reusedSpool(t)
		for _, q := range pending {
			if err := s.Settle(q, "t/a"); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		spares, _ := filepath.Glob(filepath.Join(dir, "*"+spareExt))
		if len(spares) != 1 {
			t.Fatalf("spares %v, want one", spares)
		}
		if err := os.Chmod(spares[0], 0o644); err != nil {
			t.Fatal(err)
		}
		s2 := mustOpen(t, dir, Options{Sync: SyncOS, SegmentSize: 16 << 10})
		if st := s2.Stats(); st.Bytes != 0 {
			t.Errorf("Stats after Open: %+v; want the 0644 spare not counted (removed)", st)
		}
		if _, err := s2.Append(testRecord("n000", 500, "t/a")); err != nil {
			t.Fatal(err)
		}
		segs, _ := filepath.Glob(filepath.Join(dir, "*"+segExt))
		if len(segs) != 1 {
			t.Fatalf("segments %v, want one", segs)
		}
		if m := modeOf(t, segs[0]); m != 0o600 {
			t.Errorf("segment after Append: mode %04o, want 0600 (not the spare's 0644)", m)
		}
	})
}

// TestUnsafeDirMode opens an existing directory that its group or others
// may write (sticky or not): refused with ErrUnsafeDir, an error that says
// the mode, and nothing created in it. Directories others may only read
// are accepted, their mode unchanged.
func TestUnsafeDirMode(t *testing.T) {
	for _, mode := range []fs.FileMode{0o777, 0o770, 0o722, 0o702, fs.ModeSticky | 0o777} {
		dir := t.TempDir()
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir, Options{})
		if !errors.Is(err, ErrUnsafeDir) || !strings.Contains(err.Error(), fmt.Sprintf("mode %04o", mode.Perm())) {
			t.Errorf("Open of a %v directory: %v; want ErrUnsafeDir naming mode %04o", mode, err, mode.Perm())
		}
		if files := spoolFiles(t, dir); len(files) != 0 {
			t.Errorf("Open of a %v directory left %v; want nothing", mode, files)
		}
	}
	for _, mode := range []fs.FileMode{0o755, 0o750, 0o700} {
		dir := t.TempDir()
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, Options{})
		if err != nil {
			t.Errorf("Open of a %v directory: %v", mode, err)
			continue
		}
		s.Close()
		if m := modeOf(t, dir); m != mode {
			t.Errorf("directory %v after Open: %v; want it unchanged", mode, m)
		}
	}
}

// TestUnsafeDirOwner gives the spool's directory, already there (as
// another user who got to the path first would make it), to another user:
// refused with ErrUnsafeDir naming the owner, nothing created in it. The
// test gives files away with chown(2), which needs root: CI runs as root;
// elsewhere it says so and skips.
func TestUnsafeDirOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a directory to another user (CI runs as root)")
	}
	const nobody = 65534
	for _, mode := range []fs.FileMode{0o700, 0o755} {
		dir := filepath.Join(t.TempDir(), "spool")
		if err := os.Mkdir(dir, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir, Options{})
		if !errors.Is(err, ErrUnsafeDir) || !strings.Contains(err.Error(), fmt.Sprintf("owned by uid %d", nobody)) {
			t.Errorf("Open of a %v directory owned by uid %d: %v; want ErrUnsafeDir naming the owner", mode, nobody, err)
		}
		if files := spoolFiles(t, dir); len(files) != 0 {
			t.Errorf("Open of another user's directory left %v; want nothing", files)
		}
	}
}

// TestLockNotAFile puts a symbolic link (to a file, and dangling), a named
// pipe and a directory in the spool's directory as its lock file: Open
// fails with ErrUnsafeDir saying what the lock file is, and neither writes
// to the link's target nor creates it.
func TestLockNotAFile(t *testing.T) {
	for _, kind := range []string{"symlink", "dangling", "fifo", "directory"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(t.TempDir(), "precious")
			content := []byte("precious data\n")
			if err := os.WriteFile(target, content, 0o644); err != nil {
				t.Fatal(err)
			}
			lock := filepath.Join(dir, lockName)
			notAFile(t, kind, lock, target)

			s, err := Open(dir, Options{})
			if err == nil {
				s.Close()
			}
			if !errors.Is(err, ErrUnsafeDir) || !strings.Contains(err.Error(), "lock file") {
				t.Errorf("Open with a %s as lock file: %v; want ErrUnsafeDir about the lock file", kind, err)
			} else {
				t.Logf("refused: %v", err)
			}
			if b, err := os.ReadFile(target); err != nil || !bytes.Equal(b, content) {
				t.Errorf("link target after Open: %q, %v; want %q unchanged", b, err, content)
			}
			if m := modeOf(t, target); m != 0o644 {
				t.Errorf("link target's mode after Open: %04o; want 0644 unchanged", m)
			}
			if _, err := os.Lstat(target + ".missing"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("dangling link's target after Open: %v; want it not created", err)
			}
			if fi, err := os.Lstat(lock); err != nil || fi.Mode().IsRegular() {
				t.Errorf("lock file after Open: %v, %v; want the %s left as it was", fi, err, kind)
			}
		})
	}
}

// TestLockReadBounded makes the lock file of a directory another Spool
// holds 5 GiB (sparse): the second Open says the directory is locked, by
// this process's pid from the first bytes, without reading it whole.
func TestLockReadBounded(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	if err := os.Truncate(filepath.Join(dir, lockName), hugeFile); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Open(dir, Options{})
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > hugeFile/64 {
		t.Fatalf("second Open allocated %d bytes for a %d-byte lock file: it read it", grew, int64(hugeFile))
	}
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("process %d ", os.Getpid())) {
		t.Fatalf("second Open: %v; want ErrLocked naming pid %d", err, os.Getpid())
	}
	s.Close()
}
