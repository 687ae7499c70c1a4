package xz

import (
	"bytes"
	"hash/crc64"
	"sync"
)

// CRC-64 (the check xz writes by default) of disk images: most of their
// bytes are zeros, in whole filesystem blocks, and hash/crc64 (table
// driven, about 1 GB/s) would take as long over them as decoding them
// does. A 4 KiB block of zeros is found with a memory compare and
// applied to the CRC in one step instead: appending zeros is a linear map
// of the CRC register, M^(8*4096), precomputed as eight 256-entry tables
// (one per byte of the register).

const zeroBlock = 4096

var (
	crcTable     = crc64.MakeTable(crc64.ECMA)
	zeroOnce     sync.Once
	zeroTabs     *[8][256]uint64
	zeroBlockBuf [zeroBlock]byte
)

func zeroTables() *[8][256]uint64 {
	zeroOnce.Do(func() {
		// Column i: the raw register e_i after a block of zeros.
		// crc64.Update inverts the register before and after.
		var col [64]uint64
		for i := range col {
			col[i] = ^crc64.Update(^(uint64(1) << i), crcTable, zeroBlockBuf[:])
		}
		t := new([8][256]uint64)
		for k := range t {
			for b := 1; b < 256; b++ {
				low := b & -b // lowest set bit
				j := 0
				for 1<<j != low {
					j++
				}
				t[k][b] = t[k][b&^low] ^ col[8*k+j]
			}
		}
		zeroTabs = t
	})
	return zeroTabs
}

// crc64Update is crc64.Update(crc, ECMA table, p), faster over blocks
// of zeros.
func crc64Update(crc uint64, p []byte) uint64 {
	if len(p) < zeroBlock {
		return crc64.Update(crc, crcTable, p)
	}
	t := zeroTables()
	start := 0 // of the bytes not yet added
	for i := 0; i+zeroBlock <= len(p); i += zeroBlock {
		if p[i] != 0 || !bytes.Equal(p[i:i+zeroBlock], zeroBlockBuf[:]) {
			continue
		}
		crc = crc64.Update(crc, crcTable, p[start:i])
		s := ^crc
		s = t[0][byte(s)] ^ t[1][byte(s>>8)] ^ t[2][byte(s>>16)] ^ t[3][byte(s>>24)] ^
			t[4][byte(s>>32)] ^ t[5][byte(s>>40)] ^ t[6][byte(s>>48)] ^ t[7][byte(s>>56)]
		crc = ^s
		start = i + zeroBlock
	}
	return crc64.Update(crc, crcTable, p[start:])
}

// crc64Hash is a hash.Hash64 over crc64Update.
type crc64Hash struct{ crc uint64 }

func (h *crc64Hash) Write(p []byte) (int, error) {
	h.crc = crc64Update(h.crc, p)
	return len(p), nil
}

func (h *crc64Hash) Sum64() uint64 { return h.crc }
func (h *crc64Hash) Reset()        { h.crc = 0 }
func (h *crc64Hash) Size() int     { return 8 }
func (h *crc64Hash) BlockSize() int {
	return 1
}

func (h *crc64Hash) Sum(b []byte) []byte {
	s := h.crc
	return append(b, byte(s>>56), byte(s>>48), byte(s>>40), byte(s>>32), byte(s>>24), byte(s>>16), byte(s>>8), byte(s))
}
