package gz

import "errors"

// Decoding without the window (for a chunk whose start is a guess, see
// par.go). Output goes to out16 as 16-bit symbols: a value below 256 is
// a byte; 256+i stands for byte i of the unknown 32 KiB window before the
// chunk (i = 32767 is the byte just before). out16[:windowSize] is filled
// with these markers, so matches reaching before the chunk copy markers
// like any bytes, and a later pass replaces them (resolve). Once the last
// 32 KiB of out16 hold no marker, nothing later can reach one: narrow
// copies them into out as bytes and the fast byte-wise decoder takes over.

var (
	// errNarrow: the last 32 KiB of out16 hold no marker (internal).
	errNarrow = errors.New("gzip: internal: narrow")
	// errCap: an output buffer of a chunk is full (internal).
	errCap = errors.New("gzip: internal: output full")
	// errGuess: out16 is full of markers; narrow guessing them (internal).
	errGuess = errors.New("gzip: internal: guess")
)

const marker = 256

// startWide sets up 16-bit output in out16 (at least 2*windowSize+outSlack).
func (d *inflater) startWide(out16 []uint16) {
	for i := range windowSize {
		out16[i] = uint16(marker + i)
	}
	d.out16, d.op16, d.wide = out16, windowSize, true
	d.nextCheck = 2 * windowSize
	d.guessed = [windowSize / 64]uint64{}
	d.anyGuess = false
}

// oneMarker tells whether the markers in the last 32 KiB of out16 all
// stand for the same byte (then likely a run of zeros; with several, the
// chunk is data that keeps referring to the window, zeros unlikely).
func (d *inflater) oneMarker() bool {
	m := uint16(0)
	for _, v := range d.out16[d.op16-windowSize : d.op16] {
		if v >= marker {
			if m != 0 && v != m {
				return false
			}
			m = v
		}
	}
	return true
}

// narrowGuess narrows although the last 32 KiB of out16 hold markers,
// taking the bytes they stand for to be zeros, and records which: a chunk
// starting inside a run of zeros (a disk image's free space) copies the
// unknown byte before it all along the run. The guesses are checked
// against the true window when the output is resolved.
func (d *inflater) narrowGuess() {
	for i, v := range d.out16[d.op16-windowSize : d.op16] {
		if v >= marker {
			d.guessed[(v-marker)/64] |= 1 << ((v - marker) % 64)
			d.anyGuess = true
			v = 0
		}
		d.out[i] = byte(v)
	}
	d.op, d.pre, d.winStart, d.wide = windowSize, windowSize, 0, false
	d.wideEnd = d.op16
}

// narrow ends 16-bit output: out[:keep] gets the last keep symbols of
// out16 (bytes, no markers) and decoding goes on in out from there.
func (d *inflater) narrow(keep int) {
	for i, v := range d.out16[d.op16-keep : d.op16] {
		d.out[i] = byte(v)
	}
	d.op, d.pre, d.winStart, d.wide = keep, keep, 0, false
	d.wideEnd = d.op16
}

// checkMarkers returns errNarrow if the last 32 KiB of out16 hold no
// marker; else it sets when to look again: 32 KiB after the last one.
func (d *inflater) checkMarkers() error {
	w := d.out16[d.op16-windowSize : d.op16]
	for i := len(w) - 1; i >= 0; i-- {
		if w[i] >= marker {
			d.nextCheck = d.op16 - windowSize + i + 1 + windowSize
			return nil
		}
	}
	return errNarrow
}

// block16 decodes (the rest of) the current block into out16.
func (d *inflater) block16() error {
	if d.blk == blkStored {
		for d.storedLeft > 0 {
			if err := d.room16(); err != nil {
				return err
			}
			b, err := d.storedInput(min(d.storedLeft, len(d.out16)-outSlack-d.op16))
			if err != nil {
				return err
			}
			for i, c := range b {
				d.out16[d.op16+i] = uint16(c)
			}
			d.op16 += len(b)
			d.storedLeft -= len(b)
		}
		return nil
	}
	lit, dist := &fixedLit, &fixedDist
	if d.blk == blkDynamic {
		lit, dist = &d.lit, &d.dist
	}
	return d.huffman16(lit, dist)
}

