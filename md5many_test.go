package sqshook

import (
	"crypto/md5"
	"math/rand/v2"
	"strings"
	"testing"
)

// md5ManyWays runs f with the eight-lane hashing on, where the machine
// has it, and off.
func md5ManyWays(t *testing.T, f func(t *testing.T)) {
	ways := []bool{false}
	if md5LanesOK {
		ways = append(ways, true)
	} else {
		t.Log("no AVX2 here: only the one-at-a-time MD5 is tested")
	}
	for _, on := range ways {
		name := "one-at-a-time"
		if on {
			name = "eight-lanes"
		}
		t.Run(name, func(t *testing.T) {
			old := md5LanesOK
			md5LanesOK = on
			defer func() { md5LanesOK = old }()
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
		msgs := make([]string, int(count)%17)
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
		checkMD5Many(t, msgs)
		if md5LanesOK {
			old := md5LanesOK
			md5LanesOK = false
			checkMD5Many(t, msgs)
			md5LanesOK = old
		}
	})
}

// BenchmarkMD5Bodies hashes ten 1.8 KB bodies, one at a time with
// crypto/md5 and with md5Many, and reports md5Many's time as a ratio.
func BenchmarkMD5Bodies(b *testing.B) {
	msgs := make([]string, MaxBatchEntries)
	for i := range msgs {
		msgs[i] = strings.Repeat(string(rune('a'+i)), 1800)
	}
	sums := make([][md5.Size]byte, len(msgs))
	var one, many float64
	b.Run("crypto-md5", func(b *testing.B) {
		for b.Loop() {
			for i, m := range msgs {
				sums[i] = md5.Sum([]byte(m))
			}
		}
		one = float64(b.Elapsed()) / float64(b.N)
	})
	b.Run("md5Many", func(b *testing.B) {
		for b.Loop() {
			md5Many(msgs, sums)
		}
		many = float64(b.Elapsed()) / float64(b.N)
		if one > 0 {
			b.ReportMetric(many/one, "x-crypto-md5")
		}
	})
}
