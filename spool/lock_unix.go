//go:build unix

// This file owns the lock file that keeps a spool directory to one owner.

package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockName is the lock file in a spool directory. It holds the owner's pid,
// for the error message only; the lock itself is flock(2), released by the
// kernel when the owner exits, however it exits.
const lockName = "LOCK"

type dirLock struct{ f *os.File }

// lockDir creates or opens the lock file of dir with mode perm and locks
// it. A lock file that is a symbolic link or not a regular file is refused
// with an error wrapping ErrUnsafeDir; it is neither followed nor changed.
func lockDir(dir string, perm fs.FileMode) (*dirLock, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|oNoFollow|oNonBlock, perm)
	if err != nil {
		if fi, lerr := os.Lstat(path); lerr == nil && !fi.Mode().IsRegular() {
			return nil, unsafeLock(path, fi.Mode())
		}
		return nil, classify("spool: open lock file "+path, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = unsafeLock(path, fi.Mode())
	} else if err == nil {
		err = narrow(f, fi, perm)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner := "unknown"
		b := make([]byte, 32) // a pid and a newline; the file is not read past that
		n, _ := f.ReadAt(b, 0)
		line, _, _ := strings.Cut(string(b[:n]), "\n")
		if pid := strings.TrimSpace(line); pid != "" && strings.Trim(pid, "0123456789") == "" {
			owner = pid
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is locked by process %s (lock file %s); one Spool per directory", ErrLocked, dir, owner, lockName)
		}
		return nil, fmt.Errorf("spool: lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0) // informational only
	}
	return &dirLock{f: f}, nil
}

// unsafeLock is the error for a lock file that is not a regular file.
func unsafeLock(path string, m fs.FileMode) error {
	return fmt.Errorf("%w: lock file %s: %w; remove it (something else than the spool made it)", ErrUnsafeDir, path, notRegular(path, m))
}

func (l *dirLock) unlock() error {
	// Closing the descriptor releases the flock.
	return l.f.Close()
}
