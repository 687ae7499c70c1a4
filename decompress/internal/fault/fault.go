// Package fault is the error type of our own decoders (internal/gz,
// internal/xz, internal/zstd): a failure at a compressed byte offset, with
// the structure that failed there, what kind of failure it is and why.
// Package decompress turns it into its own Error, which names the offset
// once.
package fault

import (
	"fmt"
	"io"
	"strings"
)

// An Error is a failure at a compressed byte offset. Truncation is
// reported with Kind io.ErrUnexpectedEOF.
type Error struct {
	Format string // the codec, "gzip", "xz" or "zstd": the prefix of the message, and of its sentinel errors
	Offset int64  // start of the failing structure in the compressed input
	What   string // the structure: "block", "frame header", "member trailer", ...
	Kind   error  // the codec's ErrCorrupt, ErrUnsupported, ErrFormat, ErrTrailingData, or io.ErrUnexpectedEOF; nil for an error of the underlying reader
	Err    error  // detail, or nil
}

// Error returns one line: "xz: block at offset 123: corrupt data: detail".
func (e *Error) Error() string {
	prefix := e.Format + ": "
	var parts []string
	if e.Kind != nil {
		parts = append(parts, strings.TrimPrefix(e.Kind.Error(), prefix))
	}
	if e.Err != nil {
		parts = append(parts, strings.TrimPrefix(e.Err.Error(), prefix))
	}
	return fmt.Sprintf("%s%s at offset %d: %s", prefix, e.What, e.Offset, strings.Join(parts, ": "))
}

// Input reports an error of a decoder's input at off, in the structure
// what: the end of the input (truncation: Kind io.ErrUnexpectedEOF) or an
// error of the underlying reader.
func Input(format string, off int64, what string, err error) *Error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &Error{Format: format, Offset: off, What: what, Kind: io.ErrUnexpectedEOF}
	}
	return &Error{Format: format, Offset: off, What: what, Err: err}
}

// Unwrap returns Kind and Err, those that are set.
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
