package main

// "bmap verify" and "copy --verify-readback" on real block devices: loop
// devices over files (root and losetup needed; skipped otherwise). The
// device is damaged the way failing media damage it, behind the copy's
// back: dd writes random data over one block, with O_DIRECT, so neither
// the page cache nor the backing file's cache hides it.
//
// A faulty device that corrupts data between write and read-back (a
// device-mapper dm-flakey target with corrupt_bio_byte, or dm-error) would
// be the most literal test, but device-mapper is often missing where tests
// run (containers, microVM kernels without CONFIG_BLK_DEV_DM). Instead,
// the damage is done from the log hook of readback_test.go, at the moment
// copy starts reading back: the same situation, deterministic, and with
// nothing but a loop device.

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bmap-tools/bmap/bmap"
)

// rbDD overwrites block (of testBlockSize bytes) of dev with random data,
// bypassing the page cache.
func rbDD(t *testing.T, dev string, block int64) {
	t.Helper()
	execute(t, "", "dd", "if=/dev/urandom", "of="+dev, "bs="+strconv.Itoa(testBlockSize),
		"seek="+strconv.FormatInt(block, 10), "count=1", "conv=notrunc", "oflag=direct", "status=none")
}

// rbCheckDevice checks that every mapped range of m on dev holds the
// image's data.
func rbCheckDevice(t *testing.T, dev string, m *bmap.Map, data []byte) {
	t.Helper()
	got := readDevice(t, dev, len(data))
	for _, r := range m.Ranges {
		off, end := m.Offset(r), m.Offset(r)+m.Length(r)
		if !bytes.Equal(got[off:end], data[off:end]) {
			t.Errorf("%s: %s differ from the image", dev, rbDescribe(m, r))
		}
	}
}

func TestVerifyLoopDevice(t *testing.T) {
	needRoot(t, "dd")
	f := rbSetup(t)
	m := f.m
	mid := rbRange(t, m, 30)
	dev := deviceWith(t, oldContent(2<<20))

	mustRun(t, nil, "copy", "--bmap", f.bmap, f.gz, dev)
	r := mustRun(t, nil, "verify", "--bmap", f.bmap, dev)
	if want := fmt.Sprintf("all %d ranges of '%s' match the bmap", len(m.Ranges), dev); !strings.Contains(r.stderr, want) {
		t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
	}

	// Random data in a hole of the image does not matter.
	hole := holeOf(t, m) / testBlockSize
	rbDD(t, dev, hole)
	mustRun(t, nil, "verify", "--bmap", f.bmap, dev)

	// In a mapped range, it does.
	rbDD(t, dev, mid.First+10)
	r = runBmap(t, nil, "verify", "--bmap", f.bmap, dev)
	wantFailure(t, r, exitFailure, dev, "does not match", fmt.Sprintf("1 of %d ranges differ", len(m.Ranges)), rbDescribe(m, mid))

	// Written again, the device is good again.
	mustRun(t, nil, "copy", "--bmap", f.bmap, f.gz, dev)
	mustRun(t, nil, "verify", "--bmap", f.bmap, dev)
	rbCheckDevice(t, dev, m, f.img.data)

	// The image's last, partial block: damage past the image's end is
	// not the image's business, damage before it is.
	last := m.Ranges[len(m.Ranges)-1]
	rbDD(t, dev, m.BlocksCount) // the first block after the image
	mustRun(t, nil, "verify", "--bmap", f.bmap, dev)
	rbDD(t, dev, last.Last)
	wantFailure(t, runBmap(t, nil, "verify", "--bmap", f.bmap, dev), exitFailure, rbDescribe(m, last))
}

// TestVerifyLoopDeviceTooSmall: a device smaller than the image is an
// error that gives both sizes, not a read error part way.
func TestVerifyLoopDeviceTooSmall(t *testing.T) {
	needRoot(t)
	f := rbSetup(t)
	const size = 256 << 10
	dev := deviceWith(t, oldContent(size))
	r := runBmap(t, nil, "verify", "--bmap", f.bmap, dev)
	wantFailure(t, r, exitFailure, dev, strconv.Itoa(size), strconv.FormatInt(f.m.ImageSize, 10), "smaller")
}

func TestCopyVerifyReadbackLoopDevice(t *testing.T) {
	needRoot(t, "dd")
	f := rbSetup(t)
	m := f.m
	mid := rbRange(t, m, 30)
	old := oldContent(2 << 20)

	t.Run("good", func(t *testing.T) {
		dev := deviceWith(t, old)
		r := mustRun(t, nil, "copy", "--verify-readback", "--bmap", f.bmap, f.gz, dev)
		if want := fmt.Sprintf("read back %d ranges of '%s': all match the bmap", len(m.Ranges), dev); !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
		}
		rbCheckDevice(t, dev, m, f.img.data)
	})

	// The device loses a block between the write and the read-back.
	t.Run("damaged", func(t *testing.T) {
		dev := deviceWith(t, old)
		r, n := rbRunHooked(t, func(int) { rbDD(t, dev, mid.First+3) },
			"copy", "--verify-readback", "--bmap", f.bmap, f.gz, dev)
		wantFailure(t, r, exitFailure, dev, "read-back verification", rbDescribe(m, mid), "failing media")
		if n != 1 {
			t.Errorf("%d read-backs, want 1", n)
		}
	})

	// Once, with --retries: written again, read back right.
	t.Run("damaged-once-retried", func(t *testing.T) {
		dev := deviceWith(t, old)
		r, n := rbRunHooked(t, func(i int) {
			if i == 0 {
				rbDD(t, dev, mid.First+3)
			}
		}, "copy", "--verify-readback", "--retries", "1", "--bmap", f.bmap, f.gz, dev)
		if r.err != nil {
			t.Fatalf("copy failed: %v\n%s", r.err, r.stderr)
		}
		if n != 2 || !strings.Contains(r.stderr, "writing them again (retry 1 of 1)") {
			t.Errorf("%d read-backs, want 2 with one retry:\n%s", n, r.stderr)
		}
		rbCheckDevice(t, dev, m, f.img.data)
		mustRun(t, nil, "verify", "--bmap", f.bmap, dev)
		// Only mapped ranges were written: a hole keeps the old content.
		h := holeOf(t, m)
		sameBytes(t, "a hole on "+dev, readDevice(t, dev, int(h)+testBlockSize)[h:], old[h:h+testBlockSize])
	})

	// Every write is lost again: the retries run out.
	t.Run("damaged-always", func(t *testing.T) {
		dev := deviceWith(t, old)
		r, n := rbRunHooked(t, func(int) { rbDD(t, dev, mid.Last) },
			"copy", "--verify-readback", "--retries", "2", "--bmap", f.bmap, filepath.Clean(f.img.path), dev)
		wantFailure(t, r, exitFailure, dev, "read-back verification", rbDescribe(m, mid))
		if n != 3 {
			t.Errorf("%d read-backs, want 3", n)
		}
	})
}
