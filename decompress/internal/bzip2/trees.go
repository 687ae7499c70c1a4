package bzip2

import "math/bits"

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

// treeFix finds the prefix-code trees of the block in bits [p, end) of b
// that no selector uses and that are incomplete codes. lbzip2 writes every
// unused tree with all lengths 20, and dsnet builds an incomplete code by
// exploring all 2^20 codes: 50 ms per such block, which is most of the
// time for lbzip2's blocks of zeros. Since the tree is never used,
// replacing its lengths by those of a used, complete tree changes nothing
// in the output. treeFix returns the bit spans of the trees, the tree to
// copy, and which ones to replace; ok is false when there is nothing to do
// or the header does not parse (dsnet will then report the problem).
func treeFix(b []byte, p, end int64) (spans [7]int64, nTrees int, src int, replace [6]bool, ok bool) {
	get := func(n uint) uint64 {
		v := getBits(b, p, n)
		p += int64(n)
		return v
	}
	p += 48 + 32 + 1 + 24 // magic, CRC, randomised, BWT origin
	if p+16 > end {
		return
	}
	hi := get(16)
	nInUse := 0
	for range bits.OnesCount64(hi) {
		if p+16 > end {
			return
		}
		nInUse += bits.OnesCount64(get(16))
	}
	alpha := nInUse + 2
	if nInUse == 0 || p+18 > end {
		return
	}
	nTrees = int(get(3))
	nSels := int(get(15))
	if nTrees < 2 || nTrees > 6 || nSels == 0 {
		return
	}
	var used [6]bool
	mtf := [6]uint8{0, 1, 2, 3, 4, 5}
	for range nSels {
		v := 0
		for {
			if p >= end {
				return
			}
			if get(1) == 0 {
				break
			}
			if v++; v >= nTrees {
				return
			}
		}
		t := mtf[v]
		copy(mtf[1:v+1], mtf[:v])
		mtf[0] = t
		used[t] = true
	}
	var complete [6]bool
	for t := range nTrees {
		spans[t] = p
		if p+5 > end {
			return
		}
		l := int(get(5))
		var kraft uint32 // in units of 2^-20
		for range alpha {
			for {
				if l < 1 || l > 20 || p >= end {
					return
				}
				if get(1) == 0 {
					break
				}
				if p >= end {
					return
				}
				l += 1 - 2*int(get(1))
			}
			kraft += 1 << (20 - l)
		}
		complete[t] = kraft == 1<<20
	}
	spans[nTrees] = p
	src = -1
	for t := range nTrees {
		if used[t] && complete[t] {
			src = t
		}
		replace[t] = !used[t] && !complete[t]
		ok = ok || replace[t]
	}
	return spans, nTrees, src, replace, ok && src >= 0
}

// fixTrees rewrites s's block (bits 32..32+s.nbits of s.buf, re-wrapped)
// with its unused incomplete trees replaced, if it has any.
func (z *Reader) fixTrees(s *segment) {
	spans, n, src, replace, ok := treeFix(s.buf, 32, 32+s.nbits)
	if !ok {
		return
	}
	srcBits := spans[src+1] - spans[src]
	newBits := s.nbits
	for t := range n {
		if replace[t] {
			newBits += srcBits - (spans[t+1] - spans[t])
		}
	}
	w := bitAppender{buf: getBuf(&z.inPool, int(4+(newBits+7)/8+16))[:0]}
	w.copy(s.buf, 0, spans[0]) // header and block up to the trees
	for t := range n {
		if replace[t] {
			w.copy(s.buf, spans[src], srcBits)
		} else {
			w.copy(s.buf, spans[t], spans[t+1]-spans[t])
		}
	}
	w.copy(s.buf, spans[n], 32+s.nbits-spans[n])
	nb := w.bytes()
	nb = nb[:cap(nb)]
	putBuf(&z.inPool, s.buf)
	s.buf, s.nbits = nb, newBits
}
