package decompress

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bmap-tools/bmap/decompress/internal/sample"
)

// Fixtures are made at test time by the real compressors (git would not
// keep sparse files, and the tools' output is what we must read). Each
// fixture whose tools are missing is skipped with the reason.

// fixture is one compressed file made by a shell command.
type fixture struct {
	name  string   // subtest name
	file  string   // file name in the fixture dir; also the name passed to NewReader
	cmd   string   // sh -c in the fixture dir; $OUT is the output file
	tools []string // needed on PATH

	want    string // input whose bytes the image must equal: "img" (default) or "sparse"
	kind    Kind
	member  string // expected Name()
	notes   int    // expected notes after io.EOF
	noCheck bool   // no integrity check: corruption may go unnoticed
	archive bool   // damage outside the image may go unnoticed: error or the exact image
	noEnd   bool   // no end marker: truncation at a block boundary goes unnoticed
}

var fixtures = []fixture{
	{name: "raw", file: "img.raw", cmd: "cp img $OUT", kind: Kind{Raw, false}, noCheck: true, noEnd: true},

	{name: "gzip", file: "img.gz", cmd: "gzip -c img > $OUT", tools: []string{"gzip"}, kind: Kind{Format: Gzip}},
	{name: "gzip-9", file: "img.gzip", cmd: "gzip -9 -c img > $OUT", tools: []string{"gzip"}, kind: Kind{Format: Gzip}},
	{name: "pigz", file: "img.gz", cmd: "pigz -p2 -c img > $OUT", tools: []string{"pigz"}, kind: Kind{Format: Gzip}},
	{name: "pigz-i", file: "img.gz", cmd: "pigz -p2 -i -b 128 -c img > $OUT", tools: []string{"pigz"}, kind: Kind{Format: Gzip}},
	{name: "gzip-cat", file: "img.gz", cmd: "gzip -c a > $OUT && gzip -c b >> $OUT", tools: []string{"gzip"}, kind: Kind{Format: Gzip}},

	{name: "bzip2", file: "img.bz2", cmd: "bzip2 -c img > $OUT", tools: []string{"bzip2"}, kind: Kind{Format: Bzip2}},
	{name: "bzip2-1", file: "img.bz2", cmd: "bzip2 -1 -c img > $OUT", tools: []string{"bzip2"}, kind: Kind{Format: Bzip2}},
	{name: "pbzip2", file: "img.bz2", cmd: "pbzip2 -p2 -b1 -c img > $OUT", tools: []string{"pbzip2"}, kind: Kind{Format: Bzip2}},
	{name: "lbzip2", file: "img.bz2", cmd: "lbzip2 -n2 -c img > $OUT", tools: []string{"lbzip2"}, kind: Kind{Format: Bzip2}},
	{name: "bzip2-cat", file: "img.bz2", cmd: "bzip2 -c a > $OUT && bzip2 -c b >> $OUT", tools: []string{"bzip2"}, kind: Kind{Format: Bzip2}},

	{name: "xz-T1", file: "img.xz", cmd: "xz -T1 -c img > $OUT", tools: []string{"xz"}, kind: Kind{Format: XZ}},
	{name: "xz-T2-blocks", file: "img.xz", cmd: "xz -T2 --block-size=256KiB -c img > $OUT", tools: []string{"xz"}, kind: Kind{Format: XZ}},
	{name: "xz-cat", file: "img.xz", cmd: "xz -c a > $OUT && xz -c b >> $OUT", tools: []string{"xz"}, kind: Kind{Format: XZ}},
	{name: "xz-padding", file: "img.xz", cmd: "xz -c a > $OUT && printf '\\0\\0\\0\\0\\0\\0\\0\\0' >> $OUT && xz -c b >> $OUT", tools: []string{"xz"}, kind: Kind{Format: XZ}},
	{name: "xz-sha256", file: "img.xz", cmd: "xz --check=sha256 -c img > $OUT", tools: []string{"xz"}, kind: Kind{Format: XZ}},
	{name: "xz-crc32-bcj", file: "img.xz", cmd: "xz --check=crc32 --x86 --lzma2=preset=6 -c img > $OUT", tools: []string{"xz"}, kind: Kind{Format: XZ}},
	{name: "xz-nocheck", file: "img.xz", cmd: "xz --check=none -c img > $OUT", tools: []string{"xz"}, kind: Kind{Format: XZ}, noCheck: true},

	{name: "lzma", file: "img.lzma", cmd: "lzma -c img > $OUT", tools: []string{"lzma"}, kind: Kind{Format: LZMA}, noCheck: true},

	{name: "zstd", file: "img.zst", cmd: "zstd -q -c img > $OUT", tools: []string{"zstd"}, kind: Kind{Format: Zstd}},
	{name: "zstd-19-long", file: "img.zst", cmd: "zstd -q -19 --long=27 -c img > $OUT", tools: []string{"zstd"}, kind: Kind{Format: Zstd}},
	{name: "zstd-T2", file: "img.zst", cmd: "zstd -q -T2 -c img > $OUT", tools: []string{"zstd"}, kind: Kind{Format: Zstd}},
	{name: "zstd-cat", file: "img.zst", cmd: "zstd -q -c a > $OUT && zstd -q -c b >> $OUT", tools: []string{"zstd"}, kind: Kind{Format: Zstd}},
	{name: "pzstd", file: "img.zst", cmd: "pzstd -q -p 2 -c img > $OUT", tools: []string{"pzstd"}, kind: Kind{Format: Zstd}},
	{name: "zstd-nocheck", file: "img.zst", cmd: "zstd -q --no-check -c img > $OUT", tools: []string{"zstd"}, kind: Kind{Format: Zstd}, noCheck: true},

	{name: "lz4", file: "img.lz4", cmd: "lz4 -q -c img > $OUT", tools: []string{"lz4"}, kind: Kind{Format: LZ4}},
	{name: "lz4-B4-BX", file: "img.lz4", cmd: "lz4 -q -B4 -BX --content-size -c img > $OUT", tools: []string{"lz4"}, kind: Kind{Format: LZ4}},
	{name: "lz4-BD", file: "img.lz4", cmd: "lz4 -q -B4 -BD -c img > $OUT", tools: []string{"lz4"}, kind: Kind{Format: LZ4}},
	{name: "lz4-cat", file: "img.lz4", cmd: "lz4 -q -c a > $OUT && lz4 -q -c b >> $OUT", tools: []string{"lz4"}, kind: Kind{Format: LZ4}},
	{name: "lz4-nocrc", file: "img.lz4", cmd: "lz4 -q --no-frame-crc -c img > $OUT", tools: []string{"lz4"}, kind: Kind{Format: LZ4}, noCheck: true},
	{name: "lz4-legacy", file: "img.lz4", cmd: "lz4 -q -l -c img > $OUT", tools: []string{"lz4"}, kind: Kind{Format: LZ4}, noCheck: true, noEnd: true, notes: 1},

	{name: "lzop", file: "img.lzo", cmd: "lzop -c img > $OUT", tools: []string{"lzop"}, kind: Kind{Format: LZO}},
	{name: "lzop-9", file: "img.lzo", cmd: "lzop -9 -c img > $OUT", tools: []string{"lzop"}, kind: Kind{Format: LZO}},
	{name: "lzop-crc32", file: "img.lzo", cmd: "lzop --crc32 -c img > $OUT", tools: []string{"lzop"}, kind: Kind{Format: LZO}},
	{name: "lzop-cat", file: "img.lzo", cmd: "lzop -c a > $OUT && lzop -c b >> $OUT", tools: []string{"lzop"}, kind: Kind{Format: LZO}},
	{name: "lzop-nocheck", file: "img.lzo", cmd: "lzop -F -c img > $OUT", tools: []string{"lzop"}, kind: Kind{Format: LZO}, noCheck: true},

	{name: "zip", file: "img.zip", cmd: "zip -q $OUT img", tools: []string{"zip"}, kind: Kind{Format: Zip}, member: "img", archive: true},
	{name: "zip-store", file: "img.zip", cmd: "zip -q -0 $OUT img", tools: []string{"zip"}, kind: Kind{Format: Zip}, member: "img", archive: true},
	{name: "zip-two", file: "img.zip", cmd: "zip -q $OUT img other.bin", tools: []string{"zip"}, kind: Kind{Format: Zip}, member: "img", notes: 1, archive: true},
	{name: "zip-dir", file: "img.zip", cmd: "zip -q -r $OUT dir", tools: []string{"zip"}, kind: Kind{Format: Zip}, member: "dir/img", archive: true},
	{name: "zip-zip64", file: "img.zip", cmd: "zip -q -fz $OUT img", tools: []string{"zip"}, kind: Kind{Format: Zip}, member: "img", archive: true},
	// zip writing to a pipe cannot seek back: data descriptors, zip64.
	{name: "zip-streamed", file: "img.zip", cmd: "zip -q - - < img | cat > $OUT", tools: []string{"zip"}, kind: Kind{Format: Zip}, member: "-", archive: true},
	{name: "zip-streamed-store", file: "img.zip", cmd: "zip -0 -q - - < img | cat > $OUT", tools: []string{"zip"}, kind: Kind{Format: Zip}, member: "-", archive: true},
	{name: "zip-streamed-two", file: "img.zip", cmd: "zip -q - img other.bin | cat > $OUT", tools: []string{"zip"}, kind: Kind{Format: Zip}, member: "img", notes: 1, archive: true},

	{name: "tar", file: "img.tar", cmd: "tar -cf $OUT img", tools: []string{"tar"}, kind: Kind{Raw, true}, member: "img", noCheck: true, archive: true},
	{name: "tar-posix-dir", file: "img.tar", cmd: "tar --format=posix -cf $OUT dir", tools: []string{"tar"}, kind: Kind{Raw, true}, member: "dir/img", noCheck: true, archive: true},
	{name: "tar-two", file: "img.tar", cmd: "tar -cf $OUT img other.bin", tools: []string{"tar"}, kind: Kind{Raw, true}, member: "img", notes: 1, noCheck: true, archive: true},
	{name: "tar-sparse", file: "sparse.tar", cmd: "tar -S -cf $OUT sparse", tools: []string{"tar"}, want: "sparse", kind: Kind{Raw, true}, member: "sparse", noCheck: true, archive: true},
	{name: "tar-sparse-posix", file: "sparse.tar", cmd: "tar --format=posix -S -cf $OUT sparse", tools: []string{"tar"}, want: "sparse", kind: Kind{Raw, true}, member: "sparse", noCheck: true, archive: true},
	{name: "tar-gz", file: "img.tar.gz", cmd: "tar -czf $OUT img", tools: []string{"tar", "gzip"}, kind: Kind{Gzip, true}, member: "img"},
	{name: "tgz-two", file: "img.tgz", cmd: "tar -czf $OUT img other.bin", tools: []string{"tar", "gzip"}, kind: Kind{Gzip, true}, member: "img", notes: 1},
	{name: "tar-bz2", file: "img.tar.bz2", cmd: "tar -cjf $OUT img", tools: []string{"tar", "bzip2"}, kind: Kind{Bzip2, true}, member: "img"},
	{name: "tar-xz", file: "img.tar.xz", cmd: "tar -cJf $OUT img", tools: []string{"tar", "xz"}, kind: Kind{XZ, true}, member: "img"},
	{name: "tar-lzma", file: "img.tar.lzma", cmd: "tar -I lzma -cf $OUT img", tools: []string{"tar", "lzma"}, kind: Kind{LZMA, true}, member: "img", noCheck: true},
	{name: "tar-zst", file: "img.tar.zst", cmd: "tar --zstd -cf $OUT img", tools: []string{"tar", "zstd"}, kind: Kind{Zstd, true}, member: "img"},
	{name: "tar-lz4", file: "img.tar.lz4", cmd: "tar -I lz4 -cf $OUT img", tools: []string{"tar", "lz4"}, kind: Kind{LZ4, true}, member: "img"},
	{name: "tar-lzo", file: "img.tar.lzo", cmd: "tar --lzop -cf $OUT img", tools: []string{"tar", "lzop"}, kind: Kind{LZO, true}, member: "img"},
	{name: "tar-sparse-xz", file: "sparse.txz", cmd: "tar -S -cJf $OUT sparse", tools: []string{"tar", "xz"}, want: "sparse", kind: Kind{XZ, true}, member: "sparse"},
}

