package decompress

import (
	"archive/zip"
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"strings"
	"sync/atomic"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
	"github.com/klauspost/compress/flate"
)

// openZip makes z read the image in the zip archive (see members.go):
// through the central directory if ra is set, else streaming from local
// headers.
func (z *Reader) openZip(br *bufio.Reader, ra io.ReaderAt, size int64) error {
	if ra != nil {
		return z.openZipAt(ra, size)
	}
	return z.openZipStream(br)
}

// zipMethodName names the methods we meet in the wild, for errors.
func zipMethodName(m uint16) string {
	switch m {
	case 9:
		return "deflate64"
	case 12:
		return "bzip2"
	case 14:
		return "lzma"
	case 93:
		return "zstd"
	case 95:
		return "xz"
	case 99:
		return "AES encryption"
	}
	return fmt.Sprintf("method %d", m)
}

// posReader records where the last read through a ReaderAt ended, as the
// compressed offset for progress and errors: archive/zip reads the member
// data in order, after the central directory at the end.
type posReader struct {
	ra  io.ReaderAt
	pos atomic.Int64
}

func (m *posReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := m.ra.ReadAt(p, off)
	m.pos.Store(off + int64(n))
	return n, err
}

func (z *Reader) openZipAt(ra io.ReaderAt, size int64) error {
	mr := &posReader{ra: ra}
	z.offset = mr.pos.Load
	zr, err := zip.NewReader(mr, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return err
	}
	zr.RegisterDecompressor(zip.Deflate, func(r io.Reader) io.ReadCloser { return flate.NewReader(r) })
	var files []*zip.File
	var ms []member
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		files = append(files, f)
		ms = append(ms, member{f.Name, int64(f.UncompressedSize64)})
	}
	if len(files) == 0 {
		return ErrNoImage
	}
	i, why := chooseMember(ms, z.size)
	if i < 0 {
		return noMemberOfSize("zip", z.size, ms)
	}
	first := files[i]
	z.member = first.Name
	if len(files) > 1 {
		z.notes = append(z.notes, usingNote("zip archive", ms[i], why, append(ms[:i:i], ms[i+1:]...)))
	}
	if first.Flags&1 != 0 {
		return fault.Errorf(ErrUnsupported, "member %q is encrypted", first.Name)
	}
	if first.Method != zip.Store && first.Method != zip.Deflate {
		return fault.Errorf(ErrUnsupported, "member %q uses %s compression (only store and deflate are supported)", first.Name, zipMethodName(first.Method))
	}
	rc, err := first.Open()
	if err != nil {
		return err
	}
	if off, err := first.DataOffset(); err == nil {
		mr.pos.Store(off)
	}
	z.closer = append(z.closer, func() { rc.Close() })
	mb := bufio.NewReaderSize(rc, outBufSize)
	head, _ := mb.Peek(peekSize)
	if err := checkNested(head, fmt.Sprintf("zip member %q", first.Name)); err != nil {
		return err
	}
	z.out = mb
	return nil
}

// Streaming zip: local file header, data, optional data descriptor.
const (
	sigLocal      = 0x04034b50
	sigCentral    = 0x02014b50
	sigEnd        = 0x06054b50
	sigEnd64      = 0x06064b50
	sigDescriptor = 0x08074b50
	flagEncrypted = 0x1
	flagDescr     = 0x8
)

type zipEntry struct {
	name         string
	flags        uint16
	method       uint16
	crc          uint32
	csize, usize uint64
	zip64        bool // the local header has a zip64 extra field
}

// sizeUnknown reports whether the local header leaves the sizes to a data
// descriptor after the data.
func (e zipEntry) sizeUnknown() bool {
	return e.flags&flagDescr != 0 && e.usize == 0
}

// zipStream reads entries one after another from br.
type zipStream struct {
	br       *bufio.Reader
	consumed func() int64
	flate    io.ReadCloser
}

