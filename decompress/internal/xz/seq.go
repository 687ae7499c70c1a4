package xz

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"hash/crc32"
	"io"

	"github.com/bmap-tools/bmap/decompress/internal/ordered"
	xzdec "github.com/therootcompany/xz"
)

// A seqBlock is a block decoded sequentially by the split goroutine,
// by our decoder (dec, reading src: lzma2.go) or, for filters other than
// LZMA2 alone, by therootcompany/xz. For the latter it is the io.Reader
// the decoder reads: a one-block stream made of a stream header (check
// type none), the block header, the block's LZMA2 data drawn from the
// input chunk by chunk, its padding, and a one-record index and footer
// once the end of the data is known. Either way the check field is
// verified by the piece jobs, so that hashing runs on a worker, not on
// the goroutine that decodes.
type seqBlock struct {
	x      *Reader
	off    int64
	bh     blockHeader
	hsz    int
	check  byte
	queue  [][]byte // served first, in order
	prefix *chunks  // holding the data read before switching to sequential
	left   int64    // data left in the current chunk
	comp   uint64   // LZMA2 bytes (chunk headers and data)
	uncomp uint64   // uncompressed bytes, per the chunk headers
	ended  bool     // end marker seen
	done   bool     // trailer queued
	err    error
	chunk  [6]byte

	hash     hash.Hash // nil for check type none
	checkVal []byte

	// Our decoder (LZMA2-only blocks); nil: therootcompany/xz reading
	// the synthetic stream.
	dec  *lzma2Dec
	src  seqSource
	emit int  // output of dec not yet copied into pieces: dec.buf[emit:dec.pos]
	over bool // the LZMA2 data, padding and check are read
}

func (s *seqBlock) newHash() {
	switch s.check {
	case checkCRC32:
		s.hash = crc32.NewIEEE()
	case checkCRC64:
		s.hash = new(crc64Hash)
	case checkSHA256:
		s.hash = sha256.New()
	}
}

// startSeq starts decoding a block sequentially. prefix, if not nil, is
// its data read so far (comp bytes, uncomp as the chunk headers say),
// ending left bytes short of the current LZMA2 chunk's end.
func (x *Reader) startSeq(off int64, h []byte, bh blockHeader, prefix *chunks, comp, uncomp uint64, left int64) error {
	if x.lzma2Block(bh) {
		x.startSeqLZMA2(off, h, bh, prefix)
		return nil
	}
	s := &seqBlock{x: x, off: off, bh: bh, hsz: len(h), check: x.check, comp: comp, uncomp: uncomp, left: left}
	head := make([]byte, streamHdrSz, streamHdrSz+len(h))
	putStreamHeader(head, checkNone)
	s.queue = append(s.queue, append(head, refHeader(h, bh, bh.uncompressed, bh.hasUncomp)...))
	if prefix != nil {
		s.queue = append(s.queue, prefix.bufs...)
		s.prefix = prefix
	}
	s.newHash()
	if x.seqDec == nil {
		x.seqDec, _ = xzdec.NewReader(nil, x.maxDict)
	}
	if err := x.seqDec.Reset(s); err != nil {
		if s.err != nil {
			return s.err
		}
		return decodeErr(off, err)
	}
	x.seqDec.Multistream(false)
	x.hashPrev = x.closedSignal
	x.seq = s
	x.nSeq++
	return nil
}

// seqNext decodes the next piece of the sequential block.
func (x *Reader) seqNext() (ordered.Job, error) {
	s := x.seq
	if s.dec != nil {
		return x.seqNextLZMA2(s)
	}
	buf := x.pieces.get()
	n := 0
	var err error
	for n < len(buf) && err == nil {
		var m int
		m, err = x.seqDec.Read(buf[n:])
		n += m
	}
	switch err {
	case nil:
		return x.pieceJob(s, buf[:n], false), nil
	case io.EOF:
		x.record(uint64(s.hsz)+s.comp+uint64(checkSize[s.check]), s.uncomp)
		x.seq = nil
		return x.pieceJob(s, buf[:n], true), nil
	}
	x.pieces.put(buf)
	if s.err != nil {
		return ordered.Job{}, s.err
	}
	return ordered.Job{}, decodeErr(s.off, err)
}

