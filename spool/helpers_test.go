// This file owns the helpers shared by the package's tests: record builders,
// a fault-injecting file system, and the comparison of spool contents.

package spool

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"reflect"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testRecord builds a deterministic record for event id: the body (of
// bodyLen bytes, 0 picks a length from the id) and every other field derive
// from the id, so a reader can check a record it never saw written.
func testRecord(id string, bodyLen int, hooks ...string) Record {
	h := fnv.New64a()
	h.Write([]byte(id))
	x := h.Sum64()
	if bodyLen == 0 {
		bodyLen = 20 + int(x%600)
	}
	body := make([]byte, bodyLen)
	for i := range body {
		x = x*6364136223846793005 + 1442695040888963407
		body[i] = byte(x >> 56)
	}
	return Record{
		Type:       "message.new",
		Body:       body,
		GroupID:    "channel-" + id[:1],
		DedupID:    id,
		EventID:    id,
		Attributes: map[string]string{"event_type": "message.new", "id": id},
		Enqueued:   time.Unix(1700000000, int64(len(id))).UTC(),
		Hooks:      hooks,
	}
}

// checkRecord reports how got differs from the record testRecord builds for
// its event id, hooks aside.
func checkRecord(got Record, bodyLen int) error {
	want := testRecord(got.EventID, bodyLen)
	want.Hooks, got.Hooks = nil, nil
	got.Enqueued = got.Enqueued.UTC()
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("record %q: got %+v, want %+v", got.EventID, got, want)
	}
	return nil
}

// mustOpen opens dir and closes the spool at the end of the test.
func mustOpen(t testing.TB, dir string, opts Options) *Spool {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// pendingMap reads every pending entry of s, keyed by seq.
func pendingMap(t testing.TB, s *Spool) (map[Seq]Entry, []Seq) {
	t.Helper()
	m := map[Seq]Entry{}
	var order []Seq
	for e, err := range s.Pending(0) {
		if err != nil {
			t.Fatalf("Pending: %v", err)
		}
		m[e.Seq] = e
		order = append(order, e.Seq)
	}
	if !slices.IsSorted(order) {
		t.Fatalf("Pending order: got %v, want increasing seqs", order)
	}
	return m, order
}

// faultFS is a file system whose writes fail as a full or read-only disk's
// do, or whose single operations fail as the test says. Reads go to the
// real files.
type faultFS struct {
	mu       sync.Mutex
	space    int64 // bytes that still fit; negative: unlimited
	readOnly bool
	syncErr  error
	// syncDirErr, if set, fails SyncDir.
	syncDirErr error
	// openErr and renameErr, if set, are asked before each OpenFile and
	// Rename; a non-nil answer fails the call with it.
	openErr   func(name string, flag int) error
	renameErr func(oldpath, newpath string) error
}

func newFaultFS() *faultFS { return &faultFS{space: -1} }

func (f *faultFS) set(fn func(*faultFS)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *faultFS) OpenFile(name string, flag int, perm os.FileMode) (writeFile, error) {
	f.mu.Lock()
	ro, hook := f.readOnly, f.openErr
	f.mu.Unlock()
	if ro && flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE) != 0 {
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EROFS}
	}
	if hook != nil {
		if err := hook(name, flag); err != nil {
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
	}
	file, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{fs: f, f: file}, nil
}

func (f *faultFS) Remove(name string) error {
	f.mu.Lock()
	ro := f.readOnly
	f.mu.Unlock()
	if ro {
		return &os.PathError{Op: "remove", Path: name, Err: syscall.EROFS}
	}
	return os.Remove(name)
}

func (f *faultFS) Rename(oldpath, newpath string) error {
	f.mu.Lock()
	ro, hook := f.readOnly, f.renameErr
	f.mu.Unlock()
	if ro {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: syscall.EROFS}
	}
	if hook != nil {
		if err := hook(oldpath, newpath); err != nil {
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
		}
	}
	return os.Rename(oldpath, newpath)
}

func (f *faultFS) SyncDir(dir string) error {
	f.mu.Lock()
	err := f.syncDirErr
	f.mu.Unlock()
	if err != nil {
		return &os.PathError{Op: "sync", Path: dir, Err: err}
	}
	return osFS{}.SyncDir(dir)
}

type faultFile struct {
	fs *faultFS
	f  *os.File
}

func (w *faultFile) Write(p []byte) (int, error) {
	return w.write(p, func(b []byte) (int, error) { return w.f.Write(b) })
}

func (w *faultFile) WriteAt(p []byte, off int64) (int, error) {
	return w.write(p, func(b []byte) (int, error) { return w.f.WriteAt(b, off) })
}

// write applies the faults set to a write of p done by do.
func (w *faultFile) write(p []byte, do func([]byte) (int, error)) (int, error) {
	w.fs.mu.Lock()
	defer w.fs.mu.Unlock()
	if w.fs.readOnly {
		return 0, &os.PathError{Op: "write", Path: w.f.Name(), Err: syscall.EROFS}
	}
	if w.fs.space >= 0 && int64(len(p)) > w.fs.space {
		// A full disk takes what fits, then fails: a partial write.
		n, _ := do(p[:w.fs.space])
		w.fs.space = 0
		return n, &os.PathError{Op: "write", Path: w.f.Name(), Err: syscall.ENOSPC}
	}
	if w.fs.space >= 0 {
		w.fs.space -= int64(len(p))
	}
	return do(p)
}

func (w *faultFile) Sync() error {
	w.fs.mu.Lock()
	err := w.fs.syncErr
	w.fs.mu.Unlock()
	if err != nil {
		return &os.PathError{Op: "sync", Path: w.f.Name(), Err: err}
	}
	return w.f.Sync()
}

func (w *faultFile) Truncate(size int64) error {
	w.fs.mu.Lock()
	ro := w.fs.readOnly
	w.fs.mu.Unlock()
	if ro {
		return &os.PathError{Op: "truncate", Path: w.f.Name(), Err: syscall.EROFS}
	}
	return w.f.Truncate(size)
}

func (w *faultFile) Close() error { return w.f.Close() }

// isAny reports whether err matches one of targets.
func isAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
