package bzip2

import (
	"bytes"
	"errors"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
	"github.com/bmap-tools/bmap/decompress/internal/sample"
)

// naiveInvert is the inverse BWT as bzip2 does it: n steps from the
// origin row along the links.
func naiveInvert(ll []byte, orig int) []byte {
	var count, cf [256]int
	for _, c := range ll {
		count[c]++
	}
	for c := 1; c < 256; c++ {
		cf[c] = cf[c-1] + count[c-1]
	}
	next := make([]int, len(ll))
	for i, c := range ll {
		next[cf[c]] = i
		cf[c]++
	}
	out := make([]byte, len(ll))
	r := orig
	for k := range out {
		r = next[r]
		out[k] = ll[r]
	}
	return out
}

// bwtOf returns the Burrows-Wheeler transform of data (sorted naively:
// for data without long repeats).
func bwtOf(data []byte) (last []byte, orig int) {
	n := len(data)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(x, y int) int {
		for k := range n {
			if cx, cy := data[(x+k)%n], data[(y+k)%n]; cx != cy {
				return int(cx) - int(cy)
			}
		}
		return 0
	})
	last = make([]byte, n)
	for j, i := range idx {
		if i == 0 {
			orig = j
		}
		last[j] = data[(i+n-1)%n]
	}
	return last, orig
}

// TestInvertValid inverts real transforms, of random text and of periodic
// text u^k (whose links form several cycles): the transform of u^k is that
// of u with each byte repeated k times, and any of the k rows of the
// original string is a valid origin.
func TestInvertValid(t *testing.T) {
	text := sample.Random(100000, 9)
	last, orig := bwtOf(text)
	for _, u := range [][]byte{sample.Random(1000, 10), letters(rand.New(rand.NewPCG(2, 2)), 37), []byte("ab")} {
		lu, ou := bwtOf(u)
		k := 100000 / len(u)
		var lk []byte
		for _, c := range lu {
			lk = append(lk, bytes.Repeat([]byte{c}, k)...)
		}
		for _, o := range []int{k * ou, k*ou + k - 1, k*ou + k/2} {
			var d blockDecoder
			var counts [256]uint32
			for _, c := range lk {
				counts[c]++
			}
			got := bytes.Clone(lk)
			d.invert(got, &counts, uint32(o))
			if want := bytes.Repeat(u, k); !bytes.Equal(got, want) {
				t.Errorf("(%d bytes)^%d, origin %d: differs", len(u), k, o)
			}
		}
	}
	var d blockDecoder
	var counts [256]uint32
	for _, c := range last {
		counts[c]++
	}
	d.invert(last, &counts, uint32(orig))
	if !bytes.Equal(last, text) {
		t.Error("random text: differs")
	}
}

// TestInvert checks the laned inverse BWT against the plain walk, on
// columns whose links form one cycle, many cycles (periodic blocks, and
// random columns), and with tiny lane regions (the overflow path).
func TestInvert(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	periodic := func(n, p int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i%p) * 37
		}
		return b
	}
	cols := map[string][]byte{
		"random":   sample.Random(300000, 5),
		"letters":  letters(r, 200000),
		"small":    sample.Random(1000, 6),
		"same":     bytes.Repeat([]byte{9}, 100000),
		"periodic": periodic(120000, 5),
		"two":      periodic(65536, 2),
		"runs":     bytes.Repeat(append(bytes.Repeat([]byte{1}, 40), sample.Random(30, 1)...), 2000),
	}
	for name, ll := range cols {
		for _, region := range []int{0, 700, 5000} {
			for _, orig := range []int{0, 512, len(ll) / 3, len(ll) - 1} {
				want := naiveInvert(ll, orig)
				var d blockDecoder
				d.region = region
				var counts [256]uint32
				for _, c := range ll {
					counts[c]++
				}
				got := bytes.Clone(ll)
				d.invert(got, &counts, uint32(orig))
				if !bytes.Equal(got, want) {
					t.Errorf("%s region %d orig %d: differs", name, region, orig)
				}
			}
		}
	}
}

