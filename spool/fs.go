// This file owns the spool's access to the file system for writing: a small
// seam so tests can make writes fail as a full or read-only disk does, and
// the mapping of system errors onto the package's sentinels.

package spool

import (
	"errors"
	"fmt"
	"os"
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
