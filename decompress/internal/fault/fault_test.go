package fault

import (
	"errors"
	"io"
	"testing"
)

func TestSize(t *testing.T) {
	for n, want := range map[uint64]string{
		0: "0 bytes", 4097: "4097 bytes", 4096: "4 KiB", 1 << 30: "1 GiB", 3 << 29: "1.5 GiB",
		384 << 20: "384 MiB", 1<<30 + 1<<27: "1.125 GiB", 1<<20 + 1: "1048577 bytes",
	} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestMessages: a kind prints with the package prefix alone, without it
// inside an Error or a detail.
func TestMessages(t *testing.T) {
	d := Errorf(ErrUnsupported, "member %q is encrypted", "x")
	e := &Error{Format: "zstd", Offset: 7, What: "frame header", Kind: ErrMemoryLimit, Err: d}
	for _, c := range []struct{ got, want string }{
		{ErrCorrupt.Error(), "decompress: corrupt data"},
		{d.Error(), `decompress: unsupported: member "x" is encrypted`},
		{Message(d), `unsupported: member "x" is encrypted`},
		{e.Error(), `zstd: frame header at compressed byte 7: over the memory limit: unsupported: member "x" is encrypted`},
		{Input("xz", 3, "block", io.EOF).Error(), "xz: block at compressed byte 3: unexpected EOF"},
	} {
		if c.got != c.want {
			t.Errorf("%q, want %q", c.got, c.want)
		}
	}
	if !errors.Is(e, ErrMemoryLimit) || !errors.Is(e, ErrUnsupported) || errors.Is(e, ErrCorrupt) {
		t.Error("errors.Is does not see the kinds")
	}
}
