package flash

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/bmap-tools/bmap/bmap"
)

// writers returns ds as the list CopyTo takes.
func writers[D io.WriterAt](ds ...D) []io.WriterAt {
	out := make([]io.WriterAt, len(ds))
	for i, d := range ds {
		out[i] = d
	}
	return out
}

// TestCopyToSeveral copies one image to several destinations at once, from
// a stream and from a random-access source (lanes opened): every
// destination must hold what a copy to it alone would, and its own stats
// and progress say so.
func TestCopyToSeveral(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(maxLanes))
	defer func(n int) { openLanes = n }(openLanes)
	openLanes = maxLanes
	rng := rand.New(rand.NewPCG(3, 4))
	img := randomImage(rng, 200*4096+321)
	var ranges [][2]int64
	for first := int64(0); first < 190; {
		last := first + int64(rng.IntN(30))
		ranges = append(ranges, [2]int64{first, last})
		first = last + 2 + int64(rng.IntN(4))
	}
	m := makeMap(img, 4096, ranges)
	want := reference(img, m)
	for _, n := range []int{2, 3, 8} {
		for name, src := range map[string]func() io.Reader{
			"seekable": func() io.Reader { return bytes.NewReader(img) },
			"stream":   func() io.Reader { return stream{bytes.NewReader(img)} },
			"discard":  func() io.Reader { return newDiscarder(img) },
		} {
			ds := make([]*memDest, n)
			for i := range ds {
				ds[i] = newMemDest(int64(len(img)))
			}
			p := Progress{Dests: make([]DestProgress, n)}
			var verified atomic.Int64
			st, err := CopyTo(context.Background(), writers(ds...), src(), m, Options{BufferSize: 8192, Buffers: 3, Progress: &p,
				Verified: func(bmap.Range) { verified.Add(1) }})
			if err != nil {
				t.Fatalf("%d destinations, %s: CopyTo: %v", n, name, err)
			}
			for i, d := range ds {
				if !bytes.Equal(d.data, want.data) || !equalBools(d.written, want.written) {
					t.Fatalf("%d destinations, %s: destination %d differs from the reference copy", n, name, i)
				}
				ds := st.Dests[i]
				if ds.Err != nil || ds.WrittenBlocks != m.MappedBlocksCount || ds.WrittenBytes != m.MappedBytes() ||
					p.Dests[i].WrittenBytes.Load() != m.MappedBytes() || p.Dests[i].Dropped.Load() {
					t.Fatalf("%d destinations, %s: destination %d: stats %+v, progress %d bytes", n, name, i, ds, p.Dests[i].WrittenBytes.Load())
				}
			}
			if len(st.Dests) != n || st.WrittenBytes != m.MappedBytes() || p.WrittenBytes.Load() != m.MappedBytes() ||
				verified.Load() != int64(len(m.Ranges)) || st.VerifiedRanges != len(m.Ranges) {
				t.Fatalf("%d destinations, %s: stats %+v, progress %d bytes, %d ranges reported verified", n, name, st, p.WrittenBytes.Load(), verified.Load())
			}
		}
	}
}

// TestCopyToDropsAFailingDestination: a destination whose writes fail half
// way is dropped, with its own error, and the others are written in full.
func TestCopyToDropsAFailingDestination(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	img := randomImage(rng, 64*4096)
	m := makeMap(img, 4096, [][2]int64{{0, 9}, {12, 40}, {44, 63}})
	want := reference(img, m)
	good1, good2 := newMemDest(int64(len(img))), newMemDest(int64(len(img)))
	bad := failingDest{newMemDest(int64(len(img))), 20 * 4096}
	p := Progress{Dests: make([]DestProgress, 3)}
	var dropped []int
	var mu sync.Mutex
	st, err := CopyTo(context.Background(), []io.WriterAt{good1, bad, good2}, stream{bytes.NewReader(img)}, m,
		Options{BufferSize: 4096, Buffers: 4, Progress: &p, Dropped: func(i int, st DestStats) {
			mu.Lock()
			defer mu.Unlock()
			dropped = append(dropped, i)
			if st.Err == nil {
				t.Errorf("Dropped(%d) with no error", i)
			}
		}})
	if err == nil || !strings.Contains(err.Error(), "no space left") || !strings.Contains(err.Error(), "at byte 81920") {
		t.Fatalf("err = %v, want the failing destination's write error at byte 81920", err)
	}
	for i, d := range []*memDest{good1, good2} {
		if !bytes.Equal(d.data, want.data) {
			t.Errorf("healthy destination %d differs from the reference copy", i)
		}
	}
	if st.Dests[0].Err != nil || st.Dests[2].Err != nil {
		t.Errorf("healthy destinations failed: %v, %v", st.Dests[0].Err, st.Dests[2].Err)
	}
	if e := st.Dests[1].Err; e == nil || !strings.Contains(e.Error(), "no space left") {
		t.Errorf("failing destination's error = %v, want its write error", e)
	}
	if len(dropped) != 1 || dropped[0] != 1 || !p.Dests[1].Dropped.Load() || p.Dests[0].Dropped.Load() {
		t.Errorf("dropped %v (progress says %v), want destination 1 only", dropped, p.Dests[1].Dropped.Load())
	}
	if st.Dests[1].WrittenBytes != 18*4096 || st.Dests[0].WrittenBytes != m.MappedBytes() || p.WrittenBytes.Load() != m.MappedBytes() {
		t.Errorf("written: %d and %d bytes, progress %d; want %d and %d", st.Dests[1].WrittenBytes, st.Dests[0].WrittenBytes,
			p.WrittenBytes.Load(), 18*4096, m.MappedBytes())
	}
}

