package gz

import "math/bits"

// Decoding tables. A Huffman code is decoded by one lookup of the next
// primary-bits bits of the bit buffer (DEFLATE packs codewords starting at
// their most significant bit, so the table is indexed by bit-reversed
// codewords) and, for codewords longer than that, a second lookup in a
// subtable. Each entry is a uint32:
//
//	bits 0-3    n: codeword bits to consume (in a subtable: beyond the primary bits)
//	bits 4-7    extra bits that follow the codeword (length and distance
//	            bases); for a subtable pointer, the subtable's index bits
//	bits 8-11   kind (kindInvalid is 0, so a cleared entry is invalid)
//	bits 16-30  value: the length or distance base, the subtable's start
//	bit 31      literal; the byte is in bits 16-23
//
// A length or distance is thus value + the extra bits after the codeword,
// and both are consumed together (n + extra bits).
const (
	kindInvalid = 0 << 8
	kindValue   = 1 << 8 // length or distance: value + extra bits
	kindEOB     = 2 << 8
	kindSub     = 3 << 8
	kindMask    = 15 << 8
	litFlag     = 1 << 31

	litBits  = 11 // primary bits of the literal/length table
	distBits = 8  // primary bits of the distance table
	// Table sizes: the primary table plus, at most, one subtable of
	// 2^(15-primary) entries per codeword longer than the primary bits,
	// rounded up to a power of two so that masked indexes need no bounds
	// check.
	litTableSize  = 8192 // >= 2048 + 288*16
	distTableSize = 4096 // >= 256 + 30*128

	maxCodeLen = 15
)

var (
	lengthBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

// litEntry is the entry of symbol sym of the literal/length alphabet with
// a codeword of n bits (beyond the primary bits, in a subtable).
func litEntry(sym int, n uint32) uint32 {
	switch {
	case sym < 256:
		return litFlag | uint32(sym)<<16 | n
	case sym == 256:
		return kindEOB | n
	case sym < 286:
		i := sym - 257
		return kindValue | uint32(lengthBase[i])<<16 | uint32(lengthExtra[i])<<4 | n
	}
	return kindInvalid // 286 and 287 take part in the fixed code but are invalid
}

func distEntry(sym int, n uint32) uint32 {
	if sym < 30 {
		return kindValue | uint32(distBase[sym])<<16 | uint32(distExtra[sym])<<4 | n
	}
	return kindInvalid
}

// buildTable fills table (of at least 2^primary entries plus subtables)
// for the code given by lens. It fails on an oversubscribed code; an
// incomplete code is accepted, the missing codewords decoding as invalid
// entries (which fail when met), so that every stream zlib accepts is
// accepted. entry makes a symbol's entry. It returns the number of entries
// used.
func buildTable(table []uint32, primary uint, lens []uint8, entry func(sym int, n uint32) uint32) (int, bool) {
	var count [maxCodeLen + 1]int
	maxLen := 0
	for _, l := range lens {
		count[l]++
		maxLen = max(maxLen, int(l))
	}
	count[0] = 0
	left := 1
	for l := 1; l <= maxCodeLen; l++ {
		left = left<<1 - count[l]
		if left < 0 {
			return 0, false
		}
	}
	// First canonical codeword of each length.
	var next [maxCodeLen + 2]int
	code := 0
	for l := 1; l <= maxCodeLen; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	size := 1 << primary
	clear(table[:size])
	subBits := uint(0)
	if maxLen > int(primary) {
		subBits = uint(maxLen) - primary
	}
	used := size
	for sym, l := range lens {
		if l == 0 {
			continue
		}
		n := uint(l)
		c := next[n]
		next[n]++
		r := int(bits.Reverse16(uint16(c)) >> (16 - n))
		if n <= primary {
			e := entry(sym, uint32(n))
			for i := r; i < size; i += 1 << n {
				table[i] = e
			}
			continue
		}
		prefix := r & (size - 1)
		p := table[prefix]
		if p&kindMask != kindSub {
			p = kindSub | uint32(used)<<16 | uint32(subBits)<<4 | uint32(primary)
			table[prefix] = p
			clear(table[used : used+1<<subBits])
			used += 1 << subBits
		}
		sub := table[p>>16 : p>>16+1<<subBits]
		e := entry(sym, uint32(n-primary))
		for i := r >> primary; i < len(sub); i += 1 << (n - primary) {
			sub[i] = e
		}
	}
	return used, true
}

// The fixed Huffman code (RFC 1951 3.2.6).
var fixedLit [litTableSize]uint32
var fixedDist [distTableSize]uint32

func init() {
	var lens [288]uint8
	for i := range lens {
		switch {
		case i < 144:
			lens[i] = 8
		case i < 256:
			lens[i] = 9
		case i < 280:
			lens[i] = 7
		default:
			lens[i] = 8
		}
	}
	buildTable(fixedLit[:], litBits, lens[:], litEntry)
	var dl [32]uint8
	for i := range dl {
		dl[i] = 5
	}
	buildTable(fixedDist[:], distBits, dl[:], distEntry)
}
