package xz

import (
	"io"
	"sync/atomic"
)

// input is a buffered reader over the compressed stream that counts the
// bytes consumed (not merely buffered) by the parser.
type input struct {
	r        io.Reader
	buf      []byte
	pos, end int
	err      error // sticky error of r, io.EOF included
	off      atomic.Int64
}

func newInput(r io.Reader, size int) *input {
	return &input{r: r, buf: make([]byte, size)}
}

// offset returns the number of bytes consumed.
func (in *input) offset() int64 { return in.off.Load() }

// more reads at least one more byte into the buffer, or returns the error
// of r (io.EOF at the end).
func (in *input) more() error {
	if in.err != nil {
		return in.err
	}
	if in.pos == in.end {
		in.pos, in.end = 0, 0
	} else if in.end == len(in.buf) {
		in.end = copy(in.buf, in.buf[in.pos:in.end])
		in.pos = 0
	}
	for range 100 {
		n, err := in.r.Read(in.buf[in.end:])
		in.end += n
		if err != nil {
			in.err = err
		}
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	in.err = io.ErrNoProgress
	return in.err
}

// peek returns the next n bytes (n <= len(buf)) without consuming them;
// fewer, with the error, at the end of the input.
func (in *input) peek(n int) ([]byte, error) {
	for in.end-in.pos < n {
		if err := in.more(); err != nil {
			return in.buf[in.pos:in.end], err
		}
	}
	return in.buf[in.pos : in.pos+n], nil
}

func (in *input) discard(n int) {
	in.pos += n
	in.off.Add(int64(n))
}

// readByte consumes one byte; io.EOF at the end.
func (in *input) readByte() (byte, error) {
	if in.pos == in.end {
		if err := in.more(); err != nil {
			return 0, err
		}
	}
	b := in.buf[in.pos]
	in.discard(1)
	return b, nil
}

// readFull fills p; io.ErrUnexpectedEOF if the input ends first.
func (in *input) readFull(p []byte) error {
	for len(p) > 0 {
		n, err := in.read(p)
		p = p[n:]
		if err != nil {
			if err == io.EOF && len(p) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// read reads up to len(p) bytes: what is buffered, or for large reads
// with an empty buffer, directly from r. It returns (0, err) only.
func (in *input) read(p []byte) (int, error) {
	if in.pos == in.end {
		if len(p) >= len(in.buf)/2 && in.err == nil {
			for range 100 {
				n, err := in.r.Read(p)
				in.off.Add(int64(n))
				if err != nil {
					in.err = err
				}
				if n > 0 {
					return n, nil
				}
				if err != nil {
					return 0, err
				}
			}
			in.err = io.ErrNoProgress
			return 0, in.err
		}
		if err := in.more(); err != nil {
			return 0, err
		}
	}
	n := copy(p, in.buf[in.pos:in.end])
	in.discard(n)
	return n, nil
}
