package decompress

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
	"github.com/bmap-tools/bmap/decompress/internal/sample"
)

// stream hides io.ReaderAt and io.Seeker: a pipe or stdin.
type stream struct{ io.Reader }

// readAll decodes everything NewReader yields for r named name.
func readAll(r io.Reader, name string) (*Reader, []byte, error) {
	z, err := NewReader(r, Options{Name: name})
	if err != nil {
		return nil, nil, err
	}
	defer z.Close()
	out, err := io.ReadAll(z)
	return z, out, err
}

func sameBytes(t *testing.T, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("output differs: got %d bytes sha256 %x, want %d bytes sha256 %x",
			len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
}

func TestRoundTrip(t *testing.T) {
	s := getFixtures(t)
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			data, want, path := s.load(t, fx)

			// As a file, with its name.
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			z, got, err := readAll(f, fx.file)
			if err != nil {
				t.Fatalf("file %s: %v", fx.file, err)
			}
			sameBytes(t, got, want)
			if z.Kind() != fx.kind {
				t.Errorf("Kind() = %v, want %v", z.Kind(), fx.kind)
			}
			if z.Name() != fx.member {
				t.Errorf("Name() = %q, want %q", z.Name(), fx.member)
			}
			if len(z.Notes()) != fx.notes {
				t.Errorf("Notes() = %q, want %d notes", z.Notes(), fx.notes)
			}
			if fx.kind.Format != Zip && z.InputOffset() != int64(len(data)) {
				t.Errorf("InputOffset() = %d at EOF, want %d", z.InputOffset(), len(data))
			}

			// As a stream without a name (stdin): by content only.
			z, got, err = readAll(stream{bytes.NewReader(data)}, "")
			if err != nil {
				t.Fatalf("stream: %v", err)
			}
			sameBytes(t, got, want)
			if z.Kind() != fx.kind {
				t.Errorf("stream: Kind() = %v, want %v", z.Kind(), fx.kind)
			}
			if z.Name() != fx.member {
				t.Errorf("stream: Name() = %q, want %q", z.Name(), fx.member)
			}
			wantNotes := fx.notes
			if fx.kind.Tar {
				wantNotes++ // "the data is a tar archive; using its first file"
			}
			if len(z.Notes()) != wantNotes {
				t.Errorf("stream: Notes() = %q, want %d notes", z.Notes(), wantNotes)
			}
			if z.InputOffset() != int64(len(data)) && !(fx.kind.Format == Zip && fx.archive) {
				t.Errorf("stream: InputOffset() = %d at EOF, want %d", z.InputOffset(), len(data))
			}
		})
	}
}

// TestWrongName: magic wins over a name that names another format, with a
// note; a name that promises compression the data lacks is an error.
func TestWrongName(t *testing.T) {
	s := getFixtures(t)
	for _, fx := range fixtures {
		if fx.kind.Format == Raw || fx.kind.Tar {
			continue
		}
		t.Run(fx.name, func(t *testing.T) {
			data, want, _ := s.load(t, fx)
			wrong := "image.img.xz"
			if fx.kind.Format == XZ {
				wrong = "image.img.gz"
			}
			z, got, err := readAll(bytes.NewReader(data), wrong)
			if err != nil {
				t.Fatal(err)
			}
			sameBytes(t, got, want)
			if len(z.Notes()) != fx.notes+1 || !strings.Contains(z.Notes()[0], "name suggests") {
				t.Errorf("Notes() = %q, want a note about the name", z.Notes())
			}
		})
	}
}

