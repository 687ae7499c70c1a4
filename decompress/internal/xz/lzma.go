package xz

import (
	"encoding/binary"
	"errors"
)

// The LZMA decoder proper (lzma-specification.txt of the LZMA SDK): a
// range decoder over adaptive binary probabilities, literals coded with
// the previous byte (and, after a match, the byte at the last distance)
// as context, matches as (length, distance) with the four last distances
// cached. One call decodes one LZMA2 chunk: its compressed bytes are in
// memory (d.in, read with a masked index: past the chunk's end, the
// decoder reads stale bytes and fails at the end of the chunk), its
// output goes to d.buf[d.pos:end] in one linear run, so the hot loop
// never waits for input or output space.
//
// What makes it fast in Go (measured, on chunks of an ext4 image):
//   - the range decoder lives in local variables, and so few others that
//     the compiler keeps them in registers (see decodeChunk);
//   - bits whose value is data (bit trees: literals, lengths, distances)
//     are decoded without branches, on masks (with branches, literals
//     decode faster in text-like data but much slower in data already
//     compressed, common in disk images);
//   - in literals, the probabilities for both possible next bits are
//     loaded before the bit is known;
//   - matches are copied 8 or 16 bytes at a time (or by copy, or cleared
//     for runs of zeros), never byte by byte.

const (
	inBufSize = 1 << 17 // an LZMA chunk's compressed data (at most 64 KiB), indexed masked
	inMask    = inBufSize - 1

	probBits  = 11
	probInit  = 1 << probBits / 2
	moveBits  = 5
	topValue  = 1 << 24
	litStates = 7 // states below this follow a literal
)

var (
	errDist     = errors.New("LZMA match distance beyond the dictionary")
	errLen      = errors.New("LZMA match past the end of its chunk")
	errOverrun  = errors.New("LZMA chunk reads past its compressed size")
	errUnderrun = errors.New("LZMA chunk shorter than its compressed size")
	errRCEnd    = errors.New("LZMA range decoder not finished at the end of its chunk")
)

type lenProbs struct {
	choice  uint16
	choice2 uint16
	low     [16][8]uint16 // [posState][tree]
	mid     [16][8]uint16
	high    [256]uint16
}

// probs are all the adaptive probabilities of an LZMA state. Arrays are
// sized to powers of two where that lets indexes be masked rather than
// bounds-checked.
type probs struct {
	isMatch    [256]uint16 // [state<<4 | posState]
	isRep0Long [256]uint16 // [state<<4 | posState]
	isRep      [16]uint16  // [state]
	isRepG0    [16]uint16
	isRepG1    [16]uint16
	isRepG2    [16]uint16
	posSlot    [4][64]uint16 // [min(len-2, 3)][tree]
	posSpecial [128]uint16   // distances 4-127: 115 used
	align      [16]uint16
	matchLen   lenProbs
	repLen     lenProbs
	literal    [16][0x400]uint16 // [context][tree, matched trees]: 0x300 used
}

var initProbs = func() (p probs) {
	fill := func(s []uint16) {
		for i := range s {
			s[i] = probInit
		}
	}
	fill(p.isMatch[:])
	fill(p.isRep0Long[:])
	fill(p.isRep[:])
	fill(p.isRepG0[:])
	fill(p.isRepG1[:])
	fill(p.isRepG2[:])
	for i := range p.posSlot {
		fill(p.posSlot[i][:])
	}
	fill(p.posSpecial[:])
	fill(p.align[:])
	for _, l := range []*lenProbs{&p.matchLen, &p.repLen} {
		l.choice, l.choice2 = probInit, probInit
		for i := range l.low {
			fill(l.low[i][:])
			fill(l.mid[i][:])
		}
		fill(l.high[:])
	}
	for i := range p.literal {
		fill(p.literal[i][:])
	}
	return p
}()

// litNext is the state after a literal.
var litNext = [16]uint32{0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 4, 5}

// lzmaDec is the LZMA state carried from chunk to chunk, and the output.
type lzmaDec struct {
	p   probs
	in  [inBufSize]byte
	buf []byte // output, or window of a sequentially decoded block
	pos int    // next output position in buf

	state                  uint32
	rep0, rep1, rep2, rep3 uint32 // last distances, minus one
	lc                     uint
	lpMask, pbMask         uint32

	dictSize uint32 // distances must be below
	hist     int    // bytes of history before pos since the dictionary reset, at most dictSize
	posBase  int    // pos-posBase is the position since the dictionary reset (mod 16)
	wrapEnd  int    // window: end of the data before pos went back to 0
	prev     byte   // the byte before pos (0 right after a dictionary reset)
	end      int    // of the chunk being decoded
	histBase int    // distance d is valid while d < pos-histBase
}

