package zstd

import (
	"encoding/binary"
	"math/bits"
)

// maxHuffBits is the longest Huffman code (RFC 8878 4.2.1).
const maxHuffBits = 11

// A huffTable decodes literals: indexed by the next maxBits bits of a
// stream, an entry holds the symbol (high byte) and its code length (low
// byte). Codes are at most 11 bits, so the table has at most 2048
// entries.
type huffTable struct {
	maxBits uint8
	dt      [1 << maxHuffBits]uint16
}

// read reads a Huffman tree description (RFC 8878 4.2.1) from the start
// of b, and returns the bytes used.
func (h *huffTable) read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, blockErrf("missing Huffman tree")
	}
	var w [256]uint8
	nw := 0
	hb := int(b[0])
	used := 0
	if hb >= 128 {
		nw = hb - 127
		used = 1 + (nw+1)/2
		if used > len(b) {
			return 0, blockErrf("Huffman weights truncated")
		}
		for i := 0; i < nw; i++ {
			c := b[1+i/2]
			if i&1 == 0 {
				c >>= 4
			}
			w[i] = c & 15
		}
	} else {
		used = 1 + hb
		if used > len(b) {
			return 0, blockErrf("Huffman weights truncated")
		}
		var err error
		nw, err = readWeightsFSE(b[1:used], &w)
		if err != nil {
			return 0, err
		}
	}
	// The last symbol's weight is implied: it completes the sum of
	// 2^(weight-1) to a power of 2.
	var total uint32
	var rank [maxHuffBits + 2]uint32
	for _, x := range w[:nw] {
		if x > maxHuffBits {
			return 0, blockErrf("Huffman weight %d", x)
		}
		if x > 0 {
			total += 1 << (x - 1)
		}
		rank[x]++
	}
	if total == 0 {
		return 0, blockErrf("Huffman weights all zero")
	}
	maxBits := uint(bits.Len32(total))
	if maxBits > maxHuffBits {
		return 0, blockErrf("Huffman code longer than %d bits", maxHuffBits)
	}
	rest := uint32(1)<<maxBits - total
	if rest&(rest-1) != 0 {
		return 0, blockErrf("Huffman weights do not complete a tree")
	}
	last := uint8(bits.Len32(rest))
	w[nw] = last
	rank[last]++
	nw++
	// Entries go by increasing weight (longest codes first); a symbol of
	// weight x fills 2^(x-1) consecutive entries.
	var start [maxHuffBits + 2]uint32
	acc := uint32(0)
	for x := 1; x <= int(maxBits); x++ {
		start[x] = acc
		acc += rank[x] << (x - 1)
	}
	for s, x := range w[:nw] {
		if x == 0 {
			continue
		}
		n := uint32(1) << (x - 1)
		e := uint16(s)<<8 | uint16(maxBits+1-uint(x))
		p := start[x]
		fill := h.dt[p&(1<<maxHuffBits-1):]
		if n > uint32(len(fill)) {
			return 0, blockErrf("Huffman table overflow")
		}
		for i := range fill[:n] {
			fill[i] = e
		}
		start[x] = p + n
	}
	h.maxBits = uint8(maxBits)
	return used, nil
}

// readWeightsFSE decodes FSE-compressed Huffman weights: two states
// taking turns on one backward stream, until it is used up.
func readWeightsFSE(b []byte, w *[256]uint8) (int, error) {
	var norm [256]int16
	log, nsym, n, err := readNCount(b, norm[:], 6)
	if err != nil {
		return 0, err
	}
	var t [64]fseEntry
	if err := buildFSE(t[:], norm[:nsym], log, nil, nil); err != nil {
		return 0, err
	}
	var br backReader
	if !br.init(b[n:]) {
		return 0, blockErrf("Huffman weights: bad stream")
	}
	mask := uint64(1)<<log - 1
	s1 := br.bits(uint8(log)) & mask
	s2 := br.bits(uint8(log)) & mask
	nw := 0
	for {
		if nw >= 254 {
			return 0, blockErrf("too many Huffman weights")
		}
		br.refill()
		e := t[s1&63]
		w[nw] = uint8(e.base)
		nw++
		s1 = (uint64(e.next) + br.bits(e.nbBits)) & 63
		if br.overflowed() {
			w[nw] = uint8(t[s2&63].base)
			nw++
			break
		}
		e = t[s2&63]
		w[nw] = uint8(e.base)
		nw++
		s2 = (uint64(e.next) + br.bits(e.nbBits)) & 63
		if br.overflowed() {
			w[nw] = uint8(t[s1&63].base)
			nw++
			break
		}
	}
	return nw, nil
}

