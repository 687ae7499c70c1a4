package zstd

import (
	"errors"
	"fmt"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
)

// ErrClosed is returned by Read after Close.
var ErrClosed = errors.New("zstd: read after Close")

// Errors are *fault.Error values. What names the structure: "frame
// header", "skippable frame", "block", "checksum" or "frame".

// codec names the format in Error's messages.
const codec = "zstd"

// inputErr reports an error of the input layer: the end of the input
// (truncation) or an error of the underlying reader.
func inputErr(off int64, what string, err error) error {
	return fault.Input(codec, off, what, err)
}

func corrupt(off int64, what string, format string, args ...any) error {
	return &fault.Error{Format: codec, Offset: off, What: what, Kind: fault.ErrCorrupt, Err: fmt.Errorf(format, args...)}
}

// errBlock is a block decoding failure without its position; the frame
// decoder wraps it into an *fault.Error at the block's offset.
type errBlock string

func (e errBlock) Error() string { return string(e) }

func blockErrf(format string, args ...any) error { return errBlock(fmt.Sprintf(format, args...)) }
