//go:build !amd64 || purego

// jsonsimd_other.go: without the AVX2 scanners, the JSON grammar check and
// the lean encoder scan eight bytes at a time only.

package sqshook

// jsonAVX2 is false: there are no AVX2 scanners here (a variable, as on
// amd64, so that tests can switch it).
var jsonAVX2 = false

func indexJSONSpecialAVX2([]byte) int  { return 0 }
func indexNotPlainJSONAVX2([]byte) int { return 0 }
