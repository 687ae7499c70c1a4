package gz

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
	"github.com/bmap-tools/bmap/decompress/internal/sample"
	kgzip "github.com/klauspost/compress/gzip"
)

// limit bounds the output compared: a small input can expand 1000-fold.
const limit = 64 << 20

// klauspost decodes gz with klauspost/compress/gzip (all members), up to
// limit bytes.
func klauspost(gz []byte) ([]byte, error) {
	z, err := kgzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(z, limit))
}

// checkDecode decodes gz with our Reader and with klauspost/compress/gzip,
// its reference, and fails if they disagree: one decodes it and the other
// fails, or both decode it to different bytes, or ours to other bytes
// than want (the input, when gz is known to be valid; nil otherwise).
// Our errors must be *fault.Error values, and never a decoder bug.
func checkDecode(t *testing.T, name string, gz, want []byte) {
	t.Helper()
	kout, kerr := klauspost(gz)
	z := NewReader(bytes.NewReader(gz))
	got, err := io.ReadAll(io.LimitReader(z, limit))
	z.Close()
	if len(got) == limit || len(kout) == limit {
		if n := min(len(got), len(kout)); !bytes.Equal(got[:n], kout[:n]) {
			t.Fatalf("%s: output differs from klauspost's at %d", name, sample.FirstDiff(got, kout))
		}
		return // both stopped at the limit, or one failed before it
	}
	var e *fault.Error
	switch {
	case errors.Is(err, fault.ErrInternal):
		t.Fatalf("%s: %v\n%s", name, err, fault.StackOf(err))
	case err != nil && !errors.As(err, &e):
		t.Fatalf("%s: error is not an *fault.Error: %v", name, err)
	case err != nil && kerr == nil:
		t.Fatalf("%s: %v; klauspost decodes it (%d bytes)", name, err, len(kout))
	case err == nil && kerr != nil:
		t.Fatalf("%s: we decode %d bytes; klauspost fails: %v", name, len(got), kerr)
	case err == nil && !bytes.Equal(got, kout):
		t.Fatalf("%s: output differs from klauspost's at %d (%d and %d bytes)", name, sample.FirstDiff(got, kout), len(got), len(kout))
	case err == nil && want != nil && !bytes.Equal(got, want):
		t.Fatalf("%s: wrong output without an error", name)
	}
}

func TestCorrupt(t *testing.T) {
	data := append(mixed(150<<10, 21), falseSync(50<<10, 22)...)
	for _, args := range [][]string{{"-6"}, {"-1"}} {
		gz := compress(t, data, "gzip", args...)
		rng := rand.New(rand.NewPCG(uint64(len(gz)), 3))
		for range 300 {
			bad := bytes.Clone(gz)
			for range 1 + rng.IntN(3) {
				i := rng.IntN(len(bad))
				bad[i] ^= byte(1 + rng.IntN(255))
			}
			checkDecode(t, "corrupt", bad, nil)
		}
	}
}

func TestTruncated(t *testing.T) {
	data := mixed(100<<10, 23)
	gz := compress(t, data, "gzip", "-6")
	step := max(1, len(gz)/500)
	for n := 0; n < len(gz); n += step {
		got, err := decode(gz[:n])
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("truncated to %d of %d bytes: %v", n, len(gz), err)
		}
		if !bytes.HasPrefix(data, got) {
			t.Fatalf("truncated to %d of %d bytes: wrong output", n, len(gz))
		}
	}
}

func TestTrailingData(t *testing.T) {
	data := mixed(100<<10, 24)
	gz := compress(t, data, "gzip", "-6")
	for _, tail := range []string{"x", "garbage after", "\x1f", "\x1f\x8b", "\x00\x00\x00\x00"} {
		got, err := decode(append(bytes.Clone(gz), tail...))
		var want error = fault.ErrTrailingData
		if tail[0] == 0x1f {
			want = io.ErrUnexpectedEOF // a truncated member header
		}
		if !errors.Is(err, want) || !bytes.Equal(got, data) {
			t.Errorf("tail %q: %v, output same: %v", tail, err, bytes.Equal(got, data))
		}
		var e *fault.Error
		if errors.As(err, &e) && e.Offset != int64(len(gz)) {
			t.Errorf("tail %q: error at offset %d, want %d", tail, e.Offset, len(gz))
		}
	}
}

func TestInputOffset(t *testing.T) {
	data := mixed(3<<20, 25)
	gz := compress(t, data, "gzip", "-6")
	z := NewReader(bytes.NewReader(gz))
	defer z.Close()
	if _, err := io.Copy(io.Discard, z); err != nil {
		t.Fatal(err)
	}
	if z.InputOffset() != int64(len(gz)) {
		t.Errorf("InputOffset %d, want %d", z.InputOffset(), len(gz))
	}
}

func TestClose(t *testing.T) {
	data := mixed(8<<20, 26)
	gz := compress(t, data, "pigz", "-6", "-p2")
	for _, n := range []int{0, 1, 100000} {
		z := NewReader(bytes.NewReader(gz))
		io.CopyN(io.Discard, z, int64(n))
		z.Close()
		z.Close()
		if _, err := z.Read(make([]byte, 10)); err == nil {
			t.Errorf("Read after Close succeeded")
		}
	}
}

// FuzzReader decodes arbitrary input with our Reader and with
// klauspost/compress/gzip: they must agree (checkDecode), both ways.
func FuzzReader(f *testing.F) {
	for i, args := range [][]string{{"-1"}, {"-6"}, {"-9"}} {
		data := mixed(2000+i*3000, uint64(i))
		f.Add(compress(f, data, "gzip", args...))
		f.Add(compress(f, []byte("hello, hello, hello world"), "gzip", args...))
	}
	f.Add(compress(f, falseSync(3000, 1), "gzip", "-1"))
	f.Add(compress(f, nil, "gzip"))
	f.Fuzz(func(t *testing.T, gz []byte) {
		defer sample.Watchdog(time.Minute)()
		checkDecode(t, "fuzz", gz, nil)
	})
}

func TestErrorMessage(t *testing.T) {
	data := mixed(50<<10, 27)
	gz := compress(t, data, "gzip", "-6")
	gz[len(gz)-8] ^= 1 // the CRC-32 in the trailer
	_, err := decode(gz)
	var e *fault.Error
	if !errors.As(err, &e) || !errors.Is(err, fault.ErrCorrupt) || e.Offset != int64(len(gz)-8) {
		t.Fatalf("%v: want a CRC error at the trailer, offset %d", err, len(gz)-8)
	}
	want := fmt.Sprintf("gzip: member trailer at compressed byte %d: corrupt data: CRC-32 mismatch", len(gz)-8)
	if msg := err.Error(); len(msg) < len(want) || msg[:len(want)] != want {
		t.Errorf("%q, want %q...", msg, want)
	}

	// A cut-off stream names the deflate block it ends in: past the
	// first, before the cut.
	big := compress(t, mixed(4<<20, 28), "gzip", "-6")
	cut := len(big) * 2 / 3
	_, err = decode(big[:cut])
	if !errors.As(err, &e) || !errors.Is(err, io.ErrUnexpectedEOF) || e.What != "deflate block" || e.Offset <= 10 || e.Offset >= int64(cut) {
		t.Errorf("cut at %d of %d: %v, want the deflate block the input ends in", cut, len(big), err)
	}
}
