package bmap

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
)

// Range is a run of mapped blocks, First and Last inclusive, as in the XML.
// Checksum, when present, is the digest of the image bytes
// [First*BlockSize, min((Last+1)*BlockSize, ImageSize)).
type Range struct {
	First, Last int64
	Checksum    []byte
}

// Blocks returns the number of blocks in r.
func (r Range) Blocks() int64 { return r.Last - r.First + 1 }

// Map is a parsed or created block map. Its invariants, enforced by Parse
// and established by Create:
//   - BlockSize > 0, ImageSize > 0, BlocksCount = ceil(ImageSize/BlockSize);
//   - Ranges are sorted, disjoint, inside [0, BlocksCount) and First <= Last;
//   - MappedBlocksCount is the sum of the ranges' block counts;
//   - every Checksum is empty or exactly ChecksumType's digest size.
type Map struct {
	// Version is the format version as written, such as "2.0" or "1.3".
	Version string
	// ImageSize is the image's size in bytes.
	ImageSize int64
	// BlockSize is the size of one block in bytes.
	BlockSize int64
	// BlocksCount is the number of blocks in the image, the last maybe partial.
	BlocksCount int64
	// MappedBlocksCount is the number of blocks covered by Ranges.
	MappedBlocksCount int64
	// ChecksumType names the digest of the ranges and of the file itself:
	// "sha256", "sha1", "sha512"; empty for versions below 1.3.
	ChecksumType string
	// FileChecksum is the bmap file's own checksum as stored (nil if none).
	FileChecksum []byte
	// Ranges lists the mapped block ranges in ascending order.
	Ranges []Range
}

// Offset returns the byte offset of r's first block.
func (m *Map) Offset(r Range) int64 { return r.First * m.BlockSize }

// Length returns the number of image bytes r covers; the image's last block
// may be partial, so this can be less than r.Blocks()*BlockSize.
func (m *Map) Length(r Range) int64 {
	end := (r.Last + 1) * m.BlockSize
	if end > m.ImageSize {
		end = m.ImageSize
	}
	return end - r.First*m.BlockSize
}

// MappedBytes returns the number of image bytes covered by the ranges.
func (m *Map) MappedBytes() int64 {
	var n int64
	for _, r := range m.Ranges {
		n += m.Length(r)
	}
	return n
}

// NewHash returns a hash for the map's ChecksumType, or nil when the map
// carries no range checksums.
func (m *Map) NewHash() hash.Hash {
	h, _ := newHash(m.ChecksumType)
	return h
}

// Whole returns a map of one range covering an image of size bytes, with no
// checksums: what copy uses when told to work without a bmap.
func Whole(size, blockSize int64) *Map {
	blocks := (size + blockSize - 1) / blockSize
	m := &Map{Version: "2.0", ImageSize: size, BlockSize: blockSize, BlocksCount: blocks}
	if blocks > 0 {
		m.Ranges = []Range{{First: 0, Last: blocks - 1}}
		m.MappedBlocksCount = blocks
	}
	return m
}

func newHash(name string) (hash.Hash, error) {
	switch name {
	case "":
		return nil, nil
	case "sha256":
		return sha256.New(), nil
	case "sha1":
		return sha1.New(), nil
	case "sha512":
		return sha512.New(), nil
	case "sha224":
		return sha256.New224(), nil
	case "sha384":
		return sha512.New384(), nil
	}
	return nil, fmt.Errorf("unsupported checksum type %q (want sha256, sha1, sha224, sha384 or sha512)", name)
}

// A ChecksumError reports image bytes that do not match a range's checksum.
type ChecksumError struct {
	Range          Range
	Offset, Length int64  // the bytes of the image the range covers
	Type           string // checksum type, such as "sha256"
	Got            []byte // digest of the bytes read
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("checksum mismatch for blocks %d-%d (bytes %d-%d): %s of the image data is %x, the bmap says %x",
		e.Range.First, e.Range.Last, e.Offset, e.Offset+e.Length-1, e.Type, e.Got, e.Range.Checksum)
}

// Subset returns a map of the same image that maps only rs, which must be
// ranges of m (sorted, as m's are). The file checksum is dropped: the
// subset is no longer the file it was read from.
func (m *Map) Subset(rs []Range) *Map {
	sub := *m
	sub.FileChecksum = nil
	sub.Ranges = append([]Range(nil), rs...)
	sub.MappedBlocksCount = 0
	for _, r := range rs {
		sub.MappedBlocksCount += r.Blocks()
	}
	return &sub
}
