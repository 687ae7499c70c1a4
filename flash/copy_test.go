package flash

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/bmap-tools/bmap/bmap"
)

// memDest is an in-memory io.WriterAt that records which bytes were written.
type memDest struct {
	mu      sync.Mutex
	data    []byte
	written []bool
}

func newMemDest(size int64) *memDest {
	return &memDest{data: make([]byte, size), written: make([]bool, size)}
}

func (d *memDest) WriteAt(p []byte, off int64) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if off+int64(len(p)) > int64(len(d.data)) {
		return 0, errors.New("write past the end")
	}
	copy(d.data[off:], p)
	for i := range p {
		d.written[off+int64(i)] = true
	}
	return len(p), nil
}

// makeMap builds a valid map over img with the given block ranges, checksums
// computed from img.
func makeMap(img []byte, bs int64, ranges [][2]int64) *bmap.Map {
	m := &bmap.Map{Version: "2.0", ImageSize: int64(len(img)), BlockSize: bs, ChecksumType: "sha256"}
	m.BlocksCount = (m.ImageSize + bs - 1) / bs
	for _, fl := range ranges {
		r := bmap.Range{First: fl[0], Last: fl[1]}
		sum := sha256.Sum256(img[m.Offset(r) : m.Offset(r)+m.Length(r)])
		r.Checksum = sum[:]
		m.Ranges = append(m.Ranges, r)
		m.MappedBlocksCount += r.Blocks()
	}
	return m
}

// reference is the naive copier Copy must agree with.
func reference(img []byte, m *bmap.Map) *memDest {
	d := newMemDest(int64(len(img)))
	for _, r := range m.Ranges {
		d.WriteAt(img[m.Offset(r):m.Offset(r)+m.Length(r)], m.Offset(r))
	}
	return d
}

func randomImage(rng *rand.Rand, size int) []byte {
	img := make([]byte, size)
	for i := range img {
		img[i] = byte(rng.UintN(256))
	}
	return img
}

// stream hides Seek, so Copy must discard holes.
type stream struct{ io.Reader }

// discarder is a stream with a Discard method, like a *decompress.Reader:
// it counts the bytes Read returns.
type discarder struct {
	*bufio.Reader
	read int
}

func newDiscarder(b []byte) *discarder {
	return &discarder{Reader: bufio.NewReader(stream{bytes.NewReader(b)})}
}

func (d *discarder) Read(p []byte) (int, error) {
	n, err := d.Reader.Read(p)
	d.read += n
	return n, err
}

func TestCopyMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	img := randomImage(rng, 10*4096+1000) // partial last block
	m := makeMap(img, 4096, [][2]int64{{0, 0}, {2, 4}, {7, 7}, {9, 10}})
	want := reference(img, m)
	readers := map[string]func() io.Reader{
		"seekable": func() io.Reader { return bytes.NewReader(img) },
		"stream":   func() io.Reader { return stream{bytes.NewReader(img)} },
		"onebyte":  func() io.Reader { return iotest.OneByteReader(bytes.NewReader(img)) },
		"half":     func() io.Reader { return iotest.HalfReader(bytes.NewReader(img)) },
		"dataerr":  func() io.Reader { return iotest.DataErrReader(bytes.NewReader(img)) },
		"discard":  func() io.Reader { return newDiscarder(img) },
	}
	for name, src := range readers {
		for _, bufSize := range []int{4096, 8192, 1 << 20} {
			d := newMemDest(int64(len(img)))
			st, err := Copy(context.Background(), d, src(), m, Options{BufferSize: bufSize, Buffers: 2})
			if err != nil {
				t.Fatalf("%s/%d: Copy: %v", name, bufSize, err)
			}
			if !bytes.Equal(d.data, want.data) || !equalBools(d.written, want.written) {
				t.Fatalf("%s/%d: destination differs from the reference copy", name, bufSize)
			}
			if st.WrittenBlocks != m.MappedBlocksCount || st.VerifiedRanges != len(m.Ranges) || st.ImageBytes != int64(len(img)) {
				t.Errorf("%s/%d: stats %+v", name, bufSize, st)
			}
		}
	}
}

