package bzip2

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
	"github.com/bmap-tools/bmap/decompress/internal/sample"
	dsbzip2 "github.com/dsnet/compress/bzip2"
)

// Test inputs, made once per process.
var (
	cacheMu sync.Mutex
	cache   = map[string][]byte{}
)

func cached(key string, make func() []byte) []byte {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if b, ok := cache[key]; ok {
		return b
	}
	b := make()
	cache[key] = b
	return b
}

var words = strings.Fields("the quick brown fox jumps over a lazy dog bmap block device image sparse " +
	"range checksum sha256 flash write sector partition ext4 superblock inode journal")

// mixed returns n deterministic bytes of the kinds disk images hold: long
// zero runs, random (incompressible) data, text, and runs of every length
// around the first run-length stage's limits (4 and 255).
func mixed(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 42))
	out := make([]byte, 0, n+1<<20)
	for len(out) < n {
		switch r.IntN(6) {
		case 0: // zeros
			out = append(out, make([]byte, r.IntN(1<<20))...)
		case 1: // random
			for range r.IntN(64 << 10) {
				out = append(out, byte(r.Uint32()))
			}
		case 2: // text
			for range r.IntN(20000) {
				out = append(out, words[r.IntN(len(words))]...)
				out = append(out, ' ')
			}
		case 3: // runs
			for range r.IntN(3000) {
				l := []int{1, 2, 3, 4, 5, 6, 250, 251, 252, 254, 255, 256, 258, 259, 260, 1000}[r.IntN(16)]
				out = append(out, bytes.Repeat([]byte{byte(r.IntN(4))}, l)...)
			}
		case 4: // a short repeated pattern
			pat := make([]byte, 1+r.IntN(40))
			for i := range pat {
				pat[i] = byte(r.Uint32())
			}
			out = append(out, bytes.Repeat(pat, r.IntN(20000))...)
		case 5: // small integers
			for range r.IntN(100000) {
				out = append(out, byte(r.NormFloat64()*3))
			}
		}
	}
	return out[:n]
}

type testCase struct {
	name       string
	orig, comp []byte
	heavy      bool // slow to decode: fewer cuts and flips
}

