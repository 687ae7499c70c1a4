package gz

import (
	"errors"
	"io"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
)

// Errors are *fault.Error values. What names the structure: "member
// header", "deflate block", "member trailer", "member" or "trailing data".

// codec names the format in Error's messages.
const codec = "gzip"

// errTruncated is the detail-free marker the decoder uses for the end of
// the input; memberErr turns it into Kind io.ErrUnexpectedEOF.
var errTruncated = io.ErrUnexpectedEOF

// A corruptError is a detail of fault.ErrCorrupt raised by the decoder.
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
	var e *fault.Error
	if errors.As(err, &e) {
		return err
	}
	var c corruptError
	var re readError
	var u unsupportedError
	switch {
	case err == errTruncated:
		return &fault.Error{Format: codec, Offset: off, What: what, Kind: io.ErrUnexpectedEOF}
	case errors.As(err, &c):
		return &fault.Error{Format: codec, Offset: off, What: what, Kind: fault.ErrCorrupt, Err: err}
	case errors.As(err, &u):
		return &fault.Error{Format: codec, Offset: off, What: what, Kind: fault.ErrUnsupported, Err: err}
	case errors.As(err, &re):
		return &fault.Error{Format: codec, Offset: off, What: what, Err: re.err}
	}
	return &fault.Error{Format: codec, Offset: off, What: what, Err: err}
}

type unsupportedError string

func (u unsupportedError) Error() string { return string(u) }
