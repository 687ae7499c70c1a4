package bzip2

// The block decoder, written from the bzip2 format. A block, after its
// 48-bit magic, is:
//
//	32 bits   block CRC (of the block's decoded bytes)
//	 1 bit    randomised (only bzip2 0.9.0 set it)
//	24 bits   origin pointer: the row of the original string in the BWT
//	16 bits   which of the 16 ranges of 16 byte values occur,
//	16 bits   for each range that does, which of its byte values occur
//	 3 bits   number of Huffman tables, 2..6
//	15 bits   number of selectors, ≥ 1
//	          selectors: for each group of 50 symbols, the table it uses,
//	          as a move-to-front index in unary (1s ended by a 0)
//	          for each table, its code lengths: 5 bits for the first, then
//	          for each symbol "10" (+1) or "11" (-1) until a "0"
//	          the symbols, canonical Huffman codes of their group's table
//
// The symbols encode the last column of the Burrows-Wheeler matrix:
// RUNA/RUNB (0 and 1) spell, in bijective base 2, runs of the byte at the
// front of the move-to-front list; symbol k ≥ 2 is the byte at index k-1
// of the list (moved to its front); the last symbol ends the block. After
// the inverse BWT, a run of 4 equal bytes is followed by a count (0..255)
// of more copies; the CRC covers the result.

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"slices"
)

const (
	fastBits     = 10 // codes up to this long decode with one table lookup
	maxCodeLen   = 20
	maxGroups    = 6
	groupSize    = 50                   // symbols per selector
	maxSelectors = 2 + 900000/groupSize // the most a block can use (bzip2 ignores more)
	maxAlpha     = 256 + 2              // RUNA, RUNB, 255 byte indexes, end of block
	blockUnit    = 100000               // a level-n block holds at most n×100000 bytes
	maxRunPow    = 21                   // RUNA/RUNB digits in a row; more spell a run over 4 million
	minGroups    = 2                    // Huffman tables per block, at least
	noRun        = -1                   // run4's answer when there is no run
	blockPad     = 256                  // bytes readable past a block's end (see huffman)
)

// Block decoding errors, the details of a *fault.Error (Kind
// fault.ErrCorrupt, or fault.ErrUnsupported for errRandomised). Every
// structural check has its own, so that tests can tell which one fired.
var (
	errNotBlock     = errors.New("no block magic")
	errRandomised   = errors.New("randomised block (written by bzip2 0.9.0)")
	errNoBytes      = errors.New("block uses no byte values")
	errGroups       = errors.New("number of Huffman tables not in 2..6")
	errNoSelectors  = errors.New("no selectors")
	errSelector     = errors.New("selector names a missing Huffman table")
	errCodeLen      = errors.New("Huffman code length not in 1..20")
	errOversub      = errors.New("over-subscribed Huffman code")
	errBadCode      = errors.New("unused Huffman code")
	errFewSelectors = errors.New("more symbol groups than selectors")
	errTooBig       = errors.New("block larger than its level allows")
	errOrigPtr      = errors.New("origin pointer outside the block")
	errRunCount     = errors.New("run of 4 bytes without its count at the block's end")
	errBlockCRC     = errors.New("mismatching block checksum")
	errBlockTail    = errors.New("bits between the block's end and the next magic")
)

// huffman is one decoding table: a direct lookup on the next fastBits bits
// for the short codes, and per length the canonical code range for the
// rest (codes are assigned in order of length, then symbol).
type huffman struct {
	fast   [1 << fastBits]uint16 // symbol<<5 | length; 0: a longer code, or none
	first  [maxCodeLen + 1]uint32
	count  [maxCodeLen + 1]uint32
	offset [maxCodeLen + 1]uint16 // index in perm of the first code of each length
	perm   [maxAlpha]uint16       // the symbols by code
}

// build makes the table for the code lengths (1..20) of the symbols.
// Incomplete codes are accepted, as bzip2 does (lbzip2 writes unused tables
// with all lengths 20): decoding fails only if an unused code shows up.
func (h *huffman) build(lens []uint8) error {
	var count [maxCodeLen + 1]uint32
	for _, l := range lens {
		count[l]++
	}
	left := 1 // codes still free at the current length
	code, off := uint32(0), uint32(0)
	for l := 1; l <= maxCodeLen; l++ {
		if left = 2*left - int(count[l]); left < 0 {
			return errOversub
		}
		h.first[l], h.count[l], h.offset[l] = code, count[l], uint16(off)
		code = (code + count[l]) << 1
		off += count[l]
	}
	next := h.offset
	for s, l := range lens {
		h.perm[next[l]] = uint16(s)
		next[l]++
	}
	clear(h.fast[:])
	for l := 1; l <= fastBits; l++ {
		for k := range h.count[l] {
			e := h.perm[uint32(h.offset[l])+k]<<5 | uint16(l)
			lo := (h.first[l] + k) << (fastBits - l)
			f := h.fast[lo : lo+1<<(fastBits-l)]
			for i := range f {
				f[i] = e
			}
		}
	}
	return nil
}

