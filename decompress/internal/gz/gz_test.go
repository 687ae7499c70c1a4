package gz

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/bmap-tools/bmap/decompress/internal/fault"
	"github.com/bmap-tools/bmap/decompress/internal/sample"
)

// mixed returns n bytes like a disk image: pieces of real files (from
// /usr, else random bytes) between runs of zeros.
func mixed(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	files := sample.Files()
	out := make([]byte, 0, n)
	for len(out) < n {
		switch k := rng.IntN(10); {
		case k < 3: // zeros
			out = append(out, make([]byte, rng.IntN(256<<10))...)
		case k < 9 && len(files) > 0: // a file's bytes
			f := files[rng.IntN(len(files))]
			i := rng.IntN(len(f))
			out = append(out, f[i:min(len(f), i+rng.IntN(512<<10))]...)
		default: // random bytes
			b := make([]byte, rng.IntN(64<<10))
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
			out = append(out, b...)
		}
	}
	return out[:n]
}

// compress runs a compressor (name and options) on data.
func compress(t testing.TB, data []byte, name string, args ...string) []byte {
	t.Helper()
	return sample.Compress(t, data, name, append(args[:len(args):len(args)], "-c")...)
}

// decode decodes all of gz with our Reader.
func decode(gz []byte) ([]byte, error) {
	z := NewReader(bytes.NewReader(gz))
	defer z.Close()
	return io.ReadAll(z)
}

func checkSame(t *testing.T, gz, want []byte) {
	t.Helper()
	got, err := decode(gz)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("output differs (%d bytes, want %d) from byte %d", len(got), len(want), sample.FirstDiff(got, want))
	}
}

func TestCompressors(t *testing.T) {
	data := mixed(6<<20, 1)
	cases := []struct {
		name string
		args []string
	}{
		{"gzip", []string{"-1"}},
		{"gzip", []string{"-6"}},
		{"gzip", []string{"-9"}},
		{"pigz", []string{"-p2", "-1"}},
		{"pigz", []string{"-p2", "-6"}},
		{"pigz", []string{"-p2", "-9"}},
		{"pigz", []string{"-p2", "-6", "-i"}},
		{"pigz", []string{"-p2", "-6", "-b", "32"}},
		{"pigz", []string{"-p2", "-6", "-b", "1024"}},
		{"pigz", []string{"-p2", "-6", "--rsyncable"}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.name, c.args), func(t *testing.T) {
			checkSame(t, compress(t, data, c.name, c.args...), data)
		})
	}
}

func TestSmall(t *testing.T) {
	for _, n := range []int{0, 1, 2, 10, 100, 1000, 40000, 70000} {
		data := mixed(n, uint64(n))
		for _, level := range []string{"-1", "-9"} {
			gz := compress(t, data, "gzip", level)
			checkSame(t, gz, data)
		}
	}
}

func TestErrors(t *testing.T) {
	data := mixed(300<<10, 7)
	gz := compress(t, data, "gzip", "-6")
	_, err := decode(append(append([]byte{}, gz...), "garbage"...))
	if !errors.Is(err, fault.ErrTrailingData) {
		t.Errorf("trailing garbage: %v", err)
	}
	_, err = decode([]byte("hello"))
	if !errors.Is(err, fault.ErrFormat) {
		t.Errorf("not gzip: %v", err)
	}
	for _, n := range []int{0, 1, 5, 10, 11, 100, len(gz) / 2, len(gz) - 9, len(gz) - 8, len(gz) - 1} {
		_, err := decode(gz[:n])
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("truncated at %d of %d: %v", n, len(gz), err)
		}
	}
	t.Log(err)
}

// syncMark is LEN and NLEN of an empty stored block, as a sync flush
// writes it (pigz ends its blocks with one).
var syncMark = []byte{0, 0, 0xff, 0xff}

// falseSync returns data whose gzip -1 compressed form holds 00 00 FF FF
// inside stored blocks (random bytes sprinkled with the pattern) and inside
// compressed blocks: sync-flush lookalikes that are not block boundaries.
func falseSync(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	for i := 0; i+4 <= n; i += 1 + rng.IntN(64) {
		copy(b[i:], syncMark)
	}
	// Some compressible stretches too.
	for i := 0; i < n; i += 1 << 16 {
		copy(b[i:min(n, i+20000)], bytes.Repeat([]byte("\x00\x00\xff\xff some text "), 2000))
	}
	return b
}

