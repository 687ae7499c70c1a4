package job

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/bmap-tools/bmap/bmap"
	"github.com/bmap-tools/bmap/decompress"
	"github.com/bmap-tools/bmap/flash"
	"github.com/bmap-tools/bmap/simg"
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
	// transfer counts what a remote source fetched; nil for local ones.
	transfer source.Transferer
	closes   []func() error
	dec      *decompress.Reader
	noted    int // notes of dec logged so far
	// sparse: the raw bytes are an Android sparse image, and src yields
	// the image it describes; sparseMap is its map when it could be read
	// up front (see openSparse).
	sparse    bool
	sparseMap *bmap.Map
}

// openHow says how openImage treats an Android sparse image.
type openHow struct {
	// keepSparse yields the sparse image's own bytes, not the image it
	// describes.
	keepSparse bool
	// zeroFillIsHole: the destination reads as zeros already (see
	// openSparse).
	zeroFillIsHole bool
}

// format names the image's format: "gzip", "tar+xz", "simg", "zstd+simg".
func (i *image) format() string {
	switch {
	case !i.sparse:
		return i.kind.String()
	case i.kind == (decompress.Kind{Format: decompress.Raw}):
		return "simg"
	}
	return i.kind.String() + "+simg"
}

// logNotes logs the decoder's notes not logged yet: some come only once
// the image was read to its end (trailing zeros ignored, the other files
// of a streamed archive).
func (i *image) logNotes(log Logger) {
	notes := i.dec.Notes()
	for _, n := range notes[i.noted:] {
		log.Infof("%s", n)
	}
	i.noted = len(notes)
}

func (i *image) Close() error {
	for j := len(i.closes) - 1; j >= 0; j-- {
		i.closes[j]()
	}
	i.closes = nil
	return nil
}

// openImage opens name, detects its format and, for a raw image whose
// source seeks (a local file, a server that honours Range), checks its
// size against m (nil: no bmap) and reads it directly, so holes are
// skipped by seeking. A source that prefetches is told what will be read:
// the mapped ranges of a raw image, the rest of a compressed one.
//
// An Android sparse image is opened as the image it describes (see
// openSparse), unless how says to keep it as it is.
func openImage(ctx context.Context, op *source.Opener, log Logger, name string, m *bmap.Map, how openHow) (*image, error) {
	src, err := op.Open(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("cannot open image: %w", err)
	}
	shown := source.Redact(name)
	img := &image{size: -1, closes: []func() error{src.Close}, src: src}
	if t, ok := src.(source.Transferer); ok {
		img.transfer = t
	}
	opt := decompress.Options{Name: source.PathOf(name), ImageSize: -1}
	if m != nil {
		opt.ImageSize = m.ImageSize
	}
	dec, err := decompress.NewReader(src, opt)
	if err != nil {
		img.Close()
		if m != nil && errors.Is(err, io.ErrUnexpectedEOF) {
			// Cut before its first image byte (say, inside the tar header).
			err = &flash.ShortImageError{Got: 0, Want: m.ImageSize, Err: err}
		}
		return nil, fmt.Errorf("image %s: %w", shown, err)
	}
	img.closes = append(img.closes, dec.Close)
	img.dec = dec
	img.logNotes(log)
	img.src, img.kind, img.stream = dec, dec.Kind(), true
	if m != nil {
		img.size = m.ImageSize
	}
	pf, _ := src.(source.Prefetcher)
	seeker, seeks := src.(io.Seeker)
	raw := img.kind == (decompress.Kind{Format: decompress.Raw})
	if head, _ := dec.Peek(simg.HeaderSize); simg.IsSparse(head) && !how.keepSparse {
		// An Android sparse image: read from the source itself where it
		// seeks, so that skipped data is sought over.
		in := io.Reader(dec)
		if seeks && raw && src.Size() >= 0 {
			if _, err := seeker.Seek(0, io.SeekStart); err == nil {
				in = src
			}
		}
		if pf != nil && src.Size() >= 0 {
			pf.Prefetch([]source.Extent{{Offset: 0, Length: src.Size()}})
		}
		if err := img.openSparse(in, src, m, shown, how.zeroFillIsHole); err != nil {
			img.Close()
			return nil, err
		}
		log.Debugf("image format: %s", img.format())
		return img, nil
	}
	if seeks && src.Size() >= 0 && raw {
		if m != nil && src.Size() != m.ImageSize {
			img.Close()
			return nil, fmt.Errorf("image %s is %d bytes, but the bmap says the image is %d bytes: wrong image or wrong bmap",
				shown, src.Size(), m.ImageSize)
		}
		img.size = src.Size()
		// Read the source directly, so holes are skipped by seeking and
		// (a local file) ranges may be read side by side.
		if _, err := seeker.Seek(0, io.SeekStart); err == nil {
			img.src, img.stream = src, false
			if pf != nil {
				pf.Prefetch(extentsOf(m, img.size))
			}
		}
	} else if pf != nil && src.Size() >= 0 {
		pf.Prefetch([]source.Extent{{Offset: 0, Length: src.Size()}})
	}
	log.Debugf("image format: %s", img.kind)
	return img, nil
}

// extentsOf returns the byte ranges m maps (the whole image if m is nil).
func extentsOf(m *bmap.Map, size int64) []source.Extent {
	if m == nil {
		return []source.Extent{{Offset: 0, Length: size}}
	}
	out := make([]source.Extent, len(m.Ranges))
	for i, r := range m.Ranges {
		out[i] = source.Extent{Offset: m.Offset(r), Length: m.Length(r)}
	}
	return out
}
