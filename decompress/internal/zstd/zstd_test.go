package zstd

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
	"github.com/bmap-tools/bmap/decompress/internal/sample"
	"github.com/cespare/xxhash/v2"
	kzstd "github.com/klauspost/compress/zstd"
)

// compress compresses data, as a file (zstd records the content size of
// a file), with tool (zstd or pzstd) and args.
func compress(tb testing.TB, data []byte, tool string, args ...string) []byte {
	tb.Helper()
	return sample.CompressFile(tb, data, "in", tool, append([]string{"-q", "-c"}, args...)...)
}

func decodeAll(r io.Reader, maxWindow uint64) ([]byte, *Reader, error) {
	z := NewReader(r, maxWindow)
	defer z.Close()
	var out bytes.Buffer
	_, err := io.Copy(&out, z)
	return out.Bytes(), z, err
}

func klauspost(b []byte) ([]byte, error) {
	d, err := kzstd.NewReader(bytes.NewReader(b), kzstd.WithDecoderConcurrency(1),
		kzstd.WithDecoderMaxWindow(1<<30), kzstd.WithDecoderMaxMemory(1<<31))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	var out bytes.Buffer
	_, err = io.Copy(&out, d)
	return out.Bytes(), err
}

func checkSame(t *testing.T, name string, comp, want []byte) {
	t.Helper()
	got, z, err := decodeAll(bytes.NewReader(comp), 0)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: output differs from the input (%d bytes, want %d) at %d", name, len(got), len(want), sample.FirstDiff(got, want))
	}
	if z.InputOffset() != int64(len(comp)) {
		t.Errorf("%s: InputOffset %d, want %d", name, z.InputOffset(), len(comp))
	}
	k, err := klauspost(comp)
	if err != nil {
		t.Fatalf("%s: klauspost: %v", name, err)
	}
	if !bytes.Equal(k, want) {
		t.Fatalf("%s: klauspost output differs", name)
	}
}

func TestSmoke(t *testing.T) {
	data := sample.Text(100000)
	comp := compress(t, data, "zstd")
	checkSame(t, "text", comp, data)
}

// samples are the test inputs, made at test time.
func samples(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"sparse": sample.Sparse(6<<20, 7),
		"text":   sample.Text(1 << 20),
		"random": sample.Random(1<<20, 5),
		"mixed":  sample.Mixed(2<<20, 9),
		"empty":  {},
		"small":  []byte("hello, zstd\n"),
	}
}

func TestCLI(t *testing.T) {
	sample.NeedTool(t, "zstd")
	data := samples(t)
	opts := [][]string{
		{"-1"}, {"-3"}, {"-9"}, {"-19"}, {"--long=27", "-3"}, {"-T2", "-3"}, {"--no-check"},
		{"--content-size"}, {"--no-content-size"}, {"--fast=5"}, {"-3", "--single-thread"},
	}
	for name, in := range data {
		for _, o := range opts {
			if (name == "sparse" || name == "random") && o[0] == "-19" {
				continue // slow to make; covered by "mixed"
			}
			t.Run(name+strings.Join(o, ""), func(t *testing.T) {
				comp := compress(t, in, "zstd", o...)
				checkSame(t, name, comp, in)
			})
		}
	}
	// --ultra -22 on a small input (large windows are slow to make).
	small := sample.Mixed(300<<10, 11)
	checkSame(t, "ultra", compress(t, small, "zstd", "--ultra", "-22"), small)
	// A stream piped through zstd has no content size and several blocks.
	cmd := exec.Command("sh", "-c", "zstd -q -3 -c | cat")
	cmd.Stdin = bytes.NewReader(data["sparse"])
	comp, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, "pipe", comp, data["sparse"])
}

func TestPzstd(t *testing.T) {
	sample.NeedTool(t, "pzstd")
	data := sample.Sparse(12<<20, 3)
	comp := compress(t, data, "pzstd", "-p", "2")
	checkSame(t, "pzstd", comp, data)
}

// skippable returns a skippable frame holding payload.
func skippable(n byte, payload []byte) []byte {
	b := []byte{0x50 | n&15, 0x2a, 0x4d, 0x18, 0, 0, 0, 0}
	b[4], b[5], b[6], b[7] = byte(len(payload)), byte(len(payload)>>8), byte(len(payload)>>16), byte(len(payload)>>24)
	return append(b, payload...)
}

