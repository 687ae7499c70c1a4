package zstd

import (
	"errors"
	"fmt"
	"io"
	"strings"
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

// An Error is a failure at a compressed byte offset. Truncation is
// reported with Kind io.ErrUnexpectedEOF.
type Error struct {
	Offset int64  // start of the failing structure in the compressed input
	What   string // "frame header", "skippable frame", "block", "checksum", "frame"
	Kind   error  // ErrCorrupt, ErrUnsupported, ErrFormat, ErrTrailingData, io.ErrUnexpectedEOF; nil for an error of the underlying reader
	Err    error  // detail, or nil
}

func (e *Error) Error() string {
	var parts []string
	if e.Kind != nil {
		parts = append(parts, strings.TrimPrefix(e.Kind.Error(), "zstd: "))
	}
	if e.Err != nil {
		parts = append(parts, strings.TrimPrefix(e.Err.Error(), "zstd: "))
	}
	return fmt.Sprintf("zstd: %s at offset %d: %s", e.What, e.Offset, strings.Join(parts, ": "))
}

// Place returns where the failure is and why, for a caller that names the
// offset itself: the compressed offset, what structure failed there, and
// the errors Unwrap returns.
func (e *Error) Place() (offset int64, what string, why []error) {
	return e.Offset, e.What, e.Unwrap()
}

func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// inputErr reports an error of the input layer: the end of the input
// (truncation) or an error of the underlying reader.
func inputErr(off int64, what string, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &Error{Offset: off, What: what, Kind: io.ErrUnexpectedEOF}
	}
	return &Error{Offset: off, What: what, Err: err}
}

func corrupt(off int64, what string, format string, args ...any) error {
	return &Error{Offset: off, What: what, Kind: ErrCorrupt, Err: fmt.Errorf(format, args...)}
}

// errBlock is a block decoding failure without its position; the frame
// decoder wraps it into an *Error at the block's offset.
type errBlock string

func (e errBlock) Error() string { return string(e) }

func blockErrf(format string, args ...any) error { return errBlock(fmt.Sprintf(format, args...)) }
