package main

// TestCopyMatrix: every input format × every image shape × every source ×
// every destination, end to end through the CLI. The images are small; the
// combinations are the point. Regressions such as "an image that ends in a
// hole fails when it comes out of a tar" live in a few cells of this
// product and nowhere else.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/bmap-tools/bmap/bmap"
)

// matrixShapes are the image shapes every format is copied in: where the
// image ends (hole, data, a partial block of either), how much of it is
// mapped (nothing, everything, one byte), and how fragmented it is.
var matrixShapes = []struct {
	name string
	spec imageSpec
}{
	{"hole-end", imageSpec{size: 256 * testBlockSize, ranges: []blockRange{{0, 1, 'r'}, {5, 20, 't'}, {30, 33, 'z'}}, seed: 11}},
	{"data-end", imageSpec{size: 128 * testBlockSize, ranges: []blockRange{{0, 3, 't'}, {40, 41, 'r'}, {120, 127, 't'}}, seed: 12}},
	{"partial-mapped", imageSpec{size: 100*testBlockSize + 1000, ranges: []blockRange{{0, 2, 't'}, {50, 50, 'r'}, {98, 100, 't'}}, seed: 13}},
	{"partial-hole", imageSpec{size: 100*testBlockSize + 1000, ranges: []blockRange{{0, 2, 't'}, {50, 51, 'r'}}, seed: 14}},
	{"all-holes", imageSpec{size: 256 * testBlockSize, seed: 15}},
	{"one-byte", imageSpec{size: 1, ranges: []blockRange{{0, 0, 't'}}, seed: 16}},
	{"full", imageSpec{size: 48 * testBlockSize, ranges: []blockRange{{0, 15, 't'}, {16, 31, 'r'}, {32, 47, 'z'}}, seed: 17}},
	{"many-ranges", imageSpec{size: 2*matrixRanges*testBlockSize - testBlockSize, ranges: everyOtherBlock(matrixRanges), seed: 18}},
}

// matrixRanges is how many ranges the fragmented shape has.
const matrixRanges = 2000

// everyOtherBlock maps blocks 0, 2, 4, ...: n ranges of one block each,
// each block a short unique line and zeros, so it compresses fast.
func everyOtherBlock(n int) []blockRange {
	rs := make([]blockRange, n)
	for i := range rs {
		rs[i] = blockRange{int64(2 * i), int64(2 * i), 'h'}
	}
	return rs
}

