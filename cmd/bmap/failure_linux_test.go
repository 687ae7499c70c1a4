package main

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// TestCopyFailureOutcome: a copy that fails after the image was decoded
// (garbage after a gzip stream) fails the same way every time. Onto a
// device, every mapped range read before the failure is written and
// verified, and the error says so; cut in a range instead, the ranges
// before it are written and the error names the blocks that were not. A
// regular file is left as it was, and the error says that instead.
func TestCopyFailureOutcome(t *testing.T) {
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	bm := filepath.Join(dir, "disk.img.bmap")
	m := createBmap(t, img.path, bm)
	gz := compress(t, formatNamed(t, "gzip"), img.path, dir)
	long := filepath.Join(dir, "long.img.gz")
	writeFile(t, long, append(readFile(t, gz), "not gzip data\n"...))
	source := func(from string) (string, io.Reader) {
		if from == "pipe" {
			return "-", pipeOf(t, readFile(t, long))
		}
		return long, nil
	}

	t.Run("file", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.img")
		old := []byte("precious\n")
		writeFile(t, out, old)
		for run := range 3 {
			for _, from := range []string{"file", "pipe"} {
				image, stdin := source(from)
				r := runBmap(t, stdin, "copy", "--bmap", bm, image, out)
				wantFailure(t, r, exitFailure, "trailing data", out+" was left as it was")
				if msg := errorLine(t, r); strings.Contains(msg, "holds") || strings.Contains(msg, "written and verified") {
					t.Errorf("run %d, %s: the error says what the new file held, which is gone: %s", run, from, msg)
				}
				checkFile(t, out, old)
			}
		}
	})

	t.Run("loop-device", func(t *testing.T) {
		needRoot(t)
		old := oldContent(int(roundUp(int64(len(img.data)), testBlockSize)) + testBlockSize)
		dev := deviceWith(t, old)
		want := bytes.Clone(old)
		for _, r := range m.Ranges {
			off, end := m.Offset(r), m.Offset(r)+m.Length(r)
			copy(want[off:end], img.data[off:end])
		}
		msg := fmt.Sprintf("all %d mapped ranges were written and verified", len(m.Ranges))
		last := m.Ranges[len(m.Ranges)-1]
		for run := range 6 {
			for _, from := range []string{"file", "pipe"} {
				writeDevice(t, dev, old)
				image, stdin := source(from)
				r := runBmap(t, stdin, "copy", "--bmap", bm, image, dev)
				wantFailure(t, r, exitFailure, "trailing data", msg)
				got := readDevice(t, dev, len(old))
				if off, end := m.Offset(last), m.Offset(last)+m.Length(last); !bytes.Equal(got[off:end], img.data[off:end]) {
					t.Fatalf("run %d, %s: the last range, blocks %d-%d, was not written", run, from, last.First, last.Last)
				}
				sameBytes(t, dev, got, want)
			}
		}

		// A raw stream cut in the middle of blocks 250-281: the ranges
		// before are there, the rest not (the range is one buffer, which
		// was not filled).
		writeDevice(t, dev, old)
		cut := 260*testBlockSize + 100
		r := runBmap(t, bytes.NewReader(img.data[:cut]), "copy", "--bmap", bm, "-", dev)
		wantFailure(t, r, exitFailure, fmt.Sprintf("ended at byte %d", cut),
			"the destination holds the image's mapped ranges up to block 203, written and verified (5 of 8 ranges, up to byte 835583); blocks 250-384 were not written")
		want = bytes.Clone(old)
		for _, r := range m.Ranges[:5] {
			off, end := m.Offset(r), m.Offset(r)+m.Length(r)
			copy(want[off:end], img.data[off:end])
		}
		sameBytes(t, dev, readDevice(t, dev, len(old)), want)
	})
}
