package bmap

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// bmaptool 3.6 and 3.9 write the same format 2.0 except for three sentences
// of the comments (and so the file checksum).
var sentences36to39 = [][2]string{
	{"     The block map an optimization which allows to copy or flash the image to\n     the image quicker",
		"     The block map is an optimization which allows to copy or flash the image\n     to the image quicker"},
	{"has be zero", "has to be zero"},
	{"this blocks range", "this block range"},
}

// to39 converts the output of bmaptool 3.1-3.8 "create" to what 3.9 writes.
func to39(tb testing.TB, b []byte) []byte {
	tb.Helper()
	for _, s := range sentences36to39 {
		if n := bytes.Count(b, []byte(s[0])); n != 1 {
			tb.Fatalf("bmaptool output has %d copies of %q, want 1", n, s[0])
		}
		b = bytes.Replace(b, []byte(s[0]), []byte(s[1]), 1)
	}
	return resum(b)
}

// firstDiff describes where got and want first differ, line by line.
func firstDiff(got, want []byte) string {
	g, w := strings.SplitAfter(string(got), "\n"), strings.SplitAfter(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got %q\nwant %q", i+1, gl, wl)
		}
	}
	return "no difference"
}

// Encode writes the hand-derived 3.9 fixtures byte for byte, from any
// version's map of the same image and checksum type.
func TestEncodeGolden(t *testing.T) {
	for _, tc := range []struct{ from, want string }{
		{"sample.img.bmap.v2.0", "sample.img.bmap.v2.0"},
		{"sample.img.bmap.v2.0-sha1", "sample.img.bmap.v2.0-sha1"},
		{"sample.img.bmap.v2.0-sha512", "sample.img.bmap.v2.0-sha512"},
		{"sample.img.bmap", "sample.img.bmap.v2.0"},
		{"sample.img.bmap.v1.4", "sample.img.bmap.v2.0"},
		{"sample.img.bmap.v1.3", "sample.img.bmap.v2.0-sha1"},
	} {
		t.Run(tc.from, func(t *testing.T) {
			m, err := ParseBytes(readFixture(t, tc.from))
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.MarshalText()
			if err != nil {
				t.Fatal(err)
			}
			if want := readFixture(t, tc.want); !bytes.Equal(got, want) {
				t.Errorf("Encode(Parse(%s)) differs from %s: %s", tc.from, tc.want, firstDiff(got, want))
			}
		})
	}
	// And the 3.6 output converted to 3.9 is that same fixture.
	if got, want := to39(t, readFixture(t, "sample.img.bmap")), readFixture(t, "sample.img.bmap.v2.0"); !bytes.Equal(got, want) {
		t.Errorf("sample.img.bmap converted to 3.9 differs from sample.img.bmap.v2.0: %s", firstDiff(got, want))
	}
}

func TestEncodeNoChecksums(t *testing.T) {
	m := &Map{Version: "2.0", ImageSize: 10 << 20, BlockSize: 4096, BlocksCount: 2560, MappedBlocksCount: 4,
		Ranges: []Range{{First: 2, Last: 2}, {First: 100, Last: 102}}}
	b, err := m.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"    <!-- Image size in bytes: 10.0 MiB -->\n    <ImageSize> 10485760 </ImageSize>\n",
		"    <!-- Count of mapped blocks: 16.0 KiB or 0.2%     -->\n    <MappedBlocksCount> 4    </MappedBlocksCount>\n",
		"    <ChecksumType> sha256 </ChecksumType>\n",
		"    <BlockMap>\n        <Range> 2 </Range>\n        <Range> 100-102 </Range>\n    </BlockMap>\n</bmap>\n",
	} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("Encode output lacks %q:\n%s", want, b)
		}
	}
	got, err := ParseBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Ranges) != 2 || got.Ranges[0].Checksum != nil || got.Ranges[1].Checksum != nil {
		t.Errorf("Parse(Encode(m)).Ranges = %+v, want two ranges without checksums", got.Ranges)
	}
}

func TestEncodeWhole(t *testing.T) {
	for _, tc := range []struct{ size, bs, blocks int64 }{
		{1, 4096, 1}, {4096, 4096, 1}, {4097, 4096, 2}, {10 << 20, 512, 20480},
	} {
		m := Whole(tc.size, tc.bs)
		if m.BlocksCount != tc.blocks || m.MappedBlocksCount != tc.blocks || len(m.Ranges) != 1 || m.MappedBytes() != tc.size {
			t.Errorf("Whole(%d, %d) = %+v", tc.size, tc.bs, m)
			continue
		}
		b, err := m.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseBytes(b); err != nil {
			t.Errorf("Parse(Encode(Whole(%d, %d))): %v", tc.size, tc.bs, err)
		}
	}
}

