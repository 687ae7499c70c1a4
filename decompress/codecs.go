package decompress

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	pbzip2 "github.com/bmap-tools/bmap/decompress/internal/bzip2"
	"github.com/bmap-tools/bmap/decompress/internal/fault"
	pgz "github.com/bmap-tools/bmap/decompress/internal/gz"
	"github.com/bmap-tools/bmap/decompress/internal/lzop"
	pxz "github.com/bmap-tools/bmap/decompress/internal/xz"
	pzstd "github.com/bmap-tools/bmap/decompress/internal/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz/lzma"
)

// maxWindow caps the dictionary or window a stream may ask for (xz, lzma,
// zstd): xz -9 uses 64 MiB, zstd --long=30 1 GiB. A stream asking for more
// fails with ErrMemoryLimit, naming both sizes, before anything is
// reserved. Our xz and zstd decoders reserve a window as the output grows,
// so within the cap a header alone costs a few MiB; therootcompany/xz
// (xz blocks with BCJ or delta filters whose size is unknown) and
// ulikunitz/xz/lzma reserve what the header asks for. 1 GiB where int has
// 64 bits; 256 MiB on 32-bit platforms, whose address space a 1 GiB
// window would all but fill.
const maxWindow = 256 << 20 << (2 * (^uint(0) >> 63))

// codecReader is a decoder over the shared compressed-side buffer.
type codecReader struct {
	r      io.Reader
	close  func()
	offset func() int64 // nil: the bytes consumed from the shared buffer
}

// codecs builds the decoder of each compression format. Each reads br
// sequentially and checks what follows its last stream (see doc.go). A
// parallel decoder for a format replaces its entry; nothing else changes.
var codecs = [...]func(br *bufio.Reader) (codecReader, error){
	Raw:   func(br *bufio.Reader) (codecReader, error) { return codecReader{r: br, close: func() {}}, nil },
	Gzip:  newGzip,
	Bzip2: newBzip2,
	XZ:    newXZ,
	LZMA:  newLZMA,
	Zstd:  newZstd,
	LZ4:   newLZ4,
	LZO:   newLZO,
}

// Our own decoders (gzip, bzip2, xz, zstd, lzo) report errors as
// *fault.Error, which name the structure that failed and its compressed
// offset; labelled puts them in our Error as they are.

// gzip: our own decoder (internal/gz), on its own goroutine, so that
// inflating overlaps hashing and writing. Concatenated members; anything
// else after the last member is trailing data. It skips output (Discard)
// without copying it.
func newGzip(br *bufio.Reader) (codecReader, error) {
	z := pgz.NewReader(br)
	return codecReader{r: z, close: func() { z.Close() }, offset: z.InputOffset}, nil
}

// bzip2: our block-parallel decoder and block decoder (internal/bzip2), on
// GOMAXPROCS goroutines. It reads br from its own goroutine,
// so the offset is its own.
func newBzip2(br *bufio.Reader) (codecReader, error) {
	z := pbzip2.NewReader(br, runtime.GOMAXPROCS(0))
	return codecReader{r: z, close: func() { z.Close() }, offset: z.InputOffset}, nil
}

// xz: our block-parallel decoder (internal/xz) with our own LZMA2 decoder
// for LZMA2-only blocks (therootcompany/xz for other filter chains), on
// GOMAXPROCS goroutines. Multi-stream with padding; fails on anything else
// after the last stream.
func newXZ(br *bufio.Reader) (codecReader, error) {
	z := pxz.NewReader(br, runtime.GOMAXPROCS(0), maxWindow)
	return codecReader{r: z, close: func() { z.Close() }, offset: z.InputOffset}, nil
}

// lzma: ulikunitz/xz/lzma, the only Go decoder of the legacy format. One
// stream; anything after it is trailing data. The format has no checksum.
type lzmaReader struct {
	z   *lzma.Reader
	br  *bufio.Reader
	err error
}

func newLZMA(br *bufio.Reader) (codecReader, error) {
	// The header: properties, dictionary size (LE32), size (LE64).
	if h, _ := br.Peek(5); len(h) == 5 {
		if dict := binary.LittleEndian.Uint32(h[1:]); dict > maxWindow {
			return codecReader{}, &Error{Format: LZMA.String(), Offset: 0, Err: fault.Errorf(ErrMemoryLimit,
				"the stream asks for a %s dictionary; the limit is %s", fault.Size(uint64(dict)), fault.Size(maxWindow))}
		}
	}
	z, err := lzma.ReaderConfig{DictCap: maxWindow}.NewReader(br)
	if err != nil {
		return codecReader{}, err
	}
	l := &lzmaReader{z: z, br: br}
	return codecReader{r: l, close: func() {}}, nil
}

