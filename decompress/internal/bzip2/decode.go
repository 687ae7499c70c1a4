package bzip2

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strings"

	dsbzip2 "github.com/dsnet/compress/bzip2"
)

// A decoder is a dsnet reader, reused with Reset (it keeps its BWT and
// symbol buffers, about 5 MB).
type decoder struct {
	z  *dsbzip2.Reader
	br bytes.Reader
}

func newDecoder() *decoder {
	d := new(decoder)
	d.z, _ = dsbzip2.NewReader(&d.br, nil) // never fails
	return d
}

func (z *Reader) getDecoder() *decoder {
	select {
	case d := <-z.decs:
		return d
	default:
		return newDecoder()
	}
}

func (z *Reader) putDecoder(d *decoder) {
	select {
	case z.decs <- d:
	default:
	}
}

// header writes the stream header "BZh<level>" to b.
func header(b []byte, level byte) {
	b[0], b[1], b[2], b[3] = 'B', 'Z', 'h', '0'+level
}

// trailer writes the end-of-stream magic and the stream CRC at bit p and
// zero pads to a byte; it returns the stream's length in bytes. For a
// stream of one block the stream CRC is the block CRC.
func trailer(b []byte, p int64, crc uint32) int {
	putBits(b, p, eosMagic, 48)
	putBits(b, p+48, uint64(crc), 32)
	p += 80
	if p&7 != 0 {
		putBits(b, p, 0, uint(8-p&7))
	}
	return int((p + 7) >> 3)
}

// rewrap turns s.buf (4 spare bytes, the block's bytes, 16 spare bytes)
// into a standalone one-block stream, in place: afterwards the block's
// bits start at bit 32 of s.buf.
func (z *Reader) rewrap(s *segment) []byte {
	b := s.buf
	shiftLeft(b[4:len(b)-16], uint(s.off&7))
	z.fixTrees(s)
	b = s.buf
	header(b, s.level)
	return b[:trailer(b, 32+s.nbits, s.crc)]
}

// decode runs on a worker. A segment that fails to decode is not an error
// yet: it returns no output and keeps its bytes for the consumer, which
// merges it with the next segment (its end may be a false magic).
func (z *Reader) decode(s *segment) ([]byte, error) {
	if s.eos {
		return nil, nil
	}
	stream := z.rewrap(s)
	d := z.getDecoder()
	out, derr, ok := z.inflate(d, stream, s.level, func(n int64) bool {
		if !z.gate.acquire(s.seq, n, false) {
			return false
		}
		s.extra += n
		return true
	})
	z.putDecoder(d)
	if !ok {
		return nil, errClosed
	}
	if derr != nil {
		s.err = derr
		return nil, nil
	}
	putBuf(&z.inPool, s.buf)
	s.buf = nil
	return out, nil
}

// inflate decodes a one-block stream into a pooled buffer sized for the
// usual output, growing it (after grow approves the extra bytes) when runs
// expand further. ok is false if grow refused (the Reader was closed);
// derr is the decoding error.
func (z *Reader) inflate(d *decoder, stream []byte, level byte, grow func(int64) bool) (out []byte, derr error, ok bool) {
	defer func() {
		if r := recover(); r != nil { // a decoder bug must not crash the program
			out, derr, ok = nil, fmt.Errorf("bzip2: decoder panic: %v", r), true
		}
	}()
	d.br.Reset(stream)
	if err := d.z.Reset(&d.br); err != nil {
		return nil, err, true
	}
	out = getBuf(&z.outPool, outEst(level))
	n := 0
	for {
		if n == len(out) {
			// Runs expand: grow 4× at a time, up to the most a block
			// can hold, reusing the big buffers of earlier blocks.
			m := min(4*len(out), maxOut(level))
			if m <= len(out) { // not from a valid block; dsnet will say
				m = 2 * len(out)
			}
			if !grow(int64(m - len(out))) {
				putBuf(&z.outPool, out)
				return nil, nil, false
			}
			nb := getBuf(&z.outPool, m)
			copy(nb, out)
			putBuf(&z.outPool, out)
			out = nb
		}
		k, err := d.z.Read(out[n:])
		n += k
		if err == io.EOF {
			return out[:n], nil, true
		}
		if err != nil {
			putBuf(&z.outPool, out)
			return nil, err, true
		}
	}
}

