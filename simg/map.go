package simg

import (
	"io"

	"github.com/bmap-tools/bmap/bmap"
)

// MapOptions says what a map of a sparse image counts as data.
type MapOptions struct {
	// ZeroFillIsHole leaves FILL chunks of zeros out of the map, as if
	// they were DONT_CARE. Use it only where the destination already
	// reads as zeros (a new regular file): on a device they must be
	// written. img2simg writes every zero block as such a chunk, so this is
	// what gives back a sparse file from its images.
	ZeroFillIsHole bool
}

// Map returns the map of the image: RAW and FILL chunks are mapped,
// DONT_CARE chunks are holes. It has no checksums. It covers the chunks
// read so far, so it is complete once Next or Read has returned io.EOF.
func (r *Reader) Map(opt MapOptions) *bmap.Map {
	h := r.hdr
	m := &bmap.Map{Version: "2.0", ImageSize: h.ImageSize(), BlockSize: int64(h.BlockSize), BlocksCount: int64(h.Blocks)}
	for _, e := range r.extents {
		if e.zero && opt.ZeroFillIsHole {
			continue
		}
		last := e.first + e.blocks - 1
		if n := len(m.Ranges); n > 0 && m.Ranges[n-1].Last+1 == e.first {
			m.Ranges[n-1].Last = last
		} else {
			m.Ranges = append(m.Ranges, bmap.Range{First: e.first, Last: last})
		}
		m.MappedBlocksCount += e.blocks
	}
	return m
}

// ReadMap walks the chunk headers of the sparse image r holds (size
// bytes), seeking over the data, and returns the map of the image (see
// Reader.Map). The whole structure is checked as Reader checks it, but not
// CRC32 chunks, which need the data. A copy from a random-access file can
// so know the map, and refuse a malformed file, before it opens its
// destination.
func ReadMap(r io.ReaderAt, size int64, opt MapOptions) (*bmap.Map, error) {
	rd, err := NewReader(io.NewSectionReader(r, 0, size))
	if err != nil {
		return nil, err
	}
	for {
		if _, err := rd.Next(); err == io.EOF {
			return rd.Map(opt), nil
		} else if err != nil {
			return nil, err
		}
	}
}
