// This file owns the spool's access to the file system: a small seam so
// tests can make writes fail as a full or read-only disk does, the mapping
// of system errors onto the package's sentinels, and the reading of a file
// found in the directory without following a link (openRead), with the
// narrowing of its mode to Options.Perm.

package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// fileSystem is what the spool needs to create, grow and remove its files.
// Reads go to the os package directly.
type fileSystem interface {
	OpenFile(name string, flag int, perm os.FileMode) (writeFile, error)
	Remove(name string) error
	Rename(oldpath, newpath string) error
	SyncDir(dir string) error
}

// writeFile is an open file the spool writes to: settlement files by
// appending (Write on a file opened with O_APPEND), segments at the offset
// where their data ends (WriteAt), which lets a reused segment file be
// written over in place.
type writeFile interface {
	Write(p []byte) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	Sync() error
	Truncate(size int64) error
	Close() error
}

type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (writeFile, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// osFile syncs with fdatasync where the system has it: fdatasync still
// flushes the file size the data needs, and over a reused segment file,
// whose blocks are already allocated and written, it has no metadata to
// commit at all.
type osFile struct{ *os.File }

func (f osFile) Sync() error { return datasync(f.File) }

func (osFS) Remove(name string) error { return os.Remove(name) }

func (osFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// classify wraps a system error with ErrDiskFull or ErrReadOnly when it is
// one of those, so callers can match it; what is a sentence about what failed.
func classify(what string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT), errors.Is(err, syscall.EFBIG):
		return fmt.Errorf("%s: %w: %w", what, ErrDiskFull, err)
	case errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("%s: %w: %w", what, ErrReadOnly, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// openRead opens a file found in the spool's directory for reading,
// without following a symbolic link or waiting on a named pipe, and returns
// it with its FileInfo. A name that is not a regular file gives an error
// wrapping errNotRegular. The Lstat first is for systems without O_NOFOLLOW;
// the Stat of the open file is what counts where a name can change between
// the two.
func openRead(path string) (*os.File, fs.FileInfo, error) {
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, nil, notRegular(path, fi.Mode())
	}
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow|oNonBlock, 0)
	if err != nil {
		if fi, lerr := os.Lstat(path); lerr == nil && !fi.Mode().IsRegular() {
			return nil, nil, notRegular(path, fi.Mode())
		}
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = notRegular(path, fi.Mode())
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// notRegular says what the file at path is instead of a regular file,
// naming it without its directory.
func notRegular(path string, m fs.FileMode) error {
	what := "not a regular file"
	switch {
	case m&fs.ModeSymlink != 0:
		what = "a symbolic link"
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe"
	case m&fs.ModeDevice != 0:
		what = "a device"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	}
	return fmt.Errorf("%s is %s, left unfollowed: %w", filepath.Base(path), what, errNotRegular)
}

// narrow takes from the mode of f, open on a file of the spool's whatever
// perm does not allow (a file of an earlier version, made 0644, say). It
// never widens a mode.
func narrow(f *os.File, fi fs.FileInfo, perm fs.FileMode) error {
	m := fi.Mode().Perm()
	if m&^perm == 0 {
		return nil
	}
	if err := f.Chmod(m & perm); err != nil {
		return fmt.Errorf("spool: %s has mode %04o, wider than Options.Perm %04o, and could not be narrowed: %w", f.Name(), m, perm, err)
	}
	return nil
}
