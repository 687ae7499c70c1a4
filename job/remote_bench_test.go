package job_test

import (
	"bytes"
	"context"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bmap-tools/bmap/job"
	"github.com/bmap-tools/bmap/source"
)

// BenchmarkRemoteCopy copies a sparse raw image (128 MiB, or
// BMAP_BENCH_MIB, about a quarter mapped in 96 random ranges) to
// /dev/null: from the local file,
// and over HTTP on loopback from a server that adds a latency to every
// response (BMAP_BENCH_LATENCY, default 20ms) and limits every connection
// to BMAP_BENCH_RATE bytes per second (default 50e6), as a distant
// server does. Cases:
//
//	local       the file itself
//	ranged      the mapped ranges, coalesced, 4 requests in flight
//	ranged-1    the same, one request at a time
//	stream      a server that ignores Range: the whole image, in order
//	            (what bmaptool fetches)
//
// It reports the bytes the server sent per copy. Run with
// -benchtime=1x -count=3.
func BenchmarkRemoteCopy(b *testing.B) {
	latency := 20 * time.Millisecond
	if s := os.Getenv("BMAP_BENCH_LATENCY"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatal(err)
		}
		latency = d
	}
	rate := 50e6
	if s := os.Getenv("BMAP_BENCH_RATE"); s != "" {
		r, err := strconv.ParseFloat(s, 64)
		if err != nil {
			b.Fatal(err)
		}
		rate = r
	}
	size := int64(128 << 20)
	if s := os.Getenv("BMAP_BENCH_MIB"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		size = n << 20
	}
	dir := b.TempDir()
	img := filepath.Join(dir, "disk.img")
	data := sparseImage(b, img, size)
	ctx := context.Background()
	m, err := job.Create(ctx, job.CreateOptions{Image: img, Output: img + ".bmap"})
	if err != nil {
		b.Fatal(err)
	}
	var sent atomic.Int64
	mod := time.Now()
	shaped := func(ignoreRange bool) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(latency)
			if ignoreRange {
				r.Header.Del("Range")
			}
			name, content := r.URL.Path, data
			if name == "/disk.img.bmap" {
				content, _ = os.ReadFile(img + ".bmap")
			} else if name != "/disk.img" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("ETag", `"bench"`)
			http.ServeContent(&limitedWriter{ResponseWriter: w, rate: rate, start: time.Now(), sent: &sent}, r, name, mod, bytes.NewReader(content))
		})
	}
	ranged := httptest.NewServer(shaped(false))
	defer ranged.Close()
	stream := httptest.NewServer(shaped(true))
	defer stream.Close()

	for _, c := range []struct {
		name  string
		image string
		net   source.NetOptions
	}{
		{"local", img, source.NetOptions{}},
		{"ranged", ranged.URL + "/disk.img", source.NetOptions{}},
		{"ranged-1", ranged.URL + "/disk.img", source.NetOptions{Parallel: 1}},
		{"ranged-8", ranged.URL + "/disk.img", source.NetOptions{Parallel: 8}},
		{"stream", stream.URL + "/disk.img", source.NetOptions{}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(m.MappedBytes())
			sent.Store(0)
			for i := 0; i < b.N; i++ {
				_, err := job.Copy(ctx, job.CopyOptions{Image: c.image, Dest: os.DevNull, Opener: &source.Opener{Net: c.net}})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(sent.Load())/float64(b.N)/(1<<20), "MiB-sent/op")
			b.ReportMetric(float64(m.MappedBytes())/(1<<20), "MiB-mapped")
		})
	}
}

// sparseImage writes a sparse image of size bytes with 96 random ranges,
// each 5% to 45% of its 96th of the image, and returns its content.
func sparseImage(b *testing.B, path string, size int64) []byte {
	data := make([]byte, size)
	rng := rand.New(rand.NewSource(1))
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	f.Truncate(size)
	step := size / 96
	for i := int64(0); i < 96; i++ {
		n := step / 20 * (1 + rng.Int63n(9)) / 4096 * 4096
		off := i*step + rng.Int63n(step-n)/4096*4096
		rng.Read(data[off : off+n])
		f.WriteAt(data[off:off+n], off)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return data
}

// limitedWriter sends at most rate bytes per second on one response, and
// counts what it sends.
type limitedWriter struct {
	http.ResponseWriter
	rate  float64
	start time.Time
	n     int64
	sent  *atomic.Int64
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		k := min(len(p), 32<<10)
		n, err := w.ResponseWriter.Write(p[:k])
		written += n
		w.n += int64(n)
		w.sent.Add(int64(n))
		if err != nil {
			return written, err
		}
		p = p[k:]
		if ahead := time.Duration(float64(w.n)/w.rate*float64(time.Second)) - time.Since(w.start); ahead > 0 {
			time.Sleep(ahead)
		}
	}
	return written, nil
}

var _ io.Writer = (*limitedWriter)(nil)
