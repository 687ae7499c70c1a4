package lzop

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
)

// Small jobs and budgets, so that tests with small inputs still have many
// jobs in flight and wait on the budget.
var testConfigs = []parallelConfig{
	defaultParallel,
	{jobBlocks: 1, jobBytes: 1, budget: 1},
	{jobBlocks: 2, jobBytes: 1 << 20, budget: 600 << 10},
	{jobBlocks: 3, jobBytes: 300 << 10, budget: 4 << 20},
}

// decodeP decodes data with workers goroutines and cfg; it returns what
// was read before the error.
func decodeP(data []byte, workers int, cfg parallelConfig) ([]byte, error) {
	z, err := newParallelReader(bytes.NewReader(data), workers, cfg)
	if err != nil {
		return nil, err
	}
	defer z.Close()
	return io.ReadAll(z)
}

// forEach runs f for the sequential reader and parallel ones with 1, 2
// and 4 workers and each test configuration.
func forEach(t *testing.T, f func(t *testing.T, workers int, cfg parallelConfig)) {
	t.Helper()
	f(t, 0, parallelConfig{})
	for _, w := range []int{1, 2, 4} {
		for _, cfg := range testConfigs {
			if w == 1 && cfg != defaultParallel {
				continue // sequential anyway
			}
			f(t, w, cfg)
		}
	}
}

func name(workers int, cfg parallelConfig) string {
	if workers == 0 {
		return "sequential"
	}
	return fmt.Sprintf("workers=%d job=%d/%d budget=%d", workers, cfg.jobBlocks, cfg.jobBytes, cfg.budget)
}

func TestParallelCLI(t *testing.T) {
	big := testData(21 << 20) // 84 blocks
	mid := testData(3<<20 + 12345)
	for _, tt := range []struct {
		name string
		data []byte
		args []string
	}{
		{"empty", nil, nil},
		{"one byte", []byte("x"), nil},
		{"small", []byte("hello, lzop\n"), nil},
		{"one block", mid[:256<<10], nil},
		{"block and a byte", mid[:256<<10+1], nil},
		{"default", big, nil},
		{"-1", big, []string{"-1"}},
		{"crc32", big, []string{"--crc32"}},
		{"no checksum", big, []string{"-F"}},
		{"-9", mid, []string{"-9"}},
		{"-9 crc32", mid, []string{"-9", "--crc32"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := lzopCLI(t, tt.data, tt.args...)
			forEach(t, func(t *testing.T, workers int, cfg parallelConfig) {
				var z *Reader
				var err error
				if workers == 0 {
					z, err = newSeqReader(bytes.NewReader(f))
				} else {
					z, err = newParallelReader(bytes.NewReader(f), workers, cfg)
				}
				if err != nil {
					t.Fatal(err)
				}
				defer z.Close()
				got, err := io.ReadAll(iotest.HalfReader(z))
				if err != nil {
					t.Fatalf("%s: %v", name(workers, cfg), err)
				}
				if !bytes.Equal(got, tt.data) {
					t.Fatalf("%s: got %d bytes, want %d", name(workers, cfg), len(got), len(tt.data))
				}
				if z.InputOffset() != int64(len(f)) {
					t.Errorf("%s: InputOffset() = %d, want %d", name(workers, cfg), z.InputOffset(), len(f))
				}
				if z.first.Name != "in" {
					t.Errorf("%s: header: %+v", name(workers, cfg), z.first)
				}
				if n, err := z.Read(make([]byte, 10)); n != 0 || err != io.EOF {
					t.Errorf("%s: Read after the end: %d, %v", name(workers, cfg), n, err)
				}
			})
		})
	}
}

