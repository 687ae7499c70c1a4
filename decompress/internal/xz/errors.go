package xz

import (
	"errors"
	"fmt"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
	xzdec "github.com/therootcompany/xz"
)

// Errors are *fault.Error values. What names the structure: "stream
// header", "block", "index", "stream footer" or "stream padding".

// codec names the format in Error's messages.
const codec = "xz"

// inputErr reports an error of the input layer: the end of the input
// (truncation) or an error of the underlying reader.
func inputErr(off int64, what string, err error) error {
	return fault.Input(codec, off, what, err)
}

func corrupt(off int64, what string, format string, args ...any) error {
	return &fault.Error{Format: codec, Offset: off, What: what, Kind: fault.ErrCorrupt, Err: fmt.Errorf(format, args...)}
}

// decodeErr reports an error of the block decoder.
func decodeErr(off int64, err error) error {
	var e *fault.Error
	if errors.As(err, &e) {
		return err // from our input layer, via the sequential decoder
	}
	kind := fault.ErrCorrupt
	switch err {
	case xzdec.ErrOptions, xzdec.ErrUnsupportedCheck:
		kind = fault.ErrUnsupported
	case xzdec.ErrMemlimit:
		kind = fault.ErrMemoryLimit
	}
	return &fault.Error{Format: codec, Offset: off, What: "block", Kind: kind, Err: err}
}
