package bmap

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bmap-tools/bmap/fiemap"
)

// Create writes, byte for byte, what bmaptool 3.9 create writes for the same
// image: bmaptool (the installed 3.x, converted to the 3.9 text) is run on
// each image and compared with Create and Encode, with and without
// checksums.
func TestCreateMatchesBmaptool(t *testing.T) {
	bmaptool, err := exec.LookPath("bmaptool")
	if err != nil {
		t.Skip("bmaptool is not installed (Debian: apt-get install bmap-tools)")
	}
	rng := rand.New(rand.NewPCG(7, 7))
	var randomRanges [][2]int64
	for b := int64(0); b < 900; b += 1 + rng.Int64N(12) {
		last := b + rng.Int64N(4)
		randomRanges = append(randomRanges, [2]int64{b, last})
		b = last + 1
	}
	cases := []struct {
		name   string
		size   int64
		ranges [][2]int64
	}{
		{"1 byte", 1, [][2]int64{{0, 0}}},
		{"4095 bytes", 4095, [][2]int64{{0, 0}}},
		{"4096 bytes", 4096, [][2]int64{{0, 0}}},
		{"4097 bytes", 4097, [][2]int64{{0, 1}}},
		{"partial last block mapped", 10*4096 + 123, [][2]int64{{2, 3}, {10, 10}}},
		{"partial last block hole", 10*4096 + 123, [][2]int64{{0, 4}}},
		{"all holes", 1 << 20, nil},
		{"fully mapped", 64 * 4096, [][2]int64{{0, 63}}},
		{"single blocks", 40 * 4096, [][2]int64{{1, 1}, {3, 3}, {5, 5}, {39, 39}}},
		{"random sparse", 900*4096 + 777, randomRanges},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img := filepath.Join(dir, "img")
			writeImage(t, img, tc.size, tc.ranges, randomFill(uint64(tc.size)))
			for _, noChecksum := range []bool{false, true} {
				args := []string{"create", img}
				if noChecksum {
					args = []string{"create", "--no-checksum", img}
				}
				want, err := exec.Command(bmaptool, args...).Output()
				if err != nil {
					t.Fatalf("bmaptool %v: %v", args, err)
				}
				want = to39(t, want)
				f, err := os.Open(img)
				if err != nil {
					t.Fatal(err)
				}
				m, err := Create(context.Background(), f, CreateOptions{NoChecksum: noChecksum})
				f.Close()
				if err != nil {
					t.Fatalf("Create: %v", err)
				}
				got, err := m.MarshalText()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("no-checksum=%v: Create differs from bmaptool 3.9: %s", noChecksum, firstDiff(got, want))
				}
				if _, err := ParseBytes(got); err != nil {
					t.Errorf("Parse(Create output): %v", err)
				}
			}
		})
	}
}

// Create's map covers the written blocks and its checksums match the data,
// with any number of workers.
func TestCreateCoversData(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "img")
	ranges := [][2]int64{{0, 0}, {7, 9}, {100, 355}, {1000, 1000}, {2047, 2047}}
	writeImage(t, img, 2048*4096, ranges, randomFill(3))
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, workers := range []int{1, 2, 7} {
		f, err := os.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Create(context.Background(), f, CreateOptions{Workers: workers})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if blk, ok := covered(m, ranges); !ok {
			t.Errorf("workers=%d: block %d holds data but is not mapped", workers, blk)
		}
		if err := checkInvariants(m); err != nil {
			t.Errorf("workers=%d: %v", workers, err)
		}
		for _, r := range m.Ranges {
			h := m.NewHash()
			h.Write(data[m.Offset(r) : m.Offset(r)+m.Length(r)])
			if !bytes.Equal(h.Sum(nil), r.Checksum) {
				t.Errorf("workers=%d: range %d-%d: wrong checksum", workers, r.First, r.Last)
			}
		}
	}
}

func TestCreateErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(empty)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := Create(context.Background(), f, CreateOptions{}); !errors.Is(err, ErrEmptyImage) {
		t.Errorf("Create(empty file) = %v, want ErrEmptyImage", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := Create(context.Background(), d, CreateOptions{}); err == nil {
		t.Error("Create(directory) succeeded")
	}
}

func TestBlockRanges(t *testing.T) {
	// Extents are widened to blocks, merged where they touch, and clipped.
	got := blockRanges([]fiemap.Extent{{Offset: 0, Length: 100}, {Offset: 4096, Length: 4096}, {Offset: 3*4096 + 1, Length: 10}, {Offset: 19 * 4096, Length: 8192}}, 4096, 20)
	want := []Range{{First: 0, Last: 1}, {First: 3, Last: 3}, {First: 19, Last: 19}}
	if len(got) != len(want) {
		t.Fatalf("blockRanges = %v, want %v", got, want)
	}
	for i := range got {
		if got[i].First != want[i].First || got[i].Last != want[i].Last {
			t.Errorf("blockRanges = %v, want %v", got, want)
		}
	}
}
