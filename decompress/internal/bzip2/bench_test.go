package bzip2

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// benchFile returns ~64 MiB of mixed data compressed by tool, kept in the
// temporary directory between runs (compressing takes a while).
func benchFile(b *testing.B, tool string, args ...string) (comp []byte, size int64) {
	const n = 64 << 20
	name := filepath.Join(os.TempDir(), fmt.Sprintf("bmap-bzip2-bench-%s-%d.bz2", tool, n))
	if c, err := os.ReadFile(name); err == nil {
		return c, n
	}
	data := cached("bench", func() []byte { return mixed(n, 64) })
	comp = compress(b, data, tool, args...)
	if err := os.WriteFile(name+".tmp", comp, 0o644); err == nil {
		os.Rename(name+".tmp", name)
	}
	return comp, n
}

func BenchmarkDecode(b *testing.B) {
	for _, tool := range []struct {
		name string
		args []string
	}{
		{"pbzip2", []string{"-c", "-9", "-p2"}},
		{"lbzip2", []string{"-9", "-n2"}},
	} {
		for _, workers := range []int{0, 1, 2} {
			name := fmt.Sprintf("%s/workers=%d", tool.name, workers)
			if workers == 0 {
				name = tool.name + "/dsnet-sequential"
			}
			b.Run(name, func(b *testing.B) {
				comp, size := benchFile(b, tool.name, tool.args...)
				buf := make([]byte, 1<<20)
				b.SetBytes(size)
				b.ResetTimer()
				for range b.N {
					var r io.Reader
					if workers == 0 {
						z, _ := dsnetReader(bytes.NewReader(comp))
						r = z
					} else {
						z := NewReader(bytes.NewReader(comp), workers)
						defer z.Close()
						r = z
					}
					n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf)
					if err != nil || n != size {
						b.Fatalf("%d bytes, %v", n, err)
					}
				}
			})
		}
	}
}
