package simg

import (
	"bytes"
	"hash/crc32"
	"testing"
)

// TestCRCRepeat checks the polynomial arithmetic against hashing the bytes.
func TestCRCRepeat(t *testing.T) {
	pats := [][4]byte{{0, 0, 0, 0}, {0xde, 0xad, 0xbe, 0xef}, {1, 1, 1, 1}, {0, 0, 0, 7}}
	lengths := []int64{0, 1, 2, 3, 4, 5, 7, 8, 63, 64, 65, 4096, 4099, 1<<20 + 3}
	for _, start := range [][]byte{nil, []byte("x"), random(20, 1000)} {
		crc := crc32.ChecksumIEEE(start)
		for _, pat := range pats {
			for phase := int64(0); phase < 4; phase++ {
				for _, n := range lengths {
					b := make([]byte, n)
					fillPattern(b, pat, phase)
					want := crc32.Update(crc, crc32.IEEETable, b)
					if got := crcRepeat(crc, rotate(pat, phase), n); got != want {
						t.Fatalf("crcRepeat(crc of %d bytes, %x at phase %d, %d) = %08x, want %08x", len(start), pat, phase, n, got, want)
					}
				}
			}
		}
	}
}

func TestFillPattern(t *testing.T) {
	b := make([]byte, 11)
	fillPattern(b, [4]byte{'a', 'b', 'c', 'd'}, 2)
	if want := []byte("cdabcdabcda"); !bytes.Equal(b, want) {
		t.Fatalf("fillPattern = %q, want %q", b, want)
	}
}
