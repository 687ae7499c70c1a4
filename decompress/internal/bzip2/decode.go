package bzip2

import (
	"errors"
	"io"
	"math/bits"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
)

func (z *Reader) getDecoder() *blockDecoder {
	select {
	case d := <-z.decs:
		return d
	default:
		return newBlockDecoder()
	}
}

func (z *Reader) putDecoder(d *blockDecoder) {
	select {
	case z.decs <- d:
	default:
	}
}

// decode runs on a worker. A segment that fails to decode is not an error
// yet: it returns no output and keeps its bytes for the consumer, which
// merges it with the next segment (its end may be a false magic).
func (z *Reader) decode(s *segment) ([]byte, error) {
	if s.eos {
		return nil, nil
	}
	clear(s.buf[len(s.buf)-blockPad:]) // read as zeros if decoding overruns
	d := z.getDecoder()
	start := s.off & 7
	out, derr, ok := z.inflate(d, s.buf, start, start+s.nbits, s.level, func(n int64) bool {
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

// inflate decodes the block in bits [start, end) of buf (start is at its
// magic) into a pooled buffer sized for the usual output, growing it
// (after grow approves the extra bytes) when runs expand further. ok is
// false if grow refused (the Reader was closed); derr is the decoding
// error.
func (z *Reader) inflate(d *blockDecoder, buf []byte, start, end int64, level byte, grow func(int64) bool) (out []byte, derr error, ok bool) {
	defer func() {
		if r := recover(); r != nil { // a decoder bug must not crash the program
			out, derr, ok = nil, fault.NewPanic(r), true
		}
	}()
	n, crc, err := d.decode(buf, start, end, level)
	if err != nil {
		return nil, err, true
	}
	out = getBuf(&z.outPool, outEst(level))
	out, got, err, ok := expand(d.ll[:n], out, func(out []byte, o, need int) ([]byte, bool) {
		// Runs expand: grow 4× at a time, up to the most a block can
		// hold, reusing the big buffers of earlier blocks.
		m := max(min(4*len(out), maxOut(level)), o+need)
		if !grow(int64(m - len(out))) {
			putBuf(&z.outPool, out)
			return nil, false
		}
		nb := getBuf(&z.outPool, m)
		copy(nb, out[:o])
		putBuf(&z.outPool, out)
		return nb, true
	})
	switch {
	case !ok:
		return nil, nil, false
	case err == nil && got != crc:
		err = errBlockCRC
	}
	if err != nil {
		putBuf(&z.outPool, out)
		return nil, err, true
	}
	return out, nil, true
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
			z.err = &fault.Error{Format: codec, Offset: s.end, What: "stream end", Kind: fault.ErrCorrupt, Err: errStreamCRC}
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
	case isPanic(s.err):
		z.fail(s, s.err) // a bug, not a false magic: never merged
	default:
		z.pending = append(z.pending, s)
		z.merge()
	}
}

// isPanic reports whether err is a panic of the block decoder, recovered.
func isPanic(err error) bool {
	var p *fault.Panic
	return errors.As(err, &p)
}

// merge decodes the failed segments in z.pending as one block, as lbzip2
// does: a false magic inside a block's data cuts it in two segments that
// both fail, and together they make the block. Only the first segment can
// be a real block start, so the merged block has its CRC. Each new failed
// segment decodes all pending ones again, so a block is merged from at
// most maxMerge segments (and maxBlockBytes): crafted false magics cost
// at most maxMerge decodings of a block, not one per magic.
func (z *Reader) merge() {
	if len(z.pending) < 2 {
		return
	}
	if len(z.pending) > maxMerge {
		z.failPending()
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
	w := bitAppender{buf: make([]byte, 0, (nbits+7)/8+blockPad)}
	for _, s := range z.pending {
		w.copy(s.buf, s.off&7, s.nbits)
	}
	buf := w.bytes()
	buf = append(buf, make([]byte, blockPad)...)
	if z.mergeDec == nil {
		z.mergeDec = newBlockDecoder()
	}
	out, derr, _ := z.inflate(z.mergeDec, buf, 0, nbits, first.level, func(int64) bool { return true })
	z.mergeTries++
	if isPanic(derr) {
		z.fail(first, derr)
		return
	}
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
	z.fail(s, err)
}

// fail makes err, the failure of the block decoder on segment s, final.
func (z *Reader) fail(s *segment, err error) {
	kind := fault.ErrCorrupt
	switch {
	case err == errRandomised:
		kind = fault.ErrUnsupported
	case isPanic(err):
		kind = fault.ErrInternal
	}
	z.err = &fault.Error{Format: codec, Offset: s.off >> 3, What: "block", Kind: kind, Err: err}
	z.inOff.Store(s.off >> 3)
	z.pending = nil
}

var (
	errBlockEnds = errors.New("block data ends early")
	errStreamCRC = errors.New("mismatching stream checksum")
)

// codec names the format in the errors, *fault.Error values. What names
// the structure: "stream header", "block", "stream end", "end of stream"
// or "trailing data".
const codec = "bzip2"
