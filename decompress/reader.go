package decompress

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
)

// Sentinel errors; match them with errors.Is. Errors from Read and NewReader
// are *Error values that wrap these, io.ErrUnexpectedEOF or the codec's own
// errors.
var (
	// ErrTrailingData means bytes follow the end of the compressed data
	// that are not another stream of the same format.
	ErrTrailingData error = fault.ErrTrailingData
	// ErrWrongFormat means the name promises a compression format that the
	// data does not have.
	ErrWrongFormat error = fault.NewKind("data does not match the format its name suggests")
	// ErrUnsupported means a valid input uses a feature this package does
	// not implement (encrypted zip, nested compression, ...).
	ErrUnsupported error = fault.ErrUnsupported
	// ErrMemoryLimit means the stream asks for more memory than this
	// package allows a decoder (an xz or lzma dictionary, a zstd window,
	// over 1 GiB; 256 MiB on 32-bit platforms). The message names both.
	ErrMemoryLimit error = fault.ErrMemoryLimit
	// ErrNoImage means an archive holds no regular file.
	ErrNoImage error = fault.NewKind("archive holds no regular file")
	// ErrClosed is returned by Read after Close.
	ErrClosed = errors.New("decompress: read after Close")
)

// Error is an error found while reading one layer of the input: the
// compression format, "tar" or "zip".
type Error struct {
	Format string // "gzip", "bzip2", ..., "tar", "zip"
	Offset int64  // compressed bytes consumed when the error was seen; -1 if unknown
	Err    error
}

func (e *Error) Error() string {
	if f, ok := e.Err.(*fault.Error); ok {
		return f.Error() // our decoders' errors name the format and offset
	}
	msg := fault.Message(e.Err)
	if e.Offset < 0 {
		return e.Format + ": " + msg
	}
	return fmt.Sprintf("%s: at compressed byte %d: %s", e.Format, e.Offset, msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Reader yields the raw image bytes of a possibly compressed or archived
// stream. Like compress/gzip, data returned by Read is tentative until Read
// returns io.EOF: integrity checks (CRC, Adler-32, xxHash, SHA-256, ...) that
// cover a whole stream or member are verified only at its end, and Read
// returns io.EOF only after the whole input, including whatever follows the
// image in an archive, was read and checked.
type Reader struct {
	kind   Kind
	member string
	size   int64 // Options.ImageSize
	notes  []string

	out    io.Reader    // what Read serves
	finish func() error // run when out reaches io.EOF; may return more notes
	closer []func()
	offset func() int64 // compressed bytes consumed; only from the reading goroutine
	layer  string       // name used for errors not already labelled

	inOff atomic.Int64 // offset() as of the last Read, for InputOffset
	err   error

	skip    func(n int) (int, error) // Discard of the codec's output; nil: discard(out)
	scratch []byte                   // for what Discard has to read
}

// Kind returns the detected format and whether the image was a tar member.
func (r *Reader) Kind() Kind { return r.kind }

// Format returns the detected compression format.
func (r *Reader) Format() Format { return r.kind.Format }

// Name returns the name of the archive member being read (zip or tar), or
// "" if the input is not an archive.
func (r *Reader) Name() string { return r.member }

// Notes returns remarks worth showing the user: a name that disagreed with
// the data, archive members that were ignored. Members after the image in a
// tar archive or a streamed zip are only known once Read has returned
// io.EOF, so call Notes again then (not concurrently with Read).
func (r *Reader) Notes() []string { return slices.Clone(r.notes) }

// InputOffset returns the number of compressed bytes consumed so far, for
// progress and error messages. Codecs read ahead into their own buffers
// (up to about 128 KiB, or two blocks for lz4), so it may run ahead of the
// data returned. It is safe to call concurrently with Read.
func (r *Reader) InputOffset() int64 { return r.inOff.Load() }

// Read implements io.Reader. Errors are sticky.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.out.Read(p)
	return n, r.settle(err)
}

// settle ends a Read or Discard that returned err: at the image's end it
// runs finish (the checks after the image), it publishes the input offset,
// and it keeps the error, wrapped, for later calls.
func (r *Reader) settle(err error) error {
	if err == io.EOF && r.finish != nil {
		if err = r.finish(); err == nil {
			err = io.EOF
		}
	}
	r.inOff.Store(r.offset())
	if err != nil {
		r.err = r.wrap(err)
	}
	return r.err
}

// Discard skips the next n bytes of the image, as Read would return them,
// and returns how many it skipped: fewer than n only with the error Read
// would have returned (io.EOF at the end, once the integrity checks ran),
// as bufio.Reader.Discard does. An image that ends exactly after the n
// bytes has its end checked before Discard returns n and nil (a failed
// check is returned with n); the io.EOF is then returned by the next call.
// A caller that skips the holes of a disk image saves copying them: gzip
// and zstd skip them without copying them (zstd without writing its runs
// of zeros anywhere), the other codecs' output is read into a small buffer
// of the Reader's that stays in the CPU's cache.
func (r *Reader) Discard(n int) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if n <= 0 {
		return 0, nil
	}
	if r.scratch == nil {
		r.scratch = make([]byte, scratchSize)
	}
	var k int
	var err error
	if r.skip != nil {
		k, err = r.skip(n)
	} else {
		k, err = discard(r.out, n, r.scratch)
	}
	// A reader may return its last bytes and io.EOF together (archive/tar's
	// and archive/zip's member readers do): settle runs the end checks now,
	// and the io.EOF stays in r.err for the next call.
	if err = r.settle(err); err == io.EOF && k == n {
		err = nil
	}
	return k, err
}

