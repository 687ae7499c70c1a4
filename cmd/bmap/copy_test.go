package main

// End-to-end tests of "bmap copy", run in-process through run: images are
// built sparse at test time, compressed with the real C tools, and the
// copies are compared byte for byte and checked for holes.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestCopyFormats copies the test image in every compressed form with our
// bmap, from a file and from stdin, and checks that damaged forms (cut in
// the middle, garbage after the end) fail with an error naming the format.
func TestCopyFormats(t *testing.T) {
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	bmapPath := filepath.Join(dir, "disk.img.bmap")
	m := createBmap(t, img.path, bmapPath)

	compressed := compressAll(t, formats, img.path, dir)
	compressed["raw"] = img.path
	all := append([]format{{name: "raw", words: []string{"raw"}}}, formats...)
	for _, f := range all {
		t.Run(f.name, func(t *testing.T) {
			src, ok := compressed[f.name]
			if !ok {
				needTools(t, f.tools...) // skips, naming the missing tool
			}
			fdir := filepath.Dir(src)
			if f.name == "raw" {
				fdir = t.TempDir()
			}

			t.Run("file", func(t *testing.T) {
				out := filepath.Join(fdir, "out.img")
				mustRun(t, nil, "copy", "--bmap", bmapPath, src, out)
				checkFile(t, out, img.data)
				checkSparse(t, out, m)
			})

			t.Run("stdin", func(t *testing.T) {
				in, err := os.Open(src)
				if err != nil {
					t.Fatal(err)
				}
				defer in.Close()
				out := filepath.Join(fdir, "stdin.img")
				mustRun(t, in, "copy", "--bmap", bmapPath, "-", out)
				checkFile(t, out, img.data)
				checkSparse(t, out, m)
			})

			if f.name == "raw" {
				return // raw damage is a size mismatch: see TestCopyBadInputs
			}
			data := readFile(t, src)

			t.Run("truncated", func(t *testing.T) {
				cut := filepath.Join(fdir, "cut"+f.ext)
				writeFile(t, cut, data[:len(data)/2])
				r := runBmap(t, nil, "copy", "--bmap", bmapPath, cut, filepath.Join(fdir, "cut.out"))
				wantFailure(t, r, exitFailure, "cut"+f.ext)
				wantOneOf(t, r, f.words)
			})

			t.Run("trailing-garbage", func(t *testing.T) {
				switch f.name {
				case "tar":
					// A tar archive ends with zero blocks, and tar
					// ignores what follows them.
					t.Skip("tar ignores bytes after its end-of-archive blocks")
				case "zip":
					// The image is found through the central directory;
					// unzip -t, too, accepts bytes after the end record.
					t.Skip("zip readers (unzip too) ignore bytes after the end-of-central-directory record")
				}
				long := filepath.Join(fdir, "long"+f.ext)
				writeFile(t, long, append(bytes.Clone(data), "this is not compressed data\n"...))
				r := runBmap(t, nil, "copy", "--bmap", bmapPath, long, filepath.Join(fdir, "long.out"))
				wantFailure(t, r, exitFailure, "long"+f.ext)
				wantOneOf(t, r, f.words)
			})
		})
	}
}

// wantOneOf checks that the error line of r contains one of words.
func wantOneOf(t *testing.T, r result, words []string) {
	t.Helper()
	msg := errorLine(t, r)
	for _, w := range words {
		if strings.Contains(msg, w) {
			return
		}
	}
	t.Errorf("error %q names none of %q", msg, words)
}

// TestCopyBmapVersions copies the sample image with each hand-made bmap of
// testdata (every format version, every checksum type) and bmaptool 3.6's,
// from the gzip file of testdata, from a raw file and from zstd.
func TestCopyBmapVersions(t *testing.T) {
	dir := t.TempDir()
	sample := sampleImage(t)
	raw := filepath.Join(dir, "sample.img")
	writeFile(t, raw, sample)
	sources := []struct {
		name string
		path func(t *testing.T) string
	}{
		{"gzip", func(*testing.T) string { return filepath.Join(testdataDir, "sample.img.gz") }},
		{"raw", func(*testing.T) string { return raw }},
		{"zstd", func(t *testing.T) string { return compress(t, formatNamed(t, "zstd"), raw, dir) }},
	}
	bmaps := []string{
		"sample.img.bmap", "sample.img.bmap.v1.0", "sample.img.bmap.v1.1", "sample.img.bmap.v1.2",
		"sample.img.bmap.v1.3", "sample.img.bmap.v1.4", "sample.img.bmap.v2.0",
		"sample.img.bmap.v2.0-sha1", "sample.img.bmap.v2.0-sha512",
	}
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			image := src.path(t)
			for _, b := range bmaps {
				t.Run(strings.TrimPrefix(b, "sample.img."), func(t *testing.T) {
					bm := filepath.Join(testdataDir, b)
					out := filepath.Join(t.TempDir(), "out.img")
					r := mustRun(t, nil, "copy", "--bmap", bm, image, out)
					m := readBmap(t, bm)
					if want := "block map format version " + m.Version; !strings.Contains(r.stderr, want) {
						t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
					}
					checkFile(t, out, sample)
					checkSparse(t, out, m)
				})
			}
		})
	}
}

