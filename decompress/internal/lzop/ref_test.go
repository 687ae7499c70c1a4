package lzop

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anchore/go-lzo"
	"github.com/bmap-tools/bmap/decompress/internal/sample"
)

// FuzzContainer decodes arbitrary input with the sequential reader and
// with refDecode, the reference: they must agree, both ways (both decode
// the input, to the same bytes, or both fail). Its seeds are FuzzReader's
// and FuzzReader's corpus. (The file is apart because go-lzo needs a newer
// Go than the package: .ci/vet-go1.22 vets without it.)
func FuzzContainer(f *testing.F) {
	fuzzSeeds(f)
	files, _ := filepath.Glob("testdata/fuzz/FuzzReader/*")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		_, v, _ := strings.Cut(string(b), "\n")
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(v), "[]byte("), ")"))
		if err != nil {
			f.Fatalf("%s: %v", name, err)
		}
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		defer sample.Watchdog(time.Minute)()
		const limit = 16 << 20
		ref, rerr := refDecode(data, limit)
		var got []byte
		z, err := newSeqReader(bytes.NewReader(data))
		if err == nil {
			got, err = io.ReadAll(io.LimitReader(z, limit))
		}
		switch {
		case len(ref) == limit || len(got) == limit:
			if n := min(len(ref), len(got)); !bytes.Equal(ref[:n], got[:n]) {
				t.Fatalf("output differs from the reference's at %d", sample.FirstDiff(got, ref))
			}
		case rerr == nil && err != nil:
			t.Fatalf("the reference decodes %d bytes, we fail: %v", len(ref), err)
		case rerr != nil && err == nil:
			t.Fatalf("we decode %d bytes, the reference fails: %v", len(got), rerr)
		case err == nil && !bytes.Equal(got, ref):
			t.Fatalf("output differs from the reference's at %d", sample.FirstDiff(got, ref))
		}
	})
}

// refDecode is the reference the container parser is fuzzed against: a
// plain, one-pass reading of the lzop format (lzop 1.04's p_lzo.c and
// conf.h, as the package doc describes it) written apart from the
// package, with github.com/anchore/go-lzo decoding the LZO1X blocks and
// the standard library's Adler-32 and CRC-32. It decodes all of in, or
// fails; it applies the same limits and refusals as the package: a block
// of at most 64 MiB, versions 0x0900 to 0x1040, methods 1-3, no filter,
// split file or unknown flag, an extra field of at most 1 MiB, nothing
// after the last file but another file. limit bounds its output.
func refDecode(in []byte, limit int) ([]byte, error) {
	const magic = "\x89LZO\x00\r\n\x1a\n"
	var out []byte
	r := bytes.NewReader(in)
	u8 := func() (byte, error) { return r.ReadByte() }
	u16 := func() (uint16, error) {
		var b [2]byte
		_, err := io.ReadFull(r, b[:])
		return binary.BigEndian.Uint16(b[:]), err
	}
	u32 := func() (uint32, error) {
		var b [4]byte
		_, err := io.ReadFull(r, b[:])
		return binary.BigEndian.Uint32(b[:]), err
	}
	bad := errors.New("bad lzop file")
	for files := 0; ; files++ {
		if r.Len() == 0 && files > 0 {
			return out, nil
		}
		m := make([]byte, len(magic))
		if _, err := io.ReadFull(r, m); err != nil || string(m) != magic {
			return out, fmt.Errorf("magic: %w", bad)
		}
		start := len(in) - r.Len() // the checksummed header
		version, err := u16()
		if err != nil || version < 0x0900 {
			return out, fmt.Errorf("version %#x: %w", version, bad)
		}
		if _, err := u16(); err != nil { // library version
			return out, err
		}
		newer := version >= 0x0940
		if newer {
			needed, err := u16()
			if err != nil || needed > 0x1040 {
				return out, fmt.Errorf("needs version %#x: %w", needed, bad)
			}
		}
		method, err := u8()
		if err != nil || method < 1 || method > 3 {
			return out, fmt.Errorf("method %d: %w", method, bad)
		}
		if newer {
			if _, err := u8(); err != nil { // level
				return out, err
			}
		}
		flags, err := u32()
		if err != nil || flags&0x0800 != 0 || flags&^0xFFF03FFF != 0 {
			return out, fmt.Errorf("flags %#x: %w", flags, bad)
		}
		skip := 8 // mode, mtime
		if newer {
			skip += 4
		}
		if _, err := r.Seek(int64(skip), io.SeekCurrent); err != nil {
			return out, err
		}
		n, err := u8()
		if err != nil {
			return out, err
		}
		if r.Len() < int(n) {
			return out, io.ErrUnexpectedEOF
		}
		r.Seek(int64(n), io.SeekCurrent)
		sum := func(b []byte) uint32 {
			if flags&0x1000 != 0 {
				return crc32.ChecksumIEEE(b)
			}
			return adler32.Checksum(b)
		}
		h := in[start : len(in)-r.Len()]
		if want, err := u32(); err != nil || sum(h) != want {
			return out, fmt.Errorf("header checksum: %w", bad)
		}
		if flags&0x0040 != 0 { // an extra field
			xstart := len(in) - r.Len()
			n, err := u32()
			if err != nil || n > 1<<20 || uint32(r.Len()) < n {
				return out, fmt.Errorf("extra field: %w", bad)
			}
			r.Seek(int64(n), io.SeekCurrent)
			x := in[xstart : len(in)-r.Len()]
			if want, err := u32(); err != nil || sum(x) != want {
				return out, fmt.Errorf("extra field checksum: %w", bad)
			}
		}
		for {
			dlen, err := u32()
			if err != nil {
				return out, err
			}
			if dlen == 0 {
				break
			}
			if dlen > 64<<20 {
				return out, fmt.Errorf("block of %d bytes: %w", dlen, bad)
			}
			slen, err := u32()
			if err != nil || slen == 0 || slen > dlen {
				return out, fmt.Errorf("block sizes %d, %d: %w", slen, dlen, bad)
			}
			var sums [4]uint32 // decompressed Adler-32, CRC-32; compressed ones
			for i, f := range []uint32{0x1, 0x100, 0x2, 0x200} {
				if flags&f != 0 && (i < 2 || slen < dlen) {
					if sums[i], err = u32(); err != nil {
						return out, err
					}
				}
			}
			if uint32(r.Len()) < slen {
				return out, io.ErrUnexpectedEOF
			}
			src := in[len(in)-r.Len():][:slen]
			r.Seek(int64(slen), io.SeekCurrent)
			dst := src
			if slen < dlen {
				if flags&0x2 != 0 && adler32.Checksum(src) != sums[2] || flags&0x200 != 0 && crc32.ChecksumIEEE(src) != sums[3] {
					return out, fmt.Errorf("compressed checksum: %w", bad)
				}
				dst = make([]byte, dlen)
				k, err := lzo.Decompress(src, dst)
				if err != nil || k != int(dlen) {
					return out, fmt.Errorf("LZO1X block: %d bytes, %v: %w", k, err, bad)
				}
			}
			if flags&0x1 != 0 && adler32.Checksum(dst) != sums[0] || flags&0x100 != 0 && crc32.ChecksumIEEE(dst) != sums[1] {
				return out, fmt.Errorf("checksum: %w", bad)
			}
			out = append(out, dst...)
			if len(out) > limit {
				return out[:limit], nil
			}
		}
	}
}
