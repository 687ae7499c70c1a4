package job

import (
	"context"
	"fmt"
	"io"

	"github.com/bmap-tools/bmap/bmap"
	"github.com/bmap-tools/bmap/decompress"
	"github.com/bmap-tools/bmap/source"
)

// image is an opened image: its raw bytes, and what is known of them.
type image struct {
	src  io.Reader // raw image bytes; the source itself for a raw local file, which seeks
	kind decompress.Kind
	size int64 // -1 if unknown until read
	// stream: the image is read in order, holes included (a decoder, a
	// pipe); else holes are skipped by seeking.
	stream bool
	closes []func() error
}

func (i *image) Close() error {
	for j := len(i.closes) - 1; j >= 0; j-- {
		i.closes[j]()
	}
	i.closes = nil
	return nil
}

// openImage opens name, detects its format and, for a raw local file,
// checks its size against m (nil: no bmap).
func openImage(ctx context.Context, op *source.Opener, log Logger, name string, m *bmap.Map) (*image, error) {
	src, err := op.Open(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("cannot open image: %w", err)
	}
	img := &image{size: -1, closes: []func() error{src.Close}}
	dec, err := decompress.NewReader(src, name)
	if err != nil {
		img.Close()
		return nil, fmt.Errorf("image %s: %w", name, err)
	}
	img.closes = append(img.closes, dec.Close)
	for _, n := range dec.Notes() {
		log.Infof("%s", n)
	}
	img.src, img.kind, img.stream = dec, dec.Kind(), true
	if m != nil {
		img.size = m.ImageSize
	}
	if f, ok := src.(*source.File); ok && img.kind == (decompress.Kind{Format: decompress.Raw}) {
		if m != nil && f.Size() != m.ImageSize {
			img.Close()
			return nil, fmt.Errorf("image %s is %d bytes, but the bmap says the image is %d bytes: wrong image or wrong bmap",
				name, f.Size(), m.ImageSize)
		}
		img.size = f.Size()
		// A raw local file: read it directly, so holes are skipped by
		// seeking and ranges may be read side by side.
		if _, err := f.Seek(0, io.SeekStart); err == nil {
			img.src, img.stream = f, false
		}
	}
	log.Debugf("image format: %s", img.kind)
	return img, nil
}
