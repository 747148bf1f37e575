//go:build amd64 && !purego

// jsonsimd_amd64.go declares the AVX2 scanners of jsonsimd_amd64.s, which
// the JSON grammar check (jsonString) and the lean encoder
// (appendJSONString) use to cross the long plain runs of chat text 32
// bytes at a time.

package sqshook

import "golang.org/x/sys/cpu"

// jsonAVX2 reports whether the AVX2 scanners can run here (a variable, so
// that tests can switch it).
var jsonAVX2 = cpu.X86.HasAVX2

// indexJSONSpecialAVX2 returns the offset of the first byte of b that is
// '"', '\\' or below 0x20, looking at whole 32-byte blocks only: when
// none of them holds one, the length of those blocks (a multiple of 32).
//
//go:noescape
func indexJSONSpecialAVX2(b []byte) int

// indexNotPlainJSONAVX2 is indexJSONSpecialAVX2 for the bytes that are
// not jsonPlain: it stops at a byte ≥ 0x80 too.
//
//go:noescape
func indexNotPlainJSONAVX2(b []byte) int
