package bzip2

import "encoding/binary"

// bzip2's CRC-32 is the MSB-first CRC with polynomial 0x04c11db7 (the
// bit-reversed twin of the IEEE CRC of hash/crc32), initial value and final
// xor ^0. crcTab[k][b] is the CRC register after byte b followed by k zero
// bytes, starting from 0: it lets crcUpdate fold 8 bytes per step
// ("slicing by 8").
var crcTab = func() (t [8][256]uint32) {
	for b := range 256 {
		c := uint32(b) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04c11db7
			} else {
				c <<= 1
			}
		}
		t[0][b] = c
	}
	for k := 1; k < 8; k++ {
		for b := range 256 {
			c := t[k-1][b]
			t[k][b] = c<<8 ^ t[0][c>>24]
		}
	}
	return t
}()

// crcUpdate adds p to the CRC register c (not inverted: start with ^0 and
// invert at the end).
func crcUpdate(c uint32, p []byte) uint32 {
	for len(p) >= 8 {
		v := c ^ binary.BigEndian.Uint32(p)
		c = crcTab[7][v>>24] ^ crcTab[6][v>>16&0xff] ^ crcTab[5][v>>8&0xff] ^ crcTab[4][v&0xff] ^
			crcTab[3][p[4]] ^ crcTab[2][p[5]] ^ crcTab[1][p[6]] ^ crcTab[0][p[7]]
		p = p[8:]
	}
	for _, b := range p {
		c = c<<8 ^ crcTab[0][byte(c>>24)^b]
	}
	return c
}

// The CRC register is linear in the register and the data, so running it
// over 255 copies of byte b (the longest run the initial run-length stage
// spells, most of the output of zeros) is a fixed linear map of the
// register, done with 4 table lookups like a slicing step, plus the
// register that the run alone leaves: run255.
var run255 = func() (t struct {
	a [4][256]uint32 // the register advanced over 255 zero bytes, by byte lane
	r [256]uint32    // the register after 255 copies of b, from 0
}) {
	adv := func(c uint32) uint32 {
		for range 255 {
			c = c<<8 ^ crcTab[0][c>>24]
		}
		return c
	}
	var basis [32]uint32
	for i := range basis {
		basis[i] = adv(1 << i)
	}
	for lane := range 4 {
		for v := range 256 {
			var c uint32
			for bit := range 8 {
				if v>>bit&1 != 0 {
					c ^= basis[8*(3-lane)+bit]
				}
			}
			t.a[lane][v] = c
		}
	}
	var rb [8]uint32
	for bit := range rb {
		c := uint32(0)
		for range 255 {
			c = c<<8 ^ crcTab[0][byte(c>>24)^1<<bit]
		}
		rb[bit] = c
	}
	for v := range 256 {
		for bit := range 8 {
			if v>>bit&1 != 0 {
				t.r[v] ^= rb[bit]
			}
		}
	}
	return t
}()

// crcRun255 runs the CRC register c over 255 copies of b.
func crcRun255(c uint32, b byte) uint32 {
	return run255.a[0][c>>24] ^ run255.a[1][c>>16&0xff] ^ run255.a[2][c>>8&0xff] ^ run255.a[3][c&0xff] ^ run255.r[b]
}
