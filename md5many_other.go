//go:build !amd64 || purego

// md5many_other.go: without the AVX2 block function, md5Many hashes each
// body with crypto/md5.

package sqshook

import "crypto/md5"

// md5LanesOK and md5Wide are false: there is no hashing in lanes here
// (variables, as on amd64, so that tests can switch them).
var md5LanesOK, md5Wide = false, false

func md5Lanes() int { return 8 }

func md5InLanes([]string, [][md5.Size]byte) bool { return false }
