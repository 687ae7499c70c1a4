// Package zstd decodes Zstandard (RFC 8878) streams: any number of
// frames and skippable frames, from a plain io.Reader (no seeking).
//
// Model. One goroutine (decoder.run, started at the first Read) parses
// the frames and decodes their blocks, writing the output linearly into
// a window buffer that holds the frame's window (its history) plus room
// for several chunks. Every chunk of output (1 MiB, or a frame's end) is
// handed to Read over a channel; Read copies it into the caller's
// buffers and, if the frame has a content checksum, computes the XXH64
// on the caller's goroutine, in parallel with the decoding, and checks
// it when the frame's last chunk comes (it carries the expected value).
// Tokens passed back by Read bound the chunks in flight (inFlight), and
// the buffer's layout (see decoder) keeps the decoder from writing where
// Read is reading. When the buffer fills, its last window bytes slide to
// the front; a finished Reader's buffer goes to a pool for the next. On
// Linux the buffer is advised to transparent huge pages (see
// adviseHugePages), which makes a copy cheaper. A second goroutine
// (input.fetch) reads the compressed input ahead, so the read system
// calls run beside the decoder too.
//
// Runs of zeros (RLE blocks of byte 0, most of a sparse disk image) are
// not written to the buffer at all: they are counted and handed to Read
// as a number of zeros, which Read clears in the caller's buffer and
// Discard skips without writing them anywhere (a copy that skips an
// image's holes saves the time of writing them); only the last window
// bytes of a run are written, when a later block may
// refer to them. Other RLE blocks are filled by doubling copies, raw
// blocks copied. Literals are decoded with a single-symbol Huffman
// table (2^maxBits entries), four streams interleaved with 64-bit bit
// readers; sequences with FSE tables whose entries carry the code's
// baseline and extra bits, the bit reader in local variables. Literal
// runs up to 16 bytes and matches up to 32 bytes (offset at least 16)
// are copied 16 bytes at a time into the buffer's slack, through unsafe
// pointers once the bounds are checked (copy_unsafe.go; the purego build
// tag selects a bounds-checked twin, which CI tests too, as it runs the
// fuzz corpus under the race detector's pointer checks); longer matches
// by copy, short overlapping ones by doubling copies.
//
// Checks: every size and index is bounds-checked against the block, the
// literals, the window and the frame's output (a match may reach back
// min(window, frame output) bytes); bit streams must be used up exactly;
// Frame_Content_Size and the content checksum are verified. A recover in
// the decoding goroutine turns a decoder bug into an error of kind
// fault.ErrInternal rather than a crash; the fuzz tests fail on it.
// Dictionaries are not supported (fault.ErrUnsupported).
//
// Memory. A frame's window is capped by the Reader's limit: a larger one
// is refused (fault.ErrMemoryLimit, naming both sizes). Within the limit,
// the window buffer starts with initWin bytes of history and grows with
// the frame's output, so a header alone reserves a few MiB whatever
// window it asks for; a frame holds its window only once it has written
// that much.
//
// The decoder is faster than klauspost/compress/zstd on disk images
// (runs of zeros, and the hashing off the decoding goroutine); the
// measurements are in README.md, next to this file, and BenchmarkDecode
// repeats them.
package zstd

import (
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
	"github.com/cespare/xxhash/v2"
)

// DefaultMaxWindow is the window limit when NewReader is given 0: 128
// MiB, what zstd -d accepts without --memory.
const DefaultMaxWindow = 1 << 27

// chunkMax is the most output a chunk collects before it is handed to
// Read: small enough to be still in the cache when Read copies and
// hashes it.
const chunkMax = 1 << 20

// inFlight is how many chunks may be handed to Read and not yet used up:
// the decoder runs ahead while Read is busy, with a run of zeros say,
// or waits for its caller's pipeline. Each wait costs more than the
// wait itself: on two cores, a decoder that blocks and is woken again
// queues for a processor behind the hashing and writing goroutines: a
// copy of the benchmark image is faster with 16 than with 4 (README.md).
const inFlight = 16

// bufExtra is the window buffer's room beyond the window (K in decoder)
// for windows up to bufExtra/8: the last window bytes slide to the front
// once per bufExtra bytes written.
const bufExtra = 16 << 20

