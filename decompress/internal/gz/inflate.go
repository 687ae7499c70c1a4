package gz

import (
	"encoding/binary"
	"io"
)

// An inflater decodes DEFLATE (RFC 1951) from a byte buffer that it
// refills from src, into out, which its owner empties through flush.
//
// Input: bits are taken from a 64-bit buffer bb (nb valid bits, the next
// one lowest), refilled branch-free with the 8 bytes at pos (pos then
// moves past the whole bytes that fit: the whole bytes in bb were read
// from in just before pos). The fast loop runs while in holds at least 16
// bytes past pos (two refills per symbol). When src is exhausted, padLen
// zero bytes are appended (padded) so the loops never check for the end
// of the input; consuming any bit of them is truncation (overrun), checked
// before output is handed on, on errors, and when a stream ends.
//
// Output: out[winStart:op] is the history matches may reach (at most 32
// KiB of it are needed); the fast loop runs while op <= len(out)-outSlack,
// so that a match (at most 258 bytes, copied up to 32 bytes at a time,
// so overshooting by up to 31) never needs a bounds decision. flush must
// leave that much room, keeping the last 32 KiB before op.
type inflater struct {
	in     []byte // in[pos:] is not yet in bb
	pos    int
	bb     uint64
	nb     uint
	src    io.Reader
	padded bool // the zero pad is appended; end is where it starts
	end    int
	inBase int64 // compressed offset of in[0]
	inBuf  []byte

	out      []byte
	op       int
	winStart int
	flush    func() error

	lit  [litTableSize]uint32
	dist [distTableSize]uint32
	lens [286 + 30]uint8
}

const (
	windowSize = 32 << 10
	maxMatch   = 258
	outSlack   = maxMatch + 32
	padLen     = 32
)

// setSource makes the inflater read from r through a buffer of size bytes.
func (d *inflater) setSource(r io.Reader, size int) {
	if cap(d.inBuf) < size+padLen {
		d.inBuf = make([]byte, size+padLen)
	}
	d.src = r
	d.in = d.inBuf[:0]
	d.pos, d.bb, d.nb, d.padded, d.end, d.inBase = 0, 0, 0, false, 0, 0
}

// bitOffset returns the compressed offset of the next bit to decode, in bits.
func (d *inflater) bitOffset() int64 {
	return (d.inBase+int64(d.pos))*8 - int64(d.nb)
}

// overrun tells whether bits of the zero pad have been consumed.
func (d *inflater) overrun() bool {
	return d.padded && int64(d.pos)*8-int64(d.nb) > int64(d.end)*8
}

// moreInput makes at least 16 bytes available at pos (after giving the
// whole bytes of bb back), reading src, or appending the pad at its end.
func (d *inflater) moreInput() error {
	d.pos -= int(d.nb >> 3)
	d.nb &= 7
	d.bb &= 1<<d.nb - 1
	if d.padded {
		return errTruncated
	}
	if d.pos > 0 {
		n := copy(d.inBuf, d.in[d.pos:])
		d.inBase += int64(d.pos)
		d.in, d.pos = d.inBuf[:n], 0
	}
	limit := len(d.inBuf) - padLen
	for tries := 0; len(d.in)-d.pos < 16 && len(d.in) < limit; tries++ {
		n, err := d.src.Read(d.in[len(d.in):limit])
		d.in = d.in[:len(d.in)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return readError{err}
		}
		if n == 0 && tries > 100 {
			return readError{io.ErrNoProgress}
		}
	}
	if len(d.in)-d.pos >= 16 {
		return nil
	}
	d.end = len(d.in)
	d.in = d.in[:len(d.in)+padLen]
	clear(d.in[d.end:])
	d.padded = true
	return nil
}

// refill loads whole bytes into bb until it holds at least 56 bits.
func (d *inflater) refill() error {
	if d.pos > len(d.in)-8 {
		if err := d.moreInput(); err != nil {
			return err
		}
	}
	d.bb |= leUint64(d.in[d.pos:]) << d.nb
	d.pos += int((63 - d.nb) >> 3)
	d.nb |= 56
	return nil
}

// bits consumes and returns the next n (<= 32) bits.
func (d *inflater) bits(n uint) (uint32, error) {
	if d.nb < n {
		if err := d.refill(); err != nil {
			return 0, err
		}
	}
	v := uint32(d.bb & (1<<n - 1))
	d.bb >>= n
	d.nb -= n
	return v, nil
}

// alignByte drops the bits up to the next byte boundary.
func (d *inflater) alignByte() {
	d.bb >>= d.nb & 7
	d.nb &^= 7
}