func TestConcatenated(t *testing.T) {
	sample.NeedTool(t, "zstd")
	a, b := sample.Text(200<<10), sample.Mixed(1<<20, 3)
	ca := compress(t, a, "zstd", "-3")
	cb := compress(t, b, "zstd", "-19", "--no-check")
	ce := compress(t, nil, "zstd")
	var comp, want []byte
	comp = append(comp, skippable(0, []byte("pzstd-like header"))...)
	comp = append(comp, ca...)
	comp = append(comp, ce...)
	comp = append(comp, skippable(15, nil)...)
	comp = append(comp, cb...)
	comp = append(comp, ca...)
	comp = append(comp, skippable(7, make([]byte, 1<<20))...)
	want = append(append(append(want, a...), b...), a...)
	checkSame(t, "concatenated", comp, want)

	// Only skippable frames: no output, no error.
	got, _, err := decodeAll(bytes.NewReader(skippable(1, []byte("x"))), 0)
	if err != nil || len(got) != 0 {
		t.Errorf("skippable only: %d bytes, %v", len(got), err)
	}
}

func TestEmptyInput(t *testing.T) {
	_, _, err := decodeAll(bytes.NewReader(nil), 0)
	if !errors.Is(err, fault.ErrFormat) {
		t.Errorf("empty input: %v, want fault.ErrFormat", err)
	}
	_, _, err = decodeAll(strings.NewReader("not zstd at all"), 0)
	if !errors.Is(err, fault.ErrFormat) {
		t.Errorf("not zstd: %v, want fault.ErrFormat", err)
	}
}

func TestTruncated(t *testing.T) {
	sample.NeedTool(t, "zstd")
	data := sample.Mixed(400<<10, 21)
	f := compress(t, data, "zstd", "-3")
	comp := append(append(skippable(2, []byte("abc")), f...), f...)
	boundary := map[int]bool{11: true, 11 + len(f): true} // valid ends
	rng := rand.New(rand.NewPCG(1, 1))
	cuts := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, len(comp) - 1, len(comp) - 2, len(comp) - 3, len(comp) - 4, len(comp) - 5, len(comp)/2 - 1, len(comp) / 2, len(comp)/2 + 1, len(comp)/2 + 2}
	for range 200 {
		cuts = append(cuts, 1+rng.IntN(len(comp)-1))
	}
	for _, n := range cuts {
		if boundary[n] {
			continue
		}
		got, _, err := decodeAll(bytes.NewReader(comp[:n]), 0)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("cut at %d: %v, want io.ErrUnexpectedEOF", n, err)
		}
		var e *fault.Error
		if !errors.As(err, &e) {
			t.Fatalf("cut at %d: %T, want *fault.Error", n, err)
		}
		want := append(append([]byte{}, data...), data...)
		if !bytes.HasPrefix(want, got) {
			t.Fatalf("cut at %d: output before the error is wrong", n)
		}
	}
}

func TestCorrupt(t *testing.T) {
	sample.NeedTool(t, "zstd")
	data := sample.Sparse(1<<20, 4)
	for _, level := range []string{"-1", "-3", "-19"} {
		comp := compress(t, data, "zstd", level)
		rng := rand.New(rand.NewPCG(2, 2))
		for i := range 300 {
			bad := append([]byte{}, comp...)
			n := 1 + rng.IntN(3)
			for range n {
				p := rng.IntN(len(bad))
				if i%2 == 0 {
					p = 4 + rng.IntN(min(len(bad)-4, 64)) // headers
				}
				bad[p] ^= byte(1 + rng.IntN(255))
			}
			got, _, err := decodeAll(bytes.NewReader(bad), 0)
			if err == nil {
				if !bytes.Equal(got, data) {
					t.Fatalf("%s: corruption %d: wrong output without an error", level, i)
				}
				continue
			}
			var e *fault.Error
			if !errors.As(err, &e) {
				t.Fatalf("%s: corruption %d: %v is not an *fault.Error", level, i, err)
			}
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("%s: corruption %d: %v", level, i, err)
			}
		}
	}
}

func TestChecksumMismatch(t *testing.T) {
	sample.NeedTool(t, "zstd")
	data := sample.Text(300 << 10)
	comp := compress(t, data, "zstd", "-3")
	bad := append([]byte{}, comp...)
	bad[len(bad)-1] ^= 1
	_, _, err := decodeAll(bytes.NewReader(bad), 0)
	var e *fault.Error
	if !errors.As(err, &e) || e.What != "checksum" || !errors.Is(err, fault.ErrCorrupt) {
		t.Fatalf("bad checksum: %v", err)
	}
	if e.Offset != int64(len(bad)-4) {
		t.Errorf("checksum error at %d, want %d", e.Offset, len(bad)-4)
	}
}

