package main

// An image larger than 4 GiB, with data on both sides of byte 2^32 and at
// its end: what a 32-bit build (GOARCH=386 or arm: int is 32 bits there)
// must still create, copy and verify. .ci/run runs the suite under
// GOARCH=386 as well, so this test runs there too.

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/bmap-tools/bmap/bmap"
)

// largeSize is the size of the image of TestCopyPast4GiB: past 4 GiB, and
// not a multiple of the block size.
const largeSize int64 = 4<<30 + 16<<20 + 1000

// A piece is data written into a sparse image at off.
type piece struct {
	off  int64
	data []byte
}

// largePieces returns the data of the large image: a block at the start,
// 2 MiB across byte 4 GiB, and the last block and a half (a partial block)
// at the end. Everything else is a hole.
func largePieces() []piece {
	rng := rand.New(rand.NewPCG(4, 0x626d6170))
	fill := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	return []piece{
		{0, fill(4096)},
		{4<<30 - 1<<20, fill(2 << 20)},
		{largeSize - 4096 - 1000, fill(4096 + 1000)},
	}
}

// largeImage is the image of the tests past 4 GiB, made in dir with its
// bmap by bmap create.
type largeImage struct {
	path, bmap string
	m          *bmap.Map
	pieces     []piece
}

// makeLargeImage writes the large image and its bmap into dir and checks
// that bmap create mapped the blocks where the data is, past 4 GiB
// included.
func makeLargeImage(t *testing.T, dir string) largeImage {
	t.Helper()
	li := largeImage{path: filepath.Join(dir, "large.img"), bmap: filepath.Join(dir, "large.img.bmap"), pieces: largePieces()}
	writeSparse(t, li.path, largeSize, li.pieces)
	li.m = createBmap(t, li.path, li.bmap)
	if li.m.ImageSize != largeSize {
		t.Fatalf("bmap image size %d, want %d", li.m.ImageSize, largeSize)
	}
	var want []bmap.Range
	bs := li.m.BlockSize
	for _, p := range li.pieces {
		want = append(want, bmap.Range{First: p.off / bs, Last: (p.off+int64(len(p.data))+bs-1)/bs - 1})
	}
	if got := rangeList(li.m.Ranges); got != rangeList(want) {
		t.Fatalf("bmap create mapped blocks %s, want %s (block size %d)", got, rangeList(want), bs)
	}
	return li
}

func TestCopyPast4GiB(t *testing.T) {
	dir := t.TempDir()
	li := makeLargeImage(t, dir)

	// copy from the raw file (seeks over the holes, reads with ReadAt),
	// reading it back from the destination, then verify.
	out := filepath.Join(dir, "raw.out")
	mustRun(t, nil, "copy", "--bmap", li.bmap, "--verify-readback", li.path, out)
	checkSparse(t, out, li.m)
	checkPieces(t, out, li.pieces)
	mustRun(t, nil, "verify", "--bmap", li.bmap, out)

	// copy from a zstd stream (decoded, the holes skipped with Discard).
	needTools(t, "zstd")
	zst := filepath.Join(dir, "large.img.zst")
	writeFile(t, zst, zstdFrames(t, largeSize, li.pieces))
	out = filepath.Join(dir, "zst.out")
	mustRun(t, nil, "copy", "--bmap", li.bmap, zst, out)
	checkSparse(t, out, li.m)
	checkPieces(t, out, li.pieces)
}

// writeSparse writes a sparse file of size bytes holding pieces, skipping
// the test if the filesystem does not keep the holes.
func writeSparse(t *testing.T, path string, size int64, pieces []piece) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Skipf("cannot make a sparse file of %d bytes in %s: %v", size, filepath.Dir(path), err)
	}
	var n int64
	for _, p := range pieces {
		if _, err := f.WriteAt(p.data, p.off); err != nil {
			t.Fatal(err)
		}
		n += int64(len(p.data))
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if alloc := fi.Sys().(*syscall.Stat_t).Blocks * 512; alloc > n+16<<20 {
		t.Skipf("the filesystem of %s allocated %d bytes for %d bytes of data: it does not keep holes", filepath.Dir(path), alloc, n)
	}
}

// checkPieces checks that the file or device at path holds every piece.
func checkPieces(t *testing.T, path string, pieces []piece) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range pieces {
		got := make([]byte, len(p.data))
		if _, err := f.ReadAt(got, p.off); err != nil && err != io.EOF {
			t.Fatalf("%s: reading bytes %d-%d: %v", path, p.off, p.off+int64(len(got))-1, err)
		}
		if i := firstDiff(got, p.data); i >= 0 {
			t.Errorf("%s: byte %d is %#02x, want %#02x", path, p.off+int64(i), got[i], p.data[i])
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

func rangeList(rs []bmap.Range) string {
	var b bytes.Buffer
	for _, r := range rs {
		fmt.Fprintf(&b, "[%d-%d]", r.First, r.Last)
	}
	return b.String()
}

// zstdFrames returns a zstd stream of the image of size bytes holding
// pieces, made by the zstd program without making it read gigabytes of
// zeros: one frame per piece and per run of zeros, as pzstd also writes a
// stream of several frames. A run of zeros is a 64 MiB frame repeated,
// then one frame for the rest.
func zstdFrames(t *testing.T, size int64, pieces []piece) []byte {
	t.Helper()
	const chunk = 64 << 20
	var whole []byte // the frame of chunk zeros
	var out bytes.Buffer
	zeros := func(n int64) {
		if n >= chunk && whole == nil {
			whole = zstdBytes(t, make([]byte, chunk))
		}
		for ; n >= chunk; n -= chunk {
			out.Write(whole)
		}
		if n > 0 {
			out.Write(zstdBytes(t, make([]byte, n)))
		}
	}
	var pos int64
	for _, p := range pieces {
		zeros(p.off - pos)
		out.Write(zstdBytes(t, p.data))
		pos = p.off + int64(len(p.data))
	}
	zeros(size - pos)
	return out.Bytes()
}

// zstdBytes compresses data with the zstd program.
func zstdBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	cmd := exec.Command("zstd", "-q", "-c")
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("zstd: %v\n%s", err, stderr.String())
	}
	return out
}
