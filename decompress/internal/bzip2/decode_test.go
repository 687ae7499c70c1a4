package bzip2

import (
	"bytes"
	"errors"
	"testing"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
)

// TestMergeBound: a block cut by hundreds of false magics fails after
// merging at most maxMerge segments, not after one decoding of the
// growing merge per magic, and names the block.
func TestMergeBound(t *testing.T) {
	magic := []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}
	in := []byte("BZh9")
	for i := 0; i < 300; i++ {
		in = append(in, magic...)
		in = append(in, bytes.Repeat([]byte{0x5a, byte(i)}, 50)...)
	}
	_, z, err := decodeAll(in, 2, nil)
	var e *fault.Error
	if !errors.As(err, &e) || e.Offset != 4 || !errors.Is(err, fault.ErrCorrupt) {
		t.Fatalf("%v, want a corrupt block at 4", err)
	}
	if z.mergeTries > maxMerge {
		t.Errorf("%d merged decodings, want at most %d", z.mergeTries, maxMerge)
	}
}

// TestPanic: a panic of the block decoder comes out as fault.ErrInternal
// with its stack, and is not merged like a false magic.
func TestPanic(t *testing.T) {
	z := NewReader(bytes.NewReader(nil), 1)
	defer z.Close()
	_, derr, ok := z.inflate(nil, make([]byte, 64), 0, 100, 9, nil) // a nil decoder
	if !ok || !isPanic(derr) || fault.StackOf(derr) == nil {
		t.Fatalf("inflate with a nil decoder: %v, %v", ok, derr)
	}
	z.release(&segment{off: 8 * 1000, end: 1100, err: derr}, nil)
	if len(z.pending) != 0 || !errors.Is(z.err, fault.ErrInternal) {
		t.Fatalf("after the panic: %d pending, %v", len(z.pending), z.err)
	}
	var e *fault.Error
	if !errors.As(z.err, &e) || e.Offset != 1000 {
		t.Errorf("%v, want the block at 1000", z.err)
	}
}
