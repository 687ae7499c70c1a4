package zstd

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/bmap-tools/bmap/decompress/internal/sample"
	kzstd "github.com/klauspost/compress/zstd"
)

// BenchmarkDecode decodes a sparse-image-like sample compressed by the
// zstd CLI, and the file named by $BMAP_BENCH_ZST if set, with this
// package and with klauspost/compress/zstd (one goroutine).
func BenchmarkDecode(b *testing.B) {
	type input struct {
		name string
		open func() (io.ReadCloser, int64)
	}
	var inputs []input
	if path := os.Getenv("BMAP_BENCH_ZST"); path != "" {
		if _, err := os.Stat(path); err == nil {
			inputs = append(inputs, input{"file", func() (io.ReadCloser, int64) {
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				return f, 0
			}})
		}
	}
	sample.NeedTool(b, "zstd")
	data := sample.Sparse(64<<20, 1)
	for _, lvl := range []string{"-3", "-19"} {
		comp := compress(b, data, "zstd", lvl)
		inputs = append(inputs, input{"sparse64" + lvl, func() (io.ReadCloser, int64) {
			return io.NopCloser(bytes.NewReader(comp)), int64(len(data))
		}})
	}
	for _, in := range inputs {
		b.Run(in.name+"/ours", func(b *testing.B) {
			var n int64
			b.ResetTimer()
			for range b.N {
				r, _ := in.open()
				z := NewReader(r, 1<<30)
				m, err := io.Copy(io.Discard, z)
				z.Close()
				r.Close()
				if err != nil {
					b.Fatal(err)
				}
				n = m
			}
			b.SetBytes(n)
		})
		b.Run(in.name+"/klauspost", func(b *testing.B) {
			var n int64
			b.ResetTimer()
			for range b.N {
				r, _ := in.open()
				z, err := kzstd.NewReader(r, kzstd.WithDecoderConcurrency(1), kzstd.WithDecoderMaxWindow(1<<30), kzstd.WithDecoderMaxMemory(1<<30))
				if err != nil {
					b.Fatal(err)
				}
				m, err := io.Copy(io.Discard, z)
				z.Close()
				r.Close()
				if err != nil {
					b.Fatal(err)
				}
				n = m
			}
			b.SetBytes(n)
		})
	}
}
