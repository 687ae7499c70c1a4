package xz

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
	"github.com/bmap-tools/bmap/decompress/internal/ordered"
	xzdec "github.com/therootcompany/xz"
)

// The LZMA2 layer (xz-file-format-1.2.0.txt, section 5.3.1, and the
// chunk rules of XZ Embedded, whose acceptance this decoder matches): a
// sequence of chunks, each LZMA-compressed (at most 2 MiB out, 64 KiB in)
// or stored (at most 64 KiB), ended by a 0 byte. Control bytes:
//
//	0x00       end
//	0x01       dictionary reset, stored chunk
//	0x02       stored chunk
//	0x80-0x9f  LZMA chunk
//	0xa0-0xbf  LZMA chunk, state reset
//	0xc0-0xdf  LZMA chunk, state reset with new properties (lc, lp, pb)
//	0xe0-0xff  LZMA chunk, dictionary reset, state reset with new properties
//
// The first chunk must reset the dictionary, and the first LZMA chunk
// after a dictionary reset must set the properties.

var (
	errNoDictReset = errors.New("LZMA2 data does not start with a dictionary reset")
	errNoProps     = errors.New("LZMA2 chunk without properties after a dictionary reset")
	errProps       = errors.New("bad LZMA properties")
	errChunkShort  = errors.New("LZMA chunk shorter than its range coder's 5 bytes")
	errTooLong     = errors.New("LZMA2 data longer than the block's uncompressed size")
	errBlockShort  = errors.New("block ends inside its LZMA2 data")
)

const (
	maxChunkOut = 2 << 20 // largest uncompressed size of a chunk
	// winExtra is what a sequential block's window holds besides the
	// dictionary: a whole chunk, plus a margin (see lzma2Dec).
	winExtra = maxChunkOut + 4<<10
	// initWin is the size a sequential block's window starts at.
	initWin = 2 * winExtra
)

// dictBytes is the dictionary size of an LZMA2 properties byte (<= 40).
func dictBytes(props byte) uint32 {
	if props == 40 {
		return 0xffffffff
	}
	return (2 | uint32(props)&1) << (props/2 + 11)
}

// A byteSource yields a block's data after its header.
type byteSource interface {
	readFull(p []byte) error
}

// lzma2Dec decodes the LZMA2 data of a block, chunk by chunk, into buf,
// each chunk in one linear run (decodeChunk), in one of two layouts:
//
//   - Linear, for a block decoded as a parallel job: buf is the block's
//     whole output, which is also the dictionary. No copy.
//
//   - A window, for a sequential block: up to dictSize + winExtra bytes
//     (winMax). It starts smaller and grows, in place or by moving the
//     output to a larger buffer, while a chunk would not fit after pos,
//     so a block reserves no more than its output until its dictionary is
//     full. At winMax, a chunk that would not fit after pos starts again
//     at 0 (wrapEnd is where the data before ends, and a match reaching
//     back past 0 continues from there); the caller copies each chunk's
//     output out before the next.
//     After a wrap, writing at pos (or up to 16 bytes past it: the match
//     copy's overrun) destroys a byte from before the wrap, at least
//     wrapEnd-16 bytes back, and wrapEnd > dictSize + 4 KiB: never
//     history a match may still use.
type lzma2Dec struct {
	lzmaDec
	needDictReset bool
	needProps     bool
	circular      bool
	winMax        int    // the window's full size (circular)
	start         int    // where the last chunk's output starts
	comp, uncomp  uint64 // LZMA2 bytes read (headers included), produced
	bh            blockHeader
	off           int64
}

func (d *lzma2Dec) begin(off int64, bh blockHeader, buf []byte, circular bool) {
	d.off, d.bh = off, bh
	d.buf, d.pos, d.start, d.circular = buf, 0, 0, circular
	d.dictSize = dictBytes(bh.dictProps)
	d.hist, d.posBase, d.wrapEnd, d.prev = 0, 0, 0, 0
	d.needDictReset, d.needProps = true, false
	d.comp, d.uncomp = 0, 0
}

