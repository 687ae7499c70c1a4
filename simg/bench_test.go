package simg

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/bmap-tools/bmap/bmap"
)

// benchImage is 64 MiB: random data with runs of a pattern and of zeros.
func benchImage() ([]byte, *bmap.Map) {
	img := random(50, 64<<20)
	for off := 0; off < len(img); off += 1 << 20 {
		copy(img[off:], repeat("\x00\x00\x00\x01", 256<<10))
	}
	return img, bmap.Whole(int64(len(img)), 4096)
}

// BenchmarkRead reads a sparse image of RAW and FILL chunks as a stream,
// CRC-32 included.
func BenchmarkRead(b *testing.B) {
	img, m := benchImage()
	var f memFile
	if err := FromRaw(context.Background(), &f, bytes.NewReader(img), m, WriterOptions{CRC: true}); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 4<<20)
	b.SetBytes(int64(len(img)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := NewReader(stream{bytes.NewReader(f.b)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFromRaw writes the image as a sparse image into memory.
func BenchmarkFromRaw(b *testing.B) {
	img, m := benchImage()
	f := memFile{b: make([]byte, 0, len(img)+1<<20)}
	b.SetBytes(int64(len(img)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.b = f.b[:0]
		if err := FromRaw(context.Background(), &f, bytes.NewReader(img), m, WriterOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