// matrixFormats are the inputs: each compressor as it is run in the field
// (several of some), zip, tar alone and with each compressor, and sparse
// tars in the GNU and every pax sparse format. Fast levels where the
// default is slow: the decoder's path is the same.
var matrixFormats = []format{
	{"raw", "", nil, []string{"raw"}, nil},
	{"gzip", ".gz", []string{"gzip"}, []string{"gzip"}, stdoutTool("gzip", "-c", "-n")},
	{"pigz", ".gz", []string{"pigz"}, []string{"gzip"}, stdoutTool("pigz", "-c", "-p", "2", "-b", "128")},
	{"bzip2", ".bz2", []string{"bzip2"}, []string{"bzip2"}, stdoutTool("bzip2", "-c")},
	{"pbzip2", ".bz2", []string{"pbzip2"}, []string{"bzip2"}, stdoutTool("pbzip2", "-c", "-p2", "-b1")},
	{"lbzip2", ".bz2", []string{"lbzip2"}, []string{"bzip2"}, stdoutTool("lbzip2", "-c", "-n", "2", "-1")},
	{"xz-one-block", ".xz", []string{"xz"}, []string{"xz"}, stdoutTool("xz", "-c", "-1", "-T1")},
	{"xz-blocks", ".xz", []string{"xz"}, []string{"xz"}, stdoutTool("xz", "-c", "-1", "-T2", "--block-size=64KiB")},
	{"lzma", ".lzma", []string{"xz"}, []string{"lzma"}, stdoutTool("xz", "--format=lzma", "-c", "-1")},
	{"zstd", ".zst", []string{"zstd"}, []string{"zstd"}, stdoutTool("zstd", "-q", "-c")},
	{"lz4", ".lz4", []string{"lz4"}, []string{"lz4"}, stdoutTool("lz4", "-q", "-c")},
	{"lzop", ".lzo", []string{"lzop"}, []string{"lzo"}, stdoutTool("lzop", "-c")},
	{"zip", ".zip", []string{"zip"}, []string{"zip"}, func(src, dst string) ([]string, bool) {
		return []string{"zip", "-q", "-j", dst, src}, false
	}},
	{"tar", ".tar", []string{"tar"}, []string{"tar"}, tarTool()},
	{"tar.gz", ".tar.gz", []string{"tar", "gzip"}, []string{"gzip"}, tarTool("-z")},
	{"tar.bz2", ".tar.bz2", []string{"tar", "bzip2"}, []string{"bzip2"}, tarTool("-j")},
	{"tar.xz", ".tar.xz", []string{"tar", "xz"}, []string{"xz"}, tarTool("-I", "xz -1")},
	{"tar.lzma", ".tar.lzma", []string{"tar", "xz"}, []string{"lzma"}, tarTool("-I", "xz --format=lzma -1")},
	{"tar.zst", ".tar.zst", []string{"tar", "zstd"}, []string{"zstd"}, tarTool("-I", "zstd")},
	{"tar.lz4", ".tar.lz4", []string{"tar", "lz4"}, []string{"lz4"}, tarTool("-I", "lz4")},
	{"tar.lzo", ".tar.lzo", []string{"tar", "lzop"}, []string{"lzo"}, tarTool("--lzop")},
	{"tar-S-gnu", ".tar", []string{"tar"}, []string{"tar"}, tarTool("-S", "--format=gnu")},
	{"tar-S-pax-0.0", ".tar", []string{"tar"}, []string{"tar"}, tarTool("--format=posix", "--sparse-version=0.0")},
	{"tar-S-pax-0.1", ".tar", []string{"tar"}, []string{"tar"}, tarTool("--format=posix", "--sparse-version=0.1")},
	{"tar-S-pax-1.0", ".tar", []string{"tar"}, []string{"tar"}, tarTool("--format=posix", "--sparse-version=1.0")},
	{"tar-S-gnu.gz", ".tar.gz", []string{"tar", "gzip"}, []string{"gzip"}, tarTool("-S", "--format=gnu", "-z")},
	{"tar-S-pax-1.0.xz", ".tar.xz", []string{"tar", "xz"}, []string{"xz"}, tarTool("--format=posix", "--sparse-version=1.0", "-I", "xz -1")},
	// Android sparse images, as img2simg makes them (every zero block a
	// FILL chunk, the last block padded), plain and compressed.
	{"simg", ".simg", []string{"img2simg"}, []string{"sparse image"}, func(src, dst string) ([]string, bool) {
		return []string{"img2simg", src, dst}, false
	}},
	{"simg.zst", ".simg.zst", []string{"img2simg", "zstd"}, []string{"sparse image", "zstd"}, func(src, dst string) ([]string, bool) {
		return []string{"sh", "-c", `img2simg "$1" "$2.simg" && zstd -q -c "$2.simg" > "$2" && rm "$2.simg"`, "sh", src, dst}, false
	}},
}

// matrixBmaptool lists the formats also copied with bmaptool's own bmap of
// each shape (the others use ours, which must be the same map).
var matrixBmaptool = map[string]bool{"raw": true, "gzip": true, "tar.gz": true, "zip": true, "tar-S-gnu": true}

// A matrixImage is one shape, built, with its bmaps.
type matrixImage struct {
	*testImage
	name     string
	m        *bmap.Map
	bmap     string // made by bmap create
	bmaptool string // made by bmaptool create; "" if it is not installed
}

// matrixCase is one (format, shape) input, compressed once and shared by
// its sources and destinations.
type matrixCase struct {
	f     format
	img   *matrixImage
	input string // the compressed file; "" if a tool is missing
}

