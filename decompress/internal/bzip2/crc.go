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
