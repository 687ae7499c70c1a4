package xz

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	xzdec "github.com/therootcompany/xz"
)

// BenchmarkDecode: decode-only throughput on an 8 MiB mixed input, as
// xz -T2 writes it (1 MiB blocks with sizes) and as xz -T1 (one block),
// with our LZMA2 decoder and with therootcompany/xz under the same
// block-parallel reader, and therootcompany's own stream reader.
func BenchmarkDecode(b *testing.B) {
	data := mixed(8<<20, 21)
	inputs := []struct {
		name string
		xz   []byte
	}{
		{"multi-block", compress(b, data, "-6", "-T2", "--block-size=1MiB")},
		{"single-block", compress(b, data, "-6", "-T1")},
	}
	// Small enough that the single block is decoded sequentially, as a
	// large one-block file would be.
	cfg := defaultConfig
	cfg.maxJob = 4 << 20
	for _, in := range inputs {
		for _, dec := range []string{"ours", "theirs"} {
			for _, workers := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%s/workers=%d", in.name, dec, workers), func(b *testing.B) {
					b.SetBytes(int64(len(data)))
					b.ResetTimer()
					for range b.N {
						x := newReader(bytes.NewReader(in.xz), workers, 0, cfg)
						x.noLZMA2 = dec == "theirs"
						n, err := io.Copy(io.Discard, x)
						x.Close()
						if err != nil || n != int64(len(data)) {
							b.Fatal(n, err)
						}
					}
				})
			}
		}
		b.Run(in.name+"/therootcompany", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for range b.N {
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

// BenchmarkFile decodes the .xz file named by XZ_BENCH_FILE with one
// worker: its blocks sequentially (seq), as parallel jobs (par), and with
// therootcompany/xz under the same reader (theirs). best-µs is the fastest
// run, steadier than the mean on a machine shared with other work.
func BenchmarkFile(b *testing.B) {
	name := os.Getenv("XZ_BENCH_FILE")
	if name == "" {
		b.Skip("XZ_BENCH_FILE not set")
	}
	in, err := os.ReadFile(name)
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"seq", "par", "theirs"} {
		b.Run(mode, func(b *testing.B) {
			cfg := defaultConfig
			if mode == "seq" {
				cfg.maxJob = 1 << 20
			} else {
				cfg.maxJob, cfg.budget = 1<<40, 1<<40
			}
			var n int64
			best := time.Duration(1 << 62)
			b.ResetTimer()
			for range b.N {
				t := time.Now()
				x := newReader(bytes.NewReader(in), 1, 0, cfg)
				x.noLZMA2 = mode == "theirs"
				n, err = io.Copy(io.Discard, x)
				x.Close()
				if err != nil {
					b.Fatal(err)
				}
				best = min(best, time.Since(t))
			}
			b.SetBytes(n)
			b.ReportMetric(float64(best.Microseconds()), "best-µs")
		})
	}
}

// BenchmarkBlockMin decodes the first block of XZ_BENCH_FILE with our
// decoder into memory (as a parallel job does), many times, and reports
// the fastest run: a figure steady on a machine shared with other work.
func BenchmarkBlockMin(b *testing.B) {
	name := os.Getenv("XZ_BENCH_FILE")
	if name == "" {
		b.Skip("XZ_BENCH_FILE not set")
	}
	in, err := os.ReadFile(name)
	if err != nil {
		b.Fatal(err)
	}
	h := in[streamHdrSz:]
	hs := (int(h[0]) + 1) * 4
	bh, err := parseBlockHeader(h[:hs])
	if err != nil || !bh.lzma2Only {
		b.Fatal("not an LZMA2 block")
	}
	x := newReader(bytes.NewReader(nil), 1, 0, defaultConfig)
	defer x.Close()
	// The uncompressed size: decode once with a large buffer.
	n, err := io.Copy(io.Discard, newReader(bytes.NewReader(in), 1, 0, defaultConfig))
	if err != nil {
		b.Fatal(err)
	}
	out := make([]byte, n)
	var d lzma2Dec
	bh.uncompressed, bh.hasUncomp = uint64(n), true
	best := time.Duration(1 << 62)
	b.SetBytes(n)
	b.ResetTimer()
	for range b.N {
		t := time.Now()
		if err := x.decodeLZMA2Block(&d, 0, bh, [][]byte{h[hs:]}, out, in[7]); err != nil && !strings.Contains(err.Error(), "size") {
			b.Fatal(err)
		}
		best = min(best, time.Since(t))
	}
	b.ReportMetric(float64(best.Microseconds()), "best-µs")
}
