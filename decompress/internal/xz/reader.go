// Package xz decodes .xz files, the blocks of a stream in parallel, from
// a plain io.Reader (no seeking).
//
// One goroutine (the split, ordered.Reader's next) parses the container:
// stream header, block headers, index, footer, stream padding. Each block
// becomes one of two things:
//
//   - A parallel job, if the block is small enough (compressed plus
//     uncompressed size at most maxJob). Its bytes are read whole, and a
//     worker decodes them into the block's output buffer. The block's
//     extent comes from the sizes in its header (xz -T, the default since
//     xz 5.6, writes them), or, when the header has none (xz -T1
//     --block-size), from walking the LZMA2 chunk headers: the last filter
//     of every block is LZMA2, whose chunks carry their compressed and
//     uncompressed sizes, so a sizeless block is delimited without
//     decoding it.
//
//   - A sequential block, if it is larger (one-block files from
//     single-threaded xz, the 192 MiB blocks of xz -9 -T). The split
//     goroutine decodes it itself, streaming, reading the input as it goes,
//     so the input is left exactly at the block's end; the output goes out
//     in pieces of piece bytes, as jobs whose Run only verifies the check
//     (hashing the pieces in order, off the decoding goroutine). Jobs
//     submitted before run on the workers meanwhile; the split parses
//     nothing further until the block ends.
//
// Two decoders. Blocks whose filter chain is LZMA2 alone (what xz writes
// unless told otherwise) are decoded by this package's LZMA/LZMA2 decoder
// (lzma.go, lzma2.go): a parallel job decodes straight into the block's
// output, which is the dictionary; a sequential block into a window of
// the dictionary size plus one chunk, copied out into the pieces. Blocks
// with other filters (BCJ, delta) go to therootcompany/xz (a port of XZ
// Embedded), given a synthetic one-block stream: the block header as it
// is, the block's bytes, an index and a footer. Our decoder accepts
// exactly what XZ Embedded accepts (FuzzLZMA2 compares them), and is
// faster: it keeps the range decoder in local variables, decodes bit
// trees without branches (literals loading the next probabilities
// ahead), copies matches word-wise (therootcompany copies byte by byte)
// and clears runs of zeros at memory speed. CRC-64, the default check, is
// computed with hash/crc64 except over 4 KiB blocks of zeros, applied in
// one step (crc64.go): on a disk image it would otherwise take about as
// long as decoding them. On dense data our decoder is about as fast as
// liblzma, on runs of zeros several times faster; the measurements are in
// README.md, next to this file.
//
// The index is checked against the blocks seen (count and sizes, by a
// SHA-256 over the records, and its CRC32), the footer against the
// header and the index size. Stream padding and further streams follow;
// anything else is fault.ErrTrailingData.
//
// Memory. A block whose LZMA2 dictionary is over the limit (NewReader's
// maxDict) is refused with fault.ErrMemoryLimit, naming both sizes,
// before anything is reserved for it. The jobs in flight hold at most
// budget bytes (compressed + uncompressed). A sequential block decoded
// by our decoder holds one window, up to its dictionary + 2 MiB, which
// grows with the block's output, so a header asking for a large
// dictionary reserves little by itself. therootcompany/xz reserves the
// dictionary a block header names when it reads it: it is given headers
// naming a dictionary no larger than the block's output when that size
// is known (always for a parallel job), and keeps one per worker.
package xz

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
	"github.com/bmap-tools/bmap/decompress/internal/ordered"
	xzdec "github.com/therootcompany/xz"
)

type config struct {
	budget int64 // bytes held by the jobs in flight
	maxJob int64 // largest block (compressed + uncompressed) decoded as a parallel job
	piece  int   // output piece of a sequentially decoded block
	chunk  int   // unit in which compressed blocks are held
	inBuf  int   // input buffer
}

// xz -6 -T blocks (24 MiB + their compressed size) stay 3 in flight: 2
// decoding, 1 being read. Blocks of xz -8 and -9 (96 and 192 MiB) are
// decoded sequentially.
var defaultConfig = config{budget: 96 << 20, maxJob: 64 << 20, piece: 1 << 20, chunk: 256 << 10, inBuf: 256 << 10}

