package flash

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// DirectReader returns the same bytes as a plain read for any offset and
// length, including unaligned ones and reads past the end.
func TestDirectReader(t *testing.T) {
	data := randomImage(rand.New(rand.NewPCG(9, 9)), 3<<20+777)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := OpenDirectReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	t.Logf("O_DIRECT: %v", r.direct)
	rng := rand.New(rand.NewPCG(1, 1))
	for range 200 {
		off := rng.Int64N(int64(len(data)) + 10)
		n := rng.IntN(2<<20 + 100)
		p := make([]byte, n)
		got, err := r.ReadAt(p, off)
		want := max(0, min(int64(n), int64(len(data))-off))
		if int64(got) != want || !bytes.Equal(p[:got], data[min(off, int64(len(data))):min(off, int64(len(data)))+want]) {
			t.Fatalf("ReadAt(%d bytes at %d) = %d, %v; want %d bytes of the file", n, off, got, err, want)
		}
		if got < n && err != io.EOF {
			t.Fatalf("short ReadAt(%d at %d) = %d, %v, want io.EOF", n, off, got, err)
		}
	}
}