func TestTrailingData(t *testing.T) {
	sample.NeedTool(t, "zstd")
	data := sample.Mixed(500<<10, 5)
	comp := compress(t, data, "zstd", "-3")
	for _, trail := range []string{"\x00", "\x00\x00\x00\x00\x00\x00", "garbage after the frame", "\x28\xb5\x2f"[:0] + "x"} {
		in := append(append([]byte{}, comp...), trail...)
		got, z, err := decodeAll(bytes.NewReader(in), 0)
		if !errors.Is(err, fault.ErrTrailingData) {
			t.Fatalf("trailing %q: %v, want fault.ErrTrailingData", trail, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("trailing %q: output before it differs", trail)
		}
		if z.InputOffset() != int64(len(comp)) {
			t.Errorf("trailing %q: InputOffset %d, want %d", trail, z.InputOffset(), len(comp))
		}
		var e *fault.Error
		if errors.As(err, &e) && e.Offset != int64(len(comp)) {
			t.Errorf("trailing %q: error at %d, want %d", trail, e.Offset, len(comp))
		}
	}
}

func TestMaxWindow(t *testing.T) {
	sample.NeedTool(t, "zstd")
	data := sample.Mixed(3<<20, 6)
	comp := compress(t, data, "zstd", "-3", "--no-content-size")
	_, _, err := decodeAll(bytes.NewReader(comp), 1<<20)
	if !errors.Is(err, fault.ErrMemoryLimit) || !strings.Contains(err.Error(), "frame header at compressed byte 0: over the memory limit: the frame asks for a 2 MiB window; the limit is 1 MiB") {
		t.Fatalf("window above the limit: %v, want fault.ErrMemoryLimit naming both sizes", err)
	}
	if _, _, err := decodeAll(bytes.NewReader(comp), 8<<20); err != nil {
		t.Fatal(err)
	}
}

// TestHugeWindowHeader: a frame header asking for a 1 GiB window, with
// no content size, reserves a few MiB until the frame has output: not the
// window, which is allowed.
func TestHugeWindowHeader(t *testing.T) {
	// Window descriptor 0xa0: 2^(10+20) bytes (0x90, 2^28, where int has
	// 32 bits); then the last block: raw, empty.
	frame := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa0, 0x01, 0x00, 0x00}
	if strconv.IntSize == 32 {
		frame[5] = 0x90
	}
	z := NewReader(bytes.NewReader(frame), 1<<30)
	defer z.Close()
	out, err := io.ReadAll(z)
	if err != nil || len(out) != 0 {
		t.Fatalf("%d bytes, %v", len(out), err)
	}
	if n := len(z.d.buf); n > 16<<20 {
		t.Errorf("the window buffer has %d bytes for an empty frame", n)
	}
}

// TestWindowGrows decodes frames whose matches reach back 14 MiB, past
// the window buffer's first layout, so that it grows: into new buffers on
// a first decoding, in place into a pooled one on a second. The history
// must survive every move.
func TestWindowGrows(t *testing.T) {
	sample.NeedTool(t, "zstd")
	x := sample.Random(6<<20, 41)
	data := append(append(bytes.Clone(x), sample.Mixed(8<<20, 42)...), x...)
	two := append(sample.Text(100<<10), data...)
	for _, args := range [][]string{
		{"-1", "--long=24", "--no-content-size"},
		{"-1", "--long=24"},
	} {
		comp := compress(t, data, "zstd", args...)
		for _, in := range []struct {
			name       string
			comp, want []byte
		}{
			{"one frame", comp, data},
			{"after a small frame", append(compress(t, two[:100<<10], "zstd", "-1"), comp...), two},
		} {
			bufPool = sync.Pool{} // the first decoding allocates
			for _, pass := range []string{"new buffers", "a pooled buffer"} {
				got, z, err := decodeAll(bytes.NewReader(in.comp), 0)
				if err != nil || !bytes.Equal(got, in.want) {
					t.Fatalf("zstd %v, %s, %s: %v, %d bytes, differ at %d", args, in.name, pass, err, len(got), sample.FirstDiff(got, in.want))
				}
				if z.d.bufWin <= initWin {
					t.Errorf("zstd %v, %s, %s: the window buffer did not grow", args, in.name, pass)
				}
			}
		}
	}
}

