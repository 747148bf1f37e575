//go:build amd64 && !purego

// jsonsimd_amd64.go declares the AVX2 scanners of jsonsimd_amd64.s, which
// the JSON grammar check (jsonString) and the lean encoder
// (appendJSONString) use to cross the long plain runs of chat text 32
// bytes at a time, and its AVX-512 escaper, which the lean encoder uses
// to escape 32 bytes at a time, quotes and backslashes included.

package sqshook

import "golang.org/x/sys/cpu"

// jsonAVX2 reports whether the AVX2 scanners can run here, jsonAVX512
// whether escapeJSONAVX512 can (variables, so that tests can switch them).
var (
	jsonAVX2   = cpu.X86.HasAVX2
	jsonAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VBMI2 &&
		cpu.X86.HasBMI2 && cpu.X86.HasPOPCNT
)

// escapeJSONAVX512 writes src to dst as appendJSONString would, 32 bytes
// at a time, while they are ASCII other than control characters (a quote
// and a backslash escaped): it stops before the first byte that is not,
// when fewer than 32 bytes are left, or when dst has less than 64 bytes
// of room left (it may write up to 64 bytes past what it reports
// written). It returns how many bytes it read and wrote.
//
//go:noescape
func escapeJSONAVX512(dst, src []byte) (read, written int)

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
