// Package lzop reads the container format written by the lzop program
// (version 1.x): a header, then blocks of LZO1X data, each with optional
// Adler-32 or CRC-32 checksums of its compressed and decompressed bytes.
//
// NewReader decodes the blocks on several goroutines (each block decodes
// alone and carries its own checksums) and serves the output in order; with
// one worker it decodes them one after another on the calling goroutine,
// with the same checks and errors.
//
// The LZO1X blocks are decoded by this package's own decoder (lzo1x.go),
// which copies matches and literals by words or copy(), and long
// overlapping matches (runs of zeros) by doubling copies, where
// github.com/anchore/go-lzo (used before, and still the reference in the
// tests) copies byte by byte. Block Adler-32s use a word-at-a-time
// Adler-32 (adler.go) rather than hash/adler32's byte loop. Both are
// several times faster than what they replaced; the measurements are in
// README.md, next to this file.
//
// Layout (all integers big-endian):
//
//	file   = magic header [extra] block* end
//	magic  = 89 4C 5A 4F 00 0D 0A 1A 0A                     "\x89LZO\0\r\n\x1a\n"
//	header = version:2 libversion:2 [needed:2]            needed, level and
//	         method:1 [level:1] flags:4 [filter:4]          mtimehigh only when
//	         mode:4 mtimelow:4 [mtimehigh:4]                version >= 0x0940;
//	         namelen:1 name checksum:4                      filter if F_H_FILTER
//	extra  = len:4 data checksum:4                          if F_H_EXTRA_FIELD
//	block  = dstlen:4 srclen:4 [dadler:4] [dcrc:4] [cadler:4] [ccrc:4] data
//	end    = 00 00 00 00
//
// The header checksum is Adler-32, or CRC-32 if F_H_CRC32 is set. A block
// with srclen == dstlen is stored uncompressed and has no compressed-data
// checksums (they would equal the decompressed ones).
//
// Like lzop -d, a Reader decodes several lzop files written one after
// another as one stream. Anything else after the end of a file is an error
// (lzop -d warns "ignoring trailing garbage" and exits with status 2).
//
// Filters (lzop -F... / F_H_FILTER), split files and the NRV and zlib
// methods are refused with an error naming what is unsupported.
package lzop

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"hash/crc32"
	"io"
	"sync/atomic"
	"time"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
)

// Magic is the first nine bytes of every lzop file.
const Magic = "\x89LZO\x00\r\n\x1a\n"

// Header flags (lzop's conf.h).
const (
	flagAdler32D   = 0x00000001 // Adler-32 of each block's decompressed data
	flagAdler32C   = 0x00000002 // Adler-32 of each block's compressed data
	flagStdin      = 0x00000004
	flagStdout     = 0x00000008
	flagNameDef    = 0x00000010
	flagDOSish     = 0x00000020
	flagExtraField = 0x00000040 // an extra field follows the header
	flagGMTDiff    = 0x00000080
	flagCRC32D     = 0x00000100 // CRC-32 of each block's decompressed data
	flagCRC32C     = 0x00000200 // CRC-32 of each block's compressed data
	flagMultipart  = 0x00000400
	flagFilter     = 0x00000800 // data went through a filter (unsupported)
	flagHeaderCRC  = 0x00001000 // header checksum is CRC-32, not Adler-32
	flagPath       = 0x00002000

	flagMask   = 0x00003FFF
	flagOSMask = 0xFF000000
	flagCSMask = 0x00F00000
)

// Compression methods.
const (
	methodLZO1X1   = 1 // lzop -1 .. -6
	methodLZO1X115 = 2 // lzop -2 .. -6 on 16-bit systems
	methodLZO1X999 = 3 // lzop -7 .. -9
)

const (
	// maxBlockSize is the largest block lzop writes or reads (64 MiB).
	maxBlockSize = 64 << 20

	// readerVersion is the lzop version whose format this package reads;
	// files that need a newer one are refused, as lzop itself does.
	readerVersion = 0x1040
)

// codec names the format in the errors, *fault.Error values. What names
// the structure: "file header", "extra field", "block" or "trailing data";
// Offset is where it starts (the file's magic, the block's header).
const codec = "lzo"

// fileHeader is the header of one lzop file.
type fileHeader struct {
	Version       uint16 // lzop version that wrote the file
	LibVersion    uint16 // LZO library version
	VersionNeeded uint16 // lzop version needed to extract (0 before 0x0940)
	Method        uint8
	Level         uint8
	Flags         uint32
	Mode          uint32
	ModTime       time.Time
	Name          string
}

