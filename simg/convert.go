package simg

import (
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"

	"github.com/bmap-tools/bmap/bmap"
)

// convertBuffer is the size of the buffer the converters copy through.
const convertBuffer = 1 << 20

// FromRaw writes to dst a sparse image of the raw image src, of which m
// maps the data: mapped blocks become RAW or FILL chunks (see Writer),
// the others DONT_CARE chunks; the block size is m's. Ranges with a
// checksum are checked as they are read (a *bmap.ChecksumError), and src
// must hold exactly m.ImageSize bytes. Holes in src are skipped by
// seeking if src is an io.Seeker, else by Discard(n int) (int, error) if
// it has that method, else read and dropped.
func FromRaw(ctx context.Context, dst io.WriterAt, src io.Reader, m *bmap.Map, opt WriterOptions) error {
	w, err := NewWriter(dst, m.BlockSize, opt)
	if err != nil {
		return err
	}
	in := newSkipper(src)
	if in.seeker != nil && in.size != m.ImageSize {
		return fmt.Errorf("the image is %d bytes, but the bmap says %d", in.size, m.ImageSize)
	}
	buf := make([]byte, min(convertBuffer, max(m.ImageSize, 1)))
	pos := int64(0)
	gap := func(to int64) error {
		if err := in.skip(to - pos); err != nil {
			return fmt.Errorf("skipping the image's bytes %d-%d: %w", pos, to-1, shortErr(err))
		}
		if err := w.Skip(to - pos); err != nil {
			return err
		}
		pos = to
		return nil
	}
	for _, r := range m.Ranges {
		off, end := m.Offset(r), m.Offset(r)+m.Length(r)
		if err := gap(off); err != nil {
			return err
		}
		var h hash.Hash
		if len(r.Checksum) > 0 {
			h = m.NewHash()
		}
		for pos < end {
			if err := ctx.Err(); err != nil {
				return err
			}
			p := buf[:min(int64(len(buf)), end-pos)]
			if _, err := io.ReadFull(src, p); err != nil {
				return fmt.Errorf("reading the image at byte %d (blocks %d-%d): %w", pos, r.First, r.Last, shortErr(err))
			}
			if h != nil {
				h.Write(p)
			}
			if _, err := w.Write(p); err != nil {
				return err
			}
			pos += int64(len(p))
		}
		if h != nil {
			if got := h.Sum(nil); string(got) != string(r.Checksum) {
				return &bmap.ChecksumError{Range: r, Offset: off, Length: end - off, Type: m.ChecksumType, Got: got}
			}
		}
	}
	if err := gap(m.ImageSize); err != nil {
		return err
	}
	var one [1]byte
	if n, err := io.ReadFull(src, one[:]); n > 0 {
		return fmt.Errorf("the image is longer than the %d bytes the bmap says", m.ImageSize)
	} else if err != io.EOF {
		return fmt.Errorf("reading the image after its last byte %d: %w", m.ImageSize, err)
	}
	return w.Close()
}

// shortErr names an early end of the image as io.ErrUnexpectedEOF.
func shortErr(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// skipper skips bytes of a stream as cheaply as the stream allows.
type skipper struct {
	r       io.Reader
	seeker  io.Seeker
	size    int64 // the seeker's length from where it was
	discard interface{ Discard(int) (int, error) }
}

func newSkipper(r io.Reader) *skipper {
	s := &skipper{r: r}
	s.seeker, s.size = seekable(r)
	s.discard, _ = r.(interface{ Discard(int) (int, error) })
	return s
}

func (s *skipper) skip(n int64) error {
	switch {
	case n == 0:
		return nil
	case s.seeker != nil:
		_, err := s.seeker.Seek(n, io.SeekCurrent)
		return err
	case s.discard != nil:
		for n > 0 {
			k, err := s.discard.Discard(int(min(n, 1<<30)))
			n -= int64(k)
			if err != nil {
				return err
			}
		}
		return nil
	}
	_, err := io.CopyN(io.Discard, s.r, n)
	return err
}

// A RawFile is what ToRaw writes: an *os.File.
type RawFile interface {
	io.WriterAt
	Truncate(size int64) error
}

// ToRaw writes the image of the sparse image src to dst as a sparse file
// and returns its map, with a SHA-256 of every range, ready for
// bmap.Map.Encode. dst is emptied and sized to the image first; then only
// the data chunks (see MapOptions) are written, so holes stay holes.
// Written ranges read back as what they hold, so the map is what
// "bmap create" makes of dst wherever the filesystem's block size is the
// sparse image's (4096 on ext4, XFS, btrfs, tmpfs). ToRaw does not sync
// dst. On error dst holds part of the image.
func ToRaw(ctx context.Context, dst RawFile, src io.Reader, opt MapOptions) (*bmap.Map, error) {
	r, err := NewReader(src)
	if err != nil {
		return nil, err
	}
	h := r.Header()
	if err := dst.Truncate(0); err != nil {
		return nil, err
	}
	if err := dst.Truncate(h.ImageSize()); err != nil {
		return nil, err
	}
	m := &bmap.Map{Version: "2.0", ImageSize: h.ImageSize(), BlockSize: int64(h.BlockSize),
		BlocksCount: int64(h.Blocks), ChecksumType: "sha256"}
	var sum hash.Hash // of the last range, while it may grow
	end := func() {
		if sum != nil {
			m.Ranges[len(m.Ranges)-1].Checksum = sum.Sum(nil)
		}
	}
	var buf []byte
	for {
		c, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if !c.Data() || c.ZeroFill() && opt.ZeroFillIsHole {
			continue
		}
		first, last := c.Offset/m.BlockSize, (c.Offset+c.Length)/m.BlockSize-1
		if n := len(m.Ranges); n > 0 && m.Ranges[n-1].Last+1 == first {
			m.Ranges[n-1].Last = last
		} else {
			end()
			m.Ranges = append(m.Ranges, bmap.Range{First: first, Last: last})
			sum = sha256.New()
		}
		m.MappedBlocksCount += last - first + 1
		if buf == nil {
			buf = make([]byte, convertBuffer)
		}
		for off := c.Offset; off < c.Offset+c.Length; {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			p := buf[:min(int64(len(buf)), c.Offset+c.Length-off)]
			if _, err := io.ReadFull(r, p); err != nil {
				return nil, err
			}
			sum.Write(p)
			if _, err := dst.WriteAt(p, off); err != nil {
				return nil, fmt.Errorf("writing the image at byte %d: %w", off, err)
			}
			off += int64(len(p))
		}
	}
	end()
	return m, nil
}