// smallBlocks returns an lzop file of many small blocks, compressed and
// stored, with the given flags, and its contents. LZO1X data comes from
// compressing each block's data alone with lzop.
func smallBlocks(t *testing.T, flags uint32, nblocks int) ([]byte, []byte) {
	var blocks []block
	var want []byte
	for i := range nblocks {
		var d []byte
		for j := range 20 + 15*i {
			d = fmt.Appendf(d, "block %d, line %d%s\n", i, j, strings.Repeat("-", j%7))
		}
		d = append(d, testData(100 + 10*i)[i:]...)
		b := block{d: d}
		if i%3 != 2 {
			bs := cliBlocks(t, lzopCLI(t, d))
			if len(bs) != 1 || bs[0].c == nil {
				t.Fatalf("block %d: lzop made %d blocks", i, len(bs))
			}
			b.c = bs[0].c
		}
		blocks = append(blocks, b)
		want = append(want, d...)
	}
	return build(opts{flags: flags}, blocks), want
}

// TestParallelConcat: files back to back, with different flags, some
// with a single small block, decode as one stream.
func TestParallelConcat(t *testing.T) {
	a, wa := smallBlocks(t, flagAdler32D|flagAdler32C, 5)
	b, wb := smallBlocks(t, flagCRC32D|flagCRC32C|flagHeaderCRC, 4)
	c, wc := smallBlocks(t, 0, 1)
	e := build(opts{flags: flagAdler32D}, nil) // no blocks
	big := testData(600 << 10)
	d := lzopCLI(t, big, "--crc32")
	var f, want []byte
	for _, part := range []struct{ f, d []byte }{{a, wa}, {e, nil}, {b, wb}, {d, big}, {c, wc}, {c, wc}, {e, nil}, {a, wa}} {
		f = append(f, part.f...)
		want = append(want, part.d...)
	}
	forEach(t, func(t *testing.T, workers int, cfg parallelConfig) {
		got, err := decodeP(f, workers, cfg)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes (want %d), %v", name(workers, cfg), len(got), len(want), err)
		}
	})
}

// TestParallelTruncation: every proper prefix is an error, and what was
// served before it is a prefix of the contents.
func TestParallelTruncation(t *testing.T) {
	a, wa := smallBlocks(t, flagAdler32D|flagCRC32C, 6)
	b, wb := smallBlocks(t, flagCRC32D, 2)
	f := append(bytes.Clone(a), b...)
	want := append(bytes.Clone(wa), wb...)
	cfgs := []parallelConfig{{jobBlocks: 2, jobBytes: 1 << 20, budget: 1 << 20}, {jobBlocks: 1, jobBytes: 1, budget: 1}}
	for _, w := range []int{0, 2, 4} {
		for _, cfg := range cfgs {
			if w == 0 && cfg != cfgs[0] {
				continue
			}
			for n := 0; n < len(f); n++ {
				if n == len(a) {
					continue // a whole file
				}
				got, err := decodeP(f[:n], w, cfg)
				if n >= 1 && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("%s: prefix of %d/%d bytes: err = %v, want io.ErrUnexpectedEOF", name(w, cfg), n, len(f), err)
				}
				if err == nil || !bytes.HasPrefix(want, got) {
					t.Fatalf("%s: prefix of %d/%d bytes: %d bytes out, %v", name(w, cfg), n, len(f), len(got), err)
				}
			}
		}
	}
}

// blockOffsets returns the offsets of the block headers of an lzop file
// whose header has no extra field and whose flags are flags.
func blockOffsets(f []byte, flags uint32) []int {
	p := len(Magic) + 2 + 2 + 2 + 1 + 1 + 4 + 4 + 4 + 4
	p += 1 + int(f[p]) + 4
	var offs []int
	for {
		dlen := int(uint32(f[p])<<24 | uint32(f[p+1])<<16 | uint32(f[p+2])<<8 | uint32(f[p+3]))
		if dlen == 0 {
			return offs
		}
		offs = append(offs, p)
		slen := int(uint32(f[p+4])<<24 | uint32(f[p+5])<<16 | uint32(f[p+6])<<8 | uint32(f[p+7]))
		p += 8
		for _, fl := range []uint32{flagAdler32D, flagCRC32D, flagAdler32C, flagCRC32C} {
			if flags&fl != 0 && (fl < flagAdler32C || slen < dlen) {
				p += 4
			}
		}
		p += slen
	}
}

