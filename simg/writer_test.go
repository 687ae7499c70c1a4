package simg

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/bmap-tools/bmap/bmap"
)

// chunkList returns the chunks of a sparse image as "TYPE:blocks" words,
// FILL with its pattern.
func chunkList(t *testing.T, data []byte) string {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var words []string
	for {
		c, err := r.Next()
		if err == io.EOF {
			return strings.Join(words, " ")
		}
		if err != nil {
			t.Fatal(err)
		}
		w := fmt.Sprintf("%s:%d", c.Type, c.Length/int64(r.Header().BlockSize))
		if c.Type == Fill {
			w += fmt.Sprintf("=%x", c.Pattern)
		}
		words = append(words, w)
	}
}

// exactMap maps the blocks of a shape its regions touch.
func exactMap(s shape, bs int64) *bmap.Map {
	blocks := (s.size + bs - 1) / bs
	mapped := make([]bool, blocks)
	for _, r := range s.regions {
		for b := r.off / bs; b <= (r.off+int64(len(r.data))-1)/bs; b++ {
			mapped[b] = true
		}
	}
	m := &bmap.Map{Version: "2.0", ImageSize: s.size, BlockSize: bs, BlocksCount: blocks, ChecksumType: "sha256"}
	img := s.bytes()
	for b := int64(0); b < blocks; b++ {
		if !mapped[b] {
			continue
		}
		if n := len(m.Ranges); n > 0 && m.Ranges[n-1].Last == b-1 {
			m.Ranges[n-1].Last = b
		} else {
			m.Ranges = append(m.Ranges, bmap.Range{First: b, Last: b})
		}
		m.MappedBlocksCount++
	}
	for i, r := range m.Ranges {
		sum := sha256.Sum256(img[m.Offset(r) : m.Offset(r)+m.Length(r)])
		m.Ranges[i].Checksum = sum[:]
	}
	return m
}

// TestWriterChunks checks which chunks the Writer makes of each shape.
func TestWriterChunks(t *testing.T) {
	want := map[string]string{
		"ends-in-hole":           "RAW:2 DONT_CARE:73 RAW:3 DONT_CARE:178",
		"ends-in-data":           "DONT_CARE:25 RAW:1 DONT_CARE:226 RAW:4",
		"all-holes":              "DONT_CARE:256",
		"fully-mapped":           "RAW:128",
		"patterns":               "RAW:1 FILL:16=deadbeef FILL:8=00000000 FILL:4=01010101 RAW:1 FILL:2=deadbeef DONT_CARE:118 RAW:1 FILL:2=00000007 DONT_CARE:103",
		"unaligned-ends-in-data": "RAW:1 DONT_CARE:254 RAW:2",
		"unaligned-ends-in-hole": "DONT_CARE:2 RAW:2 DONT_CARE:21",
		"one-partial-block":      "RAW:1",
	}
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			img := s.bytes()
			for _, crc := range []bool{false, true} {
				var f memFile
				if err := FromRaw(context.Background(), &f, bytes.NewReader(img), exactMap(s, 4096), WriterOptions{CRC: crc}); err != nil {
					t.Fatal(err)
				}
				w := want[s.name]
				if crc {
					w += " CRC32:0"
				}
				if got := chunkList(t, f.b); got != w {
					t.Fatalf("CRC %v: chunks %s, want %s", crc, got, w)
				}
				got, err := readAll(f.b)
				if err != nil || !bytes.Equal(got, padded(img, 4096)) {
					t.Fatalf("CRC %v: reading it back: %v, image equal %v", crc, err, bytes.Equal(got, padded(img, 4096)))
				}
			}
		})
	}
}

