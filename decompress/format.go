package decompress

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/bits"
	"strconv"
	"strings"

	"github.com/bmap-tools/bmap/decompress/internal/lzop"
	"github.com/ulikunitz/xz/lzma"
)

// Format is a compression format, or an archive format that holds the
// image as a member (Zip).
type Format int

// Formats. Raw means no compression.
const (
	Raw Format = iota
	Gzip
	Bzip2
	XZ
	LZMA // legacy .lzma (LZMA_Alone): no magic; by name, or by its header and a trial decode
	Zstd
	LZ4
	LZO // lzop container
	Zip
)

var formatNames = [...]string{
	Raw:   "raw",
	Gzip:  "gzip",
	Bzip2: "bzip2",
	XZ:    "xz",
	LZMA:  "lzma",
	Zstd:  "zstd",
	LZ4:   "lz4",
	LZO:   "lzo",
	Zip:   "zip",
}

// String returns the format's short name: "raw", "gzip", "bzip2", "xz",
// "lzma", "zstd", "lz4", "lzo" or "zip".
func (f Format) String() string {
	if f >= 0 && int(f) < len(formatNames) {
		return formatNames[f]
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// Kind is what NewReader found: a compression format, and whether the
// decompressed stream is a tar archive whose first regular file is the image.
type Kind struct {
	Format Format
	Tar    bool
}

// String returns e.g. "gzip", "tar", "tar+xz".
func (k Kind) String() string {
	switch {
	case !k.Tar:
		return k.Format.String()
	case k.Format == Raw:
		return "tar"
	default:
		return "tar+" + k.Format.String()
	}
}

// Magic numbers, at offset 0 of the stream.
var magics = []struct {
	f     Format
	magic string
}{
	{Gzip, "\x1f\x8b"},
	{Bzip2, "BZh"}, // followed by '1'..'9', checked in sniff
	{XZ, "\xfd7zXZ\x00"},
	{Zstd, "\x28\xb5\x2f\xfd"},
	{LZ4, "\x04\x22\x4d\x18"}, // frame
	{LZ4, "\x02\x21\x4c\x18"}, // legacy frame (lz4 -l)
	{LZO, lzop.Magic},
	{Zip, "PK\x03\x04"}, // local file header
	{Zip, "PK\x05\x06"}, // end of central directory: an empty archive
	{Zip, "PK\x07\x08"}, // spanning marker before the first local header
}

// isMagicPrefix reports whether b (shorter than a magic) could be the start
// of a stream of format f: the stream was cut inside its magic.
func isMagicPrefix(f Format, b []byte) bool {
	for _, m := range magics {
		if m.f == f && len(b) < len(m.magic) && strings.HasPrefix(m.magic, string(b)) {
			return true
		}
	}
	if f == Bzip2 && string(b) == "BZh" {
		return true
	}
	if (f == Zstd || f == LZ4) && len(b) < 4 { // skippable frame: 5? 2A 4D 18
		ok := true
		for i, c := range b {
			ok = ok && (i == 0 && c&0xF0 == 0x50 || i > 0 && c == "\x50\x2a\x4d\x18"[i])
		}
		return ok
	}
	return false
}

// Skippable frames (zstd and lz4 share this range): magic 0x184D2A5?, LE.
func isSkippable(b []byte) bool {
	return len(b) >= 4 && binary.LittleEndian.Uint32(b)&^0xF == 0x184D2A50
}

// sniff returns the format whose magic begins b. more is true if b is too
// short to decide (then f is meaningless); the caller peeks further.
// hint is the format suggested by the name, used only to break the zstd/lz4
// tie of a stream that holds nothing but skippable frames.
func sniff(b []byte, eof bool, hint Format) (f Format, ok, more bool) {
	// Walk over skippable frames: pzstd starts its files with one.
	off := 0
	for isSkippable(b[off:]) {
		if len(b[off:]) < 8 {
			return 0, false, !eof
		}
		size := int64(binary.LittleEndian.Uint32(b[off+4:]))
		next := int64(off) + 8 + size
		if next > int64(len(b)) {
			if eof {
				// Truncated skippable frame: let the decoder report it.
				return skippableOwner(hint), true, false
			}
			if next > maxSniff {
				// Too far to look; guess from the name.
				return skippableOwner(hint), true, false
			}
			return 0, false, true
		}
		off = int(next)
	}
	rest := b[off:]
	for _, m := range magics {
		if bytes.HasPrefix(rest, []byte(m.magic)) {
			if m.f == Bzip2 && (len(rest) < 4 || rest[3] < '1' || rest[3] > '9') {
				if len(rest) < 4 && !eof {
					return 0, false, true
				}
				continue
			}
			if off > 0 && m.f != Zstd && m.f != LZ4 {
				break // skippable frames only precede zstd/lz4 frames
			}
			return m.f, true, false
		}
		if !eof && len(rest) < len(m.magic) && strings.HasPrefix(m.magic, string(rest)) {
			return 0, false, true
		}
	}
	if off > 0 {
		// Only skippable frames (or garbage after them).
		return skippableOwner(hint), true, false
	}
	return Raw, false, false
}

func skippableOwner(hint Format) Format {
	if hint == LZ4 {
		return LZ4
	}
	return Zstd
}

// maxSniff bounds how far sniff looks past skippable frames.
const maxSniff = 64 << 10

// suffixes maps name endings to formats, longest first within a family.
// bmaptool's list (TransRead.py), plus legacy .lzma.
var suffixes = []struct {
	suffix string
	kind   Kind
}{
	{".tar.gz", Kind{Gzip, true}},
	{".tgz", Kind{Gzip, true}},
	{".gz", Kind{Gzip, false}},
	{".gzip", Kind{Gzip, false}},
	{".tar.bz2", Kind{Bzip2, true}},
	{".tbz", Kind{Bzip2, true}},
	{".tbz2", Kind{Bzip2, true}},
	{".tb2", Kind{Bzip2, true}},
	{".bz2", Kind{Bzip2, false}},
	{".tar.xz", Kind{XZ, true}},
	{".txz", Kind{XZ, true}},
	{".xz", Kind{XZ, false}},
	{".tar.lzma", Kind{LZMA, true}},
	{".lzma", Kind{LZMA, false}},
	{".tar.zst", Kind{Zstd, true}},
	{".tzst", Kind{Zstd, true}},
	{".zst", Kind{Zstd, false}},
	{".tar.lz4", Kind{LZ4, true}},
	{".tlz4", Kind{LZ4, true}},
	{".lz4", Kind{LZ4, false}},
	{".tar.lzo", Kind{LZO, true}},
	{".tzo", Kind{LZO, true}},
	{".lzo", Kind{LZO, false}},
	{".zip", Kind{Zip, false}},
	{".tar", Kind{Raw, true}},
}

// KindFromName returns the kind that name's suffix suggests (case is
// ignored), and ok=false if the suffix is not one of bmaptool's.
func KindFromName(name string) (k Kind, ok bool) {
	lower := strings.ToLower(name)
	for _, s := range suffixes {
		if strings.HasSuffix(lower, s.suffix) && len(lower) > len(s.suffix) {
			return s.kind, true
		}
	}
	return Kind{}, false
}

// isTarHeader reports whether b starts with a ustar or GNU tar header with
// a valid checksum.
func isTarHeader(b []byte) bool {
	if len(b) < 512 {
		return false
	}
	magic := string(b[257:265])
	if magic != "ustar\x0000" && magic != "ustar  \x00" {
		return false
	}
	// The checksum field (148:156) is octal, counted as spaces.
	var sum, ssum int64
	for i, c := range b[:512] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int64(c)
		ssum += int64(int8(c))
	}
	field := strings.Trim(string(b[148:156]), " \x00")
	var want int64
	if field == "" {
		return false
	}
	for _, c := range field {
		if c < '0' || c > '7' {
			return false
		}
		want = want*8 + int64(c-'0')
	}
	return want == sum || want == ssum
}

// LZMA_Alone detection. The format has no magic number: a 13-byte header
// (properties, dictionary size, uncompressed size or -1) and the range
// coder's data, whose first byte is zero. A raw image must not be taken
// for one, so isLZMA asks for what liblzma's own detection asks for (xz
// --format=auto: lc+lp <= 4, a dictionary of 2^n or 2^n+2^(n-1) bytes, a
// size under 256 GiB), a dictionary of at least 4 KiB and an image of at
// least one byte, and then for the first lzmaTrial bytes to decode: a
// zero-filled disk image (GPT, ext4 and ISO images start with zeros) fails
// the dictionary check, one starting with boot code (a jump, 0xEB, 0xE9,
// 0xFA...) the properties check, and random bytes the decode. Only a raw
// image that starts with 13 bytes of a valid header and then decodable
// data would be taken for LZMA: no disk image does.
const lzmaTrial = 64 << 10

// isLZMA reports whether br starts with an LZMA_Alone stream.
func isLZMA(br *bufio.Reader) bool {
	if h, _ := br.Peek(14); len(h) < 14 || !plausibleLZMAHeader(h) {
		return false
	}
	head, err := br.Peek(lzmaTrial)
	eof := err != nil // the whole input is in head
	// The decoder decodes as much as its dictionary holds at once, and the
	// trial reads less than that: one fill, so no valid match reaches back
	// further than the dictionary, and a header asking for 1 GiB costs
	// 4*lzmaTrial bytes.
	trial := bytes.Clone(head)
	if dict := binary.LittleEndian.Uint32(trial[1:]); dict > 4*lzmaTrial {
		binary.LittleEndian.PutUint32(trial[1:], 4*lzmaTrial)
	}
	in := bytes.NewReader(trial)
	z, err := lzma.ReaderConfig{DictCap: 4 * lzmaTrial}.NewReader(in)
	if err != nil {
		return false
	}
	n, err := io.Copy(io.Discard, io.LimitReader(z, lzmaTrial))
	switch {
	case err == nil && n == lzmaTrial:
		return true
	case err == nil:
		// The stream ended (end marker or size): it must be all the input.
		return eof && in.Len() == 0
	case errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF:
		// Cut by the trial's window, or a stream cut short that decoded
		// without a fault for at least 1 KiB of input.
		return !eof || len(head) >= 1<<10
	}
	return false
}

// plausibleLZMAHeader checks an LZMA_Alone header as liblzma's format
// detection does, and a little more (see isLZMA).
func plausibleLZMAHeader(h []byte) bool {
	props := int(h[0])
	if props >= 9*5*5 {
		return false
	}
	lc, lp := props%9, props/9%5
	if lc+lp > 4 {
		return false
	}
	dict := binary.LittleEndian.Uint32(h[1:])
	if dict < 4<<10 {
		return false
	}
	// 2^n or 2^n + 2^(n-1): the top bit and at most the one below it.
	top := uint32(1) << (31 - bits.LeadingZeros32(dict))
	if rest := dict - top; rest != 0 && rest != top>>1 {
		return false
	}
	size := binary.LittleEndian.Uint64(h[5:])
	if size != ^uint64(0) && (size == 0 || size >= 1<<38) {
		return false
	}
	return h[13] == 0 // the range coder's first byte
}