// fixtureSet holds the inputs and the made fixtures.
type fixtureSet struct {
	dir    string
	inputs map[string][]byte
	paths  map[string]string // fixture name -> path
	errs   map[string]string // fixture name -> why it is missing
}

var (
	fixOnce sync.Once
	fixSet  *fixtureSet
	fixErr  error
	fixDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixDir != "" {
		os.RemoveAll(fixDir)
	}
	os.Exit(code)
}

// imageSize is the size of the test image; BMAP_DECOMPRESS_MB overrides it
// (for throughput measurements with -bench).
func imageSize() int {
	if s := os.Getenv("BMAP_DECOMPRESS_MB"); s != "" {
		var mb int
		if _, err := fmt.Sscan(s, &mb); err == nil && mb > 0 {
			return mb << 20
		}
	}
	return 2 << 20
}

// makeImage returns semi-compressible bytes: runs of zeros, random bytes,
// text and a repeated pattern, in 64 KiB pieces, like a disk image.
func makeImage(size int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var b bytes.Buffer
	b.Grow(size)
	line := 0
	for piece := 0; b.Len() < size; piece++ {
		n := min(64<<10, size-b.Len())
		switch rng.IntN(4) {
		case 0:
			b.Write(make([]byte, n))
		case 1:
			buf := make([]byte, n)
			for i := range buf {
				buf[i] = byte(rng.Uint32())
			}
			b.Write(buf)
		case 2:
			end := b.Len() + n
			for b.Len() < end {
				line++
				s := fmt.Sprintf("%08d the quick brown fox jumps over the lazy dog %x\n", line, rng.Uint32())
				b.WriteString(s[:min(len(s), end-b.Len())])
			}
		case 3:
			pat := make([]byte, 1+rng.IntN(300))
			for i := range pat {
				pat[i] = byte(rng.Uint32())
			}
			for i := 0; i < n; i++ {
				b.WriteByte(pat[i%len(pat)])
			}
		}
	}
	return b.Bytes()
}

