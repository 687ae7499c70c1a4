package simg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// A Chunk is one chunk of a sparse image as Next returns it.
type Chunk struct {
	// Index is the chunk's number, 0 for the first.
	Index int
	Type  ChunkType
	// SparseOffset is the byte offset of the chunk's header in the sparse
	// file.
	SparseOffset int64
	// Offset and Length are the bytes of the image the chunk covers;
	// Length is 0 for a CRC32 chunk.
	Offset, Length int64
	// Pattern is what a FILL chunk repeats, in image byte order.
	Pattern [4]byte
	// CRC is the value a CRC32 chunk holds.
	CRC uint32
}

// Data reports whether the chunk holds data to be written: RAW, and FILL
// (zeros included: a device may hold old data there).
func (c Chunk) Data() bool { return (c.Type == Raw || c.Type == Fill) && c.Length > 0 }

// ZeroFill reports whether the chunk is a FILL chunk of zeros.
func (c Chunk) ZeroFill() bool { return c.Type == Fill && c.Pattern == [4]byte{} }

// A Reader reads a sparse image from a stream and yields the image it
// describes: Read returns the image's bytes from offset 0 (RAW chunks'
// data, FILL patterns, zeros for DONT_CARE), and Next moves to the start
// of the next chunk and says what it is. Both can be mixed: Next skips
// what is left of the current chunk.
//
// The header is read and checked by NewReader; each chunk header is
// checked when it is reached, so an error in a chunk comes after the
// image bytes before it (a *FormatError naming the chunk). Read returns
// io.EOF only after the last chunk, once the chunks were found to cover
// exactly the blocks the header declares and the stream to end there.
//
// CRC32 chunks are checked against the image bytes before them, holes
// counted as zeros. RAW data that is skipped rather than read (by Next or
// Discard) is read and hashed anyway, except on an io.Seeker (such as an
// *os.File), where it is sought over: CRC32 chunks after it cannot be
// checked and are not.
type Reader struct {
	src    io.Reader
	seeker io.Seeker // src, if it can seek; then size is its length from where we started
	size   int64
	hdr    Header

	in    int64 // bytes of the sparse file consumed
	next  int64 // index of the next chunk header
	block int64 // blocks covered by the chunks read so far
	cur   Chunk // the chunk being read
	out   int64 // image bytes read or skipped

	crc   uint32
	crcOK bool // every image byte so far went into crc

	cut int64 // bytes Truncate cut off the image's end

	extents []extent // the data chunks seen, merged
	err     error    // sticky; io.EOF at the end
	buf     []byte   // scratch for skipped bytes
}

// An extent is a run of data blocks.
type extent struct {
	first, blocks int64
	zero          bool // FILL chunks of zeros
}

// NewReader reads and checks the header of the sparse image r holds.
// It does not close r.
func NewReader(r io.Reader) (*Reader, error) {
	rd := &Reader{src: r, crcOK: true, cur: Chunk{Index: -1}}
	rd.seeker, rd.size = seekable(r)
	var b [HeaderSize]byte
	if n, err := io.ReadFull(r, b[:]); err != nil {
		return nil, rd.readErr(-1, 0, fmt.Sprintf("header: got %d of %d bytes", n, HeaderSize), err)
	}
	rd.in = HeaderSize
	h, err := parseHeader(b[:])
	if err != nil {
		return nil, err
	}
	rd.hdr = h
	if extra := int64(h.FileHeaderSize) - HeaderSize; extra > 0 {
		if n, err := rd.drop(extra); err != nil {
			return nil, rd.readErr(-1, 0, fmt.Sprintf("header: got %d of %d bytes", HeaderSize+n, h.FileHeaderSize), err)
		}
	}
	return rd, nil
}

// Header returns the file header.
func (r *Reader) Header() Header { return r.hdr }

// Size returns the size of the image in bytes.
func (r *Reader) Size() int64 { return r.hdr.ImageSize() }

// Offset returns how many bytes of the image have been read or skipped.
func (r *Reader) Offset() int64 { return r.out }

// InputOffset returns how many bytes of the sparse file have been
// consumed.
func (r *Reader) InputOffset() int64 { return r.in }

// left returns how many bytes of the current chunk have not been read.
func (r *Reader) left() int64 { return r.cur.Offset + r.cur.Length - r.out }