// TestCopyMatrix copies each shape, made sparse at test time, compressed
// once per format with the C tools (a format whose tool is missing skips,
// naming it), with the bmap made by bmap create (and for the formats in
// matrixBmaptool, also with bmaptool's), from a file (the seeking path)
// and from a pipe (the streaming path, holes skipped with Discard), into a
// new file, and, for the formats in matrixEveryDestination, also over a
// larger file and onto a loop device (as root). Files must hold the image
// byte for byte and be as sparse as it; a device must hold the image's
// mapped ranges and its old data elsewhere. A cut stream must fail and say
// where it ended and where the bmap says the image ends.
func TestCopyMatrix(t *testing.T) {
	dir := t.TempDir()
	_, haveBmaptool := exec.LookPath("bmaptool")
	images := make([]*matrixImage, len(matrixShapes))
	for i, s := range matrixShapes {
		img := &matrixImage{name: s.name}
		img.testImage = makeImage(t, dir, s.name+".img", s.spec)
		img.bmap = filepath.Join(dir, s.name+".bmap")
		img.m = createBmap(t, img.path, img.bmap)
		if haveBmaptool == nil {
			img.bmaptool = filepath.Join(dir, s.name+".bmaptool.bmap")
			execute(t, "", "bmaptool", "create", "-o", img.bmaptool, img.path)
			if mt := readBmap(t, img.bmaptool); fmt.Sprint(mt.Ranges) != fmt.Sprint(img.m.Ranges) {
				t.Errorf("%s: bmaptool maps %v, we map %v", s.name, mt.Ranges, img.m.Ranges)
			}
		}
		images[i] = img
	}
	if got := len(images[len(images)-1].m.Ranges); got != matrixRanges {
		t.Fatalf("the fragmented shape has %d ranges, want %d", got, matrixRanges)
	}

	cases := compressMatrix(t, dir, images)
	memDir := tmpfsDir(t)
	devices := loopDevices(t, memDir, 2, 2*matrixRanges*testBlockSize+4*testBlockSize)

	for _, f := range matrixFormats {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range cases {
				if c.f.name != f.name {
					continue
				}
				t.Run(c.img.name, func(t *testing.T) {
					if c.input == "" {
						needTools(t, f.tools...) // skips, naming the missing tool
					}
					c.run(t, devices, memDir)
				})
			}
			t.Run("truncated", func(t *testing.T) {
				for _, c := range cases {
					if c.f.name == f.name && (c.img.name == "hole-end" || c.img.name == "data-end") && c.input != "" {
						c.truncated(t)
					}
				}
			})
		})
	}
}

// compressMatrix compresses every shape in every format, as many at a time
// as there are CPUs.
func compressMatrix(t *testing.T, dir string, images []*matrixImage) []*matrixCase {
	var cases []*matrixCase
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, runtime.NumCPU())
	for _, f := range matrixFormats {
		missing := false
		for _, tool := range f.tools {
			if _, err := exec.LookPath(tool); err != nil {
				missing = true
			}
		}
		for _, img := range images {
			c := &matrixCase{f: f, img: img}
			cases = append(cases, c)
			if f.name == "raw" {
				c.input = img.path
				continue
			}
			if missing {
				continue
			}
			cdir := filepath.Join(dir, f.name, img.name)
			if err := os.MkdirAll(cdir, 0o755); err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				out, err := compressFile(f, img.path, cdir)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				c.input = out
			}()
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return cases
}

// A devicePool hands out loop devices, one test at a time.
type devicePool struct {
	ch   chan string // nil if there are none
	skip string      // why there are none
}

