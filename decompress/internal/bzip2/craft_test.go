package bzip2

// A small bzip2 encoder for tests, written from the format description: it
// lets a test put chosen bit patterns (a false block or end-of-stream
// magic) inside a block's data, which no real compressor can be made to do.
// The trick is in the tree selectors: a block may store more selectors
// than it uses, each is a unary-coded move-to-front index, and when all
// trees are the same any index sequence decodes to the same data. So the
// extra selectors can spell any bit string whose runs of 1s are shorter
// than the number of trees.

import (
	"math/bits"
	"sort"
)

var crcTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04c11db7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// bzCRC is bzip2's CRC-32: MSB-first, polynomial 0x04c11db7.
func bzCRC(b []byte) uint32 {
	c := ^uint32(0)
	for _, x := range b {
		c = c<<8 ^ crcTable[byte(c>>24)^x]
	}
	return ^c
}

type craftWriter struct {
	buf []byte
	n   int64 // bits written
}

func (w *craftWriter) write(v uint64, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.buf = append(w.buf, 0)
		}
		if v>>uint(i)&1 != 0 {
			w.buf[w.n/8] |= 0x80 >> uint(w.n%8)
		}
		w.n++
	}
}

// craftBlock describes one block: its data (no run of 4 equal bytes, so
// the first run-length stage leaves it unchanged) and the bits to spell
// with extra selectors ("" for none).
type craftBlock struct {
	data  []byte
	extra string // '0'/'1' characters; must end in '0'
}

// craftStream encodes one stream and returns its bytes and the bit offsets
// where its blocks start.
func craftStream(w *craftWriter, level byte, blocks []craftBlock) (starts []int64) {
	w.write(uint64('B')<<24|uint64('Z')<<16|uint64('h')<<8|uint64('0'+level), 32)
	var streamCRC uint32
	for _, b := range blocks {
		starts = append(starts, w.n)
		crc := craftBlockBits(w, b)
		streamCRC = bits.RotateLeft32(streamCRC, 1) ^ crc
	}
	w.write(eosMagic, 48)
	w.write(uint64(streamCRC), 32)
	if w.n%8 != 0 {
		w.write(0, uint(8-w.n%8))
	}
	return starts
}

func craftBlockBits(w *craftWriter, b craftBlock) uint32 {
	data := b.data
	n := len(data)
	for i := 3; i < n; i++ {
		if data[i] == data[i-1] && data[i] == data[i-2] && data[i] == data[i-3] {
			panic("craft: run of 4 equal bytes")
		}
	}
	crc := bzCRC(data)

	// Burrows-Wheeler transform of the rotations, sorted naively.
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool {
		x, y := idx[a], idx[b]
		for k := range n {
			cx, cy := data[(x+k)%n], data[(y+k)%n]
			if cx != cy {
				return cx < cy
			}
		}
		return false
	})
	var origPtr int
	last := make([]byte, n)
	for j, i := range idx {
		if i == 0 {
			origPtr = j
		}
		last[j] = data[(i+n-1)%n]
	}

	// Move-to-front over the used bytes, runs of zeros as RUNA/RUNB.
	var inUse [256]bool
	for _, c := range data {
		inUse[c] = true
	}
	var mtf []byte
	for c := range 256 {
		if inUse[c] {
			mtf = append(mtf, byte(c))
		}
	}
	nInUse := len(mtf)
	var syms []int
	run := 0
	flush := func() {
		if run > 0 {
			for rc := run + 1; rc != 1; rc >>= 1 {
				syms = append(syms, rc&1) // RUNA = 0, RUNB = 1
			}
			run = 0
		}
	}
	for _, c := range last {
		p := 0
		for mtf[p] != c {
			p++
		}
		if p == 0 {
			run++
			continue
		}
		flush()
		syms = append(syms, p+1)
		copy(mtf[1:p+1], mtf[:p])
		mtf[0] = c
	}
	flush()
	alpha := nInUse + 2
	syms = append(syms, alpha-1) // end of block

	// One complete prefix code of lengths L-1 and L, used by every tree.
	L := bits.Len(uint(alpha - 1))
	short := 1<<L - alpha
	lens := make([]int, alpha)
	for s := range lens {
		lens[s] = L
		if s < short {
			lens[s] = L - 1
		}
	}
	codes := make([]uint64, alpha)
	code := uint64(0)
	for l := 1; l <= L; l++ {
		for s := range alpha {
			if lens[s] == l {
				codes[s] = code
				code++
			}
		}
		code <<= 1
	}

	const nTrees = 6
	var sels []int
	for range (len(syms) + 49) / 50 {
		sels = append(sels, 0)
	}
	ones := 0
	for _, c := range b.extra {
		if c == '1' {
			ones++
			continue
		}
		if ones >= nTrees {
			panic("craft: run of 1s too long for the trees")
		}
		sels = append(sels, ones)
		ones = 0
	}

	w.write(blockMagic, 48)
	w.write(uint64(crc), 32)
	w.write(0, 1) // not randomized
	w.write(uint64(origPtr), 24)
	var groupUsed [16]bool
	for c := range 256 {
		groupUsed[c/16] = groupUsed[c/16] || inUse[c]
	}
	for g := range 16 {
		w.write(b2u(groupUsed[g]), 1)
	}
	for g := range 16 {
		if groupUsed[g] {
			for c := g * 16; c < g*16+16; c++ {
				w.write(b2u(inUse[c]), 1)
			}
		}
	}
	w.write(nTrees, 3)
	w.write(uint64(len(sels)), 15)
	for _, s := range sels {
		for range s {
			w.write(1, 1)
		}
		w.write(0, 1)
	}
	for range nTrees {
		cur := lens[0]
		w.write(uint64(cur), 5)
		for _, l := range lens {
			for cur < l {
				w.write(2, 2) // "10": +1
				cur++
			}
			for cur > l {
				w.write(3, 2) // "11": -1
				cur--
			}
			w.write(0, 1)
		}
	}
	for _, s := range syms {
		w.write(codes[s], uint(lens[s]))
	}
	return crc
}

// magicBits returns the 48 bits of m as '0'/'1' characters.
func magicBits(m uint64) string {
	b := make([]byte, 48)
	for i := range b {
		b[i] = '0' + byte(m>>(47-i)&1)
	}
	return string(b)
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