// room16 checks for markers and room in out16 when op16 reaches
// nextCheck or the end of out16.
func (d *inflater) room16() error {
	if d.op16 >= d.nextCheck {
		if err := d.checkMarkers(); err != nil {
			return err
		}
	}
	if d.op16 >= len(d.out16)-outSlack {
		if d.oneMarker() {
			return errGuess
		}
		return errCap
	}
	return nil
}

// huffman16 is huffman writing 16-bit symbols, with the same fast loop
// (local state, checks once per symbol against limits that guarantee room
// for a match) but plainer copies.
func (d *inflater) huffman16(lit *[litTableSize]uint32, dist *[distTableSize]uint32) error {
	bb, nb, pos, op := d.bb, d.nb, d.pos, d.op16
	in, out := d.in, d.out16
	limit := min(len(out)-outSlack, d.nextCheck-1)
	for {
		if pos > len(in)-8 || op > limit {
			d.bb, d.nb, d.pos, d.op16 = bb, nb, pos, op
			if pos > len(in)-8 {
				if err := d.moreInput(); err != nil {
					return err
				}
			}
			if err := d.room16(); err != nil {
				return err
			}
			bb, nb, pos, op = d.bb, d.nb, d.pos, d.op16
			in = d.in
			limit = min(len(out)-outSlack, d.nextCheck-1)
			continue
		}
		bb |= leUint64(in[pos:]) << nb
		pos += int((63 - nb) >> 3)
		nb |= 56
		e := lit[bb&(1<<litBits-1)]
		if e&kindMask == kindSub {
			bb >>= litBits
			nb -= litBits
			e = lit[(e>>16+uint32(bb)&(1<<(e>>4&15)-1))&(litTableSize-1)]
		}
		n := e & 15
		if int32(e) < 0 {
			bb >>= n
			nb -= uint(n)
			out[op] = uint16(e >> 16 & 0xff)
			op++
			e = lit[bb&(1<<litBits-1)]
			if int32(e) >= 0 {
				continue
			}
			n = e & 15
			bb >>= n
			nb -= uint(n)
			out[op] = uint16(e >> 16 & 0xff)
			op++
			continue
		}
		if e&kindMask != kindValue {
			d.bb, d.nb, d.pos, d.op16 = bb, nb, pos, op
			if e&kindMask == kindEOB {
				d.bb >>= n
				d.nb -= uint(n)
				return nil
			}
			return corruptError("invalid literal/length code")
		}
		x := e >> 4 & 15
		length := int(e>>16) + int(bb>>n&(1<<x-1))
		bb >>= n + x
		nb -= uint(n + x)
		e = dist[bb&(1<<distBits-1)]
		if e&kindMask == kindSub {
			bb >>= distBits
			nb -= distBits
			e = dist[(e>>16+uint32(bb)&(1<<(e>>4&15)-1))&(distTableSize-1)]
		}
		if e&kindMask != kindValue {
			d.bb, d.nb, d.pos, d.op16 = bb, nb, pos, op
			return corruptError("invalid distance code")
		}
		n = e & 15
		x = e >> 4 & 15
		dst := int(e>>16) + int(bb>>n&(1<<x-1))
		bb >>= n + x
		nb -= uint(n + x)
		if dst > op {
			d.bb, d.nb, d.pos, d.op16 = bb, nb, pos, op
			return corruptError("distance too far back")
		}
		w := out[op : op+length]
		switch {
		case dst >= length:
			copy(w, out[op-dst:])
		case dst == 1:
			v := out[op-1]
			for i := range w {
				w[i] = v
			}
		default:
			for i := range w {
				w[i] = out[op-dst+i]
			}
		}
		op += length
	}
}
