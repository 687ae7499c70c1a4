package zstd

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
)

const (
	frameMagic     = 0xFD2FB528
	skippableMagic = 0x184D2A50 // to 0x184D2A5F
	skippableMask  = 0xFFFFFFF0
)

// run is the decoding goroutine: frames and skippable frames until the
// end of the input or an error, which it passes on as the last chunk.
func (d *decoder) run() {
	defer func() {
		if p := recover(); p != nil {
			if d.blockStart >= d.cs && d.blockStart <= d.pos {
				d.pos = d.blockStart
			} else {
				d.pos = d.cs
			}
			// A decoder bug, not the input's fault: an error rather
			// than a crash of the program, and one the fuzz tests see.
			d.fail(fault.Recovered(codec, d.in.off, "block", p))
		}
	}()
	for first := true; ; first = false {
		off := d.in.off
		b, err := d.in.need(4)
		if len(b) < 4 {
			switch {
			case err != io.EOF:
				d.fail(inputErr(off, "frame header", err))
			case len(b) == 0 && !first:
				d.send(chunk{inEnd: off, err: io.EOF, buf: d.buf})
			case len(b) == 0:
				d.fail(&fault.Error{Format: codec, Offset: off, What: "frame header", Kind: fault.ErrFormat, Err: errEmpty})
			case isMagicPrefix(b):
				d.fail(inputErr(off, "frame header", io.ErrUnexpectedEOF))
			default:
				d.fail(notFrame(off, first))
			}
			return
		}
		switch m := binary.LittleEndian.Uint32(b); {
		case m == frameMagic:
			err = d.frame()
		case m&skippableMask == skippableMagic:
			err = d.skippable()
		default:
			err = notFrame(off, first)
		}
		if err != nil {
			d.fail(err)
			return
		}
		if d.closed() {
			return
		}
	}
}

var errEmpty = fmt.Errorf("empty input")

func notFrame(off int64, first bool) error {
	if first {
		return &fault.Error{Format: codec, Offset: off, What: "frame header", Kind: fault.ErrFormat}
	}
	return &fault.Error{Format: codec, Offset: off, What: "frame header", Kind: fault.ErrTrailingData}
}

// isMagicPrefix reports whether b (1 to 3 bytes) starts a frame or
// skippable frame magic number.
func isMagicPrefix(b []byte) bool {
	var m, s [4]byte
	binary.LittleEndian.PutUint32(m[:], frameMagic)
	binary.LittleEndian.PutUint32(s[:], skippableMagic)
	if string(b) == string(m[:len(b)]) {
		return true
	}
	return b[0]&0xf0 == s[0] && string(b[1:]) == string(s[1:len(b)])
}

func (d *decoder) skippable() error {
	off := d.in.off
	b, err := d.in.need(8)
	if len(b) < 8 {
		return inputErr(off, "skippable frame", err)
	}
	n := int64(binary.LittleEndian.Uint32(b[4:]))
	d.in.skip(8)
	if err := d.in.discard(n); err != nil {
		return inputErr(off, "skippable frame", err)
	}
	return nil
}

// A frameHeader is what a frame header says (RFC 8878 3.1.1.1).
type frameHeader struct {
	size     int // bytes
	window   uint64
	fcs      int64 // content size, -1 if absent
	checksum bool
	dictID   uint32
}

func parseFrameHeader(b []byte) (h frameHeader, err error) {
	fhd := b[4]
	single := fhd>>5&1 == 1
	if fhd&8 != 0 {
		return h, fmt.Errorf("reserved bit set")
	}
	fcsSize := [4]int{0, 2, 4, 8}[fhd>>6]
	if fcsSize == 0 && single {
		fcsSize = 1
	}
	didSize := [4]int{0, 1, 2, 4}[fhd&3]
	h.size = 5 + fcsSize + didSize
	if !single {
		h.size++
	}
	if len(b) < h.size {
		return h, io.ErrUnexpectedEOF
	}
	h.checksum = fhd>>2&1 == 1
	p := 5
	if !single {
		wd := b[p]
		p++
		base := uint64(1) << (10 + wd>>3)
		h.window = base + base/8*uint64(wd&7)
	}
	switch didSize {
	case 1:
		h.dictID = uint32(b[p])
	case 2:
		h.dictID = uint32(binary.LittleEndian.Uint16(b[p:]))
	case 4:
		h.dictID = binary.LittleEndian.Uint32(b[p:])
	}
	p += didSize
	h.fcs = -1
	switch fcsSize {
	case 1:
		h.fcs = int64(b[p])
	case 2:
		h.fcs = int64(binary.LittleEndian.Uint16(b[p:])) + 256
	case 4:
		h.fcs = int64(binary.LittleEndian.Uint32(b[p:]))
	case 8:
		v := binary.LittleEndian.Uint64(b[p:])
		if v > 1<<62 {
			return h, fmt.Errorf("content size %d", v)
		}
		h.fcs = int64(v)
	}
	if single {
		h.window = uint64(h.fcs)
	}
	return h, nil
}