// TestInputs decodes inputs with many members and blocks, long runs of
// zeros and of other bytes, and false sync flushes.
func TestInputs(t *testing.T) {
	data := mixed(3<<20, 11)
	zeros := append(append(mixed(1<<20, 12), make([]byte, 20<<20)...), mixed(1<<20, 13)...)
	fs := falseSync(2<<20, 14)
	// Long runs of zeros and of other bytes.
	var runs []byte
	for i := range 12 {
		runs = append(runs, mixed(100<<10, uint64(40+i))...)
		runs = append(runs, bytes.Repeat([]byte{[]byte{0, 0xff, 'A'}[i%3]}, 3<<20)...)
	}
	type input struct {
		name string
		gz   []byte
		want []byte
	}
	pigz32 := compress(t, data, "pigz", "-6", "-p2", "-b", "32")
	inputs := []input{
		{"pigz-b32", pigz32, data},
		{"pigz-1", compress(t, data, "pigz", "-1", "-p2"), data},
		{"pigz-9-rsyncable", compress(t, data, "pigz", "-9", "-p2", "--rsyncable"), data},
		{"pigz-i", compress(t, data, "pigz", "-6", "-p2", "-i", "-b", "32"), data},
		{"gzip-6", compress(t, data, "gzip", "-6"), data},
		{"zeros", compress(t, zeros, "pigz", "-6", "-p2", "-b", "32"), zeros},
		{"runs", compress(t, runs, "pigz", "-6", "-p2", "-b", "32"), runs},
		{"false-sync-gzip-1", compress(t, fs, "gzip", "-1"), fs},
		{"false-sync-pigz-1", compress(t, fs, "pigz", "-1", "-p2", "-b", "32"), fs},
		{"members", append(append(append([]byte{}, pigz32...), compress(t, fs[:100000], "gzip", "-1")...), pigz32...),
			append(append(append([]byte{}, data...), fs[:100000]...), data...)},
	}
	for _, in := range inputs {
		got, err := decode(in.gz)
		if err != nil || !bytes.Equal(got, in.want) {
			t.Errorf("%s: %v; %d bytes, want %d, first difference at %d", in.name, err, len(got), len(in.want), sample.FirstDiff(got, in.want))
		}
	}
}

func TestSpecial(t *testing.T) {
	rnd := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(9, 9))
	for i := range rnd {
		rnd[i] = byte(rng.Uint32())
	}
	hello := []byte("hello, hello")
	fixed := compress(t, hello, "gzip", "-9")
	if fixed[10]>>1&3 != 1 {
		t.Errorf("gzip did not use a fixed Huffman block for %q", hello)
	}
	a, b := mixed(200<<10, 31), falseSync(300<<10, 32)
	members := append(append(compress(t, a, "gzip", "-6"), compress(t, nil, "gzip")...), compress(t, b, "pigz", "-1", "-p2")...)
	for _, c := range []struct {
		name     string
		gz, want []byte
	}{
		{"empty", compress(t, nil, "gzip"), nil},
		{"random (stored blocks)", compress(t, rnd, "gzip", "-6"), rnd},
		{"fixed Huffman", fixed, hello},
		{"members", members, append(append([]byte{}, a...), b...)},
		{"false sync, stored", compress(t, falseSync(1<<20, 33), "gzip", "-1"), falseSync(1<<20, 33)},
	} {
		got, err := decode(c.gz)
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("%s: %v; same: %v", c.name, err, bytes.Equal(got, c.want))
		}
	}
}

// TestDiscard skips and reads in turns, of random lengths, across the
// chunk boundaries: the bytes read are the data's at their offsets, the
// end comes at the data's end, and a truncated or corrupted member fails
// Discard as it fails Read (its CRC is still checked).
func TestDiscard(t *testing.T) {
	data := mixed(6<<20, 3)
	gz := compress(t, data, "pigz", "-p2", "-6")
	rng := rand.New(rand.NewPCG(5, 6))
	z := NewReader(bytes.NewReader(gz))
	defer z.Close()
	pos := 0
	for pos < len(data) {
		k := 1 + rng.IntN(3<<20)
		if rng.IntN(2) == 0 {
			n, err := z.Discard(k)
			if want := min(k, len(data)-pos); n != want || (err != nil && err != io.EOF) {
				t.Fatalf("Discard(%d) at %d: %d, %v, want %d", k, pos, n, err, want)
			}
			pos += n
			continue
		}
		buf := make([]byte, min(k, len(data)-pos))
		if _, err := io.ReadFull(z, buf); err != nil {
			t.Fatalf("reading %d bytes at %d: %v", len(buf), pos, err)
		}
		if !bytes.Equal(buf, data[pos:pos+len(buf)]) {
			t.Fatalf("bytes %d-%d after discards differ from the data", pos, pos+len(buf))
		}
		pos += len(buf)
	}
	if n, err := z.Discard(1); n != 0 || err != io.EOF {
		t.Fatalf("Discard at the end: %d, %v, want 0, io.EOF", n, err)
	}

	bad := bytes.Clone(gz)
	bad[len(bad)-8] ^= 1 // the CRC-32
	for what, in := range map[string][]byte{"truncated": gz[:len(gz)/2], "bad CRC": bad} {
		z := NewReader(bytes.NewReader(in))
		n, err := z.Discard(len(data) + 1)
		z.Close()
		if err == nil || err == io.EOF {
			t.Errorf("%s: Discard skipped %d bytes with %v, want an error", what, n, err)
		}
	}
}