// slack is the room kept after a block's maximum in the window buffer,
// for literal and match copies that write 16 bytes at a time, past
// their end.
const slack = 64

// A chunk is a piece of output handed from the decoder to Read, or the
// end (err io.EOF) or an error. The chunks of a frame follow each other;
// first and last mark its ends.
type chunk struct {
	data     []byte
	zeros    int64 // zeros following data
	inEnd    int64 // compressed offset after the input data has come from
	first    bool  // first chunk of a frame: reset the content hash
	last     bool  // last chunk of a frame: check the content hash
	hash     bool  // the frame has a content checksum
	check    bool  // last && hash: sum is the expected checksum
	sum      uint32
	checkOff int64 // offset of the checksum field
	err      error
	buf      []byte // with err: the decoder's window buffer, no longer used
}

// bufPool holds window buffers of finished Readers, so that decoding
// many small streams does not allocate (and fault in) one each time.
var bufPool sync.Pool

// A Reader decodes a zstd stream.
type Reader struct {
	d       *decoder
	started bool
	done    chan struct{}
	ch      chan chunk
	tokens  chan struct{}
	once    sync.Once

	cur     []byte // rest of the chunk being read
	zeros   int64  // and the zeros after it
	curEnd  int64  // its inEnd
	holding bool   // the chunk's token is not yet given back
	err     error
	h       *xxhash.Digest
	off     atomic.Int64
}

// NewReader returns a Reader decoding r. maxWindow caps the window a
// frame may ask for (0: DefaultMaxWindow); a larger window fails with
// fault.ErrMemoryLimit. The decoding goroutine starts at the first Read;
// Close stops it. Errors are returned by Read.
func NewReader(r io.Reader, maxWindow uint64) *Reader {
	if maxWindow == 0 {
		maxWindow = DefaultMaxWindow
	}
	z := &Reader{
		done:   make(chan struct{}),
		ch:     make(chan chunk, inFlight),
		tokens: make(chan struct{}, inFlight),
		h:      xxhash.New(),
	}
	for range inFlight {
		z.tokens <- struct{}{}
	}
	z.d = &decoder{
		in:        newInput(r, z.done),
		maxWindow: min(maxWindow, 1<<40, (math.MaxInt+1)/4), // sizes stay ints
		lits:      make([]byte, maxBlock+slack),
		done:      z.done,
		ch:        z.ch,
		tokens:    z.tokens,
	}
	return z
}

// Read reads decoded bytes. At the end of the last frame it returns
// io.EOF; on an error, after the output of the blocks before the failing
// one (for a content checksum or size mismatch, before the frame's last
// chunk).
func (z *Reader) Read(p []byte) (int, error) {
	for {
		if z.closed() {
			return 0, ErrClosed
		}
		if len(z.cur) > 0 {
			n := copy(p, z.cur)
			z.consumed(n, 0)
			return n, nil
		}
		if z.zeros > 0 {
			n := int(min(int64(len(p)), z.zeros))
			clear(p[:n])
			z.consumed(0, n)
			return n, nil
		}
		if err := z.next(); err != nil {
			return 0, err
		}
	}
}

// Discard skips the next n decoded bytes, as Read would return them,
// without copying them anywhere: runs of zeros are not even written. It
// returns how many bytes it skipped, fewer than n only with the error that
// Read would have returned (io.EOF at the end). A caller that skips the
// holes of a disk image this way saves copying gigabytes of zeros.
func (z *Reader) Discard(n int) (int, error) {
	done := 0
	for done < n {
		if z.closed() {
			return done, ErrClosed
		}
		if len(z.cur) > 0 {
			k := min(n-done, len(z.cur))
			z.consumed(k, 0)
			done += k
			continue
		}
		if z.zeros > 0 {
			k := int(min(int64(n-done), z.zeros))
			z.consumed(0, k)
			done += k
			continue
		}
		if err := z.next(); err != nil {
			return done, err
		}
	}
	return done, nil
}

// closed reports whether Close was called.
func (z *Reader) closed() bool {
	select {
	case <-z.done:
		return true
	default:
		return false
	}
}

