package main

import (
	"fmt"
	"path/filepath"
	"testing"
)

// TestCopyDestOffset writes images at an offset into the destination: a
// bootloader at 8 KiB or 32 KiB of a card, a partition's image inside a
// whole-disk file. Only the mapped ranges are written, at the offset; the
// rest of the destination keeps what it held. An aligned offset goes
// through O_DIRECT, an unaligned one through the page cache.
func TestCopyDestOffset(t *testing.T) {
	dir := t.TempDir()
	img := makeImage(t, dir, "boot.img", imageSpec{size: 64*testBlockSize + 300, ranges: []blockRange{{0, 3, 't'}, {20, 20, 'r'}, {63, 64, 't'}}, seed: 31})
	bm := filepath.Join(dir, "boot.img.bmap")
	m := createBmap(t, img.path, bm)
	const diskSize = 1 << 20
	expect := func(old []byte, offset int64) []byte {
		want := append([]byte(nil), old...)
		for _, r := range m.Ranges {
			copy(want[offset+m.Offset(r):], img.data[m.Offset(r):m.Offset(r)+m.Length(r)])
		}
		return want
	}

	for _, tc := range []struct {
		name   string
		arg    string
		offset int64
	}{{"8K", "8K", 8 << 10}, {"32KiB", "32KiB", 32 << 10}, {"unaligned", "1000", 1000}} {
		t.Run("file-"+tc.name, func(t *testing.T) {
			disk := filepath.Join(t.TempDir(), "disk.bin")
			old := oldContent(diskSize)
			writeFile(t, disk, old)
			mustRun(t, nil, "copy", "--verify-readback", "--bmap", bm, "--dest-offset", tc.arg, img.path, disk)
			sameBytes(t, disk, readFile(t, disk), expect(old, tc.offset))
		})
		t.Run("device-"+tc.name, func(t *testing.T) {
			needRoot(t)
			old := oldContent(diskSize)
			dev := deviceWith(t, old)
			mustRun(t, nil, "copy", "--verify-readback", "--bmap", bm, "--dest-offset", tc.arg, img.path, dev)
			sameBytes(t, dev, readDevice(t, dev, diskSize), expect(old, tc.offset))
		})
	}

	// A whole-disk file smaller than offset + image grows to hold it.
	t.Run("grows", func(t *testing.T) {
		disk := filepath.Join(t.TempDir(), "disk.bin")
		writeFile(t, disk, []byte("MBR!"))
		mustRun(t, nil, "copy", "--bmap", bm, "--dest-offset", "4K", img.path, disk)
		want := expect(append([]byte("MBR!"), make([]byte, 4096-4+len(img.data))...), 4096)
		sameBytes(t, disk, readFile(t, disk), want)
	})

	// Too small once the offset is counted: refused before any write.
	t.Run("too-small", func(t *testing.T) {
		needRoot(t)
		old := oldContent(int(roundUp(int64(len(img.data)), 4096)) + 4096) // 8 KiB + image do not fit
		dev := deviceWith(t, old)
		r := runBmap(t, nil, "copy", "--bmap", bm, "--dest-offset", "8K", img.path, dev)
		wantFailure(t, r, exitFailure, dev, "does not fit", fmt.Sprintf("a %d-byte image from byte 8192", len(img.data)))
		sameBytes(t, dev, readDevice(t, dev, len(old)), old)
	})

	t.Run("bad-offset", func(t *testing.T) {
		r := runBmap(t, nil, "copy", "--bmap", bm, "--dest-offset", "8X", img.path, filepath.Join(t.TempDir(), "out"))
		wantFailure(t, r, exitUsage, "--dest-offset", `"8X" is not a size`)
	})
}
