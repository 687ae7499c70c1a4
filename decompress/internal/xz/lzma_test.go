package xz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
	"github.com/bmap-tools/bmap/decompress/internal/sample"
	xzdec "github.com/therootcompany/xz"
)

// textish returns n bytes of words with varying repeats: short and long
// distances, literals after matches.
func textish(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 3))
	b := make([]byte, 0, n+64)
	for len(b) < n {
		switch k := rng.IntN(10); {
		case k < 5:
			for range 1 + rng.IntN(12) {
				b = append(b, byte('a'+rng.IntN(26)))
			}
		case k < 8 && len(b) > 0:
			d := 1 + rng.IntN(min(len(b), 1<<uint(1+rng.IntN(20))))
			l := 2 + rng.IntN(300)
			for range l {
				b = append(b, b[len(b)-d])
			}
		default:
			b = append(b, byte(rng.Uint32()))
		}
	}
	return b[:n]
}

// refDecode decodes with therootcompany/xz alone.
func refDecode(in []byte, dictMax uint32) ([]byte, error) {
	r, err := xzdec.NewReader(bytes.NewReader(in), dictMax)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// TestLZMA2Variants decodes real xz output of many encoder settings with
// our decoder, in parallel (the default config) and sequentially (tiny
// maxJob), and with therootcompany/xz: all must give the input back.
func TestLZMA2Variants(t *testing.T) {
	sample.NeedTool(t, "xz")
	m := mSmall // 256 KiB mixed
	txt := textish(300<<10, 4)
	rnd := sample.Random(200<<10, 5)
	half := append(append(bytes.Clone(txt[:100<<10]), rnd[:100<<10]...), make([]byte, 100<<10)...)
	zeros := make([]byte, 3<<20+123)
	big := textish(3<<20, 6) // wraps a sequential block's window
	var specs []spec
	for l := 0; l <= 9; l++ {
		specs = append(specs, spec{fmt.Sprintf("m-%d", l), m, []string{fmt.Sprintf("-%d", l), "-T1"}})
	}
	specs = append(specs,
		spec{"txt-0e", txt, []string{"-0e", "-T1"}},
		spec{"txt-6e", txt, []string{"-6e", "-T1"}},
		spec{"txt-9", txt, []string{"-9", "-T1"}},
		spec{"rnd-6", rnd, []string{"-6", "-T1"}},
		spec{"half-1", half, []string{"-1", "-T1"}},
		spec{"half-6", half, []string{"-6", "-T1", "--check=sha256"}},
		spec{"zeros-6", zeros, []string{"-6", "-T1"}},
		spec{"zeros-T2", zeros, []string{"-1", "-T2", "--block-size=3MiB"}},
		// Small dictionaries: distances checked against the dictionary
		// size; a sequential window that wraps many times.
		spec{"txt-dict4k", txt, []string{"-T1", "--lzma2=preset=6,dict=4KiB"}},
		spec{"txt-dict96k", txt, []string{"-T1", "--lzma2=preset=6,dict=96KiB"}},
		spec{"zeros-dict4k", zeros, []string{"-T1", "--lzma2=preset=1,dict=4KiB"}},
		spec{"big-dict64k", big, []string{"-T1", "--lzma2=preset=1,dict=64KiB"}},
		spec{"big-dict768k", big, []string{"-T1", "--lzma2=preset=1,dict=768KiB"}},
		spec{"txt-fast", txt, []string{"-T1", "--lzma2=preset=6,mode=fast,mf=hc4,nice=8"}},
		spec{"txt-nice273", txt, []string{"-T1", "--lzma2=preset=6,mf=bt2,nice=273"}},
	)
	for _, p := range []string{"lc=0,lp=0,pb=0", "lc=4,lp=0,pb=2", "lc=0,lp=4,pb=4", "lc=1,lp=3,pb=1", "lc=3,lp=1,pb=3", "lc=2,lp=2,pb=0"} {
		specs = append(specs, spec{"txt-" + p, txt, []string{"-T1", "--lzma2=preset=1," + p}},
			spec{"half-" + p, half, []string{"-T2", "--block-size=64KiB", "--lzma2=preset=6," + p}})
	}
	seqCfg := config{budget: 1 << 20, maxJob: 4096, piece: 65521, chunk: 8191, inBuf: 16 << 10}
	for _, tc := range compressAll(t, specs) {
		want, err := refDecode(tc.xz, 0)
		if err != nil || !bytes.Equal(want, tc.data) {
			t.Fatalf("%s: therootcompany: %v", tc.name, err)
		}
		for _, c := range []struct {
			name string
			cfg  config
		}{{"par", defaultConfig}, {"seq", seqCfg}} {
			got, x, err := decode(bytes.NewReader(tc.xz), 2, c.cfg)
			if err != nil || !bytes.Equal(got, tc.data) {
				t.Fatalf("%s/%s: %v, %d bytes of %d, equal %v", tc.name, c.name, err, len(got), len(tc.data), bytes.Equal(got, tc.data))
			}
			if x.nOurs != x.nPar+x.nSeq || (x.nSeq > 0) != (c.name == "seq") {
				t.Fatalf("%s/%s: %d parallel, %d sequential blocks, %d by our decoder", tc.name, c.name, x.nPar, x.nSeq, x.nOurs)
			}
		}
	}
}

// TestFallbackFilters: blocks with filters besides LZMA2 go to
// therootcompany/xz, the others to ours.
func TestFallbackFilters(t *testing.T) {
	for _, args := range [][]string{{"--x86", "--lzma2=preset=1"}, {"--delta=dist=2", "--lzma2=preset=1"}, {"--arm", "--lzma2=preset=0"}} {
		for _, bs := range []string{"-T1", "--block-size=64KiB"} {
			data := mSmall
			xz := compress(t, data, append([]string{bs}, args...)...)
			for _, cfg := range []config{defaultConfig, small} {
				got, x, err := decode(bytes.NewReader(xz), 2, cfg)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("%v %s: %v", args, bs, err)
				}
				if x.nOurs != 0 || x.nPar+x.nSeq == 0 {
					t.Fatalf("%v: %d filtered blocks taken by our decoder", args, x.nOurs)
				}
			}
		}
	}
}