// getFixtures returns the fixture set with the named fixtures made (all of
// them if none are named).
func getFixtures(tb testing.TB, names ...string) *fixtureSet {
	tb.Helper()
	fixOnce.Do(func() { fixSet, fixErr = buildInputs() })
	if fixErr != nil {
		tb.Fatal(fixErr)
	}
	fixSet.make(names)
	return fixSet
}

func buildInputs() (*fixtureSet, error) {
	dir, err := os.MkdirTemp("", "bmap-decompress-")
	if err != nil {
		return nil, err
	}
	fixDir = dir
	s := &fixtureSet{dir: dir, inputs: map[string][]byte{}, paths: map[string]string{}, errs: map[string]string{}}
	img := makeImage(imageSize(), 1)
	half := len(img)/2 + 7
	other := makeImage(100<<10, 2)
	// sparse: data at a few places, holes elsewhere.
	sparse := make([]byte, 3<<20)
	copy(sparse[0:], img[:70000])
	copy(sparse[1<<20:], img[100000:200000])
	copy(sparse[len(sparse)-5000:], img[300000:305000])
	files := map[string][]byte{"img": img, "a": img[:half], "b": img[half:], "other.bin": other}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return nil, err
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "dir"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "dir", "img"), img, 0o644); err != nil {
		return nil, err
	}
	if err := writeSparse(filepath.Join(dir, "sparse"), sparse); err != nil {
		return nil, err
	}
	s.inputs["img"] = img
	s.inputs["sparse"] = sparse
	return s, nil
}

