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
	f := craftFields(b.data, true)
	f.addExtra(b.extra)
	f.write(w)
	return f.crc
}

// blockFields are the fields of one block, as written: tests change them
// to make every kind of invalid block.
type blockFields struct {
	crc        uint32
	randomised bool
	origPtr    int
	inUse      [256]bool
	nGroups    int      // written in 3 bits
	nSels      int      // written in 15 bits
	sels       []int    // move-to-front coded selectors (unary)
	firstLen   []int    // per table, the 5-bit first length (0: lens[t][0])
	lens       [][]int  // per table, the code lengths
	lenBits    []string // per table, if set: written instead of its lengths
	syms       []int    // the symbols, the end of block included, coded with table 0
	symBits    string   // if set: written instead of the symbols
	tail       string   // bits written after the symbols
}

// craftFields returns the fields of a valid block of data (data before the
// initial run-length stage: with noRuns it must not hold 4 equal bytes in
// a row). All tables are the same code, so any selectors decode the data.
func craftFields(data []byte, noRuns bool) *blockFields {
	n := len(data)
	for i := 3; noRuns && i < n; i++ {
		if data[i] == data[i-1] && data[i] == data[i-2] && data[i] == data[i-3] {
			panic("craft: run of 4 equal bytes")
		}
	}
	f := &blockFields{crc: bzCRC(data)}

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
	last := make([]byte, n)
	for j, i := range idx {
		if i == 0 {
			f.origPtr = j
		}
		last[j] = data[(i+n-1)%n]
	}

	// Move-to-front over the used bytes, runs of zeros as RUNA/RUNB.
	for _, c := range data {
		f.inUse[c] = true
	}
	var mtf []byte
	for c := range 256 {
		if f.inUse[c] {
			mtf = append(mtf, byte(c))
		}
	}
	nInUse := len(mtf)
	run := 0
	flush := func() {
		if run > 0 {
			f.syms = append(f.syms, runDigits(run)...)
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
		f.syms = append(f.syms, p+1)
		copy(mtf[1:p+1], mtf[:p])
		mtf[0] = c
	}
	flush()
	alpha := nInUse + 2
	f.syms = append(f.syms, alpha-1) // end of block

	// One complete prefix code of lengths L-1 and L, used by every table.
	L := bits.Len(uint(alpha - 1))
	short := 1<<L - alpha
	lens := make([]int, alpha)
	for s := range lens {
		lens[s] = L
		if s < short {
			lens[s] = L - 1
		}
	}
	f.nGroups = 6
	for range f.nGroups {
		f.lens = append(f.lens, lens)
	}
	for range (len(f.syms) + 49) / 50 {
		f.sels = append(f.sels, 0)
	}
	f.nSels = len(f.sels)
	return f
}

// runDigits spells a run length in RUNA (0) and RUNB (1) digits.
func runDigits(run int) []int {
	var d []int
	for rc := run + 1; rc != 1; rc >>= 1 {
		d = append(d, rc&1)
	}
	return d
}

// addExtra adds selectors that spell the bits of extra (see craftBlock).
func (f *blockFields) addExtra(extra string) {
	ones := 0
	for _, c := range extra {
		if c == '1' {
			ones++
			continue
		}
		if ones >= f.nGroups {
			panic("craft: run of 1s too long for the tables")
		}
		f.sels = append(f.sels, ones)
		ones = 0
	}
	f.nSels = len(f.sels)
}

// canonical returns the canonical prefix codes of lens.
func canonical(lens []int) []uint64 {
	codes := make([]uint64, len(lens))
	code := uint64(0)
	for l := 1; l <= 20; l++ {
		for s := range lens {
			if lens[s] == l {
				codes[s] = code
				code++
			}
		}
		code <<= 1
	}
	return codes
}

func (w *craftWriter) bitString(s string) {
	for _, c := range s {
		w.write(uint64(c-'0'), 1)
	}
}

// write writes the block, from its magic.
func (f *blockFields) write(w *craftWriter) {
	w.write(blockMagic, 48)
	w.write(uint64(f.crc), 32)
	w.write(b2u(f.randomised), 1)
	w.write(uint64(f.origPtr), 24)
	var groupUsed [16]bool
	for c := range 256 {
		groupUsed[c/16] = groupUsed[c/16] || f.inUse[c]
	}
	for g := range 16 {
		w.write(b2u(groupUsed[g]), 1)
	}
	for g := range 16 {
		if groupUsed[g] {
			for c := g * 16; c < g*16+16; c++ {
				w.write(b2u(f.inUse[c]), 1)
			}
		}
	}
	w.write(uint64(f.nGroups), 3)
	w.write(uint64(f.nSels), 15)
	for _, s := range f.sels {
		for range s {
			w.write(1, 1)
		}
		w.write(0, 1)
	}
	for t, lens := range f.lens {
		if t < len(f.lenBits) && f.lenBits[t] != "" {
			w.bitString(f.lenBits[t])
			continue
		}
		cur := lens[0]
		if t < len(f.firstLen) && f.firstLen[t] != 0 {
			cur = f.firstLen[t]
		}
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
	if f.symBits != "" {
		w.bitString(f.symBits)
	} else {
		codes := canonical(f.lens[0])
		for _, s := range f.syms {
			w.write(codes[s], uint(f.lens[0][s]))
		}
	}
	w.bitString(f.tail)
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