// cases returns the round-trip inputs: every producer and the edge cases.
func cases(t *testing.T) []testCase {
	mix := cached("mix", func() []byte { return mixed(2<<20, 1) })
	mix2 := cached("mix2", func() []byte { return mixed(1<<20, 2) })
	rnd := cached("rnd", func() []byte { return sample.Random(1<<20, 3) }) // 2 blocks
	zeros := make([]byte, 48<<20)                                          // one block of 45 MB, one of 3 MB
	var cs []testCase
	add := func(name string, orig []byte, comp func() []byte) {
		// Heavy: big outputs, or random data, where a corrupted tree
		// length table often makes dsnet explore 2^20 codes.
		heavy := len(orig) > 4<<20 || name == "random"
		cs = append(cs, testCase{name, orig, cached(name, comp), heavy})
	}
	add("bzip2-1", mix, func() []byte { return sample.Compress(t, mix, "bzip2", "-1") })
	add("bzip2-9", mix, func() []byte { return sample.Compress(t, mix, "bzip2", "-9") })
	add("pbzip2", mix, func() []byte { return sample.Compress(t, mix, "pbzip2", "-c", "-b1", "-p2") })
	add("lbzip2", mix, func() []byte { return sample.Compress(t, mix, "lbzip2", "-9", "-n2") })
	add("empty", nil, func() []byte { return sample.Compress(t, nil, "bzip2") })
	add("one-byte", []byte{'x'}, func() []byte { return sample.Compress(t, []byte{'x'}, "bzip2") })
	// bzip2 1.0.8 -9 of the 48 MiB of zeros, stored: compressing them
	// takes a second.
	add("zeros", zeros, func() []byte {
		b, err := os.ReadFile("testdata/zeros-48MiB.bz2")
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
	// lbzip2 cuts zeros in blocks of about 1 MB whose prefix codes are
	// incomplete, a slow path in dsnet (about 50 ms a block).
	add("zeros-lbzip2", zeros[:8<<20], func() []byte { return sample.Compress(t, zeros[:8<<20], "lbzip2", "-n2") })
	add("random", rnd, func() []byte { return sample.Compress(t, rnd, "bzip2", "-9") })
	cat := append(append(append([]byte{}, mix2...), rnd[:100000]...), mix2[:5000]...)
	add("cat", cat, func() []byte {
		var b []byte
		b = append(b, sample.Compress(t, mix2, "bzip2", "-1")...)
		b = append(b, sample.Compress(t, nil, "bzip2", "-9")...) // a stream without blocks
		b = append(b, sample.Compress(t, rnd[:100000], "pbzip2", "-c", "-b1", "-p2")...)
		b = append(b, sample.Compress(t, mix2[:5000], "lbzip2", "-5")...)
		return b
	})
	return cs
}

// decodeAll decodes comp with our Reader.
func decodeAll(comp []byte, workers int, wrap func(io.Reader) io.Reader) ([]byte, *Reader, error) {
	var r io.Reader = bytes.NewReader(comp)
	if wrap != nil {
		r = wrap(r)
	}
	z := NewReader(r, workers)
	defer z.Close()
	out, err := io.ReadAll(z)
	return out, z, err
}

// decodeCmp decodes comp with our Reader and compares the output with
// want as it comes, without keeping it (outputs of tens of MB).
func decodeCmp(comp, want []byte, workers int, wrap func(io.Reader) io.Reader) (same bool, z *Reader, err error) {
	var r io.Reader = bytes.NewReader(comp)
	if wrap != nil {
		r = wrap(r)
	}
	z = NewReader(r, workers)
	defer z.Close()
	buf := make([]byte, 1<<20)
	same = true
	for {
		n, err := z.Read(buf)
		same = same && n <= len(want) && bytes.Equal(buf[:n], want[:n])
		if same {
			want = want[n:]
		}
		if err == io.EOF {
			return same && len(want) == 0, z, nil
		}
		if err != nil {
			return false, z, err
		}
	}
}

func TestRoundTrip(t *testing.T) {
	wraps := []struct {
		name string
		f    func(io.Reader) io.Reader
	}{{"plain", nil}, {"onebyte", iotest.OneByteReader}, {"half", iotest.HalfReader}}
	for _, c := range cases(t) {
		for _, w := range []int{1, 2, 4} {
			for _, wr := range wraps {
				if wr.f != nil && (len(c.comp) > 4<<20 || len(c.orig) > 4<<20) {
					continue // slow, and the wrapper tests the splitter
				}
				t.Run(fmt.Sprintf("%s/w%d/%s", c.name, w, wr.name), func(t *testing.T) {
					same, z, err := decodeCmp(c.comp, c.orig, w, wr.f)
					if err != nil {
						t.Fatal(err)
					}
					if !same {
						t.Fatal("output differs")
					}
					if got := z.InputOffset(); got != int64(len(c.comp)) {
						t.Errorf("InputOffset = %d, want %d", got, len(c.comp))
					}
				})
			}
		}
	}
}

// TestSmallReads checks Read with buffers of every size (iotest.TestReader).
func TestSmallReads(t *testing.T) {
	for _, c := range cases(t) {
		if c.name != "cat" && c.name != "lbzip2" {
			continue
		}
		z := NewReader(bytes.NewReader(c.comp), 2)
		if err := iotest.TestReader(z, c.orig); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		z.Close()
	}
}

// dsnetDecode is the reference: dsnet's sequential reader on the whole
// input (it reads concatenated streams).
func dsnetDecode(comp []byte, limit int64) ([]byte, error) {
	z, err := dsnetReader(bytes.NewReader(comp))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(z, limit))
}

func dsnetReader(r io.Reader) (io.Reader, error) { return dsbzip2.NewReader(r, nil) }

// TestTruncated cuts inputs at 50 points (10 for the slow ones) and in
// their last bytes. Every cut of a one-stream file must fail with
// io.ErrUnexpectedEOF. A multi-stream (pbzip2) file cut exactly between
// streams is a valid file, so there the rule is: a cut inside a stream
// fails with io.ErrUnexpectedEOF, and at a stream boundary ours returns
// what dsnet returns.
func TestTruncated(t *testing.T) {
	for _, c := range cases(t) {
		if c.name == "empty" || c.name == "one-byte" {
			continue
		}
		single := c.name != "pbzip2" && c.name != "cat"
		cuts := map[int]bool{}
		n, tail := 50, 8
		if len(c.orig) > 4<<20 { // tiny inputs of zeros: few cuts, slow ones
			n, tail = 8, 3
		}
		for k := range n {
			cuts[len(c.comp)*k/n] = true
		}
		for k := 1; k <= tail; k++ {
			cuts[len(c.comp)-k] = true
		}
		bounds := streamStarts(c.comp)
		for _, b := range bounds {
			cuts[b] = true // the end of the stream before
		}
		t0 := time.Now()
		for cut := range cuts {
			if cut <= 0 {
				continue
			}
			if single || !slices.Contains(bounds, cut) {
				_, _, err := decodeCmp(c.comp[:cut], nil, 2, nil)
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("%s cut at %d/%d: err = %v, want io.ErrUnexpectedEOF", c.name, cut, len(c.comp), err)
				}
				continue
			}
			out, _, err := decodeAll(c.comp[:cut], 2, nil)
			ref, rerr := dsnetDecode(c.comp[:cut], 1<<30)
			switch {
			case rerr != nil:
				t.Errorf("%s cut at %d (between streams): dsnet fails: %v", c.name, cut, rerr)
			case err != nil:
				t.Errorf("%s cut at %d (between streams): %v", c.name, cut, err)
			case !bytes.Equal(out, ref):
				t.Errorf("%s cut at %d: output differs from dsnet", c.name, cut)
			}
		}
		t.Logf("%s: %d cuts (%v)", c.name, len(cuts), time.Since(t0).Round(time.Millisecond))
	}
}

