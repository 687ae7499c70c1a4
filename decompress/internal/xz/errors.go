package xz

import (
	"errors"
	"fmt"
	"io"
	"strings"

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

// An Error is a failure at a compressed byte offset. Truncation is
// reported with Kind io.ErrUnexpectedEOF.
type Error struct {
	Offset int64  // start of the failing structure in the compressed input
	What   string // "stream header", "block", "index", "stream footer", "stream padding"
	Kind   error  // ErrCorrupt, ErrUnsupported, ErrFormat, ErrTrailingData, io.ErrUnexpectedEOF; nil for an error of the underlying reader
	Err    error  // detail, or nil
}

func (e *Error) Error() string {
	var parts []string
	if e.Kind != nil {
		parts = append(parts, strings.TrimPrefix(e.Kind.Error(), "xz: "))
	}
	if e.Err != nil {
		parts = append(parts, strings.TrimPrefix(e.Err.Error(), "xz: "))
	}
	return fmt.Sprintf("xz: %s at offset %d: %s", e.What, e.Offset, strings.Join(parts, ": "))
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
	return &Error{Offset: off, What: "block", Kind: kind, Err: err}
}
