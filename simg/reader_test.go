package simg

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// The base image: 10 blocks of 16 bytes in every chunk type.
//
//	chunk  at byte  type       blocks  image bytes
//	0      28       RAW        0-1     0-31
//	1      72       FILL abcd  2-4     32-79
//	2      88       DONT_CARE  5-8     80-143
//	3      100      CRC32      -       (of bytes 0-143)
//	4      116      RAW        9       144-159
//	end    144
var (
	baseRaw0  = random(30, 32)
	baseRaw1  = random(31, 16)
	baseImage = bytes.Join([][]byte{baseRaw0, repeat("abcd", 48), make([]byte, 64), baseRaw1}, nil)
	baseCRC   = crc32.ChecksumIEEE(baseImage[:144])
)

func baseChunks() []chunk {
	return []chunk{rawChunk(2, baseRaw0), fillChunk(3, "abcd"), holeChunk(4), crcChunk(baseCRC), rawChunk(1, baseRaw1)}
}

func baseFile() []byte { return assemble(header(16, 10, 5), baseChunks()...) }

func TestReaderChunkTypes(t *testing.T) {
	data := baseFile()
	for _, tc := range []struct {
		name string
		src  io.Reader
	}{
		{"stream", stream{bytes.NewReader(data)}},
		{"seekable", bytes.NewReader(data)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if h := r.Header(); h != header(16, 10, 5) || r.Size() != 160 {
				t.Fatalf("Header() = %+v, Size() = %d", h, r.Size())
			}
			want := []Chunk{
				{Index: 0, Type: Raw, SparseOffset: 28, Offset: 0, Length: 32},
				{Index: 1, Type: Fill, SparseOffset: 72, Offset: 32, Length: 48, Pattern: [4]byte{'a', 'b', 'c', 'd'}},
				{Index: 2, Type: DontCare, SparseOffset: 88, Offset: 80, Length: 64},
				{Index: 3, Type: CRC32, SparseOffset: 100, Offset: 144, CRC: baseCRC},
				{Index: 4, Type: Raw, SparseOffset: 116, Offset: 144, Length: 16},
			}
			var got []byte
			for i := 0; ; i++ {
				c, err := r.Next()
				if err == io.EOF {
					if i != len(want) {
						t.Fatalf("io.EOF after %d chunks, want %d", i, len(want))
					}
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if c != want[i] {
					t.Fatalf("chunk %d = %+v, want %+v", i, c, want[i])
				}
				b, err := io.ReadAll(io.LimitReader(r, c.Length))
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, b...)
			}
			if !bytes.Equal(got, baseImage) {
				t.Fatalf("chunks' bytes differ from the image")
			}
			m := r.Map(MapOptions{})
			if m.ImageSize != 160 || m.BlockSize != 16 || m.BlocksCount != 10 || m.MappedBlocksCount != 6 ||
				len(m.Ranges) != 2 || m.Ranges[0].First != 0 || m.Ranges[0].Last != 4 || m.Ranges[1].First != 9 || m.Ranges[1].Last != 9 {
				t.Fatalf("Map() = %+v", m)
			}
		})
	}
	got, err := readAll(data)
	if err != nil || !bytes.Equal(got, baseImage) {
		t.Fatalf("reading the whole image: %v, equal %v", err, bytes.Equal(got, baseImage))
	}
	m, err := ReadMap(bytes.NewReader(data), int64(len(data)), MapOptions{})
	if err != nil || m.MappedBlocksCount != 6 || len(m.Ranges) != 2 {
		t.Fatalf("ReadMap = %+v, %v", m, err)
	}
}

