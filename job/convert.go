package job

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/bmap-tools/bmap/bmap"
	"github.com/bmap-tools/bmap/simg"
	"github.com/bmap-tools/bmap/source"
)

// ConvertTo names the format Convert writes.
type ConvertTo string

const (
	// ToSimg: an Android sparse image, for fastboot, U-Boot's mmc swrite,
	// NXP uuu and Qualcomm qdl.
	ToSimg ConvertTo = "simg"
	// ToRaw: a sparse raw image and its bmap beside it (OUT.bmap).
	ToRaw ConvertTo = "raw"
)

// ConvertOptions is what Convert reads and writes.
type ConvertOptions struct {
	To ConvertTo
	// Image is the input: for ToSimg a raw or compressed image, for ToRaw
	// an Android sparse image (maybe compressed). A path, "-" or a URL.
	Image string
	// Output is the file to write (replaced only once complete).
	Output string
	// Bmap (ToSimg) is the image's bmap; "" looks beside the image, and
	// a raw local sparse file without one is mapped as create maps it.
	Bmap      string
	Signature Signature
	// ZeroFillIsHole (ToRaw) leaves FILL chunks of zeros out of the map
	// and the file, as holes. img2simg writes every zero block, holes
	// included, as one; but an image made otherwise may need its zeros
	// written (on a device that holds old data), so they are data unless
	// asked.
	ZeroFillIsHole bool

	Opener *source.Opener
	Log    Logger
}

// Convert turns an image and its bmap into an Android sparse image, or an
// Android sparse image into a sparse raw image and its bmap. The range
// checksums of a bmap are checked as the image is read; the output is
// replaced only once complete. It returns the map of the image.
func Convert(ctx context.Context, o ConvertOptions) (*bmap.Map, error) {
	if err := o.Signature.Check(); err != nil {
		return nil, err
	}
	log := orQuiet(o.Log)
	op := o.Opener
	if op == nil {
		op = &source.Opener{}
	}
	if o.Output == "" || o.Output == source.Stdin {
		return nil, &OptionError{Msg: "convert needs an OUTPUT file"}
	}
	if source.SameFile(o.Image, o.Output) {
		return nil, fmt.Errorf("the output %s is the image itself", o.Output)
	}
	switch o.To {
	case ToSimg:
		return convertToSimg(ctx, op, log, o)
	case ToRaw:
		return convertToRaw(ctx, op, log, o)
	}
	return nil, &OptionError{Msg: fmt.Sprintf("--to %q: want simg or raw", o.To)}
}

func convertToSimg(ctx context.Context, op *source.Opener, log Logger, o ConvertOptions) (*bmap.Map, error) {
	var m *bmap.Map
	name, err := findBmap(ctx, op, log, o.Image, o.Bmap)
	switch {
	case err == nil:
		if m, err = loadBmap(ctx, op, log, name, o.Signature); err != nil {
			return nil, err
		}
	case errors.Is(err, ErrNoBmap):
		// A sparse file of its own: map it as create does.
		if m, err = mapLocalImage(ctx, o.Image); err != nil {
			return nil, fmt.Errorf("%s has no bmap (give one with --bmap) and cannot be mapped: %w", source.Redact(o.Image), err)
		}
		log.Infof("no bmap given: mapped the holes of '%s' (%d of %d blocks hold data)", o.Image, m.MappedBlocksCount, m.BlocksCount)
	default:
		return nil, err
	}
	img, err := openImage(ctx, op, log, o.Image, m, openHow{})
	if err != nil {
		return nil, err
	}
	defer img.Close()
	log.Infof("converting '%s' (%s, %s) to an Android sparse image '%s'", source.Base(o.Image), img.kind, bmap.HumanSize(m.ImageSize), o.Output)
	err = writeOutput(o.Output, func(f *os.File) error {
		return simg.FromRaw(ctx, f, img.src, m, simg.WriterOptions{})
	})
	if err != nil {
		return nil, fmt.Errorf("converting %s to %s: %w", source.Redact(o.Image), o.Output, err)
	}
	if m.ImageSize%m.BlockSize != 0 {
		log.Warnf("the image is %d bytes, not a multiple of the %d-byte block: the sparse image holds it padded with zeros to %d bytes",
			m.ImageSize, m.BlockSize, m.BlocksCount*m.BlockSize)
	}
	return m, nil
}

// mapLocalImage maps a local raw sparse file, without checksums (the
// file is its own reference).
func mapLocalImage(ctx context.Context, path string) (*bmap.Map, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var head [8]byte
	if n, _ := f.ReadAt(head[:], 0); n >= 4 && simg.IsSparse(head[:n]) {
		return nil, errors.New("it is already an Android sparse image")
	}
	return bmap.Create(ctx, f, bmap.CreateOptions{NoChecksum: true})
}

func convertToRaw(ctx context.Context, op *source.Opener, log Logger, o ConvertOptions) (*bmap.Map, error) {
	img, err := openImage(ctx, op, log, o.Image, nil, openHow{keepSparse: true})
	if err != nil {
		return nil, err
	}
	defer img.Close()
	var m *bmap.Map
	err = writeOutput(o.Output, func(f *os.File) error {
		m, err = simg.ToRaw(ctx, f, img.src, simg.MapOptions{ZeroFillIsHole: o.ZeroFillIsHole})
		return err
	})
	if errors.Is(err, simg.ErrNotSparse) {
		return nil, fmt.Errorf("%s is not an Android sparse image (%s data): convert --to raw reads sparse images", source.Redact(o.Image), img.kind)
	}
	if err != nil {
		return nil, fmt.Errorf("converting %s to %s: %w", source.Redact(o.Image), o.Output, err)
	}
	bmapPath := o.Output + ".bmap"
	data, err := m.MarshalText()
	if err == nil {
		err = writeFileAtomic(bmapPath, data)
	}
	if err != nil {
		return nil, fmt.Errorf("writing the bmap %s: %w", bmapPath, err)
	}
	log.Infof("wrote '%s' (%s, %d of %d blocks hold data) and its bmap '%s'", o.Output, bmap.HumanSize(m.ImageSize), m.MappedBlocksCount, m.BlocksCount, bmapPath)
	return m, nil
}