// TestCopyStdin reads the image from stdin: an *os.File (raw, so seekable,
// and compressed), a pipe, and a plain io.Reader.
func TestCopyStdin(t *testing.T) {
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	bmapPath := filepath.Join(dir, "disk.img.bmap")
	m := createBmap(t, img.path, bmapPath)
	gz := compress(t, formatNamed(t, "gzip"), img.path, dir)

	file := func(path string) func(t *testing.T) io.Reader {
		return func(t *testing.T) io.Reader {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			return f
		}
	}
	memory := func(path string) func(t *testing.T) io.Reader {
		return func(t *testing.T) io.Reader { return bytes.NewReader(readFile(t, path)) }
	}
	pipe := func(path string) func(t *testing.T) io.Reader {
		return func(t *testing.T) io.Reader {
			data := readFile(t, path)
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			go func() { pw.Write(data); pw.Close() }()
			t.Cleanup(func() { pr.Close() })
			return pr
		}
	}
	tests := []struct {
		name   string
		stdin  func(t *testing.T) io.Reader
		args   []string // before "- OUT"
		sparse bool
	}{
		{"raw-file", file(img.path), []string{"--bmap", bmapPath}, true},
		{"raw-bytes.Reader", memory(img.path), []string{"--bmap", bmapPath}, true},
		{"raw-pipe", pipe(img.path), []string{"--bmap", bmapPath}, true},
		{"gzip-file", file(gz), []string{"--bmap", bmapPath}, true},
		{"gzip-bytes.Reader", memory(gz), []string{"--bmap", bmapPath}, true},
		{"gzip-pipe", pipe(gz), []string{"--bmap", bmapPath}, true},
		{"gzip-bytes.Reader-compressed-bmap", memory(gz), []string{"--bmap", gzipFile(t, bmapPath)}, true},
		{"raw-file-nobmap", file(img.path), []string{"--nobmap"}, false},
		{"raw-bytes.Reader-nobmap", memory(img.path), []string{"--nobmap"}, false},
		{"gzip-pipe-nobmap", pipe(gz), []string{"--nobmap"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.img")
			mustRun(t, tt.stdin(t), append(append([]string{"copy"}, tt.args...), "-", out)...)
			checkFile(t, out, img.data)
			if tt.sparse {
				checkSparse(t, out, m)
			}
		})
	}

	t.Run("no-bmap", func(t *testing.T) {
		// No name, so nothing to discover: the user must choose.
		out := filepath.Join(t.TempDir(), "out.img")
		r := runBmap(t, memory(gz)(t), "copy", "-", out)
		if r.code == exitOK {
			t.Fatal("copy from stdin without --bmap or --nobmap succeeded")
		}
		if msg := errorLine(t, r); !strings.Contains(msg, "--nobmap") || !strings.Contains(msg, "--bmap") {
			t.Errorf("error %q does not point to --bmap and --nobmap", msg)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%s was created (stat: %v)", out, err)
		}
	})
}

// gzipFile compresses path with gzip -k into path.gz and returns it.
func gzipFile(t *testing.T, path string) string {
	t.Helper()
	needTools(t, "gzip")
	execute(t, path+".gz", "gzip", "-c", "-n", path)
	return path + ".gz"
}

// TestCopyBmapOption gives the bmap explicitly, plain and compressed, from
// another directory and under a name that has nothing to do with the image.
func TestCopyBmapOption(t *testing.T) {
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	other := t.TempDir()
	bmapPath := filepath.Join(other, "whatever.xml")
	m := createBmap(t, img.path, bmapPath)
	gz := compress(t, formatNamed(t, "gzip"), img.path, dir)
	bmapXZ := filepath.Join(other, "map.bmap.xz")
	needTools(t, "xz", "zstd")
	execute(t, bmapXZ, "xz", "-c", bmapPath)
	bmapZst := filepath.Join(other, "map") // no suffix: found by magic
	execute(t, bmapZst, "zstd", "-q", "-c", bmapPath)

	tests := []struct{ name, image, bmap string }{
		{"plain", gz, bmapPath},
		{"gzip", gz, gzipFile(t, bmapPath)},
		{"xz", img.path, bmapXZ},
		{"zstd-no-suffix", gz, bmapZst},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.img")
			mustRun(t, nil, "copy", "--bmap", tt.bmap, tt.image, out)
			checkFile(t, out, img.data)
			checkSparse(t, out, m)
		})
	}
}

