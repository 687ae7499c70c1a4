package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bmap-tools/bmap/bmap"
)

// withImage is old with the mapped ranges of img written over it: what a
// device holds after a copy of img.
func withImage(old []byte, img *testImage, m *bmap.Map) []byte {
	want := bytes.Clone(old)
	for _, r := range m.Ranges {
		off, end := m.Offset(r), m.Offset(r)+m.Length(r)
		copy(want[off:end], img.data[off:end])
	}
	return want
}

// TestCopyToSeveralDevices copies one image onto three loop devices at
// once, from a raw file and from a gzip stream, with --verify-readback:
// each holds the image's mapped ranges and its old content elsewhere.
func TestCopyToSeveralDevices(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	bm := filepath.Join(dir, "disk.img.bmap")
	m := createBmap(t, img.path, bm)
	gz := compress(t, formatNamed(t, "gzip"), img.path, dir)
	const devSize = 4 << 20
	old := oldContent(devSize)
	devs := []string{deviceWith(t, old), deviceWith(t, old), deviceWith(t, old)}
	want := withImage(old, img, m)
	for _, image := range []string{img.path, gz} {
		for _, d := range devs {
			writeDevice(t, d, old)
		}
		r := mustRun(t, nil, append([]string{"copy", "--progress", "json", "--verify-readback", "--bmap", bm, image}, devs...)...)
		events, _ := parseEvents(t, r.stderr)
		results := map[string]string{}
		for _, d := range devs {
			sameBytes(t, d, readDevice(t, d, devSize), want)
			results[d] = "success"
		}
		checkDestEvents(t, events, true, results)
		for _, ev := range events {
			if ev.str("event") == "start" && ev.str("destination_kind") != "block device" {
				t.Errorf("start event %v: want destination_kind block device", ev)
			}
		}
	}
	// And verify checks them all at once.
	r := mustRun(t, nil, append([]string{"verify", "--bmap", bm}, devs...)...)
	for _, d := range devs {
		if !strings.Contains(r.stderr, "ranges of '"+d+"' match the bmap") {
			t.Errorf("verify does not say %s matches:\n%s", d, r.stderr)
		}
	}
}

// TestCopyToSeveralDevicesOneFails copies onto two healthy loop devices and
// one over a file on an 8 MiB tmpfs, whose writes fail part way: that one
// is dropped and named, the others are written in full, and the exit
// status is 1.
func TestCopyToSeveralDevicesOneFails(t *testing.T) {
	needRoot(t, "mount", "umount")
	if testing.Short() {
		t.Skip("writes 30 MiB to loop devices; skipped with -short")
	}
	dir := t.TempDir()
	// About 10 MiB mapped, in two runs.
	img := makeImage(t, dir, "big.img", imageSpec{
		size:   3000*testBlockSize + 100,
		ranges: []blockRange{{0, 1023, 'r'}, {1100, 2700, 'r'}, {2999, 3000, 't'}},
		seed:   3,
	})
	bm := filepath.Join(dir, "big.img.bmap")
	m := createBmap(t, img.path, bm)
	gz := compress(t, formatNamed(t, "gzip"), img.path, dir)

	tmpfs := t.TempDir()
	mount(t, tmpfs, "-t", "tmpfs", "-o", "size=8M", "tmpfs")
	backing := filepath.Join(tmpfs, "backing")
	writeFile(t, backing, nil)
	if err := os.Truncate(backing, 64<<20); err != nil {
		t.Fatal(err)
	}
	failing := loopDevice(t, backing)
	devSize := int(roundUp(m.ImageSize, testBlockSize))
	old := oldContent(devSize)
	good1, good2 := deviceWith(t, old), deviceWith(t, old)
	want := withImage(old, img, m)

	r := runBmap(t, nil, "copy", "--progress", "json", "--bmap", bm, gz, good1, failing, good2)
	wantFailure(t, r, exitFailure, "1 of 3 destinations failed", failing)
	msg := errorLine(t, r)
	if strings.Contains(msg, good1) || strings.Contains(msg, good2) {
		t.Errorf("the error names a healthy destination: %s", msg)
	}
	// Where the failing one stopped: past 4 MiB, within the image.
	found := false
	for _, sub := range regexp.MustCompile(`byte (\d+)`).FindAllStringSubmatch(msg, -1) {
		off, _ := strconv.ParseInt(sub[1], 10, 64)
		found = found || off >= 4<<20 && off < m.ImageSize
	}
	if !found {
		t.Errorf("error %q does not name the offset where writing failed", msg)
	}
	sameBytes(t, good1, readDevice(t, good1, devSize), want)
	sameBytes(t, good2, readDevice(t, good2, devSize), want)
	events, _ := parseEvents(t, r.stderr)
	checkDestEvents(t, events, true, map[string]string{good1: "success", failing: "failure", good2: "success"})
	for _, ev := range events {
		if ev.str("event") == "end" && ev.str("destination") != failing && ev.num("written_bytes") != float64(m.MappedBytes()) {
			t.Errorf("end event %v: written_bytes, want %d", ev, m.MappedBytes())
		}
	}
}

// TestCopyToSeveralDevicesOneRefused: one device too small for the image
// refuses the whole copy before anything is written: every device keeps
// its old content, and the error names the small one.
func TestCopyToSeveralDevicesOneRefused(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	bm := filepath.Join(dir, "disk.img.bmap")
	createBmap(t, img.path, bm)
	gz := compress(t, formatNamed(t, "gzip"), img.path, dir)
	const bigSize, smallSize = 4 << 20, 1 << 20
	big, small := oldContent(bigSize), oldContent(smallSize)
	good1, tooSmall, good2 := deviceWith(t, big), deviceWith(t, small), deviceWith(t, big)
	for _, image := range []string{img.path, gz} {
		r := runBmap(t, nil, "copy", "--progress", "json", "--bmap", bm, image, good1, tooSmall, good2)
		wantFailure(t, r, exitFailure, "1 of 3 destinations cannot be written, so none was written", tooSmall, strconv.Itoa(smallSize))
		if msg := errorLine(t, r); strings.Contains(msg, good1) || strings.Contains(msg, good2) {
			t.Errorf("the error names a device that was not refused: %s", msg)
		}
		sameBytes(t, good1, readDevice(t, good1, bigSize), big)
		sameBytes(t, good2, readDevice(t, good2, bigSize), big)
		sameBytes(t, tooSmall, readDevice(t, tooSmall, smallSize), small)
		events, _ := parseEvents(t, r.stderr)
		checkDestEvents(t, events, false, map[string]string{good1: "failure", tooSmall: "failure", good2: "failure"})
	}
}