// decode1 decodes one Huffman stream src into dst.
func (h *huffTable) decode1(dst, src []byte) error {
	var br backReader
	if !br.init(src) {
		return blockErrf("bad Huffman stream")
	}
	shift := 64 - uint(h.maxBits)
	dt := &h.dt
	o := 0
	for ; o+4 <= len(dst) && br.pos >= 8; o += 4 {
		br.refill()
		for k := 0; k < 4; k++ {
			e := dt[(br.value<<(br.used&63)>>shift)&(1<<maxHuffBits-1)]
			dst[o+k] = byte(e >> 8)
			br.used += uint(e & 255)
		}
	}
	for ; o < len(dst); o++ {
		br.refill()
		e := dt[(br.value<<br.used>>shift)&(1<<maxHuffBits-1)]
		dst[o] = byte(e >> 8)
		br.used += uint(e & 255)
	}
	if !br.finished() {
		return blockErrf("Huffman stream not used up")
	}
	return nil
}

// decode4 decodes four Huffman streams, described by src's 6-byte jump
// table, into the four quarters of dst (the last one shorter).
func (h *huffTable) decode4(dst, src []byte) error {
	if len(src) < 10 {
		return blockErrf("Huffman streams truncated")
	}
	n1 := int(binary.LittleEndian.Uint16(src))
	n2 := int(binary.LittleEndian.Uint16(src[2:]))
	n3 := int(binary.LittleEndian.Uint16(src[4:]))
	src = src[6:]
	if n1+n2+n3 >= len(src) {
		return blockErrf("Huffman jump table beyond the literals")
	}
	seg := (len(dst) + 3) / 4
	if 3*seg > len(dst) {
		return blockErrf("too few literals for 4 streams")
	}
	var br [4]backReader
	if !br[0].init(src[:n1]) || !br[1].init(src[n1:n1+n2]) ||
		!br[2].init(src[n1+n2:n1+n2+n3]) || !br[3].init(src[n1+n2+n3:]) {
		return blockErrf("bad Huffman stream")
	}
	shift := 64 - uint(h.maxBits)
	dt := &h.dt
	const m = 1<<maxHuffBits - 1
	d0 := dst[:seg]
	d1 := dst[seg : 2*seg]
	d2 := dst[2*seg : 3*seg]
	d3 := dst[3*seg:]
	o := 0
	{
		v0, u0, p0, in0 := br[0].value, br[0].used, br[0].pos, br[0].in
		v1, u1, p1, in1 := br[1].value, br[1].used, br[1].pos, br[1].in
		v2, u2, p2, in2 := br[2].value, br[2].used, br[2].pos, br[2].in
		v3, u3, p3, in3 := br[3].value, br[3].used, br[3].pos, br[3].in
		for o+4 <= len(d3) && p0 >= 8 && p1 >= 8 && p2 >= 8 && p3 >= 8 {
			p0 -= int(u0 >> 3)
			u0 &= 7
			v0 = binary.LittleEndian.Uint64(in0[p0:])
			p1 -= int(u1 >> 3)
			u1 &= 7
			v1 = binary.LittleEndian.Uint64(in1[p1:])
			p2 -= int(u2 >> 3)
			u2 &= 7
			v2 = binary.LittleEndian.Uint64(in2[p2:])
			p3 -= int(u3 >> 3)
			u3 &= 7
			v3 = binary.LittleEndian.Uint64(in3[p3:])
			a, b, c, d := d0[o:o+4], d1[o:o+4], d2[o:o+4], d3[o:o+4]
			for k := 0; k < 4; k++ {
				e0 := dt[(v0<<(u0&63)>>shift)&m]
				e1 := dt[(v1<<(u1&63)>>shift)&m]
				e2 := dt[(v2<<(u2&63)>>shift)&m]
				e3 := dt[(v3<<(u3&63)>>shift)&m]
				a[k] = byte(e0 >> 8)
				b[k] = byte(e1 >> 8)
				c[k] = byte(e2 >> 8)
				d[k] = byte(e3 >> 8)
				u0 += uint(e0 & 255)
				u1 += uint(e1 & 255)
				u2 += uint(e2 & 255)
				u3 += uint(e3 & 255)
			}
			o += 4
		}
		br[0].value, br[0].used, br[0].pos = v0, u0, p0
		br[1].value, br[1].used, br[1].pos = v1, u1, p1
		br[2].value, br[2].used, br[2].pos = v2, u2, p2
		br[3].value, br[3].used, br[3].pos = v3, u3, p3
	}
	for i, d := range [4][]byte{d0, d1, d2, d3} {
		b := &br[i]
		for k := o; k < len(d); k++ {
			b.refill()
			e := dt[(b.value<<b.used>>shift)&m]
			d[k] = byte(e >> 8)
			b.used += uint(e & 255)
		}
		if !b.finished() {
			return blockErrf("Huffman stream %d not used up", i+1)
		}
	}
	return nil
}