// bitReader reads a bit string most significant bit first: acc holds the
// next n bits at its top (and perhaps more after them, read early: they
// are the same bits the next refill loads); buf[p] is the first byte not
// yet counted in n. Bits past the end of buf read as zeros.
type bitReader struct {
	buf []byte
	p   int
	acc uint64
	n   uint
}

func newBitReader(buf []byte, pos int64) bitReader {
	br := bitReader{buf: buf, p: int(pos >> 3)}
	br.refill()
	br.skip(uint(pos & 7))
	return br
}

// pos returns the bit position of the next bit.
func (br *bitReader) pos() int64 { return int64(br.p)*8 - int64(br.n) }

// refill makes n at least 56.
func (br *bitReader) refill() {
	if br.p+8 <= len(br.buf) {
		br.acc |= binary.BigEndian.Uint64(br.buf[br.p:]) >> (br.n & 63)
		br.p += int((63 - br.n) >> 3)
		br.n |= 56
		return
	}
	br.acc, br.n, br.p = refillSlow(br.buf, br.acc, br.n, br.p)
}

func refillSlow(buf []byte, acc uint64, n uint, p int) (uint64, uint, int) {
	for n <= 56 {
		var b byte
		if p >= 0 && p < len(buf) {
			b = buf[p]
		}
		acc |= uint64(b) << (56 - n)
		p++
		n += 8
	}
	return acc, n, p
}

func (br *bitReader) skip(k uint) {
	br.acc <<= k & 63
	br.n -= k
}

// bits reads k ≤ 32 bits.
func (br *bitReader) bits(k uint) uint32 {
	if br.n < k {
		br.refill()
	}
	v := uint32(br.acc >> (64 - k))
	br.skip(k)
	return v
}

// blockDecoder decodes blocks; one per worker, reused.
type blockDecoder struct {
	tables [maxGroups]huffman
	sel    [maxSelectors]uint8
	lens   [maxAlpha]uint8
	counts [256]uint32 // of each byte value in the block
	ll     []byte      // the BWT's last column, then the inverted block
	pad    []byte      // a copy of a block without blockPad bytes after it
	syms   []uint16    // the block's symbols
	nsyms  int         // how many
	mtf0   [256]byte   // the move-to-front list they start with
	bwt                // the inverse BWT's tables
}

func newBlockDecoder() *blockDecoder { return new(blockDecoder) }

// decode decodes the block whose magic starts at bit start of buf and
// ends at bit end (where the next magic starts) up to the initial run
// length stage: afterwards d.ll[:n] holds the block's bytes still to
// expand, and crc is the block's stored CRC.
func (d *blockDecoder) decode(buf []byte, start, end int64, level byte) (n int, crc uint32, err error) {
	n, crc, orig, err := d.read(buf, start, end, level)
	if err != nil {
		return 0, 0, err
	}
	d.invert(d.ll[:n], &d.counts, orig)
	return n, crc, nil
}

