package zstd

import "io"

// input buffers the compressed stream and counts the bytes consumed. A
// slice returned by need stays valid until the next call of need.
//
// A goroutine (fetch) reads the underlying reader ahead, into pieces
// passed over a channel, so that the system calls and their copying run
// beside the decoder rather than on its goroutine.
type input struct {
	r          io.Reader
	buf        []byte
	start, end int   // unconsumed bytes: buf[start:end]
	off        int64 // compressed offset of buf[start]
	err        error // sticky error of r

	started bool
	done    <-chan struct{}
	full    chan piece  // pieces read
	free    chan []byte // pieces to read into
	cur     piece       // the rest of the piece being copied into buf
	curBuf  []byte      // the piece's buffer
}

// A piece is a read of the underlying reader: data, then err if not nil.
type piece struct {
	data []byte
	err  error
}

const (
	// inBufSize holds the largest structure read whole (a block of 128
	// KiB plus its header) with room to read ahead.
	inBufSize = 512 << 10
	pieceSize = 256 << 10
	pieces    = 4
)

func newInput(r io.Reader, done <-chan struct{}) *input {
	return &input{r: r, buf: make([]byte, inBufSize), done: done}
}

// fetch reads pieces until an error or the end of the input, or until
// the Reader is closed.
func (in *input) fetch() {
	for {
		var b []byte
		select {
		case b = <-in.free:
		case <-in.done:
			return
		}
		n, err := in.r.Read(b)
		if n < 0 || n > len(b) {
			n, err = 0, io.ErrShortBuffer
		}
		select {
		case in.full <- piece{b[:n], err}:
		case <-in.done:
			return
		}
		if err != nil {
			return
		}
	}
}

// fill adds input to buf[end:]; false when there is no more (in.err set).
func (in *input) fill() bool {
	if !in.started {
		in.started = true
		in.full = make(chan piece, pieces)
		in.free = make(chan []byte, pieces)
		for range pieces {
			in.free <- make([]byte, pieceSize)
		}
		go in.fetch()
	}
	for len(in.cur.data) == 0 {
		if in.cur.err != nil {
			in.err = in.cur.err
			return false
		}
		if in.curBuf != nil {
			in.free <- in.curBuf
			in.curBuf = nil
		}
		select {
		case in.cur = <-in.full:
			in.curBuf = in.cur.data[:cap(in.cur.data)]
		case <-in.done:
			in.err = ErrClosed
			return false
		}
	}
	n := copy(in.buf[in.end:], in.cur.data)
	in.end += n
	in.cur.data = in.cur.data[n:]
	return true
}

// need returns the next n bytes (n <= inBufSize) without consuming them.
// Short of n bytes it returns what there is and the error that ended the
// input (io.EOF at its end).
func (in *input) need(n int) ([]byte, error) {
	for in.end-in.start < n {
		if in.err != nil {
			return in.buf[in.start:in.end], in.err
		}
		if in.start+n > len(in.buf) || in.end == len(in.buf) {
			in.end = copy(in.buf, in.buf[in.start:in.end])
			in.start = 0
		}
		in.fill()
	}
	return in.buf[in.start : in.start+n], nil
}

// skip consumes n bytes, which need has returned.
func (in *input) skip(n int) {
	in.start += n
	in.off += int64(n)
}

// discard consumes n bytes, reading them as needed. It returns the error
// that ended the input early.
func (in *input) discard(n int64) error {
	for n > 0 {
		k := int(min(n, inBufSize))
		b, err := in.need(k)
		if len(b) < k {
			in.skip(len(b))
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		in.skip(k)
		n -= int64(k)
	}
	return nil
}