// TestCopyDiscovery checks where copy finds the bmap of a.img.gz when none
// is given: a.img.gz.bmap, then a.img.bmap, then a.bmap. Each candidate
// that must not be used holds garbage, so using it would fail the copy.
func TestCopyDiscovery(t *testing.T) {
	base := t.TempDir()
	img := makeImage(t, base, "a.img", defaultSpec)
	good := filepath.Join(base, "good.bmap")
	m := createBmap(t, img.path, good)
	gz := compress(t, formatNamed(t, "gzip"), img.path, base)

	tests := []struct {
		name    string
		present []string // candidates that exist
		want    string   // the one that must be used
	}{
		{"image.bmap", []string{"a.img.gz.bmap"}, "a.img.gz.bmap"},
		{"one-extension-off", []string{"a.img.bmap"}, "a.img.bmap"},
		{"two-extensions-off", []string{"a.bmap"}, "a.bmap"},
		{"image.bmap-first", []string{"a.img.gz.bmap", "a.img.bmap", "a.bmap"}, "a.img.gz.bmap"},
		{"one-off-before-two-off", []string{"a.img.bmap", "a.bmap"}, "a.img.bmap"},
		{"image.bmap-before-two-off", []string{"a.img.gz.bmap", "a.bmap"}, "a.img.gz.bmap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			image := filepath.Join(dir, "a.img.gz")
			writeFile(t, image, readFile(t, gz))
			for _, p := range tt.present {
				content := []byte("<?xml version=\"1.0\" ?>\n<bmap version=\"2.0\">not the bmap to use</bmap>\n")
				if p == tt.want {
					content = readFile(t, good)
				}
				writeFile(t, filepath.Join(dir, p), content)
			}
			// A directory named like a candidate is not a bmap.
			if tt.want != "a.img.gz.bmap" {
				if err := os.Mkdir(filepath.Join(dir, "a.img.gz.bmap"), 0o755); err != nil && !os.IsExist(err) {
					t.Fatal(err)
				}
			}
			out := filepath.Join(dir, "out.img")
			r := mustRun(t, nil, "copy", image, out)
			if want := fmt.Sprintf("discovered bmap file '%s'", filepath.Join(dir, tt.want)); !strings.Contains(r.stderr, want) {
				t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
			}
			checkFile(t, out, img.data)
			checkSparse(t, out, m)
		})
	}

	t.Run("relative-path", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "a.img.gz"), readFile(t, gz))
		writeFile(t, filepath.Join(dir, "a.bmap"), readFile(t, good))
		chdir(t, dir)
		r := mustRun(t, nil, "copy", "a.img.gz", "out.img")
		if !strings.Contains(r.stderr, "discovered bmap file 'a.bmap'") {
			t.Errorf("stderr does not name a.bmap:\n%s", r.stderr)
		}
		checkFile(t, filepath.Join(dir, "out.img"), img.data)
	})
}

// TestCopyNoBmap: without a bmap, copy refuses unless --nobmap is given,
// and then copies every byte.
func TestCopyNoBmap(t *testing.T) {
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	gz := compress(t, formatNamed(t, "gzip"), img.path, dir)
	old := []byte("the old destination content\n")

	for _, image := range []string{img.path, gz} {
		name := filepath.Base(image)
		t.Run("refused/"+name+"/new-dest", func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.img")
			r := runBmap(t, nil, "copy", image, out)
			wantFailure(t, r, exitFailure, "--nobmap", name)
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("%s was created (stat: %v)", out, err)
			}
		})
		t.Run("refused/"+name+"/old-dest", func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.img")
			writeFile(t, out, old)
			r := runBmap(t, nil, "copy", image, out)
			wantFailure(t, r, exitFailure, "--nobmap")
			checkFile(t, out, old)
		})
		t.Run("nobmap/"+name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.img")
			writeFile(t, out, fill(0xff, 3*len(img.data)))
			mustRun(t, nil, "copy", "--nobmap", image, out)
			checkFile(t, out, img.data)
		})
	}

	t.Run("nobmap-ignores-a-bmap-beside", func(t *testing.T) {
		d := t.TempDir()
		image := filepath.Join(d, "x.img")
		writeFile(t, image, img.data)
		writeFile(t, image+".bmap", []byte("garbage, not read with --nobmap"))
		out := filepath.Join(d, "out.img")
		mustRun(t, nil, "copy", image, out, "--nobmap")
		checkFile(t, out, img.data)
	})

	t.Run("nobmap-and-bmap", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.img")
		writeFile(t, out, old)
		bm := filepath.Join(dir, "disk.img.bmap")
		createBmap(t, img.path, bm)
		for _, args := range [][]string{
			{"copy", "--nobmap", "--bmap", bm, gz, out},
			{"copy", gz, out, "--bmap=" + bm, "--nobmap"},
		} {
			r := runBmap(t, nil, args...)
			wantFailure(t, r, exitUsage, "--nobmap", "--bmap")
			checkFile(t, out, old)
		}
	})
}

