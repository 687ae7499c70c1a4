package main

// Shared helpers for the end-to-end tests of package main: run the CLI
// in-process, build sparse images at test time, compress them with the real
// C tools, and check what a copy wrote.

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/bmap-tools/bmap/bmap"
	"github.com/bmap-tools/bmap/fiemap"
)

// testdataDir holds the module's shared fixtures (see its README.md).
const testdataDir = "../../testdata"

// testBlockSize is the block size of the images built here; bmap create
// takes it from the filesystem, which is 4096 on ext4, xfs, btrfs and tmpfs.
const testBlockSize = 4096

// result is what one in-process run of the CLI did.
type result struct {
	stdout, stderr string
	err            error
	code           int
}

// runBmap runs the CLI in-process as "bmap args..." with stdin (nil: empty).
func runBmap(t testing.TB, stdin io.Reader, args ...string) result {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"bmap"}, args...), stdin, &stdout, &stderr)
	return result{stdout: stdout.String(), stderr: stderr.String(), err: err, code: exitCode(err)}
}

// mustRun runs the CLI and fails the test unless it succeeds.
func mustRun(t testing.TB, stdin io.Reader, args ...string) result {
	t.Helper()
	r := runBmap(t, stdin, args...)
	if r.err != nil {
		t.Fatalf("bmap %s: %v (exit %d)\nstderr:\n%s", strings.Join(args, " "), r.err, r.code, r.stderr)
	}
	return r
}

// errorLine returns the single "bmap: ERROR: " line of stderr, failing the
// test if there is not exactly one, or if it is not err's message.
func errorLine(t testing.TB, r result) string {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.Contains(l, "ERROR") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("stderr has %d ERROR lines, want 1:\n%s", len(lines), r.stderr)
	}
	if !strings.HasPrefix(lines[0], "bmap: ERROR: ") {
		t.Errorf("error line %q does not start with %q", lines[0], "bmap: ERROR: ")
	}
	if r.err != nil && !strings.Contains(lines[0], oneLine(r.err.Error())) {
		t.Errorf("error line %q does not carry the returned error %q", lines[0], r.err)
	}
	return strings.TrimPrefix(lines[0], "bmap: ERROR: ")
}

// wantFailure checks that r failed with exit code code and a one-line error
// message containing every string of want.
func wantFailure(t testing.TB, r result, code int, want ...string) {
	t.Helper()
	if r.err == nil {
		t.Fatalf("succeeded, want exit %d and an error containing %q\nstderr:\n%s", code, want, r.stderr)
	}
	if r.code != code {
		t.Errorf("exit code %d, want %d (error: %v)", r.code, code, r.err)
	}
	msg := errorLine(t, r)
	t.Logf("error: %s", msg)
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not mention %q", msg, w)
		}
	}
}

// blockRange is a run of blocks, inclusive, and what to fill it with.
type blockRange struct {
	first, last int64
	fill        byte // 'r' random, 't' text, 'h' a unique line then zeros, 'z' zeros (written, so mapped)
}

// imageSpec describes a sparse image: size bytes, with data in ranges and
// holes elsewhere.
type imageSpec struct {
	size   int64
	ranges []blockRange
	seed   uint64
}

// defaultSpec is a 1.5 MiB image with single blocks, long runs, mapped
// zeros, a one-block hole and a partial last block, about 430 KiB mapped.
var defaultSpec = imageSpec{
	size: 384*testBlockSize + 1234,
	ranges: []blockRange{
		{0, 3, 't'}, {10, 10, 'r'}, {12, 12, 't'}, {40, 103, 't'},
		{200, 203, 'z'}, {250, 281, 'r'}, {300, 300, 't'}, {383, 384, 't'},
	},
	seed: 1,
}

// testImage is an image built on disk, with its content kept in memory.
type testImage struct {
	path string
	data []byte
	spec imageSpec
}