func TestDetectEdges(t *testing.T) {
	img := makeImage(100<<10, 3)
	tests := []struct {
		name    string
		data    []byte
		file    string
		want    []byte
		kind    Kind
		wantErr error
	}{
		{name: "empty", data: nil, want: []byte{}},
		{name: "one byte", data: []byte{0x1f}, want: []byte{0x1f}},
		{name: "short", data: []byte("BZh"), want: []byte("BZh")},
		{name: "raw named raw", data: img, file: "disk.img", want: img},
		{name: "raw named .gz", data: img, file: "disk.img.gz", wantErr: ErrWrongFormat},
		{name: "raw named .zst", data: img, file: "disk.img.zst", wantErr: ErrWrongFormat},
		{name: "html named .xz", data: []byte("<!DOCTYPE html><html>404</html>"), file: "disk.img.xz", wantErr: ErrWrongFormat},
		{name: "empty named .gz", data: nil, file: "disk.img.gz", wantErr: io.ErrUnexpectedEOF},
		{name: "magic prefix named .xz", data: []byte("\xfd7z"), file: "disk.img.xz", wantErr: io.ErrUnexpectedEOF},
		{name: "empty named .tar", data: nil, file: "disk.tar", wantErr: ErrNoImage},
		{name: "raw named .tar", data: img, file: "disk.tar", wantErr: errAny},
		{name: "upper case suffix", data: img, file: "DISK.IMG.GZ", wantErr: ErrWrongFormat},
		{name: "bare suffix", data: img, file: ".gz", want: img},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z, got, err := readAll(bytes.NewReader(tt.data), tt.file)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("got %d bytes, no error; want %v", len(got), tt.wantErr)
				}
				if tt.wantErr != errAny && !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sameBytes(t, got, tt.want)
			if z.Kind() != tt.kind {
				t.Errorf("Kind() = %v, want %v", z.Kind(), tt.kind)
			}
		})
	}
}

var errAny = errors.New("any error")

// TestTruncation cuts every fixture at several points: every cut must be an
// error wrapping io.ErrUnexpectedEOF, never success. Archives may succeed
// if the cut falls after the image, but only with the exact image.
func TestTruncation(t *testing.T) {
	s := getFixtures(t)
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			if fx.kind.Format == Raw && !fx.kind.Tar {
				t.Skip("raw data has no end to check")
			}
			data, want, _ := s.load(t, fx)
			cuts := map[string]int{
				"1 byte":     1,
				"header":     min(10, len(data)/2),
				"early":      len(data) / 10,
				"middle":     len(data) / 2,
				"late":       len(data) * 9 / 10,
				"last-1":     len(data) - 1,
				"last-4":     len(data) - 4,
				"last-block": len(data) - 600,
			}
			for what, cut := range cuts {
				modes := []string{"file"}
				if fx.kind.Format == Zip {
					modes = append(modes, "stream") // the only format read differently from a file
				}
				for _, mode := range modes {
					var r io.Reader = bytes.NewReader(data[:cut])
					if mode == "stream" {
						r = stream{r}
					}
					_, got, err := readAll(r, fx.file)
					switch {
					case err != nil:
						zipAt := fx.kind.Format == Zip && mode == "file" // no end of central directory
						if !errors.Is(err, io.ErrUnexpectedEOF) && !fx.archive && !fx.noEnd && !zipAt {
							t.Errorf("%s, %s: cut at %d of %d: err = %v, want io.ErrUnexpectedEOF", what, mode, cut, len(data), err)
						}
						var e *Error
						if !errors.As(err, &e) {
							t.Errorf("%s, %s: err %v is not an *Error", what, mode, err)
						}
					case fx.archive && bytes.Equal(got, want):
						// The cut removed only what follows the image.
					case fx.noEnd:
						if !bytes.HasPrefix(want, got) {
							t.Errorf("%s, %s: cut at %d: no error, and %d bytes that are not a prefix of the image", what, mode, cut, len(got))
						}
					default:
						t.Errorf("%s, %s: cut at %d of %d: no error (%d bytes out)", what, mode, cut, len(data), len(got))
					}
				}
			}
		})
	}
}

