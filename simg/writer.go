package simg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// WriterOptions tunes a Writer. The zero value writes what img2simg
// writes: no CRC32 chunk.
type WriterOptions struct {
	// CRC appends a CRC32 chunk with the CRC-32 of the whole image
	// (holes counted as zeros), which careful readers check.
	CRC bool
}

// A Writer writes a sparse image: Write adds image bytes, Skip adds a
// hole, Close writes the file header. Every whole block of data that is
// one 4-byte pattern repeated (zeros included) becomes part of a FILL
// chunk, the other blocks RAW chunks; holes become DONT_CARE chunks;
// neighbouring blocks of one kind share a chunk. A last partial block is
// padded with zeros: a sparse image holds whole blocks only, so an image
// of a size that is not a multiple of the block size comes back longer,
// as from img2simg.
//
// The output is written at increasing offsets, except for the headers of
// the file and of each chunk, which are written once known: dst must be
// random-access (an *os.File). Small writes are gathered in a 256 KiB
// buffer. Write errors are sticky.
type Writer struct {
	dst io.WriterAt
	bs  int64
	opt WriterOptions

	off      int64  // where the next byte goes in dst
	stage    []byte // bytes not yet written, which start at stageOff
	stageOff int64

	block     []byte // the partial block not yet classified
	nblock    int    // bytes of it filled
	blockData bool   // some of them came from Write, not Skip

	run        ChunkType // kind of the open chunk, 0 if none
	runOff     int64     // where its header goes
	runBlocks  int64
	runPattern [4]byte

	blocks int64 // image blocks so far
	chunks uint32
	crc    uint32
	hdr    Header
	err    error
	closed bool
}

// stageSize is how many bytes the Writer gathers before writing.
const stageSize = 256 << 10

// maxRawBlocks is the most blocks of bs bytes a RAW chunk can hold: its
// total size is a uint32. A variable so that tests can lower it.
var maxRawBlocks = func(bs int64) int64 { return (math.MaxUint32 - ChunkHeaderSize) / bs }

// maxRunBlocks is the most blocks a FILL or DONT_CARE chunk can cover.
var maxRunBlocks int64 = math.MaxUint32

// ErrClosed is returned by a Writer's methods after Close.
var ErrClosed = errors.New("simg: write after Close")

// MaxBlockSize is the largest block size a Writer takes: it holds one
// block in memory.
const MaxBlockSize = 64 << 20

// NewWriter returns a Writer of a sparse image of blockSize-byte blocks
// (a positive multiple of 4 up to MaxBlockSize, normally 4096) to dst.
func NewWriter(dst io.WriterAt, blockSize int64, opt WriterOptions) (*Writer, error) {
	if blockSize <= 0 || blockSize%4 != 0 || blockSize > MaxBlockSize {
		return nil, fmt.Errorf("android sparse image: block size %d, want a positive multiple of 4 up to %d", blockSize, MaxBlockSize)
	}
	w := &Writer{dst: dst, bs: blockSize, opt: opt, stage: make([]byte, 0, stageSize), block: make([]byte, blockSize)}
	w.emit(make([]byte, HeaderSize)) // written by Close
	return w, nil
}

// Header returns the file header written by Close.
func (w *Writer) Header() Header { return w.hdr }

// Write adds p to the image.
func (w *Writer) Write(p []byte) (int, error) {
	if err := w.check(); err != nil {
		return 0, err
	}
	n := len(p)
	if w.opt.CRC {
		w.crc = crc32.Update(w.crc, crc32.IEEETable, p)
	}
	if w.nblock > 0 {
		k := copy(w.block[w.nblock:], p)
		w.nblock += k
		w.blockData = true
		p = p[k:]
		if int64(w.nblock) == w.bs {
			w.nblock = 0
			w.addData(w.block)
		}
	}
	whole := int64(len(p)) / w.bs * w.bs
	w.addData(p[:whole])
	if rest := p[whole:]; len(rest) > 0 {
		w.nblock = copy(w.block, rest)
		w.blockData = true
	}
	if w.err != nil {
		return 0, w.err
	}
	return n, nil
}

// Skip adds n bytes of hole to the image. Whole blocks of hole become
// DONT_CARE chunks; a block that holds both data and hole is data, its
// hole zeros.
func (w *Writer) Skip(n int64) error {
	if err := w.check(); err != nil {
		return err
	}
	if n < 0 {
		return fmt.Errorf("android sparse image: skipping %d bytes", n)
	}
	if w.opt.CRC {
		w.crc = crcRepeat(w.crc, [4]byte{}, n)
	}
	if w.nblock > 0 {
		k := min(n, w.bs-int64(w.nblock))
		clear(w.block[w.nblock : int64(w.nblock)+k])
		w.nblock += int(k)
		n -= k
		if int64(w.nblock) == w.bs {
			w.nblock = 0
			w.flushBlock()
		}
	}
	w.addHole(n / w.bs)
	if rest := n % w.bs; rest > 0 {
		clear(w.block[:rest])
		w.nblock = int(rest)
		w.blockData = false
	}
	return w.err
}

