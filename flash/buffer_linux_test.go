package flash

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestPipelineBuffersHugePages checks that the pipeline's buffers are
// aligned for O_DIRECT, do not overlap, and lie in a mapping the kernel was
// asked to back with huge pages ("hg" in the mapping's VmFlags).
func TestPipelineBuffersHugePages(t *testing.T) {
	const n, size = 5, 3 << 20 // 15 MiB: some buffers straddle a huge page
	bufs, release := pipelineBuffers(n, size)
	defer release()
	for i, b := range bufs {
		if len(b) != size || cap(b) != size || !isAligned(b) {
			t.Fatalf("buffer %d: len %d cap %d aligned %v, want %d, %d, true", i, len(b), cap(b), isAligned(b), size, size)
		}
		for j := range b {
			b[j] = byte(i + 1)
		}
	}
	for i, b := range bufs {
		for j, v := range b {
			if v != byte(i+1) {
				t.Fatalf("buffer %d byte %d is %d: buffers overlap", i, j, v)
			}
		}
	}
	if flags := vmFlags(t, addr(bufs[0])); !strings.Contains(" "+flags+" ", " hg ") {
		t.Errorf("the buffers' mapping has VmFlags %q, without hg (MADV_HUGEPAGE)", flags)
	}
}

// vmFlags returns the VmFlags of the mapping of this process that holds a.
func vmFlags(t *testing.T, a uintptr) string {
	t.Helper()
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	in := false
	for _, line := range strings.Split(string(smaps), "\n") {
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 {
			in = lo <= a && a < hi
		} else if flags, ok := strings.CutPrefix(line, "VmFlags:"); ok && in {
			return strings.TrimSpace(flags)
		}
	}
	t.Fatalf("no mapping holds %#x in /proc/self/smaps", a)
	return ""
}
