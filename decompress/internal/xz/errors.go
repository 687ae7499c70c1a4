package xz

import (
	"errors"
	"fmt"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
	xzdec "github.com/therootcompany/xz"
)

// Errors, wrapped in an *Error that tells where.
var (
	// ErrFormat: the input does not start with an xz stream header.
	ErrFormat = errors.New("xz: not an xz stream")
	// ErrCorrupt: a structure or a block's data is invalid.
	ErrCorrupt = errors.New("xz: corrupt data")
	// ErrUnsupported: valid but not supported here (an unknown check
	// type or filter, a dictionary larger than maxDict).
	ErrUnsupported = errors.New("xz: unsupported options")
	// ErrTrailingData: something other than stream padding or another
	// stream follows a stream.
	ErrTrailingData = errors.New("xz: trailing data after the last stream")
)

// An Error is a failure at a compressed byte offset (What: "stream header", "block", "index", "stream footer", "stream padding"),
// shared with our other decoders. Truncation is reported with Kind
// io.ErrUnexpectedEOF.
type Error = fault.Error

// codec names the format in Error's messages.
const codec = "xz"

// inputErr reports an error of the input layer: the end of the input
// (truncation) or an error of the underlying reader.
func inputErr(off int64, what string, err error) error {
	return fault.Input(codec, off, what, err)
}

func corrupt(off int64, what string, format string, args ...any) error {
	return &Error{Format: codec, Offset: off, What: what, Kind: ErrCorrupt, Err: fmt.Errorf(format, args...)}
}

// decodeErr reports an error of the block decoder.
func decodeErr(off int64, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err // from our input layer, via the sequential decoder
	}
	kind := ErrCorrupt
	switch err {
	case xzdec.ErrMemlimit, xzdec.ErrOptions, xzdec.ErrUnsupportedCheck:
		kind = ErrUnsupported
	}
	return &Error{Format: codec, Offset: off, What: "block", Kind: kind, Err: err}
}
