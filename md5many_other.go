//go:build !amd64 || purego

// md5many_other.go: without the AVX2 block function, md5Many hashes each
// body with crypto/md5.

package sqshook

import "crypto/md5"

// md5LanesOK is false: there is no eight-lane hashing here (a variable,
// as on amd64, so that tests can switch it).
var md5LanesOK = false

const md5Lanes = 8

func md5x8([]string, [][md5.Size]byte) bool { return false }