// lzma2File wraps raw LZMA2 data in an .xz file of one block, with the
// given dictionary byte and check type none; the block header has the
// uncompressed size if sized. The index has the size the chunk headers
// add up to.
func lzma2File(raw []byte, dictProps byte, sized bool) []byte {
	var uncomp uint64
	for p := 0; p < len(raw); {
		hl, err := chunkHeaderLen(raw[p])
		if err != nil || raw[p] == 0 || p+hl > len(raw) {
			break
		}
		dl, ul := chunkSizes(raw[p : p+hl])
		uncomp += uint64(ul)
		p += hl + int(dl)
	}
	b := make([]byte, streamHdrSz)
	putStreamHeader(b, checkNone)
	h := []byte{0, 0}
	if sized {
		h[1] = 0x80
		h = appendVLI(h, uncomp)
	}
	h = append(h, 0x21, 1, dictProps)
	for (len(h)+4)%4 != 0 {
		h = append(h, 0)
	}
	h[0] = byte((len(h)+4)/4 - 1)
	h = binary.LittleEndian.AppendUint32(h, crc32.ChecksumIEEE(h))
	b = append(b, h...)
	b = append(b, raw...)
	b = append(b, make([]byte, pad4(uint64(len(raw))))...)
	return appendTrailer(b, checkNone, uint64(len(h)+len(raw)), uncomp)
}

// rawLZMA2 extracts the LZMA2 data of the one block of a one-block file
// (xz -T1 --check=none).
func rawLZMA2(t testing.TB, xz []byte) (raw []byte, dictProps byte) {
	h := xz[streamHdrSz:]
	hs := (int(h[0]) + 1) * 4
	bh, err := parseBlockHeader(h[:hs])
	if err != nil || !bh.lzma2Only {
		t.Fatalf("not an LZMA2 block: %v", err)
	}
	body := h[hs:]
	p := 0
	for {
		hl, err := chunkHeaderLen(body[p])
		if err != nil {
			t.Fatal(err)
		}
		dl, _ := chunkSizes(body[p : p+hl])
		p += hl + int(dl)
		if body[p-hl-int(dl)] == 0 {
			break
		}
	}
	return body[:p], bh.dictProps
}

