package gz

import (
	"errors"
	"io"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
)

// Errors, wrapped in an *Error that tells where.
var (
	// ErrFormat: the input does not start with a gzip member header.
	ErrFormat = errors.New("gzip: not a gzip stream")
	// ErrCorrupt: a header, the DEFLATE data or a trailer is invalid.
	ErrCorrupt = errors.New("gzip: corrupt data")
	// ErrUnsupported: a compression method other than DEFLATE.
	ErrUnsupported = errors.New("gzip: unsupported options")
	// ErrTrailingData: something other than another member follows a
	// member.
	ErrTrailingData = errors.New("gzip: trailing data after the last member")
)

// An Error is a failure at a compressed byte offset (What: "member header", "deflate block", "member trailer", "member", "trailing data"),
// shared with our other decoders. Truncation is reported with Kind
// io.ErrUnexpectedEOF.
type Error = fault.Error

// codec names the format in Error's messages.
const codec = "gzip"

// errTruncated is the detail-free marker the decoder uses for the end of
// the input; memberErr turns it into Kind io.ErrUnexpectedEOF.
var errTruncated = io.ErrUnexpectedEOF

// A corruptError is a detail of ErrCorrupt raised by the decoder.
type corruptError string

func (c corruptError) Error() string { return string(c) }

// readError wraps an error of the underlying reader.
type readError struct{ err error }

func (r readError) Error() string { return r.err.Error() }
func (r readError) Unwrap() error { return r.err }

// memberErr places a decoder error at the structure (what) starting at off.
func memberErr(off int64, what string, err error) error {
	if err == errClosed {
		return err
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	var c corruptError
	var re readError
	var u unsupportedError
	switch {
	case err == errTruncated:
		return &Error{Format: codec, Offset: off, What: what, Kind: io.ErrUnexpectedEOF}
	case errors.As(err, &c):
		return &Error{Format: codec, Offset: off, What: what, Kind: ErrCorrupt, Err: err}
	case errors.As(err, &u):
		return &Error{Format: codec, Offset: off, What: what, Kind: ErrUnsupported, Err: err}
	case errors.As(err, &re):
		return &Error{Format: codec, Offset: off, What: what, Err: re.err}
	}
	return &Error{Format: codec, Offset: off, What: what, Err: err}
}

type unsupportedError string

func (u unsupportedError) Error() string { return string(u) }