// streamStarts returns the byte offsets of the stream headers after the
// first (a stream header followed by a block or end-of-stream magic).
func streamStarts(comp []byte) []int {
	var s []int
	for i := 1; i+10 <= len(comp); i++ {
		if ok, _ := isHeader(comp[i:]); ok && magicAt(comp[i:], 32) != 0 {
			s = append(s, i)
		}
	}
	return s
}

// blockStarts lists the byte offsets of the block magics of a real
// compressor's output (which has no false magics in practice).
func blockStarts(comp []byte) []int64 {
	var s []int64
	for p := int64(0); ; p++ {
		q, m, ok := findMagic(comp, p)
		if !ok {
			return s
		}
		if m == blockMagic {
			s = append(s, q>>3)
		}
		p = q
	}
}

// TestCorrupted flips bytes all over the inputs: the result must be an
// error, or the exact original (a flip in padding bits). A flip inside a
// block's data must name that block.
func TestCorrupted(t *testing.T) {
	for _, c := range cases(t) {
		t0 := time.Now()
		starts := blockStarts(c.comp)
		r := rand.New(rand.NewPCG(9, uint64(len(c.comp))))
		var pos []int
		n := 24
		if c.heavy {
			n = 6
		}
		for k := range n {
			pos = append(pos, len(c.comp)*k/n+r.IntN(max(1, len(c.comp)/n)))
		}
		for k := range min(len(c.comp), n/4+2) {
			pos = append(pos, k, len(c.comp)-1-k)
		}
		bad, same := 0, 0
		for _, p := range pos {
			if p >= len(c.comp) {
				continue
			}
			comp := bytes.Clone(c.comp)
			comp[p] ^= byte(1 + r.IntN(255))
			ok, _, err := decodeCmp(comp, c.orig, 2, nil)
			if err == nil {
				if !ok {
					t.Errorf("%s: byte %d flipped: success with wrong output", c.name, p)
				}
				same++
				continue
			}
			bad++
			// Which block holds byte p, with a margin for the magic and CRC?
			var be *fault.Error
			for i, s := range starts {
				end := int64(len(c.comp))
				if i+1 < len(starts) {
					end = starts[i+1]
				}
				if int64(p) >= s+12 && int64(p) < end-12 {
					if !errors.As(err, &be) || be.What != "block" {
						if !strings.Contains(err.Error(), "stream checksum") {
							t.Errorf("%s: byte %d flipped: not an Error: %v", c.name, p, err)
						}
					} else if be.Offset != s {
						t.Errorf("%s: byte %d flipped: error names block %d, want %d: %v", c.name, p, be.Offset, s, err)
					}
				}
			}
		}
		t.Logf("%s: %d flips failed, %d decoded to the original (%v)", c.name, bad, same, time.Since(t0).Round(time.Millisecond))
	}
}

