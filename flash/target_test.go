package flash

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestTargetFlushBehind copies into a regular file with a background flush
// every few buffers: the file must hold the image, sparse ranges and all,
// whether the flushes are still running when the copy ends or not.
func TestTargetFlushBehind(t *testing.T) {
	defer func(n int64) { flushEvery = n }(flushEvery)
	rng := rand.New(rand.NewPCG(9, 10))
	img := randomImage(rng, 600*4096+77)
	m := makeMap(img, 4096, [][2]int64{{0, 99}, {150, 420}, {500, 600}})
	want := reference(img, m)
	for _, every := range []int64{4096, 64 << 10, 1 << 30} {
		flushEvery = every
		path := filepath.Join(t.TempDir(), "out.img")
		dst, err := OpenTarget(path, TargetOptions{ImageSize: m.ImageSize, MappedBytes: -1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Copy(context.Background(), dst, bytes.NewReader(img), m, Options{BufferSize: 8192, Buffers: 4}); err != nil {
			t.Fatalf("flush every %d: Copy: %v", every, err)
		}
		if err := dst.Finish(-1); err != nil {
			t.Fatalf("flush every %d: Finish: %v", every, err)
		}
		if err := dst.Commit(); err != nil {
			t.Fatalf("flush every %d: Commit: %v", every, err)
		}
		if err := dst.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.data) {
			t.Errorf("flush every %d: the file differs from the image's mapped ranges", every)
		}
	}

	// Closed without Finish (an interrupted copy): Close waits for a
	// running flush, so it never syncs a closed descriptor.
	flushEvery = 4096
	dst, err := OpenTarget(filepath.Join(t.TempDir(), "out.img"), TargetOptions{ImageSize: m.ImageSize, MappedBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	for off := int64(0); off < 64*4096; off += 4096 {
		if _, err := dst.WriteAt(img[off:off+4096], off); err != nil {
			t.Fatal(err)
		}
	}
	if err := dst.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
