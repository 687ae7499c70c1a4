package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/bmap-tools/bmap/bmap"
)

// CreateOptions is what Create maps and where the bmap goes.
type CreateOptions struct {
	// Image is the sparse image file to map.
	Image string
	// Output is the bmap file to write; "" writes to Stdout.
	Output string
	Stdout io.Writer
	// NoChecksum leaves out the ranges' checksums.
	NoChecksum bool
	Log        Logger
}

// Create maps the image's data (FIEMAP, else SEEK_DATA/SEEK_HOLE) and
// writes its bmap, byte-identical to what bmaptool 3.9 writes. The map is
// complete before the output is touched, and a regular output file is
// replaced only once the new bmap is entirely written and synced, so a
// failure leaves an existing output as it was. A bmap that cannot be
// written (a full disk, a closed standard output) is an error.
func Create(ctx context.Context, o CreateOptions) (*bmap.Map, error) {
	log := orQuiet(o.Log)
	f, err := os.Open(o.Image)
	if err != nil {
		return nil, fmt.Errorf("cannot open image: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if fi.IsDir() {
		return nil, fmt.Errorf("image %s is a directory, not an image file", o.Image)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("image %s is not a regular file (a bmap describes the holes of a file)", o.Image)
	}
	m, err := bmap.Create(ctx, f, bmap.CreateOptions{NoChecksum: o.NoChecksum})
	if errors.Is(err, bmap.ErrEmptyImage) {
		return nil, fmt.Errorf("cannot create a bmap of %s: it is empty (0 bytes)", o.Image)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot create a bmap of %s: %w", o.Image, err)
	}
	data, err := m.MarshalText()
	if err != nil {
		return nil, err
	}
	if o.Output == "" {
		if o.Stdout == nil {
			return nil, errors.New("no output given and no standard output")
		}
		if _, err := o.Stdout.Write(data); err != nil {
			return nil, fmt.Errorf("cannot write the bmap to standard output: %w", err)
		}
	} else if err := writeFileAtomic(o.Output, data); err != nil {
		return nil, fmt.Errorf("cannot write the bmap: %w", err)
	}
	if m.MappedBlocksCount == m.BlocksCount {
		log.Warnf("all %s are mapped, no holes in '%s'", bmap.HumanSize(m.ImageSize), o.Image)
		log.Warnf("was the image handled incorrectly and holes were expanded?")
	}
	return m, nil
}
