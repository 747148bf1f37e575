//go:build amd64 && !purego

// md5many_amd64.go drives the block functions of md5many_amd64.s (AVX2,
// eight lanes) and md5many16_amd64.s (AVX-512, sixteen lanes): bodies
// laid out each with its MD5 padding in one buffer, hashed side by side.

package sqshook

import (
	"crypto/md5"
	"encoding/binary"
	"math"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// block8 runs the MD5 block function over n bytes (a multiple of 64) of
// each of eight lanes: lane i's at base+bufs[i], for the lanes whose
// bufs[i] is positive (the others read nothing and end with garbage in
// their state); state holds the eight lanes' a, then b, c and d. cache is
// 512 bytes of scratch, aligned by block8 (hence md5Cache's 32 more).
//
//go:noescape
func block8(state *uint32, base uintptr, bufs *int32, cache *byte, n int)

// block16 runs the MD5 block function over n bytes (a multiple of 64) of
// each of the sixteen lanes whose bit is set in mask: lane i's at
// base+ptrs[i]; state holds the sixteen lanes' a, then b, c and d, and
// only the masked lanes' are written.
//
//go:noescape
func block16(state *uint32, base uintptr, ptrs *int32, mask uint64, n int)

// md5LanesOK reports whether block8 can run here; md5Wide, whether
// block16 can (its gathers, masks and VANDNPD need AVX-512 F, BW and DQ;
// x/sys/cpu reports them only where the OS saves the registers). Both are
// variables so that tests can switch them.
var (
	md5LanesOK = cpu.X86.HasAVX2
	md5Wide    = md5LanesOK && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ
)

// md5MaxLanes is the most lanes hashed at once, by block16.
const md5MaxLanes = 16

// md5Lanes is how many lanes are hashed at once here.
func md5Lanes() int {
	if md5Wide {
		return 16
	}
	return 8
}

// md5State is up to sixteen MD5 states, a, b, c and d of every lane in
// turn (block16's layout).
type md5State struct{ a, b, c, d [md5MaxLanes]uint32 }

// blocks runs n bytes of every lane whose off is positive, with block16
// where it can and else block8 (off[8:] then unused), updating only those
// lanes' states.
func (st *md5State) blocks(base uintptr, off *[md5MaxLanes]int32, cache *md5Cache, n int) {
	if md5Wide {
		var mask uint64
		for i, o := range off {
			if o > 0 {
				mask |= 1 << i
			}
		}
		block16(&st.a[0], base, &off[0], mask, n)
		return
	}
	// block8's layout is eight a, then eight b, c and d; its unused lanes
	// end with garbage, so only the lanes that ran are copied back.
	var w [4][8]uint32
	copy(w[0][:], st.a[:8])
	copy(w[1][:], st.b[:8])
	copy(w[2][:], st.c[:8])
	copy(w[3][:], st.d[:8])
	block8(&w[0][0], base, &off[0], &cache[0], n)
	for i := range 8 {
		if off[i] > 0 {
			st.a[i], st.b[i], st.c[i], st.d[i] = w[0][i], w[1][i], w[2][i], w[3][i]
		}
	}
}

type md5Cache [512 + 32]byte

// md5K is MD5's 64 constants.
var md5K = [64]uint32{
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
	0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
	0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
	0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
	0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
	0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
}

// md5Consts returns md5K with each constant lanes times in a row, as the
// block functions read them.
func md5Consts(lanes int) []uint32 {
	c := make([]uint32, 0, len(md5K)*lanes)
	for _, v := range md5K {
		for range lanes {
			c = append(c, v)
		}
	}
	return c
}

// avx256md5consts and avx512md5consts are the constants block8 and
// block16 read by these names.
//
//lint:ignore U1000 read by block8 and block16
var avx256md5consts, avx512md5consts = md5Consts(8), md5Consts(16)

// maxPooledMD5Buf bounds the buffers kept for reuse: eight bodies of
// 64 KiB, or sixteen of 32 KiB.
const maxPooledMD5Buf = 512 << 10

// md5Bufs hold the padded messages of md5InLanes.
var md5Bufs = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

// md5InLanes sets sums[i] to the MD5 of msgs[i] (at most md5Lanes()),
// and reports false, having done nothing, when they are too large for one
// buffer.
func md5InLanes(msgs []string, sums [][md5.Size]byte) bool {
	var start, left [md5MaxLanes]int
	total := 0
	for i, m := range msgs {
		start[i] = total
		left[i] = (len(m)+8)/md5.BlockSize*md5.BlockSize + md5.BlockSize // the message, 0x80, zeros, its length
		total += left[i]
		if total > maxMD5Buf {
			return false
		}
	}
	bp := md5Bufs.Get().(*[]byte)
	buf := *bp
	if cap(buf) < total {
		buf = make([]byte, total)
	}
	buf = buf[:total]
	for i, m := range msgs {
		b := buf[start[i] : start[i]+left[i]]
		n := copy(b, m)
		b[n] = 0x80
		clear(b[n+1 : len(b)-8])
		binary.LittleEndian.PutUint64(b[len(b)-8:], uint64(len(m))<<3)
	}

	var st md5State
	var off [md5MaxLanes]int32 // lane i's next block at base+off[i]; 0: the lane is done or unused
	for i := range msgs {
		st.a[i], st.b[i], st.c[i], st.d[i] = 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476
		off[i] = int32(start[i] + 4) // positive: block8 skips lanes at 0
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(buf))) - 4
	var cache md5Cache
	for {
		// As many blocks as the shortest lane left has, for every lane left.
		n := math.MaxInt
		for i := range msgs {
			if off[i] > 0 {
				n = min(n, left[i])
			}
		}
		if n == math.MaxInt {
			break
		}
		st.blocks(base, &off, &cache, n)
		for i := range msgs {
			if off[i] > 0 {
				left[i] -= n
				off[i] += int32(n)
				if left[i] == 0 {
					off[i] = 0
				}
			}
		}
	}
	runtime.KeepAlive(buf) // the block functions read it through base, a uintptr
	for i := range msgs {
		binary.LittleEndian.PutUint32(sums[i][0:], st.a[i])
		binary.LittleEndian.PutUint32(sums[i][4:], st.b[i])
		binary.LittleEndian.PutUint32(sums[i][8:], st.c[i])
		binary.LittleEndian.PutUint32(sums[i][12:], st.d[i])
	}
	if cap(buf) <= maxPooledMD5Buf {
		*bp = buf[:0]
		md5Bufs.Put(bp)
	}
	return true
}