// TestCorruption flips bytes inside each fixture: an error, never silent
// success, except for formats without an integrity check.
func TestCorruption(t *testing.T) {
	s := getFixtures(t)
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			data, want, _ := s.load(t, fx)
			for _, at := range []int{len(data) / 3, len(data) * 2 / 3} {
				bad := bytes.Clone(data)
				bad[at] ^= 0x55
				_, got, err := readAll(bytes.NewReader(bad), fx.file)
				switch {
				case err != nil:
					t.Logf("flip at %d: %v", at, err)
				case bytes.Equal(got, want) && fx.archive:
					// Damage outside the image.
				case fx.noCheck:
					t.Logf("flip at %d: no error (format has no integrity check)", at)
				default:
					t.Errorf("flip at %d of %d: no error, %d bytes out", at, len(data), len(got))
				}
			}
		})
	}
}

// TestTrailingData: garbage after the end of a stream is an error; zero
// bytes are accepted, with a note, where the format's tool accepts them
// (gzip, bzip2, lzop) and after zstd; xz takes them as stream padding only
// in multiples of 4, as xz does.
func TestTrailingData(t *testing.T) {
	s := getFixtures(t)
	for _, fx := range fixtures {
		if fx.kind.Tar || fx.kind.Format == Zip || fx.kind.Format == Raw || fx.noEnd {
			continue
		}
		t.Run(fx.name, func(t *testing.T) {
			data, want, _ := s.load(t, fx)
			zeros := func(n int) string { return strings.Repeat("\x00", n) }
			tails := []string{"garbage\n", "\x1f", zeros(1), zeros(3), zeros(4), zeros(1000), zeros(1001), zeros(1<<20 + 1),
				zeros(1000) + "x", "x" + zeros(1000), zeros(5000) + "\x1f\x8b" + zeros(100)}
			for _, tail := range tails {
				in := append(bytes.Clone(data), tail...)
				z, got, err := readAll(bytes.NewReader(in), fx.file)
				allZero := strings.Trim(tail, "\x00") == ""
				switch {
				case allZero && fx.kind.Format == XZ && len(tail)%4 == 0:
					// xz stream padding: valid, nothing to say.
					if err != nil {
						t.Errorf("tail %.10q (%d bytes): %v", tail, len(tail), err)
					} else if len(z.Notes()) != fx.notes {
						t.Errorf("tail %.10q (%d bytes): notes %q", tail, len(tail), z.Notes())
					}
					sameBytes(t, got, want)
					continue
				case allZero && zeroPadding[fx.kind.Format]:
					if err != nil {
						t.Errorf("tail of %d zero bytes: %v", len(tail), err)
						continue
					}
					sameBytes(t, got, want)
					notes := z.Notes()
					if len(notes) != fx.notes+1 || !strings.Contains(notes[len(notes)-1], fmt.Sprintf("trailing zero bytes ignored (%d bytes from compressed byte %d)", len(tail), len(data))) {
						t.Errorf("tail of %d zero bytes: notes %q, want one saying they were ignored", len(tail), notes)
					}
					continue
				}
				if err == nil {
					t.Errorf("tail %.10q (%d bytes): no error", tail, len(tail))
					continue
				}
				switch fx.kind.Format {
				case Gzip, LZMA, LZO, Bzip2, Zstd:
					if !errors.Is(err, ErrTrailingData) && tail != "\x1f" && !strings.HasPrefix(tail, zeros(5000)) {
						t.Errorf("tail %.10q: err = %v, want ErrTrailingData", tail, err)
					}
				}
				t.Logf("tail %.10q: %v", tail, err)
			}
		})
	}
}

var errBoom = errors.New("boom")

// ioFixtures are the fixtures TestIOTest uses: one or two per format.
var ioFixtures = map[string]bool{
	"raw": true, "gzip-cat": true, "pbzip2": true, "xz-T2-blocks": true, "lzma": true, "pzstd": true,
	"lz4-B4-BX": true, "lz4-BD": true, "lzop-cat": true, "zip-streamed": true, "zip-two": true, "tar-gz": true,
}