// Reader decompresses an lzop stream. Data returned by Read is tentative
// until Read returns io.EOF: a block is returned as soon as its own
// checksums match.
type Reader struct {
	first fileHeader // of the first file (for tests)

	r     io.Reader
	off   atomic.Int64 // compressed bytes consumed
	files int          // lzop files read
	err   error
	cur   fileHeader // header of the file being read

	// Sequential decoding.
	buf []byte // compressed data
	out []byte // decoded block not yet returned is out[pos:]
	pos int

	// Parallel decoding (see parallel.go); nil when sequential.
	par *parallel
}

// newSeqReader reads the lzop header from r and returns a Reader positioned
// at the first block, which decodes the blocks one after another on the
// calling goroutine. Input is read in exact amounts (no read-ahead), so r
// may be a shared *bufio.Reader whose position matters to the caller.
func newSeqReader(r io.Reader) (*Reader, error) {
	z := &Reader{r: r}
	h, err := z.readHeader(true)
	if err != nil {
		return nil, err
	}
	z.first, z.cur = h, h
	return z, nil
}

// InputOffset returns the number of compressed bytes consumed so far. A
// parallel Reader reads ahead of the data Read has returned, by up to its
// memory budget. It is safe to call from any goroutine.
func (z *Reader) InputOffset() int64 { return z.off.Load() }

// Read implements io.Reader. Errors are sticky.
func (z *Reader) Read(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	if z.par != nil {
		n, err := z.par.ord.Read(p)
		z.err = err
		return n, err
	}
	n := 0
	for n < len(p) {
		if z.pos < len(z.out) {
			c := copy(p[n:], z.out[z.pos:])
			z.pos += c
			n += c
			continue
		}
		if n > 0 {
			// Deliver what we have before doing the next block's work.
			break
		}
		if err := z.nextBlock(p[n:], &n); err != nil {
			z.err = err
			return n, err
		}
	}
	return n, nil
}

// full reads exactly len(b) bytes of the structure what at offset at; a
// short read is io.ErrUnexpectedEOF.
func (z *Reader) full(b []byte, at int64, what string) error {
	n, err := io.ReadFull(z.r, b)
	z.off.Add(int64(n))
	if err != nil {
		return fault.Input(codec, at, what, err)
	}
	return nil
}

func corrupt(at int64, what string, format string, args ...any) error {
	return &fault.Error{Format: codec, Offset: at, What: what, Kind: fault.ErrCorrupt, Err: fmt.Errorf(format, args...)}
}

func unsupported(at int64, what string, format string, args ...any) error {
	return &fault.Error{Format: codec, Offset: at, What: what, Kind: fault.ErrUnsupported, Err: fmt.Errorf(format, args...)}
}