// TestCopyArgs puts options before, between and after the positional
// arguments, uses --opt=value, "--" and a name that starts with "-".
func TestCopyArgs(t *testing.T) {
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	bm := filepath.Join(dir, "map.bmap")
	createBmap(t, img.path, bm)
	gz := compress(t, formatNamed(t, "gzip"), img.path, dir)
	dash := filepath.Join(dir, "-dash.img.gz")
	writeFile(t, dash, readFile(t, gz))
	chdir(t, dir)

	tests := []struct {
		name  string
		args  []string // OUT is replaced by the output path
		quiet bool
	}{
		{"options-first", []string{"copy", "--bmap", bm, gz, "OUT"}, false},
		{"options-last", []string{"copy", gz, "OUT", "--bmap", bm}, false},
		{"options-between", []string{"copy", gz, "--bmap", bm, "OUT"}, false},
		{"equals-form", []string{"copy", gz, "OUT", "--bmap=" + bm}, false},
		{"double-dash", []string{"copy", "--bmap", bm, "--", gz, "OUT"}, false},
		{"double-dash-dash-name", []string{"copy", "--bmap", bm, "--", "-dash.img.gz", "OUT"}, false},
		{"no-verify-last", []string{"copy", gz, "OUT", "--bmap", bm, "--no-verify"}, false},
		{"global-quiet", []string{"-q", "copy", gz, "OUT", "--bmap", bm}, true},
		{"quiet-after-command", []string{"copy", gz, "-q", "OUT", "--bmap", bm}, true},
		{"quiet-last", []string{"copy", "--bmap", bm, gz, "OUT", "--quiet"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.img")
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				if a == "OUT" {
					a = out
				}
				args[i] = a
			}
			r := mustRun(t, nil, args...)
			checkFile(t, out, img.data)
			if tt.quiet && r.stderr != "" {
				t.Errorf("-q, but stderr is:\n%s", r.stderr)
			}
			if !tt.quiet && !strings.Contains(r.stderr, "bmap: info: copying image") {
				t.Errorf("stderr has no info lines:\n%s", r.stderr)
			}
		})
	}

	usage := []struct {
		name string
		args []string
	}{
		{"no-arguments", []string{"copy"}},
		{"one-argument", []string{"copy", gz}},
		{"unknown-option", []string{"copy", "--bmapp", bm, gz, "out"}},
		{"bmap-without-value", []string{"copy", gz, "out", "--bmap"}},
		{"quiet-and-debug", []string{"copy", "-q", "-d", "--bmap", bm, gz, "out"}},
	}
	for _, tt := range usage {
		t.Run("usage/"+tt.name, func(t *testing.T) {
			r := runBmap(t, nil, tt.args...)
			wantFailure(t, r, exitUsage)
			if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
				t.Errorf("a usage error created the destination (stat: %v)", err)
			}
		})
	}
}

