package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestConvert turns images into Android sparse images and back, checked
// against libsparse's own tools (simg2img, img2simg) and bmaptool.
func TestConvert(t *testing.T) {
	needTools(t, "simg2img", "img2simg")
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	// simg holds whole blocks: what simg2img gives back is the image
	// padded with zeros to its last block.
	padded := append(append([]byte(nil), img.data...), make([]byte, roundUp(int64(len(img.data)), testBlockSize)-int64(len(img.data)))...)

	t.Run("to-simg", func(t *testing.T) {
		d := t.TempDir()
		sparseFile := filepath.Join(d, "disk.simg")
		// A raw sparse file without a bmap is mapped as create maps it.
		r := mustRun(t, nil, "convert", "--to", "simg", img.path, sparseFile)
		if !bytes.Contains([]byte(r.stderr), []byte("no bmap given: mapped the holes")) {
			t.Errorf("stderr does not say the image was mapped:\n%s", r.stderr)
		}
		execute(t, "", "simg2img", sparseFile, filepath.Join(d, "back.img"))
		sameBytes(t, "simg2img of our simg", readFile(t, filepath.Join(d, "back.img")), padded)

		// A compressed image with its bmap: the same simg.
		bm := filepath.Join(d, "disk.img.bmap")
		createBmap(t, img.path, bm)
		gz := compress(t, formatNamed(t, "zstd"), img.path, d)
		mustRun(t, nil, "convert", "--to", "simg", "--bmap", bm, gz, filepath.Join(d, "fromzst.simg"))
		sameBytes(t, "simg from zst and its bmap", readFile(t, filepath.Join(d, "fromzst.simg")), readFile(t, sparseFile))
	})

	t.Run("to-raw", func(t *testing.T) {
		d := t.TempDir()
		sparseFile := filepath.Join(d, "disk.simg")
		execute(t, "", "img2simg", img.path, sparseFile)
		out := filepath.Join(d, "out.img")
		mustRun(t, nil, "convert", "--to", "raw", sparseFile, out)
		checkFile(t, out, padded)
		m := readBmap(t, out+".bmap")
		// img2simg writes every zero block as a zero FILL: all mapped.
		if m.MappedBlocksCount != m.BlocksCount {
			t.Errorf("without --zero-fill-holes the bmap maps %d of %d blocks, want all", m.MappedBlocksCount, m.BlocksCount)
		}
		// The file and its bmap flash with bmap and with bmaptool.
		mustRun(t, nil, "copy", out, filepath.Join(d, "copy.img"))
		checkFile(t, filepath.Join(d, "copy.img"), padded)
		if haveTool("bmaptool") {
			execute(t, "", "bmaptool", "copy", out, filepath.Join(d, "bmaptool.img"))
			checkFile(t, filepath.Join(d, "bmaptool.img"), padded)
		}

		// --zero-fill-holes gives the holes back: a sparse file whose
		// bmap is what create makes of it.
		sparse := filepath.Join(d, "sparse.img")
		mustRun(t, nil, "convert", "--to", "raw", "--zero-fill-holes", sparseFile, sparse)
		checkFile(t, sparse, padded)
		mustRun(t, nil, "create", sparse, "-o", filepath.Join(d, "created.bmap"))
		sameBytes(t, "convert's bmap against create's", readFile(t, sparse+".bmap"), readFile(t, filepath.Join(d, "created.bmap")))
		if m := readBmap(t, sparse+".bmap"); m.MappedBlocksCount >= m.BlocksCount {
			t.Errorf("--zero-fill-holes: %d of %d blocks mapped, want the holes left out", m.MappedBlocksCount, m.BlocksCount)
		}
	})

	t.Run("refused", func(t *testing.T) {
		d := t.TempDir()
		out := filepath.Join(d, "out.img")
		writeFile(t, out, []byte("precious\n"))
		// Not a sparse image.
		r := runBmap(t, nil, "convert", "--to", "raw", img.path, out)
		wantFailure(t, r, exitFailure, img.path, "not an Android sparse image")
		// A sparse image cut short: the old output stays.
		sparseFile := filepath.Join(d, "disk.simg")
		execute(t, "", "img2simg", img.path, sparseFile)
		data := readFile(t, sparseFile)
		writeFile(t, sparseFile, data[:len(data)-100])
		r = runBmap(t, nil, "convert", "--to", "raw", sparseFile, out)
		wantFailure(t, r, exitFailure, "chunk", "unexpected EOF")
		if got := string(readFile(t, out)); got != "precious\n" {
			t.Errorf("a failed convert changed %s", out)
		}
		if _, err := os.Stat(out + ".bmap"); err == nil {
			t.Errorf("a failed convert wrote %s.bmap", out)
		}
		r = runBmap(t, nil, "convert", "--to", "qcow2", img.path, out)
		wantFailure(t, r, exitUsage, "--to", "simg or raw")
	})
}

func haveTool(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}