// A Reader decodes an .xz file.
type Reader struct {
	in      *input
	ord     *ordered.Reader
	cfg     config
	maxDict uint32

	decs         chan *blockDecoder // idle decoders (therootcompany/xz)
	lzDecs       chan *lzma2Dec     // idle decoders (ours)
	outs         *bufPool           // idle block outputs
	pieces       *fixedPool         // idle pieces of sequential blocks
	chunks       *fixedPool         // idle chunks of compressed blocks
	headerBuf    [1024]byte
	state        int
	first        bool
	flags        [2]byte
	check        byte
	blocks       uint64
	records      hash.Hash // SHA-256 of the blocks' (unpadded, uncompressed) sizes
	seq          *seqBlock
	seqDec       *xzdec.Reader
	seqLZ        *lzma2Dec // our decoder of sequential blocks
	seqWin       []byte    // its window
	hashPrev     chan struct{}
	closedSignal chan struct{}
	nPar, nSeq   int  // blocks decoded in parallel, sequentially (for tests)
	nOurs        int  // blocks decoded by our LZMA2 decoder (for tests)
	noLZMA2      bool // leave every block to therootcompany/xz (for tests)
}

const (
	stHeader = iota
	stBlock
	stPadding
	stEnd
)

type blockDecoder struct {
	d  *xzdec.Reader
	pr partsReader
}

// NewReader returns a Reader decoding r with workers goroutines (at least
// 1). maxDict caps the LZMA2 dictionary a block may ask for (0: 64 MiB, what
// xz -9 uses); a block asking for more fails with fault.ErrMemoryLimit.
// Errors are returned by Read.
func NewReader(r io.Reader, workers int, maxDict uint32) *Reader {
	return newReader(r, workers, maxDict, defaultConfig)
}

func newReader(r io.Reader, workers int, maxDict uint32, cfg config) *Reader {
	workers = max(workers, 1)
	x := &Reader{
		in:      newInput(r, cfg.inBuf),
		cfg:     cfg,
		maxDict: maxDict,
		decs:    make(chan *blockDecoder, workers),
		lzDecs:  make(chan *lzma2Dec, workers),
		outs:    &bufPool{limit: cfg.budget},
		pieces:  newFixedPool(cfg.piece, cfg.budget),
		chunks:  newFixedPool(cfg.chunk, cfg.budget),
		first:   true,
		records: sha256.New(),
	}
	x.closedSignal = make(chan struct{})
	close(x.closedSignal)
	x.ord = ordered.NewReader(x.next, workers, cfg.budget)
	return x
}

// Read reads decoded bytes. At the end of the last stream it returns
// io.EOF; on an error, after the output before the failing block.
func (x *Reader) Read(p []byte) (int, error) { return x.ord.Read(p) }

// Close stops the goroutines. It does not close the underlying reader.
func (x *Reader) Close() error { return x.ord.Close() }

// InputOffset returns how many compressed bytes have been consumed (parsed
// and handed to a decoder, possibly not yet decoded). Safe to call from
// any goroutine.
func (x *Reader) InputOffset() int64 { return x.in.offset() }

// next is the split goroutine: it returns the next job.
func (x *Reader) next() (ordered.Job, error) {
	for {
		if x.seq != nil {
			return x.seqNext()
		}
		var err error
		switch x.state {
		case stHeader:
			err = x.streamHeader()
		case stBlock:
			var job ordered.Job
			var ok bool
			if job, ok, err = x.block(); ok {
				return job, nil
			}
		case stPadding:
			err = x.padding()
		default:
			return ordered.Job{}, io.EOF
		}
		if err != nil {
			return ordered.Job{}, err
		}
	}
}

func (x *Reader) streamHeader() error {
	const what = "stream header"
	off := x.in.offset()
	h, err := x.in.peek(streamHdrSz)
	if len(h) < streamHdrSz {
		k := min(len(h), len(headerMagic))
		if x.first && string(h[:k]) != headerMagic[:k] {
			return &fault.Error{Format: codec, Offset: off, What: what, Kind: fault.ErrFormat}
		}
		return inputErr(off, what, err)
	}
	x.in.discard(streamHdrSz)
	if string(h[:6]) != headerMagic {
		return &fault.Error{Format: codec, Offset: off, What: what, Kind: fault.ErrFormat}
	}
	if crc32.ChecksumIEEE(h[6:8]) != binary.LittleEndian.Uint32(h[8:]) {
		return corrupt(off, what, "CRC32 mismatch")
	}
	if h[6] != 0 || h[7]&0xf0 != 0 {
		return &fault.Error{Format: codec, Offset: off, What: what, Kind: fault.ErrUnsupported, Err: errHeaderFlags}
	}
	if !checkSupported(h[7]) {
		return &fault.Error{Format: codec, Offset: off, What: what, Kind: fault.ErrUnsupported, Err: xzdec.ErrUnsupportedCheck}
	}
	x.flags = [2]byte{h[6], h[7]}
	x.check = h[7]
	x.blocks = 0
	x.records.Reset()
	x.state = stBlock
	return nil
}

