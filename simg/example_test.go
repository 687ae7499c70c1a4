package simg_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/bmap-tools/bmap/bmap"
	"github.com/bmap-tools/bmap/simg"
)

// memFile is an in-memory io.WriterAt.
type memFile struct{ b []byte }

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	if end := int(off) + len(p); end > len(f.b) {
		f.b = append(f.b, make([]byte, end-len(f.b))...)
	}
	return copy(f.b[off:], p), nil
}

func Example() {
	// An image of 4 blocks of 4096 bytes: text, a hole, a pattern, text.
	img := make([]byte, 4*4096)
	copy(img, "hello")
	copy(img[2*4096:], strings.Repeat("abcd", 1024))
	copy(img[3*4096:], "world")
	m := &bmap.Map{Version: "2.0", ImageSize: int64(len(img)), BlockSize: 4096, BlocksCount: 4, MappedBlocksCount: 3,
		Ranges: []bmap.Range{{First: 0, Last: 0}, {First: 2, Last: 3}}}

	// Raw image and bmap to a sparse image.
	var f memFile
	if err := simg.FromRaw(context.Background(), &f, bytes.NewReader(img), m, simg.WriterOptions{}); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("sparse image of %d bytes\n", len(f.b))

	// Its chunks, as a copy from a stream would meet them.
	r, err := simg.NewReader(bytes.NewReader(f.b))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("image of %d bytes in %d-byte blocks\n", r.Size(), r.Header().BlockSize)
	for {
		c, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("chunk %d at byte %d: %s, image bytes %d-%d, data %v\n", c.Index, c.SparseOffset, c.Type, c.Offset, c.Offset+c.Length-1, c.Data())
	}

	// Its map, read from the chunk headers alone.
	m2, err := simg.ReadMap(bytes.NewReader(f.b), int64(len(f.b)), simg.MapOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("mapped %d of %d blocks:", m2.MappedBlocksCount, m2.BlocksCount)
	for _, r := range m2.Ranges {
		fmt.Printf(" %d-%d", r.First, r.Last)
	}
	fmt.Println()
	// Output:
	// sparse image of 8272 bytes
	// image of 16384 bytes in 4096-byte blocks
	// chunk 0 at byte 28: RAW, image bytes 0-4095, data true
	// chunk 1 at byte 4136: DONT_CARE, image bytes 4096-8191, data false
	// chunk 2 at byte 4148: FILL, image bytes 8192-12287, data true
	// chunk 3 at byte 4164: RAW, image bytes 12288-16383, data true
	// mapped 3 of 4 blocks: 0-0 2-3
}