// make makes the named fixtures (all if none) not made yet, two at a time.
func (s *fixtureSet) make(names []string) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	dir := s.dir
	for i, fx := range fixtures {
		if len(names) > 0 && !slices.Contains(names, fx.name) {
			continue
		}
		mu.Lock() // the goroutines started in earlier turns write both maps
		_, made := s.paths[fx.name]
		_, failed := s.errs[fx.name]
		mu.Unlock()
		if made || failed {
			continue
		}
		if missing := missingTool(fx.tools); missing != "" {
			mu.Lock()
			s.errs[fx.name] = missing + " is not installed"
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out := filepath.Join(dir, fmt.Sprintf("%02d-%s", i, fx.file))
			cmd := exec.Command("sh", "-c", fx.cmd)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "OUT="+out)
			msg, err := cmd.CombinedOutput()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				s.errs[fx.name] = fmt.Sprintf("%s: %v: %s", fx.cmd, err, strings.TrimSpace(string(msg)))
				return
			}
			s.paths[fx.name] = out
		}()
	}
	wg.Wait()
}

// writeSparse writes data leaving holes where it is zero (4 KiB granules).
func writeSparse(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	const g = 4096
	for off := 0; off < len(data); off += g {
		chunk := data[off:min(off+g, len(data))]
		if bytes.Count(chunk, []byte{0}) == len(chunk) {
			continue
		}
		if _, err := f.WriteAt(chunk, int64(off)); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Truncate(int64(len(data))); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func missingTool(tools []string) string {
	for _, t := range tools {
		if !sample.Have(t) {
			return t
		}
	}
	return ""
}

// load returns a fixture's compressed bytes and expected output, or skips.
func (s *fixtureSet) load(t testing.TB, fx fixture) (data, want []byte, path string) {
	t.Helper()
	if why, ok := s.errs[fx.name]; ok {
		t.Skipf("fixture %s: %s", fx.name, why)
	}
	path = s.paths[fx.name]
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	w := fx.want
	if w == "" {
		w = "img"
	}
	return data, s.inputs[w], path
}