// readHeader reads one file header. If first is false, a clean end of input
// before the magic means the stream is done (io.EOF).
func (z *Reader) readHeader(first bool) (fileHeader, error) {
	var h fileHeader
	const what = "file header"
	at := z.off.Load() // where the file starts
	notFile := func() error {
		if first {
			return &fault.Error{Format: codec, Offset: at, What: what, Kind: fault.ErrFormat}
		}
		return &fault.Error{Format: codec, Offset: at, What: "trailing data", Kind: fault.ErrTrailingData}
	}
	if p, ok := z.r.(interface{ Peek(int) ([]byte, error) }); ok && !first {
		// Look before consuming, so the offset of trailing data is exact.
		b, err := p.Peek(len(Magic))
		switch {
		case len(b) == 0 && err == io.EOF:
			return h, io.EOF
		case err != nil && err != io.EOF:
			return h, fault.Input(codec, at, what, err)
		case !bytes.HasPrefix([]byte(Magic), b) && !bytes.HasPrefix(b, []byte(Magic)):
			return h, notFile()
		}
	}
	var magic [len(Magic)]byte
	n, err := io.ReadFull(z.r, magic[:])
	z.off.Add(int64(n))
	switch {
	case err == io.EOF && !first:
		return h, io.EOF
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		if bytes.HasPrefix([]byte(Magic), magic[:n]) {
			return h, fault.Input(codec, at, what, io.ErrUnexpectedEOF)
		}
		return h, notFile()
	case err != nil:
		return h, fault.Input(codec, at, what, err)
	case string(magic[:]) != Magic:
		return h, notFile()
	}

	// The header is at most 2+2+2+1+1+4+4+4+4+4+1+255+4 bytes; read it
	// field by field into hdr, so the checksum can cover exactly its bytes.
	var hdr []byte
	read := func(k int) ([]byte, error) {
		i := len(hdr)
		hdr = append(hdr, make([]byte, k)...)
		if err := z.full(hdr[i:], at, what); err != nil {
			return nil, err
		}
		return hdr[i:], nil
	}
	u16 := func() (uint16, error) {
		b, err := read(2)
		if err != nil {
			return 0, err
		}
		return binary.BigEndian.Uint16(b), nil
	}
	u32 := func() (uint32, error) {
		b, err := read(4)
		if err != nil {
			return 0, err
		}
		return binary.BigEndian.Uint32(b), nil
	}
	u8 := func() (uint8, error) {
		b, err := read(1)
		if err != nil {
			return 0, err
		}
		return b[0], nil
	}
	bad := func(format string, a ...any) error { return corrupt(at, what, format, a...) }

	if h.Version, err = u16(); err != nil {
		return h, err
	}
	if h.Version < 0x0900 {
		return h, bad("version %#04x is too old", h.Version)
	}
	if h.LibVersion, err = u16(); err != nil {
		return h, err
	}
	newer := h.Version >= 0x0940
	if newer {
		if h.VersionNeeded, err = u16(); err != nil {
			return h, err
		}
	}
	if h.Method, err = u8(); err != nil {
		return h, err
	}
	if newer {
		if h.Level, err = u8(); err != nil {
			return h, err
		}
	}
	if h.Flags, err = u32(); err != nil {
		return h, err
	}
	var filter uint32
	if h.Flags&flagFilter != 0 {
		if filter, err = u32(); err != nil {
			return h, err
		}
	}
	if h.Mode, err = u32(); err != nil {
		return h, err
	}
	mlow, err := u32()
	if err != nil {
		return h, err
	}
	var mhigh uint32
	if newer {
		if mhigh, err = u32(); err != nil {
			return h, err
		}
	}
	if h.Version < 0x0120 && mlow == 0xFFFFFFFF {
		mlow = 0
	}
	h.ModTime = time.Unix(int64(mhigh)<<32|int64(mlow), 0).UTC()
	nlen, err := u8()
	if err != nil {
		return h, err
	}
	name, err := read(int(nlen))
	if err != nil {
		return h, err
	}
	h.Name = string(name)

	var sum [4]byte
	if err := z.full(sum[:], at, what); err != nil {
		return h, err
	}
	if got, want := headerSum(h.Flags, hdr), binary.BigEndian.Uint32(sum[:]); got != want {
		return h, bad("checksum %08x, computed %08x", want, got)
	}

	// Checksum-protected now: judge the contents.
	if h.Flags&^(flagMask|flagOSMask|flagCSMask) != 0 {
		return h, bad("unknown flags %#08x", h.Flags)
	}
	if newer && h.VersionNeeded > readerVersion {
		return h, unsupported(at, what, "the file needs lzop version %x.%03x or newer", h.VersionNeeded>>12, h.VersionNeeded&0xFFF)
	}
	if h.Flags&flagFilter != 0 {
		return h, unsupported(at, what, "filter %d (made with lzop -F...?): decompress it with lzop", filter)
	}
	switch h.Method {
	case methodLZO1X1, methodLZO1X115, methodLZO1X999:
	default:
		return h, unsupported(at, what, "method %d (only LZO1X methods 1-3 are supported)", h.Method)
	}

	if h.Flags&flagExtraField != 0 {
		const what = "extra field"
		xat := z.off.Load()
		var b [4]byte
		if err := z.full(b[:], xat, what); err != nil {
			return h, err
		}
		n := binary.BigEndian.Uint32(b[:])
		if n > 1<<20 {
			return h, corrupt(xat, what, "%d bytes", n)
		}
		extra := make([]byte, 4+n)
		copy(extra, b[:])
		if err := z.full(extra[4:], xat, what); err != nil {
			return h, err
		}
		if err := z.full(b[:], xat, what); err != nil {
			return h, err
		}
		if got, want := headerSum(h.Flags, extra), binary.BigEndian.Uint32(b[:]); got != want {
			return h, corrupt(xat, what, "checksum %08x, computed %08x", want, got)
		}
	}
	z.files++
	return h, nil
}

func headerSum(flags uint32, b []byte) uint32 {
	if flags&flagHeaderCRC != 0 {
		return crc32.ChecksumIEEE(b)
	}
	return adler32.Checksum(b)
}

// blockInfo is what a block header says.
type blockInfo struct {
	at         int64     // compressed offset of the block header
	flags      uint32    // of the file the block belongs to
	dlen, slen uint32    // decompressed and compressed sizes
	sums       [4]uint32 // d-Adler-32, d-CRC-32, c-Adler-32, c-CRC-32
}