// TestCopyDiscardsHoles: a stream that can Discard has its holes skipped
// with it, so only the mapped bytes are read (and one more Read sees the
// end); a Discarder that ends early is a short image.
func TestCopyDiscardsHoles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	img := randomImage(rng, 40*4096)
	m := makeMap(img, 4096, [][2]int64{{1, 2}, {10, 10}, {30, 33}})
	src := newDiscarder(img)
	if _, err := Copy(context.Background(), newMemDest(int64(len(img))), src, m, Options{BufferSize: 8192}); err != nil {
		t.Fatal(err)
	}
	if want := m.MappedBlocksCount * 4096; int64(src.read) != want {
		t.Errorf("Copy read %d bytes of a Discarder, want the %d mapped bytes: holes were read, not discarded", src.read, want)
	}
	_, err := Copy(context.Background(), newMemDest(int64(len(img))), newDiscarder(img[:20*4096]), m, Options{})
	if se := (*ShortImageError)(nil); !errors.As(err, &se) || se.Got != 20*4096 {
		t.Errorf("Copy of a Discarder ending in a hole at byte %d: %v, want a ShortImageError there", 20*4096, err)
	}
}

// eagerEOF serves b as archive/tar's member reader does: the last bytes
// come with io.EOF, from Read and from Discard.
type eagerEOF struct {
	b   []byte
	err error // returned with the last bytes; io.EOF if nil
}

func (e *eagerEOF) end() error {
	if len(e.b) > 0 {
		return nil
	}
	if e.err != nil {
		return e.err
	}
	return io.EOF
}

func (e *eagerEOF) Read(p []byte) (int, error) {
	n := copy(p, e.b)
	e.b = e.b[n:]
	return n, e.end()
}

func (e *eagerEOF) Discard(n int) (int, error) {
	n = min(n, len(e.b))
	e.b = e.b[n:]
	return n, e.end()
}

// TestCopyDiscardToTheEnd: a Discarder that returns its last bytes and
// io.EOF together, as tar's and zip's member readers do, ends an image
// whose last block is a hole exactly where the bmap says; ending in an
// earlier hole is a short image, at the byte where it ended; any other
// error with the last bytes is reported as it is.
func TestCopyDiscardToTheEnd(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 7))
	img := randomImage(rng, 40*4096+100) // a partial last block, in a hole
	m := makeMap(img, 4096, [][2]int64{{1, 2}, {10, 10}, {30, 33}})
	for _, bufSize := range []int{4096, 1 << 20} {
		d := newMemDest(int64(len(img)))
		if _, err := Copy(context.Background(), d, &eagerEOF{b: img}, m, Options{BufferSize: bufSize}); err != nil {
			t.Fatalf("buffer %d: Copy of an image ending in a hole: %v", bufSize, err)
		}
		if !bytes.Equal(d.data, reference(img, m).data) {
			t.Fatalf("buffer %d: destination differs from the reference copy", bufSize)
		}
	}
	_, err := Copy(context.Background(), newMemDest(int64(len(img))), &eagerEOF{b: img[:20*4096]}, m, Options{})
	var se *ShortImageError
	if !errors.As(err, &se) || se.Got != 20*4096 || se.Want != int64(len(img)) {
		t.Errorf("Copy of an image that ends in a hole at byte %d: %v, want a ShortImageError there", 20*4096, err)
	}
	boom := errors.New("boom")
	_, err = Copy(context.Background(), newMemDest(int64(len(img))), &eagerEOF{b: img, err: boom}, m, Options{})
	if !errors.Is(err, boom) || errors.As(err, &se) || !strings.Contains(err.Error(), "all 3 mapped ranges were written and verified") {
		t.Errorf("Copy of an image whose end comes with an error: %v, want that error, every range written", err)
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCopyChecksumMismatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	img := randomImage(rng, 8*4096)
	m := makeMap(img, 4096, [][2]int64{{1, 2}, {5, 6}})
	bad := bytes.Clone(img)
	bad[5*4096+100] ^= 1
	_, err := Copy(context.Background(), newMemDest(int64(len(img))), bytes.NewReader(bad), m, Options{})
	var ce *bmap.ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("Copy of a corrupted image: err = %v, want a *bmap.ChecksumError", err)
	}
	if ce.Range.First != 5 || ce.Range.Last != 6 || ce.Offset != 5*4096 {
		t.Errorf("ChecksumError names %+v at %d, want blocks 5-6 at byte 20480", ce.Range, ce.Offset)
	}
	// The destination holds the range before the bad one; the bad range
	// (one buffer) was not written.
	for _, s := range []string{"blocks 5-6", "bytes 20480-28671", "up to block 2, written and verified", "blocks 5-6 were not written"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	// --no-verify copies the same data without complaint.
	if _, err := Copy(context.Background(), newMemDest(int64(len(img))), bytes.NewReader(bad), m, Options{NoVerify: true}); err != nil {
		t.Errorf("Copy with NoVerify: %v", err)
	}
}