// TestIOTest runs the decoders over awkward readers.
func TestIOTest(t *testing.T) {
	s := getFixtures(t)
	for _, fx := range fixtures {
		if !ioFixtures[fx.name] {
			continue
		}
		t.Run(fx.name, func(t *testing.T) {
			data, want, _ := s.load(t, fx)
			{
				for name, wrap := range map[string]func(io.Reader) io.Reader{
					"OneByteReader": iotest.OneByteReader,
					"HalfReader":    iotest.HalfReader,
					"DataErrReader": iotest.DataErrReader,
				} {
					_, got, err := readAll(wrap(bytes.NewReader(data)), fx.file)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					sameBytes(t, got, want)
				}
			}
			data, _, _ = s.load(t, fx)
			// Errors from the source come through, with errors.Is.
			z, _, err := readAll(iotest.TimeoutReader(bytes.NewReader(data)), fx.file)
			if err == nil && fx.kind.Format == Zip {
				// A zip stream is read up to its central directory, which
				// was already buffered: the source was not read again.
				_ = z
			} else if !errors.Is(err, iotest.ErrTimeout) {
				t.Errorf("TimeoutReader: err = %v, want ErrTimeout", err)
			}
			_, _, err = readAll(iotest.ErrReader(errBoom), fx.file)
			if !errors.Is(err, errBoom) {
				t.Errorf("ErrReader: err = %v, want errBoom", err)
			}
			half := io.MultiReader(bytes.NewReader(data[:len(data)/2]), iotest.ErrReader(errBoom))
			_, _, err = readAll(half, fx.file)
			if !errors.Is(err, errBoom) && !(fx.archive && err == nil) {
				t.Errorf("error mid-stream: err = %v, want errBoom", err)
			}
		})
	}
}

// TestReadAfterClose checks Close mid-stream stops the decoder.
func TestReadAfterClose(t *testing.T) {
	s := getFixtures(t)
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			data, _, _ := s.load(t, fx)
			z, err := NewReader(stream{bytes.NewReader(data)}, Options{Name: fx.file})
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 100000)
			if _, err := io.ReadFull(z, buf); err != nil {
				t.Fatal(err)
			}
			if err := z.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := z.Read(buf); !errors.Is(err, ErrClosed) {
				t.Errorf("Read after Close: err = %v, want ErrClosed", err)
			}
		})
	}
}

// TestNested refuses an image that is itself compressed.
func TestNested(t *testing.T) {
	sample.NeedTool(t, "gzip")
	s := getFixtures(t)
	for _, fx := range fixtures {
		if fx.name != "xz-T1" && fx.name != "zstd" {
			continue
		}
		data, _, _ := s.load(t, fx)
		gz := sample.Compress(t, data, "gzip", "-c")
		_, _, err := readAll(bytes.NewReader(gz), "img.gz")
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s inside gzip: err = %v, want ErrUnsupported", fx.name, err)
		}
	}
}

// TestErrorMessage: an error names the format and the compressed offset
// once, whichever decoder (ours or a library) found it, and keeps the
// cause for errors.Is.
func TestErrorMessage(t *testing.T) {
	names := []string{"gzip", "bzip2", "xz-T1", "zstd", "lzop", "lz4", "lzma", "zip-streamed"}
	s := getFixtures(t, names...)
	for _, fx := range fixtures {
		if !slices.Contains(names, fx.name) {
			continue
		}
		t.Run(fx.name, func(t *testing.T) {
			data, _, _ := s.load(t, fx)
			_, _, err := readAll(stream{bytes.NewReader(data[:len(data)*2/3])}, fx.file)
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("cut: %v, want an *Error wrapping io.ErrUnexpectedEOF", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, e.Format+": ") || strings.Count(msg, e.Format+":") != 1 ||
				!strings.Contains(msg, fmt.Sprintf("at compressed byte %d: ", e.Offset)) || strings.Contains(msg, "[") {
				t.Errorf("%q: want the format %q and the offset %d named once", msg, e.Format, e.Offset)
			}
		})
	}
	e := &Error{Format: "zip", Offset: -1, Err: ErrNoImage}
	if got, want := e.Error(), "zip: archive holds no regular file"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{
		{Raw, false}:  "raw",
		{Gzip, false}: "gzip",
		{Raw, true}:   "tar",
		{XZ, true}:    "tar+xz",
		{Zip, false}:  "zip",
		{99, false}:   "Format(99)",
	} {
		if got := k.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", k, got, want)
		}
	}
}

