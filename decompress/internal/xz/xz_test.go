package xz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
	"github.com/bmap-tools/bmap/decompress/internal/sample"
	xzdec "github.com/therootcompany/xz"
)

// mixed returns n bytes of random, text-like and zero runs, in pieces of
// 16 to 216 KiB: larger than sample.Mixed's, so that some 48 KiB blocks
// are all random and, in the small config, decoded sequentially.
func mixed(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	words := strings.Fields("the quick brown fox jumps over a lazy dog while bmap flashes images to block devices")
	b := make([]byte, 0, n)
	for len(b) < n {
		seg := 16<<10 + rng.IntN(200<<10)
		end := min(n, len(b)+seg)
		switch rng.IntN(3) {
		case 0:
			for len(b) < end {
				b = append(b, byte(rng.Uint32()))
			}
		case 1:
			for len(b) < end {
				b = append(b, words[rng.IntN(len(words))]...)
				b = append(b, ' ')
			}
			b = b[:end]
		default:
			b = append(b, make([]byte, end-len(b))...)
		}
	}
	return b
}

// compress compresses data with xz and args.
func compress(tb testing.TB, data []byte, args ...string) []byte {
	tb.Helper()
	return sample.Compress(tb, data, "xz", append([]string{"-c", "-q"}, args...)...)
}

// small makes every path run on small inputs: blocks over 96 KiB
// (compressed + uncompressed) are decoded sequentially, in odd pieces.
var small = config{budget: 256 << 10, maxJob: 96 << 10, piece: 10007, chunk: 4093, inBuf: 4 << 10}

func decode(r io.Reader, workers int, cfg config) ([]byte, *Reader, error) {
	x := newReader(r, workers, 0, cfg)
	out, err := io.ReadAll(x)
	x.Close()
	return out, x, err
}

type testCase struct {
	name string
	data []byte
	xz   []byte
}

type spec struct {
	name string
	data []byte
	args []string
}

