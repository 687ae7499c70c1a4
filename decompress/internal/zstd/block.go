package zstd

// Block types (RFC 8878 3.1.1.2).
const (
	blockRaw = iota
	blockRLE
	blockCompressed
	blockReserved
)

// maxBlock is the largest block (RFC 8878 3.1.1.2.3).
const maxBlock = 128 << 10

// rle writes n copies of c at d.pos: zeros by clear (memclr), other bytes
// by doubling copies.
func (d *decoder) rle(c byte, n int) {
	out := d.buf[d.pos : d.pos+n]
	if c == 0 {
		clear(out)
	} else if n > 0 {
		out[0] = c
		for w := 1; w < n; {
			w += copy(out[w:], out[:w])
		}
	}
	d.pos += n
}

// compressed decodes a compressed block b to d.pos.
func (d *decoder) compressed(b []byte) error {
	lits, n, err := d.literals(b)
	if err != nil {
		return err
	}
	return d.sequences(b[n:], lits)
}

// settleZeros writes out as many of the pending zeros as the window
// needs (the last win of them), handing the others over with the output
// before them. False if the Reader was closed.
func (d *decoder) settleZeros() bool {
	z := d.zeros
	if z == 0 {
		return true
	}
	d.zeros = 0
	m := min(z, int64(d.win))
	if z > m && !d.flush(chunk{zeros: z - m}) {
		return false
	}
	for m > 0 {
		if !d.room() {
			return false
		}
		k := int(min(m, int64(d.blockMax)))
		clear(d.buf[d.pos : d.pos+k])
		d.pos += k
		m -= int64(k)
		if d.pos-d.cs >= d.chunk && !d.flush(chunk{}) {
			return false
		}
	}
	return true
}
