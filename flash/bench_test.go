package flash

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
)

type discardAt struct{}

func (discardAt) WriteAt(p []byte, _ int64) (int, error) { return len(p), nil }

// BenchmarkCopy measures the engine alone: a 64 MiB image, half of it in
// mapped ranges, read from memory, hashed, and written nowhere.
func BenchmarkCopy(b *testing.B) {
	img := randomImage(rand.New(rand.NewPCG(1, 1)), 64<<20)
	var ranges [][2]int64
	for blk := int64(0); blk < 16384; blk += 512 {
		ranges = append(ranges, [2]int64{blk, blk + 255})
	}
	m := makeMap(img, 4096, ranges)
	for _, mode := range []string{"seekable", "stream"} {
		b.Run(mode, func(b *testing.B) {
			b.SetBytes(int64(len(img)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				var src = bytes.NewReader(img)
				var err error
				if mode == "stream" {
					_, err = Copy(context.Background(), discardAt{}, stream{src}, m, Options{})
				} else {
					_, err = Copy(context.Background(), discardAt{}, src, m, Options{})
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