// makeImage writes a sparse image to dir/name: truncate, then write the
// ranges only, so everything else is a hole.
func makeImage(t testing.TB, dir, name string, spec imageSpec) *testImage {
	t.Helper()
	path := filepath.Join(dir, name)
	data := make([]byte, spec.size)
	rng := rand.New(rand.NewPCG(spec.seed, 0x626d6170))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(spec.size); err != nil {
		t.Fatal(err)
	}
	for _, r := range spec.ranges {
		off := r.first * testBlockSize
		end := min((r.last+1)*testBlockSize, spec.size)
		buf := data[off:end]
		switch r.fill {
		case 'r':
			for i := range buf {
				buf[i] = byte(rng.Uint32())
			}
		case 't':
			var b bytes.Buffer
			for b.Len() < len(buf) {
				fmt.Fprintf(&b, "test image block %06d line %03d %016x\n", off/testBlockSize, b.Len()/64, rng.Uint64())
			}
			copy(buf, b.Bytes())
		case 'h':
			for b := int64(0); b*testBlockSize < int64(len(buf)); b++ {
				line := fmt.Sprintf("block %06d %016x\n", off/testBlockSize+b, rng.Uint64())
				copy(buf[b*testBlockSize:], line)
			}
		}
		if _, err := f.WriteAt(buf, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return &testImage{path: path, data: data, spec: spec}
}

// createBmap makes the bmap of image at out with "bmap create IMAGE -o OUT"
// and returns it parsed.
func createBmap(t testing.TB, image, out string) *bmap.Map {
	t.Helper()
	mustRun(t, nil, "create", image, "-o", out)
	return readBmap(t, out)
}

// readBmap parses the bmap file at path.
func readBmap(t testing.TB, path string) *bmap.Map {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := bmap.ParseBytes(data)
	if err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	return m
}

// needTools skips the test unless every program is on PATH.
func needTools(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (on Debian: apt-get install %s)", tool, debianPackage(tool))
		}
	}
}

func debianPackage(tool string) string {
	switch tool {
	case "xz", "lzma":
		return "xz-utils"
	case "bmaptool":
		return "bmap-tools"
	case "losetup", "mount":
		return "util-linux"
	case "mkfs.ext4":
		return "e2fsprogs"
	}
	return tool
}

// execute runs a program, failing the test with its output if it fails. If
// stdout is not "", the program's standard output goes to that file.
func execute(t testing.TB, stdout string, argv ...string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	if stdout != "" {
		f, err := os.Create(stdout)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.Stdout = f
	} else {
		cmd.Stdout = &errBuf
	}
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, errBuf.String())
	}
}

// A format is a way to compress an image with real tools.
type format struct {
	name  string   // test name
	ext   string   // appended to the image's name
	tools []string // programs it needs
	// words that name the format; an error about a damaged file must
	// contain one of them.
	words []string
	// argv returns the command that compresses src into dst, and whether
	// the compressed data goes to its standard output.
	argv func(src, dst string) (argv []string, toStdout bool)
}

func stdoutTool(args ...string) func(src, dst string) ([]string, bool) {
	return func(src, _ string) ([]string, bool) { return append(args, src), true }
}

func tarTool(args ...string) func(src, dst string) ([]string, bool) {
	return func(src, dst string) ([]string, bool) {
		return append(append([]string{"tar", "-C", filepath.Dir(src), "-c", "-f", dst}, args...), filepath.Base(src)), false
	}
}

// formats lists every compressed form bmap copy must read, made by the
// programs that make them in the field.
var formats = []format{
	{"gzip", ".gz", []string{"gzip"}, []string{"gzip"}, stdoutTool("gzip", "-c", "-n")},
	{"pigz", ".gz", []string{"pigz"}, []string{"gzip"}, stdoutTool("pigz", "-c", "-p", "2", "-b", "128")},
	{"bzip2", ".bz2", []string{"bzip2"}, []string{"bzip2"}, stdoutTool("bzip2", "-c")},
	// pbzip2 and lbzip2 write several bzip2 streams, one per 900k block.
	{"pbzip2", ".bz2", []string{"pbzip2"}, []string{"bzip2"}, stdoutTool("pbzip2", "-c", "-p2")},
	{"lbzip2", ".bz2", []string{"lbzip2"}, []string{"bzip2"}, stdoutTool("lbzip2", "-c", "-n", "2")},
	{"xz-T1", ".xz", []string{"xz"}, []string{"xz"}, stdoutTool("xz", "-c", "-T1")},
	// -T0 with small blocks: a multi-block stream with an index.
	{"xz-T0", ".xz", []string{"xz"}, []string{"xz"}, stdoutTool("xz", "-c", "-T0", "--block-size=256KiB")},
	{"lzma", ".lzma", []string{"lzma"}, []string{"lzma"}, stdoutTool("lzma", "-c")},
	{"zstd", ".zst", []string{"zstd"}, []string{"zstd"}, stdoutTool("zstd", "-q", "-c")},
	{"lz4", ".lz4", []string{"lz4"}, []string{"lz4"}, stdoutTool("lz4", "-q", "-c")},
	{"lzop", ".lzo", []string{"lzop"}, []string{"lzo"}, stdoutTool("lzop", "-c")},
	{"zip", ".zip", []string{"zip"}, []string{"zip"}, func(src, dst string) ([]string, bool) {
		return []string{"zip", "-q", "-j", dst, src}, false
	}},
	{"tar", ".tar", []string{"tar"}, []string{"tar"}, tarTool()},
	{"tar.gz", ".tar.gz", []string{"tar", "gzip"}, []string{"gzip"}, tarTool("-z")},
	{"tar.bz2", ".tar.bz2", []string{"tar", "bzip2"}, []string{"bzip2"}, tarTool("-j")},
	{"tar.xz", ".tar.xz", []string{"tar", "xz"}, []string{"xz"}, tarTool("-J")},
	{"tar.zst", ".tar.zst", []string{"tar", "zstd"}, []string{"zstd"}, tarTool("-I", "zstd")},
	{"tar.lz4", ".tar.lz4", []string{"tar", "lz4"}, []string{"lz4"}, tarTool("-I", "lz4")},
	{"tar.lzo", ".tar.lzo", []string{"tar", "lzop"}, []string{"lzo"}, tarTool("--lzop")},
}

