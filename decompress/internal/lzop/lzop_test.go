package lzop

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/adler32"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
	"github.com/bmap-tools/bmap/decompress/internal/sample"
)

// block is one lzop block: d is the decompressed data, c the LZO1X data
// (nil: stored).
type block struct{ d, c []byte }

type opts struct {
	version uint16 // 0: 0x1040
	needed  uint16 // 0: 0x0940
	method  byte   // 0: 1
	flags   uint32
	filter  uint32
	extra   []byte // with flagExtraField
	name    string
}

// build writes an lzop file the way lzop 1.04 does (conf.h, p_lzo.c).
func build(o opts, blocks []block) []byte {
	if o.version == 0 {
		o.version = 0x1040
	}
	if o.needed == 0 {
		o.needed = 0x0940
	}
	if o.method == 0 {
		o.method = methodLZO1X1
	}
	be := binary.BigEndian
	var h []byte
	h = be.AppendUint16(h, o.version)
	h = be.AppendUint16(h, 0x20a0)
	newer := o.version >= 0x0940
	if newer {
		h = be.AppendUint16(h, o.needed)
	}
	h = append(h, o.method)
	if newer {
		h = append(h, 5)
	}
	h = be.AppendUint32(h, o.flags)
	if o.flags&flagFilter != 0 {
		h = be.AppendUint32(h, o.filter)
	}
	h = be.AppendUint32(h, 0o100644)
	h = be.AppendUint32(h, 1700000000)
	if newer {
		h = be.AppendUint32(h, 0)
	}
	h = append(h, byte(len(o.name)))
	h = append(h, o.name...)
	sum := func(b []byte) uint32 {
		if o.flags&flagHeaderCRC != 0 {
			return crc32.ChecksumIEEE(b)
		}
		return adler32.Checksum(b)
	}
	out := append([]byte(Magic), h...)
	out = be.AppendUint32(out, sum(h))
	if o.flags&flagExtraField != 0 {
		x := be.AppendUint32(nil, uint32(len(o.extra)))
		x = append(x, o.extra...)
		out = append(out, x...)
		out = be.AppendUint32(out, sum(x))
	}
	for _, b := range blocks {
		c := b.c
		if c == nil {
			c = b.d
		}
		out = be.AppendUint32(out, uint32(len(b.d)))
		out = be.AppendUint32(out, uint32(len(c)))
		if o.flags&flagAdler32D != 0 {
			out = be.AppendUint32(out, adler32.Checksum(b.d))
		}
		if o.flags&flagCRC32D != 0 {
			out = be.AppendUint32(out, crc32.ChecksumIEEE(b.d))
		}
		if b.c != nil && o.flags&flagAdler32C != 0 {
			out = be.AppendUint32(out, adler32.Checksum(c))
		}
		if b.c != nil && o.flags&flagCRC32C != 0 {
			out = be.AppendUint32(out, crc32.ChecksumIEEE(c))
		}
		out = append(out, c...)
	}
	return be.AppendUint32(out, 0)
}

// cliBlocks parses the blocks of a file made by lzop with default
// options, independently of the package, to reuse real LZO1X data.
func cliBlocks(t testing.TB, f []byte) []block {
	t.Helper()
	be := binary.BigEndian
	p := len(Magic) + 2 + 2 + 2 + 1 + 1
	flags := be.Uint32(f[p:])
	p += 4 + 4 + 4 + 4
	p += 1 + int(f[p]) + 4
	var out []block
	for {
		dlen := int(be.Uint32(f[p:]))
		p += 4
		if dlen == 0 {
			return out
		}
		slen := int(be.Uint32(f[p:]))
		p += 4
		if flags&flagAdler32D != 0 {
			p += 4
		}
		if flags&flagCRC32D != 0 {
			p += 4
		}
		var b block
		if slen < dlen {
			b.c = f[p : p+slen]
		}
		p += slen
		out = append(out, b)
	}
}

func testData(n int) []byte {
	rng := rand.New(rand.NewPCG(7, 8))
	b := make([]byte, n)
	for i := range b {
		switch (i / 4096) % 3 {
		case 0:
			b[i] = byte(rng.Uint32())
		case 1:
			b[i] = "lzop test data\n"[i%15]
		}
	}
	return b
}

func decode(data []byte) ([]byte, error) {
	z, err := newSeqReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(z)
}

// lzopCLI compresses data, as a file named "in", with the lzop program
// and args, or skips.
func lzopCLI(t testing.TB, data []byte, args ...string) []byte {
	t.Helper()
	return sample.CompressFile(t, data, "in", "lzop", append([]string{"-c"}, args...)...)
}

