package zstd

import "encoding/binary"

// Codes of literal lengths, match lengths and offsets (RFC 8878
// 3.1.1.3.2.1.1): a code stands for a baseline plus a number of extra
// bits read from the stream.
var (
	llBase = [36]uint32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
		16, 18, 20, 22, 24, 28, 32, 40, 48, 64, 128, 256, 512, 1024, 2048, 4096,
		8192, 16384, 32768, 65536}
	llAdd = [36]uint8{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	mlBase = [53]uint32{3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
		19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
		35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027, 2051,
		4099, 8195, 16387, 32771, 65539}
	mlAdd = [53]uint8{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 7, 8, 9, 10, 11,
		12, 13, 14, 15, 16}
	ofBase, ofAdd = func() (b [32]uint32, a [32]uint8) {
		for i := range b {
			b[i], a[i] = 1<<i, uint8(i)
		}
		return
	}()
)

// Predefined distributions (RFC 8878 3.1.1.3.2.2).
var (
	llDefault = []int16{4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1,
		2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1, -1, -1}
	mlDefault = []int16{1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1}
	ofDefault = []int16{1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1}
)

// A seqTable is the FSE table of one of the three sequence fields.
type seqTable struct {
	t     [512]fseEntry
	log   uint
	valid bool // set by a block; required by the Repeat mode
}

// The kinds of sequence tables.
type seqKind struct {
	name    string
	base    []uint32
	add     []uint8
	maxLog  uint
	def     []int16
	defLog  uint
	maxCode int
}

var (
	llKind = seqKind{"literal length", llBase[:], llAdd[:], 9, llDefault, 6, 35}
	mlKind = seqKind{"match length", mlBase[:], mlAdd[:], 9, mlDefault, 6, 52}
	ofKind = seqKind{"offset", ofBase[:], ofAdd[:], 8, ofDefault, 5, 31}
)

// The predefined tables, built once.
var llPredef, mlPredef, ofPredef = predef(&llKind), predef(&mlKind), predef(&ofKind)

func predef(k *seqKind) *seqTable {
	t := &seqTable{log: k.defLog, valid: true}
	if err := buildFSE(t.t[:], k.def, k.defLog, k.base, k.add); err != nil {
		panic(err)
	}
	return t
}

// setup prepares the table of one field in mode (RFC 8878 3.1.1.3.2.1)
// from b, and returns the bytes used.
func (t *seqTable) setup(k *seqKind, mode byte, b []byte) (int, error) {
	switch mode {
	case 0: // predefined
		p := llPredef
		switch k {
		case &mlKind:
			p = mlPredef
		case &ofKind:
			p = ofPredef
		}
		size := 1 << p.log
		copy(t.t[:size], p.t[:size])
		t.log = p.log
	case 1: // RLE: one symbol, every state
		if len(b) < 1 {
			return 0, blockErrf("%s RLE symbol missing", k.name)
		}
		s := int(b[0])
		if s > k.maxCode {
			return 0, blockErrf("%s code %d", k.name, s)
		}
		t.t[0] = fseEntry{base: k.base[s], add: k.add[s]}
		t.log = 0
		t.valid = true
		return 1, nil
	case 2: // FSE table description
		var norm [64]int16
		log, nsym, n, err := readNCount(b, norm[:k.maxCode+1], k.maxLog)
		if err != nil {
			return 0, err
		}
		if err := buildFSE(t.t[:], norm[:nsym], log, k.base, k.add); err != nil {
			return 0, err
		}
		t.log = log
		t.valid = true
		return n, nil
	default: // repeat
		if !t.valid {
			return 0, blockErrf("%s table repeated but none defined", k.name)
		}
		return 0, nil
	}
	t.valid = true
	return 0, nil
}

