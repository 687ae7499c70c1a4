package zstd

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"unsafe"

	"github.com/bmap-tools/bmap/decompress/internal/sample"
)

// TestWindowBufferHugePages checks that the window buffer lies in memory
// the kernel was asked to back with huge pages: its middle is in a mapping
// whose VmFlags (in /proc/self/smaps) carry "hg" (MADV_HUGEPAGE).
func TestWindowBufferHugePages(t *testing.T) {
	data := sample.Text(1 << 20)
	z := NewReader(bytes.NewReader(compress(t, data, "zstd")), 0)
	defer z.Close()
	if _, err := io.ReadFull(z, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	buf := z.d.buf
	if len(buf) < 4<<20 {
		t.Fatalf("window buffer of %d bytes, expected at least 4 MiB", len(buf))
	}
	mid := uintptr(unsafe.Pointer(&buf[len(buf)/2]))
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	in := false
	for _, line := range strings.Split(string(smaps), "\n") {
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 {
			in = lo <= mid && mid < hi
		} else if flags, ok := strings.CutPrefix(line, "VmFlags:"); ok && in {
			if !strings.Contains(flags+" ", " hg ") {
				t.Errorf("the window buffer's mapping has VmFlags%q, without hg (MADV_HUGEPAGE)", strings.TrimSpace(flags))
			}
			return
		}
	}
	t.Fatalf("no mapping holds the window buffer (%#x) in /proc/self/smaps", mid)
}
