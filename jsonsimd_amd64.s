//go:build amd64 && !purego

// jsonsimd_amd64.s finds, 32 bytes at a time with AVX2, the first byte a
// JSON string cannot hold as it is, and escapes a string's bytes 32 at a
// time with AVX-512 or 16 with AVX2 (see jsonsimd_amd64.go).

#include "textflag.h"

// func indexJSONSpecialAVX2(b []byte) int
TEXT ·indexJSONSpecialAVX2(SB), NOSPLIT, $0-32
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), CX
	XORQ AX, AX
	MOVL $0x22222222, R8   // '"'
	VMOVD R8, X1
	VPBROADCASTD X1, Y1
	MOVL $0x5c5c5c5c, R8   // '\\'
	VMOVD R8, X2
	VPBROADCASTD X2, Y2
	MOVL $0x1f1f1f1f, R8   // the highest control character
	VMOVD R8, X3
	VPBROADCASTD X3, Y3

special_loop:
	CMPQ CX, $32
	JB   special_done
	VMOVDQU  (SI)(AX*1), Y0
	VPCMPEQB Y0, Y1, Y4
	VPCMPEQB Y0, Y2, Y5
	VPOR     Y4, Y5, Y4
	VPMINUB  Y0, Y3, Y5    // min(x, 0x1f) == x: x < 0x20
	VPCMPEQB Y0, Y5, Y5
	VPOR     Y4, Y5, Y4
	VPMOVMSKB Y4, R9
	TESTL R9, R9
	JNZ   special_found
	ADDQ $32, AX
	SUBQ $32, CX
	JMP  special_loop

special_found:
	BSFL R9, R9
	ADDQ R9, AX

special_done:
	VZEROUPPER
	MOVQ AX, ret+24(FP)
	RET

// func escapeJSONAVX512(dst, src []byte) (read, written int)
//
// Per 32 bytes of src: the bytes that are '"' or '\\' (K1) and those a
// JSON string cannot hold as they are or that need a closer look, below
// 0x20 or at least 0x80 (K3, one signed compare). The bytes before the
// first of the latter are widened to words, each '\\' below its byte
// ([\\ b0 \\ b1 ...]), and VPCOMPRESSB keeps every byte and the '\\'
// before a '"' or a '\\' only: mask bit 2i+1 always, bit 2i where byte i
// is one (PDEP spreads K1 to the even bits).
TEXT ·escapeJSONAVX512(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), R8
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	XORQ AX, AX                // read
	XORQ BX, BX                // written
	MOVL $0x22, DX             // '"'
	VPBROADCASTB DX, Y10
	MOVL $0x5c, DX             // '\\'
	VPBROADCASTB DX, Y11
	VPBROADCASTW DX, Z13       // words of '\\' under a zero byte
	MOVL $0x20, DX             // signed: below it, a control character or a byte ≥ 0x80
	VPBROADCASTB DX, Y12
	MOVQ $0x5555555555555555, R9
	MOVQ $0xaaaaaaaaaaaaaaaa, R10

esc_loop:
	LEAQ 32(AX), DX
	CMPQ DX, CX
	JA   esc_done              // fewer than 32 bytes left
	MOVQ R8, DX
	SUBQ BX, DX
	CMPQ DX, $64
	JL   esc_done              // no room for 64 bytes
	VMOVDQU8 (SI)(AX*1), Y0
	VPCMPEQB Y10, Y0, K1
	VPCMPEQB Y11, Y0, K2
	KORD     K1, K2, K1
	VPCMPB   $1, Y12, Y0, K3   // Y0 < 0x20, signed
	KMOVD    K1, R12
	KMOVD    K3, R11
	MOVL     $32, R13          // bytes taken: all, or those before K3's first
	TESTL    R11, R11
	JZ       esc_take
	TZCNTL   R11, R13
	TESTL    R13, R13
	JZ       esc_done          // the first byte needs a closer look