// resetState resets the LZMA state (not the dictionary).
func (d *lzmaDec) resetState() {
	d.p = initProbs
	d.state, d.rep0, d.rep1, d.rep2, d.rep3 = 0, 0, 0, 0, 0
}

// setProps sets lc, lp and pb from an LZMA properties byte.
func (d *lzmaDec) setProps(b byte) bool {
	if b > (4*5+4)*9+8 {
		return false
	}
	pb := b / 45
	b -= pb * 45
	lp := b / 9
	lc := b - lp*9
	if lc+lp > 4 {
		return false
	}
	d.lc = uint(lc)
	d.lpMask = 1<<lp - 1
	d.pbMask = 1<<pb - 1
	return true
}

// norm normalizes the range decoder: keeps range >= 2^24.
func norm(rng, code uint32, ip int, in *[inBufSize]byte) (uint32, uint32, int) {
	if rng < topValue {
		rng <<= 8
		code = code<<8 | uint32(in[ip&inMask])
		ip++
	}
	return rng, code, ip
}

// bitTree decodes a bit with probability *p (normalized range),
// returning sym<<1 | bit. No branch: the bits of literals and bit trees
// are too random to predict; arithmetic on masks rather than ifs, which
// the compiler may or may not turn into conditional moves. (Kept within
// the inlining budget.)
func bitTree(rng, code uint32, p *uint16, sym uint32) (uint32, uint32, uint32) {
	v := int32(*p)
	bound := (rng >> probBits) * uint32(v)
	mask := uint32(int64(uint64(code)-uint64(bound)) >> 63) // all ones for a 0
	r1 := rng - bound
	r1 ^= (r1 ^ bound) & mask // bound for a 0
	code -= bound &^ mask
	// v += (2048-v)>>5 for a 0, v -= v>>5 for a 1 (as v += (31-v)>>5).
	*p = uint16(v + (int32(31+(1<<probBits-31)&mask)-v)>>moveBits)
	return r1, code, sym<<1 | (mask + 1)
}

// literal decodes a literal's 8 bits (a bit tree). The probabilities
// of both children of a node are loaded while its bit is decoded, so that
// the load is not in the chain from one bit to the next.
func literal(rng, code uint32, ip int, in *[inBufSize]byte, lp *[0x400]uint16) (uint32, uint32, int, uint32) {
	sym := uint32(1)
	v := uint32(lp[1])
	for sym < 0x100 {
		i := sym << 1
		v0, v1 := uint32(lp[i&0x3ff]), uint32(lp[(i|1)&0x3ff])
		rng, code, ip = norm(rng, code, ip, in)
		bound := (rng >> probBits) * v
		// Conditional moves (checked in the generated code).
		r1, c1, t := rng-bound, code-bound, uint32(31)
		var bit uint32
		if code >= bound {
			bit = 1
		}
		if code < bound {
			r1 = bound
		}
		if code < bound {
			c1 = code
		}
		if code < bound {
			t = 1 << probBits
		}
		if code < bound {
			v1 = v0
		}
		lp[sym] = uint16(int32(v) + (int32(t)-int32(v))>>moveBits)
		rng, code = r1, c1
		sym = i | bit
		v = v1
	}
	return rng, code, ip, sym
}

