package bzip2

import (
	"errors"
	"fmt"
	"io"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
)

const (
	// readChunk is the size of the splitter's reads from the input.
	readChunk = 1 << 20
	// maxBlockBytes bounds the compressed size of one block. A level-9
	// block holds at most 900,000 symbols of at most 20 bits plus about
	// 40 KB of tables: under 2.3 MB. A longer stretch without a magic
	// cannot be a block.
	maxBlockBytes = 4 << 20
)

var (
	errEmpty   = errors.New("empty input")
	errNoMagic = errors.New("no block magic after the stream header")
)

const (
	stStream = iota // at a byte-aligned stream header
	stBlock         // inside a block that starts at blockStart
)

// splitter cuts the compressed input into segments: the bits from one
// block magic to the next magic, each tagged with its stream's level and
// the block CRC stored after the magic. A magic found by the bit scan may
// be a false one inside compressed data; the consumer merges segments that
// fail to decode with the next (see Reader.release). An end-of-stream magic
// is believed only when what follows it (stream CRC, padding) is the end
// of the input or another stream header followed by a magic; otherwise it
// is remembered and the scan goes on.
type splitter struct {
	r    io.Reader
	pool *bufPool // for the segments' bytes
	buf  []byte   // input bytes; buf[0] is at byte offset base
	base int64
	eof  bool  // r has no more data
	rerr error // r failed (not io.EOF)

	state      int
	pos        int64 // stStream: byte offset of the header
	level      byte  // of the current stream
	blockStart int64 // stBlock: bit offset of the block magic
	scanFrom   int64 // stBlock: bit offset where the magic scan resumes
	pendEOS    int64 // an implausible end-of-stream magic in this block, or -1
	streams    int

	queue []*segment // made, not yet returned by next
	done  error      // returned once queue is empty: io.EOF or the error
}

func newSplitter(r io.Reader, pool *bufPool) *splitter {
	return &splitter{r: r, pool: pool, buf: make([]byte, 0, 2*readChunk), pendEOS: -1}
}

// next returns the next segment or end-of-stream marker, or the error that
// ends the input (io.EOF when it ends cleanly).
func (sp *splitter) next() (*segment, error) {
	for len(sp.queue) == 0 && sp.done == nil {
		switch sp.state {
		case stStream:
			sp.stepStream()
		case stBlock:
			sp.stepBlock()
		}
	}
	if len(sp.queue) > 0 {
		s := sp.queue[0]
		sp.queue[0] = nil
		sp.queue = sp.queue[1:]
		return s, nil
	}
	return nil, sp.done
}

// end returns the absolute byte offset just past the data in buf.
func (sp *splitter) end() int64 { return sp.base + int64(len(sp.buf)) }

// keep returns the first byte offset still needed.
func (sp *splitter) keep() int64 {
	if sp.state == stBlock {
		return sp.blockStart >> 3
	}
	return sp.pos
}