// compressAll compresses the specs concurrently (xz is the slow part).
func compressAll(t *testing.T, specs []spec) []testCase {
	sample.NeedTool(t, "xz")
	cs := make([]testCase, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out, err := sample.CompressErr(s.data, "xz", append([]string{"-c", "-q"}, s.args...)...)
			cs[i], errs[i] = testCase{s.name, s.data, out}, err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return cs
}

var (
	mBig   = mixed(1<<20, 1)
	mSmall = mixed(256<<10, 2)
)

// cases are the round-trip inputs; the ones named in quick are also cut
// and corrupted.
func cases(t *testing.T) []testCase {
	zeros := make([]byte, 4<<20)
	rnd := sample.Random(512<<10, 3)
	m, m2 := mBig, mSmall
	specs := []spec{
		{"T1", m, []string{"-T1", "-3"}},
		{"T2-bs", m, []string{"-T2", "-1", "--block-size=64KiB"}},
		{"T1-bs", m, []string{"-T1", "-1", "--block-size=64KiB"}},
		{"T0-bs", m, []string{"-T0", "-1", "--block-size=200KiB"}},
		{"-0", m2, []string{"-0", "-T2", "--block-size=40KiB"}},
		{"-6", m2, []string{"-6"}},
		{"-9e", m2, []string{"-9e", "-T1"}},
		{"x86+lzma2", m2, []string{"--x86", "--lzma2=preset=0", "-T2", "--block-size=32KiB"}},
		{"delta+lzma2", m2, []string{"--delta=dist=4", "--lzma2=preset=0", "-T1", "--block-size=32KiB"}},
		{"empty", nil, nil},
		{"zeros-T2", zeros, []string{"-0", "-T2", "--block-size=1MiB"}},
		{"zeros-T1", zeros, []string{"-0", "-T1"}},
		{"random-T2", rnd, []string{"-0", "-T2", "--block-size=128KiB"}},
		{"random-T1", rnd, []string{"-0", "-T1"}},
		{"cat-a", m2[:100<<10], []string{"-0", "-T2", "--block-size=16KiB", "--check=sha256"}},
		{"cat-b", m2[100<<10:], []string{"-0", "-T1", "--check=crc32"}},
		{"small-T1", m2, []string{"-0", "-T1"}},
		{"small-T2-bs", m2, []string{"-0", "-T2", "--block-size=32KiB"}},
		{"small-T1-bs", m2, []string{"-0", "-T1", "--block-size=32KiB"}},
		// With the small config, the random blocks are decoded
		// sequentially, the others in parallel.
		{"both-T2", m2, []string{"-0", "-T2", "--block-size=48KiB"}},
		{"both-T1", m2, []string{"-0", "-T1", "--block-size=48KiB"}},
	}
	for _, c := range []string{"none", "crc32", "crc64", "sha256"} {
		specs = append(specs,
			spec{"check-" + c + "-T2", m2, []string{"-0", "--check=" + c, "-T2", "--block-size=32KiB"}},
			spec{"check-" + c + "-T1", m2, []string{"-0", "--check=" + c, "-T1"}})
	}
	cs := compressAll(t, specs)
	byName := map[string][]byte{}
	for _, c := range cs {
		byName[c.name] = c.xz
	}
	// Concatenated streams, with stream padding between and after.
	a, b, e := byName["cat-a"], byName["cat-b"], byName["empty"]
	z4 := make([]byte, 4)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cs = append(cs,
		testCase{"concat", m2, cat(a, b)},
		testCase{"concat-padding", m2, cat(a, z4, z4, b, z4)},
		testCase{"concat-empty", m2, cat(e, a, z4, e, b, e)},
	)
	return cs
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range cases(t) {
		for _, cfg := range []struct {
			name string
			c    config
		}{{"default", defaultConfig}, {"small", small}} {
			for _, workers := range []int{1, 2, 4} {
				name := fmt.Sprintf("%s/%s/w%d", tc.name, cfg.name, workers)
				got, x, err := decode(bytes.NewReader(tc.xz), workers, cfg.c)
				if err != nil || !bytes.Equal(got, tc.data) {
					t.Fatalf("%s: err %v, %d bytes, want %d, equal %v", name, err, len(got), len(tc.data), bytes.Equal(got, tc.data))
				}
				if off := x.InputOffset(); off != int64(len(tc.xz)) {
					t.Errorf("%s: InputOffset %d, want %d", name, off, len(tc.xz))
				}
				if strings.HasPrefix(tc.name, "both-") && cfg.name == "small" && (x.nPar == 0 || x.nSeq == 0) {
					t.Errorf("%s: %d blocks in parallel, %d sequentially", name, x.nPar, x.nSeq)
				}
				if tc.name == "T1" && (x.nPar != 1 || x.nSeq != 0) == (cfg.name == "default") {
					t.Errorf("%s: %d blocks in parallel, %d sequentially", name, x.nPar, x.nSeq)
				}
			}
		}
	}
}

func TestSmallReads(t *testing.T) {
	for _, tc := range cases(t) {
		switch tc.name {
		case "small-T1", "small-T2-bs", "small-T1-bs", "concat-padding", "empty", "check-none-T1":
		default:
			continue
		}
		for _, cfg := range []config{defaultConfig, small} {
			got, _, err := decode(iotest.OneByteReader(bytes.NewReader(tc.xz)), 2, cfg)
			if err != nil || !bytes.Equal(got, tc.data) {
				t.Fatalf("%s: OneByteReader: %v", tc.name, err)
			}
			got, _, err = decode(iotest.HalfReader(bytes.NewReader(tc.xz)), 2, cfg)
			if err != nil || !bytes.Equal(got, tc.data) {
				t.Fatalf("%s: HalfReader: %v", tc.name, err)
			}
			x := newReader(bytes.NewReader(tc.xz), 2, 0, cfg)
			got, err = io.ReadAll(iotest.OneByteReader(x))
			x.Close()
			if err != nil || !bytes.Equal(got, tc.data) {
				t.Fatalf("%s: one-byte Read: %v", tc.name, err)
			}
		}
	}
}

// cutPoints returns every offset near the ends and a stride in between.
func cutPoints(n int) []int {
	var cuts []int
	for i := 0; i < n; i++ {
		if i < 64 || i > n-128 || i%(n/40+1) == 0 {
			cuts = append(cuts, i)
		}
	}
	return cuts
}

func TestTruncation(t *testing.T) {
	cs := cases(t)
	for _, tc := range cs {
		switch tc.name {
		case "small-T1", "small-T2-bs", "small-T1-bs", "check-sha256-T2", "check-none-T1", "empty", "x86+lzma2", "both-T1":
		default:
			continue
		}
		for ci, cfg := range []config{defaultConfig, small} {
			for i, cut := range cutPoints(len(tc.xz)) {
				if ci == 1 && i%3 != 0 {
					continue
				}
				got, _, err := decode(bytes.NewReader(tc.xz[:cut]), 2, cfg)
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("%s cut at %d of %d: err %v, want unexpected EOF", tc.name, cut, len(tc.xz), err)
				}
				if !bytes.HasPrefix(tc.data, got) {
					t.Fatalf("%s cut at %d: output is not a prefix", tc.name, cut)
				}
			}
		}
	}
	// Inside stream padding and the next stream of a concatenation.
	for _, tc := range cs {
		if tc.name != "concat-padding" {
			continue
		}
		for cut := len(tc.xz) - 1; cut > len(tc.xz)-400; cut-- {
			_, _, err := decode(bytes.NewReader(tc.xz[:cut]), 2, small)
			// Cutting right after a stream or a 4-byte padding group
			// leaves a valid file.
			if err == nil {
				if !validCut(tc.xz[:cut]) {
					t.Fatalf("concat-padding cut at %d: no error", cut)
				}
				continue
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("concat-padding cut at %d: %v", cut, err)
			}
		}
	}
}

