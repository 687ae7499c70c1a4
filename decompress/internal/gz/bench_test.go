package gz

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"
)

// BenchmarkDecode: decode throughput (MB/s of output) on a 32 MiB mixed
// sample compressed by gzip -6 and pigz -6, or instead on the file named
// by BMAP_BENCH_GZ if set; for ours and klauspost/compress/gzip.
//
//	BMAP_BENCH_GZ=/tmp/bmapbench/rootfs.img.gz go test -run XXX -bench Decode -benchtime 2x ./decompress/internal/gz/
func BenchmarkDecode(b *testing.B) {
	type input struct {
		name string
		gz   []byte
		size int64
	}
	var inputs []input
	if name := os.Getenv("BMAP_BENCH_GZ"); name != "" {
		gz, err := os.ReadFile(name)
		if err != nil {
			b.Fatal(err)
		}
		z := NewReader(bytes.NewReader(gz))
		n, err := io.Copy(io.Discard, z)
		z.Close()
		if err != nil {
			b.Fatal(err)
		}
		inputs = append(inputs, input{"file", gz, n})
	} else {
		data := mixed(32<<20, 3)
		inputs = append(inputs,
			input{"gzip-6", compress(b, data, "gzip", "-6"), int64(len(data))},
			input{"pigz-6", compress(b, data, "pigz", "-6", "-p2"), int64(len(data))})
	}
	for _, in := range inputs {
		for _, dec := range []string{"ours", "klauspost"} {
			b.Run(fmt.Sprintf("%s/%s", in.name, dec), func(b *testing.B) {
				b.SetBytes(in.size)
				b.ResetTimer()
				for range b.N {
					var r io.Reader
					if dec == "klauspost" {
						r = mustKlauspost(b, in.gz)
					} else {
						z := NewReader(bytes.NewReader(in.gz))
						defer z.Close()
						r = z
					}
					n, err := io.Copy(io.Discard, r)
					if err != nil || n != in.size {
						b.Fatal(n, err)
					}
				}
			})
		}
	}
}

func mustKlauspost(b *testing.B, gz []byte) io.Reader {
	z, err := kgzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		b.Fatal(err)
	}
	return z
}
