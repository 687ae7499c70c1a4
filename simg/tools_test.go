package simg

// Interoperability with the real tools: Debian's android-sdk-libsparse-utils
// (img2simg, simg2img) and bmap-tools (bmaptool).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/bmap-tools/bmap/bmap"
)

// img2simg converts the shape's sparse file with img2simg and returns the
// path of the sparse image.
func img2simg(t *testing.T, dir string, s shape, bs int64) string {
	t.Helper()
	bin := tool(t, "img2simg", "android-sdk-libsparse-utils")
	out := filepath.Join(dir, fmt.Sprintf("%s.%d.simg", s.name, bs))
	run(t, bin, s.file(t, dir), out, strconv.FormatInt(bs, 10))
	return out
}

// TestReadImg2simg reads what img2simg makes of every shape, from a file
// and from a stream: the image, byte for byte (padded to whole blocks, as
// img2simg pads it), and its map.
func TestReadImg2simg(t *testing.T) {
	dir := t.TempDir()
	for _, bs := range []int64{4096, 1024} {
		for _, s := range shapes {
			t.Run(fmt.Sprintf("%s/%d", s.name, bs), func(t *testing.T) {
				path := img2simg(t, dir, s, bs)
				want := padded(s.bytes(), bs)
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				f, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				for name, src := range map[string]io.Reader{"file": f, "stream": stream{bytes.NewReader(data)}} {
					r, err := NewReader(src)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					got, err := io.ReadAll(r)
					if err != nil || !bytes.Equal(got, want) {
						t.Fatalf("%s: %v; %d bytes, equal to the image: %v", name, err, len(got), bytes.Equal(got, want))
					}
				}
				// img2simg makes FILL chunks of zeros of every zero block:
				// all is data, or, zero fills as holes, the non-zero blocks
				// and a partial last block (RAW, whatever it holds).
				m, err := ReadMap(f, int64(len(data)), MapOptions{})
				if err != nil || m.ImageSize != int64(len(want)) || m.BlockSize != bs || m.MappedBlocksCount != m.BlocksCount {
					t.Fatalf("ReadMap = %+v, %v", m, err)
				}
				m, err = ReadMap(f, int64(len(data)), MapOptions{ZeroFillIsHole: true})
				if err != nil {
					t.Fatal(err)
				}
				mapped := make([]bool, m.BlocksCount)
				for _, r := range m.Ranges {
					for b := r.First; b <= r.Last; b++ {
						mapped[b] = true
					}
				}
				for b, is := range mapped {
					zero := bytes.Count(want[int64(b)*bs:int64(b+1)*bs], []byte{0}) == int(bs)
					partial := int64(b+1)*bs > s.size
					if is != (!zero || partial) {
						t.Fatalf("block %d: mapped %v, zero %v, partial %v", b, is, zero, partial)
					}
				}
			})
		}
	}
}

// TestImg2simgDamaged cuts and damages an img2simg file: every cut fails as
// truncated, a damaged chunk header fails naming that chunk.
func TestImg2simgDamaged(t *testing.T) {
	dir := t.TempDir()
	path := img2simg(t, dir, shapes[4], 4096) // patterns: RAW and FILL chunks
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(data); n += 1 + n/8 {
		if _, err := readAll(data[:n]); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("reading %d of %d bytes: %v, want io.ErrUnexpectedEOF", n, len(data), err)
		}
		if _, err := ReadMap(bytes.NewReader(data), int64(n), MapOptions{}); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("ReadMap of %d of %d bytes: %v, want io.ErrUnexpectedEOF", n, len(data), err)
		}
	}
	// The third chunk's total size, one more than its type allows.
	r, _ := NewReader(bytes.NewReader(data))
	r.Next()
	r.Next()
	c, _ := r.Next()
	bad := bytes.Clone(data)
	bad[c.SparseOffset+8]++
	want := fmt.Sprintf("android sparse image: chunk 2 at byte %d: %s chunk of %d blocks has a total size of", c.SparseOffset, c.Type, c.Length/4096)
	for name, err := range map[string]error{
		"Read":    func() error { _, err := readAll(bad); return err }(),
		"ReadMap": func() error { _, err := ReadMap(bytes.NewReader(bad), int64(len(bad)), MapOptions{}); return err }(),
	} {
		if err == nil || !bytes.HasPrefix([]byte(err.Error()), []byte(want)) {
			t.Errorf("%s: %v, want %s...", name, err, want)
		}
	}
}