// release runs on the Read goroutine, in job order, once Read has served
// the job's output. It keeps each stream's combined CRC and merges failed
// segments.
func (z *Reader) release(s *segment, out []byte) {
	z.gate.served(s.seq, s.cost+s.extra)
	putBuf(&z.outPool, out)
	if z.err != nil {
		return
	}
	switch {
	case s.eos:
		if len(z.pending) > 0 {
			z.failPending()
			return
		}
		if z.streamCRC != s.crc {
			z.err = &Error{Offset: s.end, What: "stream end", Err: errStreamCRC}
			return
		}
		z.streamCRC = 0
		z.inOff.Store(s.end)
	case s.err == nil:
		if len(z.pending) > 0 {
			z.failPending()
			return
		}
		z.streamCRC = bits.RotateLeft32(z.streamCRC, 1) ^ s.crc
		z.inOff.Store(s.end)
	default:
		z.pending = append(z.pending, s)
		z.merge()
	}
}

// merge decodes the failed segments in z.pending as one block, as lbzip2
// does: a false magic inside a block's data cuts it in two segments that
// both fail, and together they make the block. Only the first segment can
// be a real block start, so the merged block has its CRC. The merged
// bits are bounded by maxBlockBytes, which bounds the retries too.
func (z *Reader) merge() {
	if len(z.pending) < 2 {
		return
	}
	first, last := z.pending[0], z.pending[len(z.pending)-1]
	var nbits int64
	for _, s := range z.pending {
		nbits += s.nbits
	}
	if nbits > maxBlockBytes*8 {
		z.failPending()
		return
	}
	w := bitAppender{buf: make([]byte, 0, 4+(nbits+80+7)/8+8)}
	w.put('B'<<24|'Z'<<16|'h'<<8|uint64('0'+first.level), 32)
	for _, s := range z.pending {
		w.copy(s.buf, 32, s.nbits)
	}
	w.put(eosMagic>>24, 24)
	w.put(eosMagic&(1<<24-1), 24)
	w.put(uint64(first.crc), 32)
	stream := w.bytes()
	if z.mergeDec == nil {
		z.mergeDec = newDecoder()
	}
	out, derr, _ := z.inflate(z.mergeDec, stream, first.level, func(int64) bool { return true })
	if derr != nil {
		return // wait for the next segment
	}
	z.merges++
	z.merged = append(z.merged, out...)
	putBuf(&z.outPool, out)
	z.streamCRC = bits.RotateLeft32(z.streamCRC, 1) ^ first.crc
	z.inOff.Store(last.end)
	for _, s := range z.pending {
		putBuf(&z.inPool, s.buf)
	}
	z.pending = z.pending[:0]
}

// failPending makes the first failed segment's error final.
func (z *Reader) failPending() {
	s := z.pending[0]
	err := s.err
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = errBlockEnds // the block's bits were all there
	}
	z.err = &Error{Offset: s.off >> 3, What: "block", Err: err}
	z.inOff.Store(s.off >> 3)
	z.pending = nil
}

var (
	errBlockEnds = errors.New("corrupted input: block data ends early")
	errStreamCRC = errors.New("corrupted input: mismatching stream checksum")
)

// Error is a failure at a compressed byte offset: a block that failed to
// decode (a CRC mismatch or corrupted data), a bad stream structure, or a
// truncation (Err wraps io.ErrUnexpectedEOF).
type Error struct {
	Offset int64  // compressed byte where the failing structure starts
	What   string // "block", "stream header", "stream end", ...
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("bzip2: %s at compressed byte %d: %s", e.What, e.Offset, strings.TrimPrefix(e.Err.Error(), "bzip2: "))
}

func (e *Error) Unwrap() error { return e.Err }