// validCut reports whether b ends with a stream footer and whole padding.
func validCut(b []byte) bool {
	for len(b) >= 4 && string(b[len(b)-4:]) == "\x00\x00\x00\x00" {
		b = b[:len(b)-4]
	}
	return bytes.HasSuffix(b, []byte(footerMagic))
}

func TestCorruption(t *testing.T) {
	for _, tc := range cases(t) {
		switch tc.name {
		case "small-T1", "small-T2-bs", "small-T1-bs", "check-crc32-T2", "check-sha256-T1", "concat-padding", "delta+lzma2", "both-T2":
		default:
			continue
		}
		rng := rand.New(rand.NewPCG(7, 7))
		offs := []int{0, 5, 6, 7, 8, 11, 12, 13, 16, 20}
		for i := 0; i < 16; i++ {
			offs = append(offs, rng.IntN(len(tc.xz)))
		}
		for i := 1; i <= 32; i++ {
			offs = append(offs, len(tc.xz)-i)
		}
		for _, off := range offs {
			for _, cfg := range []config{defaultConfig, small} {
				bad := bytes.Clone(tc.xz)
				bad[off] ^= 1 << (off % 8)
				got, _, err := decode(bytes.NewReader(bad), 2, cfg)
				if err == nil {
					t.Fatalf("%s: flip at %d of %d: no error (output equal %v)", tc.name, off, len(bad), bytes.Equal(got, tc.data))
				}
			}
		}
	}
}

func TestTrailingData(t *testing.T) {
	data := mixed(200<<10, 5)
	for _, args := range [][]string{{"-0", "-T1"}, {"-0", "-T2", "--block-size=32KiB"}} {
		xz := compress(t, data, args...)
		for _, tail := range []string{"garbage", "\x00\x00\x00\x00junk", "\xfd7zXY\x00\x00\x00\x00\x00\x00\x00\x00", "x"} {
			for _, cfg := range []config{defaultConfig, small} {
				got, _, err := decode(bytes.NewReader(append(bytes.Clone(xz), tail...)), 2, cfg)
				want := fault.ErrTrailingData
				if tail[0] == 0xfd {
					want = fault.ErrFormat // wrong magic after the first 4 bytes: still not a stream
				}
				if !errors.Is(err, fault.ErrTrailingData) && !(want == fault.ErrFormat && err != nil) {
					t.Fatalf("tail %q: err %v", tail, err)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("tail %q: output before the error differs", tail)
				}
			}
		}
		for _, tail := range []string{"\x00", "\x00\x00\x00", "\x00\x00\x00\x00\x00\x00", "\xfd7zX"} {
			_, _, err := decode(bytes.NewReader(append(bytes.Clone(xz), tail...)), 2, small)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("tail %q: err %v", tail, err)
			}
		}
		for _, tail := range []string{"\x00\x00\x01\x00", "\x00\x00\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4\x46"} {
			_, _, err := decode(bytes.NewReader(append(bytes.Clone(xz), tail...)), 2, small)
			if !errors.Is(err, fault.ErrCorrupt) {
				t.Fatalf("tail %q: err %v", tail, err)
			}
		}
	}
}