// matchedLiteral decodes a literal after a match: while its bits equal
// those of the byte at the last distance, mb, they have their own
// probabilities (at 0x100 + 0x100*matchbit + node); after a difference,
// those of a plain literal. offs is 0x100 while they are equal, then 0.
// Without branches; the probabilities of both possible next nodes are
// loaded while a bit is decoded, which takes the load out of the chain
// from one bit to the next.
func matchedLiteral(rng, code uint32, ip int, in *[inBufSize]byte, lp *[0x400]uint16, mb uint32) (uint32, uint32, int, uint32) {
	sym, offs := uint32(1), uint32(0x100)
	mb <<= 1
	idx := offs + mb&offs + sym
	v := uint32(lp[idx&0x3ff])
	for sym < 0x100 && offs != 0 {
		bm := mb & offs // this bit of mb, at 0x100
		mb <<= 1
		s0, s1 := sym<<1, sym<<1|1
		o0, o1 := offs&^bm, offs&bm
		i0, i1 := o0+mb&o0+s0, o1+mb&o1+s1
		v0, v1 := uint32(lp[i0&0x3ff]), uint32(lp[i1&0x3ff])
		rng, code, ip = norm(rng, code, ip, in)
		bound := (rng >> probBits) * v
		mask := uint32(int64(uint64(code)-uint64(bound)) >> 63) // all ones for a 0
		r1 := rng - bound
		rng = r1 ^ (r1^bound)&mask
		code -= bound &^ mask
		lp[idx&0x3ff] = uint16(int32(v) + (int32(31+(1<<probBits-31)&mask)-int32(v))>>moveBits)
		sym = s1 ^ (s1^s0)&mask
		offs = o1 ^ (o1^o0)&mask
		idx = i1 ^ (i1^i0)&mask
		v = v1 ^ (v1^v0)&mask
	}
	// The rest as a plain literal; v is already node sym's.
	for sym < 0x100 {
		i := sym << 1
		v0, v1 := uint32(lp[i&0x3ff]), uint32(lp[(i|1)&0x3ff])
		rng, code, ip = norm(rng, code, ip, in)
		bound := (rng >> probBits) * v
		mask := uint32(int64(uint64(code)-uint64(bound)) >> 63) // all ones for a 0
		r1 := rng - bound
		rng = r1 ^ (r1^bound)&mask
		code -= bound &^ mask
		lp[sym] = uint16(int32(v) + (int32(31+(1<<probBits-31)&mask)-int32(v))>>moveBits)
		sym = i | (mask + 1)
		v = v1 ^ (v1^v0)&mask
	}
	return rng, code, ip, sym
}

