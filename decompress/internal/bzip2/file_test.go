package bzip2

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	dsbzip2 "github.com/dsnet/compress/bzip2"
)

// TestDecodeFile measures decoding a real file, for profiling and peak RSS:
//
//	BZIP2_FILE=/tmp/bmapbench/rootfs.img.bz2 BZIP2_WORKERS=2 go test -run TestDecodeFile -v
//
// BZIP2_WORKERS=0 uses dsnet's sequential reader instead. BZIP2_REF names
// the uncompressed file to compare the output with.
func TestDecodeFile(t *testing.T) {
	name := os.Getenv("BZIP2_FILE")
	if name == "" {
		t.Skip("BZIP2_FILE not set")
	}
	workers, _ := strconv.Atoi(os.Getenv("BZIP2_WORKERS"))
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start := time.Now()
	var r io.Reader
	if workers == 0 {
		r, _ = dsbzip2.NewReader(bufio.NewReaderSize(f, 1<<20), nil)
	} else {
		z := NewReader(f, workers)
		defer z.Close()
		r = z
	}
	var w io.Writer = io.Discard
	if ref := os.Getenv("BZIP2_REF"); ref != "" {
		rf, err := os.Open(ref)
		if err != nil {
			t.Fatal(err)
		}
		defer rf.Close()
		cw := &cmpWriter{r: bufio.NewReaderSize(rf, 1<<20)}
		defer func() {
			if _, err := cw.r.ReadByte(); err != io.EOF {
				t.Errorf("output shorter than %s", ref)
			}
		}()
		w = cw
	}
	buf := make([]byte, 1<<20)
	n, err := io.CopyBuffer(w, struct{ io.Reader }{r}, buf)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d bytes in %.2f s (%.0f MB/s)", n, time.Since(start).Seconds(), float64(n)/1e6/time.Since(start).Seconds())
}

// cmpWriter fails when what is written differs from r.
type cmpWriter struct {
	r   *bufio.Reader
	off int64
	buf []byte
}

func (c *cmpWriter) Write(p []byte) (int, error) {
	if cap(c.buf) < len(p) {
		c.buf = make([]byte, len(p))
	}
	b := c.buf[:len(p)]
	if _, err := io.ReadFull(c.r, b); err != nil || !bytes.Equal(b, p) {
		return 0, fmt.Errorf("output differs from the reference in the %d bytes at %d (%v)", len(p), c.off, err)
	}
	c.off += int64(len(p))
	return len(p), nil
}