// more reads more input into buf; it returns false when there is none.
func (sp *splitter) more() bool {
	if sp.eof {
		return false
	}
	if cap(sp.buf)-len(sp.buf) < readChunk/2 {
		if k := int(sp.keep() - sp.base); k > 0 {
			n := copy(sp.buf, sp.buf[k:])
			sp.buf = sp.buf[:n]
			sp.base += int64(k)
		}
		if cap(sp.buf)-len(sp.buf) < readChunk/2 {
			nb := make([]byte, len(sp.buf), 2*cap(sp.buf)+readChunk)
			copy(nb, sp.buf)
			sp.buf = nb
		}
	}
	for range 100 {
		free := sp.buf[len(sp.buf):min(cap(sp.buf), len(sp.buf)+readChunk)]
		n, err := sp.r.Read(free)
		sp.buf = sp.buf[:len(sp.buf)+n]
		if err != nil {
			sp.eof = true
			if err != io.EOF {
				sp.rerr = err
			}
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	sp.eof, sp.rerr = true, io.ErrNoProgress
	return false
}

// ensure reads until buf reaches byte offset off or the input ends.
func (sp *splitter) ensure(off int64) {
	for sp.end() < off && sp.more() {
	}
}

// fail ends the input with err (a *fault.Error), or, if r failed, with
// the read error at the same place.
func (sp *splitter) fail(err *fault.Error) {
	if sp.rerr != nil {
		err = fault.Input(codec, err.Offset, err.What, sp.rerr)
	}
	sp.done = err
}

func truncated(what string, off int64) *fault.Error {
	return fault.Input(codec, off, what, io.ErrUnexpectedEOF)
}

// isHeader reports whether b starts with a stream header "BZh1".."BZh9";
// partial is true if b is shorter than 4 bytes but could start one.
func isHeader(b []byte) (ok, partial bool) {
	const h = "BZh"
	for i := 0; i < len(b) && i < 4; i++ {
		if i < 3 && b[i] != h[i] || i == 3 && (b[i] < '1' || b[i] > '9') {
			return false, false
		}
	}
	return len(b) >= 4, len(b) < 4
}

// stepStream parses a stream header at sp.pos.
func (sp *splitter) stepStream() {
	pos := sp.pos
	sp.ensure(pos + 10)
	b := sp.buf[pos-sp.base:]
	b = b[:min(len(b), 10)]
	if len(b) == 0 {
		switch {
		case sp.rerr != nil:
			sp.fail(truncated("stream header", pos))
		case sp.streams > 0:
			sp.done = io.EOF
		default:
			sp.done = &fault.Error{Format: codec, Offset: pos, What: "stream header", Kind: io.ErrUnexpectedEOF, Err: errEmpty}
		}
		return
	}
	ok, partial := isHeader(b)
	switch {
	case partial:
		sp.fail(truncated("stream header", pos))
		return
	case !ok && sp.streams > 0:
		sp.fail(&fault.Error{Format: codec, Offset: pos, What: "trailing data", Kind: fault.ErrTrailingData})
		return
	case !ok:
		sp.fail(&fault.Error{Format: codec, Offset: pos, What: "stream header", Kind: fault.ErrFormat})
		return
	case len(b) < 10:
		sp.fail(truncated("stream", pos))
		return
	}
	sp.streams++
	sp.level = b[3] - '0'
	p := (pos + 4) * 8
	switch magicAt(b, 32) {
	case blockMagic:
		sp.state = stBlock
		sp.blockStart, sp.scanFrom, sp.pendEOS = p, p+80, -1
	case eosMagic: // a stream without blocks (empty input)
		sp.endStream(p)
	default:
		sp.fail(&fault.Error{Format: codec, Offset: pos + 4, What: "block", Kind: fault.ErrCorrupt, Err: errNoMagic})
	}
}

// stepBlock finds where the block at sp.blockStart ends.
func (sp *splitter) stepBlock() {
	from := sp.scanFrom
	for {
		p, m, found := findMagic(sp.buf, from-sp.base*8)
		if found {
			p += sp.base * 8
			if m == blockMagic {
				sp.emitBlock(p)
				sp.blockStart, sp.scanFrom, sp.pendEOS = p, p+80, -1
				return
			}
			if sp.plausibleEnd(p) {
				sp.emitBlock(p)
				sp.endStream(p)
				return
			}
			sp.pendEOS = p
			from = p + 1
			continue
		}
		end := sp.end() * 8
		if end-sp.blockStart > maxBlockBytes*8 || !sp.more() {
			switch {
			case sp.pendEOS >= 0:
				// The last end-of-stream magic was real after all, and
				// what follows is not a stream.
				sp.emitBlock(sp.pendEOS)
				sp.endStream(sp.pendEOS)
			case sp.eof:
				sp.fail(truncated("block", sp.blockStart>>3))
			default:
				sp.fail(&fault.Error{Format: codec, Offset: sp.blockStart >> 3, What: "block", Kind: fault.ErrCorrupt,
					Err: fmt.Errorf("no block end within %d bytes", maxBlockBytes)})
			}
			return
		}
		sp.scanFrom = max(from, end-47)
		from = sp.scanFrom
	}
}

// plausibleEnd reports whether an end-of-stream magic at bit p is followed
// by its CRC and then the end of the input or another stream.
func (sp *splitter) plausibleEnd(p int64) bool {
	e := (p + 80 + 7) >> 3 // end of the stream
	sp.ensure(e + 10)
	if sp.end() < e {
		return false
	}
	b := sp.buf[e-sp.base:]
	b = b[:min(len(b), 10)]
	if len(b) == 0 {
		return sp.eof
	}
	ok, partial := isHeader(b)
	if partial || ok && len(b) < 10 {
		return sp.eof // a cut-off next stream: let stepStream report it
	}
	return ok && magicAt(b, 32) != 0
}

// emitBlock queues the segment from sp.blockStart to bit end.
func (sp *splitter) emitBlock(end int64) {
	start := sp.blockStart
	raw := sp.buf[start>>3-sp.base : (end+7)>>3-sp.base]
	buf := getBuf(sp.pool, len(raw)+blockPad)
	copy(buf, raw)
	sp.queue = append(sp.queue, &segment{
		off:   start,
		nbits: end - start,
		level: sp.level,
		crc:   uint32(getBits(sp.buf, start+48-sp.base*8, 32)),
		buf:   buf,
		end:   end >> 3,
	})
}

// endStream queues the end-of-stream marker for the magic at bit p.
func (sp *splitter) endStream(p int64) {
	e := (p + 80 + 7) >> 3
	sp.ensure(e)
	if sp.end() < e {
		sp.fail(truncated("end of stream", p>>3))
		return
	}
	sp.queue = append(sp.queue, &segment{
		eos:   true,
		off:   p,
		level: sp.level,
		crc:   uint32(getBits(sp.buf, p+48-sp.base*8, 32)),
		end:   e,
	})
	sp.state, sp.pos = stStream, e
}