// TestParallelCorruption: damage in one block of many fails with an error
// naming that block's offset, after no more output than the blocks before
// it, and the same error as the sequential reader's.
func TestParallelCorruption(t *testing.T) {
	data := testData(21 << 20)
	f := lzopCLI(t, data, "-1")
	const flags = flagAdler32D
	offs := blockOffsets(f, flags)
	if len(offs) != 84 {
		t.Fatalf("%d blocks", len(offs))
	}
	for _, tt := range []struct {
		name string
		at   int // block
		off  int // byte to damage, from the block header
		want error
	}{
		{"data", 41, 8 + 4 + 1000, nil}, // checksum or corrupt data
		{"checksum", 50, 8 + 1, fault.ErrCorrupt},
		{"size", 60, 1, fault.ErrCorrupt},
		{"first", 0, 8 + 4 + 10, nil},
		{"last", 83, 8 + 4 + 10, nil},
	} {
		bad := bytes.Clone(f)
		bad[offs[tt.at]+tt.off] ^= 0x55
		forEach(t, func(t *testing.T, workers int, cfg parallelConfig) {
			got, err := decodeP(bad, workers, cfg)
			what := fmt.Sprintf("%s: %s", tt.name, name(workers, cfg))
			if err == nil {
				t.Fatalf("%s: no error", what)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("%s: err = %v, want %v", what, err, tt.want)
			}
			if !errors.Is(err, fault.ErrCorrupt) {
				t.Errorf("%s: err = %v", what, err)
			}
			if s := fmt.Sprintf("block at compressed byte %d:", offs[tt.at]); !strings.Contains(err.Error(), s) {
				t.Errorf("%s: err = %v, want it to name %q", what, err, s)
			}
			if len(got) > tt.at*256<<10 || !bytes.Equal(got, data[:len(got)]) {
				t.Errorf("%s: %d bytes served before the error, block at %d", what, len(got), tt.at*256<<10)
			}
		})
	}
}

// TestParallelErrors runs TestErrors' cases through parallel readers:
// the same errors as the sequential reader, word for word.
func TestParallelErrors(t *testing.T) {
	data := testData(100 << 10)
	blocks := cliBlocks(t, lzopCLI(t, data))
	blocks[0].d = data
	good := build(opts{flags: flagAdler32D | flagAdler32C}, blocks)
	many, _ := smallBlocks(t, flagAdler32D, 7)
	for _, in := range [][]byte{
		append(bytes.Clone(good), "junk"...),
		append(bytes.Clone(good), 0, 0, 0, 0),
		append(bytes.Clone(good), Magic[:4]...),
		append(bytes.Clone(many), "junk"...),
		append(bytes.Clone(many), many[:len(many)-7]...),
		append(bytes.Clone(many), build(opts{flags: flagFilter, filter: 1}, nil)...),
		append(bytes.Clone(many), build(opts{method: 128}, nil)...),
		[]byte("hello world, this is not lzop"),
		build(opts{version: 0x0800}, nil),
	} {
		_, want := decode(in)
		if want == nil {
			t.Fatal("no error")
		}
		forEach(t, func(t *testing.T, workers int, cfg parallelConfig) {
			_, err := decodeP(in, workers, cfg)
			if err == nil || err.Error() != want.Error() {
				t.Errorf("%s: err = %v, want %v", name(workers, cfg), err, want)
			}
		})
	}
	// Trailing data is fault.ErrTrailingData, after all the data.
	got, err := decodeP(append(bytes.Clone(many), "junk"...), 2, testConfigs[1])
	if !errors.Is(err, fault.ErrTrailingData) {
		t.Errorf("err = %v, want fault.ErrTrailingData", err)
	}
	if _, want := smallBlocks(t, flagAdler32D, 7); !bytes.Equal(got, want) {
		t.Errorf("%d bytes before fault.ErrTrailingData, want %d", len(got), len(want))
	}
}