// sequences decodes the sequences section b of a block and executes the
// sequences into d.buf at d.pos, taking literals from lits (RFC 8878
// 3.1.1.3.2 and 3.1.1.4).
func (d *decoder) sequences(b, lits []byte) error {
	if len(b) == 0 {
		return blockErrf("sequences section missing")
	}
	nseq := int(b[0])
	p := 1
	switch {
	case nseq == 0:
		if len(b) != 1 {
			return blockErrf("data after an empty sequences section")
		}
		return d.copyLits(lits)
	case nseq == 255:
		if len(b) < 3 {
			return blockErrf("sequences header truncated")
		}
		nseq = int(b[1]) + int(b[2])<<8 + 0x7f00
		p = 3
	case nseq >= 128:
		if len(b) < 2 {
			return blockErrf("sequences header truncated")
		}
		nseq = (nseq-128)<<8 + int(b[1])
		p = 2
	}
	if p >= len(b) {
		return blockErrf("sequences header truncated")
	}
	modes := b[p]
	p++
	if modes&3 != 0 {
		return blockErrf("reserved bits set in the sequence compression modes")
	}
	n, err := d.ll.setup(&llKind, modes>>6, b[p:])
	if err != nil {
		return err
	}
	p += n
	n, err = d.of.setup(&ofKind, modes>>4&3, b[p:])
	if err != nil {
		return err
	}
	p += n
	n, err = d.ml.setup(&mlKind, modes>>2&3, b[p:])
	if err != nil {
		return err
	}
	p += n
	return d.execute(b[p:], nseq, lits)
}

// copyLits appends the literals that follow the last sequence.
func (d *decoder) copyLits(lits []byte) error {
	if d.pos-d.blockStart+len(lits) > d.blockMax {
		return blockErrf("block output beyond the block maximum %d", d.blockMax)
	}
	d.pos += copy(d.buf[d.pos:], lits)
	return nil
}