esc_take:
	PDEPQ    R9, R12, R14      // K1's bit i at 2i
	ORQ      R10, R14
	LEAQ     (R13)(R13*1), DX
	BZHIQ    DX, R14, R14      // the taken bytes' bits only
	KMOVQ    R14, K4
	VPMOVZXBW Y0, Z1
	VPSLLW   $8, Z1, Z1
	VPORQ    Z13, Z1, Z1
	VPCOMPRESSB Z1, K4, Z2
	VMOVDQU8 Z2, (DI)(BX*1)
	POPCNTQ  R14, DX
	ADDQ     DX, BX
	ADDQ     R13, AX
	CMPQ     R13, $32
	JEQ      esc_loop

esc_done:
	VZEROUPPER
	MOVQ AX, read+48(FP)
	MOVQ BX, written+56(FP)
	RET

// func escapeJSONAVX2(dst, src []byte) (read, written int)
//
// escapeJSONAVX512 with 16 bytes at a time and AVX2's 128-bit
// instructions: each half of eight bytes is expanded by VPSHUFB with the
// shuffle of escShuffles its quotes and backslashes pick, which leaves a
// zero before each of them, and escSlashes puts the backslashes there.
TEXT ·escapeJSONAVX2(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), R8
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	XORQ AX, AX                // read
	XORQ BX, BX                // written
	MOVL $0x22222222, DX       // '"'
	VMOVD DX, X10
	VPBROADCASTD X10, X10
	MOVL $0x5c5c5c5c, DX       // '\\'
	VMOVD DX, X11
	VPBROADCASTD X11, X11
	MOVL $0x20202020, DX       // signed: below it, a control character or a byte ≥ 0x80
	VMOVD DX, X12
	VPBROADCASTD X12, X12
	LEAQ ·escShuffles(SB), R9
	LEAQ ·escSlashes(SB), R10

esc2_loop:
	LEAQ 16(AX), DX
	CMPQ DX, CX
	JA   esc2_done             // fewer than 16 bytes left
	MOVQ R8, DX
	SUBQ BX, DX
	CMPQ DX, $32
	JL   esc2_done             // no room for 32 bytes
	VMOVDQU   (SI)(AX*1), X0
	VPCMPEQB  X10, X0, X1
	VPCMPEQB  X11, X0, X2
	VPOR      X1, X2, X1
	VPCMPGTB  X0, X12, X3      // 0x20 > x, signed
	VPMOVMSKB X1, R11
	VPMOVMSKB X3, R12
	MOVL      $16, R13         // bytes taken: all, or those before R12's first
	TESTL     R12, R12
	JZ        esc2_take
	TZCNTL    R12, R13
	TESTL     R13, R13
	JZ        esc2_done        // the first byte needs a closer look
	BZHIL     R13, R11, R11    // the taken bytes' quotes and backslashes only
esc2_take:
	TESTL   R11, R11
	JNZ     esc2_escape
	VMOVDQU X0, (DI)(BX*1)     // nothing to escape
	ADDQ    R13, BX
	ADDQ    R13, AX
	CMPL    R13, $16
	JEQ     esc2_loop
	JMP     esc2_done

esc2_escape:
	// The low eight bytes, or those of them taken.
	MOVL    R13, DX
	CMPL    DX, $8
	JLE     esc2_low
	MOVL    $8, DX
esc2_low:
	MOVL    R11, R14
	ANDL    $0xff, R14
	POPCNTL R14, R15
	SHLL    $4, R14
	VPSHUFB (R9)(R14*1), X0, X4
	VPOR    (R10)(R14*1), X4, X4
	VMOVDQU X4, (DI)(BX*1)
	ADDQ    DX, BX
	ADDQ    R15, BX
	CMPL    R13, $8
	JLE     esc2_next
	// The high eight, or those of them taken.
	VPSRLDQ $8, X0, X0
	MOVL    R11, R14
	SHRL    $8, R14
	POPCNTL R14, R15
	SHLL    $4, R14
	VPSHUFB (R9)(R14*1), X0, X4
	VPOR    (R10)(R14*1), X4, X4
	VMOVDQU X4, (DI)(BX*1)
	LEAQ    -8(R13), DX
	ADDQ    DX, BX
	ADDQ    R15, BX
esc2_next:
	ADDQ R13, AX
	CMPL R13, $16
	JEQ  esc2_loop

esc2_done:
	VZEROUPPER
	MOVQ AX, read+48(FP)
	MOVQ BX, written+56(FP)
	RET