// TestParallelIOTest: awkward input and output readers.
func TestParallelIOTest(t *testing.T) {
	a, wa := smallBlocks(t, flagAdler32D, 7)
	big := testData(1 << 20)
	f := append(bytes.Clone(a), lzopCLI(t, big)...)
	want := append(bytes.Clone(wa), big...)
	for _, cfg := range testConfigs {
		for in, wrap := range map[string]func(io.Reader) io.Reader{
			"OneByteReader": iotest.OneByteReader,
			"HalfReader":    iotest.HalfReader,
			"DataErrReader": iotest.DataErrReader,
			"none":          func(r io.Reader) io.Reader { return r },
		} {
			z, err := newParallelReader(wrap(bytes.NewReader(f)), 2, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := iotest.TestReader(z, want); err != nil {
				t.Errorf("%s, %s: %v", in, name(2, cfg), err)
			}
			z.Close()
		}
		z, _ := newParallelReader(bytes.NewReader(f), 2, cfg)
		got, err := io.ReadAll(iotest.OneByteReader(z))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("OneByteReader output, %s: %d bytes, %v", name(2, cfg), len(got), err)
		}
		z.Close()
	}

	// An input error comes through, after the blocks before it.
	boom := errors.New("boom")
	r := io.MultiReader(bytes.NewReader(f[:len(a)+1000]), iotest.ErrReader(boom))
	z, err := newParallelReader(r, 2, testConfigs[1])
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(z)
	if !errors.Is(err, boom) || !bytes.Equal(got, wa) {
		t.Errorf("input error: %d bytes, %v", len(got), err)
	}
	z.Close()
}

// TestParallelClose: Close stops the goroutines early, also while they
// wait on the budget, and Read fails afterwards.
func TestParallelClose(t *testing.T) {
	f := lzopCLI(t, testData(21<<20), "-1")
	before := runtime.NumGoroutine()
	for _, read := range []int{0, 1, 3 << 20} {
		z, err := newParallelReader(bytes.NewReader(f), 4, parallelConfig{jobBlocks: 2, jobBytes: 1 << 20, budget: 2 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(z, make([]byte, read)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
		z.Close()
		if n, err := z.Read(make([]byte, 10)); n != 0 || err == nil {
			t.Errorf("Read after Close: %d, %v", n, err)
		}
	}
	for i := 0; runtime.NumGoroutine() > before; i++ {
		if i == 100 {
			t.Fatalf("%d goroutines, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestParallelInputOffset: InputOffset may be called while Read runs
// (go test -race), and grows to the input size.
func TestParallelInputOffset(t *testing.T) {
	f := lzopCLI(t, testData(21<<20), "-1")
	z, err := NewReader(bytes.NewReader(f), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		last := int64(0)
		for !stop.Load() {
			off := z.InputOffset()
			if off < last || off > int64(len(f)) {
				t.Errorf("InputOffset() = %d after %d", off, last)
				return
			}
			last = off
			runtime.Gosched()
		}
	}()
	_, err = io.Copy(io.Discard, z)
	stop.Store(true)
	wg.Wait()
	if err != nil || z.InputOffset() != int64(len(f)) {
		t.Errorf("%v, InputOffset() = %d, want %d", err, z.InputOffset(), len(f))
	}
}

// TestParallelMemory: the split reads ahead of the output served by no
// more than the budget, plus the job it is filling and the one served.
func TestParallelMemory(t *testing.T) {
	f := lzopCLI(t, testData(21<<20), "-1")
	offs := blockOffsets(f, flagAdler32D)
	cfg := parallelConfig{jobBlocks: 4, jobBytes: 1 << 20, budget: 6 << 20}
	z, err := newParallelReader(bytes.NewReader(f), 4, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	buf := make([]byte, 100<<10)
	served, most := 0, 0
	for {
		time.Sleep(time.Millisecond) // a slow consumer
		n, err := z.Read(buf)
		served += n
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if b := served / (256 << 10); b < len(offs) {
			most = max(most, int(z.InputOffset())-offs[b])
		}
	}
	if limit := int(cfg.budget) + 2*cfg.jobBytes; most > limit || most < 256<<10 {
		t.Errorf("read ahead by up to %d bytes, limit %d", most, limit)
	}
	t.Logf("read ahead by up to %d bytes", most)
}