func TestNotXZ(t *testing.T) {
	for _, in := range []string{"", "hello, world", "\x00\x00\x00\x00\xfd7zXZ\x00", "\xfd7zXZ\x01\x00\x04"} {
		_, _, err := decode(strings.NewReader(in), 1, defaultConfig)
		if err == nil {
			t.Fatalf("%q: no error", in)
		}
		if in == "hello, world" && !errors.Is(err, fault.ErrFormat) {
			t.Fatalf("%q: %v", in, err)
		}
		if in == "" && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("%q: %v", in, err)
		}
	}
}

// setCheck rewrites the check type in a stream's header and footer.
func setCheck(b []byte, c byte) []byte {
	b = bytes.Clone(b)
	b[7] = c
	binary.LittleEndian.PutUint32(b[8:], crc32.ChecksumIEEE(b[6:8]))
	f := b[len(b)-12:]
	f[9] = c
	binary.LittleEndian.PutUint32(f, crc32.ChecksumIEEE(f[4:10]))
	return b
}

func TestUnsupportedCheck(t *testing.T) {
	xz := compress(t, nil) // no blocks, so the check size does not matter
	for _, c := range []byte{0x02, 0x05, 0x0f} {
		_, _, err := decode(bytes.NewReader(setCheck(xz, c)), 1, defaultConfig)
		if !errors.Is(err, fault.ErrUnsupported) {
			t.Fatalf("check %#x: %v", c, err)
		}
	}
	if _, _, err := decode(bytes.NewReader(setCheck(xz, 0x10)), 1, defaultConfig); !errors.Is(err, fault.ErrUnsupported) {
		t.Fatalf("reserved flag bits: %v", err)
	}
}

// TestMaxDict: a block whose dictionary is over the limit fails, naming
// both sizes, whatever its filters.
func TestMaxDict(t *testing.T) {
	data := mixed(100<<10, 9)
	for _, args := range [][]string{{"-6"}, {"--x86", "--lzma2=preset=6"}} { // 8 MiB dictionary
		xz := compress(t, data, args...)
		for _, cfg := range []config{defaultConfig, small} {
			x := newReader(bytes.NewReader(xz), 2, 1<<20, cfg)
			_, err := io.ReadAll(x)
			x.Close()
			if !errors.Is(err, fault.ErrMemoryLimit) || !strings.Contains(err.Error(), "block at compressed byte 12: over the memory limit: the block asks for a 8 MiB dictionary; the limit is 1 MiB") {
				t.Fatalf("xz %v: err %v, want fault.ErrMemoryLimit naming both sizes", args, err)
			}
		}
	}
}

// bigDict returns xz with the first block's dictionary set to props: a
// header that asks for more than the data needs.
func bigDict(t *testing.T, xz []byte, props byte) []byte {
	t.Helper()
	h := xz[streamHdrSz : streamHdrSz+(int(xz[streamHdrSz])+1)*4]
	bh, err := parseBlockHeader(h)
	if err != nil || !bh.hasDict {
		t.Fatalf("block header: %+v, %v", bh, err)
	}
	out := bytes.Clone(xz)
	copy(out[streamHdrSz:], withDict(h, bh, props))
	return out
}

// TestHugeDictHeader: blocks whose headers ask for a 1 GiB dictionary,
// within the limit, decode without reserving it: the window of a
// sequential block grows with its output, and therootcompany/xz is given
// a dictionary the size of a parallel block's output.
func TestHugeDictHeader(t *testing.T) {
	const gib = 36 // dictBytes(36) = 1 GiB
	data := mixed(300<<10, 10)
	for _, c := range []struct {
		name string
		args []string
		cfg  config
	}{
		{"sequential, ours", []string{"-0", "-T1"}, small},
		{"parallel, therootcompany", []string{"--x86", "--lzma2=preset=0", "-T1"}, defaultConfig},
	} {
		xz := bigDict(t, compress(t, data, c.args...), gib)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		x := newReader(bytes.NewReader(xz), 1, 1<<30, c.cfg)
		got, err := io.ReadAll(x)
		x.Close()
		runtime.ReadMemStats(&after)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: %v, %d bytes", c.name, err, len(got))
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 128<<20 {
			t.Errorf("%s: %d MiB allocated to decode %d KiB", c.name, n>>20, len(data)>>10)
		}
	}
}

