//go:build !unix

// This file owns the lock of a spool directory on systems without flock(2),
// where the spool is not available.

package spool

import (
	"fmt"
	"io/fs"
	"runtime"
)

type dirLock struct{}

func lockDir(dir string, perm fs.FileMode) (*dirLock, error) {
	return nil, fmt.Errorf("spool: directory locking is not implemented on %s", runtime.GOOS)
}

func (l *dirLock) unlock() error { return nil }