// Peek returns the image's next n bytes (n at most 512) without consuming
// them, so that a caller can recognise a format inside the image, such as
// an Android sparse image. Fewer than n come with the error that stops
// them (io.EOF at the image's end).
func (r *Reader) Peek(n int) ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	b, ok := r.out.(*bufio.Reader)
	if !ok || n > peekSize {
		return nil, fmt.Errorf("decompress: cannot peek %d bytes", n)
	}
	return b.Peek(n)
}

// A discarder skips output without handing it over; the scratch buffer is
// for one that has to read what it skips.
type discarder interface {
	Discard(n int, scratch []byte) (int, error)
}

// discard skips n bytes of r: with its own Discard if it has one (our
// gzip and zstd Readers, or a layer of ours over them), else by reading
// them into scratch. Fewer than n only with an error.
func discard(r io.Reader, n int, scratch []byte) (int, error) {
	switch d := r.(type) {
	case discarder:
		return d.Discard(n, scratch)
	case interface{ Discard(int) (int, error) }:
		if _, buffered := r.(*bufio.Reader); !buffered { // bufio's refills 4 KiB at a time
			return d.Discard(n)
		}
	}
	done := 0
	for done < n {
		k, err := r.Read(scratch[:min(n-done, len(scratch))])
		done += k
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// Close releases the decoder. It does not close the underlying reader, and
// once it returns, no goroutine of this package reads from it. Call it from
// the goroutine that calls Read, not concurrently with Read.
func (r *Reader) Close() error {
	for _, c := range r.closer {
		c()
	}
	r.closer = nil
	if r.err == nil || r.err == io.EOF {
		r.err = ErrClosed
	}
	return nil
}

func (r *Reader) wrap(err error) error {
	if err == nil || err == io.EOF || err == ErrClosed {
		return err
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Format: r.layer, Offset: r.offset(), Err: fromLib(err)}
}

// counter is the bottom of the stack: the caller's reader, counted. Once
// watch is called, it also keeps the offset of the last non-zero byte read,
// so that trailing data can be told to be zeros only (see zerosFrom).
// Reads are serialized: zerosFrom reads while a codec's goroutine may
// still be reading ahead.
type counter struct {
	r        io.Reader
	n        atomic.Int64
	mu       sync.Mutex
	watching bool
	nonZero  int64 // offset of the last non-zero byte read; -1 if none
}

func (c *counter) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.r.Read(p)
	if c.watching {
		if i := lastNonZero(p[:n]); i >= 0 {
			c.nonZero = c.n.Load() + int64(i)
		}
	}
	c.n.Add(int64(n))
	return n, err
}

// watch starts keeping the offset of the last non-zero byte, buffered
// being what was read so far, all of it unconsumed.
func (c *counter) watch(buffered []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watching = true
	c.nonZero = -1
	if i := lastNonZero(buffered); i >= 0 {
		c.nonZero = c.n.Load() - int64(len(buffered)) + int64(i)
	}
}

// zerosFrom reads the input to its end and reports whether every byte
// from offset off on is zero. Whoever else has read input since watch
// (the codec, the buffer over it), the counter saw it.
func (c *counter) zerosFrom(off int64) bool {
	var buf [4096]byte
	for {
		c.mu.Lock()
		nonZero := c.nonZero
		c.mu.Unlock()
		if nonZero >= off {
			return false
		}
		if _, err := c.Read(buf[:]); err == io.EOF {
			return true
		} else if err != nil {
			return false
		}
	}
}

func lastNonZero(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0 {
			return i
		}
	}
	return -1
}

