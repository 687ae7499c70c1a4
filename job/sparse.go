package job

import (
	"fmt"
	"io"

	"github.com/bmap-tools/bmap/bmap"
	"github.com/bmap-tools/bmap/simg"
	"github.com/bmap-tools/bmap/source"
)

// openSparse makes img, whose raw bytes are an Android sparse image, yield
// the image it describes (RAW chunks' data, FILL patterns, DONT_CARE
// holes). in is where the sparse image is read from: the decoder, or the
// source itself when it seeks (so skipped data is sought over).
//
// With a bmap m, the bmap says what is written and its checksums are
// checked; the sparse image may hold the image padded to a whole block,
// which is cut off (and checked to be zeros). Without one, the sparse
// image is its own map: read from its chunk headers up front where the
// source allows random access (so a malformed file is refused before the
// destination is opened), else chunk by chunk as the copy goes (see
// flash.ExtentSource).
//
// FILL chunks of zeros are data, since a device may hold old data there,
// unless zeroFillIsHole says the destination reads as zeros already (a new
// regular file), so that they come back as holes.
func (img *image) openSparse(in io.Reader, src source.Source, m *bmap.Map, shown string, zeroFillIsHole bool) error {
	img.sparse = true
	ra, random := in.(io.ReaderAt)
	if m == nil && random && src.Size() >= 0 {
		sm, err := simg.ReadMap(ra, src.Size(), simg.MapOptions{ZeroFillIsHole: zeroFillIsHole})
		if err != nil {
			return fmt.Errorf("image %s: %w", shown, err)
		}
		img.sparseMap = sm
	}
	rd, err := simg.NewReader(in)
	if err != nil {
		return fmt.Errorf("image %s: %w", shown, err)
	}
	img.size = rd.Size()
	img.stream = true
	switch {
	case m != nil:
		bs := int64(rd.Header().BlockSize)
		if m.ImageSize > rd.Size() || m.ImageSize <= rd.Size()-bs {
			return fmt.Errorf("image %s is an Android sparse image of a %d-byte image, but the bmap says the image is %d bytes: wrong image or wrong bmap",
				shown, rd.Size(), m.ImageSize)
		}
		if m.ImageSize < rd.Size() {
			if err := rd.Truncate(m.ImageSize); err != nil {
				return fmt.Errorf("image %s: %w", shown, err)
			}
		}
		img.size = m.ImageSize
		img.src = rd
	case img.sparseMap != nil:
		img.src = rd
	default:
		img.src = &sparseExtents{r: rd, zeroFillIsHole: zeroFillIsHole}
	}
	return nil
}

// sparseExtents is a sparse image read as a stream, telling the copy
// engine where its data is as the chunk headers come (flash.ExtentSource).
type sparseExtents struct {
	r *simg.Reader
	// zeroFillIsHole leaves FILL chunks of zeros unwritten: only where
	// the destination reads as zeros already (a new regular file).
	zeroFillIsHole bool
}

func (s *sparseExtents) Read(p []byte) (int, error) { return s.r.Read(p) }
func (s *sparseExtents) Discard(n int) (int, error) { return s.r.Discard(n) }
func (s *sparseExtents) NextExtent() (int64, int64, error) {
	for {
		c, err := s.r.Next()
		if err == io.EOF {
			return s.r.Size(), 0, io.EOF
		}
		if err != nil {
			return 0, 0, err
		}
		if c.Data() && !(s.zeroFillIsHole && c.ZeroFill()) {
			return c.Offset, c.Length, nil
		}
	}
}
