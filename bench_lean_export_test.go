// bench_lean_export_test.go gives BenchmarkClientCPU the per-byte work no
// correct client of the definition skips, as sqshook does it, for
// its "floor-checked" baseline.

package sqshook

import (
	"crypto/md5"
	"crypto/sha256"
)

// RequiredByteWork does for one SendMessageBatch of bodies what sqshook
// must do per byte whatever its design: check each body's JSON grammar
// (Publish's contract), escape the bodies into the request (the JSON
// protocol), hash the request with SHA-256 (SigV4 signs the payload) and
// each body with MD5 (the answer's digests are checked). buf is scratch;
// it returns it grown.
func RequiredByteWork(buf []byte, bodies []string) []byte {
	buf = buf[:0]
	for _, b := range bodies {
		if !validJSON(stringBytes(b)) {
			panic("RequiredByteWork: a body is not JSON")
		}
		buf = appendJSONString(buf, b)
	}
	_ = sha256.Sum256(buf)
	var sums [MaxBatchEntries][md5.Size]byte
	md5Many(bodies, sums[:len(bodies)])
	return buf
}