// loopDevices attaches n loop devices of size bytes each, over files in
// dir ("": the test's temporary directory), if the test runs as root and
// losetup works here.
func loopDevices(t *testing.T, dir string, n int, size int64) *devicePool {
	p := &devicePool{}
	switch _, err := exec.LookPath("losetup"); {
	case os.Geteuid() != 0:
		p.skip = "needs root to set up loop devices"
		return p
	case err != nil:
		p.skip = "losetup is not installed (on Debian: apt-get install util-linux)"
		return p
	}
	p.ch = make(chan string, n)
	if dir == "" {
		dir = t.TempDir()
	}
	for i := range n {
		backing := filepath.Join(dir, fmt.Sprintf("backing%d", i))
		writeFile(t, backing, nil)
		if err := os.Truncate(backing, size); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("losetup", "--find", "--show", backing).CombinedOutput()
		if err != nil {
			p.ch, p.skip = nil, fmt.Sprintf("cannot set up loop device %d here (losetup --find --show: %v: %s)", i, err, bytes.TrimSpace(out))
			return p
		}
		dev := strings.TrimSpace(string(out))
		t.Cleanup(func() {
			if out, err := exec.Command("losetup", "--detach", dev).CombinedOutput(); err != nil {
				t.Errorf("losetup --detach %s: %v: %s", dev, err, out)
			}
		})
		p.ch <- dev
	}
	return p
}

// tmpfsDir mounts a tmpfs for the test, if it runs as root, and returns
// its path; else "".
func tmpfsDir(t *testing.T) string {
	if os.Geteuid() != 0 {
		return ""
	}
	dir := t.TempDir()
	if err := tryMount(t, dir, "-t", "tmpfs", "-o", "size=512M", "tmpfs"); err != nil {
		t.Logf("no tmpfs (%v): every file is written to the disk", err)
		return ""
	}
	return dir
}

// matrixEveryDestination lists the formats copied to every destination;
// the others are copied into a new file only. What a destination does
// with the chunks it gets depends on the image's shape and on the order
// they come in (seeking or streaming), not on the format that decoded
// them, so a few formats stand for the others there: raw (read with
// ReadAt and Seek from a file), gzip (our decoder's Discard), xz in blocks
// (a parallel decoder, holes read into scratch), zip (a member through the
// central directory) and a GNU sparse tar (a member expanded by
// archive/tar). That halves the matrix's time.
var matrixEveryDestination = map[string]bool{"raw": true, "gzip": true, "xz-blocks": true, "zip": true, "tar-S-gnu": true, "simg.zst": true}

// matrixOnDisk lists the formats whose destination files are written on
// the disk's filesystem (the test's temporary directory: ext4 here, where
// FIEMAP reports the holes); the others, and the loop devices' backing
// files, are on a tmpfs if the test could mount one. A copy into a file is
// the same whatever the input's format, and the disk's syncs were most of
// the matrix's time (the 2000 ranges of the fragmented shape are 2000
// direct writes, 0.3-3.5 s a copy on the VM's disk, shared with other
// work: on disk, only one, from a raw file into a new one with our bmap).
var matrixOnDisk = map[string]bool{"raw": true, "gzip": true}