// TestCopyDestination writes over an older, larger file, to /dev/null, and
// refuses a missing /dev path and the image itself.
func TestCopyDestination(t *testing.T) {
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	bm := filepath.Join(dir, "disk.img.bmap")
	m := createBmap(t, img.path, bm)
	gz := compress(t, formatNamed(t, "gzip"), img.path, dir)

	for _, image := range []string{img.path, gz} {
		t.Run("over-larger-file/"+filepath.Base(image), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "old.img")
			writeFile(t, out, fill(0xff, 2*len(img.data)+12345))
			mustRun(t, nil, "copy", "--bmap", bm, image, out)
			checkFile(t, out, img.data)
			checkSparse(t, out, m)
		})
		t.Run("dev-null/"+filepath.Base(image), func(t *testing.T) {
			r := mustRun(t, nil, "copy", "--bmap", bm, image, "/dev/null")
			if !strings.Contains(r.stderr, "character device") {
				t.Errorf("stderr does not say /dev/null is a character device:\n%s", r.stderr)
			}
		})
	}

	t.Run("over-sparse-file-with-other-holes", func(t *testing.T) {
		// The old file has data exactly where the image has holes.
		out := filepath.Join(t.TempDir(), "old.img")
		var holes []blockRange
		next := int64(0)
		for _, r := range m.Ranges {
			if next < r.First {
				holes = append(holes, blockRange{next, r.First - 1, 'r'})
			}
			next = r.Last + 1
		}
		makeImage(t, filepath.Dir(out), "old.img", imageSpec{size: 700 * testBlockSize, ranges: holes, seed: 9})
		mustRun(t, nil, "copy", "--bmap", bm, gz, out)
		checkFile(t, out, img.data)
		checkSparse(t, out, m)
	})

	t.Run("missing-dev-path", func(t *testing.T) {
		dev := fmt.Sprintf("/dev/bmap-test-no-such-device-%d", os.Getpid())
		t.Cleanup(func() { os.Remove(dev) })
		r := runBmap(t, nil, "copy", "--bmap", bm, gz, dev)
		wantFailure(t, r, exitFailure, dev)
		if _, err := os.Lstat(dev); !os.IsNotExist(err) {
			t.Errorf("%s was created (stat: %v)", dev, err)
		}
	})

	t.Run("missing-directory", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "no", "such", "dir", "out.img")
		r := runBmap(t, nil, "copy", "--bmap", bm, gz, out)
		wantFailure(t, r, exitFailure, out)
	})

	t.Run("directory", func(t *testing.T) {
		out := t.TempDir()
		r := runBmap(t, nil, "copy", "--bmap", bm, gz, out)
		wantFailure(t, r, exitFailure, out, "directory")
	})

	// The image as its own destination: truncating it would destroy it.
	self := []struct {
		name string
		dest func(t *testing.T, image string) string
	}{
		{"same-path", func(_ *testing.T, image string) string { return image }},
		{"other-spelling", func(_ *testing.T, image string) string {
			d := filepath.Dir(image)
			return d + "/./../" + filepath.Base(d) + "//" + filepath.Base(image)
		}},
		{"symlink", func(t *testing.T, image string) string {
			link := filepath.Join(t.TempDir(), "link")
			if err := os.Symlink(image, link); err != nil {
				t.Fatal(err)
			}
			return link
		}},
		{"hard-link", func(t *testing.T, image string) string {
			link := image + ".link"
			if err := os.Link(image, link); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Remove(link) })
			return link
		}},
	}
	for _, image := range []string{img.path, gz} {
		for _, tt := range self {
			t.Run("image-itself/"+filepath.Base(image)+"/"+tt.name, func(t *testing.T) {
				before := readFile(t, image)
				dest := tt.dest(t, image)
				r := runBmap(t, nil, "copy", "--bmap", bm, image, dest)
				wantFailure(t, r, exitFailure, "image itself")
				checkFile(t, image, before)
			})
		}
	}
}