// gate lets Close stop a codec's background goroutine (lz4) from reading
// the caller's reader: after close returns, Read fails without reading.
type gate struct {
	mu     sync.Mutex
	r      io.Reader
	closed bool
}

func (g *gate) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, ErrClosed
	}
	return g.r.Read(p)
}

func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// labelled turns a codec's errors into *Error with its format and offset,
// so layers above (tar) pass them through unchanged.
type labelled struct {
	r      io.Reader
	format Format
	offset func() int64
}

func (l *labelled) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if err != nil && err != io.EOF {
		err = l.label(err)
	}
	return n, err
}

// Discard skips n bytes of the codec's output (see discard).
func (l *labelled) Discard(n int, scratch []byte) (int, error) {
	k, err := discard(l.r, n, scratch)
	if err != nil && err != io.EOF {
		err = l.label(err)
	}
	return k, err
}

// label puts err in an *Error: at the offset it names if it is one of our
// decoders' (a *fault.Error), else at the codec's input offset.
func (l *labelled) label(err error) error {
	var e *Error
	if errors.As(err, &e) || err == ErrClosed {
		return err
	}
	if f, ok := err.(*fault.Error); ok {
		return &Error{Format: l.format.String(), Offset: f.Offset, Err: err}
	}
	return &Error{Format: l.format.String(), Offset: l.offset(), Err: fromLib(err)}
}

const (
	srcBufSize  = 1 << 20  // compressed-side buffer, as measured in golibs.md
	peekSize    = 512      // enough for a tar header
	outBufSize  = 4096     // decoded-side buffer; large reads bypass it
	scratchSize = 64 << 10 // what Discard reads into: big for few calls, small for the L2 cache
	memberLimit = 64       // ignored archive members named in a note
)

// Options tells NewReader what the input cannot say itself. The zero value
// is an input without a name, of an image of unknown size.
type Options struct {
	// Name is the input's file name or URL path ("" for stdin): a hint of
	// its format, used where the data has no magic number.
	Name string
	// ImageSize is the size the image must have; 0 or -1 if unknown. In an
	// archive with several files, the file of that size is the image.
	ImageSize int64
}

// NewReader detects how r is compressed and returns a Reader of the raw
// image.
//
// Detection: magic bytes first (gzip, bzip2, xz, zstd, lz4, lzop, zip); if
// there are none, the name's suffix (bmaptool's list plus .lzma, which has
// no magic); a name that promises a compression the data lacks is an error
// (ErrWrongFormat), while data with a different known magic is decoded by its
// magic with a note. An empty or short stream without such a name is Raw.
// Then, if the name ends in .tar/.tar.*/.tgz/... or the decoded data starts
// with a ustar header, the image is a regular file of the tar archive, as
// it is of a zip: the one of opt.ImageSize if that is known, else the
// largest of a zip read through its central directory, else the first.
//
// If r is an io.ReaderAt and io.Seeker with a known size (an *os.File of a
// regular file, a *bytes.Reader, ...), a zip is read through its central
// directory; otherwise, and for all other formats, r is read sequentially.
func NewReader(r io.Reader, opt Options) (*Reader, error) {
	z := &Reader{size: opt.ImageSize}
	if err := z.open(r, opt.Name); err != nil {
		z.Close()
		return nil, z.wrap(err)
	}
	return z, nil
}