// run copies the case from each source to each destination.
func (c *matrixCase) run(t *testing.T, devices *devicePool, memDir string) {
	outDir := func(t *testing.T, name string) string {
		onDisk := matrixOnDisk[c.f.name]
		if c.img.name == "many-ranges" {
			onDisk = c.f.name == "raw" && name == "file/new-file"
		}
		if memDir == "" || onDisk {
			return t.TempDir()
		}
		d, err := os.MkdirTemp(memDir, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	bmaps := []string{c.img.bmap}
	if matrixBmaptool[c.f.name] && c.img.bmaptool != "" {
		bmaps = append(bmaps, c.img.bmaptool)
	}
	for _, src := range []string{"file", "pipe"} {
		for _, dst := range []string{"new-file", "larger-file", "loop-device"} {
			if dst != "new-file" && !matrixEveryDestination[c.f.name] {
				continue
			}
			for i, bm := range bmaps {
				name := src + "/" + dst
				if i > 0 {
					if dst != "new-file" {
						continue
					}
					name += "/bmaptool-bmap"
				}
				t.Run(name, func(t *testing.T) {
					c.copy(t, src, dst, bm, devices, func(t *testing.T) string { return outDir(t, name) })
				})
			}
		}
	}
}

// copySource returns the IMAGE argument and stdin of a copy of input from
// src.
func copySource(t *testing.T, src, input string) (string, io.Reader) {
	if src == "file" {
		return input, nil
	}
	// A real pipe: not seekable, no name, so the image is streamed and
	// its holes are skipped with Discard.
	return "-", pipeOf(t, readFile(t, input))
}

func (c *matrixCase) copy(t *testing.T, src, dst, bm string, devices *devicePool, outDir func(*testing.T) string) {
	img, m := c.img, c.img.m
	image, stdin := copySource(t, src, c.input)
	switch dst {
	case "new-file", "larger-file":
		out := filepath.Join(outDir(t), "out.img")
		if dst == "larger-file" {
			// Data everywhere, past the image's end too: the copy must
			// leave holes where the image has them, and the image's size.
			writeFile(t, out, fill(0xa5, len(img.data)+3*testBlockSize+123))
		}
		mustRun(t, stdin, "copy", "--bmap", bm, image, out)
		checkFile(t, out, img.data)
		checkSparse(t, out, m)
	case "loop-device":
		if devices.ch == nil {
			t.Skip(devices.skip)
		}
		dev := <-devices.ch
		defer func() { devices.ch <- dev }()
		// The device holds old data; only the mapped ranges are written,
		// the holes and what follows the image keep it.
		n := len(img.data) + 2*testBlockSize
		old := oldContent(n)
		writeDevice(t, dev, old)
		mustRun(t, stdin, "copy", "--bmap", bm, image, dev)
		want := bytes.Clone(old)
		for _, r := range m.Ranges {
			off, end := m.Offset(r), m.Offset(r)+m.Length(r)
			copy(want[off:end], img.data[off:end])
		}
		sameBytes(t, dev, readDevice(t, dev, n), want)
	}
}

// shortImage matches the message of an image that ended early.
var shortImage = regexp.MustCompile(`image data ended at byte (\d+), but the bmap says the image has (\d+) bytes`)

// truncated copies the first half of the input, from a file and from a
// pipe: the copy fails, and the message says where the image data ended
// and where the bmap says it ends, two different numbers.
func (c *matrixCase) truncated(t *testing.T) {
	data := readFile(t, c.input)
	cut := data[:len(data)/2]
	path := filepath.Join(t.TempDir(), "cut-"+filepath.Base(c.input))
	writeFile(t, path, cut)
	for _, src := range []string{"file", "pipe"} {
		t.Run(c.img.name+"/"+src, func(t *testing.T) {
			image, stdin := copySource(t, src, path)
			out := filepath.Join(t.TempDir(), "out.img")
			r := runBmap(t, stdin, "copy", "--bmap", c.img.bmap, image, out)
			if r.err == nil {
				t.Fatalf("copying the first %d of %d bytes succeeded", len(cut), len(data))
			}
			msg := errorLine(t, r)
			t.Logf("error: %s", msg)
			switch {
			case c.f.name == "raw" && src == "file":
				// A raw file's size is checked before anything is written.
				want := fmt.Sprintf("is %d bytes, but the bmap says the image is %d bytes", len(cut), len(data))
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
				return
			case c.f.name == "zip" && src == "file":
				// Through the central directory, which the cut removed.
				if !strings.Contains(msg, "zip") {
					t.Errorf("error %q does not name zip", msg)
				}
				return
			}
			sub := shortImage.FindStringSubmatch(msg)
			if sub == nil {
				t.Fatalf("error %q does not say where the image data ended and where the bmap says it ends", msg)
			}
			got, _ := strconv.ParseInt(sub[1], 10, 64)
			want, _ := strconv.ParseInt(sub[2], 10, 64)
			if want != c.img.m.ImageSize || got >= want {
				t.Errorf("error %q: ended at %d, the bmap's size %d: want the bmap's size %d and an end before it", msg, got, want, c.img.m.ImageSize)
			}
			if c.f.name == "raw" && got != int64(len(cut)) {
				t.Errorf("error %q: the raw stream ended at byte %d", msg, len(cut))
			}
		})
	}
}