// block decodes one block; final tells whether it was the last of the
// stream.
func (d *inflater) block() (final bool, err error) {
	h, err := d.bits(3)
	if err != nil {
		return false, err
	}
	switch h >> 1 {
	case 0:
		err = d.stored()
	case 1:
		err = d.huffman(&fixedLit, &fixedDist)
	case 2:
		if err = d.dynamic(); err == nil {
			err = d.huffman(&d.lit, &d.dist)
		}
	default:
		err = corruptError("invalid block type")
	}
	if err != nil {
		return false, err
	}
	return h&1 != 0, nil
}

// makeRoom flushes the output or reads input, whichever the fast loop
// lacks.
func (d *inflater) makeRoom() error {
	if d.op > len(d.out)-outSlack {
		if d.overrun() {
			return errTruncated
		}
		if err := d.flush(); err != nil {
			return err
		}
	}
	if d.pos > len(d.in)-16 {
		return d.moreInput()
	}
	return nil
}

// storedInput returns up to n bytes of a stored block's content from the
// input buffer (reading more if it is empty), and consumes them.
func (d *inflater) storedInput(n int) ([]byte, error) {
	// Give the whole bytes of bb back: nb is a multiple of 8.
	d.pos -= int(d.nb >> 3)
	d.bb, d.nb = 0, 0
	for {
		avail := len(d.in) - d.pos
		if d.padded {
			avail = d.end - d.pos
		}
		if avail > 0 {
			k := min(n, avail)
			d.pos += k
			return d.in[d.pos-k : d.pos], nil
		}
		if err := d.moreInput(); err != nil {
			return nil, err
		}
	}
}

// stored reads the length of a stored block and copies its content.
func (d *inflater) stored() error {
	d.alignByte()
	v, err := d.bits(32)
	if err != nil {
		return err
	}
	left := int(v & 0xffff)
	if uint16(v>>16) != ^uint16(left) {
		return corruptError("stored block length check failed")
	}
	for left > 0 {
		if d.op >= len(d.out)-outSlack {
			if err := d.flush(); err != nil {
				return err
			}
		}
		b, err := d.storedInput(min(left, len(d.out)-d.op))
		if err != nil {
			return err
		}
		d.op += copy(d.out[d.op:], b)
		left -= len(b)
	}
	return nil
}

var clOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

func clEntry(sym int, n uint32) uint32 { return kindValue | uint32(sym)<<16 | n }