func (z *Reader) open(r io.Reader, name string) error {
	ra, raSize := readerAt(r)
	src := &counter{r: r}
	br := bufio.NewReaderSize(src, srcBufSize)
	z.offset = func() int64 { return src.n.Load() - int64(br.Buffered()) }
	z.layer = "decompress"

	hint, named := KindFromName(name)
	f, err := detect(br, hint, named)
	if err != nil {
		return err
	}
	z.kind.Format = f
	if named && hint.Format != f && hint.Format != Raw {
		z.notes = append(z.notes, fmt.Sprintf("the name suggests %s but the data is %s; decoding it as %s", hint.Format, f, f))
	}

	if b, _ := br.Peek(4); f == LZ4 && string(b) == "\x02\x21\x4c\x18" {
		z.notes = append(z.notes, "lz4 legacy format (lz4 -l) has no end marker and no checksum: a truncated or damaged file cannot be detected")
	}

	var dec io.Reader
	switch f {
	case Zip:
		z.layer = "zip"
		return z.openZip(br, ra, raSize)
	default:
		if zeroPadding[f] {
			// Before the codec starts: it may read br on its own goroutines.
			b, _ := br.Peek(br.Buffered())
			src.watch(b)
		}
		var cd codecReader
		cd, err = codecs[f](br)
		if err != nil {
			return (&labelled{format: f, offset: z.offset}).label(err)
		}
		z.closer = append(z.closer, cd.close)
		if cd.offset != nil {
			z.offset = cd.offset
		}
		dec = cd.r
		if f != Raw {
			dec = &labelled{r: dec, format: f, offset: z.offset}
		}
		if zeroPadding[f] {
			dec = &zeroTail{r: dec, src: src, format: f, note: func(n string) { z.notes = append(z.notes, n) }}
		}
	}
	z.layer = f.String()

	// Is the decoded stream a tar archive?
	var db *bufio.Reader
	if f == Raw {
		db = br
	} else {
		db = bufio.NewReaderSize(dec, outBufSize)
	}
	head, _ := db.Peek(peekSize) // a short or failing stream: errors come with Read
	if hint.Tar || isTarHeader(head) {
		z.kind.Tar = true
		z.layer = "tar"
		if err := z.openTar(db, hint.Tar && !isTarHeader(head)); err != nil {
			return err
		}
		if !hint.Tar {
			z.notes = append(z.notes, fmt.Sprintf("the data is a tar archive; the image is its file %q", z.member))
		}
		return nil
	}
	if f != Raw {
		if err := checkNested(head, "the decompressed data"); err != nil {
			return err
		}
	}
	z.out = db
	if f != Raw {
		// Skip what db holds, then the codec's output past it.
		z.skip = func(n int) (int, error) {
			k, _ := db.Discard(min(n, db.Buffered()))
			if k == n {
				return k, nil
			}
			if _, err := db.Read(nil); err != nil { // an error db kept
				return k, err
			}
			m, err := discard(dec, n-k, z.scratch)
			return k + m, err
		}
	}
	return nil
}

// detect peeks at the start of br and decides the format.
func detect(br *bufio.Reader, hint Kind, named bool) (Format, error) {
	n := peekSize
	for {
		b, err := br.Peek(n)
		if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
			return Raw, &Error{Format: "decompress", Offset: 0, Err: err}
		}
		eof := err == io.EOF
		f, ok, more := sniff(b, eof, hint.Format)
		if more && !eof && n < maxSniff+peekSize {
			n *= 2
			continue
		}
		if ok {
			return f, nil
		}
		// No magic. LZMA_Alone has none either: its header and first bytes
		// are tried.
		if hint.Format == LZMA {
			return LZMA, nil
		}
		if isLZMA(br) {
			return LZMA, nil
		}
		if !named || hint.Format == Raw {
			return Raw, nil
		}
		if eof && isMagicPrefix(hint.Format, b) {
			return Raw, &Error{Format: hint.Format.String(), Offset: int64(len(b)),
				Err: fmt.Errorf("%w: the stream ends inside the %s header", io.ErrUnexpectedEOF, hint.Format)}
		}
		return Raw, &Error{Format: hint.Format.String(), Offset: 0,
			Err: fault.Errorf(ErrWrongFormat, "the name suggests %s but the data does not start with a %s header (it starts with % x); to write it as is, rename it or pipe it in", hint.Format, hint.Format, b[:min(len(b), 8)])}
	}
}

