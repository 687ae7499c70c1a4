package main

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"

	"github.com/bmap-tools/bmap/bmap"
)

// TestCopySparseImage copies Android sparse images without a bmap: the
// sparse image is its own map. From a file (its chunk headers read before
// the destination is opened) and from a stream (chunk by chunk), plain and
// compressed, into a new file (the holes come back) and onto a device
// (written where the chunks say, old data left in DONT_CARE chunks).
func TestCopySparseImage(t *testing.T) {
	needTools(t, "img2simg")
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", imageSpec{size: 256 * testBlockSize, ranges: []blockRange{{0, 3, 't'}, {40, 41, 'r'}, {100, 107, 'z'}}, seed: 21})
	m := createBmap(t, img.path, img.path+".bmap")

	// img2simg writes every zero block, holes included, as a zero FILL;
	// bmap convert writes holes as DONT_CARE.
	viaTool := filepath.Join(dir, "tool.simg")
	execute(t, "", "img2simg", img.path, viaTool)
	ours := filepath.Join(dir, "ours.simg")
	mustRun(t, nil, "convert", "--to", "simg", "--bmap", img.path+".bmap", img.path, ours)
	gz := func(path string) string {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write(readFile(t, path))
		w.Close()
		writeFile(t, path+".gz", b.Bytes())
		return path + ".gz"
	}
	inputs := map[string]string{"img2simg": viaTool, "img2simg.gz": gz(viaTool), "convert": ours, "convert.gz": gz(ours)}

	for name, input := range inputs {
		for _, src := range []string{"file", "pipe"} {
			t.Run(name+"/"+src+"/new-file", func(t *testing.T) {
				image, stdin := copySource(t, src, input)
				out := filepath.Join(t.TempDir(), "out.img")
				r := mustRun(t, stdin, "copy", image, out)
				if !bytes.Contains([]byte(r.stderr), []byte("Android sparse image")) {
					t.Errorf("stderr does not say the image is an Android sparse image:\n%s", r.stderr)
				}
				checkFile(t, out, img.data)
				// Zero fills are not written into a new file, which reads
				// as zeros anyway: the holes come back, whichever tool made
				// the sparse image (and mapped blocks of zeros are holes).
				checkSparse(t, out, nonZero(m, img.data))
			})
		}
		t.Run(name+"/device", func(t *testing.T) {
			needRoot(t)
			old := oldContent(len(img.data))
			dev := deviceWith(t, old)
			mustRun(t, nil, "copy", input, dev)
			got := readDevice(t, dev, len(img.data))
			want := append([]byte(nil), img.data...)
			if name == "convert" || name == "convert.gz" {
				// DONT_CARE chunks: the device keeps its old data there.
				want = append([]byte(nil), old...)
				for _, r := range m.Ranges {
					copy(want[m.Offset(r):m.Offset(r)+m.Length(r)], img.data[m.Offset(r):])
				}
			}
			sameBytes(t, dev, got, want)
		})
	}

	// With a bmap, the bmap says what is written and its checksums are
	// checked against the sparse image's data.
	t.Run("with-bmap", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.img")
		mustRun(t, nil, "copy", "--bmap", img.path+".bmap", inputs["img2simg.gz"], out)
		checkFile(t, out, img.data)
		checkSparse(t, out, m)
		other := makeImage(t, t.TempDir(), "other.img", imageSpec{size: 256 * testBlockSize, ranges: []blockRange{{0, 3, 't'}}, seed: 22})
		createBmap(t, other.path, other.path+".bmap")
		r := runBmap(t, nil, "copy", "--bmap", other.path+".bmap", viaTool, out)
		wantFailure(t, r, exitFailure, "checksum mismatch")
		big := makeImage(t, t.TempDir(), "big.img", imageSpec{size: 512 * testBlockSize, ranges: []blockRange{{0, 3, 't'}}, seed: 23})
		createBmap(t, big.path, big.path+".bmap")
		r = runBmap(t, nil, "copy", "--bmap", big.path+".bmap", viaTool, out)
		wantFailure(t, r, exitFailure, "Android sparse image", "wrong image or wrong bmap")
	})

	// A damaged sparse file is refused before the destination is opened:
	// an existing file keeps its content.
	t.Run("damaged", func(t *testing.T) {
		data := readFile(t, ours)
		bad := append([]byte(nil), data...)
		bad[28+4] = 0xff // the first chunk's block count: past the image
		badPath := filepath.Join(t.TempDir(), "bad.simg")
		writeFile(t, badPath, bad)
		out := filepath.Join(t.TempDir(), "out.img")
		writeFile(t, out, []byte("precious\n"))
		r := runBmap(t, nil, "copy", badPath, out)
		wantFailure(t, r, exitFailure, "chunk 0", "at byte 28")
		if bytes.Contains([]byte(r.stderr), []byte("copying image")) {
			t.Errorf("the copy started before the damaged sparse image was refused:\n%s", r.stderr)
		}
		if got := string(readFile(t, out)); got != "precious\n" {
			t.Errorf("%s changed", out)
		}
		r = runBmap(t, nil, "copy", "--verify-readback", ours, out)
		wantFailure(t, r, exitFailure, "--verify-readback", "--bmap")
		if _, err := os.Stat(out); err != nil {
			t.Fatal(err)
		}
	})
}

// nonZero returns the map of m's ranges that hold something else than
// zeros.
func nonZero(m *bmap.Map, data []byte) *bmap.Map {
	var rs []bmap.Range
	for _, r := range m.Ranges {
		if bytes.Count(data[m.Offset(r):m.Offset(r)+m.Length(r)], []byte{0}) < int(m.Length(r)) {
			rs = append(rs, r)
		}
	}
	return m.Subset(rs)
}