// badStream returns a stream of two blocks: a valid one of good, and the
// block of f, cut to its first cut bits if cut > 0. It also returns the
// byte offset of f's block.
func badStream(level byte, good []byte, f *blockFields, cut int64) ([]byte, int64) {
	var w craftWriter
	w.write(uint64('B')<<24|uint64('Z')<<16|uint64('h')<<8|uint64('0'+level), 32)
	g := craftFields(good, true)
	g.write(&w)
	start := w.n
	var b craftWriter
	f.write(&b)
	if cut <= 0 {
		cut = b.n
	}
	for p := int64(0); p < cut; p++ {
		w.write(getBits(b.buf, p, 1), 1)
	}
	w.write(eosMagic, 48)
	w.write(uint64(bits.RotateLeft32(g.crc, 1)^f.crc), 32)
	if w.n%8 != 0 {
		w.write(0, uint(8-w.n%8))
	}
	return w.buf, start >> 3
}

// TestBlockErrors makes blocks that each fail one check of the decoder
// and checks that the Reader names the check and the block.
func TestBlockErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	good := letters(r, 500)
	data := letters(r, 3000) // 60 groups of symbols
	type tc struct {
		name  string
		level byte
		data  []byte
		edit  func(f *blockFields)
		cut   func(f *blockFields) int64
		want  error
	}
	cases := []tc{
		{name: "randomised", edit: func(f *blockFields) { f.randomised = true }, want: errRandomised},
		{name: "no bytes", edit: func(f *blockFields) { f.inUse = [256]bool{} }, want: errNoBytes},
		{name: "1 table", edit: func(f *blockFields) { f.nGroups = 1 }, want: errGroups},
		{name: "7 tables", edit: func(f *blockFields) { f.nGroups = 7 }, want: errGroups},
		{name: "no selectors", edit: func(f *blockFields) { f.nSels, f.sels = 0, nil }, want: errNoSelectors},
		{name: "selector 6 of 6", edit: func(f *blockFields) { f.sels[3] = 6 }, want: errSelector},
		{name: "selector 2 of 2", edit: func(f *blockFields) {
			f.nGroups, f.lens = 2, f.lens[:2]
			f.sels[5] = 2
		}, want: errSelector},
		{name: "length 0", edit: func(f *blockFields) { f.firstLen = []int{0, 0, 31} }, want: errCodeLen},
		{name: "length 0 by steps", edit: func(f *blockFields) { f.lenBits = []string{"", "00001" + "11"} }, want: errCodeLen},
		{name: "length 21", edit: func(f *blockFields) { f.lenBits = []string{"10100" + "10"} }, want: errCodeLen},
		{name: "over-subscribed", edit: func(f *blockFields) {
			f.lens[4] = repeat(1, len(f.lens[4]))
		}, want: errOversub},
		{name: "unused code", edit: func(f *blockFields) {
			f.lens[0] = repeat(20, len(f.lens[0]))
			f.symBits = strings.Repeat("1", 20)
		}, want: errBadCode},
		{name: "few selectors", edit: func(f *blockFields) { f.nSels, f.sels = 10, f.sels[:10] }, want: errFewSelectors},
		{name: "level 1 overflow", level: 1, edit: func(f *blockFields) {
			f.syms = append(runDigits(100001), len(f.lens[0])-1)
		}, want: errTooBig},
		{name: "level 1 at the limit, bad CRC", level: 1, edit: func(f *blockFields) {
			f.syms = append(runDigits(100000), len(f.lens[0])-1)
		}, want: errBlockCRC},
		{name: "level 9 overflow", level: 9, edit: func(f *blockFields) {
			f.syms = append(runDigits(899990), 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, len(f.lens[0])-1)
		}, want: errTooBig},
		{name: "run digits", edit: func(f *blockFields) {
			f.syms = append(repeat(0, 22), len(f.lens[0])-1)
		}, want: errTooBig},
		{name: "origin pointer", edit: func(f *blockFields) { f.origPtr = 3000 }, want: errOrigPtr},
		{name: "origin pointer max", edit: func(f *blockFields) { f.origPtr = 1<<24 - 1 }, want: errOrigPtr},
		{name: "no end of block", edit: func(f *blockFields) { f.syms = f.syms[:len(f.syms)-1] }, want: errFewSelectors},
		{name: "run count", data: append(letters(r, 100), "zzzz"...), want: errRunCount},
		{name: "block CRC", edit: func(f *blockFields) { f.crc ^= 1 << 20 }, want: errBlockCRC},
		{name: "tail", edit: func(f *blockFields) { f.tail = "0110" }, want: errBlockTail},
		{name: "cut", cut: func(f *blockFields) int64 {
			// 5 symbols before the end of the 30th group.
			var w craftWriter
			syms := f.syms
			f.syms = syms[:30*50-5]
			f.write(&w)
			f.syms = syms
			return w.n
		}, want: errBlockEnds},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			level := c.level
			if level == 0 {
				level = 9
			}
			d := data
			if c.data != nil {
				d = c.data
			}
			f := craftFields(d, c.data == nil)
			if c.edit != nil {
				c.edit(f)
			}
			if n := (len(f.syms) + 49) / 50; len(f.sels) < n && c.name != "few selectors" && c.name != "no selectors" {
				f.sels = append(f.sels, make([]int, n-len(f.sels))...)
				f.nSels = len(f.sels)
			}
			var cut int64
			if c.cut != nil {
				cut = c.cut(f)
			}
			comp, off := badStream(level, good, f, cut)
			out, _, err := decodeAll(comp, 2, nil)
			var e *fault.Error
			if !errors.As(err, &e) || e.Offset != off || e.What != "block" || !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v in the block at %d", err, c.want, off)
			}
			if !bytes.Equal(out, good) {
				t.Errorf("got %d bytes before the error, want the %d of the first block", len(out), len(good))
			}
		})
	}
}

