//go:build amd64 && !purego

// jsonsimd_amd64.s finds, 32 bytes at a time with AVX2, the first byte a
// JSON string cannot hold as it is (see jsonsimd_amd64.go).

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

// func indexNotPlainJSONAVX2(b []byte) int
TEXT ·indexNotPlainJSONAVX2(SB), NOSPLIT, $0-32
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), CX
	XORQ AX, AX
	MOVL $0x22222222, R8
	VMOVD R8, X1
	VPBROADCASTD X1, Y1
	MOVL $0x5c5c5c5c, R8
	VMOVD R8, X2
	VPBROADCASTD X2, Y2
	MOVL $0x1f1f1f1f, R8
	VMOVD R8, X3
	VPBROADCASTD X3, Y3

plain_loop:
	CMPQ CX, $32
	JB   plain_done
	VMOVDQU  (SI)(AX*1), Y0
	VPCMPEQB Y0, Y1, Y4
	VPCMPEQB Y0, Y2, Y5
	VPOR     Y4, Y5, Y4
	VPMINUB  Y0, Y3, Y5
	VPCMPEQB Y0, Y5, Y5
	VPOR     Y4, Y5, Y4
	VPOR     Y4, Y0, Y4    // and every byte ≥ 0x80 (its top bit)
	VPMOVMSKB Y4, R9
	TESTL R9, R9
	JNZ   plain_found
	ADDQ $32, AX
	SUBQ $32, CX
	JMP  plain_loop

plain_found:
	BSFL R9, R9
	ADDQ R9, AX

plain_done:
	VZEROUPPER
	MOVQ AX, ret+24(FP)
	RET