// letters returns n bytes of random letters without a run of 4.
func letters(r *rand.Rand, n int) []byte {
	b := make([]byte, 0, n)
	for len(b) < n {
		c := byte('a' + r.IntN(26))
		if l := len(b); l >= 3 && b[l-1] == c && b[l-2] == c && b[l-3] == c {
			continue
		}
		b = append(b, c)
	}
	return b
}

// TestCraftedFalseMagic decodes streams whose block data contains the
// block magic and the end-of-stream magic at arbitrary bit offsets (made
// with the test encoder in craft_test.go and checked against the real
// bzip2). The splitter cuts there; both halves fail; the consumer must
// merge them and produce the exact data.
func TestCraftedFalseMagic(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	bm, em := magicBits(blockMagic)+"0", magicBits(eosMagic)+"0"
	var want []byte
	var w craftWriter
	var starts []int64
	stream := func(level byte, blocks ...craftBlock) {
		for _, b := range blocks {
			want = append(want, b.data...)
		}
		starts = append(starts, craftStream(&w, level, blocks)...)
	}
	blk := func(n int, extra string) craftBlock { return craftBlock{letters(r, n), extra} }
	stream(9,
		blk(3000, ""),
		blk(2000, bm),                 // false block magic
		blk(2500, em),                 // false end-of-stream magic
		blk(1000, "0110"+bm+"10"+em),  // both
		blk(1500, bm+"0"+bm+"110"+bm), // three in one block
		blk(800, bm),                  // last block of the stream
	)
	stream(1, blk(700, em), blk(900, bm+em))
	stream(5, blk(600, bm))
	comp := w.buf

	// The test encoder's output must be valid bzip2.
	if path, err := exec.LookPath("bzip2"); err == nil {
		cmd := exec.Command(path, "-dc")
		cmd.Stdin = bytes.NewReader(comp)
		out, err := cmd.Output()
		if err != nil || !bytes.Equal(out, want) {
			t.Fatalf("bzip2 -dc rejects the crafted stream: %v", err)
		}
	}
	if ref, err := dsnetDecode(comp, 1<<30); err != nil || !bytes.Equal(ref, want) {
		t.Fatalf("dsnet rejects the crafted stream: %v", err)
	}
	// The scan must see the false magics, or this test proves nothing.
	real := map[int64]bool{}
	for _, s := range starts {
		real[s] = true
	}
	falseOnes := 0
	for p := int64(0); ; p++ {
		q, m, ok := findMagic(comp, p)
		if !ok {
			break
		}
		if m == blockMagic && !real[q] {
			falseOnes++
		}
		p = q
	}
	if falseOnes < 8 {
		t.Fatalf("only %d false block magics found", falseOnes)
	}
	for _, workers := range []int{1, 2, 4} {
		for _, wrap := range []func(io.Reader) io.Reader{nil, iotest.OneByteReader} {
			out, z, err := decodeAll(comp, workers, wrap)
			if err != nil {
				t.Fatalf("workers %d: %v", workers, err)
			}
			if !bytes.Equal(out, want) {
				t.Fatalf("workers %d: output differs", workers)
			}
			if z.merges != 6 { // one per block with false block magics
				t.Errorf("workers %d: %d merges, want 6", workers, z.merges)
			}
		}
	}

	// A corrupted block that contains a false magic still fails, naming
	// the block (merging never hides corruption).
	for i, s := range starts {
		bad := bytes.Clone(comp)
		bad[s/8+150] ^= 0x10 // in the Huffman-coded data
		_, _, err := decodeAll(bad, 2, nil)
		var be *fault.Error
		if !errors.As(err, &be) || be.Offset != s/8 {
			t.Errorf("block %d corrupted: err = %v, want an Error at %d", i, err, s/8)
		}
	}
}

