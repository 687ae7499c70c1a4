package zstd

import (
	"errors"
	"fmt"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
)

// Errors, wrapped in an *Error that tells where.
var (
	// ErrFormat: the input does not start with a zstd frame or a
	// skippable frame.
	ErrFormat = errors.New("zstd: not a zstd stream")
	// ErrCorrupt: a structure or a block's data is invalid, or the
	// content checksum or content size does not match.
	ErrCorrupt = errors.New("zstd: corrupt data")
	// ErrUnsupported: valid but not supported here (a dictionary, a
	// window larger than maxWindow).
	ErrUnsupported = errors.New("zstd: unsupported options")
	// ErrTrailingData: something other than a frame or a skippable frame
	// follows a frame.
	ErrTrailingData = errors.New("zstd: trailing data after the last frame")
	// ErrClosed: Read after Close.
	ErrClosed = errors.New("zstd: reader closed")
)

// An Error is a failure at a compressed byte offset (What: "frame header", "skippable frame", "block", "checksum", "frame"),
// shared with our other decoders. Truncation is reported with Kind
// io.ErrUnexpectedEOF.
type Error = fault.Error

// codec names the format in Error's messages.
const codec = "zstd"

// inputErr reports an error of the input layer: the end of the input
// (truncation) or an error of the underlying reader.
func inputErr(off int64, what string, err error) error {
	return fault.Input(codec, off, what, err)
}

func corrupt(off int64, what string, format string, args ...any) error {
	return &Error{Format: codec, Offset: off, What: what, Kind: ErrCorrupt, Err: fmt.Errorf(format, args...)}
}

// errBlock is a block decoding failure without its position; the frame
// decoder wraps it into an *Error at the block's offset.
type errBlock string

func (e errBlock) Error() string { return string(e) }

func blockErrf(format string, args ...any) error { return errBlock(fmt.Sprintf(format, args...)) }
