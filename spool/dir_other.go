//go:build !unix

// This file owns what the spool asks of a directory on systems without
// POSIX owners and modes (Windows among them), where access is governed by
// ACLs that os.FileMode does not show: the directory's owner and mode are
// not checked there, and there is no open flag against links.

package spool

import (
	"fmt"
	"os"
)

const (
	// oNoFollow is 0: openRead looks at a name with Lstat before opening it.
	oNoFollow = 0
	// oNonBlock is 0: there are no named pipes to block on in a directory.
	oNonBlock = 0
)

// checkDir checks only that dir is a directory; see the file's comment.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return classify("spool: directory "+dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("spool: %s is not a directory", dir)
	}
	return nil
}
