//go:build !amd64 || purego

// jsonsimd_other.go: without the vector scanner and escapers, the JSON
// grammar check and the lean encoder go eight bytes at a time.

package sqshook

// jsonAVX2, jsonAVX512 and jsonEscAVX2 are false: there is no vector
// code here (variables, as on amd64, so that tests can switch them).
var jsonAVX2, jsonAVX512, jsonEscAVX2 = false, false, false

func indexJSONSpecialAVX2([]byte) int { return 0 }

func escapeJSONAVX512(_, _ []byte) (read, written int) { return 0, 0 }
func escapeJSONAVX2(_, _ []byte) (read, written int)   { return 0, 0 }