// writeImage makes a sparse file of size bytes at path with data written at
// the given block ranges (inclusive, 4096-byte blocks, clipped to size).
// fill chooses each written block's content.
func writeImage(tb testing.TB, path string, size int64, ranges [][2]int64, fill func(blk int64, b []byte)) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		tb.Fatal(err)
	}
	buf := make([]byte, 4096)
	for _, r := range ranges {
		for blk := r[0]; blk <= r[1]; blk++ {
			off := blk * 4096
			if off >= size {
				break
			}
			fill(blk, buf)
			if _, err := f.WriteAt(buf[:min(4096, size-off)], off); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// covered reports whether every block of ranges (4096-byte blocks, clipped
// to the image) is inside one of m's ranges, or else the first one missing.
func covered(m *Map, ranges [][2]int64) (int64, bool) {
	for _, r := range ranges {
		for blk := r[0]; blk <= min(r[1], m.BlocksCount-1); blk++ {
			i := sort.Search(len(m.Ranges), func(i int) bool { return m.Ranges[i].Last >= blk })
			if i == len(m.Ranges) || m.Ranges[i].First > blk {
				return blk, false
			}
		}
	}
	return 0, true
}

func randomFill(seed uint64) func(int64, []byte) {
	return func(blk int64, b []byte) {
		r := rand.New(rand.NewPCG(seed, uint64(blk)))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
	}
}

// Encode reproduces real bmaptool output byte for byte: for images of
// awkward sizes and layouts, bmaptool's bmap (made by the installed 3.x and
// converted to the 3.9 text) is parsed and encoded again.
func TestEncodeMatchesBmaptool(t *testing.T) {
	bmaptool, err := exec.LookPath("bmaptool")
	if err != nil {
		t.Skip("bmaptool is not installed (Debian: apt-get install bmap-tools)")
	}
	const (
		KiB = 1 << 10
		MiB = 1 << 20
	)
	rng := rand.New(rand.NewPCG(1, 2))
	var many [][2]int64 // about 200 ranges of 1 to 8 blocks over 8 MiB
	for blk := int64(rng.IntN(4)); blk < 2048; blk += int64(2 + rng.IntN(16)) {
		last := blk + int64(rng.IntN(8))
		many = append(many, [2]int64{blk, last})
		blk = last
	}
	var singles [][2]int64
	for blk := int64(1); blk < 128; blk += 2 {
		singles = append(singles, [2]int64{blk, blk})
	}
	images := []struct {
		name   string
		size   int64
		ranges [][2]int64
		fill   func(int64, []byte)
	}{
		{"1 byte", 1, [][2]int64{{0, 0}}, randomFill(1)},
		{"4095 bytes", 4095, [][2]int64{{0, 0}}, randomFill(4)},
		{"4096 bytes", 4096, [][2]int64{{0, 0}}, randomFill(5)},
		{"4097 bytes", 4097, [][2]int64{{0, 1}}, randomFill(6)},
		{"partial last block", 100*4096 + 1234, [][2]int64{{0, 0}, {7, 9}, {100, 100}}, randomFill(8)},
		{"all holes", 1*MiB + 1, nil, nil},
		{"fully mapped", 256*KiB + 17, [][2]int64{{0, 64}}, randomFill(9)},
		{"many ranges", 8 * MiB, many, randomFill(10)},
		{"single blocks", 128 * 4096, singles, randomFill(11)},
		{"mixed 3.5 MiB", 3*MiB + 512*KiB + 1234, [][2]int64{{0, 3}, {5, 5}, {8, 263}, {300, 300}, {302, 310}, {600, 700}, {896, 896}}, randomFill(12)},
		{"5 GiB sparse", 5 << 30, [][2]int64{{0, 0}, {1 << 18, 1<<18 + 3}, {5<<18 - 1, 5<<18 - 1}}, randomFill(13)},
	}
	// Run bmaptool on all images first, a few at a time, then compare.
	dir := t.TempDir()
	variants := [][]string{{"create"}, {"create", "--no-checksum"}}
	type result struct {
		out, stderr []byte
		err         error
	}
	results := make([][]result, len(images))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, img := range images {
		path := filepath.Join(dir, fmt.Sprintf("image%d.img", i))
		writeImage(t, path, img.size, img.ranges, img.fill)
		results[i] = make([]result, len(variants))
		for j, v := range variants {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				var stderr bytes.Buffer
				cmd := exec.Command(bmaptool, append(v[:len(v):len(v)], path)...)
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				results[i][j] = result{out, stderr.Bytes(), err}
			}()
		}
	}
	wg.Wait()
	for i, img := range images {
		t.Run(img.name, func(t *testing.T) {
			for j, v := range variants {
				args := strings.Join(v, " ")
				out, err := results[i][j].out, results[i][j].err
				if err != nil {
					t.Fatalf("bmaptool %s: %v\n%s", args, err, results[i][j].stderr)
				}
				m, err := ParseBytes(out)
				if err != nil {
					t.Fatalf("Parse(bmaptool %s): %v\n%s", args, err, out)
				}
				if err := checkInvariants(m); err != nil {
					t.Error(err)
				}
				if m.ImageSize != img.size {
					t.Errorf("ImageSize = %d, want %d", m.ImageSize, img.size)
				}
				if blk, ok := covered(m, img.ranges); m.BlockSize == 4096 && !ok {
					t.Errorf("written block %d is in no range of bmaptool's map %v", blk, m.Ranges)
				}
				want := out
				if !bytes.Contains(out, []byte("has to be zero")) { // not already 3.9
					want = to39(t, out)
				}
				got, err := m.MarshalText()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("Encode(Parse(bmaptool %s)) differs: %s", args, firstDiff(got, want))
				}
			}
		})
	}
}

