package zstd

import (
	"bytes"
	"io"
	"os/exec"
	"testing"

	kzstd "github.com/klauspost/compress/zstd"
)

// FuzzReader decodes arbitrary input: it must never panic, and when
// klauspost/compress/zstd decodes the input, the output must be the same.
func FuzzReader(f *testing.F) {
	f.Add([]byte{})
	f.Add(skippable(3, []byte("abc")))
	if _, err := exec.LookPath("zstd"); err == nil {
		for i, in := range [][]byte{text(3000), mixed(40<<10, 1), randomBytes(2000, 1), []byte("a"), {}} {
			for _, lvl := range []string{"-1", "-3", "-19", "--no-check"} {
				f.Add(compress(f, "fuzz"+string(rune('a'+i)), in, "zstd", lvl))
			}
		}
	}
	const limit = 16 << 20
	f.Fuzz(func(t *testing.T, in []byte) {
		z := NewReader(bytes.NewReader(in), 8<<20)
		got, err := io.ReadAll(io.LimitReader(z, limit))
		z.Close()
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
		}
		d, kerr := kzstd.NewReader(bytes.NewReader(in), kzstd.WithDecoderConcurrency(1),
			kzstd.WithDecoderMaxWindow(8<<20), kzstd.WithDecoderMaxMemory(64<<20))
		if kerr != nil {
			return
		}
		want, kerr := io.ReadAll(io.LimitReader(d, limit))
		d.Close()
		if kerr != nil || len(want) == limit || len(got) == limit {
			return
		}
		if len(in) == 0 {
			return // klauspost accepts empty input, we do not
		}
		if err != nil {
			t.Fatalf("klauspost decodes %d bytes, we fail: %v", len(want), err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("output differs from klauspost's (%d vs %d bytes) at %d", len(got), len(want), firstDiff(got, want))
		}
	})
}
