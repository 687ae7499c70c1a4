package gz

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// The gzip member format (RFC 1952): a header, DEFLATE data, and a
// trailer of the CRC-32 and the length mod 2^32 of the member's output.

const (
	flagText    = 1 << 0
	flagHdrCRC  = 1 << 1
	flagExtra   = 1 << 2
	flagName    = 1 << 3
	flagComment = 1 << 4
)

// byteIn reads one byte of a byte-aligned structure.
func (d *inflater) byteIn() (byte, error) {
	v, err := d.bits(8)
	if err == nil && d.overrun() {
		err = errTruncated
	}
	return byte(v), err
}

// atEnd tells, at a byte boundary, whether the input has ended.
func (d *inflater) atEnd() (bool, error) {
	d.pos -= int(d.nb >> 3)
	d.bb, d.nb = 0, 0
	if d.pos >= len(d.in) && !d.padded {
		if err := d.moreInput(); err != nil {
			return false, err
		}
	}
	return d.padded && d.pos >= d.end, nil
}

// A headerError is a member header that is not one, with the kind it
// means for the caller: fault.ErrFormat for the first member,
// fault.ErrTrailingData for a later one.
type headerError struct{}

func (headerError) Error() string { return "no gzip magic" }

// header reads a member header.
func (d *inflater) header() error {
	var h [10]byte
	for i := range h {
		b, err := d.byteIn()
		if err != nil {
			return err
		}
		h[i] = b
		if (i == 0 && b != 0x1f) || (i == 1 && b != 0x8b) {
			return headerError{}
		}
	}
	hcrc := crc32.ChecksumIEEE(h[:])
	if h[2] != 8 {
		return unsupportedError("compression method is not DEFLATE")
	}
	flg := h[3]
	if flg&0xe0 != 0 {
		return corruptError("reserved header flags set")
	}
	var b1 [1]byte
	next := func() (byte, error) {
		b, err := d.byteIn()
		b1[0] = b
		hcrc = crc32.Update(hcrc, crc32.IEEETable, b1[:])
		return b, err
	}
	if flg&flagExtra != 0 {
		lo, err := next()
		if err != nil {
			return err
		}
		hi, err := next()
		if err != nil {
			return err
		}
		for range int(lo) | int(hi)<<8 {
			if _, err := next(); err != nil {
				return err
			}
		}
	}
	for _, f := range []byte{flagName, flagComment} {
		if flg&f == 0 {
			continue
		}
		for {
			b, err := next()
			if err != nil {
				return err
			}
			if b == 0 {
				break
			}
		}
	}
	if flg&flagHdrCRC != 0 {
		var c [2]byte
		for i := range c {
			b, err := d.byteIn()
			if err != nil {
				return err
			}
			c[i] = b
		}
		if binary.LittleEndian.Uint16(c[:]) != uint16(hcrc) {
			return corruptError("header CRC-16 mismatch")
		}
	}
	return nil
}

// trailer reads a member trailer and checks it against the CRC-32 and
// the length of the member's output.
func (d *inflater) trailer(crc, size uint32) error {
	d.alignByte()
	c, err := d.bits(32)
	if err != nil {
		return err
	}
	s, err := d.bits(32)
	if err != nil {
		return err
	}
	if d.overrun() {
		return errTruncated
	}
	if c != crc {
		return corruptError(fmt.Sprintf("CRC-32 mismatch (trailer %08x, data %08x)", c, crc))
	}
	if s != size {
		return corruptError(fmt.Sprintf("length mismatch (trailer %d, data %d mod 2^32)", s, size))
	}
	return nil
}