// TestWriterPieces writes the same image in pieces of every size, holes
// included at odd places: the output is the same sparse image, and it
// reads back as the image.
func TestWriterPieces(t *testing.T) {
	const bs = 64
	img := bytes.Join([][]byte{random(40, 100), repeat("wxyz", 800), make([]byte, 300), random(41, 77)}, nil)
	hole := func(i int) bool { return i >= 1000 && i < 1200 } // zeros of img, written as a hole
	write := func(piece int) []byte {
		var f memFile
		w, err := NewWriter(&f, bs, WriterOptions{CRC: true})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(img); {
			if hole(i) {
				j := i
				for j < len(img) && hole(j) && j-i < piece {
					j++
				}
				if err := w.Skip(int64(j - i)); err != nil {
					t.Fatal(err)
				}
				i = j
				continue
			}
			j := min(i+piece, len(img))
			for k := i; k < j; k++ {
				if hole(k) {
					j = k
					break
				}
			}
			if n, err := w.Write(img[i:j]); err != nil || n != j-i {
				t.Fatalf("Write = %d, %v", n, err)
			}
			i = j
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return f.b
	}
	ref := write(len(img))
	for _, piece := range []int{1, 3, 4, 63, 64, 65, 200} {
		if got := write(piece); !bytes.Equal(got, ref) {
			t.Fatalf("written in pieces of %d: %s\nin one piece: %s", piece, chunkList(t, got), chunkList(t, ref))
		}
	}
	got, err := readAll(ref)
	if err != nil || !bytes.Equal(got, padded(img, bs)) {
		t.Fatalf("reading back: %v", err)
	}
	// Blocks 16-17 are wholly hole: a DONT_CARE chunk; block 15, zeros
	// partly written, is data.
	if l, want := chunkList(t, ref), "RAW:2 FILL:12=7778797a RAW:1 FILL:1=00000000 DONT_CARE:2 RAW:2 CRC32:0"; l != want {
		t.Fatalf("chunks %s, want %s", l, want)
	}
}

// TestWriterChunkLimits lowers the largest chunks so that runs split.
func TestWriterChunkLimits(t *testing.T) {
	defer func(raw func(int64) int64, run int64) { maxRawBlocks, maxRunBlocks = raw, run }(maxRawBlocks, maxRunBlocks)
	maxRawBlocks = func(int64) int64 { return 3 }
	maxRunBlocks = 2
	img := bytes.Join([][]byte{random(42, 7*16), repeat("abcd", 5*16)}, nil)
	var f memFile
	w, _ := NewWriter(&f, 16, WriterOptions{})
	w.Write(img)
	w.Skip(5 * 16)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "RAW:3 RAW:3 RAW:1 FILL:2=61626364 FILL:2=61626364 FILL:1=61626364 DONT_CARE:2 DONT_CARE:2 DONT_CARE:1"
	if got := chunkList(t, f.b); got != want {
		t.Fatalf("chunks %s, want %s", got, want)
	}
	got, err := readAll(f.b)
	if err != nil || !bytes.Equal(got, append(img, make([]byte, 80)...)) {
		t.Fatalf("reading back: %v", err)
	}
}

func TestWriterErrors(t *testing.T) {
	for _, bs := range []int64{0, -4, 6, 1 << 32} {
		if _, err := NewWriter(&memFile{}, bs, WriterOptions{}); err == nil {
			t.Errorf("NewWriter with block size %d: no error", bs)
		}
	}
	w, _ := NewWriter(&memFile{}, 4096, WriterOptions{})
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("closing an empty image: %v", err)
	}
	w, _ = NewWriter(&memFile{}, 4096, WriterOptions{})
	w.Skip(1)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); err != ErrClosed {
		t.Errorf("Write after Close: %v", err)
	}
	boom := errors.New("boom")
	w, _ = NewWriter(failingFile{boom}, 4096, WriterOptions{})
	w.Write(random(43, 8<<20))
	if err := w.Close(); !errors.Is(err, boom) {
		t.Errorf("a failing destination: %v", err)
	}
}

type failingFile struct{ err error }

func (f failingFile) WriteAt([]byte, int64) (int, error) { return 0, f.err }

