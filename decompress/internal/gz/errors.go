package gz

import (
	"errors"
	"fmt"
	"io"
	"strings"
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

// An Error is a failure in the member starting at a compressed byte
// offset. Truncation is reported with Kind io.ErrUnexpectedEOF.
type Error struct {
	Offset int64  // start of the failing member (or of the trailing data) in the compressed input
	What   string // "member header", "deflate block", "member trailer", "member", "trailing data"
	Kind   error  // ErrCorrupt, ErrUnsupported, ErrFormat, ErrTrailingData, io.ErrUnexpectedEOF; nil for an error of the underlying reader
	Err    error  // detail, or nil
}

func (e *Error) Error() string {
	var parts []string
	if e.Kind != nil {
		parts = append(parts, strings.TrimPrefix(e.Kind.Error(), "gzip: "))
	}
	if e.Err != nil {
		parts = append(parts, strings.TrimPrefix(e.Err.Error(), "gzip: "))
	}
	return fmt.Sprintf("gzip: %s at offset %d: %s", e.What, e.Offset, strings.Join(parts, ": "))
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
		return &Error{Offset: off, What: what, Kind: io.ErrUnexpectedEOF}
	case errors.As(err, &c):
		return &Error{Offset: off, What: what, Kind: ErrCorrupt, Err: err}
	case errors.As(err, &u):
		return &Error{Offset: off, What: what, Kind: ErrUnsupported, Err: err}
	case errors.As(err, &re):
		return &Error{Offset: off, What: what, Err: re.err}
	}
	return &Error{Offset: off, What: what, Err: err}
}

type unsupportedError string

func (u unsupportedError) Error() string { return string(u) }