// TestNotBlock calls the block decoder on bits without a block magic.
func TestNotBlock(t *testing.T) {
	buf := make([]byte, 64)
	if _, _, err := newBlockDecoder().decode(buf, 3, 300, 9); err != errNotBlock {
		t.Errorf("err = %v, want %v", err, errNotBlock)
	}
	if _, _, err := newBlockDecoder().decode(buf, 0, 300, 0); err != errTooBig {
		t.Errorf("level 0: err = %v, want %v", err, errTooBig)
	}
}

// TestIncompleteCode decodes a block whose table is an incomplete code
// (all lengths 20, as lbzip2 writes unused tables) used by its symbols.
func TestIncompleteCode(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	data := letters(r, 2000)
	f := craftFields(data, true)
	for t := range f.lens {
		f.lens[t] = repeat(20, len(f.lens[t]))
	}
	comp, _ := badStream(9, data[:100], f, 0)
	out, _, err := decodeAll(comp, 1, nil)
	if err != nil || !bytes.Equal(out, append(data[:100:100], data...)) {
		t.Fatalf("err %v, %d bytes", err, len(out))
	}
}

// blockBits returns the blocks of a compressed stream, each shifted to
// start at bit 0 of its own slice, with its length in bits.
func blockBits(comp []byte) (blocks [][]byte, nbits []int64, levels []byte) {
	var pool bufPool
	sp := newSplitter(bytes.NewReader(comp), &pool)
	for {
		s, err := sp.next()
		if err != nil {
			return
		}
		if s.eos {
			continue
		}
		var w bitAppender
		w.copy(s.buf, s.off&7, s.nbits)
		blocks = append(blocks, w.bytes())
		nbits = append(nbits, s.nbits)
		levels = append(levels, s.level)
	}
}

// hasIncomplete reports whether d built a table that is an incomplete
// code.
func hasIncomplete(d *blockDecoder) bool {
	for t := range d.tables {
		var k uint32
		for l := 1; l <= maxCodeLen; l++ {
			k += d.tables[t].count[l] << (maxCodeLen - l)
		}
		if k != 0 && k != 1<<maxCodeLen {
			return true
		}
	}
	return false
}