// TestWindowGrows decodes a sequential block whose matches reach back 6
// MiB, with a 16 MiB dictionary: its window starts smaller and grows,
// keeping the history.
func TestWindowGrows(t *testing.T) {
	x := sample.Random(6<<20, 11)
	data := append(append(bytes.Clone(x), make([]byte, 1<<20)...), x...)
	xz := compress(t, data, "-T1", "--lzma2=preset=1,dict=16MiB")
	r := newReader(bytes.NewReader(xz), 2, 0, small)
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%v, %d bytes, differ at %d", err, len(got), sample.FirstDiff(got, data))
	}
	if r.nSeq != 1 || len(r.seqWin) <= initWin {
		t.Errorf("%d sequential blocks, window of %d bytes: want one, grown", r.nSeq, len(r.seqWin))
	}
}

func TestErrorOffset(t *testing.T) {
	data := mBig
	xz := compress(t, data, "-0", "-T2", "--block-size=128KiB")
	blocks := blockOffsets(t, xz)
	if len(blocks) < 5 {
		t.Fatalf("%d blocks", len(blocks))
	}
	bad := bytes.Clone(xz)
	bad[blocks[3]+40] ^= 0x55
	got, _, err := decode(bytes.NewReader(bad), 2, defaultConfig)
	var e *fault.Error
	if !errors.As(err, &e) || e.Offset != int64(blocks[3]) || e.What != "block" {
		t.Fatalf("err %v, want block at offset %d", err, blocks[3])
	}
	if !bytes.Equal(got, data[:3*128<<10]) {
		t.Fatalf("output before the bad block: %d bytes", len(got))
	}
}

// blockOffsets lists a single-stream file's block offsets from its index.
func blockOffsets(t *testing.T, b []byte) []int {
	f := b[len(b)-12:]
	isz := (int(binary.LittleEndian.Uint32(f[4:])) + 1) * 4
	idx := b[len(b)-12-isz:]
	p := 1
	n, k, _ := getVLI(idx[p:])
	p += k
	off := 12
	var offs []int
	for range n {
		u, k, _ := getVLI(idx[p:])
		p += k
		_, k, _ = getVLI(idx[p:])
		p += k
		offs = append(offs, off)
		off += int(u + pad4(u))
	}
	return offs
}

func TestClose(t *testing.T) {
	data := mBig
	xz := compress(t, data, "-T2", "-1", "--block-size=64KiB")
	for _, cfg := range []config{defaultConfig, small} {
		x := newReader(bytes.NewReader(xz), 2, 0, cfg)
		buf := make([]byte, 1000)
		if _, err := io.ReadFull(x, buf); err != nil {
			t.Fatal(err)
		}
		x.Close()
		if _, err := x.Read(buf); err == nil {
			t.Fatal("Read after Close succeeded")
		}
		x = newReader(bytes.NewReader(xz), 2, 0, cfg)
		x.Close() // before any Read
	}
}

// FuzzReader: never panic; agree with therootcompany's sequential reader.
func FuzzReader(f *testing.F) {
	if sample.Have("xz") {
		data := mixed(40<<10, 11)
		for _, args := range [][]string{
			{"-T1"}, {"-T2", "--block-size=8KiB"}, {"-T1", "--block-size=8KiB", "--check=sha256"},
			{"--check=none", "-T2", "--block-size=16KiB"}, {"--check=crc32"}, {"--x86", "--lzma2=preset=0"},
		} {
			f.Add(compress(f, data, args...))
		}
		e := compress(f, nil)
		f.Add(append(append(bytes.Clone(e), 0, 0, 0, 0), e...))
	}
	f.Add([]byte(headerMagic))
	f.Fuzz(func(t *testing.T, in []byte) {
		defer sample.Watchdog(time.Minute)()
		const dict = 1 << 20
		var want []byte
		ref, err := xzdec.NewReader(bytes.NewReader(in), dict)
		if err == nil {
			want, err = io.ReadAll(ref)
		}
		for _, cfg := range []config{defaultConfig, {budget: 4096, maxJob: 2048, piece: 777, chunk: 100, inBuf: 64}} {
			x := newReader(bytes.NewReader(in), 2, dict, cfg)
			got, gerr := io.ReadAll(x)
			x.Close()
			if errors.Is(gerr, fault.ErrInternal) {
				t.Fatalf("%v\n%s", gerr, fault.StackOf(gerr))
			}
			if err == nil && (gerr != nil || !bytes.Equal(got, want)) {
				t.Fatalf("reference decodes %d bytes; we: %v, %d bytes, equal %v", len(want), gerr, len(got), bytes.Equal(got, want))
			}
			if err != nil && gerr == nil {
				t.Fatalf("reference fails (%v); we decode %d bytes", err, len(got))
			}
		}
	})
}
