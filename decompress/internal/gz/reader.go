package gz

import (
	"io"
	"sync"
	"sync/atomic"
)

// Buffering of the decoder.
const (
	seqBufs   = 4       // output buffers
	seqChunk  = 1 << 20 // new output per buffer
	inputSize = 1 << 20 // compressed input buffer
)

// A Reader decodes a gzip file (one member or several, concatenated).
type Reader struct {
	ch    chan chunk
	done  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
	cur   chunk
	off   int
	err   error
	inOff atomic.Int64
}

// NewReader returns a Reader decoding r: one goroutine decodes while the
// caller reads (decoding is sequential; see the package doc). Errors are
// returned by Read.
func NewReader(r io.Reader) *Reader {
	z := &Reader{ch: make(chan chunk, seqBufs), done: make(chan struct{})}
	s := newSeqDecoder(z.ch, z.done, seqBufs, seqChunk)
	z.wg.Add(1)
	go func() {
		defer z.wg.Done()
		s.run(r)
	}()
	return z
}

// Read reads decoded bytes. At the end of the last member it returns
// io.EOF; on an error, after the output before it. Output of a member is
// tentative until its trailer has been checked: an error may follow it.
func (z *Reader) Read(p []byte) (int, error) {
	for {
		if z.off < len(z.cur.data) {
			n := copy(p, z.cur.data[z.off:])
			z.off += n
			if z.off == len(z.cur.data) {
				z.release()
			}
			return n, nil
		}
		if z.err != nil {
			return 0, z.err
		}
		z.next()
	}
}

// Discard skips the next n decoded bytes, as Read would return them,
// without copying them: the output buffers' lines then stay in the
// decoding core's cache rather than being read over on the caller's. It
// returns how many bytes it skipped, fewer than n only with the error
// Read would have returned (io.EOF at the end).
func (z *Reader) Discard(n int) (int, error) {
	done := 0
	for done < n {
		if z.off < len(z.cur.data) {
			k := min(n-done, len(z.cur.data)-z.off)
			z.off += k
			done += k
			if z.off == len(z.cur.data) {
				z.release()
			}
			continue
		}
		if z.err != nil {
			return done, z.err
		}
		z.next()
	}
	return done, nil
}

// next waits for the decoder's next chunk, once the current one is used
// up.
func (z *Reader) next() {
	c, ok := <-z.ch
	if !ok {
		z.err = errClosed
		return
	}
	z.cur, z.off = c, 0
	if c.err != nil {
		z.err = c.err
	}
	if len(c.data) == 0 {
		z.release()
	}
}

// release ends the current chunk: its buffer goes back, and the input
// offset moves past it.
func (z *Reader) release() {
	z.inOff.Store(z.cur.inOff)
	if z.cur.release != nil {
		z.cur.release()
	}
	z.cur = chunk{}
	z.off = 0
}

// Close stops the goroutines and waits for them (for one blocked reading
// the underlying reader, until that read returns). It does not close the
// underlying reader.
func (z *Reader) Close() error {
	z.once.Do(func() {
		close(z.done)
		go func() { // let a decoder blocked sending go
			for range z.ch {
			}
		}()
	})
	z.wg.Wait()
	z.cur, z.off = chunk{}, 0
	if z.err == nil {
		z.err = errClosed
	}
	return nil
}

// InputOffset returns how many compressed bytes lie behind the output
// Read has served (at the end, the whole input). Safe to call from any
// goroutine.
func (z *Reader) InputOffset() int64 { return z.inOff.Load() }