func TestKindFromName(t *testing.T) {
	for name, want := range map[string]Kind{
		"a.img.gz": {Gzip, false}, "a.gzip": {Gzip, false}, "a.tar.gz": {Gzip, true}, "a.tgz": {Gzip, true},
		"a.bz2": {Bzip2, false}, "a.tar.bz2": {Bzip2, true}, "a.tbz": {Bzip2, true}, "a.tbz2": {Bzip2, true}, "a.tb2": {Bzip2, true},
		"a.xz": {XZ, false}, "a.tar.xz": {XZ, true}, "a.txz": {XZ, true},
		"a.lzo": {LZO, false}, "a.tar.lzo": {LZO, true}, "a.tzo": {LZO, true},
		"a.lz4": {LZ4, false}, "a.tar.lz4": {LZ4, true}, "a.tlz4": {LZ4, true},
		"a.zst": {Zstd, false}, "a.tar.zst": {Zstd, true}, "a.tzst": {Zstd, true},
		"a.zip": {Zip, false}, "a.tar": {Raw, true}, "a.lzma": {LZMA, false}, "a.tar.lzma": {LZMA, true},
		"A.TAR.XZ": {XZ, true},
	} {
		got, ok := KindFromName(name)
		if !ok || got != want {
			t.Errorf("KindFromName(%q) = %v, %v; want %v", name, got, ok, want)
		}
	}
	for _, name := range []string{"", "a.img", "a.wic", "gz", "a.gz.img"} {
		if k, ok := KindFromName(name); ok {
			t.Errorf("KindFromName(%q) = %v, want none", name, k)
		}
	}
}