// consumed marks n bytes of cur and then zeros zeros as used up.
func (z *Reader) consumed(n, zeros int) {
	z.cur = z.cur[n:]
	z.zeros -= int64(zeros)
	if len(z.cur) == 0 && z.zeros == 0 {
		z.off.Store(z.curEnd)
	}
}

// next takes the next chunk from the decoder once the current one is used
// up, checking the content checksum at a frame's end. It returns the
// Reader's error, if any, and otherwise nil, with cur and zeros possibly
// still empty (a chunk can be empty).
func (z *Reader) next() error {
	if z.err != nil {
		return z.err
	}
	if z.holding {
		z.holding = false
		z.tokens <- struct{}{}
	}
	if !z.started {
		z.started = true
		go z.d.run()
	}
	var c chunk
	select {
	case c = <-z.ch:
	case <-z.done:
		return ErrClosed
	}
	if c.err != nil {
		if c.buf != nil {
			// All chunks before this one are used up: the buffer they
			// came from is free.
			bufPool.Put(&c.buf)
		}
		z.err = c.err
		z.off.Store(c.inEnd)
		return z.err
	}
	if c.first {
		z.h.Reset()
	}
	if c.hash {
		z.h.Write(c.data)
		hashZeros(z.h, c.zeros)
	}
	z.holding = true
	if c.check {
		if got := uint32(z.h.Sum64()); got != c.sum {
			z.err = &fault.Error{Format: codec, Offset: c.checkOff, What: "checksum", Kind: fault.ErrCorrupt,
				Err: fmt.Errorf("content checksum %08x, computed %08x", c.sum, got)}
			return z.err
		}
	}
	z.cur, z.zeros, z.curEnd = c.data, c.zeros, c.inEnd
	if len(c.data) == 0 && c.zeros == 0 {
		z.off.Store(c.inEnd)
	}
	return nil
}

// Close stops the goroutines: the decoder at its next hand-over or input
// wait, the input reader when its current read of the underlying reader
// returns. Later Reads return ErrClosed. It may be called at any time,
// from any goroutine, more than once. It does not close the underlying
// reader.
func (z *Reader) Close() error {
	z.once.Do(func() { close(z.done) })
	return nil
}

// InputOffset returns how many compressed bytes the output served by
// Read so far came from: after fault.ErrTrailingData, where the trailing data
// starts. Safe to call from any goroutine.
func (z *Reader) InputOffset() int64 { return z.off.Load() }

// A decoder is the state of the decoding goroutine.
//
// The window buffer buf holds the history of the current frame and the
// output not yet handed over: the decoder writes blocks linearly at pos,
// and hands buf[cs:pos] to Read as a chunk once it reaches chunk bytes
// (and at a frame's end). At most inFlight chunks are with Read at a
// time: a chunk is sent only after taking a token, which Read gives back
// when it has used up a chunk. When a block might not fit before the end
// of buf, the pending output is handed over and the last bufWin bytes are
// moved to the front (slide). A chunk holds at most S = chunk + blk bytes
// (blk = maxBlock+slack), so the chunks with Read lie in the last
// inFlight*S bytes before pos, and buf has room for bufWin + K bytes
// with K >= 2*inFlight*S + 2*blk: neither the slide's destination nor
// the output written after it, until those chunks are given back, can
// reach them. bufWin starts small and grows (grow) while the frame's
// output exceeds it, up to need; a grown buffer only adds room after pos,
// or is a new one.
type decoder struct {
	in        *input
	maxWindow uint64
	done      chan struct{}
	ch        chan<- chunk
	tokens    <-chan struct{}

	buf    []byte
	need   int // history the frame may need: its window, or its content size if smaller
	bufWin int // history kept by a slide
	bufBlk int // largest block buf is laid out for
	chunk  int // output per chunk
	pos    int // end of the output
	cs     int // start of the output not handed over

	// Frame state.
	win        int   // window size
	blockMax   int   // largest block output
	frameOut   int64 // output of the frame before the current block
	frameFirst bool  // no chunk of the frame sent yet
	frameHash  bool  // the frame has a content checksum
	blockStart int   // buf index of the current block's output
	zeros      int64 // zeros of the frame after buf[cs:pos], not written to buf
	rep        [3]int
	huff       huffTable
	haveHuff   bool
	ll, of, ml seqTable
	lits       []byte // decoded literals of a block
}