// read decodes the block up to the BWT's last column, in d.ll[:n], and
// returns the column's origin pointer.
func (d *blockDecoder) read(buf []byte, start, end int64, level byte) (n int, crc, orig uint32, err error) {
	if level < 1 || level > 9 {
		return 0, 0, 0, errTooBig
	}
	if need := int((end+7)>>3) + blockPad; len(buf) < need {
		d.pad = slices.Grow(d.pad[:0], need)[:need]
		clear(d.pad[copy(d.pad, buf):])
		buf = d.pad
	}
	limit := int(level) * blockUnit
	br := newBitReader(buf, start)
	if uint64(br.bits(24))<<24|uint64(br.bits(24)) != blockMagic {
		return 0, 0, 0, errNotBlock
	}
	crc = br.bits(32)
	if br.bits(1) != 0 {
		return 0, 0, 0, errRandomised
	}
	origPtr := int(br.bits(24))

	// The byte values used, in order: the move-to-front list's start.
	var mtf [256]byte
	nInUse := 0
	used := br.bits(16)
	for g := range 16 {
		if used&(0x8000>>g) == 0 {
			continue
		}
		lo := br.bits(16)
		for k := range 16 {
			if lo&(0x8000>>k) != 0 {
				mtf[nInUse] = byte(g*16 + k)
				nInUse++
			}
		}
	}
	if nInUse == 0 {
		return 0, 0, 0, errNoBytes
	}
	alpha := nInUse + 2

	nGroups := int(br.bits(3))
	if nGroups < minGroups || nGroups > maxGroups {
		return 0, 0, 0, errGroups
	}
	nSel := int(br.bits(15))
	if nSel == 0 {
		return 0, 0, 0, errNoSelectors
	}
	order := [maxGroups]uint8{0, 1, 2, 3, 4, 5}
	for i := range nSel {
		if br.n < 8 {
			br.refill()
		}
		j := uint(bits.LeadingZeros64(^br.acc)) // leading 1s
		if j >= uint(nGroups) {
			return 0, 0, 0, errSelector
		}
		br.skip(j + 1)
		t := order[j]
		copy(order[1:j+1], order[:j])
		order[0] = t
		if i < maxSelectors {
			d.sel[i] = t
		}
	}
	nSel = min(nSel, maxSelectors)

	for t := range nGroups {
		l := int(br.bits(5))
		for s := range alpha {
			for {
				if l < 1 || l > maxCodeLen {
					return 0, 0, 0, errCodeLen
				}
				if br.bits(1) == 0 {
					break
				}
				l += 1 - 2*int(br.bits(1))
			}
			d.lens[s] = uint8(l)
		}
		if err := d.tables[t].build(d.lens[:alpha]); err != nil {
			return 0, 0, 0, err
		}
	}
	if br.pos() > end {
		return 0, 0, 0, errBlockEnds
	}

	if cap(d.ll) < limit+32 {
		d.ll = make([]byte, limit+32)
	}
	n, err = d.symbols(&br, end, nSel, &mtf, uint(alpha-1), limit)
	if err != nil {
		return 0, 0, 0, err
	}
	switch p := br.pos(); {
	case p > end:
		return 0, 0, 0, errBlockEnds
	case p < end:
		return 0, 0, 0, errBlockTail
	}
	if origPtr >= n {
		return 0, 0, 0, errOrigPtr
	}
	return n, crc, uint32(origPtr), nil
}

// symbols decodes the Huffman-coded symbols into d.syms, then the runs
// and move-to-front indexes they encode into the BWT's last column in d.ll,
// counting the byte values. It returns the column's length. Two tight
// loops: Go keeps fewer of their variables in memory than in one big one.
func (d *blockDecoder) symbols(br *bitReader, end int64, nSel int, mtf *[256]byte, eob uint, limit int) (int, error) {
	// Each symbol stands for one byte or more, but for the end of block.
	if cap(d.syms) < limit+groupSize+1 {
		d.syms = make([]uint16, limit+groupSize+1)
	}
	ns, err := d.huffman(br, end, nSel, eob, d.syms[:limit+groupSize+1])
	if err != nil {
		return 0, err
	}
	d.nsyms, d.mtf0 = ns, *mtf // for the stage benchmarks
	return d.unMTF(d.syms[:ns], mtf, limit)
}

// huffman decodes the symbols up to the end of block into syms and
// returns their number (without the end of block). The loop makes no
// calls: buf must extend blockPad bytes past end, so that a group of
// symbols never reads past buf (the position is checked against end
// between groups).
func (d *blockDecoder) huffman(br *bitReader, end int64, nSel int, eob uint, syms []uint16) (int, error) {
	acc, nb, p, buf := br.acc, br.n, br.p, br.buf
	ns := 0
	for _, t := range d.sel[:nSel] {
		if int64(p)*8-int64(nb) > end {
			return 0, errBlockEnds
		}
		if ns > len(syms)-groupSize-1 {
			return 0, errTooBig
		}
		h := &d.tables[t]
		for range groupSize {
			if nb < maxCodeLen {
				acc |= binary.BigEndian.Uint64(buf[p:p+8]) >> (nb & 63)
				p += int((63 - nb) >> 3)
				nb |= 56
			}
			e := h.fast[acc>>(64-fastBits)]
			if e == 0 { // a long code: find its length
				v := uint32(acc >> (64 - maxCodeLen))
				for l := uint32(fastBits + 1); l <= maxCodeLen; l++ {
					if c := v>>(maxCodeLen-l) - h.first[l]; c < h.count[l] {
						e = h.perm[(uint32(h.offset[l])+c)%maxAlpha]<<5 | uint16(l)
						break
					}
				}
				if e == 0 {
					return 0, errBadCode
				}
			}
			l := uint(e & 31)
			acc <<= l
			nb -= l
			sym := uint(e >> 5)
			if sym == eob {
				br.acc, br.n, br.p = acc, nb, p
				return ns, nil
			}
			syms[ns] = uint16(sym)
			ns++
		}
	}
	return 0, errFewSelectors
}

