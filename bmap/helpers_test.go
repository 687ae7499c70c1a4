package bmap

import (
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
)

// The shared fixtures live in the module's testdata/ (see its README.md);
// testdata/gen makes them.
const testdataDir = "../testdata"

// The sample image testdata/sample.img.gz: 1537 blocks of 4096 bytes, the
// last one partial, with these mapped ranges.
const (
	sampleImageSize = 6293801
	sampleBlockSize = 4096
	sampleBlocks    = 1537
	sampleMapped    = 156
)

var sampleRanges = [][2]int64{
	{0, 3}, {5, 5}, {16, 47}, {100, 100}, {102, 102}, {256, 319},
	{700, 703}, {1000, 1019}, {1200, 1200}, {1300, 1309}, {1400, 1415}, {1535, 1536},
}

// fixture describes one block map of the sample image.
type fixture struct {
	name         string
	version      string
	checksumType string // what Parse reports; "" below 1.3
	fileSum      bool   // the file carries its own checksum
}

var fixtures = []fixture{
	{"sample.img.bmap", "2.0", "sha256", true}, // bmaptool 3.6 output
	{"sample.img.bmap.v1.0", "1.0", "", false},
	{"sample.img.bmap.v1.1", "1.1", "", false},
	{"sample.img.bmap.v1.2", "1.2", "", false},
	{"sample.img.bmap.v1.3", "1.3", "sha1", true},
	{"sample.img.bmap.v1.4", "1.4", "sha256", true},
	{"sample.img.bmap.v2.0", "2.0", "sha256", true}, // bmaptool 3.9 layout
	{"sample.img.bmap.v2.0-sha1", "2.0", "sha1", true},
	{"sample.img.bmap.v2.0-sha512", "2.0", "sha512", true},
}

func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(testdataDir, name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

var sample struct {
	once sync.Once
	img  []byte
	err  error
}

// sampleImage returns the decompressed sample image (holes as zeros).
func sampleImage(tb testing.TB) []byte {
	tb.Helper()
	sample.once.Do(func() {
		f, err := os.Open(filepath.Join(testdataDir, "sample.img.gz"))
		if err != nil {
			sample.err = err
			return
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			sample.err = err
			return
		}
		sample.img, sample.err = io.ReadAll(zr)
	})
	if sample.err != nil {
		tb.Fatal(sample.err)
	}
	if len(sample.img) != sampleImageSize {
		tb.Fatalf("sample.img is %d bytes, want %d", len(sample.img), sampleImageSize)
	}
	return sample.img
}

func hashFor(tb testing.TB, name string) hash.Hash {
	tb.Helper()
	switch name {
	case "sha1":
		return sha1.New()
	case "sha256":
		return sha256.New()
	case "sha512":
		return sha512.New()
	}
	tb.Fatalf("no hash %q", name)
	return nil
}

var (
	fileSumRE = regexp.MustCompile(`<(BmapFileChecksum|BmapFileSHA1)>\s*([0-9a-fA-F]+)\s*</`)
	sumByLen  = map[int]func() hash.Hash{40: sha1.New, 56: sha256.New224, 64: sha256.New, 96: sha512.New384, 128: sha512.New}
)

// resum returns a copy of data with its file checksum recomputed as bmaptool
// computes it (the stored hex set to ASCII zeros, the whole file hashed), so
// that an edited fixture fails on the check the edit is meant to trip rather
// than on the file checksum. The digest is chosen by the stored hex's
// length. data without a file checksum is returned unchanged.
func resum(data []byte) []byte {
	out := bytes.Clone(data)
	m := fileSumRE.FindSubmatchIndex(out)
	if m == nil {
		return out
	}
	field := out[m[4]:m[5]]
	newHash, ok := sumByLen[len(field)]
	if !ok {
		return out
	}
	for i := range field {
		field[i] = '0'
	}
	h := newHash()
	h.Write(out)
	copy(field, hex.EncodeToString(h.Sum(nil)))
	return out
}

// edit returns data with the first old replaced by new; it panics when old
// is missing, so a fixture change cannot silently turn a test into a no-op.
func edit(data []byte, old, new string) []byte {
	i := bytes.Index(data, []byte(old))
	if i < 0 {
		panic(fmt.Sprintf("edit: %q not found", old))
	}
	out := make([]byte, 0, len(data)-len(old)+len(new))
	out = append(out, data[:i]...)
	out = append(out, new...)
	return append(out, data[i+len(old):]...)
}

// lineOf returns the 1-based line of the first occurrence of s in data.
func lineOf(data []byte, s string) int {
	i := bytes.Index(data, []byte(s))
	if i < 0 {
		panic(fmt.Sprintf("lineOf: %q not found", s))
	}
	return bytes.Count(data[:i], []byte("\n")) + 1
}

// checkInvariants reports the first violated invariant documented on Map.
func checkInvariants(m *Map) error {
	if m.BlockSize <= 0 || m.ImageSize <= 0 {
		return fmt.Errorf("BlockSize %d, ImageSize %d: want > 0", m.BlockSize, m.ImageSize)
	}
	if want := (m.ImageSize + m.BlockSize - 1) / m.BlockSize; m.BlocksCount != want {
		return fmt.Errorf("BlocksCount %d, want %d", m.BlocksCount, want)
	}
	var size int
	if h := m.NewHash(); h != nil {
		size = h.Size()
	}
	var mapped int64
	for i, r := range m.Ranges {
		if r.First < 0 || r.First > r.Last || r.Last >= m.BlocksCount {
			return fmt.Errorf("range %d-%d outside [0, %d)", r.First, r.Last, m.BlocksCount)
		}
		if i > 0 && r.First <= m.Ranges[i-1].Last {
			return fmt.Errorf("range %d-%d not after %d-%d", r.First, r.Last, m.Ranges[i-1].First, m.Ranges[i-1].Last)
		}
		if len(r.Checksum) != 0 && len(r.Checksum) != size {
			return fmt.Errorf("range %d-%d: %d-byte checksum, want %d", r.First, r.Last, len(r.Checksum), size)
		}
		mapped += r.Blocks()
	}
	if mapped != m.MappedBlocksCount {
		return fmt.Errorf("MappedBlocksCount %d, ranges cover %d", m.MappedBlocksCount, mapped)
	}
	return nil
}

// resum computes file checksums as the fixtures (made by bmaptool and by
// testdata/gen) have them.
func TestResum(t *testing.T) {
	for _, f := range fixtures {
		data := readFixture(t, f.name)
		if got := resum(data); !bytes.Equal(got, data) {
			t.Errorf("resum(%s) changed the file", f.name)
		}
		if f.fileSum {
			zeroed := fileSumRE.ReplaceAllFunc(data, func(m []byte) []byte {
				return regexp.MustCompile(`[0-9a-f]{40,}`).ReplaceAllFunc(m, func(h []byte) []byte { return bytes.Repeat([]byte("0"), len(h)) })
			})
			if got := resum(zeroed); !bytes.Equal(got, data) {
				t.Errorf("resum(%s with the checksum zeroed) did not restore it", f.name)
			}
		}
	}
}
