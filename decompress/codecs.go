package decompress

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
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
// zstd), so a damaged header fails cleanly instead of exhausting memory.
// xz -9 uses 64 MiB, zstd --long=30 1 GiB. A variable so tests can lower it.
var maxWindow = 1 << 30

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

// gzip: our own decoder (internal/gz), on its own goroutine, so that
// inflating overlaps hashing and writing. Concatenated members; anything
// else after the last member is trailing data.
func newGzip(br *bufio.Reader) (codecReader, error) {
	z := pgz.NewReader(br)
	r := &placed{r: z, format: Gzip, trailing: pgz.ErrTrailingData}
	return codecReader{r: r, close: func() { z.Close() }, offset: z.InputOffset}, nil
}

// bzip2: our block-parallel decoder and block decoder (internal/bzip2), on
// GOMAXPROCS goroutines. It reads br from its own goroutine,
// so the offset is its own.
func newBzip2(br *bufio.Reader) (codecReader, error) {
	z := pbzip2.NewReader(br, runtime.GOMAXPROCS(0))
	return codecReader{r: bzip2Reader{z}, close: func() { z.Close() }, offset: z.InputOffset}, nil
}

// bzip2Reader turns bzip2's errors, which carry the offset of the failing
// block or structure, into ours.
type bzip2Reader struct{ z *pbzip2.Reader }

func (b bzip2Reader) Read(p []byte) (int, error) {
	n, err := b.z.Read(p)
	var e *pbzip2.Error
	switch {
	case err == nil || err == io.EOF:
	case errors.Is(err, pbzip2.ErrTrailingData):
		err = &Error{Format: Bzip2.String(), Offset: b.z.InputOffset(), Err: ErrTrailingData}
	case errors.As(err, &e):
		why := strings.TrimPrefix(e.Err.Error(), "bzip2: ")
		err = &Error{Format: Bzip2.String(), Offset: e.Offset, Err: located{e.What + ": " + why, e}}
	}
	return n, err
}

// xz: our block-parallel decoder (internal/xz) with our own LZMA2 decoder
// for LZMA2-only blocks (therootcompany/xz for other filter chains), on
// GOMAXPROCS goroutines. Multi-stream with padding; fails on anything else
// after the last stream.
func newXZ(br *bufio.Reader) (codecReader, error) {
	z := pxz.NewReader(br, runtime.GOMAXPROCS(0), uint32(min(uint64(maxWindow), math.MaxUint32)))
	r := &placed{r: z, format: XZ, trailing: pxz.ErrTrailingData}
	return codecReader{r: r, close: func() { z.Close() }, offset: z.InputOffset}, nil
}

// placed turns the errors of our own decoders (internal/xz, internal/zstd,
// internal/gz), which say where in the compressed input a structure failed,
// into ours, which name the offset once.
type placed struct {
	r        io.Reader
	format   Format
	trailing error // the codec's trailing-data error
}

func (p *placed) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	return n, p.place(err)
}

// Discard skips n bytes with the codec's own Discard (gz and zstd skip
// without copying), or by reading them into scratch.
func (p *placed) Discard(n int, scratch []byte) (int, error) {
	k, err := discard(p.r, n, scratch)
	return k, p.place(err)
}

// place maps a codec error that names its offset to an *Error.
func (p *placed) place(err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	var e *fault.Error
	if !errors.As(err, &e) {
		return err
	}
	if errors.Is(err, p.trailing) {
		return &Error{Format: p.format.String(), Offset: e.Offset, Err: ErrTrailingData}
	}
	msg := e.What
	for _, why := range e.Unwrap() {
		msg += ": " + strings.TrimPrefix(why.Error(), e.Format+": ")
	}
	return &Error{Format: p.format.String(), Offset: e.Offset, Err: located{msg, err}}
}

// located is a codec's error without the offset, which our Error names.
type located struct {
	msg string // what failed and why
	err error
}

func (l located) Error() string { return l.msg }
func (l located) Unwrap() error { return l.err }

// lzma: ulikunitz/xz/lzma, the only Go decoder of the legacy format. One
// stream; anything after it is trailing data. The format has no checksum.
type lzmaReader struct {
	z   *lzma.Reader
	br  *bufio.Reader
	err error
}

func newLZMA(br *bufio.Reader) (codecReader, error) {
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
	r := &placed{r: z, format: Zstd, trailing: pzstd.ErrTrailingData}
	return codecReader{r: r, close: func() { z.Close() }, offset: z.InputOffset}, nil
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
	return codecReader{r: lzoReader{z}, close: func() { z.Close() }, offset: z.InputOffset}, nil
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

// lzoReader maps lzop's trailing-data error to ours.
type lzoReader struct{ z *lzop.Reader }

func (l lzoReader) Read(p []byte) (int, error) {
	n, err := l.z.Read(p)
	if err != nil && errors.Is(err, lzop.ErrTrailingData) {
		err = ErrTrailingData
	}
	return n, err
}
