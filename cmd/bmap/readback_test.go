package main

// Tests of the safety checks after (and without) writing: "bmap verify",
// which compares a file or device with a bmap, and "copy --verify-readback
// [--retries N]", which reads every mapped range back once it is written.
//
// Read-back must catch data that changes between the write and the read:
// failing media. The tests make that happen deterministically, without a
// faulty device: run's stderr is a writer that, when copy logs "reading back
// and verifying", damages the destination before it lets copy go on. The
// log line is written by the copying goroutine itself just before it opens
// the destination for reading, so the damage always lands between the
// write and the read-back.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/bmap-tools/bmap/bmap"
)

// rbSpec is a small image: text, random data, a partial last block, holes.
var rbSpec = imageSpec{
	size:   96*testBlockSize + 777,
	ranges: []blockRange{{0, 2, 't'}, {8, 8, 'r'}, {30, 59, 't'}, {70, 71, 'z'}, {95, 96, 'r'}},
	seed:   11,
}

// rbFixture is an image, its bmap and its gzip form.
type rbFixture struct {
	dir  string
	img  *testImage
	bmap string
	m    *bmap.Map
	gz   string
}

func rbSetup(t *testing.T) *rbFixture {
	t.Helper()
	dir := t.TempDir()
	f := &rbFixture{dir: dir, img: makeImage(t, dir, "disk.img", rbSpec), bmap: filepath.Join(dir, "disk.img.bmap")}
	f.m = createBmap(t, f.img.path, f.bmap)
	f.gz = compress(t, formatNamed(t, "gzip"), f.img.path, dir)
	return f
}

// rbRange returns the range of m that starts at block first.
func rbRange(t testing.TB, m *bmap.Map, first int64) bmap.Range {
	t.Helper()
	for _, r := range m.Ranges {
		if r.First == first {
			return r
		}
	}
	t.Fatalf("the bmap has no range starting at block %d: %v", first, m.Ranges)
	return bmap.Range{}
}

// rbDescribe is how errors name a range: "blocks A-B (bytes X-Y)".
func rbDescribe(m *bmap.Map, r bmap.Range) string {
	return fmt.Sprintf("blocks %d-%d (bytes %d-%d)", r.First, r.Last, m.Offset(r), m.Offset(r)+m.Length(r)-1)
}