// TestCopyBadInputs feeds copy broken or mismatched images and bmaps. Each
// must fail with exit code 1 (2 for usage), one error line that names the
// file and what was wrong, and, when the problem can be seen before the
// destination is opened, leave the destination as it was.
func TestCopyBadInputs(t *testing.T) {
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	bm := filepath.Join(dir, "disk.img.bmap")
	m := createBmap(t, img.path, bm)
	bmData := readFile(t, bm)
	gz := compress(t, formatNamed(t, "gzip"), img.path, dir)

	// path writes data to dir/name and returns the path.
	path := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		writeFile(t, p, data)
		return p
	}
	// Another image: same size and ranges, other content.
	other := makeImage(t, dir, "other.img", imageSpec{size: defaultSpec.size, ranges: defaultSpec.ranges, seed: 2})
	otherBmap := filepath.Join(dir, "other.img.bmap")
	createBmap(t, other.path, otherBmap)
	// A bigger image: same ranges, 16 more blocks.
	bigger := makeImage(t, dir, "bigger.img", imageSpec{size: defaultSpec.size + 16*testBlockSize, ranges: defaultSpec.ranges, seed: 1})
	biggerBmap := filepath.Join(dir, "bigger.img.bmap")
	createBmap(t, bigger.path, biggerBmap)
	biggerGz := compress(t, formatNamed(t, "gzip"), bigger.path, dir)
	// A smaller one: the ranges that fit in 290 blocks.
	smaller := makeImage(t, dir, "smaller.img", imageSpec{size: 290 * testBlockSize, ranges: defaultSpec.ranges[:len(defaultSpec.ranges)-2], seed: 1})
	smallerBmap := filepath.Join(dir, "smaller.img.bmap")
	createBmap(t, smaller.path, smallerBmap)

	// The range of blocks 40-103 with a wrong checksum: the last digit
	// changed, the file checksum fixed, so only the data check sees it.
	r := m.Ranges[3]
	if r.First != 40 || r.Last != 103 {
		t.Fatalf("range 3 of the test image is %d-%d, want 40-103", r.First, r.Last)
	}
	sum := fmt.Sprintf("%x", r.Checksum)
	flipped := sum[:len(sum)-1] + "0"
	if sum[len(sum)-1] == '0' {
		flipped = sum[:len(sum)-1] + "1"
	}
	lie := strings.Replace(string(bmData), sum, flipped, 1)
	if lie == string(bmData) {
		t.Fatal("could not edit the range checksum")
	}
	lying := path("lying.bmap", fixBmapChecksum(t, []byte(lie)))
	edited := path("edited.bmap", []byte(lie))
	v3 := path("v3.bmap", fixBmapChecksum(t, bytes.Replace(bmData, []byte(`version="2.0"`), []byte(`version="3.0"`), 1)))
	malformed := path("malformed.bmap", bmData[:len(bmData)/2])
	garbageBmap := path("garbage.bmap", bytes.Repeat([]byte("\x00\xffgarbage\n"), 500))
	emptyBmap := path("empty.bmap", nil)
	short := path("short.img", img.data[:len(img.data)-1])
	long := path("long.img", append(bytes.Clone(img.data), 0))
	garbage := path("garbage.img", bytes.Repeat([]byte("garbage!"), 1000))
	garbageSized := path("garbage-sized.img", bytes.Repeat([]byte("garbage!"), len(img.data)/8+1)[:len(img.data)])
	garbageGz := path("garbage.img.gz", bytes.Repeat([]byte("garbage!"), 1000))
	missing := filepath.Join(dir, "no-such-file.img")
	missingBmap := filepath.Join(dir, "no-such-file.bmap")
	subdir := filepath.Join(dir, "subdir.img")
	if err := os.Mkdir(subdir, 0o755); err != nil {
		t.Fatal(err)
	}

	size := strconv.Itoa(len(img.data))
	tests := []struct {
		name      string
		image     string
		bmap      string
		code      int
		want      []string // all of these in the message
		unchanged bool     // the destination must be left as it was
	}{
		// The data does not match its bmap: seen while copying.
		{"range-checksum-lies/raw", img.path, lying, 1, []string{"blocks 40-103", "checksum"}, false},
		{"range-checksum-lies/gzip", gz, lying, 1, []string{"blocks 40-103", "checksum"}, false},
		{"bmap-of-another-image/raw", img.path, otherBmap, 1, []string{"blocks 0-3", "checksum"}, false},
		{"bmap-of-another-image/gzip", gz, otherBmap, 1, []string{"blocks 0-3", "checksum"}, false},
		{"garbage-image-of-the-right-size", garbageSized, bm, 1, []string{"garbage-sized.img", "blocks 0-3", "checksum"}, false},
		{"bmap-of-a-bigger-image/raw", img.path, biggerBmap, 1, []string{"disk.img", size, strconv.Itoa(len(bigger.data))}, true},
		{"bmap-of-a-smaller-image/raw", img.path, smallerBmap, 1, []string{"disk.img", size, strconv.Itoa(len(smaller.data))}, true},
		// Same data, other size: a stream's size is known at its end.
		{"bmap-of-a-bigger-image/gzip", gz, biggerBmap, 1, []string{"disk.img.gz", size, strconv.Itoa(len(bigger.data))}, false},
		{"bmap-of-a-smaller-image/gzip", gz, smallerBmap, 1, []string{"disk.img.gz", strconv.Itoa(len(smaller.data))}, false},
		{"bmap-of-a-smaller-image/gzip-of-bigger", biggerGz, bm, 1, []string{"bigger.img.gz", size}, false},

		// The bmap is broken: seen before the destination is opened.
		{"bmap-edited-without-its-checksum", gz, edited, 1, []string{"edited.bmap", "checksum"}, true},
		{"bmap-malformed", gz, malformed, 1, []string{"malformed.bmap"}, true},
		{"bmap-version-3.0", gz, v3, 1, []string{"v3.bmap", "version", "3.0"}, true},
		{"bmap-garbage", gz, garbageBmap, 1, []string{"garbage.bmap"}, true},
		{"bmap-empty", gz, emptyBmap, 1, []string{"empty.bmap"}, true},
		{"bmap-missing", gz, missingBmap, 1, []string{"no-such-file.bmap"}, true},
		{"bmap-directory", gz, subdir, 1, []string{"subdir.img"}, true},
		{"bmap-is-the-image", img.path, img.path, 1, []string{"disk.img", "bmap"}, true},

		// The image is wrong: a raw file's size is seen before opening.
		{"raw-image-1-byte-short", short, bm, 1, []string{"short.img", strconv.Itoa(len(img.data) - 1), size}, true},
		{"raw-image-1-byte-long", long, bm, 1, []string{"long.img", strconv.Itoa(len(img.data) + 1), size}, true},
		{"raw-image-of-other-size", bigger.path, bm, 1, []string{"bigger.img", strconv.Itoa(len(bigger.data)), size}, true},
		{"garbage-image", garbage, bm, 1, []string{"garbage.img", "8000", size}, true},
		{"garbage-image-named-gz", garbageGz, bm, 1, []string{"garbage.img.gz", "gzip"}, true},
		{"image-missing", missing, bm, 1, []string{"no-such-file.img"}, true},
		{"image-directory", subdir, bm, 1, []string{"subdir.img", "directory"}, true},
	}
	old := []byte("the destination before the copy\n")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "dest.img")
			writeFile(t, dest, old)
			r := runBmap(t, nil, "copy", "--bmap", tt.bmap, tt.image, dest)
			wantFailure(t, r, tt.code, tt.want...)
			if tt.unchanged {
				checkFile(t, dest, old)
			}
		})
	}

	t.Run("no-verify-skips-range-checksums", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.img")
		mustRun(t, nil, "copy", "--no-verify", "--bmap", lying, gz, out)
		checkFile(t, out, img.data)
		checkSparse(t, out, m)
	})
	t.Run("no-verify-still-checks-the-bmap", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "dest.img")
		writeFile(t, dest, old)
		r := runBmap(t, nil, "copy", "--no-verify", "--bmap", edited, gz, dest)
		wantFailure(t, r, exitFailure, "edited.bmap", "checksum")
		checkFile(t, dest, old)
	})
}