func (x *Reader) record(unpadded, uncompressed uint64) {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:], unpadded)
	binary.LittleEndian.PutUint64(b[8:], uncompressed)
	x.records.Write(b[:])
	x.blocks++
}

func pad4(n uint64) uint64 { return (4 - n%4) % 4 }

// block parses a block header and returns a job (ok), or starts a
// sequential block, or at the index parses the index and the footer.
func (x *Reader) block() (job ordered.Job, ok bool, err error) {
	const what = "block"
	off := x.in.offset()
	b, err := x.in.readByte()
	if err != nil {
		return job, false, inputErr(off, what, err)
	}
	if b == 0 {
		return job, false, x.index(off)
	}
	h := x.headerBuf[:(int(b)+1)*4]
	h[0] = b
	if err := x.in.readFull(h[1:]); err != nil {
		return job, false, inputErr(off, what, err)
	}
	bh, err := parseBlockHeader(h)
	if err != nil {
		kind := fault.ErrCorrupt
		if err == errHeaderFlags {
			kind = fault.ErrUnsupported
		}
		return job, false, &fault.Error{Format: codec, Offset: off, What: what, Kind: kind, Err: err}
	}
	if err := x.checkDict(off, bh); err != nil {
		return job, false, err
	}
	cs := uint64(checkSize[x.check])
	max := uint64(x.cfg.maxJob)
	if bh.compressed == 0 || !bh.hasUncomp {
		return x.scanBlock(off, h, bh)
	}
	body := bh.compressed + pad4(bh.compressed) + cs
	if bh.uncompressed > max || body > max || body+uint64(x.cfg.chunk)+bh.uncompressed > max {
		return job, false, x.startSeq(off, h, bh, nil, 0, 0, 0)
	}
	src := chunks{pool: x.chunks}
	if err := src.readFrom(x.in, int64(body)); err != nil {
		src.release()
		return job, false, inputErr(off, what, err)
	}
	unpadded := uint64(len(h)) + bh.compressed + cs
	x.record(unpadded, bh.uncompressed)
	return x.blockJob(off, h, bh, src, unpadded, bh.uncompressed), true, nil
}

// scanBlock reads a block without both sizes in its header by walking its
// LZMA2 chunks: a parallel job if it turns out small enough, else a
// sequential block starting with what was read.
func (x *Reader) scanBlock(off int64, h []byte, bh blockHeader) (job ordered.Job, ok bool, err error) {
	const what = "block"
	cs := checkSize[x.check]
	src := chunks{pool: x.chunks}
	var comp, uncomp uint64
	for {
		c, err := x.in.readByte()
		if err != nil {
			src.release()
			return job, false, inputErr(off, what, err)
		}
		hl, err := chunkHeaderLen(c)
		if err != nil {
			src.release()
			return job, false, corrupt(off, what, "%v", err)
		}
		var ch [6]byte
		ch[0] = c
		if err := x.in.readFull(ch[1:hl]); err != nil {
			src.release()
			return job, false, inputErr(off, what, err)
		}
		for b := ch[:hl]; len(b) > 0; {
			m := copy(src.next(int64(len(b))), b)
			src.grow(m)
			b = b[m:]
		}
		dl, ul := chunkSizes(ch[:hl])
		comp += uint64(hl) + uint64(dl)
		uncomp += uint64(ul)
		if err := checkBounds(off, bh, comp, uncomp); err != nil {
			src.release()
			return job, false, err
		}
		if c == 0 {
			break
		}
		if src.held()+dl+int64(uncomp)+int64(x.cfg.chunk) > x.cfg.maxJob {
			return job, false, x.startSeq(off, h, bh, &src, comp, uncomp, dl)
		}
		if err := src.readFrom(x.in, dl); err != nil {
			src.release()
			return job, false, inputErr(off, what, err)
		}
	}
	if err := src.readFrom(x.in, int64(pad4(comp))+int64(cs)); err != nil {
		src.release()
		return job, false, inputErr(off, what, err)
	}
	unpadded := uint64(len(h)) + comp + uint64(cs)
	x.record(unpadded, uncomp)
	return x.blockJob(off, h, bh, src, unpadded, uncomp), true, nil
}

