package simg

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/bmap-tools/bmap/bmap"
)

// maxFuzzImage bounds the images the fuzzers expand, so that a header
// declaring terabytes of holes does not stall them.
const maxFuzzImage = 1 << 20

// FuzzReader feeds sparse images to Reader and ReadMap. Seeds: the files
// img2simg made in testdata (see gen.sh), the base file with every chunk
// type, our Writer's output with a CRC32 chunk, and the damaged files of
// TestReaderMalformed. Whatever the input: no panic; Read and ReadMap
// agree on whether and where the structure is broken; an image read
// whole has the declared size, zeros in its holes, and comes back the
// same through FromRaw and ToRaw.
func FuzzReader(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.simg")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(baseFile())
	for _, tc := range malformed {
		f.Add(tc.data())
	}
	var crc memFile
	w, _ := NewWriter(&crc, 16, WriterOptions{CRC: true})
	w.Write(baseImage)
	w.Skip(40)
	w.Close()
	f.Add(crc.b)

	f.Fuzz(func(t *testing.T, data []byte) {
		m, mapErr := ReadMap(bytes.NewReader(data), int64(len(data)), MapOptions{})
		if mapErr == nil {
			if err := checkMap(m); err != nil {
				t.Fatalf("ReadMap returned a bad map: %v\n%+v", err, m)
			}
		}
		r, err := NewReader(stream{bytes.NewReader(data)})
		if err != nil {
			if mapErr == nil {
				t.Fatalf("NewReader refuses the header (%v), ReadMap does not", err)
			}
			return
		}
		if r.Size() > maxFuzzImage {
			return
		}
		img, readErr := io.ReadAll(r)
		if readErr != nil {
			var fe, fm *FormatError
			if !errors.As(readErr, &fe) {
				t.Fatalf("Read: %v, not a *FormatError", readErr)
			}
			if errors.Is(readErr, ErrCRC) {
				return // ReadMap does not read the data a CRC covers
			}
			if !errors.As(mapErr, &fm) {
				t.Fatalf("Read fails (%v), ReadMap: %v", readErr, mapErr)
			}
			if fe.Chunk != fm.Chunk || fe.Offset != fm.Offset {
				t.Fatalf("Read fails with %v\nReadMap with %v", readErr, mapErr)
			}
			return
		}
		if mapErr != nil {
			t.Fatalf("Read succeeds, ReadMap fails: %v", mapErr)
		}
		if int64(len(img)) != r.Size() {
			t.Fatalf("read %d bytes, the header declares %d", len(img), r.Size())
		}
		if got := r.Map(MapOptions{}); !sameRanges(got, m) {
			t.Fatalf("Reader.Map = %+v, ReadMap = %+v", got, m)
		}
		hole := img
		for _, rg := range m.Ranges {
			clear(hole[m.Offset(rg) : m.Offset(rg)+m.Length(rg)])
		}
		// hole now holds the unmapped bytes only, all zero.
		if bytes.Count(hole, []byte{0}) != len(hole) {
			t.Fatalf("a DONT_CARE chunk read as non-zero bytes")
		}
		img, _ = readAll(data) // again: the loop above cleared the mapped bytes

		var out memFile
		if err := FromRaw(context.Background(), &out, bytes.NewReader(img), m, WriterOptions{CRC: true}); err != nil {
			t.Fatalf("FromRaw: %v", err)
		}
		if again, err := readAll(out.b); err != nil || !bytes.Equal(again, img) {
			t.Fatalf("FromRaw's sparse image reads back as another image (%v)", err)
		}
		var raw memFile
		tm, err := ToRaw(context.Background(), &raw, bytes.NewReader(data), MapOptions{})
		if err != nil || !bytes.Equal(raw.b, img) || !sameRanges(tm, m) {
			t.Fatalf("ToRaw: %v, image equal %v, map %+v, want %+v", err, bytes.Equal(raw.b, img), tm, m)
		}
	})
}

// FuzzWriter writes random images with random maps and reads them back.
func FuzzWriter(f *testing.F) {
	f.Add([]byte("hello, sparse world"), uint64(0b1011), uint8(1))
	f.Add(bytes.Repeat([]byte("abcd"), 100), uint64(1<<63|0b111), uint8(2))
	f.Add(make([]byte, 1000), ^uint64(0), uint8(0))
	f.Fuzz(func(t *testing.T, img []byte, mask uint64, bsExp uint8) {
		if len(img) == 0 || len(img) > 64<<10 {
			return
		}
		bs := int64(4) << (bsExp % 6) // 4 to 128
		m := &bmap.Map{Version: "2.0", ImageSize: int64(len(img)), BlockSize: bs, BlocksCount: (int64(len(img)) + bs - 1) / bs}
		want := padded(img, bs)
		for b := int64(0); b < m.BlocksCount; b++ {
			if mask&(1<<(b%64)) == 0 {
				clear(want[b*bs : (b+1)*bs])
				continue
			}
			if n := len(m.Ranges); n > 0 && m.Ranges[n-1].Last == b-1 {
				m.Ranges[n-1].Last = b
			} else {
				m.Ranges = append(m.Ranges, bmap.Range{First: b, Last: b})
			}
			m.MappedBlocksCount++
		}
		var out memFile
		if err := FromRaw(context.Background(), &out, bytes.NewReader(img), m, WriterOptions{CRC: bsExp&8 != 0}); err != nil {
			t.Fatal(err)
		}
		got, err := readAll(out.b)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("read back: %v, image equal %v", err, bytes.Equal(got, want))
		}
	})
}

func sameRanges(a, b *bmap.Map) bool {
	if a.ImageSize != b.ImageSize || a.BlockSize != b.BlockSize || a.BlocksCount != b.BlocksCount ||
		a.MappedBlocksCount != b.MappedBlocksCount || len(a.Ranges) != len(b.Ranges) {
		return false
	}
	for i := range a.Ranges {
		if a.Ranges[i].First != b.Ranges[i].First || a.Ranges[i].Last != b.Ranges[i].Last {
			return false
		}
	}
	return true
}

// checkMap checks the invariants bmap.Map documents.
func checkMap(m *bmap.Map) error {
	if m.BlockSize <= 0 || m.ImageSize <= 0 || m.BlocksCount != (m.ImageSize+m.BlockSize-1)/m.BlockSize {
		return errors.New("sizes")
	}
	var n int64
	for i, r := range m.Ranges {
		if r.First > r.Last || r.First < 0 || r.Last >= m.BlocksCount || i > 0 && r.First <= m.Ranges[i-1].Last+1 {
			return errors.New("ranges not sorted, disjoint, merged and inside the image")
		}
		n += r.Blocks()
	}
	if n != m.MappedBlocksCount {
		return errors.New("MappedBlocksCount")
	}
	return nil
}