// TestSimg2imgReadsOurs writes every shape with FromRaw, from the bmap
// "bmap create" makes of its sparse file and from an exact map of 1 KiB
// blocks with a CRC32 chunk, and expands it with simg2img.
func TestSimg2imgReadsOurs(t *testing.T) {
	simg2img := tool(t, "simg2img", "android-sdk-libsparse-utils")
	dir := t.TempDir()
	ctx := context.Background()
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			img := s.file(t, dir)
			f, err := os.Open(img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			created, err := bmap.Create(ctx, f, bmap.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				name string
				m    *bmap.Map
				opt  WriterOptions
			}{
				{"created", created, WriterOptions{}},
				{"exact-1k-crc", exactMap(s, 1024), WriterOptions{CRC: true}},
			} {
				out, err := os.Create(filepath.Join(dir, s.name+"."+tc.name+".simg"))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				if err := FromRaw(ctx, out, f, tc.m, tc.opt); err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				out.Close()
				expanded := out.Name() + ".img"
				run(t, simg2img, out.Name(), expanded)
				got, err := os.ReadFile(expanded)
				if err != nil {
					t.Fatal(err)
				}
				if want := padded(s.bytes(), tc.m.BlockSize); !bytes.Equal(got, want) {
					t.Fatalf("%s: simg2img gives %d bytes, equal to the image: %v", tc.name, len(got), bytes.Equal(got, want))
				}
			}
		})
	}
}

// TestToRawBmaptool expands img2simg's sparse images with ToRaw: the
// file holds the image, its map is what bmap.Create makes of the file,
// byte for byte once encoded, and bmaptool copies the file with it.
func TestToRawBmaptool(t *testing.T) {
	bmaptool := tool(t, "bmaptool", "bmap-tools")
	dir := t.TempDir()
	ctx := context.Background()
	for _, s := range shapes {
		for _, opt := range []MapOptions{{}, {ZeroFillIsHole: true}} {
			t.Run(fmt.Sprintf("%s/zero-fill-is-hole=%v", s.name, opt.ZeroFillIsHole), func(t *testing.T) {
				simg := img2simg(t, dir, s, 4096)
				src, err := os.Open(simg)
				if err != nil {
					t.Fatal(err)
				}
				defer src.Close()
				raw := filepath.Join(dir, "out.raw")
				dst, err := os.Create(raw)
				if err != nil {
					t.Fatal(err)
				}
				defer dst.Close()
				m, err := ToRaw(ctx, dst, src, opt)
				if err != nil {
					t.Fatal(err)
				}
				want := padded(s.bytes(), 4096)
				if got, _ := os.ReadFile(raw); !bytes.Equal(got, want) {
					t.Fatalf("ToRaw wrote %d bytes, equal to the image: %v", len(got), bytes.Equal(got, want))
				}
				ours, err := m.MarshalText()
				if err != nil {
					t.Fatal(err)
				}
				created, err := bmap.Create(ctx, dst, bmap.CreateOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if theirs, _ := created.MarshalText(); !bytes.Equal(ours, theirs) {
					t.Fatalf("ToRaw's bmap differs from bmap.Create's of the file:\n%s\nbmap create:\n%s", ours, theirs)
				}
				if _, err := bmap.ParseBytes(ours); err != nil {
					t.Fatal(err)
				}
				if !opt.ZeroFillIsHole && s.name != "patterns" && s.name != "unaligned-ends-in-hole" {
					return // all mapped: bmaptool copies it like the others; spare the time
				}
				bm := raw + ".bmap"
				if err := os.WriteFile(bm, ours, 0o644); err != nil {
					t.Fatal(err)
				}
				dest := filepath.Join(dir, "dest.img")
				run(t, bmaptool, "copy", "--bmap", bm, raw, dest)
				if got, _ := os.ReadFile(dest); !bytes.Equal(got, want) {
					t.Fatalf("bmaptool copy wrote %d bytes, equal to the image: %v", len(got), bytes.Equal(got, want))
				}
			})
		}
	}
}

// TestTruncateImg2simg reads img2simg's padded images back to the size of
// the raw image, as a copy with the raw image's bmap does.
func TestTruncateImg2simg(t *testing.T) {
	dir := t.TempDir()
	for _, s := range shapes {
		if s.size%4096 == 0 {
			continue
		}
		data, err := os.ReadFile(img2simg(t, dir, s, 4096))
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewReader(stream{bytes.NewReader(data)})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Truncate(s.size); err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, s.bytes()) {
			t.Fatalf("%s: %v, image equal %v", s.name, err, bytes.Equal(got, s.bytes()))
		}
	}
}