// next reads the next local header; ok is false at the central directory.
func (s *zipStream) next() (e zipEntry, ok bool, err error) {
	var h [30]byte
	for {
		if _, err := io.ReadFull(s.br, h[:4]); err != nil {
			return e, false, unexpected(err)
		}
		switch binary.LittleEndian.Uint32(h[:4]) {
		case sigDescriptor:
			continue // spanning marker in front of the first header
		case sigCentral, sigEnd, sigEnd64:
			return e, false, nil
		case sigLocal:
		default:
			return e, false, fmt.Errorf("%w: bad local header signature % x", zip.ErrFormat, h[:4])
		}
		break
	}
	if _, err := io.ReadFull(s.br, h[4:]); err != nil {
		return e, false, unexpected(err)
	}
	e.flags = binary.LittleEndian.Uint16(h[6:])
	e.method = binary.LittleEndian.Uint16(h[8:])
	e.crc = binary.LittleEndian.Uint32(h[14:])
	e.csize = uint64(binary.LittleEndian.Uint32(h[18:]))
	e.usize = uint64(binary.LittleEndian.Uint32(h[22:]))
	nlen := int(binary.LittleEndian.Uint16(h[26:]))
	xlen := int(binary.LittleEndian.Uint16(h[28:]))
	buf := make([]byte, nlen+xlen)
	if _, err := io.ReadFull(s.br, buf); err != nil {
		return e, false, unexpected(err)
	}
	e.name = string(buf[:nlen])
	for x := buf[nlen:]; len(x) >= 4; {
		id, n := binary.LittleEndian.Uint16(x), int(binary.LittleEndian.Uint16(x[2:]))
		x = x[4:]
		if n > len(x) {
			break
		}
		if id == 0x0001 { // zip64: usize, csize, each only if 0xFFFFFFFF above
			e.zip64 = true
			f := x[:n]
			if e.usize == 0xFFFFFFFF && len(f) >= 8 {
				e.usize, f = binary.LittleEndian.Uint64(f), f[8:]
			}
			if e.csize == 0xFFFFFFFF && len(f) >= 8 {
				e.csize = binary.LittleEndian.Uint64(f)
			}
		}
		x = x[n:]
	}
	return e, true, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// open returns a reader of e's data that checks size and CRC-32 at its end
// (reading the data descriptor first if there is one).
func (s *zipStream) open(e zipEntry) (io.Reader, error) {
	if e.flags&flagEncrypted != 0 {
		return nil, fault.Errorf(ErrUnsupported, "member %q is encrypted", e.name)
	}
	descr := e.flags&flagDescr != 0
	var data io.Reader
	switch e.method {
	case zip.Store:
		if descr && e.csize == 0 {
			return nil, fault.Errorf(ErrUnsupported, "stored member %q has no size in its local header, so it cannot be read as a stream; pass the zip as a file", e.name)
		}
		data = &exactReader{r: s.br, n: int64(e.csize)}
	case zip.Deflate:
		if s.flate == nil {
			s.flate = flate.NewReader(s.br)
		} else if err := s.flate.(flate.Resetter).Reset(s.br, nil); err != nil {
			return nil, err
		}
		data = s.flate
	default:
		return nil, fault.Errorf(ErrUnsupported, "member %q uses %s compression (only store and deflate are supported)", e.name, zipMethodName(e.method))
	}
	return &zipMember{s: s, e: e, r: data, crc: crc32.NewIEEE(), start: s.consumed()}, nil
}

type zipMember struct {
	s     *zipStream
	e     zipEntry
	r     io.Reader
	crc   hash.Hash32
	n     uint64 // decompressed bytes
	start int64  // compressed offset of the data
	err   error
}

func (m *zipMember) Read(p []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	n, err := m.r.Read(p)
	m.crc.Write(p[:n])
	m.n += uint64(n)
	if err == io.EOF {
		err = m.check()
	}
	if err != nil {
		m.err = err
	}
	return n, err
}

// check runs at the end of the data: read the descriptor, compare.
func (m *zipMember) check() error {
	e := m.e
	crc, csize := m.crc.Sum32(), uint64(m.s.consumed()-m.start)
	if e.flags&flagDescr != 0 {
		// The descriptor's signature is optional and its sizes are 4 or 8
		// bytes (8 with zip64, but not every writer adds the zip64 extra
		// field); take the layout that matches what we decoded.
		b, err := m.s.br.Peek(24)
		if err != nil && err != io.EOF {
			return err
		}
		found := false
		for _, l := range []struct{ sig, wide bool }{{true, e.zip64}, {false, e.zip64}, {true, !e.zip64}, {false, !e.zip64}} {
			d := b
			need := 12
			if l.sig {
				need += 4
			}
			if l.wide {
				need += 8
			}
			if len(d) < need {
				continue
			}
			if l.sig {
				if binary.LittleEndian.Uint32(d) != sigDescriptor {
					continue
				}
				d = d[4:]
			}
			dcrc := binary.LittleEndian.Uint32(d)
			var dc, du uint64
			if l.wide {
				dc, du = binary.LittleEndian.Uint64(d[4:]), binary.LittleEndian.Uint64(d[12:])
			} else {
				dc, du = uint64(binary.LittleEndian.Uint32(d[4:])), uint64(binary.LittleEndian.Uint32(d[8:]))
			}
			if dcrc == crc && dc == csize && du == m.n {
				m.s.br.Discard(need)
				e.crc, e.csize, e.usize = dcrc, dc, du
				found = true
				break
			}
		}
		if !found {
			if len(b) < 12 {
				return fmt.Errorf("member %q: reading its data descriptor: %w", e.name, io.ErrUnexpectedEOF)
			}
			return fmt.Errorf("%w: member %q: no data descriptor matches the data (CRC-32 %08x, %d bytes compressed, %d decompressed)", zip.ErrChecksum, e.name, crc, csize, m.n)
		}
	}
	if m.n != e.usize || csize != e.csize {
		return fmt.Errorf("%w: member %q: %d bytes (%d compressed), header says %d (%d compressed)", zip.ErrFormat, e.name, m.n, csize, e.usize, e.csize)
	}
	if crc != e.crc {
		return fmt.Errorf("%w: member %q: CRC-32 %08x, want %08x", zip.ErrChecksum, e.name, crc, e.crc)
	}
	return io.EOF
}

// exactReader reads n bytes; an early end is io.ErrUnexpectedEOF.
type exactReader struct {
	r io.Reader
	n int64
}

func (x *exactReader) Read(p []byte) (int, error) {
	if x.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > x.n {
		p = p[:x.n]
	}
	n, err := x.r.Read(p)
	x.n -= int64(n)
	if err == io.EOF {
		if x.n > 0 {
			return n, io.ErrUnexpectedEOF
		}
		err = nil
	}
	return n, err
}

// openZipStream makes z read the image of a zip stream: the first file of
// the image's size if it is known (or of a size its local header does not
// give), else the first file. At its end, the members after it are read up
// to the central directory and named in a note.
func (z *Reader) openZipStream(br *bufio.Reader) error {
	s := &zipStream{br: br, consumed: z.offset}
	var e zipEntry
	var before []member // files skipped: not of the image's size
	for {
		var ok bool
		var err error
		e, ok, err = s.next()
		if err != nil {
			return err
		}
		if !ok {
			if len(before) > 0 {
				return noMemberOfSize("zip", z.size, before)
			}
			return ErrNoImage
		}
		dir := strings.HasSuffix(e.name, "/")
		if !dir && (z.size <= 0 || e.sizeUnknown() || int64(e.usize) == z.size) {
			break
		}
		if !dir {
			before = append(before, member{e.name, int64(e.usize)})
		}
		// A directory or another file: skip its data.
		r, err := s.open(e)
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
	}
	z.member = e.name
	used := member{e.name, int64(e.usize)}
	if e.sizeUnknown() {
		used.size = -1
	}
	if len(before) > 0 {
		z.notes = append(z.notes, fmt.Sprintf("zip archive: using %s, the file of the image's size; skipped %s", used, listMembers(before)))
	}
	r, err := s.open(e)
	if err != nil {
		return err
	}
	mb := bufio.NewReaderSize(r, outBufSize)
	head, _ := mb.Peek(peekSize)
	if err := checkNested(head, fmt.Sprintf("zip member %q", e.name)); err != nil {
		return err
	}
	z.out = mb
	z.finish = func() error {
		// Name the other members. They are not part of the image, so a
		// problem with them is a note, not an error.
		var after []member
		for {
			e, ok, err := s.next()
			if err == nil && ok {
				var r io.Reader
				if r, err = s.open(e); err == nil {
					var n int64
					n, err = io.Copy(io.Discard, r)
					if !strings.HasSuffix(e.name, "/") {
						after = append(after, member{e.name, n})
					}
				}
			}
			if err != nil {
				z.notes = append(z.notes, fmt.Sprintf("could not list all members after %q in the zip stream: %v", z.member, err))
				break
			}
			if !ok {
				break
			}
		}
		if len(after) > 0 {
			why := "the first file"
			if z.size > 0 {
				why = "the first file of the image's size"
			}
			z.notes = append(z.notes, usingNote("zip archive", used, why, append(before, after...)))
		}
		return nil
	}
	return nil
}