// pieceJob serves a piece of a sequential block; its Run adds the piece
// to the check (after the previous piece) and, for the last, verifies it.
func (x *Reader) pieceJob(s *seqBlock, out []byte, final bool) ordered.Job {
	prev, done := x.hashPrev, make(chan struct{})
	x.hashPrev = done
	return ordered.Job{
		Cost: int64(len(out)),
		Run: func() ([]byte, error) {
			defer close(done)
			if s.hash != nil {
				<-prev
				s.hash.Write(out)
			}
			if final && !s.checkOK() {
				x.pieces.put(out)
				return nil, corrupt(s.off, "block", "%v check mismatch", xzdec.CheckID(s.check))
			}
			return out, nil
		},
		Release: x.pieces.put,
	}
}

func (s *seqBlock) checkOK() bool {
	switch s.check {
	case checkCRC32:
		return s.hash.(hash.Hash32).Sum32() == binary.LittleEndian.Uint32(s.checkVal)
	case checkCRC64:
		return s.hash.(hash.Hash64).Sum64() == binary.LittleEndian.Uint64(s.checkVal)
	case checkSHA256:
		return bytes.Equal(s.hash.Sum(nil), s.checkVal)
	}
	return true
}

func (s *seqBlock) fail(err error) error {
	s.err = err
	return err
}

// Read serves the synthetic stream to the decoder.
func (s *seqBlock) Read(p []byte) (int, error) {
	const what = "block"
	in := s.x.in
	for {
		if len(s.queue) > 0 {
			n := copy(p, s.queue[0])
			s.queue[0] = s.queue[0][n:]
			if len(s.queue[0]) == 0 {
				s.queue = s.queue[1:]
				if len(s.queue) == 0 && s.prefix != nil {
					s.prefix.release()
					s.prefix = nil
				}
			}
			return n, nil
		}
		if s.err != nil {
			return 0, s.err
		}
		if s.done {
			return 0, io.EOF
		}
		if s.left > 0 {
			n, err := in.read(p[:min(int64(len(p)), s.left)])
			if err != nil {
				return 0, s.fail(inputErr(s.off, what, err))
			}
			s.left -= int64(n)
			return n, nil
		}
		if s.ended {
			if err := s.finish(); err != nil {
				return 0, s.fail(err)
			}
			continue
		}
		c, err := in.readByte()
		if err != nil {
			return 0, s.fail(inputErr(s.off, what, err))
		}
		hl, err := chunkHeaderLen(c)
		if err != nil {
			return 0, s.fail(corrupt(s.off, what, "%v", err))
		}
		s.chunk[0] = c
		if err := in.readFull(s.chunk[1:hl]); err != nil {
			return 0, s.fail(inputErr(s.off, what, err))
		}
		dl, ul := chunkSizes(s.chunk[:hl])
		s.comp += uint64(hl) + uint64(dl)
		s.uncomp += uint64(ul)
		if err := checkBounds(s.off, s.bh, s.comp, s.uncomp); err != nil {
			return 0, s.fail(err)
		}
		s.left = dl
		s.ended = c == 0
		s.queue = append(s.queue[:0], s.chunk[:hl])
	}
}

// finish reads the block padding and check, and queues the padding and
// the synthetic index and footer.
func (s *seqBlock) finish() error {
	if s.bh.compressed != 0 && s.comp != s.bh.compressed {
		return corrupt(s.off, "block", "compressed size differs from its header's")
	}
	if s.bh.hasUncomp && s.uncomp != s.bh.uncompressed {
		return corrupt(s.off, "block", "uncompressed size differs from its header's")
	}
	pad := int(pad4(s.comp))
	cs := checkSize[s.check]
	t := make([]byte, pad+cs, pad+cs+trailerMax)
	if err := s.x.in.readFull(t); err != nil {
		return inputErr(s.off, "block", err)
	}
	s.checkVal = bytes.Clone(t[pad:])
	s.queue = append(s.queue[:0], appendTrailer(t[:pad], checkNone, uint64(s.hsz)+s.comp, s.uncomp))
	s.done = true
	return nil
}