// TestCopyInteropBmaptool copies with Debian's bmaptool using our bmap, and
// with ours using bmaptool's.
func TestCopyInteropBmaptool(t *testing.T) {
	needTools(t, "bmaptool", "gzip")
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	ours := filepath.Join(dir, "ours.bmap")
	m := createBmap(t, img.path, ours)
	theirs := filepath.Join(dir, "theirs.bmap")
	execute(t, "", "bmaptool", "create", "-o", theirs, img.path)
	gz := compress(t, formatNamed(t, "gzip"), img.path, dir)
	if mt := readBmap(t, theirs); fmt.Sprint(mt.Ranges) != fmt.Sprint(m.Ranges) {
		t.Errorf("bmaptool maps %v, we map %v", mt.Ranges, m.Ranges)
	}

	for _, image := range []string{img.path, gz} {
		name := filepath.Base(image)
		t.Run("bmaptool-with-our-bmap/"+name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.img")
			cmd := exec.Command("bmaptool", "copy", "--bmap", ours, image, out)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("bmaptool copy --bmap %s %s: %v\n%s", ours, image, err, b)
			}
			checkFile(t, out, img.data)
			checkSparse(t, out, m)
		})
		t.Run("ours-with-bmaptool-bmap/"+name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.img")
			mustRun(t, nil, "copy", "--bmap", theirs, image, out)
			checkFile(t, out, img.data)
			checkSparse(t, out, m)
		})
	}
}

// chdir changes the working directory to dir until the test ends (what
// testing.T.Chdir does from Go 1.24 on). The test must not be parallel.
func chdir(t *testing.T, dir string) {
	t.Helper()
	old, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Chdir(old); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCopyTrailingZeros: zero bytes after the last stream (a file padded
// to a block size) are accepted with a note where the format's tool takes
// them (gzip, bzip2, lzop) and after zstd, from a file and from a pipe; xz
// takes them as its stream padding, in multiples of 4; lz4 refuses them,
// as lz4 -d does. Anything else after the end stays an error.
func TestCopyTrailingZeros(t *testing.T) {
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", imageSpec{size: 64*testBlockSize + 100, ranges: []blockRange{{0, 3, 't'}, {10, 11, 'r'}, {60, 64, 't'}}, seed: 4})
	bm := filepath.Join(dir, "disk.img.bmap")
	m := createBmap(t, img.path, bm)
	tests := []struct {
		format string
		tail   string
		ok     bool
		note   bool
	}{
		{"gzip", strings.Repeat("\x00", 1000), true, true},
		{"pigz", strings.Repeat("\x00", 1), true, true},
		{"bzip2", strings.Repeat("\x00", 4096), true, true},
		{"zstd", strings.Repeat("\x00", 1000), true, true},
		{"lzop", strings.Repeat("\x00", 511), true, true},
		{"xz-T1", strings.Repeat("\x00", 1000), true, false},
		{"xz-T1", strings.Repeat("\x00", 1001), false, false},
		{"lz4", strings.Repeat("\x00", 1000), false, false},
		{"gzip", strings.Repeat("\x00", 1000) + "x", false, false},
		{"zstd", "x" + strings.Repeat("\x00", 1000), false, false},
	}
	var fs []format
	for _, tt := range tests {
		if !slices.ContainsFunc(fs, func(f format) bool { return f.name == tt.format }) {
			fs = append(fs, formatNamed(t, tt.format))
		}
	}
	compressed := compressAll(t, fs, img.path, dir)
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d-bytes", tt.format, len(tt.tail)), func(t *testing.T) {
			f := formatNamed(t, tt.format)
			src, ok := compressed[f.name]
			if !ok {
				needTools(t, f.tools...)
			}
			padded := filepath.Join(t.TempDir(), "padded"+f.ext)
			writeFile(t, padded, append(readFile(t, src), tt.tail...))
			for _, from := range []string{"file", "pipe"} {
				out := filepath.Join(t.TempDir(), "out.img")
				image, stdin := padded, io.Reader(nil)
				if from == "pipe" {
					image, stdin = "-", pipeOf(t, readFile(t, padded))
				}
				r := runBmap(t, stdin, "copy", "--bmap", bm, image, out)
				if !tt.ok {
					wantFailure(t, r, exitFailure)
					continue
				}
				if r.err != nil {
					t.Fatalf("%s: %v\n%s", from, r.err, r.stderr)
				}
				checkFile(t, out, img.data)
				checkSparse(t, out, m)
				if got := strings.Contains(r.stderr, "trailing zero bytes ignored"); got != tt.note {
					t.Errorf("%s: a note that trailing zero bytes were ignored: %v, want %v\n%s", from, got, tt.note, r.stderr)
				}
			}
		})
	}
}

