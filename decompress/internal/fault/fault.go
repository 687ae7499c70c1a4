// Package fault is the error type of our own decoders (internal/gz,
// internal/bzip2, internal/xz, internal/zstd, internal/lzop): a failure at
// a compressed byte offset, with the structure that failed there, what
// kind of failure it is and why. Package decompress returns these errors
// inside its own Error, which prints them as they are.
//
// The kinds are sentinel errors shared by all the decoders, so that
// errors.Is(err, decompress.ErrTrailingData) holds whichever decoder
// found the trailing data. Alone, a kind prints with the prefix of
// package decompress, which exports the kinds its callers match; inside
// an Error, or a detail made by Errorf, only its text is printed, after
// the format's name.
package fault

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"
)

// A Kind is a class of failure: a sentinel error for errors.Is.
type Kind struct{ text string }

// NewKind returns a new kind of failure described by text.
func NewKind(text string) *Kind { return &Kind{text: text} }

// Error returns the kind's text with the prefix "decompress: ".
func (k *Kind) Error() string { return "decompress: " + k.text }

// The kinds of failure of our decoders.
var (
	// ErrFormat: the input does not start with a stream of the format.
	ErrFormat = NewKind("bad magic number")
	// ErrCorrupt: a structure or the compressed data is invalid, or a
	// checksum or size does not match.
	ErrCorrupt = NewKind("corrupt data")
	// ErrUnsupported: valid, but uses a feature the decoder does not
	// implement (a zstd dictionary, an lzop filter, ...).
	ErrUnsupported = NewKind("unsupported")
	// ErrMemoryLimit: the stream asks for more memory than the decoder's
	// limit allows (an xz or lzma dictionary, a zstd window).
	ErrMemoryLimit = NewKind("over the memory limit")
	// ErrTrailingData: bytes that do not start another stream of the
	// format follow the end of the last stream.
	ErrTrailingData = NewKind("trailing data after the end of the compressed stream")
	// ErrInternal: the decoder panicked, a bug of ours whatever the
	// input; a recover turned it into this error rather than a crash.
	// The fuzz tests fail on it, printing the stack (StackOf).
	ErrInternal = NewKind("internal error (a decoder bug)")
)

// An Error is a failure at a compressed byte offset. Truncation is
// reported with Kind io.ErrUnexpectedEOF.
type Error struct {
	Format string // the codec, "gzip", "bzip2", "xz", "zstd" or "lzo": the start of the message
	Offset int64  // start of the failing structure in the compressed input
	What   string // the structure: "block", "frame header", "member trailer", ...
	Kind   error  // one of the kinds above, or io.ErrUnexpectedEOF; nil for an error of the underlying reader
	Err    error  // detail, or nil
}

// Error returns one line: "xz: block at compressed byte 123: corrupt
// data: detail".
func (e *Error) Error() string {
	var parts []string
	if e.Kind != nil {
		parts = append(parts, Message(e.Kind))
	}
	if e.Err != nil {
		parts = append(parts, Message(e.Err))
	}
	return fmt.Sprintf("%s: %s at compressed byte %d: %s", e.Format, e.What, e.Offset, strings.Join(parts, ": "))
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

// Input reports an error of a decoder's input at off, in the structure
// what: the end of the input (truncation: Kind io.ErrUnexpectedEOF) or an
// error of the underlying reader.
func Input(format string, off int64, what string, err error) *Error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &Error{Format: format, Offset: off, What: what, Kind: io.ErrUnexpectedEOF}
	}
	return &Error{Format: format, Offset: off, What: what, Err: err}
}

// Message returns err's message as part of another error's: a Kind, or a
// detail made by Errorf, without the prefix of package decompress.
func Message(err error) string {
	switch e := err.(type) {
	case *Kind:
		return e.text
	case *detail:
		return e.kind.text + ": " + e.msg
	}
	return err.Error()
}

// Errorf returns an error of kind (a *Kind) with a detail formatted as by
// fmt.Errorf (which may wrap errors with %w): "decompress: kind: detail",
// or "kind: detail" inside an Error.
func Errorf(kind error, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	k, ok := kind.(*Kind)
	if !ok {
		return fmt.Errorf("%w: %w", kind, err)
	}
	return &detail{kind: k, msg: err.Error(), err: err}
}

type detail struct {
	kind *Kind
	msg  string
	err  error
}

func (d *detail) Error() string   { return d.kind.Error() + ": " + d.msg }
func (d *detail) Unwrap() []error { return []error{d.kind, d.err} }

// Size formats a number of bytes for a message: "1 GiB", "1.5 GiB",
// "384 MiB", "4097 bytes".
func Size(n uint64) string {
	for _, u := range []struct {
		name string
		size uint64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%(u.size/8) == 0 {
			return strconv.FormatFloat(float64(n)/float64(u.size), 'f', -1, 64) + " " + u.name
		}
	}
	return strconv.FormatUint(n, 10) + " bytes"
}

// Panic is the detail of an ErrInternal: the value a decoder panicked
// with, and where.
type Panic struct {
	Value any
	Stack []byte // the panicking goroutine's stack
}

func (p *Panic) Error() string { return fmt.Sprint(p.Value) }

// Recovered returns the Error for the panic r (not nil), recovered while
// decoding the structure what at off: Kind ErrInternal, the panic's
// value and stack in a *Panic. Call it in the deferred function that
// recovers, for the stack.
func Recovered(format string, off int64, what string, r any) *Error {
	return &Error{Format: format, Offset: off, What: what, Kind: ErrInternal, Err: NewPanic(r)}
}

// NewPanic returns the *Panic for r, with the current stack: call it in
// the deferred function that recovers r.
func NewPanic(r any) *Panic { return &Panic{Value: r, Stack: debug.Stack()} }

// StackOf returns the stack of the panic that err reports, if it is an
// ErrInternal, else nil.
func StackOf(err error) []byte {
	var p *Panic
	if errors.As(err, &p) {
		return p.Stack
	}
	return nil
}