// TestLZMA2Corrupt: hand-made and altered LZMA2 data fail with fault.ErrCorrupt
// at the block's offset, in both decoding modes, as therootcompany/xz
// fails too.
func TestLZMA2Corrupt(t *testing.T) {
	data := textish(150<<10, 8)
	xz := compress(t, data, "-T1", "--check=none", "--lzma2=preset=6,dict=1MiB")
	raw, dp := rawLZMA2(t, xz)
	stored := []byte{1, 0, 2, 'a', 'b', 'c'}
	lz := raw[:len(raw)-1] // without the end marker
	if lz[0] < 0xe0 {
		t.Fatalf("first chunk control %#x", lz[0])
	}
	with := func(b []byte, f func([]byte)) []byte { b = bytes.Clone(b); f(b); return b }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cases := []struct {
		name string
		raw  []byte
		dp   byte
	}{
		{"no dictionary reset, stored", []byte{2, 0, 0, 'x', 0}, dp},
		{"no dictionary reset, LZMA", with(raw, func(b []byte) { b[0] = 0x80 | b[0]&0x1f }), dp},
		{"no properties after reset", cat(stored, []byte{0xa0 | lz[0]&0x1f, lz[1], lz[2], lz[3], lz[4]}, lz[6:], []byte{0}), dp},
		{"lc+lp > 4", with(raw, func(b []byte) { b[5] = 3 + 9*2 }), dp},
		{"props > 224", with(raw, func(b []byte) { b[5] = 225 }), dp},
		{"compressed size < 5", []byte{0xe0, 0, 0, 0, 3, 0x5d, 0, 0, 0, 0, 0}, dp},
		{"compressed size +1", with(raw, func(b []byte) { binary.BigEndian.PutUint16(b[3:], binary.BigEndian.Uint16(b[3:])+1) }), dp},
		{"compressed size -1", with(raw, func(b []byte) { binary.BigEndian.PutUint16(b[3:], binary.BigEndian.Uint16(b[3:])-1) }), dp},
		{"uncompressed size -1", with(raw, func(b []byte) { binary.BigEndian.PutUint16(b[1:], binary.BigEndian.Uint16(b[1:])-1) }), dp},
		{"uncompressed size +1", with(raw, func(b []byte) { binary.BigEndian.PutUint16(b[1:], binary.BigEndian.Uint16(b[1:])+1) }), dp},
		{"dictionary too small", raw, 0}, // 4 KiB: the data has longer distances
		{"bad control", cat(stored, []byte{3, 0, 0, 0}), dp},
		{"range coder byte", with(raw, func(b []byte) { b[len(b)/2] ^= 0x10 }), dp},
	}
	for _, c := range cases {
		for _, sized := range []bool{false, true} {
			f := lzma2File(c.raw, c.dp, sized)
			if _, err := refDecode(f, 0); err == nil {
				t.Fatalf("%s: therootcompany decodes it", c.name)
			}
			for _, cfg := range []config{defaultConfig, {budget: 1 << 20, maxJob: 100, piece: 4096, chunk: 512, inBuf: 1024}} {
				_, _, err := decode(bytes.NewReader(f), 2, cfg)
				var e *fault.Error
				if !errors.Is(err, fault.ErrCorrupt) || !errors.As(err, &e) || e.Offset != streamHdrSz || e.What != "block" {
					t.Errorf("%s (sized %v, maxJob %d): %v", c.name, sized, cfg.maxJob, err)
				}
			}
		}
	}
	// The unaltered data decodes, sized or not.
	for _, sized := range []bool{false, true} {
		if got, _, err := decode(bytes.NewReader(lzma2File(raw, dp, sized)), 2, small); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("valid data: %v", err)
		}
	}
}

// FuzzLZMA2 feeds raw LZMA2 data, wrapped in a one-block file, to our
// decoder (in parallel and sequentially) and to therootcompany/xz: they
// must agree.
func FuzzLZMA2(f *testing.F) {
	if sample.Have("xz") {
		txt := textish(20<<10, 12)
		for _, args := range [][]string{
			{"--lzma2=preset=0"}, {"--lzma2=preset=6,dict=4KiB"}, {"--lzma2=preset=1,lc=0,lp=2,pb=0"},
		} {
			raw, dp := rawLZMA2(f, compress(f, txt, append([]string{"-T1", "--check=none"}, args...)...))
			f.Add(raw, dp)
		}
		raw, dp := rawLZMA2(f, compress(f, sample.Random(3000, 9), "-T1", "--check=none", "-0"))
		f.Add(raw, dp)
	}
	f.Add([]byte{1, 0, 1, 'a', 'b', 0}, byte(0))
	f.Fuzz(func(t *testing.T, raw []byte, dp byte) {
		defer sample.Watchdog(time.Minute)()
		dp %= 41
		in := lzma2File(raw, dp, false)
		want, werr := refDecode(in, 1<<20)
		for _, cfg := range []config{defaultConfig, {budget: 1 << 20, maxJob: 100, piece: 777, chunk: 300, inBuf: 256}} {
			x := newReader(bytes.NewReader(in), 2, 1<<20, cfg)
			got, err := io.ReadAll(x)
			x.Close()
			if errors.Is(err, fault.ErrInternal) {
				t.Fatalf("%v\n%s", err, fault.StackOf(err))
			}
			if (err == nil) != (werr == nil) || err == nil && !bytes.Equal(got, want) {
				t.Fatalf("maxJob %d: ours %v (%d bytes), therootcompany %v (%d bytes)", cfg.maxJob, err, len(got), werr, len(want))
			}
		}
	})
}

func TestCRC64Zeros(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range 200 {
		n := rng.IntN(5 * zeroBlock)
		if i%7 == 0 {
			n = 0
		}
		p := make([]byte, n)
		for j := 0; j < n; {
			k := min(n-j, rng.IntN(3*zeroBlock)+1)
			if rng.IntN(2) == 0 {
				for m := j; m < j+k; m++ {
					p[m] = byte(rng.Uint32())
				}
			}
			j += k
		}
		init := rng.Uint64()
		if got, want := crc64Update(init, p), crc64.Update(init, crcTable, p); got != want {
			t.Fatalf("length %d: %#x, want %#x", n, got, want)
		}
		var h crc64Hash
		h.Write(p[:n/3])
		h.Write(p[n/3:])
		if got, want := h.Sum64(), crc64.Checksum(p, crcTable); got != want {
			t.Fatalf("hash, length %d: %#x, want %#x", n, got, want)
		}
	}
}