// pipeOf returns the read end of a pipe that delivers data: a stream, not
// seekable.
func pipeOf(t *testing.T, data []byte) *os.File {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() { pw.Write(data); pw.Close() }()
	t.Cleanup(func() { pr.Close() })
	return pr
}

// TestCopyLZMAByContent: LZMA_Alone has no magic number, and is found by
// its header and a trial decode: renamed or piped, it copies. A stream it
// cannot decode (a dictionary over the limit) is refused before the
// destination is created.
func TestCopyLZMAByContent(t *testing.T) {
	needTools(t, "xz")
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	bm := filepath.Join(dir, "disk.img.bmap")
	m := createBmap(t, img.path, bm)
	renamed := filepath.Join(dir, "disk.img.bin")
	execute(t, renamed, "xz", "--format=lzma", "-c", img.path)
	for _, from := range []string{"file", "pipe"} {
		out := filepath.Join(t.TempDir(), "out.img")
		image, stdin := renamed, io.Reader(nil)
		if from == "pipe" {
			image, stdin = "-", pipeOf(t, readFile(t, renamed))
		}
		r := mustRun(t, stdin, "-d", "copy", "--bmap", bm, image, out)
		if !strings.Contains(r.stderr, "image format: lzma") {
			t.Errorf("%s: the format is not said to be lzma:\n%s", from, r.stderr)
		}
		checkFile(t, out, img.data)
		checkSparse(t, out, m)
	}

	huge := readFile(t, renamed)
	binary.LittleEndian.PutUint32(huge[1:], 1<<31) // a 2 GiB dictionary
	out := filepath.Join(t.TempDir(), "out.img")
	r := runBmap(t, pipeOf(t, huge), "copy", "--bmap", bm, "-", out)
	wantFailure(t, r, exitFailure, "lzma", "dictionary")
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("%s was created (stat: %v)", out, err)
	}
}

// TestCopyArchiveMembers: a tar or zip that holds a README before the
// image copies the image, the file of the bmap's image size, and says so;
// with the bmap of another image, the error names the archive's files,
// and the destination is not created.
func TestCopyArchiveMembers(t *testing.T) {
	needTools(t, "tar", "gzip", "zip")
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	bm := filepath.Join(dir, "disk.img.bmap")
	m := createBmap(t, img.path, bm)
	other := makeImage(t, dir, "other.img", imageSpec{size: 10 * testBlockSize, ranges: []blockRange{{0, 9, 't'}}, seed: 5})
	otherBmap := filepath.Join(dir, "other.img.bmap")
	createBmap(t, other.path, otherBmap)
	writeFile(t, filepath.Join(dir, "README"), []byte("flash disk.img\n"))
	execute(t, "", "tar", "-C", dir, "-czf", filepath.Join(dir, "a.tar.gz"), "README", "disk.img")
	execute(t, "", "sh", "-c", "cd "+dir+" && zip -q a.zip README disk.img")
	for _, archive := range []string{"a.tar.gz", "a.zip"} {
		for _, from := range []string{"file", "pipe"} {
			path := filepath.Join(dir, archive)
			image, stdin := path, io.Reader(nil)
			if from == "pipe" {
				image, stdin = "-", pipeOf(t, readFile(t, path))
			}
			out := filepath.Join(t.TempDir(), "out.img")
			r := mustRun(t, stdin, "copy", "--bmap", bm, image, out)
			if want := fmt.Sprintf(`"disk.img" (%d bytes), the file of the image's size`, len(img.data)); !strings.Contains(r.stderr, want) {
				t.Errorf("%s from a %s: stderr does not say %s:\n%s", archive, from, want, r.stderr)
			}
			checkFile(t, out, img.data)
			checkSparse(t, out, m)

			if from == "pipe" {
				stdin = pipeOf(t, readFile(t, path))
			}
			r = runBmap(t, stdin, "copy", "--bmap", otherBmap, image, out+".other")
			wantFailure(t, r, exitFailure, fmt.Sprintf("image's size, %d bytes", len(other.data)), `"README" (15 bytes)`, fmt.Sprintf(`"disk.img" (%d bytes)`, len(img.data)))
			if _, err := os.Stat(out + ".other"); !os.IsNotExist(err) {
				t.Errorf("%s from a %s: the destination was created (stat: %v)", archive, from, err)
			}
		}
	}
}