// TestReaderSkipsWithNext reads some chunks and skips others: what is
// read is right, and a skipped RAW chunk still counts for the CRC on a
// stream.
func TestReaderSkipsWithNext(t *testing.T) {
	data := assemble(header(16, 10, 5), rawChunk(2, baseRaw0), fillChunk(3, "abcd"), holeChunk(4), crcChunk(baseCRC^1), rawChunk(1, baseRaw1))
	r, err := NewReader(stream{bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil { // chunk 0, not read
		t.Fatal(err)
	}
	c, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	var b [5]byte
	if _, err := io.ReadFull(r, b[:]); err != nil || string(b[:]) != "abcda" || c.Type != Fill {
		t.Fatalf("FILL chunk %+v read as %q, %v", c, b, err)
	}
	r.Next()          // the hole
	_, err = r.Next() // the bad CRC
	var fe *FormatError
	if !errors.As(err, &fe) || !errors.Is(err, ErrCRC) || fe.Chunk != 3 || fe.Offset != 100 {
		t.Fatalf("Next() at the damaged CRC32 chunk = %v, want a CRC mismatch in chunk 3 at byte 100", err)
	}
	if _, err2 := r.Read(b[:]); err2 != err {
		t.Fatalf("Read after an error = %v, want the same error (sticky)", err2)
	}
}

// TestReaderDiscard mixes Read and Discard: the bytes read are the
// image's at their offsets, and the end is checked as with Read.
func TestReaderDiscard(t *testing.T) {
	for _, name := range []string{"stream", "seekable"} {
		var src io.Reader = bytes.NewReader(baseFile())
		if name == "stream" {
			src = stream{src}
		}
		r, err := NewReader(src)
		if err != nil {
			t.Fatal(err)
		}
		pos := 0
		for _, step := range []int{5, -20, 3, -40, 1, -50, 30, -1, 10} {
			if step < 0 {
				n, err := r.Discard(-step)
				if err != nil || n != -step {
					t.Fatalf("%s: Discard(%d) at %d = %d, %v", name, -step, pos, n, err)
				}
				pos += n
				continue
			}
			b := make([]byte, step)
			if _, err := io.ReadFull(r, b); err != nil {
				t.Fatalf("%s: reading %d bytes at %d: %v", name, step, pos, err)
			}
			if !bytes.Equal(b, baseImage[pos:pos+step]) {
				t.Fatalf("%s: bytes %d-%d = %x, want %x", name, pos, pos+step-1, b, baseImage[pos:pos+step])
			}
			pos += step
		}
		if r.Offset() != 160 {
			t.Fatalf("%s: Offset() = %d, want 160", name, r.Offset())
		}
		if n, err := r.Discard(1); n != 0 || err != io.EOF {
			t.Fatalf("%s: Discard past the end = %d, %v, want 0, io.EOF", name, n, err)
		}
	}
}

// TestReaderIotest runs the reader through testing/iotest.
func TestReaderIotest(t *testing.T) {
	data := baseFile()
	r, err := NewReader(stream{bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	if err := iotest.TestReader(r, baseImage); err != nil {
		t.Fatal(err)
	}
	for name, wrap := range map[string]func(io.Reader) io.Reader{
		"OneByteReader": iotest.OneByteReader,
		"HalfReader":    iotest.HalfReader,
		"DataErrReader": iotest.DataErrReader,
	} {
		r, err := NewReader(wrap(bytes.NewReader(data)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := io.ReadAll(iotest.OneByteReader(r))
		if err != nil || !bytes.Equal(got, baseImage) {
			t.Fatalf("%s: %v, image equal %v", name, err, bytes.Equal(got, baseImage))
		}
	}
	boom := errors.New("boom")
	r, err = NewReader(io.MultiReader(bytes.NewReader(data[:80]), iotest.ErrReader(boom)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); !errors.Is(err, boom) || !strings.Contains(err.Error(), "chunk 1 at byte 72") {
		t.Fatalf("a failing source gives %v, want boom wrapped with chunk 1 at byte 72", err)
	}
}

// TestReaderLongerHeaders reads headers longer than 28 and 12 bytes, as
// libsparse does: the extra bytes are skipped.
func TestReaderLongerHeaders(t *testing.T) {
	h := header(16, 10, 5)
	h.FileHeaderSize, h.ChunkHeaderSize, h.MinorVersion = 40, 16, 3
	cs := baseChunks()
	for i := range cs {
		cs[i].total += 4
	}
	data := assemble(h, cs...)
	got, err := readAll(data)
	if err != nil || !bytes.Equal(got, baseImage) {
		t.Fatalf("%v, image equal %v", err, bytes.Equal(got, baseImage))
	}
	if m, err := ReadMap(bytes.NewReader(data), int64(len(data)), MapOptions{}); err != nil || m.MappedBlocksCount != 6 {
		t.Fatalf("ReadMap = %+v, %v", m, err)
	}
	if p, err := exec.LookPath("simg2img"); err == nil {
		dir := t.TempDir()
		in, out := filepath.Join(dir, "long.simg"), filepath.Join(dir, "long.img")
		os.WriteFile(in, data, 0o644)
		run(t, p, in, out)
		if b, _ := os.ReadFile(out); !bytes.Equal(b, baseImage) {
			t.Fatalf("simg2img reads the file differently")
		}
	}
}

// malformed are damaged variants of the base file. libsparse says whether
// libsparse (simg2img) refuses it too; it does not check CRC32 chunks nor
// what follows the last chunk.
var malformed = []struct {
	name      string
	data      func() []byte
	chunk     int
	offset    int64
	msg       string
	is        error
	libsparse bool
}{
	{"bad magic", func() []byte { b := baseFile(); b[0] = 'x'; return b }, -1, 0, "magic ed26ff78, want ed26ff3a", ErrNotSparse, true},
	{"major version 2", func() []byte { h := header(16, 10, 5); h.MajorVersion = 2; return assemble(h, baseChunks()...) },
		-1, 0, "format version 2.0, want major version 1", nil, true},
	{"file header too short", func() []byte { h := header(16, 10, 5); h.FileHeaderSize = 24; return assemble(h, baseChunks()...) },
		-1, 0, "file header size 24, want at least 28", nil, true},
	{"chunk header too short", func() []byte { h := header(16, 10, 5); h.ChunkHeaderSize = 8; return assemble(h, baseChunks()...) },
		-1, 0, "chunk header size 8, want at least 12", nil, true},
	{"block size not a multiple of 4", func() []byte { return assemble(header(18, 10, 5), baseChunks()...) },
		-1, 0, "block size 18, want a positive multiple of 4", nil, true},
	{"block size 0", func() []byte { return assemble(header(0, 10, 5), baseChunks()...) },
		-1, 0, "block size 0", nil, true},
	{"no blocks", func() []byte { return assemble(header(16, 0, 0)) }, -1, 0, "the image has 0 blocks", nil, false},
	{"chunks cover fewer blocks", func() []byte { return assemble(header(16, 11, 5), baseChunks()...) },
		-1, 144, "the 5 chunks cover 10 blocks, but the header declares 11", nil, true},
	{"chunks cover more blocks", func() []byte { return assemble(header(16, 9, 5), baseChunks()...) },
		4, 116, "RAW chunk of 1 blocks ends at block 10, past the 9 blocks of the image", nil, true},
	{"a chunk more than there is", func() []byte { return assemble(header(16, 10, 6), baseChunks()...) },
		5, 144, "header: got 0 of 12 bytes (the file header declares 6 chunks)", io.ErrUnexpectedEOF, true},
	{"a chunk less than there is", func() []byte { return assemble(header(16, 9, 4), baseChunks()...) },
		-1, 116, "after the last of the 4 chunks the header declares", nil, false},
	{"bytes after the last chunk", func() []byte { return append(baseFile(), 0) },
		-1, 144, "after the last of the 5 chunks the header declares", nil, false},
	{"RAW total size", func() []byte { cs := baseChunks(); cs[0].total--; return assemble(header(16, 10, 5), cs...) },
		0, 28, "RAW chunk of 2 blocks has a total size of 43 bytes, want 44 (a 12-byte header and 32 bytes of data)", nil, true},
	{"RAW block count", func() []byte { cs := baseChunks(); cs[4].blocks++; return assemble(header(16, 11, 5), cs...) },
		4, 116, "RAW chunk of 2 blocks has a total size of 28 bytes, want 44", nil, true},
	{"FILL total size", func() []byte { cs := baseChunks(); cs[1].total = 20; return assemble(header(16, 10, 5), cs...) },
		1, 72, "FILL chunk of 3 blocks has a total size of 20 bytes, want 16 (a 12-byte header and a 4-byte pattern)", nil, true},
	{"DONT_CARE total size", func() []byte { cs := baseChunks(); cs[2].total = 16; return assemble(header(16, 10, 5), cs...) },
		2, 88, "DONT_CARE chunk of 4 blocks has a total size of 16 bytes, want 12 (a 12-byte header and no data)", nil, true},
	{"CRC32 total size", func() []byte { cs := baseChunks(); cs[3].total = 12; return assemble(header(16, 10, 5), cs...) },
		3, 100, "CRC32 chunk of 0 blocks has a total size of 12 bytes, want 16 (a 12-byte header and a 4-byte CRC)", nil, true},
	{"unknown chunk type", func() []byte { cs := baseChunks(); cs[2].typ = 0xCAC5; return assemble(header(16, 10, 5), cs...) },
		2, 88, "unknown chunk type 0xCAC5 (want RAW CAC1, FILL CAC2, DONT_CARE CAC3 or CRC32 CAC4)", nil, true},
	{"CRC32 mismatch", func() []byte { cs := baseChunks(); cs[3].payload[0] ^= 1; return assemble(header(16, 10, 5), cs...) },
		3, 100, "the image's first 144 bytes have", ErrCRC, false},
}

func TestReaderMalformed(t *testing.T) {
	simg2img, _ := exec.LookPath("simg2img")
	dir := t.TempDir()
	for _, tc := range malformed {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data()
			check := func(how string, err error) {
				t.Helper()
				var fe *FormatError
				if !errors.As(err, &fe) {
					t.Fatalf("%s: error %v, want a *FormatError", how, err)
				}
				if fe.Chunk != tc.chunk || fe.Offset != tc.offset || !strings.Contains(fe.Msg, tc.msg) {
					t.Fatalf("%s: error %q (chunk %d at %d), want chunk %d at byte %d saying %q", how, err, fe.Chunk, fe.Offset, tc.chunk, tc.offset, tc.msg)
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Fatalf("%s: error %v is not %v", how, err, tc.is)
				}
			}
			_, err := readAll(data)
			check("reading a stream", err)
			r, err := NewReader(bytes.NewReader(data))
			if err == nil {
				_, err = io.Copy(io.Discard, r)
			}
			if tc.name == "a chunk less than there is" || tc.name == "bytes after the last chunk" {
				tc.msg = strings.Replace(tc.msg, "after", "bytes after", 1) // a seekable file knows how many
			}
			check("reading a file", err)
			_, err = ReadMap(bytes.NewReader(data), int64(len(data)), MapOptions{})
			if errors.Is(tc.is, ErrCRC) {
				if err != nil {
					t.Fatalf("ReadMap, which does not read data, = %v", err)
				}
			} else {
				check("ReadMap", err)
			}
			if simg2img != "" && tc.libsparse {
				in := filepath.Join(dir, "bad.simg")
				os.WriteFile(in, data, 0o644)
				if out, err := exec.Command(simg2img, in, filepath.Join(dir, "bad.img")).CombinedOutput(); err == nil {
					t.Fatalf("simg2img accepts the file:\n%s", out)
				}
			}
		})
	}
}

// TestReaderTruncated cuts the base file at every length: each must fail
// as truncated, never yield a short image.
func TestReaderTruncated(t *testing.T) {
	data := baseFile()
	for n := 0; n < len(data); n++ {
		cut := data[:n]
		_, err := readAll(cut)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("reading %d of %d bytes as a stream: %v, want io.ErrUnexpectedEOF", n, len(data), err)
		}
		r, err := NewReader(bytes.NewReader(cut))
		if err == nil {
			_, err = io.Copy(io.Discard, r)
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("reading %d of %d bytes as a file: %v, want io.ErrUnexpectedEOF", n, len(data), err)
		}
		if _, err := ReadMap(bytes.NewReader(cut), int64(n), MapOptions{}); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("ReadMap of %d of %d bytes: %v, want io.ErrUnexpectedEOF", n, len(data), err)
		}
	}
	// What the messages say, at three places.
	for _, tc := range []struct {
		n   int
		msg string
	}{
		{10, "android sparse image: at byte 0: header: got 10 of 28 bytes (unexpected EOF)"},
		{50, "android sparse image: chunk 0 at byte 28: RAW data ends after 10 of its 32 bytes (unexpected EOF)"},
		{75, "android sparse image: chunk 1 at byte 72: header: got 3 of 12 bytes (the file header declares 5 chunks) (unexpected EOF)"},
	} {
		if _, err := readAll(data[:tc.n]); err == nil || err.Error() != tc.msg {
			t.Errorf("reading %d bytes: %v, want %s", tc.n, err, tc.msg)
		}
	}
	if _, err := ReadMap(bytes.NewReader(data[:50]), 50, MapOptions{}); err == nil ||
		err.Error() != "android sparse image: chunk 0 at byte 28: RAW data ends after 10 of its 32 bytes (unexpected EOF)" {
		t.Errorf("ReadMap of 50 bytes: %v", err)
	}
}

func TestIsSparse(t *testing.T) {
	if !IsSparse(baseFile()) || IsSparse(baseFile()[:3]) || IsSparse(baseImage) {
		t.Fatal("IsSparse is wrong")
	}
}

// TestReaderTruncate cuts the base image's zero padding off, as for a
// bmap of the raw image img2simg padded.
func TestReaderTruncate(t *testing.T) {
	// Image bytes 144-159 are RAW; make the last 6 zeros.
	last := append(bytes.Clone(baseRaw1[:10]), make([]byte, 6)...)
	img := append(bytes.Clone(baseImage[:144]), last...)
	data := assemble(header(16, 10, 5), rawChunk(2, baseRaw0), fillChunk(3, "abcd"), holeChunk(4), crcChunk(baseCRC), rawChunk(1, last))
	for _, size := range []int64{154, 155, 160} {
		r, err := NewReader(stream{bytes.NewReader(data)})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Truncate(size); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, img[:size]) {
			t.Fatalf("cut to %d: %v, %d bytes, equal %v", size, err, len(got), bytes.Equal(got, img[:size]))
		}
		r, _ = NewReader(bytes.NewReader(data))
		r.Truncate(size)
		if n, err := r.Discard(1000); n != int(size) || err != io.EOF {
			t.Fatalf("cut to %d: Discard = %d, %v, want %d, io.EOF", size, n, err, size)
		}
	}
	r, _ := NewReader(bytes.NewReader(data))
	r.Truncate(153)
	_, err := io.ReadAll(r)
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Chunk != 4 || !strings.Contains(err.Error(), "image byte 153 is not zero, but the image is cut to 153 bytes") {
		t.Fatalf("cutting data off: %v", err)
	}
	for _, size := range []int64{144, 161, 0} {
		r, _ := NewReader(bytes.NewReader(data))
		if err := r.Truncate(size); err == nil {
			t.Errorf("Truncate(%d) of a 160-byte image with 16-byte blocks: no error", size)
		}
	}
	// The cut-off bytes are read: damage after them is still found.
	bad := append(bytes.Clone(data), 0)
	r, _ = NewReader(bytes.NewReader(bad))
	r.Truncate(154)
	if _, err := io.ReadAll(r); err == nil {
		t.Fatalf("a file with bytes after its last chunk, cut: no error")
	}
}