// TestLZMAContent: LZMA_Alone, which has no magic number, is found by its
// header and a trial decode, so a renamed or piped .lzma decodes; a raw
// image stays raw, even one whose first bytes pass for a header.
func TestLZMAContent(t *testing.T) {
	if missingTool([]string{"xz"}) != "" {
		t.Skip("xz is not installed")
	}
	img := makeImage(300<<10, 5)
	header := func(props byte, dict uint32, size uint64) []byte {
		h := []byte{props, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		binary.LittleEndian.PutUint32(h[1:], dict)
		binary.LittleEndian.PutUint64(h[5:], size)
		return h
	}
	random := make([]byte, 200<<10)
	rng := rand.New(rand.NewPCG(6, 6))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	mbr := append([]byte{0xeb, 0x63, 0x90}, img...)
	text := []byte(strings.Repeat("test image block 000001 line 001 0123456789abcdef\n", 2000))
	raw := map[string][]byte{
		"zeros":                  make([]byte, 1<<20),
		"boot code":              mbr,
		"text":                   text,
		"header then random":     append(header(0x5d, 1<<23, ^uint64(0)), random...),
		"header then text":       append(header(0x5d, 1<<23, ^uint64(0)), text...),
		"dictionary 0":           append(header(0x5d, 0, ^uint64(0)), make([]byte, 1000)...),
		"dictionary 4097":        append(header(0x5d, 4097, ^uint64(0)), make([]byte, 1000)...),
		"size 0":                 append(header(0x5d, 1<<16, 0), make([]byte, 1000)...),
		"size 1 then more":       append(header(0x5d, 1<<16, 1), make([]byte, 1000)...),
		"lc+lp over 4":           append(header(4*9+4, 1<<16, ^uint64(0)), make([]byte, 1000)...),
		"first range byte not 0": append(header(0x5d, 1<<16, ^uint64(0)), append([]byte{1}, make([]byte, 1000)...)...),
	}
	for name, data := range raw {
		_, got, err := readAll(stream{bytes.NewReader(data)}, "")
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s: a raw image was not read as it is (%d bytes out of %d)", name, len(got), len(data))
		}
	}
	// Random headers that pass the check, each followed by random data.
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		data := append(header(byte(rng.IntN(45)), 1<<(12+rng.IntN(14)), ^uint64(0)), random[:1+rng.IntN(len(random)-1)]...)
		data[13] = 0
		if z, _, _ := readAll(stream{bytes.NewReader(data)}, ""); z != nil && z.Format() != Raw {
			t.Errorf("seed %d: random data after a header was taken for %v", seed, z.Format())
		}
	}

	// Matches that reach back over 64 KiB from the start, when the
	// decoder's first 64 KiB come from fewer input bytes.
	far := bytes.Repeat(append(bytes.Clone(text[:30000]), random[:40000]...), 3)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"image", img},
		{"one byte", []byte{'x'}},
		{"zeros", make([]byte, 1<<20)},
		{"random", random},
		{"far matches", far},
	} {
		out := sample.CompressFile(t, tc.data, "in", "xz", "--format=lzma", "-1", "-c")
		for _, name := range []string{"", "image.img", "image.lzma"} {
			z, got, err := readAll(stream{bytes.NewReader(out)}, name)
			if err != nil || z.Format() != LZMA {
				t.Errorf("%s named %q: format %v, err %v; want lzma", tc.name, name, z.Kind(), err)
				continue
			}
			sameBytes(t, got, tc.data)
		}
	}
}

// TestArchiveMembers: in a tar or zip with several files, the image is the
// file of the image's size when it is known; else the largest of a zip
// read through its central directory, else the first. Notes name the file
// used and the others; an archive without a file of the image's size is an
// error that names its files.
func TestArchiveMembers(t *testing.T) {
	if missingTool([]string{"tar", "gzip", "zip"}) != "" {
		t.Skip("tar, gzip or zip is not installed")
	}
	dir := t.TempDir()
	files := map[string][]byte{
		"README":   []byte("flash disk.img with bmap copy\n"),
		"disk.img": makeImage(200<<10, 7),
		"big.bin":  makeImage(300<<10, 8),
		"twin.img": makeImage(200<<10, 9), // as large as disk.img
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	archives := []struct {
		name, cmd string
		stream    bool // read as a stream: the largest cannot be known
	}{
		{"a.tar", "tar -cf a.tar README disk.img big.bin twin.img", true},
		{"a.tar.gz", "tar -czf a.tar.gz README disk.img big.bin twin.img", true},
		{"a.zip", "zip -q a.zip README disk.img big.bin twin.img", false},
		{"s.zip", "zip -q - README disk.img big.bin twin.img | cat > s.zip", true},
	}
	for _, a := range archives {
		cmd := exec.Command("sh", "-c", a.cmd)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", a.cmd, err, out)
		}
		data, err := os.ReadFile(filepath.Join(dir, a.name))
		if err != nil {
			t.Fatal(err)
		}
		open := func(size int64) (*Reader, []byte, error) {
			var r io.Reader = bytes.NewReader(data)
			if strings.HasPrefix(a.name, "s.") {
				r = stream{r}
			}
			z, err := NewReader(r, Options{Name: a.name, ImageSize: size})
			if err != nil {
				return nil, nil, err
			}
			defer z.Close()
			out, err := io.ReadAll(z)
			return z, out, err
		}
		// The image's size known: the first file of that size.
		z, got, err := open(int64(len(files["disk.img"])))
		if err != nil {
			t.Fatalf("%s: %v", a.name, err)
		}
		if z.Name() != "disk.img" || !bytes.Equal(got, files["disk.img"]) {
			t.Errorf("%s, image size known: read %q (%d bytes), want disk.img", a.name, z.Name(), len(got))
		}
		notes := strings.Join(z.Notes(), "\n")
		for _, want := range []string{`"disk.img" (204800 bytes), the first file of the image's size`, `"README" (30 bytes)`, `"big.bin" (307200 bytes)`, `"twin.img" (204800 bytes)`} {
			if !a.stream && strings.Contains(want, "first file") {
				want = `"disk.img" (204800 bytes), the file of the image's size`
			}
			if !strings.Contains(notes, want) {
				t.Errorf("%s, image size known: the notes do not say %s:\n%s", a.name, want, notes)
			}
		}
		// Unknown: the largest, if all are known first; else the first.
		want := "big.bin"
		if a.stream {
			want = "README"
		}
		if z, got, err = open(-1); err != nil || z.Name() != want || !bytes.Equal(got, files[want]) {
			t.Errorf("%s, image size unknown: read %v (%d bytes), err %v; want %s", a.name, z.Name(), len(got), err, want)
		}
		// None of that size: an error that names them all.
		_, _, err = open(12345)
		if err == nil {
			t.Errorf("%s, no file of the image's size: no error", a.name)
			continue
		}
		for _, want := range []string{"12345 bytes", `"README" (30 bytes)`, `"disk.img" (204800 bytes)`, `"big.bin" (307200 bytes)`, `"twin.img" (204800 bytes)`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s, no file of the image's size: error %q does not name %s", a.name, err, want)
			}
		}
	}
}

