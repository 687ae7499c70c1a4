package xz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// The .xz container format (xz-file-format-1.2.0.txt), the parts this
// package parses itself.

const (
	headerMagic = "\xfd7zXZ\x00"
	footerMagic = "YZ"
	streamHdrSz = 12
	footerSz    = 12
	maxVLI      = 9 // bytes of a variable-length integer
	// trailerMax bounds what appendTrailer adds: a one-record index
	// (indicator, count, two VLIs, padding, CRC32) and a footer.
	trailerMax = 1 + 1 + 2*maxVLI + 3 + 4 + footerSz

	checkNone   = 0x00
	checkCRC32  = 0x01
	checkCRC64  = 0x04
	checkSHA256 = 0x0a
)

// checkSize is the size of each check type's field.
var checkSize = [16]int{0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64}

func checkSupported(c byte) bool {
	return c == checkNone || c == checkCRC32 || c == checkCRC64 || c == checkSHA256
}

var errVLI = errors.New("bad variable-length integer")

// getVLI decodes a variable-length integer from b: value and length.
func getVLI(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b) && i < maxVLI; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			if b[i] == 0 && i > 0 {
				return 0, 0, errVLI // not minimal
			}
			return v, i + 1, nil
		}
	}
	return 0, 0, errVLI
}

func appendVLI(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// putStreamHeader writes a stream header with check type c to b[:12].
func putStreamHeader(b []byte, c byte) {
	copy(b, headerMagic)
	b[6], b[7] = 0, c
	binary.LittleEndian.PutUint32(b[8:], crc32.ChecksumIEEE(b[6:8]))
}

// appendTrailer appends to a one-block stream its index, with the one
// record (unpadded, uncompressed), and its footer.
func appendTrailer(b []byte, c byte, unpadded, uncompressed uint64) []byte {
	start := len(b)
	b = append(b, 0, 1)
	b = appendVLI(b, unpadded)
	b = appendVLI(b, uncompressed)
	for (len(b)-start)%4 != 0 {
		b = append(b, 0)
	}
	b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
	var f [footerSz]byte
	binary.LittleEndian.PutUint32(f[4:], uint32((len(b)-start)/4-1))
	f[8], f[9] = 0, c
	binary.LittleEndian.PutUint32(f[0:], crc32.ChecksumIEEE(f[4:10]))
	copy(f[10:], footerMagic)
	return append(b, f[:]...)
}

// blockHeader is what this package needs of a block header.
type blockHeader struct {
	size         int    // of the header, 8 to 1024
	compressed   uint64 // 0: absent (present values are > 0)
	uncompressed uint64
	hasUncomp    bool
	lzma2Only    bool // the filter chain is LZMA2 alone, header padding zero
	hasDict      bool // the last filter is LZMA2, with the dictionary size byte dictProps at header[dictAt]
	dictProps    byte // LZMA2's dictionary size byte (<= 40 if lzma2Only)
	dictAt       int
}

var (
	errHeaderCRC   = errors.New("block header CRC32 mismatch")
	errHeaderFlags = errors.New("unsupported block flags")
	errHeaderSize  = errors.New("bad size field in block header")
)

// lzma2ID is the filter ID of LZMA2, the last filter of every chain.
const lzma2ID = 0x21

// parseBlockHeader parses a whole block header, CRC32 included.
func parseBlockHeader(h []byte) (blockHeader, error) {
	bh := blockHeader{size: len(h)}
	n := len(h) - 4
	if crc32.ChecksumIEEE(h[:n]) != binary.LittleEndian.Uint32(h[n:]) {
		return bh, errHeaderCRC
	}
	flags := h[1]
	if flags&0x3c != 0 {
		return bh, errHeaderFlags
	}
	p := 2
	if flags&0x40 != 0 {
		v, k, err := getVLI(h[p:n])
		if err != nil || v == 0 || v >= 1<<63-8 {
			return bh, errHeaderSize
		}
		bh.compressed, p = v, p+k
	}
	if flags&0x80 != 0 {
		v, k, err := getVLI(h[p:n])
		if err != nil {
			return bh, errHeaderSize
		}
		bh.uncompressed, bh.hasUncomp, p = v, true, p+k
	}
	// The filter flags are recognized here for the one chain our decoder
	// takes: LZMA2 (ID 0x21, one byte of properties, the dictionary
	// size) alone. Anything else is checked by therootcompany/xz, which
	// gets the header as it is.
	if f := h[p:n]; flags&3 == 0 && len(f) >= 3 && f[0] == lzma2ID && f[1] == 1 && f[2] <= 40 && allZero(f[3:]) {
		bh.lzma2Only = true
	}
	// Of other chains, only where the dictionary size is: the memory a
	// decoder of the block reserves.
	for i, q := 0, p; i <= int(flags&3); i++ {
		id, k, err := getVLI(h[q:n])
		if err != nil {
			break
		}
		q += k
		size, k, err := getVLI(h[q:n])
		if err != nil || size > uint64(n-q-k) {
			break
		}
		q += k
		if i == int(flags&3) && id == lzma2ID && size == 1 {
			bh.hasDict, bh.dictProps, bh.dictAt = true, h[q], q
		}
		q += int(size)
	}
	return bh, nil
}

// withDict returns the block header h with its LZMA2 dictionary size byte
// set to props, and its CRC32 recomputed.
func withDict(h []byte, bh blockHeader, props byte) []byte {
	h = bytes.Clone(h)
	h[bh.dictAt] = props
	n := len(h) - 4
	binary.LittleEndian.PutUint32(h[n:], crc32.ChecksumIEEE(h[:n]))
	return h
}

// An LZMA2 chunk header: the control byte tells its length and what
// follows. The last filter of every xz block is LZMA2, so a block's
// compressed data can be delimited by walking its chunk headers, without
// decoding.
//
//	0x00                end of the LZMA2 data
//	0x01, 0x02          uncompressed chunk: size-1 (2 bytes BE), data
//	0x80-0xff           LZMA chunk: control bits 0-4 and 2 bytes BE are
//	                    uncompressed size-1, 2 bytes BE compressed size-1,
//	                    a properties byte if control >= 0xc0, data
var errChunk = errors.New("bad LZMA2 chunk header")

// chunkHeaderLen returns the header length implied by a control byte.
func chunkHeaderLen(c byte) (int, error) {
	switch {
	case c == 0:
		return 1, nil
	case c == 1 || c == 2:
		return 3, nil
	case c >= 0xc0:
		return 6, nil
	case c >= 0x80:
		return 5, nil
	}
	return 0, errChunk
}

// chunkSizes returns the compressed data length following a whole chunk
// header and the chunk's uncompressed size.
func chunkSizes(h []byte) (data, uncompressed int64) {
	switch c := h[0]; {
	case c == 0:
		return 0, 0
	case c == 1 || c == 2:
		n := int64(binary.BigEndian.Uint16(h[1:])) + 1
		return n, n
	default:
		u := int64(c&0x1f)<<16 + int64(binary.BigEndian.Uint16(h[1:])) + 1
		return int64(binary.BigEndian.Uint16(h[3:])) + 1, u
	}
}
