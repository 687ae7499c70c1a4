package xz

import (
	"io"
	"sync"
)

// Buffers are recycled, not left to the garbage collector: the heap may
// grow to twice what was live at the last collection, so garbage from
// 24 MiB blocks would double the peak RSS.

// bufPool keeps idle buffers of varying sizes, up to limit bytes.
type bufPool struct {
	mu    sync.Mutex
	free  [][]byte
	bytes int64
	limit int64
}

// get returns a buffer of length n: the smallest idle one that fits, or a
// new one.
func (p *bufPool) get(n int) []byte {
	p.mu.Lock()
	best := -1
	for i, b := range p.free {
		if cap(b) >= n && (best < 0 || cap(b) < cap(p.free[best])) {
			best = i
		}
	}
	if best >= 0 {
		b := p.free[best]
		p.free[best] = p.free[len(p.free)-1]
		p.free = p.free[:len(p.free)-1]
		p.bytes -= int64(cap(b))
		p.mu.Unlock()
		return b[:n]
	}
	p.mu.Unlock()
	return make([]byte, n)
}

func (p *bufPool) put(b []byte) {
	if cap(b) == 0 {
		return
	}
	p.mu.Lock()
	if p.bytes+int64(cap(b)) <= p.limit {
		p.free = append(p.free, b)
		p.bytes += int64(cap(b))
	}
	p.mu.Unlock()
}

// fixedPool keeps idle buffers of one size.
type fixedPool struct {
	size int
	free chan []byte
}

func newFixedPool(size int, limit int64) *fixedPool {
	return &fixedPool{size: size, free: make(chan []byte, limit/int64(size)+1)}
}

func (p *fixedPool) get() []byte {
	select {
	case b := <-p.free:
		return b[:p.size]
	default:
		return make([]byte, p.size)
	}
}

func (p *fixedPool) put(b []byte) {
	if cap(b) != p.size {
		return
	}
	select {
	case p.free <- b:
	default:
	}
}

// chunks holds a block's compressed bytes in fixed-size chunks, so that
// blocks of any size reuse the same buffers.
type chunks struct {
	pool *fixedPool
	bufs [][]byte // filled; the last may be partly
	n    int64
}

// next returns room for up to n more bytes at the end.
func (c *chunks) next(n int64) []byte {
	if len(c.bufs) == 0 || len(c.bufs[len(c.bufs)-1]) == c.pool.size {
		c.bufs = append(c.bufs, c.pool.get()[:0])
	}
	last := c.bufs[len(c.bufs)-1]
	m := int(min(n, int64(c.pool.size-len(last))))
	return last[len(last) : len(last)+m]
}

// grow adds m bytes, written to what next returned.
func (c *chunks) grow(m int) {
	last := &c.bufs[len(c.bufs)-1]
	*last = (*last)[:len(*last)+m]
	c.n += int64(m)
}

// readFrom appends n bytes of in.
func (c *chunks) readFrom(in *input, n int64) error {
	for n > 0 {
		b := c.next(n)
		if err := in.readFull(b); err != nil {
			return err
		}
		c.grow(len(b))
		n -= int64(len(b))
	}
	return nil
}

// held is the memory the chunks hold.
func (c *chunks) held() int64 { return int64(len(c.bufs)) * int64(c.pool.size) }

func (c *chunks) release() {
	for _, b := range c.bufs {
		c.pool.put(b[:0])
	}
	c.bufs, c.n = nil, 0
}

// partsReader reads a sequence of byte slices.
type partsReader struct {
	parts [][]byte
}

func (r *partsReader) Read(p []byte) (int, error) {
	for len(r.parts) > 0 && len(r.parts[0]) == 0 {
		r.parts = r.parts[1:]
	}
	if len(r.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.parts[0])
	r.parts[0] = r.parts[0][n:]
	return n, nil
}