// rbDamage overwrites len(data) bytes of the file or device at path at off.
func rbDamage(t testing.TB, path string, off int64, data []byte) {
	t.Helper()
	f, err := os.OpenFile(beingWritten(t, path), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// beingWritten returns the file a copy to the regular file dest is writing:
// the new file beside dest, until the copy renames it over dest.
func beingWritten(t testing.TB, dest string) string {
	t.Helper()
	beside, err := filepath.Glob(filepath.Join(filepath.Dir(dest), "."+filepath.Base(dest)+".bmap-*"))
	if err != nil {
		t.Fatal(err)
	}
	switch len(beside) {
	case 0:
		return dest
	case 1:
		return beside[0]
	}
	t.Fatalf("several files are being written beside %s: %v", dest, beside)
	return ""
}

// rbHookWriter collects stderr and calls hook(n) when the n-th read-back
// (from 0) begins, before copy reads anything back.
type rbHookWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	n    int
	hook func(n int)
}

func (w *rbHookWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if bytes.Contains(p, []byte("reading back and verifying")) {
		if w.hook != nil {
			w.hook(w.n)
		}
		w.n++
	}
	return w.buf.Write(p)
}

// rbRunHooked runs the CLI like runBmap, with hook called at each
// read-back. It returns the result and how many read-backs there were.
func rbRunHooked(t *testing.T, hook func(n int), args ...string) (result, int) {
	t.Helper()
	w := &rbHookWriter{hook: hook}
	var stdout bytes.Buffer
	err := run(context.Background(), append([]string{"bmap"}, args...), strings.NewReader(""), &stdout, w)
	return result{stdout: stdout.String(), stderr: w.buf.String(), err: err, code: exitCode(err)}, w.n
}

// TestVerifyCommand checks files against a bmap with "bmap verify".
func TestVerifyCommand(t *testing.T) {
	f := rbSetup(t)
	m := f.m
	mid, last := rbRange(t, m, 30), m.Ranges[len(m.Ranges)-1]

	// A sparse file rebuilt by copy, then damaged in different ways.
	rebuilt := func(t *testing.T) string {
		t.Helper()
		out := filepath.Join(t.TempDir(), "out.img")
		mustRun(t, nil, "copy", "--bmap", f.bmap, f.gz, out)
		return out
	}

	t.Run("good", func(t *testing.T) {
		out := rebuilt(t)
		r := mustRun(t, nil, "verify", "--bmap", f.bmap, out)
		if want := fmt.Sprintf("all %d ranges of '%s' match the bmap", len(m.Ranges), out); !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
		}
		// The image itself, its bmap found beside it as copy finds it.
		r = mustRun(t, nil, "verify", f.img.path)
		if !strings.Contains(r.stderr, "discovered bmap file '"+f.bmap+"'") {
			t.Errorf("stderr does not name the discovered bmap:\n%s", r.stderr)
		}
	})

	t.Run("one-byte-in-a-range", func(t *testing.T) {
		out := rebuilt(t)
		off := m.Offset(mid) + 5000
		rbDamage(t, out, off, []byte{f.img.data[off] ^ 0x01})
		r := runBmap(t, nil, "verify", "--bmap", f.bmap, out)
		wantFailure(t, r, exitFailure, out, "does not match", fmt.Sprintf("1 of %d ranges differ", len(m.Ranges)), rbDescribe(m, mid))
	})

	// The last block is partial: its checksum covers the image's bytes
	// only, and damage to its last byte is caught.
	t.Run("last-byte-of-the-image", func(t *testing.T) {
		out := rebuilt(t)
		off := m.ImageSize - 1
		rbDamage(t, out, off, []byte{f.img.data[off] ^ 0xff})
		r := runBmap(t, nil, "verify", "--bmap", f.bmap, out)
		wantFailure(t, r, exitFailure, rbDescribe(m, last))
		if m.Offset(last)+m.Length(last) != m.ImageSize {
			t.Errorf("the last range ends at byte %d, not at the image's end %d", m.Offset(last)+m.Length(last), m.ImageSize)
		}
	})

	// Mapped zero blocks are checked like any other.
	t.Run("mapped-zeros", func(t *testing.T) {
		out := rebuilt(t)
		zeros := rbRange(t, m, 70)
		rbDamage(t, out, m.Offset(zeros)+testBlockSize, []byte("x"))
		wantFailure(t, runBmap(t, nil, "verify", "--bmap", f.bmap, out), exitFailure, rbDescribe(m, zeros))
	})

	t.Run("two-ranges", func(t *testing.T) {
		out := rebuilt(t)
		first := m.Ranges[0]
		rbDamage(t, out, m.Offset(first), []byte("X"))
		rbDamage(t, out, m.Offset(mid)+m.Length(mid)-1, []byte("X"))
		r := runBmap(t, nil, "verify", "--bmap", f.bmap, out)
		wantFailure(t, r, exitFailure, fmt.Sprintf("2 of %d ranges differ", len(m.Ranges)), rbDescribe(m, first), rbDescribe(m, mid))
	})

	// Holes are not part of the image's content: what a device holds
	// there does not matter (copy does not write them).
	t.Run("hole-ignored", func(t *testing.T) {
		out := rebuilt(t)
		rbDamage(t, out, 4*testBlockSize, []byte("data in a hole"))
		mustRun(t, nil, "verify", "--bmap", f.bmap, out)
	})

	// A target larger than the image (a device) is fine: only the image's
	// part is compared.
	t.Run("longer-target", func(t *testing.T) {
		out := rebuilt(t)
		if err := os.Truncate(out, m.ImageSize+1<<20); err != nil {
			t.Fatal(err)
		}
		mustRun(t, nil, "verify", "--bmap", f.bmap, out)
	})

	t.Run("shorter-target", func(t *testing.T) {
		out := rebuilt(t)
		short := m.ImageSize - 1000
		if err := os.Truncate(out, short); err != nil {
			t.Fatal(err)
		}
		r := runBmap(t, nil, "verify", "--bmap", f.bmap, out)
		wantFailure(t, r, exitFailure, out, strconv.FormatInt(short, 10), strconv.FormatInt(m.ImageSize, 10), "smaller")
	})

	t.Run("empty-target", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "empty.img")
		writeFile(t, out, nil)
		wantFailure(t, runBmap(t, nil, "verify", "--bmap", f.bmap, out), exitFailure, out, "0 bytes", strconv.FormatInt(m.ImageSize, 10))
	})

	t.Run("missing-target", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "missing.img")
		wantFailure(t, runBmap(t, nil, "verify", "--bmap", f.bmap, out), exitFailure, out)
	})

	t.Run("no-bmap-found", func(t *testing.T) {
		out := rebuilt(t)
		wantFailure(t, runBmap(t, nil, "verify", out), exitUsage, out, "--bmap")
	})

	t.Run("bmap-without-checksums", func(t *testing.T) {
		raw := filepath.Join(t.TempDir(), "sample.img")
		writeFile(t, raw, sampleImage(t))
		bm := filepath.Join(testdataDir, "sample.img.bmap.v1.2")
		wantFailure(t, runBmap(t, nil, "verify", "--bmap", bm, raw), exitFailure, "1.2", "no checksums")
		// The same image against a bmap that has them.
		mustRun(t, nil, "verify", "--bmap", filepath.Join(testdataDir, "sample.img.bmap.v2.0"), raw)
	})

	// Several targets are checked against the one bmap; the one that
	// differs is named, the others are said to match.
	t.Run("several-targets", func(t *testing.T) {
		good1, bad, good2 := rebuilt(t), rebuilt(t), rebuilt(t)
		mustRun(t, nil, "verify", "--bmap", f.bmap, good1, bad, good2)
		off := m.Offset(mid) + 7
		rbDamage(t, bad, off, []byte{f.img.data[off] ^ 0x10})
		r := runBmap(t, nil, "verify", "--bmap", f.bmap, good1, bad, good2)
		wantFailure(t, r, exitFailure, "1 of 3 targets failed", bad, rbDescribe(m, mid))
		for _, good := range []string{good1, good2} {
			if want := fmt.Sprintf("all %d ranges of '%s' match the bmap", len(m.Ranges), good); !strings.Contains(r.stderr, want) {
				t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
			}
			if strings.Contains(r.err.Error(), good) {
				t.Errorf("the error names %s, which matches: %v", good, r.err)
			}
		}
	})

	t.Run("usage", func(t *testing.T) {
		wantFailure(t, runBmap(t, nil, "verify", "--bmap", f.bmap), exitUsage, "TARGET")
	})
}