// literals decodes the literals section at the start of block b (RFC
// 8878 3.1.1.3.1) and returns the literals (in d.lits, or in b for raw
// literals) and the bytes used.
func (d *decoder) literals(b []byte) ([]byte, int, error) {
	if len(b) == 0 {
		return nil, 0, blockErrf("empty block")
	}
	typ := b[0] & 3
	sf := b[0] >> 2 & 3
	if typ < 2 { // raw or RLE
		var size, hl int
		switch sf {
		case 0, 2:
			size, hl = int(b[0]>>3), 1
		case 1:
			if len(b) < 2 {
				return nil, 0, blockErrf("literals header truncated")
			}
			size, hl = int(b[0]>>4)|int(b[1])<<4, 2
		default:
			if len(b) < 3 {
				return nil, 0, blockErrf("literals header truncated")
			}
			size, hl = int(b[0]>>4)|int(b[1])<<4|int(b[2])<<12, 3
		}
		if size > d.blockMax {
			return nil, 0, blockErrf("%d literals, block maximum %d", size, d.blockMax)
		}
		if typ == 0 {
			if hl+size > len(b) {
				return nil, 0, blockErrf("raw literals beyond the block")
			}
			lits := b[hl : hl+size]
			if cap(lits)-size < 16 {
				// Sequences copy literals 16 bytes at a time.
				lits = append(d.lits[:0], lits...)
			}
			return lits, hl + size, nil
		}
		if hl >= len(b) {
			return nil, 0, blockErrf("RLE literals beyond the block")
		}
		lits := d.lits[:size]
		c := b[hl]
		for i := range lits {
			lits[i] = c
		}
		return lits, hl + 1, nil
	}
	// Huffman-compressed, with a new tree or the previous one.
	var regen, comp, hl int
	streams := 4
	switch sf {
	case 0, 1:
		if len(b) < 3 {
			return nil, 0, blockErrf("literals header truncated")
		}
		v := int(b[0]) | int(b[1])<<8 | int(b[2])<<16
		regen, comp, hl = v>>4&0x3ff, v>>14&0x3ff, 3
		if sf == 0 {
			streams = 1
		}
	case 2:
		if len(b) < 4 {
			return nil, 0, blockErrf("literals header truncated")
		}
		v := binary.LittleEndian.Uint32(b)
		regen, comp, hl = int(v>>4&0x3fff), int(v>>18&0x3fff), 4
	default:
		if len(b) < 5 {
			return nil, 0, blockErrf("literals header truncated")
		}
		v := uint64(binary.LittleEndian.Uint32(b)) | uint64(b[4])<<32 // 40 bits: not an int on 32-bit
		regen, comp, hl = int(v>>4&0x3ffff), int(v>>22&0x3ffff), 5
	}
	if regen > d.blockMax {
		return nil, 0, blockErrf("%d literals, block maximum %d", regen, d.blockMax)
	}
	if hl+comp > len(b) {
		return nil, 0, blockErrf("compressed literals beyond the block")
	}
	src := b[hl : hl+comp]
	if typ == 2 {
		n, err := d.huff.read(src)
		if err != nil {
			return nil, 0, err
		}
		d.haveHuff = true
		src = src[n:]
	} else if !d.haveHuff {
		return nil, 0, blockErrf("treeless literals without a previous Huffman tree")
	}
	lits := d.lits[:regen]
	var err error
	if streams == 1 {
		err = d.huff.decode1(lits, src)
	} else {
		err = d.huff.decode4(lits, src)
	}
	if err != nil {
		return nil, 0, err
	}
	return lits, hl + comp, nil
}
