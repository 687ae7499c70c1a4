package bmap

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"sync"

	"github.com/bmap-tools/bmap/fiemap"
)

// CreateOptions tunes Create. The zero value makes what bmaptool create
// makes: sha256 checksums, hashed on every core.
type CreateOptions struct {
	// NoChecksum leaves out the ranges' checksums (the file checksum and
	// ChecksumType are still written, as bmaptool --no-checksum does).
	NoChecksum bool
	// Workers is how many ranges are hashed at once; default GOMAXPROCS.
	Workers int
}

// ErrEmptyImage is returned by Create for a zero-size image.
var ErrEmptyImage = errors.New("bmap: the image is empty (0 bytes)")

// Create maps the data of the sparse image f: fiemap finds the data extents,
// which are widened to whole blocks of the image's filesystem block size and
// merged where they touch, and each range is hashed. Ranges are hashed in
// parallel, the largest first.
func Create(ctx context.Context, f *os.File, opt CreateOptions) (*Map, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", f.Name())
	}
	if fi.Size() == 0 {
		return nil, ErrEmptyImage
	}
	bs, err := fiemap.BlockSize(f)
	if err != nil {
		return nil, err
	}
	extents, err := fiemap.Extents(f)
	if err != nil {
		return nil, err
	}
	m := &Map{Version: "2.0", ImageSize: fi.Size(), BlockSize: bs, ChecksumType: "sha256"}
	m.BlocksCount = (m.ImageSize + bs - 1) / bs
	m.Ranges = blockRanges(extents, bs, m.BlocksCount)
	for _, r := range m.Ranges {
		m.MappedBlocksCount += r.Blocks()
	}
	if !opt.NoChecksum {
		if err := m.hashRanges(ctx, f, opt.Workers); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// blockRanges turns byte extents into merged, inclusive block ranges below
// blocks.
func blockRanges(extents []fiemap.Extent, bs, blocks int64) []Range {
	var rs []Range
	for _, e := range extents {
		if e.Length <= 0 {
			continue
		}
		first, last := e.Offset/bs, (e.Offset+e.Length+bs-1)/bs-1
		if last >= blocks {
			last = blocks - 1
		}
		if first > last {
			continue
		}
		if n := len(rs); n > 0 && first <= rs[n-1].Last+1 {
			rs[n-1].Last = max(rs[n-1].Last, last)
			continue
		}
		rs = append(rs, Range{First: first, Last: last})
	}
	return rs
}

// hashRanges fills in the ranges' checksums, reading f with workers
// goroutines.
func (m *Map) hashRanges(ctx context.Context, f *os.File, workers int) error {
	return m.eachRangeSum(ctx, f, workers, func(i int, sum []byte) { m.Ranges[i].Checksum = sum })
}

// Verify reads the mapped ranges of r (a device or file holding the image
// at offset 0) and returns those whose checksum does not match, in order.
// Ranges without a checksum are not read. Ranges are read by workers
// goroutines (default GOMAXPROCS), the largest first.
func (m *Map) Verify(ctx context.Context, r io.ReaderAt, workers int) ([]Range, error) {
	if m.ChecksumType == "" {
		return nil, fmt.Errorf("bmap version %s has no checksums to verify against", m.Version)
	}
	bad := make([]bool, len(m.Ranges))
	err := m.eachRangeSum(ctx, r, workers, func(i int, sum []byte) {
		if len(m.Ranges[i].Checksum) > 0 && string(sum) != string(m.Ranges[i].Checksum) {
			bad[i] = true
		}
	})
	var out []Range
	for i, b := range bad {
		if b {
			out = append(out, m.Ranges[i])
		}
	}
	return out, err
}

// eachRangeSum hashes every range of r and calls done (from any of workers
// goroutines, never concurrently for the same i) with its digest. The
// largest ranges go first, so the slowest one starts early.
func (m *Map) eachRangeSum(ctx context.Context, r io.ReaderAt, workers int, done func(i int, sum []byte)) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	order := make([]int, len(m.Ranges))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return m.Ranges[order[a]].Blocks() > m.Ranges[order[b]].Blocks() })

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, len(order)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			for i := range next {
				rg := m.Ranges[i]
				h := m.NewHash()
				if h == nil {
					h = sha256.New()
				}
				if _, err := io.CopyBuffer(h, io.NewSectionReader(r, m.Offset(rg), m.Length(rg)), buf); err != nil {
					cancel(fmt.Errorf("reading blocks %d-%d (bytes %d-%d): %w", rg.First, rg.Last, m.Offset(rg), m.Offset(rg)+m.Length(rg)-1, err))
					continue
				}
				done(i, h.Sum(nil))
			}
		}()
	}
feed:
	for _, i := range order {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}