// decodeChunk decodes an LZMA chunk: n compressed bytes in d.in, the
// output up to end in d.buf. The caller has checked that end fits.
//
// Only the range decoder, the output position, the state, the last byte
// and the last distance are local variables; the rest is read from d
// where it is used (from the L1 cache), which leaves the compiler
// registers enough for those: a long loop with more locals has them
// spilled to the stack, the range decoder included.
func (d *lzmaDec) decodeChunk(n, end int) error {
	d.end = end
	d.histBase = d.pos - d.hist
	pos := d.pos
	rng := uint32(0xffffffff)
	// The first byte is ignored (it is always 0 from a sane encoder).
	code := uint32(d.in[1])<<24 | uint32(d.in[2])<<16 | uint32(d.in[3])<<8 | uint32(d.in[4])
	ip := 5
	state, rep0, prev := d.state, d.rep0, uint32(d.prev)
	var err error

	for pos < d.end {
		ps := uint32(pos-d.posBase) & d.pbMask
		pr := &d.p.isMatch[(state<<4|ps)&255]
		rng, code, ip = norm(rng, code, ip, &d.in)
		v := uint32(*pr)
		bound := (rng >> probBits) * v
		if code < bound {
			// Literal.
			rng = bound
			*pr = uint16(v + (1<<probBits-v)>>moveBits)
			lc := d.lc & 7
			lp := &d.p.literal[((uint32(pos-d.posBase)&d.lpMask)<<lc+prev>>(8-lc))&15]
			var sym uint32
			if state >= litStates {
				src := pos - int(rep0) - 1
				if src < 0 {
					src += d.wrapEnd
				}
				rng, code, ip, sym = matchedLiteral(rng, code, ip, &d.in, lp, uint32(d.buf[src]))
			} else {
				rng, code, ip, sym = literal(rng, code, ip, &d.in, lp)
			}
			prev = sym & 0xff
			d.buf[pos] = byte(prev)
			pos++
			state = litNext[state&15]
			continue
		}
		rng -= bound
		code -= bound
		*pr = uint16(v - v>>moveBits)

		// isRep
		isMatch := false
		var lenp *lenProbs
		pr = &d.p.isRep[state&15]
		rng, code, ip = norm(rng, code, ip, &d.in)
		v = uint32(*pr)
		bound = (rng >> probBits) * v
		if code < bound {
			// Match: a new distance follows the length.
			rng = bound
			*pr = uint16(v + (1<<probBits-v)>>moveBits)
			isMatch = true
			d.rep3, d.rep2, d.rep1 = d.rep2, d.rep1, rep0
			lenp = &d.p.matchLen
			state = 7 + 3*(state/litStates) // 7 after a literal, else 10
		} else {
			rng -= bound
			code -= bound
			*pr = uint16(v - v>>moveBits)
			// isRepG0
			pr = &d.p.isRepG0[state&15]
			rng, code, ip = norm(rng, code, ip, &d.in)
			v = uint32(*pr)
			bound = (rng >> probBits) * v
			if code < bound {
				rng = bound
				*pr = uint16(v + (1<<probBits-v)>>moveBits)
				// isRep0Long
				pr = &d.p.isRep0Long[(state<<4|ps)&255]
				rng, code, ip = norm(rng, code, ip, &d.in)
				v = uint32(*pr)
				bound = (rng >> probBits) * v
				if code < bound {
					// Short rep: one byte at rep0.
					rng = bound
					*pr = uint16(v + (1<<probBits-v)>>moveBits)
					state = 9 + 2*(state/litStates) // 9 after a literal, else 11
					if rep0 >= d.dictSize || uint(rep0) >= uint(pos-d.histBase) {
						err = errDist
						break
					}
					src := pos - int(rep0) - 1
					if src < 0 {
						src += d.wrapEnd
					}
					prev = uint32(d.buf[src])
					d.buf[pos] = byte(prev)
					pos++
					continue
				}
				rng -= bound
				code -= bound
				*pr = uint16(v - v>>moveBits)
			} else {
				rng -= bound
				code -= bound
				*pr = uint16(v - v>>moveBits)
				// isRepG1
				pr = &d.p.isRepG1[state&15]
				rng, code, ip = norm(rng, code, ip, &d.in)
				v = uint32(*pr)
				bound = (rng >> probBits) * v
				var dist uint32
				if code < bound {
					rng = bound
					*pr = uint16(v + (1<<probBits-v)>>moveBits)
					dist = d.rep1
				} else {
					rng -= bound
					code -= bound
					*pr = uint16(v - v>>moveBits)
					// isRepG2
					pr = &d.p.isRepG2[state&15]
					rng, code, ip = norm(rng, code, ip, &d.in)
					v = uint32(*pr)
					bound = (rng >> probBits) * v
					if code < bound {
						rng = bound
						*pr = uint16(v + (1<<probBits-v)>>moveBits)
						dist = d.rep2
					} else {
						rng -= bound
						code -= bound
						*pr = uint16(v - v>>moveBits)
						dist = d.rep3
						d.rep3 = d.rep2
					}
					d.rep2 = d.rep1
				}
				d.rep1 = rep0
				rep0 = dist
			}
			lenp = &d.p.repLen
			state = 8 + 3*(state/litStates) // 8 after a literal, else 11
		}

		// Length.
		var length int
		rng, code, ip = norm(rng, code, ip, &d.in)
		v = uint32(lenp.choice)
		bound = (rng >> probBits) * v
		if code < bound {
			rng = bound
			lenp.choice = uint16(v + (1<<probBits-v)>>moveBits)
			t := &lenp.low[ps&15]
			sym := uint32(1)
			rng, code, ip = norm(rng, code, ip, &d.in)
			rng, code, sym = bitTree(rng, code, &t[1], sym)
			rng, code, ip = norm(rng, code, ip, &d.in)
			rng, code, sym = bitTree(rng, code, &t[sym&7], sym)
			rng, code, ip = norm(rng, code, ip, &d.in)
			rng, code, sym = bitTree(rng, code, &t[sym&7], sym)
			length = 2 + int(sym) - 8
		} else {
			rng -= bound
			code -= bound
			lenp.choice = uint16(v - v>>moveBits)
			rng, code, ip = norm(rng, code, ip, &d.in)
			v = uint32(lenp.choice2)
			bound = (rng >> probBits) * v
			if code < bound {
				rng = bound
				lenp.choice2 = uint16(v + (1<<probBits-v)>>moveBits)
				t := &lenp.mid[ps&15]
				sym := uint32(1)
				rng, code, ip = norm(rng, code, ip, &d.in)
				rng, code, sym = bitTree(rng, code, &t[1], sym)
				rng, code, ip = norm(rng, code, ip, &d.in)
				rng, code, sym = bitTree(rng, code, &t[sym&7], sym)
				rng, code, ip = norm(rng, code, ip, &d.in)
				rng, code, sym = bitTree(rng, code, &t[sym&7], sym)
				length = 10 + int(sym) - 8
			} else {
				rng -= bound
				code -= bound
				lenp.choice2 = uint16(v - v>>moveBits)
				t := &lenp.high
				sym := uint32(1)
				for sym < 0x100 {
					rng, code, ip = norm(rng, code, ip, &d.in)
					rng, code, sym = bitTree(rng, code, &t[sym], sym)
				}
				length = 18 + int(sym) - 0x100
			}
		}

		if isMatch {
			// Distance: a 6-bit slot, then reverse-coded low bits.
			t := &d.p.posSlot[min(length-2, 3)&3]
			sym := uint32(1)
			for sym < 64 {
				rng, code, ip = norm(rng, code, ip, &d.in)
				rng, code, sym = bitTree(rng, code, &t[sym], sym)
			}
			slot := sym - 64
			if slot < 4 {
				rep0 = slot
			} else {
				nd := slot>>1 - 1
				dist := (2 | slot&1) << nd
				if slot < 14 {
					base := dist - slot
					m := uint32(1)
					for i := uint32(0); i < nd; i++ {
						rng, code, ip = norm(rng, code, ip, &d.in)
						rng, code, m = bitTree(rng, code, &d.p.posSpecial[(base+m)&127], m)
						dist |= (m & 1) << i
					}
				} else {
					var direct uint32
					for i := nd - 4; i > 0; i-- {
						rng, code, ip = norm(rng, code, ip, &d.in)
						rng >>= 1
						code -= rng
						t := 0 - code>>31
						code += rng & t
						direct = direct<<1 + t + 1
					}
					dist += direct << 4
					m := uint32(1)
					for i := uint32(0); i < 4; i++ {
						rng, code, ip = norm(rng, code, ip, &d.in)
						rng, code, m = bitTree(rng, code, &d.p.align[m&15], m)
						dist |= (m & 1) << i
					}
				}
				rep0 = dist
			}
		}

		if rep0 >= d.dictSize || uint(rep0) >= uint(pos-d.histBase) {
			err = errDist
			break
		}
		if length > d.end-pos {
			err = errLen
			break
		}
		out := d.buf
		src := pos - int(rep0) - 1
		switch {
		case src < 0:
			copyWrapped(out, pos, src+d.wrapEnd, d.wrapEnd, length)
		case int(rep0) >= length-1 && length <= 16 && pos+16 <= len(out):
			// Most matches: short, not overlapping their source. Both
			// words are loaded before the stores (a load overlapping a
			// store just made would stall). The bytes past the match
			// are rewritten later (and in a window they are not
			// history: see winExtra).
			a := binary.LittleEndian.Uint64(out[src:])
			b := binary.LittleEndian.Uint64(out[src+8:])
			binary.LittleEndian.PutUint64(out[pos:], a)
			binary.LittleEndian.PutUint64(out[pos+8:], b)
		case int(rep0) >= length-1 && length > 64:
			copy(out[pos:pos+length], out[src:])
		case rep0 >= 7 && pos+length+8 <= len(out):
			// Overlapping matches from 8 or more bytes back: 8 bytes
			// at a time, each read written before.
			for i := 0; i < length; i += 8 {
				binary.LittleEndian.PutUint64(out[pos+i:], binary.LittleEndian.Uint64(out[src+i:]))
			}
		case rep0 == 0 && out[src] == 0:
			// A run of zeros: the bulk of a disk image.
			clear(out[pos : pos+length])
		case rep0 == 0 && pos+length+8 <= len(out):
			// A run of one byte.
			v := uint64(out[src]) * 0x0101010101010101
			for i := 0; i < length; i += 8 {
				binary.LittleEndian.PutUint64(out[pos+i:], v)
			}
		default:
			copyMatch(out, pos, src, length)
		}
		pos += length
		prev = uint32(out[pos-1])
	}

	if err == nil {
		rng, code, ip = norm(rng, code, ip, &d.in)
		switch {
		case ip > n:
			err = errOverrun
		case ip < n:
			err = errUnderrun
		case code != 0:
			err = errRCEnd
		}
	}
	d.state, d.rep0 = state, rep0
	d.hist = int(min(uint64(d.hist)+uint64(pos-d.pos), uint64(d.dictSize)))
	d.pos = pos
	d.prev = byte(prev)
	return err
}

// copyMatch copies length bytes from out[src:] to out[pos:], src < pos,
// as a byte-by-byte forward copy would: a source overlapping the
// destination repeats.
func copyMatch(out []byte, pos, src, length int) {
	end := pos + length
	if pos-src >= length {
		copy(out[pos:end], out[src:])
		return
	}
	// Copy what precedes pos, then twice as much, and so on.
	for pos < end {
		pos += copy(out[pos:end], out[src:pos])
	}
}

// copyWrapped copies a match whose source, s, is in the data before the
// window last wrapped (which ends at wrapEnd), then continues from 0.
func copyWrapped(out []byte, pos, s, wrapEnd, length int) {
	k := min(length, wrapEnd-s)
	copy(out[pos:pos+k], out[s:wrapEnd])
	if k < length {
		copyMatch(out, pos+k, 0, length-k)
	}
}
