package fiemap

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestNormalize(t *testing.T) {
	const big = math.MaxInt64
	tests := []struct {
		name string
		in   []Extent
		size int64
		want []Extent
	}{
		{"nil", nil, 100, nil},
		{"one", []Extent{{10, 20}}, 100, []Extent{{10, 20}}},
		{"whole", []Extent{{0, 100}}, 100, []Extent{{0, 100}}},
		{"unsorted", []Extent{{50, 10}, {0, 10}, {20, 10}}, 100, []Extent{{0, 10}, {20, 10}, {50, 10}}},
		{"adjacent", []Extent{{0, 4}, {4, 4}}, 100, []Extent{{0, 8}}},
		{"adjacent chain", []Extent{{8, 4}, {0, 4}, {4, 4}}, 100, []Extent{{0, 12}}},
		{"one byte gap", []Extent{{0, 4}, {5, 4}}, 100, []Extent{{0, 4}, {5, 4}}},
		{"overlapping", []Extent{{0, 10}, {5, 10}}, 100, []Extent{{0, 15}}},
		{"contained", []Extent{{0, 100}, {10, 5}}, 100, []Extent{{0, 100}}},
		{"contained then longer", []Extent{{0, 10}, {2, 3}, {4, 20}}, 100, []Extent{{0, 24}}},
		{"duplicates", []Extent{{10, 5}, {10, 5}, {10, 5}}, 100, []Extent{{10, 5}}},
		{"empty and negative lengths", []Extent{{10, 0}, {20, -5}, {30, 1}}, 100, []Extent{{30, 1}}},
		{"clip end", []Extent{{90, 20}}, 100, []Extent{{90, 10}}},
		{"at size", []Extent{{100, 10}}, 100, nil},
		{"past size", []Extent{{0, 10}, {200, 10}}, 100, []Extent{{0, 10}}},
		{"negative offset", []Extent{{-5, 10}}, 100, []Extent{{0, 5}}},
		{"entirely negative", []Extent{{-20, 10}}, 100, nil},
		{"length would overflow", []Extent{{50, big}}, 100, []Extent{{50, 50}}},
		{"offset and length huge", []Extent{{big - 1, big}}, 100, nil},
		{"size zero", []Extent{{0, 10}}, 0, nil},
		{"partial last block", []Extent{{0, 4096}, {8192, 4096}}, 9000, []Extent{{0, 4096}, {8192, 808}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			if got := normalize(in, tt.size); !slices.Equal(got, tt.want) {
				t.Errorf("normalize(%v, %d) = %v, want %v", tt.in, tt.size, got, tt.want)
			}
		})
	}
}

// TestNormalizeRandom compares normalize with a byte map.
func TestNormalizeRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		size := r.Int64N(64)
		in := make([]Extent, r.IntN(8))
		for j := range in {
			in[j] = Extent{r.Int64N(80) - 8, r.Int64N(24) - 4}
		}
		var want []Extent
		for b := range size {
			inAny := slices.ContainsFunc(in, func(e Extent) bool { return e.Length > 0 && e.Offset <= b && b < e.End() })
			switch n := len(want); {
			case !inAny:
			case n > 0 && want[n-1].End() == b:
				want[n-1].Length++
			default:
				want = append(want, Extent{b, 1})
			}
		}
		if got := normalize(slices.Clone(in), size); !slices.Equal(got, want) {
			t.Fatalf("#%d: normalize(%v, %d) = %v, want %v", i, in, size, got, want)
		}
	}
}

func TestExtentEnd(t *testing.T) {
	if got := (Extent{4096, 8192}).End(); got != 12288 {
		t.Errorf("Extent{4096, 8192}.End() = %d, want 12288", got)
	}
}

func TestMethodString(t *testing.T) {
	for m, want := range map[Method]string{MethodFIEMAP: "FIEMAP", MethodSeek: "SEEK_DATA", MethodWhole: "whole file", 0: "Method(0)", 42: "Method(42)"} {
		if got := m.String(); got != want {
			t.Errorf("Method(%d).String() = %q, want %q", uint8(m), got, want)
		}
	}
}

// TestExtentsPortable holds on every system: a fully written file is one
// extent, whatever the method.
func TestExtentsPortable(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "full"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 10000)); err != nil {
		t.Fatal(err)
	}
	got, m, err := ExtentsMethod(f)
	if want := []Extent{{0, 10000}}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("ExtentsMethod = %v, %v, %v; want %v, nil", got, m, err, want)
	}
	whole, err := extentsWith(f, MethodWhole)
	if want := []Extent{{0, 10000}}; err != nil || !slices.Equal(whole, want) {
		t.Errorf("extentsWith(MethodWhole) = %v, %v; want %v", whole, err, want)
	}
}

func TestExtentsErrors(t *testing.T) {
	dir := t.TempDir()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got, err := Extents(d); err == nil {
		t.Errorf("Extents(directory) = %v, nil; want an error", got)
	}
	f, err := os.Create(filepath.Join(dir, "closed"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got, err := Extents(f); err == nil {
		t.Errorf("Extents(closed file) = %v, nil; want an error", got)
	}
}