// TestCopyVerifyReadback copies onto files with --verify-readback, and
// damages the destination between the write and the read-back.
func TestCopyVerifyReadback(t *testing.T) {
	f := rbSetup(t)
	m := f.m
	mid := rbRange(t, m, 30)
	readBackLine := fmt.Sprintf("read back %d ranges of '%%s': all match the bmap", len(m.Ranges))

	t.Run("good", func(t *testing.T) {
		for _, src := range []string{f.gz, f.img.path} {
			out := filepath.Join(t.TempDir(), "out.img")
			r := mustRun(t, nil, "copy", "--verify-readback", "--bmap", f.bmap, src, out)
			checkFile(t, out, f.img.data)
			checkSparse(t, out, m)
			for _, want := range []string{"reading back and verifying", fmt.Sprintf(readBackLine, out)} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
				}
			}
		}
	})

	// --retries with nothing to retry: one read-back.
	t.Run("good-with-retries", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.img")
		r, n := rbRunHooked(t, nil, "copy", "--verify-readback", "--retries", "3", "--bmap", f.bmap, f.gz, out)
		if r.err != nil {
			t.Fatalf("copy failed: %v\n%s", r.err, r.stderr)
		}
		if n != 1 || strings.Contains(r.stderr, "WARNING") {
			t.Errorf("%d read-backs, want 1:\n%s", n, r.stderr)
		}
		checkFile(t, out, f.img.data)
	})

	damage := func(out string) func(int) {
		return func(int) { rbDamage(t, out, m.Offset(mid)+100, []byte("bit rot")) }
	}

	t.Run("damaged-before-read-back", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.img")
		r, n := rbRunHooked(t, damage(out), "copy", "--verify-readback", "--bmap", f.bmap, f.gz, out)
		wantFailure(t, r, exitFailure, out, "read-back verification", fmt.Sprintf("1 of %d ranges", len(m.Ranges)), rbDescribe(m, mid))
		if n != 1 {
			t.Errorf("%d read-backs, want 1", n)
		}
		if strings.Contains(r.stderr, "copying time") {
			t.Errorf("a failed copy reports its speed:\n%s", r.stderr)
		}
	})

	// Damaged once: the range is written again and reads back right.
	t.Run("retry-repairs", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.img")
		once := damage(out)
		r, n := rbRunHooked(t, func(i int) {
			if i == 0 {
				once(i)
			}
		}, "copy", "--verify-readback", "--retries", "2", "--bmap", f.bmap, f.gz, out)
		if r.err != nil {
			t.Fatalf("copy failed: %v\n%s", r.err, r.stderr)
		}
		if n != 2 {
			t.Errorf("%d read-backs, want 2", n)
		}
		for _, want := range []string{"WARNING: 1 ranges of '" + out + "' read back wrong (" + rbDescribe(m, mid) + "); writing them again (retry 1 of 2)",
			fmt.Sprintf(readBackLine, out)} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
			}
		}
		checkFile(t, out, f.img.data)
		checkSparse(t, out, m)
		mustRun(t, nil, "verify", "--bmap", f.bmap, out)
	})

	// Damaged again after every write: the retries run out.
	t.Run("retries-exhausted", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.img")
		r, n := rbRunHooked(t, damage(out), "copy", "--verify-readback", "--retries", "2", "--bmap", f.bmap, f.img.path, out)
		wantFailure(t, r, exitFailure, out, "read-back verification", rbDescribe(m, mid))
		if n != 3 {
			t.Errorf("%d read-backs, want 3 (the first and 2 retries)", n)
		}
		if !strings.Contains(r.stderr, "(retry 2 of 2)") {
			t.Errorf("stderr does not show the second retry:\n%s", r.stderr)
		}
	})

	// An image from stdin cannot be read again to rewrite a range.
	t.Run("stdin-cannot-retry", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.img")
		w := &rbHookWriter{hook: damage(out)}
		in, err := os.Open(f.gz)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		err = run(context.Background(), []string{"bmap", "copy", "--verify-readback", "--retries", "1", "--bmap", f.bmap, "-", out}, in, &bytes.Buffer{}, w)
		wantFailure(t, result{stderr: w.buf.String(), err: err, code: exitCode(err)}, exitFailure, "stdin", rbDescribe(m, mid))
	})

	// Options that cannot work are refused before the destination is
	// touched.
	t.Run("refused-up-front", func(t *testing.T) {
		v12 := filepath.Join(testdataDir, "sample.img.bmap.v1.2")
		sample := filepath.Join(t.TempDir(), "sample.img")
		writeFile(t, sample, sampleImage(t))
		tests := []struct {
			name string
			args []string
			code int
			want []string
		}{
			{"nobmap", []string{"--verify-readback", "--nobmap", f.img.path}, exitUsage, []string{"--verify-readback", "--nobmap"}},
			{"bmap-without-checksums", []string{"--verify-readback", "--bmap", v12, sample}, exitFailure, []string{"--verify-readback", "checksums", "1.2"}},
			{"retries-without-readback", []string{"--retries", "2", "--bmap", f.bmap, f.gz}, exitUsage, []string{"--retries", "--verify-readback"}},
			{"negative-retries", []string{"--verify-readback", "--retries", "-1", "--bmap", f.bmap, f.gz}, exitUsage, []string{"--retries", "-1"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "out.img")
				old := []byte("old content\n")
				writeFile(t, out, old)
				r := runBmap(t, nil, append(append([]string{"copy"}, tt.args...), out)...)
				wantFailure(t, r, tt.code, tt.want...)
				checkFile(t, out, old)
			})
		}
	})
}