// dynamic reads the code lengths of a dynamic block and builds its tables.
func (d *inflater) dynamic() error {
	h, err := d.bits(14)
	if err != nil {
		return err
	}
	nlit, ndist, ncl := int(h&31)+257, int(h>>5&31)+1, int(h>>10)+4
	if nlit > 286 || ndist > 30 {
		return corruptError("too many length or distance codes")
	}
	var clLens [19]uint8
	for i := range ncl {
		v, err := d.bits(3)
		if err != nil {
			return err
		}
		clLens[clOrder[i]] = uint8(v)
	}
	var cl [128]uint32
	if _, ok := buildTable(cl[:], 7, clLens[:], clEntry); !ok {
		return corruptError("invalid code lengths code")
	}
	lens := d.lens[:nlit+ndist]
	for i := 0; i < len(lens); {
		if d.nb < 14 {
			if err := d.refill(); err != nil {
				return err
			}
		}
		e := cl[d.bb&127]
		if e&kindMask != kindValue {
			return corruptError("invalid code lengths code")
		}
		n := uint(e & 15)
		d.bb >>= n
		d.nb -= n
		sym := e >> 16
		if sym < 16 {
			lens[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var val uint8
		switch sym {
		case 16:
			if i == 0 {
				return corruptError("repeated code length without a previous one")
			}
			val = lens[i-1]
			rep = 3 + int(d.bb&3)
			d.bb >>= 2
			d.nb -= 2
		case 17:
			rep = 3 + int(d.bb&7)
			d.bb >>= 3
			d.nb -= 3
		default:
			rep = 11 + int(d.bb&127)
			d.bb >>= 7
			d.nb -= 7
		}
		if i+rep > len(lens) {
			return corruptError("code lengths overflow")
		}
		for range rep {
			lens[i] = val
			i++
		}
	}
	if lens[256] == 0 {
		return corruptError("no end-of-block code")
	}
	if _, ok := buildTable(d.lit[:], litBits, lens[:nlit], litEntry); !ok {
		return corruptError("invalid literal/length code")
	}
	if _, ok := buildTable(d.dist[:], distBits, lens[nlit:], distEntry); !ok {
		return corruptError("invalid distance code")
	}
	return nil
}

// overlapStep[d], for a distance d < 8, is the smallest multiple of d that
// is at least 8: once 8 bytes of a match at distance d are written, the
// rest repeats with that period and can be copied 8 bytes at a time.
var overlapStep = [8]int{0, 8, 8, 9, 8, 10, 12, 14}

// huffman decodes a Huffman-coded block up to its end-of-block code.
func (d *inflater) huffman(lit *[litTableSize]uint32, dist *[distTableSize]uint32) error {
	bb, nb, pos, op := d.bb, d.nb, d.pos, d.op
	in, out := d.in, d.out
	winStart := d.winStart
	var e uint32
	preloaded := false // e is the entry for bb, looked up during the last match
	for {
		// Room for two refills and a match.
		if pos > len(in)-16 || op > len(out)-outSlack {
			d.bb, d.nb, d.pos, d.op = bb, nb, pos, op
			if err := d.makeRoom(); err != nil {
				return err
			}
			bb, nb, pos, op = d.bb, d.nb, d.pos, d.op
			in, out, winStart = d.in, d.out, d.winStart
			preloaded = false
			continue
		}
		if !preloaded {
			bb |= leUint64(in[pos:]) << nb
			pos += int((63 - nb) >> 3)
			nb |= 56
			e = lit[bb&(1<<litBits-1)]
		}
		preloaded = false
		if e&kindMask == kindSub {
			bb >>= litBits
			nb -= litBits
			e = lit[(e>>16+uint32(bb)&(1<<(e>>4&15)-1))&(litTableSize-1)]
		}
		if int32(e) < 0 {
			n := e & 15
			bb >>= n
			nb -= uint(n)
			out[op] = byte(e >> 16)
			op++
			// Up to two more literals fit in the 41 bits left.
			e = lit[bb&(1<<litBits-1)]
			if int32(e) >= 0 {
				continue
			}
			n = e & 15
			bb >>= n
			nb -= uint(n)
			out[op] = byte(e >> 16)
			op++
			e = lit[bb&(1<<litBits-1)]
			if int32(e) >= 0 {
				continue
			}
			n = e & 15
			bb >>= n
			nb -= uint(n)
			out[op] = byte(e >> 16)
			op++
			continue
		}
		if e&kindMask != kindValue {
			if e&kindMask == kindEOB {
				n := e & 15
				bb >>= n
				nb -= uint(n)
				d.bb, d.nb, d.pos, d.op = bb, nb, pos, op
				return nil
			}
			d.bb, d.nb, d.pos, d.op = bb, nb, pos, op
			return corruptError("invalid literal/length code")
		}
		n := e & 15
		x := e >> 4 & 15
		length := int(e>>16) + int(bb>>n&(1<<x-1))
		bb >>= n + x
		nb -= uint(n + x)

		e = dist[bb&(1<<distBits-1)]
		if e&kindMask == kindSub {
			bb >>= distBits
			nb -= distBits
			e = dist[(e>>16+uint32(bb)&(1<<(e>>4&15)-1))&(distTableSize-1)]
		}
		if e&kindMask != kindValue {
			d.bb, d.nb, d.pos, d.op = bb, nb, pos, op
			return corruptError("invalid distance code")
		}
		n = e & 15
		x = e >> 4 & 15
		dst := int(e>>16) + int(bb>>n&(1<<x-1))
		bb >>= n + x
		nb -= uint(n + x)
		if dst > op-winStart {
			d.bb, d.nb, d.pos, d.op = bb, nb, pos, op
			return corruptError("distance too far back")
		}
		// Look up the next symbol now, so that the load overlaps the copy.
		bb |= leUint64(in[pos:]) << nb
		pos += int((63 - nb) >> 3)
		nb |= 56
		e = lit[bb&(1<<litBits-1)]
		preloaded = true
		src := op - dst
		switch {
		case dst >= 16:
			for i := 0; i < length; i += 16 {
				s := out[src+i : src+i+16]
				w := out[op+i : op+i+16]
				binary.LittleEndian.PutUint64(w, binary.LittleEndian.Uint64(s))
				binary.LittleEndian.PutUint64(w[8:], binary.LittleEndian.Uint64(s[8:]))
			}
		case dst >= 8:
			for i := 0; i < length; i += 8 {
				binary.LittleEndian.PutUint64(out[op+i:], binary.LittleEndian.Uint64(out[src+i:]))
			}
		case dst == 1 && out[src] == 0:
			clear(out[op : op+length]) // runs of zeros: most of a disk image
		case dst == 1:
			v := uint64(out[src]) * 0x0101010101010101
			for i := 0; i < length; i += 32 {
				w := out[op+i : op+i+32]
				binary.LittleEndian.PutUint64(w, v)
				binary.LittleEndian.PutUint64(w[8:], v)
				binary.LittleEndian.PutUint64(w[16:], v)
				binary.LittleEndian.PutUint64(w[24:], v)
			}
		default:
			w := out[op : op+8]
			for i := range w {
				w[i] = out[src+i]
			}
			step := overlapStep[dst&7]
			for i := 8; i < length; i += 8 {
				binary.LittleEndian.PutUint64(out[op+i:], binary.LittleEndian.Uint64(out[op+i-step:]))
			}
		}
		op += length
	}
}

func leUint64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