// execute decodes nseq sequences from the backward stream b and copies
// their literals and matches to the window at d.pos.
//
// A match may reach back min(window, frame output) bytes: minSrc is the
// lowest buffer index it may copy from. The buffer has slack after
// blockStart+blockMax (see decoder), and lits has at least 16 bytes of
// capacity past its end (d.literals sees to it), so short literal runs
// and matches are copied 16 bytes at a time, past their end, by copy16:
// through unsafe pointers, as the bounds checks of slicing cost a few
// percent of the decoding time (README.md), and the checks above each
// copy keep it inside buf and lits (ll+ml <= end-op, minSrc <= src < op,
// lp+ll <= len(lits), and the room checked before the loop); with the
// purego build tag, with bounds checks. The bit
// reader is kept in local variables (v, u, p: backReader's value, used,
// pos); reading past the stream's start yields garbage, not a fault, and
// is caught by the final check.
func (d *decoder) execute(b []byte, nseq int, lits []byte) error {
	var br backReader
	if !br.init(b) {
		return blockErrf("bad sequences stream")
	}
	llS := uint32(br.bits(uint8(d.ll.log)))
	ofS := uint32(br.bits(uint8(d.of.log)))
	mlS := uint32(br.bits(uint8(d.ml.log)))
	v, u, p, in := br.value, br.used, br.pos, br.in
	buf := d.buf
	op := d.pos
	end := d.blockStart + d.blockMax // limit of this block's output
	if end+slack > len(buf) || cap(lits)-len(lits) < 16 {
		return blockErrf("internal error: no room for the block or the literals")
	}
	hist := d.frameOut
	if hist > int64(d.win) {
		hist = int64(d.win)
	}
	minSrc := d.blockStart - int(hist)
	if minSrc < 0 {
		return blockErrf("internal error: history not in the buffer")
	}
	win := d.win
	rep0, rep1, rep2 := d.rep[0], d.rep[1], d.rep[2]
	lp := 0
	for i := nseq; i > 0; i-- {
		if p >= 8 {
			p -= int(u >> 3)
			u &= 7
			v = binary.LittleEndian.Uint64(in[p:])
		} else {
			br.value, br.used, br.pos = v, u, p
			br.refillSlow()
			v, u, p = br.value, br.used, br.pos
		}
		ofE := d.of.t[ofS&511]
		mlE := d.ml.t[mlS&511]
		llE := d.ll.t[llS&511]
		off := int(ofE.base) + int(v<<(u&63)>>1>>((63-ofE.add)&63))
		u += uint(ofE.add)
		ml := int(mlE.base) + int(v<<(u&63)>>1>>((63-mlE.add)&63))
		u += uint(mlE.add)
		if p >= 8 {
			p -= int(u >> 3)
			u &= 7
			v = binary.LittleEndian.Uint64(in[p:])
		} else {
			br.value, br.used, br.pos = v, u, p
			br.refillSlow()
			v, u, p = br.value, br.used, br.pos
		}
		ll := int(llE.base) + int(v<<(u&63)>>1>>((63-llE.add)&63))
		u += uint(llE.add)
		if i > 1 {
			llS = uint32(llE.next) + uint32(v<<(u&63)>>1>>((63-llE.nbBits)&63))
			u += uint(llE.nbBits)
			mlS = uint32(mlE.next) + uint32(v<<(u&63)>>1>>((63-mlE.nbBits)&63))
			u += uint(mlE.nbBits)
			ofS = uint32(ofE.next) + uint32(v<<(u&63)>>1>>((63-ofE.nbBits)&63))
			u += uint(ofE.nbBits)
		}
		if off > 3 {
			off -= 3
			rep0, rep1, rep2 = off, rep0, rep1
		} else {
			if ll == 0 {
				off++
			}
			switch off {
			case 1:
				off = rep0
			case 2:
				off = rep1
				rep0, rep1 = off, rep0
			case 3:
				off = rep2
				rep0, rep1, rep2 = off, rep0, rep1
			default:
				off = rep0 - 1
				if off == 0 {
					return blockErrf("repeat offset 0")
				}
				rep0, rep1, rep2 = off, rep0, rep1
			}
		}

		// Literals, then the match.
		if ll > len(lits)-lp {
			return blockErrf("sequence literals beyond the %d literals", len(lits))
		}
		if ll+ml > end-op {
			return blockErrf("block output beyond the block maximum %d", d.blockMax)
		}
		if ll <= 16 {
			// In bounds: op <= end, end+slack <= len(buf); lp+ll <=
			// len(lits), len(lits)+16 <= cap(lits).
			copy16(buf, op, lits, lp)
		} else {
			copy(buf[op:op+ll], lits[lp:lp+ll])
		}
		op += ll
		lp += ll
		src := op - off
		if off > win || src < minSrc {
			return blockErrf("match offset %d beyond window", off)
		}
		if off >= 16 && ml <= 32 {
			// In bounds: minSrc <= src < op, op+32 <= end+slack.
			copy16(buf, op, buf, src)
			copy16(buf, op+16, buf, src+16)
		} else {
			copyMatch(buf, op, src, ml)
		}
		op += ml
	}
	br.value, br.used, br.pos = v, u, p
	if !br.finished() {
		return blockErrf("sequences stream not used up")
	}
	d.rep = [3]int{rep0, rep1, rep2}
	d.pos = op
	return d.copyLits(lits[lp:])
}

// copyMatch copies ml bytes from buf[src:] to buf[op:] (src < op), the
// source overlapping the destination when op-src < ml: the pattern of
// op-src bytes repeats. It may write up to 16 bytes past op+ml.
func copyMatch(buf []byte, op, src, ml int) {
	off := op - src
	switch {
	case off >= ml:
		copy(buf[op:op+ml], buf[src:src+ml])
	case off >= 16:
		for n := 0; n < ml; n += 16 {
			*(*[16]byte)(buf[op+n:]) = *(*[16]byte)(buf[src+n:])
		}
	case off >= 8:
		for n := 0; n < ml; n += 8 {
			*(*[8]byte)(buf[op+n:]) = *(*[8]byte)(buf[src+n:])
		}
	default:
		// Short period: double the copied pattern each step.
		end := op + ml
		for w := op; w < end; {
			w += copy(buf[w:end], buf[src:w])
		}
	}
}