func (l *lzmaReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.z.Read(p)
	if err == io.EOF {
		if _, perr := l.br.Peek(1); perr == nil {
			err = ErrTrailingData
		} else if perr != io.EOF {
			err = perr
		}
	}
	if err != nil {
		l.err = err
	}
	return n, err
}

// zstd: our own decoder (internal/zstd): one goroutine decodes, the
// reading goroutine checks the content checksum, runs of zeros are never
// written to its window. Multiple and skippable frames; anything else after
// the last frame is trailing data.
func newZstd(br *bufio.Reader) (codecReader, error) {
	z := pzstd.NewReader(br, uint64(maxWindow))
	return codecReader{r: z, close: func() { z.Close() }, offset: z.InputOffset}, nil
}

// lz4: pierrec/lz4/v4 with two goroutines decoding independent blocks. Its
// reader goroutine reads ahead from br, so it gets its own counter (the
// shared buffer's fill level is not safe to read), and a gate that Close
// shuts so no goroutine touches br or the caller's reader afterwards.
func newLZ4(br *bufio.Reader) (codecReader, error) {
	g := &gate{r: br}
	c := &counter{r: g}
	z := lz4.NewReader(c)
	if err := z.Apply(lz4.ConcurrencyOption(2)); err != nil {
		return codecReader{}, err
	}
	return codecReader{
		r:      z,
		offset: c.n.Load,
		close: func() {
			g.close()
			z.Reset(nil)
		},
	}, nil
}

// lzo: our lzop container parser and LZO1X decoder, blocks decoded on
// GOMAXPROCS goroutines. Its goroutines read br, so the offset is its own.
func newLZO(br *bufio.Reader) (codecReader, error) {
	z, err := lzop.NewReader(br, runtime.GOMAXPROCS(0))
	if err != nil {
		return codecReader{}, err
	}
	return codecReader{r: z, close: func() { z.Close() }, offset: z.InputOffset}, nil
}

// zeroPadding lists the formats whose last stream may be followed by zero
// bytes (a file padded to a block or sector size): gzip -d and bzip2 -d say
// so and accept them, lzop -d too, and so do we, with a note; zstd -d
// refuses them, but they are as harmless there. Anything else after the
// last stream stays an error. xz's own stream padding (zeros in multiples
// of 4) is part of the format; other zeros are refused as xz refuses them,
// and so they are after lz4 and lzma streams.
var zeroPadding = map[Format]bool{Gzip: true, Bzip2: true, Zstd: true, LZO: true}

// zeroTail turns a codec's trailing-data error into the end of the data,
// with a note, when everything from the trailing data's offset to the end
// of the input is zeros (see counter.zerosFrom).
type zeroTail struct {
	r      io.Reader // the codec's output, errors labelled
	src    *counter
	format Format
	note   func(string)
	done   bool
}

func (z *zeroTail) Read(p []byte) (int, error) {
	n, err := z.r.Read(p)
	return n, z.check(err)
}

// Discard skips n bytes of the codec's output (see discard).
func (z *zeroTail) Discard(n int, scratch []byte) (int, error) {
	k, err := discard(z.r, n, scratch)
	return k, z.check(err)
}

func (z *zeroTail) check(err error) error {
	var e *Error
	if z.done || !errors.Is(err, ErrTrailingData) || !errors.As(err, &e) || e.Offset < 0 {
		return err
	}
	z.done = true
	if !z.src.zerosFrom(e.Offset) {
		return err
	}
	z.note(fmt.Sprintf("%s: decompression OK, trailing zero bytes ignored (%d bytes from compressed byte %d)", z.format, z.src.n.Load()-e.Offset, e.Offset))
	return io.EOF
}

// libError is an error of a library decoder (lz4, lzma, archive/zip,
// flate), whose message starts with the library's name: our Error names
// the format already.
type libError struct {
	err error
	msg string
}

func (e *libError) Error() string { return e.msg }
func (e *libError) Unwrap() error { return e.err }

// fromLib returns err as a libError without the library's name, and
// without the state pierrec/lz4 appends ("unexpected EOF[readState]").
func fromLib(err error) error {
	msg := err.Error()
	for _, lib := range []string{"lz4: ", "lzma: ", "zip: ", "flate: "} {
		if m, ok := strings.CutPrefix(msg, lib); ok {
			msg = m
			break
		}
	}
	if i := strings.LastIndexByte(msg, '['); i > 0 && strings.HasSuffix(msg, "State]") {
		msg = msg[:i]
	}
	if msg == err.Error() {
		return err
	}
	return &libError{err: err, msg: msg}
}
