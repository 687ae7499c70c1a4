package zstd

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
	"github.com/bmap-tools/bmap/decompress/internal/sample"
	kzstd "github.com/klauspost/compress/zstd"
)

// FuzzReader decodes arbitrary input: it must never panic, skipping parts
// with Discard must end as reading them does, and klauspost/compress/zstd,
// the reference, must agree: both decode the input, to the same bytes, or
// both fail. The one exception: klauspost takes empty input for an empty
// stream; for us it is not a zstd stream.
func FuzzReader(f *testing.F) {
	f.Add([]byte{})
	f.Add(skippable(3, []byte("abc")))
	if sample.Have("zstd") {
		for _, in := range [][]byte{sample.Text(3000), sample.Mixed(40<<10, 1), sample.Random(2000, 1), []byte("a"), {}} {
			for _, lvl := range []string{"-1", "-3", "-19", "--no-check"} {
				f.Add(compress(f, in, "zstd", lvl))
			}
		}
	}
	const limit = 16 << 20
	f.Fuzz(func(t *testing.T, in []byte) {
		defer sample.Watchdog(time.Minute)()
		z := NewReader(bytes.NewReader(in), 8<<20)
		got, err := io.ReadAll(io.LimitReader(z, limit))
		z.Close()
		if errors.Is(err, fault.ErrInternal) {
			t.Fatalf("%v\n%s", err, fault.StackOf(err))
		}
		if err != nil {
			if _, ok := err.(*fault.Error); !ok {
				t.Fatalf("error %v (%T) is not an *fault.Error", err, err)
			}
		}
		if len(got) < limit {
			skimLike(t, in, got, err)
		}
		d, kerr := kzstd.NewReader(bytes.NewReader(in), kzstd.WithDecoderConcurrency(1),
			kzstd.WithDecoderMaxWindow(8<<20), kzstd.WithDecoderMaxMemory(64<<20))
		if kerr != nil {
			t.Fatal(kerr)
		}
		want, kerr := io.ReadAll(io.LimitReader(d, limit))
		d.Close()
		if len(want) == limit || len(got) == limit {
			if n := min(len(got), len(want)); !bytes.Equal(got[:n], want[:n]) {
				t.Fatalf("output differs from klauspost's at %d", sample.FirstDiff(got, want))
			}
			return
		}
		switch {
		case len(in) == 0:
		case err != nil && kerr == nil:
			t.Fatalf("klauspost decodes %d bytes, we fail: %v", len(want), err)
		case err == nil && kerr != nil:
			t.Fatalf("we decode %d bytes, klauspost fails: %v", len(got), kerr)
		case err == nil && !bytes.Equal(got, want):
			t.Fatalf("output differs from klauspost's (%d vs %d bytes) at %d", len(got), len(want), sample.FirstDiff(got, want))
		}
	})
}

// skimLike decodes in again, skipping and reading in turns, and checks
// that the bytes read are those of got (the whole output read with Read)
// and that it ends where and as reading did (readErr).
func skimLike(t *testing.T, in, got []byte, readErr error) {
	z := NewReader(bytes.NewReader(in), 8<<20)
	defer z.Close()
	pos, step := 0, 1+len(in)%5000
	for i := 0; ; i++ {
		var n int
		var err error
		if i%2 == 0 {
			n, err = z.Discard(step * (i%7 + 1))
		} else {
			buf := make([]byte, step)
			n, err = z.Read(buf)
			if pos+n > len(got) || !bytes.Equal(buf[:n], got[pos:pos+n]) {
				t.Fatalf("bytes %d-%d read after discards differ from those read alone", pos, pos+n)
			}
		}
		pos += n
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			if (err == nil) != (readErr == nil) || pos != len(got) {
				t.Fatalf("skimming ended at %d with %v, reading at %d with %v", pos, err, len(got), readErr)
			}
			return
		}
	}
}