// FuzzBlock decodes one block with the block decoder, outside the Reader
// (no recover): no panic, and dsnet, given the same block wrapped as a
// stream, agrees: both decode it, to the same bytes, or both fail.
func FuzzBlock(f *testing.F) {
	add := func(comp []byte) {
		blocks, nbits, levels := blockBits(comp)
		for i, b := range blocks {
			f.Add(b, levels[i]-1, byte(int64(len(b))*8-nbits[i]))
		}
	}
	small := mixed(60000, 12)
	if sample.Have("bzip2") {
		add(sample.Compress(f, small[:3000], "bzip2", "-1"))
		add(sample.Compress(f, small[20000:40000], "bzip2", "-9"))
		add(sample.Compress(f, make([]byte, 100000), "bzip2", "-9"))
	}
	if sample.Have("lbzip2") {
		add(sample.Compress(f, make([]byte, 50000), "lbzip2", "-9"))
		add(sample.Compress(f, small[:10000], "lbzip2", "-2"))
	}
	var w craftWriter
	r := rand.New(rand.NewPCG(4, 4))
	craftStream(&w, 9, []craftBlock{{letters(r, 700), "0110" + magicBits(eosMagic) + "0"}})
	add(w.buf)
	fuzzDec := newBlockDecoder()
	f.Fuzz(func(t *testing.T, block []byte, level, pad byte) {
		defer sample.Watchdog(time.Minute)()
		level = 1 + level%9
		end := int64(len(block))*8 - int64(pad%8)
		if end < 48 || len(block) > 1<<20 {
			return
		}
		const limit = 1 << 20 // bounds the time per input
		d := fuzzDec
		d.tables = [maxGroups]huffman{}
		n, crc, err := d.decode(block, 0, end, level)
		var out []byte
		if err == nil {
			var got uint32
			var ok bool
			out, got, err, ok = expand(d.ll[:n], make([]byte, outEst(level)), func(out []byte, o, need int) ([]byte, bool) {
				if len(out) >= limit {
					return nil, false
				}
				return append(out[:o], make([]byte, max(need, len(out)))...), true
			})
			if !ok {
				return
			}
			if err == nil && got != crc {
				err = errBlockCRC
			}
		}
		if err == errOversub || hasIncomplete(d) {
			return // dsnet takes seconds to explore such codes
		}
		// The same block as a stream, for dsnet.
		var sw bitAppender
		sw.put('B'<<24|'Z'<<16|'h'<<8|uint64('0'+level), 32)
		sw.copy(block, 0, end)
		sw.put(eosMagic>>24, 24)
		sw.put(eosMagic&(1<<24-1), 24)
		sw.put(getBits(block, 48, 32), 32)
		ref, rerr := dsnetDecode(sw.bytes(), limit)
		switch {
		case len(ref) == limit:
		case rerr != nil && err == nil:
			t.Fatalf("dsnet fails (%v), ours succeeds", rerr)
		case rerr == nil && err != nil:
			t.Fatalf("dsnet decodes %d bytes, ours fails: %v", len(ref), err)
		case rerr == nil && !bytes.Equal(out, ref):
			t.Fatalf("outputs differ: %d vs %d bytes", len(out), len(ref))
		}
	})
}

func TestCRC(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("a"), sample.Random(1000, 3), bytes.Repeat([]byte{0xa5}, 77)} {
		for k := range 9 {
			if len(b) >= k {
				if got, want := ^crcUpdate(^uint32(0), b[k:]), bzCRC(b[k:]); got != want {
					t.Errorf("crcUpdate of %d bytes = %08x, want %08x", len(b)-k, got, want)
				}
			}
		}
	}
	for _, b := range []byte{0, 1, 0x80, 0xff, 0x5a} {
		for _, c := range []uint32{0, 1, 0xffffffff, 0x12345678} {
			if got, want := crcRun255(c, b), crcUpdate(c, bytes.Repeat([]byte{b}, 255)); got != want {
				t.Errorf("crcRun255(%08x, %d) = %08x, want %08x", c, b, got, want)
			}
		}
	}
}

// repeat returns n copies of v.
func repeat(v, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}
