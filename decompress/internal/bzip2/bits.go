package bzip2

import "encoding/binary"

// The two 48-bit markers of the bzip2 format. Neither is byte aligned
// except the first block magic of a stream: blocks are bit strings laid end
// to end.
const (
	blockMagic = 0x314159265359 // BCD of pi
	eosMagic   = 0x177245385090 // BCD of sqrt(pi)
)

// pairSet has bit v set when the 16-bit value v can be two consecutive
// whole bytes of a magic at some bit shift. A magic that starts at bit s of
// byte j covers bytes j+1..j+5 completely, so it shows four whole-byte
// pairs, at j+1, j+2, j+3 and j+4; a scan that looks up the pair at every
// 4th byte meets exactly one of them. 64 of the 65536 pairs are set, so
// about one lookup in a thousand needs a closer look. The set is 8 KiB and
// stays in the L1 cache.
var pairSet [65536 / 64]uint64

func init() {
	for _, m := range [2]uint64{blockMagic, eosMagic} {
		for s := range 8 {
			for k := range 4 {
				a := 8*(k+1) - s // first magic bit in byte j+1+k
				v := (m >> (48 - a - 16)) & 0xffff
				pairSet[v>>6] |= 1 << (v & 63)
			}
		}
	}
}

// getBits returns the n ≤ 56 bits of buf that start at bit pos (bit 0 is
// the most significant bit of buf[0]); bits past the end of buf read as 0.
func getBits(buf []byte, pos int64, n uint) uint64 {
	j := int(pos >> 3)
	var x uint64
	if j+8 <= len(buf) {
		x = binary.BigEndian.Uint64(buf[j:])
	} else {
		for t := range 8 {
			x <<= 8
			if j+t < len(buf) {
				x |= uint64(buf[j+t])
			}
		}
	}
	return (x << uint(pos&7)) >> (64 - n)
}

// magicAt reports which magic, if any, starts at bit pos of buf.
func magicAt(buf []byte, pos int64) uint64 {
	switch m := getBits(buf, pos, 48); m {
	case blockMagic, eosMagic:
		return m
	}
	return 0
}

// findMagic returns the first bit position p ≥ from at which a block or
// end-of-stream magic lies wholly inside buf, and which magic it is.
func findMagic(buf []byte, from int64) (int64, uint64, bool) {
	if from < 0 {
		from = 0
	}
	j0 := int(from >> 3)
	end := int64(len(buf)) * 8
	for i := j0 + 1; i+1 < len(buf); i += 4 {
		v := uint16(buf[i])<<8 | uint16(buf[i+1])
		if pairSet[v>>6]&(1<<(v&63)) == 0 {
			continue
		}
		// The candidates whose pair k sits at i start in byte i-1-k; try
		// them in increasing bit order, so the first hit is the smallest
		// (and all of them precede any candidate found at i+4).
		for k := 3; k >= 0; k-- {
			j := i - 1 - k
			if j < j0 {
				continue
			}
			for s := range int64(8) {
				p := int64(j)*8 + s
				if p < from || p+48 > end {
					continue
				}
				if m := magicAt(buf, p); m != 0 {
					return p, m, true
				}
			}
		}
	}
	return 0, 0, false
}

// bitAppender writes bit strings, most significant bit first.
type bitAppender struct {
	buf []byte
	acc uint64 // the last n bits are pending
	n   uint
}

// put appends the low n ≤ 32 bits of v.
func (w *bitAppender) put(v uint64, n uint) {
	w.acc = w.acc<<n | v&(1<<n-1)
	w.n += n
	for w.n >= 8 {
		w.n -= 8
		w.buf = append(w.buf, byte(w.acc>>w.n))
	}
}

// copy appends the n bits of src that start at bit p.
func (w *bitAppender) copy(src []byte, p, n int64) {
	for ; n >= 32; p, n = p+32, n-32 {
		w.put(getBits(src, p, 32), 32)
	}
	if n > 0 {
		w.put(getBits(src, p, uint(n)), uint(n))
	}
}

// bytes pads to a byte with zero bits and returns the result.
func (w *bitAppender) bytes() []byte {
	if w.n > 0 {
		w.put(0, 8-w.n)
	}
	return w.buf
}