// initWin is the most history a frame's window buffer starts with. The
// buffer grows with the frame's output (grow), up to the frame's window:
// a header, which may ask for any window up to the limit, reserves a few
// MiB, and the window's memory is taken only by a frame that has that
// much output.
const initWin = 256 << 10

// layout returns the chunk size and the length of a window buffer laid
// out for win bytes of history and blocks of blk bytes (see decoder).
func layout(win, blk int) (chunk, size int) {
	c := min(max(win, 16<<10), chunkMax)
	k := max(2*inFlight*(c+blk)+2*blk, min(8*win, bufExtra), min(win, 256<<20))
	return c, win + k
}

// alloc returns a window buffer of size bytes: a pooled one if one is
// large enough, else a new one.
func alloc(size int) []byte {
	if b, ok := bufPool.Get().(*[]byte); ok && cap(*b) >= size {
		return (*b)[:size]
	}
	b := make([]byte, size)
	adviseHugePages(b)
	return b
}

// prepare readies buf for a frame that needs need bytes of history (its
// window, or its content size if smaller). A buffer already laid out for
// the frame's blocks is kept, whatever its history: room grows it when
// the frame needs more.
func (d *decoder) prepare(need int) {
	d.need = need
	blk := d.blockMax + slack
	if d.buf != nil && d.bufBlk >= blk {
		return
	}
	win := min(need, initWin)
	c, size := layout(win, blk)
	d.buf = alloc(size)
	d.bufWin, d.bufBlk, d.chunk = win, blk, c
	d.pos, d.cs = 0, 0
}

// room makes sure a block fits at pos, growing the buffer or sliding if
// needed. False if the Reader was closed.
func (d *decoder) room() bool {
	if d.pos+d.blockMax+slack <= len(d.buf) {
		return true
	}
	if d.pos > d.cs && !d.flush(chunk{}) {
		return false
	}
	if d.bufWin < d.need && d.frameOut > int64(d.bufWin) {
		d.grow()
		if d.pos+d.blockMax+slack <= len(d.buf) {
			return true
		}
	}
	keep := min(d.bufWin, d.pos)
	copy(d.buf[:keep], d.buf[d.pos-keep:d.pos])
	d.pos, d.cs = keep, keep
	return true
}

// grow lays buf out for more history, as a slide would lose some the
// frame's matches may still reach: twice as much, or all the output
// there is, up to need. It extends buf if its capacity allows, else it
// moves the history to a new buffer; the chunks with Read stay where
// they are, and the decoder no longer writes to a buffer it left. All
// output is handed over (cs == pos).
func (d *decoder) grow() {
	win := min(d.need, max(2*d.bufWin, d.pos))
	c, size := layout(win, d.bufBlk)
	if size <= cap(d.buf) {
		d.buf = d.buf[:size]
	} else {
		keep := min(win, d.pos)
		b := alloc(size)
		copy(b, d.buf[d.pos-keep:d.pos])
		d.buf = b
		d.pos, d.cs = keep, keep
	}
	d.bufWin, d.chunk = win, c
}

// flush hands the pending output over as c. False if the Reader was
// closed.
func (d *decoder) flush(c chunk) bool {
	c.data = d.buf[d.cs:d.pos:d.pos]
	c.first = d.frameFirst
	c.hash = d.frameHash
	c.inEnd = d.in.off
	d.frameFirst = false
	d.cs = d.pos
	return d.send(c)
}

func (d *decoder) send(c chunk) bool {
	select {
	case <-d.tokens:
	case <-d.done:
		return false
	}
	select {
	case d.ch <- c:
		return true
	case <-d.done:
		return false
	}
}

// fail hands over the pending output, then err.
func (d *decoder) fail(err error) {
	if (d.pos > d.cs || d.zeros > 0) && !d.flush(chunk{zeros: d.zeros}) {
		return
	}
	d.send(chunk{err: err, inEnd: d.in.off, buf: d.buf})
}

func (d *decoder) closed() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}