// TestCopyToAllFail: when the last destination fails, the copy stops.
func TestCopyToAllFail(t *testing.T) {
	img := make([]byte, 256*4096)
	m := makeMap(img, 4096, [][2]int64{{0, 255}})
	var reads atomic.Int64
	src := readCounter{bytes.NewReader(img), &reads}
	ds := []io.WriterAt{failingDest{newMemDest(int64(len(img))), 10 * 4096}, failingDest{newMemDest(int64(len(img))), 30 * 4096}}
	st, err := CopyTo(context.Background(), ds, stream{src}, m, Options{BufferSize: 4096, Buffers: 4})
	if err == nil || !strings.Contains(err.Error(), "at byte 122880") {
		t.Fatalf("err = %v, want the last destination's write error at byte 122880", err)
	}
	if st.Dests[0].Err == nil || st.Dests[1].Err == nil {
		t.Errorf("destinations' errors: %v, %v; want both", st.Dests[0].Err, st.Dests[1].Err)
	}
	if n := reads.Load(); n > 64*4096 {
		t.Errorf("read %d bytes of the image after every destination failed at 30 blocks", n)
	}
}

type readCounter struct {
	r io.Reader
	n *atomic.Int64
}

func (r readCounter) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n.Add(int64(n))
	return n, err
}

// countingDest counts the chunks written to it.
type countingDest struct {
	*memDest
	writes atomic.Int64
}

func (d *countingDest) WriteAt(p []byte, off int64) (int, error) {
	d.writes.Add(1)
	return d.memDest.WriteAt(p, off)
}

// TestCopyToSlowestSetsThePace: the destinations share the buffers, so a
// fast destination runs ahead of a stalled one by the buffers only; a
// buffer is read into again once the last destination has written it.
func TestCopyToSlowestSetsThePace(t *testing.T) {
	img := randomImage(rand.New(rand.NewPCG(1, 1)), 64*4096)
	m := makeMap(img, 4096, [][2]int64{{0, 63}})
	const buffers = 4
	gate := make(chan struct{})
	slow := gatedDest{newMemDest(int64(len(img))), gate}
	fast := &countingDest{memDest: newMemDest(int64(len(img)))}
	var reads atomic.Int64
	done := make(chan error)
	go func() {
		_, err := CopyTo(context.Background(), []io.WriterAt{fast, slow}, stream{readCounter{bytes.NewReader(img), &reads}}, m,
			Options{BufferSize: 4096, Buffers: buffers})
		done <- err
	}()
	// Wait until the fast destination has written all it can.
	for i := 0; fast.writes.Load() < buffers; i++ {
		runtime.Gosched()
	}
	for range 1000 {
		runtime.Gosched()
	}
	if n := fast.writes.Load(); n != buffers {
		t.Errorf("the fast destination wrote %d chunks while the slow one wrote none, want %d (the buffers)", n, buffers)
	}
	if n := reads.Load(); n > buffers*4096 {
		t.Errorf("%d bytes read while the slow destination wrote nothing, want at most %d (the buffers)", n, buffers*4096)
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := reference(img, m)
	if !bytes.Equal(fast.data, want.data) || !bytes.Equal(slow.data, want.data) {
		t.Error("a destination differs from the reference copy")
	}
}

// TestCopyToSourceFailure: when the image turns out bad, every destination
// holds the same verified start, and its error says so.
func TestCopyToSourceFailure(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	img := randomImage(rng, 64*4096)
	m := makeMap(img, 4096, [][2]int64{{0, 3}, {8, 8}, {10, 19}, {30, 40}, {50, 63}})
	boom := errors.New("boom")
	for run := range 5 {
		ds := []*memDest{newMemDest(int64(len(img))), newMemDest(int64(len(img))), newMemDest(int64(len(img)))}
		src := io.MultiReader(bytes.NewReader(img[:33*4096]), iotest.ErrReader(boom))
		st, err := CopyTo(context.Background(), writers(ds...), stream{src}, m, Options{BufferSize: 4096, Buffers: 8})
		const msg = "up to block 19, written and verified (3 of 5 ranges, up to byte 81919); blocks 30-32 were written but not verified"
		var pe *PartialError
		if !errors.As(err, &pe) || !errors.Is(err, boom) || !strings.Contains(err.Error(), msg) {
			t.Fatalf("run %d: err = %v, want a PartialError saying %q", run, err, msg)
		}
		want := held(img, m, 33*4096)
		for i, d := range ds {
			if !bytes.Equal(d.data, want) {
				t.Fatalf("run %d: destination %d does not hold what it should", run, i)
			}
			if e := st.Dests[i].Err; !errors.As(e, &pe) || !strings.Contains(e.Error(), msg) {
				t.Fatalf("run %d: destination %d: err = %v", run, i, e)
			}
		}
	}
}
