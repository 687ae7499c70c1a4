// Package bzip2 decodes bzip2 files on several cores, the way lbzip2
// does: the blocks of every stream are found by their bit-aligned magics
// (split.go) and decoded in parallel, and their outputs are served in
// order. It reads files written by bzip2, lbzip2 (one stream of many
// blocks) and pbzip2 (one stream per block), and concatenations.
//
// The block decoder is our own, written from the format (block.go: the
// header, Huffman tables, move-to-front and runs; bwt.go: the inverse
// Burrows-Wheeler transform; crc.go), for speed. dsnet/compress/bzip2,
// which decoded the blocks before, spent most of its time in the inverse
// BWT, whose plain walk takes a cache miss per byte; ours walks 12 chains
// at once, and decodes the symbols in loops without calls, for less than
// half dsnet's CPU time (the measurements are in README.md, next to this
// file). dsnet is now only the reference the tests compare with. Blocks with the
// randomised bit (written by bzip2 0.9.0, in 1998) are an error, as they
// were with dsnet.
//
// Integrity is that of bzip2 itself: each block's CRC is checked, and each
// stream's combined CRC over its blocks at the stream's end. A malformed
// block is an error that names it. A recover guards against decoder bugs:
// a panic of the block decoder becomes an error of kind
// fault.ErrInternal, never merged like a false magic, which the fuzz
// tests fail on. A cut-off input is an error wrapping io.ErrUnexpectedEOF; data
// after the last stream is fault.ErrTrailingData, after the output of the
// streams before it.
package bzip2

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"github.com/bmap-tools/bmap/decompress/internal/ordered"
)

var errClosed = errors.New("bzip2: read after Close")

// maxMerge is the most segments a block is merged from. A magic is 48
// bits, so a block of a few million bits holds a false one by chance
// about once in 10^7 blocks: 7 in one block were put there.
const maxMerge = 8

// budget bounds the bytes held by blocks in flight: compressed input plus
// decoded output, from the moment the splitter cuts a block until Read has
// served its output: about 65 level-9 blocks; blocks whose runs expand
// past the usual 900 kB take more of it as they grow.
const budget = 64 << 20

// A segment is one job: the bits of one block (or what the splitter took
// for one), or the end-of-stream marker that closes a stream.
type segment struct {
	seq   uint64
	off   int64  // bit offset of the block magic (or of the end-of-stream magic)
	nbits int64  // bits from the magic up to the next magic
	level byte   // block size level of the stream, 1..9
	crc   uint32 // block CRC, or the stream CRC for an eos marker
	end   int64  // byte offset reported by InputOffset once served
	eos   bool   // end-of-stream marker

	buf   []byte // the block's bytes from the one its magic starts in, then blockPad spare bytes
	cost  int64  // bytes acquired from the gate
	err   error  // decoding failed (the consumer decides whether to merge)
	extra int64  // gate bytes acquired while decoding (output growth)
}

// outEst is the usual largest output of one block: its level times 100 kB
// (more only when runs of 4+ equal bytes expand).
func outEst(level byte) int { return int(level)*100000 + 4096 }

// maxOut is the most one block can hold: every 5 bytes of its level×100 kB
// a run of 4 equal bytes and a repeat count of 255 (46.6 MB at level 9).
func maxOut(level byte) int { return int(level)*100000/5*259 + 8 }

// Reader decompresses a bzip2 file.
type Reader struct {
	or    *ordered.Reader
	sp    *splitter
	gate  *gate
	inOff atomic.Int64
	decs  chan *blockDecoder
	seq   uint64 // next job number (splitter goroutine only)

	// Touched only by the goroutine calling Read (Release callbacks run
	// inside ordered.Reader.Read).
	streamCRC  uint32
	pending    []*segment // consecutive segments that failed to decode
	merged     []byte     // output of a successful merge, to serve first
	hold       []byte     // bytes to serve before reading on
	err        error
	mergeDec   *blockDecoder
	merges     int // successful merges, for tests
	mergeTries int // merged decodings, for tests

	inPool, outPool bufPool
}

// NewReader returns a Reader that decodes r on workers goroutines (at
// least 1) plus a splitter goroutine that reads r.
func NewReader(r io.Reader, workers int) *Reader {
	workers = max(workers, 1)
	z := &Reader{
		gate:   newGate(budget, workers),
		decs:   make(chan *blockDecoder, workers+1),
		inPool: bufPool{limit: 16 << 20},
		// What the gate lets be in flight: recycling it all makes no garbage.
		outPool: bufPool{limit: budget + (workers+1)*maxOut(9)},
	}
	z.sp = newSplitter(r, &z.inPool)
	z.or = ordered.NewReader(z.next, workers, budget)
	return z
}

