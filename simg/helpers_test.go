package simg

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// region is image bytes written at an offset.
type region struct {
	off  int64
	data []byte
}

// shape is a test image: size bytes, zero but for its regions, which are
// written into a sparse file with holes elsewhere.
type shape struct {
	name    string
	size    int64
	regions []region
}

func random(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func repeat(pat string, n int) []byte { return bytes.Repeat([]byte(pat), n/len(pat)) }

// shapes are the images the interop tests convert with the real tools.
// Their data sits on 4 KiB boundaries, as a filesystem's would, except
// where a shape says otherwise.
var shapes = []shape{
	{"ends-in-hole", 1 << 20, []region{{0, random(1, 8192)}, {300 << 10, random(2, 12288)}}},
	{"ends-in-data", 1 << 20, []region{{100 << 10, random(3, 4096)}, {1<<20 - 16384, random(4, 16384)}}},
	{"all-holes", 1 << 20, nil},
	{"fully-mapped", 512 << 10, []region{{0, random(5, 512<<10)}}},
	{"patterns", 1 << 20, []region{
		{0, random(6, 4096)},
		{4096, repeat("\xde\xad\xbe\xef", 64<<10)},        // a run of one pattern
		{68 << 10, make([]byte, 32<<10)},                  // zeros written: allocated, still a pattern
		{100 << 10, repeat("\x01", 16<<10)},               // another pattern
		{116 << 10, append(repeat("ab", 4094), 'x', 'y')}, // a pattern but for its last bytes
		{120 << 10, repeat("\xde\xad\xbe\xef", 8<<10)},    // the first pattern again, after RAW
		{600 << 10, append(random(7, 4096), repeat("\x00\x00\x00\x07", 8192)...)},
	}},
	{"unaligned-ends-in-data", 1<<20 + 1234, []region{{0, random(8, 4096)}, {1<<20 - 4096, random(9, 4096+1234)}}},
	{"unaligned-ends-in-hole", 100000, []region{{8192, random(10, 5000)}}},
	{"one-partial-block", 1000, []region{{0, random(11, 1000)}}},
}

// bytes returns the shape's image.
func (s shape) bytes() []byte {
	b := make([]byte, s.size)
	for _, r := range s.regions {
		copy(b[r.off:], r.data)
	}
	return b
}

// file writes the shape as a sparse file in dir.
func (s shape) file(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, s.name+".img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(s.size); err != nil {
		t.Fatal(err)
	}
	for _, r := range s.regions {
		if _, err := f.WriteAt(r.data, r.off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// padded returns b with zeros up to a multiple of bs: the image a sparse
// image of b holds.
func padded(b []byte, bs int64) []byte {
	n := (int64(len(b)) + bs - 1) / bs * bs
	return append(b[:len(b):len(b)], make([]byte, n-int64(len(b)))...)
}

// tool returns the path of a program the test needs, or skips the test.
func tool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (Debian package %s)", name, pkg)
	}
	return p
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
}

// memFile is an in-memory file: an io.WriterAt that grows, with Truncate.
type memFile struct{ b []byte }

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	if end := off + int64(len(p)); end > int64(len(f.b)) {
		f.b = append(f.b, make([]byte, end-int64(len(f.b)))...)
	}
	return copy(f.b[off:], p), nil
}

func (f *memFile) Truncate(n int64) error {
	if n <= int64(len(f.b)) {
		f.b = f.b[:n]
	} else {
		f.b = append(f.b, make([]byte, n-int64(len(f.b)))...)
	}
	return nil
}

// stream hides every method of r but Read, as a pipe would.
type stream struct{ r io.Reader }

func (s stream) Read(p []byte) (int, error) { return s.r.Read(p) }

// chunk is a chunk to assemble by hand.
type chunk struct {
	typ           uint16
	blocks, total uint32
	payload       []byte
}

func rawChunk(blocks uint32, data []byte) chunk {
	return chunk{uint16(Raw), blocks, ChunkHeaderSize + uint32(len(data)), data}
}

func fillChunk(blocks uint32, pat string) chunk {
	return chunk{uint16(Fill), blocks, ChunkHeaderSize + 4, []byte(pat)}
}

func holeChunk(blocks uint32) chunk { return chunk{uint16(DontCare), blocks, ChunkHeaderSize, nil} }

func crcChunk(crc uint32) chunk {
	return chunk{uint16(CRC32), 0, ChunkHeaderSize + 4, binary.LittleEndian.AppendUint32(nil, crc)}
}

// assemble makes a sparse image of h and chunks, as they are: h's sizes
// are used as given, and longer headers are padded with zeros.
func assemble(h Header, chunks ...chunk) []byte {
	b := h.marshal()
	b = append(b, make([]byte, max(0, int(h.FileHeaderSize)-HeaderSize))...)
	for _, c := range chunks {
		b = binary.LittleEndian.AppendUint16(b, c.typ)
		b = append(b, 0, 0)
		b = binary.LittleEndian.AppendUint32(b, c.blocks)
		b = binary.LittleEndian.AppendUint32(b, c.total)
		b = append(b, make([]byte, max(0, int(h.ChunkHeaderSize)-ChunkHeaderSize))...)
		b = append(b, c.payload...)
	}
	return b
}

// header returns a valid header for blocks blocks of bs bytes in chunks
// chunks.
func header(bs, blocks, chunks uint32) Header {
	return Header{MajorVersion: 1, FileHeaderSize: HeaderSize, ChunkHeaderSize: ChunkHeaderSize,
		BlockSize: bs, Blocks: blocks, Chunks: chunks}
}

// readAll reads the image of the sparse image data as a stream.
func readAll(data []byte) ([]byte, error) {
	r, err := NewReader(stream{bytes.NewReader(data)})
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}