// humanSizes holds values checked against bmaptool's human_size (Python
// 3.11, bmaptool 3.6 BmapHelpers.py).
var humanSizes = []struct {
	n    int64
	want string
}{
	{-1, "-1 bytes"},
	{0, "0 bytes"},
	{1, "1 byte"},
	{2, "2 bytes"},
	{511, "511 bytes"},
	{512, "0.5 KiB"},
	{1000, "1.0 KiB"},
	{1023, "1.0 KiB"},
	{1024, "1.0 KiB"},
	{1126, "1.1 KiB"},
	{1280, "1.2 KiB"}, // exactly 1.25: round half to even
	{1792, "1.8 KiB"}, // exactly 1.75
	{2304, "2.2 KiB"}, // exactly 2.25
	{4095, "4.0 KiB"},
	{4096, "4.0 KiB"},
	{16384, "16.0 KiB"},
	{821752, "802.5 KiB"},
	{1048575, "1024.0 KiB"},
	{1048576, "1.0 MiB"},
	{6293801, "6.0 MiB"},
	{10485760, "10.0 MiB"},
	{1073741823, "1024.0 MiB"},
	{1073741824, "1.0 GiB"},
	{5 << 30, "5.0 GiB"},
	{1 << 40, "1.0 TiB"},
	{1<<50 - 1, "1024.0 TiB"},
	{1 << 50, "1024.0 EiB"}, // sic: no PiB, and the EiB value is in PiB
	{1 << 60, "1048576.0 EiB"},
	{math.MaxInt64, "8388608.0 EiB"},
}

func TestHumanSize(t *testing.T) {
	for _, tc := range humanSizes {
		t.Run(strconv.FormatInt(tc.n, 10), func(t *testing.T) {
			if got := HumanSize(tc.n); got != tc.want {
				t.Errorf("HumanSize(%d) = %q, want %q", tc.n, got, tc.want)
			}
		})
	}
}

// bmaptoolHelpers is where Debian installs bmaptool's human_size.
const bmaptoolHelpers = "/usr/lib/python3/dist-packages/bmaptools/BmapHelpers.py"

// HumanSize agrees with the Python original on many more values, when
// python3 and bmaptool are installed.
func TestHumanSizePython(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	if _, err := os.Stat(bmaptoolHelpers); err != nil {
		t.Skipf("no %s: %v", bmaptoolHelpers, err)
	}
	values := []int64{math.MaxInt64, math.MinInt64, -512}
	for _, tc := range humanSizes {
		values = append(values, tc.n)
	}
	for n := int64(0); n < 5000; n++ {
		values = append(values, n)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		values = append(values, rng.Int64N(1<<uint(rng.IntN(63))+1))
	}
	for _, unit := range []int64{1 << 10, 1 << 20, 1 << 30, 1 << 40} {
		for k := int64(1); k < 2048; k++ { // around every tenth of a unit
			v := k * unit / 20
			values = append(values, v-1, v, v+1)
		}
	}
	var in strings.Builder
	for _, v := range values {
		fmt.Fprintln(&in, v)
	}
	cmd := exec.Command(python, "-c", `
import runpy, sys
human_size = runpy.run_path(sys.argv[1])["human_size"]
for line in sys.stdin:
    print(human_size(int(line)))
`, bmaptoolHelpers)
	cmd.Stdin = strings.NewReader(in.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, stderr.Bytes())
	}
	want := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(want) != len(values) {
		t.Fatalf("python3 printed %d lines for %d values", len(want), len(values))
	}
	bad := 0
	for i, v := range values {
		if got := HumanSize(v); got != want[i] {
			t.Errorf("HumanSize(%d) = %q, Python's human_size gives %q", v, got, want[i])
			if bad++; bad > 10 {
				t.Fatal("too many differences")
			}
		}
	}
}