// checkNested refuses an image that is itself compressed: writing the
// compressed bytes to a disk is never what the user wants.
func checkNested(head []byte, what string) error {
	f, ok, _ := sniff(head, true, Raw)
	if !ok || f == Raw {
		return nil
	}
	return fault.Errorf(ErrUnsupported, "%s is itself %s-compressed; decompress it first", what, f)
}

// openTar makes z read the image in the tar archive in db: the first
// regular file of the image's size if it is known, else the first one.
// At its end, the rest of the archive and of the decoded stream is read,
// so the codec's checksums and trailing-data checks run.
func (z *Reader) openTar(db *bufio.Reader, nameOnly bool) error {
	tr := tar.NewReader(db)
	var before []member // regular files skipped: not of the image's size
	for {
		h, err := tr.Next()
		if err == io.EOF {
			if len(before) > 0 {
				return noMemberOfSize("tar", z.size, before)
			}
			return ErrNoImage
		}
		if err != nil {
			if nameOnly && errors.Is(err, tar.ErrHeader) {
				return fmt.Errorf("%w (the name suggests a tar archive, but the data is not one)", err)
			}
			return err
		}
		if !isRegular(h) {
			continue
		}
		if z.size > 0 && h.Size != z.size {
			before = append(before, member{h.Name, h.Size})
			continue
		}
		z.member = h.Name
		used := member{h.Name, h.Size}
		if len(before) > 0 {
			z.notes = append(z.notes, fmt.Sprintf("tar archive: using %s, the file of the image's size; skipped %s", used, listMembers(before)))
		}
		mb := bufio.NewReaderSize(tr, outBufSize)
		head, _ := mb.Peek(peekSize)
		if err := checkNested(head, fmt.Sprintf("tar member %q", h.Name)); err != nil {
			return err
		}
		z.out = mb
		z.finish = func() error {
			var after []member
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					return err
				}
				if isRegular(h) {
					after = append(after, member{h.Name, h.Size})
				}
			}
			// Tar ends with zero blocks padded to a record; read up to the
			// codec's end so its checksum and trailing-data checks run.
			if _, err := io.Copy(io.Discard, db); err != nil {
				return err
			}
			if len(after) > 0 {
				why := "the first file"
				if z.size > 0 {
					why = "the first file of the image's size"
				}
				z.notes = append(z.notes, usingNote("tar archive", used, why, append(before, after...)))
			}
			return nil
		}
		return nil
	}
}

func isRegular(h *tar.Header) bool {
	return h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeRegA || h.Typeflag == tar.TypeGNUSparse
}

// readerAt returns r as an io.ReaderAt covering the rest of r (from its
// current offset), if it is one with a known size.
func readerAt(r io.Reader) (io.ReaderAt, int64) {
	ra, ok := r.(io.ReaderAt)
	if !ok {
		return nil, 0
	}
	sk, ok := r.(io.Seeker)
	if !ok {
		return nil, 0
	}
	var size int64 = -1
	switch s := r.(type) {
	case interface{ Size() int64 }:
		size = s.Size()
	case interface{ Stat() (fs.FileInfo, error) }:
		fi, err := s.Stat()
		if err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
	}
	if size < 0 {
		return nil, 0
	}
	base, err := sk.Seek(0, io.SeekCurrent)
	if err != nil || base > size {
		return nil, 0
	}
	return io.NewSectionReader(ra, base, size-base), size - base
}
