//go:build amd64 && !purego

// jsonsimd_amd64.go declares the vector code of jsonsimd_amd64.s: the AVX2
// scanner the JSON grammar check (jsonString) uses to cross the long plain
// runs of chat text 32 bytes at a time, and the escapers, AVX-512 and
// AVX2, with which the lean encoder (appendJSONString) escapes 32 or 16
// bytes at a time, quotes and backslashes included.

package sqshook

import "golang.org/x/sys/cpu"

// jsonAVX2 reports whether the AVX2 scanner can run here, jsonAVX512
// whether escapeJSONAVX512 can, and jsonEscAVX2 whether escapeJSONAVX2
// can (variables, so that tests can switch them).
var (
	jsonAVX2   = cpu.X86.HasAVX2
	jsonAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VBMI2 &&
		cpu.X86.HasBMI1 && cpu.X86.HasBMI2 && cpu.X86.HasPOPCNT
	jsonEscAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasBMI1 && cpu.X86.HasBMI2 && cpu.X86.HasPOPCNT
)

// escapeJSONAVX2 is escapeJSONAVX512 16 bytes at a time with AVX2: it
// stops when fewer than 16 bytes are left, or when dst has less than 32
// bytes of room (it may write up to 32 bytes past what it reports).
//
//go:noescape
func escapeJSONAVX2(dst, src []byte) (read, written int)

// escShuffles[m] expands eight bytes whose quotes and backslashes are the
// bits of m into their escaped form, a zero (VPSHUFB's 0x80) where a
// backslash goes; escSlashes[m] holds the backslashes. escapeJSONAVX2
// reads them by these names.
//
//lint:ignore U1000 read by escapeJSONAVX2
var escShuffles, escSlashes = func() (sh, sl [256][16]byte) {
	for m := range 256 {
		o := 0
		for i := range 8 {
			if m>>i&1 == 1 {
				sh[m][o], sl[m][o] = 0x80, '\\'
				o++
			}
			sh[m][o] = byte(i)
			o++
		}
		for ; o < 16; o++ {
			sh[m][o] = 0x80
		}
	}
	return sh, sl
}()

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