// TestTrailing checks what follows the last stream.
func TestTrailing(t *testing.T) {
	c := cases(t)[0]
	for _, tc := range []struct {
		name  string
		tail  []byte
		want  error
		clean bool // all the data is served before the error
	}{
		{"text", []byte("hello, world\n"), fault.ErrTrailingData, true},
		{"zeros", make([]byte, 10<<20), fault.ErrTrailingData, true},
		{"one-byte", []byte{0}, fault.ErrTrailingData, true},
		{"partial-header", []byte("BZ"), io.ErrUnexpectedEOF, true},
		{"header-only", []byte("BZh9"), io.ErrUnexpectedEOF, true},
		{"header-garbage", []byte("BZh91AY&SYgarbage-garbage"), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			comp := append(bytes.Clone(c.comp), tc.tail...)
			out, z, err := decodeAll(comp, 2, nil)
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.clean && !bytes.Equal(out, c.orig) {
				t.Errorf("got %d bytes before the error, want %d", len(out), len(c.orig))
			}
			if tc.want == fault.ErrTrailingData && z.InputOffset() != int64(len(c.comp)) {
				t.Errorf("InputOffset = %d, want %d", z.InputOffset(), len(c.comp))
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	endless := "BZh91AY&SY" + strings.Repeat("\x00", 5<<20) // no block end
	for _, in := range []string{"", "B", "BZh", "BZh9", "hello world", "BZh0\x31\x41\x59\x26\x53\x59", "BZh9\x31\x41\x59\x26\x53\x59", endless} {
		out, _, err := decodeAll([]byte(in), 2, nil)
		if err == nil || len(out) > 0 {
			t.Errorf("%q: %d bytes, err %v", in, len(out), err)
		}
	}
}

type errAfter struct {
	r   io.Reader
	n   int
	err error
}

func (e *errAfter) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, e.err
	}
	p = p[:min(len(p), e.n)]
	n, err := e.r.Read(p)
	e.n -= n
	return n, err
}

func TestReadError(t *testing.T) {
	c := cases(t)[3]
	myErr := errors.New("disk on fire")
	for _, n := range []int{0, 10, len(c.comp) / 2, len(c.comp) - 1} {
		_, _, err := decodeAll(c.comp, 2, func(r io.Reader) io.Reader { return &errAfter{r, n, myErr} })
		if !errors.Is(err, myErr) {
			t.Errorf("error after %d bytes: got %v", n, err)
		}
	}
}

// TestClose closes readers in the middle of a stream, including while the
// splitter and the workers wait for memory.
func TestClose(t *testing.T) {
	before := runtime.NumGoroutine()
	for _, c := range cases(t) {
		for _, n := range []int{0, 1, 1 << 20} {
			z := NewReader(bytes.NewReader(c.comp), 2)
			io.CopyN(io.Discard, z, int64(n))
			if err := z.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := z.Read(make([]byte, 10)); err == nil {
				t.Fatal("Read after Close succeeded")
			}
			z.Close() // twice is harmless
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines left running", n-before)
	}
}

// TestFindMagic checks the bit scan against a naive one at every shift.
func TestFindMagic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 2000 {
		buf := sample.Random(20+r.IntN(60), uint64(trial))
		var want []int64
		for k := range 1 + r.IntN(3) {
			p := int64(r.IntN(len(buf)*8 - 48))
			m := uint64(blockMagic)
			if (trial+k)%2 == 1 {
				m = eosMagic
			}
			putBits(buf, p, m, 48)
		}
		for p := int64(0); p+48 <= int64(len(buf))*8; p++ {
			if magicAt(buf, p) != 0 {
				want = append(want, p)
			}
		}
		var got []int64
		for p := int64(0); ; p++ {
			q, _, ok := findMagic(buf, p)
			if !ok {
				break
			}
			got = append(got, q)
			p = q
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("trial %d: got %v, want %v", trial, got, want)
		}
	}
}

// putBits writes the low n bits of v, most significant first, at bit pos.
func putBits(buf []byte, pos int64, v uint64, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		j, m := pos>>3, byte(0x80)>>uint(pos&7)
		if v>>uint(i)&1 != 0 {
			buf[j] |= m
		} else {
			buf[j] &^= m
		}
		pos++
	}
}

