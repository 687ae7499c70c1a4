package decompress

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
	"github.com/bmap-tools/bmap/decompress/internal/sample"
)

// FuzzNewReader: no panic, bounded memory and output, and a successful
// read never reports more input than there was. It runs with the
// production limits (maxWindow): our decoders reserve windows as their
// output grows, so a header asking for a large one costs little.
func FuzzNewReader(f *testing.F) {
	// zstd frames asking for a 1 GiB window (allowed) and a 2 GiB one
	// (refused), without content size: the last block is raw and empty.
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa0, 0x01, 0x00, 0x00}, "")
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa8, 0x01, 0x00, 0x00}, "")

	small := makeImage(6000, 9)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(small)
	w.Close()
	f.Add(gz.Bytes(), "x.img.gz")
	f.Add(small, "")
	f.Add([]byte{}, "x.tar")
	f.Add([]byte("PK\x03\x04"), "")

	// Seeds from the real tools, where installed.
	dir := f.TempDir()
	in := filepath.Join(dir, "img")
	if err := os.WriteFile(in, small, 0o644); err != nil {
		f.Fatal(err)
	}
	for _, c := range []struct{ name, cmd string }{
		{"img.bz2", "bzip2 -c img"},
		{"img.xz", "xz -c img"},
		{"img.lzma", "lzma -c img"},
		{"img.zst", "zstd -q -c img"},
		{"img.lz4", "lz4 -q -c img"},
		{"img.lz4", "lz4 -q -l -c img"},
		{"img.lzo", "lzop -c img"},
		{"img.zip", "zip -q - img"},
		{"img.zip", "zip -q - - < img"},
		{"img.tar", "tar -cf - img"},
		{"img.tgz", "tar -czf - img"},
	} {
		if !sample.Have(strings.Fields(c.cmd)[0]) {
			continue
		}
		cmd := exec.Command("sh", "-c", c.cmd)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			f.Fatalf("%s: %v", c.cmd, err)
		}
		f.Add(out, c.name)
		f.Add(out, "")
	}

	f.Fuzz(func(t *testing.T, data []byte, name string) {
		defer sample.Watchdog(time.Minute)()
		z, err := NewReader(bytes.NewReader(data), Options{Name: name})
		if err != nil {
			return
		}
		defer z.Close()
		n, err := io.Copy(io.Discard, io.LimitReader(z, 32<<20))
		if errors.Is(err, fault.ErrInternal) {
			t.Fatalf("%v\n%s", err, fault.StackOf(err))
		}
		if err == nil && n < 32<<20 && z.Format() != Zip && z.InputOffset() > int64(len(data)) {
			t.Errorf("InputOffset() = %d > %d input bytes", z.InputOffset(), len(data))
		}
		_ = z.Notes()
		_ = z.Kind().String()
		if n < 32<<20 {
			skimmed, skimErr := skimFuzz(data, name)
			if skimmed != n || (skimErr == nil) != (err == nil) {
				t.Errorf("skipping with Discard ended at %d with %v, reading at %d with %v", skimmed, skimErr, n, err)
			}
		}
	})
}

// skimFuzz decodes data again, discarding and reading in turns, and
// returns how many bytes it got through and the error that ended it (nil
// at io.EOF).
func skimFuzz(data []byte, name string) (int64, error) {
	z, err := NewReader(bytes.NewReader(data), Options{Name: name})
	if err != nil {
		return 0, err
	}
	defer z.Close()
	buf := make([]byte, 1000)
	var total int64
	for i := 0; ; i++ {
		var n int
		if i%2 == 0 {
			n, err = z.Discard(1 + i%3000)
		} else {
			n, err = z.Read(buf)
		}
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}