func TestDictionary(t *testing.T) {
	// A frame header naming dictionary 7: single segment, 1-byte dict ID.
	frame := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x21, 7, 0, 1, 0, 0}
	_, _, err := decodeAll(bytes.NewReader(frame), 0)
	if !errors.Is(err, fault.ErrUnsupported) {
		t.Fatalf("dictionary: %v, want fault.ErrUnsupported", err)
	}
}

func TestErrorString(t *testing.T) {
	e := &fault.Error{Format: codec, Offset: 12345, What: "block", Kind: fault.ErrCorrupt, Err: errBlock("match offset 70000 beyond window")}
	if got, want := e.Error(), "zstd: block at compressed byte 12345: corrupt data: match offset 70000 beyond window"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestClose(t *testing.T) {
	sample.NeedTool(t, "zstd")
	data := sample.Sparse(6<<20, 7)
	comp := compress(t, data, "zstd", "-3")
	z := NewReader(bytes.NewReader(comp), 0)
	buf := make([]byte, 1000)
	if _, err := io.ReadFull(z, buf); err != nil {
		t.Fatal(err)
	}
	z.Close()
	z.Close()
	if _, err := z.Read(buf); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
	NewReader(bytes.NewReader(comp), 0).Close() // never read
}

// TestSmallReads reads with tiny buffers and a one-byte-at-a-time input.
func TestSmallReads(t *testing.T) {
	sample.NeedTool(t, "zstd")
	data := sample.Mixed(300<<10, 8)
	comp := compress(t, data, "zstd", "-3")
	z := NewReader(iotest.OneByteReader(bytes.NewReader(comp)), 0)
	defer z.Close()
	var out []byte
	buf := make([]byte, 7)
	for {
		n, err := z.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(out, data) {
		t.Fatal("output differs")
	}
}

func TestHashZeros(t *testing.T) {
	for _, pre := range []int{0, 1, 31, 32, 33, 100} {
		for _, n := range []int64{0, 1, 31, 32, 2079, 2080, 2081, 4096, 100000, 1 << 20} {
			a, b := xxhash.New(), xxhash.New()
			a.Write(sample.Text(pre))
			b.Write(sample.Text(pre))
			a.Write(make([]byte, n))
			hashZeros(b, n)
			b.Write([]byte("tail"))
			a.Write([]byte("tail"))
			if a.Sum64() != b.Sum64() {
				t.Errorf("%d bytes then %d zeros: hash differs", pre, n)
			}
		}
	}
}

// TestGoroutines checks that Close stops the goroutines, whether the
// stream was read to its end, partly, or not at all.
func TestGoroutines(t *testing.T) {
	sample.NeedTool(t, "zstd")
	data := sample.Sparse(6<<20, 7)
	comp := compress(t, data, "zstd", "-3")
	before := runtime.NumGoroutine()
	for _, n := range []int{0, 1, 3 << 20, len(data) + 1} {
		z := NewReader(bytes.NewReader(comp), 0)
		io.CopyN(io.Discard, z, int64(n))
		z.Close()
	}
	for i := 0; runtime.NumGoroutine() > before; i++ {
		if i == 100 {
			t.Fatalf("%d goroutines after Close, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type errReader struct{ r io.Reader }

var errRead = errors.New("read failed")

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		err = errRead
	}
	return n, err
}

func TestReaderError(t *testing.T) {
	sample.NeedTool(t, "zstd")
	data := sample.Mixed(1<<20, 12)
	comp := compress(t, data, "zstd", "-3")
	_, _, err := decodeAll(&errReader{bytes.NewReader(comp[:len(comp)/2])}, 0)
	var e *fault.Error
	if !errors.Is(err, errRead) || !errors.As(err, &e) || e.Kind != nil {
		t.Fatalf("got %v, want an *fault.Error wrapping the reader's error", err)
	}
}

// TestInputOffset checks that InputOffset grows with the output and ends
// at the input's size.
func TestInputOffset(t *testing.T) {
	sample.NeedTool(t, "zstd")
	data := sample.Sparse(6<<20, 7)
	comp := compress(t, data, "zstd", "-3")
	z := NewReader(bytes.NewReader(comp), 0)
	defer z.Close()
	buf := make([]byte, 100<<10)
	last := int64(0)
	for {
		_, err := z.Read(buf)
		off := z.InputOffset()
		if off < last || off > int64(len(comp)) {
			t.Fatalf("InputOffset %d after %d (input %d bytes)", off, last, len(comp))
		}
		last = off
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if last != int64(len(comp)) {
		t.Errorf("InputOffset %d at the end, want %d", last, len(comp))
	}
}

// TestWindowSingleSegment checks the window limit on a frame whose
// window is its content size.
func TestWindowSingleSegment(t *testing.T) {
	sample.NeedTool(t, "zstd")
	data := sample.Mixed(200<<10, 13)
	comp := compress(t, data, "zstd", "-3")
	if comp[4]&0x20 == 0 {
		t.Skip("zstd did not write a single-segment frame")
	}
	_, _, err := decodeAll(bytes.NewReader(comp), 100<<10)
	if !errors.Is(err, fault.ErrMemoryLimit) {
		t.Fatalf("got %v, want fault.ErrMemoryLimit", err)
	}
}

// blockingReader returns its data, then blocks until release is closed.
type blockingReader struct {
	data    []byte
	release chan struct{}
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if len(b.data) == 0 {
		<-b.release
		return 0, io.EOF
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	return n, nil
}

// TestCloseDuringRead closes the Reader while a Read waits for input.
func TestCloseDuringRead(t *testing.T) {
	sample.NeedTool(t, "zstd")
	data := sample.Mixed(1<<20, 14)
	comp := compress(t, data, "zstd", "-3")
	br := &blockingReader{data: comp[:len(comp)/2], release: make(chan struct{})}
	defer close(br.release)
	z := NewReader(br, 0)
	done := make(chan error)
	go func() {
		_, err := io.Copy(io.Discard, z)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	z.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Read after Close: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read still blocked after Close")
	}
}

// TestDiscard skips parts of the output with Discard and reads the rest,
// in random steps: what is read must be the data at those offsets, the
// content checksum still checked (a corrupted frame fails even when the
// bad bytes are skipped), and a truncated stream fails Discard as it
// fails Read.
func TestDiscard(t *testing.T) {
	sample.NeedTool(t, "zstd")
	rng := rand.New(rand.NewPCG(3, 4))
	for name, data := range samples(t) {
		comp := compress(t, data, "zstd")
		z := NewReader(bytes.NewReader(comp), 0)
		pos := 0
		for pos < len(data) {
			k := 1 + rng.IntN(3<<20)
			if rng.IntN(2) == 0 {
				n, err := z.Discard(k)
				if want := min(k, len(data)-pos); n != want || (err != nil && err != io.EOF) {
					t.Fatalf("%s: Discard(%d) at %d: %d, %v, want %d", name, k, pos, n, err, want)
				}
				pos += n
				continue
			}
			buf := make([]byte, min(k, len(data)-pos))
			if _, err := io.ReadFull(z, buf); err != nil {
				t.Fatalf("%s: reading %d bytes at %d: %v", name, len(buf), pos, err)
			}
			if !bytes.Equal(buf, data[pos:pos+len(buf)]) {
				t.Fatalf("%s: bytes %d-%d after discards differ from the data", name, pos, pos+len(buf))
			}
			pos += len(buf)
		}
		if n, err := z.Discard(1); n != 0 || err != io.EOF {
			t.Fatalf("%s: Discard at the end: %d, %v, want 0, io.EOF", name, n, err)
		}
		z.Close()
	}

	data := sample.Sparse(1<<20, 4)
	comp := compress(t, data, "zstd", "-3")
	bad := bytes.Clone(comp)
	bad[len(bad)-1] ^= 1 // the content checksum
	z := NewReader(bytes.NewReader(bad), 0)
	if _, err := z.Discard(len(data) + 1); !errors.Is(err, fault.ErrCorrupt) {
		t.Errorf("Discard of a frame with a wrong checksum: %v, want fault.ErrCorrupt", err)
	}
	z.Close()
	z = NewReader(bytes.NewReader(comp[:len(comp)/2]), 0)
	if n, err := z.Discard(len(data)); !errors.Is(err, io.ErrUnexpectedEOF) || n >= len(data) {
		t.Errorf("Discard of a truncated stream: %d, %v, want fewer than %d bytes and io.ErrUnexpectedEOF", n, err, len(data))
	}
	z.Close()
}
