//go:build unix

// This file owns reading a file's inode number, with which AppsFile tells
// a file renamed over the old one from the old one.

package streamapi

import (
	"io/fs"
	"syscall"
)

// inode returns the file's inode number, or 0 where the system has none.
func inode(info fs.FileInfo) uint64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino) // not uint64 on every system
	}
	return 0
}
