package simg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Sizes and magic of format 1.0 (AOSP libsparse, sparse_format.h). All
// fields are little-endian.
const (
	// Magic is the first four bytes of a sparse image, read as a
	// little-endian uint32 (the bytes 3a ff 26 ed).
	Magic = 0xED26FF3A
	// HeaderSize is the size of the file header this package writes; a
	// reader accepts a longer one and skips what it does not know.
	HeaderSize = 28
	// ChunkHeaderSize is the size of a chunk header this package writes;
	// a reader accepts longer ones as the file header declares them.
	ChunkHeaderSize = 12
	// MajorVersion is the only major version there is. Readers accept any
	// minor version, as libsparse does.
	MajorVersion = 1
)

// A ChunkType says what a chunk holds.
type ChunkType uint16

// The chunk types of format 1.0.
const (
	// Raw chunks carry their blocks' bytes.
	Raw ChunkType = 0xCAC1
	// Fill chunks carry 4 bytes that repeat over all their blocks.
	Fill ChunkType = 0xCAC2
	// DontCare chunks carry nothing: their blocks are holes, whose content
	// does not matter (they read as zeros here).
	DontCare ChunkType = 0xCAC3
	// CRC32 chunks cover no blocks and carry the CRC-32 (IEEE) of the
	// image up to them, holes counted as zeros.
	CRC32 ChunkType = 0xCAC4
)

func (t ChunkType) String() string {
	switch t {
	case Raw:
		return "RAW"
	case Fill:
		return "FILL"
	case DontCare:
		return "DONT_CARE"
	case CRC32:
		return "CRC32"
	}
	return fmt.Sprintf("0x%04X", uint16(t))
}

// Header is the file header of a sparse image.
type Header struct {
	MajorVersion, MinorVersion uint16
	// FileHeaderSize and ChunkHeaderSize are the sizes of the file header
	// and of every chunk header in bytes: 28 and 12, or more.
	FileHeaderSize, ChunkHeaderSize uint16
	// BlockSize is the size of an image block in bytes, a multiple of 4.
	BlockSize uint32
	// Blocks is the number of blocks of the image, Chunks the number of
	// chunks that follow the header.
	Blocks, Chunks uint32
	// ImageChecksum is meant to be the CRC-32 of the image; libsparse
	// writes 0 and no reader checks it, nor does this package.
	ImageChecksum uint32
}

// ImageSize returns the size of the image in bytes: Blocks × BlockSize.
func (h Header) ImageSize() int64 { return int64(h.Blocks) * int64(h.BlockSize) }

func (h Header) marshal() []byte {
	b := make([]byte, HeaderSize)
	binary.LittleEndian.PutUint32(b[0:], Magic)
	binary.LittleEndian.PutUint16(b[4:], h.MajorVersion)
	binary.LittleEndian.PutUint16(b[6:], h.MinorVersion)
	binary.LittleEndian.PutUint16(b[8:], h.FileHeaderSize)
	binary.LittleEndian.PutUint16(b[10:], h.ChunkHeaderSize)
	binary.LittleEndian.PutUint32(b[12:], h.BlockSize)
	binary.LittleEndian.PutUint32(b[16:], h.Blocks)
	binary.LittleEndian.PutUint32(b[20:], h.Chunks)
	binary.LittleEndian.PutUint32(b[24:], h.ImageChecksum)
	return b
}

// IsSparse reports whether head, the first bytes of a stream, starts with
// the magic of a sparse image.
func IsSparse(head []byte) bool {
	return len(head) >= 4 && binary.LittleEndian.Uint32(head) == Magic
}

// parseHeader checks the fixed part of a file header.
func parseHeader(b []byte) (Header, error) {
	bad := func(format string, a ...any) (Header, error) {
		return Header{}, &FormatError{Chunk: -1, Msg: "header: " + fmt.Sprintf(format, a...)}
	}
	if m := binary.LittleEndian.Uint32(b); m != Magic {
		return Header{}, &FormatError{Chunk: -1, Msg: fmt.Sprintf("header: magic %08x, want %08x", m, uint32(Magic)), Err: ErrNotSparse}
	}
	h := Header{
		MajorVersion:    binary.LittleEndian.Uint16(b[4:]),
		MinorVersion:    binary.LittleEndian.Uint16(b[6:]),
		FileHeaderSize:  binary.LittleEndian.Uint16(b[8:]),
		ChunkHeaderSize: binary.LittleEndian.Uint16(b[10:]),
		BlockSize:       binary.LittleEndian.Uint32(b[12:]),
		Blocks:          binary.LittleEndian.Uint32(b[16:]),
		Chunks:          binary.LittleEndian.Uint32(b[20:]),
		ImageChecksum:   binary.LittleEndian.Uint32(b[24:]),
	}
	switch {
	case h.MajorVersion != MajorVersion:
		return bad("format version %d.%d, want major version %d", h.MajorVersion, h.MinorVersion, MajorVersion)
	case h.FileHeaderSize < HeaderSize:
		return bad("file header size %d, want at least %d", h.FileHeaderSize, HeaderSize)
	case h.ChunkHeaderSize < ChunkHeaderSize:
		return bad("chunk header size %d, want at least %d", h.ChunkHeaderSize, ChunkHeaderSize)
	case h.BlockSize == 0 || h.BlockSize%4 != 0:
		return bad("block size %d, want a positive multiple of 4", h.BlockSize)
	case h.Blocks == 0:
		return bad("the image has 0 blocks")
	case int64(h.Blocks) > math.MaxInt64/int64(h.BlockSize):
		return bad("%d blocks of %d bytes overflow a 64-bit size", h.Blocks, h.BlockSize)
	}
	return h, nil
}

// ErrNotSparse is returned (wrapped in a *FormatError) for a stream that
// does not start with the sparse image magic.
var ErrNotSparse = errors.New("not an Android sparse image")

// ErrCRC is returned (wrapped in a *FormatError) when a CRC32 chunk does
// not match the image before it.
var ErrCRC = errors.New("CRC32 mismatch")

// A FormatError reports a malformed, truncated or damaged sparse image.
type FormatError struct {
	// Chunk is the index of the offending chunk (0 for the first), or -1
	// when the error is about the file header or the file as a whole.
	Chunk int
	// Offset is the byte offset in the sparse file (after decompression)
	// of the chunk's header, or where the problem was found.
	Offset int64
	// Msg says what was found and what was expected.
	Msg string
	// Err is io.ErrUnexpectedEOF for a truncated file, ErrCRC, ErrNotSparse,
	// or nil.
	Err error
}

func (e *FormatError) Error() string {
	var s string
	if e.Chunk >= 0 {
		s = fmt.Sprintf("android sparse image: chunk %d at byte %d: %s", e.Chunk, e.Offset, e.Msg)
	} else {
		s = fmt.Sprintf("android sparse image: at byte %d: %s", e.Offset, e.Msg)
	}
	if e.Err != nil {
		s += " (" + e.Err.Error() + ")"
	}
	return s
}

func (e *FormatError) Unwrap() error { return e.Err }