// checkBounds fails when the LZMA2 data exceeds the sizes in the header.
func checkBounds(off int64, bh blockHeader, comp, uncomp uint64) error {
	if bh.compressed != 0 && comp > bh.compressed {
		return corrupt(off, "block", "compressed data longer than its header says")
	}
	if bh.hasUncomp && uncomp > bh.uncompressed {
		return corrupt(off, "block", "uncompressed data longer than its header says")
	}
	if comp >= 1<<62 || uncomp >= 1<<62 {
		return corrupt(off, "block", "block too large")
	}
	return nil
}

// blockJob decodes the block with header h and the rest in src as a
// one-block stream.
func (x *Reader) blockJob(off int64, h []byte, bh blockHeader, src chunks, unpadded, uncomp uint64) ordered.Job {
	if x.lzma2Block(bh) {
		return x.lzma2Job(off, bh, src, uncomp)
	}
	x.nPar++
	head := make([]byte, streamHdrSz, streamHdrSz+len(h))
	putStreamHeader(head, x.check)
	head = append(head, refHeader(h, bh, uncomp, true)...)
	trailer := appendTrailer(nil, x.check, unpadded, uncomp)
	parts := make([][]byte, 0, len(src.bufs)+2)
	parts = append(append(append(parts, head), src.bufs...), trailer)
	return ordered.Job{
		Cost: int64(len(head)) + src.held() + int64(len(trailer)) + int64(uncomp),
		Run: func() ([]byte, error) {
			out := x.outs.get(int(uncomp))
			d := x.getDec()
			err := d.decode(parts, out)
			x.putDec(d)
			src.release()
			if err != nil {
				x.outs.put(out)
				return nil, decodeErr(off, err)
			}
			return out, nil
		},
		Release: x.outs.put,
	}
}

// decode decodes the one-block stream in parts, which must produce
// exactly len(out) bytes.
func (d *blockDecoder) decode(parts [][]byte, out []byte) error {
	d.pr.parts = parts
	defer func() { d.pr.parts = nil }()
	if err := d.d.Reset(&d.pr); err != nil {
		return err
	}
	d.d.Multistream(false)
	for n := 0; n < len(out); {
		m, err := d.d.Read(out[n:])
		n += m
		if err == io.EOF && n < len(out) {
			return xzdec.ErrData // cannot happen: the decoder checks the sizes
		}
		if err != nil && err != io.EOF {
			return err
		}
	}
	// Decode the rest (check, index, footer) and require the end.
	var one [1]byte
	if m, err := d.d.Read(one[:]); m != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = xzdec.ErrData
		}
		return err
	}
	return nil
}

// dictLimit is the largest LZMA2 dictionary a block may ask for.
func (x *Reader) dictLimit() uint32 {
	if x.maxDict == 0 {
		return xzdec.DefaultDictMax
	}
	return x.maxDict
}

// checkDict refuses the block at off if its dictionary is over the limit:
// decoding it could take that much memory.
func (x *Reader) checkDict(off int64, bh blockHeader) error {
	if !bh.hasDict || bh.dictProps > 40 {
		return nil // no LZMA2 last: therootcompany/xz reports the header
	}
	if d, limit := dictBytes(bh.dictProps), x.dictLimit(); d > limit {
		return &fault.Error{Format: codec, Offset: off, What: "block", Kind: fault.ErrMemoryLimit,
			Err: fmt.Errorf("the block asks for a %s dictionary; the limit is %s", fault.Size(uint64(d)), fault.Size(uint64(limit)))}
	}
	return nil
}

// refHeader returns the block header h to give therootcompany/xz, which
// reserves the whole dictionary a block names when it reads the header:
// if the block's output is known to be uncomp bytes, the header names a
// dictionary no larger than needed for them. A dictionary at least as
// large as the output decodes it the same.
func refHeader(h []byte, bh blockHeader, uncomp uint64, known bool) []byte {
	if !known || !bh.hasDict || bh.dictProps > 40 {
		return h
	}
	p := bh.dictProps
	for p > 0 && uint64(dictBytes(p-1)) >= uncomp {
		p--
	}
	if p == bh.dictProps {
		return h
	}
	return withDict(h, bh, p)
}