// Close pads and adds the last partial block, writes the CRC32 chunk if
// asked and the file header. It does not close dst.
func (w *Writer) Close() error {
	if err := w.check(); err != nil {
		return err
	}
	w.closed = true
	if w.nblock > 0 {
		if w.opt.CRC {
			w.crc = crcRepeat(w.crc, [4]byte{}, w.bs-int64(w.nblock))
		}
		clear(w.block[w.nblock:])
		w.nblock = 0
		w.flushBlock()
	}
	w.closeRun()
	if w.opt.CRC {
		var b [ChunkHeaderSize + 4]byte
		binary.LittleEndian.PutUint16(b[0:], uint16(CRC32))
		binary.LittleEndian.PutUint32(b[8:], ChunkHeaderSize+4)
		binary.LittleEndian.PutUint32(b[12:], w.crc)
		w.chunks++
		w.emit(b[:])
	}
	if w.err == nil && w.blocks == 0 {
		w.err = errors.New("android sparse image: the image is empty (0 bytes)")
	}
	w.hdr = Header{MajorVersion: MajorVersion, FileHeaderSize: HeaderSize, ChunkHeaderSize: ChunkHeaderSize,
		BlockSize: uint32(w.bs), Blocks: uint32(w.blocks), Chunks: w.chunks}
	w.patch(0, w.hdr.marshal())
	w.flush()
	return w.err
}

func (w *Writer) check() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrClosed
	}
	return nil
}

// flushBlock adds the full pending block: data if any of it was written,
// else a hole.
func (w *Writer) flushBlock() {
	if w.blockData {
		w.addData(w.block)
	} else {
		w.addHole(1)
	}
	w.blockData = false
}

// addData adds whole blocks of data. Runs of RAW blocks are emitted in
// one piece.
func (w *Writer) addData(p []byte) {
	bs := w.bs
	span := int64(-1) // start in p of RAW blocks not yet emitted
	for i := int64(0); i < int64(len(p)) && w.err == nil; i += bs {
		b := p[i : i+bs]
		if bytes.Equal(b[4:], b[:bs-4]) { // b is its first 4 bytes repeated
			if span >= 0 {
				w.emit(p[span:i])
				span = -1
			}
			pat := [4]byte(b[:4])
			if w.run != Fill || w.runPattern != pat || w.runBlocks == maxRunBlocks {
				w.openRun(Fill)
				w.runPattern = pat
			}
		} else if w.run != Raw || w.runBlocks == maxRawBlocks(bs) {
			if span >= 0 {
				w.emit(p[span:i])
			}
			w.openRun(Raw)
			span = i
		} else if span < 0 {
			span = i
		}
		w.runBlocks++
		w.count(1)
	}
	if span >= 0 {
		w.emit(p[span:])
	}
}

// addHole adds n blocks of hole.
func (w *Writer) addHole(n int64) {
	for n > 0 && w.err == nil {
		if w.run != DontCare || w.runBlocks == maxRunBlocks {
			w.openRun(DontCare)
		}
		k := min(n, maxRunBlocks-w.runBlocks)
		w.runBlocks += k
		w.count(k)
		n -= k
	}
}

// count adds n blocks to the image's total.
func (w *Writer) count(n int64) {
	w.blocks += n
	if w.blocks > math.MaxUint32 && w.err == nil {
		w.err = fmt.Errorf("android sparse image: more than %d blocks of %d bytes", uint32(math.MaxUint32), w.bs)
	}
}

// openRun closes the open chunk and opens one of type t, reserving room
// for its header.
func (w *Writer) openRun(t ChunkType) {
	w.closeRun()
	if w.chunks == math.MaxUint32 {
		w.err = errors.New("android sparse image: too many chunks")
		return
	}
	w.run, w.runOff, w.runBlocks = t, w.off, 0
	w.chunks++
	var room [ChunkHeaderSize + 4]byte
	if t == Fill {
		w.emit(room[:])
	} else {
		w.emit(room[:ChunkHeaderSize])
	}
}

// closeRun writes the header of the open chunk.
func (w *Writer) closeRun() {
	if w.run == 0 {
		return
	}
	var a [ChunkHeaderSize + 4]byte
	b := a[:ChunkHeaderSize]
	total := int64(ChunkHeaderSize)
	switch w.run {
	case Raw:
		total += w.runBlocks * w.bs
	case Fill:
		total += 4
		b = append(b, w.runPattern[:]...)
	}
	binary.LittleEndian.PutUint16(b[0:], uint16(w.run))
	binary.LittleEndian.PutUint32(b[4:], uint32(w.runBlocks))
	binary.LittleEndian.PutUint32(b[8:], uint32(total))
	w.patch(w.runOff, b)
	w.run = 0
}

// emit appends b to the output.
func (w *Writer) emit(b []byte) {
	if w.err != nil {
		return
	}
	if len(w.stage)+len(b) > cap(w.stage) {
		w.flush()
	}
	if len(b) >= cap(w.stage) {
		if _, err := w.dst.WriteAt(b, w.off); err != nil {
			w.err = fmt.Errorf("android sparse image: writing at byte %d: %w", w.off, err)
		}
		w.off += int64(len(b))
		w.stageOff = w.off
		return
	}
	w.stage = append(w.stage, b...)
	w.off += int64(len(b))
}

// patch writes b at off, a region emit reserved.
func (w *Writer) patch(off int64, b []byte) {
	if w.err != nil {
		return
	}
	if off >= w.stageOff {
		copy(w.stage[off-w.stageOff:], b)
		return
	}
	if _, err := w.dst.WriteAt(b, off); err != nil {
		w.err = fmt.Errorf("android sparse image: writing at byte %d: %w", off, err)
	}
}

// flush writes the gathered bytes.
func (w *Writer) flush() {
	if w.err == nil && len(w.stage) > 0 {
		if _, err := w.dst.WriteAt(w.stage, w.stageOff); err != nil {
			w.err = fmt.Errorf("android sparse image: writing at byte %d: %w", w.stageOff, err)
		}
	}
	w.stage = w.stage[:0]
	w.stageOff = w.off
}
