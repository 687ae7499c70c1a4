package main

// Copies onto real block devices: loop devices over files in t.TempDir().
// These need root and losetup; without them (or where the sandbox has no
// loop devices) they skip, saying why.

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bmap-tools/bmap/bmap"
)

// needRoot skips the test unless it runs as root with the given tools.
func needRoot(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to set up loop devices")
	}
	needTools(t, append([]string{"losetup"}, tools...)...)
}

// loopDevice attaches a loop device to backing and detaches it when the
// test ends. It skips the test if no loop device can be set up here.
func loopDevice(t *testing.T, backing string) string {
	t.Helper()
	out, err := exec.Command("losetup", "--find", "--show", backing).CombinedOutput()
	if err != nil {
		t.Skipf("cannot set up a loop device here (losetup --find --show: %v: %s)", err, bytes.TrimSpace(out))
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "--detach", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup --detach %s: %v: %s", dev, err, out)
		}
	})
	return dev
}

// mount mounts what (a device, or "tmpfs") on dir and unmounts it when the
// test ends, after everything registered later (such as a loop device over
// a file in dir) was cleaned up. It skips the test if mounting fails.
func mount(t *testing.T, dir string, args ...string) {
	t.Helper()
	if err := tryMount(t, dir, args...); err != nil {
		t.Skipf("cannot mount here (%v)", err)
	}
}

// tryMount is mount, returning why mounting failed instead of skipping.
func tryMount(t *testing.T, dir string, args ...string) error {
	t.Helper()
	args = append(args, dir)
	if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("mount %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		// A just-detached loop device may still hold its backing file
		// for a moment.
		var out []byte
		var err error
		for range 50 {
			if out, err = exec.Command("umount", dir).CombinedOutput(); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("umount %s: %v: %s", dir, err, out)
		exec.Command("umount", "--lazy", dir).Run()
	})
	return nil
}

// oldContent is what a device holds before a copy: a pattern that differs
// from the image everywhere, zero blocks included.
func oldContent(n int) []byte {
	pattern := []byte("old device content \xa5\x5a ")
	return bytes.Repeat(pattern, n/len(pattern)+1)[:n]
}

// deviceWith creates a backing file of the given content and returns a
// loop device over it.
func deviceWith(t *testing.T, content []byte) string {
	t.Helper()
	backing := filepath.Join(t.TempDir(), "backing")
	writeFile(t, backing, content)
	return loopDevice(t, backing)
}

// readDevice reads the first n bytes of a device.
func readDevice(t *testing.T, dev string, n int) []byte {
	t.Helper()
	f, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, n)
	if _, err := io.ReadFull(f, buf); err != nil {
		t.Fatalf("reading %s: %v", dev, err)
	}
	return buf
}

// writeDevice writes data at the start of a device and syncs it.
func writeDevice(t *testing.T, dev string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

// TestCopyToLoopDevice writes an image onto a loop device. Only the mapped
// ranges are written: the device's holes keep their old content, as with
// bmaptool (a block device cannot be made sparse, and writing zeros to the
// holes would cost what the bmap saves). With --nobmap every byte is
// written. Bytes past the image's end are never touched.
func TestCopyToLoopDevice(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	bm := filepath.Join(dir, "disk.img.bmap")
	m := createBmap(t, img.path, bm)
	gz := compress(t, formatNamed(t, "gzip"), img.path, dir)
	const devSize = 4 << 20
	old := oldContent(devSize)

	tests := []struct {
		name  string
		args  []string
		holes bool // holes keep the old content (else they are the image's zeros)
	}{
		{"raw", []string{"--bmap", bm, img.path}, true},
		{"gzip", []string{"--bmap", bm, gz}, true},
		{"nobmap-raw", []string{"--nobmap", img.path}, false},
		{"nobmap-gzip", []string{"--nobmap", gz}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev := deviceWith(t, old)
			r := mustRun(t, nil, append(append([]string{"copy"}, tt.args...), dev)...)
			if !strings.Contains(r.stderr, "block device") {
				t.Errorf("stderr does not say %s is a block device:\n%s", dev, r.stderr)
			}
			got := readDevice(t, dev, devSize)
			want := bytes.Clone(old)
			if tt.holes {
				for _, rg := range m.Ranges {
					off, end := m.Offset(rg), m.Offset(rg)+m.Length(rg)
					copy(want[off:end], img.data[off:end])
				}
			} else {
				copy(want, img.data)
			}
			sameBytes(t, dev, got, want)
			if tt.holes {
				// Spelled out: a hole of the image on the device.
				h := holeOf(t, m)
				sameBytes(t, "a hole on "+dev, got[h:h+testBlockSize], old[h:h+testBlockSize])
			}
		})
	}
}