// FuzzReader: no panic, bounded memory, and dsnet's sequential reader,
// the reference, agrees: both decode the input, to the same bytes, or
// both fail.
func FuzzReader(f *testing.F) {
	for _, in := range []string{"", "BZh9", "BZh91AY&SY"} {
		f.Add([]byte(in))
	}
	small := mixed(200000, 11)
	for _, args := range [][]string{{"-1"}, {"-9"}} {
		if sample.Have("bzip2") {
			f.Add(sample.Compress(f, small[:3000], "bzip2", args...))
			f.Add(sample.Compress(f, bytes.Repeat([]byte{7}, 100000), "bzip2", args...))
		}
	}
	if sample.Have("pbzip2") {
		f.Add(sample.Compress(f, small, "pbzip2", "-c", "-b1", "-p2")[:20000])
	}
	var w craftWriter
	r := rand.New(rand.NewPCG(3, 3))
	craftStream(&w, 9, []craftBlock{{letters(r, 300), magicBits(blockMagic) + "0"}, {letters(r, 200), ""}})
	f.Add(w.buf)
	const limit = 16 << 20 // bounds the time per input (runs of zeros expand 50×)
	f.Fuzz(func(t *testing.T, in []byte) {
		defer sample.Watchdog(time.Minute)()
		if len(in) > 1<<20 {
			return
		}
		ref, rerr := dsnetDecode(in, limit)
		z := NewReader(bytes.NewReader(in), 2)
		defer z.Close()
		out, err := io.ReadAll(io.LimitReader(z, limit))
		if errors.Is(err, fault.ErrInternal) {
			t.Fatalf("%v\n%s", err, fault.StackOf(err))
		}
		if len(out) == limit || len(ref) == limit {
			if n := min(len(out), len(ref)); !bytes.Equal(out[:n], ref[:n]) {
				t.Fatalf("outputs differ at %d", sample.FirstDiff(out, ref))
			}
			return
		}
		switch {
		case rerr != nil && err == nil:
			t.Fatalf("dsnet fails (%v), ours succeeds", rerr)
		case rerr == nil && err != nil:
			t.Fatalf("dsnet decodes %d bytes, ours fails: %v", len(ref), err)
		case rerr == nil && !bytes.Equal(out, ref):
			t.Fatalf("outputs differ: %d vs %d bytes", len(out), len(ref))
		}
	})
}
