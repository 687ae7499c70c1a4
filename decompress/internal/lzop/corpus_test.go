package lzop

import (
	"bufio"
	"encoding/binary"
	"io"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/anchore/go-lzo"
)

// TestCorpus decodes the file named by $LZOP_CORPUS (skipped if unset)
// the way decompress does: a 1 MiB bufio.Reader, GOMAXPROCS workers, a
// 1 MiB read buffer ($LZOP_JOB_BLOCKS blocks per job if set). For
// measurements:
//
//	go test -c && GOMAXPROCS=2 LZOP_CORPUS=x.lzo ./lzop.test -test.run Corpus -test.v
func TestCorpus(t *testing.T) {
	name := os.Getenv("LZOP_CORPUS")
	if name == "" {
		t.Skip("LZOP_CORPUS not set")
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start := time.Now()
	cfg := defaultParallel
	if k, _ := strconv.Atoi(os.Getenv("LZOP_JOB_BLOCKS")); k > 0 {
		cfg.jobBlocks, cfg.jobBytes = k, k*256<<10
	}
	z, err := newParallelReader(bufio.NewReaderSize(f, 1<<20), runtime.GOMAXPROCS(0), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{z}, make([]byte, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("%d bytes in %.2f s, %.0f MB/s, GOMAXPROCS=%d; allocated %d MB, %d GCs, heap %d MB", n, d.Seconds(), float64(n)/d.Seconds()/1e6, runtime.GOMAXPROCS(0), ms.TotalAlloc>>20, ms.NumGC, ms.HeapSys>>20)
}

// BenchmarkCorpusBlocks decodes the LZO1X blocks of the first 64 MiB of
// $LZOP_CORPUS in memory, with this package's decoder and go-lzo's.
func BenchmarkCorpusBlocks(b *testing.B) {
	name := os.Getenv("LZOP_CORPUS")
	if name == "" {
		b.Skip("LZOP_CORPUS not set")
	}
	f, err := os.Open(name)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 64<<20)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	var blocks [][]byte
	var total int64
	be := binary.BigEndian
	p := len(Magic) + 2 + 2 + 2 + 1 + 1
	flags := be.Uint32(head[p:])
	p += 4 + 4 + 4 + 4
	p += 1 + int(head[p]) + 4
	for p+8 < len(head) {
		dlen, slen := int(be.Uint32(head[p:])), int(be.Uint32(head[p+4:]))
		p += 8
		if flags&flagAdler32D != 0 {
			p += 4
		}
		if flags&flagCRC32D != 0 {
			p += 4
		}
		if dlen == 0 || p+slen > len(head) {
			break
		}
		if slen < dlen {
			blocks = append(blocks, head[p:p+slen])
			total += int64(dlen)
		}
		p += slen
	}
	dst := make([]byte, maxBlockSize)
	for _, dec := range []struct {
		name string
		f    func(src, dst []byte) (int, error)
	}{{"ours", decompress1x}, {"go-lzo", lzo.Decompress}} {
		b.Run(dec.name, func(b *testing.B) {
			b.SetBytes(total)
			b.ResetTimer()
			for range b.N {
				for _, c := range blocks {
					if _, err := dec.f(c, dst[:256<<10]); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