// holeOf returns the offset of the first unmapped block of m.
func holeOf(t *testing.T, m *bmap.Map) int64 {
	t.Helper()
	next := int64(0)
	for _, r := range m.Ranges {
		if r.First > next {
			return next * m.BlockSize
		}
		next = r.Last + 1
	}
	t.Fatal("the image has no hole")
	return 0
}

// TestCopyDeviceTooSmall: an image larger than the device is refused before
// anything is written, and the message gives both sizes.
func TestCopyDeviceTooSmall(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	bm := filepath.Join(dir, "disk.img.bmap")
	createBmap(t, img.path, bm)
	gz := compress(t, formatNamed(t, "gzip"), img.path, dir)
	const devSize = 1 << 20
	old := oldContent(devSize)

	tests := []struct {
		name string
		args []string
	}{
		{"raw", []string{"--bmap", bm, img.path}},
		{"gzip", []string{"--bmap", bm, gz}},
		{"nobmap-raw", []string{"--nobmap", img.path}}, // a raw file's size is known
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev := deviceWith(t, old)
			r := runBmap(t, nil, append(append([]string{"copy"}, tt.args...), dev)...)
			wantFailure(t, r, exitFailure, dev, strconv.Itoa(len(img.data)), strconv.Itoa(devSize))
			sameBytes(t, dev, readDevice(t, dev, devSize), old)
		})
	}
}

// TestCopyMountedDevice: copy refuses a mounted device without writing:
// it finds the mount itself, and even with --force the kernel refuses the
// exclusive open (EBUSY).
func TestCopyMountedDevice(t *testing.T) {
	needRoot(t, "mkfs.ext4", "mount", "umount")
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	bm := filepath.Join(dir, "disk.img.bmap")
	createBmap(t, img.path, bm)
	gz := compress(t, formatNamed(t, "gzip"), img.path, dir)

	const devSize = 16 << 20
	backing := filepath.Join(dir, "backing")
	writeFile(t, backing, nil)
	if err := os.Truncate(backing, devSize); err != nil {
		t.Fatal(err)
	}
	dev := loopDevice(t, backing)
	// No lazy initialisation: the kernel would write to the device in the
	// background while the test compares its content.
	execute(t, "", "mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", dev)
	mnt := t.TempDir()
	mount(t, mnt, dev)
	execute(t, "", "sync")
	before := readDevice(t, dev, devSize)

	tests := []struct {
		name string
		args []string
		want string
	}{
		// bmap sees the mount in /proc/self/mountinfo and says so.
		{"bmap", []string{"--bmap", bm, gz}, "mounted"},
		{"nobmap", []string{"--nobmap", img.path}, "mounted"},
		// --force skips that check, but the kernel refuses O_EXCL.
		{"force", []string{"--force", "--bmap", bm, gz}, "busy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBmap(t, nil, append(append([]string{"copy"}, tt.args...), dev)...)
			wantFailure(t, r, exitFailure, dev, tt.want)
		})
	}
	sameBytes(t, dev, readDevice(t, dev, devSize), before)
}

// TestCopyDeviceWriteFails copies onto a device whose writes fail part way:
// a 64 MiB loop device over a sparse file on an 8 MiB tmpfs. The copy must
// fail, naming the destination and the offset, and never report success.
func TestCopyDeviceWriteFails(t *testing.T) {
	needRoot(t, "mount", "umount")
	if testing.Short() {
		t.Skip("writes 8 MiB to a loop device; skipped with -short")
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
	if m.MappedBlocksCount*m.BlockSize <= 9<<20 {
		t.Fatalf("only %d bytes mapped; the test needs more than the 8 MiB tmpfs holds", m.MappedBlocksCount*m.BlockSize)
	}

	tmpfs := t.TempDir()
	mount(t, tmpfs, "-t", "tmpfs", "-o", "size=8M", "tmpfs")
	backing := filepath.Join(tmpfs, "backing")
	writeFile(t, backing, nil)
	if err := os.Truncate(backing, 64<<20); err != nil {
		t.Fatal(err)
	}
	dev := loopDevice(t, backing)

	r := runBmap(t, nil, "copy", "--bmap", bm, img.path, dev)
	wantFailure(t, r, exitFailure, dev)
	msg := errorLine(t, r)
	// The offset where writing failed: past what was written, within the
	// image (the tmpfs fills somewhere around 8 MiB).
	found := false
	for _, sub := range regexp.MustCompile(`byte (\d+)`).FindAllStringSubmatch(msg, -1) {
		off, _ := strconv.ParseInt(sub[1], 10, 64)
		found = found || off >= 4<<20 && off < m.ImageSize
	}
	if !found {
		t.Errorf("error %q does not name the destination offset where writing failed", msg)
	}
}
