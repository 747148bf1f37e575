//go:build !linux

// This file owns datasync where fdatasync(2) is not available: fsync.

package spool

import "os"

func datasync(f *os.File) error { return f.Sync() }
