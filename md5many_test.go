package sqshook

import (
	"crypto/md5"
	"math/rand/v2"
	"strings"
	"testing"
)

// md5Way is one way md5Many can hash: one at a time, in eight lanes
// (AVX2) or in sixteen (AVX-512).
type md5Way struct {
	name        string
	lanes, wide bool
}

// md5Ways lists the ways this machine can run; each missing one is
// logged.
func md5Ways(t testing.TB) []md5Way {
	ways := []md5Way{{name: "one-at-a-time"}}
	if md5LanesOK {
		ways = append(ways, md5Way{name: "eight-lanes", lanes: true})
	} else {
		t.Log("no AVX2 here: the eight-lane MD5 is not tested")
	}
	if md5Wide {
		ways = append(ways, md5Way{name: "sixteen-lanes", lanes: true, wide: true})
	} else {
		t.Log("no AVX-512 here: the sixteen-lane MD5 is not tested")
	}
	return ways
}

// set switches md5Many to w until the returned function is called.
func (w md5Way) set() (restore func()) {
	oldLanes, oldWide := md5LanesOK, md5Wide
	md5LanesOK, md5Wide = w.lanes, w.wide
	return func() { md5LanesOK, md5Wide = oldLanes, oldWide }
}

// md5ManyWays runs f in every way md5Many can hash on this machine.
func md5ManyWays(t *testing.T, f func(t *testing.T)) {
	for _, w := range md5Ways(t) {
		t.Run(w.name, func(t *testing.T) {
			defer w.set()()
			f(t)
		})
	}
}

// checkMD5Many compares md5Many's sums with crypto/md5's.
func checkMD5Many(t *testing.T, msgs []string) {
	t.Helper()
	sums := make([][md5.Size]byte, len(msgs))
	md5Many(msgs, sums)
	for i, m := range msgs {
		if want := md5.Sum([]byte(m)); sums[i] != want {
			t.Fatalf("message %d of %d (%d bytes): MD5 %x, want %x", i, len(msgs), len(m), sums[i], want)
		}
	}
}

// TestMD5Many: every length around the MD5 block and padding boundaries,
// lanes of unequal and equal lengths, empty messages, and every count of
// messages from 0 to 20, against crypto/md5.
func TestMD5Many(t *testing.T) {
	md5ManyWays(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		text := func(n int) string {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			return string(b)
		}
		var lengths []int
		for _, edge := range []int{0, 64, 128, 192, 1024, 4096} {
			for d := -10; d <= 10; d++ {
				if edge+d >= 0 {
					lengths = append(lengths, edge+d)
				}
			}
		}
		for n := range 21 { // counts, each of lengths from the list in turn
			msgs := make([]string, n)
			for i := range msgs {
				msgs[i] = text(lengths[(n*7+i*13)%len(lengths)])
			}
			checkMD5Many(t, msgs)
		}
		for _, l := range lengths { // ten of one length
			msgs := make([]string, 10)
			for i := range msgs {
				msgs[i] = text(l)
			}
			checkMD5Many(t, msgs)
		}
		for range 200 { // random counts and lengths
			msgs := make([]string, 1+r.IntN(12))
			for i := range msgs {
				msgs[i] = text(r.IntN(3000))
			}
			checkMD5Many(t, msgs)
		}
		// One large message among small ones.
		checkMD5Many(t, []string{"a", strings.Repeat("x", 300_000), "b", "", "c"})
	})
}

// TestMD5ManyTooLarge: messages beyond one buffer are hashed one at a
// time, correctly.
func TestMD5ManyTooLarge(t *testing.T) {
	md5ManyWays(t, func(t *testing.T) {
		big := strings.Repeat("y", maxMD5Buf/2)
		checkMD5Many(t, []string{big, big, big, "z"})
	})
}

func FuzzMD5Many(f *testing.F) {
	f.Add([]byte("hello"), uint8(3), uint16(55))
	f.Add([]byte{}, uint8(10), uint16(64))
	f.Fuzz(func(t *testing.T, seed []byte, count uint8, step uint16) {
		msgs := make([]string, int(count)%35) // up to two passes of sixteen, and some
		for i := range msgs {
			n := (int(step) * (i + 1)) % 2500
			b := make([]byte, n)
			for j := range b {
				if len(seed) > 0 {
					b[j] = seed[(i+j)%len(seed)] + byte(i)
				}
			}
			msgs[i] = string(b)
		}
		for _, w := range md5Ways(t) {
			restore := w.set()
			checkMD5Many(t, msgs)
			restore()
		}
	})
}

// BenchmarkMD5Bodies hashes ten 1.8 KB bodies, one at a time with
// crypto/md5 and with md5Many in each way this machine has, and reports
// md5Many's time as a ratio to crypto/md5's.
func BenchmarkMD5Bodies(b *testing.B) {
	msgs := make([]string, MaxBatchEntries)
	for i := range msgs {
		msgs[i] = strings.Repeat(string(rune('a'+i)), 1800)
	}
	sums := make([][md5.Size]byte, len(msgs))
	var one float64
	b.Run("crypto-md5", func(b *testing.B) {
		for b.Loop() {
			for i, m := range msgs {
				sums[i] = md5.Sum([]byte(m))
			}
		}
		one = float64(b.Elapsed()) / float64(b.N)
	})
	for _, w := range md5Ways(b)[1:] {
		b.Run("md5Many/"+w.name, func(b *testing.B) {
			defer w.set()()
			for b.Loop() {
				md5Many(msgs, sums)
			}
			if one > 0 {
				b.ReportMetric(float64(b.Elapsed())/float64(b.N)/one, "x-crypto-md5")
			}
		})
	}
}