// chunk decodes the next chunk from src; done at the end marker. Its
// output is d.buf[d.start:d.pos].
func (d *lzma2Dec) chunk(src byteSource) (done bool, err error) {
	var h [6]byte
	if err := src.readFull(h[:1]); err != nil {
		return false, err
	}
	c := h[0]
	hl, err := chunkHeaderLen(c)
	if err != nil {
		return false, err
	}
	if err := src.readFull(h[1:hl]); err != nil {
		return false, err
	}
	dl, ul := chunkSizes(h[:hl])
	d.comp += uint64(hl) + uint64(dl)
	d.uncomp += uint64(ul)
	if err := checkBounds(d.off, d.bh, d.comp, d.uncomp); err != nil {
		return false, err
	}
	d.start = d.pos
	if c == 0 {
		return true, nil
	}
	reset := c >= 0xe0 || c == 1
	if reset {
		d.needProps, d.needDictReset = true, false
	} else if d.needDictReset {
		return false, errNoDictReset
	}
	if c >= 0x80 {
		switch {
		case c >= 0xc0:
			d.needProps = false
			if !d.setProps(h[5]) {
				return false, errProps
			}
			d.resetState()
		case d.needProps:
			return false, errNoProps
		case c >= 0xa0:
			d.resetState()
		}
		if dl < 5 {
			return false, errChunkShort
		}
	}
	n := int(ul)
	if d.circular && d.pos+n > len(d.buf) && len(d.buf) < d.winMax {
		d.grow(d.pos + n)
	}
	if d.circular && d.pos+n > len(d.buf) {
		d.wrapEnd = d.pos
		d.posBase -= d.pos
		d.pos = 0
	}
	if reset {
		d.hist, d.posBase, d.prev = 0, d.pos, 0
	}
	if d.pos+n > len(d.buf) {
		return false, errTooLong
	}
	d.start = d.pos
	if c >= 0x80 {
		if err := src.readFull(d.in[:dl]); err != nil {
			return false, err
		}
		return false, d.decodeChunk(int(dl), d.pos+n)
	}
	b := d.buf[d.pos : d.pos+n]
	if err := src.readFull(b); err != nil {
		return false, err
	}
	d.pos += n
	d.hist = int(min(uint64(d.hist)+uint64(n), uint64(d.dictSize)))
	d.prev = b[n-1]
	return false, nil
}

// grow enlarges a window that has not wrapped yet to hold at least need
// bytes, doubling it, up to winMax: in place if its capacity allows, else
// into a new buffer holding the output so far.
func (d *lzma2Dec) grow(need int) {
	size := min(d.winMax, max(2*len(d.buf), need))
	if size <= cap(d.buf) {
		d.buf = d.buf[:size]
		return
	}
	b := make([]byte, size)
	copy(b, d.buf[:d.pos])
	d.buf = b
}

// sizesErr checks the sizes at the end of the LZMA2 data against the
// header's.
func (d *lzma2Dec) sizesErr() error {
	if d.bh.compressed != 0 && d.comp != d.bh.compressed {
		return corrupt(d.off, "block", "compressed size differs from its header's")
	}
	if d.bh.hasUncomp && d.uncomp != d.bh.uncompressed {
		return corrupt(d.off, "block", "uncompressed size differs from its header's")
	}
	return nil
}

// blockErr reports an error of our decoder in the block at off.
func blockErr(off int64, err error) error {
	var e *fault.Error
	if errors.As(err, &e) {
		return err
	}
	return corrupt(off, "block", "%v", err)
}

// recovered turns a panic of our decoder, which valid or invalid input
// should never cause, into an error of kind fault.ErrInternal (which the
// fuzz tests fail on) rather than a crash.
func recovered(off int64, err *error) {
	if r := recover(); r != nil {
		*err = fault.Recovered(codec, off, "block", r)
	}
}