// TestFromRaw checks what FromRaw refuses, and that a stream, a
// discarder and a file as source make the same output.
func TestFromRaw(t *testing.T) {
	ctx := context.Background()
	s := shapes[4] // patterns
	img := s.bytes()
	m := exactMap(s, 4096)
	var ref memFile
	if err := FromRaw(ctx, &ref, bytes.NewReader(img), m, WriterOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]io.Reader{
		"stream":    stream{bytes.NewReader(img)},
		"discarder": discarder{bytes.NewReader(img)},
		"one byte":  iotest.OneByteReader(bytes.NewReader(img)),
	} {
		var f memFile
		if err := FromRaw(ctx, &f, src, m, WriterOptions{}); err != nil || !bytes.Equal(f.b, ref.b) {
			t.Fatalf("%s: %v, output equal %v", name, err, bytes.Equal(f.b, ref.b))
		}
	}

	bad := bytes.Clone(img)
	bad[4096+100] ^= 1
	var ce *bmap.ChecksumError
	if err := FromRaw(ctx, &memFile{}, bytes.NewReader(bad), m, WriterOptions{}); !errors.As(err, &ce) || ce.Range.First != 0 {
		t.Fatalf("a damaged range: %v, want a *bmap.ChecksumError for blocks 0-...", err)
	}
	for name, src := range map[string]io.Reader{
		"short file":   bytes.NewReader(img[:len(img)-1]),
		"short stream": stream{bytes.NewReader(img[:len(img)-1])},
		"long file":    bytes.NewReader(append(bytes.Clone(img), 0)),
		"long stream":  stream{bytes.NewReader(append(bytes.Clone(img), 0))},
	} {
		if err := FromRaw(ctx, &memFile{}, src, m, WriterOptions{}); err == nil {
			t.Errorf("%s: no error", name)
		} else if strings.HasPrefix(name, "short stream") && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: %v, want io.ErrUnexpectedEOF", name, err)
		}
	}
	odd := *m
	odd.BlockSize = 4098
	if err := FromRaw(ctx, &memFile{}, bytes.NewReader(img), &odd, WriterOptions{}); err == nil {
		t.Errorf("a bmap with 4098-byte blocks: no error")
	}
}

type discarder struct{ r *bytes.Reader }

func (d discarder) Read(p []byte) (int, error) { return d.r.Read(p) }
func (d discarder) Discard(n int) (int, error) {
	k := min(n, d.r.Len())
	d.r.Seek(int64(k), io.SeekCurrent)
	if k < n {
		return k, io.EOF
	}
	return k, nil
}

// TestToRawMemory expands the base file (every chunk type) in memory.
func TestToRawMemory(t *testing.T) {
	for _, opt := range []MapOptions{{}, {ZeroFillIsHole: true}} {
		var f memFile
		f.b = bytes.Repeat([]byte{0xff}, 200) // old content, which must go
		m, err := ToRaw(context.Background(), &f, stream{bytes.NewReader(baseFile())}, opt)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.b, baseImage) {
			t.Fatalf("ToRaw wrote %x, want %x", f.b, baseImage)
		}
		if m.MappedBlocksCount != 6 || len(m.Ranges) != 2 {
			t.Fatalf("map %+v", m)
		}
		for _, r := range m.Ranges {
			if sum := sha256.Sum256(baseImage[m.Offset(r) : m.Offset(r)+m.Length(r)]); !bytes.Equal(sum[:], r.Checksum) {
				t.Fatalf("range %d-%d: checksum %x, want %x", r.First, r.Last, r.Checksum, sum)
			}
		}
	}
	// A FILL of zeros is data unless told otherwise.
	data := assemble(header(16, 4, 3), rawChunk(1, baseRaw1), fillChunk(2, "\x00\x00\x00\x00"), rawChunk(1, baseRaw1))
	for _, tc := range []struct {
		opt    MapOptions
		ranges int
		mapped int64
	}{{MapOptions{}, 1, 4}, {MapOptions{ZeroFillIsHole: true}, 2, 2}} {
		m, err := ToRaw(context.Background(), &memFile{}, bytes.NewReader(data), tc.opt)
		if err != nil || len(m.Ranges) != tc.ranges || m.MappedBlocksCount != tc.mapped {
			t.Fatalf("%+v: map %+v, %v", tc.opt, m, err)
		}
		if m2, _ := ReadMap(bytes.NewReader(data), int64(len(data)), tc.opt); len(m2.Ranges) != tc.ranges || m2.MappedBlocksCount != tc.mapped {
			t.Fatalf("%+v: ReadMap %+v", tc.opt, m2)
		}
	}
}
