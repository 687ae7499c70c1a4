package xz

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	xzdec "github.com/therootcompany/xz"
)

// BenchmarkDecode: decode-only throughput on an 8 MiB mixed input, as
// xz -T2 writes it (1 MiB blocks with sizes) and as xz -T1 (one block).
func BenchmarkDecode(b *testing.B) {
	data := mixed(8<<20, 21)
	inputs := []struct {
		name string
		xz   []byte
	}{
		{"multi-block", compress(b, "bench-multi", data, "-1", "-T2", "--block-size=1MiB")},
		{"single-block", compress(b, "bench-single", data, "-1", "-T1")},
	}
	// Small enough that the single block is decoded sequentially, as a
	// large one-block file would be.
	cfg := defaultConfig
	cfg.maxJob = 4 << 20
	for _, in := range inputs {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/workers=%d", in.name, workers), func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					x := newReader(bytes.NewReader(in.xz), workers, 0, cfg)
					n, err := io.Copy(io.Discard, x)
					x.Close()
					if err != nil || n != int64(len(data)) {
						b.Fatal(n, err)
					}
				}
			})
		}
		b.Run(in.name+"/therootcompany", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				z, err := xzdec.NewReader(bytes.NewReader(in.xz), 0)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, z); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
