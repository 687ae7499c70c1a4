package decompress_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"log"

	"github.com/bmap-tools/bmap/decompress"
)

func ExampleNewReader() {
	// A gzip-compressed "image", as a file or stdin would deliver it.
	var in bytes.Buffer
	w := gzip.NewWriter(&in)
	w.Write([]byte("raw image bytes"))
	w.Close()

	r, err := decompress.NewReader(&in, decompress.Options{Name: "disk.img.gz"})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	img, err := io.ReadAll(r) // io.EOF only after the gzip CRC matched
	if err != nil {
		log.Fatal(fmt.Errorf("disk.img.gz: %w", err))
	}
	fmt.Println(r.Kind(), r.InputOffset() > 0)
	fmt.Printf("%s\n", img)
	// Output:
	// gzip true
	// raw image bytes
}