// lzma2Block says whether our decoder takes the block: LZMA2 alone, with
// a dictionary within the limit. therootcompany/xz decodes the others
// (BCJ and delta filters) and reports bad headers.
func (x *Reader) lzma2Block(bh blockHeader) bool {
	limit := x.maxDict
	if limit == 0 {
		limit = xzdec.DefaultDictMax
	}
	return bh.lzma2Only && dictBytes(bh.dictProps) <= limit && !x.noLZMA2 &&
		uint64(dictBytes(bh.dictProps))+winExtra <= math.MaxInt // the window (32-bit platforms)
}

// partsSource reads the parts of a block held in memory.
type partsSource struct {
	parts [][]byte
	i     int // current part
	off   int // in it
}

func (s *partsSource) readFull(p []byte) error {
	for len(p) > 0 {
		if s.i == len(s.parts) {
			return errBlockShort
		}
		n := copy(p, s.parts[s.i][s.off:])
		p = p[n:]
		s.off += n
		if s.off == len(s.parts[s.i]) {
			s.i, s.off = s.i+1, 0
		}
	}
	return nil
}

func (s *partsSource) empty() bool {
	for ; s.i < len(s.parts); s.i, s.off = s.i+1, 0 {
		if s.off < len(s.parts[s.i]) {
			return false
		}
	}
	return true
}

func (x *Reader) getLZ() *lzma2Dec {
	select {
	case d := <-x.lzDecs:
		return d
	default:
		return new(lzma2Dec)
	}
}

func (x *Reader) putLZ(d *lzma2Dec) {
	d.buf = nil
	select {
	case x.lzDecs <- d:
	default:
	}
}

// lzma2Job decodes a block held in src (the data after its header) with
// our decoder, straight into its output.
func (x *Reader) lzma2Job(off int64, bh blockHeader, src chunks, uncomp uint64) ordered.Job {
	x.nPar++
	x.nOurs++
	check := x.check
	return ordered.Job{
		Cost: src.held() + int64(uncomp),
		Run: func() ([]byte, error) {
			out := x.outs.get(int(uncomp))
			d := x.getLZ()
			err := x.decodeLZMA2Block(d, off, bh, src.bufs, out, check)
			x.putLZ(d)
			src.release()
			if err != nil {
				x.outs.put(out)
				return nil, err
			}
			return out, nil
		},
		Release: x.outs.put,
	}
}