// TestPeek: every format shows the image's first bytes without consuming
// them, so that a format inside the image (an Android sparse image) can be
// recognised; a short image shows what it has, with io.EOF.
func TestPeek(t *testing.T) {
	s := getFixtures(t)
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			data, want, _ := s.load(t, fx)
			z, err := NewReader(stream{bytes.NewReader(data)}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer z.Close()
			n := min(28, len(want))
			head, err := z.Peek(28)
			if !bytes.Equal(head, want[:n]) || (n < 28) != (err == io.EOF) {
				t.Fatalf("Peek(28) = %q, %v; want %q", head, err, want[:n])
			}
			got, err := io.ReadAll(z)
			if err != nil {
				t.Fatal(err)
			}
			sameBytes(t, got, want)
		})
	}
}

// TestMemoryLimit: a stream asking for a window or dictionary over the
// limit fails with ErrMemoryLimit, naming both sizes; one within it
// decodes.
func TestMemoryLimit(t *testing.T) {
	limit := fault.Size(maxWindow)
	for _, c := range []struct {
		name string
		data []byte
		want string // the error, "" for none
	}{
		{"x.zst", []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa8, 0x01, 0x00, 0x00},
			"zstd: frame header at compressed byte 0: over the memory limit: the frame asks for a 2 GiB window; the limit is " + limit},
		{"x.zst", []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x80, 0x01, 0x00, 0x00}, ""}, // 64 MiB
		{"x.lzma", append([]byte{0x5d, 0, 0, 0, 0x80}, bytes.Repeat([]byte{0xff}, 8)...),
			"lzma: at compressed byte 0: over the memory limit: the stream asks for a 2 GiB dictionary; the limit is " + limit},
	} {
		_, out, err := readAll(bytes.NewReader(c.data), c.name)
		switch {
		case c.want == "" && (err != nil || len(out) != 0):
			t.Errorf("%s % x: %v, %d bytes; want nothing decoded", c.name, c.data, err, len(out))
		case c.want != "" && (!errors.Is(err, ErrMemoryLimit) || err.Error() != c.want):
			t.Errorf("%s % x: %v; want %q", c.name, c.data, err, c.want)
		}
	}
}