// next runs on the ordered split goroutine.
func (z *Reader) next() (ordered.Job, error) {
	s, err := z.sp.next()
	if err != nil {
		return ordered.Job{}, err
	}
	s.seq = z.seq
	z.seq++
	if !s.eos {
		s.cost = int64(len(s.buf) + outEst(s.level))
	}
	if !z.gate.acquire(s.seq, s.cost, true) {
		return ordered.Job{}, errClosed
	}
	return ordered.Job{
		Cost:    s.cost,
		Run:     func() ([]byte, error) { return z.decode(s) },
		Release: func(out []byte) { z.release(s, out) },
	}, nil
}

// InputOffset returns how far into the compressed input the data served
// so far reaches: the end of the last block whose output Read has returned
// (after an error, the start of the block or trailing data at fault). It
// is safe to call from any goroutine.
func (z *Reader) InputOffset() int64 { return z.inOff.Load() }

// Read implements io.Reader. Data is tentative until io.EOF: a stream's
// CRC is checked at its end.
func (z *Reader) Read(p []byte) (int, error) {
	for {
		if len(z.hold) > 0 {
			n := copy(p, z.hold)
			z.hold = z.hold[n:]
			return n, nil
		}
		if z.err != nil {
			return 0, z.err
		}
		if len(p) == 0 {
			return 0, nil
		}
		n, err := z.or.Read(p)
		// Jobs without output (failed segments, stream ends) were released
		// before the n bytes were copied, and the n bytes come from a block
		// that decoded: one after a failed segment proves that failure real.
		if z.err == nil && len(z.pending) > 0 && (n > 0 || err != nil) {
			z.failPending()
		}
		if z.err != nil { // drop p[:n]: it comes after the fault
			z.hold, z.merged = z.merged, nil
			continue
		}
		if err != nil {
			z.err = err
		}
		if len(z.merged) > 0 {
			z.hold = append(z.merged, p[:n]...)
			z.merged = nil
			continue
		}
		if n > 0 {
			return n, nil
		}
	}
}

// Close stops the goroutines and waits for them. It does not close the
// underlying reader.
func (z *Reader) Close() error {
	z.gate.close()
	z.or.Close()
	z.err = errClosed
	z.hold, z.merged, z.pending = nil, nil, nil
	return nil
}

// gate bounds the bytes held by jobs in flight, including output that
// grows past its estimate while a block is decoded (runs of zeros expand a
// level-9 block to up to 46.6 MB). A new job waits while the budget is
// spent, unless nothing is in flight. A growing job waits too, unless it is
// one of the `workers` oldest jobs not yet served: the oldest always
// progresses (no deadlock), and all workers can expand big blocks while
// Read serves another. Memory stays under the budget plus `workers` blocks
// of growth.
type gate struct {
	mu      sync.Mutex
	cond    sync.Cond
	used    int64
	budget  int64
	workers uint64
	oldest  uint64 // seq of the oldest job not yet released
	closed  bool
}

func newGate(budget int64, workers int) *gate {
	g := &gate{budget: budget, workers: uint64(workers)}
	g.cond.L = &g.mu
	return g
}

func (g *gate) acquire(seq uint64, n int64, isNew bool) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for !g.closed && g.used > 0 && g.used+n > g.budget && (isNew || seq >= g.oldest+g.workers) {
		g.cond.Wait()
	}
	if g.closed {
		return false
	}
	g.used += n
	return true
}

// served releases job seq's bytes; jobs are served in order.
func (g *gate) served(seq uint64, n int64) {
	g.mu.Lock()
	g.used -= n
	g.oldest = seq + 1
	g.mu.Unlock()
	g.cond.Broadcast()
}

func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.cond.Broadcast()
}

// bufPool recycles byte slices; it keeps at most limit bytes of capacity.
type bufPool struct {
	mu    sync.Mutex
	bufs  [][]byte
	total int
	limit int
}

// getBuf returns a slice of length n: the smallest pooled one that fits
// and is at most 4n long, or a new one.
func getBuf(p *bufPool, n int) []byte {
	p.mu.Lock()
	best := -1
	for i, b := range p.bufs {
		if c := cap(b); c >= n && c <= 4*n && (best < 0 || c < cap(p.bufs[best])) {
			best = i
		}
	}
	if best >= 0 {
		b := p.bufs[best]
		last := len(p.bufs) - 1
		p.bufs[best] = p.bufs[last]
		p.bufs[last] = nil
		p.bufs = p.bufs[:last]
		p.total -= cap(b)
		p.mu.Unlock()
		return b[:n]
	}
	p.mu.Unlock()
	return make([]byte, n)
}

func putBuf(p *bufPool, b []byte) {
	if cap(b) == 0 {
		return
	}
	p.mu.Lock()
	if p.total+cap(b) <= p.limit {
		p.bufs = append(p.bufs, b[:0])
		p.total += cap(b)
	}
	p.mu.Unlock()
}
