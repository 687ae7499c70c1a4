package zstd

import (
	"encoding/binary"
	"math/bits"
)

// backReader reads a backward bit stream (Huffman streams, FSE
// streams): the stream is written forwards and read from its last byte
// towards its first, each byte from its high bits down. The last byte
// holds a 1 above the first bit: everything from that 1 up is padding.
//
// value holds the 8 bytes in[pos:pos+8] as a little-endian word, so the
// next bits to read are at its top; used counts the bits of value already
// read (from the top). refill moves pos back by the whole bytes read.
// Streams shorter than 8 bytes are loaded once, shifted to the top, and
// end is how many bits of value are real: a stream is read exactly when
// pos == 0 && used == end, and over-read when used > end there. Reading
// past the start yields zero bits (a shift by 64 or more gives 0 in Go),
// so a corrupt stream never faults; it is caught by the end check.
type backReader struct {
	in    []byte
	pos   int
	value uint64
	used  uint
	end   uint
}

// init starts reading b; false if b is empty or its last byte is 0.
func (br *backReader) init(b []byte) bool {
	if len(b) == 0 || b[len(b)-1] == 0 {
		return false
	}
	br.in = b
	br.end = 64
	if len(b) >= 8 {
		br.pos = len(b) - 8
		br.value = binary.LittleEndian.Uint64(b[br.pos:])
	} else {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		br.pos = 0
		br.value = v << (8 * (8 - uint(len(b))))
		br.end = 8 * uint(len(b))
	}
	br.used = uint(bits.LeadingZeros8(b[len(b)-1])) + 1
	return true
}

// refill makes at least 56 bits available, unless the stream's start is
// near (then it loads what there is).
func (br *backReader) refill() {
	if br.pos >= 8 {
		n := br.used >> 3
		br.pos -= int(n)
		br.used &= 7
		br.value = binary.LittleEndian.Uint64(br.in[br.pos:])
		return
	}
	br.refillSlow()
}

func (br *backReader) refillSlow() {
	n := int(br.used >> 3)
	if n > br.pos {
		n = br.pos
	}
	if n == 0 {
		return
	}
	br.pos -= n
	br.used -= uint(n) * 8
	br.value = binary.LittleEndian.Uint64(br.in[br.pos:])
}

// bits reads n bits (0 <= n <= 56 since the last refill).
func (br *backReader) bits(n uint8) uint64 {
	v := br.value << br.used >> 1 >> (63 - n)
	br.used += uint(n)
	return v
}

// finished reports whether the stream has been read exactly.
func (br *backReader) finished() bool { return br.pos == 0 && br.used == br.end }

// overflowed reports whether more bits were read than the stream has.
func (br *backReader) overflowed() bool { return br.pos == 0 && br.used > br.end }