func TestCLI(t *testing.T) {
	data := testData(700 << 10)
	for _, tt := range []struct {
		name string
		data []byte
		args []string
	}{
		{"empty", nil, nil},
		{"small", []byte("hello, lzop\n"), nil},
		{"default", data, nil},
		{"-1", data, []string{"-1"}},
		{"-9", data, []string{"-9"}},
		{"crc32", data, []string{"--crc32"}},
		{"no checksum", data, []string{"-F"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := lzopCLI(t, tt.data, tt.args...)
			z, err := newSeqReader(bytes.NewReader(f))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(iotest.HalfReader(z))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.data) {
				t.Fatalf("got %d bytes, want %d", len(got), len(tt.data))
			}
			if z.InputOffset() != int64(len(f)) {
				t.Errorf("InputOffset() = %d, want %d", z.InputOffset(), len(f))
			}
			if z.first.Name != "in" || z.first.Method == 0 {
				t.Errorf("header: %+v", z.first)
			}
		})
	}
}

// TestFlags covers header and block variants lzop can write but rarely
// does: compressed-data checksums, CRC-32 header, extra field, old version.
func TestFlags(t *testing.T) {
	data := testData(300 << 10)
	blocks := cliBlocks(t, lzopCLI(t, data))
	for i, b := range blocks {
		blocks[i].d = data[i*256<<10 : min((i+1)*256<<10, len(data))]
		_ = b
	}
	blocks = append(blocks, block{d: []byte("stored tail")})
	want := append(bytes.Clone(data), "stored tail"...)
	for _, o := range []opts{
		{flags: 0},
		{flags: flagAdler32D},
		{flags: flagCRC32D | flagHeaderCRC},
		{flags: flagAdler32D | flagAdler32C},
		{flags: flagCRC32D | flagCRC32C},
		{flags: flagAdler32D | flagCRC32D | flagAdler32C | flagCRC32C | flagHeaderCRC},
		{flags: flagAdler32D | flagExtraField, extra: []byte("extra field")},
		{flags: flagCRC32D | flagExtraField | flagHeaderCRC, extra: []byte{}},
		{flags: flagAdler32D | 0x03000000, name: "with-os-bits"},
		{flags: flagAdler32D, version: 0x0930},
		{flags: flagAdler32D, method: methodLZO1X999},
	} {
		got, err := decode(build(o, blocks))
		if err != nil {
			t.Errorf("%+v: %v", o, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%+v: output differs", o)
		}
	}
}

func TestErrors(t *testing.T) {
	data := testData(100 << 10)
	blocks := cliBlocks(t, lzopCLI(t, data))
	blocks[0].d = data
	good := build(opts{flags: flagAdler32D | flagAdler32C}, blocks)
	hdrEnd := len(Magic) + 2 + 2 + 2 + 1 + 1 + 4 + 4 + 4 + 4 + 1 + 4
	corrupt := func(at int) []byte {
		b := bytes.Clone(good)
		b[at] ^= 0x40
		return b
	}
	block := func(dlen, slen uint32) []byte {
		b := good[:hdrEnd:hdrEnd]
		b = binary.BigEndian.AppendUint32(b, dlen)
		b = binary.BigEndian.AppendUint32(b, slen)
		return append(b, make([]byte, 64)...)
	}
	for _, tt := range []struct {
		name string
		data []byte
		want error
		text string // in the message
	}{
		{"not lzop", []byte("hello world, this is not lzop"), fault.ErrFormat, "file header at compressed byte 0: bad magic"},
		{"filter", build(opts{flags: flagFilter, filter: 1}, nil), fault.ErrUnsupported, "filter 1"},
		{"zlib method", build(opts{method: 128}, nil), fault.ErrUnsupported, "method 128"},
		{"newer version needed", build(opts{needed: 0x2000}, nil), fault.ErrUnsupported, "version 2.000"},
		{"too old", build(opts{version: 0x0800}, nil), fault.ErrCorrupt, "too old"},
		{"unknown flag", build(opts{flags: 0x00008000}, nil), fault.ErrCorrupt, "unknown flags"},
		{"header checksum", corrupt(len(Magic) + 3), fault.ErrCorrupt, "file header at compressed byte 0: corrupt data: checksum"},
		{"d checksum", corrupt(hdrEnd + 8 + 1), fault.ErrCorrupt, fmt.Sprintf("block at compressed byte %d: corrupt data: Adler-32 of the decompressed data", hdrEnd)},
		{"c checksum", corrupt(hdrEnd + 12 + 1), fault.ErrCorrupt, "Adler-32 of the compressed data"},
		{"compressed data", corrupt(hdrEnd + 16 + 100), fault.ErrCorrupt, "Adler-32 of the compressed data"},
		{"split file", block(0xFFFFFFFF, 1), fault.ErrUnsupported, "split"},
		{"huge block", block(maxBlockSize+1, 1), fault.ErrCorrupt, "limit"},
		{"src > dst", block(10, 11), fault.ErrCorrupt, "compressed size 11"},
		{"src zero", block(10, 0), fault.ErrCorrupt, "compressed size 0"},
		{"trailing garbage", append(bytes.Clone(good), "junk"...), fault.ErrTrailingData, fmt.Sprintf("at compressed byte %d", len(good))},
		{"trailing zeros", append(bytes.Clone(good), 0, 0, 0, 0), fault.ErrTrailingData, ""},
		{"truncated second file", append(bytes.Clone(good), Magic[:4]...), io.ErrUnexpectedEOF, fmt.Sprintf("file header at compressed byte %d", len(good))},
	} {
		_, err := decode(tt.data)
		if !errors.Is(err, tt.want) || !strings.Contains(fmt.Sprint(err), tt.text) {
			t.Errorf("%s: err = %v, want %v and %q", tt.name, err, tt.want, tt.text)
		}
	}

	// A corrupt block with no checksums: the LZO decoder itself must object
	// or the output must differ (lzop -F files have no protection).
	plain := build(opts{}, blocks)
	bad := bytes.Clone(plain)
	bad[hdrEnd+8+len(blocks[0].c)/2] ^= 0xFF
	got, err := decode(bad)
	if err == nil && bytes.Equal(got, data) {
		t.Error("corrupt unchecked block decoded to the original data")
	}
}

// TestTruncation: every proper prefix of a file is an error.
func TestTruncation(t *testing.T) {
	data := testData(20 << 10)
	blocks := cliBlocks(t, lzopCLI(t, data))
	blocks[0].d = data
	f := build(opts{flags: flagAdler32D | flagCRC32C | flagExtraField, extra: []byte("x")}, blocks)
	for n := 0; n < len(f); n++ {
		got, err := decode(f[:n])
		if err == nil {
			t.Fatalf("prefix of %d/%d bytes: no error, %d bytes out", n, len(f), len(got))
		}
		if n >= 1 && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("prefix of %d/%d bytes: err = %v, want io.ErrUnexpectedEOF", n, len(f), err)
		}
	}
	// And two files back to back decode as one stream.
	two := append(bytes.Clone(f), f...)
	got, err := decode(two)
	if err != nil || !bytes.Equal(got, append(bytes.Clone(data), data...)) {
		t.Fatalf("two files: %d bytes, %v", len(got), err)
	}
}

