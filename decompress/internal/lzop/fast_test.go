package lzop

import (
	"bytes"
	"hash/adler32"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/anchore/go-lzo"
	"github.com/bmap-tools/bmap/decompress/internal/sample"
)

func TestAdler32(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 8, 15, 16, 17, 31, 100, 5552, 5553, 1 << 16, adlerChunk - 1, adlerChunk, adlerChunk + 17, 3*adlerChunk + 5} {
		for _, fill := range []string{"ff", "00", "rand"} {
			b := make([]byte, n)
			for i := range b {
				switch fill {
				case "ff":
					b[i] = 0xFF
				case "rand":
					b[i] = byte(rng.Uint32())
				}
			}
			if got, want := adler32Sum(b), adler32.Checksum(b); got != want {
				t.Errorf("%d bytes of %s: got %08x, want %08x", n, fill, got, want)
			}
			// Continuing from a state with large sums.
			start := uint32(65520<<16 | 65520)
			if got, want := adler32Update(start, b), adlerRef(start, b); got != want {
				t.Errorf("%d bytes of %s from %08x: got %08x, want %08x", n, fill, start, got, want)
			}
		}
	}
}

func adlerRef(adler uint32, p []byte) uint32 {
	s1, s2 := adler&0xFFFF, adler>>16
	for _, x := range p {
		s1 = (s1 + uint32(x)) % adlerMod
		s2 = (s2 + s1) % adlerMod
	}
	return s2<<16 | s1
}

func BenchmarkAdler32(b *testing.B) {
	p := testData(256 << 10)
	b.Run("ours", func(b *testing.B) {
		b.SetBytes(int64(len(p)))
		b.ResetTimer()
		for range b.N {
			adler32Sum(p)
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		b.SetBytes(int64(len(p)))
		b.ResetTimer()
		for range b.N {
			adler32.Checksum(p)
		}
	})
}

// lzoBlocks returns the LZO1X blocks of data compressed by lzop with args.
func lzoBlocks(t testing.TB, data []byte, args ...string) []block {
	f := lzopCLI(t, data, args...)
	bs := cliBlocks(t, f)
	for i := range bs {
		bs[i].d = data[i*256<<10 : min((i+1)*256<<10, len(data))]
	}
	return bs
}

func TestDecompress1x(t *testing.T) {
	data := testData(3 << 20)
	// Runs of one byte and short periods, which make overlapping matches.
	for i := 1 << 20; i < 2<<20; i++ {
		data[i] = byte(i / 100000)
		if i > 3<<19 {
			data[i] = byte(i % (1 + i/50000%13))
		}
	}
	for _, args := range [][]string{{"-1"}, {"-9"}, {"-3"}} {
		for i, b := range lzoBlocks(t, data, args...) {
			if b.c == nil {
				continue
			}
			dst := make([]byte, len(b.d))
			n, err := decompress1x(b.c, dst)
			if err != nil || n != len(b.d) || !bytes.Equal(dst, b.d) {
				t.Fatalf("lzop %v block %d: %d bytes, %v", args, i, n, err)
			}
		}
	}
}

// FuzzDecompress1x compares decompress1x with go-lzo's Decompress.
func FuzzDecompress1x(f *testing.F) {
	data := testData(9000)[4000:] // random, then text: literals and matches
	for _, args := range []string{"-1", "-9"} {
		for _, b := range cliBlocks(f, lzopCLI(f, data, args)) {
			if b.c != nil {
				f.Add(b.c, uint16(len(data)))
			}
		}
	}
	f.Add([]byte{0x11, 0, 0}, uint16(0))
	f.Add([]byte{0x15, 'a', 'b', 'c', 'd', 0x20, 0, 0, 0, 0, 0x11, 0, 0}, uint16(100))
	f.Fuzz(func(t *testing.T, src []byte, size uint16) {
		defer sample.Watchdog(time.Minute)()
		want := make([]byte, size)
		wn, werr := lzo.Decompress(src, want)
		got := make([]byte, size)
		gn, gerr := decompress1x(src, got)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("go-lzo: %d, %v; ours: %d, %v", wn, werr, gn, gerr)
		}
		if werr == nil && (wn != gn || !bytes.Equal(want[:wn], got[:gn])) {
			t.Fatalf("outputs differ: go-lzo %d bytes, ours %d", wn, gn)
		}
	})
}
