package gz

import (
	"errors"
	"hash/crc32"
	"io"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
)

// A chunk is a piece of output handed from the decoding goroutine to
// Read, in order. release, if not nil, is called once data is served (it
// recycles the buffers). inOff is the compressed offset behind data; err,
// if not nil, ends the stream after data.
type chunk struct {
	data    []byte
	release func()
	inOff   int64
	err     error
}

var errClosed = errors.New("gzip: read after Close")

// seqDecoder decodes members one after the other, into output buffers of
// windowSize+chunkSize bytes: when one is full, its new part goes to Read
// and the last 32 KiB are copied to the start of a free buffer, where
// decoding goes on.
type seqDecoder struct {
	d         inflater
	free      chan []byte
	ch        chan<- chunk
	done      <-chan struct{}
	emitStart int // out[emitStart:op] not yet handed on
	crcPos    int // out[crcPos:op] not yet in crc
	goodOp    int // out[emitStart:goodOp] belongs to checked members
	bufs      int // buffers yet to allocate

	memberOff int64  // where the current member starts
	crc       uint32 // of the current member's output up to crcPos
	size      uint32
}

func newSeqDecoder(ch chan<- chunk, done <-chan struct{}, bufs, chunkSize int) *seqDecoder {
	s := &seqDecoder{ch: ch, done: done, free: make(chan []byte, bufs), bufs: bufs - 1}
	s.d.out = make([]byte, windowSize+chunkSize)
	s.d.flush = s.flush
	return s
}

// sum brings crc and size up to op.
func (s *seqDecoder) sum() {
	d := &s.d
	s.crc = crc32.Update(s.crc, crc32.IEEETable, d.out[s.crcPos:d.op])
	s.size += uint32(d.op - s.crcPos)
	s.crcPos = d.op
}

func (s *seqDecoder) send(c chunk) bool {
	select {
	case s.ch <- c:
		return true
	case <-s.done:
		return false
	}
}

// flush hands on the buffer's new part and moves to a free buffer.
func (s *seqDecoder) flush() error {
	d := &s.d
	s.sum()
	var next []byte
	select {
	case next = <-s.free:
	default:
		if s.bufs > 0 { // allocated on demand: small inputs need one
			s.bufs--
			next = make([]byte, len(d.out))
			break
		}
		select {
		case next = <-s.free:
		case <-s.done:
			return errClosed
		}
	}
	buf := d.out
	release := func() { s.free <- buf }
	if !s.send(chunk{data: d.out[s.emitStart:d.op], release: release, inOff: d.bitOffset() / 8}) {
		return errClosed
	}
	keep := min(d.op, windowSize)
	copy(next, d.out[d.op-keep:d.op])
	d.winStart = max(0, d.winStart-(d.op-keep))
	d.out, d.op = next, keep
	s.emitStart, s.crcPos, s.goodOp = keep, keep, keep
	return nil
}

// decode decodes members to the end of the input (io.EOF) or to an error.
func (s *seqDecoder) decode() error {
	d := &s.d
	for first := true; ; first = false {
		off := d.bitOffset() / 8
		end, err := d.atEnd()
		if err == nil && end {
			if !first {
				return io.EOF
			}
			err = errTruncated
		}
		if err == nil {
			err = d.header()
		}
		if err != nil {
			return headerErr(off, first, err)
		}
		s.memberOff = off
		d.winStart, s.crcPos, s.crc, s.size = d.op, d.op, 0, 0
		for final := false; !final; {
			blockOff := d.bitOffset() / 8
			final, err = d.block()
			if d.overrun() {
				err = errTruncated
			}
			if err != nil {
				return memberErr(blockOff, "deflate block", err)
			}
		}
		s.sum()
		trailerOff := (d.bitOffset() + 7) / 8
		if err := d.trailer(s.crc, s.size); err != nil {
			return memberErr(trailerOff, "member trailer", err)
		}
		s.goodOp = d.op
	}
}

// end sends what decode's result err calls for: the rest of the output
// and io.EOF, or the output of the checked members and the error.
func (s *seqDecoder) end(err error) {
	d := &s.d
	switch err {
	case errClosed:
	case io.EOF:
		s.send(chunk{data: d.out[s.emitStart:d.op], inOff: d.bitOffset() / 8, err: io.EOF})
	default:
		s.send(chunk{data: d.out[s.emitStart:s.goodOp], inOff: s.memberOff, err: err})
	}
}

// run decodes the input from r to its end, an error or Close, and closes
// ch.
func (s *seqDecoder) run(r io.Reader) {
	defer close(s.ch)
	s.d.setSource(r, inputSize)
	s.end(s.decode())
}

// headerErr places err at the member at off, telling a missing gzip
// magic apart as fault.ErrFormat (first member) or fault.ErrTrailingData.
func headerErr(off int64, first bool, err error) error {
	if _, ok := err.(headerError); ok {
		if first {
			return &fault.Error{Format: codec, Offset: off, What: "member", Kind: fault.ErrFormat}
		}
		return &fault.Error{Format: codec, Offset: off, What: "trailing data", Kind: fault.ErrTrailingData}
	}
	return memberErr(off, "member header", err)
}
