package simg

import "hash/crc32"

// The CRC-32 of CRC32 chunks is the IEEE one (hash/crc32's ChecksumIEEE)
// of the whole image up to the chunk, holes counted as zeros. Holes and
// FILL chunks can span gigabytes, so their contribution is computed in
// O(log n) with arithmetic on polynomials modulo the CRC polynomial
// instead of hashing their bytes: appending n bytes to a message whose
// CRC register holds r leaves r·x^(8n) plus the CRC of the appended bytes
// alone (the "combine" identity zlib's crc32_combine rests on).

// ieeePoly is the IEEE polynomial, bit-reversed as hash/crc32 uses it:
// bit 31 is the coefficient of x^0, bit 0 that of x^31.
const ieeePoly = 0xEDB88320

// mulModP returns a·b modulo the CRC polynomial, both in the reversed
// bit order of ieeePoly.
func mulModP(a, b uint32) uint32 {
	var p uint32
	for m := uint32(1) << 31; m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
		}
		// b = b·x mod P
		if b&1 != 0 {
			b = b>>1 ^ ieeePoly
		} else {
			b >>= 1
		}
	}
	return p
}

// xPow8n returns x^(8n) modulo the CRC polynomial: what appending n bytes
// multiplies a CRC register by.
func xPow8n(n int64) uint32 {
	p := uint32(1) << 31 // x^0
	sq := uint32(1) << (31 - 8)
	for ; n > 0; n >>= 1 {
		if n&1 != 0 {
			p = mulModP(sq, p)
		}
		sq = mulModP(sq, sq)
	}
	return p
}

// crcRepeat returns the CRC-32 of the bytes whose CRC-32 is crc followed
// by n bytes of pat repeated (pat[0], pat[1], pat[2], pat[3], pat[0], ...).
func crcRepeat(crc uint32, pat [4]byte, n int64) uint32 {
	unit := crcSmall(0, pat[:]) // CRC-32 of one run of the pattern alone
	shift := xPow8n(4)          // and what appending that run multiplies by
	for whole := n / 4; whole > 0; whole >>= 1 {
		if whole&1 != 0 {
			crc = mulModP(shift, crc) ^ unit
		}
		unit = mulModP(shift, unit) ^ unit // the run doubled
		shift = mulModP(shift, shift)
	}
	return crcSmall(crc, pat[:n%4])
}

// crcSmall is crc32.Update for a few bytes, which it does not let escape
// to the heap as crc32.Update does.
func crcSmall(crc uint32, p []byte) uint32 {
	crc = ^crc
	for _, b := range p {
		crc = crc32.IEEETable[byte(crc)^b] ^ crc>>8
	}
	return ^crc
}

// rotate returns pat started at its byte phase (0-3).
func rotate(pat [4]byte, phase int64) [4]byte {
	var q [4]byte
	for i := range q {
		q[i] = pat[(int64(i)+phase)%4]
	}
	return q
}

// fillPattern fills p with pat repeated, starting at its byte phase.
func fillPattern(p []byte, pat [4]byte, phase int64) {
	if pat == ([4]byte{}) {
		clear(p)
		return
	}
	q := rotate(pat, phase)
	n := copy(p, q[:])
	for n < len(p) {
		n += copy(p[n:], p[:n])
	}
}