// fail makes err sticky and returns it.
func (r *Reader) fail(err error) error {
	if r.err == nil {
		r.err = err
	}
	return r.err
}

// Next skips what is left of the current chunk, reads and checks the
// next chunk header, and returns the chunk; Read then reads its bytes.
// After the last chunk it returns io.EOF, once the image was found
// complete (see Reader).
func (r *Reader) Next() (Chunk, error) {
	if r.err != nil {
		return Chunk{}, r.err
	}
	if err := r.skip(r.left()); err != nil {
		return Chunk{}, r.fail(err)
	}
	c, err := r.advance()
	if err != nil {
		return Chunk{}, r.fail(err)
	}
	return c, nil
}

// Read reads the image's next bytes.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.out >= r.end() {
		return 0, r.fail(r.tail())
	}
	for r.left() == 0 {
		if _, err := r.advance(); err != nil {
			return 0, r.fail(err)
		}
	}
	n, err := r.read(p[:min(int64(len(p)), r.left(), r.end()-r.out)])
	if err != nil {
		return n, r.fail(err)
	}
	return n, nil
}

// read reads len(p) bytes of the current chunk, which has that many left.
func (r *Reader) read(p []byte) (int, error) {
	c := &r.cur
	if c.Type != Raw {
		fillPattern(p, c.Pattern, r.out-c.Offset)
		r.hashRepeat(int64(len(p)))
		r.out += int64(len(p))
		return len(p), nil
	}
	n, err := io.ReadFull(r.src, p)
	r.in += int64(n)
	if r.crcOK {
		r.crc = crc32.Update(r.crc, crc32.IEEETable, p[:n])
	}
	r.out += int64(n)
	if err != nil {
		return n, r.dataErr(r.out-c.Offset, err)
	}
	return n, nil
}

// Discard skips the next n bytes of the image, as Read would return them,
// with the same checks. Holes and FILL chunks cost nothing to skip.
func (r *Reader) Discard(n int) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	done := int64(0)
	for done < int64(n) {
		if r.out >= r.end() {
			return int(done), r.fail(r.tail())
		}
		if r.left() == 0 {
			if _, err := r.advance(); err != nil {
				return int(done), r.fail(err)
			}
			continue
		}
		k := min(int64(n)-done, r.left(), r.end()-r.out)
		if err := r.skip(k); err != nil {
			return int(done), r.fail(err)
		}
		done += k
	}
	return int(done), nil
}

// Truncate makes Read and Discard end the image after size bytes instead
// of Size(), for a bmap of the raw image the sparse image was made from:
// img2simg pads a raw image whose size is not a multiple of the block
// size with zeros up to the next block, which the bmap does not count. So
// size must lie in the last block. The bytes cut off must be zeros: they
// are read and checked, with the rest of the file, before Read returns
// io.EOF.
func (r *Reader) Truncate(size int64) error {
	if bs := int64(r.hdr.BlockSize); size > r.Size() || size <= r.Size()-bs || size < r.out {
		return fmt.Errorf("android sparse image: cutting the %d-byte image to %d bytes: only the padding of its last %d-byte block can go", r.Size(), size, bs)
	}
	r.cut = r.Size() - size
	return nil
}

// end returns where Read ends the image.
func (r *Reader) end() int64 { return r.Size() - r.cut }

// tail reads the bytes Truncate cut off, checks they are zeros, and
// finishes the file: it returns io.EOF if all is well.
func (r *Reader) tail() error {
	var buf [512]byte
	for r.out < r.Size() {
		for r.left() == 0 {
			if _, err := r.advance(); err != nil {
				return err
			}
		}
		at := r.out
		p := buf[:min(int64(len(buf)), r.left())]
		if _, err := r.read(p); err != nil {
			return err
		}
		for i, c := range p {
			if c != 0 {
				return &FormatError{Chunk: r.cur.Index, Offset: r.cur.SparseOffset,
					Msg: fmt.Sprintf("image byte %d is not zero, but the image is cut to %d bytes: only zero padding can go", at+int64(i), r.end())}
			}
		}
	}
	for {
		if _, err := r.advance(); err != nil {
			return err
		}
	}
}

