package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the program in-process and returns its stdout, stderr and
// exit code.
func runCLI(t *testing.T, stdin []byte, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), append([]string{"bmap"}, args...), bytes.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), exitCode(err)
}

// sparseImage writes a sparse file of size bytes with random data in the
// given 4096-byte blocks.
func sparseImage(t *testing.T, path string, size int64, blocks ...int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for _, b := range blocks {
		for i := range buf {
			buf[i] = byte(int64(i)*7 + b*13 + 1)
		}
		if _, err := f.WriteAt(buf[:min(4096, size-b*4096)], b*4096); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCreateCommandLines(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "image.raw")
	sparseImage(t, img, 100*4096+5, 0, 3, 4, 50, 100)

	stdout, stderr, code := runCLI(t, nil, "create", img)
	if code != 0 || !strings.HasPrefix(stdout, `<?xml version="1.0" ?>`) {
		t.Fatalf("create IMG: exit %d, stderr %q", code, stderr)
	}
	for _, args := range [][]string{
		{"create", img, "-o", filepath.Join(dir, "a.bmap")},             // Yocto: option after the image
		{"create", "-o", filepath.Join(dir, "b.bmap"), img},             // bmaptool's documented order
		{"create", "--output=" + filepath.Join(dir, "c.bmap"), img},     // = form
		{"-q", "create", img, "--output", filepath.Join(dir, "d.bmap")}, // global flag first
		{"create", img, "-q", "-o", filepath.Join(dir, "e.bmap")},       // global flag after the command
	} {
		_, stderr, code := runCLI(t, nil, args...)
		out := args[len(args)-1]
		if strings.HasSuffix(out, "image.raw") {
			out = args[len(args)-2]
		}
		out = strings.TrimPrefix(out, "--output=")
		got, err := os.ReadFile(out)
		if code != 0 || err != nil {
			t.Fatalf("%q: exit %d, %v, stderr %q", args, code, err, stderr)
		}
		if string(got) != stdout {
			t.Errorf("%q wrote a different bmap than create to stdout", args)
		}
	}

	// --no-checksum leaves out the ranges' checksums only.
	noSum, _, code := runCLI(t, nil, "create", "--no-checksum", img)
	if code != 0 || strings.Contains(noSum, "chksum=") || !strings.Contains(noSum, "<BmapFileChecksum>") {
		t.Errorf("create --no-checksum: exit %d, output:\n%s", code, noSum)
	}
}

func TestCreateMatchesBmaptoolCLI(t *testing.T) {
	bmaptool, err := exec.LookPath("bmaptool")
	if err != nil {
		t.Skip("bmaptool is not installed (Debian: apt-get install bmap-tools)")
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "image.raw")
	sparseImage(t, img, 300*4096+999, 1, 2, 3, 10, 200, 300)
	for _, noSum := range []bool{false, true} {
		args := []string{"create", img}
		if noSum {
			args = []string{"create", "--no-checksum", img}
		}
		want, err := exec.Command(bmaptool, args...).Output()
		if err != nil {
			t.Fatal(err)
		}
		got, _, code := runCLI(t, nil, args...)
		if code != 0 {
			t.Fatalf("%q: exit %d", args, code)
		}
		// The installed bmaptool (3.6) words three comments differently
		// from 3.9, which we write; the ranges and counts must be the same.
		if g, w := ranges(got), ranges(string(want)); g != w {
			t.Errorf("%q: our ranges and bmaptool's differ:\n%s\n---\n%s", args, g, w)
		}
		// And bmaptool copies with our bmap.
		ours := filepath.Join(dir, "ours.bmap")
		if err := os.WriteFile(ours, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "out")
		if b, err := exec.Command(bmaptool, "copy", "--bmap", ours, img, out).CombinedOutput(); err != nil {
			t.Fatalf("bmaptool copy with our bmap: %v\n%s", err, b)
		}
		a, _ := os.ReadFile(img)
		b, _ := os.ReadFile(out)
		if !bytes.Equal(a, b) {
			t.Error("bmaptool copy with our bmap: output differs from the image")
		}
	}
}

// ranges returns the lines of a bmap that must not differ between bmaptool
// versions.
func ranges(bmap string) string {
	var keep []string
	for _, l := range strings.Split(bmap, "\n") {
		if strings.Contains(l, "<Range") || strings.Contains(l, "Count>") || strings.Contains(l, "Size>") || strings.Contains(l, "Count of mapped") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func TestCreateErrorsCLI(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.img")
	os.WriteFile(empty, nil, 0o644)
	full := filepath.Join(dir, "full.img")
	os.WriteFile(full, bytes.Repeat([]byte{1}, 8192), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing image", []string{"create", filepath.Join(dir, "nope.img")}, 1, "nope.img: no such file"},
		{"directory", []string{"create", dir}, 1, "is a directory"},
		{"empty image", []string{"create", empty}, 1, "empty (0 bytes)"},
		{"no image", []string{"create"}, 2, "one IMAGE argument"},
		{"two images", []string{"create", full, full}, 2, "one IMAGE argument"},
		{"unknown option", []string{"create", "--frobnicate", full}, 2, "frobnicate"},
		{"unknown command", []string{"flash", full}, 2, "unknown command"},
		{"-q with -d", []string{"-q", "-d", "create", full}, 2, "-q and -d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, nil, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, tc.code, tc.want)
			}
			if strings.Count(strings.TrimSpace(stderr), "ERROR") != 1 {
				t.Errorf("%q: want exactly one error line, got %q", tc.args, stderr)
			}
		})
	}

	// An image without holes is a warning, not an error.
	_, stderr, code := runCLI(t, nil, "create", full)
	if code != 0 || !strings.Contains(stderr, "no holes") {
		t.Errorf("create of a full image: exit %d, stderr %q", code, stderr)
	}
}

func TestPermute(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"create IMG -o OUT", "create -o OUT -- IMG"},
		{"-q copy IMG DEV --bmap=X", "-q copy --bmap=X -- IMG DEV"},
		{"copy --bmap B --psplash-pipe F -- IMG DEV", "copy --bmap B --psplash-pipe F -- IMG DEV"},
		{"copy - DEV --nobmap", "copy --nobmap -- - DEV"},
		{"copy IMG -- -weird-dest", "copy -- IMG -weird-dest"},
		{"--version", "--version"},
	} {
		got := strings.Join(permute(strings.Fields(tc.in), valueFlags(newApp("bmap", &env{log: newLogger(io.Discard, "bmap")}))), " ")
		if got != tc.want {
			t.Errorf("permute(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A bmap that cannot be written is an error: with standard output closed
// ("bmap create img >&-") the runtime puts /dev/null there, and the bmap
// would be lost without a word. ">/dev/null" is what the user asked for.
func TestCreateClosedStdout(t *testing.T) {
	bin := builtBinary(t)
	img := makeImage(t, t.TempDir(), "disk.img", defaultSpec)
	for _, tc := range []struct {
		redirect string
		code     int
	}{{">&-", 1}, {">/dev/null", 0}} {
		cmd := exec.Command("sh", "-c", `"$0" create "$1" `+tc.redirect, bin, img.path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code {
			t.Errorf("create %s: exit %d, want %d; stderr:\n%s", tc.redirect, code, tc.code, stderr.String())
		}
		if tc.code != 0 && !strings.Contains(stderr.String(), "standard output is closed") {
			t.Errorf("create %s: stderr does not say standard output is closed:\n%s", tc.redirect, stderr.String())
		}
	}
}

// A failed write of -o leaves the file that was there: the new bmap is
// written beside it and renamed over it only once complete.
func TestCreateOutputKeptOnFailure(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	img := makeImage(t, t.TempDir(), "disk.img", imageSpec{size: 4096 * 4096, ranges: manyRanges(4096), seed: 3})
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	out := filepath.Join(dir, "disk.img.bmap")
	writeFile(t, out, []byte("precious\n"))
	r := runBmap(t, nil, "create", img.path, "-o", out)
	wantFailure(t, r, 1, "cannot write the bmap", "no space left on device")
	if got := string(readFile(t, out)); got != "precious\n" {
		t.Errorf("after a failed create, %s holds %q, want the old content", out, got)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("a failed create left files behind in %s: %v", dir, ents)
	}
}

// manyRanges maps every other block of n blocks: a bmap of n/2 ranges.
func manyRanges(n int64) []blockRange {
	var rs []blockRange
	for b := int64(0); b < n; b += 2 {
		rs = append(rs, blockRange{b, b, 'r'})
	}
	return rs
}