// decodeLZMA2Block decodes a whole block (LZMA2 data, padding, check) from
// parts into out, which it must fill exactly, and verifies its check.
func (x *Reader) decodeLZMA2Block(d *lzma2Dec, off int64, bh blockHeader, parts [][]byte, out []byte, check byte) (err error) {
	defer recovered(off, &err)
	d.begin(off, bh, out, false)
	src := partsSource{parts: parts}
	for {
		done, err := d.chunk(&src)
		if err != nil {
			return blockErr(off, err)
		}
		if done {
			break
		}
	}
	if err := d.sizesErr(); err != nil {
		return err
	}
	if d.pos != len(out) {
		return corrupt(off, "block", "uncompressed size differs from the block's")
	}
	pad := pad4(d.comp)
	var t [4 + 64]byte
	tail := t[:pad+uint64(checkSize[check])]
	if err := src.readFull(tail); err != nil || !src.empty() {
		return corrupt(off, "block", "block size differs from its LZMA2 data's")
	}
	if !allZero(tail[:pad]) {
		return corrupt(off, "block", "nonzero block padding")
	}
	if !checkMatches(check, out, tail[pad:]) {
		return corrupt(off, "block", "%v check mismatch", xzdec.CheckID(check))
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// checkMatches verifies a block's check field against its whole output.
func checkMatches(check byte, out, val []byte) bool {
	switch check {
	case checkCRC32:
		return crc32.ChecksumIEEE(out) == binary.LittleEndian.Uint32(val)
	case checkCRC64:
		return crc64Update(0, out) == binary.LittleEndian.Uint64(val)
	case checkSHA256:
		sum := sha256.Sum256(out)
		return bytes.Equal(sum[:], val)
	}
	return true
}

// seqSource reads a sequential block's data: what was read before the
// block turned out to be large (prefix), then the input.
type seqSource struct {
	prefix *chunks
	parts  partsSource
	in     *input
	off    int64
}

func (s *seqSource) readFull(p []byte) error {
	if s.prefix != nil {
		for len(p) > 0 && !s.parts.empty() {
			k := min(len(p), len(s.parts.parts[s.parts.i])-s.parts.off)
			s.parts.readFull(p[:k]) // cannot fail: k bytes are there
			p = p[k:]
		}
		if s.parts.empty() {
			s.prefix.release()
			s.prefix = nil
		}
	}
	if len(p) == 0 {
		return nil
	}
	if err := s.in.readFull(p); err != nil {
		return inputErr(s.off, "block", err)
	}
	return nil
}

// startSeqLZMA2 starts decoding a large block with our decoder. prefix,
// if not nil, holds the block's data read so far.
func (x *Reader) startSeqLZMA2(off int64, h []byte, bh blockHeader, prefix *chunks) {
	s := &seqBlock{x: x, off: off, bh: bh, hsz: len(h), check: x.check}
	s.newHash()
	if x.seqLZ == nil {
		x.seqLZ = new(lzma2Dec)
	}
	// The window starts at the size of the last one, or initWin, and
	// grows with the output up to the dictionary (lzma2Dec.grow).
	winMax := int(dictBytes(bh.dictProps)) + winExtra
	size := min(winMax, max(len(x.seqWin), initWin))
	if cap(x.seqWin) < size {
		x.seqWin = nil
		x.seqWin = make([]byte, size)
	}
	x.seqLZ.begin(off, bh, x.seqWin[:size], true)
	x.seqLZ.winMax = winMax
	s.dec = x.seqLZ
	s.src = seqSource{in: x.in, off: off}
	if prefix != nil {
		s.src.prefix = prefix
		s.src.parts.parts = prefix.bufs
	}
	x.hashPrev = x.closedSignal
	x.seq = s
	x.nSeq++
	x.nOurs++
}

// seqNextLZMA2 decodes the next piece of a sequential block with our
// decoder.
func (x *Reader) seqNextLZMA2(s *seqBlock) (job ordered.Job, err error) {
	defer recovered(s.off, &err)
	d := s.dec
	buf := x.pieces.get()
	n := 0
	for n < len(buf) {
		if s.emit < d.pos {
			k := copy(buf[n:], d.buf[s.emit:d.pos])
			n += k
			s.emit += k
			continue
		}
		if s.over {
			break
		}
		done, err := d.chunk(&s.src)
		if err == nil && done {
			err = s.finishLZMA2()
			s.over = true
		}
		if err != nil {
			x.pieces.put(buf)
			return job, blockErr(s.off, err)
		}
		s.emit = d.start
	}
	if s.over && s.emit == d.pos {
		x.seqWin = d.buf // as grown, for the next sequential block
		x.record(uint64(s.hsz)+d.comp+uint64(checkSize[s.check]), d.uncomp)
		x.seq = nil
		return x.pieceJob(s, buf[:n], true), nil
	}
	return x.pieceJob(s, buf[:n], false), nil
}

// finishLZMA2 checks the sizes and reads the padding and the check.
func (s *seqBlock) finishLZMA2() error {
	d := s.dec
	if err := d.sizesErr(); err != nil {
		return err
	}
	pad := int(pad4(d.comp))
	t := make([]byte, pad+checkSize[s.check])
	if err := s.src.readFull(t); err != nil {
		return err
	}
	if !allZero(t[:pad]) {
		return corrupt(s.off, "block", "nonzero block padding")
	}
	s.checkVal = t[pad:]
	return nil
}