// hashRepeat adds the next n bytes of the current FILL or DONT_CARE chunk
// to the CRC.
func (r *Reader) hashRepeat(n int64) {
	if r.crcOK {
		r.crc = crcRepeat(r.crc, rotate(r.cur.Pattern, r.out-r.cur.Offset), n)
	}
}

// skip skips n bytes of the current chunk, n <= left().
func (r *Reader) skip(n int64) error {
	if n == 0 {
		return nil
	}
	if r.cur.Type != Raw {
		r.hashRepeat(n)
		r.out += n
		return nil
	}
	if r.seeker != nil {
		if r.in+n > r.size {
			return r.dataErr(r.out-r.cur.Offset+r.size-r.in, io.ErrUnexpectedEOF)
		}
		if _, err := r.seeker.Seek(n, io.SeekCurrent); err != nil {
			return fmt.Errorf("android sparse image: chunk %d: seeking over %d bytes of data at byte %d: %w", r.cur.Index, n, r.in, err)
		}
		r.in += n
		r.out += n
		r.crcOK = false
		return nil
	}
	if r.buf == nil {
		r.buf = make([]byte, 64<<10)
	}
	for n > 0 {
		p := r.buf[:min(n, int64(len(r.buf)))]
		k, err := io.ReadFull(r.src, p)
		r.in += int64(k)
		r.out += int64(k)
		n -= int64(k)
		if r.crcOK {
			r.crc = crc32.Update(r.crc, crc32.IEEETable, p[:k])
		}
		if err != nil {
			return r.dataErr(r.out-r.cur.Offset, err)
		}
	}
	return nil
}

// dataErr describes err, met after got bytes of the current RAW chunk's
// data.
func (r *Reader) dataErr(got int64, err error) error {
	c := r.cur
	return r.readErr(c.Index, c.SparseOffset, fmt.Sprintf("RAW data ends after %d of its %d bytes", got, c.Length), err)
}

// readErr turns a failed read into a *FormatError if the file ended
// early, else wraps it with where it happened.
func (r *Reader) readErr(chunk int, at int64, msg string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &FormatError{Chunk: chunk, Offset: at, Msg: msg, Err: io.ErrUnexpectedEOF}
	}
	if chunk >= 0 {
		return fmt.Errorf("android sparse image: chunk %d at byte %d: reading at byte %d: %w", chunk, at, r.in, err)
	}
	return fmt.Errorf("android sparse image: reading at byte %d: %w", r.in, err)
}

// drop reads and discards n bytes of headers.
func (r *Reader) drop(n int64) (int64, error) {
	k, err := io.CopyN(io.Discard, r.src, n)
	r.in += k
	return k, err
}

