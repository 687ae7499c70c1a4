package flash

import (
	"io"
	"os"
	"sync"
)

// A DirectReader reads a destination back from the device itself, not from
// the page cache, so a verification sees what was really written: it uses
// O_DIRECT with aligned bounce buffers (any offset and length may be
// asked), or, where O_DIRECT is refused (tmpfs), drops the file's cached
// pages first and reads normally.
type DirectReader struct {
	f      *os.File
	direct bool
	sector int64
	pool   sync.Pool
}

var _ io.ReaderAt = (*DirectReader)(nil)

const directChunk = 1 << 20

// OpenDirectReader opens path for reading past the page cache.
func OpenDirectReader(path string) (*DirectReader, error) {
	f, direct, err := openDirect(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	r := &DirectReader{f: f, direct: direct, sector: alignment}
	r.pool.New = func() any { b := alignedBuffer(directChunk + 2*alignment); return &b }
	if !direct {
		dropCache(f)
	}
	return r, nil
}

// ReadAt reads len(p) bytes at off.
func (r *DirectReader) ReadAt(p []byte, off int64) (int, error) {
	if !r.direct {
		return r.f.ReadAt(p, off)
	}
	bp := r.pool.Get().(*[]byte)
	defer r.pool.Put(bp)
	buf := *bp
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		start := pos &^ (r.sector - 1) // aligned down
		want := min(int64(len(p)-n), directChunk)
		end := (pos + want + r.sector - 1) &^ (r.sector - 1) // aligned up
		m, err := r.f.ReadAt(buf[:end-start], start)
		skip := int(pos - start)
		if m > skip {
			n += copy(p[n:], buf[skip:min(m, skip+int(want))])
		}
		if err != nil && (err != io.EOF || n < len(p)) {
			if err == io.EOF {
				return n, io.EOF
			}
			if isEINVAL(err) { // O_DIRECT refused at read time: read through the cache
				dropCache(r.f)
				r.direct = false
				m, err := r.f.ReadAt(p[n:], off+int64(n))
				return n + m, err
			}
			return n, err
		}
		if m < int(end-start) && n < len(p) {
			return n, io.EOF
		}
	}
	return n, nil
}

// Close closes the reader.
func (r *DirectReader) Close() error { return r.f.Close() }