func (b *blockInfo) stored() bool { return b.slen == b.dlen }

// readBlockHeader reads the next block header, and at the end of a file
// the next file's header; it returns io.EOF at the end of the stream.
func (z *Reader) readBlockHeader() (blockInfo, error) {
	for {
		bi := blockInfo{at: z.off.Load()}
		var b [8]byte
		if err := z.full(b[:4], bi.at, "block"); err != nil {
			return bi, err
		}
		dlen := binary.BigEndian.Uint32(b[:4])
		if dlen == 0 {
			h, err := z.readHeader(false)
			if err != nil {
				return bi, err
			}
			z.cur = h
			continue
		}
		if dlen == 0xFFFFFFFF {
			return bi, unsupported(bi.at, "block", "split lzop file")
		}
		if dlen > maxBlockSize {
			return bi, corrupt(bi.at, "block", "%d bytes, more than lzop's limit of %d", dlen, maxBlockSize)
		}
		if err := z.full(b[4:8], bi.at, "block"); err != nil {
			return bi, err
		}
		slen := binary.BigEndian.Uint32(b[4:8])
		if slen == 0 || slen > dlen {
			return bi, corrupt(bi.at, "block", "compressed size %d, decompressed size %d", slen, dlen)
		}
		bi.flags, bi.dlen, bi.slen = z.cur.Flags, dlen, slen
		for i, flag := range [4]uint32{flagAdler32D, flagCRC32D, flagAdler32C, flagCRC32C} {
			if bi.flags&flag == 0 || (i >= 2 && bi.stored()) {
				continue
			}
			if err := z.full(b[:4], bi.at, "block"); err != nil {
				return bi, err
			}
			bi.sums[i] = binary.BigEndian.Uint32(b[:4])
		}
		return bi, nil
	}
}

// decodeBlock checks the compressed data src of block b, decodes it into
// dst (b.dlen bytes) and checks the result.
func decodeBlock(b *blockInfo, src, dst []byte) error {
	f := b.flags
	if b.stored() {
		copy(dst, src)
	} else {
		if f&flagAdler32C != 0 {
			if got := adler32Sum(src); got != b.sums[2] {
				return sumErr("compressed", "Adler-32", b.at, got, b.sums[2])
			}
		}
		if f&flagCRC32C != 0 {
			if got := crc32.ChecksumIEEE(src); got != b.sums[3] {
				return sumErr("compressed", "CRC-32", b.at, got, b.sums[3])
			}
		}
		got, err := decompress1x(src, dst)
		if err != nil {
			return corrupt(b.at, "block", "%v", err)
		}
		if got != int(b.dlen) {
			return corrupt(b.at, "block", "%d bytes decoded, the header says %d", got, b.dlen)
		}
	}
	if f&flagAdler32D != 0 {
		if got := adler32Sum(dst); got != b.sums[0] {
			return sumErr("decompressed", "Adler-32", b.at, got, b.sums[0])
		}
	}
	if f&flagCRC32D != 0 {
		if got := crc32.ChecksumIEEE(dst); got != b.sums[1] {
			return sumErr("decompressed", "CRC-32", b.at, got, b.sums[1])
		}
	}
	return nil
}

func sumErr(what, kind string, at int64, got, want uint32) error {
	return corrupt(at, "block", "%s of the %s data %08x, computed %08x", kind, what, want, got)
}

// nextBlock reads and decodes the next block. If it fits in p, it is decoded
// straight into p and *n is advanced; otherwise it goes to z.out. At the end
// of a file it reads the next file's header or returns io.EOF.
func (z *Reader) nextBlock(p []byte, n *int) error {
	bi, err := z.readBlockHeader()
	if err != nil {
		return err
	}
	if cap(z.buf) < int(bi.slen) {
		z.buf = make([]byte, bi.slen, max(int(bi.slen), 256<<10))
	}
	src := z.buf[:bi.slen]
	if err := z.full(src, bi.at, "block"); err != nil {
		return err
	}
	var dst []byte
	direct := len(p) >= int(bi.dlen)
	if direct {
		dst = p[:bi.dlen]
	} else {
		if cap(z.out) < int(bi.dlen) {
			z.out = make([]byte, bi.dlen, max(int(bi.dlen), 256<<10))
		}
		dst = z.out[:bi.dlen]
	}
	if err := decodeBlock(&bi, src, dst); err != nil {
		return err
	}
	if direct {
		*n += int(bi.dlen)
		z.out, z.pos = z.out[:0], 0
	} else {
		z.out, z.pos = dst, 0
	}
	return nil
}
