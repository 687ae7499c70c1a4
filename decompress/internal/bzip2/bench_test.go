package bzip2

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bmap-tools/bmap/decompress/internal/sample"
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
	comp = sample.Compress(b, data, tool, args...)
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

// benchBlocks returns 40 blocks spread over $BZIP2_BENCH (default: the pbzip2
// benchmark file), for the per-stage benchmarks below.
func benchBlocks(b *testing.B) []*segment {
	var comp []byte
	if name := os.Getenv("BZIP2_BENCH"); name != "" {
		var err error
		if comp, err = os.ReadFile(name); err != nil {
			b.Fatal(err)
		}
	} else {
		comp, _ = benchFile(b, "pbzip2", "-c", "-9", "-p2")
	}
	var pool bufPool
	sp := newSplitter(bytes.NewReader(comp), &pool)
	var segs []*segment
	for {
		s, err := sp.next()
		if err != nil {
			break
		}
		if !s.eos {
			segs = append(segs, s)
		}
	}
	var some []*segment
	for i := range 40 {
		if k := i * len(segs) / 40; len(some) == 0 || some[len(some)-1] != segs[k] {
			some = append(some, segs[k])
		}
	}
	return some
}

// BenchmarkStages times the block decoder's stages on real blocks: read
// (the tables and symbols: Huffman decoding, then unMTF), unMTF alone,
// invert (the inverse BWT) and expand (the initial run-length stage and
// the CRC). The speeds are in bytes of the block before the initial
// run-length stage:
//
//	BZIP2_BENCH=image.bz2 go test -run XXX -bench Stages

func BenchmarkStages(b *testing.B) {
	segs := benchBlocks(b)
	d := newBlockDecoder()
	type col struct {
		syms   []uint16
		mtf    [256]byte
		level  byte
		ll     []byte
		counts [256]uint32
		orig   uint32
		block  []byte
	}
	var cols []col
	total := 0
	for _, s := range segs {
		start := s.off & 7
		n, _, orig, err := d.read(s.buf, start, start+s.nbits, s.level)
		if err != nil {
			b.Fatal(err)
		}
		c := col{ll: bytes.Clone(d.ll[:n]), counts: d.counts, orig: orig,
			syms: slices.Clone(d.syms[:d.nsyms]), mtf: d.mtf0, level: s.level}
		d.invert(d.ll[:n], &d.counts, orig)
		c.block = bytes.Clone(d.ll[:n])
		cols = append(cols, c)
		total += n
	}
	b.Run("read", func(b *testing.B) {
		b.SetBytes(int64(total))
		b.ResetTimer()
		for range b.N {
			for _, s := range segs {
				start := s.off & 7
				d.read(s.buf, start, start+s.nbits, s.level)
			}
		}
	})
	b.Run("unMTF", func(b *testing.B) {
		b.SetBytes(int64(total))
		b.ResetTimer()
		for range b.N {
			for _, c := range cols {
				mtf := c.mtf
				d.unMTF(c.syms, &mtf, int(c.level)*blockUnit)
			}
		}
		for _, c := range cols {
			mtf := c.mtf
			n, err := d.unMTF(c.syms, &mtf, int(c.level)*blockUnit)
			if err != nil || !bytes.Equal(d.ll[:n], c.ll) {
				b.Fatal("unMTF differs", err)
			}
		}
	})
	b.Run("invert", func(b *testing.B) {
		b.SetBytes(int64(total))
		b.ResetTimer()
		for range b.N {
			for _, c := range cols {
				ll := d.ll[:len(c.ll)]
				copy(ll, c.ll)
				d.invert(ll, &c.counts, c.orig)
			}
		}
		for _, c := range cols {
			ll := d.ll[:len(c.ll)]
			copy(ll, c.ll)
			d.invert(ll, &c.counts, c.orig)
			if !bytes.Equal(ll, c.block) {
				b.Fatal("invert differs")
			}
		}
	})
	b.Run("expand", func(b *testing.B) {
		b.SetBytes(int64(total))
		out := make([]byte, maxOut(9))
		b.ResetTimer()
		for range b.N {
			for _, c := range cols {
				expand(c.block, out, nil)
			}
		}
	})
}