// fuzzSeeds adds the fuzz targets' seeds: small files made by build, the
// header alone, one made by lzop -9, two back to back, and what lzop makes
// of 9000 bytes with several options.
func fuzzSeeds(f *testing.F) {
	f.Add(build(opts{flags: flagAdler32D}, []block{{d: []byte("stored block")}}))
	f.Add(build(opts{flags: flagCRC32D | flagExtraField | flagHeaderCRC, extra: []byte("e")}, []block{{d: []byte("x")}}))
	f.Add([]byte(Magic))
	// lzop -9 of "hello hello ... aaaa\n": one LZO1X block.
	seed, _ := hex.DecodeString("894c5a4f000d0a1a0a104020a00940030903000009000081a46b02455400000000017337450411000000450000001b86b8197b1768656c6c6f2036140002776f726c642b1500613101000a11000000000000")
	f.Add(seed)
	f.Add(append(bytes.Clone(seed), seed...))
	if sample.Have("lzop") {
		data := testData(9000)
		for _, args := range [][]string{{"-1"}, {"-9", "--crc32"}, {"-F"}} {
			f.Add(lzopCLI(f, data, args...))
		}
	}
}

// FuzzReader decodes arbitrary input with the sequential and the parallel
// reader: the parallel one must give the same output, or the same error
// after a prefix of it. (FuzzContainer, in ref_test.go, compares the
// sequential reader with a reference.)
func FuzzReader(f *testing.F) {
	fuzzSeeds(f)
	cfg := parallelConfig{jobBlocks: 2, jobBytes: 1 << 20, budget: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		defer sample.Watchdog(time.Minute)()
		const limit = 16 << 20
		z, err := newSeqReader(bytes.NewReader(data))
		if err != nil {
			zp, perr := newParallelReader(bytes.NewReader(data), 2, cfg)
			if perr == nil || perr.Error() != err.Error() {
				if zp != nil {
					zp.Close()
				}
				t.Fatalf("header: parallel %v, sequential %v", perr, err)
			}
			return
		}
		want, err := io.ReadAll(io.LimitReader(z, limit))
		zp, perr := newParallelReader(bytes.NewReader(data), 2, cfg)
		if perr != nil {
			t.Fatalf("parallel: %v", perr)
		}
		defer zp.Close()
		got, perr := io.ReadAll(io.LimitReader(zp, limit))
		switch {
		case (err == nil) != (perr == nil) || err != nil && err.Error() != perr.Error():
			t.Fatalf("parallel: %v, sequential: %v", perr, err)
		case err == nil && !bytes.Equal(got, want):
			t.Fatalf("parallel: %d bytes, sequential %d, different", len(got), len(want))
		case !bytes.HasPrefix(want, got):
			t.Fatalf("parallel: %d bytes, not a prefix of the sequential %d", len(got), len(want))
		}
	})
}
