package decompress

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// BenchmarkDecode decodes each format's fixture through NewReader into a
// 1 MiB buffer, as the copy engine does. BMAP_DECOMPRESS_MB=256 sets the
// image size for throughput measurements.
func BenchmarkDecode(b *testing.B) {
	benches := []struct{ name, fixture string }{
		{"raw", "raw"},
		{"gz", "pigz"},
		{"bz2", "pbzip2"},
		{"xz", "xz-T2-blocks"},
		{"lzma", "lzma"},
		{"zst", "zstd"},
		{"lz4", "lz4"},
		{"lzo", "lzop"},
		{"zip", "zip"},
		{"tgz", "tar-gz"},
	}
	var names []string
	for _, bm := range benches {
		names = append(names, bm.fixture)
	}
	s := getFixtures(b, names...)
	for _, bm := range benches {
		b.Run(bm.name, func(b *testing.B) {
			var fx fixture
			for _, f := range fixtures {
				if f.name == bm.fixture {
					fx = f
				}
			}
			data, want, _ := s.load(b, fx)
			buf := make([]byte, 1<<20)
			b.SetBytes(int64(len(want)))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for range b.N {
				z, err := NewReader(bytes.NewReader(data), Options{Name: fx.file})
				if err != nil {
					b.Fatal(err)
				}
				var n int
				for {
					k, err := io.ReadFull(z, buf)
					n += k
					if err == io.EOF || err == io.ErrUnexpectedEOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				z.Close()
				if n != len(want) {
					b.Fatalf("decoded %d bytes, want %d", n, len(want))
				}
			}
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(b.N)*float64(len(want))/cpu.Seconds()/1e6, "MB/cpu-s")
			}
		})
	}
}

// BenchmarkDecodeFiles decodes real images, the decoder alone, to set
// against a whole `bmap copy` of the same file: BMAP_BENCH_FILES is a
// space-separated list of paths (e.g. the benchmark corpus of
// ../shared/bench/mkcorpus.sh). Each file is decoded with GOMAXPROCS 1 and
// with all cores (go test's -cpu does not apply to sub-benchmarks); run
// with -benchtime=1x -count=3.
func BenchmarkDecodeFiles(b *testing.B) {
	paths := strings.Fields(os.Getenv("BMAP_BENCH_FILES"))
	if len(paths) == 0 {
		b.Skip("set BMAP_BENCH_FILES to the images to decode")
	}
	buf := make([]byte, 4<<20)
	procs := []int{1}
	if n := runtime.NumCPU(); n > 1 {
		procs = append(procs, n)
	}
	for _, path := range paths {
		for _, p := range procs {
			b.Run(fmt.Sprintf("%s/procs=%d", filepath.Base(path), p), func(b *testing.B) {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(p))
				decodeFile(b, path, buf)
			})
		}
	}
}

// decodeFile decodes path b.N times into nothing, reporting its size and
// the CPU time used.
func decodeFile(b *testing.B, path string, buf []byte) {
	cpu0 := cpuTime()
	var n int64
	b.ResetTimer()
	for range b.N {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		z, err := NewReader(f, Options{Name: path})
		if err != nil {
			b.Fatal(err)
		}
		n, err = io.CopyBuffer(io.Discard, struct{ io.Reader }{z}, buf)
		z.Close()
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(n)
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	}
}
