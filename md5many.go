// md5many.go owns the MD5 of many message bodies at once: md5Many, which
// the lean send path's check of SQS's MD5OfMessageBody uses for a batch's
// bodies. Where the CPU has AVX2 (md5many_amd64.go) eight bodies are
// hashed at once, sixteen where it has AVX-512, else each with
// crypto/md5.

package sqshook

import "crypto/md5"

// md5LanesMin is the fewest bodies hashed together: for fewer, the lanes
// cost more than hashing each alone.
const md5LanesMin = 3

// maxMD5Buf bounds the buffer the hashing in lanes lays its messages
// out in (it addresses each by a 32-bit offset, and a larger buffer is
// not kept for reuse): larger messages are hashed one at a time.
const maxMD5Buf = 4 << 20

// md5Many sets sums[i] to the MD5 of msgs[i].
func md5Many(msgs []string, sums [][md5.Size]byte) {
	i := 0
	if md5LanesOK {
		for len(msgs)-i >= md5LanesMin {
			n := min(md5Lanes(), len(msgs)-i)
			if !md5InLanes(msgs[i:i+n], sums[i:i+n]) {
				break
			}
			i += n
		}
	}
	for ; i < len(msgs); i++ {
		sums[i] = md5.Sum(stringBytes(msgs[i]))
	}
}