func TestCopyWrongLength(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	img := randomImage(rng, 6*4096+10)
	m := makeMap(img, 4096, [][2]int64{{0, 1}, {4, 6}})
	for _, tc := range []struct {
		name string
		src  []byte
		want any
	}{
		{"short in a range", img[:5*4096], new(*ShortImageError)},
		{"short in the tail hole", img[:len(img)-1], new(*ShortImageError)},
		{"empty", nil, new(*ShortImageError)},
		{"long", append(bytes.Clone(img), 0), new(*LongImageError)},
	} {
		for _, s := range []bool{false, true} {
			var src io.Reader = bytes.NewReader(tc.src)
			if s {
				src = stream{src}
			}
			_, err := Copy(context.Background(), newMemDest(int64(len(img))), src, m, Options{NoVerify: true})
			if err == nil || !errors.As(err, tc.want) {
				t.Errorf("%s (stream %v): err = %v, want %T", tc.name, s, err, tc.want)
			}
			var se *ShortImageError
			if errors.As(err, &se) && (se.Got != int64(len(tc.src)) || se.Want != int64(len(img))) {
				t.Errorf("%s (stream %v): %v, want the image to end at byte %d of %d", tc.name, s, err, len(tc.src), len(img))
			}
		}
	}
}

func TestCopyReadError(t *testing.T) {
	img := make([]byte, 4*4096)
	m := makeMap(img, 4096, [][2]int64{{0, 3}})
	boom := errors.New("boom")
	src := io.MultiReader(bytes.NewReader(img[:5000]), iotest.ErrReader(boom))
	_, err := Copy(context.Background(), newMemDest(int64(len(img))), src, m, Options{BufferSize: 4096})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "byte 5000") {
		t.Errorf("err = %v, want boom at byte 5000", err)
	}
}

// failingDest fails every write at or after limit.
type failingDest struct {
	*memDest
	limit int64
}

func (d failingDest) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > d.limit {
		return 0, errors.New("no space left on device")
	}
	return d.memDest.WriteAt(p, off)
}

func TestCopyWriteErrorStopsEverything(t *testing.T) {
	img := make([]byte, 64*4096)
	m := makeMap(img, 4096, [][2]int64{{0, 63}})
	d := failingDest{newMemDest(int64(len(img))), 20 * 4096}
	_, err := Copy(context.Background(), d, bytes.NewReader(img), m, Options{BufferSize: 4096, Buffers: 3})
	if err == nil || !strings.Contains(err.Error(), "at byte 81920") || !strings.Contains(err.Error(), "no space left") {
		t.Errorf("err = %v, want the write failure at byte 81920", err)
	}
}

func TestCopyCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	img := make([]byte, 16*4096)
	m := makeMap(img, 4096, [][2]int64{{0, 15}})
	if _, err := Copy(ctx, newMemDest(int64(len(img))), bytes.NewReader(img), m, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestCopyWithoutMap(t *testing.T) {
	img := randomImage(rand.New(rand.NewPCG(7, 8)), 3*4096+17)
	d := newMemDest(int64(len(img)))
	st, err := Copy(context.Background(), d, stream{bytes.NewReader(img)}, nil, Options{BufferSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.data, img) || st.ImageBytes != int64(len(img)) || st.WrittenBytes != int64(len(img)) {
		t.Errorf("copy without map: stats %+v, data equal %v", st, bytes.Equal(d.data, img))
	}
}

// FuzzCopy checks Copy against the naive reference copier for random images,
// maps and buffer sizes.
func FuzzCopy(f *testing.F) {
	f.Add(uint64(1), uint16(5000), uint16(512), uint8(3), uint8(2), false)
	f.Add(uint64(2), uint16(65535), uint16(4096), uint8(1), uint8(1), true)
	f.Fuzz(fuzzOne)
}

func fuzzOne(t *testing.T, seed uint64, size, bs uint16, bufPages, nbuf uint8, streamed bool) {
	if size == 0 || bs == 0 {
		return
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	img := randomImage(rng, int(size))
	blocks := (int64(size) + int64(bs) - 1) / int64(bs)
	var ranges [][2]int64
	for b := int64(0); b < blocks; b++ {
		if rng.IntN(2) == 0 {
			continue
		}
		last := b + rng.Int64N(blocks-b)
		ranges = append(ranges, [2]int64{b, last})
		b = last + rng.Int64N(3)
	}
	m := makeMap(img, int64(bs), ranges)
	var src io.Reader = bytes.NewReader(img)
	if streamed {
		src = stream{src}
	}
	d := newMemDest(int64(size))
	st, err := Copy(context.Background(), d, src, m, Options{BufferSize: int(bufPages%8+1) * 4096, Buffers: int(nbuf%4 + 1)})
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	want := reference(img, m)
	if !bytes.Equal(d.data, want.data) || !equalBools(d.written, want.written) {
		t.Fatal("destination differs from the reference copy")
	}
	if st.WrittenBlocks != m.MappedBlocksCount {
		t.Fatalf("wrote %d blocks, want %d", st.WrittenBlocks, m.MappedBlocksCount)
	}
}

// TestCopyLanes copies a random-access source whose ranges are read and
// hashed side by side: the result, the stats and the order in which ranges
// are reported verified must be those of a sequential copy.
func TestCopyLanes(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(maxLanes))
	defer func(n int) { openLanes = n }(openLanes)
	openLanes = maxLanes
	rng := rand.New(rand.NewPCG(7, 8))
	img := randomImage(rng, 300*4096+123)
	var ranges [][2]int64
	for first := int64(0); first < 290; {
		last := first + int64(rng.IntN(40))
		ranges = append(ranges, [2]int64{first, last})
		first = last + 2 + int64(rng.IntN(5))
	}
	m := makeMap(img, 4096, ranges)
	m.Ranges[3].Checksum = nil // a range without a checksum is copied, not reported
	want := reference(img, m)
	for _, bufSize := range []int{4096, 3 * 4096, 1 << 20} {
		d := newMemDest(int64(len(img)))
		var got []bmap.Range
		var p Progress
		st, err := Copy(context.Background(), d, bytes.NewReader(img), m, Options{BufferSize: bufSize, Buffers: 3, Progress: &p,
			Verified: func(r bmap.Range) { got = append(got, r) }})
		if err != nil {
			t.Fatalf("buffer %d: Copy: %v", bufSize, err)
		}
		if !bytes.Equal(d.data, want.data) || !equalBools(d.written, want.written) {
			t.Fatalf("buffer %d: destination differs from the reference copy", bufSize)
		}
		if len(got) != len(m.Ranges)-1 || st.VerifiedRanges != len(m.Ranges)-1 || p.VerifiedRanges.Load() != int64(len(m.Ranges)-1) {
			t.Fatalf("buffer %d: %d ranges reported, stats say %d, want %d", bufSize, len(got), st.VerifiedRanges, len(m.Ranges)-1)
		}
		for i, j := 0, 0; i < len(m.Ranges); i++ {
			if i == 3 {
				continue
			}
			if got[j].First != m.Ranges[i].First {
				t.Fatalf("buffer %d: report %d is blocks %d-%d, want range %d (blocks %d-%d): out of order", bufSize, j, got[j].First, got[j].Last, i, m.Ranges[i].First, m.Ranges[i].Last)
			}
			j++
		}
		if st.ImageBytes != int64(len(img)) || p.ImageBytes.Load() != int64(len(img)) || st.WrittenBlocks != m.MappedBlocksCount {
			t.Errorf("buffer %d: stats %+v, progress image bytes %d", bufSize, st, p.ImageBytes.Load())
		}
	}

	// A bad range in any lane stops the copy with its checksum error.
	bad := bytes.Clone(img)
	r := m.Ranges[len(m.Ranges)-2]
	bad[m.Offset(r)+10] ^= 0x80
	_, err := Copy(context.Background(), newMemDest(int64(len(img))), bytes.NewReader(bad), m, Options{BufferSize: 4096, Buffers: 3})
	if ce := (*bmap.ChecksumError)(nil); !errors.As(err, &ce) || ce.Range.First != r.First {
		t.Errorf("corrupt range %d-%d: err = %v, want its checksum error", r.First, r.Last, err)
	}
}

// orderDest is an io.WriterAt that keeps the data and the offsets written,
// in order, each write taking delay.
type orderDest struct {
	mu    sync.Mutex
	data  []byte
	offs  []int64
	delay time.Duration
}

func (d *orderDest) WriteAt(p []byte, off int64) (int, error) {
	time.Sleep(d.delay)
	d.mu.Lock()
	defer d.mu.Unlock()
	copy(d.data[off:], p)
	d.offs = append(d.offs, off)
	return len(p), nil
}

// inOrder reports whether the writes went in ascending order.
func (d *orderDest) inOrder() bool {
	return slices.IsSorted(d.offs)
}

// TestCopyLanesOnDemand copies a raw image (a random-access source) into a
// destination faster than hashing, where more lanes open and ranges are
// written in turns, and into a slow one, where the copy stays on one lane
// and writes in the image's order.
func TestCopyLanesOnDemand(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(maxLanes))
	rng := rand.New(rand.NewPCG(11, 12))
	img := randomImage(rng, 32<<20)
	var ranges [][2]int64
	for first := int64(0); first+1024 < int64(len(img))/4096; first += 1024 {
		ranges = append(ranges, [2]int64{first, first + 1000})
	}
	m := makeMap(img, 4096, ranges)
	want := reference(img, m)
	for _, tc := range []struct {
		name    string
		delay   time.Duration
		inOrder bool
	}{{"fast destination", 0, false}, {"slow destination", 4 * time.Millisecond, true}} {
		d := &orderDest{data: make([]byte, len(img)), delay: tc.delay}
		// Fault the destination's pages in now: on a VM a page fault can
		// cost more than hashing the 4 KiB, which would make the "fast"
		// destination slower than SHA-256 while it is first written.
		clear(d.data)
		if _, err := Copy(context.Background(), d, bytes.NewReader(img), m, Options{BufferSize: 64 << 10, Buffers: 4}); err != nil {
			t.Fatalf("%s: Copy: %v", tc.name, err)
		}
		if !bytes.Equal(d.data, want.data) {
			t.Fatalf("%s: destination differs from the reference copy", tc.name)
		}
		if d.inOrder() != tc.inOrder {
			t.Errorf("%s: writes in the image's order: %v, want %v (lanes open only when hashing lags)", tc.name, d.inOrder(), tc.inOrder)
		}
	}
}

// gatedDest is a memDest whose writes wait until gate is closed, so that
// chunks queue up before it while the other stages go on.
type gatedDest struct {
	*memDest
	gate chan struct{}
}

func (d gatedDest) WriteAt(p []byte, off int64) (int, error) {
	<-d.gate
	return d.memDest.WriteAt(p, off)
}

// gateReader closes gate once r has returned n bytes or an error.
type gateReader struct {
	r    io.Reader
	n    int
	gate chan struct{}
	once sync.Once
}

func (g *gateReader) Read(p []byte) (int, error) {
	k, err := g.r.Read(p)
	if g.n -= k; g.n <= 0 || err != nil {
		g.once.Do(func() { close(g.gate) })
	}
	return k, err
}

// TestCopyFailureOutcome: when reading fails or a range fails its checksum
// while chunks read before wait to be written, those chunks are written,
// every time, and the error says what the destination holds.
func TestCopyFailureOutcome(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	img := randomImage(rng, 64*4096)
	m := makeMap(img, 4096, [][2]int64{{0, 3}, {8, 8}, {10, 19}, {30, 40}, {50, 63}})
	boom := errors.New("boom")
	bad := bytes.Clone(img)
	bad[35*4096] ^= 1 // in blocks 30-40
	tests := []struct {
		name string
		data []byte // the source: data, then boom unless it is the image
		open int    // source bytes after which writes may go on
		want []byte // what the destination must hold
		msg  string
	}{
		{
			// Trailing garbage after a compressed stream: all data was
			// read, the error comes when the end is checked.
			name: "error after the end",
			data: img,
			open: len(img) + 1,
			want: reference(img, m).data,
			msg:  "all 5 mapped ranges were written and verified",
		},
		{
			name: "error in a range",
			data: img[:33*4096],
			open: len(img) + 1,
			want: held(img, m, 33*4096),
			msg:  "up to block 19, written and verified (3 of 5 ranges, up to byte 81919); blocks 30-32 were written but not verified (the start of blocks 30-40), blocks 33-63 were not written",
		},
		{
			name: "checksum mismatch",
			data: bad,
			open: 41 * 4096,
			// The bad range's chunks but its last are written: a
			// range's checksum is known at its end.
			want: held(bad, m, 40*4096),
			msg:  "up to block 19, written and verified (3 of 5 ranges, up to byte 81919); blocks 30-39 were written but not verified (the start of blocks 30-40), blocks 40-63 were not written",
		},
	}
	for _, tt := range tests {
		for run := range 10 {
			gate := make(chan struct{})
			var src io.Reader = bytes.NewReader(tt.data)
			if &tt.data[0] == &img[0] {
				src = io.MultiReader(src, iotest.ErrReader(boom))
			}
			src = &gateReader{r: src, n: tt.open, gate: gate}
			d := gatedDest{newMemDest(int64(len(img))), gate}
			_, err := Copy(context.Background(), d, stream{src}, m, Options{BufferSize: 4096, Buffers: 64})
			if !bytes.Equal(d.data, tt.want) {
				t.Fatalf("%s, run %d: the destination does not hold what it should (err = %v)", tt.name, run, err)
			}
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("%s, run %d: err = %v, want it to say %q", tt.name, run, err, tt.msg)
			}
		}
	}
}

// held is what a copy of img with map m holds when it stopped after
// reading image byte end: the mapped bytes before end.
func held(img []byte, m *bmap.Map, end int64) []byte {
	d := newMemDest(int64(len(img)))
	for _, r := range m.Ranges {
		off := m.Offset(r)
		if e := min(off+m.Length(r), end); off < e {
			d.WriteAt(img[off:e], off)
		}
	}
	return d.data
}
