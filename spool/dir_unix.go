//go:build unix

// This file owns what the spool asks of a directory on systems with POSIX
// owners and modes: the check that an existing directory is the server
// user's own and writable by nobody else, and the open flags that keep the
// spool from following a symbolic link or blocking on a named pipe.

package spool

import (
	"fmt"
	"os"
	"syscall"
)

const (
	// oNoFollow makes an open fail on a symbolic link instead of following it.
	oNoFollow = syscall.O_NOFOLLOW
	// oNonBlock keeps an open of a named pipe from waiting for a writer;
	// regular files ignore it.
	oNonBlock = syscall.O_NONBLOCK
)

// checkDir refuses a directory that another local user could use to read
// the spool's files or to replace them (with links that aim the spool's
// writes elsewhere): one owned by another user than the process's
// effective one, or writable by its group or others (sticky bit or not).
// The directories above it are the operator's to keep safe.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return classify("spool: directory "+dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("spool: %s is not a directory", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if euid := os.Geteuid(); int64(st.Uid) != int64(euid) {
			return fmt.Errorf("%w: %s is owned by uid %d, not by this process's user (uid %d); another user's directory lets them read the events and replace the files",
				ErrUnsafeDir, dir, st.Uid, euid)
		}
	}
	if m := fi.Mode().Perm(); m&0o022 != 0 {
		return fmt.Errorf("%w: %s has mode %04o, writable by its group or others, who could replace the spool's files; remove their write permission (chmod go-w)",
			ErrUnsafeDir, dir, m)
	}
	return nil
}
