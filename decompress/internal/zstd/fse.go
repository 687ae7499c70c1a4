package zstd

import "math/bits"

// An fseEntry is one state of an FSE decoding table. For the sequence
// tables it also carries the value the state's symbol (code) stands for:
// value = base + the next add bits. For the Huffman weights table, base
// is the symbol (the weight) and add is 0.
type fseEntry struct {
	base   uint32 // value baseline, or the symbol
	next   uint16 // next state = next + the next nbBits bits
	add    uint8  // extra bits of the value
	nbBits uint8  // bits of the next state
}

// readNCount reads an FSE table description (RFC 8878 4.1.1) from the
// start of b: the normalized counts of symbols 0..len(norm)-1 at most,
// with an accuracy log of at most maxLog. It returns the accuracy log,
// the number of symbols described and the bytes used.
func readNCount(b []byte, norm []int16, maxLog uint) (log uint, nsym, used int, err error) {
	pos := 0 // bit position in b
	peek := func() uint32 {
		// The next 32 bits (zeros past the end of b).
		var v uint64
		i := pos >> 3
		for k := 0; k < 5 && i+k < len(b); k++ {
			v |= uint64(b[i+k]) << (8 * k)
		}
		return uint32(v >> (pos & 7))
	}
	log = uint(peek()&15) + 5
	if log > maxLog {
		return 0, 0, 0, blockErrf("FSE accuracy log %d above %d", log, maxLog)
	}
	pos = 4
	remaining := int32(1)<<log + 1
	threshold := int32(1) << log
	nb := log + 1
	sym := 0
	prev0 := false
	for remaining > 1 {
		if prev0 {
			for {
				r := int(peek() & 3)
				pos += 2
				sym += r
				if r != 3 {
					break
				}
				if sym > len(norm) {
					break
				}
			}
		}
		if sym >= len(norm) {
			return 0, 0, 0, blockErrf("FSE table: symbol %d out of range", sym)
		}
		v := int32(peek())
		max := 2*threshold - 1 - remaining
		var c int32
		if v&(threshold-1) < max {
			c = v & (threshold - 1)
			pos += int(nb) - 1
		} else {
			c = v & (2*threshold - 1)
			if c >= threshold {
				c -= max
			}
			pos += int(nb)
		}
		c--
		if c < 0 {
			remaining--
		} else {
			remaining -= c
		}
		norm[sym] = int16(c)
		sym++
		prev0 = c == 0
		for remaining < threshold {
			nb--
			threshold >>= 1
		}
	}
	if remaining != 1 {
		return 0, 0, 0, blockErrf("FSE table: counts do not add up")
	}
	used = (pos + 7) >> 3
	if used > len(b) {
		return 0, 0, 0, blockErrf("FSE table: truncated")
	}
	return log, sym, used, nil
}

// buildFSE fills t[:1<<log] from normalized counts norm (RFC 8878
// 4.1.1): symbols of count -1 take the last states, the others are
// spread with the standard step; base and add give a symbol's value (nil:
// the symbol itself).
func buildFSE(t []fseEntry, norm []int16, log uint, base []uint32, add []uint8) error {
	size := 1 << log
	if len(t) < size || len(norm) > 256 {
		return blockErrf("FSE table too large")
	}
	t = t[:size]
	var next [256]uint16
	var sym [512]uint8
	high := size - 1
	for s, c := range norm {
		if c == -1 {
			if high < 0 {
				return blockErrf("FSE table: too many symbols")
			}
			sym[high&511] = uint8(s)
			high--
			next[s] = 1
		} else {
			next[s] = uint16(c)
		}
	}
	step := size>>1 + size>>3 + 3
	mask := size - 1
	p := 0
	for s, c := range norm {
		for i := 0; i < int(c); i++ {
			sym[p&511] = uint8(s)
			p = (p + step) & mask
			for p > high {
				p = (p + step) & mask
			}
		}
	}
	if p != 0 {
		return blockErrf("FSE table: bad distribution")
	}
	for u := range t {
		s := sym[u&511]
		ns := next[s]
		next[s]++
		if ns == 0 {
			return blockErrf("FSE table: bad distribution")
		}
		nb := log - uint(bits.Len16(ns)-1)
		e := &t[u]
		e.nbBits = uint8(nb)
		e.next = uint16(uint(ns)<<nb - uint(size))
		if base != nil {
			e.base, e.add = base[s], add[s]
		} else {
			e.base, e.add = uint32(s), 0
		}
	}
	return nil
}