func formatNamed(t testing.TB, name string) format {
	t.Helper()
	for _, f := range formats {
		if f.name == name {
			return f
		}
	}
	t.Fatalf("no format %q", name)
	return format{}
}

// compress writes src compressed as f to dir/NAME+f.ext, where NAME is the
// base name of src (skipping the test if a tool is missing), and returns
// that path.
func compress(t testing.TB, f format, src, dir string) string {
	t.Helper()
	needTools(t, f.tools...)
	dst, err := compressFile(f, src, dir)
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func compressFile(f format, src, dir string) (string, error) {
	dst := filepath.Join(dir, filepath.Base(src)+f.ext)
	argv, toStdout := f.argv(src, dst)
	cmd := exec.Command(argv[0], argv[1:]...)
	var errBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &errBuf, &errBuf
	if toStdout {
		out, err := os.Create(dst)
		if err != nil {
			return "", err
		}
		defer out.Close()
		cmd.Stdout = out
	}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, errBuf.String())
	}
	return dst, nil
}

// compressAll compresses src in every format whose tools are installed,
// as many at a time as there are CPUs, each into dir/FORMAT-NAME/. It
// returns the paths by format name; a format with a tool missing has none.
func compressAll(t testing.TB, fs []format, src, dir string) map[string]string {
	t.Helper()
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
		out  = map[string]string{}
		sem  = make(chan struct{}, runtime.NumCPU())
	)
	for _, f := range fs {
		missing := false
		for _, tool := range f.tools {
			if _, err := exec.LookPath(tool); err != nil {
				missing = true
			}
		}
		if missing {
			continue
		}
		fdir := filepath.Join(dir, f.name)
		if err := os.Mkdir(fdir, 0o755); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			dst, err := compressFile(f, src, fdir)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			out[f.name] = dst
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return out
}

// writeFile writes data to path, failing the test on error.
func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// sameBytes reports the first difference between got and want.
func sameBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d bytes, want %d", what, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Errorf("%s: first difference at byte %d (block %d): %#02x, want %#02x", what, i, i/testBlockSize, got[i], want[i])
			return
		}
	}
}

// checkFile checks that the file at path holds exactly want.
func checkFile(t testing.TB, path string, want []byte) {
	t.Helper()
	sameBytes(t, path, readFile(t, path), want)
}

// checkSparse checks that the regular file at path is as sparse as m says
// the image is: no more blocks allocated than mapped (plus a little for the
// filesystem's metadata), every hole of m a hole of the file, and every
// mapped range (zeros included) backed by data.
func checkSparse(t testing.TB, path string, m *bmap.Map) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != m.ImageSize {
		t.Errorf("%s is %d bytes, want %d", path, fi.Size(), m.ImageSize)
	}
	const slack = 16 * testBlockSize
	mapped := m.MappedBlocksCount * m.BlockSize
	if alloc := fi.Sys().(*syscall.Stat_t).Blocks * 512; alloc > mapped+slack {
		t.Errorf("%s has %d bytes allocated, but only %d bytes are mapped: holes were filled", path, alloc, mapped)
	}
	ext, method, err := fiemap.ExtentsMethod(f)
	if err != nil {
		t.Fatalf("extents of %s: %v", path, err)
	}
	if method == fiemap.MethodWhole {
		t.Logf("%s: the filesystem reports no holes; not checking them", path)
		return
	}
	fsBlock, err := fiemap.BlockSize(f)
	if err != nil || fsBlock < m.BlockSize {
		fsBlock = m.BlockSize
	}
	// Holes, as byte ranges, shrunk to whole filesystem blocks.
	next := int64(0)
	holes := [][2]int64{}
	for _, r := range append(m.Ranges, bmap.Range{First: m.BlocksCount, Last: m.BlocksCount}) {
		if a, b := roundUp(next*m.BlockSize, fsBlock), min(r.First*m.BlockSize, m.ImageSize)/fsBlock*fsBlock; a < b {
			holes = append(holes, [2]int64{a, b})
		}
		next = r.Last + 1
	}
	for _, h := range holes {
		for _, e := range ext {
			if e.Offset < h[1] && e.End() > h[0] {
				t.Errorf("%s: bytes %d-%d are allocated, but they are in a hole of the image (bytes %d-%d)",
					path, max(e.Offset, h[0]), min(e.End(), h[1])-1, h[0], h[1]-1)
			}
		}
	}
	// Every mapped byte lies in an extent.
	for _, r := range m.Ranges {
		off, end := m.Offset(r), m.Offset(r)+m.Length(r)
		for _, e := range ext {
			if e.Offset <= off && off < e.End() {
				off = e.End()
			}
		}
		if off < end {
			t.Errorf("%s: mapped blocks %d-%d are not all written: byte %d is in a hole", path, r.First, r.Last, off)
		}
	}
}

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }

// fixBmapChecksum recomputes a bmap's own checksum after an edit, as
// bmaptool computes it: the stored digest replaced by as many '0's, the
// whole file hashed.
func fixBmapChecksum(t testing.TB, data []byte) []byte {
	t.Helper()
	re := regexp.MustCompile(`<(BmapFileChecksum|BmapFileSHA1)>\s*([0-9a-fA-F]+)\s*</`)
	loc := re.FindSubmatchIndex(data)
	if loc == nil {
		t.Fatal("the bmap has no file checksum to fix")
	}
	var h hash.Hash
	switch typ := regexp.MustCompile(`<ChecksumType>\s*(\w+)\s*<`).FindSubmatch(data); {
	case string(data[loc[2]:loc[3]]) == "BmapFileSHA1":
		h = sha1.New()
	case typ == nil || string(typ[1]) == "sha256":
		h = sha256.New()
	case string(typ[1]) == "sha1":
		h = sha1.New()
	case string(typ[1]) == "sha512":
		h = sha512.New()
	default:
		t.Fatalf("checksum type %s", typ[1])
	}
	out := bytes.Clone(data)
	copy(out[loc[4]:loc[5]], bytes.Repeat([]byte("0"), loc[5]-loc[4]))
	h.Write(out)
	copy(out[loc[4]:loc[5]], hex.EncodeToString(h.Sum(nil)))
	return out
}

// sampleImage returns the decompressed bytes of testdata/sample.img.gz,
// checking them against the digest in testdata/README.md.
func sampleImage(t testing.TB) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join(testdataDir, "sample.img.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	const want = "c7ef9d26fbe1844409938ffad775be106f05b12298f20de2104c12c7e0c3ca13"
	if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != want {
		t.Fatalf("sample.img.gz decompresses to sha256 %x, want %s (see testdata/README.md)", got, want)
	}
	return data
}

// fill returns n bytes of b.
func fill(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

// recorder is a testing.TB that records failures instead of failing, to
// test the checks above.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

// record runs check with a recorder and returns what it reported.
func record(t *testing.T, check func(tb testing.TB)) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); check(r) }()
	<-done
	return r.errors
}

// TestChecksCatchBadCopies makes sure the checks fail where they must: a
// copy that filled the holes, one that skipped mapped zeros, one byte off.
func TestChecksCatchBadCopies(t *testing.T) {
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	m := createBmap(t, img.path, filepath.Join(dir, "disk.img.bmap"))

	full := filepath.Join(dir, "full.img")
	writeFile(t, full, img.data)
	if errs := record(t, func(tb testing.TB) { checkSparse(tb, full, m) }); len(errs) == 0 {
		t.Error("checkSparse accepts a file whose holes are filled")
	}

	noZeros := img.spec
	noZeros.ranges = nil
	for _, r := range img.spec.ranges {
		if r.fill != 'z' {
			noZeros.ranges = append(noZeros.ranges, r)
		}
	}
	skipped := makeImage(t, dir, "skipped.img", noZeros)
	if errs := record(t, func(tb testing.TB) { checkSparse(tb, skipped.path, m) }); len(errs) == 0 {
		t.Error("checkSparse accepts a file without the mapped zero blocks")
	}
	if errs := record(t, func(tb testing.TB) { checkSparse(tb, img.path, m) }); len(errs) != 0 {
		t.Errorf("checkSparse rejects the image itself: %q", errs)
	}

	off := bytes.Clone(img.data)
	off[len(off)-1]++
	if errs := record(t, func(tb testing.TB) { sameBytes(tb, "x", off, img.data) }); len(errs) != 1 || !strings.Contains(errs[0], fmt.Sprint(len(off)-1)) {
		t.Errorf("sameBytes on a last-byte difference reports %q", errs)
	}
}