// frame decodes one frame, handing its output to the Reader.
func (d *decoder) frame() error {
	const what = "frame header"
	off := d.in.off
	b, err := d.in.need(18) // the largest header
	if len(b) < 5 {
		return inputErr(off, what, err)
	}
	h, herr := parseFrameHeader(b)
	if herr == io.ErrUnexpectedEOF {
		return inputErr(off, what, err)
	}
	if herr != nil {
		return &fault.Error{Format: codec, Offset: off, What: what, Kind: fault.ErrCorrupt, Err: herr}
	}
	if h.dictID != 0 {
		return &fault.Error{Format: codec, Offset: off, What: what, Kind: fault.ErrUnsupported, Err: fmt.Errorf("dictionary %d", h.dictID)}
	}
	if h.window > d.maxWindow {
		return &fault.Error{Format: codec, Offset: off, What: what, Kind: fault.ErrMemoryLimit,
			Err: fmt.Errorf("the frame asks for a %s window; the limit is %s", fault.Size(h.window), fault.Size(d.maxWindow))}
	}
	d.in.skip(h.size)

	// Frame state: window, repeat offsets, tables.
	d.win = int(h.window)
	d.blockMax = min(d.win, maxBlock)
	need := d.win // history the window buffer must keep
	if h.fcs >= 0 && h.fcs < int64(need) {
		need = int(h.fcs)
	}
	d.prepare(need)
	d.frameOut = 0
	d.rep = [3]int{1, 4, 8}
	d.haveHuff = false
	d.ll.valid, d.of.valid, d.ml.valid = false, false, false
	d.frameFirst = true
	d.frameHash = h.checksum

	for last := false; !last; {
		boff := d.in.off
		b, err := d.in.need(3)
		if len(b) < 3 {
			return inputErr(boff, "block", err)
		}
		bh := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
		last = bh&1 == 1
		typ := bh >> 1 & 3
		size := int(bh >> 3)
		if typ == blockReserved {
			return corrupt(boff, "block", "reserved block type")
		}
		if size > d.blockMax {
			return corrupt(boff, "block", "block of %d bytes, maximum %d", size, d.blockMax)
		}
		d.in.skip(3)
		if typ == blockRLE {
			b, err := d.in.need(1)
			if len(b) < 1 {
				return inputErr(boff, "block", err)
			}
			if b[0] == 0 {
				// Runs of zeros are counted, written out only as far
				// as later blocks may need them as history.
				d.in.skip(1)
				d.zeros += int64(size)
				d.frameOut += int64(size)
				if h.fcs >= 0 && d.frameOut > h.fcs {
					return corrupt(boff, "block", "frame content beyond its size %d", h.fcs)
				}
				continue
			}
		}
		if !d.settleZeros() || !d.room() {
			return nil // closed
		}
		d.blockStart = d.pos
		switch typ {
		case blockRaw:
			b, err := d.in.need(size)
			if len(b) < size {
				return inputErr(boff, "block", err)
			}
			d.pos += copy(d.buf[d.pos:], b)
			d.in.skip(size)
		case blockRLE:
			b, err := d.in.need(1)
			if len(b) < 1 {
				return inputErr(boff, "block", err)
			}
			d.rle(b[0], size)
			d.in.skip(1)
		default:
			b, err := d.in.need(size)
			if len(b) < size {
				return inputErr(boff, "block", err)
			}
			if err := d.compressed(b); err != nil {
				d.pos = d.blockStart
				if e, ok := err.(errBlock); ok {
					return &fault.Error{Format: codec, Offset: boff, What: "block", Kind: fault.ErrCorrupt, Err: e}
				}
				return err
			}
			d.in.skip(size)
		}
		d.frameOut += int64(d.pos - d.blockStart)
		if h.fcs >= 0 && d.frameOut > h.fcs {
			return corrupt(boff, "block", "frame content beyond its size %d", h.fcs)
		}
		if d.pos-d.cs >= d.chunk && !last {
			if !d.flush(chunk{}) {
				return nil
			}
		}
	}
	if h.fcs >= 0 && d.frameOut != h.fcs {
		return corrupt(off, "frame", "content size %d, header says %d", d.frameOut, h.fcs)
	}
	c := chunk{last: true, zeros: d.zeros}
	d.zeros = 0
	if h.checksum {
		coff := d.in.off
		b, err := d.in.need(4)
		if len(b) < 4 {
			return inputErr(coff, "checksum", err)
		}
		c.check, c.sum, c.checkOff = true, binary.LittleEndian.Uint32(b), coff
		d.in.skip(4)
	}
	d.flush(c)
	return nil
}