// unMTF decodes the runs (RUNA and RUNB digits) and move-to-front indexes
// of syms into d.ll, counting the byte values, and returns the length.
func (d *blockDecoder) unMTF(syms []uint16, mtf *[256]byte, limit int) (int, error) {
	ll := d.ll[:limit+16] // runs are written 8 bytes at a time
	counts := &d.counts
	clear(counts[:])
	pos, run, rpow := 0, 0, uint(0)
	for _, sym := range syms {
		if sym < 2 { // RUNA, RUNB: a digit of the run length
			run += int(sym+1) << rpow
			if rpow++; rpow > maxRunPow {
				return 0, errTooBig
			}
			continue
		}
		if run > 0 {
			if run > limit-pos {
				return 0, errTooBig
			}
			b := mtf[0]
			v := uint64(b) * 0x0101010101010101
			for i := pos; i < pos+run; i += 8 {
				binary.LittleEndian.PutUint64(ll[i:i+8], v)
			}
			counts[b] += uint32(run)
			pos += run
			run, rpow = 0, 0
		}
		if pos >= limit {
			return 0, errTooBig
		}
		// Move the byte at index k = sym-1 to the front.
		k := uint8(sym - 1)
		b := mtf[k]
		if k < 8 {
			w := binary.LittleEndian.Uint64(mtf[:8])
			m := uint64(1)<<(8*(k+1)) - 1 // bytes 0..k (all 8 when k is 7)
			w = w&^m | w<<8&m | uint64(b)
			binary.LittleEndian.PutUint64(mtf[:8], w)
		} else {
			copy(mtf[1:int(k)+1], mtf[:k])
			mtf[0] = b
		}
		ll[pos] = b
		pos++
		counts[b]++
	}
	if run > 0 {
		if run > limit-pos {
			return 0, errTooBig
		}
		b := mtf[0]
		fill(ll[pos:pos+run], b)
		counts[b] += uint32(run)
		pos += run
	}
	return pos, nil
}

// fill sets b's bytes to v.
func fill(b []byte, v byte) {
	if len(b) <= 16 {
		for i := range b {
			b[i] = v
		}
		return
	}
	if v == 0 {
		clear(b)
		return
	}
	b[0] = v
	for k := 1; k < len(b); k *= 2 {
		copy(b[k:], b[:k])
	}
}

// run4 returns the first index i ≥ from where 4 equal bytes start in src,
// or noRun.
func run4(src []byte, from int) int {
	i := from
	for ; i+8 <= len(src); i += 5 {
		x := binary.LittleEndian.Uint64(src[i:])
		e := x ^ x>>8 // byte k < 7 is 0 where src[i+k] == src[i+k+1]
		z := ^(e&0x7f7f7f7f7f7f7f7f + 0x7f7f7f7f7f7f7f7f | e) & 0x8080808080808080
		if r := z & (z >> 8) & (z >> 16) & 0x8080808080; r != 0 {
			return i + bits.TrailingZeros64(r)>>3
		}
	}
	for ; i+3 < len(src); i++ {
		if b := src[i]; src[i+1] == b && src[i+2] == b && src[i+3] == b {
			return i
		}
	}
	return noRun
}

// expand undoes the initial run-length encoding of src into out and
// checksums the result. When out is too short it calls more with the bytes
// written so far and the bytes still needed for the next step; more
// returns a longer buffer holding them, or false to give up (expand then
// returns ok false).
func expand(src, out []byte, more func(out []byte, o, need int) ([]byte, bool)) (res []byte, crc uint32, err error, ok bool) {
	c := ^uint32(0)
	o := 0
	for i := 0; i < len(src); {
		r := run4(src, i)
		if r == noRun {
			if need := len(src) - i; need > len(out)-o {
				if out, ok = more(out, o, need); !ok {
					return nil, 0, nil, false
				}
			}
			c = crcUpdate(c, src[i:])
			o += copy(out[o:], src[i:])
			break
		}
		if r+4 >= len(src) {
			return out, 0, errRunCount, true
		}
		k := int(src[r+4])
		// The run is written 8 bytes at a time: up to 7 bytes more.
		if need := r + 4 - i + k + 7; need > len(out)-o {
			if out, ok = more(out, o, need); !ok {
				return nil, 0, nil, false
			}
		}
		c = crcUpdate(c, src[i:r+4])
		o += copy(out[o:], src[i:r+4])
		b := src[r]
		v := uint64(b) * 0x0101010101010101
		for j := o; j < o+k; j += 8 {
			binary.LittleEndian.PutUint64(out[j:j+8], v)
		}
		if k == 255 {
			c = crcRun255(c, b)
		} else {
			c = crcUpdate(c, out[o:o+k])
		}
		o += k
		i = r + 5
	}
	return out[:o], ^c, nil, true
}