// advance reads the next chunk header, once the current chunk is done,
// and makes it the current chunk.
func (r *Reader) advance() (Chunk, error) {
	if r.next == int64(r.hdr.Chunks) {
		return Chunk{}, r.finish()
	}
	h := r.hdr
	bs := int64(h.BlockSize)
	c := Chunk{Index: int(r.next), SparseOffset: r.in, Offset: r.block * bs}
	bad := func(format string, a ...any) error {
		return &FormatError{Chunk: c.Index, Offset: c.SparseOffset, Msg: fmt.Sprintf(format, a...)}
	}
	var b [ChunkHeaderSize + 4]byte
	if n, err := io.ReadFull(r.src, b[:ChunkHeaderSize]); err != nil {
		r.in += int64(n)
		return Chunk{}, r.readErr(c.Index, c.SparseOffset,
			fmt.Sprintf("header: got %d of %d bytes (the file header declares %d chunks)", n, h.ChunkHeaderSize, h.Chunks), err)
	}
	r.in += ChunkHeaderSize
	if extra := int64(h.ChunkHeaderSize) - ChunkHeaderSize; extra > 0 {
		if n, err := r.drop(extra); err != nil {
			return Chunk{}, r.readErr(c.Index, c.SparseOffset,
				fmt.Sprintf("header: got %d of %d bytes", ChunkHeaderSize+n, h.ChunkHeaderSize), err)
		}
	}
	c.Type = ChunkType(binary.LittleEndian.Uint16(b[0:]))
	blocks := int64(binary.LittleEndian.Uint32(b[4:]))
	total := int64(binary.LittleEndian.Uint32(b[8:]))
	switch c.Type {
	case Raw, Fill, DontCare:
	case CRC32:
		blocks = 0 // libsparse ignores the block count of CRC32 chunks
	default:
		return Chunk{}, bad("unknown chunk type %s (want RAW %04X, FILL %04X, DONT_CARE %04X or CRC32 %04X)",
			c.Type, uint16(Raw), uint16(Fill), uint16(DontCare), uint16(CRC32))
	}
	if end := r.block + blocks; end > int64(h.Blocks) {
		return Chunk{}, bad("%s chunk of %d blocks ends at block %d, past the %d blocks of the image", c.Type, blocks, end, h.Blocks)
	}
	var payload int64 // what follows the header
	switch c.Type {
	case Raw:
		payload = blocks * bs
	case Fill, CRC32:
		payload = 4
	}
	if want := int64(h.ChunkHeaderSize) + payload; total != want {
		what := fmt.Sprintf("%d bytes of data", payload)
		switch c.Type {
		case Fill:
			what = "a 4-byte pattern"
		case CRC32:
			what = "a 4-byte CRC"
		case DontCare:
			what = "no data"
		}
		return Chunk{}, bad("%s chunk of %d blocks has a total size of %d bytes, want %d (a %d-byte header and %s)",
			c.Type, blocks, total, want, h.ChunkHeaderSize, what)
	}
	if c.Type == Fill || c.Type == CRC32 {
		if n, err := io.ReadFull(r.src, b[ChunkHeaderSize:]); err != nil {
			r.in += int64(n)
			return Chunk{}, r.readErr(c.Index, c.SparseOffset, fmt.Sprintf("%s chunk: got %d of its 4 bytes", c.Type, n), err)
		}
		r.in += 4
	}
	c.Length = blocks * bs
	switch c.Type {
	case Fill:
		c.Pattern = [4]byte(b[ChunkHeaderSize:])
	case CRC32:
		c.CRC = binary.LittleEndian.Uint32(b[ChunkHeaderSize:])
		if r.crcOK && c.CRC != r.crc {
			return Chunk{}, &FormatError{Chunk: c.Index, Offset: c.SparseOffset, Err: ErrCRC,
				Msg: fmt.Sprintf("the chunk holds CRC-32 %08x, but the image's first %d bytes have %08x", c.CRC, r.out, r.crc)}
		}
	}
	if c.Data() {
		e := extent{first: r.block, blocks: blocks, zero: c.ZeroFill()}
		if n := len(r.extents); n > 0 && r.extents[n-1].first+r.extents[n-1].blocks == e.first && r.extents[n-1].zero == e.zero {
			r.extents[n-1].blocks += e.blocks
		} else {
			r.extents = append(r.extents, e)
		}
	}
	r.next++
	r.block += blocks
	r.cur = c
	return c, nil
}

// finish checks, after the last chunk, that the chunks covered the image
// and that the file ends there, and returns io.EOF.
func (r *Reader) finish() error {
	h := r.hdr
	if r.block != int64(h.Blocks) {
		return &FormatError{Chunk: -1, Offset: r.in,
			Msg: fmt.Sprintf("the %d chunks cover %d blocks, but the header declares %d", h.Chunks, r.block, h.Blocks)}
	}
	if r.seeker != nil {
		if r.in < r.size {
			return &FormatError{Chunk: -1, Offset: r.in,
				Msg: fmt.Sprintf("%d more bytes after the last of the %d chunks the header declares", r.size-r.in, h.Chunks)}
		}
		return io.EOF
	}
	var one [1]byte
	n, err := io.ReadFull(r.src, one[:])
	switch {
	case n > 0:
		return &FormatError{Chunk: -1, Offset: r.in,
			Msg: fmt.Sprintf("more data after the last of the %d chunks the header declares", h.Chunks)}
	case err != io.EOF:
		return fmt.Errorf("android sparse image: reading after the last chunk at byte %d: %w", r.in, err)
	}
	return io.EOF
}

// seekable returns r as an io.Seeker and its length from where it is, or
// nil if r cannot seek (a pipe's *os.File cannot).
func seekable(r io.Reader) (io.Seeker, int64) {
	s, ok := r.(io.Seeker)
	if !ok {
		return nil, 0
	}
	here, err := s.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, 0
	}
	end, err := s.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, 0
	}
	if _, err := s.Seek(here, io.SeekStart); err != nil {
		return nil, 0
	}
	return s, end - here
}