func (x *Reader) getDec() *blockDecoder {
	select {
	case d := <-x.decs:
		return d
	default:
		d, _ := xzdec.NewReader(nil, x.maxDict)
		return &blockDecoder{d: d}
	}
}

func (x *Reader) putDec(d *blockDecoder) {
	select {
	case x.decs <- d:
	default:
	}
}

// index parses the index (its indicator byte at off already read) and the
// stream footer.
func (x *Reader) index(off int64) error {
	const what = "index"
	crc := crc32.NewIEEE()
	crc.Write([]byte{0})
	vli := func() (uint64, error) {
		var b [maxVLI]byte
		for i := range b {
			c, err := x.in.readByte()
			if err != nil {
				return 0, inputErr(off, what, err)
			}
			b[i] = c
			if c&0x80 == 0 {
				crc.Write(b[:i+1])
				v, _, err := getVLI(b[:i+1])
				if err != nil {
					return 0, corrupt(off, what, "%v", err)
				}
				return v, nil
			}
		}
		return 0, corrupt(off, what, "%v", errVLI)
	}
	count, err := vli()
	if err != nil {
		return err
	}
	if count != x.blocks {
		return corrupt(off, what, "%d records for %d blocks", count, x.blocks)
	}
	h := sha256.New()
	for range count {
		var b [16]byte
		u, err := vli()
		if err != nil {
			return err
		}
		c, err := vli()
		if err != nil {
			return err
		}
		binary.LittleEndian.PutUint64(b[:], u)
		binary.LittleEndian.PutUint64(b[8:], c)
		h.Write(b[:])
	}
	if !bytes.Equal(h.Sum(nil), x.records.Sum(nil)) {
		return corrupt(off, what, "records do not match the blocks")
	}
	var b [8]byte
	p := pad4(uint64(x.in.offset() - off))
	if err := x.in.readFull(b[:p+4]); err != nil {
		return inputErr(off, what, err)
	}
	if !bytes.Equal(b[:p], make([]byte, p)) {
		return corrupt(off, what, "nonzero padding")
	}
	crc.Write(b[:p])
	if binary.LittleEndian.Uint32(b[p:]) != crc.Sum32() {
		return corrupt(off, what, "CRC32 mismatch")
	}
	size := x.in.offset() - off
	return x.footer(size)
}

func (x *Reader) footer(indexSize int64) error {
	const what = "stream footer"
	off := x.in.offset()
	var f [footerSz]byte
	if err := x.in.readFull(f[:]); err != nil {
		return inputErr(off, what, err)
	}
	if string(f[10:]) != footerMagic {
		return corrupt(off, what, "bad magic")
	}
	if crc32.ChecksumIEEE(f[4:10]) != binary.LittleEndian.Uint32(f[:]) {
		return corrupt(off, what, "CRC32 mismatch")
	}
	if (int64(binary.LittleEndian.Uint32(f[4:]))+1)*4 != indexSize {
		return corrupt(off, what, "backward size does not match the index")
	}
	if f[8] != x.flags[0] || f[9] != x.flags[1] {
		return corrupt(off, what, "flags differ from the stream header's")
	}
	x.state = stPadding
	return nil
}

// padding consumes stream padding and sees what follows: the end, or
// another stream.
func (x *Reader) padding() error {
	const what = "stream padding"
	for {
		off := x.in.offset()
		b, err := x.in.peek(streamHdrSz)
		if err != nil && err != io.EOF {
			return inputErr(off, what, err)
		}
		if len(b) == 0 {
			x.state = stEnd
			return nil
		}
		if b[0] == 0 {
			if len(b) < 4 {
				if bytes.Equal(b, make([]byte, len(b))) {
					return inputErr(off, what, io.ErrUnexpectedEOF)
				}
				return corrupt(off, what, "not a multiple of 4 bytes")
			}
			if string(b[:4]) != "\x00\x00\x00\x00" {
				return corrupt(off, what, "not a multiple of 4 bytes")
			}
			x.in.discard(4)
			continue
		}
		k := min(len(b), len(headerMagic))
		if string(b[:k]) != headerMagic[:k] {
			return &fault.Error{Format: codec, Offset: off, What: what, Kind: fault.ErrTrailingData}
		}
		x.state = stHeader
		x.first = false
		return nil
	}
}
