//go:build !amd64 || purego

// jsonsimd_other.go: without the AVX2 scanners, the JSON grammar check and
// the lean encoder scan eight bytes at a time only.

package sqshook

// jsonAVX2 and jsonAVX512 are false: there are no vector scanners here
// (variables, as on amd64, so that tests can switch them).
var jsonAVX2, jsonAVX512 = false, false

func indexJSONSpecialAVX2([]byte) int  { return 0 }
func indexNotPlainJSONAVX2([]byte) int { return 0 }

func escapeJSONAVX512(_, _ []byte) (read, written int) { return 0, 0 }
